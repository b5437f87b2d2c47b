/**
 * Fault campaigns (issue #7): per seed, a 50-member LAN cluster under 20 %
 * packet loss takes a random mix of crashes (with restarts), short pauses
 * (GC / CPU starvation: must be refuted), long pauses (legitimately declared
 * dead, then refuted on resume) and partitions (healed, then rejoined as
 * Serf's reconnect loop would), with every invariant checker running after
 * every step. On top of the checkers the campaign measures, per crash, how
 * long every live member takes to see it dead — a miss past the detection
 * bound is a violation — and classifies every dead declaration: explained
 * by a crash, a long pause or a partition, or a false positive (a healthy
 * member, or one paused for less than the minimum suspicion timeout).
 *
 * The fault plan is a pure function of the seed and the sizes, not of the
 * protocol config, so the same seeds run under four modes — our default,
 * memberlist 0.2.2 (no liveness veto), Lifeguard off, and both off — and
 * the comparison is about the detector, not the schedule.
 *
 * @module
 */

import type { MemberlistConfig } from "../config.ts";
import { profileConfig } from "../config.ts";
import {
  pushPullScaleMs,
  retransmitLimit,
  suspicionTimeoutMs,
} from "../memberlist/formulas.ts";
import type { MemberlistEvent } from "../types.ts";
import {
  memberlistBounds,
  type MemberlistCluster,
  memberlistCluster,
  startConverged,
} from "./memberlist_sim.ts";
import { derivePrng } from "./prng.ts";
import { memberName } from "./sim_cluster.ts";
import { formatMs } from "./trace.ts";

/**
 * What runs on the same seeds: `default` (Lifeguard + our liveness veto),
 * `no-veto` (memberlist 0.2.2: Lifeguard, no veto), `no-lifeguard` (veto
 * only) and `swim` (neither).
 */
export type CampaignMode = "default" | "no-veto" | "no-lifeguard" | "swim";

/** Every mode, in table order. */
export const CAMPAIGN_MODES: readonly CampaignMode[] = [
  "default",
  "no-veto",
  "no-lifeguard",
  "swim",
];

/**
 * Config overrides per mode. Lifeguard off is `awarenessMaxMultiplier: 1`
 * (the local health score is clamped to [0, 0]: no LHA-Probe stretching of
 * probe interval and timeout, Lifeguard §4, and nacks — whose only consumer
 * is that score — change nothing) and `suspicionMaxTimeoutMult: 1` (the
 * suspicion timeout is fixed at memberlist's pre-Lifeguard value
 * suspicionMult × log10 n × probe interval and confirmations cannot shorten
 * it: no LHA-Suspicion, Lifeguard §5).
 */
export const CAMPAIGN_MODE_CONFIG: Readonly<
  Record<CampaignMode, Partial<MemberlistConfig>>
> = {
  "default": {},
  "no-veto": { suspicionLivenessVeto: false },
  "no-lifeguard": { awarenessMaxMultiplier: 1, suspicionMaxTimeoutMult: 1 },
  "swim": {
    awarenessMaxMultiplier: 1,
    suspicionMaxTimeoutMult: 1,
    suspicionLivenessVeto: false,
  },
};

/** Options of a campaign seed. */
export interface CampaignOptions {
  /** Members (default 50). */
  members?: number;
  /** Packet loss on every link, each direction, 0…1 (default 0.2). */
  lossRate?: number;
  /** Virtual time during which faults start (default 180 s). */
  faultMs?: number;
  /** Trace lines kept for a failure report (default 0: hash only). */
  traceLines?: number;
  /** Called with the cluster before it starts (debugging: add listeners). */
  observe?: (cluster: MemberlistCluster) => void;
}

/** One planned fault, at a time relative to the start of the fault phase. */
export type PlannedFault =
  | {
    readonly kind: "crash";
    readonly atMs: number;
    readonly who: string;
    readonly restartAtMs: number;
  }
  | {
    readonly kind: "pause";
    readonly atMs: number;
    readonly who: string;
    readonly ms: number;
    readonly long: boolean;
  }
  | {
    readonly kind: "partition";
    readonly atMs: number;
    readonly side: readonly string[];
    readonly healAtMs: number;
  };

