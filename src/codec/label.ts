/**
 * The label header of newer memberlist (≥ 0.3.x; absent in 0.2.2), SPEC §2.7:
 *
 * ```
 * 0xF4 | len:u8 (1..255) | label bytes (UTF-8)
 * ```
 * Packets carry it in front of the whole datagram, outside the encryption; streams carry it once,
 * as the first bytes the dialing side writes. A 0.2.2 peer reads 244 as an unknown message type and
 * drops the packet, so labels must stay off to talk to the captured Serf 0.9.4.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";

/** memberlist's `hasLabelMsg` type byte; 244 cannot be mistaken for an encryption version or a message type. */
export const HAS_LABEL = 244;
/** Longest label in bytes, memberlist's `LabelMaxSize`: the length is one byte. */
export const LABEL_MAX_BYTES = 255;

/** A packet or stream prefix with its label header removed. */
export interface Labeled {
  /** The label, or "" when there was no label header. */
  label: string;
  /** The bytes after the header (a subarray, no copy). */
  rest: Uint8Array;
}

const encoder = new TextEncoder();
// Fatal: a label that is not UTF-8 can never equal a configured (string) label, so it is rejected
// as malformed instead of being decoded into replacement characters that might.
const decoder = new TextDecoder("utf-8", { fatal: true });
// One-entry cache: a node uses one label for every packet it sends.
let cachedLabel = "";
let cachedBytes = new Uint8Array(0);

/**
 * The UTF-8 bytes of a label, validated (at most 255 bytes). Also the GCM additional data that the
 * seal stage uses when a label is set (SPEC §2.6, §2.7).
 *
 * @param label The label; "" means no label.
 * @returns The UTF-8 bytes (shared: do not modify).
 * @throws {RangeError} When the label is longer than 255 bytes.
 */
export function encodeLabel(label: string): Uint8Array {
  if (label === cachedLabel) return cachedBytes;
  const bytes = encoder.encode(label);
  if (bytes.length > LABEL_MAX_BYTES) {
    throw new RangeError(
      `Invalid label: ${bytes.length} bytes, at most ${LABEL_MAX_BYTES}`,
    );
  }
  cachedLabel = label;
  cachedBytes = bytes;
  return bytes;
}

/**
 * Bytes the label header adds to a packet: `2 + len(label)`, or 0 for no label. memberlist shrinks
 * the gossip budget by this much (SPEC §2.7).
 *
 * @param label The label; "" means no label.
 * @returns The header size in bytes.
 */
export function labelOverhead(label: string): number {
  return label === "" ? 0 : 2 + encodeLabel(label).length;
}

/**
 * Prefix a packet (or the first bytes of a stream) with a label header, as memberlist's
 * `AddLabelHeaderToPacket` does. An empty label adds nothing and returns `buf` itself.
 *
 * @param buf The datagram (already sealed, if encrypting) or the stream's first bytes.
 * @param label The label, 1..255 UTF-8 bytes; "" for none.
 * @returns `0xF4 | len | label | buf`, or `buf` when the label is empty.
 * @throws {RangeError} When the label is longer than 255 bytes.
 * @example
 * ```ts
 * const datagram = addLabel(sealed, "prod-eu");
 * ```
 */
export function addLabel(buf: Uint8Array, label: string): Uint8Array {
  if (label === "") return buf;
  const bytes = encodeLabel(label);
  const out = new Uint8Array(2 + bytes.length + buf.length);
  out[0] = HAS_LABEL;
  out[1] = bytes.length;
  out.set(bytes, 2);
  out.set(buf, 2 + bytes.length);
  return out;
}

/**
 * Remove a label header if there is one, as memberlist's `RemoveLabelHeaderFromPacket` does.
 * Whether the label is acceptable (equal to the configured one) is the caller's decision.
 *
 * @param buf A received datagram, or the first bytes of an accepted stream.
 * @returns The label ("" when `buf` does not start with 244) and the bytes after the header.
 * @throws {DecodeError} "truncated" when the header is cut short, "label" when it declares an
 *   empty label (memberlist: "label header cannot be empty when present") or is not UTF-8.
 */
export function stripLabel(buf: Uint8Array): Labeled {
  if (buf.length === 0 || buf[0] !== HAS_LABEL) return { label: "", rest: buf };
  if (buf.length < 2) {
    throw new DecodeError("truncated", "Invalid label header: truncated");
  }
  const size = buf[1];
  if (size === 0) {
    throw new DecodeError("label", "Invalid label header: empty label");
  }
  if (buf.length < 2 + size) {
    throw new DecodeError("truncated", "Invalid label header: truncated");
  }
  let label: string;
  try {
    label = decoder.decode(buf.subarray(2, 2 + size));
  } catch {
    throw new DecodeError("label", "Invalid label header: label is not UTF-8");
  }
  return { label, rest: buf.subarray(2 + size) };
}
