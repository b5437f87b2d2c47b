/**
 * grapevine: gossip membership for Deno and Bun that speaks HashiCorp's
 * memberlist and Serf protocols byte for byte.
 *
 * The memberlist machine is pure and synchronous: feed it packets, streams
 * and the current time; drain what it wants to send.
 *
 * @example Make a LAN profile with an override
 * ```ts
 * import { lanConfig } from "@grapevine/grapevine";
 * const config = lanConfig({ name: "n1", probeIntervalMs: 2000 });
 * console.log(config.suspicionMult); // 4
 * ```
 *
 * @module
 */

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
export { DecodeError } from "./src/codec/errors.ts";
