import { test } from "node:test";
import assert from "node:assert/strict";
import { reapExpired, reconnectPick, removeName } from "../../src/serf/reap.ts";
import { seeded } from "../helpers/prng.ts";

test("removeName swaps the last element in (serf removeOldMember)", {
  timeout: 5_000,
}, () => {
  const l = ["a", "b", "c", "d"];
  assert.equal(removeName(l, "b"), true);
  assert.deepEqual(l, ["a", "d", "c"]);
  assert.equal(removeName(l, "x"), false);
});

test("reapExpired: strictly past the timeout, in Serf's swap order", {
  timeout: 5_000,
}, () => {
  const at = new Map([["a", 0], ["b", 100], ["c", 0], ["d", 50]]);
  const l = ["a", "b", "c", "d"];
  const gone = reapExpired(l, (n) => at.get(n)!, 1_000, 950);
  assert.deepEqual(gone, ["a", "c"]);
  assert.deepEqual(l, ["d", "b"]);
  assert.deepEqual(
    reapExpired(l, (n) => at.get(n)!, 1_000, 950),
    [],
    "d: exactly 950 is not past",
  );
});

test("reconnect probability = failed / (members − failed − left)", {
  timeout: 5_000,
}, () => {
  assert.equal(
    reconnectPick({ members: 5, failed: 0, left: 0 }, () => 0),
    null,
  );
  // 1 failed of 4 alive: probability 1/4.
  const prng = seeded(9);
  let tries = 0;
  for (let i = 0; i < 20_000; i++) {
    if (reconnectPick({ members: 6, failed: 1, left: 1 }, prng) !== null) {
      tries++;
    }
  }
  assert.ok(Math.abs(tries / 20_000 - 0.25) < 0.02, `${tries / 20_000}`);
  // More failed than alive: always, and a valid index.
  for (let i = 0; i < 100; i++) {
    const k = reconnectPick({ members: 4, failed: 3, left: 0 }, prng);
    assert.ok(k !== null && k >= 0 && k < 3);
  }
  // Nobody alive but us: Serf's divide-by-zero guard counts one.
  assert.notEqual(
    reconnectPick({ members: 2, failed: 2, left: 0 }, () => 0.5),
    null,
  );
});
