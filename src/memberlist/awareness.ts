/**
 * Lifeguard's Local Health Multiplier (memberlist awareness.go, SPEC §6.2):
 * a score in `[0, max − 1]` that rises when our own probes look unhealthy
 * and scales the probe interval, so a slow node accuses others less eagerly.
 *
 * @module
 */

/** The local health score and its effect on timeouts. */
export class Awareness {
  readonly #max: number;
  #score = 0;

  /**
   * A healthy score of 0.
   *
   * @param max config `awarenessMaxMultiplier` (the score stays below it)
   */
  constructor(max: number) {
    this.#max = max;
  }

  /** The current score; 0 is healthy. */
  get score(): number {
    return this.#score;
  }

  /**
   * Add `delta` and clamp to `[0, max − 1]` (memberlist `ApplyDelta`): −1
   * per successful probe, +1 (or + missing nacks) per failed probe, +1 per
   * refute (Lifeguard §IV-A).
   *
   * @param delta signed change
   */
  applyDelta(delta: number): void {
    this.#score = Math.max(0, Math.min(this.#max - 1, this.#score + delta));
  }

  /**
   * Scale a timeout by the score (memberlist `ScaleTimeout`):
   * `timeout × (score + 1)`.
   *
   * @param timeoutMs the base timeout
   * @returns the scaled timeout
   */
  scaleTimeoutMs(timeoutMs: number): number {
    return timeoutMs * (this.#score + 1);
  }
}
