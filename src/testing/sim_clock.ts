/**
 * Virtual time for the simulator: an integer millisecond clock and a bounded
 * binary min-heap of scheduled items keyed by `(time, seq)`.
 *
 * The sequence number breaks ties in insertion order, so two items due at
 * the same millisecond always come out in the same order — the heap's own
 * layout never decides what happens first (the FoundationDB / TigerBeetle
 * rule: the only nondeterminism is the seed).
 *
 * @module
 */

/** Default bound of scheduled items (see {@linkcode SimClock}). */
export const DEFAULT_MAX_SCHEDULED = 4_000_000;

/** Options of a {@linkcode SimClock}. */
export interface SimClockOptions {
  /** Start time in ms (default 0). */
  startMs?: number;
  /** Most items scheduled at once; `schedule` refuses past it. */
  maxScheduled?: number;
}

/**
 * A virtual clock with an event heap. Time only moves forward, by popping an
 * item (to its due time) or by {@linkcode SimClock.advanceTo}.
 */
export class SimClock<T> {
  // Parallel arrays: a heap of numbers compares without touching the items,
  // which keeps the hot loop of a 10,000-member run out of object headers.
  #times: number[] = [];
  #seqs: number[] = [];
  #items: T[] = [];
  #seq = 0;
  #now: number;
  readonly #max: number;

  /**
   * An empty clock at the start time.
   *
   * @param options start time and bound
   */
  constructor(options: SimClockOptions = {}) {
    this.#now = options.startMs ?? 0;
    this.#max = options.maxScheduled ?? DEFAULT_MAX_SCHEDULED;
  }

  /** Current virtual time (ms). */
  get nowMs(): number {
    return this.#now;
  }

  /** Number of scheduled items. */
  get size(): number {
    return this.#times.length;
  }

  /** The bound on scheduled items. */
  get capacity(): number {
    return this.#max;
  }

  /**
   * Schedule `item` at `atMs` (clamped to now: the past is not reachable).
   *
   * @param atMs due time
   * @param item what to hand back
   * @returns false, scheduling nothing, when the heap is full
   */
  schedule(atMs: number, item: T): boolean {
    if (this.#times.length >= this.#max) return false;
    const t = atMs < this.#now ? this.#now : atMs;
    const times = this.#times;
    const seqs = this.#seqs;
    const items = this.#items;
    const s = this.#seq++;
    let i = times.length;
    times.push(t);
    seqs.push(s);
    items.push(item);
    // Sift up.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p];
      if (pt < t || (pt === t && seqs[p] < s)) break;
      times[i] = pt;
      seqs[i] = seqs[p];
      items[i] = items[p];
      i = p;
    }
    times[i] = t;
    seqs[i] = s;
    items[i] = item;
    return true;
  }

  /**
   * When the earliest item is due.
   *
   * @returns its time, or null when empty
   */
  peekMs(): number | null {
    return this.#times.length === 0 ? null : this.#times[0];
  }

  /**
   * Pop the earliest item if it is due at or before `untilMs`, moving the
   * clock to its due time.
   *
   * @param untilMs latest due time to accept (default: any)
   * @returns the item, or undefined when none is due
   */
  pop(untilMs: number = Infinity): T | undefined {
    const times = this.#times;
    if (times.length === 0 || times[0] > untilMs) return undefined;
    const seqs = this.#seqs;
    const items = this.#items;
    const top = items[0];
    this.#now = times[0];
    const lastT = times.pop() as number;
    const lastS = seqs.pop() as number;
    const lastI = items.pop() as T;
    const n = times.length;
    if (n > 0) {
      // Sift the last element down from the root.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (
          r < n &&
          (times[r] < times[l] || (times[r] === times[l] && seqs[r] < seqs[l]))
        ) c = r;
        const ct = times[c];
        if (lastT < ct || (lastT === ct && lastS < seqs[c])) break;
        times[i] = ct;
        seqs[i] = seqs[c];
        items[i] = items[c];
        i = c;
      }
      times[i] = lastT;
      seqs[i] = lastS;
      items[i] = lastI;
    }
    return top;
  }

  /**
   * Move the clock forward to `ms` (no-op if it is not later). Items due
   * before `ms` stay scheduled and fire "late" at the next pop.
   *
   * @param ms the new time
   */
  advanceTo(ms: number): void {
    if (ms > this.#now) this.#now = ms;
  }

  /** Drop every scheduled item (time stays). */
  clear(): void {
    this.#times = [];
    this.#seqs = [];
    this.#items = [];
  }
}
