#!/usr/bin/env bash
# Runs the Bun that `npm ci` installed, else the one on PATH (see scripts/deno.sh).
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$root/node_modules/bun/bin/bun.exe" ]; then
  exec "$root/node_modules/bun/bin/bun.exe" "$@"
fi
exec bun "$@"
