/**
 * The public, Promise-based face of a memberlist member on real sockets:
 * a {@linkcode Memberlist} machine run by a {@linkcode Driver}.
 *
 * @module
 */

import type { Address } from "./machine.ts";
import {
  type MemberlistConfig,
  profileConfig,
  type ProfileName,
} from "./config.ts";
import { Driver, resolveAddress } from "./driver.ts";
import { Memberlist } from "./memberlist/memberlist.ts";
import type { MemberlistDelegate } from "./memberlist/delegate.ts";
import type { Member, MemberlistEvent } from "./types.ts";
import type { TransportFactory } from "./transport.ts";
import { defaultTransport } from "../transports/default.ts";
import { decodeKey, Keyring } from "./seal.ts";
import { ClosedError, JoinError } from "./errors.ts";
import { parseAddress } from "./address.ts";
import { EventChannel } from "./event_channel.ts";

/** How to start a member. */
export interface StartMemberlistOptions {
  /** Unique node name. */
  name: string;
  /** Where to listen, "IP:PORT" or an Address (port 0 = any). */
  bind: string | Address;
  /** Where others reach us, if not the bind address (e.g. behind NAT). */
  advertise?: string | Address;
  /** Config profile (default "lan"). */
  profile?: ProfileName;
  /** Per-field overrides of the profile. */
  config?: Partial<MemberlistConfig>;
  /** AES keys (raw 16/24/32 bytes, or base64 as `serf keygen` prints); the first encrypts. */
  keys?: Array<Uint8Array | string>;
  /** Cluster label (newer memberlist; leave empty to talk to memberlist 0.2.2). */
  label?: string;
  /** Sockets; default: the runtime's native transport. */
  transport?: TransportFactory;
  /** Hooks for a layer above (Serf). */
  delegate?: MemberlistDelegate;
  /** Most events buffered for a slow `events()` consumer; the oldest are dropped past it. */
  eventBufferSize?: number;
  /** Injected randomness (tests); default Math.random. */
  prng?: () => number;
}

/**
 * A running member. Create with {@linkcode startMemberlist}.
 *
 * @example
 * ```ts ignore
 * const node = await startMemberlist({ name: "n1", bind: "127.0.0.1:7946" });
 * await node.join(["127.0.0.2:7946"]);
 * for await (const e of node.events()) console.log(e.type, "member" in e ? e.member.name : "");
 * ```
 */
export class MemberlistNode {
  readonly #driver: Driver<MemberlistEvent, Memberlist>;
  readonly #pending = new Map<number, (e: MemberlistEvent) => void>();
  readonly #events: EventChannel<MemberlistEvent>;

  /** @internal use {@linkcode startMemberlist} */
  constructor(
    driver: Driver<MemberlistEvent, Memberlist>,
    events: EventChannel<MemberlistEvent>,
  ) {
    this.#driver = driver;
    this.#events = events;
  }

  /** @internal the driver's event sink */
  static dispatch(node: MemberlistNode, e: MemberlistEvent): void {
    if (e.type === "joinDone" || e.type === "leaveDone") {
      const resolve = node.#pending.get(e.opId);
      node.#pending.delete(e.opId);
      resolve?.(e);
      return;
    }
    node.#events.push(e);
  }

