import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SimNetwork,
  type SimNetworkOptions,
} from "../../src/testing/sim_network.ts";
import {
  addr,
  type FakeEvent,
  FakeMachine,
  tag,
  untag,
} from "./_fake_machine.ts";

function world(
  n: number,
  options: Omit<SimNetworkOptions<FakeEvent>, "seed"> & { seed?: number } = {},
): { net: SimNetwork<FakeEvent, FakeMachine>; m: FakeMachine[] } {
  const net = new SimNetwork<FakeEvent, FakeMachine>({ seed: 1, ...options });
  const m: FakeMachine[] = [];
  for (let i = 0; i < n; i++) {
    const f = new FakeMachine(`n${i}`);
    m.push(f);
    net.addNode(f.name, addr(i), f);
  }
  return { net, m };
}

function sendMany(
  net: SimNetwork<FakeEvent, FakeMachine>,
  from: number,
  to: number,
  count: number,
): void {
  net.invoke(from, (f) => {
    for (let i = 0; i < count; i++) f.send(addr(to), tag(i));
  });
}

test(
  "packets arrive after base latency plus jitter, and jitter reorders them",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { latencyMs: 5, jitterMs: 10 });
    sendMany(net, 0, 1, 1000);
    net.runFor(100);
    const got = m[1].of("packet");
    assert.equal(got.length, 1000);
    for (const p of got) {
      assert.ok(
        p.atMs >= 5 && p.atMs <= 15,
        `arrived at ${p.atMs}`,
      );
    }
    const order = got.map((p) => untag(p.bytes!));
    const moved = order.filter((v, i) => v !== i).length;
    assert.ok(moved > 800, `jitter reorders packets (${moved} out of place)`);
    assert.equal(got[0].from, "10.0.0.1");
  },
);

test(
  "without jitter, packets on a link keep their order",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { latencyMs: 3, jitterMs: 0 });
    sendMany(net, 0, 1, 100);
    net.runFor(10);
    assert.deepEqual(m[1].of("packet").map((p) => untag(p.bytes!)), [
      ...Array(100).keys(),
    ]);
    assert.ok(m[1].of("packet").every((p) => p.atMs === 3));
  },
);

test("loss drops the configured fraction of packets (statistically)", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { lossRate: 0.2 });
  sendMany(net, 0, 1, 20_000);
  net.runFor(100);
  const delivered = m[1].of("packet").length;
  // Binomial(20000, 0.8): sd ≈ 57; ±4 sd.
  assert.ok(
    Math.abs(delivered - 16_000) < 230,
    `delivered ${delivered} of 20000`,
  );
  assert.equal(net.stats().dropped.get("loss"), 20_000 - delivered);
});

test("duplication delivers extra copies at the configured rate", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { duplicateRate: 0.1 });
  sendMany(net, 0, 1, 10_000);
  net.runFor(100);
  const extra = m[1].of("packet").length - 10_000;
  assert.ok(Math.abs(extra - 1000) < 120, `${extra} duplicates`);
  assert.equal(net.stats().packetsDuplicated, extra);
});

test(
  "a partition cuts packets both ways between groups, keeps them within, and heal restores",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(4);
    net.partition([[0, 1], [2, 3]]);
    sendMany(net, 0, 1, 5);
    sendMany(net, 0, 2, 5);
    sendMany(net, 3, 1, 5);
    sendMany(net, 3, 2, 5);
    net.runFor(50);
    assert.equal(m[1].of("packet").length, 5);
    assert.equal(m[2].of("packet").length, 5);
    assert.equal(m[2].inputs.filter((i) => i.from === "10.0.0.1").length, 0);
    assert.equal(net.stats().dropped.get("partition"), 10);
    net.heal();
    sendMany(net, 0, 2, 5);
    net.runFor(50);
    assert.equal(m[2].of("packet").length, 10);
  },
);

test(
  "a partition also cuts packets already in flight",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { latencyMs: 10, jitterMs: 0 });
    sendMany(net, 0, 1, 3);
    net.runFor(5);
    net.partition([[0], [1]]);
    net.runFor(20);
    assert.equal(m[1].of("packet").length, 0);
  },
);

