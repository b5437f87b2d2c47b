/**
 * memberlist's TransmitLimitedQueue (queue.go, SPEC §6.4): broadcasts
 * waiting to be piggybacked on packets, each sent a limited number of times.
 *
 * Order of service: fewest transmits first, then longer messages, then
 * newer. A *named* broadcast (memberlist's alive/suspect/dead, named by node)
 * replaces any queued one with the same name; unnamed ones are unique.
 *
 * The entries are kept in service order in a doubly linked skip list
 * (memberlist keeps them in a btree): O(log n) insert, O(1)-per-level
 * removal, in-order walks for free, and a length-bounded search that jumps
 * past every message of a transmit tier that is too long for the space
 * left, as memberlist's `GetBroadcasts` does with `AscendRange`; a lower
 * bound of the queued lengths ends a walk once nothing left can fit. Levels come from a
 * hash of the entry's id, so the structure is deterministic and draws
 * nothing from the machine's PRNG.
 *
 * Bound: at most `maxEntries`. Past it the queue drops, in one pass, the
 * eighth of its entries that would be served last (most transmitted, then
 * shortest, then oldest), as memberlist's `Prune` does; dropping a batch keeps
 * alive-message spam from costing a pass per message. A dropped broadcast is
 * finished early; push-pull anti-entropy repairs whatever it would have told.
 *
 * @module
 */

import { retransmitLimit } from "./formulas.ts";

/** Skip list height: 2^16 entries at p = 1/2, far past any queue bound. */
const MAX_LEVEL = 16;

/** One queued broadcast, linked into the skip list. */
interface Entry {
  name: string | null;
  msg: Uint8Array;
  /** `msg.length`, read on every comparison. */
  readonly length: number;
  transmits: number;
  id: number;
  onFinished: (() => void) | null;
  /** Successor at each of this entry's levels (null: the last). */
  readonly next: (Entry | null)[];
  /** Predecessor at each of this entry's levels (the head: the first). */
  readonly back: Entry[];
}

// fewest transmits, then longer, then newer (memberlist limitedBroadcast.Less)
function serviceOrder(a: Entry, b: Entry): number {
  return a.transmits - b.transmits || b.length - a.length || b.id - a.id;
}

// Whether `e` is served before the first entry of tier `transmits` with a
// message of at most `maxLength` bytes (memberlist's AscendRange pivot
// `{transmits, msgLen: free, id: MaxInt64}`).
function beforeFit(e: Entry, transmits: number, maxLength: number): boolean {
  return e.transmits < transmits ||
    (e.transmits === transmits && e.length > maxLength);
}

