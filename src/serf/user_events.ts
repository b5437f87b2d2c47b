/**
 * Serf's user-event buffer (serf.go `handleUserEvent`, `eventBuffer`;
 * SPEC §8.6): a ring of `EventBuffer` (512) slots indexed by
 * `LTime % 512`, each holding the distinct events seen at one Lamport
 * time. It dedupes gossip, refuses events older than the ring, and is sent
 * whole in every push-pull so members replay what they missed.
 *
 * Bound: `size` slots × {@linkcode MAX_EVENTS_PER_SLOT} events. Serf's slot
 * grows without limit; past the cap a new distinct event at the same time
 * is dropped (counted as "slotFull") instead of stored and delivered.
 *
 * @module
 */

import { utf8Length } from "../codec/msgpack.ts";
import type { UserEvents } from "../codec/serf_messages.ts";
import { USER_EVENT_SIZE_HARD_LIMIT } from "./config.ts";

/** Most distinct events kept per Lamport time (see the module doc). */
export const MAX_EVENTS_PER_SLOT = 128;

/** Why {@linkcode EventBuffer.accept} took or refused an event. */
export type EventVerdict =
  | "new"
  | "duplicate"
  | "beforeMinTime"
  | "tooOld"
  | "slotFull";

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  // bytes.Compare treats nil and empty alike.
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The user-event dedupe ring, with Serf's minimum-time and age rules. */
export class EventBuffer {
  readonly #slots: (UserEvents | null)[];
  /**
   * Events below this time are dropped (serf `eventMinTime`): set past the
   * snapshot's last event at restart, and to the cluster's event clock on
   * a join that ignores old events.
   */
  minTime = 0;

  /**
   * @param size number of slots (config `eventBuffer`, 512)
   */
  constructor(size: number) {
    this.#slots = new Array<UserEvents | null>(size).fill(null);
  }

  /** Number of slots. */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * Judge an event after its time was witnessed; a "new" one is stored.
   *
   * @param e the event's time, name and payload
   * @param currentTime the event clock after witnessing `e.ltime`
   * @returns the verdict; only "new" is delivered and re-broadcast
   */
  accept(
    e: {
      readonly ltime: number;
      readonly name: string;
      readonly payload: Uint8Array | null;
    },
    currentTime: number,
  ): EventVerdict {
    if (e.ltime < this.minTime) return "beforeMinTime";
    const n = this.#slots.length;
    // An event older than the whole ring can no longer be deduped.
    if (currentTime > n && e.ltime < currentTime - n) return "tooOld";
    const idx = e.ltime % n;
    let slot = this.#slots[idx];
    if (slot !== null && slot.ltime === e.ltime) {
      for (const p of slot.events) {
        if (p.name === e.name && sameBytes(p.payload, e.payload)) {
          return "duplicate";
        }
      }
      if (slot.events.length >= MAX_EVENTS_PER_SLOT) return "slotFull";
    } else {
      slot = { ltime: e.ltime, events: [] };
      this.#slots[idx] = slot;
    }
    slot.events.push({ name: e.name, payload: e.payload });
    return "new";
  }

  /** The ring as the push-pull state carries it (live; encode at once). */
  ring(): readonly (UserEvents | null)[] {
    return this.#slots;
  }
}

/**
 * Serf's size checks on a new user event (serf `UserEvent`): name plus
 * payload, then the encoded `0x03 || msgpack`, against the configured limit
 * and the 9 KiB hard limit.
 *
 * @param name event name
 * @param payload event payload
 * @param encodedLength bytes of the encoded message, or null to check only
 *   the raw size
 * @param limit config `userEventSizeLimit`
 * @returns Serf's error text, or null when it fits
 */
export function userEventSizeError(
  name: string,
  payload: Uint8Array | null,
  encodedLength: number | null,
  limit: number,
): string | null {
  const raw = utf8Length(name) + (payload?.length ?? 0);
  if (raw > limit) {
    return `user event exceeds configured limit of ${limit} bytes before encoding`;
  }
  if (raw > USER_EVENT_SIZE_HARD_LIMIT) {
    return `user event exceeds sane limit of ${USER_EVENT_SIZE_HARD_LIMIT} bytes before encoding`;
  }
  if (encodedLength === null) return null;
  if (encodedLength > limit) {
    return `encoded user event exceeds configured limit of ${limit} bytes after encoding`;
  }
  if (encodedLength > USER_EVENT_SIZE_HARD_LIMIT) {
    // Serf's text really says "before encoding" here.
    return `encoded user event exceeds sane limit of ${USER_EVENT_SIZE_HARD_LIMIT} bytes before encoding`;
  }
  return null;
}
