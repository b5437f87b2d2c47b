/**
 * Serf's join and leave intents (serf.go `handleNodeJoinIntent`,
 * `handleNodeLeaveIntent`, `recentIntents`; SPEC §8.5) as pure decisions,
 * plus the buffer of intents about members memberlist has not told us
 * about yet.
 *
 * Rules, with `L` the intent's member-clock time and `S` the member's
 * status time:
 * - unknown member: remember the intent (newest `L` per node wins);
 *   re-broadcast only when it was news.
 * - join, `L ≤ S`: stale, ignored. Otherwise `S = L`, Leaving → Alive.
 * - leave, `L ≤ S`: stale, ignored. About ourselves while we are alive:
 *   refuted with a new join intent, not applied. Otherwise `S = L` and
 *   Alive → Leaving, Failed → Left (a forced EventMemberLeave), Leaving and
 *   Left stay; `Prune` erases the member as well.
 *
 * @module
 */

import type { SerfMemberStatus } from "./events.ts";

/**
 * Most intents buffered for unknown members. Serf's map is bounded only by
 * the 5-minute expiry; past this cap the oldest intent (by arrival) is
 * forgotten to make room, which at worst lets a stale join re-broadcast once.
 */
export const MAX_RECENT_INTENTS = 4096;

/** An intent buffered for a member we do not know yet (serf `nodeIntent`). */
export interface RecentIntent {
  /** Which intent. */
  readonly type: "join" | "leave";
  /** Its member-clock time. */
  readonly ltime: number;
  /** When we received it (our clock), for the expiry. */
  readonly atMs: number;
}

/** Intents about unknown members, one per node (serf `recentIntents`). */
export class RecentIntents {
  readonly #byNode = new Map<string, RecentIntent>();
  readonly #max: number;

  /**
   * @param max bound (default {@linkcode MAX_RECENT_INTENTS})
   */
  constructor(max: number = MAX_RECENT_INTENTS) {
    this.#max = max;
  }

  /** Number of buffered intents. */
  get size(): number {
    return this.#byNode.size;
  }

  /**
   * Keep `ltime` for `node` if it is newer than what we hold (serf
   * `upsertIntent`).
   *
   * @param node node name
   * @param type join or leave
   * @param ltime member-clock time
   * @param nowMs current time
   * @returns true when stored (news: the caller re-broadcasts)
   */
  upsert(
    node: string,
    type: "join" | "leave",
    ltime: number,
    nowMs: number,
  ): boolean {
    const old = this.#byNode.get(node);
    if (old !== undefined && ltime <= old.ltime) return false;
    if (old !== undefined) this.#byNode.delete(node);
    else if (this.#byNode.size >= this.#max) {
      // Map order is insertion order: the first key arrived first.
      const oldest = this.#byNode.keys().next().value;
      if (oldest !== undefined) this.#byNode.delete(oldest);
    }
    this.#byNode.set(node, { type, ltime, atMs: nowMs });
    return true;
  }

  /**
   * The buffered intent time for `node` if it is of `type` (serf
   * `recentIntent`).
   *
   * @param node node name
   * @param type join or leave
   * @returns its Lamport time, or undefined
   */
  get(node: string, type: "join" | "leave"): number | undefined {
    const i = this.#byNode.get(node);
    return i !== undefined && i.type === type ? i.ltime : undefined;
  }

  /**
   * Drop intents older than `timeoutMs` (serf `reapIntents`).
   *
   * @param nowMs current time
   * @param timeoutMs RecentIntentTimeout
   * @returns how many were dropped
   */
  reap(nowMs: number, timeoutMs: number): number {
    let n = 0;
    for (const [node, i] of this.#byNode) {
      if (nowMs - i.atMs > timeoutMs) {
        this.#byNode.delete(node);
        n++;
      }
    }
    return n;
  }

  /** The buffered intents by node (tests, debugging). */
  entries(): Array<[string, RecentIntent]> {
    return [...this.#byNode];
  }
}

/** What Serf knows of a member, as the intent rules need it. */
export interface IntentSubject {
  /** Its status. */
  readonly status: SerfMemberStatus;
  /** Lamport time of the last intent applied to it. */
  readonly statusLtime: number;
}

/** The decision on a join intent about a known member. */
export interface JoinIntentOutcome {
  /** False when stale: nothing changes and nothing is re-broadcast. */
  readonly apply: boolean;
  /** The status afterwards. */
  readonly status: SerfMemberStatus;
}

/**
 * Decide a join intent about a known member (serf `handleNodeJoinIntent`).
 *
 * @param member its current status and status time
 * @param ltime the intent's time
 * @returns whether to apply (then `statusLtime = ltime`, re-broadcast)
 */
export function joinIntentOutcome(
  member: IntentSubject,
  ltime: number,
): JoinIntentOutcome {
  if (ltime <= member.statusLtime) {
    return { apply: false, status: member.status };
  }
  // A newer join means the leave we saw was about an older incarnation.
  const status = member.status === "leaving" ? "alive" : member.status;
  return { apply: true, status };
}

/** The decision on a leave intent about a known member. */
export interface LeaveIntentOutcome {
  /**
   * "ignore" (stale or no state change possible), "refute" (about us while
   * alive: broadcast a new join intent), or "apply".
   */
  readonly action: "ignore" | "refute" | "apply";
  /** The status afterwards. */
  readonly status: SerfMemberStatus;
  /** True for Failed → Left: emit a (forced) EventMemberLeave. */
  readonly forced: boolean;
  /** True to erase the member (the intent's Prune flag, when applied). */
  readonly prune: boolean;
  /** True to re-broadcast the intent (it changed something). */
  readonly rebroadcast: boolean;
}

/**
 * Decide a leave intent about a known member (serf `handleNodeLeaveIntent`).
 *
 * @param member its current status and status time
 * @param msg the intent's time and Prune flag
 * @param self whether the intent names us, and whether we are alive
 *   (not leaving, left or shut down)
 * @returns the decision; when applied, `statusLtime = msg.ltime`, and the
 *   intent is re-broadcast
 */
export function leaveIntentOutcome(
  member: IntentSubject,
  msg: { readonly ltime: number; readonly prune: boolean },
  self: { readonly aboutSelf: boolean; readonly selfAlive: boolean },
): LeaveIntentOutcome {
  const keep = {
    status: member.status,
    forced: false,
    prune: false,
    rebroadcast: false,
  };
  if (msg.ltime <= member.statusLtime) return { action: "ignore", ...keep };
  if (self.aboutSelf && self.selfAlive) return { action: "refute", ...keep };
  const prune = msg.prune;
  switch (member.status) {
    case "alive":
      return {
        ...keep,
        action: "apply",
        status: "leaving",
        prune,
        rebroadcast: true,
      };
    case "failed":
      return {
        action: "apply",
        status: "left",
        forced: true,
        prune,
        rebroadcast: true,
      };
    case "leaving":
    case "left":
      return { ...keep, action: "apply", prune, rebroadcast: true };
    default:
      // StatusNone: Serf still takes the time ("always update the lamport
      // time even when the status does not change") but reports no change.
      return { ...keep, action: "apply" };
  }
}
