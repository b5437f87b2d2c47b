/**
 * A cluster of named members on a {@linkcode SimNetwork}: the object tests,
 * the scenario DSL and the VOPR drive. It is generic over any
 * {@linkcode Machine} — a factory `(name, addr, prng, now) => machine` plus
 * a few optional {@linkcode MachineHooks} (join, leave, views) — so Serf
 * plugs in the way Memberlist does (`memberlist_sim.ts` is the Memberlist
 * binding).
 *
 * Everything is virtual: addresses are `10.x.y.z:7946` strings nothing
 * binds, time is the network's clock, randomness is derived from one seed
 * (one stream per member instance, one for the network, one for faults).
 * Invariant {@linkcode Checker}s run after every call into a machine.
 *
 * @module
 */

import type { Address, Machine } from "../machine.ts";
import type { MemberState } from "../types.ts";
import { derivePrng, type Prng } from "./prng.ts";
import {
  type LinkProfile,
  type NodeStatus,
  SimNetwork,
  type SimNetworkOptions,
  type SimNetworkStats,
} from "./sim_network.ts";
import { formatMs, TraceRecorder } from "./trace.ts";

/** How one member sees another (or itself). */
export interface ViewEntry {
  /** The member's name. */
  readonly name: string;
  /** Its state in this view. */
  readonly state: MemberState;
  /** Its incarnation in this view. */
  readonly incarnation: number;
}

/** What a machine's event means to the cluster. */
export type ClassifiedEvent =
  | {
    /** A member's view entry changed (join, leave, update). */
    readonly kind: "member";
    /** The entry after the change. */
    readonly entry: ViewEntry;
  }
  | {
    /** A join command finished. */
    readonly kind: "joinDone";
    /** How many seeds answered. */
    readonly joined: number;
  }
  | {
    /** A leave command finished. */
    readonly kind: "leaveDone";
  }
  | {
    /** Anything else (user messages, conflicts …). */
    readonly kind: "other";
  };

/** A bounded queue of a machine, for the queue-bound checker. */
export interface QueueSize {
  /** Queue name. */
  readonly name: string;
  /** Entries now. */
  readonly size: number;
  /** Documented bound. */
  readonly bound: number;
}

/**
 * Machine-specific operations the cluster needs beyond {@linkcode Machine};
 * each is optional, and features that need a missing one throw.
 */
export interface MachineHooks<M, E> {
  /** Start a join through `seeds` (memberlist `Join`). */
  join?(machine: M, seeds: Address[], nowMs: number): void;
  /** Start a graceful leave (memberlist `Leave`). */
  leave?(machine: M, timeoutMs: number, nowMs: number): void;
  /** Stop the machine for good (memberlist `Shutdown`). */
  shutdown?(machine: M, nowMs: number): void;
  /** Every member the machine knows, itself included. */
  members?(machine: M): readonly ViewEntry[];
  /** How the machine sees itself. */
  self?(machine: M): ViewEntry;
  /** What an event means (member change, op done …). */
  classify?(event: E): ClassifiedEvent;
  /** A short text for the trace (default: none). */
  describe?(event: E): string | null;
  /** Sizes of the machine's bounded queues. */
  queues?(machine: M): readonly QueueSize[];
  /** Count of malformed input the machine dropped (must stay 0 in the sim). */
  decodeErrors?(machine: M): number;
  /** Summarize a packet for detailed traces ("alive b#2, ping"). */
  describePacket?(bytes: Uint8Array): string;
}

/** Builds a machine for a member (also at restart). */
export type MachineFactory<M> = (
  name: string,
  addr: Address,
  prng: () => number,
  nowMs: number,
) => M;

/** A broken invariant. */
export interface Violation {
  /** Virtual time. */
  readonly timeMs: number;
  /** The checker that saw it. */
  readonly checker: string;
  /** What is wrong. */
  readonly text: string;
}

/** A healthy member declared dead by another (not an invariant break). */
export interface FalsePositive {
  /** Virtual time. */
  readonly timeMs: number;
  /** Who declared it. */
  readonly observer: string;
  /** Who was declared dead. */
  readonly target: string;
}

