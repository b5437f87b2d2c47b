/**
 * Serf's gossip messages (SPEC §8.1, §8.2): `serfType || msgpack(struct)` in
 * the legacy dialect, keys in sorted order as go-msgpack writes them.
 *
 * On the wire they ride inside memberlist user messages (`0x08 || serfType ||
 * msgpack`); the encoders here return the bytes *without* memberlist's 0x08,
 * which the memberlist layer adds (`getBroadcasts` / `SendToAddress`). The
 * push-pull state is memberlist's push-pull user state, and the conflict, key
 * request and key response messages travel inside query and query-response
 * payloads.
 *
 * ```
 * A --gossip: 08 04 {query}--------------------------> B  (re-broadcast)
 * A <--direct UDP: 08 05 {queryResponse}-------------- B  (to Addr:Port)
 * A <--08 05 {…}-- R <--08 09 {relayHeader} 05 {…}--- B  (relay factor)
 * ```
 *
 * Decoders return views into their input for `[]byte` fields (no copies), keep
 * Go's nil apart from empty where Serf relies on it (query `Filters`, ack-like
 * `Payload`s, key response `Keys`; SPEC §0 pitfall 6), and throw only
 * {@link DecodeError}. Go `map`s become `Map`s in wire order, so decoding then
 * encoding gives back the captured bytes even for tags and `StatusLTimes`.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";
import { MsgpackReader, MsgpackWriter, readStruct } from "./msgpack.ts";

/** Serf's message type bytes (serf `messageType`, SPEC §8.1). */
export const SerfMessageType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

/** Query `Flags` bits (serf `queryFlagAck`, `queryFlagNoBroadcast`). */
export const QueryFlag = {
  /** The originator wants an ack from each node whose filters match. */
  ack: 1,
  /** Receivers must not re-broadcast the query. */
  noBroadcast: 2,
} as const;

/** Query filter type bytes (serf `filterNodeType`, `filterTagType`). */
export const FilterType = {
  /** `0x00 || msgpack([]string)`: the node's name must be in the list. */
  node: 0,
  /** `0x01 || msgpack({Expr, Tag})`: the tag must match the Go regexp. */
  tag: 1,
} as const;

/** Serf's `MemberStatus` values, as the conflict response carries them. */
export const MemberStatus = {
  /** StatusNone. */
  none: 0,
  /** StatusAlive. */
  alive: 1,
  /** StatusLeaving. */
  leaving: 2,
  /** StatusLeft. */
  left: 3,
  /** StatusFailed. */
  failed: 4,
} as const;

/** join intent (1): `node` is (still) a member as of member-clock `ltime`. */
export interface JoinIntent {
  /** Member Lamport time of the intent. */
  ltime: number;
  /** Node name. */
  node: string;
}

/** leave intent (0): `node` is leaving as of member-clock `ltime`. */
export interface LeaveIntent {
  /** Member Lamport time of the intent. */
  ltime: number;
  /** Node name. */
  node: string;
  /** True to erase the member at once (force-leave -prune). */
  prune: boolean;
}

/** userEvent (3): a user event, gossiped to all members. */
export interface UserEventMessage {
  /** Event Lamport time. */
  ltime: number;
  /** Event name. */
  name: string;
  /** Opaque payload; `null` is Go's nil slice (no payload given). */
  payload: Uint8Array | null;
  /** Coalescable (`CC`): agents may collapse same-name events. */
  cc: boolean;
}

/**
 * query (4): a question gossiped to all members; matching members answer
 * with a {@linkcode QueryResponseMessage} sent straight to `addr:port`.
 */
export interface QueryMessage {
  /** Query Lamport time. */
  ltime: number;
  /** Random 32-bit id; responses must carry it. */
  id: number;
  /** Originator's IP for replies (4 or 16 bytes). */
  addr: Uint8Array;
  /** Originator's port for replies. */
  port: number;
  /** Originator's node name (the relay destination name). */
  sourceNode: string;
  /**
   * Raw filter entries (see {@linkcode encodeNodeFilter},
   * {@linkcode encodeTagFilter}, {@linkcode decodeFilter}); `null` is Go's
   * nil slice, which is what Serf sends when there are none (`c0`).
   */
  filters: Uint8Array[] | null;
  /** {@linkcode QueryFlag} bits. */
  flags: number;
  /** How many extra members relay each response (0..255). */
  relayFactor: number;
  /** Time the originator waits for responses, in nanoseconds (Go Duration). */
  timeoutNs: number;
  /** Query name; `_serf_` names are Serf's internal queries. */
  name: string;
  /** Opaque payload, `null` for nil. */
  payload: Uint8Array | null;
}

