/**
 * `grapevine simulate`: Serf's convergence simulator, run on grapevine's
 * deterministic simulator (`src/testing/`) with the real memberlist
 * machine instead of a formula. For a cluster of N converged members on a
 * simulated network (latency, jitter, loss) it measures:
 *
 * - how fast news spreads: the share of members that know a newcomer, over
 *   time since it joined (50 / 90 / 99 / 100 %);
 * - how fast a failure is detected (the first suspicion) and spread (the
 *   share of members that declared the crashed member dead);
 * - false positives: healthy members declared dead;
 * - the steady-state cost: packets and bytes sent per member per second.
 *
 * Every run is a pure function of its options and seed.
 *
 * @module
 */

import type { MemberlistConfig, ProfileName } from "../config.ts";
import type { Memberlist } from "../memberlist/memberlist.ts";
import type { MemberlistEvent } from "../types.ts";
import {
  memberlistCluster,
  startConverged,
} from "../testing/memberlist_sim.ts";
import type { SimCluster } from "../testing/sim_cluster.ts";

/** What to simulate. */
export interface SimulateOptions {
  /** Converged members at the start. */
  nodes: number;
  /** memberlist timing profile. */
  profile: ProfileName;
  /** memberlist settings on top of the profile (gossip tuning). */
  config: Partial<MemberlistConfig>;
  /** Probability that a packet is lost. */
  lossRate: number;
  /** One-way latency (ms). */
  latencyMs: number;
  /** Extra random delay per packet, 0..jitterMs (ms). */
  jitterMs: number;
  /** Seed of the whole run. */
  seed: number;
  /** Steady-state window for the traffic figures (ms). */
  windowMs: number;
  /** Longest wait for a spread to complete (ms, virtual time). */
  maxMs: number;
}

/** How a piece of news spread: when each informed member learnt it. */
export interface Spread {
  /** Members that should learn it. */
  total: number;
  /** Milliseconds after the start at which each member learnt it, sorted. */
  times: number[];
}

/** The outcome of a simulation. */
export interface SimulationResult {
  /** The options it ran with. */
  options: SimulateOptions;
  /** A newcomer's alive message. */
  join: Spread;
  /** A crashed member's death. */
  failure: Spread;
  /** From the crash to the first suspicion anywhere (ms), or null. */
  detectionMs: number | null;
  /** Healthy members declared dead during the run. */
  falsePositives: number;
  /** Packets sent per member per second in the steady state. */
  packetsPerMemberPerSecond: number;
  /** Bytes sent per member per second in the steady state. */
  bytesPerMemberPerSecond: number;
}

type Cluster = SimCluster<Memberlist, MemberlistEvent>;

function traffic(c: Cluster): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  for (const name of c.running()) {
    const s = c.machine(name)?.stats();
    if (s === undefined) continue;
    packets += s.packetsOut;
    bytes += s.bytesOut;
  }
  return { packets, bytes };
}

// Record when each observer first reports `target` in `state`.
function watch(
  c: Cluster,
  target: string,
  state: "alive" | "dead",
  startMs: number,
): { seen: Map<string, number>; stop: () => void } {
  const seen = new Map<string, number>();
  const stop = c.onEvent((observer, e, nowMs) => {
    if (observer === target || seen.has(observer)) return;
    if (e.type !== "join" && e.type !== "leave" && e.type !== "update") return;
    if (e.member.name !== target) return;
    const s = e.member.state;
    if (state === "alive" ? s === "alive" : s === "dead") {
      seen.set(observer, nowMs - startMs);
    }
  });
  return { seen, stop };
}

function spreadOf(seen: Map<string, number>, total: number): Spread {
  return { total, times: [...seen.values()].sort((a, b) => a - b) };
}

/**
 * Run the simulation.
 *
 * @param o what to simulate
 * @returns the measurements
 * @example
 * ```ts ignore
 * const r = runSimulation({ ...DEFAULT_SIMULATION, nodes: 20 });
 * console.log(formatSimulation(r));
 * ```
 */
export function runSimulation(o: SimulateOptions): SimulationResult {
  const c = memberlistCluster({
    seed: o.seed,
    profile: o.profile,
    config: o.config,
    network: {
      latencyMs: o.latencyMs,
      jitterMs: o.jitterMs,
      lossRate: o.lossRate,
    },
    checkers: "light",
    expectedSize: o.nodes + 1,
    trace: false,
    failFast: false,
  }) as Cluster;
  const names = startConverged(c, o.nodes);
  c.run(1_000);
  const before = traffic(c);
  c.run(o.windowMs);
  const after = traffic(c);
  const perSecond = (n: number): number => n / o.nodes / (o.windowMs / 1000);
  // A newcomer joins through the first member; everyone must learn of it.
  const newcomer = c.add();
  const joined = watch(c, newcomer, "alive", c.nowMs);
  c.join(newcomer, [names[0]]);
  c.runUntil(() => joined.seen.size >= o.nodes, o.maxMs, 10);
  joined.stop();
  // A member crashes; everyone else must declare it dead.
  const victim = names[Math.floor(names.length / 2)];
  const crashAt = c.nowMs;
  const died = watch(c, victim, "dead", crashAt);
  c.crash(victim);
  let detectionMs: number | null = null;
  const observers = c.running();
  const suspects = (n: string): boolean => {
    const s = c.viewOf(n, victim)?.state;
    return s === "suspect" || s === "dead";
  };
  // Under loss someone may suspect the victim already: only a suspicion
  // that starts after the crash counts as its detection.
  const already = new Set(observers.filter(suspects));
  c.runUntil(
    () => {
      if (
        detectionMs === null &&
        observers.some((n) => !already.has(n) && suspects(n))
      ) detectionMs = c.nowMs - crashAt;
      return died.seen.size >= observers.length;
    },
    o.maxMs,
    10,
  );
  died.stop();
  return {
    options: o,
    join: spreadOf(joined.seen, o.nodes),
    failure: spreadOf(died.seen, observers.length),
    detectionMs,
    falsePositives: c.falsePositiveCount,
    packetsPerMemberPerSecond: perSecond(after.packets - before.packets),
    bytesPerMemberPerSecond: perSecond(after.bytes - before.bytes),
  };
}