  #machine(): Memberlist {
    return this.#driver.machine;
  }

  #op(start: (m: Memberlist, now: number) => number): Promise<MemberlistEvent> {
    if (this.#driver.closed) {
      return Promise.reject(new ClosedError("Member is shut down"));
    }
    return new Promise((resolve) => {
      const id = this.#driver.run((m, now) => start(m, now));
      this.#pending.set(id, resolve);
    });
  }

  /** The bound address (the real port when bound to port 0). */
  get localAddr(): Address {
    return this.#driver.localAddr;
  }

  /** Which transport carries our packets ("deno", "bun", "node", "memory"). */
  get transportName(): string {
    return this.#driver.transportName;
  }

  /**
   * Join a cluster through seeds ("IP:PORT", "host:port" or Address; the port
   * defaults to ours). Resolves with how many seeds answered; rejects with a
   * {@linkcode JoinError} if none did.
   */
  async join(seeds: Array<string | Address>): Promise<number> {
    const port = this.localAddr.port;
    const addrs = await Promise.all(
      seeds.map((s) =>
        resolveAddress(typeof s === "string" ? parseAddress(s, port) : s)
      ),
    );
    const e = await this.#op((m, now) => m.join(addrs, now));
    if (e.type !== "joinDone") throw new Error("Unexpected completion");
    if (e.joined === 0 && addrs.length > 0) {
      throw new JoinError(
        `Cannot join cluster: ${e.errors.join("; ")}`,
        e.errors,
      );
    }
    return e.joined;
  }

  /** Leave gracefully: tell the cluster, wait up to `timeoutMs` for it to spread. */
  async leave(timeoutMs = 5_000): Promise<void> {
    await this.#op((m, now) => m.leave(timeoutMs, now));
  }

  /** Stop at once (others will detect a failure unless we left first). */
  async shutdown(): Promise<void> {
    if (this.#driver.closed) return;
    this.#driver.run((m, now) => m.shutdown(now));
    await this.#driver.close();
    this.#events.close();
    for (const resolve of this.#pending.values()) {
      resolve({ type: "leaveDone", opId: -1, timedOut: true });
    }
    this.#pending.clear();
  }

  /** Every known member, any state, ourselves included. */
  members(): Member[] {
    return this.#machine().members();
  }

  /** Ourselves. */
  localMember(): Member {
    return this.#machine().localMember();
  }

  /** Lifeguard's local health score (0 = healthy). */
  healthScore(): number {
    return this.#machine().healthScore();
  }

  /** Gossip `payload` to every member (a memberlist user broadcast). */
  broadcast(payload: Uint8Array): void {
    this.#driver.run((m, now) => m.queueBroadcast(payload, now));
  }

  /** Send `payload` to one address as a user message (best effort). */
  sendTo(to: string | Address, payload: Uint8Array): void {
    const addr = typeof to === "string"
      ? parseAddress(to, this.localAddr.port)
      : to;
    this.#driver.run((m, now) => m.sendTo(addr, payload, now));
  }

  /** Membership changes and user messages, as an async iterator. */
  events(): AsyncIterableIterator<MemberlistEvent> {
    return this.#events.iterate();
  }

  /** Protocol and shell counters. */
  stats(): {
    memberlist: ReturnType<Memberlist["stats"]>;
    dropped: Map<string, number>;
  } {
    return {
      memberlist: this.#machine().stats(),
      dropped: this.#driver.stats.dropped,
    };
  }
}

/**
 * Start a memberlist member on real sockets.
 *
 * @example
 * ```ts ignore
 * import { startMemberlist } from "@grapevine/grapevine";
 * const node = await startMemberlist({ name: "n1", bind: "127.0.0.1:0", profile: "local" });
 * console.log(node.localAddr.port);
 * await node.shutdown();
 * ```
 */
export async function startMemberlist(
  options: StartMemberlistOptions,
): Promise<MemberlistNode> {
  if (typeof options.name !== "string" || options.name === "") {
    throw new TypeError(
      "Invalid name: give the member a unique, non-empty name",
    );
  }
  const bind = typeof options.bind === "string"
    ? parseAddress(options.bind, 7946)
    : options.bind;
  const config = profileConfig(options.profile ?? "lan", {
    ...options.config,
    name: options.name,
    bindAddr: bind.host,
    bindPort: bind.port,
    label: options.label ?? options.config?.label ?? "",
  });
  const keys = (options.keys ?? []).map((k) =>
    typeof k === "string" ? decodeKey(k) : k
  );
  const keyring = keys.length > 0 ? new Keyring(keys) : null;
  const events = new EventChannel<MemberlistEvent>(
    options.eventBufferSize ?? 1024,
  );
  const advertise = options.advertise === undefined
    ? undefined
    : typeof options.advertise === "string"
    ? parseAddress(options.advertise, bind.port)
    : options.advertise;
  // Events may come while the driver starts, before the node exists.
  const sink: { node?: MemberlistNode } = {};
  const early: MemberlistEvent[] = [];
  const driver = await Driver.start<MemberlistEvent, Memberlist>({
    transport: options.transport ?? defaultTransport,
    bind,
    seal: {
      keyring,
      label: config.label,
      verifyIncoming: config.gossipVerifyIncoming,
      verifyOutgoing: config.gossipVerifyOutgoing,
      skipInboundLabelCheck: config.skipInboundLabelCheck,
      encryptionVersion: config.protocolVersion < 2 ? 0 : 1,
    },
    streamTimeoutMs: config.tcpTimeoutMs,
    createMachine: (bound, now) => {
      const overhead = (keyring ? 29 : 0) +
        (config.label ? 2 + new TextEncoder().encode(config.label).length : 0);
      const adv = advertise ??
        (bound.host === "0.0.0.0" || bound.host === "::" ? undefined : bound);
      return new Memberlist({
        ...config,
        bindPort: bound.port,
        advertisePort: adv?.port ?? bound.port,
      }, {
        prng: options.prng ?? Math.random,
        now,
        delegate: options.delegate,
        sealOverheadBytes: overhead,
        advertise: adv,
      });
    },
    onEvent: (e) =>
      sink.node ? MemberlistNode.dispatch(sink.node, e) : early.push(e),
  });
  const node = new MemberlistNode(driver, events);
  sink.node = node;
  for (const e of early) MemberlistNode.dispatch(node, e);
  return node;
}
