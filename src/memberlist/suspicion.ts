/**
 * Lifeguard's dynamic suspicion (memberlist suspicion.go, SPEC §6.3): a
 * suspect timer that starts at `max` (or `min` when no confirmations are
 * expected) and shrinks toward `min` as independent peers confirm it.
 *
 * The timer itself is a named deadline held by the machine; this class only
 * knows when it should fire.
 *
 * @module
 */

import { remainingSuspicionMs } from "./formulas.ts";

/** One node's suspicion and its confirmations. */
export class Suspicion {
  /** Confirmations expected to reach the minimum timeout. */
  readonly k: number;
  /** Lower bound of the timeout (ms). */
  readonly minMs: number;
  /** Upper bound of the timeout (ms). */
  readonly maxMs: number;
  /** When the suspicion started (ms). */
  readonly startMs: number;
  /** The node's state-change time when it became suspect (ms). */
  readonly changeMs: number;
  #confirmations = 0;
  #deadlineMs: number;
  // Bounded: at most k + 1 names (the accuser plus k confirmations).
  readonly #from = new Set<string>();

  /**
   * Start a suspicion raised by `from` (memberlist `newSuspicion`).
   *
   * @param from the accuser; its own later messages are not confirmations
   * @param k expected confirmations (0 means "fire at min")
   * @param minMs minimum timeout
   * @param maxMs maximum timeout
   * @param now current time, also the state-change time
   */
  constructor(
    from: string,
    k: number,
    minMs: number,
    maxMs: number,
    now: number,
  ) {
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.startMs = now;
    this.changeMs = now;
    this.#from.add(from);
    // With nobody expected to confirm, waiting for max would be pointless.
    this.#deadlineMs = now + (k < 1 ? minMs : maxMs);
  }

  /** Independent confirmations counted so far. */
  get confirmations(): number {
    return this.#confirmations;
  }

  /** When the node should be declared dead (ms). */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  /**
   * Count a confirmation from `from` (memberlist `Confirm`). Returns true
   * only for new information: not once k confirmations are in, not twice
   * from one peer. A true result moves the deadline earlier (possibly to
   * `now`), and tells the caller to re-gossip the suspect message.
   *
   * @param from the peer that also suspects the node
   * @param now current time
   * @returns whether the confirmation was new
   */
  confirm(from: string, now: number): boolean {
    if (this.#confirmations >= this.k) return false;
    if (this.#from.has(from)) return false;
    this.#from.add(from);
    this.#confirmations++;
    const remaining = remainingSuspicionMs(
      this.#confirmations,
      this.k,
      now - this.startMs,
      this.minMs,
      this.maxMs,
    );
    this.#deadlineMs = remaining > 0 ? now + remaining : now;
    return true;
  }
}
