import { test } from "node:test";
import assert from "node:assert/strict";
import { BroadcastQueue } from "../../src/memberlist/broadcasts.ts";

function msg(len: number, tag = 0): Uint8Array {
  return new Uint8Array(len).fill(tag);
}

test("broadcasts leave after retransmitMult × ceil(log10(n + 1)) transmits", () => {
  for (const [n, limit] of [[3, 4], [10, 8], [100, 12]] as const) {
    const q = new BroadcastQueue(4, 100);
    let finished = 0;
    q.queue("a", msg(10), () => finished++);
    let sent = 0;
    for (let i = 0; i < 50; i++) sent += q.take(2, 1400, n).length;
    assert.equal(sent, limit, `n=${n}`);
    assert.equal(finished, 1, "finished exactly once");
    assert.equal(q.length, 0);
  }
});

test("broadcast service order: fewest transmits, then longer, then newer", () => {
  const q = new BroadcastQueue(4, 100);
  q.queue(null, msg(10, 1));
  q.queue(null, msg(20, 2));
  q.queue(null, msg(10, 3));
  // budget for one message at a time
  const first = q.take(0, 20, 3);
  assert.deepEqual(first.map((m) => m[0]), [2], "longest first");
  const second = q.take(0, 10, 3);
  assert.deepEqual(second.map((m) => m[0]), [3], "newer first among equals");
  const third = q.take(0, 10, 3);
  assert.deepEqual(
    third.map((m) => m[0]),
    [1],
    "then the untransmitted older one",
  );
  const fourth = q.take(0, 20, 3);
  assert.deepEqual(fourth.map((m) => m[0]), [2], "then the next transmit tier");
  assert.deepEqual(q.view().map((v) => v.transmits), [1, 1, 2]);
});

test("a named broadcast invalidates the queued one with the same name", () => {
  const q = new BroadcastQueue(4, 100);
  const finished: string[] = [];
  q.queue("node-a", msg(5, 1), () => finished.push("old"));
  q.queue("node-b", msg(5, 2));
  q.queue("node-a", msg(5, 3), () => finished.push("new"));
  assert.deepEqual(finished, ["old"]);
  assert.equal(q.length, 2);
  const out = q.take(0, 1400, 3).map((m) => m[0]).sort();
  assert.deepEqual(out, [2, 3]);
  // unnamed ones never invalidate each other
  q.queue(null, msg(5, 4));
  q.queue(null, msg(5, 4));
  assert.equal(q.length, 4);
});

test("broadcast packing respects the byte budget including per-message overhead", () => {
  const q = new BroadcastQueue(4, 100);
  q.queue(null, msg(100, 1));
  q.queue(null, msg(60, 2));
  q.queue(null, msg(30, 3));
  q.queue(null, msg(10, 4));
  // limit 150, overhead 2: 100(+2) fits, 60 does not (free 46), 30(+2) fits, 10 fits in 14
  const out = q.take(2, 150, 3);
  assert.deepEqual(out.map((m) => m.length), [100, 30, 10]);
  let used = 0;
  for (const m of out) used += m.length + 2;
  assert.ok(used <= 150);
  assert.deepEqual(q.take(2, 10, 3), [], "nothing fits a tiny budget");
});

test("broadcast queue is bounded: past the cap the last-served eighth is dropped", () => {
  const q = new BroadcastQueue(4, 16);
  const finished: number[] = [];
  for (let i = 1; i <= 16; i++) {
    q.queue(null, msg(10, i), () => finished.push(i));
  }
  assert.equal(q.length, 16, "up to the cap nothing is dropped");
  q.queue("n", msg(10, 17), () => finished.push(17));
  assert.equal(q.length, 14, "17 > 16: pruned to 16 − 16/8");
  // equal transmits and length: the oldest are served last, so they go
  assert.deepEqual(finished.sort((a, b) => a - b), [1, 2, 3]);
  assert.deepEqual(q.take(0, 1400, 3).map((m) => m[0]).slice(0, 3), [
    17,
    16,
    15,
  ]);
  for (let i = 0; i < 10_000; i++) q.queue(null, msg(10, 0));
  assert.ok(q.length <= 16);
});

