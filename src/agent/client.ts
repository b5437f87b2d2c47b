/**
 * An RPC client for Serf's agent RPC (serf `client/rpc_client.go`): drives
 * a real Serf agent or ours. One TCP connection; requests are numbered
 * from 1 (the handshake) and answers are matched by Seq, so calls,
 * streams, monitors and queries can run at once on one connection.
 *
 * @example
 * ```ts ignore
 * const c = await RpcClient.connect("127.0.0.1:7373");
 * try {
 *   for (const m of await c.membersFiltered(null, "", "")) console.log(m.name, m.status);
 * } finally {
 *   c.close();
 * }
 * ```
 *
 * @module
 */

import net from "node:net";
import { parseAddress } from "../address.ts";
import type { Coordinate } from "../codec/coordinate.ts";
import { MsgpackReader } from "../codec/msgpack.ts";
import {
  decodeEventRecord,
  decodeLogRecord,
  decodeQueryRecord,
  decodeResponseBody,
  decodeResponseHeader,
  encodeRequest,
  encodeRequestBody,
  encodeRequestHeader,
  type EventRecord,
  IPC_VERSION,
  type QueryRecord,
  type QueryRequest,
  type ResponseHeader,
  type RpcKeyResponse,
  type RpcMember,
  type RpcRequestBody,
  type RpcResponseBody,
  rpcResponseHasBody,
  splitMsgpackObjects,
  type Stats,
} from "../codec/rpc.ts";
import { EventChannel } from "../event_channel.ts";
import { WAN_JOIN_COMMAND, WAN_MEMBERS_COMMAND } from "./rpc.ts";

/** The client's default I/O deadline (serf `DefaultTimeout`). */
export const RPC_CLIENT_TIMEOUT_MS = 10_000;
/** Records buffered per stream for a slow reader (oldest dropped). */
export const RPC_STREAM_BUFFER = 4096;

/** An error the agent answered with (the response header's `Error`). */
export class RpcError extends Error {
  /**
   * Make an agent error.
   *
   * @param message the agent's error text
   */
  constructor(message: string) {
    super(message);
    this.name = "RpcError";
  }
}

/** How to connect. */
export interface RpcClientOptions {
  /** Token for `auth` ("" or absent: none). */
  authKey?: string;
  /** Connect and handshake deadline (default 10 s). */
  timeoutMs?: number;
}

/** A running subscription: its records and how to end it. */
export interface RpcStream<T> {
  /** The records, until {@linkcode RpcStream.stop} or the connection ends. */
  readonly records: AsyncIterableIterator<T>;
  /** Send `stop` and end the records. */
  stop(): Promise<void>;
}

/** A key command's answer and Serf's overall error ("" = success). */
export interface KeyCallResult {
  /** The agent's key response. */
  response: RpcKeyResponse;
  /** The error in the response header. */
  error: string;
}

/** Query options, as `serf query` sends them. */
export type RpcQueryParams =
  & Pick<QueryRequest, "name" | "payload">
  & Partial<Omit<QueryRequest, "name" | "payload">>;

// What to do with the body object after a header, if one follows.
type BodyReader = ((obj: Uint8Array) => void) | null;

interface SeqHandler {
  onHeader(h: ResponseHeader): BodyReader;
  onClose(err: Error): void;
}

