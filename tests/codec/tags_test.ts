import { test } from "node:test";
import assert from "node:assert/strict";
import {
  assertTagsFit,
  decodeTags,
  encodedTagsSize,
  encodeTags,
  TAGS_MAX_BYTES,
} from "../../src/codec/tags.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { seeded } from "../helpers/prng.ts";
import {
  findAll,
  fromHex,
  garbage,
  Gen,
  onlyDecodeError,
  plainMap,
  toHex,
} from "../helpers/serf_vectors.ts";

test("vectors: every captured node meta decodes to tagsPlain and re-encodes byte for byte", () => {
  const metas = findAll().metas;
  // Alive messages (UDP) and push-pull node states (TCP).
  assert.equal(metas.length, 26);
  let multi = 0;
  for (const { where, meta, node } of metas) {
    assert.equal(node.magic, "0xff", where);
    const tags = decodeTags(meta);
    assert.deepEqual(plainMap(tags), node.tagsPlain, where);
    // Go writes its map in random order; a Map keeps the wire order, so
    // even {role, dc} re-encodes to the captured bytes.
    assert.equal(toHex(encodeTags(tags, 5)), toHex(meta), where);
    if (tags.size > 1) multi++;
  }
  assert.ok(multi > 0, "a vector with more than one tag");
});

test("empty tags are ff 80; the magic byte then a fixmap (SPEC §8.3)", () => {
  assert.equal(toHex(encodeTags(new Map(), 5)), "ff80");
  assert.equal(
    toHex(encodeTags(new Map([["role", "web"]]), 4)),
    "ff81a4726f6c65a3776562",
  );
  assert.deepEqual(decodeTags(fromHex("ff80")), new Map());
});

test("protocol < 3 sends the raw role; meta without the magic byte is the role", () => {
  const tags = new Map([["dc", "east"], ["role", "web"]]);
  assert.equal(toHex(encodeTags(tags, 2)), "776562");
  assert.equal(toHex(encodeTags(new Map([["dc", "x"]]), 2)), "");
  assert.deepEqual(decodeTags(fromHex("776562")), new Map([["role", "web"]]));
  // Empty meta is the old form too: {role: ""} (serf decodeTags).
  assert.deepEqual(decodeTags(new Uint8Array(0)), new Map([["role", ""]]));
});

test("tags over 512 bytes are refused with a RangeError naming the limit", () => {
  // 1 magic + 1 fixmap + 1+4 "role" + 3+v  ≤ 512  ⇔  v ≤ 502.
  const fits = new Map([["role", "x".repeat(502)]]);
  assert.equal(encodedTagsSize(fits, 5), TAGS_MAX_BYTES);
  assert.equal(encodeTags(fits, 5).length, 512);
  assertTagsFit(fits, 5);
  const over = new Map([["role", "x".repeat(503)]]);
  assert.equal(encodedTagsSize(over, 5), 513);
  assert.throws(
    () => encodeTags(over, 5),
    (e: unknown) => e instanceof RangeError && /512 bytes/.test(e.message),
  );
  assert.throws(() => assertTagsFit(over, 5), RangeError);
  // The old form counts the role alone.
  assert.throws(
    () => encodeTags(new Map([["role", "y".repeat(513)]]), 2),
    RangeError,
  );
});

test("property: random tags round-trip and encodedTagsSize is exact (seed 0x7a65)", () => {
  const g = new Gen(seeded(0x7a65));
  for (let i = 0; i < 2000; i++) {
    const tags = g.strMap(g.chance(0.1) ? 20 : 4);
    const size = encodedTagsSize(tags, 5);
    if (size > TAGS_MAX_BYTES) {
      assert.throws(() => encodeTags(tags, 5), RangeError);
      continue;
    }
    const bytes = encodeTags(tags, 5);
    assert.equal(bytes.length, size, `case ${i}`);
    const back = decodeTags(bytes);
    assert.deepEqual([...back], [...tags], `case ${i}`);
  }
});

test("garbage: malformed meta after the magic byte gives only DecodeError (seed 0x7a66)", () => {
  const prng = seeded(0x7a66);
  const samples = findAll().metas.map((m) => m.meta);
  let ok = 0, bad = 0;
  for (const b of garbage(samples, prng, 200, 300)) {
    for (const input of [b, Uint8Array.of(0xff, ...b)]) {
      if (onlyDecodeError(() => decodeTags(input), "tags", input)) ok++;
      else bad++;
    }
  }
  assert.ok(ok > 0 && bad > 0, `ok ${ok} bad ${bad}`);
  assert.throws(() => decodeTags(fromHex("ff81a4726f6c65")), DecodeError);
});
