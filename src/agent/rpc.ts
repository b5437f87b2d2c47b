/**
 * The agent's RPC server, compatible with Serf's agent RPC ("IPC", serf
 * agent `ipc.go`; SPEC §9): the real `serf` CLI and client libraries drive
 * it exactly as they drive a Serf agent. Codec: `src/codec/rpc.ts`.
 *
 * ```
 * client                                         agent
 *   {Command:"handshake",Seq:1}{Version:1} ---->
 *                                         <---- {Error:"",Seq:1}
 *   {Command:"stream",Seq:2}{Type:"user"} ---->
 *                                         <---- {Error:"",Seq:2}
 *                                         <---- {Error:"",Seq:2}{Event:"user",…}   (per event)
 *   {Command:"stop",Seq:3}{Stop:2}        ---->
 *                                         <---- {Error:"",Seq:3}
 * ```
 *
 * Requests on one connection are served one at a time, in order (a `join`
 * holds the next request, as in Serf); `query` results, event streams and
 * monitors are sent as they happen. Two extension commands serve the WAN
 * pool: `wan-members` (answered like `members`) and `wan-join` (like
 * `join`); a Serf agent answers them "Unsupported command".
 *
 * Bounds: {@linkcode MAX_RPC_CLIENTS} connections (more are closed at once),
 * {@linkcode MAX_STREAMS_PER_CLIENT} event streams plus running queries per
 * connection, {@linkcode MAX_QUERY_IDS_PER_CLIENT} answerable query ids
 * per connection (the oldest is forgotten), 1 MiB per request object,
 * {@linkcode MAX_QUEUED_REQUEST_OBJECTS} unread objects (reading pauses),
 * and {@linkcode MAX_CLIENT_BACKLOG_BYTES} unsent bytes per connection, past
 * which stream and monitor records are dropped (Serf drops them when its
 * 512-slot channel is full) — replies are never dropped.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { parseAddress } from "../address.ts";
import type { Address } from "../machine.ts";
import { DecodeError } from "../codec/errors.ts";
import { ipFromString } from "../codec/messages.ts";
import { MsgpackReader } from "../codec/msgpack.ts";
import {
  decodeRequestBody,
  decodeRequestHeader,
  encodeRecordWithHeader,
  encodeResponse,
  type EventRecord,
  IPC_VERSION,
  type MembersFilteredRequest,
  RpcErrorText,
  type RpcKeyResponse,
  type RpcMember,
  type RpcRecord,
  type RpcRequestBody,
  rpcRequestHasBody,
  type RpcResponseBody,
  splitMsgpackObjects,
} from "../codec/rpc.ts";
import { compileGoRegExp } from "../serf/go_regexp.ts";
import type { SerfMemberInfo } from "../serf/events.ts";
import type { Agent, Pool } from "./agent.ts";
import {
  type AgentEvent,
  eventTypeName,
  filterMatches,
  parseEventFilter,
  validEventFilter,
} from "./handlers.ts";
import { lineAtLeast, LOG_LEVEL_TAGS, LogHub } from "./logs.ts";
import {
  listenRpc,
  type RpcListener,
  type RpcSocket,
  type RpcSocketHandlers,
} from "./rpc_listener.ts";

const logger = getLogger(["grapevine", "agent.ipc"]);

/** Most RPC connections at once. */
export const MAX_RPC_CLIENTS = 128;
/** Most event streams plus running queries per connection. */
export const MAX_STREAMS_PER_CLIENT = 64;
/** Most query ids a connection can still `respond` to. */
export const MAX_QUERY_IDS_PER_CLIENT = 4096;
/** Unread request objects past which the connection stops reading. */
export const MAX_QUEUED_REQUEST_OBJECTS = 64;
/** Unsent bytes past which stream and monitor records are dropped. */
export const MAX_CLIENT_BACKLOG_BYTES = 4 * 1024 * 1024;

/** The WAN extension commands. */
export const WAN_MEMBERS_COMMAND = "wan-members";
/** Join through the WAN pool. */
export const WAN_JOIN_COMMAND = "wan-join";

