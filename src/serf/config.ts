/**
 * Serf's configuration with serf 0.9.4's exact defaults (`DefaultConfig`,
 * SPEC §8.11) and the agent's overrides. Durations are integer
 * milliseconds, named with units last. The memberlist config is nested;
 * Serf overrides its name and protocol fields when it creates its
 * Memberlist (serf `Create`).
 *
 * @module
 */

import { lanConfig, type MemberlistConfig, validateConfig } from "../config.ts";

/** Lowest Serf protocol version we speak (serf `ProtocolVersionMin`). */
export const SERF_PROTOCOL_MIN = 2;
/** Highest Serf protocol version we understand (serf `ProtocolVersionMax`). */
export const SERF_PROTOCOL_MAX = 5;
/**
 * Hard ceiling of `userEventSizeLimit` (serf's `UserEventSizeLimit`
 * constant, 9 KiB): "user event size limit exceeds limit of 9216 bytes".
 */
export const USER_EVENT_SIZE_HARD_LIMIT = 9 * 1024;

/**
 * The memberlist protocol Serf speaks for each Serf protocol (serf
 * `ProtocolVersionMap`): 2 for every supported version.
 */
export const MEMBERLIST_PROTOCOL_FOR_SERF: Readonly<Record<number, number>> = {
  2: 2,
  3: 2,
  4: 2,
  5: 2,
};

/** Every tunable of a Serf member. */
export interface SerfConfig {
  /** Unique node name; becomes memberlist's `name`. */
  nodeName: string;
  /** Tags announced in node meta (≤ 512 bytes encoded). */
  tags: Map<string, string>;
  /** Serf protocol spoken (2..5): library default 4, agent 5. */
  protocolVersion: number;
  /** How long a graceful leave waits for its intent broadcast. */
  broadcastTimeoutMs: number;
  /** How long to stay up after the memberlist leave, to answer probes. */
  leavePropagateDelayMs: number;
  /** Slots of the user-event dedupe ring (also sent in push-pull). */
  eventBuffer: number;
  /** Slots of the query dedupe ring. */
  queryBuffer: number;
  /** Default query timeout = gossipInterval × this × ceil(log10(n + 1)). */
  queryTimeoutMult: number;
  /** Largest encoded query response (`0x05 || msgpack`). */
  queryResponseSizeLimit: number;
  /** Largest encoded query (`0x04 || msgpack`). */
  querySizeLimit: number;
  /** Largest user event: name + payload, and encoded (≤ 9216). */
  userEventSizeLimit: number;
  /** Member-event coalescing window (0 turns it off). */
  coalescePeriodMs: number;
  /** Member-event quiet time that flushes early (0 turns it off). */
  quiescentPeriodMs: number;
  /** User-event coalescing window (0 turns it off). */
  userCoalescePeriodMs: number;
  /** User-event quiet time that flushes early (0 turns it off). */
  userQuiescentPeriodMs: number;
  /** How often failed and left members are reaped. */
  reapIntervalMs: number;
  /** How often a failed member may be retried. */
  reconnectIntervalMs: number;
  /** A failed member is forgotten after this. */
  reconnectTimeoutMs: number;
  /** A left member is forgotten after this. */
  tombstoneTimeoutMs: number;
  /** A failed member back within this counts as a flap (metrics only). */
  flapTimeoutMs: number;
  /** Intents about unknown members are kept this long. */
  recentIntentTimeoutMs: number;
  /** How often the broadcast queues are checked. */
  queueCheckIntervalMs: number;
  /** A queue this deep is logged as a warning. */
  queueDepthWarning: number;
  /** A queue deeper than this is pruned (unless minQueueDepth > 0). */
  maxQueueDepth: number;
  /** If > 0, the queue bound is max(2 × members, this) instead. */
  minQueueDepth: number;
  /** Resolve a name conflict about ourselves by a `_serf_conflict` vote. */
  enableNameConflictResolution: boolean;
  /** Turn off Vivaldi coordinates (no ack payloads). */
  disableCoordinates: boolean;
  /** Keep the snapshot's members after a leave, to rejoin them at restart. */
  rejoinAfterLeave: boolean;
  /** The memberlist underneath (name and protocols are set by Serf). */
  memberlist: MemberlistConfig;
}

/** `Partial<SerfConfig>`, with `memberlist` partial too. */
export type SerfConfigOverrides =
  & Partial<Omit<SerfConfig, "memberlist">>
  & { memberlist?: Partial<MemberlistConfig> };

/**
 * serf's `DefaultConfig` (library defaults), with overrides.
 *
 * @param overrides fields to change; `memberlist` is merged into `lanConfig()`
 * @returns a validated config
 * @throws {TypeError|RangeError} naming the invalid field
 * @example
 * ```ts
 * const c = serfConfig({ nodeName: "a", memberlist: { bindAddr: "10.0.0.1" } });
 * c.queryTimeoutMult; // 16
 * ```
 */
