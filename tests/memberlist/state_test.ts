import { test } from "node:test";
import assert from "node:assert/strict";
import { Memberlist } from "../../src/memberlist/memberlist.ts";
import type { MemberlistDelegate } from "../../src/memberlist/delegate.ts";
import { lanConfig, type MemberlistConfig } from "../../src/config.ts";
import {
  type Alive,
  encodeAccusation,
  encodeAlive,
  ipFromString,
  MessageType,
} from "../../src/codec/messages.ts";
import type { Transmit } from "../../src/machine.ts";
import type { MemberlistEvent } from "../../src/types.ts";
import { openPacket } from "../../src/memberlist/wire.ts";
import { seeded } from "../helpers/prng.ts";

const FROM = { host: "10.0.0.9", port: 7946 };
const VSN = Uint8Array.from([1, 5, 2, 0, 0, 0]);

function mk(
  config: Partial<MemberlistConfig> = {},
  delegate?: MemberlistDelegate,
): Memberlist {
  return new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946, ...config }),
    { prng: seeded(7), now: 0, delegate },
  );
}

function alive(
  node: string,
  incarnation: number,
  over: Partial<Alive> = {},
): Alive {
  const n = Number(node.charCodeAt(0) - 96);
  return {
    node,
    incarnation,
    addr: ipFromString(`10.0.0.${n}`)!,
    port: 7946,
    meta: new Uint8Array(0),
    vsn: VSN,
    ...over,
  };
}

function sendAlive(m: Memberlist, a: Alive, now = 0): void {
  m.handlePacket(encodeAlive(a), FROM, now);
}

function suspect(
  m: Memberlist,
  node: string,
  inc: number,
  from: string,
  now = 0,
): void {
  m.handlePacket(
    encodeAccusation(MessageType.suspect, { node, incarnation: inc, from }),
    FROM,
    now,
  );
}

