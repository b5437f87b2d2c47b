/**
 * Members per process: how many members one Deno or Bun process hosts at
 * LAN defaults before its CPU passes half of a 2-core machine.
 *
 *   deno run -A bench/scale/members_per_process.ts [--transport native|node|memory] [--kind serf|memberlist] [--max 1600]
 *   bun bench/scale/members_per_process.ts [same flags]
 *
 * Flags: `--steps 25,50,…` (or `--max M`: the default steps 25, 50, 100 …
 * up to M), `--window 30` (s of steady state measured per step),
 * `--settle 5` (s after the broadcast queues drained), `--converge S`
 * (longest wait for every view to fill; default 30 s + 2 × I(M), the
 * push-pull repair bound), `--batch 25`
 * (members joining at once, at least; an eighth of the cluster once larger), `--threshold 1.0` (CPU s per wall s),
 * `--all` (keep stepping past the threshold), `--bytes` (count bytes sent
 * by kind, see `traffic.ts`), `--budget 600` (s: no step starts after
 * it), `--json <path>` (rewritten after every step).
 *
 * Method. The cluster grows step by step in this one process: each new
 * member binds its own address (127.0.120.1 – 127.0.127.254, one port) on
 * the runtime's native sockets (`--transport node`: node:dgram and
 * node:net, on any runtime), or on one in-memory network, and joins a
 * random member already in, `--batch` at a time (starting hundreds at once
 * is a join storm: every join is a push-pull with a full state, and every
 * learned alive is re-gossiped retransmit-limit times). The step is steady
 * once every member lists M alive members and every memberlist and Serf
 * broadcast queue is empty; after `--settle` seconds the window starts.
 * Over the window we read the process's CPU time (utime + stime of every
 * thread, from /proc/self/stat; process.cpuUsage elsewhere), its RSS, and
 * health: probes that ended in a suspicion (memberlist `probeFailures`:
 * every one is false here, nobody fails), refutations, members declared
 * failed or dead, and whether every member still lists M alive at the end.
 *
 * CPU threshold: 50 % of 2 cores = 1.0 CPU-second per wall second. A JS
 * process runs its members on one thread, so 1.0 s/s also means that
 * thread is saturated; past it timers fire late and probes time out.
 *
 * @module
 */

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { startSerf } from "../../src/serf_node.ts";
import { startMemberlist } from "../../src/memberlist_node.ts";
import type { Address } from "../../src/machine.ts";
import type { TransportFactory } from "../../src/transport.ts";
import {
  defaultTransport,
  MemoryNetwork,
  nodeTransport,
} from "../../transports/mod.ts";
import { lanConfig } from "../../src/config.ts";
import { pushPullScaleMs } from "../../src/memberlist/formulas.ts";
import {
  countingTransport,
  diffCounts,
  Traffic,
  type TrafficCounts,
} from "./traffic.ts";

const PORT = 7946;
const LAN_PUSH_PULL_MS = lanConfig().pushPullIntervalMs;
/** Addresses of this bench: 127.0.120.1 – 127.0.127.254. */
const MAX_MEMBERS = 8 * 254;
const DEFAULT_STEPS = [25, 50, 100, 200, 400, 800, 1600];
// Bare memberlist members do not expose their broadcast queues, so after
// the views are full we wait for the re-gossip of the joins to drain: each
// alive is sent retransmit-limit (≤ 16) times, 3 per 200 ms gossip tick,
// many per packet (memberlist's gossip, SPEC §6.2).
const MEMBERLIST_DRAIN_MS = 15_000;
const JOIN_ATTEMPTS = 5;
// Longest wait for one batch's broadcasts to drain before the next joins.
const BATCH_DRAIN_MS = 10_000;

/** Command-line options. */
export interface ScaleOptions {
  /** Socket kind. */
  transport: "native" | "node" | "memory";
  /** Serf members (what users run) or bare memberlist. */
  kind: "serf" | "memberlist";
  /** Cluster sizes, ascending. */
  steps: number[];
  /** Steady window per step (s). */
  windowS: number;
  /** No new step starts past this many seconds of the run. */
  budgetS: number;
  /** Longest wait for every view to fill (s); 0: 30 s + 2 × I(M). */
  convergeS: number;
  /** Wait after the queues drained (s). */
  settleS: number;
  /** Members joining at once. */
  batch: number;
  /** CPU seconds per wall second that ends the run. */
  threshold: number;
  /** Keep stepping past the threshold. */
  all: boolean;
  /** Count bytes by kind. */
  bytes: boolean;
  /** Where to write the results as JSON. */
  json: string | null;
}

