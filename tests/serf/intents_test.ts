import { test } from "node:test";
import assert from "node:assert/strict";
import {
  joinIntentOutcome,
  leaveIntentOutcome,
  MAX_RECENT_INTENTS,
  RecentIntents,
} from "../../src/serf/intents.ts";
import type { SerfMemberStatus } from "../../src/serf/events.ts";
import { TinyNet } from "./_harness.ts";
import { encodeLeaveIntent } from "../../src/codec/serf_messages.ts";
import { encodeUser } from "../../src/codec/messages.ts";
import { toHex } from "../helpers/serf_vectors.ts";

test(
  "join intents (SPEC §8.5): stale ignored, newer takes the time, Leaving → Alive",
  { timeout: 5_000 },
  () => {
    const rows: Array<
      [SerfMemberStatus, number, number, boolean, SerfMemberStatus]
    > = [
      // [status, statusLtime, intent ltime, applied, status after]
      ["alive", 5, 4, false, "alive"],
      ["alive", 5, 5, false, "alive"],
      ["alive", 5, 6, true, "alive"],
      ["leaving", 5, 6, true, "alive"],
      ["leaving", 5, 5, false, "leaving"],
      ["failed", 5, 6, true, "failed"],
      ["left", 5, 9, true, "left"],
    ];
    for (const [status, s, l, apply, after] of rows) {
      const o = joinIntentOutcome({ status, statusLtime: s }, l);
      assert.deepEqual(
        [o.apply, o.status],
        [apply, after],
        `${status}@${s} join@${l}`,
      );
    }
  },
);

test(
  "leave intents (SPEC §8.5): transitions, forced leave, prune, refuting one about ourselves",
  { timeout: 5_000 },
  () => {
    type Row = [
      SerfMemberStatus,
      number,
      number,
      boolean,
      boolean,
      boolean,
      string,
      SerfMemberStatus,
      boolean,
      boolean,
    ];
    const rows: Row[] = [
      // [status, S, L, prune, aboutSelf, selfAlive, action, after, forced, rebroadcast]
      ["alive", 5, 5, false, false, true, "ignore", "alive", false, false],
      ["alive", 5, 6, false, false, true, "apply", "leaving", false, true],
      ["failed", 5, 6, false, false, true, "apply", "left", true, true],
      ["leaving", 5, 6, false, false, true, "apply", "leaving", false, true],
      ["left", 5, 6, false, false, true, "apply", "left", false, true],
      // about us while alive: refute, never apply
      ["alive", 5, 9, false, true, true, "refute", "alive", false, false],
      // about us while leaving (our own leave): applied
      ["alive", 5, 9, false, true, false, "apply", "leaving", false, true],
      // stale intent about us: ignored, not refuted
      ["alive", 9, 9, false, true, true, "ignore", "alive", false, false],
    ];
    for (
      const [
        status,
        s,
        l,
        prune,
        aboutSelf,
        selfAlive,
        action,
        after,
        forced,
        rebroadcast,
      ] of rows
    ) {
      const o = leaveIntentOutcome({ status, statusLtime: s }, {
        ltime: l,
        prune,
      }, { aboutSelf, selfAlive });
      assert.deepEqual(
        [o.action, o.status, o.forced, o.rebroadcast],
        [action, after, forced, rebroadcast],
        `${status}@${s} leave@${l} self=${aboutSelf}/${selfAlive}`,
      );
    }
    const p = leaveIntentOutcome({ status: "failed", statusLtime: 1 }, {
      ltime: 2,
      prune: true,
    }, {
      aboutSelf: false,
      selfAlive: true,
    });
    assert.equal(p.prune, true);
    const stale = leaveIntentOutcome({ status: "failed", statusLtime: 3 }, {
      ltime: 2,
      prune: true,
    }, {
      aboutSelf: false,
      selfAlive: true,
    });
    assert.equal(stale.prune, false);
  },
);

test("recent intents: newest time wins, news only once, expiry, bounded", {
  timeout: 5_000,
}, () => {
  const r = new RecentIntents(3);
  assert.equal(r.upsert("x", "join", 5, 0), true);
  assert.equal(r.upsert("x", "join", 5, 1), false, "same time is not news");
  assert.equal(r.upsert("x", "leave", 4, 1), false, "older is not news");
  assert.equal(r.upsert("x", "leave", 6, 2), true);
  assert.equal(r.get("x", "join"), undefined, "one intent per node");
  assert.equal(r.get("x", "leave"), 6);
  r.upsert("y", "join", 1, 10);
  r.upsert("z", "join", 1, 20);
  r.upsert("w", "join", 1, 30); // evicts the oldest arrival (x)
  assert.equal(r.size, 3);
  assert.equal(r.get("x", "leave"), undefined);
  assert.equal(r.reap(300_015, 300_000), 1, "y is older than 5 min");
  assert.equal(r.get("y", "join"), undefined);
  assert.ok(MAX_RECENT_INTENTS >= 1024);
});

test(
  "a leave intent about ourselves is refuted with a newer join intent, and we stay alive",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    net.add("s2", "127.0.0.2");
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    const before = net.sent.length;
    // s1 hears "s2 is leaving at LTime 50".
    net.invoke("s2", (s, now) =>
      s.handlePacket(
        encodeUser(encodeLeaveIntent({ ltime: 50, node: "s2", prune: false })),
        { host: "127.0.0.1", port: 7946 },
        now,
      ));
    net.run(1_000);
    assert.equal(net.get("s2").memberStatus("s2"), "alive");
    assert.equal(net.get("s1").memberStatus("s2"), "alive");
    // The refutation carries a time past 50: join {LTime ≥ 51, Node s2}.
    const sent = net.sent.slice(before).filter((x) =>
      x.from === "s2" && x.t.kind === "packet"
    )
      .map((x) => toHex((x.t as { bytes: Uint8Array }).bytes));
    assert.ok(
      sent.some((h) =>
        /080182a54c54696d65(3[3-9a-f]|cc[0-9a-f]{2})a44e6f6465a27332/.test(h)
      ),
      sent.join("\n"),
    );
  },
);

test(
  "an intent that arrives before the member is buffered and applied at its join",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    net.add("s2", "127.0.0.2");
    // s1 hears that s2 is leaving before it ever heard of s2.
    net.invoke("s1", (s, now) =>
      s.handlePacket(
        encodeUser(encodeLeaveIntent({ ltime: 7, node: "s2", prune: false })),
        { host: "127.0.0.3", port: 7946 },
        now,
      ));
    assert.equal(net.get("s1").memberStatus("s2"), "none");
    net.invoke(
      "s1",
      (s, now) => s.join([{ host: "127.0.0.2", port: 7946 }], false, now),
    );
    net.run(200);
    // memberlist says s2 joined; the buffered leave (7) makes it Leaving, until
    // s2's own refutation (a newer join intent) comes back.
    const joins = net.events("s1").filter((e) => e.type === "memberJoin");
    const s2join = joins.find((e) =>
      e.type === "memberJoin" && e.members[0].name === "s2"
    );
    assert.ok(s2join !== undefined && s2join.type === "memberJoin");
    assert.equal(s2join.members[0].status, "leaving");
    net.run(3_000);
    assert.equal(net.get("s1").memberStatus("s2"), "alive");
  },
);
