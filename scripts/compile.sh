#!/usr/bin/env bash
# Builds a self-contained `grapevine` executable with `deno compile`
# (`deno task compile [OUTFILE]`). deno compile needs its runtime, denort,
# which it downloads from dl.deno.land on first use; when that cannot work
# (offline, firewalled) this says so plainly and points to Bun, whose
# `bun build --compile` needs no download, or to DENORT_BIN.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
out="${1:-grapevine}"
if ! command -v deno >/dev/null 2>&1; then
  echo "deno is not installed: run 'npm ci' (it installs deno and bun into node_modules/.bin)," >&2
  echo "or build with Bun: bun build --compile cli.ts --outfile $out" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if deno compile -A --output "$out" cli.ts >"$log" 2>&1; then
  cat "$log"
  echo "Built $out with deno compile ($(deno --version | head -1))"
  exit 0
fi
cat "$log" >&2
if grep -qiE 'denort|dl\.deno\.land|error sending request|dns error|base binary' "$log"; then
  cat >&2 <<MSG

deno compile could not get its runtime (denort), which it downloads from
dl.deno.land to build an executable: this machine looks offline or cannot
reach that host. Two ways out:

  - build with Bun, which needs no download:
      bun build --compile cli.ts --outfile $out

  - or fetch denort-<target>.zip for this Deno version elsewhere
    (https://dl.deno.land/release/v$(deno --version | head -1 | cut -d' ' -f2)/), unzip it here and run:
      DENORT_BIN=/path/to/denort deno task compile
MSG
  exit 1
fi
echo "deno compile failed; see the messages above." >&2
exit 1
