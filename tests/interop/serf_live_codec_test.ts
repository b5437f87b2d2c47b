/**
 * Live codec check: our codec decodes what a running Debian `serf agent` (Serf 0.9.4, memberlist
 * 0.2.2) sends on loopback, and serf accepts what we answer.
 *
 * A hand-driven fake member (no memberlist core, only the codec) sits on its own loopback address.
 * `serf join` makes the agent dial it with a join push-pull; the fake decodes the stream (frame,
 * header, node states with serf's Vsn and tag meta, serf's user state with its 512-slot event ring)
 * and answers with its own push-pull. Serf then probes and gossips to it over UDP: the fake peels
 * every layer (decrypt → CRC → compress → compound), decodes every message, acks every ping with a
 * coordinate payload, sees the `serf event hello world` user event, then falls silent until serf
 * gossips a suspect about it and refutes with an alive of a higher incarnation.
 *
 * Proof that our bytes are valid for Go: `serf members` lists the fake alive (push-pull accepted),
 * `serf rtt` knows its coordinate (ack payload decoded), serf re-gossips the refuting alive
 * (alive accepted), and serf logs no error. Every message serf sent is also re-encoded with our
 * encoders and must give serf's exact bytes back (LZW included).
 *
 * Run three ways: the agent's default (compression on), `-disable-compression`, and `-encrypt` with
 * a key generated here. Each test has its own 127.0.55.x addresses so files may run concurrently.
 *
 * ```
 * serf (127.0.55.x:1795x)                           fake member (127.0.55.y:1795y)
 *   <-- serf join (RPC, from the CLI)
 *   --TCP pushPull{Join:true, serf's state}-------->  decode, check Vsn/meta/user state
 *   <--TCP pushPull{Join:true, our state}-----------
 *   --UDP ping / gossip (alive, join intent)-------->  decode each
 *   <--UDP ack{Payload: 01 coordinate}---------------
 *   <-- serf event -coalesce=false hello world
 *   --UDP gossip user(8) userEvent(3) "hello"------->  decode
 *   --UDP ping, TCP fallback ping------------------->  ignored (silent)
 *   --UDP gossip suspect{Node: us}------------------>  decode
 *   <--UDP alive{Incarnation: 2} (CRC)---------------  refute
 *   --UDP gossip alive{Node: us, Incarnation: 2}---->  serf accepted it
 * ```
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DecodeError } from "../../src/codec/errors.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import {
  type Accusation,
  type Alive,
  decodeAccusation,
  decodeAck,
  decodeAlive,
  decodeCompress,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushPull,
  encodeAccusation,
  encodeAck,
  encodeAlive,
  encodeCompress,
  encodePing,
  encodePushPull,
  ipFromString,
  ipToString,
  MessageType,
  type PushPull,
} from "../../src/codec/messages.ts";
import { addCrc } from "../../src/codec/crc32.ts";
import { lzwCompress, lzwDecompress } from "../../src/codec/lzw.ts";
import { unwrapPacket } from "../../src/codec/packet.ts";
import { streamMessageLength } from "../../src/codec/stream.ts";
import { decodeTags } from "../../src/codec/tags.ts";
import {
  decodeCoordinatePayload,
  encodeCoordinatePayload,
  initialCoordinate,
} from "../../src/codec/coordinate.ts";
import {
  decodeSerfMessage,
  encodePushPullState,
  encodeSerfMessage,
} from "../../src/codec/serf_messages.ts";
import {
  decodeKey,
  Keyring,
  openPacket,
  openStream,
  sealPacket,
  sealStream,
} from "../../src/seal.ts";
import {
  type FakeMember,
  type HostPort,
  hostPort,
  pollUntil,
  type SerfAgent,
  serfSkipReason,
  startFakeMember,
  startSerfAgent,
  type StreamConn,
} from "./serf_harness.ts";

const SKIP = serfSkipReason();
if (SKIP) console.warn(SKIP);

/** Whole-test budget; each run takes about 4.5 s on a quiet machine. */
const TEST_TIMEOUT_MS = 20_000;
/** Deadline for any single awaited condition inside a test. */
const STEP_TIMEOUT_MS = 8_000;
/** memberlist's maxPushStateBytes: the most a stream message may declare. */
const MAX_STREAM_BYTES = 20 * 1024 * 1024;
/** Vsn of a serf 0.9.4 agent and of us: pmin 1, pmax 5, pcur 2, dmin 2, dmax 5, dcur 5 (SPEC §5). */
const SERF_VSN = new Uint8Array([1, 5, 2, 2, 5, 5]);
/** Meta of a member without tags: the 0xff magic and an empty msgpack map (SPEC §8.3). */
const EMPTY_TAGS_META = new Uint8Array([0xff, 0x80]);

