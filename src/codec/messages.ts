/**
 * memberlist's messages (SPEC §3): `type byte || msgpack(struct)` in the
 * legacy dialect, keys in sorted order as go-msgpack writes them.
 *
 * IPs travel as raw 4- or 16-byte `[]byte`; in memory we keep them as
 * `Uint8Array` too and convert at the edges with {@linkcode ipToString} /
 * {@linkcode ipFromString}.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";
import {
  keyBytes,
  type MsgpackReader,
  MsgpackWriter,
  readStruct,
} from "./msgpack.ts";

/** memberlist's message type bytes (SPEC §2.1). */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
} as const;

/**
 * ping (0). A → B: "are you `node`?"; B answers an {@linkcode Ack} with the
 * same `seqNo` to `sourceAddr:sourcePort` (or the packet's source).
 */
export interface Ping {
  /** Sequence number chosen by the prober. */
  seqNo: number;
  /** Name the target must have; "" skips the check. */
  node: string;
  /** Prober's IP, where the ack goes; `null` when omitted. */
  sourceAddr: Uint8Array | null;
  /** Prober's port (0 when omitted). */
  sourcePort: number;
  /** Prober's name ("" when omitted). */
  sourceNode: string;
}

/**
 * indirectPing (1). A → C: "ping `target:port` (named `node`) for me and
 * relay its ack (or a nack) with my `seqNo`".
 */
export interface IndirectPing {
  /** The original prober's sequence number. */
  seqNo: number;
  /** Target IP. */
  target: Uint8Array;
  /** Target port. */
  port: number;
  /** Target name. */
  node: string;
  /** True when the prober wants a nack if the target stays silent. */
  nack: boolean;
  /** Prober's IP (`null` when omitted). */
  sourceAddr: Uint8Array | null;
  /** Prober's port (0 when omitted). */
  sourcePort: number;
  /** Prober's name ("" when omitted). */
  sourceNode: string;
}

/** ackResp (2): answers a ping; `payload` carries Serf's coordinate. */
export interface Ack {
  /** The ping's sequence number. */
  seqNo: number;
  /** Ping-delegate payload, `null` on relayed and TCP acks. */
  payload: Uint8Array | null;
}

/** nackResp (11): a relay could not reach the target in time. */
export interface Nack {
  /** The original prober's sequence number. */
  seqNo: number;
}

/** suspect (3) or dead (5): `from` accuses `node` at `incarnation`. */
export interface Accusation {
  /** The node's incarnation the accusation is about. */
  incarnation: number;
  /** Accused node. */
  node: string;
  /** Accuser; a dead with `from === node` is a graceful leave. */
  from: string;
}

/** alive (4): a node announces itself (or is re-announced). */
export interface Alive {
  /** Incarnation; must beat the known one to be accepted. */
  incarnation: number;
  /** Node name. */
  node: string;
  /** IP (4 or 16 bytes). */
  addr: Uint8Array;
  /** Port. */
  port: number;
  /** Node metadata (Serf tags), ≤ 512 bytes. */
  meta: Uint8Array;
  /** `[pmin, pmax, pcur, dmin, dmax, dcur]`; may be shorter from odd peers. */
  vsn: Uint8Array;
}

/** One member in a push-pull (pushNodeState). */
export interface PushNodeState {
  /** Node name (key `Name` here, `Node` in alive). */
  name: string;
  /** IP. */
  addr: Uint8Array;
  /** Port. */
  port: number;
  /** Metadata. */
  meta: Uint8Array;
  /** Incarnation. */
  incarnation: number;
  /** 0 alive, 1 suspect, 2 dead, 3 left. */
  state: number;
  /** Protocol versions, as in {@linkcode Alive}. */
  vsn: Uint8Array;
}

/** The header that opens a push-pull stream message. */
export interface PushPullHeader {
  /** Number of node states that follow. */
  nodes: number;
  /** Bytes of delegate state after the node states. */
  userStateLen: number;
  /** True for a join, false for periodic anti-entropy. */
  join: boolean;
}

/** A whole push-pull message: header, node states and user state. */
export interface PushPull {
  /** True for a join. */
  join: boolean;
  /** Every member the sender knows, any state. */
  nodes: PushNodeState[];
  /** Delegate (Serf) state, raw. */
  userState: Uint8Array;
}

/** compress (9): `Buf` holds the LZW-compressed inner message. */
export interface Compress {
  /** 0 = LZW, the only algorithm. */
  algo: number;
  /** Compressed bytes. */
  buf: Uint8Array;
}

