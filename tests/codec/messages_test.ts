import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import {
  type Alive,
  decodeAccusation,
  decodeAck,
  decodeAlive,
  decodeCompress,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushPull,
  encodeAccusation,
  encodeAck,
  encodeAlive,
  encodeCompress,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  ipFromString,
  ipToString,
  MessageType,
  type PushPull,
} from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import { addCrc, stripCrc } from "../../src/codec/crc32.ts";
import { lzwCompress, lzwDecompress } from "../../src/codec/lzw.ts";
import { decodeCompound } from "../../src/codec/compound.ts";
import { streamMessageLength } from "../../src/codec/stream.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { seeded } from "../helpers/prng.ts";

const dir = new URL("../fixtures/vectors/", import.meta.url);
const fromHex = (h: string): Uint8Array =>
  Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// deno-lint-ignore no-explicit-any
type Json = any;

function loadAll(kind: "udp" | "tcp"): Json[] {
  return readdirSync(new URL(`${kind}/`, dir)).filter((f) =>
    f.endsWith(".json")
  )
    .sort().map((f) =>
      JSON.parse(readFileSync(new URL(`${kind}/${f}`, dir), "utf8"))
    );
}

const LEAF_TYPES = new Set<number>([0, 1, 2, 3, 4, 5, 8, 11, 13]);

/** Leaves of the vector's own decode tree, in wire order. */
function vectorLeaves(node: Json, out: Json[] = []): Json[] {
  if (node === null || typeof node !== "object") return out;
  if (Array.isArray(node)) {
    for (const x of node) vectorLeaves(x, out);
    return out;
  }
  if (typeof node.type === "number" && LEAF_TYPES.has(node.type)) {
    out.push(node);
    return out;
  }
  for (const [k, v] of Object.entries(node)) {
    if (k !== "body" && k !== "bodyPlain") vectorLeaves(v, out);
  }
  return out;
}

/** Unwrap a plaintext packet with our codec, checking each layer re-encodes. */
function ourLeaves(buf: Uint8Array, out: Uint8Array[] = []): Uint8Array[] {
  switch (buf[0]) {
    case MessageType.hasCrc: {
      const inner = stripCrc(buf);
      assert.ok(inner, "CRC verifies");
      assert.equal(hex(addCrc(inner)), hex(buf), "CRC re-encodes");
      return ourLeaves(inner, out);
    }
    case MessageType.compound: {
      const { parts, truncated } = decodeCompound(buf.subarray(1));
      assert.equal(truncated, false);
      for (const p of parts) ourLeaves(p, out);
      return out;
    }
    case MessageType.compress: {
      const c = decodeCompress(new MsgpackReader(buf, 1));
      const inner = lzwDecompress(c.buf, 1 << 20);
      assert.equal(
        hex(encodeCompress({ algo: 0, buf: lzwCompress(inner) })),
        hex(buf),
      );
      return ourLeaves(inner, out);
    }
  }
  out.push(buf);
  return out;
}

const lowerFirst = (k: string): string => k[0].toLowerCase() + k.slice(1);

/** Compare our decoded struct with the vector's `bodyPlain`. */
function assertPlain(
  ours: Record<string, unknown>,
  plain: Json,
  where: string,
): void {
  for (const [goKey, want] of Object.entries(plain)) {
    const got =
      ours[goKey === "Node" && "name" in ours ? "name" : lowerFirst(goKey)];
    if (want !== null && typeof want === "object" && "hex" in want) {
      assert.ok(got instanceof Uint8Array, `${where}.${goKey} is bytes`);
      assert.equal(hex(got), want.hex, `${where}.${goKey}`);
    } else if (got instanceof Uint8Array) {
      assert.equal(new TextDecoder().decode(got), want, `${where}.${goKey}`);
    } else if (want === null) {
      assert.ok(
        got === null || got === "" || got === 0,
        `${where}.${goKey} empty`,
      );
    } else assert.deepEqual(got, want, `${where}.${goKey}`);
  }
}

