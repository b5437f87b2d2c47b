/**
 * The simulated world machines live in: a seeded, virtual-time network with
 * a best-effort packet plane and a reliable stream plane, plus the faults of
 * ARCHITECTURE principle 7 — latency and jitter (so reordering), loss,
 * duplication, one-way drops, partitions and heal, crash and restart, and
 * pauses that model a SIGSTOPped (CPU-starved) process.
 *
 * The network is the only host of its machines: it hands them inputs with
 * the virtual time, drains their transmits and events after every call
 * (ARCHITECTURE principle 4, the driver's loop without sockets), and keeps
 * one re-armable wake per machine at its `nextDeadline()`.
 *
 * Semantics chosen to match a real host (each one is what a socket does):
 * - Packets are checked against partitions and one-way drops when sent and
 *   when they arrive; loss and duplication are drawn once, at send time.
 *   Packets already on the wire when their sender crashes still arrive;
 *   packets that reach a crashed node are lost.
 * - Streams (TCP) never lose or reorder bytes. A dial takes three one-way
 *   delays (handshake + first message), the reply one more; on a lossy link
 *   each lost segment adds a retransmission timeout (1 s for SYNs, 200 ms
 *   otherwise, doubling), so streams get slow, never lossy. A stream across
 *   a partition or one-way drop (TCP needs both directions) hangs until the
 *   dialer's deadline, then fails with "i/o timeout"; a dial to a crashed
 *   process is refused one round trip later; a crash of the acceptor before
 *   it answered resets the stream. A `reply` of `null` to a dial that
 *   expected an answer fails it with an EOF error. A dial with
 *   `expectReply: false` is answered with an empty message once the
 *   acceptor has read it (the write completed).
 * - A paused node runs nothing: arriving packets queue in a bounded socket
 *   buffer (drops past it, like a full kernel buffer), stream inputs queue
 *   (TCP keeps them), and its timers do not fire. At resume its overdue
 *   timers fire late and the queued inputs are delivered in arrival order,
 *   all at the resume time (timers first by default, the harsher order for
 *   the resumed node: its probes time out before it sees the acks).
 *
 * Bounds: scheduled items ({@linkcode SimNetworkOptions.maxScheduled}: new
 * packets are dropped and counted past it; any other item throws, since it
 * means the simulation itself runs away), open streams (new dials fail at
 * once), the paused-node queue, and packet size (an oversized packet is
 * dropped and reported as an anomaly, as the kernel would refuse it).
 *
 * @module
 */

import type { Address, Machine, Transmit } from "../machine.ts";
import { derivePrng, type Prng } from "./prng.ts";
import { SimClock } from "./sim_clock.ts";
import type { TraceRecorder } from "./trace.ts";

/** Whether a node runs, is stopped, or is gone. */
export type NodeStatus = "up" | "paused" | "crashed";

/** Which runs first when a paused node resumes. */
export type ResumeOrder = "timersFirst" | "inputsFirst";

/** Delay and loss of one direction of a link. */
export interface LinkProfile {
  /** Base one-way delay (ms). */
  latencyMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs] per packet (ms). */
  jitterMs: number;
  /** Probability that a packet is lost. */
  lossRate: number;
  /** Probability that a packet is delivered twice. */
  duplicateRate: number;
}

/** Hooks the network calls (the cluster plugs checkers and traces in). */
export interface NetworkHooks<E> {
  /** A machine emitted an event. */
  onEvent?(node: number, event: E, nowMs: number): void;
  /** A call into a machine returned and its outputs were drained. */
  afterCall?(node: number, nowMs: number): void;
  /** Something the network refused that a correct machine never sends. */
  onAnomaly?(node: number, text: string, nowMs: number): void;
}

/** Options of a {@linkcode SimNetwork}. */
export interface SimNetworkOptions<E> {
  /** Master seed; the network draws from its own stream ("net"). */
  seed: number;
  /** Default link: base one-way delay (ms, default 1). */
  latencyMs?: number;
  /** Default link: jitter (ms, default 2). */
  jitterMs?: number;
  /** Default link: loss probability (default 0). */
  lossRate?: number;
  /** Default link: duplication probability (default 0). */
  duplicateRate?: number;
  /** Packets a paused node's socket buffer holds (default 512). */
  pauseBufferPackets?: number;
  /** All inputs a paused node queues, streams included (default 8192). */
  pauseBufferInputs?: number;
  /** Order at resume (default "timersFirst"). */
  resumeOrder?: ResumeOrder;
  /** Bound of scheduled items (default 4,000,000). */
  maxScheduled?: number;
  /** Bound of open streams (default 65,536). */
  maxStreams?: number;
  /** Largest packet accepted (default 65,507, the UDP maximum). */
  maxPacketBytes?: number;
  /** Start of virtual time (ms, default 0). */
  startMs?: number;
  /** Trace to record into, if any. */
  trace?: TraceRecorder;
  /**
   * Summarize a delivered packet for the trace ("alive b#2, suspect c#1"),
   * e.g. by decoding it; off by default since it costs a second decode.
   */
  describePacket?: (bytes: Uint8Array) => string;
  /** Hooks. */
  hooks?: NetworkHooks<E>;
}