export function serfConfig(overrides: SerfConfigOverrides = {}): SerfConfig {
  const { memberlist, ...rest } = overrides;
  return validateSerfConfig({
    nodeName: "",
    tags: new Map(),
    protocolVersion: 4,
    broadcastTimeoutMs: 5_000,
    leavePropagateDelayMs: 1_000,
    eventBuffer: 512,
    queryBuffer: 512,
    queryTimeoutMult: 16,
    queryResponseSizeLimit: 1024,
    querySizeLimit: 1024,
    userEventSizeLimit: 512,
    coalescePeriodMs: 0,
    quiescentPeriodMs: 0,
    userCoalescePeriodMs: 0,
    userQuiescentPeriodMs: 0,
    reapIntervalMs: 15_000,
    reconnectIntervalMs: 30_000,
    reconnectTimeoutMs: 24 * 3_600_000,
    tombstoneTimeoutMs: 24 * 3_600_000,
    flapTimeoutMs: 60_000,
    recentIntentTimeoutMs: 5 * 60_000,
    queueCheckIntervalMs: 30_000,
    queueDepthWarning: 128,
    maxQueueDepth: 4096,
    minQueueDepth: 0,
    enableNameConflictResolution: true,
    disableCoordinates: false,
    rejoinAfterLeave: false,
    ...rest,
    memberlist: lanConfig(memberlist ?? {}),
  });
}

/**
 * The serf agent's defaults (SPEC §8.11): protocol 5 and 3 s / 1 s
 * coalescing of member and user events, on top of {@linkcode serfConfig}.
 *
 * @param overrides fields to change
 * @returns a validated config
 */
export function agentSerfConfig(
  overrides: SerfConfigOverrides = {},
): SerfConfig {
  return serfConfig({
    protocolVersion: 5,
    coalescePeriodMs: 3_000,
    quiescentPeriodMs: 1_000,
    userCoalescePeriodMs: 3_000,
    userQuiescentPeriodMs: 1_000,
    ...overrides,
  });
}

function whole(
  c: SerfConfig,
  field: keyof SerfConfig,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `≥ ${min}`
      : `in ${min}..${max}`;
    throw new RangeError(
      `Invalid config ${field}: ${
        JSON.stringify(v)
      } must be a whole number ${range}`,
    );
  }
}

/**
 * Check a Serf config (and its memberlist config) and return it; throws a
 * `TypeError`/`RangeError` naming the field and what to fix.
 *
 * @param c the config
 * @returns the same config
 */
export function validateSerfConfig(c: SerfConfig): SerfConfig {
  for (const [field, value] of Object.entries(c)) {
    if (value === undefined) {
      throw new TypeError(`Invalid config ${field}: undefined`);
    }
  }
  if (typeof c.nodeName !== "string") {
    throw new TypeError("Invalid config nodeName: must be a string");
  }
  if (!(c.tags instanceof Map)) {
    throw new TypeError("Invalid config tags: must be a Map of strings");
  }
  for (const [k, v] of c.tags) {
    if (typeof k !== "string" || typeof v !== "string") {
      throw new TypeError("Invalid config tags: must be a Map of strings");
    }
  }
  // serf Create: "Protocol version '%d' too low/high. Must be in range".
  whole(c, "protocolVersion", SERF_PROTOCOL_MIN, SERF_PROTOCOL_MAX);
  whole(c, "userEventSizeLimit", 1, USER_EVENT_SIZE_HARD_LIMIT);
  for (
    const f of [
      "broadcastTimeoutMs",
      "eventBuffer",
      "queryBuffer",
      "queryTimeoutMult",
      "queryResponseSizeLimit",
      "querySizeLimit",
      "reapIntervalMs",
      "reconnectIntervalMs",
      "queueCheckIntervalMs",
      "queueDepthWarning",
      "maxQueueDepth",
    ] as const
  ) whole(c, f, 1);
  for (
    const f of [
      "leavePropagateDelayMs",
      "coalescePeriodMs",
      "quiescentPeriodMs",
      "userCoalescePeriodMs",
      "userQuiescentPeriodMs",
      "reconnectTimeoutMs",
      "tombstoneTimeoutMs",
      "flapTimeoutMs",
      "recentIntentTimeoutMs",
      "minQueueDepth",
    ] as const
  ) whole(c, f, 0);
  for (
    const f of [
      "enableNameConflictResolution",
      "disableCoordinates",
      "rejoinAfterLeave",
    ] as const
  ) {
    if (typeof c[f] !== "boolean") {
      throw new TypeError(`Invalid config ${f}: must be a boolean`);
    }
  }
  validateConfig(c.memberlist);
  return c;
}