/** How the agent frames its traffic in one run. */
type Mode = "compressed" | "plain" | "encrypted";

/** One run: where the agent and the fake live, and the agent's framing. */
interface Scenario {
  mode: Mode;
  serfName: string;
  serfBind: HostPort;
  serfRpc: HostPort;
  fakeName: string;
  fake: HostPort;
}

/** Everything the fake member decoded, for the assertions at the end. */
class Observed {
  /** Decoded message counts by name ("ping", "alive", "user:userEvent", "stream:pushPull", …). */
  readonly counts = new Map<string, number>();
  /** Every DecodeError (or other failure while decoding), with the offending bytes in hex. */
  readonly decodeErrors: string[] = [];
  /** Messages whose re-encoding differs from the bytes serf sent. */
  readonly roundTripMismatches: string[] = [];
  /** Failures while answering (sending acks, writing the push-pull). */
  readonly replyErrors: string[] = [];
  /** Packet layers seen ("encrypted", "crc", "compressed"). */
  readonly layers = new Set<string>();
  /** Stream framing seen ("encrypted", "compressed", "plain"). */
  readonly streamFraming = new Set<string>();
  /** User events decoded from gossip. */
  readonly userEvents: Array<
    { name: string; payload: string; cc: boolean; ltime: number }
  > = [];
  /** Alive messages decoded from gossip. */
  readonly alives: Alive[] = [];
  /** Push-pulls received from serf. */
  readonly pushPulls: PushPull[] = [];
  /** Suspect messages decoded (gossip or piggy-backed on a probe). */
  readonly suspects: Accusation[] = [];
  /** Pings answered. */
  acksSent = 0;

