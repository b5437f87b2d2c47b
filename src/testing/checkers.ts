/**
 * Invariants checked while a simulation runs (ARCHITECTURE principle 7).
 * Each checker is told about every call into a machine, every event and
 * every crash, and reports through {@linkcode SimCluster.violation} (a
 * bug: the run fails) or {@linkcode SimCluster.falsePositive} (a healthy
 * member declared dead: counted and reported, since a failure detector may
 * legitimately err under loss; tests assert on the count).
 *
 * Costs: the per-call checks are O(1) except the `everyCall` view check,
 * which reads the stepped machine's whole table (O(n)); use `sweepEveryMs`
 * for large clusters, or leave the view checker out.
 *
 * @module
 */

import type { Machine } from "../machine.ts";
import type { Checker, SimCluster, ViewEntry } from "./sim_cluster.ts";

/**
 * No member ever sees itself suspect or dead (it would refute instead —
 * SWIM §4.2 / memberlist `refute`); it may see itself left only after it
 * started a leave. Its own incarnation never decreases within one instance.
 *
 * @returns the checker
 */
export function selfChecker<M extends Machine<E>, E>(): Checker<M, E> {
  const last = new Map<number, { instance: number; incarnation: number }>();
  return {
    name: "self",
    afterCall(cluster: SimCluster<M, E>, node: number, nowMs: number): void {
      const name = cluster.nameOf(node);
      const self = cluster.selfView(name);
      if (self === null) return;
      if (
        self.state !== "alive" &&
        !(self.state === "left" && cluster.hasLeft(name))
      ) {
        cluster.violation("self", `${name} sees itself ${self.state}`, nowMs);
      }
      const instance = cluster.instance(name);
      const prev = last.get(node);
      if (
        prev !== undefined && prev.instance === instance &&
        self.incarnation < prev.incarnation
      ) {
        cluster.violation(
          "self",
          `${name}'s own incarnation went from ${prev.incarnation} to ${self.incarnation}`,
          nowMs,
        );
      }
      last.set(node, { instance, incarnation: self.incarnation });
    },
  };
}

/** Options of {@linkcode viewChecker}. */
export interface ViewCheckerOptions {
  /**
   * Read the stepped machine's whole view after every call (true), or only
   * track events and sweep every view each `sweepEveryMs` (false).
   */
  everyCall?: boolean;
  /** Period of full sweeps when not `everyCall` (0 = events only). */
  sweepEveryMs?: number;
  /**
   * After how long a dead entry may be forgotten (memberlist reaps dead
   * members after `gossipToTheDeadTimeMs`), so that a later, lower
   * incarnation of a restarted member is legitimate.
   */
  reapAfterMs: number;
}

interface Seen {
  incarnation: number;
  state: string;
  sinceMs: number;
}

/**
 * Views stay sane: no member's table holds a name that is not a member of
 * the cluster (no phantoms), and no incarnation ever decreases in any view
 * (memberlist accepts only higher incarnations, SPEC §6.1) — except after a
 * dead entry could have been reaped and relearned from a restarted
 * instance.
 *
 * @param options how often to read whole views
 * @returns the checker
 */