/** Counters of a {@linkcode SimNetwork}. */
export interface SimNetworkStats {
  /** Packets handed to the network. */
  packetsSent: number;
  /** Packets handed to a machine. */
  packetsDelivered: number;
  /** Extra copies created by duplication. */
  packetsDuplicated: number;
  /** Packets dropped, by reason (loss, partition, down, buffer, …). */
  dropped: Map<string, number>;
  /** Dials handed to the network. */
  streamsOpened: number;
  /** Dials that ended in an Error. */
  streamsFailed: number;
  /** Timer wake-ups handed to machines. */
  timers: number;
  /** Inputs of every kind handed to machines (the step count). */
  steps: number;
  /** Largest number of items scheduled at once. */
  maxScheduledSeen: number;
}

/** A read-only view of one node. */
export interface SimNodeInfo<M> {
  /** Index in the network (stable for the node's lifetime). */
  readonly index: number;
  /** Name, for traces. */
  readonly name: string;
  /** Its address. */
  readonly addr: Address;
  /** Up, paused or crashed. */
  readonly status: NodeStatus;
  /** Instance number: 0 at first, +1 per restart. */
  readonly instance: number;
  /** The running machine (also while paused), null once crashed. */
  readonly machine: M | null;
  /** Inputs waiting in the paused node's queue. */
  readonly queued: number;
}

interface Stream {
  readonly id: number;
  readonly dialer: number;
  readonly dialerInstance: number;
  readonly acceptor: number;
  readonly streamId: number;
  readonly bytes: Uint8Array;
  readonly expectReply: boolean;
  acceptorInstance: number;
  opened: boolean;
  replied: boolean;
  settled: boolean;
}

const PACKET = 0;
const STREAM_OPEN = 1;
const STREAM_REPLY = 2;
const STREAM_DEADLINE = 3;
const WAKE = 4;
const ACTION = 5;
const CALL = 6;

type NetEvent<M> =
  | {
    readonly k: 0;
    readonly to: number;
    readonly from: number;
    readonly bytes: Uint8Array;
  }
  | { readonly k: 1; readonly s: Stream }
  | { readonly k: 2; readonly s: Stream; readonly result: Uint8Array | Error }
  | { readonly k: 3; readonly s: Stream }
  | { readonly k: 4; readonly node: number; readonly at: number }
  | { readonly k: 5; readonly fn: () => void }
  | {
    readonly k: 6;
    readonly node: number;
    readonly fn: (machine: M, nowMs: number) => void;
  };

interface Node<M> {
  readonly index: number;
  readonly name: string;
  readonly addr: Address;
  readonly key: string;
  machine: M | null;
  instance: number;
  status: NodeStatus;
  wakeAt: number;
  inbox: NetEvent<M>[];
  inboxPackets: number;
  lastFaultEndMs: number;
  linkFaults: number;
}

const NO_WAKE = Number.POSITIVE_INFINITY;
// Linux's initial SYN retransmission timeout and minimum data RTO.
const SYN_RTO_MS = 1_000;
const DATA_RTO_MS = 200;
// Retransmissions modelled per segment (Linux tcp_syn_retries is 6); past
// them the segment is taken as delivered and the dialer's deadline decides.
const TCP_RETRIES = 6;

function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

/**
 * A seeded network of machines in virtual time.
 *
 * @example
 * ```ts
 * const net = new SimNetwork<MyEvent>({ seed: 1, lossRate: 0.1 });
 * const a = net.addNode("a", { host: "10.0.0.1", port: 7946 }, machineA);
 * net.runFor(10_000);
 * ```
 */
