// Eager gossip (config `eagerGossip`, our deliberate wire-neutral deviation
// from memberlist 0.2.2) and the idle gossip timer, on one machine in
// hand-driven virtual time. Each test's member knows `peers` others from
// the start (as after a drained join) and, so that nothing but gossip
// happens, probes once a minute and never push-pulls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memberlist } from "../../src/memberlist/memberlist.ts";
import type { MemberlistDelegate } from "../../src/memberlist/delegate.ts";
import {
  lanConfig,
  localConfig,
  type MemberlistConfig,
  wanConfig,
} from "../../src/config.ts";
import { ipFromString } from "../../src/codec/messages.ts";
import { openPacket } from "../../src/memberlist/wire.ts";
import { retransmitLimit } from "../../src/memberlist/formulas.ts";
import type { Transmit } from "../../src/machine.ts";
import { seeded } from "../helpers/prng.ts";

const VSN = Uint8Array.from([1, 5, 2, 0, 0, 0]);
const QUIET = { probeIntervalMs: 60_000, pushPullIntervalMs: 0 };

function member(
  peers: number,
  config: Partial<MemberlistConfig> = {},
  delegate?: MemberlistDelegate,
): Memberlist {
  const knownMembers = [];
  for (let i = 2; i < peers + 2; i++) {
    knownMembers.push({
      node: `n${i}`,
      addr: ipFromString(`10.0.0.${i}`)!,
      port: 7946,
      meta: new Uint8Array(0),
      incarnation: 1,
      vsn: VSN,
    });
  }
  return new Memberlist(
    lanConfig({
      name: "n1",
      bindAddr: "10.0.0.1",
      ...QUIET,
      ...config,
    }),
    { prng: seeded(3), now: 0, delegate, knownMembers },
  );
}

function drain(m: Memberlist): Array<Transmit & { kind: "packet" }> {
  const out: Array<Transmit & { kind: "packet" }> = [];
  for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) {
    if (t.kind === "packet") out.push(t);
  }
  return out;
}

function gossipAt(m: Memberlist): number | undefined {
  return m.deadlines().find(([name]) => name === "gossip")?.[1];
}

// Run every deadline up to `untilMs`, returning the packets with times.
function runUntil(
  m: Memberlist,
  untilMs: number,
): Array<{ at: number; bytes: Uint8Array; to: string }> {
  const out: Array<{ at: number; bytes: Uint8Array; to: string }> = [];
  for (;;) {
    const at = m.nextDeadline();
    if (at === null || at > untilMs) return out;
    m.handleTimeout(at);
    for (const p of drain(m)) out.push({ at, bytes: p.bytes, to: p.to.host });
  }
}

