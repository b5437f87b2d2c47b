/**
 * The fault campaign on real sockets (issue #7, part 4): `members`
 * memberlist nodes in one process, each on its own loopback address behind
 * a {@linkcode lossyTransport} dropping `lossRate` of the datagrams each
 * way. After the cluster converges, one member is paused for a short time
 * (below the minimum suspicion timeout: must not be declared dead), one for
 * a long time (past it: may be), and some crash (`shutdown()` without
 * leave: the sockets close, nothing is sent). The run counts outcomes —
 * who was declared dead by whom, how long each crash took to be seen dead
 * — rather than timing anything tightly; the wall clock only bounds the
 * waits.
 *
 * Not exported from `./testing` (it binds sockets); used by
 * `tests/cluster/lossy_sockets_test.ts` and `bench/campaign/`.
 *
 * @module
 */

import type { MemberlistConfig } from "../config.ts";
import { type MemberlistNode, startMemberlist } from "../memberlist_node.ts";
import type { TransportFactory } from "../transport.ts";
import { defaultTransport } from "../../transports/mod.ts";
import {
  lossyTransport,
  type LossyTransportFactory,
} from "./lossy_transport.ts";

/** Options of {@linkcode runLossySockets}. */
export interface LossySocketsOptions {
  /** Loopback hosts, one per member (their count is the cluster size). */
  hosts: readonly string[];
  /** Port every member binds on its own host. */
  port: number;
  /**
   * End-to-end datagram loss (default 0.2), as the simulator's `lossRate`:
   * each member's wrapper drops 1 − √(1 − lossRate) of what it sends and
   * of what it receives, so a datagram survives both with 1 − lossRate.
   */
  lossRate?: number;
  /** Seed of the loss draws (member i uses seed + i). */
  seed?: number;
  /** Config overrides (LAN profile underneath). */
  config?: Partial<MemberlistConfig>;
  /** Short pause (ms, default 2000). */
  shortPauseMs?: number;
  /** Long pause (ms, default 15000). */
  longPauseMs?: number;
  /** Members crashed (default 2, the last ones). */
  crashes?: number;
  /** Wall-clock limit of each wait (ms, default 40000). */
  waitMs?: number;
  /** Watch for late false deaths this long after everything settled (ms, default 3000). */
  settleMs?: number;
  /** Underlying transport (default: the runtime's native one). */
  transport?: TransportFactory;
}

/** A dead declaration seen on real sockets. */
export interface SocketDeath {
  /** Who declared it. */
  readonly observer: string;
  /** Who was declared dead. */
  readonly target: string;
  /** Wall ms since the faults started. */
  readonly atMs: number;
}

