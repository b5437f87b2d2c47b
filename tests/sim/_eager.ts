// Measurements of eager gossip (config `eagerGossip`) and of the idle gossip
// timer, in the simulator's virtual time (used by eager_gossip_test.ts; run
// directly to print every figure):
//
//   deno run -A tests/sim/_eager.ts        # or: bun tests/sim/_eager.ts
//
// - spread: time until a Serf user event, or a memberlist alive (a meta
//   update), has reached every member, with the number of times it was
//   transmitted (summed over all members, counted on the wire);
// - load: packets and bytes a second per member under a steady stream of
//   user events;
// - idle: timer wake-ups (deadline firings) a second per member once the
//   cluster is quiet.
import { type Inbound, openPacket } from "../../src/memberlist/wire.ts";
import type { Transmit } from "../../src/machine.ts";
import type { Memberlist } from "../../src/memberlist/memberlist.ts";
import type { MemberlistConfig } from "../../src/config.ts";
import type { Serf } from "../../src/serf/serf.ts";
import {
  memberlistCluster,
  startConverged,
} from "../../src/testing/memberlist_sim.ts";
import { derivePrng } from "../../src/testing/prng.ts";
import type { SimCluster } from "../../src/testing/sim_cluster.ts";
import { recordEvents, serfCluster } from "../serf/_harness.ts";

/** A link of 0–1 ms one-way delay (the LAN of the brief). */
export const FAST_LINK = { latencyMs: 0, jitterMs: 1 };

const ENCODER = new TextEncoder();

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

// Wrap each member's pollTransmit to show `see` the messages of every
// packet it sends (after the CRC and compression are undone).
function tapPackets<M extends { pollTransmit(): Transmit | undefined }>(
  c: { names(): string[]; machine(name: string): M | null },
  see: (msg: Inbound, sender: string) => void,
): void {
  for (const name of c.names()) {
    const m = c.machine(name);
    if (m === null) continue;
    const poll = m.pollTransmit.bind(m);
    m.pollTransmit = (): Transmit | undefined => {
      const t = poll();
      if (t?.kind === "packet") {
        for (const msg of openPacket(t.bytes, () => {})) see(msg, name);
      }
      return t;
    };
  }
}

// Count one transmission of `key` by `sender`.
function count(
  sent: Map<string, Map<string, number>>,
  key: string,
  sender: string,
): void {
  let bySender = sent.get(key);
  if (bySender === undefined) sent.set(key, bySender = new Map());
  bySender.set(sender, (bySender.get(sender) ?? 0) + 1);
}

/** `eagerGossip` on or off, or any memberlist overrides. */
export type Mode = boolean | Partial<MemberlistConfig>;

function overrides(mode: Mode): Partial<MemberlistConfig> {
  return typeof mode === "boolean" ? { eagerGossip: mode } : mode;
}

/** One dissemination measurement. */
export interface Spread {
  /** ms from the send until the last member had it, per broadcast. */
  readonly fullMs: number[];
  /** Transmissions of each broadcast, summed over all members. */
  readonly transmits: number[];
  /**
   * Transmissions of each broadcast by each member that sent it at all
   * (memberlist's transmit limit: each should be exactly L).
   */
  readonly perSender: number[][];
  /** Members that had each broadcast (should be all). */
  readonly reached: number[];
}

function record(out: Spread, bySender?: Map<string, number>): void {
  const counts = [...(bySender ?? new Map<string, number>()).values()];
  out.transmits.push(counts.reduce((a, b) => a + b, 0));
  out.perSender.push(counts);
}

/**
 * Send `events` Serf user events, one at a time from random members of a
 * joined `n`-member cluster, and time each to the last member.
 *
 * @param n members
 * @param seed master seed
 * @param eager config `eagerGossip` (or memberlist overrides)
 * @param events events
 * @returns per-event figures
 */
export function userEventSpread(
  n: number,
  seed: number,
  eager: Mode,
  events = 3,
): Spread {
  const c = serfCluster({
    seed,
    config: { memberlist: overrides(eager) },
    network: FAST_LINK,
    checkers: [],
  });
  c.start(n);
  c.joinAll();
  c.runUntil(() => c.convergence().length === 0, 120_000, 500);
  // Let the join intents and alives drain, so each event travels alone.
  c.run(30_000);
  const log = recordEvents(c);
  const sent = new Map<string, Map<string, number>>();
  const names = new Map<string, Uint8Array>();
  tapPackets(c, (msg, sender) => {
    if (msg.type !== "user") return;
    for (const [name, bytes] of names) {
      if (contains(msg.payload, bytes)) count(sent, name, sender);
    }
  });
  const r = derivePrng(seed, "eager").fn();
  const out: Spread = {
    fullMs: [],
    transmits: [],
    perSender: [],
    reached: [],
  };
  const members = c.names();
  for (let i = 0; i < events; i++) {
    // A random point of the gossip ticks' phase, as real events arrive.
    c.run(Math.floor(r() * 1_000));
    const name = `eager-event-${seed}-${i}`;
    names.set(name, ENCODER.encode(name));
    const from = members[Math.floor(r() * n)];
    const t0 = c.nowMs;
    c.invoke(from, (s, now) => s.userEvent(name, null, false, now));
    const got = (): number => {
      let k = 0;
      for (const m of members) {
        if (
          (log.get(m) ?? []).some((x) =>
            x.e.type === "user" && x.e.name === name
          )
        ) k++;
      }
      return k;
    };
    c.runUntil(() => got() === n, 30_000, 1);
    let last = t0;
    for (const m of members) {
      for (const x of log.get(m) ?? []) {
        if (x.e.type === "user" && x.e.name === name) {
          last = Math.max(last, x.at);
          break;
        }
      }
    }
    out.fullMs.push(last - t0);
    out.reached.push(got());
    // Until every member has used up its transmits of it.
    c.run(15_000);
    record(out, sent.get(name));
  }
  c.finish();
  return out;
}

