/**
 * Serf's event coalescing (coalesce.go, coalesce_member.go,
 * coalesce_user.go; SPEC §8.6), pure and driven by deadlines.
 *
 * A window opens with the first coalescable event; it flushes when
 * `periodMs` has passed since it opened, or when `quiescentMs` passed
 * without a new one (each event restarts the quiet timer). Events a
 * coalescer does not handle pass straight through, so they may overtake
 * held ones, as in Serf.
 *
 * - Member events: per member, only the newest event of the window is
 *   kept; at flush, members are grouped into one event per type, and a
 *   member whose event equals the last one sent for it (same type, and for
 *   updates the same member data) is skipped.
 * - User events (only those with `coalesce` set): per name, only the
 *   events with the newest Lamport time are kept.
 *
 * Bounds: the member coalescer holds one entry per member name seen and
 * forgets a name once its reap was flushed; the user coalescer holds at
 * most {@linkcode MAX_COALESCED_USER_NAMES} names and
 * {@linkcode MAX_EVENTS_PER_NAME} events per name; past either cap the new
 * event passes through uncoalesced.
 *
 * @module
 */

import type {
  MemberEvent,
  MemberEventType,
  SerfMemberInfo,
  UserEvent,
} from "./events.ts";

/** Most distinct user-event names held in one window. */
export const MAX_COALESCED_USER_NAMES = 4096;
/** Most same-time events held per user-event name. */
export const MAX_EVENTS_PER_NAME = 128;

/** The policy of one coalescer (serf's `coalescer` interface). */
export interface CoalescePolicy<E> {
  /** Whether this event is coalesced at all (else it passes through). */
  handles(e: E): boolean;
  /** Absorb an event; false when full (then it passes through). */
  absorb(e: E): boolean;
  /** The coalesced events of the window, and reset for the next one. */
  flush(): E[];
}

/** One coalescing window (serf `coalesceLoop`) with named deadlines. */
export class Coalescer<E> {
  readonly #periodMs: number;
  readonly #quiescentMs: number;
  readonly #policy: CoalescePolicy<E>;
  #quantumAt: number | null = null;
  #quietAt: number | null = null;

  /**
   * @param periodMs longest a window stays open
   * @param quiescentMs quiet time that closes a window early
   * @param policy what to coalesce and how
   */
  constructor(
    periodMs: number,
    quiescentMs: number,
    policy: CoalescePolicy<E>,
  ) {
    this.#periodMs = periodMs;
    this.#quiescentMs = quiescentMs;
    this.#policy = policy;
  }

  /**
   * Offer an event.
   *
   * @param e the event
   * @param now current time
   * @returns true when held for the window, false to pass it on now
   */
  offer(e: E, now: number): boolean {
    if (!this.#policy.handles(e) || !this.#policy.absorb(e)) return false;
    this.#quantumAt ??= now + this.#periodMs;
    this.#quietAt = now + this.#quiescentMs;
    return true;
  }

  /** When the window closes, or null when none is open. */
  nextDeadline(): number | null {
    if (this.#quantumAt === null || this.#quietAt === null) return null;
    return Math.min(this.#quantumAt, this.#quietAt);
  }

  /**
   * Close the window if due.
   *
   * @param now current time
   * @returns the coalesced events (empty when not due)
   */
  due(now: number): E[] {
    const at = this.nextDeadline();
    if (at === null || at > now) return [];
    return this.flush();
  }

  /** Close the window now (shutdown). */
  flush(): E[] {
    this.#quantumAt = null;
    this.#quietAt = null;
    return this.#policy.flush();
  }
}

function sameMember(a: SerfMemberInfo, b: SerfMemberInfo): boolean {
  if (
    a.name !== b.name || a.addr.host !== b.addr.host ||
    a.addr.port !== b.addr.port || a.status !== b.status ||
    a.protocolMin !== b.protocolMin || a.protocolMax !== b.protocolMax ||
    a.protocolCur !== b.protocolCur || a.delegateMin !== b.delegateMin ||
    a.delegateMax !== b.delegateMax || a.delegateCur !== b.delegateCur ||
    a.tags.size !== b.tags.size
  ) return false;
  for (const [k, v] of a.tags) if (b.tags.get(k) !== v) return false;
  return true;
}

interface NodeEvent {
  type: MemberEventType;
  member: SerfMemberInfo;
}

/** Serf's `memberEventCoalescer`. */
export class MemberCoalescePolicy implements CoalescePolicy<MemberEvent> {
  readonly #latest = new Map<string, NodeEvent>();
  readonly #lastSent = new Map<string, NodeEvent>();

  /** Names remembered (bounded by the members ever seen, minus reaped). */
  get size(): number {
    return this.#lastSent.size;
  }

  /** Member events are coalesced. */
  handles(e: MemberEvent): boolean {
    return e.type.startsWith("member");
  }

  /** Keep the newest event per member. */
  absorb(e: MemberEvent): boolean {
    for (const member of e.members) {
      this.#latest.delete(member.name);
      this.#latest.set(member.name, { type: e.type, member });
    }
    return true;
  }

  /** One event per type, skipping repeats of what was last sent. */
  flush(): MemberEvent[] {
    const byType = new Map<MemberEventType, SerfMemberInfo[]>();
    for (const [name, e] of this.#latest) {
      const last = this.#lastSent.get(name);
      if (
        last !== undefined && last.type === e.type &&
        (e.type !== "memberUpdate" || sameMember(last.member, e.member))
      ) continue;
      if (e.type === "memberReap") this.#lastSent.delete(name);
      else this.#lastSent.set(name, e);
      const list = byType.get(e.type) ?? [];
      list.push(e.member);
      byType.set(e.type, list);
    }
    this.#latest.clear();
    return [...byType].map(([type, members]) => ({ type, members }));
  }
}

/** Serf's `userEventCoalescer`. */
export class UserCoalescePolicy implements CoalescePolicy<UserEvent> {
  readonly #byName = new Map<string, { ltime: number; events: UserEvent[] }>();

  /** Only user events sent with `coalesce` are coalesced. */
  handles(e: UserEvent): boolean {
    return e.type === "user" && e.coalesce;
  }

  /** Keep the events with the newest time per name. */
  absorb(e: UserEvent): boolean {
    const latest = this.#byName.get(e.name);
    if (latest === undefined) {
      if (this.#byName.size >= MAX_COALESCED_USER_NAMES) return false;
      this.#byName.set(e.name, { ltime: e.ltime, events: [e] });
      return true;
    }
    if (latest.ltime < e.ltime) {
      latest.ltime = e.ltime;
      latest.events = [e];
    } else if (latest.ltime === e.ltime) {
      if (latest.events.length >= MAX_EVENTS_PER_NAME) return false;
      latest.events.push(e);
    }
    // An older event than the newest held is coalesced away.
    return true;
  }

  /** Every held event, name by name. */
  flush(): UserEvent[] {
    const out: UserEvent[] = [];
    for (const l of this.#byName.values()) out.push(...l.events);
    this.#byName.clear();
    return out;
  }
}
