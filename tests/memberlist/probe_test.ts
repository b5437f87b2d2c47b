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
      notifyPingComplete: (m, rtt, payload) =>
        rtts.push([m.name, rtt, payload.length]),
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
  const ind = net.packets.filter((p) =>
    p.at >= from && types(p.bytes).includes("indirectPing")
  );
  assert.ok(ind.length > 0, "indirect pings were sent");
  const nacks = net.packets.filter((p) =>
    p.at >= from && types(p.bytes).includes("nack")
  );
  assert.ok(nacks.length > 0, "the relay nacked");
  const tcp = net.dials.filter((d) => d.at >= from && d.to === "c");
  assert.ok(tcp.length > 0, "TCP fallback pings were dialed");
  const leaves = net.events("a").filter((e) => e.type === "leave");
  assert.equal(leaves.length, 1);
  assert.equal(leaves[0].type === "leave" && leaves[0].member.state, "dead");
});

import { Memberlist } from "../../src/memberlist/memberlist.ts";
import { lanConfig } from "../../src/config.ts";
import {
  encodeAck,
  encodeAlive,
  encodeIndirectPing,
  ipFromString,
  MessageType,
} from "../../src/codec/messages.ts";
import { addCrc } from "../../src/codec/crc32.ts";
import type { Transmit } from "../../src/machine.ts";
import { seeded } from "../helpers/prng.ts";
import { hex, toHex } from "./_harness.ts";
import { readFileSync } from "node:fs";

function vector(id: string): string {
  return JSON.parse(
    readFileSync(
      new URL(`../fixtures/vectors/udp/${id}.json`, import.meta.url),
      "utf8",
    ),
  ).hex;
}

function packets(m: Memberlist): Array<Extract<Transmit, { kind: "packet" }>> {
  const out: Array<Extract<Transmit, { kind: "packet" }>> = [];
  for (let t = m.pollTransmit(); t; t = m.pollTransmit()) {
    if (t.kind === "packet") out.push(t);
  }
  return out;
}