/** A seed's fault plan. */
export interface CampaignPlan {
  /** Members. */
  readonly members: number;
  /** Loss rate. */
  readonly lossRate: number;
  /** Faults, by start time. */
  readonly faults: readonly PlannedFault[];
  /** When the last fault (restart, resume, heal) is over. */
  readonly endMs: number;
}

/** Timing bounds of a campaign under one config. */
export interface CampaignBounds {
  /** Minimum suspicion timeout (memberlist suspicionTimeout). */
  readonly suspicionMinMs: number;
  /** Maximum suspicion timeout (× suspicionMaxTimeoutMult). */
  readonly suspicionMaxMs: number;
  /** Probe stage of the detection bound. */
  readonly probeStageMs: number;
  /** Dissemination stage of the detection bound. */
  readonly disseminationMs: number;
  /** Every live member sees a crash dead within this (see {@linkcode campaignBounds}). */
  readonly detectionBoundMs: number;
  /** How far back a fault explains a death (the checkers' window). */
  readonly deathWindowMs: number;
  /** The formula, with its figures, for reports. */
  readonly formula: string;
}

/**
 * Health-scaled probe intervals allowed before the first suspicion of a
 * crashed member. Each of the n − 1 live members probes one member per
 * interval in a shuffled round robin (memberlist `probe`/`resetNodes`), so
 * the crashed member is probed by somebody about once per interval and the
 * chance that nobody has probed it after k intervals is about e^−k; a
 * failed probe only ends with its interval (memberlist waits for indirect
 * acks until then). Six intervals leave e^−6 ≈ 0.25 % for one crash *and*
 * cover the other routes (the observer's own probe, a suspect message).
 */
export const PROBE_STAGE_INTERVALS = 6;

/**
 * The crash-detection bound for `n` members under `config`:
 *
 * B = 6 × probeInterval × awarenessMax (probe stage)
 *   + suspicionMult × max(1, log10 n) × probeInterval × suspicionMaxTimeoutMult (suspicion stage)
 *   + (⌈log_gossipNodes n⌉ + retransmit limit) × gossipInterval + probeInterval × awarenessMax (dissemination)
 *
 * For 50 LAN members: 48 + 40.752 + 10.4 = 99.2 s with Lifeguard, and
 * 6 + 6.792 + 3.4 = 16.2 s without (awarenessMax 1, suspicion fixed at its
 * minimum). Why each term (memberlist 0.2.2 state.go, Lifeguard §4–§5):
 * the probe stage is {@linkcode PROBE_STAGE_INTERVALS} probe intervals,
 * each stretched by at most the local-health multiplier (LHA-Probe). The
 * suspector's timer runs at most the maximum suspicion timeout
 * (LHA-Suspicion starts it there; confirmations only shorten it). Its dead
 * message is then gossiped for the retransmit limit of rounds to
 * `gossipNodes` random members per round (push gossip reaches everyone in
 * ~log_fanout n rounds); the last health-scaled interval covers a member
 * that missed every copy under loss and needs its own suspect timer or
 * probe. This is a bound for a healthy cluster under random loss, not a
 * worst case: memberlist guarantees only that each observer probes the
 * member itself within 2n − 1 of its own intervals (the default detection
 * checker's bound, `memberlistBounds().detectionBoundMs`, also enforced).
 *
 * @param config the members' config
 * @param n members
 * @returns the bounds
 */
export function campaignBounds(
  config: MemberlistConfig,
  n: number,
): CampaignBounds {
  const min = suspicionTimeoutMs(
    config.suspicionMult,
    n,
    config.probeIntervalMs,
  );
  const max = min * config.suspicionMaxTimeoutMult;
  const scaledIntervalMs = config.probeIntervalMs *
    config.awarenessMaxMultiplier;
  const probeStageMs = PROBE_STAGE_INTERVALS * scaledIntervalMs;
  const spreadRounds = Math.ceil(
    Math.log(n) / Math.log(Math.max(2, config.gossipNodes)),
  ) + retransmitLimit(config.retransmitMult, n);
  const disseminationMs = spreadRounds * config.gossipIntervalMs +
    scaledIntervalMs;
  const detectionBoundMs = Math.ceil(probeStageMs + max + disseminationMs);
  return {
    suspicionMinMs: min,
    suspicionMaxMs: max,
    probeStageMs,
    disseminationMs,
    detectionBoundMs,
    deathWindowMs: memberlistBounds(config, n).deathWindowMs,
    formula:
      `${PROBE_STAGE_INTERVALS}×${config.probeIntervalMs}×${config.awarenessMaxMultiplier}` +
      ` + ${Math.round(max)} + ${spreadRounds}×${config.gossipIntervalMs}` +
      ` + ${scaledIntervalMs} = ${detectionBoundMs} ms`,
  };
}

