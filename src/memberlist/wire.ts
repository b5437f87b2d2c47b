/**
 * memberlist's packet and stream layering (net.go, SPEC §2.2–2.4, §4.2) as
 * pure leaves: compression, CRC, compounds on the way out; CRC check,
 * decompression and compound recursion on the way in. Decoding never
 * throws: every malformed part is reported through `onError` and skipped,
 * the rest of a compound still counts (memberlist handles parts one by one).
 *
 * @module
 */

import { addCrc } from "../codec/crc32.ts";
import { encodeCompound } from "../codec/compound.ts";
import { DecodeError } from "../codec/errors.ts";
import { lzwCompress, lzwDecompress } from "../codec/lzw.ts";
import {
  type Accusation,
  type Ack,
  type Alive,
  decodeAccusation,
  decodeAck,
  decodeAlive,
  decodeCompress,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  encodeCompress,
  type IndirectPing,
  MessageType,
  type Nack,
  type Ping,
} from "../codec/messages.ts";
import { MsgpackReader, readStruct } from "../codec/msgpack.ts";
import { type UnwrapLimits, unwrapPacket } from "../codec/packet.ts";

/** memberlist's UDP read buffer; decompressed packets are capped at twice it. */
export const UDP_READ_BYTES = 65536;
/** Largest total decompressed size accepted from one packet. */
export const MAX_PACKET_DECOMPRESSED_BYTES = 2 * UDP_READ_BYTES;
/** Deepest nesting of compound/compress layers accepted in one packet. */
export const MAX_PACKET_NESTING = 4;
/** memberlist's compound part limit (a u8 count). */
export const MAX_COMPOUND_PARTS = 255;

/** A decoded packet-plane message. */
export type Inbound =
  | { readonly type: "ping"; readonly msg: Ping }
  | { readonly type: "indirectPing"; readonly msg: IndirectPing }
  | { readonly type: "ack"; readonly msg: Ack }
  | { readonly type: "nack"; readonly msg: Nack }
  | { readonly type: "suspect"; readonly msg: Accusation }
  | { readonly type: "dead"; readonly msg: Accusation }
  | { readonly type: "alive"; readonly msg: Alive }
  | { readonly type: "user"; readonly payload: Uint8Array };

/** Reports a dropped part: `decode` for malformed, `drop` for unsupported. */
export type WireErrorSink = (kind: "decode" | "drop", reason: string) => void;

/**
 * Compress `msg` as a compress (9) message (memberlist `compressPayload`).
 *
 * @param msg complete message
 * @returns `9 || {Algo: 0, Buf: lzw(msg)}`
 */
export function compress(msg: Uint8Array): Uint8Array {
  return encodeCompress({ algo: 0, buf: lzwCompress(msg) });
}

/**
 * Finish an outgoing packet (memberlist `rawSendMsgPacket`): compress when
 * enabled and *strictly* smaller (SPEC §2.2 step 3), then prepend the CRC
 * when the destination's PMax ≥ 5 (step 4; `withCrc`).
 *
 * @param msg the message or compound
 * @param compression config `enableCompression`
 * @param withCrc destination known with PMax ≥ 5
 * @returns the packet bytes
 */
export function finishPacket(
  msg: Uint8Array,
  compression: boolean,
  withCrc: boolean,
): Uint8Array {
  let out = msg;
  if (compression) {
    const c = compress(msg);
    if (c.length < msg.length) out = c;
  }
  return withCrc ? addCrc(out) : out;
}

/**
 * Finish an outgoing stream message (memberlist `rawSendMsgStream`):
 * compression is unconditional on streams (SPEC §4.2); no CRC.
 *
 * @param msg the message
 * @param compression config `enableCompression`
 * @returns the stream bytes
 */
export function finishStream(
  msg: Uint8Array,
  compression: boolean,
): Uint8Array {
  return compression ? compress(msg) : msg;
}

/**
 * Pack messages into compounds of at most 255 parts (memberlist 0.2.2 would
 * overflow its u8 count; newer versions split like this). One message
 * stays bare.
 *
 * @param msgs complete messages
 * @returns one packet body per compound
 */
export function makeCompounds(msgs: Uint8Array[]): Uint8Array[] {
  if (msgs.length === 1) return [msgs[0]];
  const out: Uint8Array[] = [];
  for (let i = 0; i < msgs.length; i += MAX_COMPOUND_PARTS) {
    const chunk = msgs.slice(i, i + MAX_COMPOUND_PARTS);
    out.push(chunk.length === 1 ? chunk[0] : encodeCompound(chunk));
  }
  return out;
}