test("reset finishes everything", () => {
  const q = new BroadcastQueue(4, 10);
  let finished = 0;
  q.queue("a", msg(1), () => finished++);
  q.queue(null, msg(1), () => finished++);
  q.reset();
  assert.equal(finished, 2);
  assert.equal(q.length, 0);
});

// The reference: memberlist's order by sorting the whole queue per call
// (what this queue did before it kept its entries in a skip list).
class SortedModel {
  entries: Array<
    { name: string | null; msg: Uint8Array; transmits: number; id: number }
  > = [];
  finished: number[] = [];
  #id = 0;
  readonly mult: number;
  readonly max: number;
  constructor(mult: number, max: number) {
    this.mult = mult;
    this.max = max;
  }
  #order = (
    a: { transmits: number; msg: Uint8Array; id: number },
    b: { transmits: number; msg: Uint8Array; id: number },
  ): number =>
    a.transmits - b.transmits || b.msg.length - a.msg.length || b.id - a.id;
  queue(name: string | null, msg: Uint8Array): void {
    if (name !== null) {
      const i = this.entries.findIndex((e) => e.name === name);
      if (i >= 0) this.finished.push(this.entries.splice(i, 1)[0].msg[0]);
    }
    this.entries.push({ name, msg, transmits: 0, id: ++this.#id });
    if (this.entries.length > this.max) {
      this.prune(this.max - Math.floor(this.max / 8));
    }
  }
  take(overhead: number, limit: number, n: number): Uint8Array[] {
    const cap = this.mult * Math.ceil(Math.log10(n + 1));
    this.entries.sort(this.#order);
    const out: Uint8Array[] = [];
    let used = 0;
    for (const e of [...this.entries]) {
      const free = limit - used - overhead;
      if (free <= 0) break;
      if (e.msg.length > free) continue;
      used += overhead + e.msg.length;
      out.push(e.msg);
      e.transmits++;
      if (e.transmits >= cap) {
        this.entries.splice(this.entries.indexOf(e), 1);
        this.finished.push(e.msg[0]);
      }
    }
    return out;
  }
  prune(keep: number): void {
    this.entries.sort(this.#order);
    for (const e of this.entries.splice(keep)) this.finished.push(e.msg[0]);
  }
}

test("the skip-list queue serves exactly what sorting the whole queue serves", () => {
  let s = 7;
  const rand = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  for (let round = 0; round < 20; round++) {
    const max = 8 + rand(200);
    const mult = 1 + rand(4);
    const real = new BroadcastQueue(mult, max);
    const ref = new SortedModel(mult, max);
    const finished: number[] = [];
    let tag = 0;
    for (let step = 0; step < 3_000; step++) {
      const op = rand(10);
      if (op < 6) {
        tag = (tag + 1) % 256;
        const name = rand(3) === 0 ? null : `n${rand(40)}`;
        const m = new Uint8Array(1 + rand(rand(2) === 0 ? 40 : 600)).fill(tag);
        real.queue(name, m, () => finished.push(m[0]));
        ref.queue(name, m);
      } else if (op < 9) {
        const overhead = rand(4);
        const limit = rand(1_500);
        const n = 1 + rand(2_000);
        assert.deepEqual(
          real.take(overhead, limit, n),
          ref.take(overhead, limit, n),
          `round ${round} step ${step}: take`,
        );
      } else {
        const keep = rand(max + 10);
        real.prune(keep);
        ref.prune(keep);
      }
      assert.equal(real.length, ref.entries.length);
    }
    assert.deepEqual(finished, ref.finished, `round ${round}: finished`);
    assert.deepEqual(
      real.view().map((v) => [v.name, v.transmits, v.length]),
      ref.entries.sort((a, b) =>
        a.transmits - b.transmits || b.msg.length - a.msg.length || b.id - a.id
      ).map((e) => [e.name, e.transmits, e.msg.length]),
    );
  }
});
