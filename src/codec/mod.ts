/**
 * The wire codec of memberlist 0.2.2 and Serf 0.9.4: pure functions, no I/O.
 *
 * @example Decode a ping
 * ```ts
 * import { decodePing, MsgpackReader } from "@grapevine/grapevine/codec";
 * const bytes = new Uint8Array([0x00, 0x82, 0xa4, 0x4e, 0x6f, 0x64, 0x65, 0xa2, 0x73, 0x31, 0xa5, 0x53, 0x65, 0x71, 0x4e, 0x6f, 0x01]);
 * const ping = decodePing(new MsgpackReader(bytes, 1));
 * console.log(ping.node, ping.seqNo); // "s1" 1
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./msgpack.ts";
export * from "./messages.ts";
export * from "./crc32.ts";
export * from "./lzw.ts";
export * from "./compound.ts";
export * from "./label.ts";
export * from "./stream.ts";
export * from "./serf_messages.ts";
export * from "./tags.ts";
export * from "./coordinate.ts";
export * from "./rpc.ts";
export * from "./packet.ts";
