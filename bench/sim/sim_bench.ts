/**
 * Simulator benchmark: one memberlist cluster of 100, 1,000 and 10,000
 * members (LAN profile), with its throughput and the protocol's behaviour at
 * that size beside the models.
 *
 *   deno run -A --v8-flags=--max-old-space-size=20000 bench/sim/sim_bench.ts [sizes…]
 *   bun bench/sim/sim_bench.ts [sizes…]
 *
 * (10,000 members hold 10⁸ member-table entries, ~14 GB of heap: Deno needs
 * the larger V8 heap, Bun grows its own.) For each size:
 *
 * - start: `startConverged` builds the cluster as it is once its join storm
 *   has drained (full tables, no join storm queued).
 * - steady: 60 s of protocol time: probes, acks, gossip ticks. memberlist's
 *   first push-pull comes after a random stagger plus the scaled interval
 *   (30 s × 10 at 10,000 members), so this window has none; the push-pull
 *   row measures one exchange and what the steady rate of
 *   n / scaled-interval exchanges per second would add.
 * - dissemination: one member changes its meta (a 300-byte alive) and we
 *   count gossip rounds (200 ms) until every member has it, beside Serf's
 *   convergence simulator (logistic model, serf.io/docs/internals/
 *   simulator.html) and the push-gossip bound log₄ n + ln n / 3.
 * - detection: one member crashes; time until the first and the last
 *   member declares it dead, beside memberlist's suspicion timeouts.
 * - join storm (≤ 1,000 members): the same cluster formed through the
 *   protocol (`SimCluster.bootstrap`: two join waves through one seed), then
 *   10 s of the n²·L alive re-broadcasts that follow.
 *
 * @module
 */

import process from "node:process";
import { lanConfig } from "../../src/config.ts";
import {
  pushPullScaleMs,
  retransmitLimit,
  suspicionTimeoutMs,
} from "../../src/memberlist/formulas.ts";
import {
  type MemberlistCluster,
  memberlistCluster,
  startConverged,
} from "../../src/testing/memberlist_sim.ts";

const LAN = lanConfig();
const STEADY_MS = 60_000;

interface Result {
  n: number;
  startWallS: number;
  heapGb: number;
  steadyWallS: number;
  steadySteps: number;
  pushPull: { medianMs: number; meanMs: number };
  dissemination: { r50: number; r99: number; r100: number; reached: number };
  detection: { firstMs: number; lastMs: number; declared: number };
  storm: { bootstrapWallS: number; stormWallS: number } | null;
}

function cluster(
  n: number,
  metas?: Map<string, Uint8Array>,
): MemberlistCluster {
  return memberlistCluster({
    seed: 1,
    expectedSize: n,
    checkers: "none",
    trace: false,
    delegateFor: metas === undefined
      ? undefined
      : (name) => ({ nodeMeta: () => metas.get(name) ?? new Uint8Array(0) }),
  });
}

function wall<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, (performance.now() - t0) / 1000];
}

function heapGb(): number {
  return process.memoryUsage().heapUsed / 1e9;
}

// Rounds (gossip ticks after the change) until 50 %, 99 % and all members
// have the new alive.
function disseminate(
  c: MemberlistCluster,
  metas: Map<string, Uint8Array>,
): Result["dissemination"] {
  const n = c.size;
  const tick = LAN.gossipIntervalMs;
  // Just before a gossip tick (members created together tick in step).
  c.run(tick - (c.nowMs % tick) - 1);
  const source = c.nameOf(Math.floor(n / 2));
  const times: number[] = [];
  const seen = new Set<string>();
  const stop = c.onEvent((who, e, t) => {
    if (e.type === "update" && e.member.name === source && !seen.has(who)) {
      seen.add(who);
      times.push(t);
    }
  });
  metas.set(source, new Uint8Array(300).fill(1));
  const t0 = c.nowMs;
  c.invoke(source, (m, now) => m.updateMeta(now));
  c.runUntil(() => seen.size >= n - 1, 30_000, tick);
  stop();
  const round = (i: number): number =>
    i < times.length ? Math.ceil((times[i] - t0) / tick) : NaN;
  return {
    r50: round(Math.ceil(0.5 * (n - 1)) - 1),
    r99: round(Math.ceil(0.99 * (n - 1)) - 1),
    r100: round(n - 2),
    reached: times.length,
  };
}

function detect(c: MemberlistCluster): Result["detection"] {
  const n = c.size;
  const victim = c.nameOf(n - 1);
  let first = -1;
  let last = -1;
  const seen = new Set<string>();
  const stop = c.onEvent((who, e, t) => {
    if (
      e.type === "leave" && e.member.name === victim &&
      e.member.state === "dead" && !seen.has(who)
    ) {
      seen.add(who);
      if (first < 0) first = t;
      last = t;
    }
  });
  const t0 = c.nowMs;
  c.crash(victim);
  c.runUntil(() => seen.size >= n - 1, 120_000, 1_000);
  stop();
  return { firstMs: first - t0, lastMs: last - t0, declared: seen.size };
}

// Wall ms of one push-pull exchange between two members (a join: the same
// exchange with Join = true), after one warm-up exchange: the median and
// the mean (which carries the garbage collections the exchanges cause).
function pushPullCost(
  c: MemberlistCluster,
): { medianMs: number; meanMs: number } {
  const times: number[] = [];
  for (let i = 0; i <= 12; i++) {
    const a = c.nameOf((i * 7919) % c.size);
    const b = c.nameOf((i * 104_729 + 1) % c.size);
    const [, s] = wall(() => {
      c.join(a, [b]);
      c.run(20);
    });
    if (i > 0) times.push(s * 1000);
  }
  times.sort((x, y) => x - y);
  const mean = times.reduce((x, y) => x + y, 0) / times.length;
  return { medianMs: times[times.length >> 1], meanMs: mean };
}

