import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deathChecker,
  detectionChecker,
  machineChecker,
  selfChecker,
  viewChecker,
} from "../../src/testing/checkers.ts";
import {
  type Checker,
  type MachineHooks,
  memberHost,
  memberName,
  SimCluster,
  SimulationError,
} from "../../src/testing/sim_cluster.ts";
import { type FakeEvent, FakeMachine } from "./_fake_machine.ts";

const HOOKS: MachineHooks<FakeMachine, FakeEvent> = {
  members: (m) => m.view,
  self: (m) =>
    m.view.find((e) => e.name === m.name) ??
      { name: m.name, state: "alive", incarnation: 1 },
  classify: (e) =>
    e.type === "member"
      ? { kind: "member", entry: e.entry }
      : e.type === "leaveDone"
      ? { kind: "leaveDone" }
      : { kind: "other" },
  leave: () => {},
  queues: (m) => [{ name: "q", size: m.queueSize, bound: 10 }],
  decodeErrors: (m) => m.decodeErrors,
};

function cluster(
  checkers: Checker<FakeMachine, FakeEvent>[],
  failFast = true,
): SimCluster<FakeMachine, FakeEvent> {
  const c = new SimCluster<FakeMachine, FakeEvent>({
    seed: 1,
    factory: (name) => new FakeMachine(name),
    hooks: HOOKS,
    checkers,
    failFast,
  });
  c.start(3);
  return c;
}

test("members get names a, b, … z, aa and fake 10.x.y.z addresses", {
  timeout: 10_000,
}, () => {
  assert.deepEqual([0, 1, 25, 26, 27, 701, 702].map(memberName), [
    "a",
    "b",
    "z",
    "aa",
    "ab",
    "zz",
    "aaa",
  ]);
  assert.equal(memberHost(0), "10.0.0.1");
  assert.equal(memberHost(300), "10.0.1.45");
  const c = cluster([]);
  assert.deepEqual(c.names(), ["a", "b", "c"]);
  assert.equal(c.addr("b").host, "10.0.0.2");
  assert.throws(() => c.add("a"), RangeError);
});

test("self checker: a member that sees itself suspect is a violation", {
  timeout: 10_000,
}, () => {
  const c = cluster([selfChecker()]);
  assert.throws(
    () =>
      c.invoke(
        "a",
        (m) => m.see({ name: "a", state: "suspect", incarnation: 1 }),
      ),
    (e: unknown) =>
      e instanceof SimulationError && /a sees itself suspect/.test(e.message),
  );
});

test(
  "self checker: its own incarnation must not go down",
  { timeout: 10_000 },
  () => {
    const c = cluster([selfChecker()], false);
    c.invoke("a", (m) => m.see({ name: "a", state: "alive", incarnation: 5 }));
    c.invoke("a", (m) => m.see({ name: "a", state: "alive", incarnation: 4 }));
    assert.equal(c.violationCount, 1);
    assert.match(c.violations[0].text, /from 5 to 4/);
  },
);

test("view checker: a phantom name in a view is a violation", {
  timeout: 10_000,
}, () => {
  const c = cluster([viewChecker({ reapAfterMs: 1000 })], false);
  c.invoke(
    "a",
    (m) => m.see({ name: "ghost", state: "alive", incarnation: 1 }),
  );
  assert.match(c.violations[0].text, /phantom member "ghost"/);
});

test(
  "view checker: an incarnation going down is a violation unless the dead entry could be reaped",
  { timeout: 10_000 },
  () => {
    const c = cluster(
      [viewChecker({ reapAfterMs: 1000, everyCall: true })],
      false,
    );
    c.invoke("a", (m) => m.see({ name: "b", state: "alive", incarnation: 3 }));
    c.invoke("a", (m) => m.see({ name: "b", state: "alive", incarnation: 2 }));
    assert.equal(c.violationCount, 1);
    c.invoke("a", (m) => m.see({ name: "c", state: "dead", incarnation: 3 }));
    c.run(2000);
    c.invoke("a", (m) => m.see({ name: "c", state: "alive", incarnation: 1 }));
    assert.equal(c.violationCount, 1, "relearned after reaping");
  },
);

test(
  "death checker: left without leaving is a violation; a healthy member declared dead is a false positive",
  { timeout: 10_000 },
  () => {
    const c = cluster([deathChecker({ windowMs: 5_000 })], false);
    c.run(10_000);
    c.invoke("a", (m) => m.see({ name: "b", state: "left", incarnation: 1 }));
    assert.match(c.violations[0].text, /a sees b left, but it never left/);
    c.invoke("a", (m) => m.see({ name: "c", state: "dead", incarnation: 1 }));
    assert.equal(c.falsePositiveCount, 1);
    assert.deepEqual(c.falsePositives[0], {
      timeMs: 10_000,
      observer: "a",
      target: "c",
    });
  },
);

