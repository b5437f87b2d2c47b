/**
 * The agent: one Serf member (the LAN pool) run from an
 * {@linkcode AgentConfig}, with Serf's agent niceties on top (serf agent
 * `agent.go`): event scripts, event listeners for RPC streams, a tags file,
 * joins with retries, key commands, the `stats` map, and a logged
 * "Received event" per event.
 *
 * With `-datacenter` and `-wan-bind` the agent also runs a second member in
 * a WAN pool: its own port, key and timing profile (default "wan"), named
 * `<node>.<datacenter>` and tagged `dc=<datacenter>`, like Consul's servers.
 * The WAN member only gossips: scripts and RPC event streams see LAN events,
 * WAN events are logged.
 *
 * ```
 *              ┌────────────── Agent ──────────────┐
 *  RPC ───────►│ lan: SerfNode  "web-1"   :7946    │──► scripts, streams
 *              │ wan: SerfNode  "web-1.dc1" :7947  │──► log only
 *              └───────────────────────────────────┘
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { nodeFs, nodeOs, nodeProcess } from "./builtin.ts";
import type { MemberlistConfig } from "../config.ts";
import type { SerfConfigOverrides } from "../serf/config.ts";
import type { SerfEvent, SerfMemberInfo } from "../serf/events.ts";
import type { QueryParams } from "../serf/queries.ts";
import { formatSerfStats } from "../serf/serf.ts";
import {
  type KeyResult,
  type QueryRecord,
  type SerfNode,
  startSerf,
  type StartSerfOptions,
} from "../serf_node.ts";
import type { TransportFactory } from "../transport.ts";
import type { Stats } from "../codec/rpc.ts";
import { type AgentConfig, poolMemberlist, type PoolTuning } from "./config.ts";
import {
  type AgentEvent,
  eventText,
  eventTypeName,
  isAgentEvent,
  parseEventScript,
  ScriptRunner,
} from "./handlers.ts";

const logger = getLogger(["grapevine", "agent"]);

/** Serf's prefix of internal queries (serf `InternalQueryPrefix`). */
export const INTERNAL_QUERY_PREFIX = "_serf_";

/** Which gossip pool. */
export type Pool = "lan" | "wan";

/** Called with every LAN member, user and query event. */
export type AgentEventListener = (e: AgentEvent) => void;

/** Counters the metrics endpoint shows. */
export interface AgentCounters {
  /** Events received, by pool and Serf event name. */
  readonly events: Map<string, number>;
  /** User events we sent. */
  userEventsSent: number;
  /** Queries we started. */
  queriesSent: number;
  /** Event script runs, and how many failed. */
  scriptRuns: number;
  /** Event script runs that failed or timed out. */
  scriptFailures: number;
}

/** Test and embedding hooks of {@linkcode Agent.start}. */
export interface AgentStartOptions {
  /** Sockets (default: the runtime's). */
  transport?: TransportFactory;
  /** Randomness (tests). */
  prng?: () => number;
}

/**
 * A running agent. Create with {@linkcode Agent.start}.
 *
 * @example
 * ```ts ignore
 * const { config } = finishConfig({ nodeName: "a", bind: "127.0.0.1:7946" });
 * const agent = await Agent.start(config);
 * await agent.join(["127.0.0.2:7946"], false);
 * ```
 */