function dead(
  m: Memberlist,
  node: string,
  inc: number,
  from: string,
  now = 0,
): void {
  m.handlePacket(
    encodeAccusation(MessageType.dead, { node, incarnation: inc, from }),
    FROM,
    now,
  );
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

function view(
  m: Memberlist,
  name: string,
): { state: string; incarnation: number } | undefined {
  const x = m.members().find((x) => x.name === name);
  return x && { state: x.state, incarnation: x.incarnation };
}

// Every message a machine gossips in one packet, decoded.
function gossipedAlives(m: Memberlist, now: number): Alive[] {
  m.handleTimeout(now);
  const out: Alive[] = [];
  for (const t of drain(m).transmits) {
    if (t.kind !== "packet") continue;
    for (const x of openPacket(t.bytes, () => {})) {
      if (x.type === "alive") out.push(x.msg);
    }
  }
  return out;
}

test("construction announces ourselves: self alive at incarnation 1, join event", () => {
  const m = mk();
  const { events } = drain(m);
  assert.deepEqual(events.map((e) => e.type), ["join"]);
  assert.equal(m.localMember().incarnation, 1);
  assert.equal(m.localMember().state, "alive");
  assert.deepEqual(m.localMember().vsn, [1, 5, 2, 0, 0, 0]);
  assert.deepEqual(m.localMember().addr, { host: "10.0.0.1", port: 7946 });
  assert.equal(m.pendingBroadcasts(), 1, "our alive is queued for gossip");
});

test("alive: unknown node joins; higher incarnation updates meta; equal and lower are ignored", () => {
  const m = mk();
  drain(m);
  sendAlive(m, alive("b", 1));
  assert.deepEqual(view(m, "b"), { state: "alive", incarnation: 1 });
  assert.deepEqual(drain(m).events.map((e) => e.type), ["join"]);
  sendAlive(m, alive("b", 1, { meta: Uint8Array.of(1) }));
  assert.deepEqual(drain(m).events, [], "equal incarnation is ignored");
  sendAlive(m, alive("b", 3, { meta: Uint8Array.of(2) }));
  const ev = drain(m).events;
  assert.deepEqual(ev.map((e) => e.type), ["update"]);
  assert.deepEqual([...m.members().find((x) => x.name === "b")!.meta], [2]);
  sendAlive(m, alive("b", 2, { meta: Uint8Array.of(3) }));
  assert.deepEqual(view(m, "b"), { state: "alive", incarnation: 3 });
  assert.deepEqual(drain(m).events, []);
});

test("alive at incarnation 0 about an unknown node leaves only a dead placeholder", () => {
  const m = mk();
  drain(m);
  sendAlive(m, alive("b", 0));
  assert.deepEqual(view(m, "b"), { state: "dead", incarnation: 0 });
  assert.deepEqual(drain(m).events, []);
  assert.equal(m.numMembers(), 1);
});

test("alive with bad protocol versions is ignored (pmin 0, pmax 0, pmin > pmax)", () => {
  const m = mk();
  for (
    const vsn of [[0, 5, 2, 0, 0, 0], [1, 0, 2, 0, 0, 0], [4, 3, 3, 0, 0, 0]]
  ) {
    sendAlive(m, alive("b", 1, { vsn: Uint8Array.from(vsn) }));
  }
  assert.equal(view(m, "b"), undefined);
  assert.equal(m.stats().dropped.get("alive-bad-vsn"), 3);
  sendAlive(m, alive("b", 1, { vsn: Uint8Array.of(1, 5) }), 0);
  assert.equal(view(m, "b")?.state, "alive", "a short Vsn is not checked");
});

test("suspect: ignored below the incarnation, accepted at equal, raises it when higher", () => {
  const m = mk();
  sendAlive(m, alive("b", 5));
  sendAlive(m, alive("c", 5));
  suspect(m, "b", 4, "c");
  assert.equal(view(m, "b")?.state, "alive");
  suspect(m, "b", 5, "c");
  assert.deepEqual(view(m, "b"), { state: "suspect", incarnation: 5 });
  suspect(m, "c", 9, "b");
  assert.deepEqual(view(m, "c"), { state: "suspect", incarnation: 9 });
  suspect(m, "zz", 9, "b");
  assert.equal(view(m, "zz"), undefined, "unknown nodes are ignored");
});

test("alive with a higher incarnation clears a suspicion (refutation by the suspect)", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  sendAlive(m, alive("c", 1));
  suspect(m, "b", 1, "c");
  assert.ok(m.deadlines().some(([n]) => n === "suspect:b"));
  sendAlive(m, alive("b", 1));
  assert.equal(
    view(m, "b")?.state,
    "suspect",
    "equal incarnation does not refute",
  );
  sendAlive(m, alive("b", 2));
  assert.deepEqual(view(m, "b"), { state: "alive", incarnation: 2 });
  assert.ok(!m.deadlines().some(([n]) => n === "suspect:b"), "timer cancelled");
  m.handleTimeout(60_000);
  assert.equal(view(m, "b")?.state, "alive");
});

test("dead: lower ignored, equal kills, From == Node means left; events carry the state", () => {
  const m = mk();
  sendAlive(m, alive("b", 3));
  sendAlive(m, alive("c", 3));
  drain(m);
  dead(m, "b", 2, "c");
  assert.equal(view(m, "b")?.state, "alive");
  dead(m, "b", 3, "c");
  assert.deepEqual(view(m, "b"), { state: "dead", incarnation: 3 });
  dead(m, "c", 4, "c");
  assert.deepEqual(view(m, "c"), { state: "left", incarnation: 4 });
  const ev = drain(m).events;
  assert.deepEqual(
    ev.map((e) => e.type === "leave" && `${e.member.name}:${e.member.state}`),
    ["b:dead", "c:left"],
  );
  dead(m, "b", 9, "c");
  assert.deepEqual(drain(m).events, [], "already dead: no second leave");
  assert.equal(view(m, "b")?.incarnation, 3);
});

test("a dead node comes back with a higher incarnation: join event", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  dead(m, "b", 1, "c");
  drain(m);
  sendAlive(m, alive("b", 2));
  assert.equal(view(m, "b")?.state, "alive");
  assert.deepEqual(drain(m).events.map((e) => e.type), ["join"]);
});

test("suspect about ourselves is refuted: incarnation beats the accusation, awareness +1", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  suspect(m, "a", 7, "b");
  assert.equal(m.localMember().state, "alive");
  assert.equal(m.localMember().incarnation, 8);
  assert.equal(m.healthScore(), 1);
  assert.equal(m.stats().refutes, 1);
  const refutes = gossipedAlives(m, 200).filter((a) => a.node === "a");
  assert.ok(
    refutes.some((a) => a.incarnation === 8),
    "the refuting alive is gossiped",
  );
});