// A geometric level (p = 1/2) from a 32-bit mix of the id (murmur3 fmix32).
function levelOf(id: number): number {
  let h = (id ^ Math.floor(id / 0x1_0000_0000)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  // Trailing zeros of h: level 1 with probability 1/2, 2 with 1/4 …
  const tz = h === 0 ? 31 : 31 - Math.clz32(h & -h);
  return Math.min(MAX_LEVEL, 1 + tz);
}

function entry(
  name: string | null,
  msg: Uint8Array,
  id: number,
  onFinished: (() => void) | null,
  height: number,
): Entry {
  const next: (Entry | null)[] = [];
  const back: Entry[] = [];
  const e: Entry = {
    name,
    msg,
    length: msg.length,
    transmits: 0,
    id,
    onFinished,
    next,
    back,
  };
  for (let i = 0; i < height; i++) {
    next.push(null);
    back.push(e);
  }
  return e;
}

/** A bounded transmit-limited broadcast queue. */
export class BroadcastQueue {
  readonly #retransmitMult: number;
  readonly #maxEntries: number;
  // Sentinel: `head.next[i]` is the first entry of level i.
  readonly #head: Entry = entry(null, new Uint8Array(0), 0, null, MAX_LEVEL);
  #tail: Entry | null = null;
  #level = 1;
  #size = 0;
  // A lower bound of the queued lengths (the shortest queued since the
  // queue was last empty): a walk stops once the space left is below it.
  #minLength = Infinity;
  readonly #byName = new Map<string, Entry>();
  readonly #update: Entry[] = new Array<Entry>(MAX_LEVEL);
  #nextId = 0;
  #queuedTotal = 0;

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
    return this.#size;
  }

  /**
   * Broadcasts queued since creation: when it changes, a new broadcast
   * arrived (Serf tells memberlist so, for eager gossip).
   */
  get queuedTotal(): number {
    return this.#queuedTotal;
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
      if (old !== undefined) this.#finish(old);
    }
    // Ids only order entries; wrap well inside the safe-integer range.
    this.#nextId = this.#nextId >= Number.MAX_SAFE_INTEGER
      ? 1
      : this.#nextId + 1;
    const id = this.#nextId;
    this.#queuedTotal++;
    const e = entry(name, msg, id, onFinished, levelOf(id));
    this.#insert(e);
    if (name !== null) this.#byName.set(name, e);
    if (this.#size > this.#maxEntries) {
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
    const out: Uint8Array[] = [];
    if (this.#size === 0) return out;
    const limit = retransmitLimit(this.#retransmitMult, numNodes);
    let bumped: Entry[] | null = null;
    let finished: Entry[] | null = null;
    let used = 0;
    // Walk in service order, taking each message that fits: free space only
    // shrinks, so a message skipped as too long never fits later, and a
    // too-long one is skipped with its whole run of longer-or-equal
    // neighbours in one O(log n) search (memberlist's tier-by-tier
    // length-bounded search picks exactly the same messages).
    let e = this.#head.next[0];
    while (e !== null) {
      const free = limitBytes - used - overheadBytes;
      if (free <= 0 || free < this.#minLength) break;
      if (e.length > free) {
        e = this.#firstFit(e.transmits, free);
        continue;
      }
      const following = e.next[0];
      used += overheadBytes + e.length;
      out.push(e.msg);
      this.#unlink(e);
      if (e.transmits + 1 >= limit) (finished ??= []).push(e);
      else {
        // Re-filed one tier down after the walk, as memberlist does, so
        // the walk cannot meet it again.
        e.transmits++;
        (bumped ??= []).push(e);
      }
      e = following;
    }
    if (bumped !== null) { for (const b of bumped) this.#insert(b); }
    // Callbacks last: one may queue (or invalidate) broadcasts.
    if (finished !== null) { for (const f of finished) this.#done(f); }
    return out;
  }

  /**
   * Keep at most `maxRetain` entries, finishing the ones served last
   * (memberlist `Prune`).
   *
   * @param maxRetain entries to keep
   */
  prune(maxRetain: number): void {
    if (this.#size <= maxRetain) return;
    let first = this.#tail as Entry;
    for (let i = this.#size - Math.max(0, maxRetain); i > 1; i--) {
      first = first.back[0];
    }
    this.#dropFrom(first);
  }

  /** Finish and drop everything. */
  reset(): void {
    this.#dropFrom(this.#head.next[0]);
  }

  /** Queued entries as `{name, transmits, length}`, in service order (tests). */
  view(): Array<{ name: string | null; transmits: number; length: number }> {
    const out = [];
    for (let e = this.#head.next[0]; e !== null; e = e.next[0]) {
      out.push({ name: e.name, transmits: e.transmits, length: e.length });
    }
    return out;
  }

  // Unlink `first` and every entry after it, then run their callbacks in
  // service order (a callback may queue broadcasts).
  #dropFrom(first: Entry | null): void {
    const dropped: Entry[] = [];
    for (let e = first; e !== null;) {
      const following = e.next[0];
      this.#unlink(e);
      dropped.push(e);
      e = following;
    }
    for (const e of dropped) this.#done(e);
  }

  // Unlink and run the callback (invalidated).
  #finish(e: Entry): void {
    this.#unlink(e);
    this.#done(e);
  }

  // Forget the name and run the callback of an unlinked entry, once.
  #done(e: Entry): void {
    if (e.name !== null && this.#byName.get(e.name) === e) {
      this.#byName.delete(e.name);
    }
    const cb = e.onFinished;
    e.onFinished = null;
    if (cb !== null) cb();
  }

  // The first entry at or after the pivot of `beforeFit`, or null.
  #firstFit(transmits: number, maxLength: number): Entry | null {
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      for (let n = x.next[i]; n !== null; n = x.next[i]) {
        if (!beforeFit(n, transmits, maxLength)) break;
        x = n;
      }
    }
    return x.next[0];
  }

  #insert(e: Entry): void {
    const height = e.next.length;
    if (this.#level < height) this.#level = height;
    // The last entry before `e` at each level.
    const update = this.#update;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      for (let n = x.next[i]; n !== null; n = x.next[i]) {
        if (serviceOrder(n, e) >= 0) break;
        x = n;
      }
      update[i] = x;
    }
    for (let i = 0; i < height; i++) {
      const before = update[i];
      const after = before.next[i];
      e.next[i] = after;
      e.back[i] = before;
      if (after !== null) after.back[i] = e;
      before.next[i] = e;
    }
    if (e.next[0] === null) this.#tail = e;
    this.#size++;
    if (e.length < this.#minLength) this.#minLength = e.length;
  }

  #unlink(e: Entry): void {
    if (e.back[0].next[0] !== e) {
      throw new Error("Invariant: broadcast missing from its queue");
    }
    if (this.#tail === e) {
      this.#tail = e.back[0] === this.#head ? null : e.back[0];
    }
    for (let i = 0; i < e.next.length; i++) {
      const before = e.back[i];
      const after = e.next[i];
      before.next[i] = after;
      if (after !== null) after.back[i] = before;
      e.next[i] = null;
      e.back[i] = e;
    }
    while (this.#level > 1 && this.#head.next[this.#level - 1] === null) {
      this.#level--;
    }
    if (--this.#size === 0) this.#minLength = Infinity;
  }
}