/** One step's measurements. */
export interface StepResult {
  /** Members. */
  members: number;
  /** Wall time to join this step's new members (s). */
  joinS: number;
  /** Wall time from the last join to every view full and queues empty (s). */
  convergeS: number;
  /** Window length (s). */
  windowS: number;
  /** Process CPU seconds per wall second over the window. */
  cpu: number;
  /** RSS at the end of the window (MiB). */
  rssMiB: number;
  /** Open file descriptors at the end of the window (sockets, mostly). */
  fds: number;
  /** JS heap used at the end of the window (MiB). */
  heapMiB: number;
  /** Probes that ended in a suspicion, over the window (all false). */
  suspicions: number;
  /** Refutations over the window. */
  refutes: number;
  /** Joins retried with another seed (a seed did not answer in time). */
  joinRetries: number;
  /** Members declared failed/dead by someone, over the whole step. */
  deaths: number;
  /** Fewest alive members any member lists at the end of the window. */
  minAlive: number;
  /** Largest timer lateness seen over the window (ms), event-loop lag. */
  maxLagMs: number;
  /** Bytes sent by kind over the window, when counted. */
  traffic: TrafficCounts | null;
}

interface Member {
  readonly name: string;
  readonly addr: Address;
  join(seed: Address): Promise<number>;
  aliveCount(): number;
  pending(): number;
  probeFailures(): number;
  refutes(): number;
  shutdown(): Promise<void>;
}

function hostOf(i: number): string {
  return `127.0.${120 + Math.floor(i / 254)}.${1 + (i % 254)}`;
}

function parseOptions(argv: readonly string[]): ScaleOptions {
  const o: ScaleOptions = {
    transport: "native",
    kind: "serf",
    steps: DEFAULT_STEPS,
    windowS: 30,
    settleS: 5,
    convergeS: 0,
    budgetS: 600,
    batch: 25,
    threshold: 1.0,
    all: false,
    bytes: false,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = (): string => argv[++i] ?? "";
    if (a === "--transport") {
      const t = v();
      if (t !== "native" && t !== "memory" && t !== "node") {
        throw new TypeError(
          `Invalid --transport ${t}: use native, node or memory`,
        );
      }
      o.transport = t;
    } else if (a === "--kind") {
      const k = v();
      if (k !== "serf" && k !== "memberlist") {
        throw new TypeError(`Invalid --kind ${k}: use serf or memberlist`);
      }
      o.kind = k;
    } else if (a === "--steps") o.steps = v().split(",").map(Number);
    else if (a === "--max") {
      const max = Number(v());
      o.steps = DEFAULT_STEPS.filter((s) => s < max).concat([max]);
    } else if (a === "--window") o.windowS = Number(v());
    else if (a === "--settle") o.settleS = Number(v());
    else if (a === "--converge") o.convergeS = Number(v());
    else if (a === "--budget") o.budgetS = Number(v());
    else if (a === "--batch") o.batch = Number(v());
    else if (a === "--threshold") o.threshold = Number(v());
    else if (a === "--all") o.all = true;
    else if (a === "--bytes") o.bytes = true;
    else if (a === "--json") o.json = v();
    else throw new TypeError(`Unknown flag ${a}`);
  }
  if (o.steps.some((s) => !(s >= 2 && s <= MAX_MEMBERS))) {
    throw new RangeError(`Invalid steps: each between 2 and ${MAX_MEMBERS}`);
  }
  return o;
}

/** CPU seconds (user + system, all threads) this process has used. */
function cpuSeconds(): number {
  try {
    // Fields after the ")" of the command name: utime is the 12th, stime the
    // 13th, in clock ticks (USER_HZ, 100 on Linux).
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
}

/** Open file descriptors of this process (Linux), or -1. */
function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function startMember(
  o: ScaleOptions,
  i: number,
  transport: TransportFactory,
  deaths: { n: number },
): Promise<Member> {
  const name = `m${i}`;
  const addr = { host: hostOf(i), port: PORT };
  if (o.kind === "serf") {
    const s = await startSerf({ name, bind: addr, profile: "lan", transport });
    const ml = s.machine.memberlist;
    void (async () => {
      for await (const e of s.events()) {
        if (e.type === "memberFailed") deaths.n += e.members.length;
      }
    })();
    return {
      name,
      addr,
      join: (seed) => s.join([seed]),
      aliveCount: () => s.members().filter((m) => m.status === "alive").length,
      pending: () => ml.pendingBroadcasts() + s.machine.stats().intentQueue,
      probeFailures: () => ml.stats().probeFailures,
      refutes: () => ml.stats().refutes,
      shutdown: () => s.shutdown(),
    };
  }
  const m = await startMemberlist({
    name,
    bind: addr,
    profile: "lan",
    transport,
  });
  void (async () => {
    for await (const e of m.events()) {
      if (e.type === "leave" && e.member.state === "dead") deaths.n++;
    }
  })();
  return {
    name,
    addr,
    join: (seed) => m.join([seed]),
    aliveCount: () => m.members().filter((x) => x.state === "alive").length,
    // MemberlistNode does not expose its broadcast queue: `converge` waits
    // a fixed drain time instead (see there).
    pending: () => 0,
    probeFailures: () => m.stats().memberlist.probeFailures,
    refutes: () => m.stats().memberlist.refutes,
    shutdown: () => m.shutdown(),
  };
}

// Timer lateness: a 100 ms interval that records how late it fires.
function lagMonitor(): {
  max: () => number;
  reset: () => void;
  stop: () => void;
} {
  let last = performance.now();
  let max = 0;
  const id = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 100);
    last = now;
  }, 100);
  return {
    max: () => max,
    reset: () => void (max = 0),
    stop: () => clearInterval(id),
  };
}

