/**
 * Public data types of the memberlist layer: members, their states, and the
 * events a member emits.
 *
 * @module
 */

import type { Address } from "./machine.ts";

/** A member's state as memberlist tracks it (SPEC §6.1). */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** memberlist's numeric state codes, as in push-pull node states. */
export const MEMBER_STATE_CODES: Readonly<Record<MemberState, number>> = {
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
};

/** A snapshot of one member, as the local member sees it. */
export interface Member {
  /** Unique node name. */
  readonly name: string;
  /** Where it receives packets and streams. */
  readonly addr: Address;
  /** Node metadata (Serf tags), ≤ 512 bytes. */
  readonly meta: Uint8Array;
  /** Its current incarnation number. */
  readonly incarnation: number;
  /** Its state. */
  readonly state: MemberState;
  /** When (our clock, ms) the state last changed. */
  readonly stateChangeMs: number;
  /** Protocol versions `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
  readonly vsn: readonly number[];
}

/** A member joined (or came back from dead/left). */
export interface MemberJoinEvent {
  /** Discriminant. */
  readonly type: "join";
  /** The member after the change. */
  readonly member: Member;
}

/** A member left gracefully (`left`) or was declared dead (`dead`). */
export interface MemberLeaveEvent {
  /** Discriminant. */
  readonly type: "leave";
  /** The member after the change; its state tells left from dead. */
  readonly member: Member;
}

/** A member's metadata or address changed. */
export interface MemberUpdateEvent {
  /** Discriminant. */
  readonly type: "update";
  /** The member after the change. */
  readonly member: Member;
}

/** A user message arrived (memberlist `NotifyMsg`). */
export interface UserMessageEvent {
  /** Discriminant. */
  readonly type: "message";
  /** The payload, without memberlist's type byte. */
  readonly payload: Uint8Array;
}

/** A join operation finished. */
export interface JoinDoneEvent {
  /** Discriminant. */
  readonly type: "joinDone";
  /** The op id `join()` returned. */
  readonly opId: number;
  /** How many seeds completed a push-pull. */
  readonly joined: number;
  /** One line per failed seed. */
  readonly errors: readonly string[];
}

/** A graceful leave finished (broadcast delivered, or timed out). */
export interface LeaveDoneEvent {
  /** Discriminant. */
  readonly type: "leaveDone";
  /** The op id `leave()` returned. */
  readonly opId: number;
  /** True when the leave broadcast had not finished by the timeout. */
  readonly timedOut: boolean;
}

/** Another node announced our name, or a known name, from another address. */
export interface ConflictEvent {
  /** Discriminant. */
  readonly type: "conflict";
  /** The member we know. */
  readonly existing: Member;
  /** The newcomer claiming the same name. */
  readonly other: Member;
}

/** Everything a Memberlist machine emits. */
export type MemberlistEvent =
  | MemberJoinEvent
  | MemberLeaveEvent
  | MemberUpdateEvent
  | UserMessageEvent
  | JoinDoneEvent
  | LeaveDoneEvent
  | ConflictEvent;