/** Decode one memberlist message and check it re-encodes byte-exactly. */
function checkLeaf(bytes: Uint8Array, leaf: Json, where: string): void {
  const r = new MsgpackReader(bytes, 1);
  const t = bytes[0];
  assert.equal(t, leaf.type, `${where}: type`);
  let again: Uint8Array | null = null;
  let ours: Record<string, unknown> | null = null;
  switch (t) {
    case MessageType.ping: {
      const m = decodePing(r);
      ours = { ...m };
      again = encodePing(m);
      break;
    }
    case MessageType.indirectPing: {
      const m = decodeIndirectPing(r);
      ours = { ...m };
      again = encodeIndirectPing(m);
      break;
    }
    case MessageType.ack: {
      const m = decodeAck(r);
      ours = { ...m };
      again = encodeAck(m);
      break;
    }
    case MessageType.nack: {
      const m = decodeNack(r);
      ours = { ...m };
      again = encodeNack(m);
      break;
    }
    case MessageType.suspect:
    case MessageType.dead: {
      const m = decodeAccusation(r);
      ours = { ...m };
      again = encodeAccusation(t, m);
      break;
    }
    case MessageType.alive: {
      const m = decodeAlive(r);
      ours = { ...m };
      again = encodeAlive(m);
      break;
    }
    case MessageType.err: {
      const e = decodeErr(r);
      ours = { error: e };
      again = encodeErr(e);
      break;
    }
    case MessageType.user:
      return; // Serf's messages are checked in serf_messages_test.ts.
  }
  assert.ok(again && ours, `${where}: handled type ${t}`);
  assert.equal(r.remaining, 0, `${where}: no bytes left over`);
  assert.equal(hex(again), hex(bytes), `${where}: re-encodes byte-exactly`);
  if (leaf.bodyPlain) assertPlain(ours, leaf.bodyPlain, where);
}

test("every UDP vector unwraps, decodes to its fields and re-encodes byte-exactly", () => {
  const vectors = loadAll("udp");
  assert.equal(vectors.length, 37);
  let leaves = 0;
  for (const v of vectors) {
    const plain = v.decoded.encryption
      ? fromHex(v.decoded.encryption.plaintextHex)
      : fromHex(v.hex);
    const ours = ourLeaves(plain);
    const theirs = vectorLeaves(v.decoded.msg);
    assert.equal(ours.length, theirs.length, `${v.id}: number of messages`);
    ours.forEach((b, i) => checkLeaf(b, theirs[i], `${v.id}[${i}]`));
    leaves += ours.length;
  }
  assert.equal(leaves, 52, "every message in the captures");
});

test("every TCP vector frames, decodes and re-encodes byte-exactly", () => {
  let checked = 0;
  for (const v of loadAll("tcp")) {
    for (const [i, m] of v.messages.entries()) {
      const where = `${v.id}#${i}`;
      const wire = fromHex(m.hex);
      if (v.id === "tcp-errmsg" && i === 0) {
        // A bogus 4-byte "encrypted" frame: framing accepts it, nothing more.
        assert.equal(streamMessageLength(wire, 20 << 20), 9);
        continue;
      }
      assert.equal(
        streamMessageLength(wire, 20 << 20),
        wire.length,
        `${where}: framing`,
      );
      assert.equal(
        streamMessageLength(wire.subarray(0, wire.length - 1), 20 << 20),
        -1,
      );
      const d = m.decoded;
      let plain = d.encryption ? fromHex(d.encryption.plaintextHex) : wire;
      if (plain[0] === MessageType.compress) {
        const c = decodeCompress(new MsgpackReader(plain, 1));
        plain = lzwDecompress(c.buf, 20 << 20);
        assert.equal(hex(plain), d.decompressedHex, `${where}: LZW`);
      }
      if (plain[0] === MessageType.pushPull) {
        const pp = decodePushPull(new MsgpackReader(plain, 1));
        assert.deepEqual(
          {
            Join: pp.join,
            Nodes: pp.nodes.length,
            UserStateLen: pp.userState.length,
          },
          d.headerPlain,
        );
        pp.nodes.forEach((n, j) =>
          assertPlain({ ...n }, d.nodes[j].statePlain, `${where}.node${j}`)
        );
        assert.equal(
          hex(encodePushPull(pp)),
          hex(plain),
          `${where}: re-encodes`,
        );
      } else checkLeaf(plain, d, where);
      checked++;
    }
  }
  assert.ok(checked >= 12, `checked ${checked}`);
});