const KNOWN_COMMANDS = new Set<string>([
  "handshake",
  "auth",
  "event",
  "force-leave",
  "join",
  "members",
  "members-filtered",
  "tags",
  "leave",
  "install-key",
  "use-key",
  "remove-key",
  "list-keys",
  "query",
  "respond",
  "stream",
  "monitor",
  "stop",
  "stats",
  "get-coordinate",
  WAN_MEMBERS_COMMAND,
  WAN_JOIN_COMMAND,
]);

/** How to run the RPC server. */
export interface RpcServerOptions {
  /** "IP:PORT" to listen on (port 0 = any). */
  addr: string;
  /** Token clients must send with `auth` ("" = none). */
  authKey?: string;
  /** The log ring that `monitor` streams (default: an empty one). */
  logs?: LogHub;
}

/**
 * Serf's RPC record of a member (ipc.go `Member`).
 *
 * @param m the member
 * @returns the record
 */
export function rpcMember(m: SerfMemberInfo): RpcMember {
  return {
    name: m.name,
    addr: ipFromString(m.addr.host) ?? new Uint8Array(4),
    port: m.addr.port,
    tags: new Map(m.tags),
    status: m.status,
    protocolMin: m.protocolMin,
    protocolMax: m.protocolMax,
    protocolCur: m.protocolCur,
    delegateMin: m.delegateMin,
    delegateMax: m.delegateMax,
    delegateCur: m.delegateCur,
  };
}

/**
 * Serf's event-stream record of an event (ipc_event_stream.go).
 *
 * @param e the event
 * @param queryId the per-connection id a query is answered with
 * @returns the record
 */
export function eventRecord(e: AgentEvent, queryId: number): EventRecord {
  if (e.type === "user") {
    return {
      event: "user",
      ltime: e.ltime,
      name: e.name,
      payload: e.payload,
      coalesce: e.coalesce,
    };
  }
  if (e.type === "query") {
    return {
      event: "query",
      id: queryId,
      ltime: e.ltime,
      name: e.name,
      payload: e.payload,
    };
  }
  return {
    event: eventTypeName(e) as "member-join",
    members: e.members.map(rpcMember),
  };
}

/**
 * Keep the members whose tags, status and name match anchored Go regexps
 * (ipc.go `filterMembers`); "" matches anything.
 *
 * @param members the members
 * @param req the filters
 * @returns the matching members
 * @throws {Error} "Failed to compile regex: …"
 */
export function filterMembers(
  members: SerfMemberInfo[],
  req: MembersFilteredRequest,
): SerfMemberInfo[] {
  const compile = (expr: string): RegExp => {
    const re = compileGoRegExp(`^${expr}$`);
    if (typeof re === "string") {
      throw new Error(`Failed to compile regex: ${re}`);
    }
    return re;
  };
  const tags = [...(req.tags ?? [])].map(([t, e]) => [t, compile(e)] as const);
  const status = compile(req.status);
  const name = compile(req.name);
  return members.filter((m) =>
    tags.every(([t, re]) => re.test(m.tags.get(t) ?? "")) &&
    (req.status === "" || status.test(m.status)) &&
    (req.name === "" || name.test(m.name))
  );
}

/** A listening RPC server. Create with {@linkcode RpcServer.start}. */
export class RpcServer {
  #listener!: RpcListener;
  readonly #clients = new Set<RpcConnection>();

  private constructor() {}