export class SimNetwork<E, M extends Machine<E> = Machine<E>> {
  readonly #clock: SimClock<NetEvent<M>>;
  readonly #prng: Prng;
  readonly #nodes: Node<M>[] = [];
  readonly #byKey = new Map<string, number>();
  readonly #streams = new Map<number, Stream>();
  #nextStreamId = 1;
  readonly #default: LinkProfile;
  readonly #links = new Map<number, LinkProfile>();
  readonly #blocked = new Set<number>();
  #groups: number[] | null = null;
  #restGroup = 0;
  readonly #pauseBufferPackets: number;
  readonly #pauseBufferInputs: number;
  readonly #resumeOrder: ResumeOrder;
  readonly #maxStreams: number;
  readonly #maxPacketBytes: number;
  readonly #trace: TraceRecorder | null;
  readonly #describePacket: ((bytes: Uint8Array) => string) | null;
  readonly #hooks: NetworkHooks<E>;
  readonly #stats: SimNetworkStats = {
    packetsSent: 0,
    packetsDelivered: 0,
    packetsDuplicated: 0,
    dropped: new Map(),
    streamsOpened: 0,
    streamsFailed: 0,
    timers: 0,
    steps: 0,
    maxScheduledSeen: 0,
  };

  /**
   * An empty network at the start time.
   *
   * @param options seed, default link, bounds, trace and hooks
   */
  constructor(options: SimNetworkOptions<E>) {
    this.#clock = new SimClock({
      startMs: options.startMs ?? 0,
      maxScheduled: options.maxScheduled,
    });
    this.#prng = derivePrng(options.seed, "net");
    this.#default = {
      latencyMs: options.latencyMs ?? 1,
      jitterMs: options.jitterMs ?? 2,
      lossRate: options.lossRate ?? 0,
      duplicateRate: options.duplicateRate ?? 0,
    };
    checkProfile(this.#default);
    this.#pauseBufferPackets = options.pauseBufferPackets ?? 512;
    this.#pauseBufferInputs = options.pauseBufferInputs ?? 8192;
    this.#resumeOrder = options.resumeOrder ?? "timersFirst";
    this.#maxStreams = options.maxStreams ?? 65_536;
    this.#maxPacketBytes = options.maxPacketBytes ?? 65_507;
    this.#trace = options.trace ?? null;
    this.#describePacket = options.describePacket ?? null;
    this.#hooks = options.hooks ?? {};
  }

  /** Current virtual time (ms). */
  get nowMs(): number {
    return this.#clock.nowMs;
  }

  /** Number of nodes ever added. */
  get size(): number {
    return this.#nodes.length;
  }

  /** Items scheduled right now (packets in flight, timers, actions). */
  get scheduled(): number {
    return this.#clock.size;
  }

  /** Streams open right now. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /**
   * The counters so far.
   *
   * @returns a snapshot
   */
  stats(): SimNetworkStats {
    return { ...this.#stats, dropped: new Map(this.#stats.dropped) };
  }

  // ------------------------------------------------------------------ nodes

  /**
   * Add a node running `machine` at `addr`, and arm its timer.
   *
   * @param name name for traces
   * @param addr its (unique) address
   * @param machine the machine, already constructed at the current time
   * @returns the node's index
   */
  addNode(name: string, addr: Address, machine: M): number {
    const key = addressKey(addr);
    if (this.#byKey.has(key)) {
      throw new RangeError(`Invalid node address: ${key} is taken`);
    }
    const index = this.#nodes.length;
    this.#nodes.push({
      index,
      name,
      addr: Object.freeze({ host: addr.host, port: addr.port }),
      key,
      machine,
      instance: 0,
      status: "up",
      wakeAt: NO_WAKE,
      inbox: [],
      inboxPackets: 0,
      lastFaultEndMs: Number.NEGATIVE_INFINITY,
      linkFaults: 0,
    });
    this.#byKey.set(key, index);
    this.#settle(this.#nodes[index]);
    return index;
  }

  /**
   * A read-only view of a node.
   *
   * @param index node index
   * @returns the view
   */
  node(index: number): SimNodeInfo<M> {
    const n = this.#node(index);
    return {
      index: n.index,
      name: n.name,
      addr: n.addr,
      status: n.status,
      instance: n.instance,
      machine: n.machine,
      queued: n.inbox.length,
    };
  }

  /**
   * The node at an address.
   *
   * @param addr the address
   * @returns its index, or undefined
   */
  indexOf(addr: Address): number | undefined {
    return this.#byKey.get(addressKey(addr));
  }

  /**
   * Status of a node.
   *
   * @param index node index
   * @returns up, paused or crashed
   */
  status(index: number): NodeStatus {
    return this.#node(index).status;
  }

  /**
   * Call into a node's machine from outside (join, leave, a meta update),
   * then drain and re-arm it. A paused node runs the call at resume, in
   * order with its other queued inputs.
   *
   * @param index node index
   * @param fn the call
   * @throws {RangeError} when the node is crashed
   */
  invoke(index: number, fn: (machine: M, nowMs: number) => void): void {
    const n = this.#node(index);
    if (n.status === "crashed" || n.machine === null) {
      throw new RangeError(`Cannot call ${n.name}: it is crashed`);
    }
    const ev: NetEvent<M> = { k: CALL, node: index, fn };
    if (n.status === "paused") {
      this.#enqueue(n, ev);
      return;
    }
    this.#deliver(n, ev);
  }

  // ----------------------------------------------------------------- faults

  /**
   * Crash a node: its machine is dropped with its timers, queued inputs and
   * open streams (peers waiting on it see a reset).
   *
   * @param index node index
   */
  crash(index: number): void {
    const n = this.#node(index);
    if (n.status === "crashed") return;
    this.#traceFault(n, "crash");
    n.status = "crashed";
    n.machine = null;
    n.wakeAt = NO_WAKE;
    n.inbox = [];
    n.inboxPackets = 0;
    for (const s of this.#streams.values()) {
      if (s.settled) continue;
      if (s.dialer === index) {
        s.settled = true;
        this.#streams.delete(s.id);
      } else if (s.acceptor === index && s.opened && !s.replied) {
        s.replied = true;
        this.#scheduleReply(s, new Error("connection reset by peer"));
      }
    }
  }

  /**
   * Restart a crashed node with a new machine instance at the same address.
   *
   * @param index node index
   * @param machine the new machine, constructed at the current time
   */
  restart(index: number, machine: M): void {
    const n = this.#node(index);
    if (n.status !== "crashed") {
      throw new RangeError(`Cannot restart ${n.name}: it is ${n.status}`);
    }
    n.instance++;
    n.machine = machine;
    n.status = "up";
    n.lastFaultEndMs = this.nowMs;
    this.#traceFault(n, `restart#${n.instance}`);
    this.#settle(n);
  }

  /**
   * Stop a node like SIGSTOP: nothing runs until {@linkcode resume}.
   *
   * @param index node index
   */
  pause(index: number): void {
    const n = this.#node(index);
    if (n.status !== "up") return;
    this.#traceFault(n, "pause");
    n.status = "paused";
  }

  /**
   * Resume a paused node: overdue timers fire late and queued inputs are
   * delivered, in the configured order, at the current time.
   *
   * @param index node index
   */
  resume(index: number): void {
    const n = this.#node(index);
    if (n.status !== "paused") return;
    n.status = "up";
    n.lastFaultEndMs = this.nowMs;
    this.#traceFault(n, `resume(${n.inbox.length} queued)`);
    const inbox = n.inbox;
    n.inbox = [];
    n.inboxPackets = 0;
    if (this.#resumeOrder === "timersFirst") this.#fireTimers(n);
    for (const ev of inbox) {
      // A queued input may have been settled meanwhile (a stream whose
      // reply and deadline both queued), or the node paused/crashed again
      // by a hook: re-check like a fresh arrival.
      if (n.status !== "up") {
        if (n.status === "paused") this.#enqueue(n, ev);
        continue;
      }
      this.#deliver(n, ev);
    }
    if (n.status === "up") {
      if (this.#resumeOrder === "inputsFirst") this.#fireTimers(n);
      this.#arm(n);
    }
  }

  /**
   * Split the network: nodes in different groups cannot exchange packets
   * or streams. Nodes listed in no group form one more group together.
   * Replaces any earlier partition.
   *
   * @param groups lists of node indices
   */
  partition(groups: readonly (readonly number[])[]): void {
    const g = new Array<number>(this.#nodes.length).fill(groups.length);
    groups.forEach((members, gi) => {
      for (const i of members) {
        this.#node(i);
        g[i] = gi;
      }
    });
    this.#groups = g;
    this.#restGroup = groups.length;
    this.#traceFault(
      null,
      `partition ${groups.map((x) => x.join(",")).join(" | ")}`,
    );
  }

  /** Remove the partition. */
  heal(): void {
    if (this.#groups === null) return;
    this.#groups = null;
    const now = this.nowMs;
    for (const n of this.#nodes) n.lastFaultEndMs = now;
    this.#traceFault(null, "heal");
  }

  /** Whether a partition is in force. */
  get partitioned(): boolean {
    return this.#groups !== null;
  }

  /**
   * Drop everything from `from` to `to` (one direction only), or stop
   * dropping it.
   *
   * @param from sender index
   * @param to receiver index
   * @param blocked true to drop, false to restore
   */
  block(from: number, to: number, blocked: boolean = true): void {
    const key = linkKey(this.#node(from).index, this.#node(to).index);
    if (this.#blocked.has(key) === blocked) return;
    if (blocked) this.#blocked.add(key);
    else this.#blocked.delete(key);
    this.#linkFault(from, to, blocked);
    this.#traceFault(null, `${blocked ? "block" : "unblock"} ${from}->${to}`);
  }

  /**
   * Override the profile of one direction of a link (merged over the
   * default), or with `null` remove the override.
   *
   * @param from sender index
   * @param to receiver index
   * @param profile fields to override, or null
   */
  setLink(
    from: number,
    to: number,
    profile: Partial<LinkProfile> | null,
  ): void {
    const key = linkKey(this.#node(from).index, this.#node(to).index);
    const had = this.#links.has(key);
    if (profile === null) {
      if (had) {
        this.#links.delete(key);
        this.#linkFault(from, to, false);
      }
      return;
    }
    const p = { ...this.#default, ...profile };
    checkProfile(p);
    this.#links.set(key, p);
    if (!had) this.#linkFault(from, to, true);
  }

  /**
   * Change the default link profile (every link without an override).
   *
   * @param profile fields to change
   */
  setDefaultLink(profile: Partial<LinkProfile>): void {
    const p = { ...this.#default, ...profile };
    checkProfile(p);
    Object.assign(this.#default, p);
    this.#traceFault(null, `link ${JSON.stringify(p)}`);
  }

  /**
   * The default link profile.
   *
   * @returns a copy
   */
  defaultLink(): LinkProfile {
    return { ...this.#default };
  }

  /**
   * Whether a packet from `from` would get to `to` now, apart from random
   * loss (partitions and one-way drops only).
   *
   * @param from sender index
   * @param to receiver index
   * @returns true when not cut
   */
  reachable(from: number, to: number): boolean {
    const g = this.#groups;
    // Nodes added after the partition belong to the "unlisted" group.
    if (
      g !== null && (g[from] ?? this.#restGroup) !== (g[to] ?? this.#restGroup)
    ) {
      return false;
    }
    return this.#blocked.size === 0 || !this.#blocked.has(linkKey(from, to));
  }

  /**
   * Whether a node had a fault — crashed, paused, restarted, inside a
   * partition, or on a blocked/degraded link — at any time since `sinceMs`
   * (checkers use it to tell a justified death from a false positive).
   *
   * @param index node index
   * @param sinceMs start of the window
   * @returns true when it had one
   */
  faultySince(index: number, sinceMs: number): boolean {
    const n = this.#node(index);
    return n.status !== "up" || this.#groups !== null || n.linkFaults > 0 ||
      n.lastFaultEndMs >= sinceMs;
  }

  // -------------------------------------------------------------- schedule

  /**
   * Run `fn` at virtual time `atMs` (in order with everything else due then).
   *
   * @param atMs when
   * @param fn what
   */
  at(atMs: number, fn: () => void): void {
    this.#schedule(atMs, { k: ACTION, fn });
  }

  /**
   * Handle the next scheduled item, advancing the clock to it.
   *
   * @param untilMs only if it is due by then (default: any)
   * @returns false when nothing was due
   */
  step(untilMs: number = Infinity): boolean {
    const ev = this.#clock.pop(untilMs);
    if (ev === undefined) return false;
    this.#handle(ev);
    return true;
  }

  /**
   * Run everything due up to `untilMs`, then set the clock there.
   *
   * @param untilMs end time
   */
  runUntil(untilMs: number): void {
    while (this.step(untilMs));
    this.#clock.advanceTo(untilMs);
  }

  /**
   * Run for `ms` of virtual time.
   *
   * @param ms duration
   */
  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  // ------------------------------------------------------------ internals

  #node(index: number): Node<M> {
    const n = this.#nodes[index];
    if (n === undefined) throw new RangeError(`Invalid node index: ${index}`);
    return n;
  }

  #schedule(atMs: number, ev: NetEvent<M>): boolean {
    if (!this.#clock.schedule(atMs, ev)) {
      if (ev.k === PACKET) return false;
      throw new RangeError(
        `Simulation overloaded: ${this.#clock.capacity} items scheduled`,
      );
    }
    if (this.#clock.size > this.#stats.maxScheduledSeen) {
      this.#stats.maxScheduledSeen = this.#clock.size;
    }
    return true;
  }

  #handle(ev: NetEvent<M>): void {
    switch (ev.k) {
      case PACKET:
        return this.#arrivePacket(ev);
      case STREAM_OPEN:
        return this.#arriveOpen(ev);
      case STREAM_REPLY:
      case STREAM_DEADLINE:
        return this.#arriveAtDialer(ev);
      case WAKE: {
        const n = this.#nodes[ev.node];
        if (n.wakeAt !== ev.at) return; // superseded by an earlier wake
        n.wakeAt = NO_WAKE;
        if (n.status !== "up") return; // a paused node's timers fire at resume
        this.#fireTimers(n);
        this.#arm(n);
        return;
      }
      case ACTION:
        return ev.fn();
      case CALL:
        return; // never scheduled, only queued
    }
  }

  #arrivePacket(ev: Extract<NetEvent<M>, { k: 0 }>): void {
    const n = this.#nodes[ev.to];
    if (!this.reachable(ev.from, ev.to)) return this.#drop("partition", ev);
    if (n.status === "crashed") return this.#drop("down", ev);
    if (n.status === "paused") return this.#enqueue(n, ev);
    this.#deliver(n, ev);
  }

  #arriveOpen(ev: Extract<NetEvent<M>, { k: 1 }>): void {
    const s = ev.s;
    if (s.settled) return;
    // TCP needs both directions; a cut link leaves the dial hanging until
    // the dialer's deadline.
    if (
      !this.reachable(s.dialer, s.acceptor) ||
      !this.reachable(s.acceptor, s.dialer)
    ) return;
    const n = this.#nodes[s.acceptor];
    if (n.status === "crashed") {
      s.replied = true;
      return this.#scheduleReply(s, new Error("connection refused"));
    }
    if (n.status === "paused") return this.#enqueue(n, ev);
    this.#deliver(n, ev);
  }

  #arriveAtDialer(ev: Extract<NetEvent<M>, { k: 2 | 3 }>): void {
    const s = ev.s;
    if (s.settled) return;
    const n = this.#nodes[s.dialer];
    if (n.status === "crashed" || n.instance !== s.dialerInstance) {
      s.settled = true;
      this.#streams.delete(s.id);
      return;
    }
    if (ev.k === STREAM_REPLY && !(ev.result instanceof Error)) {
      // Bytes in flight across a cut are retransmitted by TCP until the
      // deadline; modelled as lost, the deadline then fails the stream.
      if (!this.reachable(s.acceptor, s.dialer)) return;
    }
    if (n.status === "paused") return this.#enqueue(n, ev);
    this.#deliver(n, ev);
  }

  #enqueue(n: Node<M>, ev: NetEvent<M>): void {
    if (ev.k === PACKET) {
      if (n.inboxPackets >= this.#pauseBufferPackets) {
        return this.#drop("buffer", ev);
      }
      n.inboxPackets++;
    }
    if (n.inbox.length >= this.#pauseBufferInputs) {
      if (ev.k === PACKET) return this.#drop("buffer", ev);
      throw new RangeError(
        `Simulation overloaded: ${n.name} queued ${n.inbox.length} inputs while paused`,
      );
    }
    n.inbox.push(ev);
  }

  // Hand one input to a running machine, then drain it and re-arm.
  #deliver(n: Node<M>, ev: NetEvent<M>): void {
    const m = n.machine as M;
    const now = this.nowMs;
    const trace = this.#trace;
    this.#stats.steps++;
    switch (ev.k) {
      case PACKET:
        this.#stats.packetsDelivered++;
        trace?.record(
          now,
          "packet",
          n.index,
          ev.from,
          ev.bytes,
          this.#describePacket?.(ev.bytes) ?? null,
        );
        m.handlePacket(ev.bytes, this.#nodes[ev.from].addr, now);
        break;
      case STREAM_OPEN: {
        // Delivered even if the dialer gave up meanwhile: the kernel had
        // accepted the connection and buffered the message, so the resumed
        // acceptor reads and handles it; only its answer is lost.
        const s = ev.s;
        s.opened = true;
        s.acceptorInstance = n.instance;
        trace?.record(now, "stream", n.index, s.dialer, s.bytes);
        if (!s.expectReply) {
          // One-way message: the write is complete once read.
          s.replied = true;
          this.#scheduleReply(s, new Uint8Array(0));
        }
        m.handleStream(s.id, s.bytes, this.#nodes[s.dialer].addr, now);
        break;
      }
      case STREAM_REPLY:
      case STREAM_DEADLINE: {
        const s = ev.s;
        if (s.settled) return;
        s.settled = true;
        this.#streams.delete(s.id);
        const result = ev.k === STREAM_DEADLINE
          ? new Error("i/o timeout (deadline reached)")
          : ev.result;
        if (result instanceof Error) {
          this.#stats.streamsFailed++;
          trace?.record(
            now,
            "streamError",
            n.index,
            s.acceptor,
            null,
            result.message,
          );
        } else {
          trace?.record(now, "reply", n.index, s.acceptor, result);
        }
        m.handleStreamReply(s.streamId, result, now);
        break;
      }
      case CALL:
        trace?.record(now, "note", n.index, -1, null, "call");
        ev.fn(m, now);
        break;
      default:
        return;
    }
    this.#drain(n);
    this.#arm(n);
  }

  #fireTimers(n: Node<M>): void {
    const m = n.machine as M;
    const now = this.nowMs;
    const d = m.nextDeadline();
    if (d === null || d > now) return;
    this.#stats.timers++;
    this.#stats.steps++;
    this.#trace?.record(now, "timer", n.index, -1);
    m.handleTimeout(now);
    this.#drain(n);
  }

  // Drain outputs and re-arm, after a call made outside #deliver.
  #settle(n: Node<M>): void {
    this.#drain(n);
    this.#arm(n);
  }

  #arm(n: Node<M>): void {
    if (n.status !== "up" || n.machine === null) return;
    const d = n.machine.nextDeadline();
    if (d === null || d >= n.wakeAt) return;
    n.wakeAt = d;
    this.#schedule(d, { k: WAKE, node: n.index, at: d });
  }

  #drain(n: Node<M>): void {
    const m = n.machine as M;
    for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) {
      this.#route(n, t);
    }
    const onEvent = this.#hooks.onEvent;
    for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) {
      onEvent?.(n.index, e, this.nowMs);
    }
    this.#hooks.afterCall?.(n.index, this.nowMs);
  }

  #route(n: Node<M>, t: Transmit): void {
    switch (t.kind) {
      case "packet":
        return this.#sendPacket(n, t.to, t.bytes);
      case "dial":
        return this.#dial(n, t.to, t);
      case "reply":
        return this.#reply(n, t.inboundId, t.bytes);
    }
  }

  #profile(from: number, to: number): LinkProfile {
    if (this.#links.size === 0) return this.#default;
    return this.#links.get(linkKey(from, to)) ?? this.#default;
  }

  #delay(p: LinkProfile): number {
    return p.latencyMs + (p.jitterMs > 0 ? this.#prng.int(p.jitterMs + 1) : 0);
  }

  // One TCP segment's delivery time: lost segments are retransmitted after
  // an exponentially backed-off timeout (Linux: 1 s for SYNs, 200 ms
  // minimum otherwise), so streams never lose data but get slow on lossy
  // links — a TCP fallback ping then misses its deadline as it would.
  #tcpLeg(p: LinkProfile, rtoMs: number): number {
    let ms = this.#delay(p);
    for (let i = 0; i < TCP_RETRIES && this.#prng.chance(p.lossRate); i++) {
      ms += rtoMs;
      rtoMs *= 2;
    }
    return ms;
  }

  #sendPacket(n: Node<M>, to: Address, bytes: Uint8Array): void {
    const now = this.nowMs;
    this.#stats.packetsSent++;
    if (bytes.length > this.#maxPacketBytes) {
      this.#hooks.onAnomaly?.(
        n.index,
        `packet of ${bytes.length} bytes exceeds ${this.#maxPacketBytes}`,
        now,
      );
      return this.#dropCount("oversize", n.index, -1, bytes);
    }
    const dest = this.#byKey.get(addressKey(to));
    if (dest === undefined) {
      return this.#dropCount("no-route", n.index, -1, bytes);
    }
    if (!this.reachable(n.index, dest)) {
      return this.#dropCount("partition", n.index, dest, bytes);
    }
    const p = this.#profile(n.index, dest);
    if (this.#prng.chance(p.lossRate)) {
      return this.#dropCount("loss", n.index, dest, bytes);
    }
    const ev: NetEvent<M> = { k: PACKET, to: dest, from: n.index, bytes };
    if (!this.#schedule(now + this.#delay(p), ev)) {
      return this.#dropCount("overload", n.index, dest, bytes);
    }
    if (this.#prng.chance(p.duplicateRate)) {
      this.#stats.packetsDuplicated++;
      this.#schedule(now + this.#delay(p), ev);
    }
  }

  #dial(n: Node<M>, to: Address, t: Extract<Transmit, { kind: "dial" }>): void {
    const now = this.nowMs;
    this.#stats.streamsOpened++;
    const dest = this.#byKey.get(addressKey(to));
    const s: Stream = {
      id: this.#nextStreamId++,
      dialer: n.index,
      dialerInstance: n.instance,
      acceptor: dest ?? -1,
      streamId: t.streamId,
      bytes: t.bytes,
      expectReply: t.expectReply,
      acceptorInstance: -1,
      opened: false,
      replied: false,
      settled: false,
    };
    if (this.#streams.size >= this.#maxStreams) {
      s.replied = true;
      this.#streams.set(s.id, s);
      this.#schedule(now, {
        k: STREAM_REPLY,
        s,
        result: new Error("too many open streams"),
      });
      return;
    }
    this.#streams.set(s.id, s);
    // The deadline is always armed; whatever reaches the dialer first wins.
    this.#schedule(Math.max(t.deadline, now), { k: STREAM_DEADLINE, s });
    // No host at that address: the SYN goes unanswered until the deadline.
    if (dest === undefined) return;
    const there = this.#profile(n.index, dest);
    const back = this.#profile(dest, n.index);
    const connectMs = this.#tcpLeg(there, SYN_RTO_MS) +
      this.#tcpLeg(back, SYN_RTO_MS) +
      this.#tcpLeg(there, DATA_RTO_MS);
    this.#schedule(now + connectMs, { k: STREAM_OPEN, s });
  }

  #reply(n: Node<M>, inboundId: number, bytes: Uint8Array | null): void {
    const s = this.#streams.get(inboundId);
    if (
      s === undefined || s.acceptor !== n.index ||
      s.acceptorInstance !== n.instance ||
      !s.opened
    ) {
      // A late answer to a stream that already failed or was settled.
      this.#bump("stale-reply");
      return;
    }
    if (s.replied) return; // expectReply: false, already completed
    s.replied = true;
    this.#scheduleReply(
      s,
      bytes ?? new Error("EOF: stream closed without a reply"),
    );
  }

  #scheduleReply(s: Stream, result: Uint8Array | Error): void {
    const delay = s.acceptor < 0
      ? 0
      : this.#tcpLeg(this.#profile(s.acceptor, s.dialer), DATA_RTO_MS);
    this.#schedule(this.nowMs + delay, { k: STREAM_REPLY, s, result });
  }

  #drop(reason: string, ev: Extract<NetEvent<M>, { k: 0 }>): void {
    this.#dropCount(reason, ev.from, ev.to, ev.bytes);
  }

  #dropCount(
    reason: string,
    from: number,
    to: number,
    bytes: Uint8Array,
  ): void {
    this.#bump(reason);
    this.#trace?.record(
      this.nowMs,
      "drop",
      from,
      to,
      null,
      `${reason} ${bytes.length}B`,
    );
  }

  #bump(reason: string): void {
    const m = this.#stats.dropped;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  #linkFault(from: number, to: number, added: boolean): void {
    const d = added ? 1 : -1;
    const a = this.#nodes[from];
    const b = this.#nodes[to];
    a.linkFaults += d;
    b.linkFaults += d;
    if (!added) a.lastFaultEndMs = b.lastFaultEndMs = this.nowMs;
  }

  #traceFault(n: Node<M> | null, what: string): void {
    this.#trace?.record(
      this.nowMs,
      "fault",
      n === null ? -1 : n.index,
      -1,
      null,
      what,
    );
  }
}

function linkKey(from: number, to: number): number {
  // 2^21 nodes per side fits a safe integer key.
  return from * 2_097_152 + to;
}

function checkProfile(p: LinkProfile): void {
  for (const f of ["latencyMs", "jitterMs"] as const) {
    if (!Number.isInteger(p[f]) || p[f] < 0) {
      throw new RangeError(
        `Invalid link ${f}: ${p[f]} must be a whole number ≥ 0`,
      );
    }
  }
  for (const f of ["lossRate", "duplicateRate"] as const) {
    if (!(p[f] >= 0 && p[f] <= 1)) {
      throw new RangeError(`Invalid link ${f}: ${p[f]} must be in 0..1`);
    }
  }
}
