#!/usr/bin/env bash
# `deno task check`: format, lint, type-check, doc lint and a JSR publish dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
d=scripts/deno.sh
bash $d fmt --check
bash $d lint
bash $d check
bash $d doc --lint mod.ts
bash $d publish --dry-run --allow-dirty
