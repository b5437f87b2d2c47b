/**
 * What a Serf machine emits (serf `EventCh`, plus the completions of the
 * commands that finish later, SPEC §8). Member, user and query events are
 * Serf's own; the rest are how the pure machine reports what Go's Serf
 * returns from blocking calls (`Join`, `Leave`, `Query`, the key manager).
 *
 * @module
 */

import type { Address } from "../machine.ts";

/** A member's status as Serf tracks it (serf `MemberStatus`). */
export type SerfMemberStatus = "none" | "alive" | "leaving" | "left" | "failed";

/** Serf's numeric status codes (conflict responses carry these). */
export const SERF_STATUS_CODES: Readonly<Record<SerfMemberStatus, number>> = {
  none: 0,
  alive: 1,
  leaving: 2,
  left: 3,
  failed: 4,
};

/** One member as Serf sees it (serf `Member`). */
export interface SerfMemberInfo {
  /** Unique node name. */
  readonly name: string;
  /** Its address (IP literal and port). */
  readonly addr: Address;
  /** Its tags, decoded from node meta. */
  readonly tags: ReadonlyMap<string, string>;
  /** Its status. */
  readonly status: SerfMemberStatus;
  /** memberlist protocol minimum it understands. */
  readonly protocolMin: number;
  /** memberlist protocol maximum it understands. */
  readonly protocolMax: number;
  /** memberlist protocol it speaks. */
  readonly protocolCur: number;
  /** Serf protocol minimum it understands. */
  readonly delegateMin: number;
  /** Serf protocol maximum it understands. */
  readonly delegateMax: number;
  /** Serf protocol it speaks. */
  readonly delegateCur: number;
}

/** The kinds of member events (serf `EventMember*`). */
export type MemberEventType =
  | "memberJoin"
  | "memberLeave"
  | "memberFailed"
  | "memberUpdate"
  | "memberReap";

/** Members joined, left, failed, were updated or reaped. */
export interface MemberEvent {
  /** Discriminant. */
  readonly type: MemberEventType;
  /** The members (one, or several once coalesced). */
  readonly members: readonly SerfMemberInfo[];
}

/** A user event (serf `UserEvent`). */
export interface UserEvent {
  /** Discriminant. */
  readonly type: "user";
  /** Its event-clock time. */
  readonly ltime: number;
  /** Its name. */
  readonly name: string;
  /** Its payload; `null` is Go's nil (sent without a payload). */
  readonly payload: Uint8Array | null;
  /** Whether it may be coalesced (`CC`). */
  readonly coalesce: boolean;
}

/** A query to answer with `Serf.respond(id, …)` before `deadlineMs`. */
export interface QueryEvent {
  /** Discriminant. */
  readonly type: "query";
  /** Local handle for `respond` (a per-machine counter, not the wire ID). */
  readonly id: number;
  /** Its query-clock time. */
  readonly ltime: number;
  /** Its name. */
  readonly name: string;
  /** Its payload; `null` is Go's nil. */
  readonly payload: Uint8Array | null;
  /** The node that asked. */
  readonly sourceNode: string;
  /** Last moment (our clock, ms) a response is accepted. */
  readonly deadlineMs: number;
}

/** A member acknowledged one of our queries (ack flag). */
export interface QueryAckEvent {
  /** Discriminant. */
  readonly type: "queryAck";
  /** The id `Serf.query` returned. */
  readonly queryId: number;
  /** Who acknowledged. */
  readonly from: string;
}

/** A member answered one of our queries. */
export interface QueryResponseEvent {
  /** Discriminant. */
  readonly type: "queryResponse";
  /** The id `Serf.query` returned. */
  readonly queryId: number;
  /** Who answered. */
  readonly from: string;
  /** The answer; `null` is Go's nil. */
  readonly payload: Uint8Array | null;
}

/** One of our queries reached its deadline; no more responses come. */
export interface QueryDoneEvent {
  /** Discriminant. */
  readonly type: "queryDone";
  /** The id `Serf.query` returned. */
  readonly queryId: number;
  /** Distinct members that acknowledged. */
  readonly acks: number;
  /** Distinct members that answered. */
  readonly responses: number;
}

/** The key operations of Serf's key manager. */
export type KeyAction = "install" | "use" | "remove" | "list";