/** queryResponse (5): an ack (`flags` 1) or a response to a query. */
export interface QueryResponseMessage {
  /** The query's Lamport time. */
  ltime: number;
  /** The query's id. */
  id: number;
  /** Responding node. */
  from: string;
  /** 1 ({@linkcode QueryFlag.ack}) for an ack, 0 for a response. */
  flags: number;
  /** Response payload; `null` for acks (Go nil). */
  payload: Uint8Array | null;
}

/** Go's `net.UDPAddr` as go-msgpack writes it: `{IP, Port, Zone}`. */
export interface UdpAddr {
  /** IP (4 or 16 bytes). */
  ip: Uint8Array;
  /** Port (Go `int`). */
  port: number;
  /** IPv6 zone, "" for none. */
  zone: string;
}

/**
 * relay (9): `0x09 || relayHeader{DestAddr, DestName} || message`. The relay
 * node forwards `message` (a whole serf message, type byte first) to
 * `destAddr` as a user message without decoding it.
 */
export interface RelayMessage {
  /** Where to forward (the query's originator). */
  destAddr: UdpAddr;
  /** Name of the destination node. */
  destName: string;
  /** The serf message to forward, type byte first (a view, no copy). */
  message: Uint8Array;
}

/** One event in a push-pull event-ring slot (serf `userEvent`). */
export interface UserEventEntry {
  /** Event name. */
  name: string;
  /** Event payload, `null` for nil. */
  payload: Uint8Array | null;
}

/** One full slot of the event ring: every event seen at one Lamport time. */
export interface UserEvents {
  /** The events' Lamport time. */
  ltime: number;
  /** The distinct events of that time. */
  events: UserEventEntry[];
}

/**
 * pushPull (2): Serf's state in memberlist's push-pull user-state slot
 * (`0x02 || msgpack(messagePushPull)`, SPEC §8.2).
 */
export interface PushPullState {
  /** Member clock. */
  ltime: number;
  /** Status Lamport time of every known member, self included (Go map). */
  statusLtimes: Map<string, number>;
  /** Names of members that left (nil on the wire reads as empty). */
  leftMembers: string[];
  /** Event clock. */
  eventLtime: number;
  /**
   * The whole event ring (EventBuffer, 512 slots), `null` for empty slots,
   * sent as is (SPEC §0 pitfall 10).
   */
  events: (UserEvents | null)[];
  /** Query clock. */
  queryLtime: number;
}

/** Serf's `Member` struct, as the conflict response carries it. */
export interface SerfMember {
  /** Node name. */
  name: string;
  /** IP (4 or 16 bytes). */
  addr: Uint8Array;
  /** Port. */
  port: number;
  /** Tags (Go map, wire order). */
  tags: Map<string, string>;
  /** A {@linkcode MemberStatus} value (Go `int`). */
  status: number;
  /** memberlist protocol minimum. */
  protocolMin: number;
  /** memberlist protocol maximum. */
  protocolMax: number;
  /** memberlist protocol in use. */
  protocolCur: number;
  /** Serf (delegate) protocol minimum. */
  delegateMin: number;
  /** Serf (delegate) protocol maximum. */
  delegateMax: number;
  /** Serf (delegate) protocol in use. */
  delegateCur: number;
}

/**
 * conflictResponse (6): a responder's view of a contested name, inside a
 * `_serf_conflict` query response payload. `0x06 c0` when it does not know
 * the node (serf `handleConflict` encodes a nil `*Member`).
 */
export interface ConflictResponse {
  /** The member, or `null` for nil. */
  member: SerfMember | null;
}

/** keyRequest (7): the payload of the `_serf_*-key` internal queries. */
export interface KeyRequest {
  /** Raw key bytes; empty (`a0`, not nil) for list-keys. */
  key: Uint8Array | null;
}

/** keyResponse (8): one node's answer to a key query (`nodeKeyResponse`). */
export interface KeyResponse {
  /** True on success. */
  result: boolean;
  /** Error or information text. */
  message: string;
  /** Installed keys (base64) for list-keys; `null` (Go nil) otherwise. */
  keys: string[] | null;
  /** Primary key (base64) for list-keys, "" otherwise. */
  primaryKey: string;
}

