/**
 * The six measurements of issue #7, each run against one {@linkcode Cluster}
 * through the agent RPC only, the same way for serf and for ours: the bench
 * sends through an agent's RPC and times what every agent's event stream
 * delivers, stamped in the bench process on receipt.
 *
 * Both agents coalesce member events for their streams the way Serf's agent
 * does (coalesce period 3 s, quiescent period 1 s, serf `command/agent`),
 * so member-failed and member-join times include up to that wait, on both
 * sides alike. User events sent with coalesce=false are not coalesced.
 *
 * @module
 */

import type { EventRecord } from "../../src/codec/rpc.ts";
import {
  type AgentProc,
  type Cluster,
  delay,
  waitFor,
  withTimeout,
} from "./cluster.ts";
import { hostOf } from "./launch.ts";
import { cpuMs, rssKiB } from "./proc.ts";

const ENC = new TextEncoder();
const DEC = new TextDecoder();

/** Dissemination rounds at one size. */
export interface DisseminationResult {
  /** Cluster size. */
  size: number;
  /** Wall ms from the `event` call until the last agent's stream had it, complete rounds only. */
  latenciesMs: number[];
  /** Rounds in which every agent got the event in time. */
  complete: number;
  /** Rounds sent. */
  rounds: number;
}

/**
 * User-event dissemination: `rounds` events (coalesce=false) from a rotating
 * member, each timed until every agent's stream delivered it.
 *
 * @param c the cluster
 * @param options rounds and per-round deadline
 * @returns the latencies
 */
export async function dissemination(
  c: Cluster,
  options: { rounds: number; timeoutMs: number },
): Promise<DisseminationResult> {
  const n = c.members.length;
  const res: DisseminationResult = {
    size: n,
    latenciesMs: [],
    complete: 0,
    rounds: options.rounds,
  };
  for (let r = 0; r < options.rounds; r++) {
    const origin = c.members[(r * 7 + 1) % n];
    const tag = `${c.impl}-${n}-${r}-${Date.now()}`;
    const got = new Map<string, number>();
    const off = c.listen((a, rec, t) => {
      if (isUser(rec, "vs-bench", tag) && !got.has(a.name)) got.set(a.name, t);
    });
    const t0 = performance.now();
    try {
      await withTimeout(
        origin.client!.userEvent("vs-bench", ENC.encode(tag), false),
        5000,
      );
      await waitFor(
        "all streams to deliver the event",
        () => got.size >= n ? true : undefined,
        {
          timeoutMs: options.timeoutMs,
          intervalMs: 5,
        },
      );
      res.latenciesMs.push(Math.max(...got.values()) - t0);
      res.complete++;
    } catch {
      const missing = c.members.filter((m) => !got.has(m.name)).map((m) =>
        m.name
      );
      console.error(
        `  ${c.impl} n=${n} round ${r}: ${got.size}/${n} in ${options.timeoutMs} ms; missing ${
          missing.join(" ")
        }`,
      );
    } finally {
      off();
    }
    // Decorrelate the send time from the agents' 200 ms gossip ticks.
    await delay(300 + Math.random() * 300);
  }
  return res;
}

function isUser(rec: EventRecord, name: string, tag?: string): boolean {
  return rec.event === "user" && rec.name === name &&
    (tag === undefined ||
      (rec.payload !== null && DEC.decode(rec.payload) === tag));
}

function isMemberEvent(rec: EventRecord, kind: string, node: string): boolean {
  return rec.event === kind && "members" in rec &&
    rec.members.some((m) => m.name === node);
}

/** One crash: when the others' streams reported member-failed. */
export interface CrashResult {
  /** Cluster size. */
  size: number;
  /** The killed member. */
  victim: string;
  /** ms from kill -9 to each reporting member's member-failed, sorted. */
  detectMs: number[];
  /** Members expected to report. */
  observers: number;
  /** ms from the restart until every other member's stream showed it joined again. */
  rejoinMs: number;
}

/**
 * Crash detection: kill -9 a member, time every other member's
 * member-failed, restart it and wait until it is back everywhere.
 *
 * @param c the cluster
 * @param options repeats and deadlines
 * @returns one result per repeat
 */