export class Agent {
  /** The configuration it runs with. */
  readonly config: AgentConfig;
  /** Counters for metrics. */
  readonly counters: AgentCounters = {
    events: new Map(),
    userEventsSent: 0,
    queriesSent: 0,
    scriptRuns: 0,
    scriptFailures: 0,
  };
  readonly #lan: SerfNode;
  readonly #wan: SerfNode | null;
  readonly #listeners = new Set<AgentEventListener>();
  readonly #scripts: ScriptRunner;
  readonly #loops: Promise<void>[] = [];
  #shutdown = false;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  private constructor(
    config: AgentConfig,
    lan: SerfNode,
    wan: SerfNode | null,
  ) {
    this.config = config;
    this.#lan = lan;
    this.#wan = wan;
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#scripts = new ScriptRunner({
      scripts: config.eventHandlers.flatMap(parseEventScript),
      self: () => lan.localMember(),
      respond: (id, payload) => lan.respond(id, payload),
      timeoutMs: config.handlerTimeoutMs,
      onRun: (_, r) => {
        this.counters.scriptRuns++;
        if (r.code !== 0) this.counters.scriptFailures++;
      },
    });
  }

  /**
   * Start the agent's member(s) from a finished config.
   *
   * @param config from {@linkcode finishConfig}
   * @param options transport and randomness hooks
   * @returns the running agent
   * @throws {Error} when a file cannot be read or a socket cannot be bound
   */
  static async start(
    config: AgentConfig,
    options: AgentStartOptions = {},
  ): Promise<Agent> {
    logger.info`agent: Serf agent starting`;
    const tags = loadTags(config);
    if (config.keyringFile !== "" && !nodeFs().existsSync(config.keyringFile)) {
      throw new Error(
        `Keyring file ${config.keyringFile} does not exist: create it with a JSON array of base64 keys, e.g. ["<output of grapevine keygen>"]`,
      );
    }
    const lan = await startSerf({
      ...poolStartOptions(config, "lan", options),
      tags,
      keyringFile: config.keyringFile || undefined,
      snapshotPath: config.snapshotPath || undefined,
    });
    let wan: SerfNode | null = null;
    if (config.datacenter !== "") {
      try {
        wan = await startSerf({
          ...poolStartOptions(config, "wan", options),
          tags: { dc: config.datacenter },
        });
      } catch (e) {
        await lan.shutdown();
        throw e;
      }
    }
    const agent = new Agent(config, lan, wan);
    agent.#loops.push(agent.#eventLoop(lan, "lan"));
    if (wan !== null) agent.#loops.push(agent.#eventLoop(wan, "wan"));
    return agent;
  }

  /** The LAN member. */
  get lan(): SerfNode {
    return this.#lan;
  }

  /** The WAN member, or null without a WAN pool. */
  get wan(): SerfNode | null {
    return this.#wan;
  }

  /** Our LAN node name. */
  get name(): string {
    return this.config.nodeName;
  }

  /** Resolves once the agent has shut down (by request or by Serf). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** True once shut down. */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** The pool's member, or an error naming the missing pool. */
  node(pool: Pool): SerfNode {
    if (pool === "lan") return this.#lan;
    if (this.#wan === null) {
      throw new Error(
        "This agent has no WAN pool: start it with -datacenter and -wan-bind",
      );
    }
    return this.#wan;
  }

  async #eventLoop(node: SerfNode, pool: Pool): Promise<void> {
    for await (const e of node.events()) this.#dispatch(e, pool);
  }

  #dispatch(e: SerfEvent, pool: Pool): void {
    if (e.type === "shutdown") {
      if (!this.#shutdown) {
        logger.warn`agent: Serf shutdown detected, quitting`;
        void this.shutdown();
      }
      return;
    }
    if (!isAgentEvent(e)) return;
    const key = `${pool}:${eventTypeName(e)}`;
    this.counters.events.set(key, (this.counters.events.get(key) ?? 0) + 1);
    if (pool === "wan") {
      logger.info`agent: Received WAN event: ${eventText(e)}`;
      return;
    }
    logger.info`agent: Received event: ${eventText(e)}`;
    this.#scripts.handle(e);
    for (const l of this.#listeners) l(e);
  }

  /**
   * Receive every LAN member, user and query event (serf
   * `RegisterEventHandler`).
   *
   * @param listener called synchronously per event
   * @returns deregister
   */
  addListener(listener: AgentEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when no event script runs or waits. */
  scriptsIdle(): Promise<void> {
    return this.#scripts.idle();
  }

  /**
   * Join through seeds (serf agent `Join`).
   *
   * @param addrs "host[:port]" seeds
   * @param replay replay past user events (false = ignore them)
   * @param pool which pool joins
   * @returns how many seeds answered
   * @throws {JoinError} when none did
   */
  async join(
    addrs: string[],
    replay: boolean,
    pool: Pool = "lan",
  ): Promise<number> {
    logger.info`agent: joining: [${addrs.join(" ")}] replay: ${replay}${
      pool === "wan" ? " (WAN)" : ""
    }`;
    try {
      const n = await this.node(pool).join(addrs, { ignoreOld: !replay });
      logger.info`agent: joined: ${n} nodes`;
      return n;
    } catch (e) {
      logger.warn`agent: error joining: ${(e as Error).message}`;
      throw e;
    }
  }

  /**
   * Join until it works (serf agent `retryJoin`), waiting `intervalMs`
   * between attempts.
   *
   * @param addrs the seeds
   * @param opts interval, attempt limit (0 = none), replay, pool
   * @returns true once joined; false after the last attempt or a shutdown
   */
  async retryJoin(
    addrs: string[],
    opts: {
      intervalMs: number;
      maxAttempts: number;
      replay: boolean;
      pool?: Pool;
    },
  ): Promise<boolean> {
    for (let attempt = 1; !this.#shutdown; attempt++) {
      try {
        await this.join(addrs, opts.replay, opts.pool ?? "lan");
        return true;
      } catch (e) {
        if (opts.maxAttempts > 0 && attempt > opts.maxAttempts) {
          logger.error`agent: maximum retry join attempts made, exiting`;
          return false;
        }
        logger.warn`agent: Join failed: ${(e as Error).message}, retrying in ${
          opts.intervalMs / 1000
        }s`;
      }
      await Promise.race([
        new Promise((r) => setTimeout(r, opts.intervalMs)),
        this.#done,
      ]);
    }
    return false;
  }

  /** Leave both pools gracefully (serf agent `Leave`). */
  async leave(): Promise<void> {
    logger.info`agent: requesting graceful leave from Serf`;
    const leaves = [this.#lan.leave()];
    if (this.#wan !== null) leaves.push(this.#wan.leave());
    const results = await Promise.allSettled(leaves);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Stop both members and the scripts (serf agent `Shutdown`). */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return this.#done;
    this.#shutdown = true;
    logger.info`agent: requesting serf shutdown`;
    this.#scripts.close();
    await this.#lan.shutdown();
    await this.#wan?.shutdown();
    await Promise.all(this.#loops);
    logger.info`agent: shutdown complete`;
    this.#resolveDone();
  }

  /**
   * Send a user event (serf agent `UserEvent`).
   *
   * @param name event name
   * @param payload payload (null = none)
   * @param coalesce whether handlers may coalesce it
   * @throws {RangeError} with Serf's size-limit messages
   */
  userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): void {
    logger
      .debug`agent: Requesting user event send: ${name}. Coalesced: ${coalesce}. Payload: ${
      JSON.stringify(new TextDecoder().decode(payload ?? new Uint8Array(0)))
    }`;
    try {
      this.#lan.userEvent(name, payload, coalesce);
      this.counters.userEventsSent++;
    } catch (e) {
      logger.warn`agent: failed to send user event: ${(e as Error).message}`;
      throw e;
    }
  }

  /**
   * Start a query (serf agent `Query`): names starting with `_serf_` are
   * refused, except the payload-less `_serf_ping` of `serf reachability`.
   *
   * @param name query name
   * @param payload payload (null = none)
   * @param params filters, ack, relay factor, timeout
   * @returns the acks and responses until the deadline
   * @throws {Error} "Queries cannot contain the '_serf_' prefix", size limits
   */
  query(
    name: string,
    payload: Uint8Array | null,
    params: QueryParams,
  ): AsyncIterableIterator<QueryRecord> {
    if (
      name.startsWith(INTERNAL_QUERY_PREFIX) &&
      (name !== `${INTERNAL_QUERY_PREFIX}ping` || payload !== null)
    ) {
      throw new Error(
        `Queries cannot contain the '${INTERNAL_QUERY_PREFIX}' prefix`,
      );
    }
    logger.debug`agent: Requesting query send: ${name}. Payload: ${
      JSON.stringify(new TextDecoder().decode(payload ?? new Uint8Array(0)))
    }`;
    try {
      const it = this.#lan.query(name, payload, params);
      this.counters.queriesSent++;
      return it;
    } catch (e) {
      logger.warn`agent: failed to start user query: ${(e as Error).message}`;
      throw e;
    }
  }

  /**
   * Replace our tags, persisting them first when a tags file is set (serf
   * agent `SetTags`).
   *
   * @param tags the new tags
   * @throws {Error} when the tags file cannot be written, or tags are too big
   */
  setTags(tags: ReadonlyMap<string, string>): void {
    if (this.config.tagsFile !== "") {
      try {
        nodeFs().writeFileSync(
          this.config.tagsFile,
          JSON.stringify(Object.fromEntries(tags), null, 2),
          { mode: 0o600 },
        );
      } catch (e) {
        const msg = `Failed to write tags file: ${(e as Error).message}`;
        logger.error`agent: ${msg}`;
        throw new Error(msg);
      }
    }
    this.#lan.setTags(tags);
  }

  /**
   * Mark a member as left (serf agent `ForceLeave`).
   *
   * @param node its name
   * @param prune also erase it from the member lists
   */
  async forceLeave(node: string, prune: boolean): Promise<void> {
    logger.info`agent: Force leaving node: ${node}`;
    try {
      await this.#lan.forceLeave(node, prune);
    } catch (e) {
      logger.warn`agent: failed to remove node: ${(e as Error).message}`;
      throw e;
    }
  }

  /**
   * Run a key command on every member (serf agent `InstallKey` …).
   *
   * @param action install, use, remove or list
   * @param key the base64 key (ignored for list)
   * @returns Serf's key response
   */
  keys(
    action: "install" | "use" | "remove" | "list",
    key = "",
  ): Promise<KeyResult> {
    const words = {
      install: "Initiating key installation",
      use: "Initiating primary key change",
      remove: "Initiating key removal",
      list: "Initiating key listing",
    };
    logger.info`agent: ${words[action]}`;
    switch (action) {
      case "install":
        return this.#lan.installKey(key);
      case "use":
        return this.#lan.useKey(key);
      case "remove":
        return this.#lan.removeKey(key);
      case "list":
        return this.#lan.listKeys();
    }
  }

  /**
   * Members of a pool, any status.
   *
   * @param pool which pool
   * @returns Serf's member list
   */
  members(pool: Pool = "lan"): SerfMemberInfo[] {
    return this.node(pool).members();
  }

  /** The `stats` map (serf agent `Stats`), plus a "wan" section with a WAN pool. */
  stats(): Stats {
    const local = this.#lan.localMember();
    const handlers = new Map<string, string>();
    for (const s of this.#scripts.scripts) {
      handlers.set(`${s.event}:${s.name}`, s.script);
    }
    const out: Stats = new Map([
      ["agent", new Map([["name", local.name]])],
      ["runtime", runtimeStats()],
      ["serf", new Map(Object.entries(formatSerfStats(this.#lan.stats())))],
      ["tags", new Map(local.tags)],
      ["event_handlers", handlers],
    ]);
    if (this.#wan !== null) {
      const wan = new Map(Object.entries(formatSerfStats(this.#wan.stats())));
      wan.set("name", this.#wan.localMember().name);
      wan.set("datacenter", this.config.datacenter);
      out.set("wan", wan);
    }
    return out;
  }
}

function loadTags(c: AgentConfig): Map<string, string> {
  if (c.tagsFile === "" || !nodeFs().existsSync(c.tagsFile)) {
    return new Map(c.tags);
  }
  let json: unknown;
  try {
    json = JSON.parse(nodeFs().readFileSync(c.tagsFile, "utf8"));
  } catch (e) {
    throw new Error(`Failed to decode tags file: ${(e as Error).message}`);
  }
  if (
    json === null || typeof json !== "object" || Array.isArray(json) ||
    Object.values(json).some((v) => typeof v !== "string")
  ) {
    throw new Error(
      `Failed to decode tags file ${c.tagsFile}: want a JSON object of strings`,
    );
  }
  const tags = new Map(Object.entries(json as Record<string, string>));
  logger.info`agent: Restored ${tags.size} tag(s) from ${c.tagsFile}`;
  return tags;
}

/**
 * The `startSerf` options of one pool: name, addresses, profile, key and
 * Serf settings with the pool's gossip tuning.
 *
 * @param c the agent config
 * @param pool which pool
 * @param hooks transport and randomness
 * @returns the options (without tags and files)
 */
export function poolStartOptions(
  c: AgentConfig,
  pool: Pool,
  hooks: AgentStartOptions = {},
): StartSerfOptions {
  const lan = pool === "lan";
  const key = lan ? c.encryptKey : c.wanEncryptKey;
  const advertise = lan ? c.advertise : c.wanAdvertise;
  return {
    name: lan ? c.nodeName : `${c.nodeName}.${c.datacenter}`,
    bind: lan ? c.bind : c.wanBind,
    advertise: advertise === "" ? undefined : advertise,
    profile: lan ? c.profile : c.wanProfile,
    keys: key === "" ? undefined : [key],
    config: serfOverrides(c, pool),
    transport: hooks.transport,
    prng: hooks.prng,
  };
}

function serfOverrides(c: AgentConfig, pool: Pool): SerfConfigOverrides {
  const ml = poolMemberlist(c, pool);
  const tuning: Partial<MemberlistConfig> = {
    enableCompression: ml.enableCompression,
  };
  for (const f of Object.keys(c[pool]) as Array<keyof PoolTuning>) {
    tuning[f] = ml[f];
  }
  const o: SerfConfigOverrides = {
    protocolVersion: c.protocol,
    broadcastTimeoutMs: c.broadcastTimeoutMs,
    enableNameConflictResolution: !c.disableNameResolution,
    disableCoordinates: c.disableCoordinates,
    querySizeLimit: c.querySizeLimit,
    queryResponseSizeLimit: c.queryResponseSizeLimit,
    userEventSizeLimit: c.userEventSizeLimit,
    rejoinAfterLeave: c.rejoinAfterLeave,
    memberlist: tuning,
  };
  if (c.reconnectIntervalMs > 0) o.reconnectIntervalMs = c.reconnectIntervalMs;
  if (c.reconnectTimeoutMs > 0) o.reconnectTimeoutMs = c.reconnectTimeoutMs;
  if (c.tombstoneTimeoutMs > 0) o.tombstoneTimeoutMs = c.tombstoneTimeoutMs;
  return o;
}

function runtimeStats(): Map<string, string> {
  const process = nodeProcess();
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  const version = g.Deno
    ? `deno${g.Deno.version.deno}`
    : g.Bun
    ? `bun${g.Bun.version}`
    : `node${process.versions.node}`;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const cpus = String(nodeOs().cpus().length);
  return new Map([
    ["os", process.platform],
    ["arch", arch],
    ["version", version],
    ["max_procs", cpus],
    ["goroutines", "1"],
    ["cpu_count", cpus],
  ]);
}
