/**
 * The memberlist core: SWIM + Lifeguard as a pure synchronous state machine
 * (ARCHITECTURE principles 1, 2), rule for rule memberlist 0.2.2
 * (state.go, net.go, memberlist.go; SPEC §2–§6).
 *
 * Inputs come with `now` (integer ms); outputs are queued transmits and
 * events; timers are named deadlines. Randomness comes only from the
 * injected `prng`.
 *
 * Bounds (ARCHITECTURE principle 8), each with its behaviour at the cap:
 * - member table: {@linkcode MAX_MEMBERS}; alive messages about new names
 *   are dropped (`dropped.member-cap`) until dead nodes are reaped.
 * - memberlist broadcast queue: {@linkcode MAX_BROADCASTS}; the entries
 *   served last are dropped (push-pull repairs them). User queue: the same.
 * - relayed indirect probes: {@linkcode MAX_RELAYS}; new requests dropped.
 * - outbound streams (push-pull, join, TCP ping): {@linkcode MAX_DIALS};
 *   a join seed past it fails, a periodic push-pull waits for its next turn.
 * - inbound push-pulls whose answer the host has not yet taken:
 *   `MAX_PUSH_PULL_REQUESTS` (memberlist's 128); past it the stream is
 *   closed without an answer.
 * - queued transmits / events: {@linkcode MAX_QUEUED}; newer ones dropped
 *   (`dropped.transmit-overflow` / `event-overflow`). The host drains both
 *   after every call, so this only trips when it does not.
 * - decompressed sizes: 128 KiB per packet, `MAX_PUSH_STATE_BYTES` per
 *   stream; compound/compress nesting 4 deep.
 *
 * One deliberate deviation from memberlist 0.2.2, on by default and off
 * with `suspicionLivenessVeto: false` (everything on the wire is unchanged):
 * the *liveness veto*. In memberlist a member that misses every copy of a
 * refutation keeps its stale suspicion, and when the timer fires declares
 * the member dead at an incarnation it has long refuted; at 20 % loss that
 * happens to a few healthy members a minute. In Lifeguard's spirit — local
 * evidence should temper a timeout — we keep, per suspicion, the latest
 * sign of life from the suspect: a packet from its address, an ack to our
 * probe of it (direct, relayed by an indirect probe, or the TCP fallback),
 * an answered push-pull. A suspect that showed none 3 probe intervals into
 * the period (or half-way through a shorter one) gets one liveness check: a
 * ping carrying the accusation (as memberlist probes a suspect) and, like
 * memberlist's fallback, a TCP ping, either answer counting until the
 * deadline. If the timer fires and the suspect showed a sign of
 * life since the suspicion (or the previous extension) began, it stays
 * suspect for one more period (the minimum suspicion timeout, at least the
 * TCP timeout) and we push-pull with it, which brings its current alive and
 * so the refutation. At most `MAX_LIVENESS_VETOES` extensions; a crashed
 * node sends nothing, so it is declared dead exactly when memberlist would,
 * or (if it crashed after being suspected) one period after its last sign
 * of life. The cost: one ping and one TCP ping per member still holding
 * the suspicion at check time — for a member that really died, every
 * member sends them once. Part of the same rule: a suspicion timer that
 * fires more than a probe interval late (we were paused) gets one more
 * period and a liveness check before we accuse (`#recheckLate`).
 *
 * A second deviation, on by default and off with `eagerGossip: false`, only
 * moves gossip rounds earlier: *eager gossip* (see `#wantGossip`). And one
 * change that is invisible on the wire: the gossip timer is disarmed while
 * nothing is queued, since memberlist's `gossip()` sends nothing then (an
 * idle member wakes for its probe ticks, not 5 more times a second).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Address, Machine, Transmit } from "../machine.ts";
import {
  MAX_PUSH_PULL_REQUESTS,
  MAX_PUSH_STATE_BYTES,
  type MemberlistConfig,
  META_MAX_SIZE,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
} from "../config.ts";
import type { Member, MemberlistEvent } from "../types.ts";
import { DecodeError } from "../codec/errors.ts";
import {
  type Accusation,
  type Ack,
  type Alive,
  decodeAck,
  decodePing,
  encodeAccusation,
  encodeAck,
  encodeAlive,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodeUser,
  type IndirectPing,
  ipFromString,
  ipToString,
  MessageType,
  type Ping,
  type PushPull,
} from "../codec/messages.ts";
import { encodeCompound } from "../codec/compound.ts";
import { MsgpackReader } from "../codec/msgpack.ts";
import type { MemberlistDelegate } from "./delegate.ts";
import { Awareness } from "./awareness.ts";
import { BroadcastQueue } from "./broadcasts.ts";
import { Deadlines } from "./deadlines.ts";
import {
  pushPullScaleMs,
  randomOffset,
  suspicionTimeoutMs,
} from "./formulas.ts";
import {
  bytesEqual,
  deadOrLeft,
  internIp,
  MemberTable,
  type NodeState,
  toMember,
  vsnFromWire,
} from "./members.ts";
import {
  failedProbeDelta,
  nextProbeTarget,
  type ProbeRun,
  type Relay,
} from "./probe.ts";
import {
  decodeRemoteState,
  encodeLocalState,
  mergeRemoteState,
  readPushPullReply,
} from "./push_pull.ts";
import { MAX_LIVENESS_VETOES, Suspicion } from "./suspicion.ts";
import {
  decodeStreamUser,
  finishPacket,
  finishStream,
  type Inbound,
  makeCompounds,
  openPacket,
  openStream,
} from "./wire.ts";

/** Most members kept in the table (see the module doc). */
export const MAX_MEMBERS = 65_536;
/** Most queued broadcasts per queue (see the module doc). */
export const MAX_BROADCASTS = 8_192;
/** Most indirect probes relayed at once. */
export const MAX_RELAYS = 1_024;
/** Most outbound streams open at once. */
export const MAX_DIALS = 1_024;
/** Most queued transmits, and most queued events. */
export const MAX_QUEUED = 65_536;

// memberlist's compoundHeaderOverhead, compoundOverhead, userMsgOverhead.
const COMPOUND_HEADER_OVERHEAD = 2;
const COMPOUND_OVERHEAD = 2;
const USER_MSG_OVERHEAD = 1;
const EMPTY = new Uint8Array(0);

const logger = getLogger(["grapevine", "memberlist"]);

/** Options of a {@linkcode Memberlist} beyond its config. */
export interface MemberlistOptions {
  /** Uniform random numbers in [0, 1); the only source of randomness. */
  prng: () => number;
  /** Current time (ms, monotonic) at construction. */
  now: number;
  /** Hooks of the layer above (Serf). */
  delegate?: MemberlistDelegate;
  /** Bytes the host's seal stage adds to each packet (encryption + label). */
  sealOverheadBytes?: number;
  /** Bound of the member table (default {@linkcode MAX_MEMBERS}). */
  maxMembers?: number;
  /**
   * Members to start with, as if learned and fully gossiped before `now`:
   * each enters the table alive, at a random probe position, with no join
   * event, no broadcast and no delegate call (so a layer above, such as
   * Serf, does not learn them). This is the state a cluster reaches once its
   * join storm has drained; the simulator uses it to start large converged
   * clusters without replaying n² joins (`startConverged`). Entries about
   * ourselves, duplicates and alives with bad protocol versions are skipped.
   */
  knownMembers?: readonly {
    /** Node name. */
    readonly node: string;
    /** IP bytes (4 or 16). */
    readonly addr: Uint8Array;
    /** Port. */
    readonly port: number;
    /** Metadata (copied). */
    readonly meta: Uint8Array;
    /** Incarnation. */
    readonly incarnation: number;
    /** Six version bytes, as in an alive message. */
    readonly vsn: Uint8Array;
  }[];
  /**
   * Address others should use. Default: `advertiseAddr:advertisePort` when
   * `advertiseAddr` is set, else `bindAddr:bindPort` (memberlist
   * `refreshAdvertise`). Must be an IP literal.
   */
  advertise?: Address;
}

/** Counters of a {@linkcode Memberlist}, for `stats()`. */
export interface MemberlistStats {
  /** Packets handed to handlePacket. */
  packetsIn: number;
  /** Packet bytes handed to handlePacket. */
  bytesIn: number;
  /** Packets queued for sending. */
  packetsOut: number;
  /** Packet bytes queued for sending. */
  bytesOut: number;
  /** Streams handed to handleStream. */
  streamsIn: number;
  /** Dials queued. */
  streamsOut: number;
  /** Probes started. */
  probes: number;
  /** Probes that ended in a suspicion. */
  probeFailures: number;
  /** Times we refuted an accusation about ourselves. */
  refutes: number;
  /** Suspicion timeouts extended by the liveness veto (see the module doc). */
  livenessVetoes: number;
  /** Liveness checks sent to suspects that showed no sign of life. */
  livenessChecks: number;
  /** Suspicion timers that fired late (we were paused) and got re-checked. */
  lateSuspicionChecks: number;
  /** Malformed input dropped, by reason. */
  decodeErrors: Map<string, number>;
  /** Well-formed input dropped, by reason (stale, unknown type, caps …). */
  dropped: Map<string, number>;
}