  count(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  seen(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  fail(what: string, bytes: Uint8Array, e: unknown): void {
    const kind = e instanceof DecodeError
      ? `DecodeError(${e.reason})`
      : "Error";
    this.decodeErrors.push(
      `${what}: ${kind} ${e instanceof Error ? e.message : String(e)}; bytes ${
        hex(bytes)
      }`,
    );
  }

  /** Compare our re-encoding of a decoded message with serf's bytes. */
  roundTrip(what: string, wire: Uint8Array, ours: Uint8Array): void {
    if (!equalBytes(wire, ours)) {
      this.roundTripMismatches.push(
        `${what}: serf ${hex(wire)} ours ${hex(ours)}`,
      );
    }
  }
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function text(b: Uint8Array | null): string {
  return b === null ? "" : new TextDecoder().decode(b);
}

/**
 * The fake member's protocol logic: decode what serf sends, answer pings and push-pulls.
 * Only the codec is used; there is no memberlist state machine behind it.
 */
class LiveFake {
  readonly obs = new Observed();
  readonly #s: Scenario;
  readonly #ring: Keyring | null;
  readonly #self: Alive;
  member: FakeMember | null = null;
  /** While true the fake ignores every ping (UDP and TCP) so serf suspects it. */
  silent = false;

  constructor(s: Scenario, ring: Keyring | null) {
    this.#s = s;
    this.#ring = ring;
    this.#self = {
      node: s.fakeName,
      addr: ipFromString(s.fake.host)!,
      port: s.fake.port,
      incarnation: 1,
      meta: EMPTY_TAGS_META,
      vsn: SERF_VSN,
    };
  }

  // ---- packets ----

  onPacket(bytes: Uint8Array, from: HostPort): void {
    const obs = this.obs;
    let plain = bytes;
    if (this.#ring !== null) {
      try {
        plain = openPacket(this.#ring, bytes);
        obs.layers.add("encrypted");
      } catch (e) {
        obs.fail(`packet from ${hostPort(from)} (decrypt)`, bytes, e);
        return;
      }
    }
    let messages: Uint8Array[];
    try {
      const u = unwrapPacket(plain);
      if (u.crc) obs.layers.add("crc");
      if (u.compressed) obs.layers.add("compressed");
      if (u.truncated) throw new Error("Compound message was truncated");
      messages = u.messages;
      this.#checkCompressRoundTrip(plain);
    } catch (e) {
      obs.fail(`packet from ${hostPort(from)}`, plain, e);
      return;
    }
    for (const m of messages) {
      try {
        this.#onMessage(m);
      } catch (e) {
        obs.fail(`message type ${m[0]}`, m, e);
      }
    }
  }

  /** Go's LZW writer is deterministic: our compressor must give serf's bytes back (SPEC §2.5). */
  #checkCompressRoundTrip(plain: Uint8Array): void {
    let buf = plain;
    if (buf[0] === MessageType.hasCrc) buf = buf.subarray(5);
    if (buf[0] !== MessageType.compress) return;
    const c = decodeCompress(new MsgpackReader(buf, 1));
    const inner = lzwDecompress(c.buf, 1 << 20);
    this.obs.roundTrip(
      "compress",
      buf,
      encodeCompress({ algo: 0, buf: lzwCompress(inner) }),
    );
  }

  #onMessage(m: Uint8Array): void {
    const obs = this.obs;
    const r = new MsgpackReader(m, 1);
    switch (m[0]) {
      case MessageType.ping: {
        const ping = decodePing(r);
        obs.count("ping");
        obs.roundTrip("ping", m, encodePing(ping));
        assert.equal(ping.node, this.#s.fakeName, "serf pings us by our name");
        assert.ok(ping.sourceAddr !== null, "serf's ping carries SourceAddr");
        if (this.silent) break;
        this.#sendAck(ping.seqNo, {
          host: ipToString(ping.sourceAddr),
          port: ping.sourcePort,
        });
        break;
      }
      case MessageType.indirectPing:
        decodeIndirectPing(r);
        obs.count("indirectPing");
        break;
      case MessageType.ack: {
        const ack = decodeAck(r);
        obs.count("ack");
        if (ack.payload !== null && ack.payload.length > 0) {
          decodeCoordinatePayload(ack.payload);
        }
        break;
      }
      case MessageType.nack:
        decodeNack(r);
        obs.count("nack");
        break;
      case MessageType.suspect:
      case MessageType.dead: {
        const a = decodeAccusation(r);
        obs.count(m[0] === MessageType.suspect ? "suspect" : "dead");
        if (m[0] === MessageType.suspect) obs.suspects.push(a);
        obs.roundTrip("accusation", m, encodeAccusation(m[0], a));
        break;
      }
      case MessageType.alive: {
        const a = decodeAlive(r);
        obs.count("alive");
        obs.alives.push(a);
        obs.roundTrip("alive", m, encodeAlive(a));
        decodeTags(a.meta);
        break;
      }
      case MessageType.user:
        this.#onSerfMessage(m.subarray(1));
        return;
      case MessageType.err:
        throw new Error(`serf sent err: ${decodeErr(r)}`);
      default:
        throw new DecodeError("type", `Unexpected packet message type ${m[0]}`);
    }
    if (r.remaining !== 0) {
      throw new DecodeError(
        "trailing",
        `${r.remaining} bytes left after message type ${m[0]}`,
      );
    }
  }

