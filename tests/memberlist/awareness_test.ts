import { test } from "node:test";
import assert from "node:assert/strict";
import { Awareness } from "../../src/memberlist/awareness.ts";

test("awareness starts healthy and clamps to [0, max − 1]", () => {
  const a = new Awareness(8);
  assert.equal(a.score, 0);
  a.applyDelta(-1);
  assert.equal(a.score, 0, "never below 0");
  a.applyDelta(3);
  assert.equal(a.score, 3);
  a.applyDelta(100);
  assert.equal(a.score, 7, "never above max − 1");
  a.applyDelta(-2);
  assert.equal(a.score, 5);
});

test("awareness scales timeouts by (score + 1)", () => {
  const a = new Awareness(8);
  assert.equal(a.scaleTimeoutMs(1000), 1000);
  a.applyDelta(2);
  assert.equal(a.scaleTimeoutMs(1000), 3000);
  a.applyDelta(10);
  assert.equal(a.scaleTimeoutMs(1000), 8000);
});

test("awareness with max 1 never moves", () => {
  const a = new Awareness(1);
  a.applyDelta(5);
  assert.equal(a.score, 0);
  assert.equal(a.scaleTimeoutMs(500), 500);
});
