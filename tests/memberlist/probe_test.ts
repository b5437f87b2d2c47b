import { test } from "node:test";
import assert from "node:assert/strict";
import { Net } from "./_harness.ts";
import { openPacket } from "../../src/memberlist/wire.ts";

function three(): Net {
  const net = new Net();
  net.add("a");
  net.add("b");
  net.add("c");
  net.join("b", ["a"]);
  net.join("c", ["a"]);
  net.run(5000);
  return net;
}

function types(bytes: Uint8Array): string[] {
  return openPacket(bytes, () => {}).map((m) => m.type);
}

test("join: three nodes converge to alive everywhere", () => {
  const net = three();
  for (const v of ["a", "b", "c"]) {
    assert.deepEqual(
      net.get(v).members().map((m) => `${m.name}:${m.state}`),
      ["a:alive", "b:alive", "c:alive"],
      `view of ${v}`,
    );
    assert.equal(net.get(v).numMembers(), 3);
  }
});

test("ping → ack: healthy probes keep everyone alive and report RTT to the delegate", () => {
  const rtts: Array<[string, number, number]> = [];
  const net = new Net();
  net.add("a", {
    delegate: {
      ackPayload: () => new Uint8Array([9]),
      notifyPingComplete: (m, rtt, payload) => rtts.push([m.name, rtt, payload.length]),
    },
  });
  net.add("b", { delegate: { ackPayload: () => new Uint8Array([7, 7]) } });
  net.join("b", ["a"]);
  net.run(10_000);
  assert.ok(rtts.length >= 5, `probes acked: ${rtts.length}`);
  for (const [name, rtt, len] of rtts) {
    assert.equal(name, "b");
    assert.equal(rtt, 2, "1 ms each way");
    assert.equal(len, 2, "b's ack payload reaches a's delegate");
  }
  assert.equal(net.get("a").healthScore(), 0);
  assert.equal(net.get("a").stats().probeFailures, 0);
});

test("probe of a dead node: indirect pings with nack, TCP fallback, then suspect → dead", () => {
  const net = three();
  net.down.add("c");
  const from = net.now;
  net.run(20_000);
  // a and b both find c: suspect, then dead after the suspicion timeout
  assert.equal(net.stateOf("a", "c"), "dead");
  assert.equal(net.stateOf("b", "c"), "dead");
  const ind = net.packets.filter((p) => p.at >= from && types(p.bytes).includes("indirectPing"));
  assert.ok(ind.length > 0, "indirect pings were sent");
  const nacks = net.packets.filter((p) => p.at >= from && types(p.bytes).includes("nack"));
  assert.ok(nacks.length > 0, "the relay nacked");
  const tcp = net.dials.filter((d) => d.at >= from && d.to === "c");
  assert.ok(tcp.length > 0, "TCP fallback pings were dialed");
  const leaves = net.events("a").filter((e) => e.type === "leave");
  assert.equal(leaves.length, 1);
  assert.equal(leaves[0].type === "leave" && leaves[0].member.state, "dead");
});
