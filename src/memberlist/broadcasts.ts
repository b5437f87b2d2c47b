/**
 * memberlist's TransmitLimitedQueue (queue.go, SPEC §6.4): broadcasts
 * waiting to be piggybacked on packets, each sent a limited number of times.
 *
 * Order of service: fewest transmits first, then longer messages, then
 * newer. A *named* broadcast (memberlist's alive/suspect/dead, named by node)
 * replaces any queued one with the same name; unnamed ones are unique.
 *
 * Bound: at most `maxEntries`. Past it the queue drops, in one pass, the
 * eighth of its entries that would be served last (most transmitted, then
 * shortest, then oldest), as memberlist's `Prune` does; dropping a batch keeps
 * alive-message spam from costing a sort per message. A dropped broadcast is
 * finished early; push-pull anti-entropy repairs whatever it would have told.
 *
 * @module
 */

import { retransmitLimit } from "./formulas.ts";

/** One queued broadcast. */
interface Entry {
  name: string | null;
  msg: Uint8Array;
  transmits: number;
  id: number;
  onFinished: (() => void) | null;
}

// fewest transmits, then longer, then newer (memberlist limitedBroadcast.Less)
function serviceOrder(a: Entry, b: Entry): number {
  return a.transmits - b.transmits || b.msg.length - a.msg.length ||
    b.id - a.id;
}

/** A bounded transmit-limited broadcast queue. */
export class BroadcastQueue {
  readonly #retransmitMult: number;
  readonly #maxEntries: number;
  #entries: Entry[] = [];
  readonly #byName = new Map<string, Entry>();
  #nextId = 0;

  /**
   * An empty queue.
   *
   * @param retransmitMult config `retransmitMult`
   * @param maxEntries bound of the queue (see the module doc)
   */
  constructor(retransmitMult: number, maxEntries: number) {
    this.#retransmitMult = retransmitMult;
    this.#maxEntries = maxEntries;
  }

  /** Number of queued broadcasts. */
  get length(): number {
    return this.#entries.length;
  }

  /**
   * Queue `msg`. A non-null `name` invalidates (finishes) a queued
   * broadcast of the same name. `onFinished` runs once the message will not
   * be sent again: transmit limit reached, invalidated or pruned.
   *
   * @param name node name for memberlist broadcasts, null for unique ones
   * @param msg the complete message (type byte first)
   * @param onFinished optional completion callback
   */
  queue(
    name: string | null,
    msg: Uint8Array,
    onFinished: (() => void) | null = null,
  ): void {
    if (name !== null) {
      const old = this.#byName.get(name);
      if (old !== undefined) this.#remove(old);
    }
    // Ids only order entries; wrap well inside the safe-integer range.
    this.#nextId = this.#nextId >= Number.MAX_SAFE_INTEGER
      ? 1
      : this.#nextId + 1;
    const e: Entry = { name, msg, transmits: 0, id: this.#nextId, onFinished };
    this.#entries.push(e);
    if (name !== null) this.#byName.set(name, e);
    if (this.#entries.length > this.#maxEntries) {
      this.prune(this.#maxEntries - Math.floor(this.#maxEntries / 8));
    }
  }

  /**
   * Take the broadcasts that fit: each costs `overheadBytes + length`, all
   * within `limitBytes`; each taken one counts a transmit and leaves the
   * queue at `retransmitMult × ceil(log10(numNodes + 1))` (memberlist
   * `GetBroadcasts`).
   *
   * @param overheadBytes per-message framing cost
   * @param limitBytes total budget
   * @param numNodes cluster size estimate for the transmit limit
   * @returns the messages, in service order
   */
  take(
    overheadBytes: number,
    limitBytes: number,
    numNodes: number,
  ): Uint8Array[] {
    if (this.#entries.length === 0) return [];
    const limit = retransmitLimit(this.#retransmitMult, numNodes);
    this.#entries.sort(serviceOrder);
    const out: Uint8Array[] = [];
    const done: Entry[] = [];
    let used = 0;
    // Walking in service order and taking each one that fits picks exactly
    // what memberlist's tier-by-tier btree search picks: free space only
    // shrinks, so a message skipped as too large never fits later.
    for (const e of this.#entries) {
      const free = limitBytes - used - overheadBytes;
      if (free <= 0) break;
      if (e.msg.length > free) continue;
      used += overheadBytes + e.msg.length;
      out.push(e.msg);
      e.transmits++;
      if (e.transmits >= limit) done.push(e);
    }
    for (const e of done) this.#remove(e);
    return out;
  }

  /**
   * Keep at most `maxRetain` entries, finishing the ones served last
   * (memberlist `Prune`).
   *
   * @param maxRetain entries to keep
   */
  prune(maxRetain: number): void {
    if (this.#entries.length <= maxRetain) return;
    this.#entries.sort(serviceOrder);
    const dropped = this.#entries.splice(maxRetain);
    for (const e of dropped) {
      if (e.name !== null && this.#byName.get(e.name) === e) {
        this.#byName.delete(e.name);
      }
      const cb = e.onFinished;
      e.onFinished = null;
      if (cb !== null) cb();
    }
  }

  /** Finish and drop everything. */
  reset(): void {
    for (const e of [...this.#entries]) this.#remove(e);
  }

  /** Queued entries as `{name, transmits, length}`, in service order (tests). */
  view(): Array<{ name: string | null; transmits: number; length: number }> {
    return [...this.#entries].sort(serviceOrder).map((e) => ({
      name: e.name,
      transmits: e.transmits,
      length: e.msg.length,
    }));
  }

  #remove(e: Entry): void {
    const i = this.#entries.indexOf(e);
    if (i >= 0) this.#entries.splice(i, 1);
    if (e.name !== null && this.#byName.get(e.name) === e) {
      this.#byName.delete(e.name);
    }
    const cb = e.onFinished;
    e.onFinished = null;
    if (cb !== null) cb();
  }
}
