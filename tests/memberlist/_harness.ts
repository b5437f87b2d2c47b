/**
 * A tiny in-test network for driving a few Memberlist machines by hand in
 * virtual time: packets and streams are delivered after a fixed latency,
 * and tests can cut links per plane. Not the full simulator (src/testing).
 */

import {
  Memberlist,
  type MemberlistOptions,
} from "../../src/memberlist/memberlist.ts";
import type { MemberlistDelegate } from "../../src/memberlist/delegate.ts";
import { lanConfig, type MemberlistConfig } from "../../src/config.ts";
import type { Address, Transmit } from "../../src/machine.ts";
import type { MemberlistEvent } from "../../src/types.ts";
import { seeded } from "../helpers/prng.ts";

/** One sent datagram, as the network saw it. */
export interface SentPacket {
  at: number;
  from: string;
  to: string;
  bytes: Uint8Array;
}

type Delivery =
  | {
    at: number;
    seq: number;
    kind: "packet";
    from: string;
    to: string;
    bytes: Uint8Array;
  }
  | {
    at: number;
    seq: number;
    kind: "stream";
    from: string;
    to: string;
    streamId: number;
    bytes: Uint8Array;
  }
  | {
    at: number;
    seq: number;
    kind: "reply";
    to: string;
    streamId: number;
    result: Uint8Array | Error;
  };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K>
  : never;

interface Node {
  name: string;
  addr: Address;
  m: Memberlist;
  events: MemberlistEvent[];
}

/** A deterministic little network of Memberlist machines. */
export class Net {
  now = 0;
  latencyMs = 1;
  readonly nodes = new Map<string, Node>();
  readonly byAddr = new Map<string, string>();
  readonly packets: SentPacket[] = [];
  readonly dials: Array<
    { at: number; from: string; to: string; bytes: Uint8Array }
  > = [];
  /** Return true to drop a packet from → to. */
  dropPacket: (from: string, to: string, bytes: Uint8Array) => boolean = () =>
    false;
  /** Return true to refuse a stream from → to. */
  refuseStream: (from: string, to: string) => boolean = () => false;
  readonly down = new Set<string>();
  #queue: Delivery[] = [];
  #seq = 0;
  #inbound = new Map<string, { dialer: string; streamId: number }>();
  #nextInbound = 0;

  /** Add a node named `name` at 10.0.0.<index>:7946. */
  add(
    name: string,
    opts: {
      config?: Partial<MemberlistConfig>;
      delegate?: MemberlistDelegate;
      seed?: number;
      host?: string;
      options?: Partial<MemberlistOptions>;
    } = {},
  ): Memberlist {
    const host = opts.host ?? `10.0.0.${this.nodes.size + 1}`;
    const config = lanConfig({
      name,
      bindAddr: host,
      bindPort: 7946,
      ...opts.config,
    });
    const m = new Memberlist(config, {
      prng: seeded(opts.seed ?? this.nodes.size + 1),
      now: this.now,
      delegate: opts.delegate,
      ...opts.options,
    });
    const node: Node = { name, addr: { host, port: 7946 }, m, events: [] };
    this.nodes.set(name, node);
    this.byAddr.set(key(node.addr), name);
    this.flush();
    return m;
  }

  get(name: string): Memberlist {
    return this.node(name).m;
  }

  node(name: string): Node {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  addr(name: string): Address {
    return this.node(name).addr;
  }

  events(name: string): MemberlistEvent[] {
    return this.node(name).events;
  }

  /** Drain every machine's transmits and events into the network. */
  flush(): void {
    for (const n of this.nodes.values()) {
      for (let t = n.m.pollTransmit(); t; t = n.m.pollTransmit()) {
        this.#send(n, t);
      }
      for (let e = n.m.pollEvent(); e; e = n.m.pollEvent()) n.events.push(e);
    }
  }

  #push(d: DistributiveOmit<Delivery, "seq">): void {
    this.#queue.push({ ...d, seq: this.#seq++ } as Delivery);
  }

