import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { DecodeError } from "../../src/codec/errors.ts";
import { lzwCompress, lzwDecompress } from "../../src/codec/lzw.ts";
import { stripCrc } from "../../src/codec/crc32.ts";

const VECTORS = new URL("../fixtures/vectors/", import.meta.url);
const MAX = 40 * 1024 * 1024;

interface Message {
  hex: string;
  decoded?: { encryption?: { plaintextHex: string }; decompressedHex?: string };
}

interface Vector {
  id: string;
  hex?: string;
  decoded?: {
    encryption?: { plaintextHex: string };
    msg: {
      type: number;
      decompressedHex?: string;
      inner?: { decompressedHex?: string };
    };
  };
  messages?: Message[];
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function load(dir: string): Vector[] {
  const url = new URL(`${dir}/`, VECTORS);
  return readdirSync(url).filter((f) => f.endsWith(".json")).sort().map((f) =>
    JSON.parse(readFileSync(new URL(f, url), "utf8")) as Vector
  );
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Extract Buf from a compress message `09 82 a4 "Algo" 00 a3 "Buf" <str>` (the one fixed shape
 * memberlist writes, SPEC §2.5). The real msgpack codec lives in src/codec/msgpack.ts.
 */
function compressBuf(msg: Uint8Array): { buf: Uint8Array; end: number } {
  const head = "0982a4416c676f00a3427566";
  assert.equal(toHex(msg.subarray(0, 12)), head, "compress message header");
  const t = msg[12];
  let at = 13;
  let len: number;
  if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
  else if (t === 0xd9) len = msg[at++];
  else if (t === 0xda) (len = (msg[at] << 8) | msg[at + 1]), (at += 2);
  else if (t === 0xdb) {
    len = ((msg[at] << 24) | (msg[at + 1] << 16) | (msg[at + 2] << 8) |
      msg[at + 3]) >>> 0;
    at += 4;
  } else throw new Error(`unexpected Buf format 0x${t.toString(16)}`);
  return { buf: msg.subarray(at, at + len), end: at + len };
}

/** Every captured compress payload: the UDP packets (after decryption and CRC) and TCP messages. */
function capturedPayloads(): {
  id: string;
  msg: Uint8Array;
  expected: string;
}[] {
  const found: { id: string; msg: Uint8Array; expected: string }[] = [];
  for (const v of load("udp")) {
    let plain = fromHex(v.decoded!.encryption?.plaintextHex ?? v.hex!);
    const m = v.decoded!.msg;
    let expected = m.decompressedHex;
    if (plain[0] === 12) {
      plain = stripCrc(plain)!;
      expected = m.inner?.decompressedHex;
    }
    if (plain[0] === 9) {
      found.push({ id: v.id, msg: plain, expected: expected! });
    }
  }
  for (const v of load("tcp")) {
    for (const [i, m] of (v.messages ?? []).entries()) {
      const plain = fromHex(m.decoded?.encryption?.plaintextHex ?? m.hex);
      if (plain[0] === 9) {
        found.push({
          id: `${v.id}#${i}`,
          msg: plain,
          expected: m.decoded!.decompressedHex!,
        });
      }
    }
  }
  return found;
}

interface ReferenceOptions {
  /** Go ≥ 1.17 writes CLEAR first; older releases did not. */
  leadingClear?: boolean;
  /** Go clears at hi = 4095; a "deferred clear" encoder keeps 12-bit codes and stops adding. */
  clearAtMax?: boolean;
}

/** The writer rules of SPEC §2.5 with a plain Map, written for clarity rather than speed. */
function referenceCompress(
  input: Uint8Array,
  options: ReferenceOptions = {},
): Uint8Array {
  const { leadingClear = true, clearAtMax = true } = options;
  const out: number[] = [];
  let bits = 0, nBits = 0, width = 9, hi = 257, overflow = 512;
  let table = new Map<number, number>();
  const write = (code: number) => {
    bits |= code << nBits;
    nBits += width;
    for (; nBits >= 8; nBits -= 8, bits >>>= 8) out.push(bits & 0xff);
  };
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow && width < 12) (width++, overflow <<= 1);
    if (clearAtMax && hi === 4095) {
      write(256);
      (width = 9, hi = 257, overflow = 512, table = new Map());
      return false;
    }
    if (hi > 4095) return (hi = 4095), false;
    return true;
  };
  if (leadingClear) write(256);
  if (input.length > 0) {
    let code = input[0];
    for (const x of input.subarray(1)) {
      const key = code * 256 + x;
      const hit = table.get(key);
      if (hit !== undefined) {
        code = hit;
        continue;
      }
      write(code);
      code = x;
      if (incHi()) table.set(key, hi);
    }
    write(code);
    incHi();
  }
  write(257);
  if (nBits > 0) out.push(bits & 0xff);
  return new Uint8Array(out);
}