function storm(n: number): Result["storm"] {
  const c = cluster(n);
  c.start(n);
  const [, bootstrapWallS] = wall(() => c.bootstrap());
  const [, stormWallS] = wall(() => c.run(10_000));
  return { bootstrapWallS, stormWallS };
}

function bench(n: number): Result {
  const metas = new Map<string, Uint8Array>();
  const c = cluster(n, metas);
  const [, startWallS] = wall(() => startConverged(c, n));
  const heap = heapGb();
  const steps0 = c.networkStats().steps;
  const [, steadyWallS] = wall(() => c.run(STEADY_MS));
  const steadySteps = c.networkStats().steps - steps0;
  const dissemination = disseminate(c, metas);
  const detection = detect(c);
  const pushPull = pushPullCost(c);
  return {
    n,
    startWallS,
    heapGb: heap,
    steadyWallS,
    steadySteps,
    pushPull,
    dissemination,
    detection,
    storm: n <= 1_000 ? storm(n) : null,
  };
}

// Serf's convergence simulator: infected fraction after x rounds is
// 1 / (1 + (n + 1)·e^(−c·n·x)) with c = fanout / n × (1 − loss) × 0.5.
function serfRounds(n: number, fraction: number): number {
  const cn = LAN.gossipNodes * 0.5;
  return Math.log(((n + 1) * fraction) / (1 - fraction)) / cn;
}

function pushBound(n: number): number {
  const k = LAN.gossipNodes;
  return Math.log(n) / Math.log(k + 1) + Math.log(n) / k;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x)
    ? x.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    })
    : "–";
}

function report(runtime: string, results: Result[]): void {
  console.log(`\n### ${runtime}\n`);
  console.log(
    "| members | start (wall s) | heap GB | steady 60 s (wall s) | member-s / wall s | inputs / wall s | push-pull exchange, median / mean (wall ms) | steady push-pulls would add (wall s per 60 s) |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const perS = r.n / (pushPullScaleMs(LAN.pushPullIntervalMs, r.n) / 1000);
    console.log(
      `| ${r.n.toLocaleString("en-US")} | ${fmt(r.startWallS)} | ${
        fmt(r.heapGb, 2)
      } | ${fmt(r.steadyWallS)} | ${
        fmt((r.n * STEADY_MS) / 1000 / r.steadyWallS, 0)
      } | ${fmt(r.steadySteps / r.steadyWallS, 0)} | ${
        fmt(r.pushPull.medianMs)
      } / ${fmt(r.pushPull.meanMs)} | ${
        fmt((perS * 60 * r.pushPull.meanMs) / 1000)
      } |`,
    );
  }
  console.log(
    "\n| members | dissemination rounds 50 % / 99 % / 100 % | Serf model 50 % / 99 % / 99.99 % | push-gossip bound | detection first / last (s) | suspicion min / max (s) |",
  );
  console.log("|---:|---|---|---:|---|---|");
  for (const r of results) {
    const d = r.dissemination;
    const min = suspicionTimeoutMs(LAN.suspicionMult, r.n, LAN.probeIntervalMs);
    console.log(
      `| ${r.n.toLocaleString("en-US")} | ${d.r50} / ${d.r99} / ${d.r100}${
        d.reached < r.n - 1 ? ` (${d.reached} reached)` : ""
      } | ${fmt(serfRounds(r.n, 0.5))} / ${fmt(serfRounds(r.n, 0.99))} / ${
        fmt(serfRounds(r.n, 0.9999))
      } | ${fmt(pushBound(r.n))} | ${fmt(r.detection.firstMs / 1000)} / ${
        fmt(r.detection.lastMs / 1000)
      }${
        r.detection.declared < r.n - 1
          ? ` (${r.detection.declared} declared)`
          : ""
      } | ${fmt(min / 1000)} / ${
        fmt((LAN.suspicionMaxTimeoutMult * min) / 1000)
      } |`,
    );
  }
  const storms = results.filter((r) => r.storm !== null);
  if (storms.length > 0) {
    console.log(
      "\n| members | protocol bootstrap: 2 join waves (wall s) | then 10 s of join storm (wall s) | alives to re-broadcast (n²·L) |",
    );
    console.log("|---:|---:|---:|---:|");
    for (const r of storms) {
      console.log(
        `| ${r.n.toLocaleString("en-US")} | ${fmt(r.storm!.bootstrapWallS)} | ${
          fmt(r.storm!.stormWallS)
        } | ${
          (r.n * r.n * retransmitLimit(LAN.retransmitMult, r.n)).toLocaleString(
            "en-US",
          )
        } |`,
      );
    }
  }
}

function main(argv: string[]): void {
  const sizes = argv.length > 0 ? argv.map(Number) : [100, 1_000, 10_000];
  const runtime = "Bun" in globalThis
    ? `Bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}`
    : "Deno" in globalThis
    ? `Deno ${
      (globalThis as { Deno?: { version: { deno: string } } }).Deno!.version
        .deno
    }`
    : `Node ${process.version}`;
  const results: Result[] = [];
  for (const n of sizes) {
    results.push(bench(n));
    console.error(`done: ${n} members`);
  }
  report(runtime, results);
}

main(process.argv.slice(2));
