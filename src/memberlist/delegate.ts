/**
 * The hooks a layer above memberlist (Serf) plugs in: memberlist's
 * `Delegate`, `EventDelegate`, `ConflictDelegate`, `MergeDelegate`,
 * `AliveDelegate` and `PingDelegate` folded into one interface whose members
 * are all optional (ARCHITECTURE principle 6).
 *
 * Every hook is synchronous and called from inside the state machine, so it
 * must not call back into the same {@linkcode Memberlist} re-entrantly except
 * through the documented commands (e.g. `queueBroadcast`).
 *
 * @module
 */

import type { Member } from "../types.ts";

/** Synchronous hooks from memberlist to the layer above (Serf). */
export interface MemberlistDelegate {
  /**
   * Metadata to announce in our alive message (Serf tags), at most `limit`
   * bytes (memberlist `Delegate.NodeMeta`). Longer metadata is a bug of the
   * caller and is rejected with a `RangeError`.
   */
  nodeMeta?(limit: number): Uint8Array;
  /**
   * A user message (type 8) arrived by packet or stream; `payload` has no
   * type byte (memberlist `Delegate.NotifyMsg`).
   */
  notifyMsg?(payload: Uint8Array, now: number): void;
  /**
   * Messages to piggyback, each *without* memberlist's 0x08 user byte (the
   * core adds it), whose framed sizes (`len + overheadBytes`) fit in
   * `limitBytes` in total (memberlist `Delegate.GetBroadcasts`).
   */
  getBroadcasts?(overheadBytes: number, limitBytes: number): Uint8Array[];
  /**
   * Whether `getBroadcasts` may return anything (not in memberlist: it lets
   * the core disarm its gossip timer while every queue is empty, since
   * memberlist's `gossip()` sends nothing then). A delegate that has
   * `getBroadcasts` but not this hook is assumed to always have some, and
   * the gossip timer ticks as in memberlist. A delegate with this hook
   * should call `Memberlist.delegateBroadcastQueued(now)` (allowed from
   * inside a hook) whenever it queues a broadcast, which re-arms the timer
   * (and gossips at once with `eagerGossip`); otherwise its broadcast waits
   * for the next probe tick, which re-arms the timer too.
   */
  hasBroadcasts?(): boolean;
  /**
   * Delegate state to send in a push-pull; `join` tells a join from the
   * periodic exchange (memberlist `Delegate.LocalState`).
   */
  localState?(join: boolean, now: number): Uint8Array;
  /**
   * Merge the remote delegate state of a push-pull (memberlist
   * `Delegate.MergeRemoteState`).
   */
  mergeRemoteState?(buf: Uint8Array, join: boolean, now: number): void;
  /**
   * Payload of the ack we send for a direct ping (Serf: our coordinate;
   * memberlist `PingDelegate.AckPayload`).
   */
  ackPayload?(): Uint8Array;
  /**
   * A direct probe of `member` was acked after `rttMs` with `payload`
   * (memberlist `PingDelegate.NotifyPingComplete`).
   */
  notifyPingComplete?(
    member: Member,
    rttMs: number,
    payload: Uint8Array,
    now: number,
  ): void;
  /** A member joined or came back (memberlist `EventDelegate.NotifyJoin`). */
  notifyJoin?(member: Member, now: number): void;
  /** A member left or died (memberlist `EventDelegate.NotifyLeave`). */
  notifyLeave?(member: Member, now: number): void;
  /** A member's meta changed (memberlist `EventDelegate.NotifyUpdate`). */
  notifyUpdate?(member: Member, now: number): void;
  /**
   * `other` claims the name of `existing` from another address
   * (memberlist `ConflictDelegate.NotifyConflict`).
   */
  notifyConflict?(existing: Member, other: Member, now: number): void;
  /**
   * A join push-pull brings `peers`; return a reason to veto the merge, or
   * `null` to accept (memberlist `MergeDelegate.NotifyMerge`).
   */
  notifyMerge?(peers: Member[]): string | null;
  /**
   * An alive about `peer` is about to be accepted; return a reason to drop
   * it, or `null` to accept (memberlist `AliveDelegate.NotifyAlive`).
   */
  notifyAlive?(peer: Member): string | null;
}