/** The shares of members reported in the table. */
export const SPREAD_PERCENTS: readonly number[] = [50, 90, 99, 100];

/**
 * When a share of the members had learnt the news.
 *
 * @param s the spread
 * @param percent e.g. 90
 * @returns milliseconds, or null when that share was never reached
 */
export function spreadAt(s: Spread, percent: number): number | null {
  const need = Math.max(1, Math.ceil((percent / 100) * s.total));
  return s.times.length >= need ? s.times[need - 1] : null;
}

function seconds(ms: number | null): string {
  return ms === null ? "—" : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The result as a text table.
 *
 * @param r the result
 * @returns lines for the terminal
 */
export function formatSimulation(r: SimulationResult): string {
  const o = r.options;
  const row = (label: string, s: Spread): string =>
    label.padEnd(22) +
    SPREAD_PERCENTS.map((p) => seconds(spreadAt(s, p)).padStart(10)).join("");
  return [
    `Simulated ${o.nodes} members, profile ${o.profile}, loss ${
      (o.lossRate * 100).toFixed(1)
    }%, latency ${o.latencyMs} ms + 0..${o.jitterMs} ms, seed ${o.seed}`,
    "",
    "".padEnd(22) + SPREAD_PERCENTS.map((p) => `${p}%`.padStart(10)).join(""),
    row("join dissemination", r.join),
    row("failure dissemination", r.failure),
    "",
    `failure detection (first suspicion): ${seconds(r.detectionMs)}`,
    `false positives:                     ${r.falsePositives}`,
    `messages per member per second:      ${
      r.packetsPerMemberPerSecond.toFixed(2)
    }`,
    `bytes per member per second:         ${
      r.bytesPerMemberPerSecond.toFixed(0)
    }`,
  ].join("\n");
}

function points(
  s: Spread,
  xOf: (ms: number) => string,
  yOf: (f: number) => string,
): string {
  const pts = [`${xOf(0)},${yOf(0)}`];
  s.times.forEach((t, i) => {
    pts.push(
      `${xOf(t)},${yOf(i / s.total)}`,
      `${xOf(t)},${yOf((i + 1) / s.total)}`,
    );
  });
  return pts.join(" ");
}

/**
 * The two spreads as an SVG chart: share of members informed over time.
 *
 * @param r the result
 * @returns an SVG document
 */
export function simulationSvg(r: SimulationResult): string {
  const [w, h, left, bottom, top, right] = [640, 320, 50, 40, 20, 20];
  const last = Math.max(1, ...r.join.times, ...r.failure.times);
  const xOf = (ms: number): string =>
    (left + (ms / last) * (w - left - right)).toFixed(1);
  const yOf = (f: number): string =>
    (h - bottom - f * (h - bottom - top)).toFixed(1);
  const grid = SPREAD_PERCENTS.map((p) =>
    `<line x1="${left}" x2="${w - right}" y1="${yOf(p / 100)}" y2="${
      yOf(p / 100)
    }" stroke="#ddd"/>` +
    `<text x="${left - 6}" y="${
      yOf(p / 100)
    }" text-anchor="end" dominant-baseline="middle">${p}%</text>`
  ).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">
<title>grapevine simulate: ${r.options.nodes} members, ${r.options.profile}</title>
${grid}
<line x1="${left}" x2="${w - right}" y1="${yOf(0)}" y2="${
    yOf(0)
  }" stroke="#000"/>
<text x="${left}" y="${h - 12}">0 s</text>
<text x="${w - right}" y="${h - 12}" text-anchor="end">${
    (last / 1000).toFixed(2)
  } s</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${
    points(r.join, xOf, yOf)
  }"/>
<polyline fill="none" stroke="#d62728" stroke-width="2" points="${
    points(r.failure, xOf, yOf)
  }"/>
<text x="${left + 8}" y="${top + 12}" fill="#1f77b4">join dissemination</text>
<text x="${left + 8}" y="${
    top + 26
  }" fill="#d62728">failure dissemination (from the crash)</text>
</svg>
`;
}