  /**
   * Listen for RPC clients of `agent`.
   *
   * @param agent the agent served
   * @param options address, auth token, log ring
   * @returns the server
   * @throws {Error} "Error starting RPC listener: …"
   */
  static async start(
    agent: Agent,
    options: RpcServerOptions,
  ): Promise<RpcServer> {
    const bind = parseAddress(options.addr, 7373);
    const rpc = new RpcServer();
    const ctx: ClientContext = {
      agent,
      authKey: options.authKey ?? "",
      logs: options.logs ?? new LogHub(),
    };
    try {
      // The runtime's native listener: node:net would cost ~5 MiB of RSS
      // (rpc_listener.ts).
      rpc.#listener = await listenRpc(bind, (socket) => {
        if (rpc.#clients.size >= MAX_RPC_CLIENTS) {
          logger
            .warn`agent.ipc: Refusing client ${socket.remoteAddress}: ${MAX_RPC_CLIENTS} clients already connected`;
          return null;
        }
        logger
          .info`agent.ipc: Accepted client: ${socket.remoteAddress}:${socket.remotePort}`;
        const c = new RpcConnection(socket, ctx, () => rpc.#clients.delete(c));
        rpc.#clients.add(c);
        return c.handlers;
      });
    } catch (e) {
      throw new Error(`Error starting RPC listener: ${(e as Error).message}`);
    }
    return rpc;
  }

  /** The bound address. */
  get address(): Address {
    return this.#listener.address;
  }

  /** Stop listening and close every connection (serf `AgentIPC.Shutdown`). */
  async close(): Promise<void> {
    for (const c of this.#clients) c.close();
    await this.#listener.close();
  }
}

interface ClientContext {
  readonly agent: Agent;
  readonly authKey: string;
  readonly logs: LogHub;
}

/** One RPC connection (serf `IPCClient`). */
class RpcConnection {
  readonly #socket: RpcSocket;
  readonly #ctx: ClientContext;
  readonly #name: string;
  #pending: Uint8Array = new Uint8Array(0);
  readonly #objects: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  #version = 0;
  #didAuth = false;
  readonly #streams = new Map<number, () => void>();
  #monitor: { seq: number; stop: () => void } | null = null;
  #runningQueries = 0;
  #nextQueryId = 0;
  readonly #queryIds = new Map<number, number>();
  #dropped = 0;

  /** What the listener calls with this connection's bytes and its end. */
  readonly handlers: RpcSocketHandlers;