// Struct keys, pre-encoded once.
const K = {
  Addr: keyBytes("Addr"),
  Algo: keyBytes("Algo"),
  Buf: keyBytes("Buf"),
  Error: keyBytes("Error"),
  From: keyBytes("From"),
  Incarnation: keyBytes("Incarnation"),
  Join: keyBytes("Join"),
  Meta: keyBytes("Meta"),
  Nack: keyBytes("Nack"),
  Name: keyBytes("Name"),
  Node: keyBytes("Node"),
  Nodes: keyBytes("Nodes"),
  Payload: keyBytes("Payload"),
  Port: keyBytes("Port"),
  SeqNo: keyBytes("SeqNo"),
  SourceAddr: keyBytes("SourceAddr"),
  SourceNode: keyBytes("SourceNode"),
  SourcePort: keyBytes("SourcePort"),
  State: keyBytes("State"),
  Target: keyBytes("Target"),
  UserStateLen: keyBytes("UserStateLen"),
  Vsn: keyBytes("Vsn"),
};
const EMPTY = new Uint8Array(0);
const w = new MsgpackWriter("legacy", 1024);

function start(type: number): MsgpackWriter {
  return w.reset().byte(type);
}

/** Encode a ping with its type byte. */
export function encodePing(m: Ping): Uint8Array {
  const n = 2 + (m.sourceAddr !== null && m.sourceAddr.length > 0 ? 1 : 0) +
    (m.sourceNode !== "" ? 1 : 0) + (m.sourcePort !== 0 ? 1 : 0);
  start(MessageType.ping).map(n).raw(K.Node).str(m.node).raw(K.SeqNo).int(
    m.seqNo,
  );
  // SourceAddr/SourceNode/SourcePort are `omitempty` in memberlist.
  if (m.sourceAddr !== null && m.sourceAddr.length > 0) {
    w.raw(K.SourceAddr).bytes(m.sourceAddr);
  }
  if (m.sourceNode !== "") w.raw(K.SourceNode).str(m.sourceNode);
  if (m.sourcePort !== 0) w.raw(K.SourcePort).int(m.sourcePort);
  return w.finish();
}

/** Decode a ping body (after the type byte). */
export function decodePing(r: MsgpackReader): Ping {
  const m: Ping = {
    seqNo: 0,
    node: "",
    sourceAddr: null,
    sourcePort: 0,
    sourceNode: "",
  };
  readStruct(r, (k) => {
    switch (k) {
      case "SeqNo":
        m.seqNo = r.uint(32);
        return true;
      case "Node":
        m.node = r.str();
        return true;
      case "SourceAddr":
        m.sourceAddr = r.bytes();
        return true;
      case "SourcePort":
        m.sourcePort = r.uint(16);
        return true;
      case "SourceNode":
        m.sourceNode = r.str();
        return true;
    }
    return false;
  });
  return m;
}

/** Encode an indirect ping with its type byte. */
export function encodeIndirectPing(m: IndirectPing): Uint8Array {
  const hasAddr = m.sourceAddr !== null && m.sourceAddr.length > 0;
  const n = 5 + (hasAddr ? 1 : 0) + (m.sourceNode !== "" ? 1 : 0) +
    (m.sourcePort !== 0 ? 1 : 0);
  start(MessageType.indirectPing).map(n).raw(K.Nack).bool(m.nack).raw(K.Node)
    .str(m.node).raw(K.Port).int(m.port).raw(K.SeqNo).int(m.seqNo);
  if (hasAddr) w.raw(K.SourceAddr).bytes(m.sourceAddr);
  if (m.sourceNode !== "") w.raw(K.SourceNode).str(m.sourceNode);
  if (m.sourcePort !== 0) w.raw(K.SourcePort).int(m.sourcePort);
  w.raw(K.Target).bytes(m.target);
  return w.finish();
}

/** Decode an indirect ping body. */
export function decodeIndirectPing(r: MsgpackReader): IndirectPing {
  const m: IndirectPing = {
    seqNo: 0,
    target: EMPTY,
    port: 0,
    node: "",
    nack: false,
    sourceAddr: null,
    sourcePort: 0,
    sourceNode: "",
  };
  readStruct(r, (k) => {
    switch (k) {
      case "SeqNo":
        m.seqNo = r.uint(32);
        return true;
      case "Target":
        m.target = r.bytes() ?? EMPTY;
        return true;
      case "Port":
        m.port = r.uint(16);
        return true;
      case "Node":
        m.node = r.str();
        return true;
      case "Nack":
        m.nack = r.bool();
        return true;
      case "SourceAddr":
        m.sourceAddr = r.bytes();
        return true;
      case "SourcePort":
        m.sourcePort = r.uint(16);
        return true;
      case "SourceNode":
        m.sourceNode = r.str();
        return true;
    }
    return false;
  });
  return m;
}

/** Encode an ack with its type byte. */
export function encodeAck(m: Ack): Uint8Array {
  return start(MessageType.ack).map(2).raw(K.Payload).bytes(m.payload).raw(
    K.SeqNo,
  ).int(m.seqNo).finish();
}