  #send(n: Node, t: Transmit): void {
    if (this.down.has(n.name)) return;
    const at = this.now + this.latencyMs;
    if (t.kind === "packet") {
      const to = this.byAddr.get(key(t.to)) ?? key(t.to);
      this.packets.push({ at: this.now, from: n.name, to, bytes: t.bytes });
      if (this.dropPacket(n.name, to, t.bytes)) return;
      this.#push({ at, kind: "packet", from: n.name, to, bytes: t.bytes });
    } else if (t.kind === "dial") {
      const to = this.byAddr.get(key(t.to)) ?? key(t.to);
      this.dials.push({ at: this.now, from: n.name, to, bytes: t.bytes });
      if (
        !this.nodes.has(to) || this.down.has(to) ||
        this.refuseStream(n.name, to)
      ) {
        this.#push({
          at,
          kind: "reply",
          to: n.name,
          streamId: t.streamId,
          result: new Error("connection refused"),
        });
        return;
      }
      this.#push({
        at,
        kind: "stream",
        from: n.name,
        to,
        streamId: t.streamId,
        bytes: t.bytes,
      });
    } else {
      const k = `${n.name}/${t.inboundId}`;
      const d = this.#inbound.get(k);
      this.#inbound.delete(k);
      if (!d) return;
      this.#push({
        at,
        kind: "reply",
        to: d.dialer,
        streamId: d.streamId,
        result: t.bytes ?? new Error("EOF"),
      });
    }
  }

  #deliver(d: Delivery): void {
    const n = this.nodes.get(d.to);
    if (!n || this.down.has(d.to)) return;
    if (d.kind === "packet") {
      n.m.handlePacket(d.bytes, this.node(d.from).addr, this.now);
    } else if (d.kind === "stream") {
      const id = ++this.#nextInbound;
      this.#inbound.set(`${d.to}/${id}`, {
        dialer: d.from,
        streamId: d.streamId,
      });
      n.m.handleStream(id, d.bytes, this.node(d.from).addr, this.now);
    } else {
      n.m.handleStreamReply(d.streamId, d.result, this.now);
    }
  }

  /** Run deliveries and deadlines up to and including `until`. */
  runUntil(until: number): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.flush();
      let next = Infinity;
      for (const d of this.#queue) next = Math.min(next, d.at);
      for (const n of this.nodes.values()) {
        if (this.down.has(n.name)) continue;
        const dl = n.m.nextDeadline();
        if (dl !== null) next = Math.min(next, dl);
      }
      if (next > until) break;
      this.now = Math.max(this.now, next);
      const due = this.#queue.filter((d) => d.at <= this.now).sort((a, b) =>
        a.at - b.at || a.seq - b.seq
      );
      this.#queue = this.#queue.filter((d) => d.at > this.now);
      for (const d of due) this.#deliver(d);
      for (const n of this.nodes.values()) {
        if (this.down.has(n.name)) continue;
        const dl = n.m.nextDeadline();
        if (dl !== null && dl <= this.now) n.m.handleTimeout(this.now);
      }
    }
    this.flush();
    this.now = Math.max(this.now, until);
  }

  /** Run for `ms` more milliseconds. */
  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Join `name` to `seed` and run until the joinDone event. */
  join(name: string, seeds: string[]): MemberlistEvent {
    const op = this.get(name).join(seeds.map((s) => this.addr(s)), this.now);
    for (let i = 0; i < 1000; i++) {
      const e = this.events(name).find((e) =>
        e.type === "joinDone" && e.opId === op
      );
      if (e) return e;
      this.run(1);
    }
    throw new Error("join did not finish");
  }

  /** State of `who` as seen by `viewer`, or undefined. */
  stateOf(viewer: string, who: string): string | undefined {
    return this.get(viewer).members().find((m) => m.name === who)?.state;
  }
}

function key(a: Address): string {
  return `${a.host}:${a.port}`;
}

/** Decode hex to bytes. */
export function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** Encode bytes as hex. */
export function toHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