type StreamCtx =
  | {
    readonly kind: "pushPull";
    readonly join: boolean;
    readonly opId: number | null;
    readonly to: Address;
    readonly peer: string;
    // A liveness-veto exchange with a suspect: not part of the periodic
    // schedule, so its end arms nothing.
    readonly refresh: boolean;
  }
  | { readonly kind: "ping"; readonly seqNo: number };

interface JoinOp {
  pending: number;
  joined: number;
  readonly errors: string[];
}

function addressText(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function bump(m: Map<string, number>, reason: string): void {
  m.set(reason, (m.get(reason) ?? 0) + 1);
}

/**
 * memberlist 0.2.2 as a pure state machine.
 *
 * @example
 * ```ts
 * const m = new Memberlist(lanConfig({ name: "a", bindAddr: "10.0.0.1" }), {
 *   prng: seededRandom(1),
 *   now: 0,
 * });
 * const op = m.join([{ host: "10.0.0.2", port: 7946 }], 0);
 * // host loop: send m.pollTransmit(), dispatch m.pollEvent(), wake at m.nextDeadline()
 * ```
 */
export class Memberlist implements Machine<MemberlistEvent> {
  readonly #config: MemberlistConfig;
  readonly #prng: () => number;
  readonly #delegate: MemberlistDelegate;
  readonly #sealOverheadBytes: number;
  readonly #name: string;
  readonly #selfIp: Uint8Array;
  readonly #selfPort: number;
  readonly #bindPort: number;
  readonly #table: MemberTable;
  readonly #broadcasts: BroadcastQueue;
  readonly #userBroadcasts: BroadcastQueue;
  readonly #awareness: Awareness;
  readonly #suspicions = new Map<string, Suspicion>();
  // Liveness veto: "host:port" → name of each suspect, to credit its
  // packets; sequence number → name of each liveness check in flight (at
  // most one per suspicion).
  readonly #suspectAddrs = new Map<string, string>();
  readonly #checks = new Map<number, string>();
  readonly #deadlines = new Deadlines();
  #transmits: Transmit[] = [];
  #events: MemberlistEvent[] = [];
  #seqNo = 0;
  #incarnation = 0;
  #probeIndex = 0;
  #probe: ProbeRun | null = null;
  #probeTickPending = false;
  // Gossip ticks are at #gossipOriginMs + k·gossipIntervalMs, k ≥ 1
  // (memberlist's ticker); #lastGossipMs is the last round of any kind.
  #gossipOriginMs: number;
  #lastGossipMs = Number.NEGATIVE_INFINITY;
  readonly #relays = new Map<number, Relay>();
  readonly #streams = new Map<number, StreamCtx>();
  #nextStreamId = 0;
  readonly #joins = new Map<number, JoinOp>();
  #leaveOpId: number | null = null;
  #nextOpId = 0;
  #leaving = false;
  #shutdown = false;
  #inboundPushPulls = 0;
  readonly #pushPullReplies = new Set<number>();
  readonly #stats: MemberlistStats = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    streamsIn: 0,
    streamsOut: 0,
    probes: 0,
    probeFailures: 0,
    refutes: 0,
    livenessVetoes: 0,
    livenessChecks: 0,
    lateSuspicionChecks: 0,
    decodeErrors: new Map(),
    dropped: new Map(),
  };

  /**
   * Create the member, announce ourselves (memberlist `setAlive`) and arm
   * the probe, gossip and push-pull timers.
   *
   * @param config memberlist tunables (see `lanConfig`)
   * @param options randomness, start time, delegate, seal overhead, address
   * @throws {TypeError} on an empty name or a non-IP advertise address
   * @throws {RangeError} when the delegate's meta exceeds 512 bytes
   */
  constructor(config: MemberlistConfig, options: MemberlistOptions) {
    if (config.name === "") {
      throw new TypeError("Invalid config name: must not be empty");
    }
    this.#config = config;
    this.#prng = options.prng;
    this.#delegate = options.delegate ?? {};
    this.#sealOverheadBytes = options.sealOverheadBytes ?? 0;
    this.#name = config.name;
    const adv = options.advertise ?? (config.advertiseAddr !== ""
      ? {
        host: config.advertiseAddr,
        port: config.advertisePort || config.bindPort,
      }
      : { host: config.bindAddr, port: config.bindPort });
    const ip = ipFromString(adv.host);
    if (ip === null) {
      throw new TypeError(
        `Invalid advertise address: ${
          JSON.stringify(adv.host)
        } is not an IP literal`,
      );
    }
    this.#selfIp = ip;
    this.#selfPort = adv.port;
    this.#bindPort = config.bindPort !== 0 ? config.bindPort : adv.port;
    this.#table = new MemberTable(options.maxMembers ?? MAX_MEMBERS);
    this.#broadcasts = new BroadcastQueue(
      config.retransmitMult,
      MAX_BROADCASTS,
    );
    this.#userBroadcasts = new BroadcastQueue(
      config.retransmitMult,
      MAX_BROADCASTS,
    );
    this.#awareness = new Awareness(config.awarenessMaxMultiplier);
    const now = options.now;
    this.#gossipOriginMs = now;
    this.#aliveNode(this.#selfAlive(this.#nextIncarnation()), true, now);
    for (const a of options.knownMembers ?? []) this.#preload(a, now);
    this.#schedule(now);
  }

  // ---------------------------------------------------------------- Machine

  /** A datagram arrived (already opened by the seal stage). */
  handlePacket(bytes: Uint8Array, from: Address, now: number): void {
    if (this.#shutdown) return;
    this.#stats.packetsIn++;
    this.#stats.bytesIn += bytes.length;
    const msgs = openPacket(bytes, (kind, reason) => {
      bump(
        kind === "decode" ? this.#stats.decodeErrors : this.#stats.dropped,
        reason,
      );
    });
    if (msgs.length > 0) this.#observeAddress(from, now);
    for (const m of msgs) this.#dispatch(m, from, now);
  }

  /** An inbound stream delivered its first message; always answered once. */
  handleStream(
    inboundId: number,
    bytes: Uint8Array,
    from: Address,
    now: number,
  ): void {
    if (this.#shutdown) return;
    this.#stats.streamsIn++;
    this.#observeAddress(from, now);
    let msg: Uint8Array;
    try {
      msg = openStream(bytes, MAX_PUSH_STATE_BYTES);
    } catch (e) {
      // memberlist answers a read error with an err (13) message.
      const text = this.#decodeFailure(e);
      logger.error`failed to receive: ${text} from=${addressText(from)}`;
      const err = finishStream(encodeErr(text), this.#config.enableCompression);
      return this.#reply(inboundId, err);
    }
    switch (msg[0]) {
      case MessageType.pushPull:
        return this.#acceptPushPull(inboundId, msg, now);
      case MessageType.ping:
        return this.#acceptStreamPing(inboundId, msg);
      case MessageType.user:
        return this.#acceptStreamUser(inboundId, msg, now);
    }
    logger.error`Received invalid msgType (${msg[0]}) from=${
      addressText(from)
    }`;
    bump(this.#stats.dropped, `stream-type-${msg[0]}`);
    this.#reply(inboundId, null);
  }

  /** A dialed stream answered (bytes) or failed (Error). */
  handleStreamReply(
    streamId: number,
    result: Uint8Array | Error,
    now: number,
  ): void {
    if (this.#shutdown) return;
    const ctx = this.#streams.get(streamId);
    if (ctx === undefined) {
      bump(this.#stats.dropped, "stale-stream");
      return;
    }
    this.#streams.delete(streamId);
    this.#deadlines.clear(`stream:${streamId}`);
    if (ctx.kind === "ping") {
      return this.#streamPingDone(ctx.seqNo, result, now);
    }
    if (result instanceof Error) {
      return this.#pushPullDone(ctx, result.message, now);
    }
    this.#observeLiveness(ctx.peer, now);
    let reply: PushPull | string;
    try {
      reply = readPushPullReply(
        openStream(result, MAX_PUSH_STATE_BYTES),
        this.#bindPort,
      );
    } catch (e) {
      return this.#pushPullDone(ctx, this.#decodeFailure(e), now);
    }
    if (typeof reply === "string") return this.#pushPullDone(ctx, reply, now);
    // The dialer merges with its own Join flag (memberlist pushPullNode).
    const err = this.#mergeRemote(reply, ctx.join, now);
    this.#pushPullDone(ctx, err, now);
  }

  /** Handle every deadline ≤ `now`; late calls are harmless. */
  handleTimeout(now: number): void {
    // Bounded loop: a handler can only re-arm deadlines in the future, or
    // at `now` for a suspicion confirmed to zero, which fires once, or for
    // an eager gossip round, which runs at most once per `now` (the next
    // one is ≥ 1 ms later, see `#wantGossip`).
    for (let i = 0; i < 100_000 && !this.#shutdown; i++) {
      const due = this.#deadlines.popDue(now);
      if (due === undefined) return;
      this.#onDeadline(due.name, due.atMs, now);
    }
  }

  /** Earliest time the machine wants {@linkcode handleTimeout}, or null. */
  nextDeadline(): number | null {
    return this.#shutdown ? null : this.#deadlines.next();
  }

  /** Next queued transmit, if any. */
  pollTransmit(): Transmit | undefined {
    const t = this.#transmits.shift();
    if (t?.kind === "reply" && this.#pushPullReplies.delete(t.inboundId)) {
      // The answer left: this push-pull no longer counts as pending.
      this.#inboundPushPulls--;
    }
    return t;
  }

  /** Next queued event, if any. */
  pollEvent(): MemberlistEvent | undefined {
    return this.#events.shift();
  }

  // --------------------------------------------------------------- commands

  /**
   * Join through `seeds` (memberlist `Join`): one push-pull with Join=true
   * per seed, all at once. Completes with a `joinDone` event carrying how
   * many succeeded and one error line per failure. A port of 0 means our
   * own port.
   *
   * @param seeds addresses to contact
   * @param now current time
   * @returns the op id of the `joinDone` event
   */
  join(seeds: Address[], now: number): number {
    const opId = ++this.#nextOpId;
    const op: JoinOp = { pending: 0, joined: 0, errors: [] };
    if (this.#shutdown) op.errors.push("Memberlist is shut down");
    else {
      this.#joins.set(opId, op);
      for (const seed of seeds) {
        const to = { host: seed.host, port: seed.port || this.#selfPort };
        if (this.#dialPushPull(to, true, opId, "", now)) op.pending++;
        else {op.errors.push(
            `Failed to join ${addressText(to)}: too many open streams`,
          );}
      }
    }
    if (op.pending === 0) this.#finishJoin(opId, op);
    return opId;
  }

  /**
   * Leave gracefully (memberlist `Leave`): broadcast `dead{self, From:
   * self}`, then complete with `leaveDone` once that broadcast used up its
   * transmits, or at once when no other member is alive, or with
   * `timedOut: true` after `timeoutMs` (0 waits without limit). A second
   * call, or a call after shutdown, completes at once.
   *
   * @param timeoutMs how long to wait for the broadcast
   * @param now current time
   * @returns the op id of the `leaveDone` event
   */
  leave(timeoutMs: number, now: number): number {
    const opId = ++this.#nextOpId;
    if (this.#shutdown || this.#leaving) {
      this.#emit({ type: "leaveDone", opId, timedOut: false });
      return opId;
    }
    this.#leaving = true;
    this.#leaveOpId = opId;
    const me = this.#self();
    this.#deadNode(
      { incarnation: me.incarnation, node: this.#name, from: this.#name },
      now,
      () => this.#finishLeave(false),
    );
    if (!this.#anyAlive()) this.#finishLeave(false);
    else if (timeoutMs > 0) this.#deadlines.set("leave", now + timeoutMs);
    return opId;
  }

  /**
   * Stop: pending joins and a pending leave complete with an error /
   * `timedOut`, then no more transmits or deadlines; queued events stay.
   *
   * @param _now current time
   */
  shutdown(_now: number): void {
    if (this.#shutdown) return;
    for (const [opId, op] of this.#joins) {
      op.errors.push("Memberlist is shut down");
      op.pending = 0;
      this.#finishJoin(opId, op);
    }
    this.#finishLeave(true);
    this.#shutdown = true;
    this.#transmits = [];
    this.#deadlines.clearAll();
    this.#streams.clear();
    this.#relays.clear();
    this.#probe = null;
    this.#pushPullReplies.clear();
    this.#inboundPushPulls = 0;
  }

  /** Every known member, any state, self included, sorted by name. */
  members(): Member[] {
    return this.#table.nodes.map(toMember).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /**
   * Members that are not dead or left (memberlist `Members`), self
   * included, sorted by name. Suspect members count as alive here.
   */
  aliveMembers(): Member[] {
    return this.members().filter((m) =>
      m.state === "alive" || m.state === "suspect"
    );
  }

  /** Ourselves, as the table holds us. */
  localMember(): Member {
    return toMember(this.#self());
  }

  /** Members not dead or left, self included (memberlist `NumMembers`). */
  numMembers(): number {
    let n = 0;
    for (const s of this.#table.nodes) if (!deadOrLeft(s)) n++;
    return n;
  }

  /** Lifeguard local health score (0 = healthy; `serf info` health_score). */
  healthScore(): number {
    return this.#awareness.score;
  }

  /**
   * Re-read the delegate's meta, bump our incarnation and broadcast an
   * alive (memberlist `UpdateNode`, without waiting).
   *
   * @param now current time
   * @throws {RangeError} when the delegate's meta exceeds 512 bytes
   */
  updateMeta(now: number): void {
    if (this.#shutdown) return;
    this.#aliveNode(this.#selfAlive(this.#nextIncarnation()), true, now);
  }

  /**
   * Queue a user broadcast, sent as `0x08 || bytes` after memberlist's and
   * the delegate's broadcasts, retransmitted like them.
   *
   * @param bytes the payload (without the type byte)
   * @param now current time
   */
  queueBroadcast(bytes: Uint8Array, now: number): void {
    this.#userBroadcasts.queue(null, encodeUser(bytes));
    this.#wantGossip(now, true);
  }

  /**
   * The delegate (Serf) queued a new broadcast for `getBroadcasts`: arm
   * the gossip timer, with eager gossip for a round at once (see
   * `eagerGossip`). May be called from inside a delegate hook.
   *
   * @param now current time
   */
  delegateBroadcastQueued(now: number): void {
    this.#wantGossip(now, true);
  }

  /**
   * Send `0x08 || payload` to `addr` as one packet without piggyback
   * (memberlist `SendToAddress`; Serf's query responses and relays).
   *
   * @param addr destination
   * @param payload the user message
   * @param _now current time
   */
  sendTo(addr: Address, payload: Uint8Array, _now: number): void {
    if (this.#shutdown) return;
    this.#rawSendPacket(addr, null, encodeUser(payload));
  }

  /** A snapshot of counters. */
  stats(): MemberlistStats {
    return {
      ...this.#stats,
      decodeErrors: new Map(this.#stats.decodeErrors),
      dropped: new Map(this.#stats.dropped),
    };
  }

  /** Names and times of armed deadlines, sorted (tests, debugging). */
  deadlines(): Array<[string, number]> {
    return this.#deadlines.entries();
  }

  /** Number of memberlist broadcasts waiting to be gossiped. */
  pendingBroadcasts(): number {
    return this.#broadcasts.length;
  }

  // -------------------------------------------------------------- schedule

  #schedule(now: number): void {
    const c = this.#config;
    // memberlist's tickers tick at creation + k·interval; its random stagger
    // only delays reading the (buffered) first tick, so it changes nothing.
    // The gossip timer was armed when our alive was queued (#wantGossip).
    this.#deadlines.set("probe", now + c.probeIntervalMs);
    if (c.pushPullIntervalMs > 0) {
      // memberlist pushPullTrigger: random stagger, then a scaled period.
      const stagger = randomOffset(c.pushPullIntervalMs, this.#prng);
      this.#deadlines.set("pushPullStagger", now + stagger);
    }
  }

  #onDeadline(name: string, atMs: number, now: number): void {
    const colon = name.indexOf(":");
    const kind = colon < 0 ? name : name.slice(0, colon);
    const arg = colon < 0 ? "" : name.slice(colon + 1);
    switch (kind) {
      case "probe":
        return this.#onProbeTick(atMs, now);
      case "gossip":
        return this.#onGossipDeadline(now);
      case "pushPullStagger":
      case "pushPull":
        return this.#onPushPullTick(kind === "pushPullStagger", now);
      case "suspect":
        return this.#onSuspicionTimeout(arg, now);
      case "livenessCheck":
        return this.#checkLiveness(arg, now);
      case "probeTimeout":
        return this.#onProbeTimeout(Number(arg));
      case "probeEnd":
        return this.#onProbeEnd(Number(arg), now);
      case "relay":
        return this.#onRelayTimeout(Number(arg), now);
      case "stream":
        return this.handleStreamReply(
          Number(arg),
          new Error("i/o timeout (deadline reached)"),
          now,
        );
      case "leave":
        return this.#finishLeave(true);
    }
  }

  // ---------------------------------------------------------------- probing

  #onProbeTick(atMs: number, now: number): void {
    this.#deadlines.set(
      "probe",
      nextTick(atMs, this.#config.probeIntervalMs, now),
    );
    // A safety net for a delegate that queued broadcasts without calling
    // delegateBroadcastQueued: the probe tick wakes us anyway, so checking
    // here bounds their wait by one probe interval at no extra wake-up.
    if (this.#deadlines.get("gossip") === undefined && this.#hasBroadcasts()) {
      this.#wantGossip(now, false);
    }
    // memberlist probes synchronously on its ticker goroutine; a tick that
    // comes during a probe waits in the ticker's 1-slot channel, the rest
    // are dropped.
    if (this.#probe !== null) {
      this.#probeTickPending = true;
      return;
    }
    this.#startProbe(now);
  }

  #startProbe(now: number): void {
    const { node, index } = nextProbeTarget(
      this.#table,
      this.#name,
      this.#probeIndex,
      {
        now,
        gossipToTheDeadTimeMs: this.#config.gossipToTheDeadTimeMs,
        prng: this.#prng,
      },
    );
    this.#probeIndex = index;
    if (node !== null) this.#probeNode(node, now);
  }

  // SWIM §4 / memberlist probeNode: direct ping, then at ProbeTimeout
  // indirect pings + TCP fallback, verdict at the end of the scaled interval.
  #probeNode(node: NodeState, now: number): void {
    const intervalMs = this.#awareness.scaleTimeoutMs(
      this.#config.probeIntervalMs,
    );
    const ping: Ping = {
      seqNo: this.#nextSeqNo(),
      node: node.name,
      sourceAddr: this.#selfIp,
      sourcePort: this.#selfPort,
      sourceNode: this.#name,
    };
    this.#probe = {
      seqNo: ping.seqNo,
      target: node.name,
      incarnation: node.incarnation,
      startMs: now,
      intervalMs,
      phase: "direct",
      expectedNacks: 0,
      nacks: 0,
      ping,
      tcp: "none",
    };
    this.#stats.probes++;
    // ProbeTimeout is deliberately not scaled by health (memberlist).
    this.#deadlines.set(
      `probeTimeout:${ping.seqNo}`,
      now + this.#config.probeTimeoutMs,
    );
    this.#deadlines.set(`probeEnd:${ping.seqNo}`, now + intervalMs);
    const to = nodeAddress(node);
    if (node.state === "alive") {
      this.#sendDirect(to, encodePing(ping));
      return;
    }
    // A suspect target gets the accusation with the ping so it can refute
    // at once (memberlist 0.2.2), with a CRC toward PMax ≥ 5 and no piggyback.
    const suspect = encodeAccusation(MessageType.suspect, {
      incarnation: node.incarnation,
      node: node.name,
      from: this.#name,
    });
    this.#rawSendPacket(to, node, encodeCompound([encodePing(ping), suspect]));
  }

  #onProbeTimeout(seqNo: number): void {
    const run = this.#probe;
    if (run === null || run.seqNo !== seqNo || run.phase !== "direct") return;
    run.phase = "indirect";
    logger.debug`Failed UDP ping: ${run.target} (timeout reached)`;
    const node = this.#table.get(run.target);
    if (node === undefined) return;
    const peers = this.#table.randomNodes(
      this.#config.indirectChecks,
      (s) =>
        s.name !== this.#name && s.name !== node.name && s.state === "alive",
      this.#prng,
    );
    for (const peer of peers) {
      // Only protocol ≥ 4 peers know how to nack (memberlist probeNode).
      const nack = peer.vsn[1] >= 4;
      if (nack) run.expectedNacks++;
      const ind: IndirectPing = {
        seqNo: run.seqNo,
        target: node.addr,
        port: node.port,
        node: node.name,
        nack,
        sourceAddr: this.#selfIp,
        sourcePort: this.#selfPort,
        sourceNode: this.#name,
      };
      this.#sendDirect(nodeAddress(peer), encodeIndirectPing(ind));
    }
    // TCP fallback to any PMax ≥ 3 target, whatever version we speak.
    if (!this.#config.disableTcpPings && node.vsn[1] >= 3) {
      const bytes = finishStream(
        encodePing(run.ping),
        this.#config.enableCompression,
      );
      const deadline = run.startMs + run.intervalMs;
      const ok = this.#dial(nodeAddress(node), bytes, deadline, {
        kind: "ping",
        seqNo: run.seqNo,
      });
      if (ok) run.tcp = "pending";
    }
  }

  #probeAcked(run: ProbeRun, ack: Ack, now: number): void {
    // Direct or relayed: either way the target answered our ping.
    this.#observeLiveness(run.target, now);
    // Only an ack within ProbeTimeout reports an RTT (memberlist probeNode).
    if (run.phase === "direct") {
      const node = this.#table.get(run.target);
      if (node !== undefined) {
        this.#delegate.notifyPingComplete?.(
          toMember(node),
          now - run.startMs,
          ack.payload ?? EMPTY,
          now,
        );
      }
    }
    this.#finishProbe(run, -1, now);
  }

  #onProbeEnd(seqNo: number, now: number): void {
    const run = this.#probe;
    if (run === null || run.seqNo !== seqNo) return;
    if (run.tcp === "ok") {
      logger
        .warn`Was able to connect to ${run.target} but other probes failed, network may be misconfigured`;
      return this.#finishProbe(run, -1, now);
    }
    const delta = failedProbeDelta(run.expectedNacks, run.nacks);
    this.#stats.probeFailures++;
    logger.info`Suspect ${run.target} has failed, no acks received`;
    this.#suspectNode(
      { incarnation: run.incarnation, node: run.target, from: this.#name },
      now,
    );
    this.#finishProbe(run, delta, now);
  }

  #finishProbe(run: ProbeRun, awarenessDelta: number, now: number): void {
    this.#awareness.applyDelta(awarenessDelta);
    this.#deadlines.clear(`probeTimeout:${run.seqNo}`);
    this.#deadlines.clear(`probeEnd:${run.seqNo}`);
    this.#probe = null;
    if (this.#probeTickPending) {
      this.#probeTickPending = false;
      this.#startProbe(now);
    }
  }

  #streamPingDone(
    seqNo: number,
    result: Uint8Array | Error,
    now: number,
  ): void {
    let ok = false;
    if (result instanceof Error) {
      // A dead node is expected to refuse; memberlist does not log that.
      logger.debug`Failed fallback ping: ${result.message}`;
    } else {
      try {
        const msg = openStream(result, MAX_PUSH_STATE_BYTES);
        if (msg[0] === MessageType.ack) {
          ok = decodeAck(new MsgpackReader(msg, 1)).seqNo === seqNo;
        }
        if (!ok) logger.error`Failed fallback ping: unexpected answer`;
      } catch (e) {
        logger.error`Failed fallback ping: ${this.#decodeFailure(e)}`;
      }
    }
    const run = this.#probe;
    if (run !== null && run.seqNo === seqNo && run.tcp === "pending") {
      run.tcp = ok ? "ok" : "failed";
      if (ok) this.#observeLiveness(run.target, now);
    }
    const checked = this.#checks.get(seqNo);
    if (ok && checked !== undefined) this.#observeLiveness(checked, now);
  }

  // ------------------------------------------------------- packet handlers

  #dispatch(m: Inbound, from: Address, now: number): void {
    switch (m.type) {
      case "ping":
        return this.#handlePing(m.msg, from);
      case "indirectPing":
        return this.#handleIndirectPing(m.msg, from, now);
      case "ack":
        return this.#handleAck(m.msg, now);
      case "nack":
        return this.#handleNack(m.msg.seqNo);
      case "alive": {
        // Protocol < 2 peers send no port: memberlist substitutes its own.
        const a = m.msg;
        if (this.#config.protocolVersion < 2 || a.port === 0) {
          a.port = this.#bindPort;
        }
        return this.#aliveNode(a, false, now);
      }
      case "suspect":
        return this.#suspectNode(m.msg, now);
      case "dead":
        return this.#deadNode(m.msg, now);
      case "user":
        return this.#deliverUser(m.payload, now);
    }
  }

  #handlePing(p: Ping, from: Address): void {
    if (p.node !== "" && p.node !== this.#name) {
      logger.warn`Got ping for unexpected node '${p.node}' from=${
        addressText(from)
      }`;
      bump(this.#stats.dropped, "ping-wrong-node");
      return;
    }
    const payload = this.#delegate.ackPayload?.() ?? null;
    const to =
      p.sourceAddr !== null && p.sourceAddr.length > 0 && p.sourcePort > 0
        ? { host: ipToString(p.sourceAddr), port: p.sourcePort }
        : from;
    this.#sendDirect(to, encodeAck({ seqNo: p.seqNo, payload }));
  }

  // Relay role (memberlist handleIndirectPing): ping the target with our
  // own seq; relay its ack with the requester's seq, or nack at ProbeTimeout.
  #handleIndirectPing(ind: IndirectPing, from: Address, now: number): void {
    if (this.#relays.size >= MAX_RELAYS) {
      bump(this.#stats.dropped, "relay-cap");
      return;
    }
    const port = this.#config.protocolVersion < 2 || ind.port === 0
      ? this.#bindPort
      : ind.port;
    const seqNo = this.#nextSeqNo();
    const replyTo = ind.sourceAddr !== null && ind.sourceAddr.length > 0
      ? { host: ipToString(ind.sourceAddr), port: ind.sourcePort }
      : from;
    this.#relays.set(seqNo, {
      originSeqNo: ind.seqNo,
      replyTo,
      nack: ind.nack,
    });
    this.#deadlines.set(`relay:${seqNo}`, now + this.#config.probeTimeoutMs);
    const ping: Ping = {
      seqNo,
      node: ind.node,
      sourceAddr: this.#selfIp,
      sourcePort: this.#selfPort,
      sourceNode: this.#name,
    };
    this.#sendDirect({ host: ipToString(ind.target), port }, encodePing(ping));
  }

  #onRelayTimeout(seqNo: number, _now: number): void {
    const relay = this.#relays.get(seqNo);
    if (relay === undefined) return;
    this.#relays.delete(seqNo);
    if (relay.nack) {
      this.#sendDirect(relay.replyTo, encodeNack({ seqNo: relay.originSeqNo }));
    }
  }

  #handleAck(ack: Ack, now: number): void {
    const run = this.#probe;
    if (run !== null && run.seqNo === ack.seqNo) {
      return this.#probeAcked(run, ack, now);
    }
    const relay = this.#relays.get(ack.seqNo);
    if (relay === undefined) {
      const checked = this.#checks.get(ack.seqNo);
      if (checked !== undefined) return this.#observeLiveness(checked, now);
      bump(this.#stats.dropped, "stale-ack");
      return;
    }
    this.#relays.delete(ack.seqNo);
    this.#deadlines.clear(`relay:${ack.seqNo}`);
    // Relayed acks carry no payload (SPEC §3 ackResp).
    this.#sendDirect(
      relay.replyTo,
      encodeAck({ seqNo: relay.originSeqNo, payload: null }),
    );
  }

  #handleNack(seqNo: number): void {
    const run = this.#probe;
    // memberlist's nack channel holds indirectChecks + 1 entries.
    if (
      run !== null && run.seqNo === seqNo &&
      run.nacks < this.#config.indirectChecks + 1
    ) {
      run.nacks++;
      return;
    }
    bump(this.#stats.dropped, "stale-nack");
  }

  #deliverUser(payload: Uint8Array, now: number): void {
    this.#delegate.notifyMsg?.(payload, now);
    this.#emit({ type: "message", payload });
  }

  // ------------------------------------------------------- state machine

  // memberlist aliveNode (SPEC §6.1). `bootstrap` marks our own announcements
  // (setAlive, UpdateNode), which update rather than refute.
  #aliveNode(a: Alive, bootstrap: boolean, now: number): void {
    if (!this.#aliveAcceptable(a)) return;
    const found = this.#aliveTarget(a, now);
    if (found === null) return;
    const { state, updatesNode } = found;
    const isLocal = state.name === this.#name;
    if (a.incarnation <= state.incarnation && !isLocal && !updatesNode) return;
    if (a.incarnation < state.incarnation && isLocal) return;
    this.#cancelSuspicion(a.node);
    const oldState = state.state;
    const oldMeta = state.meta;
    if (!bootstrap && isLocal) {
      // Same incarnation with the same meta and versions is our own echo.
      if (
        a.incarnation === state.incarnation && bytesEqual(a.meta, state.meta) &&
        bytesEqual(a.vsn, state.vsn)
      ) return;
      this.#refute(state, a.incarnation, now);
      logger.warn`Refuting an alive message for '${a.node}' (${
        ipToString(a.addr)
      }:${a.port}) meta:(${a.meta.length} bytes VS ${state.meta.length} bytes), vsn:(${[
        ...a.vsn,
      ]} VS ${state.vsn})`;
    } else {
      this.#broadcast(a.node, encodeAlive(a), now);
      if (a.vsn.length >= 6) state.vsn = vsnFromWire(a.vsn);
      state.incarnation = a.incarnation;
      // Copies: decoded bytes are views into the host's packet buffer.
      if (!bytesEqual(state.meta, a.meta)) state.meta = copyMeta(a.meta);
      if (!bytesEqual(state.addr, a.addr)) state.addr = internIp(a.addr);
      state.port = a.port;
      if (state.state !== "alive") {
        state.state = "alive";
        state.stateChangeMs = now;
      }
    }
    if (oldState === "dead" || oldState === "left") {
      this.#notify("join", state, now);
    } else if (!bytesEqual(oldMeta, state.meta)) {
      this.#notify("update", state, now);
    }
  }

  // A known member from the constructor: alive, silently (see
  // MemberlistOptions.knownMembers).
  #preload(
    a: NonNullable<MemberlistOptions["knownMembers"]>[number],
    now: number,
  ): void {
    if (a.node === this.#name || this.#table.get(a.node) !== undefined) return;
    const vsn = a.vsn;
    if (vsn.length < 6 || vsn[0] === 0 || vsn[1] === 0 || vsn[0] > vsn[1]) {
      bump(this.#stats.dropped, "alive-bad-vsn");
      return;
    }
    if (!this.#table.hasRoom) {
      bump(this.#stats.dropped, "member-cap");
      return;
    }
    this.#table.insert({
      name: a.node,
      addr: internIp(a.addr),
      port: a.port,
      meta: copyMeta(a.meta),
      incarnation: a.incarnation,
      state: "alive",
      stateChangeMs: now,
      vsn: vsnFromWire(a.vsn),
    }, this.#prng);
  }

  // The early filters of aliveNode: after our leave, bad versions, veto.
  #aliveAcceptable(a: Alive): boolean {
    if (this.#leaving && a.node === this.#name) return false;
    if (a.vsn.length >= 3) {
      const [pmin, pmax, pcur] = a.vsn;
      if (pmin === 0 || pmax === 0 || pmin > pmax) {
        logger.warn`Ignoring an alive message for '${a.node}' (${
          ipToString(a.addr)
        }:${a.port}) because protocol version(s) are wrong: ${pmin} <= ${pcur} <= ${pmax} should be >0`;
        bump(this.#stats.dropped, "alive-bad-vsn");
        return false;
      }
    }
    if (this.#delegate.notifyAlive !== undefined) {
      if (a.vsn.length < 6) {
        logger.warn`ignoring alive message for '${a.node}' (${
          ipToString(a.addr)
        }:${a.port}) because Vsn is not present`;
        bump(this.#stats.dropped, "alive-no-vsn");
        return false;
      }
      const veto = this.#delegate.notifyAlive(aliveView(a, 0));
      if (veto !== null) {
        logger.warn`ignoring alive message for '${a.node}': ${veto}`;
        bump(this.#stats.dropped, "alive-vetoed");
        return false;
      }
    }
    return true;
  }

  // Find or create the entry an alive is about; null on a conflict.
  #aliveTarget(
    a: Alive,
    now: number,
  ): { state: NodeState; updatesNode: boolean } | null {
    const known = this.#table.get(a.node);
    if (known === undefined) {
      if (!this.#table.hasRoom) {
        bump(this.#stats.dropped, "member-cap");
        return null;
      }
      // A new entry starts Dead at incarnation 0 so the alive must beat it.
      // Copies: decoded bytes are views into the host's packet buffer.
      const state: NodeState = {
        name: a.node,
        addr: internIp(a.addr),
        port: a.port,
        meta: copyMeta(a.meta),
        incarnation: 0,
        state: "dead",
        stateChangeMs: now,
        vsn: vsnFromWire(a.vsn),
      };
      this.#table.insert(state, this.#prng);
      return { state, updatesNode: false };
    }
    if (bytesEqual(known.addr, a.addr) && known.port === a.port) {
      return { state: known, updatesNode: false };
    }
    const reclaimMs = this.#config.deadNodeReclaimTimeMs;
    const canReclaim = reclaimMs > 0 && now - known.stateChangeMs > reclaimMs;
    if (known.state === "left" || (known.state === "dead" && canReclaim)) {
      logger.info`Updating address for left or failed node ${known.name} from ${
        ipToString(known.addr)
      }:${known.port} to ${ipToString(a.addr)}:${a.port}`;
      return { state: known, updatesNode: true };
    }
    logger.error`Conflicting address for ${known.name}. Mine: ${
      ipToString(known.addr)
    }:${known.port} Theirs: ${
      ipToString(a.addr)
    }:${a.port} Old state: ${known.state}`;
    const existing = toMember(known);
    const other = aliveView(a, now);
    this.#delegate.notifyConflict?.(existing, other, now);
    this.#emit({ type: "conflict", existing, other });
    bump(this.#stats.dropped, "alive-conflict");
    return null;
  }

  // memberlist suspectNode (SPEC §6.1, Lifeguard dynamic suspicion §6.3).
  #suspectNode(s: Accusation, now: number): void {
    const state = this.#table.get(s.node);
    if (state === undefined || s.incarnation < state.incarnation) return;
    const timer = this.#suspicions.get(s.node);
    if (timer !== undefined) {
      // An independent confirmation shortens the timer; only news is
      // re-gossiped, so confirmations keep flowing without echo storms.
      if (timer.confirm(s.from, now)) {
        this.#armSuspicion(s.node, timer);
        this.#broadcast(
          s.node,
          encodeAccusation(MessageType.suspect, s),
          now,
        );
      }
      return;
    }
    if (state.state !== "alive") return;
    if (state.name === this.#name) {
      this.#refute(state, s.incarnation, now);
      logger.warn`Refuting a suspect message (from: ${s.from})`;
      return;
    }
    this.#broadcast(s.node, encodeAccusation(MessageType.suspect, s), now);
    state.incarnation = s.incarnation;
    state.state = "suspect";
    state.stateChangeMs = now;
    // k: confirmations expected, two probe intervals short of the nominal
    // timeout; 0 when the cluster (minus us and the target) is too small.
    const c = this.#config;
    const n = this.#table.length;
    const k = n - 2 < c.suspicionMult - 2 ? 0 : c.suspicionMult - 2;
    const minMs = suspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
    const maxMs = c.suspicionMaxTimeoutMult * minMs;
    const timer2 = new Suspicion(s.from, k, minMs, maxMs, now);
    this.#suspicions.set(s.node, timer2);
    this.#suspectAddrs.set(addressKey(nodeAddress(state)), s.node);
    this.#armSuspicion(s.node, timer2);
  }

  #onSuspicionTimeout(name: string, now: number): void {
    const timer = this.#suspicions.get(name);
    const state = this.#table.get(name);
    if (
      timer === undefined || state === undefined || state.state !== "suspect" ||
      state.stateChangeMs !== timer.changeMs
    ) return this.#dropSuspicion(name);
    if (
      this.#config.suspicionLivenessVeto &&
      (this.#vetoDeath(state, timer, now) ||
        this.#recheckLate(state, timer, now))
    ) {
      return;
    }
    this.#dropSuspicion(name);
    logger
      .info`Marking ${name} as failed, suspect timeout reached (${timer.confirmations} peer confirmations)`;
    this.#deadNode({
      incarnation: state.incarnation,
      node: name,
      from: this.#name,
    }, now);
  }

  // memberlist deadNode (SPEC §6.1): From == Node means a graceful leave.
  #deadNode(
    d: Accusation,
    now: number,
    onFinished: (() => void) | null = null,
  ): void {
    const state = this.#table.get(d.node);
    if (state === undefined || d.incarnation < state.incarnation) return;
    this.#cancelSuspicion(d.node);
    if (deadOrLeft(state)) return;
    if (state.name === this.#name) {
      if (!this.#leaving) {
        this.#refute(state, d.incarnation, now);
        logger.warn`Refuting a dead message (from: ${d.from})`;
        return;
      }
      // Our own leave: the caller waits for this broadcast to finish.
      this.#broadcast(
        d.node,
        encodeAccusation(MessageType.dead, d),
        now,
        onFinished,
      );
    } else {
      this.#broadcast(d.node, encodeAccusation(MessageType.dead, d), now);
    }
    state.incarnation = d.incarnation;
    state.state = d.node === d.from ? "left" : "dead";
    state.stateChangeMs = now;
    this.#notify("leave", state, now);
  }

  // memberlist refute (SPEC §6.1): beat the accusation, lose a health point.
  #refute(me: NodeState, accusedInc: number, now: number): void {
    let inc = this.#nextIncarnation();
    if (accusedInc >= inc) {
      this.#incarnation = (accusedInc + 1) >>> 0;
      inc = this.#incarnation;
    }
    me.incarnation = inc;
    this.#awareness.applyDelta(1);
    this.#stats.refutes++;
    const alive = encodeAlive({
      incarnation: inc,
      node: me.name,
      addr: me.addr,
      port: me.port,
      meta: me.meta,
      vsn: me.vsn,
    });
    // memberlist names this broadcast by our address string, not our name.
    this.#broadcast(ipToString(me.addr), alive, now);
  }

  // The liveness veto (see the module doc): a suspect that showed signs of
  // life this period stays suspect one more period, and a push-pull with it
  // fetches its refutation.
  #vetoDeath(state: NodeState, timer: Suspicion, now: number): boolean {
    const c = this.#config;
    const periodMs = Math.max(timer.minMs, c.tcpTimeoutMs);
    if (!timer.veto(now, periodMs)) return false;
    this.#stats.livenessVetoes++;
    this.#armSuspicion(state.name, timer);
    logger
      .info`Suspect ${state.name} showed signs of life, not marking it failed yet (extension ${timer.vetoes}/${MAX_LIVENESS_VETOES}); pushing state to fetch its refutation`;
    this.#dialPushPull(nodeAddress(state), false, null, state.name, now, true);
    return true;
  }

  // Part of the liveness veto: a suspicion timer that fires more than a
  // probe interval late means this process was paused or starved (SIGSTOP,
  // a long GC, an overloaded host) while the suspect may have refuted long
  // ago — its alive went by while we could not read it. memberlist would
  // declare it dead at an incarnation it already beat, and the whole
  // cluster would have to see it refute again (found by the fault campaign,
  // bench/campaign/README.md: every such false death came from a member
  // waking from its own pause). So, once per suspicion, start one more
  // period and check its liveness now; if it answers, the veto at the next
  // expiry fetches its refutation, and a crashed suspect dies one period
  // later than it would have.
  #recheckLate(state: NodeState, timer: Suspicion, now: number): boolean {
    if (now - timer.deadlineMs <= this.#config.probeIntervalMs) return false;
    const periodMs = Math.max(timer.minMs, this.#config.tcpTimeoutMs);
    if (!timer.extendLate(now, periodMs)) return false;
    this.#stats.lateSuspicionChecks++;
    this.#armSuspicion(state.name, timer);
    logger
      .info`Suspicion of ${state.name} expired while we were not running; checking its liveness before marking it failed`;
    this.#checkLiveness(state.name, now);
    return true;
  }

  #armSuspicion(name: string, timer: Suspicion): void {
    this.#deadlines.set(`suspect:${name}`, timer.deadlineMs);
    if (this.#config.suspicionLivenessVeto) {
      const delayMs = 3 * this.#config.probeIntervalMs;
      this.#deadlines.set(`livenessCheck:${name}`, timer.checkAtMs(delayMs));
    }
  }

  // A suspect silent so far this period: ping it (with the accusation, as
  // memberlist probes a suspect) and, like the probe's fallback, TCP-ping
  // it; either answer by the deadline is a sign of life.
  #checkLiveness(name: string, now: number): void {
    const timer = this.#suspicions.get(name);
    const state = this.#table.get(name);
    if (timer === undefined || state?.state !== "suspect" || timer.alive) {
      return;
    }
    this.#forgetChecks(name);
    this.#stats.livenessChecks++;
    const ping: Ping = {
      seqNo: this.#nextSeqNo(),
      node: name,
      sourceAddr: this.#selfIp,
      sourcePort: this.#selfPort,
      sourceNode: this.#name,
    };
    this.#checks.set(ping.seqNo, name);
    const suspect = encodeAccusation(MessageType.suspect, {
      incarnation: state.incarnation,
      node: name,
      from: this.#name,
    });
    const to = nodeAddress(state);
    this.#rawSendPacket(to, state, encodeCompound([encodePing(ping), suspect]));
    if (!this.#config.disableTcpPings && state.vsn[1] >= 3) {
      const bytes = finishStream(
        encodePing(ping),
        this.#config.enableCompression,
      );
      this.#dial(to, bytes, Math.max(now, timer.deadlineMs), {
        kind: "ping",
        seqNo: ping.seqNo,
      });
    }
  }

  #forgetChecks(name: string): void {
    for (const [seqNo, n] of this.#checks) {
      if (n === name) this.#checks.delete(seqNo);
    }
  }

  // Credit a sign of life to the suspect at `from`, if any.
  #observeAddress(from: Address, now: number): void {
    if (this.#suspectAddrs.size === 0) return;
    const name = this.#suspectAddrs.get(addressKey(from));
    if (name !== undefined) this.#observeLiveness(name, now);
  }

  #observeLiveness(name: string, now: number): void {
    if (this.#suspicions.size === 0) return;
    this.#suspicions.get(name)?.observeLiveness(now);
  }

  #dropSuspicion(name: string): void {
    if (!this.#suspicions.delete(name)) return;
    this.#deadlines.clear(`livenessCheck:${name}`);
    for (const [key, n] of this.#suspectAddrs) {
      if (n === name) this.#suspectAddrs.delete(key);
    }
    this.#forgetChecks(name);
  }

  #cancelSuspicion(name: string): void {
    if (this.#suspicions.has(name)) {
      this.#dropSuspicion(name);
      this.#deadlines.clear(`suspect:${name}`);
    }
  }

  // -------------------------------------------------------------- gossip

  // A gossip deadline fired, a regular tick or an eager round: run
  // memberlist's gossip(), then wait for the next phase-aligned tick while
  // anything is left to send. Nothing left (every queue drained), or no
  // member to send to (a lone member): disarm, as memberlist's gossip()
  // would send nothing at the coming ticks; whatever changes that queues a
  // broadcast (a new or returning member is itself gossiped), which re-arms
  // the timer. kRandomNodes may pick nobody by chance (3n tries), so an
  // empty pick is checked against the whole table.
  #onGossipDeadline(now: number): void {
    // Drained by piggybacking on probes since the timer was armed.
    if (!this.#hasBroadcasts()) return;
    this.#lastGossipMs = now;
    const picked = this.#gossip(now);
    if (
      (picked > 0 || this.#anyGossipTarget(now)) && this.#hasBroadcasts()
    ) this.#deadlines.set("gossip", this.#gossipTickAfter(now));
  }

  // Arm the gossip timer for a broadcast queued at `now`: the next regular
  // tick, or with eager gossip (`eager`: the broadcast is new) a round at
  // once, at least eagerGossipMinIntervalMs after the previous round.
  //
  // Why eager gossip stays within memberlist's semantics: SWIM disseminates
  // infection-style (SWIM §4.1, after Demers et al.'s epidemic algorithms):
  // what bounds the cost and guarantees the reach is that each update is
  // sent λ·log n times to random members, not when. The eager round is
  // memberlist's gossip() itself (state.go): GossipNodes random targets by
  // the same rule (alive, suspect, or dead for less than
  // GossipToTheDeadTime), the same getBroadcasts packing, one transmit
  // counted per target exactly as at a tick, so the TransmitLimitedQueue
  // retires each broadcast after the same RetransmitMult·ceil(log10(n+1))
  // transmissions. A receiver cannot tell an early round from a regular one
  // (a gossip packet carries no time). Only the timing moves earlier: the
  // first round of a new broadcast, on its origin and on every member that
  // forwards it, runs at once instead of 0–GossipInterval later. Regular
  // ticks keep memberlist's phase (creation + k·GossipInterval). The
  // spacing bounds the rate: an eager round comes ≥ eagerGossipMinIntervalMs
  // after the round before it, so a burst of broadcasts coalesces into one
  // packet per target.
  #wantGossip(now: number, eager: boolean): void {
    const c = this.#config;
    if (this.#shutdown || c.gossipIntervalMs <= 0 || c.gossipNodes <= 0) {
      return;
    }
    // The next regular tick after `now`: a tick at `now` itself counts as
    // run, as if armed, since a host handles the timers due at `now` before
    // input that arrives at the same instant (and "gossip" sorts before
    // every other deadline name), so the broadcast waits for the next one.
    let at = this.#gossipTickAfter(Math.max(now, this.#lastGossipMs));
    if (eager && c.eagerGossip) {
      const early = Math.max(
        now,
        this.#lastGossipMs + c.eagerGossipMinIntervalMs,
      );
      if (early < at) at = early;
    }
    const armed = this.#deadlines.get("gossip");
    if (armed === undefined || at < armed) this.#deadlines.set("gossip", at);
  }

  // The first regular gossip tick strictly after `t`.
  #gossipTickAfter(t: number): number {
    const interval = this.#config.gossipIntervalMs;
    const k = Math.floor((t - this.#gossipOriginMs) / interval) + 1;
    return this.#gossipOriginMs + Math.max(1, k) * interval;
  }

  // Whether a gossip round could send anything: memberlist's queue, ours,
  // or the delegate's (assumed non-empty without its `hasBroadcasts`).
  #hasBroadcasts(): boolean {
    if (this.#broadcasts.length > 0 || this.#userBroadcasts.length > 0) {
      return true;
    }
    const d = this.#delegate;
    if (d.getBroadcasts === undefined) return false;
    return d.hasBroadcasts === undefined ? true : d.hasBroadcasts();
  }

  // memberlist gossip's target rule: alive, suspect, or dead for less than
  // GossipToTheDeadTime (so the dead learn of it and can refute).
  #isGossipTarget(s: NodeState, now: number): boolean {
    return s.name !== this.#name &&
      (s.state === "alive" || s.state === "suspect" ||
        (s.state === "dead" &&
          now - s.stateChangeMs <= this.#config.gossipToTheDeadTimeMs));
  }

  #anyGossipTarget(now: number): boolean {
    for (const s of this.#table.nodes) {
      if (this.#isGossipTarget(s, now)) return true;
    }
    return false;
  }

  // memberlist gossip: each chosen node costs one transmit of each message.
  // Returns the number of targets chosen.
  #gossip(now: number): number {
    const targets = this.#table.randomNodes(
      this.#config.gossipNodes,
      (s) => this.#isGossipTarget(s, now),
      this.#prng,
    );
    const avail = this.#config.udpBufferSize - COMPOUND_HEADER_OVERHEAD -
      this.#sealOverheadBytes;
    for (const node of targets) {
      const msgs = this.#getBroadcasts(COMPOUND_OVERHEAD, avail);
      if (msgs.length === 0) break;
      for (const body of makeCompounds(msgs)) {
        this.#rawSendPacket(nodeAddress(node), node, body);
      }
    }
    return targets.length;
  }

  // memberlist getBroadcasts: its own first, then the delegate's (Serf),
  // then ours; user messages framed with the 0x08 type byte.
  #getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const n = this.#table.length;
    const out = this.#broadcasts.take(overhead, limit, n);
    let used = 0;
    for (const m of out) used += m.length + overhead;
    const get = this.#delegate.getBroadcasts;
    if (get !== undefined && limit - used > overhead + USER_MSG_OVERHEAD) {
      for (
        const m of get.call(
          this.#delegate,
          overhead + USER_MSG_OVERHEAD,
          limit - used,
        )
      ) {
        const framed = encodeUser(m);
        used += framed.length + overhead;
        out.push(framed);
      }
    }
    if (
      this.#userBroadcasts.length > 0 &&
      limit - used > overhead + USER_MSG_OVERHEAD
    ) {
      out.push(...this.#userBroadcasts.take(overhead, limit - used, n));
    }
    return out;
  }

  #broadcast(
    name: string,
    msg: Uint8Array,
    now: number,
    onFinished: (() => void) | null = null,
  ): void {
    this.#broadcasts.queue(name, msg, onFinished);
    this.#wantGossip(now, true);
  }

  // ------------------------------------------------------------ sending

  // memberlist sendMsg: piggyback broadcasts in what the packet has left.
  #sendDirect(to: Address, msg: Uint8Array): void {
    const avail = this.#config.udpBufferSize - msg.length -
      COMPOUND_HEADER_OVERHEAD -
      this.#sealOverheadBytes;
    const extra = this.#getBroadcasts(COMPOUND_OVERHEAD, avail);
    if (extra.length === 0) return this.#rawSendPacket(to, null, msg);
    for (const body of makeCompounds([msg, ...extra])) {
      this.#rawSendPacket(to, null, body);
    }
  }

  // memberlist rawSendMsgPacket: without a node, it looks the destination
  // up by bare IP as a node *name* (which misses unless names are IPs), so
  // pings, acks and nacks normally carry no CRC (SPEC §2.2 step 4).
  #rawSendPacket(to: Address, node: NodeState | null, msg: Uint8Array): void {
    const dest = node ?? this.#table.get(to.host) ?? null;
    const withCrc = dest !== null && dest.vsn[1] >= 5;
    const bytes = finishPacket(msg, this.#config.enableCompression, withCrc);
    this.#stats.packetsOut++;
    this.#stats.bytesOut += bytes.length;
    this.#transmit({ kind: "packet", to, bytes });
  }

  #dial(
    to: Address,
    bytes: Uint8Array,
    deadline: number,
    ctx: StreamCtx,
  ): boolean {
    if (this.#streams.size >= MAX_DIALS) {
      bump(this.#stats.dropped, "dial-cap");
      return false;
    }
    const streamId = ++this.#nextStreamId;
    this.#streams.set(streamId, ctx);
    this.#deadlines.set(`stream:${streamId}`, deadline);
    this.#stats.streamsOut++;
    this.#transmit({
      kind: "dial",
      streamId,
      to,
      bytes,
      expectReply: true,
      deadline,
    });
    return true;
  }

  #reply(inboundId: number, bytes: Uint8Array | null): void {
    this.#transmit({ kind: "reply", inboundId, bytes });
  }

  #transmit(t: Transmit): void {
    if (this.#transmits.length >= MAX_QUEUED) {
      bump(this.#stats.dropped, "transmit-overflow");
      return;
    }
    this.#transmits.push(t);
  }

  // ---------------------------------------------------------- push-pull

  #onPushPullTick(stagger: boolean, now: number): void {
    if (stagger) return this.#schedulePushPull(now);
    const partner = this.#table.randomNodes(
      1,
      (s) => s.name !== this.#name && s.state === "alive",
      this.#prng,
    )[0];
    if (
      partner === undefined ||
      !this.#dialPushPull(nodeAddress(partner), false, null, partner.name, now)
    ) this.#schedulePushPull(now);
    // Otherwise the next one is armed when this one ends (memberlist's
    // trigger waits for pushPull() to return).
  }

  #schedulePushPull(now: number): void {
    const c = this.#config;
    this.#deadlines.set(
      "pushPull",
      now + pushPullScaleMs(c.pushPullIntervalMs, this.#table.length),
    );
  }

  #dialPushPull(
    to: Address,
    join: boolean,
    opId: number | null,
    peer: string,
    now: number,
    refresh = false,
  ): boolean {
    if (this.#streams.size >= MAX_DIALS) {
      bump(this.#stats.dropped, "dial-cap");
      return false;
    }
    const bytes = finishStream(
      this.#localState(join, now),
      this.#config.enableCompression,
    );
    return this.#dial(to, bytes, now + this.#config.tcpTimeoutMs, {
      kind: "pushPull",
      join,
      opId,
      to,
      peer,
      refresh,
    });
  }

  #localState(join: boolean, now: number): Uint8Array {
    const user = this.#delegate.localState?.(join, now) ?? EMPTY;
    return encodeLocalState(this.#table.nodes, user, join);
  }

  #acceptPushPull(inboundId: number, msg: Uint8Array, now: number): void {
    // memberlist counts the new request too: at most 127 run at once.
    if (this.#inboundPushPulls + 1 >= MAX_PUSH_PULL_REQUESTS) {
      logger.error`Too many pending push/pull requests`;
      bump(this.#stats.dropped, "push-pull-cap");
      return this.#reply(inboundId, null);
    }
    let pp: PushPull;
    try {
      pp = decodeRemoteState(msg, this.#bindPort);
    } catch (e) {
      logger.error`Failed to read remote state: ${this.#decodeFailure(e)}`;
      return this.#reply(inboundId, null);
    }
    // Answer with our state *before* merging theirs, same Join flag.
    const bytes = finishStream(
      this.#localState(pp.join, now),
      this.#config.enableCompression,
    );
    this.#inboundPushPulls++;
    this.#pushPullReplies.add(inboundId);
    this.#reply(inboundId, bytes);
    const err = this.#mergeRemote(pp, pp.join, now);
    if (err !== null) logger.error`Failed push/pull merge: ${err}`;
  }

  #mergeRemote(pp: PushPull, join: boolean, now: number): string | null {
    const err = mergeRemoteState({
      aliveNode: (a) => this.#aliveNode(a, false, now),
      suspectNode: (s) => this.#suspectNode(s, now),
      deadNode: (d) => this.#deadNode(d, now),
      nodes: this.#table.nodes,
      localName: this.#name,
      notifyMerge: this.#delegate.notifyMerge?.bind(this.#delegate),
    }, { ...pp, join });
    if (err !== null) return err;
    // memberlist hands the delegate only a non-empty user state.
    if (pp.userState.length > 0) {
      this.#delegate.mergeRemoteState?.(pp.userState, join, now);
    }
    return null;
  }

  #pushPullDone(
    ctx: Extract<StreamCtx, { kind: "pushPull" }>,
    err: string | null,
    now: number,
  ): void {
    if (ctx.opId === null) {
      if (err !== null) logger.error`Push/Pull with ${ctx.peer} failed: ${err}`;
      if (
        !ctx.refresh && !this.#shutdown && this.#config.pushPullIntervalMs > 0
      ) this.#schedulePushPull(now);
      return;
    }
    const op = this.#joins.get(ctx.opId);
    if (op === undefined) return;
    op.pending--;
    if (err === null) op.joined++;
    else {
      op.errors.push(`Failed to join ${addressText(ctx.to)}: ${err}`);
      logger.debug`Failed to join ${addressText(ctx.to)}: ${err}`;
    }
    if (op.pending === 0) this.#finishJoin(ctx.opId, op);
  }

  #finishJoin(opId: number, op: JoinOp): void {
    this.#joins.delete(opId);
    this.#emit({
      type: "joinDone",
      opId,
      joined: op.joined,
      errors: [...op.errors],
    });
  }

  #acceptStreamPing(inboundId: number, msg: Uint8Array): void {
    let p: Ping;
    try {
      p = decodePing(new MsgpackReader(msg, 1));
    } catch (e) {
      this.#decodeFailure(e);
      return this.#reply(inboundId, null);
    }
    if (p.node !== "" && p.node !== this.#name) {
      logger.warn`Got ping for unexpected node ${p.node}`;
      bump(this.#stats.dropped, "ping-wrong-node");
      return this.#reply(inboundId, null);
    }
    const ack = encodeAck({ seqNo: p.seqNo, payload: null });
    this.#reply(inboundId, finishStream(ack, this.#config.enableCompression));
  }

  #acceptStreamUser(inboundId: number, msg: Uint8Array, now: number): void {
    let payload: Uint8Array;
    try {
      payload = decodeStreamUser(msg);
    } catch (e) {
      this.#decodeFailure(e);
      return this.#reply(inboundId, null);
    }
    this.#reply(inboundId, null);
    this.#deliverUser(payload, now);
  }

  // ------------------------------------------------------------- helpers

  #finishLeave(timedOut: boolean): void {
    const opId = this.#leaveOpId;
    if (opId === null) return;
    this.#leaveOpId = null;
    this.#deadlines.clear("leave");
    this.#emit({ type: "leaveDone", opId, timedOut });
  }

  #anyAlive(): boolean {
    for (const s of this.#table.nodes) {
      if (!deadOrLeft(s) && s.name !== this.#name) return true;
    }
    return false;
  }

  #self(): NodeState {
    const me = this.#table.get(this.#name);
    if (me === undefined) {
      throw new Error("Invariant: local node missing from the table");
    }
    return me;
  }

  #selfAlive(incarnation: number): Alive {
    const meta = this.#delegate.nodeMeta?.(META_MAX_SIZE) ?? EMPTY;
    if (meta.length > META_MAX_SIZE) {
      throw new RangeError(
        `Invalid node meta: ${meta.length} bytes, at most ${META_MAX_SIZE}`,
      );
    }
    const c = this.#config;
    return {
      incarnation,
      node: this.#name,
      addr: this.#selfIp,
      port: this.#selfPort,
      meta,
      vsn: Uint8Array.from([
        PROTOCOL_VERSION_MIN,
        PROTOCOL_VERSION_MAX,
        c.protocolVersion,
        c.delegateProtocolMin,
        c.delegateProtocolMax,
        c.delegateProtocolVersion,
      ]),
    };
  }

  #nextSeqNo(): number {
    this.#seqNo = (this.#seqNo + 1) >>> 0;
    return this.#seqNo;
  }

  #nextIncarnation(): number {
    this.#incarnation = (this.#incarnation + 1) >>> 0;
    return this.#incarnation;
  }

  #notify(
    type: "join" | "leave" | "update",
    state: NodeState,
    now: number,
  ): void {
    const member = toMember(state);
    if (type === "join") this.#delegate.notifyJoin?.(member, now);
    else if (type === "leave") this.#delegate.notifyLeave?.(member, now);
    else this.#delegate.notifyUpdate?.(member, now);
    this.#emit({ type, member });
  }

  #emit(e: MemberlistEvent): void {
    if (this.#events.length >= MAX_QUEUED) {
      bump(this.#stats.dropped, "event-overflow");
      return;
    }
    this.#events.push(e);
  }

  // Count a decode failure by reason and return its text. Network input
  // never throws at the user (ARCHITECTURE principle 9): anything else a
  // decoder throws is counted as "malformed".
  #decodeFailure(e: unknown): string {
    const reason = e instanceof DecodeError ? e.reason : "malformed";
    bump(this.#stats.decodeErrors, reason);
    return e instanceof Error ? e.message : String(e);
  }
}

// Decoded bytes are views into the host's packet buffer: keep a copy (one
// shared empty array for the common empty meta).
function copyMeta(meta: Uint8Array): Uint8Array {
  return meta.length === 0 ? EMPTY : meta.slice();
}

function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

function nodeAddress(s: NodeState): Address {
  return { host: ipToString(s.addr), port: s.port };
}

function aliveView(a: Alive, now: number): Member {
  return {
    name: a.node,
    addr: { host: ipToString(a.addr), port: a.port },
    meta: a.meta.slice(),
    incarnation: a.incarnation,
    state: "alive",
    stateChangeMs: now,
    vsn: [...a.vsn],
  };
}

// The next tick of a ticker started at `atMs` with `intervalMs`, strictly
// after `now`: like Go's ticker, missed ticks are dropped, not replayed.
function nextTick(atMs: number, intervalMs: number, now: number): number {
  let next = atMs + intervalMs;
  if (next <= now) {
    next += Math.ceil((now - next + 1) / intervalMs) * intervalMs;
  }
  return next;
}
