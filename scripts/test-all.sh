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
nlog=$(mktemp)
trap 'rm -f "$dlog" "$blog" "$nlog"' EXIT
deno test -A "$@" 2>&1 | tee "$dlog"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
bun test "$@" 2>&1 | tee "$blog"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
# Node 22 (type stripping) runs the adapter conformance suite for the Node and
# memory transports, the ones meant for Node; npm fetches node@22 once.
np=0
nf=0
if [ -z "${SKIP_NODE22:-}" ]; then
  if npx -y node@22 --version >/dev/null 2>&1; then
    npx -y node@22 --test tests/transports/memory_test.ts tests/transports/node_test.ts 2>&1 | tee "$nlog"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    np=$(grep -E '^# pass [0-9]+' "$nlog" | tail -1 | tr -dc 0-9)
    nf=$(grep -E '^# fail [0-9]+' "$nlog" | tail -1 | tr -dc 0-9)
    [ -n "$np" ] || { np=0; nf=1; rc=1; }
  else
    echo "node22: skipped (npm could not fetch node@22)"
  fi
fi
dp=$(grep -oE '\| [0-9]+ passed' "$dlog" | tail -1 | grep -oE '[0-9]+')
df=$(grep -oE '\| [0-9]+ failed' "$dlog" | tail -1 | grep -oE '[0-9]+')
bp=$(grep -E '^ *[0-9]+ pass$' "$blog" | tail -1 | tr -dc 0-9)
bf=$(grep -E '^ *[0-9]+ fail$' "$blog" | tail -1 | tr -dc 0-9)
# A runner that crashed before its summary counts as one failure, never as a pass.
[ -n "$dp" ] || { dp=0; df=${df:-1}; rc=1; }
[ -n "$bp" ] || { bp=0; bf=${bf:-1}; rc=1; }
echo "deno: ${dp} passed, ${df:-0} failed"
echo "bun: ${bp} passed, ${bf:-0} failed"
echo "node22: ${np} passed, ${nf:-0} failed"
echo "$((dp + bp + np)) passed, $((${df:-0} + ${bf:-0} + ${nf:-0})) failed"
exit $rc