test("unlisted members form one more group", { timeout: 10_000 }, () => {
  const { net } = world(4);
  net.partition([[0]]);
  assert.equal(net.reachable(1, 2), true);
  assert.equal(net.reachable(0, 3), false);
});

test("a one-way block drops one direction only", { timeout: 10_000 }, () => {
  const { net, m } = world(2);
  net.block(0, 1);
  sendMany(net, 0, 1, 5);
  sendMany(net, 1, 0, 5);
  net.runFor(50);
  assert.equal(m[1].of("packet").length, 0);
  assert.equal(m[0].of("packet").length, 5);
  net.block(0, 1, false);
  sendMany(net, 0, 1, 5);
  net.runFor(50);
  assert.equal(m[1].of("packet").length, 5);
});

test("per-link overrides change one direction's loss and latency", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(3, { latencyMs: 1, jitterMs: 0 });
  net.setLink(0, 1, { lossRate: 1 });
  net.setLink(0, 2, { latencyMs: 40 });
  sendMany(net, 0, 1, 10);
  sendMany(net, 0, 2, 1);
  net.runFor(100);
  assert.equal(m[1].of("packet").length, 0);
  assert.equal(m[2].of("packet")[0].atMs, 40);
  assert.equal(
    net.faultySince(1, 0),
    true,
    "a degraded link counts as a fault",
  );
  net.setLink(0, 1, null);
  assert.equal(net.faultySince(1, net.nowMs + 1), false);
});

test("timers fire at their deadlines, and a late re-arm still fires once", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(1);
  net.invoke(0, (f) => {
    f.at(100);
    f.at(50);
    f.at(50);
  });
  net.runFor(200);
  const timers = m[0].of("timer");
  assert.deepEqual(timers.map((t) => t.atMs), [50, 50, 100]);
  assert.equal(net.stats().timers, 2, "one wake per distinct deadline");
});

test(
  "a paused member queues packets up to its buffer, drops the rest, and gets them at resume",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, {
      pauseBufferPackets: 10,
      latencyMs: 1,
      jitterMs: 0,
    });
    net.pause(1);
    sendMany(net, 0, 1, 25);
    net.runFor(500);
    assert.equal(m[1].inputs.length, 0, "a paused member runs nothing");
    assert.equal(net.node(1).queued, 10);
    assert.equal(net.stats().dropped.get("buffer"), 15);
    net.resume(1);
    const got = m[1].of("packet");
    assert.deepEqual(
      got.map((p) => untag(p.bytes!)),
      [...Array(10).keys()],
      "arrival order kept",
    );
    assert.ok(
      got.every((p) => p.atMs === 500),
      "all delivered at the resume time",
    );
  },
);

test(
  "a paused member's timers fire late, at resume, before its queued inputs",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { latencyMs: 1, jitterMs: 0 });
    net.invoke(1, (f) => f.at(100));
    net.pause(1);
    net.runFor(50);
    sendMany(net, 0, 1, 1);
    net.runFor(250);
    assert.equal(m[1].inputs.length, 0);
    net.resume(1);
    assert.deepEqual(m[1].inputs.map((i) => [i.kind, i.atMs]), [
      ["timer", 300],
      ["packet", 300],
    ]);
  },
);

test("resume order can put inputs first", { timeout: 10_000 }, () => {
  const { net, m } = world(2, {
    latencyMs: 1,
    jitterMs: 0,
    resumeOrder: "inputsFirst",
  });
  net.invoke(1, (f) => f.at(100));
  net.pause(1);
  sendMany(net, 0, 1, 1);
  net.runFor(200);
  net.resume(1);
  assert.deepEqual(m[1].inputs.map((i) => i.kind), ["packet", "timer"]);
});

test("a call into a paused member runs at resume, in order", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { latencyMs: 1, jitterMs: 0 });
  net.pause(0);
  net.invoke(0, (f) => f.send(addr(1), tag(7)));
  net.runFor(100);
  assert.equal(m[1].inputs.length, 0);
  net.resume(0);
  net.runFor(10);
  assert.equal(untag(m[1].of("packet")[0].bytes!), 7);
});

