import { test } from "node:test";
import assert from "node:assert/strict";
import { LamportClock } from "../../src/serf/lamport.ts";

test("Lamport clock: time, increment, witness (serf lamport.go)", {
  timeout: 5_000,
}, () => {
  const c = new LamportClock();
  assert.equal(c.time(), 0);
  assert.equal(c.increment(), 1);
  assert.equal(c.time(), 1);
  // Witness of an older or equal-minus-one time changes nothing.
  c.witness(0);
  assert.equal(c.time(), 1);
  // Witness v ≥ current → v + 1.
  c.witness(1);
  assert.equal(c.time(), 2);
  c.witness(41);
  assert.equal(c.time(), 42);
  c.witness(10);
  assert.equal(c.time(), 42);
  assert.equal(c.increment(), 43);
});

test("Lamport clock: table of witness results", { timeout: 5_000 }, () => {
  const rows: Array<[number, number, number]> = [
    // [start, witnessed, result]
    [1, 0, 1],
    [1, 1, 2],
    [1, 2, 3],
    [5, 4, 5],
    [5, 5, 6],
    [5, 100, 101],
  ];
  for (const [start, v, want] of rows) {
    const c = new LamportClock(start);
    c.witness(v);
    assert.equal(c.time(), want, `start ${start} witness ${v}`);
  }
});
