import { test } from "node:test";
import assert from "node:assert/strict";
import { lossRun } from "./_loss.ts";

// 10 members, 10% packet loss on every link: 30 user events and 20 queries
// (ack requested, every member answers). Events ride gossip retransmits and
// push-pull anti-entropy; a query reply is one UDP packet, so without relays
// about 10% of them are lost, as in Serf.
test(
  "events and queries under 10% loss: delivery ratios",
  { timeout: 60_000 },
  () => {
    for (const seed of [1, 2, 3]) {
      const r = lossRun(seed, 0.1, 10, 30, 20, 0);
      assert.equal(
        r.eventRatio,
        1,
        `seed ${seed}: every member got every event`,
      );
      assert.ok(
        r.queryReach >= 0.98,
        `seed ${seed}: queries reached ${r.queryReach}`,
      );
      assert.ok(r.ackRatio >= 0.8, `seed ${seed}: acks ${r.ackRatio}`);
      assert.ok(
        r.responseRatio >= 0.8,
        `seed ${seed}: responses ${r.responseRatio}`,
      );
    }
  },
);

test("relay factor 2 recovers the responses lost under 10% loss", {
  timeout: 60_000,
}, () => {
  for (const seed of [1, 2, 3]) {
    const r = lossRun(seed, 0.1, 10, 10, 20, 2);
    assert.ok(r.ackRatio >= 0.97, `seed ${seed}: acks ${r.ackRatio}`);
    assert.ok(
      r.responseRatio >= 0.97,
      `seed ${seed}: responses ${r.responseRatio}`,
    );
  }
});
