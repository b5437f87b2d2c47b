/**
 * A seeded mutation fuzzer for every decoder, built from the real captures.
 * `fuzz_test.ts` runs a modest count in CI; `deno task fuzz` runs 1,000,000.
 *
 * The property: any input yields a decoded value or a DecodeError — never
 * another exception, never a hang, never an allocation past the limits.
 */

import { readdirSync, readFileSync } from "node:fs";
import { DecodeError } from "../../src/codec/errors.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import {
  decodeAccusation,
  decodeAck,
  decodeAlive,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushPull,
  MessageType,
} from "../../src/codec/messages.ts";
import { openPacket } from "../../src/memberlist/wire.ts";
import { streamMessageLength } from "../../src/codec/stream.ts";
import { lzwCompress, lzwDecompress } from "../../src/codec/lzw.ts";
import { stripLabel } from "../../src/codec/label.ts";
import { decodeSerfMessage } from "../../src/codec/serf_messages.ts";
import { decodeTags } from "../../src/codec/tags.ts";
import { decodeCoordinatePayload } from "../../src/codec/coordinate.ts";
import { splitMsgpackObjects } from "../../src/codec/rpc.ts";

const dir = new URL("../fixtures/vectors/", import.meta.url);
const fromHex = (h: string): Uint8Array =>
  Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

/** Real captured packets and stream messages (plaintext and sealed). */
export function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const kind of ["udp", "tcp", "rpc"]) {
    for (const f of readdirSync(new URL(`${kind}/`, dir)).sort()) {
      // deno-lint-ignore no-explicit-any
      const v: any = JSON.parse(
        readFileSync(new URL(`${kind}/${f}`, dir), "utf8"),
      );
      if (v.hex) out.push(fromHex(v.hex));
      if (v.decoded?.encryption?.plaintextHex) {
        out.push(fromHex(v.decoded.encryption.plaintextHex));
      }
      for (const m of v.messages ?? []) {
        out.push(fromHex(m.hex));
        if (m.decoded?.decompressedHex) {
          out.push(fromHex(m.decoded.decompressedHex));
        }
      }
    }
  }
  // A decompression bomb: 1 MiB of zeros compresses to a few KiB.
  const bomb = lzwCompress(new Uint8Array(1 << 20));
  const w = [
    0x09,
    0x82,
    0xa4,
    0x41,
    0x6c,
    0x67,
    0x6f,
    0x00,
    0xa3,
    0x42,
    0x75,
    0x66,
  ];
  const hdr = [
    0xdb,
    (bomb.length >>> 24) & 255,
    (bomb.length >>> 16) & 255,
    (bomb.length >>> 8) & 255,
    bomb.length & 255,
  ];
  const pkt = new Uint8Array(w.length + hdr.length + bomb.length);
  pkt.set(w);
  pkt.set(hdr, w.length);
  pkt.set(bomb, w.length + hdr.length);
  out.push(pkt);
  return out;
}

/** Apply 1..4 random mutations: flips, byte sets, cuts, big length fields, splices, nesting. */
export function mutate(
  input: Uint8Array,
  rand: () => number,
  pool: Uint8Array[],
): Uint8Array {
  let b = input.slice();
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 8)) {
      case 0:
        b[at] ^= 1 << Math.floor(rand() * 8);
        break;
      case 1:
        b[at] = Math.floor(rand() * 256);
        break;
      case 2:
        b = b.slice(0, at);
        break;
      case 3: {
        // A length or count field pointing far past the end.
        const big =
          [0xdb, 0xdd, 0xdf, 0xce, 0xc6, 0xda][Math.floor(rand() * 6)];
        const c = new Uint8Array(b.length + 5);
        c.set(b.subarray(0, at));
        c.set([big, 0x7f, 0xff, 0xff, 0xff], at);
        c.set(b.subarray(at), at + 5);
        b = c;
        break;
      }
      case 4: {
        const other = pool[Math.floor(rand() * pool.length)];
        const from = Math.floor(rand() * other.length);
        const c = new Uint8Array(at + other.length - from);
        c.set(b.subarray(0, at));
        c.set(other.subarray(from), at);
        b = c;
        break;
      }
      case 5: {
        // Deep nesting: a run of fixarray-of-one headers.
        const depth = 1 + Math.floor(rand() * 200);
        const c = new Uint8Array(b.length + depth);
        c.set(b.subarray(0, at));
        c.fill(0x91, at, at + depth);
        c.set(b.subarray(at), at + depth);
        b = c;
        break;
      }
      case 6:
        // A compound header claiming up to 255 parts.
        b = Uint8Array.from([0x07, 0xff, ...b.subarray(0, 600)]);
        break;
      default:
        b = Uint8Array.from([0x0c, 0, 0, 0, 0, ...b]);
    }
  }
  return b;
}

const LEAF_DECODERS: Record<number, (r: MsgpackReader) => unknown> = {
  [MessageType.ping]: decodePing,
  [MessageType.indirectPing]: decodeIndirectPing,
  [MessageType.ack]: decodeAck,
  [MessageType.nack]: decodeNack,
  [MessageType.suspect]: decodeAccusation,
  [MessageType.dead]: decodeAccusation,
  [MessageType.alive]: decodeAlive,
  [MessageType.err]: decodeErr,
  [MessageType.pushPull]: (r) => decodePushPull(r),
};

/** Extra decoders (e.g. Serf's) a caller can plug in. */
export type Decoder = (bytes: Uint8Array) => unknown;

/**
 * Feed one input through every decoder. Returns how many DecodeErrors it
 * raised; throws anything else (a bug).
 */
export function runDecoders(input: Uint8Array, extra: Decoder[] = []): number {
  let errors = 0;
  const attempt = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      errors++;
    }
  };
  // The core's packet opener reports every bad part to its sink and never
  // throws; the Serf decoder runs on each user message it yields.
  for (const m of openPacket(input, () => errors++)) {
    if (m.type === "user") attempt(() => decodeSerfMessage(m.payload));
  }
  attempt(() => decodeSerfMessage(input));
  attempt(() => decodeTags(input));
  attempt(() => decodeCoordinatePayload(input));
  attempt(() => splitMsgpackObjects(input, 1 << 16));
  attempt(() => streamMessageLength(input, 1 << 20));
  attempt(() => lzwDecompress(input, 1 << 16));
  attempt(() => stripLabel(input));
  attempt(() => new MsgpackReader(input).value());
  for (const x of extra) attempt(() => x(input));
  for (const dec of Object.values(LEAF_DECODERS)) {
    attempt(() => dec(new MsgpackReader(input, 1)));
  }
  return errors;
}
