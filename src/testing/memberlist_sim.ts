/**
 * The Memberlist binding of the simulator: {@linkcode MachineHooks} for
 * `Memberlist`, a ready cluster ({@linkcode memberlistCluster}), and the
 * bounds memberlist's own formulas give (SPEC §6.2–§6.4), which the
 * checkers and tests use instead of magic numbers.
 *
 * @module
 */

import type { MemberlistConfig, ProfileName } from "../config.ts";
import {
  META_MAX_SIZE,
  profileConfig,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
} from "../config.ts";
import { type Alive, ipFromString } from "../codec/messages.ts";
import type { MemberlistDelegate } from "../memberlist/delegate.ts";
import { MAX_BROADCASTS, Memberlist } from "../memberlist/memberlist.ts";
import { retransmitLimit, suspicionTimeoutMs } from "../memberlist/formulas.ts";
import { type Inbound, openPacket } from "../memberlist/wire.ts";
import type { MemberlistEvent } from "../types.ts";
import { defaultCheckers } from "./checkers.ts";
import {
  type Checker,
  type ClassifiedEvent,
  type MachineHooks,
  memberHost,
  memberName,
  SimCluster,
  type SimClusterOptions,
} from "./sim_cluster.ts";

/** Bytes memberlist's CRC wrapper adds outside the packet budget. */
export const CRC_OVERHEAD_BYTES = 5;

/** A simulated memberlist cluster. */
export type MemberlistCluster = SimCluster<Memberlist, MemberlistEvent>;

/** The hooks that let a {@linkcode SimCluster} drive `Memberlist`. */
export const MEMBERLIST_HOOKS: MachineHooks<Memberlist, MemberlistEvent> = {
  join(m, seeds, nowMs): void {
    m.join(seeds, nowMs);
  },
  leave(m, timeoutMs, nowMs): void {
    m.leave(timeoutMs, nowMs);
  },
  shutdown(m, nowMs): void {
    m.shutdown(nowMs);
  },
  // Member is structurally a ViewEntry (name, state, incarnation).
  members: (m) => m.members(),
  self: (m) => m.localMember(),
  classify(e: MemberlistEvent): ClassifiedEvent {
    switch (e.type) {
      case "join":
      case "leave":
      case "update":
        return { kind: "member", entry: e.member };
      case "joinDone":
        return { kind: "joinDone", joined: e.joined };
      case "leaveDone":
        return { kind: "leaveDone" };
      default:
        return { kind: "other" };
    }
  },
  describe(e: MemberlistEvent): string | null {
    switch (e.type) {
      case "join":
      case "leave":
      case "update":
        return `${e.type} ${e.member.name} ${e.member.state} #${e.member.incarnation}`;
      case "joinDone":
        return `joinDone ${e.joined} ok, ${e.errors.length} failed`;
      case "leaveDone":
        return `leaveDone${e.timedOut ? " (timed out)" : ""}`;
      case "message":
        return `message ${e.payload.length}B`;
      case "conflict":
        return `conflict ${e.other.name}`;
    }
  },
  queues: (
    m,
  ) => [{
    name: "broadcast queue",
    size: m.pendingBroadcasts(),
    bound: MAX_BROADCASTS,
  }],
  describePacket(bytes: Uint8Array): string {
    return openPacket(bytes, () => {}).map(describeInbound).join(", ");
  },
  decodeErrors(m): number {
    let n = 0;
    for (const v of m.stats().decodeErrors.values()) n += v;
    return n;
  },
};

function describeInbound(m: Inbound): string {
  switch (m.type) {
    case "alive":
      return `alive ${m.msg.node}#${m.msg.incarnation}`;
    case "suspect":
    case "dead":
      return `${m.type} ${m.msg.node}#${m.msg.incarnation} from ${m.msg.from}`;
    case "ping":
      return `ping ${m.msg.seqNo}`;
    case "indirectPing":
      return `indirectPing ${m.msg.seqNo}`;
    case "ack":
    case "nack":
      return `${m.type} ${m.msg.seqNo}`;
    case "user":
      return `user ${m.payload.length}B`;
  }
}

