/**
 * Test helpers for the Serf-layer and RPC codec tests: load the captured
 * vectors (tests/fixtures/vectors, copied from shared/protocol/vectors), peel
 * memberlist's layers off the packets and collect every Serf message, ack
 * coordinate payload and tags meta inside, each with the vector's own decode
 * of it (`decoded` tree, see the vectors README).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { stripCrc } from "../../src/codec/crc32.ts";
import { decodeCompound } from "../../src/codec/compound.ts";
import { decodeAck, decodePushPull } from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { decodeRelay } from "../../src/codec/serf_messages.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

const VECTORS = new URL("../fixtures/vectors/", import.meta.url);

/** Parse one vector file, e.g. `loadVector("udp", "udp-ping")`. */
export function loadVector(dir: string, id: string): Json {
  return JSON.parse(
    readFileSync(new URL(`${dir}/${id}.json`, VECTORS), "utf8"),
  );
}

/** Ids of the vectors in one folder, sorted. */
export function vectorIds(dir: string): string[] {
  return readdirSync(new URL(`${dir}/`, VECTORS))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Hex text to bytes. */
export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** Bytes to hex text. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The vectors' "plain" form of raw bytes (tools/mp.py `plain`): a string when
 * every character is printable ASCII, else `{hex}`; nil is `null`.
 */
export function plainBytes(b: Uint8Array | null): Json {
  if (b === null) return null;
  for (const c of b) if (c < 32 || c >= 127) return { hex: toHex(b) };
  return dec.decode(b);
}

/** The plain form of a Go string (the same rule on its UTF-8 bytes). */
export function plainStr(s: string): Json {
  return plainBytes(enc.encode(s));
}

/** Bytes of a plain value (inverse of {@linkcode plainBytes}). */
export function bytesOfPlain(p: Json): Uint8Array {
  return typeof p === "string" ? enc.encode(p) : fromHex(p.hex);
}

/** A plain object from a string map. */
export function plainMap(m: Map<string, string>): Json {
  const o: Json = {};
  for (const [k, v] of m) o[k] = plainStr(v);
  return o;
}

/** A Serf message found in a vector with the vector's decode of it. */
export interface FoundSerf {
  /** Where it was found (vector id and path). */
  where: string;
  /** `serfType || msgpack` bytes. */
  bytes: Uint8Array;
  /** The vector's node: serfType, serfName, body, bodyPlain, … */
  node: Json;
}

/** An ack payload (coordinate) found in a vector. */
export interface FoundAck {
  /** Where it was found. */
  where: string;
  /** The raw payload. */
  payload: Uint8Array;
  /** The vector's `payloadDecoded` (version, coordinatePlain, trailing). */
  node: Json;
}

/** A node meta found in an alive or push-pull node state. */
export interface FoundMeta {
  /** Where it was found. */
  where: string;
  /** The raw meta. */
  meta: Uint8Array;
  /** The vector's `metaDecoded` (magic, tagsPlain). */
  node: Json;
}

/** Everything the walkers collect. */
export interface Found {
  /** Serf messages (nested ones included). */
  serf: FoundSerf[];
  /** Ack payloads. */
  acks: FoundAck[];
  /** Node metas. */
  metas: FoundMeta[];
}

function walkPacket(
  bytes: Uint8Array,
  node: Json,
  where: string,
  out: Found,
): void {
  assert.equal(bytes[0], node.type, `${where}: memberlist type`);
  switch (node.type) {
    case 12: {
      const inner = stripCrc(bytes);
      assert.ok(inner !== null, `${where}: CRC`);
      walkPacket(inner, node.inner, `${where}>crc`, out);
      return;
    }
    case 9:
      // LZW is another engineer's code: take the vector's plaintext.
      walkPacket(
        fromHex(node.decompressedHex),
        node.inner,
        `${where}>lzw`,
        out,
      );
      return;
    case 7: {
      const { parts } = decodeCompound(bytes.subarray(1));
      assert.equal(parts.length, node.parts.length, `${where}: parts`);
      parts.forEach((p, i) =>
        walkPacket(p, node.parts[i], `${where}>part${i}`, out)
      );
      return;
    }
    case 8:
      collectSerf(bytes.subarray(1), node.serf, `${where}>user`, out);
      return;
    case 2:
      if (node.payloadDecoded) {
        const ack = decodeAck(new MsgpackReader(bytes, 1));
        assert.ok(ack.payload !== null);
        out.acks.push({
          where,
          payload: ack.payload,
          node: node.payloadDecoded,
        });
      }
      return;
    case 4:
      if (node.metaDecoded) {
        out.metas.push({
          where,
          meta: bytesOfPlain(node.bodyPlain.Meta),
          node: node.metaDecoded,
        });
      }
      return;
  }
}

function collectSerf(
  bytes: Uint8Array,
  node: Json,
  where: string,
  out: Found,
): void {
  assert.equal(bytes[0], node.serfType, `${where}: serf type`);
  out.serf.push({ where, bytes, node });
  if (node.payloadDecoded) {
    // Query / response payloads that hold a serf message (key and conflict
    // messages, SPEC §8.8, §8.9).
    const payload = bytesOfPlain(node.bodyPlain.Payload);
    collectSerf(payload, node.payloadDecoded, `${where}>payload`, out);
  }
  if (node.serfType === 9) {
    const relay = decodeRelay(new MsgpackReader(bytes, 1));
    collectSerf(relay.message, node.inner, `${where}>relayed`, out);
  }
}

function walkUdp(id: string, out: Found): void {
  const v = loadVector("udp", id);
  const packet = v.decoded.encryption
    ? fromHex(v.decoded.encryption.plaintextHex)
    : fromHex(v.hex);
  walkPacket(packet, v.decoded.msg, id, out);
}

function walkTcp(id: string, out: Found): void {
  const v = loadVector("tcp", id);
  v.messages.forEach((m: Json, i: number) => {
    const d = m.decoded;
    if (!d || d.type !== 6) return;
    const stream = d.decompressedHex
      ? fromHex(d.decompressedHex)
      : d.encryption
      ? fromHex(d.encryption.plaintextHex)
      : fromHex(m.hex);
    const pp = decodePushPull(new MsgpackReader(stream, 1));
    const where = `${id}#${i}`;
    collectSerf(pp.userState, d.userState, `${where}>userState`, out);
    pp.nodes.forEach((n, j) => {
      const md = d.nodes[j].metaDecoded;
      if (md) {
        out.metas.push({ where: `${where}>node${j}`, meta: n.meta, node: md });
      }
    });
  });
}

let cache: Found | undefined;

/** Walk every UDP and TCP vector once and collect what they hold. */
export function findAll(): Found {
  if (cache) return cache;
  const out: Found = { serf: [], acks: [], metas: [] };
  for (const id of vectorIds("udp")) walkUdp(id, out);
  for (const id of vectorIds("tcp")) walkTcp(id, out);
  cache = out;
  return out;
}

/**
 * Run `fn`; anything it throws must be a DecodeError. `input` is only
 * formatted when the assertion fails.
 */
export function onlyDecodeError(
  fn: () => unknown,
  what: string,
  input?: Uint8Array,
): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (!(err instanceof DecodeError)) {
      assert.fail(
        `${what}: threw ${String(err)} on ${input ? toHex(input) : "?"}`,
      );
    }
    return false;
  }
}