/** A decoded query filter entry. */
export type QueryFilter =
  | {
    /** Node-name filter. */
    type: "node";
    /** Names that match. */
    nodes: string[];
  }
  | {
    /** Tag filter. */
    type: "tag";
    /** Tag name. */
    tag: string;
    /** Go regexp the tag value must match (unanchored). */
    expr: string;
  }
  | {
    /** A filter type this version does not know (Serf: "not matched"). */
    type: "unknown";
    /** The filter type byte. */
    filterType: number;
  };

/** Any Serf message, tagged by its {@linkcode SerfMessageType} name. */
export type SerfMessage =
  | { type: "leave"; body: LeaveIntent }
  | { type: "join"; body: JoinIntent }
  | { type: "pushPull"; body: PushPullState }
  | { type: "userEvent"; body: UserEventMessage }
  | { type: "query"; body: QueryMessage }
  | { type: "queryResponse"; body: QueryResponseMessage }
  | { type: "conflictResponse"; body: ConflictResponse }
  | { type: "keyRequest"; body: KeyRequest }
  | { type: "keyResponse"; body: KeyResponse }
  | { type: "relay"; body: RelayMessage };

const EMPTY = new Uint8Array(0);
// One writer for every encoder: messages are encoded one at a time and
// `finish()` copies the result out (as in messages.ts).
const w = new MsgpackWriter("legacy", 1024);

function start(type: number): MsgpackWriter {
  return w.reset().byte(type);
}

/**
 * Encode a join intent.
 *
 * @param m The intent.
 * @returns `0x01 || msgpack{LTime, Node}`.
 */
export function encodeJoinIntent(m: JoinIntent): Uint8Array {
  return start(SerfMessageType.join).map(2).str("LTime").int(m.ltime)
    .str("Node").str(m.node).finish();
}

/**
 * Decode a join intent body (after the type byte).
 *
 * @param r The reader.
 * @returns The intent.
 */
export function decodeJoinIntent(r: MsgpackReader): JoinIntent {
  const m: JoinIntent = { ltime: 0, node: "" };
  readStruct(r, (k) => {
    if (k === "LTime") m.ltime = r.uint(64);
    else if (k === "Node") m.node = r.str();
    else return false;
    return true;
  });
  return m;
}

/**
 * Encode a leave intent.
 *
 * @param m The intent.
 * @returns `0x00 || msgpack{LTime, Node, Prune}`.
 */
export function encodeLeaveIntent(m: LeaveIntent): Uint8Array {
  return start(SerfMessageType.leave).map(3).str("LTime").int(m.ltime)
    .str("Node").str(m.node).str("Prune").bool(m.prune).finish();
}

/**
 * Decode a leave intent body.
 *
 * @param r The reader.
 * @returns The intent.
 */
export function decodeLeaveIntent(r: MsgpackReader): LeaveIntent {
  const m: LeaveIntent = { ltime: 0, node: "", prune: false };
  readStruct(r, (k) => {
    if (k === "LTime") m.ltime = r.uint(64);
    else if (k === "Node") m.node = r.str();
    else if (k === "Prune") m.prune = r.bool();
    else return false;
    return true;
  });
  return m;
}

/**
 * Encode a user event.
 *
 * @param m The event.
 * @returns `0x03 || msgpack{CC, LTime, Name, Payload}`.
 */
export function encodeUserEvent(m: UserEventMessage): Uint8Array {
  return start(SerfMessageType.userEvent).map(4).str("CC").bool(m.cc)
    .str("LTime").int(m.ltime).str("Name").str(m.name).str("Payload")
    .bytes(m.payload).finish();
}

/**
 * Decode a user event body.
 *
 * @param r The reader.
 * @returns The event.
 */
export function decodeUserEvent(r: MsgpackReader): UserEventMessage {
  const m: UserEventMessage = { ltime: 0, name: "", payload: null, cc: false };
  readStruct(r, (k) => {
    switch (k) {
      case "LTime":
        m.ltime = r.uint(64);
        return true;
      case "Name":
        m.name = r.str();
        return true;
      case "Payload":
        m.payload = r.bytes();
        return true;
      case "CC":
        m.cc = r.bool();
        return true;
    }
    return false;
  });
  return m;
}

