/**
 * The VOPR (TigerBeetle's "Viewstamped Operation Replicator" fuzzer, in
 * spirit): for each seed, generate a random scenario with faults, run it
 * with every invariant checked after every step, and on failure print the
 * seed, the generated script and the trace tail. A failure is replayed
 * exactly by running its seed again (the script is a pure function of the
 * seed).
 *
 * Each run: start N members, join, converge; then a random schedule of
 * crashes, restarts, pauses, partitions, one-way drops, loss, duplication,
 * latency and jitter, and leaves with random gaps; then every fault is lifted, the survivors
 * rejoin through one seed (as operators do after a long partition:
 * memberlist does not probe or push-pull with members it believes dead, so
 * two sides that declared each other dead stay apart), and the cluster must
 * converge within memberlist's detection bound.
 *
 * @module
 */

import type { MemberlistConfig, ProfileName } from "../config.ts";
import { profileConfig } from "../config.ts";
import { pushPullScaleMs } from "../memberlist/formulas.ts";
import { memberlistBounds, memberlistCluster } from "./memberlist_sim.ts";
import { derivePrng, type Prng } from "./prng.ts";
import { memberName } from "./sim_cluster.ts";
import { runScenario } from "./scenario.ts";

/** Options of a VOPR run. */
export interface VoprOptions {
  /** Members per run (default: random 3..7 per seed). */
  members?: number;
  /** memberlist profile (default "lan"). */
  profile?: ProfileName;
  /** Config overrides for every member. */
  config?: Partial<MemberlistConfig>;
  /** Fault steps per run (default: random 3..10). */
  faults?: number;
  /** Trace lines kept for the report (default 60). */
  traceLines?: number;
}

/** The outcome of one seed. */
export interface VoprResult {
  /** The seed. */
  readonly seed: number;
  /** Whether every invariant and expectation held. */
  readonly ok: boolean;
  /** The generated scenario. */
  readonly script: string;
  /** What failed, if anything. */
  readonly error: string | null;
  /** Trace hash (replays must match it). */
  readonly traceHash: string;
  /** The last trace lines (only on failure). */
  readonly trace: readonly string[];
  /** Healthy members declared dead (reported, not a failure). */
  readonly falsePositives: number;
  /** Virtual time covered (ms). */
  readonly virtualMs: number;
  /** Inputs handed to machines. */
  readonly steps: number;
}