/** A connection to an agent's RPC. Create with {@linkcode RpcClient.connect}. */
export class RpcClient {
  readonly #socket: net.Socket;
  #seq = 0;
  #buf: Uint8Array = new Uint8Array(0);
  #body: BodyReader = null;
  readonly #handlers = new Map<number, SeqHandler>();
  readonly #stopped = new Set<number>();
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (c: Uint8Array) => this.#onData(c));
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
  }

  /**
   * Connect, handshake and authenticate.
   *
   * @param addr the agent's RPC address, "IP:PORT"
   * @param options auth token and deadline
   * @returns the connected client
   * @throws {Error} "dial tcp ADDR: connect: connection refused" and the like,
   *   or an {@linkcode RpcError} from the handshake or auth
   */
  static async connect(
    addr: string,
    options: RpcClientOptions = {},
  ): Promise<RpcClient> {
    const a = parseAddress(addr, 7373);
    const timeoutMs = options.timeoutMs ?? RPC_CLIENT_TIMEOUT_MS;
    const socket = await dial(a.host, a.port, timeoutMs);
    const c = new RpcClient(socket);
    try {
      await withTimeout(
        c.#ok({ command: "handshake", body: { version: IPC_VERSION } }),
        timeoutMs,
        "handshake",
      );
      if (options.authKey) {
        await withTimeout(
          c.#ok({ command: "auth", body: { authKey: options.authKey } }),
          timeoutMs,
          "auth",
        );
      }
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Close the connection; pending calls fail with "client closed". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    const err = new Error("client closed");
    for (const h of this.#handlers.values()) h.onClose(err);
    this.#handlers.clear();
  }

  #onData(chunk: Uint8Array): void {
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    let objects: Uint8Array[];
    try {
      const split = splitMsgpackObjects(buf);
      objects = split.objects;
      this.#buf = split.rest.slice();
    } catch {
      this.close();
      return;
    }
    for (const obj of objects) {
      const body = this.#body;
      this.#body = null;
      if (body !== null) {
        body(obj);
        continue;
      }
      const h = decodeResponseHeader(new MsgpackReader(obj));
      const handler = this.#handlers.get(h.seq);
      if (handler !== undefined) this.#body = handler.onHeader(h);
      // A record still in flight after `stop`: skip its body.
      else if (this.#stopped.has(h.seq)) this.#body = () => {};
    }
  }

  #send(bytes: Uint8Array): void {
    if (this.#closed) throw new Error("client closed");
    this.#socket.write(bytes);
  }

  #register(seq: number, h: SeqHandler): void {
    if (this.#closed) {
      h.onClose(new Error("client closed"));
      return;
    }
    this.#handlers.set(seq, h);
  }

  // One request, one answer: resolves with the header error and the body.
  #call(
    b: RpcRequestBody,
    wire?: { command: string; answeredAs: string },
  ): Promise<{ error: string; body: RpcResponseBody | null }> {
    const seq = ++this.#seq;
    const answeredAs = wire?.answeredAs ?? b.command;
    return new Promise((resolve, reject) => {
      this.#register(seq, {
        onHeader: (h) => {
          this.#handlers.delete(seq);
          if (!rpcResponseHasBody(answeredAs, h.error)) {
            resolve({ error: h.error, body: null });
            return null;
          }
          return (obj) => {
            try {
              const body = decodeResponseBody(
                answeredAs,
                new MsgpackReader(obj),
              );
              resolve({ error: h.error, body });
            } catch (e) {
              reject(e);
            }
          };
        },
        onClose: reject,
      });
      try {
        if (wire === undefined) this.#send(encodeRequest(seq, b));
        else {
          const head = encodeRequestHeader({ command: wire.command, seq });
          this.#send(concat(head, encodeRequestBody(b)));
        }
      } catch (e) {
        this.#handlers.delete(seq);
        reject(e);
      }
    });
  }

  async #ok(b: RpcRequestBody): Promise<RpcResponseBody | null> {
    const { error, body } = await this.#call(b);
    if (error !== "") throw new RpcError(error);
    return body;
  }

  /** Every member, any status (`members`). */
  async members(): Promise<RpcMember[]> {
    const b = await this.#ok({ command: "members", body: null });
    return b?.command === "members" ? b.body.members : [];
  }

  /**
   * Members whose tags, status and name match anchored regexps
   * (`members-filtered`, what `serf members` uses).
   *
   * @param tags tag → regexp (null = none)
   * @param status status regexp ("" = any)
   * @param name name regexp ("" = any)
   * @returns the members
   */
  async membersFiltered(
    tags: Map<string, string> | null,
    status: string,
    name: string,
  ): Promise<RpcMember[]> {
    const b = await this.#ok({
      command: "members-filtered",
      body: { tags: tags ?? new Map(), status, name },
    });
    return b !== null && "members" in b.body ? b.body.members : [];
  }

  /** Members of the agent's WAN pool (grapevine's `wan-members`). */
  async wanMembers(): Promise<RpcMember[]> {
    const { error, body } = await this.#call(
      { command: "members", body: null },
      { command: WAN_MEMBERS_COMMAND, answeredAs: "members" },
    );
    if (error !== "") throw new RpcError(error);
    return body !== null && "members" in body.body ? body.body.members : [];
  }

  /**
   * Ask the agent to join (`join`; `wan` uses grapevine's `wan-join`).
   *
   * @param addrs seeds
   * @param replay replay past user events
   * @param wan join through the WAN pool
   * @returns how many seeds answered
   */
  async join(addrs: string[], replay: boolean, wan = false): Promise<number> {
    const b: RpcRequestBody = {
      command: "join",
      body: { existing: addrs, replay },
    };
    const { error, body } = wan
      ? await this.#call(b, { command: WAN_JOIN_COMMAND, answeredAs: "join" })
      : await this.#call(b);
    if (error !== "") throw new RpcError(error);
    return body !== null && "num" in body.body ? body.body.num : 0;
  }

  /** Leave gracefully; the agent then shuts down. */
  async leave(): Promise<void> {
    await this.#ok({ command: "leave", body: null });
  }

  /**
   * Mark a member as left.
   *
   * @param node its name
   * @param prune also erase it
   */
  async forceLeave(node: string, prune = false): Promise<void> {
    await this.#ok({ command: "force-leave", body: { node, prune } });
  }

  /**
   * Send a user event.
   *
   * @param name event name
   * @param payload payload (null = none)
   * @param coalesce may be coalesced
   */
  async userEvent(
    name: string,
    payload: Uint8Array | null,
    coalesce: boolean,
  ): Promise<void> {
    await this.#ok({ command: "event", body: { name, payload, coalesce } });
  }

  /**
   * Set and delete the agent's tags.
   *
   * @param tags tags to set
   * @param deleteTags tag names to delete
   */
  async updateTags(
    tags: Map<string, string>,
    deleteTags: string[] | null,
  ): Promise<void> {
    await this.#ok({ command: "tags", body: { tags, deleteTags } });
  }

  /**
   * Run a key command; the answer comes with Serf's error, if any.
   *
   * @param action install, use, remove or list
   * @param key the base64 key (not for list)
   * @returns the response and error
   */
  async keys(
    action: "install" | "use" | "remove" | "list",
    key = "",
  ): Promise<KeyCallResult> {
    const b: RpcRequestBody = action === "list"
      ? { command: "list-keys", body: null }
      : { command: `${action}-key`, body: { key } };
    const { error, body } = await this.#call(b);
    const response = body !== null && "numNodes" in body.body
      ? body.body
      : { messages: new Map(), keys: null, numNodes: 0, numErr: 0, numResp: 0 };
    return { response, error };
  }

  /** The agent's `stats` map. */
  async stats(): Promise<Stats> {
    const b = await this.#ok({ command: "stats", body: null });
    return b?.command === "stats" ? b.body : new Map();
  }

  /**
   * A member's cached coordinate.
   *
   * @param node its name
   * @returns the coordinate, or null when the agent has none
   */
  async getCoordinate(node: string): Promise<Coordinate | null> {
    const b = await this.#ok({ command: "get-coordinate", body: { node } });
    if (b?.command !== "get-coordinate" || !b.body.ok) return null;
    return b.body.coord;
  }

  /**
   * Answer a query received on an event stream.
   *
   * @param id the query record's id
   * @param payload the response
   */
  async respond(id: number, payload: Uint8Array | null): Promise<void> {
    await this.#ok({ command: "respond", body: { id, payload } });
  }

  // Open a subscription: the first header says whether it started, each
  // later header carries one record.
  #subscribe<T>(
    b: RpcRequestBody,
    decode: (r: MsgpackReader) => T,
    isLast: (rec: T) => boolean = () => false,
  ): Promise<RpcStream<T>> {
    const seq = ++this.#seq;
    const ch = new EventChannel<T>(RPC_STREAM_BUFFER);
    const stream: RpcStream<T> = {
      records: ch.iterate(),
      stop: async () => {
        ch.close();
        if (!this.#handlers.delete(seq) || this.#closed) return;
        this.#stopped.add(seq);
        await this.#ok({ command: "stop", body: { stop: seq } });
      },
    };
    return new Promise((resolve, reject) => {
      let started = false;
      this.#register(seq, {
        onHeader: (h) => {
          if (started) {
            return (obj) => this.#deliver(seq, ch, decode, isLast, obj);
          }
          started = true;
          if (h.error !== "") {
            this.#handlers.delete(seq);
            reject(new RpcError(h.error));
          } else resolve(stream);
          return null;
        },
        onClose: (err) => {
          ch.close();
          if (!started) reject(err);
        },
      });
      try {
        this.#send(encodeRequest(seq, b));
      } catch (e) {
        this.#handlers.delete(seq);
        reject(e);
      }
    });
  }

  #deliver<T>(
    seq: number,
    ch: EventChannel<T>,
    decode: (r: MsgpackReader) => T,
    isLast: (rec: T) => boolean,
    obj: Uint8Array,
  ): void {
    let rec: T;
    try {
      rec = decode(new MsgpackReader(obj));
    } catch {
      return; // an unknown record kind: skip it
    }
    if (isLast(rec)) {
      this.#handlers.delete(seq);
      // Records may still follow (see `query`): skip their bodies.
      this.#stopped.add(seq);
      ch.close();
    } else ch.push(rec);
  }

  /**
   * Subscribe to events (`stream`).
   *
   * @param filter e.g. "*" or "member-join,user:deploy"
   * @returns the event records
   */
  stream(filter: string): Promise<RpcStream<EventRecord>> {
    return this.#subscribe(
      { command: "stream", body: { type: filter } },
      decodeEventRecord,
    );
  }

  /**
   * Subscribe to the agent's log (`monitor`): recent lines, then new ones.
   *
   * @param logLevel lowest level, e.g. "debug"
   * @returns the log lines
   */
  async monitor(logLevel: string): Promise<RpcStream<string>> {
    const s = await this.#subscribe(
      { command: "monitor", body: { logLevel } },
      (r) => decodeLogRecord(r).log,
    );
    return s;
  }

  /**
   * Start a query; acks and responses stream in until its deadline.
   *
   * @param p name, payload, filters, ack, relay factor, timeout (ns)
   * @returns the records (the final "done" ends them)
   */
  async query(p: RpcQueryParams): Promise<RpcStream<QueryRecord>> {
    return await this.#subscribe(
      {
        command: "query",
        body: {
          filterNodes: p.filterNodes ?? null,
          filterTags: p.filterTags ?? new Map(),
          requestAck: p.requestAck ?? false,
          relayFactor: p.relayFactor ?? 0,
          timeoutNs: p.timeoutNs ?? 0,
          name: p.name,
          payload: p.payload,
        },
      },
      decodeQueryRecord,
      // A Serf agent can send a burst of records with an empty From after
      // its query closed and before its "done" (serf's stream reads the
      // closed channels); Serf's CLI ends there too.
      (rec) => rec.type === "done" || rec.from === "",
    );
  }
}

function dial(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`dial tcp ${host}:${port}: i/o timeout`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e: Error & { code?: string }) => {
      clearTimeout(timer);
      const why = e.code === "ECONNREFUSED" ? "connection refused" : e.message;
      reject(new Error(`dial tcp ${host}:${port}: connect: ${why}`));
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`RPC ${what} timed out after ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function concat(a: Uint8Array, b: Uint8Array | null): Uint8Array {
  if (b === null) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