function randomBytes(
  rand: () => number,
  n: number,
  alphabet = 256,
): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * alphabet) | 0;
  return out;
}

/** Text-like data: words from a small vocabulary, so the table fills with long entries. */
function repetitiveBytes(rand: () => number, n: number): Uint8Array {
  const words = [
    "alive",
    "suspect",
    "dead",
    "s1",
    "s2",
    "127.0.0.1",
    "\x00",
    "\xc0\xc0\xc0",
  ]
    .map((w) => Array.from(w, (c) => c.charCodeAt(0)));
  const out = new Uint8Array(n);
  for (let o = 0; o < n;) {
    const w = words[(rand() * words.length) | 0];
    for (let i = 0; i < w.length && o < n; i++) out[o++] = w[i];
    if (rand() < 0.05 && o < n) out[o++] = (rand() * 256) | 0;
  }
  return out;
}

function assertDecodeError(fn: () => unknown, reason: string, note = ""): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      err instanceof DecodeError,
      `${note}: expected DecodeError, got ${err}`,
    );
    assert.equal(err.reason, reason, note);
    assert.equal(err.name, "DecodeError");
    return true;
  });
}

test("lzwCompress writes Go 1.19's bytes for tiny inputs", () => {
  // Empty: Go 1.19's Close writes the starting CLEAR itself, then END: 256 | 257 << 9.
  assert.equal(toHex(lzwCompress(new Uint8Array(0))), "000302");
  // "a": CLEAR, 'a', END (9 bits each) = 256 | 97 << 9 | 257 << 18.
  assert.equal(toHex(lzwCompress(new Uint8Array([97]))), "00c30404");
  assert.equal(
    toHex(lzwCompress(new Uint8Array([97]))),
    toHex(referenceCompress(new Uint8Array([97]))),
  );
});

test("lzwDecompress accepts empty streams with and without the leading CLEAR", () => {
  assert.equal(lzwDecompress(fromHex("000302"), MAX).length, 0);
  assert.equal(lzwDecompress(fromHex("0101"), MAX).length, 0); // END only (Go < 1.17)
  assert.equal(lzwDecompress(fromHex("0101"), 0).length, 0);
});

test("every captured LZW payload decompresses and re-compresses byte-identically", () => {
  const payloads = capturedPayloads();
  // UDP: compressed compound, CRC+compressed user event, encrypted compressed ack. TCP: both
  // directions of the compressed, encrypted and large push/pulls, and the errMsg reply.
  assert.ok(
    payloads.length >= 10,
    `only ${payloads.length} LZW payloads found`,
  );
  for (const { id, msg, expected } of payloads) {
    const { buf, end } = compressBuf(msg);
    assert.equal(end, msg.length, `${id}: bytes after Buf`);
    const plain = lzwDecompress(buf, MAX);
    assert.equal(toHex(plain), expected, `${id}: decompressed`);
    assert.equal(toHex(lzwCompress(plain)), toHex(buf), `${id}: re-compressed`);
  }
  const large = payloads.find((p) => p.id === "tcp-pushpull-large-lzw#1");
  assert.ok(large !== undefined, "tcp-pushpull-large-lzw server reply missing");
  // 801 bytes hold more codes than the 254 table entries that fit in 9 bits (258..511), so this
  // stream switched to 10-bit codes part way.
  const { buf } = compressBuf(large.msg);
  assert.equal(buf.length, 801);
  assert.ok(buf.length * 8 > (1 + 254 + 1) * 9);
  assert.equal(lzwDecompress(buf, MAX).length, 1229);
});

test("lzwCompress equals the reference writer on seeded random small inputs", () => {
  const rand = prng(1);
  for (let i = 0; i < 2000; i++) {
    const n = (rand() * 300) | 0;
    const alphabet = [2, 4, 16, 256][i % 4];
    const input = randomBytes(rand, n, alphabet);
    const packed = lzwCompress(input);
    assert.equal(toHex(packed), toHex(referenceCompress(input)), `case ${i}`);
    assert.equal(toHex(lzwDecompress(packed, MAX)), toHex(input), `case ${i}`);
  }
});

test("200 KB random data crosses the 4095 CLEAR many times and round-trips", () => {
  const input = randomBytes(prng(2), 200_000);
  const packed = lzwCompress(input);
  assert.deepEqual(packed, referenceCompress(input));
  assert.deepEqual(lzwDecompress(packed, MAX), input);
});

test("200 KB repetitive data (long entries, 12-bit codes) round-trips like the reference", () => {
  const input = repetitiveBytes(prng(3), 200_000);
  const packed = lzwCompress(input);
  assert.ok(
    packed.length < input.length / 2,
    `ratio ${packed.length}/${input.length}`,
  );
  assert.deepEqual(packed, referenceCompress(input));
  assert.deepEqual(lzwDecompress(packed, MAX), input);
});

