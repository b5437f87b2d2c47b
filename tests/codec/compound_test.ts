import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import {
  COMPOUND_HEADER_BYTES,
  COMPOUND_PART_BYTES,
  decodeCompound,
  encodeCompound,
} from "../../src/codec/compound.ts";
import { stripCrc } from "../../src/codec/crc32.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { lzwDecompress } from "../../src/codec/lzw.ts";

const UDP_DIR = new URL("../fixtures/vectors/udp/", import.meta.url);

interface UdpVector {
  id: string;
  hex: string;
  decoded: { encryption?: { plaintextHex: string }; msg: unknown };
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

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Buf of a compress message `09 82 a4 Algo 00 a3 Buf da <u16> …` (the shape UDP vectors use). */
function compressBuf(msg: Uint8Array): Uint8Array {
  assert.equal(toHex(msg.subarray(0, 13)), "0982a4416c676f00a3427566da");
  return msg.subarray(15, 15 + ((msg[13] << 8) | msg[14]));
}

/** Every compound message in a packet, looking through CRC and compress layers. */
function findCompounds(msg: Uint8Array, out: Uint8Array[]): void {
  if (msg[0] === 12) findCompounds(stripCrc(msg)!, out);
  else if (msg[0] === 9) {
    findCompounds(lzwDecompress(compressBuf(msg), 1 << 20), out);
  } else if (msg[0] === 7) {
    out.push(msg);
    for (const part of decodeCompound(msg.subarray(1)).parts) {
      findCompounds(part, out);
    }
  }
}

test("every compound in the UDP vectors decodes and re-encodes byte-identically", () => {
  const compounds: Uint8Array[] = [];
  for (const file of readdirSync(UDP_DIR).filter((f) => f.endsWith(".json"))) {
    const v = JSON.parse(
      readFileSync(new URL(file, UDP_DIR), "utf8"),
    ) as UdpVector;
    findCompounds(
      fromHex(v.decoded.encryption?.plaintextHex ?? v.hex),
      compounds,
    );
  }
  // 7 plaintext compounds, one inside LZW (udp-compressed-compound), one inside encryption.
  assert.ok(compounds.length >= 9, `only ${compounds.length} compounds found`);
  for (const msg of compounds) {
    const { parts, truncated } = decodeCompound(msg.subarray(1));
    assert.equal(truncated, false);
    assert.equal(parts.length, msg[1]);
    for (const part of parts) {
      assert.ok(part.length > 0 && part[0] <= 13, "part type byte");
    }
    assert.equal(toHex(encodeCompound(parts)), toHex(msg));
  }
});

test("encodeCompound lays out 0x07 | N | u16 BE lengths | parts", () => {
  const out = encodeCompound([
    bytes(0, 1, 2),
    new Uint8Array(0),
    new Uint8Array(258).fill(5),
  ]);
  assert.equal(
    toHex(out.subarray(0, 8)),
    "07" + "03" + "0003" + "0000" + "0102",
  );
  assert.equal(toHex(out.subarray(8, 11)), "000102");
  assert.equal(
    out.length,
    COMPOUND_HEADER_BYTES + 3 * COMPOUND_PART_BYTES + 3 + 0 + 258,
  );
  assert.equal(toHex(encodeCompound([])), "0700");
});

test("decodeCompound returns subarrays of the body, without copying", () => {
  const packet = encodeCompound([bytes(4, 1), bytes(5, 2, 3)]);
  const body = packet.subarray(1);
  const { parts, truncated } = decodeCompound(body);
  assert.equal(truncated, false);
  assert.deepEqual(parts.map(toHex), ["0401", "050203"]);
  for (const part of parts) assert.equal(part.buffer, packet.buffer);
  assert.equal(parts[0].byteOffset, packet.byteOffset + 1 + 1 + 4);
});

test("decodeCompound stops at the first truncated part, like memberlist", () => {
  const packet = encodeCompound([bytes(1, 1), bytes(2, 2, 2), bytes(3)]);
  const body = packet.subarray(1);
  const header = 1 + 3 * COMPOUND_PART_BYTES;
  for (let cut = header; cut < body.length; cut++) {
    const { parts, truncated } = decodeCompound(body.subarray(0, cut));
    assert.equal(truncated, true, `cut ${cut}`);
    const whole = cut - header >= 5 ? 2 : cut - header >= 2 ? 1 : 0;
    assert.equal(parts.length, whole, `cut ${cut}`);
  }
  // Bytes after the last part are ignored (memberlist never looks at them).
  const padded = new Uint8Array(body.length + 4);
  padded.set(body);
  const { parts, truncated } = decodeCompound(padded);
  assert.equal(truncated, false);
  assert.deepEqual(parts.map(toHex), ["0101", "020202", "03"]);
});

test("decodeCompound throws DecodeError when the header itself is cut", () => {
  const body = encodeCompound([bytes(1), bytes(2), bytes(3)]).subarray(1);
  for (let cut = 0; cut < 1 + 3 * COMPOUND_PART_BYTES; cut++) {
    assert.throws(
      () => decodeCompound(body.subarray(0, cut)),
      (err: unknown) =>
        err instanceof DecodeError && err.reason === "truncated",
      `cut ${cut}`,
    );
  }
  assert.deepEqual(decodeCompound(bytes(0)), { parts: [], truncated: false });
});

test("decodeCompound keeps empty parts for the caller to reject", () => {
  const { parts } = decodeCompound(
    encodeCompound([new Uint8Array(0), bytes(9)]).subarray(1),
  );
  assert.deepEqual(parts.map(toHex), ["", "09"]);
});

test("encodeCompound enforces the u8 count and u16 lengths", () => {
  const many = Array.from({ length: 255 }, (_, i) => bytes(i));
  const packet = encodeCompound(many);
  assert.equal(packet[1], 255);
  assert.deepEqual(
    decodeCompound(packet.subarray(1)).parts.map((p) => p[0]),
    many.map((p) => p[0]),
  );
  assert.throws(() => encodeCompound([...many, bytes(0)]), RangeError);
  const max = new Uint8Array(65535);
  assert.equal(encodeCompound([max]).length, 2 + 2 + 65535);
  assert.throws(
    () => encodeCompound([bytes(1), new Uint8Array(65536)]),
    RangeError,
  );
});

test("seeded random compounds round-trip", () => {
  let s = 99;
  const rand = () =>
    ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
  for (let i = 0; i < 300; i++) {
    const parts = Array.from({ length: (rand() * 20) | 0 }, () => {
      const p = new Uint8Array((rand() * 300) | 0);
      for (let k = 0; k < p.length; k++) p[k] = (rand() * 256) | 0;
      return p;
    });
    const decoded = decodeCompound(encodeCompound(parts).subarray(1));
    assert.equal(decoded.truncated, false);
    assert.deepEqual(decoded.parts.map(toHex), parts.map(toHex));
  }
});
