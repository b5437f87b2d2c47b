import { test } from "node:test";
import assert from "node:assert/strict";
import { Suspicion } from "../../src/memberlist/suspicion.ts";

test("suspicion with k = 0 fires at min", () => {
  const s = new Suspicion("a", 0, 4000, 24_000, 100);
  assert.equal(s.deadlineMs, 4100);
  assert.equal(s.confirm("b", 200), false, "no confirmations expected");
  assert.equal(s.deadlineMs, 4100);
});

test("suspicion with k ≥ 1 starts at max and shrinks with confirmations", () => {
  const s = new Suspicion("a", 2, 4000, 24_000, 0);
  assert.equal(s.deadlineMs, 24_000);
  assert.equal(s.confirm("b", 1000), true);
  // ln2/ln3 = 0.6309 → 24 − 0.6309 × 20 = 11.381 s from the start
  assert.equal(s.deadlineMs, 11_381);
  assert.equal(s.confirm("c", 2000), true);
  assert.equal(s.deadlineMs, 4000, "k confirmations reach min");
  assert.equal(s.confirmations, 2);
});

test("suspicion ignores the accuser, duplicates, and confirmations past k", () => {
  const s = new Suspicion("a", 2, 4000, 24_000, 0);
  assert.equal(s.confirm("a", 10), false, "the accuser is not a confirmation");
  assert.equal(s.confirm("b", 10), true);
  assert.equal(s.confirm("b", 20), false, "one confirmation per peer");
  assert.equal(s.confirm("c", 30), true);
  assert.equal(s.confirm("d", 40), false, "k reached: nothing new");
  assert.equal(s.confirmations, 2);
});

test("a late confirmation makes the suspicion due at once", () => {
  const s = new Suspicion("a", 1, 4000, 24_000, 0);
  assert.equal(s.confirm("b", 10_000), true);
  assert.equal(s.deadlineMs, 10_000, "remaining ≤ 0 → now");
});
