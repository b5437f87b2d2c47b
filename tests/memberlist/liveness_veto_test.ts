// The liveness veto (config `suspicionLivenessVeto`, our deliberate
// deviation from memberlist 0.2.2; see src/memberlist/memberlist.ts): a
// suspicion that times out after the suspect showed a sign of life is
// extended (and a push-pull fetches the refutation) instead of ending in
// death; without signs of life the member dies exactly when memberlist
// would.
//
// One machine `a` is driven by hand; `b` is played by this file: it answers
// pings and TCP pings while `alive`, answers push-pulls with its state
// while `streams` is on, and its refutation gossip never reaches `a` (the
// case the veto exists for: `a` missed every copy).
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanConfig, type MemberlistConfig } from "../../src/config.ts";
import { Memberlist } from "../../src/memberlist/memberlist.ts";
import { MAX_LIVENESS_VETOES } from "../../src/memberlist/suspicion.ts";
import {
  finishStream,
  openPacket,
  openStream,
} from "../../src/memberlist/wire.ts";
import {
  decodePing,
  decodePushPull,
  encodeAccusation,
  encodeAck,
  encodeAlive,
  encodePushPull,
  ipFromString,
  MessageType,
} from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import type { Address } from "../../src/machine.ts";
import type { MemberlistEvent } from "../../src/types.ts";
import { seeded } from "../helpers/prng.ts";

const B: Address = { host: "10.0.0.2", port: 7946 };
const VSN = Uint8Array.from([1, 5, 2, 0, 0, 0]);
// Two members: k = 0 confirmations expected, so a suspicion runs the
// minimum timeout, 4 × max(1, log10 2) × 1 s.
const MIN_MS = 4_000;
// An extension lasts the minimum timeout, at least the TCP timeout (10 s).
const PERIOD_MS = Math.max(MIN_MS, lanConfig().tcpTimeoutMs);

interface Peer {
  alive: boolean;
  streams: boolean;
  incarnation: number;
  /** When set, b answers pings only while `now` is in this window. */
  window: [number, number] | null;
}

class Rig {
  readonly a: Memberlist;
  readonly b: Peer = {
    alive: true,
    streams: true,
    incarnation: 1,
    window: null,
  };
  readonly events: Array<{ at: number; e: MemberlistEvent }> = [];
  readonly pushPulls: number[] = [];
  now = 0;
  #inbox: Array<{ at: number; run: () => void }> = [];