export async function crash(
  c: Cluster,
  options: { repeats: number; timeoutMs: number },
): Promise<CrashResult[]> {
  const out: CrashResult[] = [];
  const n = c.members.length;
  for (let r = 0; r < options.repeats; r++) {
    const victim = c.members[n - 1 - (r % (n - 1))];
    const others = c.members.filter((m) => m !== victim);
    const failed = new Map<string, number>();
    const off = c.listen((a, rec, t) => {
      if (a !== victim && isMemberEvent(rec, "member-failed", victim.name)) {
        if (!failed.has(a.name)) failed.set(a.name, t);
      }
    });
    const t0 = performance.now();
    victim.disconnect();
    victim.signal("SIGKILL");
    try {
      await waitFor(
        `every member to report ${victim.name} failed`,
        () => failed.size >= others.length ? true : undefined,
        {
          timeoutMs: options.timeoutMs,
          intervalMs: 20,
        },
      );
    } catch (e) {
      console.error(
        `  ${(e as Error).message}: ${failed.size}/${others.length}`,
      );
    } finally {
      off();
    }
    await victim.waitExit(5000);
    const rejoinMs = await restartAndRejoin(c, victim, options.timeoutMs);
    out.push({
      size: n,
      victim: victim.name,
      detectMs: [...failed.values()].map((t) => t - t0).sort((a, b) => a - b),
      observers: others.length,
      rejoinMs,
    });
    await delay(2000);
  }
  return out;
}

// Start the victim again (same name, address and seed) and wait until every
// other member's stream shows member-join for it and the cluster converged.
async function restartAndRejoin(
  c: Cluster,
  victim: AgentProc,
  timeoutMs: number,
): Promise<number> {
  const others = c.members.filter((m) => m !== victim);
  const joined = new Map<string, number>();
  const off = c.listen((a, rec, t) => {
    if (a !== victim && isMemberEvent(rec, "member-join", victim.name)) {
      if (!joined.has(a.name)) joined.set(a.name, t);
    }
  });
  const t0 = performance.now();
  try {
    await victim.start(60_000);
    await waitFor(
      `every member to see ${victim.name} join again`,
      () => joined.size >= others.length ? true : undefined,
      {
        timeoutMs,
        intervalMs: 20,
      },
    );
    const ms = performance.now() - t0;
    if (ms > 5000) {
      const last = [...joined].sort((a, b) => b[1] - a[1])[0];
      console.error(
        `  ${c.impl}: ${victim.name} back everywhere only after ${
          ms.toFixed(0)
        } ms (last: ${last[0]}, log ${
          others.find((m) => m.name === last[0])?.logPath
        })`,
      );
    }
    await c.converge(timeoutMs);
    return ms;
  } catch (e) {
    console.error(`  ${(e as Error).message}: ${joined.size}/${others.length}`);
    await explainMissing(others, joined, victim.name);
    return NaN;
  } finally {
    off();
  }
}

/** One pause. */
export interface PauseResult {
  /** Cluster size. */
  size: number;
  /** How long the member was stopped. */
  pauseS: number;
  /** Member-failed records about it on the others' streams (coalesced). */
  failedOnStreams: number;
  /** "EventMemberFailed: NAME" lines in the others' logs (Serf's, uncoalesced). */
  failedInLogs: number;
  /** "Refuting a suspect message" lines in the paused member's log. */
  refuteSuspect: number;
  /** "Refuting a dead message" lines in the paused member's log. */
  refuteDead: number;
  /** Whether every member listed it alive afterwards. */
  aliveEverywhere: boolean;
  /** ms from SIGCONT until every member listed it alive. */
  aliveAfterMs: number;
}

/**
 * Pause: SIGSTOP a member, SIGCONT it after each duration, then count false
 * failures and refutations and check it is alive everywhere.
 *
 * @param c the cluster
 * @param options pause lengths (s), how long to watch after SIGCONT, deadline
 * @returns one result per pause
 */