export function viewChecker<M extends Machine<E>, E>(
  options: ViewCheckerOptions,
): Checker<M, E> {
  const views = new Map<
    number,
    { instance: number; seen: Map<string, Seen> }
  >();
  let nextSweepMs = 0;
  const everyCall = options.everyCall ?? false;
  const sweepEveryMs = options.sweepEveryMs ?? 0;

  const seenFor = (
    cluster: SimCluster<M, E>,
    node: number,
  ): Map<string, Seen> => {
    const instance = cluster.instance(cluster.nameOf(node));
    let v = views.get(node);
    if (v === undefined || v.instance !== instance) {
      v = { instance, seen: new Map() };
      views.set(node, v);
    }
    return v.seen;
  };

  const observe = (
    cluster: SimCluster<M, E>,
    node: number,
    e: ViewEntry,
    nowMs: number,
    seen: Map<string, Seen>,
  ): void => {
    const observer = cluster.nameOf(node);
    if (!cluster.has(e.name)) {
      cluster.violation(
        "views",
        `${observer} holds phantom member ${JSON.stringify(e.name)}`,
        nowMs,
      );
      return;
    }
    const prev = seen.get(e.name);
    if (prev !== undefined && e.incarnation < prev.incarnation) {
      const reapable = prev.state === "dead" &&
        nowMs - prev.sinceMs >= options.reapAfterMs;
      if (!reapable) {
        cluster.violation(
          "views",
          `${observer} sees ${e.name} at incarnation ${e.incarnation} after ${prev.incarnation} (${prev.state})`,
          nowMs,
        );
      }
    }
    if (
      prev === undefined || prev.incarnation !== e.incarnation ||
      prev.state !== e.state
    ) {
      seen.set(e.name, {
        incarnation: e.incarnation,
        state: e.state,
        sinceMs: nowMs,
      });
    }
  };

  const readWhole = (
    cluster: SimCluster<M, E>,
    node: number,
    nowMs: number,
  ): void => {
    const view = cluster.view(cluster.nameOf(node));
    if (view === null) return;
    const seen = seenFor(cluster, node);
    for (const e of view.values()) observe(cluster, node, e, nowMs, seen);
    // Entries gone from the table were reaped: forget them.
    for (const name of seen.keys()) if (!view.has(name)) seen.delete(name);
  };

  return {
    name: "views",
    onEvent(
      cluster: SimCluster<M, E>,
      node: number,
      event: E,
      nowMs: number,
    ): void {
      const c = cluster.hooks.classify?.(event);
      if (c?.kind !== "member") return;
      observe(cluster, node, c.entry, nowMs, seenFor(cluster, node));
    },
    afterCall(cluster: SimCluster<M, E>, node: number, nowMs: number): void {
      if (everyCall) return readWhole(cluster, node, nowMs);
      if (sweepEveryMs <= 0 || nowMs < nextSweepMs) return;
      nextSweepMs = nowMs + sweepEveryMs;
      for (let i = 0; i < cluster.size; i++) readWhole(cluster, i, nowMs);
    },
  };
}

/** Options of {@linkcode deathChecker}. */
export interface DeathCheckerOptions {
  /**
   * How far back a fault of the dead-declared member explains the death:
   * the longest a suspicion can take (probe interval × health multiplier +
   * maximum suspicion timeout) plus dissemination.
   */
  windowMs: number;
}

/**
 * Every "left" in any view is about a member that really left (only a
 * member's own dead message makes it left, SPEC §6.1). Every "dead" is
 * about a member that was crashed, paused, restarted, partitioned or on a
 * degraded link within the window, or that left; anything else is a false
 * positive, counted (not a violation: SWIM may err under loss).
 *
 * @param options the explanation window
 * @returns the checker
 */
export function deathChecker<M extends Machine<E>, E>(
  options: DeathCheckerOptions,
): Checker<M, E> {
  return {
    name: "deaths",
    onEvent(
      cluster: SimCluster<M, E>,
      node: number,
      event: E,
      nowMs: number,
    ): void {
      const c = cluster.hooks.classify?.(event);
      if (c?.kind !== "member") return;
      const { name: target, state } = c.entry;
      const observer = cluster.nameOf(node);
      if (!cluster.has(target) || target === observer) return;
      if (state === "left" && !cluster.hasLeft(target)) {
        cluster.violation(
          "deaths",
          `${observer} sees ${target} left, but it never left`,
          nowMs,
        );
      }
      if (state !== "dead" || cluster.hasLeft(target)) return;
      const t = cluster.indexOf(target);
      if (!cluster.network.faultySince(t, nowMs - options.windowMs)) {
        cluster.falsePositive(observer, target, nowMs);
      }
    },
  };
}

/** Options of {@linkcode detectionChecker}. */
export interface DetectionCheckerOptions {
  /** Time from a crash by which every healthy member must see it dead. */
  boundMs: number;
}

/**
 * Completeness (SWIM §3): a crashed member is seen dead (or left, or
 * forgotten) by every other member within `boundMs`, unless that observer
 * itself had a fault meanwhile or the crashed member came back.
 *
 * @param options the bound
 * @returns the checker
 */
