/**
 * Push-pull anti-entropy (memberlist net.go `sendLocalState`,
 * `readRemoteState`, `mergeRemoteState`; state.go `mergeState`; SPEC §4.3).
 *
 * ```
 * A (dialer)                              B (acceptor)
 *   ── 6 | header{Join} | nodes… | user ──▶
 *                                           answer with own state, same Join
 *   ◀── 6 | header{Join} | nodes… | user ──
 *   merge B's state                         merge A's state
 * ```
 *
 * @module
 */

import {
  type Accusation,
  type Alive,
  decodeErr,
  decodePushPull,
  encodePushPull,
  MessageType,
  type PushNodeState,
  type PushPull,
} from "../codec/messages.ts";
import { MsgpackReader } from "../codec/msgpack.ts";
import { MEMBER_STATE_CODES } from "../types.ts";
import type { Member, MemberState } from "../types.ts";
import { ipToString } from "../codec/messages.ts";
import { type NodeState, verifyProtocol } from "./members.ts";

/**
 * Encode our full state: every node in probe order, any state (SPEC §3
 * pushNodeState), then the delegate's state.
 *
 * @param nodes the member table in probe order
 * @param userState delegate state (empty without a delegate)
 * @param join whether this is (an answer to) a join
 * @returns the push-pull message, type byte first
 */
export function encodeLocalState(
  nodes: readonly NodeState[],
  userState: Uint8Array,
  join: boolean,
): Uint8Array {
  const states: PushNodeState[] = nodes.map((n) => ({
    name: n.name,
    addr: n.addr,
    port: n.port,
    meta: n.meta,
    incarnation: n.incarnation,
    state: MEMBER_STATE_CODES[n.state],
    vsn: n.vsn,
  }));
  return encodePushPull({ join, nodes: states, userState });
}

/**
 * Decode a push-pull body and fix up ports: a Port of 0 means the sender's
 * protocol predates ports, so memberlist substitutes its own bind port.
 *
 * @param msg the message, type byte 6 first
 * @param bindPort our bind port
 * @returns the push-pull
 * @throws {DecodeError} when malformed
 */
export function decodeRemoteState(msg: Uint8Array, bindPort: number): PushPull {
  const pp = decodePushPull(new MsgpackReader(msg, 1));
  for (const n of pp.nodes) if (n.port === 0) n.port = bindPort;
  return pp;
}

/**
 * Read the acceptor's answer on the dialer side (memberlist
 * `sendAndReceiveState`): an err (13) becomes "remote error: …", anything
 * but a push-pull is an error.
 *
 * @param msg the answer, type byte first (already decompressed)
 * @param bindPort our bind port
 * @returns the push-pull, or an error text
 * @throws {DecodeError} when malformed
 */
export function readPushPullReply(
  msg: Uint8Array,
  bindPort: number,
): PushPull | string {
  if (msg[0] === MessageType.err) {
    return `remote error: ${decodeErr(new MsgpackReader(msg, 1))}`;
  }
  if (msg[0] !== MessageType.pushPull) {
    return `received invalid msgType (${
      msg[0]
    }), expected pushPullMsg (${MessageType.pushPull})`;
  }
  return decodeRemoteState(msg, bindPort);
}

/** The state operations a merge drives (implemented by the machine). */
export interface MergeOps {
  /** Handle an alive as if gossiped. */
  aliveNode(a: Alive): void;
  /** Handle a suspect as if gossiped. */
  suspectNode(s: Accusation): void;
  /** Handle a dead as if gossiped. */
  deadNode(d: Accusation): void;
  /** The local member table in probe order. */
  readonly nodes: readonly NodeState[];
  /** Our name (accuser of merged suspicions). */
  readonly localName: string;
  /** memberlist's MergeDelegate, consulted on joins. */
  notifyMerge?(peers: Member[]): string | null;
}

const STATE_NAMES: readonly MemberState[] = [
  "alive",
  "suspect",
  "dead",
  "left",
];

function peerView(n: PushNodeState): Member {
  return {
    name: n.name,
    addr: { host: ipToString(n.addr), port: n.port },
    meta: n.meta,
    incarnation: n.incarnation,
    state: STATE_NAMES[n.state] ?? "dead",
    stateChangeMs: 0,
    vsn: Array.from(n.vsn),
  };
}

/**
 * Merge a remote state (memberlist `mergeRemoteState` + `mergeState`):
 * verify protocol versions, let the merge delegate veto a join, then apply
 * per node: alive → alive handling; left → dead with From = Node; dead or
 * suspect → suspect From = us (a remote "dead" never kills directly).
 *
 * @param ops the machine's state operations
 * @param pp the remote push-pull
 * @returns null on success, else the reason the merge was refused
 */
export function mergeRemoteState(ops: MergeOps, pp: PushPull): string | null {
  const err = verifyProtocol(pp.nodes, ops.nodes);
  if (err !== null) return err;
  if (pp.join && ops.notifyMerge !== undefined) {
    const veto = ops.notifyMerge(pp.nodes.map(peerView));
    if (veto !== null) return veto;
  }
  for (const r of pp.nodes) {
    switch (r.state) {
      case 0:
        ops.aliveNode({
          incarnation: r.incarnation,
          node: r.name,
          addr: r.addr,
          port: r.port,
          meta: r.meta,
          vsn: r.vsn,
        });
        break;
      case 3:
        ops.deadNode({
          incarnation: r.incarnation,
          node: r.name,
          from: r.name,
        });
        break;
      case 1:
      case 2:
        ops.suspectNode({
          incarnation: r.incarnation,
          node: r.name,
          from: ops.localName,
        });
        break;
    }
  }
  return null;
}
