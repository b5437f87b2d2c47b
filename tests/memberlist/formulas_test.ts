import { test } from "node:test";
import assert from "node:assert/strict";
import {
  pushPullScaleMs,
  randomOffset,
  remainingSuspicionMs,
  retransmitLimit,
  suspicionTimeoutMs,
} from "../../src/memberlist/formulas.ts";

test("suspicion timeout: SPEC §6.3 LAN examples (n ≤ 10 → 4 s, n = 100 → 8 s)", () => {
  for (const n of [0, 1, 2, 3, 5, 10]) {
    assert.equal(suspicionTimeoutMs(4, n, 1000), 4000, `n=${n}`);
  }
  assert.equal(suspicionTimeoutMs(4, 100, 1000), 8000);
  // max = SuspicionMaxTimeoutMult × min
  assert.equal(6 * suspicionTimeoutMs(4, 10, 1000), 24_000);
  assert.equal(6 * suspicionTimeoutMs(4, 100, 1000), 48_000);
});

test("suspicion timeout truncates the node scale to thousandths like memberlist", () => {
  // log10(50) = 1.69897 → 1698 → 4 × 1698 × 1000 / 1000 ms
  assert.equal(suspicionTimeoutMs(4, 50, 1000), 6792);
  // WAN: mult 6, interval 5 s, n = 20: log10(20) = 1.30103 → 1301
  assert.equal(suspicionTimeoutMs(6, 20, 5000), 39_030);
  // sub-millisecond parts are dropped: 3 × 1698 × 333 / 1000 = 1696.302
  assert.equal(suspicionTimeoutMs(3, 50, 333), 1696);
});

test("remaining suspicion: log shrink from max to min, floored to ms, minus elapsed", () => {
  // k = 3, min 1 s, max 6 s (the classic table)
  assert.equal(remainingSuspicionMs(0, 3, 0, 1000, 6000), 6000);
  assert.equal(remainingSuspicionMs(1, 3, 0, 1000, 6000), 3500);
  assert.equal(remainingSuspicionMs(2, 3, 0, 1000, 6000), 2037);
  assert.equal(remainingSuspicionMs(3, 3, 0, 1000, 6000), 1000);
  assert.equal(
    remainingSuspicionMs(5, 3, 0, 1000, 6000),
    1000,
    "never below min",
  );
  assert.equal(remainingSuspicionMs(1, 3, 500, 1000, 6000), 3000);
  assert.equal(
    remainingSuspicionMs(3, 3, 4000, 1000, 6000),
    -3000,
    "may be negative",
  );
});

test("retransmit limit = retransmitMult × ceil(log10(n + 1))", () => {
  const table: Array<[number, number, number]> = [
    [4, 0, 0],
    [4, 1, 4],
    [4, 3, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [2, 3, 2],
  ];
  for (const [mult, n, want] of table) {
    assert.equal(retransmitLimit(mult, n), want, `mult=${mult} n=${n}`);
  }
});

test("push-pull interval scaling: ≤32 ×1, 33..64 ×2, 65..128 ×3, 129..256 ×4", () => {
  const table: Array<[number, number]> = [
    [1, 1],
    [32, 1],
    [33, 2],
    [64, 2],
    [65, 3],
    [128, 3],
    [129, 4],
    [256, 4],
    [257, 5],
  ];
  for (const [n, mult] of table) {
    assert.equal(pushPullScaleMs(30_000, n), 30_000 * mult, `n=${n}`);
  }
});

test("randomOffset stays in range even for a PRNG returning ~1", () => {
  assert.equal(randomOffset(0, () => 0.5), 0);
  assert.equal(randomOffset(5, () => 0.9999999999), 4);
  assert.equal(randomOffset(5, () => 1), 4);
  assert.equal(randomOffset(5, () => 0), 0);
});