/**
 * The fault plan of a seed: a pure function of the seed and the sizes.
 * Timing comes from the default LAN config (the longest bounds of every
 * mode), so every mode sees the same plan. Rules that keep each outcome
 * attributable to one fault: a member takes one fault at a time and rests
 * a death window after it; a partition starts only when no crash is inside
 * its detection window, and no crash starts until 20 s after a heal; at
 * most a tenth of the members are down at once.
 *
 * @param seed the seed
 * @param options sizes
 * @returns the plan
 */
export function planCampaign(
  seed: number,
  options: CampaignOptions = {},
): CampaignPlan {
  const n = options.members ?? 50;
  const lossRate = options.lossRate ?? 0.2;
  const faultMs = options.faultMs ?? 180_000;
  const rng = derivePrng(seed, "campaign");
  const b = campaignBounds(profileConfig("lan"), n);
  const names = Array.from({ length: n }, (_, i) => memberName(i));
  const freeAt = new Map<string, number>(names.map((x) => [x, 0]));
  const faults: PlannedFault[] = [];
  const maxDown = Math.max(1, Math.floor(n / 10));
  let crashWindowEnd = 0;
  let quietUntil = 0; // no crash or partition before this (partition aftermath)
  let endMs = 0;
  const downAt = (t: number): number =>
    faults.filter((f) =>
      (f.kind === "crash" && f.atMs <= t && t < f.restartAtMs) ||
      (f.kind === "pause" && f.atMs <= t && t < f.atMs + f.ms)
    ).length;
  for (
    let t = rng.range(1, 5) * 1_000;
    t < faultMs;
    t += rng.range(2, 15) * 1_000
  ) {
    const free = names.filter((x) => (freeAt.get(x) ?? 0) <= t);
    if (free.length < n / 2) continue;
    const roll = rng.int(100);
    if (roll < 30) {
      if (t < quietUntil || downAt(t) >= maxDown) continue;
      const who = rng.pick(free);
      // Restart once every observer's bound has passed (Serf's operator or
      // supervisor restarts it), at a random later moment.
      const restartAtMs = t + b.detectionBoundMs + rng.range(0, 20) * 1_000;
      faults.push({ kind: "crash", atMs: t, who, restartAtMs });
      freeAt.set(who, restartAtMs + b.deathWindowMs);
      crashWindowEnd = Math.max(crashWindowEnd, t + b.detectionBoundMs);
      endMs = Math.max(endMs, restartAtMs);
    } else if (roll < 75) {
      const long = roll >= 60;
      if (long && downAt(t) >= maxDown) continue;
      const who = rng.pick(free);
      // Short: below every mode's minimum suspicion timeout, so each
      // accusation can be refuted. Long: past the maximum, so a death is
      // legitimate.
      const ms = long
        ? Math.ceil(b.suspicionMaxMs / 1_000) * 1_000 + rng.range(5, 30) * 1_000
        : rng.range(5, 40) * 100;
      faults.push({ kind: "pause", atMs: t, who, ms, long });
      freeAt.set(who, t + ms + b.deathWindowMs);
      endMs = Math.max(endMs, t + ms);
    } else {
      if (t < crashWindowEnd || t < quietUntil) continue;
      const side = rng.shuffle(free).slice(
        0,
        rng.range(1, Math.max(1, Math.floor(n / 4))),
      ).sort();
      const healAtMs = t + rng.range(5, 60) * 1_000;
      faults.push({ kind: "partition", atMs: t, side, healAtMs });
      quietUntil = healAtMs + 20_000;
      // Everyone's view is disturbed until the aftermath settles.
      for (const x of names) {
        freeAt.set(x, Math.max(freeAt.get(x) ?? 0, healAtMs + 5_000));
      }
      endMs = Math.max(endMs, healAtMs + 5_000);
    }
  }
  return { members: n, lossRate, faults, endMs: Math.max(endMs, faultMs) };
}

