import { test } from "node:test";
import assert from "node:assert/strict";
import { memberlistCluster } from "../../src/testing/memberlist_sim.ts";
import { runScenario } from "../../src/testing/scenario.ts";
import { SimNetwork } from "../../src/testing/sim_network.ts";
import { TraceRecorder } from "../../src/testing/trace.ts";
import { generateScenario, runVoprSeed } from "../../src/testing/vopr.ts";
import { addr, type FakeEvent, FakeMachine, tag } from "./_fake_machine.ts";

// Everything the fault injector can do, so every random draw is exercised.
const STORY = `
  start 5
  join all
  run 5s
  loss 10%
  dup 5%
  jitter 20ms
  pause b 2s
  run 3s
  partition a,b | c,d,e
  run 20s
  heal
  crash c
  block d->e
  run 15s
  unblock d->e
  restart c
  leave e
  run 30s
`;

function traceOf(seed: number): { hash: string; count: number } {
  const c = memberlistCluster({ seed, expectedSize: 5 });
  runScenario(c, STORY);
  return { hash: c.trace.hash(), count: c.trace.count };
}

test(
  "same seed, same trace: a memberlist run with every kind of fault replays exactly",
  { timeout: 20_000 },
  () => {
    const a = traceOf(42);
    const b = traceOf(42);
    assert.ok(a.count > 1_000, `the trace covers the run (${a.count} records)`);
    assert.deepEqual(b, a);
  },
);

test("different seed, different trace", { timeout: 20_000 }, () => {
  assert.notEqual(traceOf(43).hash, traceOf(42).hash);
});

test("the network alone is deterministic for a fake machine", {
  timeout: 10_000,
}, () => {
  const run = (seed: number): string => {
    const trace = new TraceRecorder();
    const net = new SimNetwork<FakeEvent, FakeMachine>({
      seed,
      trace,
      lossRate: 0.3,
      duplicateRate: 0.1,
      jitterMs: 30,
    });
    const m = [0, 1, 2].map((i) => {
      const f = new FakeMachine(`n${i}`);
      net.addNode(f.name, addr(i), f);
      return f;
    });
    for (let i = 0; i < 300; i++) {
      net.invoke(i % 3, (f) => {
        f.send(addr((i + 1) % 3), tag(i));
        f.dial(i, addr((i + 2) % 3), tag(i), net.nowMs + 50);
        f.at(net.nowMs + (i % 7));
      });
      if (i === 100) net.pause(1);
      if (i === 150) net.resume(1);
      net.runFor(3);
    }
    net.runFor(1_000);
    assert.equal(m[0].inputs.length > 0, true);
    return trace.hash();
  };
  assert.equal(run(1), run(1));
  assert.notEqual(run(1), run(2));
});

test("a VOPR seed regenerates the same scenario and the same trace", {
  timeout: 20_000,
}, () => {
  assert.equal(generateScenario(1234), generateScenario(1234));
  const a = runVoprSeed(1234);
  const b = runVoprSeed(1234);
  assert.equal(a.ok, true, a.error ?? "");
  assert.equal(b.traceHash, a.traceHash);
  assert.equal(b.steps, a.steps);
});