/** Summary of a sweep. */
export interface VoprSummary {
  /** Seeds run. */
  readonly runs: number;
  /** Failed results (all of them). */
  readonly failures: readonly VoprResult[];
  /** Sum of false positives over all runs. */
  readonly falsePositives: number;
  /** Sum of virtual time (ms). */
  readonly virtualMs: number;
  /** Sum of steps. */
  readonly steps: number;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The random scenario of a seed, as a script.
 *
 * @param seed the seed
 * @param options sizes and profile
 * @returns the script
 */
export function generateScenario(
  seed: number,
  options: VoprOptions = {},
): string {
  const rng = derivePrng(seed, "vopr");
  const n = options.members ?? rng.range(3, 7);
  const config = profileConfig(options.profile ?? "lan", options.config ?? {});
  const bounds = memberlistBounds(config, n);
  const names = Array.from({ length: n }, (_, i) => memberName(i));
  // Members that join at once learn about each other from gossip that is
  // weak at first (early joiners know few peers to gossip to), so the last
  // gaps close at the first push-pull: after a random stagger *plus* one
  // interval in memberlist (pushPullTrigger), i.e. within two intervals.
  const joinBoundMs = 2 * pushPullScaleMs(config.pushPullIntervalMs, n) +
    10_000;
  const lines = [
    `# vopr seed=${seed}`,
    `start ${n}`,
    "join all",
    "run 3s",
    `expect converged within ${seconds(joinBoundMs)}`,
  ];
  const crashed = new Set<string>();
  const left = new Set<string>();
  const blocked: string[] = [];
  const steps = options.faults ?? rng.range(3, 10);
  const alive = (): string[] =>
    names.filter((x) => !crashed.has(x) && !left.has(x));
  for (let i = 0; i < steps; i++) {
    faultStep(rng, lines, {
      names,
      crashed,
      left,
      blocked,
      alive,
      bounds: bounds.suspicionMaxMs,
    });
    lines.push(`run ${seconds(rng.range(1, 30) * 500)}`);
  }
  // Lift every fault, then let the survivors find each other again.
  lines.push(
    "# lift faults",
    "heal",
    "loss 0%",
    "dup 0%",
    "latency 1ms",
    "jitter 2ms",
  );
  for (const b of blocked) lines.push(`unblock ${b}`);
  for (const x of alive()) lines.push(`resume ${x}`);
  lines.push("run 2s");
  const survivors = alive();
  if (survivors.length > 1) {
    // Twice, like Serf's reconnect loop: when both sides hold each other
    // dead at the same incarnation, the first join's push-pull makes each
    // side refute (bump its incarnation) but neither accepts the other's
    // equal-incarnation alive, and refutations are gossiped only to alive
    // (or recently dead) members. The second join carries the bumped
    // incarnations and merges (memberlist 0.2.2 aliveNode; found by seed 13
    // with 2 members).
    const join = `join ${survivors.slice(1).join(",")} to ${survivors[0]}`;
    lines.push(join, "run 1s", join);
  }
  lines.push(
    `expect converged within ${
      seconds(Math.ceil(bounds.detectionBoundMs / 1000) * 1000)
    }`,
  );
  return lines.join("\n");
}

interface FaultState {
  readonly names: readonly string[];
  readonly crashed: Set<string>;
  readonly left: Set<string>;
  readonly blocked: string[];
  readonly alive: () => string[];
  readonly bounds: number;
}

function faultStep(rng: Prng, lines: string[], s: FaultState): void {
  const alive = s.alive();
  const roll = rng.int(100);
  if (roll < 14 && alive.length > 2) {
    const x = rng.pick(alive);
    s.crashed.add(x);
    lines.push(`crash ${x}`);
  } else if (roll < 26 && s.crashed.size > 0) {
    const x = rng.pick([...s.crashed]);
    s.crashed.delete(x);
    lines.push(`restart ${x}`);
  } else if (roll < 46) {
    // Short pauses model GC / CPU starvation; long ones outlive suspicion.
    const ms = rng.chance(0.7)
      ? rng.range(1, 20) * 100
      : rng.range(1, Math.ceil(s.bounds / 1000) + 5) * 1000;
    lines.push(`pause ${rng.pick(alive)} ${seconds(ms)}`);
  } else if (roll < 58 && alive.length > 1) {
    const shuffled = rng.shuffle([...s.names]);
    const cut = rng.range(1, shuffled.length - 1);
    lines.push(
      `partition ${shuffled.slice(0, cut).join(",")} | ${
        shuffled.slice(cut).join(",")
      }`,
    );
  } else if (roll < 68) {
    lines.push("heal");
  } else if (roll < 78) {
    lines.push(`loss ${rng.range(0, 30)}%`);
  } else if (roll < 81) {
    lines.push(`dup ${rng.range(0, 10)}%`);
  } else if (roll < 84) {
    // Slow, jittery links reorder alive/suspect/dead messages and push
    // round trips past the probe timeout.
    lines.push(
      `latency ${rng.range(0, 150)}ms`,
      `jitter ${rng.range(0, 300)}ms`,
    );
  } else if (roll < 92 && alive.length > 1) {
    const [a, b] = rng.shuffle([...alive]);
    const link = `${a}->${b}`;
    if (!s.blocked.includes(link)) s.blocked.push(link);
    lines.push(`block ${link}`);
  } else if (roll < 96 && s.blocked.length > 0) {
    const link = s.blocked.splice(rng.int(s.blocked.length), 1)[0];
    lines.push(`unblock ${link}`);
  } else if (alive.length > 2) {
    const x = rng.pick(alive);
    s.left.add(x);
    lines.push(`leave ${x}`);
  } else {
    lines.push("run 1s");
  }
}

/**
 * Run one seed.
 *
 * @param seed the seed
 * @param options sizes and profile
 * @returns the outcome
 */
export function runVoprSeed(
  seed: number,
  options: VoprOptions = {},
): VoprResult {
  const script = generateScenario(seed, options);
  const n = Number(/^start (\d+)$/m.exec(script)?.[1] ?? 3);
  const cluster = memberlistCluster({
    seed,
    profile: options.profile,
    config: options.config,
    expectedSize: n,
    traceLines: options.traceLines ?? 60,
    failFast: true,
  });
  let error: string | null = null;
  try {
    runScenario(cluster, script);
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  const stats = cluster.networkStats();
  return {
    seed,
    ok: error === null,
    script,
    error,
    traceHash: cluster.trace.hash(),
    trace: error === null ? [] : cluster.traceLines(),
    falsePositives: cluster.falsePositiveCount,
    virtualMs: cluster.nowMs,
    steps: stats.steps,
  };
}

/**
 * A failure report: seed, error, script and trace tail.
 *
 * @param r a failed result
 * @returns the text
 */
export function formatFailure(r: VoprResult): string {
  return [
    `seed=${r.seed} FAILED: ${r.error}`,
    "--- scenario ---",
    r.script,
    "--- trace (last lines) ---",
    ...r.trace,
    `--- replay: deno task vopr --seed ${r.seed} ---`,
  ].join("\n");
}

/**
 * Run seeds `first … first + count − 1`.
 *
 * @param first first seed
 * @param count number of seeds
 * @param options sizes, profile, and a progress callback
 * @returns the summary
 */
export function runVopr(
  first: number,
  count: number,
  options: VoprOptions & { onResult?: (r: VoprResult) => void } = {},
): VoprSummary {
  const failures: VoprResult[] = [];
  let falsePositives = 0;
  let virtualMs = 0;
  let steps = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runVoprSeed(seed, options);
    if (!r.ok) failures.push(r);
    falsePositives += r.falsePositives;
    virtualMs += r.virtualMs;
    steps += r.steps;
    options.onResult?.(r);
  }
  return { runs: count, failures, falsePositives, virtualMs, steps };
}