/**
 * A plan as text (for failure reports and `--seed` replays).
 *
 * @param plan the plan
 * @returns one line per fault
 */
export function formatPlan(plan: CampaignPlan): string {
  const lines = [
    `# ${plan.members} members, ${Math.round(plan.lossRate * 100)}% loss`,
  ];
  for (const f of plan.faults) {
    const at = `+${formatMs(f.atMs)}`;
    switch (f.kind) {
      case "crash":
        lines.push(
          `${at} crash ${f.who}, restart at +${formatMs(f.restartAtMs)}`,
        );
        break;
      case "pause":
        lines.push(
          `${at} pause ${f.who} ${formatMs(f.ms)} (${
            f.long ? "long" : "short"
          })`,
        );
        break;
      case "partition":
        lines.push(
          `${at} partition ${f.side.join(",")} | rest, heal at +${
            formatMs(f.healAtMs)
          } and rejoin`,
        );
        break;
    }
  }
  lines.push(`+${formatMs(plan.endMs)} lift faults, rejoin, expect converged`);
  return lines.join("\n");
}

/** Width of the detection-time histogram buckets (ms). */
export const HISTOGRAM_BUCKET_MS = 100;

/** The outcome of one seed in one mode. */
export interface CampaignResult {
  /** The seed. */
  readonly seed: number;
  /** The mode. */
  readonly mode: CampaignMode;
  /** Whether every invariant held (zero violations, no missed detection). */
  readonly ok: boolean;
  /** The first violation or error. */
  readonly error: string | null;
  /** Crashes run. */
  readonly crashes: number;
  /** (crash, live observer) pairs that saw the crash dead in the bound. */
  readonly detections: number;
  /** Histogram of detection times ({@linkcode HISTOGRAM_BUCKET_MS} buckets). */
  readonly histogram: readonly number[];
  /** Slowest detection (ms). */
  readonly maxDetectionMs: number;
  /** The bound detections were held to (ms). */
  readonly detectionBoundMs: number;
  /** Short pauses run. */
  readonly shortPauses: number;
  /** Long pauses run. */
  readonly longPauses: number;
  /** Partitions run. */
  readonly partitions: number;
  /** Dead declarations about healthy members (observer, target pairs). */
  readonly falseDeaths: number;
  /** Dead declarations about members paused below the suspicion timeout. */
  readonly shortPauseDeaths: number;
  /** Distinct short-paused members declared dead by anyone. */
  readonly shortPausesKilled: number;
  /** Dead declarations explained by a crash, long pause or partition. */
  readonly explainedDeaths: number;
  /**
   * Dead declarations about healthy members by an observer that had a fault
   * of its own within the death window (not in `falseDeaths`).
   */
  readonly wokenDeaths: number;
  /** Failed probes (each starts or confirms a suspicion). */
  readonly suspicions: number;
  /** Refutations (a member heard itself accused). */
  readonly refutes: number;
  /** Deaths the liveness veto postponed. */
  readonly vetoes: number;
  /** The checkers' false-positive count (cross-check of falseDeaths). */
  readonly checkerFalsePositives: number;
  /** Virtual time covered (ms). */
  readonly virtualMs: number;
  /** Inputs handed to machines. */
  readonly steps: number;
  /** Trace hash (replays must match it). */
  readonly traceHash: string;
  /** Trace tail (only on failure, when traceLines > 0). */
  readonly trace: readonly string[];
}

interface PendingCrash {
  readonly target: string;
  readonly instance: number;
  readonly atMs: number;
  readonly waiting: Set<string>;
}

/**
 * Run one seed in one mode.
 *
 * @param seed the seed
 * @param mode the detector configuration
 * @param options sizes
 * @returns the outcome
 */
