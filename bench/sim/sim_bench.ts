/**
 * Simulator throughput: member-seconds of protocol time simulated per wall
 * second, for memberlist clusters of 100, 1,000 and 10,000 members.
 *
 *   deno run -A bench/sim/sim_bench.ts [sizes…]     e.g. 100 1000
 *   bun bench/sim/sim_bench.ts [sizes…]
 *
 * Two phases per size:
 * - bootstrap: every member joins at t = 0 and 10 s of protocol time run.
 *   memberlist re-broadcasts every join to everyone (n²·L alive messages),
 *   so this phase measures the join storm.
 * - steady: once every broadcast queue has drained, 30 s of protocol time
 *   (probes, acks, the odd push-pull).
 * 10,000 members run as 100 independent clusters of 100 in one simulator:
 * one 10,000-member cluster would need 10⁸ membership facts gossiped
 * 16 times each before it is steady. The simulator's own cost (heap,
 * timers, routing) is the same either way.
 *
 * @module
 */

import process from "node:process";
import {
  type MemberlistCluster,
  memberlistCluster,
} from "../../src/testing/memberlist_sim.ts";

interface Row {
  members: number;
  layout: string;
  phase: string;
  protocolS: number;
  wallS: number;
  steps: number;
}

function build(n: number, groupSize: number): MemberlistCluster {
  const c = memberlistCluster({
    seed: 1,
    expectedSize: n,
    checkers: "none",
    trace: false,
  });
  c.start(n);
  const names = c.names();
  for (let i = 0; i < n; i++) {
    const seed = names[Math.floor(i / groupSize) * groupSize];
    if (names[i] !== seed) c.join(names[i], [seed]);
  }
  return c;
}

function pending(c: MemberlistCluster): number {
  let p = 0;
  for (const name of c.names()) p += c.machine(name)?.pendingBroadcasts() ?? 0;
  return p;
}

function timed(
  c: MemberlistCluster,
  ms: number,
): { wallS: number; steps: number } {
  const steps0 = c.networkStats().steps;
  const t0 = performance.now();
  c.run(ms);
  return {
    wallS: (performance.now() - t0) / 1000,
    steps: c.networkStats().steps - steps0,
  };
}

function bench(n: number): Row[] {
  const groupSize = n > 1_000 ? 100 : n;
  const layout = groupSize === n
    ? "1 cluster"
    : `${n / groupSize} clusters × ${groupSize}`;
  const c = build(n, groupSize);
  const rows: Row[] = [];
  const boot = timed(c, 10_000);
  rows.push({
    members: n,
    layout,
    phase: "bootstrap",
    protocolS: 10,
    wallS: boot.wallS,
    steps: boot.steps,
  });
  // Drain the join storm (not timed), at most 3 minutes of protocol time.
  for (let i = 0; i < 180 && pending(c) > 0; i++) c.run(1_000);
  const steady = timed(c, 30_000);
  rows.push({
    members: n,
    layout,
    phase: "steady",
    protocolS: 30,
    wallS: steady.wallS,
    steps: steady.steps,
  });
  return rows;
}

function main(argv: string[]): void {
  const sizes = argv.length > 0 ? argv.map(Number) : [100, 1_000, 10_000];
  const runtime = "Bun" in globalThis
    ? "bun"
    : "Deno" in globalThis
    ? "deno"
    : "node";
  console.log(
    `sim_bench on ${runtime}: member-seconds of protocol time per wall second`,
  );
  console.log(
    "| members | layout | phase | protocol s | wall s | member-s / wall s | inputs / wall s |",
  );
  console.log("|---:|---|---|---:|---:|---:|---:|");
  for (const n of sizes) {
    for (const r of bench(n)) {
      const rate = (r.members * r.protocolS) / r.wallS;
      console.log(
        `| ${r.members} | ${r.layout} | ${r.phase} | ${r.protocolS} | ${
          r.wallS.toFixed(2)
        } | ` +
          `${Math.round(rate).toLocaleString("en-US")} | ${
            Math.round(r.steps / r.wallS).toLocaleString("en-US")
          } |`,
      );
    }
  }
}

main(process.argv.slice(2));
