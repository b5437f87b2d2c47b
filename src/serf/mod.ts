/**
 * The Serf layer: a pure, synchronous Serf 0.9.4 machine on top of the
 * memberlist machine — tags, user events, queries, intents, key rotation,
 * Vivaldi coordinates, name-conflict resolution and snapshots.
 *
 * @example
 * ```ts
 * import { Serf, serfConfig } from "./mod.ts";
 * const serf = new Serf(
 *   serfConfig({ nodeName: "a", memberlist: { bindAddr: "10.0.0.1" } }),
 *   { prng: Math.random, now: 0 },
 * );
 * serf.join([{ host: "10.0.0.2", port: 7946 }], true, 0);
 * ```
 *
 * @module
 */

export type * from "../machine.ts";
export type * from "../types.ts";
export type { MemberlistConfig } from "../config.ts";
export type { Coordinate } from "../codec/coordinate.ts";
export type { Memberlist, MemberlistStats } from "../memberlist/memberlist.ts";
export {
  formatSerfStats,
  MAX_OUTSTANDING_QUERIES,
  MAX_PENDING_QUERIES,
  MAX_QUEUED_EVENTS,
  MAX_SERF_MEMBERS,
  Serf,
  type SerfOptions,
  type SerfStats,
} from "./serf.ts";
export {
  agentSerfConfig,
  MEMBERLIST_PROTOCOL_FOR_SERF,
  SERF_PROTOCOL_MAX,
  SERF_PROTOCOL_MIN,
  type SerfConfig,
  serfConfig,
  type SerfConfigOverrides,
  USER_EVENT_SIZE_HARD_LIMIT,
  validateSerfConfig,
} from "./config.ts";
export * from "./events.ts";
export { LamportClock } from "./lamport.ts";
export {
  defaultQueryTimeoutMs,
  INTERNAL_QUERY_PREFIX,
  type QueryParams,
} from "./queries.ts";
export { compileGoRegExp, goMatchString } from "./go_regexp.ts";
export {
  CoordinateClient,
  CoordinateRejected,
  DEFAULT_VIVALDI_CONFIG,
  estimateRttMs,
  type VivaldiConfig,
} from "./coordinates.ts";
export { KEY_QUERY_NAMES, type KeyringView } from "./keyring_queries.ts";
export {
  compactSnapshot,
  emptySnapshotState,
  rejoinAddresses,
  type RejoinTarget,
  replaySnapshot,
  SnapshotRecorder,
  type SnapshotState,
} from "./snapshot.ts";
