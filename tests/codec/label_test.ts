import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../src/codec/errors.ts";
import {
  addLabel,
  encodeLabel,
  HAS_LABEL,
  LABEL_MAX_BYTES,
  labelOverhead,
  stripLabel,
} from "../../src/codec/label.ts";

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function assertDecodeError(fn: () => unknown, reason: string): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof DecodeError && err.reason === reason,
  );
}

test("addLabel writes 0xF4 | len | label | packet", () => {
  assert.equal(HAS_LABEL, 244);
  const out = addLabel(new Uint8Array([0, 0x85]), "dc1");
  assert.equal(toHex(out), "f403" + "646331" + "0085");
});

test("an empty label adds nothing, as memberlist's AddLabelHeaderToPacket", () => {
  const packet = new Uint8Array([7, 2]);
  assert.equal(addLabel(packet, ""), packet);
  assert.equal(labelOverhead(""), 0);
});

test("stripLabel round-trips and returns a view of the rest", () => {
  for (
    const label of ["a", "prod-eu-1", "ünïcødé ☃", "x".repeat(LABEL_MAX_BYTES)]
  ) {
    const packet = new Uint8Array([1, 2, 3, 4]);
    const labeled = addLabel(packet, label);
    assert.equal(labeled.length, packet.length + labelOverhead(label));
    const { label: got, rest } = stripLabel(labeled);
    assert.equal(got, label);
    assert.equal(toHex(rest), "01020304");
    assert.equal(rest.buffer, labeled.buffer);
  }
});

test("stripLabel without a label header gives the input back with label ''", () => {
  const packet = new Uint8Array([0x0c, 1, 2, 3, 4, 5]);
  const { label, rest } = stripLabel(packet);
  assert.equal(label, "");
  assert.equal(rest, packet);
  assert.equal(stripLabel(new Uint8Array(0)).label, "");
});

test("label length is counted in UTF-8 bytes, at most 255", () => {
  assert.equal(encodeLabel("é").length, 2);
  assert.equal(labelOverhead("☃"), 2 + 3);
  addLabel(new Uint8Array(0), "é".repeat(127)); // 254 bytes
  assert.throws(() => addLabel(new Uint8Array(0), "é".repeat(128)), RangeError);
  assert.throws(() => addLabel(new Uint8Array(0), "x".repeat(256)), RangeError);
  assert.throws(() => labelOverhead("x".repeat(256)), RangeError);
});

test("malformed label headers are DecodeErrors", () => {
  assertDecodeError(() => stripLabel(new Uint8Array([HAS_LABEL])), "truncated");
  assertDecodeError(
    () => stripLabel(new Uint8Array([HAS_LABEL, 0, 1, 2])),
    "label",
  );
  assertDecodeError(
    () => stripLabel(new Uint8Array([HAS_LABEL, 3, 0x61, 0x62])),
    "truncated",
  );
  assertDecodeError(
    () => stripLabel(new Uint8Array([HAS_LABEL, 2, 0xc3, 0x28, 0])),
    "label",
  );
  assertDecodeError(
    () => stripLabel(new Uint8Array([HAS_LABEL, 1, 0xff])),
    "label",
  );
});

test("a header that is exactly the label leaves an empty rest", () => {
  const { label, rest } = stripLabel(
    new Uint8Array([HAS_LABEL, 2, 0x6f, 0x6b]),
  );
  assert.equal(label, "ok");
  assert.equal(rest.length, 0);
});

test("the label cache returns the right bytes when labels alternate", () => {
  assert.equal(toHex(encodeLabel("a")), "61");
  assert.equal(toHex(encodeLabel("bb")), "6262");
  assert.equal(toHex(encodeLabel("a")), "61");
  assert.equal(encodeLabel("").length, 0);
});