test("a stream delivers the dial to the acceptor and its reply to the dialer", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { latencyMs: 2, jitterMs: 0 });
  net.invoke(0, (f) => f.dial(9, addr(1), tag(42), 10_000));
  net.runFor(100);
  const s = m[1].of("stream");
  assert.equal(s.length, 1);
  assert.equal(s[0].atMs, 6, "three one-way delays: handshake + first message");
  assert.equal(s[0].from, "10.0.0.1");
  const r = m[0].of("reply");
  assert.equal(r.length, 1);
  assert.equal(r[0].id, 9);
  assert.equal(untag(r[0].bytes!), 42);
  assert.equal(r[0].atMs, 8);
  net.runFor(20_000);
  assert.equal(m[0].of("reply").length, 1, "the later deadline is moot");
  assert.equal(net.openStreams, 0);
});

test("a stream across a partition fails at the dialer's deadline", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2);
  net.partition([[0], [1]]);
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 3_000));
  net.runFor(10_000);
  assert.equal(m[1].of("stream").length, 0);
  const r = m[0].of("reply");
  assert.equal(r.length, 1);
  assert.match(r[0].error!, /timeout/);
  assert.equal(r[0].atMs, 3_000);
});

test("a one-way block also breaks streams (TCP needs both directions)", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2);
  net.block(1, 0);
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 1_000));
  net.runFor(2_000);
  assert.match(m[0].of("reply")[0].error!, /timeout/);
});

test("a dial to a crashed member is refused about a round trip later", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { latencyMs: 2, jitterMs: 0 });
  net.crash(1);
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 10_000));
  net.runFor(20_000);
  const r = m[0].of("reply");
  assert.equal(r.length, 1);
  assert.match(r[0].error!, /refused/);
  assert.equal(r[0].atMs, 8);
});

test("a dial to an address nobody has hangs until the deadline", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(1);
  net.invoke(0, (f) => f.dial(1, addr(5), tag(1), 700));
  net.runFor(1_000);
  assert.equal(m[0].of("reply")[0].atMs, 700);
});

test("a null reply fails the stream with EOF", { timeout: 10_000 }, () => {
  const { net, m } = world(2);
  m[1].answer = "null";
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 1_000));
  net.runFor(100);
  assert.match(m[0].of("reply")[0].error!, /EOF/);
});

test("a one-way stream completes with an empty message once read", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2);
  m[1].answer = "none";
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 1_000, false));
  net.runFor(100);
  assert.equal(m[1].of("stream").length, 1);
  assert.equal(m[0].of("reply")[0].bytes?.length, 0);
});

test(
  "a paused acceptor answers at resume; after the deadline the answer is dropped",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(3, { latencyMs: 1, jitterMs: 0 });
    net.pause(1);
    net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 500));
    net.invoke(2, (f) => f.dial(2, addr(1), tag(2), 5_000));
    net.runFor(1_000);
    assert.match(m[0].of("reply")[0].error!, /timeout/);
    net.resume(1);
    net.runFor(100);
    assert.equal(
      m[1].of("stream").length,
      2,
      "the kernel accepted both while paused",
    );
    assert.equal(
      m[0].of("reply").length,
      1,
      "the late answer does not reach the timed-out dialer",
    );
    assert.equal(m[2].of("reply")[0].error, null);
  },
);

test("crash of the acceptor before it answers resets the dialer's stream", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2);
  m[1].answer = "none";
  net.invoke(0, (f) => f.dial(1, addr(1), tag(1), 5_000));
  net.runFor(100);
  net.crash(1);
  net.runFor(100);
  assert.match(m[0].of("reply")[0].error!, /reset/);
});

