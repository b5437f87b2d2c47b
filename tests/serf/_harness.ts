/**
 * Test helpers for the Serf layer: a simulated Serf cluster on the
 * deterministic simulator (src/testing), and a tiny hand-routed network for
 * byte-level checks at fixed addresses (the captures use 127.0.0.x).
 */

import { Serf, type SerfOptions } from "../../src/serf/serf.ts";
import { serfConfig, type SerfConfigOverrides } from "../../src/serf/config.ts";
import type { SerfEvent } from "../../src/serf/events.ts";
import type { KeyringView } from "../../src/serf/keyring_queries.ts";
import type { Address, Transmit } from "../../src/machine.ts";
import {
  type Checker,
  type MachineHooks,
  SimCluster,
  type SimClusterOptions,
} from "../../src/testing/sim_cluster.ts";
import { machineChecker, selfChecker } from "../../src/testing/checkers.ts";
import { seeded } from "../helpers/prng.ts";

/** A simulated Serf cluster. */
export type SerfCluster = SimCluster<Serf, SerfEvent>;

/** The hooks that let a SimCluster drive Serf. */
export const SERF_HOOKS: MachineHooks<Serf, SerfEvent> = {
  join(m, seeds, now): void {
    m.join(seeds, true, now);
  },
  leave(m, _timeoutMs, now): void {
    m.leave(now);
  },
  shutdown(m, now): void {
    m.shutdown(now);
  },
  members: (m) => m.memberlist.members(),
  self: (m) => m.memberlist.localMember(),
  classify(e) {
    if (e.type === "joinDone") return { kind: "joinDone", joined: e.joined };
    if (e.type === "leaveDone") return { kind: "leaveDone" };
    return { kind: "other" };
  },
  describe(e): string | null {
    switch (e.type) {
      case "memberJoin":
      case "memberLeave":
      case "memberFailed":
      case "memberUpdate":
      case "memberReap":
        return `${e.type} ${e.members.map((m) => m.name).join(",")}`;
      case "user":
        return `user ${e.name}@${e.ltime}`;
      case "query":
        return `query ${e.name}@${e.ltime}`;
      case "snapshot":
        return null;
      default:
        return e.type;
    }
  },
  queues: (m) => {
    const s = m.stats();
    return [
      { name: "intent queue", size: s.intentQueue, bound: 8192 },
      { name: "event queue", size: s.eventQueue, bound: 8192 },
      { name: "query queue", size: s.queryQueue, bound: 8192 },
    ];
  },
  decodeErrors(m): number {
    const s = m.stats();
    let n = 0;
    for (const v of s.decodeErrors.values()) n += v;
    for (const v of s.memberlist.decodeErrors.values()) n += v;
    return n;
  },
};

/** Options of {@linkcode serfCluster}. */
export interface SerfClusterOptions {
  /** Master seed. */
  seed: number;
  /** Overrides for every member. */
  config?: SerfConfigOverrides;
  /** Per-member overrides. */
  configFor?: (name: string) => SerfConfigOverrides;
  /** Extra machine options per member (keyring, snapshot …). */
  optionsFor?: (name: string) => Partial<SerfOptions>;
  /** Network model. */
  network?: SimClusterOptions<Serf, SerfEvent>["network"];
  /** Checkers (default: self + machine). */
  checkers?: readonly Checker<Serf, SerfEvent>[];
}

/**
 * A cluster of Serf machines on the simulator.
 *
 * @param o seed, config, network
 * @returns the cluster (add members with `start(n)`)
 */
export function serfCluster(o: SerfClusterOptions): SerfCluster {
  return new SimCluster<Serf, SerfEvent>({
    seed: o.seed,
    factory: (name, addr, prng, now) => {
      const extra = o.configFor?.(name) ?? {};
      const config = serfConfig({
        ...o.config,
        ...extra,
        nodeName: name,
        memberlist: {
          ...o.config?.memberlist,
          ...extra.memberlist,
          bindAddr: addr.host,
          bindPort: addr.port,
          advertiseAddr: addr.host,
          advertisePort: addr.port,
        },
      });
      return new Serf(config, { prng, now, ...o.optionsFor?.(name) });
    },
    hooks: SERF_HOOKS,
    network: o.network,
    checkers: o.checkers ?? [selfChecker(), machineChecker()],
  });
}

/** Every event of every member, by member name, with its time. */
export function recordEvents(
  c: SerfCluster,
): Map<string, Array<{ at: number; e: SerfEvent }>> {
  const out = new Map<string, Array<{ at: number; e: SerfEvent }>>();
  c.onEvent((name, e, at) => {
    let list = out.get(name);
    if (list === undefined) out.set(name, list = []);
    list.push({ at, e });
  });
  return out;
}

/** The machine of a running member (throws if it is down). */
export function serfOf(c: SerfCluster, name: string): Serf {
  const m = c.machine(name);
  if (m === null) throw new Error(`${name} is not running`);
  return m;
}

/** A keyring for tests, with memberlist's rules and error texts. */
export class MemKeyring implements KeyringView {
  #keys: Uint8Array[];
  /** @param keys initial keys, primary first */
  constructor(keys: Uint8Array[] = []) {
    this.#keys = keys.map((k) => k.slice());
  }
  keys(): Uint8Array[] {
    return this.#keys.map((k) => k.slice());
  }
  install(key: Uint8Array): void {
    if (![16, 24, 32].includes(key.length)) {
      throw new Error("key size must be 16, 24 or 32 bytes");
    }
    if (this.#index(key) < 0) this.#keys.push(key.slice());
  }
  use(key: Uint8Array): void {
    const i = this.#index(key);
    if (i < 0) throw new Error("Requested key is not in the keyring");
    const [k] = this.#keys.splice(i, 1);
    this.#keys.unshift(k);
  }
  remove(key: Uint8Array): void {
    const i = this.#index(key);
    if (i === 0) throw new Error("Removing the primary key is not allowed");
    if (i > 0) this.#keys.splice(i, 1);
  }
  #index(key: Uint8Array): number {
    return this.#keys.findIndex((k) =>
      k.length === key.length && k.every((b, i) => b === key[i])
    );
  }
}