/**
 * Encode a query.
 *
 * @param m The query.
 * @returns `0x04 || msgpack{Addr, Filters, Flags, ID, LTime, Name, Payload,
 *   Port, RelayFactor, SourceNode, Timeout}` (fixmap `8b`).
 */
export function encodeQuery(m: QueryMessage): Uint8Array {
  start(SerfMessageType.query).map(11).str("Addr").bytes(m.addr).str("Filters");
  if (m.filters === null) w.nil();
  else {
    w.array(m.filters.length);
    for (const f of m.filters) w.bytes(f);
  }
  return w.str("Flags").int(m.flags).str("ID").int(m.id).str("LTime")
    .int(m.ltime).str("Name").str(m.name).str("Payload").bytes(m.payload)
    .str("Port").int(m.port).str("RelayFactor").int(m.relayFactor)
    .str("SourceNode").str(m.sourceNode).str("Timeout").int(m.timeoutNs)
    .finish();
}

/**
 * Decode a query body.
 *
 * @param r The reader.
 * @returns The query.
 */
export function decodeQuery(r: MsgpackReader): QueryMessage {
  const m: QueryMessage = {
    ltime: 0,
    id: 0,
    addr: EMPTY,
    port: 0,
    sourceNode: "",
    filters: null,
    flags: 0,
    relayFactor: 0,
    timeoutNs: 0,
    name: "",
    payload: null,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "LTime":
        m.ltime = r.uint(64);
        return true;
      case "ID":
        m.id = r.uint(32);
        return true;
      case "Addr":
        m.addr = r.bytes() ?? EMPTY;
        return true;
      case "Port":
        m.port = r.uint(16);
        return true;
      case "SourceNode":
        m.sourceNode = r.str();
        return true;
      case "Filters":
        m.filters = readFilters(r);
        return true;
      case "Flags":
        m.flags = r.uint(32);
        return true;
      case "RelayFactor":
        m.relayFactor = r.uint(8);
        return true;
      case "Timeout":
        // time.Duration is an int64: newer peers send signed forms (SPEC §11).
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

function readFilters(r: MsgpackReader): Uint8Array[] | null {
  const n = r.array();
  if (n < 0) return null;
  const out = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) out[i] = r.bytes() ?? EMPTY;
  return out;
}

/**
 * Build a node filter entry (serf `encodeFilter(filterNodeType, …)`).
 *
 * @param nodes Names that may process the query.
 * @returns `0x00 || msgpack([]string)`.
 */
export function encodeNodeFilter(nodes: readonly string[]): Uint8Array {
  return w.reset().byte(FilterType.node).stringArray(nodes).finish();
}

/**
 * Build a tag filter entry (serf `encodeFilter(filterTagType, …)`); Serf
 * sends one per tag, after the node filter.
 *
 * @param tag Tag name.
 * @param expr Go regexp the tag value must match (unanchored).
 * @returns `0x01 || msgpack{Expr, Tag}`.
 */
export function encodeTagFilter(tag: string, expr: string): Uint8Array {
  return w.reset().byte(FilterType.tag).map(2).str("Expr").str(expr).str("Tag")
    .str(tag).finish();
}

/**
 * Parse one raw filter entry of a query.
 *
 * @param raw The entry (`filterType || msgpack`).
 * @returns The filter; an unknown type is returned as such (Serf treats it as
 *   "does not match").
 * @throws {DecodeError} When `raw` is empty or its msgpack is malformed.
 */
export function decodeFilter(raw: Uint8Array): QueryFilter {
  if (raw.length === 0) {
    throw new DecodeError("truncated", "Query filter is empty");
  }
  const r = new MsgpackReader(raw, 1);
  switch (raw[0]) {
    case FilterType.node:
      return { type: "node", nodes: r.stringArray() ?? [] };
    case FilterType.tag: {
      const f = { type: "tag" as const, tag: "", expr: "" };
      readStruct(r, (k) => {
        if (k === "Tag") f.tag = r.str();
        else if (k === "Expr") f.expr = r.str();
        else return false;
        return true;
      });
      return f;
    }
  }
  return { type: "unknown", filterType: raw[0] };
}

/**
 * Encode a query response (or ack).
 *
 * @param m The response.
 * @returns `0x05 || msgpack{Flags, From, ID, LTime, Payload}`.
 */
export function encodeQueryResponse(m: QueryResponseMessage): Uint8Array {
  return start(SerfMessageType.queryResponse).map(5).str("Flags").int(m.flags)
    .str("From").str(m.from).str("ID").int(m.id).str("LTime").int(m.ltime)
    .str("Payload").bytes(m.payload).finish();
}

/**
 * Decode a query response body.
 *
 * @param r The reader.
 * @returns The response.
 */
export function decodeQueryResponse(r: MsgpackReader): QueryResponseMessage {
  const m: QueryResponseMessage = {
    ltime: 0,
    id: 0,
    from: "",
    flags: 0,
    payload: null,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "LTime":
        m.ltime = r.uint(64);
        return true;
      case "ID":
        m.id = r.uint(32);
        return true;
      case "From":
        m.from = r.str();
        return true;
      case "Flags":
        m.flags = r.uint(32);
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
 * Encode a relay (serf `encodeRelayMessage`).
 *
 * @param m The header and the serf message to forward (type byte first).
 * @returns `0x09 || msgpack{DestAddr: {IP, Port, Zone}, DestName} || message`.
 */
export function encodeRelay(m: RelayMessage): Uint8Array {
  return start(SerfMessageType.relay).map(2).str("DestAddr").map(3).str("IP")
    .bytes(m.destAddr.ip).str("Port").int(m.destAddr.port).str("Zone")
    .str(m.destAddr.zone).str("DestName").str(m.destName).raw(m.message)
    .finish();
}

/**
 * Decode a relay body: the header, then the rest as the message to forward
 * (serf `handleUserMsg` reads what is left after the header).
 *
 * @param r The reader, after the 0x09 type byte.
 * @returns The relay; `message` is a view of the input.
 */
export function decodeRelay(r: MsgpackReader): RelayMessage {
  const m: RelayMessage = {
    destAddr: { ip: EMPTY, port: 0, zone: "" },
    destName: "",
    message: EMPTY,
  };
  readStruct(r, (k) => {
    if (k === "DestAddr") m.destAddr = readUdpAddr(r);
    else if (k === "DestName") m.destName = r.str();
    else return false;
    return true;
  });
  m.message = r.rest();
  return m;
}

function readUdpAddr(r: MsgpackReader): UdpAddr {
  const a: UdpAddr = { ip: EMPTY, port: 0, zone: "" };
  readStruct(r, (k) => {
    if (k === "IP") a.ip = r.bytes() ?? EMPTY;
    else if (k === "Port") a.port = r.int();
    else if (k === "Zone") a.zone = r.str();
    else return false;
    return true;
  });
  return a;
}

/**
 * Encode Serf's push-pull state (memberlist push-pull user state).
 *
 * @param m The state; `events` is written slot by slot, nil for `null`.
 * @returns `0x02 || msgpack{EventLTime, Events, LTime, LeftMembers,
 *   QueryLTime, StatusLTimes}` (586 bytes for a fresh node).
 */
export function encodePushPullState(m: PushPullState): Uint8Array {
  start(SerfMessageType.pushPull).map(6).str("EventLTime").int(m.eventLtime)
    .str("Events").array(m.events.length);
  for (const slot of m.events) {
    if (slot === null) {
      w.nil();
      continue;
    }
    w.map(2).str("Events").array(slot.events.length);
    for (const e of slot.events) {
      w.map(2).str("Name").str(e.name).str("Payload").bytes(e.payload);
    }
    w.str("LTime").int(slot.ltime);
  }
  w.str("LTime").int(m.ltime).str("LeftMembers").stringArray(m.leftMembers)
    .str("QueryLTime").int(m.queryLtime).str("StatusLTimes")
    .map(m.statusLtimes.size);
  for (const [name, t] of m.statusLtimes) w.str(name).int(t);
  return w.finish();
}

/**
 * Decode Serf's push-pull state body (after the 0x02 type byte).
 *
 * @param r The reader.
 * @returns The state.
 */
export function decodePushPullState(r: MsgpackReader): PushPullState {
  const m: PushPullState = {
    ltime: 0,
    statusLtimes: new Map(),
    leftMembers: [],
    eventLtime: 0,
    events: [],
    queryLtime: 0,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "LTime":
        m.ltime = r.uint(64);
        return true;
      case "StatusLTimes": {
        const n = r.map();
        for (let i = 0; i < n; i++) {
          const name = r.str();
          m.statusLtimes.set(name, r.uint(64));
        }
        return true;
      }
      case "LeftMembers":
        m.leftMembers = r.stringArray() ?? [];
        return true;
      case "EventLTime":
        m.eventLtime = r.uint(64);
        return true;
      case "Events":
        m.events = readEventRing(r);
        return true;
      case "QueryLTime":
        m.queryLtime = r.uint(64);
        return true;
    }
    return false;
  });
  return m;
}

function readEventRing(r: MsgpackReader): (UserEvents | null)[] {
  const n = r.array();
  const ring: (UserEvents | null)[] = [];
  for (let i = 0; i < n; i++) ring.push(r.tryNil() ? null : readUserEvents(r));
  return ring;
}

function readUserEvents(r: MsgpackReader): UserEvents {
  const slot: UserEvents = { ltime: 0, events: [] };
  readStruct(r, (k) => {
    if (k === "LTime") slot.ltime = r.uint(64);
    else if (k === "Events") {
      const n = r.array();
      for (let i = 0; i < n; i++) {
        const e: UserEventEntry = { name: "", payload: null };
        readStruct(r, (ek) => {
          if (ek === "Name") e.name = r.str();
          else if (ek === "Payload") e.payload = r.bytes();
          else return false;
          return true;
        });
        slot.events.push(e);
      }
    } else return false;
    return true;
  });
  return slot;
}

/**
 * Encode a conflict response (the payload of a `_serf_conflict` response).
 *
 * @param m The responder's view of the contested name.
 * @returns `0x06 || msgpack(Member)`, or `0x06 c0` for an unknown node.
 */
export function encodeConflictResponse(m: ConflictResponse): Uint8Array {
  start(SerfMessageType.conflictResponse);
  if (m.member === null) return w.nil().finish();
  const s = m.member;
  return w.map(11).str("Addr").bytes(s.addr).str("DelegateCur")
    .int(s.delegateCur).str("DelegateMax").int(s.delegateMax)
    .str("DelegateMin").int(s.delegateMin).str("Name").str(s.name).str("Port")
    .int(s.port).str("ProtocolCur").int(s.protocolCur).str("ProtocolMax")
    .int(s.protocolMax).str("ProtocolMin").int(s.protocolMin).str("Status")
    .int(s.status).str("Tags").stringMap(s.tags).finish();
}

/**
 * Decode a conflict response body.
 *
 * @param r The reader, after the 0x06 type byte.
 * @returns The response; `member` is `null` for nil.
 */
export function decodeConflictResponse(r: MsgpackReader): ConflictResponse {
  if (r.tryNil()) return { member: null };
  const s: SerfMember = {
    name: "",
    addr: EMPTY,
    port: 0,
    tags: new Map(),
    status: 0,
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
        s.name = r.str();
        return true;
      case "Addr":
        s.addr = r.bytes() ?? EMPTY;
        return true;
      case "Port":
        s.port = r.uint(16);
        return true;
      case "Tags":
        s.tags = r.stringMap();
        return true;
      case "Status":
        s.status = r.int();
        return true;
    }
    return readVersionField(r, k, s);
  });
  return { member: s };
}