test(
  "death checker: a recently paused, crashed or partitioned member's death is explained",
  { timeout: 10_000 },
  () => {
    const c = cluster([deathChecker({ windowMs: 5_000 })], false);
    c.pause("c", 1_000);
    c.run(3_000);
    c.invoke("a", (m) => m.see({ name: "c", state: "dead", incarnation: 1 }));
    c.partition([["a"], ["b", "c"]]);
    c.invoke("a", (m) => m.see({ name: "b", state: "dead", incarnation: 1 }));
    c.heal();
    c.run(10_000);
    c.invoke("b", (m) => m.see({ name: "a", state: "dead", incarnation: 1 }));
    assert.equal(
      c.falsePositiveCount,
      1,
      "only the death long after every fault",
    );
    assert.equal(c.violationCount, 0);
  },
);

test(
  "detection checker: a crashed member still alive in a view after the bound is a violation",
  { timeout: 10_000 },
  () => {
    const c = cluster([detectionChecker({ boundMs: 5_000 })], false);
    c.invoke("a", (m) => m.see({ name: "c", state: "alive", incarnation: 1 }));
    c.invoke("b", (m) => m.see({ name: "c", state: "alive", incarnation: 1 }));
    c.crash("c");
    c.run(1_000);
    c.invoke("b", (m) => m.see({ name: "c", state: "dead", incarnation: 1 }));
    c.run(10_000);
    assert.equal(c.violationCount, 1);
    assert.match(
      c.violations[0].text,
      /a still sees crashed c alive 5000 ms after the crash/,
    );
  },
);

test("detection checker: observers that had a fault themselves are excused", {
  timeout: 10_000,
}, () => {
  const c = cluster([detectionChecker({ boundMs: 5_000 })], false);
  c.invoke("a", (m) => m.see({ name: "c", state: "alive", incarnation: 1 }));
  c.crash("c");
  c.pause("a", 100);
  c.run(10_000);
  assert.equal(c.violationCount, 0);
});

test(
  "machine checker: queues over their bound and decode errors are violations",
  { timeout: 10_000 },
  () => {
    const c = cluster([machineChecker({ everyMs: 1 })], false);
    c.run(5);
    c.invoke("a", (m) => (m.queueSize = 11));
    assert.match(c.violations[0].text, /a's q holds 11 > 10/);
    c.invoke("b", (m) => (m.decodeErrors = 2));
    c.finish();
    assert.ok(
      c.violations.some((v) => /b dropped 2 malformed inputs/.test(v.text)),
    );
  },
);

test("a completed leave shuts the member down and takes it off the network", {
  timeout: 10_000,
}, () => {
  const c = cluster([]);
  c.leave("b");
  assert.equal(c.hasLeft("b"), true);
  assert.equal(c.status("b"), "up");
  c.invoke("b", (m) => m.leaveDone());
  c.run(1);
  assert.equal(c.status("b"), "left");
  assert.deepEqual(c.running(), ["a", "c"]);
});

test("restart makes a new instance and rejoins it through running members", {
  timeout: 10_000,
}, () => {
  const joins: string[] = [];
  const c = new SimCluster<FakeMachine, FakeEvent>({
    seed: 1,
    factory: (name) => new FakeMachine(name),
    hooks: {
      ...HOOKS,
      join: (m, seeds) =>
        joins.push(`${m.name}->${seeds.map((s) => s.host).join(",")}`),
    },
  });
  c.start(3);
  const old = c.machine("c");
  c.crash("c");
  assert.equal(c.machine("c"), null);
  c.restart("c");
  assert.notEqual(c.machine("c"), old);
  assert.equal(c.instance("c"), 1);
  assert.deepEqual(joins, ["c->10.0.0.1,10.0.0.2"]);
});

test("hooks a feature needs must be present", { timeout: 10_000 }, () => {
  const c = new SimCluster<FakeMachine, FakeEvent>({
    seed: 1,
    factory: (name) => new FakeMachine(name),
  });
  c.start(2);
  assert.throws(() => c.join("b", ["a"]), /lack join/);
  assert.throws(() => c.view("a"), /lack members/);
});

test("a member restarted after leaving runs again", { timeout: 10_000 }, () => {
  const c = cluster([]);
  c.leave("b");
  c.invoke("b", (m) => m.leaveDone());
  c.run(1);
  assert.deepEqual(c.running(), ["a", "c"]);
  c.restart("b", { rejoin: false });
  assert.deepEqual(c.running(), ["a", "b", "c"]);
  assert.equal(c.status("b"), "up");
  assert.equal(
    c.hasLeft("b"),
    true,
    "the old instance's leave still explains stale views",
  );
});