  #onSerfMessage(payload: Uint8Array): void {
    const msg = decodeSerfMessage(payload);
    this.obs.count(`user:${msg.type}`);
    // Serf's structs have sorted keys and no Go maps, except the push-pull state's StatusLTimes
    // whose wire order our Map keeps: re-encoding must give serf's bytes back.
    this.obs.roundTrip(`serf ${msg.type}`, payload, encodeSerfMessage(msg));
    if (msg.type === "userEvent") {
      this.obs.userEvents.push({
        name: msg.body.name,
        payload: text(msg.body.payload),
        cc: msg.body.cc,
        ltime: msg.body.ltime,
      });
    }
  }

  #sendAck(seqNo: number, to: HostPort): void {
    const ack = encodeAck({
      seqNo,
      payload: encodeCoordinatePayload(initialCoordinate()),
    });
    const out = this.#ring === null
      ? ack
      : sealPacket(this.#ring, ack, { version: 1 });
    this.member!.send(out, to).then(
      () => this.obs.acksSent++,
      (e: Error) => this.obs.replyErrors.push(`ack ${seqNo}: ${e.message}`),
    );
  }

  /**
   * Refute a suspicion the way memberlist does (SPEC §6.1): gossip an alive of ourselves with a
   * higher incarnation, CRC-wrapped like memberlist's gossip (and sealed when encrypting).
   */
  async refute(accusedIncarnation: number, to: HostPort): Promise<number> {
    this.#self.incarnation = Math.max(
      this.#self.incarnation + 1,
      accusedIncarnation + 1,
    );
    const packet = addCrc(encodeAlive(this.#self));
    await this.member!.send(
      this.#ring === null ? packet : sealPacket(this.#ring, packet),
      to,
    );
    return this.#self.incarnation;
  }

  // ---- streams ----

  onStream(conn: StreamConn): void {
    this.#serveStream(conn).catch((e: Error) => {
      this.obs.replyErrors.push(
        `stream from ${hostPort(conn.remote)}: ${e.message}`,
      );
      conn.close();
    });
  }

  async #serveStream(conn: StreamConn): Promise<void> {
    const obs = this.obs;
    // Read exactly one stream message; a "truncated" verdict only means "read more".
    const frame = await conn.read(
      (b) => streamMessageLength(b, MAX_STREAM_BYTES),
      STEP_TIMEOUT_MS,
    );
    let msg: Uint8Array;
    let compressed = false;
    try {
      msg = frame;
      if (msg[0] === MessageType.encrypt) {
        obs.streamFraming.add("encrypted");
        assert.ok(
          this.#ring !== null,
          "serf encrypted a stream to an unencrypted member",
        );
        msg = openStream(this.#ring, msg);
      } else {
        assert.equal(
          this.#ring,
          null,
          "serf sent a plaintext stream while encrypting",
        );
      }
      if (msg[0] === MessageType.compress) {
        obs.streamFraming.add("compressed");
        compressed = true;
        const r = new MsgpackReader(msg, 1);
        const c = decodeCompress(r);
        assert.equal(c.algo, 0);
        assert.equal(r.remaining, 0, "nothing follows the compress message");
        const inner = lzwDecompress(c.buf, MAX_STREAM_BYTES);
        obs.roundTrip(
          "stream compress",
          msg,
          encodeCompress({ algo: 0, buf: lzwCompress(inner) }),
        );
        msg = inner;
      } else {
        obs.streamFraming.add("plain");
      }
    } catch (e) {
      obs.fail("stream frame", frame, e);
      conn.close();
      return;
    }
    let reply: Uint8Array | null = null;
    try {
      reply = this.#onStreamMessage(msg);
    } catch (e) {
      obs.fail(`stream message type ${msg[0]}`, msg, e);
    }
    if (reply !== null) {
      // memberlist compresses every stream when compression is on (SPEC §4.2); mirror serf.
      if (compressed) {
        reply = encodeCompress({ algo: 0, buf: lzwCompress(reply) });
      }
      if (this.#ring !== null) {
        reply = sealStream(this.#ring, reply, { version: 1 });
      }
      await conn.write(reply);
    }
    conn.close();
  }

  #onStreamMessage(msg: Uint8Array): Uint8Array | null {
    const obs = this.obs;
    const r = new MsgpackReader(msg, 1);
    switch (msg[0]) {
      case MessageType.pushPull: {
        const pp = decodePushPull(r);
        obs.count("stream:pushPull");
        obs.pushPulls.push(pp);
        obs.roundTrip("pushPull", msg, encodePushPull(pp));
        const state = decodeSerfMessage(pp.userState);
        obs.count(`stream:pushPull:${state.type}`);
        obs.roundTrip(
          "serf push-pull state",
          pp.userState,
          encodeSerfMessage(state),
        );
        return this.#pushPullAnswer(pp.join);
      }
      case MessageType.ping: {
        // TCP fallback probe (SPEC §4.4): the ack carries no payload.
        const ping = decodePing(r);
        obs.count("stream:ping");
        assert.equal(ping.node, this.#s.fakeName);
        if (this.silent) return null;
        return encodeAck({ seqNo: ping.seqNo, payload: null });
      }
      default:
        throw new DecodeError(
          "type",
          `Unexpected stream message type ${msg[0]}`,
        );
    }
  }

  /** Our push-pull: ourselves alive, and a fresh Serf state that knows only us (SPEC §4.3, §8.2). */
  #pushPullAnswer(join: boolean): Uint8Array {
    const self = this.#self;
    const userState = encodePushPullState({
      ltime: 1,
      statusLtimes: new Map([[self.node, 1]]),
      leftMembers: [],
      eventLtime: 1,
      events: new Array<null>(512).fill(null),
      queryLtime: 1,
    });
    return encodePushPull({
      join,
      nodes: [{
        name: self.node,
        addr: self.addr,
        port: self.port,
        meta: self.meta,
        incarnation: self.incarnation,
        state: 0,
        vsn: self.vsn,
      }],
      userState,
    });
  }
}