/** Timing bounds of memberlist for a cluster of `n` (SPEC §6). */
export interface MemberlistBounds {
  /** Minimum suspicion timeout: suspicionMult × max(1, log10 n) × probeInterval. */
  suspicionMinMs: number;
  /** Maximum suspicion timeout: suspicionMaxTimeoutMult × minimum. */
  suspicionMaxMs: number;
  /** Confirmations that bring the timeout down to the minimum (k). */
  confirmationsK: number;
  /** The timeout a lone suspicion (no confirmations) takes. */
  loneSuspicionMs: number;
  /** Transmissions of each broadcast per member. */
  retransmitLimit: number;
  /**
   * A generous completeness bound for the detection checker: a healthy
   * observer probes every member at least once in two rounds (rounds are
   * reshuffled), each probe interval stretched by at most the awareness
   * multiplier, then the longest suspicion, then a few seconds to spread
   * the dead message.
   */
  detectionBoundMs: number;
  /** How far back a fault explains a death (see `deathChecker`). */
  deathWindowMs: number;
}

/**
 * memberlist's timing bounds for `n` members under `config`.
 *
 * @param config the members' config
 * @param n cluster size (memberlist counts dead, unreaped members too)
 * @returns the bounds
 */
export function memberlistBounds(
  config: MemberlistConfig,
  n: number,
): MemberlistBounds {
  const min = suspicionTimeoutMs(
    config.suspicionMult,
    n,
    config.probeIntervalMs,
  );
  const max = config.suspicionMaxTimeoutMult * min;
  // memberlist: k = SuspicionMult − 2, and 0 when n − 2 < k (SPEC §6.3).
  let k = config.suspicionMult - 2;
  if (n - 2 < k) k = 0;
  const lone = k >= 1 ? max : min;
  const probeWorstMs = (2 * (n - 1) + 1) * config.probeIntervalMs *
    config.awarenessMaxMultiplier;
  return {
    suspicionMinMs: min,
    suspicionMaxMs: max,
    confirmationsK: k,
    loneSuspicionMs: lone,
    retransmitLimit: retransmitLimit(config.retransmitMult, n),
    detectionBoundMs: probeWorstMs + max + 5_000,
    deathWindowMs: config.probeIntervalMs * config.awarenessMaxMultiplier +
      max + 10_000,
  };
}

/** Options of {@linkcode memberlistCluster}. */
export interface MemberlistClusterOptions {
  /** Master seed. */
  seed: number;
  /** Profile for every member (default "lan"). */
  profile?: ProfileName;
  /** Overrides on top of the profile, for every member. */
  config?: Partial<MemberlistConfig>;
  /** Per-member config (wins over profile + config). */
  configFor?: (name: string) => Partial<MemberlistConfig>;
  /** Per-member delegate (called again for each restarted instance). */
  delegateFor?: (name: string) => MemberlistDelegate;
  /** Network model. */
  network?: SimClusterOptions<Memberlist, MemberlistEvent>["network"];
  /**
   * Checkers: "default" (all, with bounds for `expectedSize`), "light"
   * (no per-call view reads: for hundreds of members), "none", or a list.
   */
  checkers?:
    | "default"
    | "light"
    | "none"
    | readonly Checker<Memberlist, MemberlistEvent>[];
  /** Cluster size the bounds are computed for (default 16). */
  expectedSize?: number;
  /** Trace lines kept (default 400; 0 = hash only). */
  traceLines?: number;
  /** Throw at the first violation (default true). */
  failFast?: boolean;
  /** Record a trace (default true). */
  trace?: boolean;
  /** Decode packets into the trace lines (debugging; default false). */
  traceDetail?: boolean;
}

/**
 * A cluster of `Memberlist` machines with the default checkers.
 *
 * @param options seed, profile, config, network and checkers
 * @returns the cluster (add members with `start(n)`)
 * @example
 * ```ts
 * const c = memberlistCluster({ seed: 42 });
 * c.start(3);
 * c.joinAll();
 * c.run(5_000);
 * c.convergence(); // []
 * ```
 */
