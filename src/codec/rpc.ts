/**
 * The Serf agent RPC ("IPC", SPEC §9): a TCP stream of back-to-back msgpack
 * objects in the *new-spec* dialect (`MsgpackHandle{RawToString: true,
 * WriteExt: true}`: str8 for 32..255-byte strings, bin for `[]byte`; SPEC
 * §1.4). Struct keys are sorted, integers take the smallest unsigned form.
 *
 * ```
 * client                                   agent
 *   {Command:"handshake", Seq:1} {Version:1} -->
 *                                <-- {Error:"", Seq:1}
 *   {Command:"members-filtered", Seq:2} {Name, Status, Tags} -->
 *                                <-- {Error:"", Seq:2} {Members:[…]}
 *   {Command:"stream", Seq:3} {Type:"*"} -->
 *                                <-- {Error:"", Seq:3}
 *                                <-- {Error:"", Seq:3} {Event:"member-join", …}
 *                                    (later, once per event)
 * ```
 *
 * Only some commands carry a request body ({@linkcode rpcRequestHasBody}) or
 * a response body ({@linkcode rpcResponseHasBody}); `query`, `stream` and
 * `monitor` are followed later by `(header, record)` pairs with the Seq of the
 * subscribing request ({@linkcode rpcCommandStreams}). Objects are not framed:
 * {@linkcode splitMsgpackObjects} cuts a receive buffer into whole objects.
 *
 * Decoders take a {@linkcode MsgpackReader} positioned at the object, return
 * views into the input for `[]byte` fields, and throw only
 * {@link DecodeError}.
 *
 * @module
 */

import { readCoordinate, writeCoordinate } from "./coordinate.ts";
import type { Coordinate } from "./coordinate.ts";
import { DecodeError } from "./errors.ts";
import { MsgpackReader, MsgpackWriter, readStruct } from "./msgpack.ts";

/** The only IPC version the agent speaks (serf `MinIPCVersion`/`MaxIPCVersion`). */
export const IPC_VERSION = 1;

/**
 * The largest single RPC object {@linkcode splitMsgpackObjects} accepts by
 * default: 1 MiB. The biggest legitimate objects are `members` answers (about
 * 130 bytes per member, so ~8000 members) and user payloads (≤ 9 KiB); a peer
 * that declares more is cut off instead of buffered without bound.
 */
export const RPC_MAX_OBJECT_BYTES = 1024 * 1024;

/** Every RPC command name (serf `cmd/serf/command/agent/ipc.go`). */
export const RpcCommand = {
  handshake: "handshake",
  auth: "auth",
  event: "event",
  forceLeave: "force-leave",
  join: "join",
  members: "members",
  membersFiltered: "members-filtered",
  tags: "tags",
  leave: "leave",
  installKey: "install-key",
  useKey: "use-key",
  removeKey: "remove-key",
  listKeys: "list-keys",
  query: "query",
  respond: "respond",
  stream: "stream",
  monitor: "monitor",
  stop: "stop",
  stats: "stats",
  getCoordinate: "get-coordinate",
} as const;

/** A command name. */
export type RpcCommandName = (typeof RpcCommand)[keyof typeof RpcCommand];

/** The agent's fixed error strings (ipc.go), sent in `ResponseHeader.error`. */
export const RpcErrorText = {
  unsupportedCommand: "Unsupported command",
  unsupportedIpcVersion: "Unsupported IPC version",
  duplicateHandshake: "Handshake already performed",
  handshakeRequired: "Handshake required",
  monitorExists: "Monitor already exists",
  invalidFilter: "Invalid event filter",
  streamExists: "Stream with given sequence exists",
  invalidQueryId: "No pending queries matching ID",
  authRequired: "Authentication required",
  invalidAuthToken: "Invalid authentication token",
} as const;

/** `QueryRecord.type` values. */
export const QueryRecordType = {
  ack: "ack",
  response: "response",
  done: "done",
} as const;

/** Sent before every request. */
export interface RequestHeader {
  /** Command name (see {@linkcode RpcCommand}). */
  command: string;
  /** Client-chosen sequence number echoed by the answer (the CLI counts from 1). */
  seq: number;
}

/** Sent before every response and every streamed record. */
export interface ResponseHeader {
  /** "" on success, else the error text. */
  error: string;
  /** The Seq of the request answered (or subscribed). */
  seq: number;
}

/** `handshake` body: must be the first command. */
export interface HandshakeRequest {
  /** IPC version; only {@linkcode IPC_VERSION} is accepted. */
  version: number;
}

/** `auth` body: required next when the agent has an RPC auth key. */
export interface AuthRequest {
  /** The token. */
  authKey: string;
}

/** `event` body: fire a user event. */
export interface EventRequest {
  /** Event name. */
  name: string;
  /** Payload (bin), `null` for nil. */
  payload: Uint8Array | null;
  /** Let handlers coalesce same-name events. */
  coalesce: boolean;
}

/** `force-leave` body. */
export interface ForceLeaveRequest {
  /** Node to force out. */
  node: string;
  /** Also erase it from the member list. */
  prune: boolean;
}

