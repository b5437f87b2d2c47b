/**
 * What wakes a member: runs the CLI (e.g. `agent …`) with `setTimeout` and
 * `setInterval` wrapped, and every 20 s prints to stderr how often each call
 * site armed a timer and how often those timers fired, per second.
 *
 *   deno run -A bench/idle/trace_timers.ts agent -node=a -bind=127.0.87.250:7946 -rpc-addr=127.0.87.250:7373
 *   bun bench/idle/trace_timers.ts agent …
 *
 * @module
 */

import process from "node:process";

type Callback = (...args: unknown[]) => void;
type Arm = (f: Callback, ms?: number, ...args: unknown[]) => unknown;

const counts = new Map<string, number>();
const bump = (k: string): void => {
  counts.set(k, (counts.get(k) ?? 0) + 1);
};
// The two frames above the wrapper: the call site and its caller.
const site = (): string =>
  (new Error().stack ?? "").split("\n").slice(3, 5).map((l) =>
    l.trim().replace(/^at /, "").replace(
      /file:\/\/\/\S*?\/(src|transports)\//,
      "$1/",
    )
  ).join(" < ");

const g = globalThis as unknown as { setTimeout: Arm; setInterval: Arm };
const realTimeout = g.setTimeout;
const realInterval = g.setInterval;
const wrap = (real: Arm, kind: string): Arm => (f, ms, ...args) => {
  const where = `${kind} ${site()}`;
  bump(where);
  return real(() => {
    bump(`fired ${where}`);
    f(...args);
  }, ms);
};
g.setTimeout = wrap(realTimeout, "timeout");
g.setInterval = wrap(realInterval, "interval");

let t0 = performance.now();
realInterval(() => {
  const s = (performance.now() - t0) / 1000;
  console.error(`--- per second over ${s.toFixed(0)} s`);
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.error((v / s).toFixed(2).padStart(7), k);
  }
  counts.clear();
  t0 = performance.now();
}, 20_000);

const { main } = await import("../../src/cli/main.ts");
process.exit(await main(process.argv.slice(2)));
