/**
 * grapevine: gossip membership for Deno and Bun that speaks HashiCorp's
 * memberlist and Serf protocols byte for byte, so a JavaScript process can
 * sit in a Serf or Consul gossip pool.
 *
 * - {@linkcode startSerf}: a Serf member (tags, user events, queries, key
 *   rotation, coordinates) on real sockets — what Serf and Consul agents run.
 * - {@linkcode startMemberlist}: a bare memberlist member (SWIM + Lifeguard).
 * - {@linkcode Memberlist} and {@linkcode Serf}: the pure, synchronous
 *   machines underneath, for hosts of your own and for the simulator in
 *   `@grapevine/grapevine/testing`.
 *
 * @example Start a member and join a cluster
 * ```ts ignore
 * import { startSerf } from "@grapevine/grapevine";
 * const serf = await startSerf({ name: "web-1", bind: "127.0.0.1:7946", tags: { role: "web" } });
 * await serf.join(["127.0.0.2:7946"]);
 * for await (const e of serf.events()) console.log(e.type);
 * ```
 *
 * @example Memberlist's profiles
 * ```ts
 * import { lanConfig } from "@grapevine/grapevine";
 * const config = lanConfig({ name: "n1", probeIntervalMs: 2000 });
 * console.log(config.suspicionMult); // 4
 * ```
 *
 * @module
 */

export {
  type KeyResult,
  type QueryRecord,
  SerfNode,
  startSerf,
  type StartSerfOptions,
} from "./src/serf_node.ts";
export {
  MemberlistNode,
  startMemberlist,
  type StartMemberlistOptions,
} from "./src/memberlist_node.ts";
export {
  lanConfig,
  localConfig,
  type MemberlistConfig,
  profileConfig,
  type ProfileName,
  validateConfig,
  wanConfig,
} from "./src/config.ts";
export type {
  Address,
  DialTransmit,
  Machine,
  PacketTransmit,
  ReplyTransmit,
  Transmit,
} from "./src/machine.ts";
export type * from "./src/types.ts";
export { MEMBER_STATE_CODES } from "./src/types.ts";
export { ClosedError, JoinError } from "./src/errors.ts";
export { DecodeError } from "./src/codec/errors.ts";
export {
  Memberlist,
  type MemberlistOptions,
  type MemberlistStats,
} from "./src/memberlist/memberlist.ts";
export type { MemberlistDelegate } from "./src/memberlist/delegate.ts";
export {
  agentSerfConfig,
  Serf,
  type SerfConfig,
  serfConfig,
  type SerfConfigOverrides,
  type SerfOptions,
  type SerfStats,
} from "./src/serf/mod.ts";
export type * from "./src/serf/events.ts";
export type { QueryParams } from "./src/serf/queries.ts";
export type { KeyringView } from "./src/serf/keyring_queries.ts";
export type { SnapshotState } from "./src/serf/snapshot.ts";
export type { Coordinate } from "./src/codec/coordinate.ts";
export { decodeKey, encodeKey, Keyring } from "./src/seal.ts";
export type {
  DialOptions,
  Transport,
  TransportConn,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
  TransportStats,
} from "./src/transport.ts";
