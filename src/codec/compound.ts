/**
 * memberlist's compound message (type 7): several complete messages in one packet (SPEC §2.4).
 *
 * ```
 * 0x07 | N:u8 | len_1:u16 BE … len_N:u16 BE | msg_1 … msg_N
 * ```
 * Each part is a complete message with its own type byte (it may itself be a compound or compress
 * message).
 *
 * @module
 */

import { DecodeError } from "./errors.ts";

/** memberlist's `compoundMsg` type byte (SPEC §2.1). */
const COMPOUND = 7;
/** Most parts one compound can carry: the count is a single byte. */
const MAX_PARTS = 255;
/** Longest part: each length is a u16. */
const MAX_PART_BYTES = 0xffff;

/** Fixed header cost of a compound (type byte and count), memberlist's `compoundHeaderOverhead`. */
export const COMPOUND_HEADER_BYTES = 2;
/** Per-part cost of a compound (its u16 length), memberlist's `compoundOverhead`. */
export const COMPOUND_PART_BYTES = 2;

/** The parts of a decoded compound message. */
export interface CompoundParts {
  /** The complete parts in order, each a subarray of the input (no copy). */
  parts: Uint8Array[];
  /** True when a part's declared length ran past the end and decoding stopped there. */
  truncated: boolean;
}

/**
 * Build a compound message, as memberlist's `makeCompoundMessage` does.
 *
 * @param parts Complete messages (type byte first), at most 255, each at most 65535 bytes.
 * @returns `0x07 | N | lengths | parts` in one new buffer.
 * @throws {RangeError} With more than 255 parts or a part longer than 65535 bytes.
 * @example
 * ```ts
 * const packet = encodeCompound([ping, suspect]);
 * ```
 */
export function encodeCompound(parts: Uint8Array[]): Uint8Array {
  const count = parts.length;
  if (count > MAX_PARTS) {
    throw new RangeError(
      `Cannot encode compound message: ${count} parts, at most ${MAX_PARTS}`,
    );
  }
  let total = COMPOUND_HEADER_BYTES + COMPOUND_PART_BYTES * count;
  for (let i = 0; i < count; i++) {
    const len = parts[i].length;
    if (len > MAX_PART_BYTES) {
      throw new RangeError(
        `Cannot encode compound message: part ${i} is ${len} bytes, at most ${MAX_PART_BYTES}`,
      );
    }
    total += len;
  }
  const out = new Uint8Array(total);
  out[0] = COMPOUND;
  out[1] = count;
  let o = COMPOUND_HEADER_BYTES + COMPOUND_PART_BYTES * count;
  for (let i = 0; i < count; i++) {
    const part = parts[i];
    out[2 + 2 * i] = part.length >>> 8;
    out[3 + 2 * i] = part.length;
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/**
 * Split a compound message body, mirroring memberlist's `decodeCompoundMessage`.
 *
 * Like memberlist, decoding stops at the first part whose declared length runs past the end: the
 * parts before it are still returned (memberlist handles them and only logs the truncation), and
 * bytes after the last part are ignored. Empty parts are returned as they are; memberlist rejects
 * them later as "missing message type byte".
 *
 * @param body The bytes after the 0x07 type byte.
 * @returns The parts (subarrays of `body`) and whether the message was truncated.
 * @throws {DecodeError} "truncated" when `body` is shorter than its count byte and length table.
 */
export function decodeCompound(body: Uint8Array): CompoundParts {
  if (body.length < 1) {
    throw new DecodeError(
      "truncated",
      "Invalid compound message: missing part count",
    );
  }
  const count = body[0];
  let o = 1 + COMPOUND_PART_BYTES * count;
  if (body.length < o) {
    throw new DecodeError(
      "truncated",
      `Invalid compound message: ${count} part lengths need ${o} bytes, got ${body.length}`,
    );
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = (body[1 + 2 * i] << 8) | body[2 + 2 * i];
    if (o + len > body.length) return { parts, truncated: true };
    parts.push(body.subarray(o, o + len));
    o += len;
  }
  return { parts, truncated: false };
}
