import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Memberlist } from "../../src/memberlist/memberlist.ts";
import type { MemberlistDelegate } from "../../src/memberlist/delegate.ts";
import {
  lanConfig,
  MAX_PUSH_PULL_REQUESTS,
  type MemberlistConfig,
} from "../../src/config.ts";
import {
  decodePushPull,
  encodeAlive,
  encodePushPull,
  ipFromString,
  type PushNodeState,
} from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import type { Transmit } from "../../src/machine.ts";
import type { MemberlistEvent } from "../../src/types.ts";
import { openStream } from "../../src/memberlist/wire.ts";
import { seeded } from "../helpers/prng.ts";
import { hex, Net, toHex } from "./_harness.ts";

const FROM = { host: "10.0.0.9", port: 40000 };
const VSN = Uint8Array.from([1, 5, 2, 0, 0, 0]);

function mk(
  config: Partial<MemberlistConfig> = {},
  delegate?: MemberlistDelegate,
): Memberlist {
  return new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946, ...config }),
    { prng: seeded(3), now: 0, delegate },
  );
}

function node(
  name: string,
  state: number,
  incarnation = 1,
  vsn = VSN,
): PushNodeState {
  const n = name.charCodeAt(0) - 96;
  return {
    name,
    addr: ipFromString(`10.0.0.${n}`)!,
    port: 7946,
    meta: new Uint8Array(0),
    incarnation,
    state,
    vsn,
  };
}

function drain(
  m: Memberlist,
): { transmits: Transmit[]; events: MemberlistEvent[] } {
  const transmits: Transmit[] = [];
  const events: MemberlistEvent[] = [];
  for (let t = m.pollTransmit(); t; t = m.pollTransmit()) transmits.push(t);
  for (let e = m.pollEvent(); e; e = m.pollEvent()) events.push(e);
  return { transmits, events };
}

function stateOf(m: Memberlist, name: string): string | undefined {
  return m.members().find((x) => x.name === name)?.state;
}

test("inbound push-pull: answered with our state and the same Join flag, then merged", () => {
  const m = mk();
  drain(m);
  const msg = encodePushPull({
    join: true,
    nodes: [node("b", 0), node("c", 0)],
    userState: new Uint8Array(0),
  });
  m.handleStream(5, msg, FROM, 0);
  const { transmits, events } = drain(m);
  assert.equal(transmits.length, 1);
  const t = transmits[0];
  assert.equal(t.kind, "reply");
  if (t.kind !== "reply" || t.bytes === null) throw new Error("no reply");
  assert.equal(t.inboundId, 5);
  const reply = openStream(t.bytes, 1 << 20);
  const pp = decodePushPull(new MsgpackReader(reply, 1));
  assert.equal(pp.join, true);
  assert.deepEqual(
    pp.nodes.map((n) => n.name),
    ["a"],
    "state before the merge",
  );
  assert.deepEqual(events.map((e) => e.type), ["join", "join"]);
  assert.equal(stateOf(m, "b"), "alive");
  assert.equal(stateOf(m, "c"), "alive");
});

test("push-pull merge: remote dead → local suspect (From = us), left → left, suspect → suspect", () => {
  const m = mk();
  for (const n of ["b", "c", "d"]) {
    m.handlePacket(encodeAlive({ ...node(n, 0), node: n, vsn: VSN }), FROM, 0);
  }
  drain(m);
  const msg = encodePushPull({
    join: false,
    nodes: [node("b", 2), node("c", 3), node("d", 1)],
    userState: new Uint8Array(0),
  });
  m.handleStream(1, msg, FROM, 0);
  assert.equal(
    stateOf(m, "b"),
    "suspect",
    "a remote dead never kills directly",
  );
  assert.equal(stateOf(m, "c"), "left");
  assert.equal(stateOf(m, "d"), "suspect");
  assert.ok(m.deadlines().some(([n]) => n === "suspect:b"));
});

test("push-pull merge refuses incompatible protocol versions (verifyProtocol)", () => {
  const m = mk(); // delegate versions 0/0/0
  drain(m);
  const serf = Uint8Array.from([1, 5, 2, 2, 5, 5]);
  const msg = encodePushPull({
    join: true,
    nodes: [node("b", 0, 1, serf)],
    userState: new Uint8Array(0),
  });
  m.handleStream(1, msg, FROM, 0);
  assert.equal(stateOf(m, "b"), undefined, "nothing merged");
  assert.equal(
    drain(m).transmits.length,
    1,
    "still answered (memberlist sends before merging)",
  );
});