/** `join` body. */
export interface JoinRequest {
  /** Addresses ("host:port") to join; `null` for nil. */
  existing: string[] | null;
  /** Replay old user events (false = ignore them). */
  replay: boolean;
}

/** `join` response body. */
export interface JoinResponse {
  /** Number of nodes contacted successfully (Go int32). */
  num: number;
}

/** `members-filtered` body: each field is a regexp anchored as `^…$`. */
export interface MembersFilteredRequest {
  /** Tag name → value regexp; `null` for nil. */
  tags: Map<string, string> | null;
  /** Status regexp, "" for any. */
  status: string;
  /** Name regexp, "" for any. */
  name: string;
}

/** A member as the RPC shows it (ipc.go `Member`). */
export interface RpcMember {
  /** Node name. */
  name: string;
  /** IP (bin of 4 or 16 bytes). */
  addr: Uint8Array;
  /** Port. */
  port: number;
  /** Tags (Go map, wire order). */
  tags: Map<string, string>;
  /** "alive", "leaving", "left", "failed" or "none". */
  status: string;
  /** memberlist protocol minimum. */
  protocolMin: number;
  /** memberlist protocol maximum. */
  protocolMax: number;
  /** memberlist protocol in use. */
  protocolCur: number;
  /** Serf protocol minimum. */
  delegateMin: number;
  /** Serf protocol maximum. */
  delegateMax: number;
  /** Serf protocol in use. */
  delegateCur: number;
}

/** `members` / `members-filtered` response body. */
export interface MembersResponse {
  /** The members. */
  members: RpcMember[];
}

/** `tags` body: set and delete tags of the agent. */
export interface TagsRequest {
  /** Tags to set; `null` for nil. */
  tags: Map<string, string> | null;
  /** Tag names to delete; `null` for nil (what the CLI sends with no -delete). */
  deleteTags: string[] | null;
}

/** `install-key` / `use-key` / `remove-key` body. */
export interface RpcKeyRequest {
  /** The key in standard base64. */
  key: string;
}

/** Response body of the four key commands. */
export interface RpcKeyResponse {
  /** Node name → error message. */
  messages: Map<string, string>;
  /** Key (base64) → how many nodes have it, list-keys only; `null` (nil) otherwise. */
  keys: Map<string, number> | null;
  /** Members asked. */
  numNodes: number;
  /** Members that answered with an error. */
  numErr: number;
  /** Members that answered. */
  numResp: number;
}

/** `monitor` body: stream the agent's log. */
export interface MonitorRequest {
  /** Minimum level, e.g. "info" (upper-cased by the agent). */
  logLevel: string;
}

/** `stream` body: stream events. */
export interface StreamRequest {
  /** Event filter, e.g. "*" or "member-join,user:deploy,query:uptime". */
  type: string;
}

/** `stop` body: end a stream or monitor. */
export interface StopRequest {
  /** The Seq of the `stream`/`monitor` request to stop. */
  stop: number;
}

/** `query` body. */
export interface QueryRequest {
  /** Only these nodes answer; `null` for nil. */
  filterNodes: string[] | null;
  /** Only nodes whose tags match these regexps answer; `null` for nil. */
  filterTags: Map<string, string> | null;
  /** Ask for acks. */
  requestAck: boolean;
  /** Relay factor (uint8). */
  relayFactor: number;
  /** Timeout in nanoseconds; 0 = Serf's default. */
  timeoutNs: number;
  /** Query name. */
  name: string;
  /** Payload (bin), `null` for nil. */
  payload: Uint8Array | null;
}

/** `respond` body: answer a query received on an event stream. */
export interface RespondRequest {
  /** The `id` of the {@linkcode QueryEventRecord}. */
  id: number;
  /** Response payload (bin), `null` for nil. */
  payload: Uint8Array | null;
}

/** `get-coordinate` body. */
export interface GetCoordinateRequest {
  /** Node whose cached coordinate is wanted. */
  node: string;
}

/** `get-coordinate` response body. */
export interface GetCoordinateResponse {
  /**
   * The cached coordinate, or `null` when the agent has none: it then sends
   * Go's zero `Coordinate` (floats 0.0, `Vec` nil), which is what `null`
   * encodes to.
   */
  coord: Coordinate | null;
  /** Whether the coordinate was found. */
  ok: boolean;
}

/** `stats` response body: section → key → value (all strings, Go maps). */
export type Stats = Map<string, Map<string, string>>;

/** A record streamed after a `query`: an ack, a response, or the end. */
export interface QueryRecord {
  /** "ack", "response" or "done" ({@linkcode QueryRecordType}). */
  type: string;
  /** Responding node ("" for done). */
  from: string;
  /** Response payload (bin); `null` for acks and done. */
  payload: Uint8Array | null;
}

/** A record streamed after `monitor`. */
export interface LogRecord {
  /** One log line. */
  log: string;
}

/** The member event names of an event stream (serf `EventType.String()`). */
export type MemberEventName =
  | "member-join"
  | "member-leave"
  | "member-failed"
  | "member-update"
  | "member-reap";