  constructor(socket: RpcSocket, ctx: ClientContext, onClose: () => void) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#name = `ipc.client: ${socket.remoteAddress}:${socket.remotePort}`;
    this.handlers = {
      data: (chunk) => this.#onData(chunk),
      close: () => {
        this.close();
        onClose();
      },
    };
    void this.#serve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#streams.values()) stop();
    this.#streams.clear();
    this.#monitor?.stop();
    this.#monitor = null;
    this.#socket.destroy();
    this.#wake?.();
  }

  #onData(chunk: Uint8Array): void {
    const buf = new Uint8Array(this.#pending.length + chunk.length);
    buf.set(this.#pending);
    buf.set(chunk, this.#pending.length);
    try {
      const { objects, rest } = splitMsgpackObjects(buf);
      this.#objects.push(...objects);
      this.#pending = rest.slice();
    } catch (e) {
      logger.error`agent.ipc: failed to decode request header: ${
        (e as Error).message
      }`;
      this.close();
      return;
    }
    if (this.#objects.length > MAX_QUEUED_REQUEST_OBJECTS) this.#socket.pause();
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async #next(): Promise<Uint8Array | null> {
    while (this.#objects.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#objects.length <= MAX_QUEUED_REQUEST_OBJECTS / 4) {
      this.#socket.resume();
    }
    return this.#objects.shift() ?? null;
  }

  async #serve(): Promise<void> {
    try {
      for (
        let obj = await this.#next();
        obj !== null;
        obj = await this.#next()
      ) {
        const header = decodeRequestHeader(new MsgpackReader(obj));
        if (!(await this.#request(header.command, header.seq))) break;
      }
    } catch (e) {
      if (!this.#closed) {
        const what = e instanceof DecodeError
          ? "decode request"
          : "evaluate request";
        logger.error`agent.ipc: Failed to ${what}: ${(e as Error).message}`;
      }
    }
    this.close();
  }

  // Returns false when the connection must close (serf handleRequest errors).
  async #request(command: string, seq: number): Promise<boolean> {
    if (!KNOWN_COMMANDS.has(command)) {
      this.#reply(seq, RpcErrorText.unsupportedCommand);
      logger
        .error`agent.ipc: Failed to evaluate request: command '${command}' not recognized`;
      return false;
    }
    if (command !== "handshake" && this.#version === 0) {
      this.#reply(seq, RpcErrorText.handshakeRequired);
      return false;
    }
    let body: RpcRequestBody | null = null;
    if (rpcRequestHasBody(command) || command === WAN_JOIN_COMMAND) {
      const obj = await this.#next();
      if (obj === null) return false;
      const wire = command === WAN_JOIN_COMMAND ? "join" : command;
      body = decodeRequestBody(wire, new MsgpackReader(obj));
    }
    if (
      this.#ctx.authKey !== "" && !this.#didAuth && command !== "auth" &&
      command !== "handshake"
    ) {
      logger.warn`agent.ipc: Client sending commands before auth`;
      this.#reply(seq, RpcErrorText.authRequired);
      return true;
    }
    await this.#dispatch(command, seq, body);
    return !this.#closed;
  }

  async #dispatch(
    command: string,
    seq: number,
    b: RpcRequestBody | null,
  ): Promise<void> {
    switch (b?.command ?? command) {
      case "handshake":
        return this.#handshake(seq, b as Body<"handshake">);
      case "auth":
        return this.#auth(seq, b as Body<"auth">);
      case "event":
        return this.#event(seq, b as Body<"event">);
      case "members":
      case WAN_MEMBERS_COMMAND:
        return this.#members(seq, command === "members" ? "lan" : "wan", null);
      case "members-filtered":
        return this.#members(seq, "lan", (b as Body<"members-filtered">).body);
      case "join":
        return await this.#join(seq, b as Body<"join">, command);
      case "force-leave":
        return await this.#forceLeave(seq, b as Body<"force-leave">);
      case "leave":
        return await this.#leave(seq);
      case "tags":
        return this.#tags(seq, b as Body<"tags">);
      case "install-key":
      case "use-key":
      case "remove-key":
      case "list-keys":
        return await this.#keys(seq, command, b as KeyBody | null);
      default:
        return this.#dispatchStreams(command, seq, b);
    }
  }

  #dispatchStreams(
    command: string,
    seq: number,
    b: RpcRequestBody | null,
  ): void {
    switch (b?.command ?? command) {
      case "query":
        return this.#query(seq, b as Body<"query">);
      case "respond":
        return this.#respond(seq, b as Body<"respond">);
      case "stream":
        return this.#stream(seq, b as Body<"stream">);
      case "monitor":
        return this.#startMonitor(seq, b as Body<"monitor">);
      case "stop":
        return this.#stop(seq, b as Body<"stop">);
      case "stats":
        return this.#reply(seq, "", {
          command: "stats",
          body: this.#ctx.agent.stats(),
        });
      case "get-coordinate":
        return this.#coordinate(seq, b as Body<"get-coordinate">);
    }
  }

  #reply(
    seq: number,
    error: string,
    body: RpcResponseBody | null = null,
  ): void {
    if (this.#closed) return;
    this.#socket.write(encodeResponse({ error, seq }, body));
  }

  // A stream record; dropped when the client does not read (serf drops too).
  #record(seq: number, rec: RpcRecord): void {
    if (this.#closed) return;
    if (this.#socket.writableLength > MAX_CLIENT_BACKLOG_BYTES) {
      if (this.#dropped++ % 1000 === 0 && rec.kind !== "log") {
        logger.warn`agent.ipc: Dropping event to ${this.#name}`;
      }
      return;
    }
    this.#socket.write(encodeRecordWithHeader(seq, rec));
  }

  #handshake(seq: number, b: Body<"handshake">): void {
    let error = "";
    if (b.body.version !== IPC_VERSION) {
      error = RpcErrorText.unsupportedIpcVersion;
    } else if (this.#version !== 0) error = RpcErrorText.duplicateHandshake;
    else this.#version = b.body.version;
    this.#reply(seq, error);
  }

  #auth(seq: number, b: Body<"auth">): void {
    const ok = b.body.authKey === this.#ctx.authKey;
    if (ok) this.#didAuth = true;
    this.#reply(seq, ok ? "" : RpcErrorText.invalidAuthToken);
  }

  #event(seq: number, b: Body<"event">): void {
    const { name, payload, coalesce } = b.body;
    this.#reply(
      seq,
      errorText(() => this.#ctx.agent.userEvent(name, payload, coalesce)),
    );
  }

  #members(
    seq: number,
    pool: Pool,
    filter: MembersFilteredRequest | null,
  ): void {
    let error = "";
    let members: SerfMemberInfo[] = [];
    try {
      members = this.#ctx.agent.members(pool);
      if (filter !== null) members = filterMembers(members, filter);
    } catch (e) {
      error = (e as Error).message;
      members = [];
    }
    this.#reply(seq, error, {
      command: "members",
      body: { members: members.map(rpcMember) },
    });
  }

  async #join(seq: number, b: Body<"join">, command: string): Promise<void> {
    const pool: Pool = command === WAN_JOIN_COMMAND ? "wan" : "lan";
    let num = 0;
    let error = "";
    try {
      num = await this.#ctx.agent.join(
        b.body.existing ?? [],
        b.body.replay,
        pool,
      );
    } catch (e) {
      error = (e as Error).message;
    }
    this.#reply(seq, error, { command: "join", body: { num } });
  }

  async #forceLeave(seq: number, b: Body<"force-leave">): Promise<void> {
    let error = "";
    try {
      await this.#ctx.agent.forceLeave(b.body.node, b.body.prune);
    } catch (e) {
      error = (e as Error).message;
    }
    this.#reply(seq, error);
  }

  async #leave(seq: number): Promise<void> {
    logger.info`agent.ipc: Graceful leave triggered`;
    let error = "";
    try {
      await this.#ctx.agent.leave();
    } catch (e) {
      error = (e as Error).message;
      logger.error`agent.ipc: leave failed: ${error}`;
    }
    this.#reply(seq, error);
    // Then the agent shuts down (serf handleLeave).
    void this.#ctx.agent.shutdown();
  }

  #tags(seq: number, b: Body<"tags">): void {
    const tags = new Map(this.#ctx.agent.lan.tags());
    for (const k of b.body.deleteTags ?? []) tags.delete(k);
    for (const [k, v] of b.body.tags ?? []) tags.set(k, v);
    this.#reply(seq, errorText(() => this.#ctx.agent.setTags(tags)));
  }

  async #keys(
    seq: number,
    command: string,
    b: KeyBody | null,
  ): Promise<void> {
    const action = command.slice(0, command.indexOf("-")) as
      | "install"
      | "use"
      | "remove"
      | "list";
    const body: RpcKeyResponse = {
      messages: new Map(),
      keys: null,
      numNodes: 0,
      numErr: 0,
      numResp: 0,
    };
    let error = "";
    try {
      const r = await this.#ctx.agent.keys(action, b?.body.key ?? "");
      body.messages = new Map(r.messages);
      body.keys = action === "list" ? new Map(r.keys) : null;
      body.numNodes = r.numNodes;
      body.numErr = r.numErr;
      body.numResp = r.numResp;
      error = r.error ?? "";
    } catch (e) {
      error = (e as Error).message;
    }
    this.#reply(seq, error, { command: "list-keys", body });
  }

  #query(seq: number, b: Body<"query">): void {
    const q = b.body;
    if (this.#streams.size + this.#runningQueries >= MAX_STREAMS_PER_CLIENT) {
      return this.#reply(seq, tooManyStreams());
    }
    let it: AsyncIterableIterator<
      { type: "ack"; from: string } | {
        type: "response";
        from: string;
        payload: Uint8Array | null;
      }
    >;
    try {
      it = this.#ctx.agent.query(q.name, q.payload, {
        filterNodes: q.filterNodes ?? undefined,
        filterTags: q.filterTags ?? undefined,
        requestAck: q.requestAck,
        relayFactor: q.relayFactor,
        timeoutMs: q.timeoutNs > 0
          ? Math.max(1, Math.round(q.timeoutNs / 1e6))
          : 0,
      });
    } catch (e) {
      return this.#reply(seq, (e as Error).message);
    }
    this.#reply(seq, "");
    this.#runningQueries++;
    void (async () => {
      for await (const r of it) {
        const payload = r.type === "response" ? r.payload : null;
        this.#record(seq, {
          kind: "query",
          record: { type: r.type, from: r.from, payload },
        });
      }
      this.#runningQueries--;
      this.#record(seq, {
        kind: "query",
        record: { type: "done", from: "", payload: null },
      });
    })();
  }

  #respond(seq: number, b: Body<"respond">): void {
    const eventId = this.#queryIds.get(b.body.id);
    if (eventId === undefined) {
      return this.#reply(seq, RpcErrorText.invalidQueryId);
    }
    this.#reply(
      seq,
      errorText(() => this.#ctx.agent.lan.respond(eventId, b.body.payload)),
    );
  }

  #registerQuery(eventId: number): number {
    const id = ++this.#nextQueryId;
    this.#queryIds.set(id, eventId);
    if (this.#queryIds.size > MAX_QUERY_IDS_PER_CLIENT) {
      this.#queryIds.delete(this.#queryIds.keys().next().value as number);
    }
    return id;
  }

  #stream(seq: number, b: Body<"stream">): void {
    const filters = parseEventFilter(b.body.type);
    if (!filters.every(validEventFilter)) {
      return this.#reply(seq, RpcErrorText.invalidFilter);
    }
    if (this.#streams.has(seq)) {
      return this.#reply(seq, RpcErrorText.streamExists);
    }
    if (this.#streams.size + this.#runningQueries >= MAX_STREAMS_PER_CLIENT) {
      return this.#reply(seq, tooManyStreams());
    }
    this.#reply(seq, "");
    const stop = this.#ctx.agent.addListener((e) => {
      if (!filters.some((f) => filterMatches(f, e))) return;
      const id = e.type === "query" ? this.#registerQuery(e.id) : 0;
      this.#record(seq, { kind: "event", record: eventRecord(e, id) });
    });
    this.#streams.set(seq, stop);
  }

  #startMonitor(seq: number, b: Body<"monitor">): void {
    const level = b.body.logLevel.toUpperCase();
    if (!(LOG_LEVEL_TAGS as readonly string[]).includes(level)) {
      return this.#reply(seq, `Unknown log level: ${level}`);
    }
    if (this.#monitor !== null) {
      return this.#reply(seq, RpcErrorText.monitorExists);
    }
    this.#reply(seq, "");
    const stop = this.#ctx.logs.subscribe((line) => {
      if (lineAtLeast(level, line)) {
        this.#record(seq, { kind: "log", record: { log: line } });
      }
    });
    this.#monitor = { seq, stop };
  }

  #stop(seq: number, b: Body<"stop">): void {
    const target = b.body.stop;
    if (this.#monitor?.seq === target) {
      this.#monitor.stop();
      this.#monitor = null;
    }
    this.#streams.get(target)?.();
    this.#streams.delete(target);
    this.#reply(seq, "");
  }

  #coordinate(seq: number, b: Body<"get-coordinate">): void {
    const coord = this.#ctx.agent.lan.cachedCoordinate(b.body.node);
    this.#reply(seq, "", {
      command: "get-coordinate",
      body: { coord, ok: coord !== null },
    });
  }
}

type Body<C extends RpcRequestBody["command"]> = Extract<
  RpcRequestBody,
  { command: C }
>;

type KeyBody = Extract<RpcRequestBody, { body: { key: string } }>;

function errorText(f: () => void): string {
  try {
    f();
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

function tooManyStreams(): string {
  return `Too many streams on this connection: at most ${MAX_STREAMS_PER_CLIENT} event streams and queries at once`;
}
