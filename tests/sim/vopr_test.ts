import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatFailure,
  generateScenario,
  runVopr,
  runVoprSeed,
} from "../../src/testing/vopr.ts";
import { parseScenario } from "../../src/testing/scenario.ts";
import { main } from "../../src/testing/vopr_main.ts";

test(
  "VOPR: 200 random seeds (3–7 members, random faults) with zero invariant violations",
  { timeout: 60_000 },
  () => {
    const started = performance.now();
    const summary = runVopr(1, 200);
    const wallS = (performance.now() - started) / 1000;
    console.log(
      `vopr: 200 seeds, ${
        (summary.virtualMs / 1000).toFixed(0)
      } virtual s, ${summary.steps} steps, ` +
        `${summary.falsePositives} false positives, ${wallS.toFixed(1)} s wall`,
    );
    assert.deepEqual(summary.failures.map(formatFailure), []);
  },
);

test("VOPR: generated scenarios parse and cover every kind of fault", {
  timeout: 10_000,
}, () => {
  const ops = new Set<string>();
  for (let seed = 1; seed <= 200; seed++) {
    for (const c of parseScenario(generateScenario(seed))) ops.add(c.op);
  }
  for (
    const op of [
      "start",
      "join",
      "run",
      "crash",
      "restart",
      "pause",
      "partition",
      "heal",
      "loss",
      "dup",
      "latency",
      "jitter",
      "block",
      "unblock",
      "leave",
      "resume",
      "expectConverged",
    ]
  ) {
    assert.ok(ops.has(op), `some seed uses ${op}`);
  }
  assert.match(generateScenario(5, { members: 9 }), /^start 9$/m);
});

test("VOPR: a failure report names the seed, the scenario and the trace", {
  timeout: 10_000,
}, () => {
  const r = runVoprSeed(7, { members: 3 });
  assert.equal(r.ok, true);
  const text = formatFailure({
    ...r,
    ok: false,
    error: "Example",
    trace: ["1.000s timer a"],
  });
  assert.match(text, /^seed=7 FAILED: Example/);
  assert.match(text, /start 3/);
  assert.match(text, /1\.000s timer a/);
  assert.match(text, /--seed 7/);
});

test("VOPR CLI: replays one seed and sweeps a few", { timeout: 20_000 }, () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]): void => {
    lines.push(args.join(" "));
  };
  try {
    assert.equal(main(["--seed", "3"]), 0);
    assert.equal(main(["--seeds", "3", "--first", "10", "--members", "4"]), 0);
  } finally {
    console.log = log;
  }
  assert.ok(
    lines.some((l) => /^seed=3 ok trace=[0-9a-f]{16}/.test(l)),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => /^vopr: 3 seeds from 10, 0 failed/.test(l)),
    lines.join("\n"),
  );
  assert.throws(() => main(["--seeds", "0"]), RangeError);
  assert.throws(() => main(["--profile", "fast"]), RangeError);
});