/** A member event on an event stream. */
export interface MemberEventRecord {
  /** Which member event. */
  event: MemberEventName;
  /** The members concerned (coalesced). */
  members: RpcMember[];
}

/** A user event on an event stream. */
export interface UserEventRecord {
  /** Always "user". */
  event: "user";
  /** Event Lamport time. */
  ltime: number;
  /** Event name. */
  name: string;
  /** Payload (bin), `null` for nil. */
  payload: Uint8Array | null;
  /** Whether the event was coalescable. */
  coalesce: boolean;
}

/** A query on an event stream; answer it with `respond`. */
export interface QueryEventRecord {
  /** Always "query". */
  event: "query";
  /** Per-client query id for `respond` (uint64 counter). */
  id: number;
  /** Query Lamport time. */
  ltime: number;
  /** Query name. */
  name: string;
  /** Payload (bin), `null` for nil. */
  payload: Uint8Array | null;
}

/** Any record of an event stream. */
export type EventRecord =
  | MemberEventRecord
  | UserEventRecord
  | QueryEventRecord;

/** A request body tagged by its command (commands without a body carry `null`). */
export type RpcRequestBody =
  | { command: "handshake"; body: HandshakeRequest }
  | { command: "auth"; body: AuthRequest }
  | { command: "event"; body: EventRequest }
  | { command: "force-leave"; body: ForceLeaveRequest }
  | { command: "join"; body: JoinRequest }
  | { command: "members-filtered"; body: MembersFilteredRequest }
  | { command: "tags"; body: TagsRequest }
  | { command: "install-key" | "use-key" | "remove-key"; body: RpcKeyRequest }
  | { command: "query"; body: QueryRequest }
  | { command: "respond"; body: RespondRequest }
  | { command: "stream"; body: StreamRequest }
  | { command: "monitor"; body: MonitorRequest }
  | { command: "stop"; body: StopRequest }
  | { command: "get-coordinate"; body: GetCoordinateRequest }
  | { command: "members" | "leave" | "list-keys" | "stats"; body: null };

/** A response body tagged by the command it answers. */
export type RpcResponseBody =
  | { command: "join"; body: JoinResponse }
  | { command: "members" | "members-filtered"; body: MembersResponse }
  | {
    command: "install-key" | "use-key" | "remove-key" | "list-keys";
    body: RpcKeyResponse;
  }
  | { command: "stats"; body: Stats }
  | { command: "get-coordinate"; body: GetCoordinateResponse };

/** A streamed record tagged by its kind (what the subscription was). */
export type RpcRecord =
  | { kind: "query"; record: QueryRecord }
  | { kind: "log"; record: LogRecord }
  | { kind: "event"; record: EventRecord };

const EMPTY = new Uint8Array(0);
const w = new MsgpackWriter("rpc", 1024);

const REQUEST_BODY = new Set<string>([
  "handshake",
  "auth",
  "event",
  "force-leave",
  "join",
  "members-filtered",
  "tags",
  "install-key",
  "use-key",
  "remove-key",
  "query",
  "respond",
  "stream",
  "monitor",
  "stop",
  "get-coordinate",
]);
const NO_REQUEST_BODY = new Set<string>([
  "members",
  "leave",
  "list-keys",
  "stats",
]);
const RESPONSE_BODY = new Set<string>([
  "join",
  "members",
  "members-filtered",
  "install-key",
  "use-key",
  "remove-key",
  "list-keys",
  "stats",
  "get-coordinate",
]);
// Errors the agent sends before dispatching, always without a body (ipc.go
// handleRequest).
const PRE_DISPATCH_ERRORS = new Set<string>([
  RpcErrorText.handshakeRequired,
  RpcErrorText.authRequired,
  RpcErrorText.unsupportedCommand,
]);
const MEMBER_EVENTS = new Set<string>([
  "member-join",
  "member-leave",
  "member-failed",
  "member-update",
  "member-reap",
]);

/**
 * Whether a request body object follows the header of `command`.
 *
 * @param command The command name.
 * @returns True for the commands that take a body; false for `members`,
 *   `leave`, `list-keys`, `stats` and unknown names.
 */
export function rpcRequestHasBody(command: string): boolean {
  return REQUEST_BODY.has(command);
}

/**
 * Whether a body object follows the (first) response header to `command`.
 * The agent sends the body even when `error` is set (join, keys), except for
 * the errors it raises before looking at the command: "Handshake required",
 * "Authentication required" and "Unsupported command".
 *
 * @param command The command answered.
 * @param error The header's `error`.
 * @returns True when a body object follows.
 */
export function rpcResponseHasBody(command: string, error = ""): boolean {
  return RESPONSE_BODY.has(command) && !PRE_DISPATCH_ERRORS.has(error);
}

/**
 * Whether `command` opens a stream of later `(header, record)` pairs with its
 * Seq: `query` (query records until "done"), `stream` (event records) and
 * `monitor` (log records).
 *
 * @param command The command name.
 * @returns True for the streaming commands.
 */
export function rpcCommandStreams(command: string): boolean {
  return command === "query" || command === "stream" || command === "monitor";
}

