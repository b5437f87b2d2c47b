#!/usr/bin/env bash
# Runs the one node:test suite under Deno and then Bun, and prints a plain
# "N passed, N failed" line per runtime and in total (CI reads neither runner's
# own summary). Exits non-zero if either runtime fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1 RUST_BACKTRACE=0
if [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ]; then
  echo "node_modules is missing: run 'npm ci' first" >&2
  exit 2
fi
rc=0
dlog=$(mktemp)
blog=$(mktemp)
trap 'rm -f "$dlog" "$blog"' EXIT
deno test -A "$@" 2>&1 | tee "$dlog"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
bun test "$@" 2>&1 | tee "$blog"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
dp=$(grep -oE '\| [0-9]+ passed' "$dlog" | tail -1 | grep -oE '[0-9]+')
df=$(grep -oE '\| [0-9]+ failed' "$dlog" | tail -1 | grep -oE '[0-9]+')
bp=$(grep -E '^ *[0-9]+ pass$' "$blog" | tail -1 | tr -dc 0-9)
bf=$(grep -E '^ *[0-9]+ fail$' "$blog" | tail -1 | tr -dc 0-9)
# A runner that crashed before its summary counts as one failure, never as a pass.
[ -n "$dp" ] || { dp=0; df=${df:-1}; rc=1; }
[ -n "$bp" ] || { bp=0; bf=${bf:-1}; rc=1; }
echo "deno: ${dp} passed, ${df:-0} failed"
echo "bun: ${bp} passed, ${bf:-0} failed"
echo "$((dp + bp)) passed, $((${df:-0} + ${bf:-0})) failed"
exit $rc
