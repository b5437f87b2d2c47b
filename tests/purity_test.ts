import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";

// ARCHITECTURE §Principles 1: the core takes its clock, randomness and I/O
// from outside. This grep keeps it so: a forbidden name in the pure folders
// fails the build.
const PURE_DIRS = ["src/codec", "src/memberlist", "src/serf"];
const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\s*\.\s*now\b|\bnew\s+Date\b/, "wall clock (Date)"],
  [/\bperformance\s*\./, "performance clock"],
  [/\bMath\s*\.\s*random\b/, "Math.random"],
  [/\bset(Timeout|Interval|Immediate)\b|\bqueueMicrotask\b/, "timers"],
  [/\bcrypto\s*\.|from\s+["']node:crypto["']/, "crypto"],
  [/\bDeno\s*\./, "Deno globals"],
  [/\bBun\s*\./, "Bun globals"],
  [/\bprocess\s*\./, "process globals"],
  [/from\s+["']node:/, "node: imports"],
  [/\basync\s+function\b|\bawait\b/, "async code"],
];

function* tsFiles(dir: string): Generator<string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = `${dir}/${e}`;
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /(^|[^:])\/\/.*$/gm,
    "$1",
  );
}

test("the core (codec, memberlist, serf) uses no clock, randomness, timers, crypto or runtime globals", () => {
  const root = new URL("../", import.meta.url).pathname;
  const offences: string[] = [];
  let files = 0;
  for (const dir of PURE_DIRS) {
    for (const file of tsFiles(root + dir)) {
      files++;
      const src = stripComments(readFileSync(file, "utf8"));
      for (const [re, what] of FORBIDDEN) {
        if (re.test(src)) offences.push(`${file.slice(root.length)}: ${what}`);
      }
    }
  }
  assert.ok(files > 3, "the pure folders were found");
  assert.deepEqual(offences, []);
});