/**
 * Encode a request header.
 *
 * @param h The header.
 * @returns `{Command, Seq}`.
 */
export function encodeRequestHeader(h: RequestHeader): Uint8Array {
  return w.reset().map(2).str("Command").str(h.command).str("Seq").int(h.seq)
    .finish();
}

/**
 * Decode a request header.
 *
 * @param r The reader.
 * @returns The header.
 */
export function decodeRequestHeader(r: MsgpackReader): RequestHeader {
  const h: RequestHeader = { command: "", seq: 0 };
  readStruct(r, (k) => {
    if (k === "Command") h.command = r.str();
    else if (k === "Seq") h.seq = r.uint(64);
    else return false;
    return true;
  });
  return h;
}

/**
 * Encode a response header.
 *
 * @param h The header.
 * @returns `{Error, Seq}`.
 */
export function encodeResponseHeader(h: ResponseHeader): Uint8Array {
  return w.reset().map(2).str("Error").str(h.error).str("Seq").int(h.seq)
    .finish();
}

/**
 * Decode a response header.
 *
 * @param r The reader.
 * @returns The header.
 */
export function decodeResponseHeader(r: MsgpackReader): ResponseHeader {
  const h: ResponseHeader = { error: "", seq: 0 };
  readStruct(r, (k) => {
    if (k === "Error") h.error = r.str();
    else if (k === "Seq") h.seq = r.uint(64);
    else return false;
    return true;
  });
  return h;
}

// ---------------------------------------------------------------------------
// Request bodies. Each `writeX` appends one object to the shared writer, so
// encodeRequest can put header and body in one buffer.

function writeRequestBody(b: RpcRequestBody): void {
  switch (b.command) {
    case "handshake":
      w.map(1).str("Version").int(b.body.version);
      return;
    case "auth":
      w.map(1).str("AuthKey").str(b.body.authKey);
      return;
    case "event":
      w.map(3).str("Coalesce").bool(b.body.coalesce).str("Name")
        .str(b.body.name).str("Payload").bytes(b.body.payload);
      return;
    case "force-leave":
      w.map(2).str("Node").str(b.body.node).str("Prune").bool(b.body.prune);
      return;
    case "join":
      w.map(2).str("Existing").stringArray(b.body.existing).str("Replay")
        .bool(b.body.replay);
      return;
    case "members-filtered":
      w.map(3).str("Name").str(b.body.name).str("Status").str(b.body.status)
        .str("Tags").stringMap(b.body.tags);
      return;
    case "tags":
      w.map(2).str("DeleteTags").stringArray(b.body.deleteTags).str("Tags")
        .stringMap(b.body.tags);
      return;
    case "install-key":
    case "use-key":
    case "remove-key":
      w.map(1).str("Key").str(b.body.key);
      return;
    case "query":
      writeQueryRequest(b.body);
      return;
    case "respond":
      w.map(2).str("ID").int(b.body.id).str("Payload").bytes(b.body.payload);
      return;
    case "stream":
      w.map(1).str("Type").str(b.body.type);
      return;
    case "monitor":
      w.map(1).str("LogLevel").str(b.body.logLevel);
      return;
    case "stop":
      w.map(1).str("Stop").int(b.body.stop);
      return;
    case "get-coordinate":
      w.map(1).str("Node").str(b.body.node);
      return;
  }
}

function writeQueryRequest(q: QueryRequest): void {
  w.map(7).str("FilterNodes").stringArray(q.filterNodes).str("FilterTags")
    .stringMap(q.filterTags).str("Name").str(q.name).str("Payload")
    .bytes(q.payload).str("RelayFactor").int(q.relayFactor).str("RequestAck")
    .bool(q.requestAck).str("Timeout").int(q.timeoutNs);
}

/**
 * Encode a request body alone.
 *
 * @param b The tagged body.
 * @returns The body object, or `null` for a command without one.
 */
export function encodeRequestBody(b: RpcRequestBody): Uint8Array | null {
  if (b.body === null) return null;
  w.reset();
  writeRequestBody(b);
  return w.finish();
}

/**
 * Encode a whole request, header and body, in one buffer (one write).
 *
 * @param seq The request's sequence number.
 * @param b The tagged body (`body: null` for commands without one).
 * @returns `{Command, Seq}` followed by the body object if any.
 * @example
 * ```ts
 * conn.write(encodeRequest(1, { command: "handshake", body: { version: 1 } }));
 * ```
 */
export function encodeRequest(seq: number, b: RpcRequestBody): Uint8Array {
  w.reset().map(2).str("Command").str(b.command).str("Seq").int(seq);
  if (b.body !== null) writeRequestBody(b);
  return w.finish();
}

/**
 * Decode the body that follows a request header (or nothing, for commands
 * without one).
 *
 * @param command The header's command.
 * @param r The reader, at the body (untouched for body-less commands).
 * @returns The tagged body.
 * @throws {DecodeError} "unknown-command" for a name the agent does not know,
 *   or a msgpack reason.
 */