/**
 * Change the meta of random members of a converged `n`-member memberlist
 * cluster (memberlist UpdateNode: an alive at a higher incarnation) and
 * time each alive to the last member.
 *
 * @param n members
 * @param seed master seed
 * @param eager config `eagerGossip` (or memberlist overrides)
 * @param updates updates
 * @returns per-update figures
 */
export function aliveSpread(
  n: number,
  seed: number,
  eager: Mode,
  updates = 3,
): Spread {
  const metas = new Map<string, Uint8Array>();
  const c = memberlistCluster({
    seed,
    config: overrides(eager),
    network: FAST_LINK,
    checkers: "none",
    trace: false,
    delegateFor: (name) => ({
      nodeMeta: () => metas.get(name) ?? new Uint8Array(0),
    }),
  });
  startConverged(c, n);
  c.run(10_000);
  const sent = new Map<string, Map<string, number>>();
  tapPackets(c, (msg, sender) => {
    if (msg.type !== "alive") return;
    count(sent, `${msg.msg.node}#${msg.msg.incarnation}`, sender);
  });
  const r = derivePrng(seed, "eager").fn();
  const out: Spread = {
    fullMs: [],
    transmits: [],
    perSender: [],
    reached: [],
  };
  const members = c.names();
  for (let i = 0; i < updates; i++) {
    c.run(Math.floor(r() * 1_000));
    const from = members[Math.floor(r() * n)];
    const got = new Map<string, number>();
    const off = c.onEvent((who, e, t) => {
      if (
        e.type === "update" && e.member.name === from && who !== from &&
        !got.has(who)
      ) {
        got.set(who, t);
      }
    });
    metas.set(from, new Uint8Array(8).fill(i + 1));
    const t0 = c.nowMs;
    let incarnation = 0;
    c.invoke(from, (m: Memberlist, now) => {
      m.updateMeta(now);
      incarnation = m.localMember().incarnation;
    });
    c.runUntil(() => got.size === n - 1, 30_000, 1);
    off();
    out.fullMs.push(Math.max(t0, ...got.values()) - t0);
    out.reached.push(got.size + 1);
    c.run(15_000);
    record(out, sent.get(`${from}#${incarnation}`));
  }
  c.finish();
  return out;
}

/** Traffic per member under load. */
export interface Load {
  /** Packets sent a second, per member. */
  readonly packetsPerSecond: number;
  /** Bytes sent a second, per member. */
  readonly bytesPerSecond: number;
  /** Share of (event, member) pairs delivered. */
  readonly delivered: number;
  /** Median ms from an event's send until the last member had it. */
  readonly fullMsP50: number;
  /** Slowest event to reach the last member (ms). */
  readonly fullMsMax: number;
}

/**
 * `ratePerSecond` Serf user events a second from random members for
 * `seconds`, then the traffic each member sent, a second.
 *
 * @param n members
 * @param seed master seed
 * @param eager config `eagerGossip` (or memberlist overrides)
 * @param ratePerSecond events a second (cluster-wide)
 * @param seconds load duration
 * @returns traffic and delivery
 */
export function loadTraffic(
  n: number,
  seed: number,
  eager: Mode,
  ratePerSecond = 50,
  seconds = 10,
): Load {
  const c = serfCluster({
    seed,
    config: { memberlist: overrides(eager) },
    network: FAST_LINK,
    checkers: [],
  });
  c.start(n);
  c.joinAll();
  c.runUntil(() => c.convergence().length === 0, 120_000, 500);
  c.run(30_000);
  const log = recordEvents(c);
  const members = c.names();
  const totals = (): { packets: number; bytes: number } => {
    let packets = 0, bytes = 0;
    for (const m of members) {
      const s = (c.machine(m) as Serf).memberlist.stats();
      packets += s.packetsOut;
      bytes += s.bytesOut;
    }
    return { packets, bytes };
  };
  const before = totals();
  const r = derivePrng(seed, "load").fn();
  const gapMs = 1_000 / ratePerSecond;
  const events = ratePerSecond * seconds;
  const sentAt = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const from = members[Math.floor(r() * n)];
    sentAt.set(`load-${i}`, c.nowMs);
    c.invoke(from, (s, now) => s.userEvent(`load-${i}`, null, false, now));
    c.run(gapMs);
  }
  const after = totals();
  c.run(30_000);
  let delivered = 0;
  const lastAt = new Map<string, number>();
  for (const m of members) {
    const seen = new Set<string>();
    for (const x of log.get(m) ?? []) {
      if (x.e.type !== "user" || seen.has(x.e.name)) continue;
      seen.add(x.e.name);
      lastAt.set(x.e.name, Math.max(lastAt.get(x.e.name) ?? 0, x.at));
    }
    delivered += seen.size;
  }
  const full = [...sentAt].map(([name, t0]) => (lastAt.get(name) ?? t0) - t0);
  c.finish();
  return {
    packetsPerSecond: (after.packets - before.packets) / n / seconds,
    bytesPerSecond: (after.bytes - before.bytes) / n / seconds,
    delivered: delivered / (events * n),
    fullMsP50: median(full),
    fullMsMax: Math.max(...full),
  };
}