// The six uint8 protocol fields shared by Serf's Member.
function readVersionField(r: MsgpackReader, k: string, s: SerfMember): boolean {
  switch (k) {
    case "ProtocolMin":
      s.protocolMin = r.uint(8);
      return true;
    case "ProtocolMax":
      s.protocolMax = r.uint(8);
      return true;
    case "ProtocolCur":
      s.protocolCur = r.uint(8);
      return true;
    case "DelegateMin":
      s.delegateMin = r.uint(8);
      return true;
    case "DelegateMax":
      s.delegateMax = r.uint(8);
      return true;
    case "DelegateCur":
      s.delegateCur = r.uint(8);
      return true;
  }
  return false;
}

/**
 * Encode a key request (the payload of `_serf_{install,use,remove,list}-key`).
 *
 * @param m The request.
 * @returns `0x07 || msgpack{Key}`.
 */
export function encodeKeyRequest(m: KeyRequest): Uint8Array {
  return start(SerfMessageType.keyRequest).map(1).str("Key").bytes(m.key)
    .finish();
}

/**
 * Decode a key request body.
 *
 * @param r The reader.
 * @returns The request.
 */
export function decodeKeyRequest(r: MsgpackReader): KeyRequest {
  const m: KeyRequest = { key: null };
  readStruct(r, (k) => {
    if (k !== "Key") return false;
    m.key = r.bytes();
    return true;
  });
  return m;
}