export function detectionChecker<M extends Machine<E>, E>(
  options: DetectionCheckerOptions,
): Checker<M, E> {
  return {
    name: "detection",
    onCrash(cluster: SimCluster<M, E>, node: number, crashMs: number): void {
      const target = cluster.nameOf(node);
      const instance = cluster.instance(target);
      for (const observer of cluster.running()) {
        if (observer === target || cluster.status(observer) !== "up") continue;
        const o = cluster.indexOf(observer);
        cluster.at(crashMs + options.boundMs, () => {
          if (
            cluster.status(target) !== "crashed" ||
            cluster.instance(target) !== instance
          ) return;
          if (cluster.hasLeft(target)) return;
          if (cluster.status(observer) !== "up" || cluster.hasLeft(observer)) {
            return;
          }
          if (cluster.network.faultySince(o, crashMs)) return;
          const e = cluster.viewOf(observer, target);
          if (
            e !== undefined && (e.state === "alive" || e.state === "suspect")
          ) {
            cluster.violation(
              "detection",
              `${observer} still sees crashed ${target} ${e.state} ${options.boundMs} ms after the crash`,
            );
          }
        });
      }
    },
  };
}

/** Options of {@linkcode machineChecker}. */
export interface MachineCheckerOptions {
  /** How often to inspect every machine (virtual ms, default 1000). */
  everyMs?: number;
}

/**
 * Each machine's bounded queues stay within their documented bounds
 * (ARCHITECTURE principle 8), and no machine ever dropped input as
 * malformed: in the simulator every byte comes from a correct peer, so a
 * decode error means our encoder and decoder disagree.
 *
 * @param options inspection period
 * @returns the checker
 */
export function machineChecker<M extends Machine<E>, E>(
  options: MachineCheckerOptions = {},
): Checker<M, E> {
  const everyMs = options.everyMs ?? 1_000;
  let nextMs = 0;
  const inspect = (cluster: SimCluster<M, E>, nowMs: number): void => {
    const { queues, decodeErrors } = cluster.hooks;
    for (const name of cluster.names()) {
      const m = cluster.machine(name);
      if (m === null) continue;
      for (const q of queues?.(m) ?? []) {
        if (q.size > q.bound) {
          cluster.violation(
            "machine",
            `${name}'s ${q.name} holds ${q.size} > ${q.bound}`,
            nowMs,
          );
        }
      }
      const errors = decodeErrors?.(m) ?? 0;
      if (errors > 0) {
        cluster.violation(
          "machine",
          `${name} dropped ${errors} malformed inputs`,
          nowMs,
        );
      }
    }
  };
  return {
    name: "machine",
    afterCall(cluster: SimCluster<M, E>, _node: number, nowMs: number): void {
      if (nowMs < nextMs) return;
      nextMs = nowMs + everyMs;
      inspect(cluster, nowMs);
    },
    finish(cluster: SimCluster<M, E>): void {
      inspect(cluster, cluster.nowMs);
    },
  };
}

/** Options of {@linkcode defaultCheckers}. */
export interface DefaultCheckerOptions {
  /** See {@linkcode DeathCheckerOptions.windowMs}. */
  deathWindowMs: number;
  /** See {@linkcode DetectionCheckerOptions.boundMs} (0 leaves it out). */
  detectionBoundMs: number;
  /** See {@linkcode ViewCheckerOptions.reapAfterMs}. */
  reapAfterMs: number;
  /** Read the stepped machine's whole view after every call (small clusters). */
  everyCall?: boolean;
  /** Full view sweep period when not `everyCall` (0 = events only). */
  sweepEveryMs?: number;
}

/**
 * The full set: self, views, deaths, detection and machine checkers.
 *
 * @param options bounds and windows
 * @returns the checkers
 */
export function defaultCheckers<M extends Machine<E>, E>(
  options: DefaultCheckerOptions,
): Checker<M, E>[] {
  const out: Checker<M, E>[] = [
    selfChecker(),
    viewChecker({
      everyCall: options.everyCall,
      sweepEveryMs: options.sweepEveryMs,
      reapAfterMs: options.reapAfterMs,
    }),
    deathChecker({ windowMs: options.deathWindowMs }),
    machineChecker(),
  ];
  if (options.detectionBoundMs > 0) {
    out.push(detectionChecker({ boundMs: options.detectionBoundMs }));
  }
  return out;
}