/** What a real-socket run saw. */
export interface LossySocketsResult {
  /** Names of the members, in host order. */
  readonly names: readonly string[];
  /** The short-paused member. */
  readonly shortPaused: string;
  /** The long-paused member. */
  readonly longPaused: string;
  /** The crashed members. */
  readonly crashed: readonly string[];
  /** Whether every member saw every member alive before the faults. */
  readonly converged: boolean;
  /** Wall ms from start to convergence. */
  readonly convergeMs: number;
  /** Per (crash, observer) detection times (wall ms), sorted. */
  readonly detectionsMs: readonly number[];
  /** Observers that did not see a crash dead within the wait. */
  readonly missedDetections: readonly string[];
  /** Whether the long-paused member came back alive everywhere. */
  readonly longPauseRecovered: boolean;
  /** Deaths of healthy or short-paused members declared by members other than the long-paused one. */
  readonly falseDeaths: readonly SocketDeath[];
  /** Deaths of the short-paused member (a subset of falseDeaths). */
  readonly shortPauseDeaths: number;
  /** Deaths of the long-paused member (legitimate). */
  readonly longPauseDeaths: number;
  /** Deaths declared by the long-paused member while cut off (its own view). */
  readonly isolatedDeaths: number;
  /** Datagrams that reached the wire and were then dropped by the receiver's draw. */
  readonly dropped: number;
  /** Datagrams sent (outbound draws made, paused members excluded). */
  readonly sent: number;
  /** Datagrams lost end to end (sender's or receiver's draw). */
  readonly lost: number;
  /** Failed probes, all members. */
  readonly suspicions: number;
  /** Refutations, all members. */
  readonly refutes: number;
  /** Wall ms of the whole run. */
  readonly wallMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(
  check: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Run the real-socket campaign once.
 *
 * @param options hosts, port, loss, config, pauses
 * @returns what happened
 */
export async function runLossySockets(
  options: LossySocketsOptions,
): Promise<LossySocketsResult> {
  const started = performance.now();
  const n = options.hosts.length;
  const names = options.hosts.map((_, i) => `m${i + 1}`);
  const lossRate = options.lossRate ?? 0.2;
  const seed = options.seed ?? 1;
  const waitMs = options.waitMs ?? 40_000;
  const crashCount = options.crashes ?? 2;
  const factories: LossyTransportFactory[] = [];
  const nodes: MemberlistNode[] = [];
  const deaths: SocketDeath[] = [];
  let faultStart = Number.POSITIVE_INFINITY;
  const pumps: Promise<void>[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const f = lossyTransport(options.transport ?? defaultTransport, {
        lossRate: 1 - Math.sqrt(1 - lossRate),
        seed: seed + i,
      });
      factories.push(f);
      const node = await startMemberlist({
        name: names[i],
        bind: { host: options.hosts[i], port: options.port },
        config: options.config,
        transport: f,
      });
      nodes.push(node);
      pumps.push((async () => {
        for await (const e of node.events()) {
          if (e.type === "leave" && e.member.state === "dead") {
            deaths.push({
              observer: names[i],
              target: e.member.name,
              atMs: performance.now() - faultStart,
            });
          }
        }
      })());
    }
    const seedAddr = `${options.hosts[0]}:${options.port}`;
    // Two join waves through one seed (SimCluster.bootstrap): the second
    // hands every member the seed's full table, so convergence does not wait
    // for lossy gossip or the 30 s push-pull.
    for (const wave of [1, 2]) {
      await Promise.all(nodes.slice(1).map((x) => x.join([seedAddr])));
      if (wave === 1) await sleep(500);
    }
    const aliveEverywhere = (live: readonly number[], who: readonly string[]) =>
      live.every((o) => {
        const view = new Map(nodes[o].members().map((m) => [m.name, m.state]));
        return who.every((x) => view.get(x) === "alive");
      });
    const all = names.map((_, i) => i);
    // Convergence under loss: transient suspicions come and go, so wait for
    // a moment when every view holds every member alive.
    const converged = await waitFor(() => aliveEverywhere(all, names), waitMs);
    const convergeMs = performance.now() - started;

    // Faults: member 2 short, member 3 long, the last `crashes` crash.
    const shortI = 1;
    const longI = 2;
    const crashI = all.slice(n - crashCount);
    const shortPauseMs = options.shortPauseMs ?? 2_000;
    const longPauseMs = options.longPauseMs ?? 15_000;
    faultStart = performance.now();
    deaths.length = 0; // deaths before the faults are join noise (none expected)
    factories[shortI].pause(shortPauseMs);
    factories[longI].pause(longPauseMs);
    const crashAt = new Map<string, number>();
    for (const i of crashI) {
      crashAt.set(names[i], performance.now() - faultStart);
      await nodes[i].shutdown();
    }
    const crashed = crashI.map((i) => names[i]);
    const observers = all.filter((i) => i !== longI && !crashI.includes(i));
    const seesCrashesDead = (): boolean =>
      observers.every((o) => {
        const view = new Map(nodes[o].members().map((m) => [m.name, m.state]));
        return crashed.every((x) => view.get(x) === "dead");
      });
    await waitFor(seesCrashesDead, waitMs);
    const detectionsMs: number[] = [];
    const missed: string[] = [];
    for (const o of observers) {
      for (const x of crashed) {
        const d = deaths.find((e) => e.observer === names[o] && e.target === x);
        if (d === undefined) missed.push(`${names[o]}→${x}`);
        else detectionsMs.push(d.atMs - crashAt.get(x)!);
      }
    }
    detectionsMs.sort((a, b) => a - b);
    // The long-paused member must come back: it refutes the death it
    // hears about itself, and every live member sees it alive again.
    await sleep(Math.max(0, faultStart + longPauseMs - performance.now()));
    const live = all.filter((i) => !crashI.includes(i));
    const liveNames = live.map((i) => names[i]);
    const longPauseRecovered = await waitFor(
      () => aliveEverywhere(live, liveNames),
      waitMs,
    );
    await sleep(options.settleMs ?? 3_000);
    const healthyTargets = new Set(
      names.filter((_, i) => i !== longI && !crashI.includes(i)),
    );
    const falseDeaths = deaths.filter((d) =>
      d.observer !== names[longI] && healthyTargets.has(d.target)
    );
    let suspicions = 0;
    let refutes = 0;
    for (const i of live) {
      const s = nodes[i].stats().memberlist;
      suspicions += s.probeFailures;
      refutes += s.refutes;
    }
    let dropped = 0;
    let sent = 0;
    let lost = 0;
    for (let i = 0; i < n; i++) {
      const s = factories[i].lossStats;
      dropped += s.droppedIn;
      sent += s.passedOut + s.droppedOut;
      lost += s.droppedOut + s.droppedIn;
    }
    return {
      names,
      shortPaused: names[shortI],
      longPaused: names[longI],
      crashed,
      converged,
      convergeMs,
      detectionsMs,
      missedDetections: missed,
      longPauseRecovered,
      falseDeaths,
      shortPauseDeaths: falseDeaths.filter((d) => d.target === names[shortI])
        .length,
      longPauseDeaths: deaths.filter((d) => d.target === names[longI]).length,
      isolatedDeaths: deaths.filter((d) => d.observer === names[longI]).length,
      dropped,
      sent,
      lost,
      suspicions,
      refutes,
      wallMs: performance.now() - started,
    };
  } finally {
    await Promise.all(nodes.map((x) => x.shutdown()));
    await Promise.all(pumps);
  }
}
