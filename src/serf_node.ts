/**
 * The public, Promise-based face of a Serf member on real sockets: the
 * {@linkcode Serf} machine run by a {@linkcode Driver}, plus the shell's
 * file work (snapshot, keyring file).
 *
 * @module
 */

import type * as NodeFs from "node:fs";
import type { Address } from "./machine.ts";
import type { ProfileName } from "./config.ts";
import { profileConfig } from "./config.ts";
import { Driver, resolveAddress } from "./driver.ts";
import { Serf } from "./serf/serf.ts";
import { agentSerfConfig, type SerfConfigOverrides } from "./serf/config.ts";
import type {
  KeyAction,
  KeyDoneEvent,
  SerfEvent,
  SerfMemberInfo,
  SerfMemberStatus,
} from "./serf/events.ts";
import type { QueryParams } from "./serf/queries.ts";
import { emptySnapshotState, replaySnapshot } from "./serf/snapshot.ts";
import type { Coordinate } from "./codec/coordinate.ts";
import type { TransportFactory } from "./transport.ts";
import { defaultTransport } from "../transports/default.ts";
import { decodeKey, encodeKey, Keyring } from "./seal.ts";
import { ClosedError, JoinError } from "./errors.ts";
import { parseAddress } from "./address.ts";
import { EventChannel } from "./event_channel.ts";
import { labelOverhead } from "./codec/label.ts";

// node:fs is loaded on first use (a snapshot or keyring file), not at import:
// it costs ~4 MiB of RSS on Deno and on Bun (bench/idle/README.md).
// process.getBuiltinModule is synchronous (Node ≥ 20.16, Deno 2, Bun 1.1).
function nodeFs(): typeof NodeFs {
  return (globalThis as unknown as {
    process: { getBuiltinModule(id: string): unknown };
  }).process.getBuiltinModule("node:fs") as typeof NodeFs;
}

/** How to start a Serf member. */
export interface StartSerfOptions {
  /** Unique node name. */
  name: string;
  /** Where to listen, "IP:PORT" or an Address (port 0 = any). */
  bind: string | Address;
  /** Where others reach us, if not the bind address. */
  advertise?: string | Address;
  /** memberlist profile (default "lan"). */
  profile?: ProfileName;
  /** Serf settings (agent defaults otherwise), memberlist ones nested. */
  config?: SerfConfigOverrides;
  /** Tags to start with. */
  tags?: Record<string, string> | ReadonlyMap<string, string>;
  /** AES keys (raw or base64); the first encrypts. */
  keys?: Array<Uint8Array | string>;
  /** A JSON keyring file as Serf writes it (array of base64 keys); kept up to date. */
  keyringFile?: string;
  /** Snapshot file for auto-rejoin after a restart. */
  snapshotPath?: string;
  /** Sockets; default: the runtime's native transport. */
  transport?: TransportFactory;
  /** Most events buffered for a slow `events()` consumer (oldest dropped). */
  eventBufferSize?: number;
  /** Injected randomness (tests); default Math.random. */
  prng?: () => number;
}

/** The outcome of a cluster-wide key command, per Serf's key manager. */
export interface KeyResult {
  /** The command. */
  action: KeyAction;
  /** Alive members when the query went out. */
  numNodes: number;
  /** Members that answered. */
  numResp: number;
  /** Members that answered with an error. */
  numErr: number;
  /** Error messages by member. */
  messages: ReadonlyMap<string, string>;
  /** For list: how many members hold each key. */
  keys: ReadonlyMap<string, number>;
  /** For list: how many members use each key as primary. */
  primaryKeys: ReadonlyMap<string, number>;
  /** Serf's overall error text, or null when every member agreed. */
  error: string | null;
}

/** One answer to a query we sent. */
export type QueryRecord =
  | { type: "ack"; from: string }
  | { type: "response"; from: string; payload: Uint8Array | null };

/**
 * A running Serf member. Create with {@linkcode startSerf}.
 *
 * @example
 * ```ts ignore
 * const serf = await startSerf({ name: "web-1", bind: "127.0.0.1:7946", tags: { role: "web" } });
 * await serf.join(["127.0.0.2:7946"]);
 * serf.userEvent("deploy", new TextEncoder().encode("v2"));
 * ```
 */