export function decodeRequestBody(
  command: string,
  r: MsgpackReader,
): RpcRequestBody {
  switch (command) {
    case "handshake":
      return { command, body: decodeHandshakeRequest(r) };
    case "auth":
      return { command, body: decodeAuthRequest(r) };
    case "event":
      return { command, body: decodeEventRequest(r) };
    case "force-leave":
      return { command, body: decodeForceLeaveRequest(r) };
    case "join":
      return { command, body: decodeJoinRequest(r) };
    case "members-filtered":
      return { command, body: decodeMembersFilteredRequest(r) };
    case "tags":
      return { command, body: decodeTagsRequest(r) };
    case "install-key":
    case "use-key":
    case "remove-key":
      return { command, body: decodeRpcKeyRequest(r) };
    case "query":
      return { command, body: decodeQueryRequest(r) };
    case "respond":
      return { command, body: decodeRespondRequest(r) };
    case "stream":
      return { command, body: decodeStreamRequest(r) };
    case "monitor":
      return { command, body: decodeMonitorRequest(r) };
    case "stop":
      return { command, body: decodeStopRequest(r) };
    case "get-coordinate":
      return { command, body: decodeGetCoordinateRequest(r) };
  }
  if (NO_REQUEST_BODY.has(command)) {
    return { command: command as "members", body: null };
  }
  throw new DecodeError(
    "unknown-command",
    `Unsupported RPC command: ${command}`,
  );
}

// One-key structs all decode the same way.
function readOne(r: MsgpackReader, key: string, read: () => void): void {
  readStruct(r, (k) => {
    if (k !== key) return false;
    read();
    return true;
  });
}

/**
 * Decode a `handshake` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeHandshakeRequest(r: MsgpackReader): HandshakeRequest {
  const m: HandshakeRequest = { version: 0 };
  readOne(r, "Version", () => m.version = r.int());
  return m;
}

/**
 * Decode an `auth` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeAuthRequest(r: MsgpackReader): AuthRequest {
  const m: AuthRequest = { authKey: "" };
  readOne(r, "AuthKey", () => m.authKey = r.str());
  return m;
}

/**
 * Decode an `event` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeEventRequest(r: MsgpackReader): EventRequest {
  const m: EventRequest = { name: "", payload: null, coalesce: false };
  readStruct(r, (k) => {
    if (k === "Name") m.name = r.str();
    else if (k === "Payload") m.payload = r.bytes();
    else if (k === "Coalesce") m.coalesce = r.bool();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a `force-leave` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeForceLeaveRequest(r: MsgpackReader): ForceLeaveRequest {
  const m: ForceLeaveRequest = { node: "", prune: false };
  readStruct(r, (k) => {
    if (k === "Node") m.node = r.str();
    else if (k === "Prune") m.prune = r.bool();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a `join` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeJoinRequest(r: MsgpackReader): JoinRequest {
  const m: JoinRequest = { existing: null, replay: false };
  readStruct(r, (k) => {
    if (k === "Existing") m.existing = r.stringArray();
    else if (k === "Replay") m.replay = r.bool();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a `members-filtered` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeMembersFilteredRequest(
  r: MsgpackReader,
): MembersFilteredRequest {
  const m: MembersFilteredRequest = { tags: null, status: "", name: "" };
  readStruct(r, (k) => {
    if (k === "Tags") m.tags = readNullableStringMap(r);
    else if (k === "Status") m.status = r.str();
    else if (k === "Name") m.name = r.str();
    else return false;
    return true;
  });
  return m;
}

function readNullableStringMap(r: MsgpackReader): Map<string, string> | null {
  return r.tryNil() ? null : r.stringMap();
}

/**
 * Decode a `tags` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeTagsRequest(r: MsgpackReader): TagsRequest {
  const m: TagsRequest = { tags: null, deleteTags: null };
  readStruct(r, (k) => {
    if (k === "Tags") m.tags = readNullableStringMap(r);
    else if (k === "DeleteTags") m.deleteTags = r.stringArray();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode an `install-key` / `use-key` / `remove-key` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeRpcKeyRequest(r: MsgpackReader): RpcKeyRequest {
  const m: RpcKeyRequest = { key: "" };
  readOne(r, "Key", () => m.key = r.str());
  return m;
}

/**
 * Decode a `query` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeQueryRequest(r: MsgpackReader): QueryRequest {
  const m: QueryRequest = {
    filterNodes: null,
    filterTags: null,
    requestAck: false,
    relayFactor: 0,
    timeoutNs: 0,
    name: "",
    payload: null,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "FilterNodes":
        m.filterNodes = r.stringArray();
        return true;
      case "FilterTags":
        m.filterTags = readNullableStringMap(r);
        return true;
      case "RequestAck":
        m.requestAck = r.bool();
        return true;
      case "RelayFactor":
        m.relayFactor = r.uint(8);
        return true;
      case "Timeout":
        m.timeoutNs = r.int();
        return true;
      case "Name":
        m.name = r.str();
        return true;
      case "Payload":
        m.payload = r.bytes();
        return true;
    }
    return false;
  });
  return m;
}

/**
 * Decode a `respond` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeRespondRequest(r: MsgpackReader): RespondRequest {
  const m: RespondRequest = { id: 0, payload: null };
  readStruct(r, (k) => {
    if (k === "ID") m.id = r.uint(64);
    else if (k === "Payload") m.payload = r.bytes();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a `stream` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeStreamRequest(r: MsgpackReader): StreamRequest {
  const m: StreamRequest = { type: "" };
  readOne(r, "Type", () => m.type = r.str());
  return m;
}

/**
 * Decode a `monitor` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeMonitorRequest(r: MsgpackReader): MonitorRequest {
  const m: MonitorRequest = { logLevel: "" };
  readOne(r, "LogLevel", () => m.logLevel = r.str());
  return m;
}

/**
 * Decode a `stop` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeStopRequest(r: MsgpackReader): StopRequest {
  const m: StopRequest = { stop: 0 };
  readOne(r, "Stop", () => m.stop = r.uint(64));
  return m;
}

/**
 * Decode a `get-coordinate` body.
 *
 * @param r The reader.
 * @returns The body.
 */