// Join through a random member already in; a seed that does not answer in
// time (a starved event loop during the join storm) is retried with others.
async function joinOne(
  m: Member,
  seeds: Member[],
  stats: { retries: number },
): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await m.join(seeds[Math.floor(Math.random() * seeds.length)].addr);
      return;
    } catch (e) {
      if (attempt >= JOIN_ATTEMPTS - 1) throw e;
      stats.retries++;
    }
  }
}

async function grow(
  o: ScaleOptions,
  members: Member[],
  target: number,
  transport: TransportFactory,
  deaths: { n: number },
  stats: { retries: number },
): Promise<void> {
  while (members.length < target) {
    const start = members.length;
    // Batches grow with the cluster (an eighth of it) so a step of 800 new
    // members is not 32 drains, yet stays a fraction of the cluster.
    const count = Math.min(Math.max(o.batch, start >> 3), target - start);
    const fresh = await Promise.all(
      Array.from(
        { length: count },
        (_, k) => startMember(o, start + k, transport, deaths),
      ),
    );
    const old = members.slice();
    members.push(...fresh);
    // The first member founds the cluster; the rest of its batch joins it.
    const seeds = old.length === 0 ? [fresh[0]] : old;
    await Promise.all(
      (old.length === 0 ? fresh.slice(1) : fresh).map((m) =>
        joinOne(m, seeds, stats)
      ),
    );
    // Stagger: let this batch's alives and join intents drain before the
    // next batch, so the re-gossip of one batch never piles onto the next.
    const until = Date.now() + BATCH_DRAIN_MS;
    while (Date.now() < until && members.some((m) => m.pending() > 0)) {
      await delay(200);
    }
  }
}

async function converge(
  members: Member[],
  timeoutMs: number,
): Promise<boolean> {
  const m = members.length;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (members.every((x) => x.aliveCount() === m && x.pending() === 0)) {
      return true;
    }
    await delay(500);
  }
  return false;
}

async function measure(
  o: ScaleOptions,
  members: Member[],
  traffic: Traffic | null,
  lag: ReturnType<typeof lagMonitor>,
): Promise<Omit<StepResult, "joinS" | "convergeS" | "deaths" | "joinRetries">> {
  const sum = (f: (m: Member) => number): number =>
    members.reduce((s, m) => s + f(m), 0);
  const susp0 = sum((m) => m.probeFailures());
  const ref0 = sum((m) => m.refutes());
  const bytes0 = traffic?.snapshot() ?? null;
  lag.reset();
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await delay(o.windowS * 1000);
  const cpu1 = cpuSeconds();
  const wallS = (performance.now() - t0) / 1000;
  const bytes1 = traffic?.snapshot() ?? null;
  const mem = process.memoryUsage();
  return {
    members: members.length,
    windowS: wallS,
    cpu: (cpu1 - cpu0) / wallS,
    rssMiB: mem.rss / 2 ** 20,
    heapMiB: mem.heapUsed / 2 ** 20,
    fds: openFds(),
    suspicions: sum((m) => m.probeFailures()) - susp0,
    refutes: sum((m) => m.refutes()) - ref0,
    minAlive: Math.min(...members.map((m) => m.aliveCount())),
    maxLagMs: lag.max(),
    traffic: bytes0 !== null && bytes1 !== null
      ? diffCounts(bytes1, bytes0)
      : null,
  };
}

