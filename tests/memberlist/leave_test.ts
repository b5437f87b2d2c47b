import { test } from "node:test";
import assert from "node:assert/strict";
import { Net } from "./_harness.ts";
import { openPacket } from "../../src/memberlist/wire.ts";
import { encodeAccusation, MessageType } from "../../src/codec/messages.ts";

function cluster(names: string[], config = {}): Net {
  const net = new Net();
  for (const n of names) net.add(n, { config });
  for (const n of names.slice(1)) net.join(n, [names[0]]);
  net.run(3000);
  return net;
}

test("leave: dead{self, From: self}; leaveDone once the broadcast used its transmits", () => {
  const net = cluster(["a", "b", "c"]);
  const start = net.now;
  const op = net.get("a").leave(10_000, net.now);
  let done;
  for (let i = 0; i < 5000 && !done; i++) {
    net.run(1);
    done = net.events("a").find((e) => e.type === "leaveDone");
  }
  assert.ok(done && done.type === "leaveDone");
  assert.equal(done.opId, op);
  assert.equal(done.timedOut, false);
  assert.ok(net.now - start < 2000, `took ${net.now - start} ms`);
  // exactly retransmitMult × ceil(log10(3 + 1)) = 4 copies of the dead left a
  const deads = net.packets.filter((p) => p.from === "a" && p.at >= start)
    .flatMap((p) => openPacket(p.bytes, () => {}))
    .filter((m) => m.type === "dead");
  assert.equal(deads.length, 4);
  for (const d of deads) {
    assert.ok(d.type === "dead");
    assert.equal(d.msg.node, "a");
    assert.equal(d.msg.from, "a");
  }
  net.run(500);
  assert.equal(net.stateOf("b", "a"), "left");
  assert.equal(net.stateOf("c", "a"), "left");
  assert.equal(net.get("a").localMember().state, "left");
});

test("leave with nobody else alive completes at once", () => {
  const net = new Net();
  net.add("a");
  const op = net.get("a").leave(10_000, 0);
  net.flush();
  const done = net.events("a").find((e) => e.type === "leaveDone");
  assert.ok(done?.type === "leaveDone" && done.opId === op && !done.timedOut);
});

test("leave times out when the broadcast cannot go out in time", () => {
  const net = cluster(["a", "b"], { gossipNodes: 0 });
  const start = net.now;
  net.get("a").leave(100, net.now);
  net.run(99);
  assert.equal(net.events("a").filter((e) => e.type === "leaveDone").length, 0);
  net.run(1);
  const done = net.events("a").find((e) => e.type === "leaveDone");
  assert.ok(done?.type === "leaveDone" && done.timedOut, "timed out");
  assert.equal(net.now - start, 100);
});

test("a second leave completes at once; after leaving, accusations are not refuted", () => {
  const net = cluster(["a", "b"]);
  const m = net.get("a");
  m.leave(5000, net.now);
  net.run(3000);
  const op2 = m.leave(5000, net.now);
  net.flush();
  assert.ok(
    net.events("a").some((e) => e.type === "leaveDone" && e.opId === op2),
  );
  const inc = m.localMember().incarnation;
  m.handlePacket(
    encodeAccusation(MessageType.dead, {
      node: "a",
      incarnation: inc + 5,
      from: "b",
    }),
    net.addr("b"),
    net.now,
  );
  assert.equal(m.localMember().incarnation, inc, "no refute while leaving");
  assert.equal(m.localMember().state, "left");
  assert.equal(m.stats().refutes, 0);
});

test("left members stay in the table; dead ones are reaped after gossipToTheDeadTime", () => {
  const net = cluster(["a", "b", "c"], { gossipToTheDeadTimeMs: 5000 });
  net.get("b").leave(5000, net.now);
  net.run(3000);
  net.down.add("b");
  net.down.add("c");
  net.run(40_000);
  const names = net.get("a").members().map((m) => `${m.name}:${m.state}`);
  assert.deepEqual(
    names,
    ["a:alive", "b:left"],
    "c (dead) was reaped, b (left) stays (0.2.2)",
  );
});

test("shutdown: pending joins fail, then no transmits, deadlines or handling", () => {
  const net = new Net();
  net.add("a");
  const m = net.get("a");
  const op = m.join([{ host: "10.0.0.50", port: 7946 }], 0);
  m.shutdown(0);
  const events = [];
  for (let e = m.pollEvent(); e; e = m.pollEvent()) events.push(e);
  const jd = events.find((e) => e.type === "joinDone");
  assert.ok(jd?.type === "joinDone" && jd.opId === op && jd.joined === 0);
  assert.equal(m.pollTransmit(), undefined);
  assert.equal(m.nextDeadline(), null);
  m.handleTimeout(100_000);
  m.handlePacket(Uint8Array.of(0), { host: "10.0.0.2", port: 1 }, 0);
  assert.equal(m.pollTransmit(), undefined);
  assert.equal(m.stats().packetsIn, 0);
});

test("a graceful leave is seen as left, a crash as dead, by the rest", () => {
  const net = cluster(["a", "b", "c", "d"]);
  net.get("b").leave(5000, net.now);
  net.run(2000);
  net.get("b").shutdown(net.now);
  net.down.add("b");
  net.down.add("c");
  net.run(20_000);
  assert.equal(net.stateOf("a", "b"), "left");
  assert.equal(net.stateOf("d", "b"), "left");
  assert.equal(net.stateOf("a", "c"), "dead");
  assert.equal(net.stateOf("d", "c"), "dead");
  const ev = net.events("a").filter((e) => e.type === "leave").map((e) =>
    e.type === "leave" && `${e.member.name}:${e.member.state}`
  );
  assert.deepEqual(ev, ["b:left", "c:dead"]);
});