export function decodeGetCoordinateRequest(
  r: MsgpackReader,
): GetCoordinateRequest {
  const m: GetCoordinateRequest = { node: "" };
  readOne(r, "Node", () => m.node = r.str());
  return m;
}

// ---------------------------------------------------------------------------
// Response bodies and records.

function writeMember(m: RpcMember): void {
  w.map(11).str("Addr").bytes(m.addr).str("DelegateCur").int(m.delegateCur)
    .str("DelegateMax").int(m.delegateMax).str("DelegateMin")
    .int(m.delegateMin).str("Name").str(m.name).str("Port").int(m.port)
    .str("ProtocolCur").int(m.protocolCur).str("ProtocolMax")
    .int(m.protocolMax).str("ProtocolMin").int(m.protocolMin).str("Status")
    .str(m.status).str("Tags").stringMap(m.tags);
}

function writeMembers(members: readonly RpcMember[]): void {
  w.array(members.length);
  for (const m of members) writeMember(m);
}

function writeResponseBody(b: RpcResponseBody): void {
  switch (b.command) {
    case "join":
      w.map(1).str("Num").int(b.body.num);
      return;
    case "members":
    case "members-filtered":
      w.map(1).str("Members");
      writeMembers(b.body.members);
      return;
    case "install-key":
    case "use-key":
    case "remove-key":
    case "list-keys": {
      const k = b.body;
      w.map(5).str("Keys");
      if (k.keys === null) w.nil();
      else {
        w.map(k.keys.size);
        for (const [key, n] of k.keys) w.str(key).int(n);
      }
      w.str("Messages").stringMap(k.messages).str("NumErr").int(k.numErr)
        .str("NumNodes").int(k.numNodes).str("NumResp").int(k.numResp);
      return;
    }
    case "stats":
      w.map(b.body.size);
      for (const [section, kv] of b.body) w.str(section).stringMap(kv);
      return;
    case "get-coordinate":
      w.map(2).str("Coord");
      writeCoordinate(
        w,
        b.body.coord ?? { vec: null, error: 0, adjustment: 0, height: 0 },
      );
      w.str("Ok").bool(b.body.ok);
      return;
  }
}

function writeRecord(rec: RpcRecord): void {
  switch (rec.kind) {
    case "query":
      w.map(3).str("From").str(rec.record.from).str("Payload")
        .bytes(rec.record.payload).str("Type").str(rec.record.type);
      return;
    case "log":
      w.map(1).str("Log").str(rec.record.log);
      return;
    case "event":
      writeEventRecord(rec.record);
      return;
  }
}

function writeEventRecord(e: EventRecord): void {
  if (e.event === "user") {
    const u = e;
    w.map(5).str("Coalesce").bool(u.coalesce).str("Event").str(u.event)
      .str("LTime").int(u.ltime).str("Name").str(u.name).str("Payload")
      .bytes(u.payload);
  } else if (e.event === "query") {
    const q = e;
    w.map(5).str("Event").str(q.event).str("ID").int(q.id).str("LTime")
      .int(q.ltime).str("Name").str(q.name).str("Payload").bytes(q.payload);
  } else {
    const m = e;
    w.map(2).str("Event").str(m.event).str("Members");
    writeMembers(m.members);
  }
}

/**
 * Encode a response body alone.
 *
 * @param b The tagged body.
 * @returns The body object.
 */
export function encodeResponseBody(b: RpcResponseBody): Uint8Array {
  w.reset();
  writeResponseBody(b);
  return w.finish();
}

/**
 * Encode a whole response, header and optional body, in one buffer.
 *
 * @param h The header.
 * @param b The body, or `null` for commands answered by the header alone.
 * @returns `{Error, Seq}` followed by the body if any.
 */
export function encodeResponse(
  h: ResponseHeader,
  b: RpcResponseBody | null,
): Uint8Array {
  w.reset().map(2).str("Error").str(h.error).str("Seq").int(h.seq);
  if (b !== null) writeResponseBody(b);
  return w.finish();
}

/**
 * Encode a streamed record alone.
 *
 * @param rec The tagged record.
 * @returns The record object.
 */