test("1 MB of one byte value (maximal runs, KwKwK codes) round-trips like the reference", () => {
  const input = new Uint8Array(1 << 20).fill(0xc0);
  const packed = lzwCompress(input);
  assert.deepEqual(packed, referenceCompress(input));
  assert.deepEqual(lzwDecompress(packed, MAX), input);
});

test("lzwDecompress accepts streams without a leading CLEAR or with a deferred CLEAR", () => {
  const rand = prng(4);
  for (
    const input of [randomBytes(rand, 50_000), repetitiveBytes(rand, 100_000)]
  ) {
    const old = referenceCompress(input, { leadingClear: false });
    assert.deepEqual(lzwDecompress(old, MAX), input);
    // A writer that never clears makes Go's reader sit at 12 bits with a full table.
    const full = referenceCompress(input, { clearAtMax: false });
    assert.deepEqual(lzwDecompress(full, MAX), input);
  }
});

test("compressor state does not leak between calls", () => {
  const rand = prng(5);
  const a = repetitiveBytes(rand, 30_000);
  const b = randomBytes(rand, 100);
  const first = lzwCompress(b);
  lzwCompress(a);
  assert.deepEqual(lzwCompress(b), first);
  lzwDecompress(lzwCompress(a), MAX);
  assert.deepEqual(lzwDecompress(first, MAX), b);
});

test("a stream without END (every strict prefix of a real payload) is a DecodeError", () => {
  const { msg } = capturedPayloads()[0];
  const { buf } = compressBuf(msg);
  for (let cut = 0; cut < buf.length; cut++) {
    assertDecodeError(
      () => lzwDecompress(buf.subarray(0, cut), MAX),
      "lzw",
      `cut ${cut}`,
    );
  }
  // Trailing bytes after END are ignored, as Go's reader stops at END.
  const padded = new Uint8Array(buf.length + 3);
  padded.set(buf);
  assert.equal(
    toHex(lzwDecompress(padded, MAX)),
    toHex(lzwDecompress(buf, MAX)),
  );
});

test("a code past the table is a DecodeError", () => {
  // CLEAR then 258, which is not defined yet: 256 | 258 << 9.
  assertDecodeError(() => lzwDecompress(fromHex("000502"), MAX), "lzw");
  // 'a' then 259 while hi = 258 (code == hi is fine, hi + 1 is not): 97 | 259 << 9 | 257 << 18.
  assertDecodeError(
    () => lzwDecompress(new Uint8Array([97, 6, 6, 4]), MAX),
    "lzw",
  );
});

test("output past maxOutputBytes is a DecodeError and never allocated", () => {
  const input = new Uint8Array(5_000_000);
  const bomb = lzwCompress(input);
  assert.ok(bomb.length < 20_000, `bomb is ${bomb.length} bytes`);
  assertDecodeError(() => lzwDecompress(bomb, 1_000_000), "too-large");
  assertDecodeError(() => lzwDecompress(bomb, input.length - 1), "too-large");
  const exact = lzwDecompress(bomb, input.length);
  assert.equal(exact.length, input.length);
  assert.ok(exact.buffer.byteLength <= input.length);
  const small = lzwCompress(new TextEncoder().encode("hello hello hello"));
  assertDecodeError(() => lzwDecompress(small, 16), "too-large");
  assert.equal(lzwDecompress(small, 17).length, 17);
  assert.throws(() => lzwDecompress(small, -1), RangeError);
  assert.throws(() => lzwDecompress(small, 1.5), RangeError);
});

test("seeded garbage gives output or a DecodeError, nothing else", () => {
  const rand = prng(6);
  let ok = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = randomBytes(rand, (rand() * 64) | 0, i % 2 ? 256 : 4);
    try {
      const out = lzwDecompress(input, 4096);
      assert.ok(out.length <= 4096);
      ok++;
    } catch (err) {
      assert.ok(err instanceof DecodeError, `case ${i}: ${err}`);
      assert.ok(err.reason === "lzw" || err.reason === "too-large", err.reason);
    }
  }
  assert.ok(ok > 0, "no random input decoded at all");
});

test("mutated real payloads give output or a DecodeError, nothing else", () => {
  const rand = prng(7);
  const bufs = capturedPayloads().map((p) => compressBuf(p.msg).buf);
  for (let i = 0; i < 5_000; i++) {
    const buf = bufs[i % bufs.length].slice();
    for (let k = 0; k < 1 + (i % 4); k++) {
      buf[(rand() * buf.length) | 0] = (rand() * 256) | 0;
    }
    try {
      lzwDecompress(buf, 1 << 16);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `case ${i}: ${err}`);
    }
  }
});