/**
 * Decompress the body of a compress (9) message (memberlist
 * `decompressPayload`).
 *
 * @param msg the whole message, type byte 9 first
 * @param maxBytes cap on the output
 * @returns the inner message
 * @throws {DecodeError} on a malformed body, unknown algorithm or overflow
 */
export function decompress(msg: Uint8Array, maxBytes: number): Uint8Array {
  const c = decodeCompress(new MsgpackReader(msg, 1));
  if (c.algo !== 0) {
    throw new DecodeError(
      "compress-algo",
      `Cannot decompress unknown algorithm ${c.algo}`,
    );
  }
  return lzwDecompress(c.buf, maxBytes);
}

/**
 * Open a packet (memberlist `ingestPacket` + `handleCommand`): a CRC is only
 * recognised as the outermost layer (SPEC §2.3 step 3), then compounds and
 * compressions are unwrapped recursively, within a nesting and a total
 * decompressed-size budget.
 *
 * @param buf the plaintext packet
 * @param onError sink for dropped parts
 * @returns the decoded messages in packet order
 */
export function openPacket(buf: Uint8Array, onError: WireErrorSink): Inbound[] {
  const { messages } = unwrapPacket(buf, PACKET_LIMITS, (e) =>
    onError(
      e.reason === "nesting" || e.reason === "too-many" ? "drop" : "decode",
      e.reason,
    ));
  const out: Inbound[] = [];
  for (const msg of messages) {
    try {
      const m = decodeLeaf(msg);
      if (m === null) onError("drop", `type-${msg[0]}`);
      else out.push(m);
    } catch (e) {
      onError("decode", e instanceof DecodeError ? e.reason : "malformed");
    }
  }
  return out;
}

const PACKET_LIMITS: UnwrapLimits = {
  maxDecompressedBytes: MAX_PACKET_DECOMPRESSED_BYTES,
  maxDepth: MAX_PACKET_NESTING,
  maxMessages: 4 * MAX_COMPOUND_PARTS,
};

function decodeLeaf(msg: Uint8Array): Inbound | null {
  const r = new MsgpackReader(msg, 1);
  switch (msg[0]) {
    case MessageType.ping:
      return { type: "ping", msg: decodePing(r) };
    case MessageType.indirectPing:
      return { type: "indirectPing", msg: decodeIndirectPing(r) };
    case MessageType.ack:
      return { type: "ack", msg: decodeAck(r) };
    case MessageType.nack:
      return { type: "nack", msg: decodeNack(r) };
    case MessageType.suspect:
      return { type: "suspect", msg: decodeAccusation(r) };
    case MessageType.dead:
      return { type: "dead", msg: decodeAccusation(r) };
    case MessageType.alive:
      return { type: "alive", msg: decodeAlive(r) };
    case MessageType.user:
      // Copy: the host may reuse its receive buffer.
      return { type: "user", payload: msg.slice(1) };
  }
  return null;
}

/**
 * Open an inbound stream message (memberlist `readStream`): one optional
 * compress layer, then the message with its type byte first.
 *
 * @param buf the plaintext stream message
 * @param maxBytes cap on decompressed output
 * @returns the message
 * @throws {DecodeError} when empty or the compression is malformed
 */
export function openStream(buf: Uint8Array, maxBytes: number): Uint8Array {
  if (buf.length < 1) throw new DecodeError("empty", "Empty stream message");
  const msg = buf[0] === MessageType.compress ? decompress(buf, maxBytes) : buf;
  if (msg.length < 1) throw new DecodeError("empty", "Empty stream message");
  return msg;
}

/**
 * Decode a user message sent over a stream (SPEC §4.5):
 * `8 | {UserMsgLen} | raw`.
 *
 * @param msg the message, type byte 8 first
 * @returns a copy of the payload
 * @throws {DecodeError} when malformed or truncated
 */
export function decodeStreamUser(msg: Uint8Array): Uint8Array {
  const r = new MsgpackReader(msg, 1);
  let len = 0;
  readStruct(r, (k) => {
    if (k !== "UserMsgLen") return false;
    len = r.uint(32);
    return true;
  });
  if (r.remaining < len) {
    throw new DecodeError("truncated", "User message is truncated");
  }
  return r.rest().slice(0, len);
}