test("push-pull user state goes to the delegate; the merge delegate can veto a join", () => {
  const merged: string[] = [];
  const m = mk({}, {
    localState: (join) => Uint8Array.of(join ? 1 : 0),
    mergeRemoteState: (buf, join) => merged.push(`${[...buf]}:${join}`),
    notifyMerge: (peers) => peers.some((p) => p.name === "x") ? "no x" : null,
  });
  m.handleStream(
    1,
    encodePushPull({
      join: true,
      nodes: [node("b", 0)],
      userState: Uint8Array.of(4, 2),
    }),
    FROM,
    0,
  );
  m.handleStream(
    2,
    encodePushPull({
      join: false,
      nodes: [node("c", 0)],
      userState: new Uint8Array(0),
    }),
    FROM,
    0,
  );
  m.handleStream(
    3,
    encodePushPull({
      join: true,
      nodes: [node("x", 0)],
      userState: Uint8Array.of(9),
    }),
    FROM,
    0,
  );
  assert.deepEqual(
    merged,
    ["4,2:true"],
    "empty user state is not handed over; vetoed merge neither",
  );
  assert.equal(stateOf(m, "b"), "alive");
  assert.equal(stateOf(m, "c"), "alive");
  assert.equal(stateOf(m, "x"), undefined);
  const replies = drain(m).transmits.filter((t) => t.kind === "reply");
  const last = replies[2];
  if (last.kind !== "reply" || last.bytes === null) throw new Error("no reply");
  const pp = decodePushPull(
    new MsgpackReader(openStream(last.bytes, 1 << 20), 1),
  );
  assert.deepEqual(
    [...pp.userState],
    [1],
    "localState(join=true) answers a join",
  );
});

test("inbound push-pulls are capped at 127 pending answers (memberlist maxPushPullRequests)", () => {
  const m = mk();
  drain(m);
  const msg = encodePushPull({
    join: false,
    nodes: [],
    userState: new Uint8Array(0),
  });
  for (let i = 1; i <= MAX_PUSH_PULL_REQUESTS; i++) {
    m.handleStream(i, msg, FROM, 0);
  }
  const replies = drain(m).transmits.filter((t) => t.kind === "reply");
  assert.equal(replies.length, MAX_PUSH_PULL_REQUESTS);
  assert.equal(
    replies.filter((t) => t.kind === "reply" && t.bytes !== null).length,
    127,
  );
  assert.equal(m.stats().dropped.get("push-pull-cap"), 1);
  // once the answers were taken, new ones are accepted again
  m.handleStream(999, msg, FROM, 0);
  const t = m.pollTransmit();
  assert.ok(t?.kind === "reply" && t.bytes !== null);
});

test("malformed streams never throw: err answer on a bad compression, close on a bad body", () => {
  const m = mk();
  drain(m);
  m.handleStream(1, Uint8Array.of(9, 0x82, 0xa4), FROM, 0);
  const [err] = drain(m).transmits;
  assert.ok(err.kind === "reply" && err.bytes !== null);
  assert.equal(openStream(err.bytes, 1 << 20)[0], 13, "an err (13) message");
  m.handleStream(2, Uint8Array.of(6, 0x83, 0xa4), FROM, 0);
  m.handleStream(3, Uint8Array.of(77), FROM, 0);
  m.handleStream(4, new Uint8Array(0), FROM, 0);
  const rest = drain(m).transmits;
  assert.equal(rest.length, 3);
  assert.ok(
    rest.slice(0, 2).every((t) => t.kind === "reply" && t.bytes === null),
  );
  assert.ok(m.stats().decodeErrors.size > 0);
});

test("stream ping is answered with a nil-payload ack (real tcp-fallback-ping vector)", () => {
  const v = JSON.parse(
    readFileSync(
      new URL(
        "../fixtures/vectors/tcp/tcp-fallback-ping.json",
        import.meta.url,
      ),
      "utf8",
    ),
  );
  const m = new Memberlist(
    lanConfig({
      name: "s3",
      bindAddr: "127.0.0.3",
      bindPort: 7946,
      enableCompression: false,
    }),
    { prng: seeded(1), now: 0 },
  );
  drain(m);
  m.handleStream(1, hex(v.messages[0].hex), FROM, 0);
  const [t] = drain(m).transmits;
  assert.ok(t.kind === "reply" && t.bytes !== null);
  assert.equal(toHex(t.bytes), v.messages[1].hex);
  // a ping for another name is closed without an answer
  const other = new Memberlist(
    lanConfig({ name: "s9", bindAddr: "127.0.0.9", bindPort: 7946 }),
    { prng: seeded(1), now: 0 },
  );
  drain(other);
  other.handleStream(1, hex(v.messages[0].hex), FROM, 0);
  const [u] = drain(other).transmits;
  assert.ok(u.kind === "reply" && u.bytes === null);
});