export function runCampaignSeed(
  seed: number,
  mode: CampaignMode,
  options: CampaignOptions = {},
): CampaignResult {
  const plan = planCampaign(seed, options);
  const n = plan.members;
  const config = profileConfig("lan", CAMPAIGN_MODE_CONFIG[mode]);
  const bounds = campaignBounds(config, n);
  const c = memberlistCluster({
    seed,
    expectedSize: n,
    config: CAMPAIGN_MODE_CONFIG[mode],
    traceLines: options.traceLines ?? 0,
    failFast: true,
  });
  options.observe?.(c);
  const histogram = new Array<number>(
    Math.ceil(bounds.detectionBoundMs / HISTOGRAM_BUCKET_MS) + 1,
  ).fill(0);
  let detections = 0;
  let maxDetectionMs = 0;
  let falseDeaths = 0;
  let shortPauseDeaths = 0;
  let explainedDeaths = 0;
  let wokenDeaths = 0;
  const shortKilled = new Set<string>();
  // Each member's latest fault: what explains a death of it, and until when.
  const lastFault = new Map<string, { kind: string; endMs: number }>();
  let partitionEndMs = Number.NEGATIVE_INFINITY;
  let partitioned = false;
  const pending: PendingCrash[] = [];

  c.onEvent((observer: string, e: MemberlistEvent, t: number) => {
    if (e.type !== "leave") return;
    const target = e.member.name;
    for (const p of pending) {
      if (p.target !== target || !p.waiting.delete(observer)) continue;
      const ms = t - p.atMs;
      detections++;
      maxDetectionMs = Math.max(maxDetectionMs, ms);
      histogram[
        Math.min(histogram.length - 1, Math.floor(ms / HISTOGRAM_BUCKET_MS))
      ]++;
    }
    if (e.member.state !== "dead") return;
    const f = lastFault.get(target);
    const recent = f !== undefined &&
      (f.endMs === Infinity || t - f.endMs <= bounds.deathWindowMs);
    // A partition (now or within the window) explains any death: views
    // across it legitimately disagree until the rejoin.
    if (partitioned || t - partitionEndMs <= bounds.deathWindowMs) {
      explainedDeaths++;
    } else if (recent && f.kind === "short") {
      shortPauseDeaths++;
      shortKilled.add(target);
    } else if (recent) {
      explainedDeaths++;
    } else if (
      c.network.faultySince(c.indexOf(observer), t - bounds.deathWindowMs)
    ) {
      // The observer itself was paused, crashed or cut off in the window:
      // e.g. a member waking from a long pause whose overdue suspicion
      // timer fires before it reads the refutation (memberlist runs timers
      // on wake). A stale view of its own, not a healthy detector's error.
      wokenDeaths++;
    } else {
      falseDeaths++;
    }
  });

  let suspicions = 0;
  let refutes = 0;
  let vetoes = 0;
  // Counters of an instance, added when it crashes and at the end.
  const collect = (who: string): void => {
    const m = c.machine(who);
    if (m === null) return;
    const s = m.stats();
    suspicions += s.probeFailures;
    refutes += s.refutes;
    vetoes += s.livenessVetoes;
  };

  const crash = (who: string): void => {
    if (c.status(who) !== "up") return;
    collect(who);
    const instance = c.instance(who);
    const atMs = c.nowMs;
    const waiting = new Set<string>();
    for (const o of c.running()) {
      if (o === who || c.status(o) !== "up") continue;
      const e = c.viewOf(o, who);
      if (e !== undefined && (e.state === "alive" || e.state === "suspect")) {
        waiting.add(o);
      }
    }
    lastFault.set(who, { kind: "crash", endMs: Infinity });
    c.crash(who);
    const p: PendingCrash = { target: who, instance, atMs, waiting };
    pending.push(p);
    c.at(atMs + bounds.detectionBoundMs, () => {
      pending.splice(pending.indexOf(p), 1);
      if (c.status(who) !== "crashed" || c.instance(who) !== instance) return;
      for (const o of p.waiting) {
        // Observers that had a fault of their own since the crash (paused,
        // crashed, partitioned) are excused, as in detectionChecker.
        if (c.status(o) !== "up" || c.network.faultySince(c.indexOf(o), atMs)) {
          continue;
        }
        const e = c.viewOf(o, who);
        if (e === undefined || e.state === "dead" || e.state === "left") {
          continue;
        }
        c.violation(
          "campaign-detection",
          `${o} still sees crashed ${who} ${e.state} ${bounds.detectionBoundMs} ms after the crash (bound ${bounds.formula})`,
        );
      }
    });
  };

  let crashes = 0;
  let shortPauses = 0;
  let longPauses = 0;
  let partitions = 0;
  let error: string | null = null;
  try {
    startConverged(c, n);
    c.setLink({ lossRate: plan.lossRate });
    c.run(10_000);
    const t0 = c.nowMs;
    for (const f of plan.faults) {
      switch (f.kind) {
        case "crash":
          crashes++;
          c.at(t0 + f.atMs, () => crash(f.who));
          c.at(t0 + f.restartAtMs, () => {
            lastFault.set(f.who, { kind: "crash", endMs: c.nowMs });
            c.restart(f.who);
          });
          break;
        case "pause":
          if (f.long) longPauses++;
          else shortPauses++;
          c.at(t0 + f.atMs, () => {
            if (c.status(f.who) !== "up") return;
            lastFault.set(f.who, {
              kind: f.long ? "long" : "short",
              endMs: c.nowMs + f.ms,
            });
            c.pause(f.who, f.ms);
          });
          break;
        case "partition":
          partitions++;
          c.at(t0 + f.atMs, () => {
            partitioned = true;
            c.partition([f.side]);
          });
          c.at(t0 + f.healAtMs, () => {
            partitioned = false;
            partitionEndMs = c.nowMs;
            c.heal();
          });
          // Serf's reconnect loop: members that hold others failed keep
          // joining them. Twice, because two sides holding each other dead
          // at the same incarnation merge only once the first join's
          // refutations have bumped them (see vopr.ts).
          for (const delayMs of [1_000, 3_000]) {
            c.at(t0 + f.healAtMs + delayMs, () => {
              const rest = c.running().filter((x) =>
                !f.side.includes(x) && c.status(x) === "up"
              );
              if (rest.length === 0) return;
              for (const x of f.side) {
                if (c.status(x) === "up") {
                  c.join(x, [rest[c.faults.int(rest.length)]]);
                }
              }
            });
          }
          break;
      }
    }
    c.run(plan.endMs + 1_000);
    // Lift every fault and the loss; Serf's reconnect rejoins everyone
    // through one member (twice, as above); views must converge.
    c.heal();
    c.setLink({ lossRate: 0 });
    const survivors = c.running().filter((x) => c.status(x) === "up");
    c.run(2_000);
    for (const round of [0, 1]) {
      for (const x of survivors.slice(1)) c.join(x, [survivors[0]]);
      if (round === 0) c.run(1_000);
    }
    const settleMs = 2 * pushPullScaleMs(config.pushPullIntervalMs, n) +
      bounds.detectionBoundMs;
    if (
      c.runUntil(() => c.convergence().length === 0, settleMs, 1_000) === null
    ) {
      c.violation(
        "campaign-convergence",
        `not converged ${settleMs} ms after the faults were lifted: ${
          c.convergence().slice(0, 3).join("; ")
        }`,
      );
    }
    c.finish();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  for (const x of c.names()) collect(x);
  return {
    seed,
    mode,
    ok: error === null && c.violationCount === 0,
    error,
    crashes,
    detections,
    histogram,
    maxDetectionMs,
    detectionBoundMs: bounds.detectionBoundMs,
    shortPauses,
    longPauses,
    partitions,
    falseDeaths,
    shortPauseDeaths,
    shortPausesKilled: shortKilled.size,
    explainedDeaths,
    wokenDeaths,
    suspicions,
    refutes,
    vetoes,
    checkerFalsePositives: c.falsePositiveCount,
    virtualMs: c.nowMs,
    steps: c.networkStats().steps,
    traceHash: c.trace.hash(),
    trace: error === null ? [] : c.traceLines(),
  };
}

/** Totals of one mode over many seeds. */
export interface CampaignSummary {
  /** The mode. */
  readonly mode: CampaignMode;
  /** Seeds run. */
  seeds: number;
  /** Seeds that failed, with their first error (at most 100 kept). */
  readonly failures: { seed: number; error: string }[];
  /** Number of failed seeds. */
  failed: number;
  /** Crashes. */
  crashes: number;
  /** Detections in the bound. */
  detections: number;
  /** Detection-time histogram ({@linkcode HISTOGRAM_BUCKET_MS} buckets). */
  histogram: number[];
  /** Slowest detection (ms). */
  maxDetectionMs: number;
  /** The detection bound (ms). */
  detectionBoundMs: number;
  /** Short pauses. */
  shortPauses: number;
  /** Long pauses. */
  longPauses: number;
  /** Partitions. */
  partitions: number;
  /** Dead declarations about healthy members. */
  falseDeaths: number;
  /** Dead declarations about short-paused members. */
  shortPauseDeaths: number;
  /** Short pauses that ended in a death somewhere. */
  shortPausesKilled: number;
  /** Explained dead declarations. */
  explainedDeaths: number;
  /** Dead declarations about healthy members by observers that had a fault. */
  wokenDeaths: number;
  /** Failed probes. */
  suspicions: number;
  /** Refutations. */
  refutes: number;
  /** Vetoed deaths. */
  vetoes: number;
  /** Virtual time (ms). */
  virtualMs: number;
  /** Inputs handed to machines. */
  steps: number;
}

/**
 * An empty summary.
 *
 * @param mode the mode
 * @returns zeroed totals
 */
export function emptySummary(mode: CampaignMode): CampaignSummary {
  return {
    mode,
    seeds: 0,
    failures: [],
    failed: 0,
    crashes: 0,
    detections: 0,
    histogram: [],
    maxDetectionMs: 0,
    detectionBoundMs: 0,
    shortPauses: 0,
    longPauses: 0,
    partitions: 0,
    falseDeaths: 0,
    shortPauseDeaths: 0,
    shortPausesKilled: 0,
    explainedDeaths: 0,
    wokenDeaths: 0,
    suspicions: 0,
    refutes: 0,
    vetoes: 0,
    virtualMs: 0,
    steps: 0,
  };
}

/**
 * Add one result to a summary of its mode.
 *
 * @param s the summary (changed)
 * @param r a result of the same mode
 */
export function addResult(s: CampaignSummary, r: CampaignResult): void {
  s.seeds++;
  if (!r.ok) {
    s.failed++;
    if (s.failures.length < 100) {
      s.failures.push({ seed: r.seed, error: r.error ?? "violation" });
    }
  }
  for (
    const k of [
      "crashes",
      "detections",
      "shortPauses",
      "longPauses",
      "partitions",
      "falseDeaths",
      "shortPauseDeaths",
      "shortPausesKilled",
      "explainedDeaths",
      "wokenDeaths",
      "suspicions",
      "refutes",
      "vetoes",
      "virtualMs",
      "steps",
    ] as const
  ) s[k] += r[k];
  s.maxDetectionMs = Math.max(s.maxDetectionMs, r.maxDetectionMs);
  s.detectionBoundMs = Math.max(s.detectionBoundMs, r.detectionBoundMs);
  r.histogram.forEach((v, i) => {
    s.histogram[i] = (s.histogram[i] ?? 0) + v;
  });
}

/**
 * A percentile of a histogram (the upper edge of the bucket it falls in).
 *
 * @param histogram counts per {@linkcode HISTOGRAM_BUCKET_MS} bucket
 * @param q quantile in [0, 1]
 * @returns milliseconds, or NaN for an empty histogram
 */
export function histogramQuantileMs(
  histogram: readonly number[],
  q: number,
): number {
  let total = 0;
  for (const v of histogram) total += v ?? 0;
  if (total === 0) return NaN;
  const want = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= want) return (i + 1) * HISTOGRAM_BUCKET_MS;
  }
  return histogram.length * HISTOGRAM_BUCKET_MS;
}