/** An invariant checked as the simulation runs (see `checkers.ts`). */
export interface Checker<M extends Machine<E>, E> {
  /** Name, for reports. */
  readonly name: string;
  /** A machine emitted an event. */
  onEvent?(
    cluster: SimCluster<M, E>,
    node: number,
    event: E,
    nowMs: number,
  ): void;
  /** A call into a machine returned (after every step). */
  afterCall?(cluster: SimCluster<M, E>, node: number, nowMs: number): void;
  /** A member crashed. */
  onCrash?(cluster: SimCluster<M, E>, node: number, nowMs: number): void;
  /** Called by {@linkcode SimCluster.finish}. */
  finish?(cluster: SimCluster<M, E>): void;
}

/** Listener of every event of every member. */
export type EventListener<E> = (name: string, event: E, nowMs: number) => void;

/** Options of a {@linkcode SimCluster}. */
export interface SimClusterOptions<M extends Machine<E>, E> {
  /** Master seed: the whole run is a function of it. */
  seed: number;
  /** Builds a member's machine. */
  factory: MachineFactory<M>;
  /** Machine-specific operations. */
  hooks?: MachineHooks<M, E>;
  /** Network model (seed, trace and hooks are the cluster's). */
  network?: Omit<SimNetworkOptions<E>, "seed" | "trace" | "hooks">;
  /** Invariants to check. */
  checkers?: readonly Checker<M, E>[];
  /** Trace lines kept for reports (0 = hash only; default 400). */
  traceLines?: number;
  /**
   * Decode every delivered packet into the trace lines with
   * {@linkcode MachineHooks.describePacket} (debugging; default false).
   */
  traceDetail?: boolean;
  /**
   * Record a trace at all (default true). Off saves the per-input hashing
   * in large benchmarks; the trace hash then stays at its initial value.
   */
  trace?: boolean;
  /** Throw a {@linkcode SimulationError} at the first violation (default true). */
  failFast?: boolean;
  /** Port every member uses (default 7946). */
  port?: number;
}

/** Thrown when an invariant breaks with `failFast`. */
export class SimulationError extends Error {
  /** The violation. */
  readonly violation: Violation;
  /**
   * Wrap a violation.
   *
   * @param violation what broke
   */
  constructor(violation: Violation) {
    super(
      `Invariant violated at ${
        formatMs(violation.timeMs)
      }: [${violation.checker}] ${violation.text}`,
    );
    this.name = "SimulationError";
    this.violation = violation;
  }
}

/** Most violations and false positives kept (the rest are only counted). */
export const MAX_RECORDED = 1_000;

/**
 * The name of the `i`-th member: a, b, …, z, aa, ab, … (bijective base 26),
 * so scenarios read "crash c".
 *
 * @param i zero-based index
 * @returns the name
 */
export function memberName(i: number): string {
  let s = "";
  let k = i + 1;
  while (k > 0) {
    k--;
    s = String.fromCharCode(97 + (k % 26)) + s;
    k = Math.floor(k / 26);
  }
  return s;
}

/**
 * The fake IP of the `i`-th member: 10.x.y.z (i + 1 in the low 24 bits).
 *
 * @param i zero-based index
 * @returns the IP literal
 */