export class SerfNode {
  readonly #driver: Driver<SerfEvent, Serf>;
  readonly #events: EventChannel<SerfEvent>;
  readonly #ops = new Map<number, (e: SerfEvent) => void>();
  // Completions emitted inside `driver.run`, before `#op` could register.
  readonly #early = new Map<number, SerfEvent>();
  readonly #queries = new Map<number, EventChannel<QueryRecord>>();
  readonly #keyringFile: string | undefined;
  readonly #snapshotPath: string | undefined;

  /** @internal use {@linkcode startSerf} */
  constructor(
    driver: Driver<SerfEvent, Serf>,
    events: EventChannel<SerfEvent>,
    files: { keyringFile?: string; snapshotPath?: string },
  ) {
    this.#driver = driver;
    this.#events = events;
    this.#keyringFile = files.keyringFile;
    this.#snapshotPath = files.snapshotPath;
  }

  /** @internal the driver's event sink */
  static dispatch(node: SerfNode, e: SerfEvent): void {
    switch (e.type) {
      case "joinDone":
      case "leaveDone":
      case "forceLeaveDone":
      case "keyDone": {
        const done = node.#ops.get(e.opId);
        node.#ops.delete(e.opId);
        if (done) done(e);
        else node.#early.set(e.opId, e);
        return;
      }
      case "queryAck":
      case "queryResponse":
      case "queryDone": {
        const ch = node.#queries.get(e.queryId);
        if (ch === undefined) return;
        if (e.type === "queryDone") {
          ch.close();
          node.#queries.delete(e.queryId);
        } else if (e.type === "queryAck") {
          ch.push({ type: "ack", from: e.from });
        } else ch.push({ type: "response", from: e.from, payload: e.payload });
        return;
      }
      case "keyringChange":
        node.#persistKeyring(e.keys);
        break;
      case "snapshot":
        node.#persistSnapshot(e.text, e.compact);
        return;
    }
    node.#events.push(e);
  }

  #persistKeyring(keys: readonly Uint8Array[]): void {
    if (this.#keyringFile === undefined) return;
    // Serf writes the keyring file as a JSON array of base64 keys, primary first.
    nodeFs().writeFileSync(
      this.#keyringFile,
      JSON.stringify(keys.map((k) => encodeKey(k)), null, 2) + "\n",
      { mode: 0o600 },
    );
  }

  #persistSnapshot(text: string, compact: boolean): void {
    if (this.#snapshotPath === undefined) return;
    if (compact) {
      nodeFs().writeFileSync(this.#snapshotPath, text, { mode: 0o600 });
    } else nodeFs().appendFileSync(this.#snapshotPath, text, { mode: 0o600 });
  }

  #op(start: (s: Serf, now: number) => number): Promise<SerfEvent> {
    if (this.#driver.closed) {
      return Promise.reject(new ClosedError("Serf member is shut down"));
    }
    return new Promise((resolve) => {
      const id = this.#driver.run(start);
      const early = this.#early.get(id);
      this.#early.delete(id);
      if (early !== undefined) resolve(early);
      else this.#ops.set(id, resolve);
    });
  }

  /** The bound address (the real port when bound to port 0). */
  get localAddr(): Address {
    return this.#driver.localAddr;
  }

  /** Which transport carries our packets. */
  get transportName(): string {
    return this.#driver.transportName;
  }

  /** The machine, for reads. */
  get machine(): Serf {
    return this.#driver.machine;
  }

  /**
   * Join through seeds ("IP:PORT" or "host:port"; the port defaults to ours).
   * With `ignoreOld`, user events the cluster already had are not replayed.
   * Resolves with how many seeds answered; rejects with a JoinError if none.
   */
  async join(
    seeds: Array<string | Address>,
    options: { ignoreOld?: boolean } = {},
  ): Promise<number> {
    const port = this.localAddr.port;
    const addrs = await Promise.all(
      seeds.map((s) =>
        resolveAddress(typeof s === "string" ? parseAddress(s, port) : s)
      ),
    );
    const e = await this.#op((s, now) =>
      s.join(addrs, options.ignoreOld ?? false, now)
    );
    if (e.type !== "joinDone") throw new Error("Unexpected completion");
    if (e.joined === 0 && addrs.length > 0) {
      throw new JoinError(
        `Cannot join cluster: ${e.error ?? e.errors.join("; ")}`,
        e.errors,
      );
    }
    return e.joined;
  }

  /** Leave gracefully (Serf's leave intent, then memberlist's leave). */
  async leave(): Promise<void> {
    const e = await this.#op((s, now) => s.leave(now));
    if (e.type === "leaveDone" && e.error !== null) throw new Error(e.error);
  }