test(
  "a crashed member gets nothing; its restarted instance gets new packets but not old replies",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { latencyMs: 5, jitterMs: 0 });
    net.invoke(1, (f) => f.dial(1, addr(0), tag(1), 1_000));
    sendMany(net, 0, 1, 3);
    net.runFor(2);
    net.crash(1);
    net.runFor(100);
    assert.equal(m[1].inputs.length, 0);
    assert.equal(net.stats().dropped.get("down"), 3);
    const fresh = new FakeMachine("n1");
    net.restart(1, fresh);
    assert.equal(net.node(1).instance, 1);
    sendMany(net, 0, 1, 2);
    net.runFor(2_000);
    assert.equal(fresh.of("packet").length, 2);
    assert.equal(
      fresh.of("reply").length,
      0,
      "the old instance's stream died with it",
    );
  },
);

test("packets already on the wire from a member that crashes still arrive", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { latencyMs: 5, jitterMs: 0 });
  sendMany(net, 0, 1, 2);
  net.crash(0);
  net.runFor(10);
  assert.equal(m[1].of("packet").length, 2);
});

test("the scheduled-item bound drops packets instead of growing", {
  timeout: 10_000,
}, () => {
  const { net, m } = world(2, { maxScheduled: 100 });
  sendMany(net, 0, 1, 500);
  assert.ok(net.scheduled <= 100);
  net.runFor(100);
  assert.ok(m[1].of("packet").length <= 100);
  assert.ok((net.stats().dropped.get("overload") ?? 0) >= 400);
});

test("oversized packets are refused and reported as an anomaly", {
  timeout: 10_000,
}, () => {
  const anomalies: string[] = [];
  const { net, m } = world(2, {
    maxPacketBytes: 10,
    hooks: { onAnomaly: (_n, text) => anomalies.push(text) },
  });
  net.invoke(0, (f) => f.send(addr(1), new Uint8Array(11)));
  net.runFor(10);
  assert.equal(m[1].inputs.length, 0);
  assert.deepEqual(anomalies, ["packet of 11 bytes exceeds 10"]);
});

test("machine events reach the hook, and afterCall runs after every call", {
  timeout: 10_000,
}, () => {
  const seen: string[] = [];
  let calls = 0;
  const { net } = world(1, {
    hooks: {
      onEvent: (_n, e) => seen.push(e.type === "note" ? e.text : e.type),
      afterCall: () => calls++,
    },
  });
  const before = calls;
  net.invoke(0, (f) => {
    f.emit("hello");
    f.at(10);
  });
  net.runFor(20);
  assert.deepEqual(seen, ["hello"]);
  assert.equal(calls - before, 2, "the call and the timer");
});

test("bad link parameters are rejected", { timeout: 10_000 }, () => {
  assert.throws(() => world(1, { lossRate: 2 }), RangeError);
  assert.throws(() => world(1, { latencyMs: -1 }), RangeError);
  const { net } = world(1);
  assert.throws(
    () => net.addNode("x", addr(0), new FakeMachine("x")),
    RangeError,
  );
  assert.throws(() => net.node(7), RangeError);
});

test(
  "streams on a lossy link are slowed by retransmission timeouts, never lost",
  { timeout: 10_000 },
  () => {
    const { net, m } = world(2, { lossRate: 0.5, latencyMs: 1, jitterMs: 0 });
    for (let i = 0; i < 200; i++) {
      net.invoke(0, (f) => f.dial(i, addr(1), tag(i), 1_000_000));
    }
    net.runFor(1_000_000);
    const r = m[0].of("reply");
    assert.equal(r.length, 200);
    assert.deepEqual(r.filter((x) => x.error !== null).map((x) => x.error), []);
    const slow = r.filter((x) => x.atMs >= 1_000).length;
    assert.ok(slow > 100, `${slow} of 200 waited for a SYN retransmission`);
  },
);

test("a node added during a partition joins the unlisted group", {
  timeout: 10_000,
}, () => {
  const { net } = world(3);
  net.partition([[0], [1]]);
  net.addNode("late", addr(3), new FakeMachine("late"));
  assert.equal(net.reachable(3, 2), true);
  assert.equal(net.reachable(3, 0), false);
  assert.equal(net.reachable(1, 3), false);
});
