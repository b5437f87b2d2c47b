import { test } from "node:test";
import assert from "node:assert/strict";
import { agentSerfConfig, serfConfig } from "../../src/serf/config.ts";
import { Serf } from "../../src/serf/serf.ts";
import { seeded } from "../helpers/prng.ts";

test("serf.DefaultConfig values (SPEC §8.11) and the agent's overrides", {
  timeout: 5_000,
}, () => {
  const c = serfConfig();
  assert.deepEqual(
    [
      c.protocolVersion,
      c.broadcastTimeoutMs,
      c.leavePropagateDelayMs,
      c.eventBuffer,
      c.queryBuffer,
      c.reapIntervalMs,
      c.recentIntentTimeoutMs,
      c.reconnectIntervalMs,
      c.reconnectTimeoutMs,
      c.tombstoneTimeoutMs,
      c.flapTimeoutMs,
      c.queueCheckIntervalMs,
      c.queueDepthWarning,
      c.maxQueueDepth,
      c.minQueueDepth,
      c.queryTimeoutMult,
      c.queryResponseSizeLimit,
      c.querySizeLimit,
      c.userEventSizeLimit,
      c.enableNameConflictResolution,
      c.disableCoordinates,
      c.coalescePeriodMs,
      c.userCoalescePeriodMs,
    ],
    [
      4,
      5000,
      1000,
      512,
      512,
      15000,
      300000,
      30000,
      86400000,
      86400000,
      60000,
      30000,
      128,
      4096,
      0,
      16,
      1024,
      1024,
      512,
      true,
      false,
      0,
      0,
    ],
  );
  assert.equal(c.memberlist.gossipIntervalMs, 200);
  const a = agentSerfConfig();
  assert.deepEqual(
    [
      a.protocolVersion,
      a.coalescePeriodMs,
      a.quiescentPeriodMs,
      a.userCoalescePeriodMs,
      a.userQuiescentPeriodMs,
    ],
    [5, 3000, 1000, 3000, 1000],
  );
});

test("invalid configs name the field", { timeout: 5_000 }, () => {
  assert.throws(() => serfConfig({ protocolVersion: 6 }), {
    name: "RangeError",
    message:
      /^Invalid config protocolVersion: 6 must be a whole number in 2\.\.5$/,
  });
  assert.throws(
    () => serfConfig({ userEventSizeLimit: 10_000 }),
    /Invalid config userEventSizeLimit: 10000/,
  );
  assert.throws(
    () => serfConfig({ eventBuffer: 0 }),
    /Invalid config eventBuffer/,
  );
  assert.throws(
    () => serfConfig({ rejoinAfterLeave: 1 as unknown as boolean }),
    /Invalid config rejoinAfterLeave/,
  );
  assert.throws(
    () => serfConfig({ memberlist: { probeTimeoutMs: 5000 } }),
    /Invalid config probeTimeoutMs/,
  );
  assert.throws(
    () => serfConfig({ tags: { a: "b" } as unknown as Map<string, string> }),
    /Invalid config tags/,
  );
});

test("Serf sets memberlist's versions: Vsn 1 5 2 2 5 <protocol>", {
  timeout: 5_000,
}, () => {
  for (const pv of [2, 3, 4, 5]) {
    const s = new Serf(
      serfConfig({
        nodeName: "a",
        protocolVersion: pv,
        memberlist: { bindAddr: "10.0.0.1" },
      }),
      { prng: seeded(1), now: 0 },
    );
    assert.deepEqual(s.memberlist.localMember().vsn, [1, 5, 2, 2, 5, pv]);
    const me = s.localMember();
    assert.deepEqual(
      [
        me.protocolMin,
        me.protocolMax,
        me.protocolCur,
        me.delegateMin,
        me.delegateMax,
        me.delegateCur,
      ],
      [1, 5, 2, 2, 5, pv],
    );
  }
  const big = new Map([["x", "y".repeat(600)]]);
  assert.throws(
    () =>
      new Serf(
        serfConfig({
          nodeName: "a",
          tags: big,
          memberlist: { bindAddr: "10.0.0.1" },
        }),
        { prng: seeded(1), now: 0 },
      ),
    {
      name: "RangeError",
      message: "Encoded length of tags exceeds limit of 512 bytes",
    },
  );
  assert.throws(
    () =>
      new Serf(serfConfig({ memberlist: { bindAddr: "10.0.0.1" } }), {
        prng: seeded(1),
        now: 0,
      }),
    {
      name: "TypeError",
      message: "Invalid config nodeName: must not be empty",
    },
  );
});