export async function pause(
  c: Cluster,
  options: { pausesS: number[]; watchMs: number; timeoutMs: number },
): Promise<PauseResult[]> {
  const out: PauseResult[] = [];
  const n = c.members.length;
  const victim = c.members[Math.floor(n / 2)];
  const others = c.members.filter((m) => m !== victim);
  const failedRe = new RegExp(`EventMemberFailed: ${victim.name}\\b`, "g");
  for (const s of options.pausesS) {
    const offsets = new Map(c.members.map((m) => [m.name, m.logSize()]));
    let failedOnStreams = 0;
    const off = c.listen((a, rec) => {
      if (a !== victim && isMemberEvent(rec, "member-failed", victim.name)) {
        failedOnStreams++;
      }
    });
    victim.signal("SIGSTOP");
    await delay(s * 1000);
    victim.signal("SIGCONT");
    const tCont = performance.now();
    let aliveAfterMs = NaN;
    let lagging: string[] = [];
    let lastLagging: string[] = [];
    try {
      await waitFor(`every member to list ${victim.name} alive`, async () => {
        const lists = await Promise.all(others.map((m) => m.members()));
        lagging = others.filter((_, i) =>
          !lists[i]?.some((m) => m.name === victim.name && m.status === "alive")
        ).map((m) => m.name);
        if (lagging.length > 0) lastLagging = lagging;
        return lagging.length === 0 ? true : undefined;
      }, { timeoutMs: options.timeoutMs, intervalMs: 250 });
      aliveAfterMs = performance.now() - tCont;
    } catch (e) {
      console.error(
        `  ${(e as Error).message}: not yet at ${lagging.join(" ")}`,
      );
    }
    if (aliveAfterMs > 5000) {
      console.error(
        `  ${c.impl} pause ${s} s: ${victim.name} alive everywhere only after ${
          aliveAfterMs.toFixed(0)
        } ms (last to list it: ${lastLagging.join(" ")})`,
      );
    }
    // Keep watching: a member-failed can reach a stream after the refutation.
    await delay(options.watchMs - (performance.now() - tCont));
    off();
    const victimLog = victim.logFrom(offsets.get(victim.name));
    out.push({
      size: n,
      pauseS: s,
      failedOnStreams,
      failedInLogs: others.reduce(
        (sum, m) =>
          sum + (m.logFrom(offsets.get(m.name)).match(failedRe)?.length ?? 0),
        0,
      ),
      refuteSuspect: victimLog.match(/Refuting a suspect message/g)?.length ??
        0,
      refuteDead: victimLog.match(/Refuting a dead message/g)?.length ?? 0,
      aliveEverywhere: !Number.isNaN(aliveAfterMs),
      aliveAfterMs,
    });
    await c.converge(options.timeoutMs).catch((e) =>
      console.error(`  ${(e as Error).message}`)
    );
    await delay(3000);
  }
  return out;
}

/** CPU and RSS of every member over a window. */
export interface UsageResult {
  /** Cluster size. */
  size: number;
  /** Window length. */
  windowS: number;
  /** CPU ms per wall s, one per member. */
  cpuMsPerS: number[];
  /** Mean RSS over the window (MiB), one per member. */
  rssMeanMiB: number[];
  /** Largest RSS sample (MiB), one per member. */
  rssMaxMiB: number[];
  /** User events sent during the window (load only). */
  sent: number;
  /** Fraction of (sent × members) deliveries seen on the streams (load only). */
  delivered: number;
}

/**
 * CPU and RSS of every member over `windowS`, while `during` runs.
 *
 * @param c the cluster
 * @param windowS window length
 * @returns per-member figures
 */
