/**
 * Real clusters on real sockets: five members in this process on 127.0.80.1–5, each with its own
 * driver, timer and transport, talking over loopback UDP and TCP.
 *
 * Each test runs the whole life of a member once:
 *
 * 1. five members start and four join the first; every member sees five alive;
 * 2. one member crashes — `shutdown()` without `leave()`, which stops its timer and closes its
 *    sockets, so it answers nothing, exactly as a killed process;
 * 3. the four survivors mark it dead (memberlist) or failed (Serf) within {@linkcode DETECT_BOUND_MS};
 * 4. a new member with the same name and address starts and joins; every member sees it alive
 *    again with a higher incarnation than before the crash (it refuted the "dead" it learned by
 *    push-pull, memberlist's `refute`).
 *
 * One test drives bare memberlist members (`startMemberlist`) on the runtime's default transport
 * (Deno's or Bun's native sockets); the other drives Serf members (`startSerf`) on the
 * `node:dgram` + `node:net` adapter, so both adapters carry a real cluster on both runtimes.
 *
 * Timing: the "local" profile (probe timeout 200 ms, suspicion multiplier 3, max multiplier 6,
 * one indirect check) with the probe interval cut to 500 ms and the push-pull interval to 2 s.
 * The detection bound is computed from those numbers, not guessed (12 s worst case + 3 s slack,
 * see `DETECT_BOUND_MS`); each test takes 3–6 s, 10–15 s in the runs where a survivor waits out
 * its maximum suspicion.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { localConfig } from "../../src/config.ts";
import {
  type MemberlistNode,
  startMemberlist,
} from "../../src/memberlist_node.ts";
import { type SerfNode, startSerf } from "../../src/serf_node.ts";
import { suspicionTimeoutMs } from "../../src/memberlist/formulas.ts";
import { nodeTransport } from "../../transports/node.ts";
import { detectRuntime } from "../../transports/mod.ts";
import type { MemberState } from "../../src/types.ts";
import { pollUntil } from "../interop/serf_harness.ts";

const HOSTS = [1, 2, 3, 4, 5].map((i) => `127.0.80.${i}`);
const N = HOSTS.length;

/** The "local" profile's probe interval (1 s) halved to keep the crash test short. */
const PROBE_INTERVAL_MS = 500;
/**
 * The "local" profile's push-pull interval (15 s) cut to 2 s. Gossip alone may miss a member:
 * with retransmit multiplier 2 and five members an alive message is sent only twice by each
 * member that learns it (`retransmitMult × ceil(log10(n + 1))` = 2), so one member in five
 * misses it now and then and learns it at its next full-state sync, as in memberlist.
 */
const PUSH_PULL_INTERVAL_MS = 2000;
/** The overrides of the "local" profile used by every member here. */
const TUNING = {
  probeIntervalMs: PROBE_INTERVAL_MS,
  pushPullIntervalMs: PUSH_PULL_INTERVAL_MS,
};
const LOCAL = localConfig(TUNING);

/**
 * The longest a crash may take to be seen as dead by every survivor, from memberlist's rules:
 *
 * - each survivor probes its four peers in a shuffled round robin, so the crashed member is
 *   probed at the latest N probe intervals after the crash (2500 ms);
 * - that probe fails at the end of its interval (one more interval, 500 ms) and starts a
 *   suspicion whose timeout starts at its maximum, `suspicionMaxTimeoutMult × suspicionMult ×
 *   max(1, log10 N) × interval` = 6 × 3 × 1 × 500 = 9000 ms (Lifeguard shortens it to the
 *   1500 ms minimum after one independent confirmation, which normally comes at once);
 * - the dead message then spreads by gossip every 100 ms (well under one interval).
 *
 * That is 12,000 ms. The deadline adds 3000 ms of slack for a busy machine's late timers and for
 * Lifeguard's awareness, which stretches a survivor's probe interval when it misses a nack.
 * Typical detection on loopback is 2–4 s. In about one run in ten a survivor hears neither
 * another's suspicion nor the dead message (each is gossiped only twice per member, partly to
 * the crashed member itself) and waits out its own 9 s maximum: 10–12 s in all.
 */
const DETECT_BOUND_MS = N * PROBE_INTERVAL_MS + PROBE_INTERVAL_MS +
  LOCAL.suspicionMaxTimeoutMult *
    suspicionTimeoutMs(LOCAL.suspicionMult, N, PROBE_INTERVAL_MS) +
  3000;

/**
 * How long convergence may take after a join: the join's push-pull, then gossip, and for a
 * member that gossip missed, a periodic push-pull (memberlist runs the first one after a random
 * stagger plus one interval, so within two intervals), plus slack for a busy machine.
 */
const CONVERGE_MS = 2 * PUSH_PULL_INTERVAL_MS + 4000;

/** What a test needs of a member, whichever API started it. */
interface ClusterMember {
  /** Node name. */
  name: string;
  /** `name → state` as this member sees everyone (dead/failed normalized to "dead"). */
  view(): Map<string, { state: MemberState; incarnation: number }>;
  /** Join through `seed` ("IP:PORT"). */
  join(seed: string): Promise<number>;
  /** Stop without leaving: a crash. */
  crash(): Promise<void>;
}

