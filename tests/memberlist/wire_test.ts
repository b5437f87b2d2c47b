import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compress,
  finishPacket,
  finishStream,
  makeCompounds,
  openPacket,
  openStream,
} from "../../src/memberlist/wire.ts";
import { addCrc } from "../../src/codec/crc32.ts";
import { encodeCompound } from "../../src/codec/compound.ts";
import {
  encodeAccusation,
  encodeNack,
  encodeUser,
  MessageType,
} from "../../src/codec/messages.ts";
import { hex } from "./_harness.ts";
import { seeded } from "../helpers/prng.ts";

function collect(buf: Uint8Array): { types: string[]; errors: string[] } {
  const errors: string[] = [];
  const types = openPacket(
    buf,
    (kind, reason) => errors.push(`${kind}:${reason}`),
  ).map((m) => m.type);
  return { types, errors };
}

const NACK = encodeNack({ seqNo: 24 });
const SUSPECT = encodeAccusation(MessageType.suspect, {
  node: "b",
  incarnation: 1,
  from: "a",
});

test("packets are compressed only when strictly smaller", () => {
  assert.deepEqual(
    finishPacket(NACK, true, false),
    NACK,
    "a 9-byte nack stays plain",
  );
  const big = encodeUser(new Uint8Array(600));
  const out = finishPacket(big, true, false);
  assert.equal(out[0], MessageType.compress);
  assert.ok(out.length < big.length);
  assert.deepEqual(finishPacket(big, false, false), big, "compression off");
});

test("CRC is added outside compression, only when asked", () => {
  const big = encodeUser(new Uint8Array(600));
  const out = finishPacket(big, true, true);
  assert.equal(out[0], MessageType.hasCrc);
  assert.equal(out[5], MessageType.compress, "crc(compress(msg)), SPEC §2.2");
  assert.deepEqual(collect(out).types, ["user"]);
  assert.deepEqual(finishPacket(NACK, true, false)[0], MessageType.nack);
});

test("streams are compressed unconditionally when enabled", () => {
  const out = finishStream(NACK, true);
  assert.equal(out[0], MessageType.compress);
  assert.ok(out.length > NACK.length);
  assert.deepEqual(openStream(out, 1 << 20), NACK);
  assert.deepEqual(finishStream(NACK, false), NACK);
});

test("a CRC is only understood at the outermost layer", () => {
  assert.deepEqual(collect(addCrc(NACK)), { types: ["nack"], errors: [] });
  const inner = encodeCompound([addCrc(NACK), SUSPECT]);
  assert.deepEqual(collect(inner), {
    types: ["suspect"],
    errors: ["drop:type-12"],
  });
  const bad = addCrc(NACK);
  bad[8] ^= 1;
  assert.deepEqual(collect(bad), { types: [], errors: ["decode:crc"] });
});

test("compound and compress layers are unwrapped recursively, depth-limited", () => {
  const nested = compress(
    encodeCompound([NACK, compress(encodeCompound([SUSPECT, NACK]))]),
  );
  assert.deepEqual(collect(nested).types, ["nack", "suspect", "nack"]);
  let deep = NACK;
  for (let i = 0; i < 6; i++) deep = encodeCompound([deep, NACK]);
  const r = collect(deep);
  assert.ok(r.errors.includes("drop:nesting"));
  assert.ok(r.types.length >= 3 && r.types.length < 7);
});

test("a truncated compound keeps its complete parts and counts the truncation", () => {
  const c = encodeCompound([NACK, SUSPECT]);
  const cut = c.subarray(0, c.length - 3);
  assert.deepEqual(collect(cut), {
    types: ["nack"],
    errors: ["decode:compound-truncated"],
  });
});

test("malformed input never throws: unknown types, garbage, bombs are counted", () => {
  assert.deepEqual(collect(new Uint8Array(0)).errors, ["decode:empty"]);
  assert.deepEqual(collect(Uint8Array.of(99, 1, 2)).errors, ["drop:type-99"]);
  assert.deepEqual(
    collect(Uint8Array.of(6, 0x80)).errors,
    ["drop:type-6"],
    "push-pull on UDP",
  );
  assert.equal(
    collect(Uint8Array.of(MessageType.ping, 0x81)).errors[0],
    "decode:truncated",
  );
  // a compression bomb: 1 MiB of zeros packed in a packet
  const bomb = compress(encodeUser(new Uint8Array(1 << 20)));
  assert.ok(bomb.length < 65536);
  assert.deepEqual(collect(bomb).errors, ["decode:too-large"]);
  const rnd = seeded(42);
  for (let i = 0; i < 3000; i++) {
    const b = new Uint8Array(1 + Math.floor(rnd() * 80));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
    b[0] = Math.floor(rnd() * 14);
    collect(b); // must not throw
  }
});

test("makeCompounds: one message stays bare, more than 255 are split", () => {
  assert.deepEqual(makeCompounds([NACK]), [NACK]);
  const many = Array.from({ length: 300 }, () => NACK);
  const out = makeCompounds(many);
  assert.equal(out.length, 2);
  assert.equal(out[0][1], 255);
  assert.equal(out[1][1], 45);
  let n = 0;
  for (const p of out) n += collect(p).types.length;
  assert.equal(n, 300);
});

test("real packets from serf 0.9.4 decode into the expected messages", async () => {
  const { readFileSync } = await import("node:fs");
  const load = (id: string): Uint8Array =>
    hex(
      JSON.parse(
        readFileSync(
          new URL(`../fixtures/vectors/udp/${id}.json`, import.meta.url),
          "utf8",
        ),
      ).hex,
    );
  const cases: Array<[string, string[]]> = [
    ["udp-ping", ["ping"]],
    ["udp-nack", ["nack"]],
    ["udp-suspect", ["suspect"]],
    ["udp-dead", ["dead"]],
    ["udp-compound-ping-suspect-crc", ["ping", "suspect"]],
    ["udp-compound-ack-dead", ["ack", "dead"]],
    ["udp-compound-ping-dead-left", ["ping", "dead"]],
    ["udp-indirect-ping-nack-requested", ["indirectPing"]],
    ["udp-gossip-crc-compound-alive-alive-join", ["alive", "alive", "user"]],
    ["udp-crc-compressed-user-event", ["user"]],
    ["udp-alive-tags-update", ["alive"]],
  ];
  for (const [id, want] of cases) {
    const r = collect(load(id));
    assert.deepEqual(r.errors, [], id);
    assert.deepEqual(r.types, want, id);
  }
  const compressed = collect(load("udp-compressed-compound"));
  assert.deepEqual(compressed.errors, []);
  assert.ok(compressed.types.length >= 2);
});