function userPayloads(bytes: Uint8Array): string[] {
  return openPacket(bytes, () => {}).flatMap((x) =>
    x.type === "user" ? [new TextDecoder().decode(x.payload)] : []
  );
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test("config: eagerGossip defaults on; eagerGossipMinIntervalMs is the profile's gossip interval", () => {
  assert.equal(lanConfig().eagerGossip, true);
  assert.equal(lanConfig().eagerGossipMinIntervalMs, 200);
  assert.equal(wanConfig().eagerGossipMinIntervalMs, 500);
  assert.equal(localConfig().eagerGossipMinIntervalMs, 100);
  assert.throws(
    () => lanConfig({ eagerGossip: 1 as unknown as boolean }),
    (e) =>
      e instanceof TypeError &&
      e.message === "Invalid config eagerGossip: 1 must be true or false",
  );
  for (const bad of [0, -1, 2.5]) {
    assert.throws(
      () => lanConfig({ eagerGossipMinIntervalMs: bad }),
      (e) =>
        e instanceof RangeError &&
        e.message ===
          `Invalid config eagerGossipMinIntervalMs: ${bad} must be a whole number ≥ 1`,
    );
  }
});

test("a new broadcast is gossiped at once; with eagerGossip false at the next phase-aligned tick", () => {
  for (const eager of [true, false]) {
    const m = member(4, { eagerGossip: eager });
    runUntil(m, 5_000); // our own alive drains
    assert.equal(gossipAt(m), undefined, "nothing queued: timer disarmed");
    m.queueBroadcast(text("hello"), 5_030);
    assert.equal(gossipAt(m), eager ? 5_030 : 5_200);
    const sent = runUntil(m, 5_200);
    const carrying = sent.filter((p) =>
      userPayloads(p.bytes).includes("hello")
    );
    assert.equal(carrying[0].at, eager ? 5_030 : 5_200);
    const first = carrying.filter((p) => p.at === carrying[0].at);
    assert.equal(first.length, 3, "GossipNodes targets");
    assert.equal(new Set(first.map((p) => p.to)).size, 3, "distinct targets");
  }
});

test("an eager round sends exactly the packets the next regular tick would have sent", () => {
  const on = member(5, { eagerGossip: true });
  const off = member(5, { eagerGossip: false });
  for (const m of [on, off]) {
    runUntil(m, 5_000);
    m.queueBroadcast(text("same bytes"), 5_030);
  }
  const early = runUntil(on, 5_030);
  const regular = runUntil(off, 5_200);
  assert.equal(early.length, 3);
  assert.deepEqual(
    early.map((p) => [p.to, p.bytes]),
    regular.map((p) => [p.to, p.bytes]),
    "same targets, same bytes: only the time differs",
  );
});

test("eager rounds keep a minimum spacing; the regular ticks keep their phase", () => {
  const m = member(4); // L = 4·ceil(log10(5)) = 4 transmits: 2 rounds each
  runUntil(m, 5_000);
  m.queueBroadcast(text("a"), 5_010);
  assert.equal(gossipAt(m), 5_010, "quiet member: at once");
  runUntil(m, 5_010);
  assert.equal(gossipAt(m), 5_200, "a left: the next phase-aligned tick");
  // Within an interval of a round, a new broadcast rides the regular tick:
  // never more rounds a second than memberlist's ticker runs.
  m.queueBroadcast(text("b"), 5_020);
  assert.equal(gossipAt(m), 5_200, "not 5_020, not 5_210");
  const sent = runUntil(m, 5_200);
  assert.equal(sent.length, 3);
  assert.ok(sent.every((p) => userPayloads(p.bytes).includes("b")));
  runUntil(m, 5_400); // b's last transmit
  assert.equal(gossipAt(m), undefined, "queue empty: timer disarmed");
  // A gap of a whole interval since the last round: at once again.
  m.queueBroadcast(text("c"), 5_650);
  assert.equal(gossipAt(m), 5_650);
  runUntil(m, 5_650);
  assert.equal(gossipAt(m), 5_800, "c left: the tick keeps its phase");
  m.queueBroadcast(text("d"), 5_700);
  assert.equal(gossipAt(m), 5_800, "the tick, before 5_850");
});

test("a burst of broadcasts coalesces into one packet per target", () => {
  const m = member(4);
  runUntil(m, 5_000);
  for (let i = 0; i < 5; i++) m.queueBroadcast(text(`burst ${i}`), 5_050);
  const sent = runUntil(m, 5_050);
  assert.equal(sent.length, 3, "one packet to each of 3 targets");
  for (const p of sent) assert.equal(userPayloads(p.bytes).length, 5);
});

test("transmissions per broadcast are memberlist's limit, eager or not", () => {
  for (const peers of [4, 9, 30]) {
    const limit = retransmitLimit(lanConfig().retransmitMult, peers + 1);
    const ends: number[] = [];
    for (const eager of [true, false]) {
      const m = member(peers, { eagerGossip: eager });
      runUntil(m, 5_000);
      m.queueBroadcast(text("count me"), 5_030);
      const sent = runUntil(m, 20_000).filter((p) =>
        userPayloads(p.bytes).includes("count me")
      );
      assert.equal(sent.length, limit, `n=${peers + 1} eager ${eager}`);
      ends.push(sent[sent.length - 1].at);
      assert.equal(gossipAt(m), undefined, "drained: disarmed");
    }
    assert.ok(ends[0] < ends[1], "eager finishes sooner");
  }
});

test("idle: the gossip timer is disarmed while every queue is empty, re-armed by a broadcast", () => {
  const m = member(4, { probeIntervalMs: 1_000 });
  runUntil(m, 3_000);
  assert.equal(m.pendingBroadcasts(), 0);
  assert.equal(gossipAt(m), undefined);
  assert.equal(m.nextDeadline(), 4_000, "only the probe tick is armed");
  // Our own alive (memberlist UpdateNode) is a new broadcast too.
  m.updateMeta(3_500);
  assert.equal(gossipAt(m), 3_500);
});

test("a lone member does not tick for its undeliverable alive; a new member re-arms gossip", () => {
  const m = new Memberlist(
    lanConfig({ name: "n1", bindAddr: "10.0.0.1", ...QUIET }),
    { prng: seeded(3), now: 0 },
  );
  runUntil(m, 1_000);
  assert.equal(m.pendingBroadcasts(), 1, "our alive waits for a target");
  assert.equal(gossipAt(m), undefined, "no one to gossip to: disarmed");
  // A member appears (its alive arrives): that alive is queued, so gossip
  // runs at once and carries our own alive along.
  m.handlePacket(aliveOfN2(), { host: "10.0.0.2", port: 7946 }, 2_000);
  assert.equal(gossipAt(m), 2_000);
  const sent = runUntil(m, 2_000);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].to, "10.0.0.2");
  const alives = openPacket(sent[0].bytes, () => {}).flatMap((x) =>
    x.type === "alive" ? [x.msg.node] : []
  );
  assert.deepEqual(alives.sort(), ["n1", "n2"]);
});