/** Start the agent and the fake, run `body`, and always release both. */
async function withLiveCluster(
  s: Scenario,
  body: (serf: SerfAgent, fake: LiveFake) => Promise<void>,
): Promise<void> {
  const key = s.mode === "encrypted"
    ? randomBytes(32).toString("base64")
    : undefined;
  const ring = key === undefined ? null : new Keyring([decodeKey(key)]);
  const fake = new LiveFake(s, ring);
  let serf: SerfAgent | null = null;
  try {
    fake.member = await startFakeMember(s.fake, {
      onPacket: (bytes, from) => fake.onPacket(bytes, from),
      onStream: (conn) => fake.onStream(conn),
    });
    serf = await startSerfAgent({
      name: s.serfName,
      bind: s.serfBind,
      rpc: s.serfRpc,
      encryptKey: key,
      extraArgs: [
        "-tag",
        "role=interop",
        ...(s.mode === "plain" ? ["-disable-compression"] : []),
      ],
    });
    await body(serf, fake);
  } catch (e) {
    if (e instanceof Error) {
      const o = fake.obs;
      e.message += `\n--- decoded ---\n${JSON.stringify([...o.counts])}` +
        `\n--- decode errors ---\n${o.decodeErrors.join("\n")}` +
        `\n--- reply errors ---\n${o.replyErrors.join("\n")}`;
      if (serf !== null) e.message += `\n--- serf log ---\n${serf.log}`;
    }
    throw e;
  } finally {
    await serf?.stop();
    await fake.member?.close();
  }
}

