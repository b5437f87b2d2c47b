/**
 * Serf's Lamport clock (serf `LamportClock`, lamport.go; SPEC §8.4).
 *
 * Serf keeps three independent clocks: the member clock (join and leave
 * intents), the event clock (user events) and the query clock (queries).
 * Each is a Go `uint64`; here a JS number, exact up to 2^53 − 1, which a
 * clock ticking a million times a second takes 285 years to reach. Values
 * read from the wire above that are clamped by the codec's integer reader.
 *
 * @module
 */

/** A Lamport clock: `time()`, `increment()`, `witness(v)`. */
export class LamportClock {
  #counter: number;

  /**
   * Create a clock.
   *
   * @param start initial value (Serf's zero value is 0; `Create` then
   *   increments each clock once so they start at 1)
   */
  constructor(start = 0) {
    this.#counter = start;
  }

  /** The current value (serf `Time`). */
  time(): number {
    return this.#counter;
  }

  /**
   * Add one and return the new value (serf `Increment`).
   *
   * @returns the incremented time
   */
  increment(): number {
    if (this.#counter < Number.MAX_SAFE_INTEGER) this.#counter++;
    return this.#counter;
  }

  /**
   * Move past a time seen elsewhere: if `v ≥ current`, the clock becomes
   * `v + 1` (serf `Witness`); an older `v` changes nothing.
   *
   * @param v the observed time
   */
  witness(v: number): void {
    if (v >= this.#counter) {
      this.#counter = Math.min(v + 1, Number.MAX_SAFE_INTEGER);
    }
  }
}
