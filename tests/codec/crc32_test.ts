import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { addCrc, crc32, stripCrc } from "../../src/codec/crc32.ts";

const UDP_DIR = new URL("../fixtures/vectors/udp/", import.meta.url);

interface UdpVector {
  id: string;
  hex: string;
  decoded: {
    encryption?: { plaintextHex: string };
    msg: { type: number; crc?: string; crcOk?: boolean };
  };
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

function udpVectors(): UdpVector[] {
  return readdirSync(UDP_DIR).filter((f) => f.endsWith(".json")).sort().map((
    f,
  ) => JSON.parse(readFileSync(new URL(f, UDP_DIR), "utf8")) as UdpVector);
}

/** Bit-at-a-time CRC-32 straight from the polynomial, to check the slicing-by-8 tables. */
function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
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

test("crc32 matches the IEEE check value and edge inputs", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(new Uint8Array([0])), 0xd202ef8d);
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

test("crc32 equals a bitwise reference for every length 0..100 and unaligned views", () => {
  const rand = prng(12);
  const big = new Uint8Array(4096);
  for (let i = 0; i < big.length; i++) big[i] = (rand() * 256) | 0;
  for (let len = 0; len <= 100; len++) {
    const view = big.subarray(len % 7, (len % 7) + len);
    assert.equal(crc32(view), referenceCrc32(view), `length ${len}`);
  }
  assert.equal(crc32(big), referenceCrc32(big));
});

test("every hasCrc packet in the UDP vectors verifies and re-wraps byte-identically", () => {
  let checked = 0;
  for (const v of udpVectors()) {
    const plain = fromHex(v.decoded.encryption?.plaintextHex ?? v.hex);
    if (plain[0] !== 12) continue;
    const inner = stripCrc(plain);
    assert.ok(inner !== null, `${v.id}: checksum mismatch`);
    assert.equal(v.decoded.msg.crc, toHex(plain.subarray(1, 5)), v.id);
    assert.equal(crc32(inner), parseInt(v.decoded.msg.crc!, 16), v.id);
    assert.equal(toHex(addCrc(inner)), toHex(plain), v.id);
    checked++;
  }
  // 13 plaintext gossip packets and 5 inside the encrypted scenario C packets.
  assert.ok(checked >= 18, `only ${checked} CRC packets found`);
});

test("addCrc lays out 0x0c | crc32 BE | msg", () => {
  const msg = new TextEncoder().encode("123456789");
  assert.equal(toHex(addCrc(msg)), "0ccbf43926" + toHex(msg));
  assert.equal(toHex(addCrc(new Uint8Array(0))), "0c00000000");
});

test("stripCrc returns a view of the inner message without copying", () => {
  const wrapped = addCrc(new Uint8Array([8, 1, 2, 3]));
  const inner = stripCrc(wrapped)!;
  assert.equal(toHex(inner), "08010203");
  assert.equal(inner.buffer, wrapped.buffer);
  assert.equal(inner.byteOffset, wrapped.byteOffset + 5);
  assert.equal(stripCrc(addCrc(new Uint8Array(0)))!.length, 0);
});

test("stripCrc gives null on a bad checksum, a short buffer or another type", () => {
  const wrapped = addCrc(new Uint8Array([4, 0x81, 0xa4]));
  for (let i = 1; i < wrapped.length; i++) {
    const bad = wrapped.slice();
    bad[i] ^= 0x01;
    assert.equal(stripCrc(bad), null, `flipped byte ${i}`);
  }
  assert.equal(stripCrc(new Uint8Array(0)), null);
  assert.equal(stripCrc(new Uint8Array([12, 0, 0, 0])), null);
  const other = wrapped.slice();
  other[0] = 7;
  assert.equal(stripCrc(other), null);
});
