/**
 * A received packet's plaintext layers, peeled the way memberlist 0.2.2's
 * `handleCommand` does (SPEC §2.3): CRC only at the outermost position, then
 * compress and compound in any nesting, down to single messages.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";
import { stripCrc } from "./crc32.ts";
import { decodeCompound } from "./compound.ts";
import { lzwDecompress } from "./lzw.ts";
import { decodeCompress, MessageType } from "./messages.ts";
import { MsgpackReader } from "./msgpack.ts";

/** How far {@linkcode unwrapPacket} may go before it gives up. */
export interface UnwrapLimits {
  /** Most bytes one decompression may produce (bomb guard). */
  maxDecompressedBytes: number;
  /** Most compress/compound layers inside each other. */
  maxDepth: number;
  /** Most messages one packet may hold in total. */
  maxMessages: number;
}

/**
 * Default limits: decompression to 2 × the 65,536-byte UDP read buffer,
 * four nested layers (memberlist itself nests at most compress(compound)),
 * and 1,024 messages (255 per compound, SPEC §2.4).
 */
export const DEFAULT_UNWRAP_LIMITS: UnwrapLimits = {
  maxDecompressedBytes: 131_072,
  maxDepth: 4,
  maxMessages: 1024,
};

/** The messages a packet carried, and what wrapped them. */
export interface UnwrappedPacket {
  /** Each a whole message: type byte then body. */
  messages: Uint8Array[];
  /** True when the packet had a valid CRC. */
  crc: boolean;
  /** True when any layer was compressed. */
  compressed: boolean;
  /** True when a compound was cut short (memberlist keeps the whole parts). */
  truncated: boolean;
}

/** Told of each part dropped when unwrapping tolerantly. */
export type UnwrapErrorSink = (error: DecodeError) => void;

/**
 * Peel CRC, compression and compound layers off a plaintext packet.
 *
 * Without `onError`, throws {@link DecodeError} on a bad CRC, bad
 * compression, too deep nesting or too many messages. With it, behaves like
 * memberlist's `handleCommand`: a bad part is reported and skipped while the
 * other parts of the compound are still delivered.
 */
export function unwrapPacket(
  buf: Uint8Array,
  limits: UnwrapLimits = DEFAULT_UNWRAP_LIMITS,
  onError?: UnwrapErrorSink,
): UnwrappedPacket {
  const out: UnwrappedPacket = {
    messages: [],
    crc: false,
    compressed: false,
    truncated: false,
  };
  const fail = (e: DecodeError): void => {
    if (onError === undefined) throw e;
    onError(e);
  };
  if (buf.length === 0) {
    fail(new DecodeError("empty", "Empty packet"));
    return out;
  }
  let body = buf;
  // A CRC is recognised only as the outermost layer (SPEC §2.3 step 3).
  if (buf[0] === MessageType.hasCrc) {
    const inner = stripCrc(buf);
    if (inner === null) {
      fail(new DecodeError("crc", "Packet CRC mismatch"));
      return out;
    }
    body = inner;
    out.crc = true;
  }
  const budget = { bytes: limits.maxDecompressedBytes };
  peel(body, 0, limits, budget, out, fail);
  return out;
}

function peel(
  buf: Uint8Array,
  depth: number,
  limits: UnwrapLimits,
  budget: { bytes: number },
  out: UnwrappedPacket,
  fail: (e: DecodeError) => void,
): void {
  try {
    if (buf.length === 0) throw new DecodeError("empty", "Empty message");
    const layered = buf[0] === MessageType.compound ||
      buf[0] === MessageType.compress;
    if (layered && depth >= limits.maxDepth) {
      throw new DecodeError("nesting", "Packet layers nested too deep");
    }
    if (buf[0] === MessageType.compound) {
      const { parts, truncated } = decodeCompound(buf.subarray(1));
      // memberlist handles the whole parts and only logs the truncation.
      if (truncated) {
        out.truncated = true;
        fail(
          new DecodeError(
            "compound-truncated",
            "Compound message is truncated",
          ),
        );
      }
      for (const p of parts) peel(p, depth + 1, limits, budget, out, fail);
      return;
    }
    if (buf[0] === MessageType.compress) {
      const c = decodeCompress(new MsgpackReader(buf, 1));
      if (c.algo !== 0) {
        throw new DecodeError(
          "compress-algo",
          `Unknown compression algorithm ${c.algo}`,
        );
      }
      out.compressed = true;
      // One budget for every layer of a packet: nesting cannot multiply it.
      const inner = lzwDecompress(c.buf, budget.bytes);
      budget.bytes -= inner.length;
      peel(inner, depth + 1, limits, budget, out, fail);
      return;
    }
    if (out.messages.length >= limits.maxMessages) {
      throw new DecodeError("too-many", "Packet holds too many messages");
    }
    out.messages.push(buf);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    fail(e);
  }
}
