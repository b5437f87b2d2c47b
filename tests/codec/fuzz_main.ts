/**
 * The long fuzz run: `deno task fuzz` (1,000,000 inputs) or
 * `deno run -A tests/codec/fuzz_main.ts N [SEED]` / `bun tests/codec/fuzz_main.ts N`.
 * Prints the count, the time, the slowest input and the peak heap.
 */
import { corpus, mutate, runDecoders } from "./fuzz.ts";
import { seeded } from "../helpers/prng.ts";
import process from "node:process";

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 1);
const pool = corpus();
const rand = seeded(seed);
const start = performance.now();
let errors = 0;
let slowestMs = 0;
let peakHeap = 0;
for (let i = 0; i < total; i++) {
  const input = mutate(pool[i % pool.length], rand, pool);
  const t0 = performance.now();
  try {
    errors += runDecoders(input);
  } catch (e) {
    console.error(`seed=${seed} input #${i}: non-DecodeError`, e);
    console.error(
      Array.from(input, (b) => b.toString(16).padStart(2, "0")).join(""),
    );
    process.exit(1);
  }
  const dt = performance.now() - t0;
  if (dt > slowestMs) slowestMs = dt;
  if (i % 50_000 === 0) {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
}
const secs = (performance.now() - start) / 1000;
console.log(
  `fuzz: ${total} inputs, seed ${seed}, ${
    secs.toFixed(1)
  } s, ${errors} DecodeErrors, ` +
    `0 other exceptions, slowest input ${slowestMs.toFixed(2)} ms, peak heap ${
      (peakHeap / 2 ** 20).toFixed(0)
    } MiB`,
);