async function usage(c: Cluster, windowS: number): Promise<UsageResult> {
  const pids = c.members.map((m) => m.pid);
  const rss = pids.map(() => [] as number[]);
  const cpu0 = pids.map(cpuMs);
  const t0 = performance.now();
  const end = t0 + windowS * 1000;
  for (let next = t0; next < end; next += 1000) {
    pids.forEach((p, i) => rss[i].push(rssKiB(p) / 1024));
    await delay(Math.min(next + 1000, end) - performance.now());
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu1 = pids.map(cpuMs);
  return {
    size: c.members.length,
    windowS: wallS,
    cpuMsPerS: pids.map((_, i) => (cpu1[i] - cpu0[i]) / wallS),
    rssMeanMiB: rss.map((s) => s.reduce((a, b) => a + b, 0) / s.length),
    rssMaxMiB: rss.map((s) => Math.max(...s)),
    sent: 0,
    delivered: NaN,
  };
}

/**
 * Idle cost: wait `settleS`, then CPU and RSS of every member over `windowS`.
 *
 * @param c the cluster
 * @param options settle and window (s)
 * @returns per-member figures
 */
export async function idle(
  c: Cluster,
  options: { settleS: number; windowS: number },
): Promise<UsageResult> {
  await delay(options.settleS * 1000);
  return await usage(c, options.windowS);
}

/**
 * Cost under load: user events at `rate` per second, round-robin over the
 * members' RPC, for `windowS`; CPU and RSS of every member over the window.
 *
 * @param c the cluster
 * @param options rate (events/s), window (s), drain after (ms)
 * @returns per-member figures and delivery
 */
export async function load(
  c: Cluster,
  options: { rate: number; windowS: number; drainMs: number },
): Promise<UsageResult> {
  const n = c.members.length;
  let received = 0;
  const off = c.listen((_a, rec) => {
    if (isUser(rec, "vs-load")) received++;
  });
  let sent = 0;
  let stop = false;
  const sender = (async () => {
    const t0 = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; !stop; i++) {
      await delay(t0 + (i * 1000) / options.rate - performance.now());
      if (stop) break;
      if (inFlight.size >= 64) continue; // an agent stalls: do not pile up
      const p = withTimeout(
        c.members[i % n].client!.userEvent(
          "vs-load",
          ENC.encode(`${i}`),
          false,
        ),
        5000,
      )
        .then(() => void sent++, () => {})
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  })();
  const u = await usage(c, options.windowS);
  stop = true;
  await sender;
  await delay(options.drainMs);
  off();
  return { ...u, sent, delivered: received / Math.max(1, sent * n) };
}

/** One join of a fresh agent. */
export interface JoinResult {
  /** Cluster size before the join. */
  size: number;
  /** ms of the RPC `join` call (push-pull with the seed). */
  joinCallMs: number;
  /** ms from the call until every member's stream showed member-join. */
  allSeenMs: number;
  /** Members whose stream showed it. */
  seenBy: number;
}

/**
 * Join time: start a fresh agent without `-join`, then time its RPC `join`
 * to a member and the member-join on every member's stream; it leaves after.
 *
 * @param c the cluster
 * @param options repeats, first joiner address index, deadline
 * @returns one result per repeat
 */
export async function join(
  c: Cluster,
  options: { repeats: number; nextJoiner: () => number; timeoutMs: number },
): Promise<JoinResult[]> {
  const out: JoinResult[] = [];
  const n = c.members.length;
  for (let r = 0; r < options.repeats; r++) {
    const k = options.nextJoiner();
    const joiner = c.agent({
      name: `join-${c.impl}-${k}`,
      host: hostOf("joiner", k),
    });
    c.extras.push(joiner);
    const seen = new Map<string, number>();
    const off = c.listen((a, rec, t) => {
      if (a !== joiner && isMemberEvent(rec, "member-join", joiner.name)) {
        if (!seen.has(a.name)) seen.set(a.name, t);
      }
    });
    try {
      await joiner.start(60_000);
      const seed = c.members[(r * 5) % n];
      const t0 = performance.now();
      await withTimeout(joiner.client!.join([seed.gossipAddr], false), 15_000);
      const joinCallMs = performance.now() - t0;
      let allSeenMs = NaN;
      try {
        await waitFor(
          `every member to see ${joiner.name} join`,
          () => seen.size >= n ? true : undefined,
          {
            timeoutMs: options.timeoutMs,
            intervalMs: 20,
          },
        );
        allSeenMs = Math.max(...seen.values()) - t0;
      } catch (e) {
        console.error(`  ${(e as Error).message}: ${seen.size}/${n}`);
        await explainMissing(c.members, seen, joiner.name);
      }
      out.push({ size: n, joinCallMs, allSeenMs, seenBy: seen.size });
    } finally {
      off();
      await leaveAndStop(joiner);
    }
    await delay(2000);
  }
  return out;
}

// Why a member's stream never showed an event: does it list the node at all?
async function explainMissing(
  members: readonly AgentProc[],
  seen: Map<string, number>,
  node: string,
): Promise<void> {
  for (const m of members.filter((x) => !seen.has(x.name))) {
    const list = await m.members();
    const st = list?.find((x) => x.name === node)?.status ?? "absent";
    console.error(
      `    ${m.name}: no event on its stream; its members lists ${node} as ${
        list === null ? "(RPC failed)" : st
      }; log ${m.logPath}`,
    );
  }
}

async function leaveAndStop(a: AgentProc): Promise<void> {
  try {
    if (a.client !== null) await withTimeout(a.client.leave(), 10_000);
  } catch {
    // Stopped below either way.
  }
  await a.waitExit(5000);
  await a.stop();
}
