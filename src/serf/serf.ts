/**
 * The Serf layer (serf 0.9.4: serf.go, delegate.go, event_delegate.go,
 * ping_delegate.go, conflict_delegate.go, merge_delegate.go, query.go,
 * internal_query.go, keymanager.go; SPEC §8) as a pure synchronous state
 * machine on top of {@linkcode Memberlist} (ARCHITECTURE principles 1, 2,
 * 6). Serf creates its own Memberlist with itself as the delegate and
 * forwards the machine surface, so hosts drive both alike.
 *
 * Commands that block in Go (join, leave, force-leave, queries, key
 * operations) return an op id here and complete with an event.
 *
 * Named deadlines: `reap`, `reconnect`, `queueCheck`, `query:<ltime>`,
 * `leaveIntent`, `leavePropagate`, `forceLeave:<op>`, `prune:<name>`,
 * `snapshotClock`, `snapshotCoordinate`, plus the coalescers' windows
 * (`coalesce:member`, `coalesce:user`) and Memberlist's own.
 *
 * Bounds (ARCHITECTURE principle 8), each with its behaviour at the cap:
 * - members: Memberlist's table plus failed/left members awaiting reap;
 *   hard cap {@linkcode MAX_SERF_MEMBERS}, past which the oldest failed or
 *   left member is reaped early.
 * - intent, event and query broadcast queues: pruned to MaxQueueDepth
 *   (4096) every QueueCheckInterval as Serf does, and hard-capped at
 *   2 × that in between (the entries served last are dropped).
 * - event and query dedupe rings: 512 slots (see user_events.ts,
 *   queries.ts); recent intents: 4096 (intents.ts).
 * - our outstanding queries: {@linkcode MAX_OUTSTANDING_QUERIES} (a new
 *   query past it throws); responders per query: 65 536.
 * - incoming queries awaiting `respond`: {@linkcode MAX_PENDING_QUERIES},
 *   expired ones dropped first, then the oldest.
 * - coordinate cache: one entry per member plus self, erased at reap.
 * - operations in flight (joins, force-leaves, key operations): joins are
 *   capped by Memberlist's dial cap, force-leaves end within
 *   BroadcastTimeout, key operations with their query (at most
 *   {@linkcode MAX_OUTSTANDING_QUERIES}).
 * - queued events: {@linkcode MAX_QUEUED_EVENTS}; newer ones are dropped
 *   (`dropped.event-overflow`); the host drains after every call.
 *
 * Network input never throws: malformed Serf messages are counted in
 * `stats().decodeErrors` and dropped, as Serf logs and drops them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Address, Machine, Transmit } from "../machine.ts";
import type { Member } from "../types.ts";
import { DecodeError } from "../codec/errors.ts";
import { ipFromString, ipToString } from "../codec/messages.ts";
import { utf8Decode, utf8Encode } from "../codec/msgpack.ts";
import {
  decodeTags,
  encodedTagsSize,
  encodeTags,
  TAGS_MAX_BYTES,
} from "../codec/tags.ts";
import {
  type Coordinate,
  decodeCoordinatePayload,
  encodeCoordinatePayload,
} from "../codec/coordinate.ts";
import {
  decodeSerfMessage,
  encodeJoinIntent,
  encodeKeyRequest,
  encodeLeaveIntent,
  encodePushPullState,
  encodeQuery,
  encodeQueryResponse,
  encodeRelay,
  encodeUserEvent,
  type JoinIntent,
  type LeaveIntent,
  QueryFlag,
  type QueryMessage,
  type QueryResponseMessage,
  type RelayMessage,
  type SerfMessage,
  type UserEventMessage,
} from "../codec/serf_messages.ts";
import { Memberlist, type MemberlistStats } from "../memberlist/memberlist.ts";
import type { MemberlistDelegate } from "../memberlist/delegate.ts";
import { BroadcastQueue } from "../memberlist/broadcasts.ts";
import { Deadlines } from "../memberlist/deadlines.ts";
import {
  MEMBERLIST_PROTOCOL_FOR_SERF,
  SERF_PROTOCOL_MAX,
  SERF_PROTOCOL_MIN,
  type SerfConfig,
  validateSerfConfig,
} from "./config.ts";
import type {
  KeyAction,
  MemberEvent,
  MemberEventType,
  QueryEvent,
  SerfEvent,
  SerfMemberInfo,
  SerfMemberStatus,
  UserEvent,
} from "./events.ts";
import { SERF_STATUS_CODES } from "./events.ts";
import { LamportClock } from "./lamport.ts";
import {
  joinIntentOutcome,
  leaveIntentOutcome,
  RecentIntents,
} from "./intents.ts";
import { EventBuffer, userEventSizeError } from "./user_events.ts";
import {
  defaultQueryTimeoutMs,
  encodeQueryFilters,
  INTERNAL_QUERY_PREFIX,
  kRandomMembers,
  OutstandingQuery,
  QueryBuffer,
  type QueryOwner,
  type QueryParams,
  shouldProcessQuery,
} from "./queries.ts";
import {
  CoordinateClient,
  CoordinateRejected,
  distanceSeconds,
} from "./coordinates.ts";
import {
  conflictAnswer,
  type ConflictTally,
  conflictVerdict,
  countConflictAnswer,
} from "./conflict.ts";
import {
  handleKeyQuery,
  KEY_QUERY_NAMES,
  keyActionOf,
  KeyOpTally,
  keyResponsePayload,
  type KeyringView,
} from "./keyring_queries.ts";
import {
  Coalescer,
  MemberCoalescePolicy,
  UserCoalescePolicy,
} from "./coalesce.ts";
import {
  rejoinAddresses,
  type RejoinTarget,
  SNAPSHOT_CLOCK_INTERVAL_MS,
  SNAPSHOT_COORDINATE_INTERVAL_MS,
  SnapshotRecorder,
  type SnapshotState,
} from "./snapshot.ts";
import { reapExpired, reconnectPick, removeName } from "./reap.ts";

/** Hard cap of Serf's member map (see the module doc). */
export const MAX_SERF_MEMBERS = 131_072;
/** Most of our own queries collecting responses at once. */
export const MAX_OUTSTANDING_QUERIES = 4096;
/** Most incoming queries remembered for `respond`. */
export const MAX_PENDING_QUERIES = 4096;
/** Most queued events (the host drains after every call). */
export const MAX_QUEUED_EVENTS = 65_536;

const logger = getLogger(["grapevine", "serf"]);
const EMPTY = new Uint8Array(0);

/** Options of a {@linkcode Serf} beyond its config. */
export interface SerfOptions {
  /** Uniform random numbers in [0, 1); the only source of randomness. */
  prng: () => number;
  /** Current time (ms, monotonic) at construction. */
  now: number;
  /** Bytes the host's seal stage adds to each packet (encryption + label). */
  sealOverheadBytes?: number;
  /** Address others should use (see `MemberlistOptions.advertise`). */
  advertise?: Address;
  /**
   * A snapshot replayed by the host (`replaySnapshot`): restores the three
   * clocks, the coordinate and the event/query minimum times, and re-joins
   * the recorded members. Its presence also turns recording on: the
   * machine emits `snapshot` events with the records to append. Pass
   * `emptySnapshotState()` on a first start.
   */
  snapshot?: SnapshotState;
  /** The host's keyring; absent or null when encryption is off. */
  keyring?: KeyringView | null;
  /**
   * Veto members before they are merged (serf `MergeDelegate`): return a
   * reason to refuse, or null to accept.
   */
  merge?: (members: SerfMemberInfo[]) => string | null;
}

/** Counters and gauges of a {@linkcode Serf} (serf `Stats` and more). */
export interface SerfStats {
  /** Members known, any status. */
  members: number;
  /** Members failed, awaiting reconnect or reap. */
  failed: number;
  /** Members left, awaiting reap. */
  left: number;
  /** Lifeguard local health score. */
  healthScore: number;
  /** Member clock. */
  memberTime: number;
  /** Event clock. */
  eventTime: number;
  /** Query clock. */
  queryTime: number;
  /** Intent broadcasts queued. */
  intentQueue: number;
  /** Event broadcasts queued. */
  eventQueue: number;
  /** Query broadcasts queued. */
  queryQueue: number;
  /** Whether a keyring is attached. */
  encrypted: boolean;
  /** Coordinate resets (null when coordinates are disabled). */
  coordinateResets: number | null;
  /** Failed members that came back within FlapTimeout. */
  flaps: number;
  /** Malformed Serf input dropped, by reason. */
  decodeErrors: Map<string, number>;
  /** Well-formed Serf input dropped, by reason. */
  dropped: Map<string, number>;
  /** The memberlist underneath. */
  memberlist: MemberlistStats;
}

/**
 * Serf's `Stats()` map, as the agent's `stats` RPC shows it under "serf".
 *
 * @param s the stats
 * @returns key → value text
 */
export function formatSerfStats(s: SerfStats): Record<string, string> {
  const out: Record<string, string> = {
    members: String(s.members),
    failed: String(s.failed),
    left: String(s.left),
    health_score: String(s.healthScore),
    member_time: String(s.memberTime),
    event_time: String(s.eventTime),
    query_time: String(s.queryTime),
    intent_queue: String(s.intentQueue),
    event_queue: String(s.eventQueue),
    query_queue: String(s.queryQueue),
    encrypted: String(s.encrypted),
  };
  if (s.coordinateResets !== null) {
    out.coordinate_resets = String(s.coordinateResets);
  }
  return out;
}

interface MemberRecord {
  readonly name: string;
  addr: Address;
  tags: ReadonlyMap<string, string>;
  status: SerfMemberStatus;
  statusLtime: number;
  leftAtMs: number;
  vsn: number[];
}