/**
 * Encode a key response (a node's answer to a key query).
 *
 * @param m The response.
 * @returns `0x08 || msgpack{Keys, Message, PrimaryKey, Result}`.
 */
export function encodeKeyResponse(m: KeyResponse): Uint8Array {
  return start(SerfMessageType.keyResponse).map(4).str("Keys")
    .stringArray(m.keys).str("Message").str(m.message).str("PrimaryKey")
    .str(m.primaryKey).str("Result").bool(m.result).finish();
}

/**
 * Decode a key response body.
 *
 * @param r The reader.
 * @returns The response; `keys` is `null` for nil.
 */
export function decodeKeyResponse(r: MsgpackReader): KeyResponse {
  const m: KeyResponse = {
    result: false,
    message: "",
    keys: null,
    primaryKey: "",
  };
  readStruct(r, (k) => {
    switch (k) {
      case "Result":
        m.result = r.bool();
        return true;
      case "Message":
        m.message = r.str();
        return true;
      case "Keys":
        m.keys = r.stringArray();
        return true;
      case "PrimaryKey":
        m.primaryKey = r.str();
        return true;
    }
    return false;
  });
  return m;
}

/**
 * Decode any Serf message (a memberlist user message without its 0x08, a
 * push-pull user state, or a query / response payload that holds one).
 * Bytes after the struct are ignored, as Go's decoder does, except for a
 * relay, where they are the message to forward.
 *
 * @param bytes `serfType || msgpack`.
 * @returns The message, tagged by type name.
 * @throws {DecodeError} "truncated" for empty input, "unknown-type" for a
 *   type byte above 9, or a msgpack reason.
 * @example
 * ```ts
 * const m = decodeSerfMessage(userMsg.subarray(1));
 * if (m.type === "userEvent") console.log(m.body.name);
 * ```
 */