test("relay: indirect ping → own ping to the target; its ack is relayed with the origin seq", () => {
  const m = new Memberlist(
    lanConfig({ name: "r", bindAddr: "10.0.0.5", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  packets(m);
  const ind = encodeIndirectPing({
    seqNo: 77,
    target: ipFromString("10.0.0.2")!,
    port: 7946,
    node: "b",
    nack: true,
    sourceAddr: ipFromString("10.0.0.1")!,
    sourcePort: 7000,
    sourceNode: "a",
  });
  m.handlePacket(ind, { host: "10.0.0.1", port: 1 }, 900);
  const [ping] = packets(m);
  assert.deepEqual(ping.to, { host: "10.0.0.2", port: 7946 });
  const first = openPacket(ping.bytes, () => {})[0];
  assert.ok(first.type === "ping");
  const p = first.msg;
  assert.equal(p.node, "b");
  assert.notEqual(p.seqNo, 77, "the relay uses its own sequence number");
  m.handlePacket(
    encodeAck({ seqNo: p.seqNo, payload: Uint8Array.of(1) }),
    ping.to,
    950,
  );
  const [ack] = packets(m);
  assert.deepEqual(
    ack.to,
    { host: "10.0.0.1", port: 7000 },
    "to SourceAddr:SourcePort",
  );
  const a = openPacket(ack.bytes, () => {})[0];
  assert.ok(a.type === "ack");
  assert.deepEqual(
    a.msg,
    { seqNo: 77, payload: null },
    "relayed acks carry no payload",
  );
  m.handleTimeout(2000);
  const later = packets(m).flatMap((x) => openPacket(x.bytes, () => {}));
  assert.equal(
    later.filter((x) => x.type === "nack").length,
    0,
    "no nack after an ack",
  );
});

test("relay: no ack within ProbeTimeout → nack with the origin seq, exactly 500 ms later", () => {
  const m = new Memberlist(
    lanConfig({ name: "r", bindAddr: "10.0.0.5", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  packets(m);
  const ind = encodeIndirectPing({
    seqNo: 24,
    target: ipFromString("10.0.0.2")!,
    port: 7946,
    node: "b",
    nack: true,
    sourceAddr: null,
    sourcePort: 0,
    sourceNode: "",
  });
  m.handlePacket(ind, { host: "10.0.0.1", port: 5555 }, 100);
  packets(m);
  assert.equal(m.deadlines().find(([n]) => n.startsWith("relay:"))?.[1], 600);
  m.handleTimeout(599);
  assert.equal(packets(m).length, 0);
  m.handleTimeout(600);
  const [nack] = packets(m);
  assert.deepEqual(
    nack.to,
    { host: "10.0.0.1", port: 5555 },
    "no SourceAddr: the UDP source",
  );
  // Our own alive is still queued (no gossip targets), so it rides along.
  const msgs = openPacket(nack.bytes, () => {});
  assert.equal(msgs[0].type, "nack");
  assert.deepEqual(msgs[0].type === "nack" && msgs[0].msg, { seqNo: 24 });
  const part = nack.bytes.subarray(
    2 + 2 * nack.bytes[1],
    2 + 2 * nack.bytes[1] + 9,
  );
  assert.equal(toHex(part), vector("udp-nack"), "byte-exact with serf's nack");
});

test("first probe ping is byte-identical to serf's (udp-ping: s2 → s1, seq 1, no CRC)", () => {
  const m = new Memberlist(
    lanConfig({ name: "s2", bindAddr: "127.0.0.2", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  m.handlePacket(
    encodeAlive({
      node: "s1",
      incarnation: 1,
      addr: ipFromString("127.0.0.1")!,
      port: 7946,
      meta: new Uint8Array(0),
      vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
    }),
    { host: "127.0.0.1", port: 7946 },
    0,
  );
  // let gossip drain the queued alives so the ping carries no piggyback
  for (let t = 200; t < 1000; t += 200) m.handleTimeout(t);
  packets(m);
  m.handleTimeout(1000);
  const ping = packets(m).find((p) => p.bytes[0] === MessageType.ping);
  assert.ok(ping, "a bare ping (nothing left to piggyback)");
  assert.equal(toHex(ping.bytes), vector("udp-ping"));
});

test("probe of a suspect node: compound[ping, suspect] with CRC, as serf sends it", () => {
  const m = new Memberlist(
    lanConfig({ name: "s2", bindAddr: "127.0.0.2", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  const vsn = Uint8Array.from([1, 5, 2, 2, 5, 5]);
  for (const [name, ip] of [["s3", "127.0.0.3"], ["s1", "127.0.0.1"]]) {
    m.handlePacket(
      encodeAlive({
        node: name,
        incarnation: 1,
        addr: ipFromString(ip)!,
        port: 7946,
        meta: new Uint8Array(0),
        vsn,
      }),
      { host: ip, port: 7946 },
      0,
    );
  }
  m.handlePacket(
    addCrc(
      hex("0383a446726f6da27331ab496e6361726e6174696f6e01a44e6f6465a27333"),
    ),
    { host: "127.0.0.1", port: 7946 },
    0,
  ); // suspect{s3, inc 1, from s1}
  assert.equal(m.members().find((x) => x.name === "s3")?.state, "suspect");
  let probe: Uint8Array | undefined;
  for (let t = 200; t <= 3000 && !probe; t += 100) {
    m.handleTimeout(t);
    for (const p of packets(m)) {
      if (p.to.host === "127.0.0.3" && p.bytes[0] === 12 && p.bytes[5] === 7) {
        probe = p.bytes;
      }
    }
  }
  assert.ok(probe, "the suspect was probed");
  const want = hex(vector("udp-compound-ping-suspect-crc"));
  assert.equal(probe.length, want.length);
  // same bytes once the sequence number (a posfixint) is set to the capture's
  const inner = probe.slice(5);
  const seqAt = toHex(inner).indexOf("a55365714e6f") / 2 + 6;
  inner[seqAt] = 26;
  assert.equal(toHex(addCrc(inner)), toHex(want));
});

test("gossip to PMax ≥ 5 nodes carries a CRC; pings, acks and sendTo do not", () => {
  const net = new Net();
  net.add("a");
  net.add("b");
  net.join("b", ["a"]);
  net.run(3000);
  const fromA = net.packets.filter((p) => p.from === "a");
  const gossip = fromA.filter((p) => p.bytes[0] === 12);
  assert.ok(gossip.length > 0, "some gossip went out");
  for (const p of gossip) {
    assert.ok(
      !types(p.bytes).includes("ping") && !types(p.bytes).includes("ack"),
    );
  }
  const pings = fromA.filter((p) =>
    types(p.bytes)[0] === "ping" || types(p.bytes)[0] === "ack"
  );
  assert.ok(pings.length > 0);
  for (const p of pings) {
    assert.notEqual(p.bytes[0], 12, "direct sends carry no CRC");
  }
  net.get("a").sendTo(net.addr("b"), Uint8Array.of(1, 2, 3), net.now);
  net.flush();
  const last = net.packets[net.packets.length - 1];
  assert.deepEqual(
    [...last.bytes],
    [8, 1, 2, 3],
    "0x08 || payload, no piggyback, no CRC",
  );
});

test("gossip toward a PMax 4 node carries no CRC", () => {
  const m = new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  m.handlePacket(
    encodeAlive({
      node: "old",
      incarnation: 1,
      addr: ipFromString("10.0.0.4")!,
      port: 7946,
      meta: new Uint8Array(0),
      vsn: Uint8Array.from([1, 4, 2, 0, 0, 0]),
    }),
    { host: "10.0.0.4", port: 7946 },
    0,
  );
  packets(m);
  m.handleTimeout(200);
  const g = packets(m);
  assert.ok(g.length > 0);
  for (const p of g) assert.notEqual(p.bytes[0], 12);
});

test("direct sends piggyback pending broadcasts within the packet budget", () => {
  const net = new Net();
  net.add("a", { config: { gossipNodes: 0 } });
  net.add("b", { config: { gossipNodes: 0 } });
  net.join("b", ["a"]);
  for (let i = 0; i < 10; i++) {
    net.get("a").queueBroadcast(new Uint8Array(300).fill(i), net.now);
  }
  net.run(3000);
  const withUser = net.packets.filter((p) =>
    p.from === "a" && types(p.bytes).includes("user") &&
    (types(p.bytes)[0] === "ping" || types(p.bytes)[0] === "ack")
  );
  assert.ok(withUser.length > 0, "user broadcasts rode on pings/acks");
  for (const p of net.packets) {
    assert.ok(p.bytes.length <= 1400, `${p.bytes.length} bytes`);
  }
});

test("compression is applied to packets only when it shrinks them", () => {
  const net = new Net();
  net.add("a");
  net.add("b");
  net.join("b", ["a"]);
  net.get("a").queueBroadcast(new Uint8Array(800), net.now);
  net.run(2000);
  const compressed = net.packets.filter((p) =>
    p.bytes[0] === 9 || (p.bytes[0] === 12 && p.bytes[5] === 9)
  );
  assert.ok(compressed.length > 0, "the zero-filled broadcast was compressed");
  const plainPings = net.packets.filter((p) => p.bytes[0] === MessageType.ping);
  assert.ok(plainPings.length > 0, "small pings stay uncompressed");
});

test("awareness: probes that fail with missing nacks raise the health score", () => {
  const net = new Net();
  net.add("a");
  net.add("b");
  net.add("c");
  net.join("b", ["a"]);
  net.join("c", ["a"]);
  net.run(3000);
  assert.equal(net.get("a").healthScore(), 0);
  // a is cut off: nothing in or out, no streams either, so relays cannot nack
  net.dropPacket = (from, to) => from === "a" || to === "a";
  net.refuseStream = (from, to) => from === "a" || to === "a";
  net.run(15_000);
  assert.ok(
    net.get("a").healthScore() >= 3,
    `score ${net.get("a").healthScore()}`,
  );
  // b and c, which hear each other, stay healthy
  assert.equal(net.get("b").healthScore(), 0);
});

test("a nack from a live relay spares our health: only missing nacks count", () => {
  // The relay nacks ProbeTimeout after the indirect ping, which leaves at
  // ProbeTimeout: with LAN's 500/1000 ms the nack lands 2 × 500 ms + RTT
  // after the probe began, just past its 1000 ms end, and counts as
  // missing (as in memberlist). 400 ms leaves time for it to arrive.
  const net = new Net();
  const config = { probeTimeoutMs: 400 };
  net.add("a", { config });
  net.add("b", { config });
  net.add("c", { config });
  net.join("b", ["a"]);
  net.join("c", ["a"]);
  net.run(3000);
  net.down.add("c");
  let maxScore = 0;
  for (let t = 0; t < 6000; t += 100) {
    net.run(100);
    maxScore = Math.max(maxScore, net.get("a").healthScore());
  }
  assert.equal(net.stateOf("a", "c"), "dead");
  assert.equal(maxScore, 0, "b nacked every indirect probe");
});

test("the probe interval (not ProbeTimeout) is scaled by the health score", () => {
  const m = new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  m.handlePacket(
    encodeAlive({
      node: "b",
      incarnation: 1,
      addr: ipFromString("10.0.0.2")!,
      port: 7946,
      meta: new Uint8Array(0),
      vsn: Uint8Array.from([1, 5, 2, 0, 0, 0]),
    }),
    { host: "10.0.0.2", port: 7946 },
    0,
  );
  for (let i = 1; i <= 3; i++) {
    m.handlePacket(
      addCrc(
        hex(
          "0383a446726f6da162ab496e6361726e6174696f6e" +
            (10 * i).toString(16).padStart(2, "0") + "a44e6f6465a161",
        ),
      ),
      { host: "10.0.0.2", port: 7946 },
      0,
    );
  }
  assert.equal(m.healthScore(), 3);
  m.handleTimeout(1000);
  const d = new Map(m.deadlines());
  const seq = [...d.keys()].find((k) => k.startsWith("probeEnd:"))!.slice(9);
  assert.equal(
    d.get(`probeTimeout:${seq}`),
    1500,
    "ProbeTimeout is not scaled",
  );
  assert.equal(d.get(`probeEnd:${seq}`), 1000 + 4000, "interval × (score + 1)");
});

test("refutation raises our health score by 1 and is capped at awarenessMaxMultiplier − 1", () => {
  const m = new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946 }),
    {
      prng: seeded(1),
      now: 0,
    },
  );
  for (let i = 1; i <= 12; i++) {
    m.handlePacket(
      addCrc(
        hex(
          "0383a446726f6da162ab496e6361726e6174696f6e" +
            i.toString(16).padStart(2, "0") +
            "a44e6f6465a161",
        ),
      ),
      { host: "10.0.0.2", port: 7946 },
      0,
    );
  }
  assert.equal(m.healthScore(), 7);
  assert.equal(m.stats().refutes, 12);
});

test("TCP fallback works while UDP does not: warning, no suspicion, health improves", () => {
  const net = new Net();
  net.add("a");
  net.add("c");
  net.join("c", ["a"]);
  net.run(2000);
  net.dropPacket = () => true; // UDP dead both ways, streams fine
  net.run(20_000);
  assert.equal(net.stateOf("a", "c"), "alive");
  assert.equal(net.get("a").stats().probeFailures, 0);
  assert.equal(net.get("a").healthScore(), 0);
  assert.ok(
    net.dials.filter((d) => d.from === "a" && d.to === "c").length >= 10,
  );
});

test("TCP fallback is skipped when disableTcpPings, so the node gets suspected", () => {
  const net = new Net();
  net.add("a", { config: { disableTcpPings: true } });
  net.add("c");
  net.join("c", ["a"]);
  net.run(2000);
  const dials = net.dials.length;
  net.dropPacket = () => true;
  net.run(3000);
  assert.equal(
    net.dials.filter((d, i) => i >= dials && d.from === "a").length,
    0,
  );
  assert.equal(net.stateOf("a", "c"), "suspect");
});

test("probes go round robin over members, skipping dead ones", () => {
  const net = new Net();
  for (const n of ["a", "b", "c", "d", "e"]) net.add(n);
  for (const n of ["b", "c", "d", "e"]) net.join(n, ["a"]);
  net.run(2000);
  net.down.add("e");
  net.run(15_000);
  assert.equal(net.stateOf("a", "e"), "dead");
  const start = net.now;
  net.run(30_000);
  const pings = net.packets.filter((p) =>
    p.from === "a" && p.at > start && types(p.bytes)[0] === "ping"
  );
  const count = new Map<string, number>();
  for (const p of pings) count.set(p.to, (count.get(p.to) ?? 0) + 1);
  assert.equal(
    count.get("10.0.0.5:7946") ?? count.get("e") ?? 0,
    0,
    "dead e is not probed",
  );
  for (const n of ["b", "c", "d"]) {
    const k = count.get(n) ?? 0;
    assert.ok(k >= 9 && k <= 11, `${n} probed ${k} times in 30 rounds of 3`);
  }
});

test("same seeds, same trace: the machine is deterministic", () => {
  const run = (): string => {
    const net = new Net();
    for (const n of ["a", "b", "c"]) net.add(n);
    net.join("b", ["a"]);
    net.join("c", ["b"]);
    net.down.add("c");
    net.run(20_000);
    return net.packets.map((p) => `${p.at}:${p.from}>${p.to}:${toHex(p.bytes)}`)
      .join("\n");
  };
  const first = run();
  assert.ok(first.length > 1000);
  assert.equal(run(), first);
});
