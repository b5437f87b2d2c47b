#!/usr/bin/env bash
# Runs the Deno that `npm ci` installed (node_modules/deno/deno), else the one on PATH.
# Why: `deno task` runs any command it finds in node_modules/.bin as a Node script,
# and the npm package's `deno` there is the native binary, so a task that says
# `deno run …` fails with "Invalid or unexpected token". Tasks call Deno through
# this script instead (bash runs the binary natively).
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$root/node_modules/deno/deno" ]; then
  exec "$root/node_modules/deno/deno" "$@"
fi
exec deno "$@"