/**
 * Garbage derived from valid encodings: every truncation and `flips`
 * single-bit flips of each sample, plus `randoms` random buffers.
 */
export function* garbage(
  samples: Uint8Array[],
  prng: () => number,
  flips = 64,
  randoms = 300,
): Generator<Uint8Array> {
  for (const s of samples) {
    for (let n = 0; n < s.length; n++) yield s.subarray(0, n);
    for (let i = 0; i < flips && s.length > 0; i++) {
      const b = s.slice();
      const bit = Math.floor(prng() * s.length * 8);
      b[bit >> 3] ^= 1 << (bit & 7);
      yield b;
    }
  }
  for (let i = 0; i < randoms; i++) {
    const b = new Uint8Array(Math.floor(prng() * 64));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(prng() * 256);
    yield b;
  }
}

/** Random value helpers over one seeded PRNG. */
export class Gen {
  readonly #r: () => number;

  constructor(prng: () => number) {
    this.#r = prng;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#r() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.#r() < p;
  }

  /** A uint up to 2^bits - 1 (≤ 2^53 - 1), biased to small and edge values. */
  uint(bits: number): number {
    const max = bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
    switch (this.int(5)) {
      case 0:
        return this.int(128);
      case 1:
        return max;
      case 2:
        return Math.min(max, this.int(70000));
      default:
        return Math.floor(this.#r() * max);
    }
  }

  /** A string, ASCII or not, sometimes ≥ 32 or ≥ 256 bytes (str16 / str8). */
  str(maxLen = 40): string {
    const alphabet = ["a", "Z", "0", "-", "_", " ", "é", "日", "😀", "\n"];
    const len = this.chance(0.1) ? 32 + this.int(300) : this.int(maxLen);
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }

  /** Bytes, sometimes nil or empty. */
  bytesOrNull(maxLen = 80): Uint8Array | null {
    if (this.chance(0.15)) return null;
    return this.bytes(maxLen);
  }

  /** Non-nil bytes, sometimes empty, sometimes ≥ 256 (bin16 / str16). */
  bytes(maxLen = 80): Uint8Array {
    const len = this.chance(0.05) ? 256 + this.int(400) : this.int(maxLen);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = this.int(256);
    return b;
  }

  /** A string map with up to n entries. */
  strMap(n = 5): Map<string, string> {
    const m = new Map<string, string>();
    const k = this.int(n + 1);
    for (let i = 0; i < k; i++) m.set(this.str(12), this.str(20));
    return m;
  }

  /** A string list of up to n items. */
  strList(n = 5): string[] {
    return Array.from({ length: this.int(n + 1) }, () => this.str(16));
  }

  /** A float64, specials included. */
  float(): number {
    const specials = [
      0,
      -0,
      1.5,
      1e-5,
      Number.MIN_VALUE,
      -1e300,
      NaN,
      Infinity,
    ];
    if (this.chance(0.2)) return specials[this.int(specials.length)];
    return (this.#r() - 0.5) * 10 ** (this.int(12) - 8);
  }

  /** One of the items. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}