/** Decode an ack body. */
export function decodeAck(r: MsgpackReader): Ack {
  const m: Ack = { seqNo: 0, payload: null };
  readStruct(r, (k) => {
    if (k === "SeqNo") m.seqNo = r.uint(32);
    else if (k === "Payload") m.payload = r.bytes();
    else return false;
    return true;
  });
  return m;
}

/** Encode a nack with its type byte. */
export function encodeNack(m: Nack): Uint8Array {
  return start(MessageType.nack).map(1).raw(K.SeqNo).int(m.seqNo).finish();
}

/** Decode a nack body. */
export function decodeNack(r: MsgpackReader): Nack {
  const m: Nack = { seqNo: 0 };
  readStruct(r, (k) => {
    if (k !== "SeqNo") return false;
    m.seqNo = r.uint(32);
    return true;
  });
  return m;
}

/** Encode a suspect (3) or dead (5) with its type byte. */
export function encodeAccusation(
  type: typeof MessageType.suspect | typeof MessageType.dead,
  m: Accusation,
): Uint8Array {
  return start(type).map(3).raw(K.From).str(m.from).raw(K.Incarnation).int(
    m.incarnation,
  ).raw(K.Node).str(m.node).finish();
}

/** Decode a suspect or dead body. */
export function decodeAccusation(r: MsgpackReader): Accusation {
  const m: Accusation = { incarnation: 0, node: "", from: "" };
  readStruct(r, (k) => {
    if (k === "Incarnation") m.incarnation = r.uint(32);
    else if (k === "Node") m.node = r.str();
    else if (k === "From") m.from = r.str();
    else return false;
    return true;
  });
  return m;
}

/** Encode an alive with its type byte. */
export function encodeAlive(m: Alive): Uint8Array {
  return start(MessageType.alive).map(6).raw(K.Addr).bytes(m.addr).raw(
    K.Incarnation,
  ).int(m.incarnation).raw(K.Meta).bytes(m.meta).raw(K.Node).str(m.node)
    .raw(K.Port).int(m.port).raw(K.Vsn).bytes(m.vsn).finish();
}

/** Decode an alive body. */
export function decodeAlive(r: MsgpackReader): Alive {
  const m: Alive = {
    incarnation: 0,
    node: "",
    addr: EMPTY,
    port: 0,
    meta: EMPTY,
    vsn: EMPTY,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "Incarnation":
        m.incarnation = r.uint(32);
        return true;
      case "Node":
        m.node = r.str();
        return true;
      case "Addr":
        m.addr = r.bytes() ?? EMPTY;
        return true;
      case "Port":
        m.port = r.uint(16);
        return true;
      case "Meta":
        m.meta = r.bytes() ?? EMPTY;
        return true;
      case "Vsn":
        m.vsn = readVsn(r);
        return true;
    }
    return false;
  });
  return m;
}

// Vsn is a Go []uint8, which go-msgpack writes as a str; a peer could also
// send an array of small ints, which Go would accept too.
function readVsn(r: MsgpackReader): Uint8Array {
  const b = r.peek();
  if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
    const n = r.array();
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = r.uint(8);
    return out;
  }
  return r.bytes() ?? EMPTY;
}

/** Encode an err (13) message with its type byte. */
export function encodeErr(error: string): Uint8Array {
  return start(MessageType.err).map(1).raw(K.Error).str(error).finish();
}

/** Decode an err body to its text. */
export function decodeErr(r: MsgpackReader): string {
  let error = "";
  readStruct(r, (k) => {
    if (k !== "Error") return false;
    error = r.str();
    return true;
  });
  return error;
}

/** Encode a compress (9) wrapper with its type byte. */
export function encodeCompress(m: Compress): Uint8Array {
  return start(MessageType.compress).map(2).raw(K.Algo).int(m.algo).raw(K.Buf)
    .bytes(m.buf).finish();
}

/** Decode a compress body. */
export function decodeCompress(r: MsgpackReader): Compress {
  const m: Compress = { algo: 0, buf: EMPTY };
  readStruct(r, (k) => {
    if (k === "Algo") m.algo = r.uint(8);
    else if (k === "Buf") m.buf = r.bytes() ?? EMPTY;
    else return false;
    return true;
  });
  return m;
}

/** Bytes a push-pull message takes (for budgets), encoded. */
export function encodePushPull(m: PushPull): Uint8Array {
  start(MessageType.pushPull).map(3).raw(K.Join).bool(m.join).raw(K.Nodes).int(
    m.nodes.length,
  ).raw(K.UserStateLen).int(m.userState.length);
  for (const s of m.nodes) {
    w.map(7).raw(K.Addr).bytes(s.addr).raw(K.Incarnation).int(s.incarnation)
      .raw(K.Meta).bytes(s.meta).raw(K.Name).str(s.name).raw(K.Port).int(s.port)
      .raw(K.State).int(s.state).raw(K.Vsn).bytes(s.vsn);
  }
  w.raw(m.userState);
  return w.finish();
}