/** One member's answer to a key operation (serf `nodeKeyResponse`). */
export interface KeyResponseEvent {
  /** Discriminant. */
  readonly type: "keyResponse";
  /** The op id the key command returned. */
  readonly opId: number;
  /** Who answered. */
  readonly from: string;
  /** Whether it succeeded there. */
  readonly result: boolean;
  /** Its error or warning text ("" when none). */
  readonly message: string;
  /** Its keys in base64 (list only). */
  readonly keys: readonly string[];
  /** Its primary key in base64 (list only, else ""). */
  readonly primaryKey: string;
}

/** A key operation finished (serf `KeyResponse`). */
export interface KeyDoneEvent {
  /** Discriminant. */
  readonly type: "keyDone";
  /** The op id the key command returned. */
  readonly opId: number;
  /** Which operation. */
  readonly action: KeyAction;
  /** Alive members when the query started (memberlist `NumMembers`). */
  readonly numNodes: number;
  /** Responses received. */
  readonly numResp: number;
  /** Failures among them. */
  readonly numErr: number;
  /** Per-member messages (errors and warnings). */
  readonly messages: ReadonlyMap<string, string>;
  /** How many members hold each key (list only). */
  readonly keys: ReadonlyMap<string, number>;
  /** How many members use each primary key (list only). */
  readonly primaryKeys: ReadonlyMap<string, number>;
  /**
   * Serf's error: "N/M nodes reported failure", "N/M nodes reported
   * success", or why the query could not start; `null` on success.
   */
  readonly error: string | null;
}

/**
 * The keyring was changed through the host's `KeyringView` by a key query
 * (ours or another member's): persist it if a keyring file is configured
 * (serf `writeKeyringFile`).
 */
export interface KeyringChangeEvent {
  /** Discriminant. */
  readonly type: "keyringChange";
  /** What was done. */
  readonly action: "install" | "use" | "remove";
  /** The key concerned. */
  readonly key: Uint8Array;
  /** The whole keyring afterwards, primary first. */
  readonly keys: readonly Uint8Array[];
}

/** `Serf.join` finished. */
export interface SerfJoinDoneEvent {
  /** Discriminant. */
  readonly type: "joinDone";
  /** The op id `join` returned. */
  readonly opId: number;
  /** Seeds that completed a push-pull. */
  readonly joined: number;
  /** One line per failed seed. */
  readonly errors: readonly string[];
  /** Serf's error when nobody answered or Serf was not alive, else null. */
  readonly error: string | null;
}

/** `Serf.leave` finished. */
export interface SerfLeaveDoneEvent {
  /** Discriminant. */
  readonly type: "leaveDone";
  /** The op id `leave` returned. */
  readonly opId: number;
  /** Serf's error (e.g. "timeout while waiting for graceful leave"), or null. */
  readonly error: string | null;
}

/** `Serf.forceLeave` finished broadcasting. */
export interface ForceLeaveDoneEvent {
  /** Discriminant. */
  readonly type: "forceLeaveDone";
  /** The op id `forceLeave` returned. */
  readonly opId: number;
  /** "timed out broadcasting node removal", or null. */
  readonly error: string | null;
}

/** Another address claims a known name (ours, or another member's). */
export interface SerfConflictEvent {
  /** Discriminant. */
  readonly type: "conflict";
  /** The contested name. */
  readonly name: string;
  /** The address we know. */
  readonly existing: Address;
  /** The address of the newcomer. */
  readonly other: Address;
  /** True when it is our name and a `_serf_conflict` vote started. */
  readonly resolving: boolean;
}

/** The machine stopped: on request, or after losing a name-conflict vote. */
export interface SerfShutdownEvent {
  /** Discriminant. */
  readonly type: "shutdown";
  /** Why. */
  readonly reason: "requested" | "nameConflict";
}

/**
 * Lines to append to the snapshot file (serf's snapshotter records), or,
 * with `compact`, the whole new file content to write in its place.
 */
export interface SnapshotEvent {
  /** Discriminant. */
  readonly type: "snapshot";
  /** Text to write (whole lines, each ending in "\n"). */
  readonly text: string;
  /** True when `text` replaces the file (compaction). */
  readonly compact: boolean;
}

/** Everything a Serf machine emits. */
export type SerfEvent =
  | MemberEvent
  | UserEvent
  | QueryEvent
  | QueryAckEvent
  | QueryResponseEvent
  | QueryDoneEvent
  | KeyResponseEvent
  | KeyDoneEvent
  | KeyringChangeEvent
  | SerfJoinDoneEvent
  | SerfLeaveDoneEvent
  | ForceLeaveDoneEvent
  | SerfConflictEvent
  | SerfShutdownEvent
  | SnapshotEvent;