/**
 * Timer wake-ups (deadline firings handed to machines) a second per member
 * in a quiet cluster: `layer` "serf" joins through the protocol, then waits
 * 60 s for the join broadcasts to drain; "memberlist" starts converged.
 *
 * @param layer Serf or bare memberlist
 * @param n members
 * @param seed master seed
 * @param eager config `eagerGossip` (or memberlist overrides)
 * @param seconds measured window
 * @returns wake-ups a second per member
 */
export function idleWakeups(
  layer: "serf" | "memberlist",
  n: number,
  seed: number,
  eager: Mode = true,
  seconds = 120,
): number {
  let c: SimCluster<Serf, unknown> | SimCluster<Memberlist, unknown>;
  if (layer === "serf") {
    const s = serfCluster({
      seed,
      config: { memberlist: overrides(eager) },
      checkers: [],
    });
    s.start(n);
    s.joinAll();
    c = s as unknown as SimCluster<Serf, unknown>;
  } else {
    const m = memberlistCluster({
      seed,
      config: overrides(eager),
      checkers: "none",
      trace: false,
    });
    startConverged(m, n);
    c = m as unknown as SimCluster<Memberlist, unknown>;
  }
  c.run(60_000);
  const t0 = c.networkStats().timers;
  c.run(seconds * 1_000);
  const wakeups = c.networkStats().timers - t0;
  c.finish();
  return wakeups / n / seconds;
}

/** The median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The `q`-quantile of `xs` (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Every spread of `kind` for `n` members over `seeds`, merged. */
export function spreads(
  kind: "user event" | "alive",
  n: number,
  seeds: readonly number[],
  eager: Mode,
): Spread {
  const all: Spread = { fullMs: [], transmits: [], perSender: [], reached: [] };
  for (const seed of seeds) {
    const s = kind === "alive"
      ? aliveSpread(n, seed, eager)
      : userEventSpread(n, seed, eager);
    all.fullMs.push(...s.fullMs);
    all.transmits.push(...s.transmits);
    all.perSender.push(...s.perSender);
    all.reached.push(...s.reached);
  }
  return all;
}

if (import.meta.main) {
  const seeds = [1, 2, 3, 4, 5];
  for (const kind of ["user event", "alive"] as const) {
    for (const n of [8, 32, 64]) {
      const row: string[] = [];
      for (const eager of [false, true]) {
        const s = spreads(kind, n, seeds, eager);
        const per = s.perSender.flat();
        row.push(
          `eager ${eager ? "on " : "off"}: to 100 % p50 ${
            quantile(s.fullMs, 0.5)
          } ms, p90 ${quantile(s.fullMs, 0.9)} ms, max ${
            Math.max(...s.fullMs)
          } ms (${
            s.fullMs.filter((x) => x > 2_000).length
          } repaired by push-pull); transmissions/broadcast mean ${
            (s.transmits.reduce((a, b) => a + b, 0) / s.transmits.length)
              .toFixed(1)
          }, per sender ${Math.min(...per)}–${Math.max(...per)}; reached ${
            s.reached.reduce((a, b) => a + b, 0)
          }/${s.reached.length * n}`,
        );
      }
      console.log(
        `${kind}, n=${n}, ${seeds.length} seeds × 3:\n  ${row.join("\n  ")}`,
      );
    }
  }
  for (const n of [16, 32]) {
    for (const mode of [false, true, { eagerGossipMinIntervalMs: 50 }]) {
      const l = loadTraffic(n, 1, mode);
      console.log(
        `load 50 events/s for 10 s, n=${n}, ${JSON.stringify(mode)}: ${
          l.packetsPerSecond.toFixed(1)
        } packets/s, ${
          l.bytesPerSecond.toFixed(0)
        } bytes/s per member; to 100 % p50 ${l.fullMsP50} ms, max ${l.fullMsMax} ms; delivered ${l.delivered}`,
      );
    }
  }
  for (const layer of ["memberlist", "serf"] as const) {
    for (const n of [3, 32]) {
      console.log(
        `idle ${layer} n=${n}: ${
          idleWakeups(layer, n, 1).toFixed(3)
        } wake-ups/s per member (eager off: ${
          idleWakeups(layer, n, 1, false).toFixed(3)
        })`,
      );
    }
  }
}