interface PendingQuery {
  readonly ltime: number;
  readonly id: number;
  readonly name: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly sourceNode: string;
  readonly relayFactor: number;
  readonly deadlineMs: number;
  responded: boolean;
}

type JoinKind = "user" | "rejoin" | "reconnect";

interface JoinOp {
  readonly opId: number;
  readonly kind: JoinKind;
  readonly ignoreOld: boolean;
}

interface LeaveOp {
  readonly opId: number;
  phase: "intent" | "memberlist" | "propagate";
  intentSent: boolean;
  mlOpId: number;
}

interface KeyOp {
  readonly action: KeyAction;
  readonly tally: KeyOpTally;
  numNodes: number;
  done: boolean;
}

function bump(m: Map<string, number>, reason: string): void {
  m.set(reason, (m.get(reason) ?? 0) + 1);
}

function addrText(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A Serf member as a pure state machine.
 *
 * @example
 * ```ts
 * const s = new Serf(
 *   serfConfig({ nodeName: "a", memberlist: { bindAddr: "10.0.0.1" } }),
 *   { prng: seededRandom(1), now: 0 },
 * );
 * const op = s.join([{ host: "10.0.0.2", port: 7946 }], true, 0);
 * s.userEvent("deploy", new TextEncoder().encode("v2"), true, 0);
 * // host loop: send s.pollTransmit(), dispatch s.pollEvent(), wake at s.nextDeadline()
 * ```
 */
export class Serf implements Machine<SerfEvent> {
  readonly #config: SerfConfig;
  readonly #prng: () => number;
  readonly #name: string;
  readonly #keyring: KeyringView | null;
  readonly #merge: ((members: SerfMemberInfo[]) => string | null) | null;
  readonly #ml: Memberlist;
  #tags: ReadonlyMap<string, string>;
  readonly #clock = new LamportClock();
  readonly #eventClock = new LamportClock();
  readonly #queryClock = new LamportClock();
  readonly #members = new Map<string, MemberRecord>();
  readonly #failed: string[] = [];
  readonly #left: string[] = [];
  readonly #intents = new RecentIntents();
  readonly #broadcasts: BroadcastQueue;
  readonly #eventBroadcasts: BroadcastQueue;
  readonly #queryBroadcasts: BroadcastQueue;
  // queuedTotal of the three queues when memberlist was last told.
  #broadcastsSeen = 0;
  readonly #eventBuffer: EventBuffer;
  readonly #queryBuffer: QueryBuffer;
  readonly #outstanding = new Map<number, OutstandingQuery>();
  readonly #pending = new Map<number, PendingQuery>();
  readonly #coord: CoordinateClient | null;
  readonly #coordCache = new Map<string, Coordinate>();
  readonly #deadlines = new Deadlines();
  readonly #memberCoalescer: Coalescer<MemberEvent> | null;
  readonly #userCoalescer: Coalescer<UserEvent> | null;
  readonly #snapshot: SnapshotRecorder | null;
  #events: SerfEvent[] = [];
  #state: "alive" | "leaving" | "left" | "shutdown" = "alive";
  readonly #joins = new Map<number, JoinOp>();
  #joinIgnore = 0;
  #leaveOp: LeaveOp | null = null;
  readonly #forceLeaves = new Map<number, boolean>();
  readonly #keyOps = new Map<number, KeyOp>();
  #conflict: ConflictTally | null = null;
  #rejoin: RejoinTarget[] = [];
  #nextOpId = 0;
  #nextQueryEventId = 0;
  #flaps = 0;
  readonly #decodeErrors = new Map<string, number>();
  readonly #dropped = new Map<string, number>();

  /**
   * Create the member: start Memberlist (which announces us), restore a
   * snapshot if given, and arm Serf's timers.
   *
   * @param config Serf tunables (see `serfConfig`)
   * @param options randomness, start time, seal overhead, address, snapshot,
   *   keyring, merge veto
   * @throws {TypeError} on an empty name or a non-IP advertise address
   * @throws {RangeError} on an invalid config or tags over 512 bytes
   */
  constructor(config: SerfConfig, options: SerfOptions) {
    validateSerfConfig(config);
    const name = config.nodeName !== ""
      ? config.nodeName
      : config.memberlist.name;
    if (name === "") {
      throw new TypeError("Invalid config nodeName: must not be empty");
    }
    if (encodedTagsSize(config.tags, config.protocolVersion) > TAGS_MAX_BYTES) {
      throw new RangeError(
        `Encoded length of tags exceeds limit of ${TAGS_MAX_BYTES} bytes`,
      );
    }
    this.#config = config;
    this.#prng = options.prng;
    this.#name = name;
    this.#tags = new Map(config.tags);
    this.#keyring = options.keyring ?? null;
    this.#merge = options.merge ?? null;
    const hardCap = 2 *
      Math.max(config.maxQueueDepth, config.minQueueDepth, 512);
    const mult = config.memberlist.retransmitMult;
    this.#broadcasts = new BroadcastQueue(mult, hardCap);
    this.#eventBroadcasts = new BroadcastQueue(mult, hardCap);
    this.#queryBroadcasts = new BroadcastQueue(mult, hardCap);
    this.#eventBuffer = new EventBuffer(config.eventBuffer);
    this.#queryBuffer = new QueryBuffer(config.queryBuffer);
    this.#coord = config.disableCoordinates
      ? null
      : new CoordinateClient(options.prng);
    this.#memberCoalescer =
      config.coalescePeriodMs > 0 && config.quiescentPeriodMs > 0
        ? new Coalescer(
          config.coalescePeriodMs,
          config.quiescentPeriodMs,
          new MemberCoalescePolicy(),
        )
        : null;
    this.#userCoalescer =
      config.userCoalescePeriodMs > 0 && config.userQuiescentPeriodMs > 0
        ? new Coalescer(
          config.userCoalescePeriodMs,
          config.userQuiescentPeriodMs,
          new UserCoalescePolicy(),
        )
        : null;
    // serf Create: every clock starts at 1 so a zero LTime is always old.
    this.#clock.increment();
    this.#eventClock.increment();
    this.#queryClock.increment();
    this.#snapshot = options.snapshot === undefined
      ? null
      : this.#restore(options.snapshot);
    if (this.#coord !== null) {
      this.#coordCache.set(name, this.#coord.coordinate());
    }
    const pv = config.protocolVersion;
    this.#ml = new Memberlist({
      ...config.memberlist,
      name,
      protocolVersion: MEMBERLIST_PROTOCOL_FOR_SERF[pv],
      delegateProtocolMin: SERF_PROTOCOL_MIN,
      delegateProtocolMax: SERF_PROTOCOL_MAX,
      delegateProtocolVersion: pv,
    }, {
      prng: options.prng,
      now: options.now,
      delegate: this.#delegate(),
      sealOverheadBytes: options.sealOverheadBytes,
      advertise: options.advertise,
    });
    this.#schedule(options.now);
    if (options.snapshot !== undefined) {
      this.#rejoin = rejoinAddresses(options.snapshot, name, options.prng);
      this.#rejoinNext(options.now);
    }
    this.#settle(options.now);
  }

  // ---------------------------------------------------------------- Machine

  /** A datagram arrived (already opened by the seal stage). */
  handlePacket(bytes: Uint8Array, from: Address, now: number): void {
    if (this.#state === "shutdown") return;
    this.#ml.handlePacket(bytes, from, now);
    this.#settle(now);
  }

  /** An inbound stream delivered its first message. */
  handleStream(
    inboundId: number,
    bytes: Uint8Array,
    from: Address,
    now: number,
  ): void {
    if (this.#state === "shutdown") return;
    this.#ml.handleStream(inboundId, bytes, from, now);
    this.#settle(now);
  }

  /** A dialed stream answered (bytes) or failed (Error). */
  handleStreamReply(
    streamId: number,
    result: Uint8Array | Error,
    now: number,
  ): void {
    if (this.#state === "shutdown") return;
    this.#ml.handleStreamReply(streamId, result, now);
    this.#settle(now);
  }

  /** Handle every deadline ≤ `now` (Memberlist's, then Serf's). */
  handleTimeout(now: number): void {
    if (this.#state === "shutdown") return;
    this.#ml.handleTimeout(now);
    this.#settle(now);
    for (let i = 0; i < 100_000 && !this.#isShutdown(); i++) {
      const due = this.#deadlines.popDue(now);
      if (due === undefined) break;
      this.#onDeadline(due.name, now);
      this.#settle(now);
    }
    if (this.#isShutdown()) return;
    for (const e of this.#memberCoalescer?.due(now) ?? []) this.#push(e);
    for (const e of this.#userCoalescer?.due(now) ?? []) this.#push(e);
  }

  /** Earliest time the machine wants {@linkcode handleTimeout}, or null. */
  nextDeadline(): number | null {
    if (this.#state === "shutdown") return null;
    let min: number | null = null;
    for (
      const at of [
        this.#ml.nextDeadline(),
        this.#deadlines.next(),
        this.#memberCoalescer?.nextDeadline() ?? null,
        this.#userCoalescer?.nextDeadline() ?? null,
      ]
    ) if (at !== null && (min === null || at < min)) min = at;
    return min;
  }

  /** Next queued transmit, if any. */
  pollTransmit(): Transmit | undefined {
    return this.#ml.pollTransmit();
  }

  /** Next queued event, if any. */
  pollEvent(): SerfEvent | undefined {
    return this.#events.shift();
  }

  // --------------------------------------------------------------- commands

  /**
   * Join through `seeds` (serf `Join`): a memberlist join, then, if any
   * seed answered, a join intent. With `ignoreOld` (the agent's default,
   * `Replay = false`), events the cluster already knew are not delivered.
   *
   * @param seeds addresses to contact
   * @param ignoreOld skip events older than the join
   * @param now current time
   * @returns the op id of the `joinDone` event
   */
  join(seeds: Address[], ignoreOld: boolean, now: number): number {
    const opId = ++this.#nextOpId;
    if (this.#state !== "alive") {
      this.#push({
        type: "joinDone",
        opId,
        joined: 0,
        errors: [],
        error: "Serf can't Join after Leave or Shutdown",
      });
      return opId;
    }
    this.#startJoin(seeds, { opId, kind: "user", ignoreOld }, now);
    this.#settle(now);
    return opId;
  }

  /**
   * Leave gracefully (serf `Leave`): broadcast a leave intent and wait for
   * it to be sent (at most BroadcastTimeout), then leave memberlist, then
   * stay up LeavePropagateDelay. Completes with `leaveDone`; our status
   * ends `left` and others see us left, not failed.
   *
   * @param now current time
   * @returns the op id of the `leaveDone` event
   */
  leave(now: number): number {
    const opId = ++this.#nextOpId;
    const refuse = this.#state === "left"
      ? null
      : this.#state === "leaving"
      ? "Leave already in progress"
      : this.#state === "shutdown"
      ? "Leave called after Shutdown"
      : undefined;
    if (refuse !== undefined) {
      this.#push({ type: "leaveDone", opId, error: refuse });
      return opId;
    }
    this.#state = "leaving";
    if (this.#snapshot !== null) this.#snapshotText(this.#snapshot.leave());
    const msg: LeaveIntent = {
      ltime: this.#clock.time(),
      node: this.#name,
      prune: false,
    };
    this.#clock.increment();
    this.#handleLeaveIntent(msg, now);
    const op: LeaveOp = {
      opId,
      phase: "intent",
      intentSent: false,
      mlOpId: -1,
    };
    this.#leaveOp = op;
    if (this.#hasAliveMembers()) {
      this.#broadcasts.queue(null, encodeLeaveIntent(msg), () => {
        op.intentSent = true;
      });
      this.#deadlines.set("leaveIntent", now + this.#config.broadcastTimeoutMs);
    } else this.#leaveMemberlist(now);
    this.#settle(now);
    return opId;
  }

  /**
   * Force a member out (serf `RemoveFailedNodePrune`): broadcast a leave
   * intent for it with the current clock — a failed member becomes left;
   * with `prune`, it is erased at once. Completes with `forceLeaveDone`.
   *
   * @param name the member (an unknown name is broadcast all the same)
   * @param prune erase it from every member list
   * @param now current time
   * @returns the op id
   */
  forceLeave(name: string, prune: boolean, now: number): number {
    const opId = ++this.#nextOpId;
    const msg: LeaveIntent = { ltime: this.#clock.time(), node: name, prune };
    this.#clock.increment();
    this.#handleLeaveIntent(msg, now);
    if (!this.#hasAliveMembers()) {
      this.#push({ type: "forceLeaveDone", opId, error: null });
    } else {
      this.#forceLeaves.set(opId, false);
      this.#broadcasts.queue(null, encodeLeaveIntent(msg), () => {
        if (this.#forceLeaves.has(opId)) this.#forceLeaves.set(opId, true);
      });
      this.#deadlines.set(
        `forceLeave:${opId}`,
        now + this.#config.broadcastTimeoutMs,
      );
    }
    this.#settle(now);
    return opId;
  }

  /**
   * Replace our tags and announce them (serf `SetTags` → memberlist
   * `UpdateNode`, without waiting for the broadcast).
   *
   * @param tags the new tags
   * @param now current time
   * @throws {RangeError} "Encoded length of tags exceeds limit of 512 bytes"
   */
  setTags(tags: ReadonlyMap<string, string>, now: number): void {
    if (encodedTagsSize(tags, this.#config.protocolVersion) > TAGS_MAX_BYTES) {
      throw new RangeError(
        `Encoded length of tags exceeds limit of ${TAGS_MAX_BYTES} bytes`,
      );
    }
    this.#tags = new Map(tags);
    if (this.#state === "shutdown") return;
    this.#ml.updateMeta(now);
    this.#settle(now);
  }

  /**
   * Broadcast a user event (serf `UserEvent`); it is also delivered here.
   *
   * @param name event name
   * @param payload event payload (null for none, Go's nil)
   * @param coalesce whether agents may coalesce it
   * @param now current time
   * @throws {RangeError} with Serf's size-limit messages, e.g. "encoded user
   *   event exceeds configured limit of 512 bytes after encoding"
   */
  userEvent(
    name: string,
    payload: Uint8Array | null,
    coalesce: boolean,
    now: number,
  ): void {
    const limit = this.#config.userEventSizeLimit;
    const early = userEventSizeError(name, payload, null, limit);
    if (early !== null) throw new RangeError(early);
    const msg: UserEventMessage = {
      ltime: this.#eventClock.time(),
      name,
      payload: payload === null ? null : payload.slice(),
      cc: coalesce,
    };
    const raw = encodeUserEvent(msg);
    const late = userEventSizeError(name, payload, raw.length, limit);
    if (late !== null) throw new RangeError(late);
    this.#eventClock.increment();
    this.#handleUserEvent(msg, now);
    this.#eventBroadcasts.queue(null, raw);
    this.#settle(now);
  }

  /**
   * Start a query (serf `Query`): it is handled here too, then gossiped.
   * Responses arrive as `queryAck` / `queryResponse` events and the query
   * ends with `queryDone` at its deadline.
   *
   * @param name query name (names starting with `_serf_` are Serf's)
   * @param payload query payload (null for none)
   * @param params filters, ack, relay factor, timeout
   * @param now current time
   * @returns the query id used in its events
   * @throws {RangeError} "query exceeds limit of 1024 bytes", bad params, or
   *   too many outstanding queries
   * @throws {Error} "Feature not supported" below Serf protocol 4
   */
  query(
    name: string,
    payload: Uint8Array | null,
    params: QueryParams,
    now: number,
  ): number {
    if (this.#config.protocolVersion < 4) {
      throw new Error("Feature not supported");
    }
    if (this.#state === "shutdown") throw new Error("Serf is shut down");
    const id = this.#startQuery(
      name,
      payload === null ? null : payload.slice(),
      params,
      { kind: "user" },
      now,
    );
    this.#settle(now);
    return id;
  }

  /**
   * Answer a query event (serf `Query.Respond`), once, before its deadline.
   *
   * @param queryEventId the `id` of the `query` event
   * @param payload the answer
   * @param now current time
   * @throws {Error} "No pending queries matching ID", "response already
   *   sent", "response is past the deadline"
   * @throws {RangeError} "response exceeds limit of 1024 bytes"
   */
  respond(queryEventId: number, payload: Uint8Array | null, now: number): void {
    this.#respond(queryEventId, payload, now);
    this.#settle(now);
  }

  /**
   * Install a key on every member (serf `KeyManager.InstallKey`).
   *
   * @param key raw key bytes (16, 24 or 32)
   * @param now current time
   * @param options relay factor for the responses
   * @returns the op id of the `keyDone` event
   */
  installKey(
    key: Uint8Array,
    now: number,
    options: { relayFactor?: number } = {},
  ): number {
    return this.#keyOp("install", key, options, now);
  }

  /**
   * Make an installed key primary everywhere (serf `KeyManager.UseKey`).
   *
   * @param key raw key bytes
   * @param now current time
   * @param options relay factor for the responses
   * @returns the op id of the `keyDone` event
   */
  useKey(
    key: Uint8Array,
    now: number,
    options: { relayFactor?: number } = {},
  ): number {
    return this.#keyOp("use", key, options, now);
  }

  /**
   * Remove a key everywhere (serf `KeyManager.RemoveKey`).
   *
   * @param key raw key bytes
   * @param now current time
   * @param options relay factor for the responses
   * @returns the op id of the `keyDone` event
   */
  removeKey(
    key: Uint8Array,
    now: number,
    options: { relayFactor?: number } = {},
  ): number {
    return this.#keyOp("remove", key, options, now);
  }

  /**
   * Collect every member's keys (serf `KeyManager.ListKeys`).
   *
   * @param now current time
   * @param options relay factor for the responses
   * @returns the op id of the `keyDone` event
   */
  listKeys(now: number, options: { relayFactor?: number } = {}): number {
    return this.#keyOp("list", EMPTY, options, now);
  }

  /**
   * Stop (serf `Shutdown`): Memberlist stops, pending operations complete
   * with errors, coalesced events are flushed, then a `shutdown` event.
   *
   * @param now current time
   */
  shutdown(now: number): void {
    this.#shutdown(now, "requested");
  }

  /** Every member Serf knows, any status, sorted by name (serf `Members`). */
  members(): SerfMemberInfo[] {
    return [...this.#members.values()].map((m) => this.#info(m)).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /** Ourselves (serf `LocalMember`). */
  localMember(): SerfMemberInfo {
    const me = this.#members.get(this.#name);
    if (me !== undefined) return this.#info(me);
    const m = this.#ml.localMember();
    return this.#info(this.#record(m, "alive"));
  }

  /**
   * A member's status ("none" when unknown).
   *
   * @param name member name
   * @returns its status
   */
  memberStatus(name: string): SerfMemberStatus {
    return this.#members.get(name)?.status ?? "none";
  }

  /** Our own state: alive, leaving, left or shutdown (serf `State`). */
  state(): "alive" | "leaving" | "left" | "shutdown" {
    return this.#state;
  }

  /** Our tags. */
  tags(): ReadonlyMap<string, string> {
    return this.#tags;
  }

  /** Alive members, self included (memberlist `NumMembers`). */
  numMembers(): number {
    return this.#ml.numMembers();
  }

  /** The default query timeout now (serf `DefaultQueryTimeout`). */
  defaultQueryTimeoutMs(): number {
    return defaultQueryTimeoutMs(
      this.#config.memberlist.gossipIntervalMs,
      this.#config.queryTimeoutMult,
      this.#ml.numMembers(),
    );
  }

  /** Our coordinate, or null when coordinates are disabled (serf `GetCoordinate`). */
  coordinate(): Coordinate | null {
    return this.#coord?.coordinate() ?? null;
  }

  /**
   * A member's last known coordinate (serf `GetCachedCoordinate`).
   *
   * @param name member name (ours included)
   * @returns the coordinate, or null
   */
  cachedCoordinate(name: string): Coordinate | null {
    const c = this.#coordCache.get(name);
    return c === undefined ? null : { ...c, vec: [...c.vec] };
  }

  /**
   * Estimated RTT between two members in ms, as `serf rtt a b` computes
   * it from their cached coordinates.
   *
   * @param a one member
   * @param b another (default: ourselves)
   * @returns milliseconds, or null when a coordinate is missing
   */
  estimateRttMs(a: string, b: string = this.#name): number | null {
    const ca = this.#coordCache.get(a);
    const cb = this.#coordCache.get(b);
    if (ca === undefined || cb === undefined) return null;
    return distanceSeconds(ca, cb) * 1000;
  }

  /** A snapshot of counters (serf `Stats`, plus drop counters). */
  stats(): SerfStats {
    return {
      members: this.#members.size,
      failed: this.#failed.length,
      left: this.#left.length,
      healthScore: this.#ml.healthScore(),
      memberTime: this.#clock.time(),
      eventTime: this.#eventClock.time(),
      queryTime: this.#queryClock.time(),
      intentQueue: this.#broadcasts.length,
      eventQueue: this.#eventBroadcasts.length,
      queryQueue: this.#queryBroadcasts.length,
      encrypted: this.#keyring !== null,
      coordinateResets: this.#coord?.resets ?? null,
      flaps: this.#flaps,
      decodeErrors: new Map(this.#decodeErrors),
      dropped: new Map(this.#dropped),
      memberlist: this.#ml.stats(),
    };
  }

  /** Serf's armed deadlines by name, sorted (tests, debugging). */
  deadlines(): Array<[string, number]> {
    const out = this.#deadlines.entries();
    const m = this.#memberCoalescer?.nextDeadline() ?? null;
    const u = this.#userCoalescer?.nextDeadline() ?? null;
    if (m !== null) out.push(["coalesce:member", m]);
    if (u !== null) out.push(["coalesce:user", u]);
    return out.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  }

  /** The recorded snapshot state, or null when recording is off. */
  snapshotState(): SnapshotState | null {
    return this.#snapshot?.state() ?? null;
  }

  /** The Memberlist underneath (read-only use: members, stats). */
  get memberlist(): Memberlist {
    return this.#ml;
  }

  // ------------------------------------------------------------- delegate

  // memberlist's delegates folded into one object (ARCHITECTURE principle
  // 6). Hooks may run while `#ml` is still being constructed (our own
  // alive), so none of them touches `#ml` unless Memberlist exists.
  #delegate(): MemberlistDelegate {
    const d: MemberlistDelegate = {
      nodeMeta: (limit) => this.#nodeMeta(limit),
      notifyMsg: (payload, now) => this.#notifyMsg(payload, now),
      getBroadcasts: (overhead, limit) => this.#getBroadcasts(overhead, limit),
      hasBroadcasts: () =>
        this.#broadcasts.length + this.#queryBroadcasts.length +
            this.#eventBroadcasts.length > 0,
      localState: () => this.#localState(),
      mergeRemoteState: (buf, join, now) =>
        this.#mergeRemoteState(buf, join, now),
      notifyJoin: (m, now) => this.#handleNodeJoin(m, now),
      notifyLeave: (m, now) => this.#handleNodeLeave(m, now),
      notifyUpdate: (m, now) => this.#handleNodeUpdate(m, now),
      notifyConflict: (existing, other, now) =>
        this.#handleNodeConflict(existing, other, now),
    };
    if (this.#coord !== null) {
      d.ackPayload = () => encodeCoordinatePayload(this.#coord!.coordinate());
      d.notifyPingComplete = (m, rttMs, payload) =>
        this.#pingComplete(m, rttMs, payload);
    }
    if (this.#merge !== null) {
      const veto = this.#merge;
      const toInfo = (m: Member): SerfMemberInfo =>
        this.#info(this.#record(m, m.state === "left" ? "left" : "none"));
      d.notifyMerge = (peers) => veto(peers.map(toInfo));
      d.notifyAlive = (peer) => veto([toInfo(peer)]);
    }
    return d;
  }

  // serf delegate.NodeMeta: a tags overflow is a programming error (Serf
  // panics); setTags checks first, so this cannot happen from the API.
  #nodeMeta(limit: number): Uint8Array {
    const meta = encodeTags(this.#tags, this.#config.protocolVersion);
    if (meta.length > limit) {
      throw new RangeError(`Node tags exceed length limit of ${limit} bytes`);
    }
    return meta;
  }

  // serf delegate.GetBroadcasts: intents first, then queries, then events.
  #getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const n = this.#members.size;
    const out: Uint8Array[] = [];
    let used = 0;
    for (
      const q of [
        this.#broadcasts,
        this.#queryBroadcasts,
        this.#eventBroadcasts,
      ]
    ) {
      for (const m of q.take(overhead, limit - used, n)) {
        used += m.length + overhead;
        out.push(m);
      }
    }
    return out;
  }

  // serf delegate.LocalState: clocks, status times, left members, the
  // whole event ring (SPEC §8.2; 586 bytes for a fresh node).
  #localState(): Uint8Array {
    const statusLtimes = new Map<string, number>();
    for (const m of this.#members.values()) {
      statusLtimes.set(m.name, m.statusLtime);
    }
    return encodePushPullState({
      ltime: this.#clock.time(),
      statusLtimes,
      leftMembers: [...this.#left],
      eventLtime: this.#eventClock.time(),
      events: [...this.#eventBuffer.ring()],
      queryLtime: this.#queryClock.time(),
    });
  }

  // serf delegate.MergeRemoteState (SPEC §8.5).
  #mergeRemoteState(buf: Uint8Array, join: boolean, now: number): void {
    if (buf.length === 0) {
      logger.error`serf: Remote state is zero bytes`;
      return bump(this.#decodeErrors, "empty-state");
    }
    if (buf[0] !== 2) {
      logger.error`serf: Remote state has bad type prefix: ${buf[0]}`;
      return bump(this.#decodeErrors, "state-type");
    }
    let msg: SerfMessage;
    try {
      msg = decodeSerfMessage(buf);
    } catch (e) {
      logger.error`serf: Failed to decode remote state: ${errorText(e)}`;
      return this.#countDecode(e);
    }
    if (msg.type !== "pushPull") return;
    const pp = msg.body;
    // No message with these times was sent yet: witness one less.
    if (pp.ltime > 0) this.#clock.witness(pp.ltime - 1);
    if (pp.eventLtime > 0) this.#eventClock.witness(pp.eventLtime - 1);
    if (pp.queryLtime > 0) this.#queryClock.witness(pp.queryLtime - 1);
    // Left members first, one past their status time (the leave must have
    // come after it to put them on the left list).
    const left = new Set(pp.leftMembers);
    for (const node of pp.leftMembers) {
      const ltime = (pp.statusLtimes.get(node) ?? 0) + 1;
      this.#handleLeaveIntent({ ltime, node, prune: false }, now);
    }
    for (const [node, ltime] of pp.statusLtimes) {
      if (!left.has(node)) this.#handleJoinIntent({ ltime, node }, now);
    }
    if (
      join && this.#joinIgnore > 0 && pp.eventLtime > this.#eventBuffer.minTime
    ) {
      this.#eventBuffer.minTime = pp.eventLtime;
    }
    for (const slot of pp.events) {
      if (slot === null) continue;
      for (const e of slot.events) {
        this.#handleUserEvent({
          ltime: slot.ltime,
          name: e.name,
          payload: e.payload,
          cc: false,
        }, now);
      }
    }
  }

  // serf delegate.NotifyMsg: dispatch by Serf type; re-broadcast news.
  #notifyMsg(payload: Uint8Array, now: number): void {
    if (payload.length === 0) return;
    // The packet buffer may be reused by the host: keep our own copy.
    const buf = payload.slice();
    let msg: SerfMessage;
    try {
      msg = decodeSerfMessage(buf);
    } catch (e) {
      if (e instanceof DecodeError && e.reason === "unknown-type") {
        logger.warn`serf: Received message of unknown type: ${buf[0]}`;
        return bump(this.#dropped, "unknown-type");
      }
      logger.error`serf: Error decoding message of type ${buf[0]}: ${
        errorText(e)
      }`;
      return this.#countDecode(e);
    }
    let rebroadcast = false;
    let queue = this.#broadcasts;
    switch (msg.type) {
      case "leave":
        logger.debug`serf: messageLeaveType: ${msg.body.node}`;
        rebroadcast = this.#handleLeaveIntent(msg.body, now);
        break;
      case "join":
        logger.debug`serf: messageJoinType: ${msg.body.node}`;
        rebroadcast = this.#handleJoinIntent(msg.body, now);
        break;
      case "userEvent":
        logger.debug`serf: messageUserEventType: ${msg.body.name}`;
        rebroadcast = this.#handleUserEvent(msg.body, now);
        queue = this.#eventBroadcasts;
        break;
      case "query":
        logger.debug`serf: messageQueryType: ${msg.body.name}`;
        rebroadcast = this.#handleQuery(msg.body, now);
        queue = this.#queryBroadcasts;
        break;
      case "queryResponse":
        logger.debug`serf: messageQueryResponseType: ${msg.body.from}`;
        this.#handleQueryResponse(msg.body);
        break;
      case "relay":
        this.#handleRelay(msg.body, now);
        break;
      default:
        logger.warn`serf: Received message of unknown type: ${buf[0]}`;
        bump(this.#dropped, "unexpected-type");
    }
    if (rebroadcast) queue.queue(null, buf);
  }

  // serf NotifyMsg, messageRelayType: forward the inner message unchanged.
  #handleRelay(r: RelayMessage, now: number): void {
    const host = ipToString(r.destAddr.ip);
    if (host === "" || r.destAddr.port <= 0 || r.destAddr.port > 65535) {
      logger
        .error`serf: Error forwarding message to ${host}:${r.destAddr.port}: invalid address`;
      return bump(this.#dropped, "relay-address");
    }
    const to = { host, port: r.destAddr.port };
    logger.debug`serf: Relaying response to addr: ${addrText(to)}`;
    this.#ml.sendTo(to, r.message.slice(), now);
  }

  // ------------------------------------------------------ membership events

  #record(m: Member, status: SerfMemberStatus): MemberRecord {
    const vsn = [...m.vsn];
    while (vsn.length < 6) vsn.push(0);
    return {
      name: m.name,
      addr: m.addr,
      tags: this.#decodeTags(m.meta),
      status,
      statusLtime: 0,
      leftAtMs: -1,
      vsn,
    };
  }

  #info(m: MemberRecord): SerfMemberInfo {
    return {
      name: m.name,
      addr: m.addr,
      tags: m.tags,
      status: m.status,
      protocolMin: m.vsn[0],
      protocolMax: m.vsn[1],
      protocolCur: m.vsn[2],
      delegateMin: m.vsn[3],
      delegateMax: m.vsn[4],
      delegateCur: m.vsn[5],
    };
  }

  #decodeTags(meta: Uint8Array): ReadonlyMap<string, string> {
    try {
      return decodeTags(meta);
    } catch (e) {
      logger.error`serf: Failed to decode tags: ${errorText(e)}`;
      this.#countDecode(e);
      return new Map();
    }
  }

  // serf handleNodeJoin (SPEC §8.5): a new member picks up a buffered intent.
  #handleNodeJoin(n: Member, now: number): void {
    let m = this.#members.get(n.name);
    let old: SerfMemberStatus;
    if (m === undefined) {
      old = "none";
      m = this.#record(n, "alive");
      const join = this.#intents.get(n.name, "join");
      if (join !== undefined) m.statusLtime = join;
      const leave = this.#intents.get(n.name, "leave");
      if (leave !== undefined) {
        m.status = "leaving";
        m.statusLtime = leave;
      }
      this.#makeRoom(now);
      this.#members.set(n.name, m);
    } else {
      old = m.status;
      if (old === "failed" && now - m.leftAtMs < this.#config.flapTimeoutMs) {
        this.#flaps++;
      }
      const fresh = this.#record(n, "alive");
      m.status = "alive";
      m.leftAtMs = -1;
      m.addr = fresh.addr;
      m.tags = fresh.tags;
      m.vsn = fresh.vsn;
    }
    if (old === "failed" || old === "left") {
      removeName(this.#failed, m.name);
      removeName(this.#left, m.name);
    }
    logger.info`serf: EventMemberJoin: ${m.name} ${m.addr.host}`;
    this.#emit({ type: "memberJoin", members: [this.#info(m)] }, now);
  }

  // serf handleNodeLeave: Leaving → Left, Alive → Failed.
  #handleNodeLeave(n: Member, now: number): void {
    const m = this.#members.get(n.name);
    if (m === undefined) return;
    if (m.status === "leaving") {
      m.status = "left";
      m.leftAtMs = now;
      this.#left.push(m.name);
    } else if (m.status === "alive") {
      m.status = "failed";
      m.leftAtMs = now;
      this.#failed.push(m.name);
    } else {
      logger.warn`serf: Bad state when leave: ${SERF_STATUS_CODES[m.status]}`;
      return;
    }
    const type: MemberEventType = m.status === "left"
      ? "memberLeave"
      : "memberFailed";
    const word = type === "memberLeave"
      ? "EventMemberLeave"
      : "EventMemberFailed";
    logger.info`serf: ${word}: ${m.name} ${m.addr.host}`;
    this.#emit({ type, members: [this.#info(m)] }, now);
  }

  // serf handleNodeUpdate: address and tags (protocol versions are only
  // refreshed on join, as in Serf).
  #handleNodeUpdate(n: Member, now: number): void {
    const m = this.#members.get(n.name);
    if (m === undefined) return;
    m.addr = n.addr;
    m.tags = this.#decodeTags(n.meta);
    logger.info`serf: EventMemberUpdate: ${m.name}`;
    this.#emit({ type: "memberUpdate", members: [this.#info(m)] }, now);
  }

  // Keep the member map bounded: reap the oldest failed/left member early.
  #makeRoom(now: number): void {
    if (this.#members.size < MAX_SERF_MEMBERS) return;
    const victim = this.#left[0] ?? this.#failed[0];
    if (victim === undefined) return;
    removeName(this.#left, victim);
    removeName(this.#failed, victim);
    const m = this.#members.get(victim);
    bump(this.#dropped, "member-cap");
    if (m !== undefined) this.#eraseNode(m, now);
  }

  // serf eraseNode: forget a member and tell the application.
  #eraseNode(m: MemberRecord, now: number): void {
    this.#members.delete(m.name);
    this.#coordCache.delete(m.name);
    this.#coord?.forgetNode(m.name);
    this.#emit({ type: "memberReap", members: [this.#info(m)] }, now);
  }

  // A method, so TypeScript does not narrow the state across calls that
  // may shut us down.
  #isShutdown(): boolean {
    return this.#state === "shutdown";
  }

  #hasAliveMembers(): boolean {
    for (const m of this.#members.values()) {
      if (m.name !== this.#name && m.status === "alive") return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- intents

  // serf handleNodeJoinIntent; true when the intent should be re-broadcast.
  #handleJoinIntent(msg: JoinIntent, now: number): boolean {
    this.#clock.witness(msg.ltime);
    const m = this.#members.get(msg.node);
    if (m === undefined) {
      return this.#intents.upsert(msg.node, "join", msg.ltime, now);
    }
    const o = joinIntentOutcome(m, msg.ltime);
    if (!o.apply) return false;
    m.statusLtime = msg.ltime;
    m.status = o.status;
    return true;
  }

  // serf handleNodeLeaveIntent; true when the intent should be re-broadcast.
  #handleLeaveIntent(msg: LeaveIntent, now: number): boolean {
    const selfAlive = this.#state === "alive";
    this.#clock.witness(msg.ltime);
    const m = this.#members.get(msg.node);
    if (m === undefined) {
      return this.#intents.upsert(msg.node, "leave", msg.ltime, now);
    }
    const o = leaveIntentOutcome(m, msg, {
      aboutSelf: msg.node === this.#name,
      selfAlive,
    });
    if (o.action === "ignore") return false;
    if (o.action === "refute") {
      logger.debug`serf: Refuting an older leave intent`;
      this.#broadcastJoin(this.#clock.time(), now);
      return false;
    }
    m.statusLtime = msg.ltime;
    if (o.status !== m.status) {
      m.status = o.status;
      if (o.forced) {
        removeName(this.#failed, m.name);
        this.#left.push(m.name);
        logger.info`serf: EventMemberLeave (forced): ${m.name} ${m.addr.host}`;
        this.#emit({ type: "memberLeave", members: [this.#info(m)] }, now);
      }
    }
    if (o.prune) this.#handlePrune(m, now);
    return o.rebroadcast;
  }

  // serf handlePrune: a leaving member is erased only after its own leave
  // had time to finish (BroadcastTimeout + LeavePropagateDelay).
  #handlePrune(m: MemberRecord, now: number): void {
    if (m.status === "leaving") {
      const at = now + this.#config.broadcastTimeoutMs +
        this.#config.leavePropagateDelayMs;
      this.#deadlines.set(`prune:${m.name}`, at);
      return;
    }
    this.#prune(m.name, now);
  }

  #prune(name: string, now: number): void {
    const m = this.#members.get(name);
    if (m === undefined) return;
    logger.info`serf: EventMemberReap (forced): ${m.name} ${m.addr.host}`;
    removeName(this.#left, name);
    removeName(this.#failed, name);
    this.#eraseNode(m, now);
  }

  // serf broadcastJoin: used after a join and to refute a leave about us.
  #broadcastJoin(ltime: number, now: number): void {
    const msg: JoinIntent = { ltime, node: this.#name };
    this.#clock.witness(ltime);
    this.#handleJoinIntent(msg, now);
    this.#broadcasts.queue(null, encodeJoinIntent(msg));
  }

  // ------------------------------------------------------------ user events

  // serf handleUserEvent; true when new (deliver and re-broadcast).
  #handleUserEvent(msg: UserEventMessage, now: number): boolean {
    this.#eventClock.witness(msg.ltime);
    const cur = this.#eventClock.time();
    const verdict = this.#eventBuffer.accept(msg, cur);
    if (verdict === "tooOld") {
      logger
        .warn`serf: received old event ${msg.name} from time ${msg.ltime} (current: ${cur})`;
    }
    if (verdict !== "new") {
      if (verdict !== "duplicate") bump(this.#dropped, `event-${verdict}`);
      return false;
    }
    this.#emit({
      type: "user",
      ltime: msg.ltime,
      name: msg.name,
      payload: msg.payload,
      coalesce: msg.cc,
    }, now);
    return true;
  }

  // ---------------------------------------------------------------- queries

  #startQuery(
    name: string,
    payload: Uint8Array | null,
    params: QueryParams,
    owner: QueryOwner,
    now: number,
    queryId: number = ++this.#nextOpId,
  ): number {
    const relayFactor = params.relayFactor ?? 0;
    if (
      !Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 255
    ) {
      throw new RangeError(
        `Invalid query relayFactor: ${relayFactor} must be a whole number in 0..255`,
      );
    }
    const t = params.timeoutMs ?? 0;
    if (!Number.isInteger(t) || t < 0) {
      throw new RangeError(
        `Invalid query timeoutMs: ${t} must be a whole number ≥ 0`,
      );
    }
    const timeoutMs = t > 0 ? t : this.defaultQueryTimeoutMs();
    const local = this.#ml.localMember();
    const q: QueryMessage = {
      ltime: this.#queryClock.time(),
      id: Math.floor(this.#prng() * 2 ** 31) >>> 0,
      addr: ipFromString(local.addr.host) ?? EMPTY,
      port: local.addr.port,
      sourceNode: this.#name,
      filters: encodeQueryFilters(params),
      flags: params.requestAck ? QueryFlag.ack : 0,
      relayFactor,
      timeoutNs: timeoutMs * 1_000_000,
      name,
      payload,
    };
    const raw = encodeQuery(q);
    if (raw.length > this.#config.querySizeLimit) {
      throw new RangeError(
        `query exceeds limit of ${this.#config.querySizeLimit} bytes`,
      );
    }
    if (this.#outstanding.size >= MAX_OUTSTANDING_QUERIES) {
      throw new RangeError(
        `Too many outstanding queries: at most ${MAX_OUTSTANDING_QUERIES}`,
      );
    }
    this.#outstanding.set(
      q.ltime,
      new OutstandingQuery({
        queryId,
        ltime: q.ltime,
        id: q.id,
        deadlineMs: now + timeoutMs,
        ackRequested: params.requestAck === true,
        owner,
        numNodes: this.#ml.numMembers(),
      }),
    );
    this.#deadlines.set(`query:${q.ltime}`, now + timeoutMs);
    this.#handleQuery(q, now);
    this.#queryBroadcasts.queue(null, raw);
    return queryId;
  }

  // serf handleQuery; true when the query should be re-broadcast.
  #handleQuery(q: QueryMessage, now: number): boolean {
    this.#queryClock.witness(q.ltime);
    const cur = this.#queryClock.time();
    const verdict = this.#queryBuffer.accept(q.ltime, q.id, cur);
    if (verdict === "tooOld") {
      logger
        .warn`serf: received old query ${q.name} from time ${q.ltime} (current: ${cur})`;
    }
    if (verdict !== "new") {
      if (verdict !== "duplicate") bump(this.#dropped, `query-${verdict}`);
      return false;
    }
    const rebroadcast = (q.flags & QueryFlag.noBroadcast) === 0;
    const filter = shouldProcessQuery(q.filters, this.#name, this.#tags);
    if (filter.warning !== null) logger.warn`serf: ${filter.warning}`;
    if (!filter.process) return rebroadcast;
    if ((q.flags & QueryFlag.ack) !== 0) {
      const ack = encodeQueryResponse({
        ltime: q.ltime,
        id: q.id,
        from: this.#name,
        flags: QueryFlag.ack,
        payload: null,
      });
      this.#sendResponse(
        q.addr,
        q.port,
        q.sourceNode,
        q.relayFactor,
        ack,
        "ack",
        now,
      );
    }
    const id = ++this.#nextQueryEventId;
    this.#registerPending(id, {
      ltime: q.ltime,
      id: q.id,
      name: q.name,
      addr: q.addr.slice(),
      port: q.port,
      sourceNode: q.sourceNode,
      relayFactor: q.relayFactor,
      deadlineMs: now + Math.max(0, Math.floor(q.timeoutNs / 1_000_000)),
      responded: false,
    }, now);
    this.#emit({
      type: "query",
      id,
      ltime: q.ltime,
      name: q.name,
      payload: q.payload,
      sourceNode: q.sourceNode,
      deadlineMs: now + Math.max(0, Math.floor(q.timeoutNs / 1_000_000)),
    }, now);
    return rebroadcast;
  }

  #registerPending(id: number, p: PendingQuery, now: number): void {
    if (this.#pending.size >= MAX_PENDING_QUERIES) this.#expirePending(now);
    if (this.#pending.size >= MAX_PENDING_QUERIES) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
      bump(this.#dropped, "pending-query-cap");
    }
    this.#pending.set(id, p);
  }

  #expirePending(now: number): void {
    for (const [id, p] of this.#pending) {
      if (now > p.deadlineMs) this.#pending.delete(id);
    }
  }

  // serf Query.Respond: once, before the deadline, to Addr:Port + relays.
  #respond(
    queryEventId: number,
    payload: Uint8Array | null,
    now: number,
  ): void {
    const p = this.#pending.get(queryEventId);
    if (p === undefined) throw new Error("No pending queries matching ID");
    if (p.responded) throw new Error("response already sent");
    if (now > p.deadlineMs) throw new Error("response is past the deadline");
    const raw = encodeQueryResponse({
      ltime: p.ltime,
      id: p.id,
      from: this.#name,
      flags: 0,
      payload,
    });
    if (raw.length > this.#config.queryResponseSizeLimit) {
      throw new RangeError(
        `response exceeds limit of ${this.#config.queryResponseSizeLimit} bytes`,
      );
    }
    if (this.#state !== "shutdown") {
      this.#sendResponse(
        p.addr,
        p.port,
        p.sourceNode,
        p.relayFactor,
        raw,
        "response",
        now,
      );
    }
    p.responded = true;
  }

  #sendResponse(
    addr: Uint8Array,
    port: number,
    sourceNode: string,
    relayFactor: number,
    raw: Uint8Array,
    what: "ack" | "response",
    now: number,
  ): void {
    const host = ipToString(addr);
    if (host === "" || port === 0) {
      logger.error`serf: failed to send ${what}: invalid address`;
      return bump(this.#dropped, "response-address");
    }
    this.#ml.sendTo({ host, port }, raw, now);
    this.#relayResponse(relayFactor, addr, port, sourceNode, raw, what, now);
  }

  // serf relayResponse: also send through up to `relayFactor` random alive
  // members of protocol ≥ 5 (not ourselves), when we know enough members.
  #relayResponse(
    relayFactor: number,
    addr: Uint8Array,
    port: number,
    sourceNode: string,
    raw: Uint8Array,
    what: "ack" | "response",
    now: number,
  ): void {
    if (relayFactor === 0) return;
    const members = [...this.#members.values()];
    if (members.length < relayFactor + 1) return;
    const relay = encodeRelay({
      destAddr: { ip: addr, port, zone: "" },
      destName: sourceNode,
      message: raw,
    });
    if (relay.length > this.#config.queryResponseSizeLimit) {
      logger
        .error`serf: failed to relay ${what}: relay response exceeds limit of ${this.#config.queryResponseSizeLimit} bytes`;
      return;
    }
    const picks = kRandomMembers(
      relayFactor,
      members,
      (m) => m.status !== "alive" || m.vsn[1] < 5 || m.name === this.#name,
      this.#prng,
    );
    for (const m of picks) this.#ml.sendTo(m.addr, relay, now);
  }

  // serf handleQueryResponse: match by LTime, then ID; one per member.
  #handleQueryResponse(r: QueryResponseMessage): void {
    const q = this.#outstanding.get(r.ltime);
    if (q === undefined) {
      logger
        .warn`serf: reply for non-running query (LTime: ${r.ltime}, ID: ${r.id}) From: ${r.from}`;
      return bump(this.#dropped, "response-unknown-query");
    }
    const v = q.record(r);
    if (v === "mismatch") {
      logger
        .warn`serf: query reply ID mismatch (Local: ${q.id}, Response: ${r.id})`;
      return bump(this.#dropped, "response-id-mismatch");
    }
    if (v === "duplicate") return bump(this.#dropped, "response-duplicate");
    if (v === "overflow") {
      logger.warn`serf: Failed to deliver query response, dropping`;
      return bump(this.#dropped, "response-overflow");
    }
    const owner = q.owner;
    if (owner.kind === "user") {
      if (v === "ack") {
        this.#push({ type: "queryAck", queryId: q.queryId, from: r.from });
      } else {this.#push({
          type: "queryResponse",
          queryId: q.queryId,
          from: r.from,
          payload: r.payload,
        });}
    } else if (v === "response" && owner.kind === "key") {
      this.#keyResponse(owner.opId, r);
    } else if (
      v === "response" && owner.kind === "conflict" && this.#conflict !== null
    ) {
      const local = this.#ml.localMember().addr;
      const err = countConflictAnswer(this.#conflict, r.payload, local);
      if (err !== null) logger.error`serf: ${err}`;
    }
  }

  #closeQuery(ltime: number, now: number): void {
    const q = this.#outstanding.get(ltime);
    if (q === undefined) return;
    this.#outstanding.delete(ltime);
    const owner = q.owner;
    if (owner.kind === "user") {
      this.#push({
        type: "queryDone",
        queryId: q.queryId,
        acks: q.acks,
        responses: q.responses,
      });
    } else if (owner.kind === "key") {
      this.#finishKeyOp(owner.opId);
    } else this.#finishConflict(now);
  }

  // ------------------------------------------------------- internal queries

  // serf serfQueries.handleQuery: `_serf_` queries never reach the host.
  #handleInternalQuery(e: QueryEvent, now: number): void {
    const q = e.name.slice(INTERNAL_QUERY_PREFIX.length);
    if (q === "ping") return;
    if (q === "conflict") return this.#answerConflict(e, now);
    const action = keyActionOf(e.name);
    if (action === null) {
      logger.warn`serf: Unhandled internal query '${q}'`;
      return;
    }
    const out = handleKeyQuery(action, e.payload, this.#keyring);
    if (out.log.level === "info") logger.info`serf: ${out.log.text}`;
    else logger.error`serf: ${out.log.text}`;
    if (out.change !== null && this.#keyring !== null) {
      this.#push({
        type: "keyringChange",
        ...out.change,
        keys: this.#keyring.keys(),
      });
    }
    const p = this.#pending.get(e.id);
    if (p === undefined) return;
    const body = keyResponsePayload(
      out.response,
      { ltime: p.ltime, id: p.id, from: this.#name },
      this.#config.queryResponseSizeLimit,
      action === "list",
    );
    if (typeof body === "string") {
      logger.error`serf: ${body}`;
      return;
    }
    if (body.warning !== null) logger.warn`serf: ${body.warning}`;
    try {
      this.#respond(e.id, body.payload, now);
    } catch (err) {
      logger.error`serf: Failed to respond to key query: ${errorText(err)}`;
    }
  }

  // serf handleConflict: our view of the contested name (not about us).
  #answerConflict(e: QueryEvent, now: number): void {
    const node = utf8Decode(e.payload ?? EMPTY);
    if (node === this.#name) return;
    logger.debug`serf: Got conflict resolution query for '${node}'`;
    const m = this.#members.get(node);
    try {
      this.#respond(
        e.id,
        conflictAnswer(m === undefined ? undefined : this.#info(m)),
        now,
      );
    } catch (err) {
      logger.error`serf: Failed to respond to conflict query: ${
        errorText(err)
      }`;
    }
  }

  // serf handleNodeConflict (conflict_delegate.go).
  #handleNodeConflict(existing: Member, other: Member, now: number): void {
    if (existing.name !== this.#name) {
      logger.warn`serf: Name conflict for '${existing.name}' both ${
        addrText(existing.addr)
      } and ${addrText(other.addr)} are claiming`;
      this.#push({
        type: "conflict",
        name: existing.name,
        existing: existing.addr,
        other: other.addr,
        resolving: false,
      });
      return;
    }
    const enabled = this.#config.enableNameConflictResolution;
    logger.error`serf: Node name conflicts with another node at ${
      addrText(other.addr)
    }. Names must be unique! (Resolution enabled: ${enabled})`;
    // One vote at a time: Serf starts one per conflicting alive it hears.
    const resolving = enabled && this.#conflict === null &&
      this.#config.protocolVersion >= 4;
    this.#push({
      type: "conflict",
      name: existing.name,
      existing: existing.addr,
      other: other.addr,
      resolving,
    });
    if (!resolving) return;
    try {
      this.#startQuery(
        `${INTERNAL_QUERY_PREFIX}conflict`,
        utf8Encode(this.#name),
        {},
        { kind: "conflict" },
        now,
      );
      this.#conflict = { responses: 0, matching: 0 };
    } catch (e) {
      logger.error`serf: Failed to start name resolution query: ${
        errorText(e)
      }`;
    }
  }

  // serf resolveNodeConflict, at the query deadline: majority rule.
  #finishConflict(now: number): void {
    const tally = this.#conflict;
    this.#conflict = null;
    if (tally === null) return;
    const { survive } = conflictVerdict(tally);
    if (survive) {
      logger
        .info`serf: majority in name conflict resolution [${tally.matching} / ${tally.responses}]`;
      return;
    }
    logger
      .warn`serf: minority in name conflict resolution, quitting [${tally.matching} / ${tally.responses}]`;
    this.#shutdown(now, "nameConflict");
  }

  // ------------------------------------------------------------ key manager

  #keyOp(
    action: KeyAction,
    key: Uint8Array,
    options: { relayFactor?: number },
    now: number,
  ): number {
    const opId = ++this.#nextOpId;
    const op: KeyOp = {
      action,
      tally: new KeyOpTally(),
      numNodes: 0,
      done: false,
    };
    this.#keyOps.set(opId, op);
    try {
      if (this.#state === "shutdown") throw new Error("Serf is shut down");
      if (this.#config.protocolVersion < 4) {
        throw new Error("Feature not supported");
      }
      const payload = encodeKeyRequest({ key: key.slice() });
      this.#startQuery(
        KEY_QUERY_NAMES[action],
        payload,
        { relayFactor: options.relayFactor ?? 0 },
        { kind: "key", opId },
        now,
        opId,
      );
      op.numNodes = this.#ml.numMembers();
    } catch (e) {
      this.#finishKeyOp(opId, errorText(e));
    }
    this.#settle(now);
    return opId;
  }

  // serf streamKeyResp: count; done early once every alive member answered.
  #keyResponse(opId: number, r: QueryResponseMessage): void {
    const op = this.#keyOps.get(opId);
    if (op === undefined || op.done) return;
    const body = op.tally.add(r.from, r.payload);
    this.#push({
      type: "keyResponse",
      opId,
      from: r.from,
      result: body?.result ?? false,
      message: body?.message ?? op.tally.messages.get(r.from) ?? "",
      keys: body?.keys ?? [],
      primaryKey: body?.primaryKey ?? "",
    });
    if (op.tally.numResp === op.numNodes) this.#finishKeyOp(opId);
  }

  #finishKeyOp(opId: number, error: string | null = null): void {
    const op = this.#keyOps.get(opId);
    if (op === undefined) return;
    this.#keyOps.delete(opId);
    if (op.done) return;
    op.done = true;
    const t = op.tally;
    this.#push({
      type: "keyDone",
      opId,
      action: op.action,
      numNodes: op.numNodes,
      numResp: t.numResp,
      numErr: t.numErr,
      messages: new Map(t.messages),
      keys: new Map(t.keys),
      primaryKeys: new Map(t.primaryKeys),
      error: error ?? t.error(op.numNodes),
    });
  }

  // ---------------------------------------------------------- coordinates

  // serf pingDelegate.NotifyPingComplete (SPEC §8.10).
  #pingComplete(other: Member, rttMs: number, payload: Uint8Array): void {
    const client = this.#coord;
    if (client === null || payload.length === 0) return;
    let coord: Coordinate;
    try {
      coord = decodeCoordinatePayload(payload);
    } catch (e) {
      const reason = e instanceof DecodeError ? e.reason : "malformed";
      if (reason === "version") {
        logger.error`serf: Unsupported ping version: ${payload[0]}`;
      } else if (reason === "dimension") {
        logger
          .debug`serf: Rejected coordinate from ${other.name}: dimensions aren't compatible`;
        return bump(this.#dropped, "coordinate-rejected");
      } else {logger.error`serf: Failed to decode coordinate from ping: ${
          errorText(e)
        }`;}
      return this.#countDecode(e);
    }
    try {
      client.update(other.name, coord, rttMs);
    } catch (e) {
      if (!(e instanceof CoordinateRejected)) throw e;
      logger.debug`serf: Rejected coordinate from ${other.name}: ${e.message}`;
      return bump(this.#dropped, "coordinate-rejected");
    }
    // Cache the peer's coordinate and our own, which just moved.
    this.#coordCache.set(other.name, coord);
    this.#coordCache.set(this.#name, client.coordinate());
  }

  // ------------------------------------------------------------- lifecycle

  #restore(snap: SnapshotState): SnapshotRecorder {
    if (this.#coord !== null && snap.lastCoordinate !== null) {
      try {
        this.#coord.setCoordinate(snap.lastCoordinate);
      } catch (e) {
        logger.warn`serf: Failed to set coordinate: ${errorText(e)}`;
      }
    }
    // serf Create: refuse what the last run already delivered.
    this.#eventBuffer.minTime = snap.lastEventClock + 1;
    this.#queryBuffer.minTime = snap.lastQueryClock + 1;
    this.#clock.witness(snap.lastClock);
    this.#eventClock.witness(snap.lastEventClock);
    this.#queryClock.witness(snap.lastQueryClock);
    return new SnapshotRecorder(snap, {
      rejoinAfterLeave: this.#config.rejoinAfterLeave,
    });
  }

  #schedule(now: number): void {
    const c = this.#config;
    this.#deadlines.set("reap", now + c.reapIntervalMs);
    this.#deadlines.set("reconnect", now + c.reconnectIntervalMs);
    this.#deadlines.set("queueCheck", now + c.queueCheckIntervalMs);
    if (this.#snapshot !== null) {
      this.#deadlines.set("snapshotClock", now + SNAPSHOT_CLOCK_INTERVAL_MS);
      if (this.#coord !== null) {
        this.#deadlines.set(
          "snapshotCoordinate",
          now + SNAPSHOT_COORDINATE_INTERVAL_MS,
        );
      }
    }
  }

  #onDeadline(name: string, now: number): void {
    const colon = name.indexOf(":");
    const kind = colon < 0 ? name : name.slice(0, colon);
    const arg = colon < 0 ? "" : name.slice(colon + 1);
    const c = this.#config;
    switch (kind) {
      case "reap":
        this.#deadlines.set("reap", now + c.reapIntervalMs);
        return this.#reap(now);
      case "reconnect":
        this.#deadlines.set("reconnect", now + c.reconnectIntervalMs);
        return this.#reconnect(now);
      case "queueCheck":
        this.#deadlines.set("queueCheck", now + c.queueCheckIntervalMs);
        return this.#checkQueues();
      case "query":
        return this.#closeQuery(Number(arg), now);
      case "leaveIntent":
        return this.#leaveIntentTimeout();
      case "leavePropagate":
        return this.#finishLeave(null);
      case "forceLeave":
        return this.#finishForceLeave(
          Number(arg),
          "timed out broadcasting node removal",
        );
      case "prune":
        return this.#prune(arg, now);
      case "snapshotClock":
        this.#deadlines.set("snapshotClock", now + SNAPSHOT_CLOCK_INTERVAL_MS);
        return this.#snapshotText(
          this.#snapshot?.clock(this.#clock.time()) ?? "",
        );
      case "snapshotCoordinate":
        this.#deadlines.set(
          "snapshotCoordinate",
          now + SNAPSHOT_COORDINATE_INTERVAL_MS,
        );
        if (this.#coord !== null && this.#snapshot !== null) {
          this.#snapshotText(
            this.#snapshot.coordinate(this.#coord.coordinate()),
          );
        }
        return;
    }
  }

  // serf handleReap: failed past ReconnectTimeout, left past
  // TombstoneTimeout, intents past RecentIntentTimeout.
  #reap(now: number): void {
    const c = this.#config;
    const at = (n: string): number => this.#members.get(n)?.leftAtMs ?? now;
    const gone = [
      ...reapExpired(this.#failed, at, now, c.reconnectTimeoutMs),
      ...reapExpired(this.#left, at, now, c.tombstoneTimeoutMs),
    ];
    for (const name of gone) {
      const m = this.#members.get(name);
      if (m === undefined) continue;
      logger.info`serf: EventMemberReap: ${name}`;
      this.#eraseNode(m, now);
    }
    this.#intents.reap(now, c.recentIntentTimeoutMs);
    this.#expirePending(now);
  }

  // serf reconnect: probabilistically retry one failed member.
  #reconnect(now: number): void {
    const idx = reconnectPick({
      members: this.#members.size,
      failed: this.#failed.length,
      left: this.#left.length,
    }, this.#prng);
    if (idx === null) {
      if (this.#failed.length > 0) {
        logger.debug`serf: forgoing reconnect for random throttling`;
      }
      return;
    }
    const m = this.#members.get(this.#failed[idx]);
    if (m === undefined) return;
    logger.info`serf: attempting reconnect to ${m.name} ${addrText(m.addr)}`;
    this.#startJoin(
      [m.addr],
      { opId: -1, kind: "reconnect", ignoreOld: false },
      now,
    );
  }

  // serf checkQueueDepth (one deadline for the three queues).
  #checkQueues(): void {
    const c = this.#config;
    let max = c.maxQueueDepth;
    if (c.minQueueDepth > 0) {
      max = Math.max(2 * this.#members.size, c.minQueueDepth);
    }
    const queues: Array<[string, BroadcastQueue]> = [
      ["Intent", this.#broadcasts],
      ["Event", this.#eventBroadcasts],
      ["Query", this.#queryBroadcasts],
    ];
    for (const [name, q] of queues) {
      const n = q.length;
      if (n >= c.queueDepthWarning) {
        logger.warn`serf: ${name} queue depth: ${n}`;
      }
      if (n > max) {
        logger
          .warn`serf: ${name} queue depth (${n}) exceeds limit (${max}), dropping messages!`;
        q.prune(max);
      }
    }
  }

  #startJoin(seeds: Address[], op: JoinOp, now: number): void {
    if (op.ignoreOld) this.#joinIgnore++;
    const mlOp = this.#ml.join(seeds, now);
    this.#joins.set(mlOp, op);
  }

  // serf handleRejoin: previously known members, one at a time.
  #rejoinNext(now: number): void {
    while (this.#rejoin.length > 0) {
      const t = this.#rejoin.shift()!;
      logger
        .info`serf: Attempting re-join to previously known node: ${t.name}: ${t.text}`;
      if (t.addr === null) continue;
      this.#startJoin(
        [t.addr],
        { opId: -1, kind: "rejoin", ignoreOld: false },
        now,
      );
      return;
    }
    logger.warn`serf: Failed to re-join any previously known node`;
  }

  #onJoinDone(
    mlOpId: number,
    joined: number,
    errors: readonly string[],
    now: number,
  ): void {
    const op = this.#joins.get(mlOpId);
    if (op === undefined) return;
    this.#joins.delete(mlOpId);
    if (op.ignoreOld) this.#joinIgnore--;
    if (op.kind === "rejoin") {
      if (joined > 0) {
        logger.info`serf: Re-joined to previously known node`;
        this.#rejoin = [];
      } else if (this.#state !== "shutdown") this.#rejoinNext(now);
      return;
    }
    if (op.kind === "reconnect") return;
    if (joined > 0 && this.#state !== "shutdown") {
      this.#broadcastJoin(this.#clock.time(), now);
    }
    this.#push({
      type: "joinDone",
      opId: op.opId,
      joined,
      errors,
      error: joined > 0
        ? null
        : errors.length > 0
        ? errors.join("\n")
        : "Failed to join: no seeds given",
    });
  }

  #leaveMemberlist(now: number): void {
    const op = this.#leaveOp;
    if (op === null) return;
    this.#deadlines.clear("leaveIntent");
    op.phase = "memberlist";
    op.mlOpId = this.#ml.leave(this.#config.broadcastTimeoutMs, now);
  }

  #leaveIntentTimeout(): void {
    if (this.#leaveOp?.phase !== "intent") return;
    this.#finishLeave("timeout while waiting for graceful leave");
  }

  #onLeaveDone(mlOpId: number, timedOut: boolean, now: number): void {
    const op = this.#leaveOp;
    if (op === null || op.mlOpId !== mlOpId) return;
    if (timedOut) {
      return this.#finishLeave("timeout waiting for leave broadcast");
    }
    // Stay up long enough to answer probes while the news spreads.
    op.phase = "propagate";
    const delay = this.#config.leavePropagateDelayMs;
    if (delay === 0) this.#finishLeave(null);
    else this.#deadlines.set("leavePropagate", now + delay);
  }

  #finishLeave(error: string | null): void {
    const op = this.#leaveOp;
    if (op === null) return;
    this.#leaveOp = null;
    this.#deadlines.clear("leaveIntent");
    this.#deadlines.clear("leavePropagate");
    if (error === null && this.#state === "leaving") this.#state = "left";
    this.#push({ type: "leaveDone", opId: op.opId, error });
  }

  #finishForceLeave(opId: number, error: string | null): void {
    if (!this.#forceLeaves.delete(opId)) return;
    this.#deadlines.clear(`forceLeave:${opId}`);
    this.#push({ type: "forceLeaveDone", opId, error });
  }

  #shutdown(now: number, reason: "requested" | "nameConflict"): void {
    if (this.#state === "shutdown") return;
    if (this.#state !== "left") logger.warn`serf: Shutdown without a Leave`;
    this.#state = "shutdown";
    this.#ml.shutdown(now);
    this.#settle(now);
    this.#finishLeave("Serf is shut down");
    for (const opId of [...this.#forceLeaves.keys()]) {
      this.#finishForceLeave(opId, "Serf is shut down");
    }
    for (const ltime of [...this.#outstanding.keys()]) {
      this.#closeQuery(ltime, now);
    }
    this.#deadlines.clearAll();
    for (const e of this.#memberCoalescer?.flush() ?? []) this.#push(e);
    for (const e of this.#userCoalescer?.flush() ?? []) this.#push(e);
    this.#push({ type: "shutdown", reason });
  }

  // After every call into Memberlist: take its completions, and finish the
  // leave and force-leave steps whose broadcasts went out meanwhile.
  #settle(now: number): void {
    for (
      let e = this.#ml.pollEvent();
      e !== undefined;
      e = this.#ml.pollEvent()
    ) {
      if (e.type === "joinDone") {
        this.#onJoinDone(e.opId, e.joined, e.errors, now);
      } else if (e.type === "leaveDone") {
        this.#onLeaveDone(e.opId, e.timedOut, now);
      }
    }
    if (this.#isShutdown()) return;
    // New intents, events or queries: tell memberlist, which gossips them
    // at once (eager gossip) and re-arms its idle gossip timer.
    const queued = this.#broadcasts.queuedTotal +
      this.#queryBroadcasts.queuedTotal + this.#eventBroadcasts.queuedTotal;
    if (queued !== this.#broadcastsSeen) {
      this.#broadcastsSeen = queued;
      this.#ml.delegateBroadcastQueued(now);
    }
    const op = this.#leaveOp;
    if (op !== null && op.phase === "intent" && op.intentSent) {
      this.#leaveMemberlist(now);
      for (
        let e = this.#ml.pollEvent();
        e !== undefined;
        e = this.#ml.pollEvent()
      ) {
        if (e.type === "leaveDone") this.#onLeaveDone(e.opId, e.timedOut, now);
      }
    }
    for (const [opId, sent] of this.#forceLeaves) {
      if (sent) this.#finishForceLeave(opId, null);
    }
  }

  // ---------------------------------------------------------------- output

  // serf's event pipeline: snapshotter → internal queries → user
  // coalescer → member coalescer → the host.
  #emit(e: MemberEvent | UserEvent | QueryEvent, now: number): void {
    const snap = this.#snapshot;
    if (snap !== null) {
      if (e.type === "user") this.#snapshotText(snap.userEvent(e.ltime));
      else if (e.type === "query") this.#snapshotText(snap.query(e.ltime));
      else this.#snapshotText(snap.memberEvent(e, this.#clock.time()));
    }
    if (e.type === "query") {
      if (e.name.startsWith(INTERNAL_QUERY_PREFIX)) {
        return this.#handleInternalQuery(e, now);
      }
      return this.#push(e);
    }
    if (e.type === "user") {
      if (this.#userCoalescer?.offer(e, now)) return;
    } else if (this.#memberCoalescer?.offer(e, now)) return;
    this.#push(e);
  }

  #snapshotText(text: string): void {
    if (text !== "") this.#push({ type: "snapshot", text, compact: false });
    const compacted = this.#snapshot?.compactIfNeeded() ?? null;
    if (compacted !== null) {
      this.#push({ type: "snapshot", text: compacted, compact: true });
    }
  }

  #push(e: SerfEvent): void {
    if (this.#events.length >= MAX_QUEUED_EVENTS) {
      return bump(this.#dropped, "event-overflow");
    }
    this.#events.push(e);
  }

  #countDecode(e: unknown): void {
    bump(this.#decodeErrors, e instanceof DecodeError ? e.reason : "malformed");
  }
}