  constructor(config: Partial<MemberlistConfig> = {}) {
    this.a = new Memberlist(
      lanConfig({ name: "a", bindAddr: "10.0.0.1", ...config }),
      { prng: seeded(1), now: 0 },
    );
    this.#deliver(() =>
      this.a.handlePacket(
        encodeAlive({
          node: "b",
          incarnation: 1,
          addr: ipFromString(B.host)!,
          port: B.port,
          meta: new Uint8Array(0),
          vsn: VSN,
        }),
        B,
        this.now,
      )
    );
  }

  /** A third member's accusation reaches `a` now. */
  accuse(): void {
    this.#deliver(() =>
      this.a.handlePacket(
        encodeAccusation(MessageType.suspect, {
          node: "b",
          incarnation: 1,
          from: "c",
        }),
        { host: "10.0.0.3", port: 7946 },
        this.now,
      )
    );
  }

  state(): string {
    return this.a.members().find((m) => m.name === "b")!.state;
  }

  deathAt(): number | null {
    const d = this.events.find((x) =>
      x.e.type === "leave" && x.e.member.name === "b"
    );
    return d?.at ?? null;
  }

  /** Run `a` (and `b`'s answers, 1 ms later) until `untilMs`. */
  run(untilMs: number): void {
    for (;;) {
      const next = Math.min(
        this.a.nextDeadline() ?? Infinity,
        ...this.#inbox.map((x) => x.at),
      );
      if (next > untilMs) break;
      this.now = next;
      const due = this.#inbox.filter((x) => x.at <= next);
      this.#inbox = this.#inbox.filter((x) => x.at > next);
      for (const d of due) this.#deliver(d.run);
      if ((this.a.nextDeadline() ?? Infinity) <= this.now) {
        this.#deliver(() => this.a.handleTimeout(this.now));
      }
    }
    this.now = untilMs;
  }

  /** `a` was stopped (SIGSTOP) from `now` until `ms`: its timers fire late. */
  wakeAt(ms: number): void {
    this.now = ms;
    this.#deliver(() => this.a.handleTimeout(ms));
  }

  #later(run: () => void): void {
    this.#inbox.push({ at: this.now + 1, run });
  }

  #deliver(run: () => void): void {
    run();
    for (let e = this.a.pollEvent(); e; e = this.a.pollEvent()) {
      this.events.push({ at: this.now, e });
    }
    for (let t = this.a.pollTransmit(); t; t = this.a.pollTransmit()) {
      if (t.kind === "packet" && t.to.host === B.host) this.#packetToB(t.bytes);
      if (t.kind === "dial" && t.to.host === B.host) {
        this.#dialToB(t.streamId, t.bytes);
      }
    }
  }

  #packetToB(bytes: Uint8Array): void {
    if (!this.b.alive) return;
    const w = this.b.window;
    if (w !== null && (this.now < w[0] || this.now > w[1])) return;
    for (const m of openPacket(bytes, () => {})) {
      if (m.type === "suspect" && m.msg.node === "b") {
        // b refutes (its gossip never reaches a).
        this.b.incarnation = Math.max(
          this.b.incarnation,
          m.msg.incarnation + 1,
        );
      }
      if (m.type !== "ping") continue;
      const ack = encodeAck({ seqNo: m.msg.seqNo, payload: null });
      this.#later(() => this.a.handlePacket(ack, B, this.now));
    }
  }

  #dialToB(streamId: number, bytes: Uint8Array): void {
    const msg = openStream(bytes, 1 << 20);
    let reply: Uint8Array | Error = new Error("connection refused");
    if (this.b.alive && msg[0] === MessageType.ping) {
      const ping = decodePing(new MsgpackReader(msg, 1));
      reply = finishStream(
        encodeAck({ seqNo: ping.seqNo, payload: null }),
        true,
      );
    } else if (
      this.b.alive && this.b.streams && msg[0] === MessageType.pushPull
    ) {
      this.pushPulls.push(this.now);
      // b learns of the accusation in a's state and refutes (memberlist
      // merges after answering, so the answer may still be old).
      const theirs = decodePushPull(new MsgpackReader(msg, 1));
      const accused = theirs.nodes.find((n) => n.name === "b" && n.state === 1);
      const answer = finishStream(
        encodePushPull({
          join: false,
          nodes: [{
            name: "b",
            addr: ipFromString(B.host)!,
            port: B.port,
            meta: new Uint8Array(0),
            incarnation: this.b.incarnation,
            state: 0,
            vsn: VSN,
          }],
          userState: new Uint8Array(0),
        }),
        true,
      );
      if (accused !== undefined) {
        this.b.incarnation = Math.max(
          this.b.incarnation,
          accused.incarnation + 1,
        );
      }
      reply = answer;
    }
    this.#later(() => this.a.handleStreamReply(streamId, reply, this.now));
  }
}

test("veto: a suspect that acked our probe after the suspicion began is not declared dead; the push-pull brings its refutation", () => {
  const rig = new Rig();
  rig.accuse();
  assert.equal(rig.state(), "suspect");
  // a probes b at 1 s (ping + the accusation), b acks: a sign of life.
  rig.run(MIN_MS - 1);
  assert.equal(rig.a.stats().livenessChecks, 0, "no check needed");
  // At the timeout: extended, not dead; a push-pull with b goes out.
  rig.run(MIN_MS);
  assert.equal(rig.deathAt(), null);
  assert.equal(rig.a.stats().livenessVetoes, 1);
  assert.deepEqual(rig.pushPulls, [MIN_MS]);
  // b's answer (incarnation 2: it refuted the accusation it got in the
  // probe) clears the suspicion.
  rig.run(MIN_MS + 10);
  assert.equal(rig.state(), "alive");
  const b = rig.a.members().find((m) => m.name === "b")!;
  assert.equal(b.incarnation, 2);
  rig.run(120_000);
  assert.equal(rig.deathAt(), null, "never declared dead");
  assert.equal(rig.state(), "alive");
});

test("no sign of life: the suspect is declared dead exactly at the usual time, with or without the veto", () => {
  for (const veto of [true, false]) {
    const rig = new Rig({ suspicionLivenessVeto: veto });
    rig.b.alive = false;
    rig.accuse();
    rig.run(60_000);
    assert.equal(rig.deathAt(), MIN_MS, `veto ${veto}`);
    assert.equal(rig.a.stats().livenessVetoes, 0);
    // With the veto, one liveness check went out half-way (unanswered).
    assert.equal(rig.a.stats().livenessChecks, veto ? 1 : 0);
  }
});

