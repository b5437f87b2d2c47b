/**
 * The machine's timers as named deadlines in one structure (ARCHITECTURE
 * principle 2): `probe`, `gossip`, `pushPull`, `suspect:<name>`,
 * `probeTimeout:<seq>`, `probeEnd:<seq>`, `relay:<seq>`, `stream:<id>`,
 * `leave`. The host asks for the earliest; every due one is handled, so a
 * late wake-up is harmless.
 *
 * @module
 */

/** A set of named absolute deadlines (ms). */
export class Deadlines {
  readonly #at = new Map<string, number>();

  /** Number of armed deadlines. */
  get size(): number {
    return this.#at.size;
  }

  /**
   * Arm (or re-arm) `name` at `atMs`.
   *
   * @param name deadline name
   * @param atMs absolute time
   */
  set(name: string, atMs: number): void {
    this.#at.set(name, atMs);
  }

  /**
   * Disarm `name` (no-op when absent).
   *
   * @param name deadline name
   */
  clear(name: string): void {
    this.#at.delete(name);
  }

  /**
   * When `name` is due, if armed.
   *
   * @param name deadline name
   * @returns the absolute time, or undefined
   */
  get(name: string): number | undefined {
    return this.#at.get(name);
  }

  /** Disarm everything. */
  clearAll(): void {
    this.#at.clear();
  }

  /**
   * The earliest armed deadline.
   *
   * @returns the time, or null when none is armed
   */
  next(): number | null {
    let min: number | null = null;
    for (const at of this.#at.values()) {
      if (min === null || at < min) min = at;
    }
    return min;
  }

  /**
   * Remove and return the earliest deadline due at `now`; ties break by
   * name so runs are deterministic.
   *
   * @param now current time
   * @returns the name and its scheduled time, or undefined when none is due
   */
  popDue(now: number): { name: string; atMs: number } | undefined {
    let best: string | undefined;
    let bestAt = 0;
    for (const [name, at] of this.#at) {
      if (at > now) continue;
      if (
        best === undefined || at < bestAt || (at === bestAt && name < best)
      ) {
        best = name;
        bestAt = at;
      }
    }
    if (best === undefined) return undefined;
    this.#at.delete(best);
    return { name: best, atMs: bestAt };
  }

  /** Names and times, sorted, for tests and debugging. */
  entries(): Array<[string, number]> {
    return [...this.#at].sort((a, b) =>
      a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    );
  }
}