test("real join push-pull from serf 0.9.4 merges its nodes", () => {
  const v = JSON.parse(
    readFileSync(
      new URL(
        "../fixtures/vectors/tcp/tcp-pushpull-join-plain.json",
        import.meta.url,
      ),
      "utf8",
    ),
  );
  const user: number[] = [];
  const m = new Memberlist(
    lanConfig({
      name: "s1",
      bindAddr: "127.0.0.1",
      bindPort: 7946,
      delegateProtocolMin: 2,
      delegateProtocolMax: 5,
      delegateProtocolVersion: 5,
    }),
    {
      prng: seeded(1),
      now: 0,
      delegate: { mergeRemoteState: (b) => user.push(b.length) },
    },
  );
  drain(m);
  m.handleStream(1, hex(v.messages[0].hex), FROM, 0);
  assert.ok(m.members().length >= 2, m.members().map((x) => x.name).join());
  assert.deepEqual(user, [586], "the 586-byte Serf state reached the delegate");
});

test("join: one push-pull per seed; failing seeds are counted and reported", () => {
  const net = new Net();
  net.add("a");
  net.add("b");
  net.add("c");
  const op = net.get("c").join(
    [net.addr("a"), net.addr("b"), { host: "10.0.0.99", port: 7946 }],
    net.now,
  );
  net.run(100);
  const done = net.events("c").find((e) => e.type === "joinDone");
  assert.ok(done && done.type === "joinDone");
  assert.equal(done.opId, op);
  assert.equal(done.joined, 2);
  assert.equal(done.errors.length, 1);
  assert.match(done.errors[0], /10\.0\.0\.99:7946/);
  const joinDials = net.dials.filter((d) => d.from === "c");
  assert.equal(joinDials.length, 3);
  net.run(5000);
  assert.equal(net.get("a").numMembers(), 3);
});

test("join with no seeds, and a join timing out, complete with joinDone", () => {
  const net = new Net();
  net.add("a");
  net.add("b");
  const op = net.get("a").join([], 0);
  net.flush();
  const e = net.events("a").find((e) => e.type === "joinDone");
  assert.ok(e?.type === "joinDone" && e.opId === op && e.joined === 0);
  // b never answers: the dial deadline (tcpTimeoutMs) fails it
  net.refuseStream = () => false;
  net.dropPacket = () => true;
  const m = net.get("b");
  const op2 = m.join([{ host: "10.0.0.77", port: 1 }], net.now);
  const d = m.pollTransmit();
  assert.equal(d?.kind, "dial");
  m.handleTimeout(net.now + 10_000);
  const done: MemberlistEvent[] = [];
  for (let x = m.pollEvent(); x; x = m.pollEvent()) done.push(x);
  const jd = done.find((x) => x.type === "joinDone");
  assert.ok(
    jd?.type === "joinDone" && jd.opId === op2 && jd.joined === 0 &&
      jd.errors.length === 1,
  );
  // the late answer is ignored
  if (d?.kind === "dial") {
    m.handleStreamReply(d.streamId, new Uint8Array(0), net.now + 10_001);
  }
  assert.equal(m.stats().dropped.get("stale-stream"), 1);
});

test("periodic push-pull: staggered start, then one exchange per scaled interval; 0 = off", () => {
  const net = new Net();
  net.add("a", { config: { pushPullIntervalMs: 10_000 } });
  net.add("b", { config: { pushPullIntervalMs: 0 } });
  net.join("b", ["a"]);
  const from = net.now;
  net.run(60_000);
  const periodic = net.dials.filter((d) =>
    d.at > from && openStream(d.bytes, 1 << 20)[0] === 6
  );
  const fromA = periodic.filter((d) => d.from === "a");
  const fromB = periodic.filter((d) => d.from === "b");
  assert.equal(fromB.length, 0, "interval 0 turns it off");
  assert.ok(
    fromA.length >= 5 && fromA.length <= 6,
    `a dialed ${fromA.length} times`,
  );
  for (let i = 1; i < fromA.length; i++) {
    assert.equal(
      fromA[i].at - fromA[i - 1].at,
      10_000 + 2,
      "next = end of previous + interval",
    );
  }
});