function memberlistMember(node: MemberlistNode, name: string): ClusterMember {
  return {
    name,
    view: () =>
      new Map(
        node.members().map((m) => [m.name, {
          state: m.state,
          incarnation: m.incarnation,
        }]),
      ),
    join: (seed) => node.join([seed]),
    crash: () => node.shutdown(),
  };
}

function serfMember(node: SerfNode, name: string): ClusterMember {
  return {
    name,
    view: () => {
      // Serf's status says alive/failed; memberlist's view below it holds the incarnation.
      const inc = new Map(
        node.machine.memberlist.members().map((m) => [m.name, m.incarnation]),
      );
      const state = (s: string): MemberState =>
        s === "alive" ? "alive" : s === "failed" ? "dead" : "left";
      return new Map(
        node.members().map((m) => [m.name, {
          state: state(m.status),
          incarnation: inc.get(m.name) ?? -1,
        }]),
      );
    },
    join: (seed) => node.join([seed]),
    crash: () => node.shutdown(),
  };
}

/** Every member sees `name` in state `want` (and the predicate on its incarnation holds). */
function allSee(
  members: readonly ClusterMember[],
  name: string,
  want: MemberState,
  incarnationOk: (inc: number) => boolean = () => true,
): true | undefined {
  for (const m of members) {
    const v = m.view().get(name);
    if (v === undefined || v.state !== want || !incarnationOk(v.incarnation)) {
      return undefined;
    }
  }
  return true;
}

/** Every member sees all of `names` alive. */
function converged(
  members: readonly ClusterMember[],
  names: readonly string[],
): true | undefined {
  for (const n of names) if (allSee(members, n, "alive") === undefined) return;
  return true;
}

function describe(members: readonly ClusterMember[]): string {
  return members.map((m) =>
    `${m.name}: ${
      [...m.view()].map(([n, v]) => `${n}=${v.state}/${v.incarnation}`).join(
        " ",
      )
    }`
  ).join("\n");
}

/**
 * The scenario shared by both tests: converge, crash the last member, detect, restart, rejoin.
 *
 * @param start Starts member `i` (0-based) on `HOSTS[i]`.
 * @param port The port every member binds.
 */
async function crashAndRejoin(
  start: (i: number) => Promise<ClusterMember>,
  port: number,
): Promise<void> {
  const members: ClusterMember[] = [];
  try {
    for (let i = 0; i < N; i++) members.push(await start(i));
    const seed = `${HOSTS[0]}:${port}`;
    for (const m of members.slice(1)) assert.equal(await m.join(seed), 1);
    const names = members.map((m) => m.name);
    await pollUntil(
      `all ${N} members to see ${N} alive`,
      () => converged(members, names),
      { timeoutMs: CONVERGE_MS },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${describe(members)}`);
    });

    const victim = members[N - 1];
    const survivors = members.slice(0, N - 1);
    const before = Math.max(
      ...survivors.map((m) => m.view().get(victim.name)!.incarnation),
    );
    await victim.crash();
    await pollUntil(
      `every survivor to see ${victim.name} dead within ${DETECT_BOUND_MS} ms`,
      () => allSee(survivors, victim.name, "dead"),
      { timeoutMs: DETECT_BOUND_MS },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${describe(survivors)}`);
    });
    // No survivor was taken down with it.
    assert.ok(converged(survivors, survivors.map((m) => m.name)));

    // The same name and address come back as a new member with fresh state.
    members[N - 1] = await start(N - 1);
    assert.equal(await members[N - 1].join(seed), 1);
    await pollUntil(
      `every member to see ${victim.name} alive above incarnation ${before}`,
      () =>
        converged(members, names) &&
        allSee(members, victim.name, "alive", (inc) => inc > before),
      { timeoutMs: CONVERGE_MS },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${describe(members)}`);
    });
  } finally {
    await Promise.allSettled(members.map((m) => m.crash()));
  }
}

test(
  `memberlist: 5 members on the ${detectRuntime()} transport converge, detect a crash, re-admit the restarted member`,
  { timeout: 45_000 },
  async () => {
    const port = 7946;
    await crashAndRejoin(async (i) => {
      const name = `m${i + 1}`;
      const node = await startMemberlist({
        name,
        bind: `${HOSTS[i]}:${port}`,
        profile: "local",
        config: TUNING,
      });
      assert.equal(node.transportName, detectRuntime());
      return memberlistMember(node, name);
    }, port);
  },
);

test(
  "serf: 5 members on the node:* transport converge, mark a crash failed, re-admit the restarted member",
  { timeout: 45_000 },
  async () => {
    const port = 7947;
    await crashAndRejoin(async (i) => {
      const name = `s${i + 1}`;
      const node = await startSerf({
        name,
        bind: `${HOSTS[i]}:${port}`,
        profile: "local",
        config: { memberlist: TUNING },
        transport: nodeTransport,
      });
      assert.equal(node.transportName, "node");
      return serfMember(node, name);
    }, port);
  },
);
