import { test } from "node:test";
import assert from "node:assert/strict";
import {
  derivePrng,
  hashLabel,
  Prng,
  splitmix32,
} from "../../src/testing/prng.ts";
import { SimClock } from "../../src/testing/sim_clock.ts";
import { TraceRecorder } from "../../src/testing/trace.ts";

test("the PRNG is a pure function of its seed", { timeout: 10_000 }, () => {
  const a = new Prng(123);
  const b = new Prng(123);
  const c = new Prng(124);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.nextU32()));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c.nextU32()));
  assert.notDeepEqual(
    new Prng(1).nextU32(),
    new Prng(2 ** 32 + 1).nextU32(),
    "high seed bits count",
  );
});

test(
  "the PRNG is uniform enough for fault injection",
  { timeout: 10_000 },
  () => {
    const p = new Prng(7);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = p.next();
      assert.ok(x >= 0 && x < 1);
      buckets[Math.floor(x * 10)]++;
    }
    for (const b of buckets) {
      assert.ok(
        Math.abs(b - 10_000) < 500,
        `bucket ${b}`,
      );
    }
    const ints = new Set(Array.from({ length: 1000 }, () => p.range(3, 5)));
    assert.deepEqual([...ints].sort(), [3, 4, 5]);
  },
);

test("derived streams are independent per label and stable", {
  timeout: 10_000,
}, () => {
  const a1 = derivePrng(5, "member:a#0").nextU32();
  assert.equal(derivePrng(5, "member:a#0").nextU32(), a1);
  assert.notEqual(derivePrng(5, "member:b#0").nextU32(), a1);
  assert.notEqual(derivePrng(6, "member:a#0").nextU32(), a1);
  assert.notEqual(hashLabel("net"), hashLabel("faults"));
  const s = splitmix32(0);
  assert.notEqual(s(), s());
});

test(
  "chance(0) draws nothing, so disabling a fault does not shift the stream",
  { timeout: 10_000 },
  () => {
    const a = new Prng(9);
    const b = new Prng(9);
    a.chance(0);
    assert.equal(a.nextU32(), b.nextU32());
  },
);

test(
  "shuffle and pick are deterministic permutations",
  { timeout: 10_000 },
  () => {
    const s = new Prng(3).shuffle([1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...s].sort(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(new Prng(3).shuffle([1, 2, 3, 4, 5, 6]), s);
    assert.throws(() => new Prng(1).pick([]), RangeError);
  },
);

test("the clock pops by time, then by insertion order for ties", {
  timeout: 10_000,
}, () => {
  const c = new SimClock<string>();
  c.schedule(10, "b1");
  c.schedule(5, "a");
  c.schedule(10, "b2");
  c.schedule(7, "x");
  c.schedule(10, "b3");
  const out: string[] = [];
  for (let v = c.pop(); v !== undefined; v = c.pop()) {
    out.push(`${v}@${c.nowMs}`);
  }
  assert.deepEqual(out, ["a@5", "x@7", "b1@10", "b2@10", "b3@10"]);
});

test("the clock heap orders many random items like a stable sort", {
  timeout: 10_000,
}, () => {
  const p = new Prng(11);
  const c = new SimClock<number>();
  const items: Array<[number, number]> = [];
  for (let i = 0; i < 5000; i++) {
    const t = p.int(100);
    items.push([t, i]);
    c.schedule(t, i);
  }
  items.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: number[] = [];
  for (let v = c.pop(); v !== undefined; v = c.pop()) out.push(v);
  assert.deepEqual(out, items.map((x) => x[1]));
});

test(
  "the clock never goes back and honours its bound",
  { timeout: 10_000 },
  () => {
    const c = new SimClock<number>({ startMs: 100, maxScheduled: 2 });
    assert.equal(c.schedule(50, 1), true);
    assert.equal(c.peekMs(), 100, "the past is clamped to now");
    assert.equal(c.schedule(200, 2), true);
    assert.equal(c.schedule(300, 3), false);
    assert.equal(c.pop(150), 1);
    assert.equal(c.pop(150), undefined, "not due yet");
    c.advanceTo(120);
    assert.equal(c.nowMs, 120);
    c.advanceTo(10);
    assert.equal(c.nowMs, 120);
  },
);

test("the trace hash covers content and order; the ring keeps the last lines", {
  timeout: 10_000,
}, () => {
  const a = new TraceRecorder({ keepLines: 2 });
  const b = new TraceRecorder({ keepLines: 2 });
  a.record(1, "packet", 0, 1, new Uint8Array([1, 2]));
  a.record(2, "timer", 1, -1);
  b.record(2, "timer", 1, -1);
  b.record(1, "packet", 0, 1, new Uint8Array([1, 2]));
  assert.notEqual(a.hash(), b.hash());
  const c = new TraceRecorder();
  c.record(1, "packet", 0, 1, new Uint8Array([1, 3]));
  c.record(2, "timer", 1, -1);
  assert.notEqual(a.hash(), c.hash());
  a.record(3, "note", -1, -1, null, "hi");
  assert.deepEqual(a.lines((i) => `n${i}`), [
    "0.002s timer n1",
    "0.003s note - hi",
  ]);
  assert.equal(a.count, 3);
});
