/**
 * Seeded randomness for the simulator: sfc32 (Chris Doty-Humphrey's Small
 * Fast Counter, 32-bit) seeded through splitmix32, so every run is a pure
 * function of its seed (ARCHITECTURE principle 7).
 *
 * One master seed fans out into independent streams by label
 * ({@linkcode derivePrng}): one per member instance, one for the network,
 * one for the fault schedule. Streams are keyed by label rather than by
 * creation order, so adding a member or a fault does not shift the random
 * numbers every other member sees — a failing seed stays reproducible while
 * a scenario is edited around it.
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/**
 * splitmix32 (the 32-bit variant of Java's SplittableRandom mixer): a
 * generator of well-spread u32 words from any integer state, used to seed
 * sfc32 (whose own state must not start all-zero or correlated).
 *
 * @param seed any integer (only its low 32 bits are used)
 * @returns a function returning the next u32 on each call
 * @example
 * ```ts
 * const next = splitmix32(42);
 * const word = next(); // 0 ≤ word < 2 ** 32
 * ```
 */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * FNV-1a over a string's UTF-16 code units: a cheap stable 32-bit label hash
 * for deriving PRNG streams (not for security).
 *
 * @param text the label
 * @returns its 32-bit hash
 */
export function hashLabel(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seeded sfc32 generator with the helpers the simulator needs. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Seed from one integer (safe integers up to 2^53 keep their high bits).
   *
   * @param seed the seed
   */
  constructor(seed: number) {
    // Fold the high half in too, so seeds 1 and 2^32 + 1 differ.
    const hi = Math.floor(Math.abs(seed) / TWO_POW_32) >>> 0;
    const mix = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2f));
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix() | 1;
    // sfc32 wants a few rounds to decorrelate nearby seeds.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /**
   * The next raw word.
   *
   * @returns a uniformly distributed u32
   */
  nextU32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /**
   * The next number in [0, 1).
   *
   * @returns a uniform number with 32 bits of precision
   */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /**
   * A uniform integer in [0, n).
   *
   * @param n exclusive upper bound, ≥ 1
   * @returns the integer
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * A uniform integer in [lo, hi] (both inclusive).
   *
   * @param lo lower bound
   * @param hi upper bound, ≥ lo
   * @returns the integer
   */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /**
   * True with probability `p`. `p ≤ 0` never draws, so turning a fault off
   * does not shift the stream for everything else.
   *
   * @param p probability in [0, 1]
   * @returns the outcome
   */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /**
   * One element chosen uniformly.
   *
   * @param items a non-empty array
   * @returns the element
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick: empty array");
    return items[this.int(items.length)];
  }

  /**
   * Shuffle in place (Fisher–Yates).
   *
   * @param items the array
   * @returns the same array
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /**
   * This generator as the `() => number` a machine takes.
   *
   * @returns a function returning uniform numbers in [0, 1)
   */
  fn(): () => number {
    return (): number => this.next();
  }
}

/**
 * An independent PRNG stream for `label` under `seed`.
 *
 * @param seed the master seed
 * @param label a stable name for the stream ("net", "member:a#0", …)
 * @returns the generator
 * @example
 * ```ts
 * const net = derivePrng(7, "net");
 * const memberA = derivePrng(7, "member:a#0");
 * ```
 */
export function derivePrng(seed: number, label: string): Prng {
  const hi = Math.floor(Math.abs(seed) / TWO_POW_32) >>> 0;
  const mix = splitmix32(hashLabel(label) ^ Math.imul(hi + 1, 0x9e3779b1));
  // Two splitmix words keep 53 bits of seed apart from the label hash.
  const lo = ((seed >>> 0) ^ mix()) >>> 0;
  return new Prng(lo + (mix() & 0x1fffff) * TWO_POW_32);
}