export function memberlistCluster(
  options: MemberlistClusterOptions,
): MemberlistCluster {
  const profile = options.profile ?? "lan";
  const base = profileConfig(profile, options.config ?? {});
  const configOf = (
    name: string,
    host: string,
    port: number,
  ): MemberlistConfig =>
    profileConfig(profile, {
      ...options.config,
      ...options.configFor?.(name),
      name,
      bindAddr: host,
      bindPort: port,
      advertiseAddr: host,
      advertisePort: port,
    });
  const n = options.expectedSize ?? 16;
  const bounds = memberlistBounds(base, n);
  const choice = options.checkers ?? "default";
  const checkers = typeof choice !== "string"
    ? choice
    : choice === "none"
    ? []
    : defaultCheckers<
      Memberlist,
      MemberlistEvent
    >({
      deathWindowMs: bounds.deathWindowMs,
      detectionBoundMs: bounds.detectionBoundMs,
      reapAfterMs: base.gossipToTheDeadTimeMs,
      everyCall: choice === "default" && n <= 32,
      sweepEveryMs: choice === "default" ? 1_000 : 0,
    });
  // What startConverged hands the members it starts (see there).
  const preload: Preload = {
    alives: null,
    delegates: new Map(),
    alive(name, host, port): Alive {
      const c = configOf(name, host, port);
      const delegate = options.delegateFor?.(name);
      if (delegate !== undefined) this.delegates.set(name, delegate);
      return {
        incarnation: 1,
        node: name,
        addr: ipFromString(host)!,
        port,
        meta: delegate?.nodeMeta?.(META_MAX_SIZE) ?? new Uint8Array(0),
        vsn: Uint8Array.from([
          PROTOCOL_VERSION_MIN,
          PROTOCOL_VERSION_MAX,
          c.protocolVersion,
          c.delegateProtocolMin,
          c.delegateProtocolMax,
          c.delegateProtocolVersion,
        ]),
      };
    },
  };
  const cluster = new SimCluster<Memberlist, MemberlistEvent>({
    seed: options.seed,
    factory: (name, addr, prng, nowMs) => {
      const delegate = preload.delegates.get(name) ??
        options.delegateFor?.(name);
      preload.delegates.delete(name);
      return new Memberlist(configOf(name, addr.host, addr.port), {
        prng,
        now: nowMs,
        delegate,
        knownMembers: preload.alives ?? undefined,
      });
    },
    hooks: MEMBERLIST_HOOKS,
    // UDPBufferSize is memberlist's budget for *filling* a packet; the CRC
    // wrapper (0x0c + 4 bytes, SPEC §2.2 step 4) is added after it, so a
    // full gossip packet legitimately reaches budget + 5 bytes.
    network: {
      maxPacketBytes: base.udpBufferSize + CRC_OVERHEAD_BYTES,
      ...options.network,
    },
    checkers,
    traceLines: options.traceLines,
    failFast: options.failFast,
    trace: options.trace,
    traceDetail: options.traceDetail,
  });
  preloads.set(cluster, preload);
  return cluster;
}

interface Preload {
  // Alive entries of the members being started together, or null.
  alives: Alive[] | null;
  // Delegates made while computing their meta, used by their instances.
  readonly delegates: Map<string, MemberlistDelegate>;
  alive(name: string, host: string, port: number): Alive;
}

const preloads = new WeakMap<MemberlistCluster, Preload>();

/**
 * Start `n` more members that already know each other (members started
 * earlier are not among them): each begins with all `n` in its table, alive
 * at incarnation 1 (memberlist's first), and nothing but its own alive in
 * its broadcast queue (memberlist's setAlive queues it) — the state a
 * cluster reaches once the join storm of n members has drained
 * (`MemberlistOptions.knownMembers`). No join events about the others are
 * emitted and delegates (Serf) are not told. This is how a 10,000-member
 * cluster is built in about a minute: through the protocol it takes n²
 * push-pull merges and n²·retransmit-limit gossip messages, and its
 * broadcast queues alone would need ~16 GB (see `SimCluster.bootstrap` for
 * the protocol route).
 *
 * Timers start as for members created together: first probe one interval
 * in, push-pull after memberlist's stagger plus the scaled interval.
 *
 * @param cluster a cluster from {@linkcode memberlistCluster}, normally empty
 * @param n how many members
 * @returns their names
 * @example
 * ```ts
 * const c = memberlistCluster({ seed: 1, expectedSize: 10_000, checkers: "none" });
 * startConverged(c, 10_000);
 * c.run(60_000);
 * ```
 */
export function startConverged(
  cluster: MemberlistCluster,
  n: number,
): string[] {
  const preload = preloads.get(cluster);
  if (preload === undefined) {
    throw new TypeError(
      "Invalid cluster: startConverged needs a cluster from memberlistCluster()",
    );
  }
  const first = cluster.size;
  const alives: Alive[] = [];
  for (let i = first; i < first + n; i++) {
    alives.push(preload.alive(memberName(i), memberHost(i), cluster.port));
  }
  preload.alives = alives;
  try {
    return cluster.start(n);
  } finally {
    preload.alives = null;
    preload.delegates.clear();
  }
}
