import { test } from "node:test";
import assert from "node:assert/strict";
import { Deadlines } from "../../src/memberlist/deadlines.ts";

test("deadlines: next is the minimum, due ones pop in time then name order", () => {
  const d = new Deadlines();
  assert.equal(d.next(), null);
  d.set("probe", 1000);
  d.set("gossip", 200);
  d.set("suspect:b", 200);
  d.set("suspect:a", 200);
  assert.equal(d.next(), 200);
  assert.deepEqual(d.popDue(500), { name: "gossip", atMs: 200 });
  assert.deepEqual(d.popDue(500), { name: "suspect:a", atMs: 200 });
  assert.deepEqual(d.popDue(500), { name: "suspect:b", atMs: 200 });
  assert.equal(d.popDue(500), undefined);
  d.set("probe", 300);
  assert.equal(d.next(), 300, "re-arming replaces");
  d.clear("probe");
  assert.equal(d.next(), null);
});
