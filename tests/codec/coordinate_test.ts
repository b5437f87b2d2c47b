import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Coordinate,
  COORDINATE_DIMENSIONS,
  decodeCoordinatePayload,
  encodeCoordinatePayload,
  initialCoordinate,
  PING_VERSION,
} from "../../src/codec/coordinate.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { MsgpackWriter } from "../../src/codec/msgpack.ts";
import { seeded } from "../helpers/prng.ts";
import {
  findAll,
  fromHex,
  garbage,
  Gen,
  loadVector,
  onlyDecodeError,
  toHex,
} from "../helpers/serf_vectors.ts";

const plainOf = (c: Coordinate): Record<string, unknown> => ({
  Adjustment: c.adjustment,
  Error: c.error,
  Height: c.height,
  Vec: c.vec,
});

test("vectors: every ack coordinate decodes to coordinatePlain and re-encodes exactly", () => {
  const acks = findAll().acks;
  // udp-ack-coordinate-initial, udp-compound-ack-dead, udp-refute-alive,
  // udp-encrypted-compressed-ack.
  assert.equal(acks.length, 4);
  for (const { where, payload, node } of acks) {
    assert.equal(node.version, PING_VERSION, where);
    const c = decodeCoordinatePayload(payload);
    assert.deepEqual(plainOf(c), node.coordinatePlain, where);
    assert.equal(toHex(encodeCoordinatePayload(c)), toHex(payload), where);
  }
});

test("vectors: the initial coordinate is the captured 130-byte payload (SPEC §8.10)", () => {
  const v = loadVector("udp", "udp-ack-coordinate-initial");
  const payload = fromHex(v.decoded.msg.bodyPlain.Payload.hex);
  const bytes = encodeCoordinatePayload(initialCoordinate());
  assert.equal(bytes.length, 130);
  assert.equal(toHex(bytes), toHex(payload));
  // 0.0 is a float64 too, never an int (SPEC §1.1).
  assert.ok(toHex(bytes).includes("aa41646a7573746d656e74cb0000000000000000"));
});

test("decode rejects a wrong version byte with DecodeError 'version'", () => {
  const bytes = encodeCoordinatePayload(initialCoordinate());
  bytes[0] = 2;
  assert.throws(
    () => decodeCoordinatePayload(bytes),
    (e: unknown) => e instanceof DecodeError && e.reason === "version",
  );
});

test("decode rejects a wrong dimensionality or a nil Vec with DecodeError 'dimension'", () => {
  const seven = { ...initialCoordinate(), vec: [0, 0, 0, 0, 0, 0, 0] };
  assert.throws(
    () => decodeCoordinatePayload(encodeCoordinatePayload(seven)),
    (e: unknown) => e instanceof DecodeError && e.reason === "dimension",
  );
  const nilVec = new MsgpackWriter().byte(1).map(1).str("Vec").nil().finish();
  assert.throws(
    () => decodeCoordinatePayload(nilVec),
    (e: unknown) => e instanceof DecodeError && e.reason === "dimension",
  );
  assert.throws(
    () => decodeCoordinatePayload(new Uint8Array(0)),
    (e: unknown) => e instanceof DecodeError && e.reason === "truncated",
  );
});

test("decode accepts integers and float32 where Go accepts them", () => {
  // {Error: 1 (int), Height: float32 0.5, Vec: [0 ×8 as ints]}
  const w = new MsgpackWriter().byte(1).map(3).str("Error").int(1).str("Height")
    .byte(0xca).raw(new Uint8Array([0x3f, 0, 0, 0])).str("Vec").array(8);
  for (let i = 0; i < 8; i++) w.int(0);
  const c = decodeCoordinatePayload(w.finish());
  assert.deepEqual(c, {
    vec: new Array(8).fill(0),
    error: 1,
    adjustment: 0,
    height: 0.5,
  });
});

test("property: random coordinates round-trip bit for bit (seed 0xc00d)", () => {
  const g = new Gen(seeded(0xc00d));
  for (let i = 0; i < 2000; i++) {
    const c: Coordinate = {
      vec: Array.from({ length: COORDINATE_DIMENSIONS }, () => g.float()),
      error: g.float(),
      adjustment: g.float(),
      height: g.float(),
    };
    const bytes = encodeCoordinatePayload(c);
    assert.equal(bytes.length, 130);
    const back = decodeCoordinatePayload(bytes);
    assert.deepEqual(back, c, `case ${i}`);
    assert.equal(toHex(encodeCoordinatePayload(back)), toHex(bytes));
  }
});

test("garbage: truncations, bit flips and random bytes give only DecodeError (seed 0xbad0)", () => {
  const prng = seeded(0xbad0);
  const samples = findAll().acks.map((a) => a.payload);
  let ok = 0, bad = 0;
  for (const b of garbage(samples, prng, 400, 500)) {
    if (onlyDecodeError(() => decodeCoordinatePayload(b), "coordinate", b)) {
      ok++;
    } else bad++;
  }
  // Most flips land in float bits and still decode.
  assert.ok(ok > 0 && bad > 0, `ok ${ok} bad ${bad}`);
});