test("dead about ourselves is refuted too, while not leaving", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  dead(m, "a", 1, "b");
  assert.equal(m.localMember().state, "alive");
  assert.equal(m.localMember().incarnation, 2);
  assert.equal(m.healthScore(), 1);
});

test("alive about ourselves: echo ignored, different meta at equal incarnation refuted", () => {
  const m = mk();
  const me = m.localMember();
  sendAlive(m, alive("a", me.incarnation, { vsn: Uint8Array.from(me.vsn) }));
  assert.equal(m.localMember().incarnation, 1, "our own echo");
  sendAlive(
    m,
    alive("a", 1, { vsn: Uint8Array.from(me.vsn), meta: Uint8Array.of(9) }),
  );
  assert.equal(m.localMember().incarnation, 2, "refuted");
  assert.equal(m.localMember().meta.length, 0, "our meta is kept");
  sendAlive(
    m,
    alive("a", 1, { vsn: Uint8Array.from(me.vsn), meta: Uint8Array.of(9) }),
  );
  assert.equal(m.localMember().incarnation, 2, "older than us: ignored");
});

test("conflict: a known alive name from another address is refused and reported", () => {
  const conflicts: string[] = [];
  const m = mk({}, {
    notifyConflict: (e, o) => conflicts.push(`${e.addr.host}|${o.addr.host}`),
  });
  sendAlive(m, alive("b", 1));
  drain(m);
  sendAlive(m, alive("b", 5, { addr: ipFromString("10.9.9.9")! }));
  assert.deepEqual(conflicts, ["10.0.0.2|10.9.9.9"]);
  const ev = drain(m).events;
  assert.equal(ev.length, 1);
  assert.equal(ev[0].type, "conflict");
  assert.equal(m.members().find((x) => x.name === "b")?.addr.host, "10.0.0.2");
  assert.equal(view(m, "b")?.incarnation, 1);
});

test("left node: a new address is accepted at once", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  dead(m, "b", 1, "b");
  sendAlive(m, alive("b", 1, { addr: ipFromString("10.9.9.9")! }));
  const b = m.members().find((x) => x.name === "b")!;
  assert.equal(
    b.state,
    "alive",
    "address update allowed even at equal incarnation",
  );
  assert.equal(b.addr.host, "10.9.9.9");
});

test("dead node reclaim: only after deadNodeReclaimTimeMs (0 = never)", () => {
  const never = mk();
  sendAlive(never, alive("b", 1));
  dead(never, "b", 1, "c", 0);
  sendAlive(
    never,
    alive("b", 2, { addr: ipFromString("10.9.9.9")! }),
    1_000_000,
  );
  assert.equal(view(never, "b")?.state, "dead");

  const m = mk({ deadNodeReclaimTimeMs: 5000 });
  sendAlive(m, alive("b", 1));
  dead(m, "b", 1, "c", 1000);
  drain(m);
  sendAlive(m, alive("b", 2, { addr: ipFromString("10.9.9.9")! }), 6000);
  assert.equal(
    view(m, "b")?.state,
    "dead",
    "not yet: exactly at the reclaim time",
  );
  assert.equal(drain(m).events[0]?.type, "conflict");
  sendAlive(m, alive("b", 2, { addr: ipFromString("10.9.9.9")! }), 6001);
  const b = m.members().find((x) => x.name === "b")!;
  assert.equal(b.state, "alive");
  assert.equal(b.addr.host, "10.9.9.9");
  assert.deepEqual(drain(m).events.map((e) => e.type), ["join"]);
});

test("suspicion with n = 3 (k = 0) lasts exactly the minimum, 4 s in LAN", () => {
  const m = mk();
  sendAlive(m, alive("b", 1));
  sendAlive(m, alive("c", 1));
  suspect(m, "b", 1, "c", 1000);
  m.handleTimeout(4999);
  assert.equal(view(m, "b")?.state, "suspect");
  m.handleTimeout(5000);
  assert.equal(view(m, "b")?.state, "dead");
});