export function encodeRecord(rec: RpcRecord): Uint8Array {
  w.reset();
  writeRecord(rec);
  return w.finish();
}

/**
 * Encode a streamed record with its header (`Error: ""`, the subscription's
 * Seq) in one buffer, as the agent's `Send(header, rec)` writes it.
 *
 * @param seq The Seq of the subscribing request.
 * @param rec The tagged record.
 * @returns `{Error: "", Seq}` followed by the record.
 */
export function encodeRecordWithHeader(
  seq: number,
  rec: RpcRecord,
): Uint8Array {
  w.reset().map(2).str("Error").str("").str("Seq").int(seq);
  writeRecord(rec);
  return w.finish();
}

/**
 * Decode the body that follows a response header, when there is one
 * ({@linkcode rpcResponseHasBody}).
 *
 * @param command The command answered.
 * @param r The reader, at the body.
 * @returns The tagged body.
 * @throws {DecodeError} "no-body" for a command answered by its header
 *   alone, or a msgpack reason.
 */
export function decodeResponseBody(
  command: string,
  r: MsgpackReader,
): RpcResponseBody {
  switch (command) {
    case "join": {
      const m: JoinResponse = { num: 0 };
      readOne(r, "Num", () => m.num = r.int());
      return { command, body: m };
    }
    case "members":
    case "members-filtered":
      return { command, body: decodeMembersResponse(r) };
    case "install-key":
    case "use-key":
    case "remove-key":
    case "list-keys":
      return { command, body: decodeRpcKeyResponse(r) };
    case "stats":
      return { command, body: decodeStats(r) };
    case "get-coordinate":
      return { command, body: decodeGetCoordinateResponse(r) };
  }
  throw new DecodeError(
    "no-body",
    `RPC command has no response body: ${command}`,
  );
}

function readMember(r: MsgpackReader): RpcMember {
  const m: RpcMember = {
    name: "",
    addr: EMPTY,
    port: 0,
    tags: new Map(),
    status: "",
    protocolMin: 0,
    protocolMax: 0,
    protocolCur: 0,
    delegateMin: 0,
    delegateMax: 0,
    delegateCur: 0,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "Name":
        m.name = r.str();
        return true;
      case "Addr":
        m.addr = r.bytes() ?? EMPTY;
        return true;
      case "Port":
        m.port = r.uint(16);
        return true;
      case "Tags":
        m.tags = r.stringMap();
        return true;
      case "Status":
        m.status = r.str();
        return true;
      case "ProtocolMin":
      case "ProtocolMax":
      case "ProtocolCur":
      case "DelegateMin":
      case "DelegateMax":
      case "DelegateCur":
        m[VERSION_FIELDS[k]] = r.uint(8);
        return true;
    }
    return false;
  });
  return m;
}

const VERSION_FIELDS = {
  ProtocolMin: "protocolMin",
  ProtocolMax: "protocolMax",
  ProtocolCur: "protocolCur",
  DelegateMin: "delegateMin",
  DelegateMax: "delegateMax",
  DelegateCur: "delegateCur",
} as const;

function readMembers(r: MsgpackReader): RpcMember[] {
  const n = r.array();
  const out: RpcMember[] = [];
  for (let i = 0; i < n; i++) out.push(readMember(r));
  return out;
}

/**
 * Decode a `members` / `members-filtered` response body.
 *
 * @param r The reader.
 * @returns The body (nil `Members` reads as empty).
 */
export function decodeMembersResponse(r: MsgpackReader): MembersResponse {
  const m: MembersResponse = { members: [] };
  readOne(r, "Members", () => m.members = readMembers(r));
  return m;
}

/**
 * Decode the response body of a key command.
 *
 * @param r The reader.
 * @returns The body; `keys` is `null` for nil (every command but list-keys).
 */
export function decodeRpcKeyResponse(r: MsgpackReader): RpcKeyResponse {
  const m: RpcKeyResponse = {
    messages: new Map(),
    keys: null,
    numNodes: 0,
    numErr: 0,
    numResp: 0,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "Messages":
        m.messages = r.stringMap();
        return true;
      case "Keys": {
        if (r.tryNil()) return true;
        const n = r.map();
        const keys = new Map<string, number>();
        for (let i = 0; i < n; i++) {
          const key = r.str();
          keys.set(key, r.int());
        }
        m.keys = keys;
        return true;
      }
      case "NumNodes":
        m.numNodes = r.int();
        return true;
      case "NumErr":
        m.numErr = r.int();
        return true;
      case "NumResp":
        m.numResp = r.int();
        return true;
    }
    return false;
  });
  return m;
}

/**
 * Decode a `stats` response body.
 *
 * @param r The reader.
 * @returns Section → key → value, in wire order.
 */
export function decodeStats(r: MsgpackReader): Stats {
  const n = r.map();
  const out: Stats = new Map();
  for (let i = 0; i < n; i++) {
    const section = r.str();
    out.set(section, r.stringMap());
  }
  return out;
}

/**
 * Decode a `get-coordinate` response body.
 *
 * @param r The reader.
 * @returns The body; `coord` is `null` when `Vec` is nil (Go's zero value).
 */