test("without the veto (memberlist 0.2.2) the same live suspect is declared dead at the timeout", () => {
  const rig = new Rig({ suspicionLivenessVeto: false });
  rig.accuse();
  rig.run(60_000);
  assert.equal(rig.deathAt(), MIN_MS);
  assert.deepEqual(rig.pushPulls, [], "no push-pull with the suspect");
});

test("a silent suspect gets one liveness check; its answer vetoes the death", () => {
  const rig = new Rig({ disableTcpPings: true });
  // Accused at 250 ms, so the check (3 probe intervals in, capped at half
  // the period: 2 s) falls between a's probes of b (every second, on the
  // second), which b leaves unanswered: b answers only around the check.
  rig.run(250);
  rig.accuse();
  const check = 250 + MIN_MS / 2;
  rig.b.window = [check - 50, check + 50];
  rig.run(check - 1);
  assert.equal(rig.a.stats().livenessChecks, 0);
  rig.run(check);
  assert.equal(rig.a.stats().livenessChecks, 1);
  rig.run(250 + MIN_MS);
  assert.equal(rig.deathAt(), null);
  assert.equal(rig.a.stats().livenessVetoes, 1);
  // Without the answer the same run ends in death at the usual time.
  const silent = new Rig({ disableTcpPings: true });
  silent.run(250);
  silent.accuse();
  silent.b.window = [0, 0];
  silent.run(60_000);
  assert.equal(silent.a.stats().livenessChecks, 1);
  assert.equal(silent.deathAt(), 250 + MIN_MS);
});

test("the veto is bounded: a live suspect whose refutation never arrives dies after the last extension", () => {
  const rig = new Rig();
  rig.b.streams = false; // push-pulls refused: the refutation never arrives
  rig.accuse();
  rig.run(200_000);
  assert.equal(rig.a.stats().livenessVetoes, MAX_LIVENESS_VETOES);
  assert.equal(rig.deathAt(), MIN_MS + MAX_LIVENESS_VETOES * PERIOD_MS);
});

test("a suspect that crashes after showing signs of life dies one extension later", () => {
  const rig = new Rig();
  rig.accuse();
  // Alive (acking probes) until 3 s, then gone.
  rig.run(3_000);
  rig.b.alive = false;
  rig.run(200_000);
  assert.equal(rig.a.stats().livenessVetoes, 1);
  assert.equal(rig.deathAt(), MIN_MS + PERIOD_MS);
});

test("config: suspicionLivenessVeto must be a boolean", () => {
  assert.equal(lanConfig().suspicionLivenessVeto, true);
  assert.throws(
    () => lanConfig({ suspicionLivenessVeto: "yes" as unknown as boolean }),
    (e: unknown) =>
      e instanceof TypeError && /suspicionLivenessVeto/.test(e.message),
  );
});

test("a suspicion timer that fires late (we were paused) re-checks the suspect before accusing it", () => {
  // Found by the fault campaign (bench/campaign/README.md): a member waking
  // from a long pause declared members dead that had refuted long before.
  const WAKE_MS = 20_000; // the timer was due at MIN_MS
  // b is alive: the check's ping is answered, the veto fetches its
  // refutation, nobody dies.
  const live = new Rig();
  live.accuse();
  live.wakeAt(WAKE_MS);
  assert.equal(live.deathAt(), null, "not dead on waking");
  assert.equal(live.a.stats().lateSuspicionChecks, 1);
  assert.ok(live.a.stats().livenessChecks >= 1, "a liveness check went out");
  live.run(120_000);
  assert.equal(live.deathAt(), null, "never declared dead");
  assert.equal(live.state(), "alive");
  // b really crashed: dead one period after waking.
  const crashed = new Rig();
  crashed.b.alive = false;
  crashed.accuse();
  crashed.wakeAt(WAKE_MS);
  crashed.run(120_000);
  assert.equal(crashed.deathAt(), WAKE_MS + PERIOD_MS);
  // memberlist's behaviour with the veto off: dead the moment it wakes.
  const plain = new Rig({ suspicionLivenessVeto: false });
  plain.accuse();
  plain.wakeAt(WAKE_MS);
  assert.equal(plain.deathAt(), WAKE_MS);
  assert.equal(plain.a.stats().lateSuspicionChecks, 0);
});