test("Lifeguard: confirmations from distinct peers shrink the suspicion timeout", () => {
  const m = mk();
  for (const n of ["b", "c", "d", "e", "f"]) sendAlive(m, alive(n, 1));
  // n = 6 → k = 2, min 4 s, max 24 s
  suspect(m, "b", 1, "c", 0);
  const at = (): number | undefined =>
    m.deadlines().find(([n]) => n === "suspect:b")?.[1];
  assert.equal(at(), 24_000);
  suspect(m, "b", 1, "c", 500);
  assert.equal(at(), 24_000, "the accuser does not confirm");
  suspect(m, "b", 1, "d", 1000);
  assert.equal(at(), 11_381);
  suspect(m, "b", 1, "d", 1500);
  assert.equal(at(), 11_381, "one confirmation per peer");
  suspect(m, "b", 1, "e", 2000);
  assert.equal(at(), 4000);
  m.handleTimeout(3999);
  assert.equal(view(m, "b")?.state, "suspect");
  m.handleTimeout(4000);
  assert.equal(view(m, "b")?.state, "dead");
});

test("a confirmation arriving after the shrunk timeout kills at once", () => {
  const m = mk();
  for (const n of ["b", "c", "d", "e", "f"]) sendAlive(m, alive(n, 1));
  suspect(m, "b", 1, "c", 0);
  suspect(m, "b", 1, "d", 12_000); // remaining 11 381 − 12 000 < 0
  assert.equal(m.deadlines().find(([n]) => n === "suspect:b")?.[1], 12_000);
  m.handleTimeout(12_000);
  assert.equal(view(m, "b")?.state, "dead");
});

test("meta longer than 512 bytes is refused", () => {
  assert.throws(
    () => mk({}, { nodeMeta: () => new Uint8Array(513) }),
    RangeError,
  );
  const m = mk({}, { nodeMeta: (limit) => new Uint8Array(limit) });
  assert.equal(m.localMember().meta.length, 512);
});

test("updateMeta re-reads meta, bumps the incarnation and broadcasts an alive", () => {
  let meta = Uint8Array.of(1);
  const m = mk({}, { nodeMeta: () => meta });
  drain(m);
  meta = Uint8Array.of(2, 2);
  m.updateMeta(0);
  assert.equal(m.localMember().incarnation, 2);
  assert.deepEqual([...m.localMember().meta], [2, 2]);
  assert.deepEqual(drain(m).events.map((e) => e.type), ["update"]);
  sendAlive(m, alive("b", 1));
  const ours = gossipedAlives(m, 200).filter((a) => a.node === "a");
  assert.deepEqual(ours.map((a) => [a.incarnation, [...a.meta]]), [[2, [
    2,
    2,
  ]]]);
});

test("the alive delegate can veto an alive", () => {
  const m = mk({}, {
    notifyAlive: (p) => p.name === "evil" ? "not welcome" : null,
  });
  sendAlive(m, alive("evil", 1, { addr: ipFromString("10.0.0.66")! }));
  sendAlive(m, alive("b", 1));
  assert.equal(view(m, "evil"), undefined);
  assert.equal(view(m, "b")?.state, "alive");
  assert.equal(m.stats().dropped.get("alive-vetoed"), 1);
});

test("alive with port 0 gets our bind port (pre-v2 peers)", () => {
  const m = mk({ bindPort: 8000 });
  sendAlive(m, alive("b", 1, { port: 0 }));
  assert.equal(m.members().find((x) => x.name === "b")?.addr.port, 8000);
});

test("the member table is bounded: alive spam with fresh names stops at the cap", () => {
  const m = new Memberlist(
    lanConfig({ name: "a", bindAddr: "10.0.0.1", bindPort: 7946 }),
    { prng: seeded(7), now: 0, maxMembers: 10 },
  );
  for (let i = 0; i < 100; i++) {
    sendAlive(
      m,
      alive("b", 1, { node: `spam-${i}`, addr: Uint8Array.of(10, 1, 0, i) }),
    );
  }
  assert.equal(m.members().length, 10, "self + 9");
  assert.equal(m.stats().dropped.get("member-cap"), 91);
  assert.ok(m.pendingBroadcasts() <= 10);
});

test("stored member data does not alias the host's receive buffer", () => {
  const m = mk();
  const buf = encodeAlive(alive("b", 1, { meta: Uint8Array.of(5, 6, 7) }));
  m.handlePacket(buf, FROM, 0);
  buf.fill(0xee); // the host reuses its buffer for the next datagram
  const b = m.members().find((x) => x.name === "b")!;
  assert.deepEqual([...b.meta], [5, 6, 7]);
  assert.equal(b.addr.host, "10.0.0.2");
});