export function memberHost(i: number): string {
  const k = i + 1;
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

interface MemberRecord {
  readonly name: string;
  readonly index: number;
  // Some instance ever left: explains stale "left" entries in other views.
  everLeft: boolean;
  // The current instance started a leave.
  leaving: boolean;
  // The current instance shut down after its leave.
  shutDown: boolean;
}

/**
 * N named members on a simulated network.
 *
 * @example
 * ```ts
 * const c = memberlistCluster({ seed: 1 });
 * c.start(3);
 * c.joinAll();
 * c.run(10_000);
 * c.crash("c");
 * c.run(10_000);
 * ```
 */
export class SimCluster<M extends Machine<E>, E> {
  readonly #seed: number;
  readonly #factory: MachineFactory<M>;
  readonly #hooks: MachineHooks<M, E>;
  readonly #net: SimNetwork<E, M>;
  readonly #trace: TraceRecorder;
  readonly #checkers: readonly Checker<M, E>[];
  readonly #failFast: boolean;
  readonly #port: number;
  readonly #members: MemberRecord[] = [];
  readonly #byName = new Map<string, MemberRecord>();
  // Names of a start() batch not created yet: members already, so a machine
  // that starts out knowing its peers (startConverged) holds no phantoms.
  readonly #starting = new Set<string>();
  readonly #listeners: EventListener<E>[] = [];
  // Members whose leave is in progress → shut down when it completes?
  readonly #pendingShutdown = new Map<number, boolean>();
  readonly #faults: Prng;
  readonly #violations: Violation[] = [];
  #violationCount = 0;
  readonly #falsePositives: FalsePositive[] = [];
  #falsePositiveCount = 0;

  /**
   * An empty cluster (add members with {@linkcode SimCluster.start}).
   *
   * @param options seed, factory, hooks, network model and checkers
   */
  constructor(options: SimClusterOptions<M, E>) {
    this.#seed = options.seed;
    this.#factory = options.factory;
    this.#hooks = options.hooks ?? {};
    this.#trace = new TraceRecorder({ keepLines: options.traceLines });
    this.#checkers = options.checkers ?? [];
    this.#failFast = options.failFast ?? true;
    this.#port = options.port ?? 7946;
    this.#faults = derivePrng(options.seed, "faults");
    const checkers = this.#checkers;
    const describe = options.trace === false ? undefined : this.#hooks.describe;
    this.#net = new SimNetwork<E, M>({
      ...options.network,
      seed: options.seed,
      trace: options.trace === false ? undefined : this.#trace,
      describePacket:
        options.traceDetail === true && this.#hooks.describePacket !== undefined
          ? this.#hooks.describePacket.bind(this.#hooks)
          : undefined,
      hooks: {
        onEvent: (node, event, nowMs): void => {
          const note = describe?.(event) ?? null;
          if (note !== null) {
            this.#trace.record(nowMs, "event", node, -1, null, note);
          }
          this.#onEvent(node, event, nowMs);
          for (const c of checkers) c.onEvent?.(this, node, event, nowMs);
          const name = this.#members[node].name;
          for (const l of this.#listeners) l(name, event, nowMs);
        },
        afterCall: checkers.some((c) => c.afterCall !== undefined)
          ? (node, nowMs): void => {
            for (const c of checkers) c.afterCall?.(this, node, nowMs);
          }
          : undefined,
        onAnomaly: (node, text, nowMs): void => {
          this.violation(
            "network",
            `${this.#members[node].name}: ${text}`,
            nowMs,
          );
        },
      },
    });
  }

  /** The master seed. */
  get seed(): number {
    return this.#seed;
  }

  /** Current virtual time (ms). */
  get nowMs(): number {
    return this.#net.nowMs;
  }

  /** The underlying network (link tuning, stats). */
  get network(): SimNetwork<E, M> {
    return this.#net;
  }

  /** The trace (hash for determinism checks, lines for reports). */
  get trace(): TraceRecorder {
    return this.#trace;
  }

  /** The machine hooks in use. */
  get hooks(): MachineHooks<M, E> {
    return this.#hooks;
  }

  /** The fault PRNG, for randomized schedules (the VOPR, burst pauses). */
  get faults(): Prng {
    return this.#faults;
  }

  /** The port every member uses. */
  get port(): number {
    return this.#port;
  }

  /** Number of members ever added. */
  get size(): number {
    return this.#members.length;
  }

  // ---------------------------------------------------------------- members

  /**
   * Add one member (started at the current time, not joined).
   *
   * @param name its name (default: the next of a, b, …)
   * @returns the name
   */
  add(name: string = memberName(this.#members.length)): string {
    if (this.#byName.has(name)) {
      throw new RangeError(`Invalid member name: ${name} is taken`);
    }
    const i = this.#members.length;
    const addr = { host: memberHost(i), port: this.#port };
    const record: MemberRecord = {
      name,
      index: i,
      everLeft: false,
      leaving: false,
      shutDown: false,
    };
    // Register first: the machine may emit events from its constructor's
    // drain, and handlers look the member up by index.
    this.#members.push(record);
    this.#byName.set(name, record);
    const machine = this.#create(name, addr, 0);
    const index = this.#net.addNode(name, addr, machine);
    if (index !== i) {
      throw new Error("Invariant: member and node indices diverged");
    }
    return name;
  }

  /**
   * Add `n` members.
   *
   * @param n how many
   * @returns their names
   */
  start(n: number): string[] {
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      names.push(memberName(this.#members.length + i));
    }
    for (const name of names) this.#starting.add(name);
    try {
      for (const name of names) {
        this.#starting.delete(name);
        this.add(name);
      }
    } finally {
      this.#starting.clear();
    }
    return names;
  }

  /**
   * Every member's name.
   *
   * @returns names in creation order
   */
  names(): string[] {
    return this.#members.map((m) => m.name);
  }

  /**
   * The index of a member.
   *
   * @param name member name
   * @returns its index
   * @throws {RangeError} for an unknown name
   */
  indexOf(name: string): number {
    const r = this.#byName.get(name);
    if (r === undefined) throw new RangeError(`Unknown member: ${name}`);
    return r.index;
  }

  /**
   * The name of a member.
   *
   * @param index member index
   * @returns its name
   */
  nameOf(index: number): string {
    const r = this.#members[index];
    if (r === undefined) throw new RangeError(`Invalid member index: ${index}`);
    return r.name;
  }

  /**
   * Whether a name belongs to a member of this cluster.
   *
   * @param name the name
   * @returns true when known
   */
  has(name: string): boolean {
    return this.#byName.has(name) || this.#starting.has(name);
  }

  /**
   * A member's address.
   *
   * @param name member name
   * @returns the address
   */
  addr(name: string): Address {
    return this.#net.node(this.indexOf(name)).addr;
  }

  /**
   * A member's running machine (null once crashed or shut down).
   *
   * @param name member name
   * @returns the machine
   */
  machine(name: string): M | null {
    return this.#net.node(this.indexOf(name)).machine;
  }

  /**
   * A member's status: up, paused, crashed, or left (left and shut down).
   *
   * @param name member name
   * @returns the status
   */
  status(name: string): NodeStatus | "left" {
    const r = this.#record(name);
    if (r.shutDown) return "left";
    return this.#net.status(r.index);
  }

  /**
   * The instance number of a member (0, then +1 per restart).
   *
   * @param name member name
   * @returns the instance
   */
  instance(name: string): number {
    return this.#net.node(this.indexOf(name)).instance;
  }

  /**
   * Whether a member ever started a graceful leave.
   *
   * @param name member name
   * @returns true after `leave`
   */
  hasLeft(name: string): boolean {
    return this.#record(name).everLeft;
  }

  /**
   * Members that run and have not left (paused ones included).
   *
   * @returns names
   */
  running(): string[] {
    return this.#members.filter((r) =>
      !r.shutDown && !r.leaving && this.#net.status(r.index) !== "crashed"
    ).map((r) => r.name);
  }

  // ------------------------------------------------------------------ views

  /**
   * Every member `observer` knows, as it sees them.
   *
   * @param observer member name
   * @returns the view, or null if the observer is not running
   */
  view(observer: string): Map<string, ViewEntry> | null {
    const m = this.machine(observer);
    if (m === null) return null;
    const members = this.#need("members");
    const out = new Map<string, ViewEntry>();
    for (const e of members(m)) out.set(e.name, e);
    return out;
  }

  /**
   * How `observer` sees `target`.
   *
   * @param observer member name
   * @param target member name
   * @returns the entry, or undefined when unknown (or observer not running)
   */
  viewOf(observer: string, target: string): ViewEntry | undefined {
    return this.view(observer)?.get(target);
  }

  /**
   * How a member sees itself.
   *
   * @param name member name
   * @returns the entry, or null when not running
   */
  selfView(name: string): ViewEntry | null {
    const m = this.machine(name);
    if (m === null) return null;
    return this.#need("self")(m);
  }

  /**
   * Whether membership has converged: every running member that is not
   * paused sees every other such member alive, and sees crashed and left
   * members as not alive (dead, left, or forgotten).
   *
   * @returns the problems found (empty when converged), at most 20
   */
  convergence(): string[] {
    const problems: string[] = [];
    const running = new Set(this.running());
    const live = [...running].filter((n) => this.status(n) === "up");
    const liveSet = new Set(live);
    for (const o of live) {
      const v = this.view(o);
      if (v === null) continue;
      for (const r of this.#members) {
        if (r.name === o) continue;
        const e = v.get(r.name);
        if (liveSet.has(r.name)) {
          if (e?.state !== "alive") {
            problems.push(
              `${o} sees ${r.name} ${e?.state ?? "unknown"}, want alive`,
            );
          }
        } else if (
          !running.has(r.name) &&
          (e?.state === "alive" || e?.state === "suspect")
        ) {
          problems.push(
            `${o} sees ${r.name} ${e.state}, but it is ${this.status(r.name)}`,
          );
        }
        if (problems.length >= 20) return problems;
      }
    }
    return problems;
  }

  // --------------------------------------------------------------- commands

  /**
   * Make `name` join through the given seeds.
   *
   * @param name member name
   * @param seeds seed member names
   */
  join(name: string, seeds: readonly string[]): void {
    const join = this.#need("join");
    const addrs = seeds.map((s) => this.addr(s));
    this.#net.invoke(this.indexOf(name), (m, now) => join(m, addrs, now));
  }

  /**
   * Make every running member except the seed join through it.
   *
   * @param seed the seed member (default: the first running one)
   */
  joinAll(seed: string = this.running()[0]): void {
    for (const n of this.running()) if (n !== seed) this.join(n, [seed]);
  }

  /**
   * Bring every running member to full membership quickly, through the
   * protocol, by joining in two waves through one seed: first every other
   * member joins the seed (so the seed learns everyone from their join
   * push-pulls), then every other member joins the seed again and learns
   * everyone from the seed's answer. Each member thus learns the whole
   * cluster from one push-pull instead of from n·L gossip messages, so a
   * 1,000-member cluster has full membership within a few round trips.
   *
   * What is *not* skipped: memberlist re-broadcasts every alive it learns,
   * so afterwards every broadcast queue holds about one alive per member,
   * each to be sent L = retransmitMult × ceil(log10(n + 1)) times (the join
   * storm). Measurements that need quiet queues must run on until
   * `pendingBroadcasts()` drains.
   *
   * @param options `seed` (default: the first running member), `maxMs`
   *   the virtual-time limit of each wave (default 60 s)
   * @returns the virtual ms both waves took
   * @throws {SimulationError} when a wave does not complete within `maxMs`
   */
  bootstrap(options: { seed?: string; maxMs?: number } = {}): number {
    const start = this.nowMs;
    const seed = options.seed ?? this.running()[0];
    const maxMs = options.maxMs ?? 60_000;
    const classify = this.#need("classify");
    const others = this.running().filter((n) => n !== seed);
    for (const wave of [1, 2]) {
      const waiting = new Set(others);
      const stop = this.onEvent((name, e) => {
        if (classify(e).kind === "joinDone") waiting.delete(name);
      });
      for (const n of others) this.join(n, [seed]);
      const took = this.runUntil(() => waiting.size === 0, maxMs, 10);
      stop();
      if (took === null) {
        this.violation(
          "bootstrap",
          `join wave ${wave}: ${waiting.size} joins still pending after ${maxMs} ms`,
        );
      }
    }
    return this.nowMs - start;
  }

  /**
   * Start a graceful leave; when it completes the member shuts down and is
   * taken off the network (the process exits), unless `shutdown` is false.
   *
   * @param name member name
   * @param timeoutMs leave timeout (default 5000)
   * @param options whether to shut down afterwards (default true)
   */
  leave(
    name: string,
    timeoutMs: number = 5_000,
    options: { shutdown?: boolean } = {},
  ): void {
    const leave = this.#need("leave");
    const r = this.#record(name);
    r.everLeft = true;
    r.leaving = true;
    this.#pendingShutdown.set(r.index, options.shutdown ?? true);
    this.#net.invoke(r.index, (m, now) => leave(m, timeoutMs, now));
  }

  /**
   * Crash a member: its machine vanishes with its state and timers.
   *
   * @param name member name
   */
  crash(name: string): void {
    const r = this.#record(name);
    if (this.#net.status(r.index) === "crashed") return;
    this.#net.crash(r.index);
    for (const c of this.#checkers) c.onCrash?.(this, r.index, this.nowMs);
  }

  /**
   * Restart a crashed (or left) member as a new instance at the same name
   * and address, and by default join it through up to three running
   * members (what an operator's restart does; the machine itself refutes
   * any stale death it hears about with a higher incarnation).
   *
   * @param name member name
   * @param options `rejoin`: false, or seed names (default: up to 3 running)
   */
  restart(
    name: string,
    options: { rejoin?: boolean | readonly string[] } = {},
  ): void {
    const r = this.#record(name);
    if (this.#net.status(r.index) !== "crashed") this.crash(name);
    const addr = this.#net.node(r.index).addr;
    r.shutDown = false;
    r.leaving = false;
    // everLeft stays: a past leave still explains stale "left" views.
    const machine = this.#create(
      name,
      addr,
      this.#net.node(r.index).instance + 1,
    );
    this.#net.restart(r.index, machine);
    const rejoin = options.rejoin ?? true;
    if (rejoin === false) return;
    const seeds = rejoin === true
      ? this.running().filter((n) => n !== name && this.status(n) === "up")
        .slice(0, 3)
      : [...rejoin];
    if (seeds.length > 0) this.join(name, seeds);
  }

  /**
   * Pause a member (SIGSTOP), for `ms` if given (then it resumes by itself).
   *
   * @param name member name
   * @param ms duration, or undefined to stay paused until {@linkcode resume}
   */
  pause(name: string, ms?: number): void {
    const i = this.indexOf(name);
    if (this.#net.status(i) !== "up") return;
    this.#net.pause(i);
    if (ms !== undefined) {
      this.#net.at(this.nowMs + ms, () => this.#net.resume(i));
    }
  }

  /**
   * Resume a paused member.
   *
   * @param name member name
   */
  resume(name: string): void {
    this.#net.resume(this.indexOf(name));
  }

  /**
   * Split the network into groups of names (others form one more group).
   *
   * @param groups lists of member names
   */
  partition(groups: readonly (readonly string[])[]): void {
    this.#net.partition(groups.map((g) => g.map((n) => this.indexOf(n))));
  }

  /** Remove the partition. */
  heal(): void {
    this.#net.heal();
  }

  /**
   * Drop (or restore) everything from one member to another.
   *
   * @param from sender name
   * @param to receiver name
   * @param blocked true to drop
   */
  block(from: string, to: string, blocked: boolean = true): void {
    this.#net.block(this.indexOf(from), this.indexOf(to), blocked);
  }

  /**
   * Change the default link (loss, duplication, latency, jitter).
   *
   * @param profile fields to change
   */
  setLink(profile: Partial<LinkProfile>): void {
    this.#net.setDefaultLink(profile);
  }

  /**
   * Run `fn` at virtual time `atMs`.
   *
   * @param atMs when
   * @param fn what
   */
  at(atMs: number, fn: () => void): void {
    this.#net.at(atMs, fn);
  }

  /**
   * Call into a member's machine (e.g. a meta update), draining it after.
   *
   * @param name member name
   * @param fn the call
   */
  invoke(name: string, fn: (machine: M, nowMs: number) => void): void {
    this.#net.invoke(this.indexOf(name), fn);
  }

  // ------------------------------------------------------------------- time

  /**
   * Run for `ms` of virtual time.
   *
   * @param ms duration
   */
  run(ms: number): void {
    this.#net.runFor(ms);
  }

  /**
   * Handle the next scheduled item.
   *
   * @returns false when nothing is scheduled
   */
  step(): boolean {
    return this.#net.step();
  }

  /**
   * Run until `predicate` holds (checked every `everyMs`) or `maxMs` pass.
   *
   * @param predicate condition
   * @param maxMs time limit
   * @param everyMs check period (default 100)
   * @returns the elapsed virtual ms when it held, or null on timeout
   */
  runUntil(
    predicate: () => boolean,
    maxMs: number,
    everyMs: number = 100,
  ): number | null {
    const start = this.nowMs;
    if (predicate()) return 0;
    while (this.nowMs - start < maxMs) {
      this.#net.runFor(Math.min(everyMs, maxMs - (this.nowMs - start)));
      if (predicate()) return this.nowMs - start;
    }
    return null;
  }

  // ------------------------------------------------------------- listeners

  /**
   * Listen to every event of every member.
   *
   * @param listener the callback
   * @returns a function that removes it
   */
  onEvent(listener: EventListener<E>): () => void {
    this.#listeners.push(listener);
    return (): void => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  // -------------------------------------------------------------- reports

  /**
   * Record a broken invariant (checkers call this).
   *
   * @param checker checker name
   * @param text what is wrong
   * @param timeMs when (default now)
   * @throws {SimulationError} with `failFast`
   */
  violation(checker: string, text: string, timeMs: number = this.nowMs): void {
    const v: Violation = { timeMs, checker, text };
    this.#violationCount++;
    if (this.#violations.length < MAX_RECORDED) this.#violations.push(v);
    this.#trace.record(
      timeMs,
      "note",
      -1,
      -1,
      null,
      `VIOLATION ${checker}: ${text}`,
    );
    if (this.#failFast) throw new SimulationError(v);
  }

  /**
   * Record a false positive (checkers call this).
   *
   * @param observer who declared the death
   * @param target who was declared dead
   * @param timeMs when
   */
  falsePositive(
    observer: string,
    target: string,
    timeMs: number = this.nowMs,
  ): void {
    this.#falsePositiveCount++;
    if (this.#falsePositives.length < MAX_RECORDED) {
      this.#falsePositives.push({ timeMs, observer, target });
    }
  }

  /** Violations recorded (the first {@linkcode MAX_RECORDED}). */
  get violations(): readonly Violation[] {
    return this.#violations;
  }

  /** Total number of violations. */
  get violationCount(): number {
    return this.#violationCount;
  }

  /** False positives recorded (the first {@linkcode MAX_RECORDED}). */
  get falsePositives(): readonly FalsePositive[] {
    return this.#falsePositives;
  }

  /** Total number of false positives. */
  get falsePositiveCount(): number {
    return this.#falsePositiveCount;
  }

  /**
   * The network's counters.
   *
   * @returns a snapshot
   */
  networkStats(): SimNetworkStats {
    return this.#net.stats();
  }

  /** Run every checker's final check (call at the end of a run). */
  finish(): void {
    for (const c of this.#checkers) c.finish?.(this);
  }

  /**
   * The last trace lines with member names.
   *
   * @returns lines, oldest first
   */
  traceLines(): string[] {
    return this.#trace.lines((i) => this.#members[i]?.name ?? String(i));
  }

  // ------------------------------------------------------------ internals

  #record(name: string): MemberRecord {
    const r = this.#byName.get(name);
    if (r === undefined) throw new RangeError(`Unknown member: ${name}`);
    return r;
  }

  #create(name: string, addr: Address, instance: number): M {
    // One PRNG stream per member instance, keyed by name: adding members
    // or faults elsewhere does not change what this member draws.
    const prng = derivePrng(this.#seed, `member:${name}#${instance}`);
    return this.#factory(name, addr, prng.fn(), this.nowMs);
  }

  #need<K extends keyof MachineHooks<M, E>>(
    key: K,
  ): NonNullable<MachineHooks<M, E>[K]> {
    const f = this.#hooks[key];
    if (f === undefined) {
      throw new TypeError(
        `Invalid cluster: the machine hooks lack ${String(key)}()`,
      );
    }
    return f.bind(this.#hooks) as NonNullable<MachineHooks<M, E>[K]>;
  }

  #onEvent(node: number, event: E, nowMs: number): void {
    const classify = this.#hooks.classify;
    if (classify === undefined) return;
    const c = classify(event);
    if (c.kind !== "leaveDone") return;
    const shutdown = this.#pendingShutdown.get(node);
    if (shutdown === undefined) return;
    this.#pendingShutdown.delete(node);
    if (!shutdown) return;
    // Shut down after the drain that delivered this event: the machine is
    // still being drained now, so defer to the same millisecond.
    this.#net.at(nowMs, () => {
      const r = this.#members[node];
      const m = this.#net.node(node).machine;
      if (m === null) return;
      this.#hooks.shutdown?.(m, this.nowMs);
      r.shutDown = true;
      this.#net.crash(node);
      this.#trace.record(
        this.nowMs,
        "fault",
        node,
        -1,
        null,
        "shutdown after leave",
      );
    });
  }
}