/** Limits applied while decoding a push-pull (memberlist newer bounds). */
export interface PushPullLimits {
  /** Most node states accepted. */
  maxNodes: number;
  /** Most user-state bytes accepted. */
  maxUserStateBytes: number;
}

/** Default push-pull limits: memberlist's 1,048,576 nodes and 20 MiB state. */
export const DEFAULT_PUSH_PULL_LIMITS: PushPullLimits = {
  maxNodes: 1_048_576,
  maxUserStateBytes: 20 * 1024 * 1024,
};

/** Decode a push-pull body (after the type byte). */
export function decodePushPull(
  r: MsgpackReader,
  limits: PushPullLimits = DEFAULT_PUSH_PULL_LIMITS,
): PushPull {
  const h: PushPullHeader = { nodes: 0, userStateLen: 0, join: false };
  readStruct(r, (k) => {
    if (k === "Join") h.join = r.bool();
    else if (k === "Nodes") h.nodes = r.uint(32);
    else if (k === "UserStateLen") h.userStateLen = r.uint(32);
    else return false;
    return true;
  });
  if (h.nodes > limits.maxNodes) {
    throw new DecodeError(
      "too-large",
      `Push-pull has too many nodes: ${h.nodes}`,
    );
  }
  if (h.userStateLen > limits.maxUserStateBytes) {
    throw new DecodeError(
      "too-large",
      `Push-pull user state too large: ${h.userStateLen} bytes`,
    );
  }
  // Each node state takes at least one byte: a count beyond the input is a lie.
  if (h.nodes > r.remaining) {
    throw new DecodeError(
      "truncated",
      "Push-pull declares more nodes than bytes",
    );
  }
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < h.nodes; i++) nodes.push(decodePushNodeState(r));
  if (r.remaining < h.userStateLen) {
    throw new DecodeError("truncated", "Push-pull user state is truncated");
  }
  const rest = r.rest();
  return { join: h.join, nodes, userState: rest.subarray(0, h.userStateLen) };
}

function decodePushNodeState(r: MsgpackReader): PushNodeState {
  const s: PushNodeState = {
    name: "",
    addr: EMPTY,
    port: 0,
    meta: EMPTY,
    incarnation: 0,
    state: 0,
    vsn: EMPTY,
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
      case "Meta":
        s.meta = r.bytes() ?? EMPTY;
        return true;
      case "Incarnation":
        s.incarnation = r.uint(32);
        return true;
      case "State":
        s.state = r.int();
        return true;
      case "Vsn":
        s.vsn = readVsn(r);
        return true;
    }
    return false;
  });
  return s;
}

/** Encode a memberlist user message (8): the type byte and raw payload. */
export function encodeUser(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = MessageType.user;
  out.set(payload, 1);
  return out;
}

/** Format a 4- or 16-byte IP as text ("127.0.0.1", "::1"). */
export function ipToString(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  if (ip.length === 16) {
    // An IPv4-mapped IPv6 address is how Go's net.IP often holds IPv4.
    let mapped = ip[10] === 0xff && ip[11] === 0xff;
    for (let i = 0; i < 10 && mapped; i++) mapped = ip[i] === 0;
    if (mapped) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) {
      parts.push(((ip[i] << 8) | ip[i + 1]).toString(16));
    }
    return compressIpv6(parts);
  }
  return "";
}

function compressIpv6(parts: string[]): string {
  // RFC 5952: replace the longest run (≥ 2) of zero groups with "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return parts.join(":");
  return parts.slice(0, best).join(":") + "::" +
    parts.slice(best + bestLen).join(":");
}

/**
 * Parse an IPv4 or IPv6 literal to its 4 or 16 bytes; `null` if it is not
 * an IP literal (e.g. a host name).
 */
export function ipFromString(s: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const out = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) return null;
      out[i] = n;
    }
    return out;
  }
  if (!s.includes(":")) return null;
  let text = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  const pct = text.indexOf("%");
  if (pct >= 0) text = text.slice(0, pct);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const b = ipFromString(maybeV4);
    if (b === null || b.length !== 4) return null;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    text = text.slice(0, lastColon);
    // "::1.2.3.4" leaves ":", which is the start of a "::" run.
    if (text.endsWith(":")) text += ":";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === "") return [];
    const groups = h.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const back = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || back === null) return null;
  const total = head.length + back.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (total > 7) return null;
    groups = [...head, ...new Array(8 - total).fill(0), ...back, ...tail];
  } else {
    if (total !== 8) return null;
    groups = [...head, ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return out;
}