// ---------------------------------------------------------------- TinyNet

interface Pending {
  at: number;
  seq: number;
  run: () => void;
}

/**
 * A hand-routed network of Serf machines at fixed addresses: packets and
 * streams arrive after `latencyMs`; `dropPacket` decides losses. Small and
 * transparent, for byte-level checks against the captures.
 */
export class TinyNet {
  readonly nodes = new Map<
    string,
    { serf: Serf; addr: Address; events: SerfEvent[] }
  >();
  readonly sent: Array<{ at: number; from: string; to: string; t: Transmit }> =
    [];
  now = 0;
  latencyMs = 1;
  dropPacket: (from: string, to: string, bytes: Uint8Array) => boolean = () =>
    false;
  #queue: Pending[] = [];
  #seq = 0;
  #inbound = 0;

  /** Add a node keyed `name` (its Serf name unless overridden) at `host:7946`. */
  add(
    name: string,
    host: string,
    overrides: SerfConfigOverrides = {},
    options: Partial<SerfOptions> = {},
  ): Serf {
    const addr = { host, port: 7946 };
    const serf = new Serf(
      serfConfig({
        ...overrides,
        nodeName: overrides.nodeName ?? name,
        memberlist: {
          ...overrides.memberlist,
          bindAddr: host,
          bindPort: 7946,
          advertiseAddr: host,
          advertisePort: 7946,
        },
      }),
      { prng: seeded(this.nodes.size + 1), now: this.now, ...options },
    );
    this.nodes.set(name, { serf, addr, events: [] });
    this.drain(name);
    return serf;
  }

  /** The machine named `name`. */
  get(name: string): Serf {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n.serf;
  }

  /** Events `name` emitted so far. */
  events(name: string): SerfEvent[] {
    return this.nodes.get(name)?.events ?? [];
  }

  /** Call into a node and drain it. */
  invoke<T>(name: string, fn: (s: Serf, now: number) => T): T {
    const r = fn(this.get(name), this.now);
    this.drain(name);
    return r;
  }

  #nameOf(a: Address): string | undefined {
    for (const [n, v] of this.nodes) {
      if (v.addr.host === a.host && v.addr.port === a.port) return n;
    }
    return undefined;
  }

  #schedule(at: number, run: () => void): void {
    this.#queue.push({ at, seq: this.#seq++, run });
  }

  /** Send everything `name` queued, and collect its events. */
  drain(name: string): void {
    const node = this.nodes.get(name)!;
    for (
      let e = node.serf.pollEvent();
      e !== undefined;
      e = node.serf.pollEvent()
    ) {
      node.events.push(e);
    }
    for (
      let t = node.serf.pollTransmit();
      t !== undefined;
      t = node.serf.pollTransmit()
    ) {
      this.#route(name, node.addr, t);
    }
  }

  #route(from: string, fromAddr: Address, t: Transmit): void {
    const at = this.now + this.latencyMs;
    if (t.kind === "reply") return; // replies are routed by the dial closure
    const to = this.#nameOf(t.to);
    this.sent.push({
      at: this.now,
      from,
      to: to ?? `${t.to.host}:${t.to.port}`,
      t,
    });
    if (to === undefined) {
      if (t.kind === "dial") {
        this.#schedule(at, () => {
          this.get(from).handleStreamReply(
            t.streamId,
            new Error("connection refused"),
            this.now,
          );
          this.drain(from);
        });
      }
      return;
    }
    if (t.kind === "packet") {
      if (this.dropPacket(from, to, t.bytes)) return;
      this.#schedule(at, () => {
        this.get(to).handlePacket(t.bytes, fromAddr, this.now);
        this.drain(to);
      });
      return;
    }
    const inboundId = ++this.#inbound;
    this.#schedule(at, () => {
      const acceptor = this.get(to);
      acceptor.handleStream(inboundId, t.bytes, fromAddr, this.now);
      // Find our reply among its transmits.
      const keep: Transmit[] = [];
      for (
        let x = acceptor.pollTransmit();
        x !== undefined;
        x = acceptor.pollTransmit()
      ) {
        if (x.kind === "reply" && x.inboundId === inboundId) {
          const bytes = x.bytes;
          this.#schedule(this.now + this.latencyMs, () => {
            this.get(from).handleStreamReply(
              t.streamId,
              bytes ?? new Error("EOF"),
              this.now,
            );
            this.drain(from);
          });
        } else keep.push(x);
      }
      const node = this.nodes.get(to)!;
      for (const x of keep) this.#route(to, node.addr, x);
      this.drain(to);
    });
  }

  /** Run for `ms` of virtual time, firing deadlines and deliveries. */
  run(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next = end + 1;
      for (const p of this.#queue) next = Math.min(next, p.at);
      let nextTimer: string | null = null;
      for (const [name, n] of this.nodes) {
        const d = n.serf.nextDeadline();
        if (d !== null && d < next) {
          next = d;
          nextTimer = name;
        }
      }
      if (next > end) break;
      this.now = Math.max(this.now, next);
      if (nextTimer !== null) {
        this.get(nextTimer).handleTimeout(this.now);
        this.drain(nextTimer);
        continue;
      }
      this.#queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const p = this.#queue.shift()!;
      p.run();
    }
    this.now = end;
  }
}