// The packet n2 (10.0.0.2, knowing n1) gossips first: its own alive.
function aliveOfN2(): Uint8Array {
  const n2 = new Memberlist(
    lanConfig({ name: "n2", bindAddr: "10.0.0.2", ...QUIET }),
    {
      prng: seeded(4),
      now: 0,
      knownMembers: [{
        node: "n1",
        addr: ipFromString("10.0.0.1")!,
        port: 7946,
        meta: new Uint8Array(0),
        incarnation: 1,
        vsn: VSN,
      }],
    },
  );
  n2.handleTimeout(0);
  const p = drain(n2);
  assert.equal(p.length, 1);
  return p[0].bytes;
}

test("delegate broadcasts: without hasBroadcasts the timer ticks as in memberlist; with it, it idles and delegateBroadcastQueued re-arms it", () => {
  const always = member(4, {}, { getBroadcasts: () => [] });
  runUntil(always, 5_000);
  assert.equal(gossipAt(always), 5_200, "cannot tell: keep ticking");

  const queue: Uint8Array[] = [];
  const d: MemberlistDelegate = {
    getBroadcasts: () => queue.splice(0),
    hasBroadcasts: () => queue.length > 0,
  };
  const m = member(4, {}, d);
  runUntil(m, 5_000);
  assert.equal(gossipAt(m), undefined);
  queue.push(text("serf event"));
  m.delegateBroadcastQueued(5_070);
  assert.equal(gossipAt(m), 5_070);
  const sent = runUntil(m, 5_070);
  assert.equal(sent.length, 1, "the delegate gave it once (its own limit)");
  assert.deepEqual(userPayloads(sent[0].bytes), ["serf event"]);
  assert.equal(gossipAt(m), undefined, "delegate drained: disarmed");
});

test("a delegate that reports broadcasts but never says so is served from the next probe tick", () => {
  const queue: Uint8Array[] = [];
  const m = member(4, { probeIntervalMs: 1_000 }, {
    getBroadcasts: () => queue.splice(0),
    hasBroadcasts: () => queue.length > 0,
  });
  runUntil(m, 5_000);
  assert.equal(gossipAt(m), undefined);
  queue.push(text("unannounced"));
  const sent = runUntil(m, 6_000);
  const carrying = sent.filter((p) =>
    userPayloads(p.bytes).includes("unannounced")
  );
  assert.equal(carrying.length, 1);
  // On the probe's ping (memberlist piggybacks on it) or the round armed
  // by the probe tick, whichever takes it first.
  assert.equal(carrying[0].at, 6_000, "at the probe tick");
});