/** The whole live check for one scenario. */
async function liveCodecCheck(s: Scenario): Promise<void> {
  await withLiveCluster(s, async (serf, fake) => {
    const obs = fake.obs;

    // 1. serf join: serf dials our TCP port with a join push-pull and merges our answer.
    const join = await serf.cli("join", [hostPort(s.fake)]);
    assert.equal(
      join.code,
      0,
      `serf join failed: ${join.stdout}${join.stderr}`,
    );
    assert.match(
      join.stdout,
      /Successfully joined cluster by contacting 1 nodes/,
    );
    assert.equal(obs.seen("stream:pushPull"), 1);

    const pp = obs.pushPulls[0];
    assert.equal(pp.join, true, "a join push-pull has Join=true");
    const serfNode = pp.nodes.find((n) => n.name === s.serfName);
    assert.ok(
      serfNode,
      `serf's push-pull lists itself (${pp.nodes.map((n) => n.name)})`,
    );
    assert.equal(serfNode.state, 0, "serf is alive in its own state");
    assert.deepEqual(
      [...serfNode.vsn],
      [...SERF_VSN],
      "serf's Vsn is 01 05 02 02 05 05",
    );
    assert.equal(ipToString(serfNode.addr), s.serfBind.host);
    assert.equal(serfNode.port, s.serfBind.port);
    assert.deepEqual(decodeTags(serfNode.meta), new Map([["role", "interop"]]));
    const state = decodeSerfMessage(pp.userState);
    assert.equal(state.type, "pushPull");
    if (state.type === "pushPull") {
      assert.equal(
        state.body.events.length,
        512,
        "serf sends its whole 512-slot event ring",
      );
      assert.ok(
        state.body.statusLtimes.has(s.serfName),
        "StatusLTimes holds serf itself",
      );
    }
    const expectedFraming = s.mode === "encrypted"
      ? ["compressed", "encrypted"]
      : s.mode === "compressed"
      ? ["compressed"]
      : ["plain"];
    assert.deepEqual([...obs.streamFraming].sort(), expectedFraming);

    // 2. serf probes and gossips to us; it must keep us alive on the strength of our acks.
    await pollUntil(
      "a ping from serf, acked",
      () => obs.acksSent > 0 || undefined,
      {
        timeoutMs: STEP_TIMEOUT_MS,
      },
    );
    await pollUntil("serf members listing us alive", async () => {
      const members = await serf.cli("members");
      const line = members.stdout.split("\n").find((l) =>
        l.startsWith(s.fakeName + " ")
      );
      return line !== undefined && /\balive\b/.test(line) ? line : undefined;
    }, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 200 });

    // Serf keeps a coordinate for us only after it decoded our ack's payload (Vivaldi update in
    // its ping delegate), so `serf rtt` answering proves the coordinate bytes are valid for Go.
    await pollUntil("serf holding our coordinate (serf rtt)", async () => {
      const rtt = await serf.cli("rtt", [s.fakeName]);
      return rtt.code === 0 && /rtt:/.test(rtt.stdout) ? rtt.stdout : undefined;
    }, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 200 });

    // 3. A user event gossiped to us.
    const ev = await serf.cli("event", ["-coalesce=false", "hello", "world"]);
    assert.equal(ev.code, 0, `serf event failed: ${ev.stdout}${ev.stderr}`);
    const hello = await pollUntil(
      "the gossiped user event",
      () => obs.userEvents.find((e) => e.name === "hello"),
      { timeoutMs: STEP_TIMEOUT_MS },
    );
    assert.equal(hello.payload, "world");
    assert.equal(hello.cc, false, "-coalesce=false gossips CC=false");

    // 4. Fall silent until serf suspects us, then refute with a higher incarnation. serf accepts
    //    our alive when it gossips it back to us (memberlist re-broadcasts only accepted alives).
    fake.silent = true;
    const suspect = await pollUntil(
      "serf gossiping a suspect about us",
      () => obs.suspects.find((a) => a.node === s.fakeName),
      { timeoutMs: STEP_TIMEOUT_MS },
    );
    assert.equal(suspect.from, s.serfName);
    const incarnation = await fake.refute(suspect.incarnation, s.serfBind);
    fake.silent = false;
    await pollUntil(
      "serf re-gossiping our refuting alive",
      () =>
        obs.alives.find((a) =>
          a.node === s.fakeName && a.incarnation === incarnation
        ),
      { timeoutMs: STEP_TIMEOUT_MS },
    );

    // 5. Everything decoded, and nothing serf sent was malformed to us.
    assert.ok(obs.seen("ping") >= 1, "saw a ping");
    assert.ok(obs.seen("alive") >= 1, "saw an alive");
    assert.ok(
      obs.alives.some((a) =>
        a.node === s.serfName && equalBytes(a.vsn, SERF_VSN)
      ),
      "saw serf's own alive with its Vsn",
    );
    assert.deepEqual(obs.decodeErrors, [], "zero decode errors");
    assert.deepEqual(
      obs.roundTripMismatches,
      [],
      "our encoders give serf's bytes back",
    );
    assert.deepEqual(obs.replyErrors, [], "every answer was sent");
    if (s.mode === "encrypted") assert.ok(obs.layers.has("encrypted"));
    if (s.mode === "plain") {
      assert.ok(!obs.layers.has("compressed"), "no compression when disabled");
    }
    // Serf logged no trouble with anything we sent. The one expected error is the TCP fallback
    // ping we left unanswered on purpose while silent.
    const complaints = serf.logLines.filter((l) =>
      /\[(ERR|WARN)\]/.test(l) && !/Failed fallback ping/.test(l)
    );
    assert.deepEqual(complaints, [], "serf logged no errors or warnings");
    const still = await serf.cli("members", ["-status=alive"]);
    assert.match(
      still.stdout,
      new RegExp(`^${s.fakeName}\\s`, "m"),
      "still alive at the end",
    );
  });
}

test(
  "live serf: default agent (compression on) — our codec decodes its push-pull and gossip",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    await liveCodecCheck({
      mode: "compressed",
      serfName: "serf-live-1",
      serfBind: { host: "127.0.55.1", port: 17946 },
      serfRpc: { host: "127.0.55.1", port: 17373 },
      fakeName: "grapevine-live-1",
      fake: { host: "127.0.55.2", port: 17947 },
    });
  },
);

test(
  "live serf: -disable-compression — our codec decodes plain push-pull and gossip",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    await liveCodecCheck({
      mode: "plain",
      serfName: "serf-live-2",
      serfBind: { host: "127.0.55.3", port: 17948 },
      serfRpc: { host: "127.0.55.3", port: 17374 },
      fakeName: "grapevine-live-2",
      fake: { host: "127.0.55.4", port: 17949 },
    });
  },
);

test(
  "live serf: -encrypt with a generated key — we open its packets and stream, it opens ours",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    await liveCodecCheck({
      mode: "encrypted",
      serfName: "serf-live-3",
      serfBind: { host: "127.0.55.5", port: 17950 },
      serfRpc: { host: "127.0.55.5", port: 17375 },
      fakeName: "grapevine-live-3",
      fake: { host: "127.0.55.6", port: 17951 },
    });
  },
);