export function decodeSerfMessage(bytes: Uint8Array): SerfMessage {
  if (bytes.length === 0) {
    throw new DecodeError("truncated", "Serf message is empty");
  }
  const r = new MsgpackReader(bytes, 1);
  switch (bytes[0]) {
    case SerfMessageType.leave:
      return { type: "leave", body: decodeLeaveIntent(r) };
    case SerfMessageType.join:
      return { type: "join", body: decodeJoinIntent(r) };
    case SerfMessageType.pushPull:
      return { type: "pushPull", body: decodePushPullState(r) };
    case SerfMessageType.userEvent:
      return { type: "userEvent", body: decodeUserEvent(r) };
    case SerfMessageType.query:
      return { type: "query", body: decodeQuery(r) };
    case SerfMessageType.queryResponse:
      return { type: "queryResponse", body: decodeQueryResponse(r) };
    case SerfMessageType.conflictResponse:
      return { type: "conflictResponse", body: decodeConflictResponse(r) };
    case SerfMessageType.keyRequest:
      return { type: "keyRequest", body: decodeKeyRequest(r) };
    case SerfMessageType.keyResponse:
      return { type: "keyResponse", body: decodeKeyResponse(r) };
    case SerfMessageType.relay:
      return { type: "relay", body: decodeRelay(r) };
  }
  throw new DecodeError(
    "unknown-type",
    `Unknown serf message type: ${bytes[0]}`,
  );
}

/**
 * Encode any Serf message (the inverse of {@linkcode decodeSerfMessage}).
 *
 * @param m The tagged message.
 * @returns `serfType || msgpack`.
 */
export function encodeSerfMessage(m: SerfMessage): Uint8Array {
  switch (m.type) {
    case "leave":
      return encodeLeaveIntent(m.body);
    case "join":
      return encodeJoinIntent(m.body);
    case "pushPull":
      return encodePushPullState(m.body);
    case "userEvent":
      return encodeUserEvent(m.body);
    case "query":
      return encodeQuery(m.body);
    case "queryResponse":
      return encodeQueryResponse(m.body);
    case "conflictResponse":
      return encodeConflictResponse(m.body);
    case "keyRequest":
      return encodeKeyRequest(m.body);
    case "keyResponse":
      return encodeKeyResponse(m.body);
    case "relay":
      return encodeRelay(m.body);
  }
}