function runtimeName(): string {
  const g = globalThis as {
    Bun?: { version: string };
    Deno?: { version: { deno: string } };
  };
  if (g.Bun !== undefined) return `Bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `Deno ${g.Deno.version.deno}`;
  return `Node ${process.version}`;
}

function fmt(x: number, digits = 2): string {
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function printRow(r: StepResult, bytes: boolean): void {
  const t = r.traffic;
  const perMember = (b: number): string => fmt(b / r.members / r.windowS, 0);
  const extra = bytes && t !== null
    ? ` | ${perMember(t.bytes.probe)} | ${perMember(t.bytes.gossip)} | ${
      perMember(t.bytes.pushPull)
    } | ${t.pushPulls} | ${
      t.pushPulls > 0 ? fmt(t.bytes.pushPull / t.pushPulls, 0) : "–"
    }`
    : "";
  console.log(
    `| ${r.members} | ${fmt(r.joinS, 1)} | ${fmt(r.convergeS, 1)} | ${
      fmt(r.cpu)
    } | ${fmt(r.cpu * 50, 0)} % | ${fmt(r.rssMiB, 0)} | ${
      fmt(r.heapMiB, 0)
    } | ${r.fds} | ${r.joinRetries} | ${r.suspicions} | ${r.refutes} | ${r.deaths} | ${r.minAlive} | ${
      fmt(r.maxLagMs, 0)
    }${extra} |`,
  );
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const traffic = o.bytes ? new Traffic() : null;
  const net = new MemoryNetwork();
  const base: TransportFactory = o.transport === "memory"
    ? (opts) => net.bind(opts)
    : o.transport === "node"
    ? nodeTransport
    : defaultTransport;
  const transport = traffic === null ? base : countingTransport(base, traffic);
  const members: Member[] = [];
  const results: StepResult[] = [];
  const lag = lagMonitor();
  const began = performance.now();
  const deaths = { n: 0 };
  console.log(
    `\n### ${runtimeName()}, ${o.kind}, ${o.transport} transport, LAN profile, window ${o.windowS} s\n`,
  );
  console.log(
    `| members | join (s) | converge (s) | CPU (s/s) | of 2 cores | RSS MiB | heap MiB | fds | join retries | suspicions | refutes | failed | min alive | max timer lag ms${
      o.bytes
        ? " | probe B/member/s | gossip B/member/s | push-pull B/member/s | push-pulls | B/push-pull"
        : ""
    } |`,
  );
  console.log(`|${"---:|".repeat(o.bytes ? 19 : 14)}`);
  try {
    for (const target of o.steps) {
      // One counter for all members (old members see the step's failures
      // too); the step's figure is its increase.
      const deaths0 = deaths.n;
      const t0 = performance.now();
      const joinStats = { retries: 0 };
      await grow(o, members, target, transport, deaths, joinStats);
      const t1 = performance.now();
      // An alive that missed a member during the joins (gossip is
      // probabilistic) is repaired by push-pull: within the stagger (30 s)
      // plus the scaled interval, memberlist's anti-entropy bound.
      const ok = await converge(
        members,
        o.convergeS > 0
          ? o.convergeS * 1000
          : 30_000 + 2 * pushPullScaleMs(LAN_PUSH_PULL_MS, target),
      );
      const t2 = performance.now();
      if (!ok) {
        const alive = members.map((m) => m.aliveCount());
        const pending = members.map((m) => m.pending());
        console.log(
          `| ${target} | did not converge in ${
            fmt((t2 - t1) / 1000, 0)
          } s: alive seen ${Math.min(...alive)}–${
            Math.max(...alive)
          }, queued broadcasts ${Math.min(...pending)}–${
            Math.max(...pending)
          }, failed ${deaths.n - deaths0} |`,
        );
        break;
      }
      await delay(o.settleS * 1000);
      if (o.kind === "memberlist") await delay(MEMBERLIST_DRAIN_MS);
      const r: StepResult = {
        ...(await measure(o, members, traffic, lag)),
        joinS: (t1 - t0) / 1000,
        convergeS: (t2 - t1) / 1000,
        deaths: deaths.n - deaths0,
        joinRetries: joinStats.retries,
      };
      results.push(r);
      printRow(r, o.bytes);
      if (o.json !== null) writeJson(o, results);
      if (r.cpu >= o.threshold && !o.all) break;
      if ((performance.now() - began) / 1000 > o.budgetS) {
        console.log(`\nStopped: past the ${o.budgetS} s budget.`);
        break;
      }
    }
  } finally {
    lag.stop();
    await Promise.all(members.map((m) => m.shutdown().catch(() => {})));
  }
  const under = results.filter((r) => r.cpu < o.threshold);
  console.log(
    `\nLargest M under ${o.threshold} CPU-s/s (${
      fmt(o.threshold * 50, 0)
    } % of 2 cores): ${
      under.length > 0 ? under[under.length - 1].members : "none"
    }`,
  );
}

function writeJson(o: ScaleOptions, results: StepResult[]): void {
  writeFileSync(
    o.json!,
    JSON.stringify({ runtime: runtimeName(), options: o, results }, null, 2),
  );
}

if (import.meta.main) {
  await main(process.argv.slice(2));
  process.exit(0);
}