  /** Mark a failed member as left (`serf force-leave`); `prune` erases it. */
  async forceLeave(name: string, prune = false): Promise<void> {
    const e = await this.#op((s, now) => s.forceLeave(name, prune, now));
    if (e.type === "forceLeaveDone" && e.error !== null) {
      throw new Error(e.error);
    }
  }

  /** Replace our tags (spread to every member). */
  setTags(tags: Record<string, string> | ReadonlyMap<string, string>): void {
    const map = tags instanceof Map ? tags : new Map(Object.entries(tags));
    this.#driver.run((s, now) => s.setTags(map, now));
  }

  /** Our current tags. */
  tags(): ReadonlyMap<string, string> {
    return this.machine.tags();
  }

  /** Send a user event to every member; throws RangeError over Serf's size limits. */
  userEvent(name: string, payload: Uint8Array | null, coalesce = true): void {
    this.#driver.run((s, now) => s.userEvent(name, payload, coalesce, now));
  }

  /**
   * Ask the cluster; iterate acks and responses until the query's deadline.
   *
   * @example
   * ```ts ignore
   * for await (const r of serf.query("uptime", null)) console.log(r.type, r.from);
   * ```
   */
  query(
    name: string,
    payload: Uint8Array | null,
    params: QueryParams = {},
  ): AsyncIterableIterator<QueryRecord> {
    const ch = new EventChannel<QueryRecord>(65_536);
    const id = this.#driver.run((s, now) =>
      s.query(name, payload, params, now)
    );
    this.#queries.set(id, ch);
    return ch.iterate();
  }

  /** Answer a query event (its `id`), once, before its deadline. */
  respond(queryEventId: number, payload: Uint8Array | null): void {
    this.#driver.run((s, now) => s.respond(queryEventId, payload, now));
  }

  async #keyOp(
    start: (s: Serf, now: number) => number,
  ): Promise<KeyResult> {
    const e = await this.#op(start) as KeyDoneEvent;
    return {
      action: e.action,
      numNodes: e.numNodes,
      numResp: e.numResp,
      numErr: e.numErr,
      messages: e.messages,
      keys: e.keys,
      primaryKeys: e.primaryKeys,
      error: e.error,
    };
  }

  /** Install a key on every member (base64 or raw). */
  installKey(key: string | Uint8Array): Promise<KeyResult> {
    const k = typeof key === "string" ? decodeKey(key) : key;
    return this.#keyOp((s, now) => s.installKey(k, now));
  }

  /** Make a key primary on every member. */
  useKey(key: string | Uint8Array): Promise<KeyResult> {
    const k = typeof key === "string" ? decodeKey(key) : key;
    return this.#keyOp((s, now) => s.useKey(k, now));
  }

  /** Remove a key from every member. */
  removeKey(key: string | Uint8Array): Promise<KeyResult> {
    const k = typeof key === "string" ? decodeKey(key) : key;
    return this.#keyOp((s, now) => s.removeKey(k, now));
  }

  /** List the keys every member holds. */
  listKeys(): Promise<KeyResult> {
    return this.#keyOp((s, now) => s.listKeys(now));
  }

  /** Every known member, any status. */
  members(): SerfMemberInfo[] {
    return this.machine.members();
  }

  /** Ourselves. */
  localMember(): SerfMemberInfo {
    return this.machine.localMember();
  }

  /** A member's status ("none" when unknown). */
  memberStatus(name: string): SerfMemberStatus {
    return this.machine.memberStatus(name);
  }

  /** Our Vivaldi coordinate, or null when coordinates are off. */
  coordinate(): Coordinate | null {
    return this.machine.coordinate();
  }

  /** A member's last known coordinate. */
  cachedCoordinate(name: string): Coordinate | null {
    return this.machine.cachedCoordinate(name);
  }

  /** Estimated round trip between two members, as `serf rtt` computes it. */
  estimateRttMs(a: string, b?: string): number | null {
    return this.machine.estimateRttMs(a, b);
  }

  /** Membership changes, user events and queries to answer. */
  events(): AsyncIterableIterator<SerfEvent> {
    return this.#events.iterate();
  }

  /** Serf's counters plus what the shell dropped. */
  stats(): ReturnType<Serf["stats"]> & { dropped: Map<string, number> } {
    return { ...this.machine.stats(), dropped: this.#driver.stats.dropped };
  }

  /** Stop at once (others see a failure unless we left first). */
  async shutdown(): Promise<void> {
    if (this.#driver.closed) return;
    this.#driver.run((s, now) => s.shutdown(now));
    await this.#driver.close();
    this.#events.close();
    for (const ch of this.#queries.values()) ch.close();
    this.#queries.clear();
    for (const done of this.#ops.values()) {
      done({ type: "leaveDone", opId: -1, error: "Serf member is shut down" });
    }
    this.#ops.clear();
  }
}

function readKeyringFile(path: string): Uint8Array[] {
  let keys: unknown;
  try {
    keys = JSON.parse(nodeFs().readFileSync(path, "utf8"));
  } catch (e) {
    throw new TypeError(
      `Invalid keyring file ${path}: ${
        (e as Error).message
      } (want a JSON array of base64 keys)`,
    );
  }
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) {
    throw new TypeError(
      `Invalid keyring file ${path}: want a JSON array of base64 keys`,
    );
  }
  return keys.map((k) => decodeKey(k as string));
}

/**
 * Start a Serf member on real sockets, with the agent's defaults (Serf
 * protocol 5, coalescing on, compression on).
 *
 * @example
 * ```ts ignore
 * import { startSerf } from "@grapevine/grapevine";
 * const serf = await startSerf({ name: "n1", bind: "127.0.0.1:0", profile: "local" });
 * for await (const e of serf.events()) console.log(e.type);
 * ```
 */
export async function startSerf(options: StartSerfOptions): Promise<SerfNode> {
  if (typeof options.name !== "string" || options.name === "") {
    throw new TypeError(
      "Invalid name: give the member a unique, non-empty name",
    );
  }
  const bind = typeof options.bind === "string"
    ? parseAddress(options.bind, 7946)
    : options.bind;
  const advertise = options.advertise === undefined
    ? undefined
    : typeof options.advertise === "string"
    ? parseAddress(options.advertise, bind.port)
    : options.advertise;
  const ml = profileConfig(options.profile ?? "lan", {
    ...options.config?.memberlist,
    name: options.name,
    bindAddr: bind.host,
    bindPort: bind.port,
  });
  const tags = options.tags instanceof Map
    ? new Map(options.tags)
    : new Map(Object.entries(options.tags ?? {}));
  const keys = (options.keys ?? []).map((k) =>
    typeof k === "string" ? decodeKey(k) : k
  );
  if (
    options.keyringFile !== undefined &&
    nodeFs().existsSync(options.keyringFile)
  ) {
    keys.push(...readKeyringFile(options.keyringFile));
  }
  const keyring = keys.length > 0 ? new Keyring(keys) : null;
  let snapshot = undefined;
  if (options.snapshotPath !== undefined) {
    snapshot = nodeFs().existsSync(options.snapshotPath)
      ? replaySnapshot(nodeFs().readFileSync(options.snapshotPath, "utf8"), {
        rejoinAfterLeave: options.config?.rejoinAfterLeave ?? false,
      }).state
      : emptySnapshotState();
  }
  const events = new EventChannel<SerfEvent>(options.eventBufferSize ?? 4096);
  const early: SerfEvent[] = [];
  const sink: { node?: SerfNode } = {};
  const driver = await Driver.start<SerfEvent, Serf>({
    transport: options.transport ?? defaultTransport,
    bind,
    seal: {
      keyring,
      label: ml.label,
      verifyIncoming: ml.gossipVerifyIncoming,
      verifyOutgoing: ml.gossipVerifyOutgoing,
      skipInboundLabelCheck: ml.skipInboundLabelCheck,
      encryptionVersion: 1,
    },
    streamTimeoutMs: ml.tcpTimeoutMs,
    createMachine: (bound, now) => {
      const adv = advertise ??
        (bound.host === "0.0.0.0" || bound.host === "::" ? undefined : bound);
      const config = agentSerfConfig({
        ...options.config,
        nodeName: options.name,
        tags,
        memberlist: {
          ...ml,
          bindPort: bound.port,
          advertisePort: adv?.port ?? bound.port,
        },
      });
      return new Serf(config, {
        prng: options.prng ?? Math.random,
        now,
        sealOverheadBytes: (keyring ? 29 : 0) + labelOverhead(ml.label),
        advertise: adv,
        snapshot,
        keyring,
      });
    },
    onEvent: (e) => sink.node ? SerfNode.dispatch(sink.node, e) : early.push(e),
  });
  const node = new SerfNode(driver, events, {
    keyringFile: options.keyringFile,
    snapshotPath: options.snapshotPath,
  });
  sink.node = node;
  for (const e of early) SerfNode.dispatch(node, e);
  return node;
}