export function decodeGetCoordinateResponse(
  r: MsgpackReader,
): GetCoordinateResponse {
  const m: GetCoordinateResponse = { coord: null, ok: false };
  readStruct(r, (k) => {
    if (k === "Coord") {
      const c = readCoordinate(r);
      m.coord = c.vec === null ? null : { ...c, vec: c.vec };
    } else if (k === "Ok") m.ok = r.bool();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a record streamed after a `query`.
 *
 * @param r The reader.
 * @returns The record.
 */
export function decodeQueryRecord(r: MsgpackReader): QueryRecord {
  const m: QueryRecord = { type: "", from: "", payload: null };
  readStruct(r, (k) => {
    if (k === "Type") m.type = r.str();
    else if (k === "From") m.from = r.str();
    else if (k === "Payload") m.payload = r.bytes();
    else return false;
    return true;
  });
  return m;
}

/**
 * Decode a record streamed after `monitor`.
 *
 * @param r The reader.
 * @returns The record.
 */
export function decodeLogRecord(r: MsgpackReader): LogRecord {
  const m: LogRecord = { log: "" };
  readOne(r, "Log", () => m.log = r.str());
  return m;
}

/**
 * Decode a record of an event stream; the `Event` field says which kind.
 *
 * @param r The reader.
 * @returns The member, user or query event record.
 * @throws {DecodeError} "unknown-event" for an `Event` value the agent never
 *   sends, or a msgpack reason.
 */
export function decodeEventRecord(r: MsgpackReader): EventRecord {
  // Fields of all three record kinds; which ones are meaningful depends on
  // `Event`, which may come after them (user records start with Coalesce).
  let event = "", name = "", ltime = 0, id = 0, coalesce = false;
  let payload: Uint8Array | null = null;
  let members: RpcMember[] = [];
  readStruct(r, (k) => {
    switch (k) {
      case "Event":
        event = r.str();
        return true;
      case "Members":
        members = readMembers(r);
        return true;
      case "LTime":
        ltime = r.uint(64);
        return true;
      case "Name":
        name = r.str();
        return true;
      case "Payload":
        payload = r.bytes();
        return true;
      case "Coalesce":
        coalesce = r.bool();
        return true;
      case "ID":
        id = r.uint(64);
        return true;
    }
    return false;
  });
  if (event === "user") return { event, ltime, name, payload, coalesce };
  if (event === "query") return { event, id, ltime, name, payload };
  if (MEMBER_EVENTS.has(event)) {
    return { event: event as MemberEventName, members };
  }
  throw new DecodeError("unknown-event", `Unknown RPC event record: ${event}`);
}

/** Whole objects cut from a receive buffer, and the incomplete tail. */
export interface SplitObjects {
  /** Complete msgpack objects in order (views into the input, no copies). */
  objects: Uint8Array[];
  /** The bytes of a partial object (a view); keep them and append more. */
  rest: Uint8Array;
}

/**
 * Cut a receive buffer into whole msgpack objects. The RPC stream has no
 * framing, so the only way to find an object's end is to walk it
 * ({@linkcode MsgpackReader.skip}); running out of bytes ("truncated") means
 * the last object is incomplete and is returned as `rest`.
 *
 * A partial object is re-walked from its start on the next call, which is
 * why objects are bounded: re-walking at most `maxObjectBytes` per call.
 *
 * @param buf Received bytes (`rest` of the previous call plus new data).
 * @param maxObjectBytes The largest object accepted, complete or not
 *   (default {@linkcode RPC_MAX_OBJECT_BYTES}, 1 MiB).
 * @returns The objects and the rest.
 * @throws {DecodeError} "too-large" when an object (or the partial tail)
 *   exceeds the bound, "depth" / "type" for a corrupt stream. Either way the
 *   connection cannot be resynchronised and should be closed.
 * @example
 * ```ts
 * const { objects, rest } = splitMsgpackObjects(concat(pending, chunk));
 * pending = rest.slice();
 * ```
 */
export function splitMsgpackObjects(
  buf: Uint8Array,
  maxObjectBytes: number = RPC_MAX_OBJECT_BYTES,
): SplitObjects {
  const objects: Uint8Array[] = [];
  // One reader walks the whole buffer; `start` marks the current object.
  const r = new MsgpackReader(buf);
  let start = 0;
  while (start < buf.length) {
    try {
      r.skip();
    } catch (err) {
      if (err instanceof DecodeError && err.reason === "truncated") break;
      throw err;
    }
    const end = r.offset;
    if (end - start > maxObjectBytes) {
      throw tooLarge(end - start, maxObjectBytes);
    }
    objects.push(buf.subarray(start, end));
    start = end;
  }
  const rest = buf.subarray(start);
  if (rest.length > maxObjectBytes) throw tooLarge(rest.length, maxObjectBytes);
  return { objects, rest };
}

function tooLarge(n: number, max: number): DecodeError {
  return new DecodeError(
    "too-large",
    `RPC object exceeds the limit of ${max} bytes: ${n} bytes`,
  );
}
