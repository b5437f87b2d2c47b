import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseDuration,
  parseScenario,
  runScenario,
  ScenarioError,
} from "../../src/testing/scenario.ts";
import { memberlistCluster } from "../../src/testing/memberlist_sim.ts";

test("durations parse to whole milliseconds", { timeout: 10_000 }, () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("3s"), 3000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.throws(() => parseDuration("3 s"), SyntaxError);
  assert.throws(() => parseDuration("fast"), SyntaxError);
});

test("every command parses, with comments and blank lines ignored", {
  timeout: 10_000,
}, () => {
  const cmds = parseScenario(`
    start 5        # five members
    join all
    join c,d to a,b
    run 30s
    partition a,b | c,d,e
    heal
    crash c
    restart c
    restart d norejoin
    pause b 3s
    pause e
    resume e
    leave a
    loss 20%
    dup 1.5%
    latency 5ms
    jitter 10ms
    block a->b
    unblock a -> b
    expect c dead on a,b
    expect alive c on all within 10s
    expect converged within 1m
    expect converged
    expect no false positives
  `);
  assert.deepEqual(cmds.map((c) => c.op), [
    "start",
    "join",
    "join",
    "run",
    "partition",
    "heal",
    "crash",
    "restart",
    "restart",
    "pause",
    "pause",
    "resume",
    "leave",
    "loss",
    "dup",
    "latency",
    "jitter",
    "block",
    "unblock",
    "expectState",
    "expectState",
    "expectConverged",
    "expectConverged",
    "expectNoFalsePositives",
  ]);
  assert.deepEqual(cmds[2], {
    line: 4,
    text: "join c,d to a,b",
    op: "join",
    who: ["c", "d"],
    to: ["a", "b"],
  });
  assert.deepEqual(cmds[4], {
    line: 6,
    text: "partition a,b | c,d,e",
    op: "partition",
    groups: [["a", "b"], ["c", "d", "e"]],
  });
  assert.deepEqual(cmds[8], {
    line: 10,
    text: "restart d norejoin",
    op: "restart",
    who: "d",
    rejoin: false,
  });
  assert.deepEqual(cmds[9], {
    line: 11,
    text: "pause b 3s",
    op: "pause",
    who: "b",
    ms: 3000,
  });
  assert.equal((cmds[14] as { rate: number }).rate, 0.015);
  assert.deepEqual(cmds[19], {
    line: 21,
    text: "expect c dead on a,b",
    op: "expectState",
    target: "c",
    state: "dead",
    on: ["a", "b"],
    withinMs: null,
  });
  assert.deepEqual(cmds[20], {
    line: 22,
    text: "expect alive c on all within 10s",
    op: "expectState",
    target: "c",
    state: "alive",
    on: "all",
    withinMs: 10_000,
  });
  assert.equal((cmds[21] as { withinMs: number }).withinMs, 60_000);
});

test("a bad line is reported with its number", { timeout: 10_000 }, () => {
  for (
    const [script, line, pattern] of [
      ["start 3\nfly away", 2, /Unknown command: "fly"/],
      ["start 0", 1, /Invalid count/],
      ["start 3\n\nrun soon", 3, /Invalid duration/],
      ["loss 120%", 1, /above 100%/],
      ["expect c sleepy on a", 1, /Invalid state/],
      ["expect c on a", 1, /Invalid expectation/],
      ["block a", 1, /Invalid link/],
    ] as const
  ) {
    assert.throws(
      () => parseScenario(script),
      (e: unknown) =>
        e instanceof ScenarioError && e.line === line &&
        pattern.test(e.message),
      script,
    );
  }
});

test("a scenario runs on memberlist: crash, detect, restart, converge", {
  timeout: 20_000,
}, () => {
  const c = memberlistCluster({ seed: 7, expectedSize: 4 });
  runScenario(
    c,
    `start 4
     join all
     expect converged within 70s
     crash d
     expect d dead on a,b,c within 20s
     restart d
     expect alive d on all within 10s
     expect converged within 30s
     expect no false positives`,
  );
  assert.equal(c.instance("d"), 1);
  assert.equal(c.violationCount, 0);
});

test("an unmet expectation fails with what each observer saw", {
  timeout: 20_000,
}, () => {
  const c = memberlistCluster({ seed: 7, expectedSize: 3 });
  assert.throws(
    () =>
      runScenario(
        c,
        "start 3\njoin all\nrun 5s\ncrash c\nexpect c dead on a,b within 1s",
      ),
    (e: unknown) =>
      e instanceof ScenarioError && e.line === 5 &&
      /not met within 1000 ms/.test(e.message) &&
      /a sees c (alive|suspect)/.test(e.message),
  );
});

test("unknown members in a scenario are reported with the line", {
  timeout: 10_000,
}, () => {
  const c = memberlistCluster({ seed: 1, expectedSize: 3 });
  assert.throws(
    () => runScenario(c, "start 3\ncrash zz"),
    (e: unknown) =>
      e instanceof ScenarioError && e.line === 2 &&
      /Unknown member: zz/.test(e.message),
  );
});