function sec(ms: number): string {
  return Number.isNaN(ms) ? "–" : (ms / 1000).toFixed(1);
}

/**
 * The comparison table (markdown) of mode summaries.
 *
 * @param summaries one per mode
 * @returns the table
 */
export function formatCampaignTable(
  summaries: readonly CampaignSummary[],
): string {
  const rows = [
    "| mode | seeds | failed | crashes | detections | detection p50 / p99 / max (s) | bound (s) | false deaths (healthy) | by a woken observer | short pauses killed / run | long pauses | partitions | failed probes | refutations | vetoes |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of summaries) {
    rows.push(
      `| ${s.mode} | ${s.seeds} | ${s.failed} | ${s.crashes} | ${s.detections} | ${
        sec(histogramQuantileMs(s.histogram, 0.5))
      } / ${sec(histogramQuantileMs(s.histogram, 0.99))} / ${
        sec(s.maxDetectionMs)
      } | ${
        sec(s.detectionBoundMs)
      } | ${s.falseDeaths} | ${s.wokenDeaths} | ${s.shortPausesKilled} / ${s.shortPauses} | ${s.longPauses} | ${s.partitions} | ${s.suspicions} | ${s.refutes} | ${s.vetoes} |`,
    );
  }
  return rows.join("\n");
}
