import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Coalescer,
  MemberCoalescePolicy,
  UserCoalescePolicy,
} from "../../src/serf/coalesce.ts";
import type {
  MemberEvent,
  SerfMemberInfo,
  UserEvent,
} from "../../src/serf/events.ts";
import { recordEvents, serfCluster } from "./_harness.ts";

function member(
  name: string,
  tags: Record<string, string> = {},
): SerfMemberInfo {
  return {
    name,
    addr: { host: "10.0.0.1", port: 7946 },
    tags: new Map(Object.entries(tags)),
    status: "alive",
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 4,
  };
}

const ev = (type: MemberEvent["type"], ...names: string[]): MemberEvent => ({
  type,
  members: names.map((n) => member(n)),
});

test(
  "member coalescing: newest event per member, one event per type, flush at the quiescent period",
  { timeout: 5_000 },
  () => {
    const c = new Coalescer<MemberEvent>(
      3_000,
      1_000,
      new MemberCoalescePolicy(),
    );
    assert.equal(c.offer(ev("memberJoin", "a"), 0), true);
    assert.equal(c.offer(ev("memberJoin", "b"), 100), true);
    assert.equal(c.offer(ev("memberFailed", "a"), 200), true);
    assert.equal(c.nextDeadline(), 1_200, "quiet 1 s after the last event");
    assert.deepEqual(c.due(1_199), []);
    const out = c.due(1_200);
    assert.deepEqual(out.map((e) => [e.type, e.members.map((m) => m.name)]), [
      ["memberJoin", ["b"]],
      ["memberFailed", ["a"]],
    ]);
    assert.equal(c.nextDeadline(), null);
  },
);

test(
  "member coalescing: the period caps a busy window; repeats of the last sent event are dropped",
  { timeout: 5_000 },
  () => {
    const c = new Coalescer<MemberEvent>(
      3_000,
      1_000,
      new MemberCoalescePolicy(),
    );
    for (let t = 0; t <= 2_800; t += 400) c.offer(ev("memberJoin", "a"), t);
    assert.equal(c.nextDeadline(), 3_000, "the quantum ends first");
    assert.equal(c.due(3_000).length, 1);
    c.offer(ev("memberJoin", "a"), 3_100); // same as last sent
    assert.deepEqual(c.due(5_000), []);
    c.offer(ev("memberUpdate", "a"), 6_000);
    assert.equal(c.due(7_000).length, 1);
    // An identical update again is a repeat; a changed one is not.
    c.offer(ev("memberUpdate", "a"), 8_000);
    assert.deepEqual(c.due(9_000), []);
    c.offer(
      { type: "memberUpdate", members: [member("a", { role: "db" })] },
      10_000,
    );
    assert.equal(c.due(11_000).length, 1);
  },
);

test(
  "user coalescing: only coalescable events; per name only the newest LTime survives",
  { timeout: 5_000 },
  () => {
    const c = new Coalescer<UserEvent>(3_000, 1_000, new UserCoalescePolicy());
    const u = (name: string, ltime: number, coalesce = true): UserEvent => ({
      type: "user",
      name,
      ltime,
      payload: null,
      coalesce,
    });
    assert.equal(c.offer(u("deploy", 1, false), 0), false, "passes through");
    c.offer(u("deploy", 2), 0);
    c.offer(u("deploy", 4), 10);
    c.offer(u("deploy", 3), 20);
    c.offer(u("deploy", 4), 30);
    c.offer(u("restart", 1), 40);
    const out = c.due(1_040);
    assert.deepEqual(out.map((e) => `${e.name}@${e.ltime}`), [
      "deploy@4",
      "deploy@4",
      "restart@1",
    ]);
  },
);

test("an agent-configured Serf coalesces member joins into one event", {
  timeout: 20_000,
}, () => {
  const c = serfCluster({
    seed: 5,
    config: { coalescePeriodMs: 3_000, quiescentPeriodMs: 1_000 },
  });
  c.start(5);
  const log = recordEvents(c);
  c.joinAll();
  c.run(10_000);
  const joins = (log.get("a") ?? []).filter((x) => x.e.type === "memberJoin");
  const names = joins.flatMap((x) =>
    x.e.type === "memberJoin" ? x.e.members.map((m) => m.name) : []
  );
  assert.deepEqual([...names].sort(), ["a", "b", "c", "d", "e"]);
  assert.ok(joins.length < 5, `coalesced into ${joins.length} events`);
});