function randBytes(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

function randName(rand: () => number): string {
  return "node-" + Math.floor(rand() * 1e6).toString(36) +
    (rand() < 0.1 ? "é" : "");
}

test("seeded round trips of every memberlist message type", () => {
  const rand = seeded(2024);
  const u32 = (): number => Math.floor(rand() * 2 ** 32);
  for (let i = 0; i < 3000; i++) {
    const alive: Alive = {
      incarnation: u32(),
      node: randName(rand),
      addr: randBytes(rand, rand() < 0.5 ? 4 : 16),
      port: Math.floor(rand() * 65536),
      meta: randBytes(rand, Math.floor(rand() * 512)),
      vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
    };
    const bytes = encodeAlive(alive);
    const back = decodeAlive(new MsgpackReader(bytes, 1));
    assert.deepEqual({ ...back }, alive);
    const ping = {
      seqNo: u32(),
      node: randName(rand),
      sourceAddr: rand() < 0.2 ? null : randBytes(rand, 4),
      sourcePort: rand() < 0.2 ? 0 : Math.floor(rand() * 65536),
      sourceNode: rand() < 0.2 ? "" : randName(rand),
    };
    assert.deepEqual(decodePing(new MsgpackReader(encodePing(ping), 1)), ping);
    const ind = {
      ...ping,
      sourceAddr: ping.sourceAddr,
      target: randBytes(rand, 4),
      port: 7946,
      nack: rand() < 0.5,
    };
    assert.deepEqual(
      decodeIndirectPing(new MsgpackReader(encodeIndirectPing(ind), 1)),
      ind,
    );
    const ack = {
      seqNo: u32(),
      payload: rand() < 0.3 ? null : randBytes(rand, Math.floor(rand() * 300)),
    };
    assert.deepEqual(decodeAck(new MsgpackReader(encodeAck(ack), 1)), ack);
    const acc = {
      incarnation: u32(),
      node: randName(rand),
      from: randName(rand),
    };
    assert.deepEqual(
      decodeAccusation(new MsgpackReader(encodeAccusation(3, acc), 1)),
      acc,
    );
    if (i % 50 === 0) {
      const pp: PushPull = {
        join: rand() < 0.5,
        nodes: Array.from({ length: Math.floor(rand() * 40) }, () => ({
          name: randName(rand),
          addr: randBytes(rand, 4),
          port: 7946,
          meta: randBytes(rand, 10),
          incarnation: u32(),
          state: Math.floor(rand() * 4),
          vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
        })),
        userState: randBytes(rand, Math.floor(rand() * 2000)),
      };
      const enc = encodePushPull(pp);
      assert.equal(streamMessageLength(enc, 1 << 20), enc.length);
      assert.deepEqual(decodePushPull(new MsgpackReader(enc, 1)), pp);
    }
  }
});

test("decoders on mutated messages throw only DecodeError", () => {
  const rand = seeded(5);
  const seeds = loadAll("udp").map((v) =>
    v.decoded.encryption
      ? fromHex(v.decoded.encryption.plaintextHex)
      : fromHex(v.hex)
  ).flatMap((p) => {
    try {
      return ourLeaves(p);
    } catch {
      return [];
    }
  });
  const decoders = [
    decodePing,
    decodeIndirectPing,
    decodeAck,
    decodeNack,
    decodeAccusation,
    decodeAlive,
    decodeErr,
    decodeCompress,
    (r: MsgpackReader) => decodePushPull(r),
  ];
  let thrown = 0;
  for (let i = 0; i < 20000; i++) {
    const base = seeds[i % seeds.length].slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) {
      base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
    }
    const cut = rand() < 0.3
      ? base.subarray(0, Math.floor(rand() * base.length))
      : base;
    for (const dec of decoders) {
      try {
        dec(new MsgpackReader(cut, 1));
      } catch (e) {
        assert.ok(e instanceof DecodeError, `non-DecodeError: ${e}`);
        thrown++;
      }
    }
    try {
      streamMessageLength(cut, 1 << 16);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `framing threw ${e}`);
    }
  }
  assert.ok(thrown > 0);
});

test("a push-pull declaring more than the limits is refused", () => {
  const pp = encodePushPull({
    join: false,
    nodes: [],
    userState: new Uint8Array(100),
  });
  assert.throws(
    () =>
      decodePushPull(new MsgpackReader(pp, 1), {
        maxNodes: 10,
        maxUserStateBytes: 50,
      }),
    (e) => e instanceof DecodeError && e.reason === "too-large",
  );
  // Framing refuses an encrypted frame declaring more than the cap at once.
  const frame = new Uint8Array([10, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => streamMessageLength(frame, 20 << 20), DecodeError);
});

test("IP text conversions", () => {
  assert.equal(ipToString(Uint8Array.from([127, 0, 0, 2])), "127.0.0.2");
  assert.deepEqual(
    ipFromString("127.0.55.1"),
    Uint8Array.from([127, 0, 55, 1]),
  );
  assert.equal(ipFromString("300.1.1.1"), null);
  assert.equal(ipFromString("example.com"), null);
  for (const s of ["::1", "fe80::1:2", "2001:db8::", "1:2:3:4:5:6:7:8", "::"]) {
    const b = ipFromString(s);
    assert.ok(b, s);
    assert.equal(b.length, 16);
    assert.equal(ipToString(b), s);
  }
  assert.equal(ipToString(ipFromString("::ffff:10.0.0.1")!), "10.0.0.1");
  assert.deepEqual(
    ipFromString("::1.2.3.4")!.subarray(12),
    Uint8Array.from([1, 2, 3, 4]),
  );
  assert.equal(ipFromString("1::2::3"), null);
});
