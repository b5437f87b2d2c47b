/**
 * Lifeguard's dynamic suspicion (memberlist suspicion.go, SPEC §6.3): a
 * suspect timer that starts at `max` (or `min` when no confirmations are
 * expected) and shrinks toward `min` as independent peers confirm it.
 *
 * It also keeps the latest *evidence of liveness* the machine saw from the
 * suspect (a packet from its address, an ack to our probe), for the
 * liveness veto (config `suspicionLivenessVeto`, a deliberate deviation
 * from memberlist 0.2.2 documented in `memberlist.ts`): when the timer
 * fires after such evidence, the suspicion gets another period instead of
 * ending in death, at most {@linkcode MAX_LIVENESS_VETOES} times.
 *
 * The timer itself is a named deadline held by the machine; this class only
 * knows when it should fire.
 *
 * @module
 */

/** Most times one suspicion is extended by fresh evidence of liveness. */
export const MAX_LIVENESS_VETOES = 3;

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
  // Liveness veto: latest evidence, start of the current period (the
  // suspicion's start, then each veto), vetoes so far, and the earliest
  // deadline a confirmation may set after a veto.
  #livenessMs = Number.NEGATIVE_INFINITY;
  #periodStartMs: number;
  #vetoes = 0;
  #floorMs = Number.NEGATIVE_INFINITY;
  #lateExtended = false;
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
    this.#periodStartMs = now;
    // With nobody expected to confirm, waiting for max would be pointless.
    this.#deadlineMs = now + (k < 1 ? minMs : maxMs);
  }

  /** Times this suspicion was extended by the liveness veto. */
  get vetoes(): number {
    return this.#vetoes;
  }

  /** Whether the suspect showed a sign of life in the current period. */
  get alive(): boolean {
    return this.#livenessMs >= this.#periodStartMs;
  }

  /**
   * When to check actively that the suspect is alive, if no sign of life
   * came by then: `delayMs` into the current period (by then most
   * suspicions of live members are refuted, so checks stay rare except for
   * members that really died), or half-way through a shorter period. Early
   * enough that a late confirmation collapsing the timer (Lifeguard) does
   * not preempt it.
   *
   * @param delayMs how long into the period to wait
   * @returns the absolute time of the check
   */
  checkAtMs(delayMs: number): number {
    const half = Math.floor((this.#deadlineMs - this.#periodStartMs) / 2);
    return this.#periodStartMs + Math.max(0, Math.min(delayMs, half));
  }

  /**
   * Record evidence that the suspect is alive at `now` (a packet from its
   * address, an ack to our ping of it, an answered stream).
   *
   * @param now current time
   */
  observeLiveness(now: number): void {
    if (now > this.#livenessMs) this.#livenessMs = now;
  }

  /**
   * At the deadline: extend the suspicion by `extendMs` if the suspect
   * showed fresh evidence of liveness during the period now ending and the
   * veto budget is not spent. Evidence must be new in each period, so a
   * suspect that stops answering (crashed after it was suspected) is
   * extended at most once past its last sign of life.
   *
   * @param now current time (the deadline)
   * @param extendMs how long the new period lasts
   * @returns whether the death is vetoed (the deadline moved)
   */
  veto(now: number, extendMs: number): boolean {
    if (this.#vetoes >= MAX_LIVENESS_VETOES || !this.alive) return false;
    this.#vetoes++;
    this.#periodStartMs = now;
    this.#deadlineMs = now + extendMs;
    this.#floorMs = this.#deadlineMs;
    return true;
  }

  /**
   * A timer that fired late — we were paused or starved past the deadline,
   * so we could neither hear the suspect nor read its refutation — starts
   * one more period, once, so a liveness check runs before we accuse.
   *
   * @param now the current time (ms)
   * @param extendMs length of the extra period (ms)
   * @returns false if this suspicion was already extended for lateness
   */
  extendLate(now: number, extendMs: number): boolean {
    if (this.#lateExtended) return false;
    this.#lateExtended = true;
    this.#periodStartMs = now;
    this.#deadlineMs = now + extendMs;
    this.#floorMs = this.#deadlineMs;
    return true;
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
    // After a veto, confirmations still count but cannot cut the new
    // period short: the suspect has shown it is alive.
    this.#deadlineMs = Math.max(
      remaining > 0 ? now + remaining : now,
      this.#floorMs,
    );
    return true;
  }
}
