/**
 * Serf's Vivaldi network coordinates (hashicorp/serf `coordinate` package:
 * client.go, coordinate.go, config.go; SPEC §8.10), rule for rule, in
 * seconds as float64 like Go.
 *
 * One update, given a peer's coordinate and an RTT sample:
 * 1. the RTT goes through a per-peer median filter of the last 3 samples;
 * 2. Vivaldi: `dist` = distance to the peer (Euclidean + heights, plus both
 *    adjustments when that stays positive), truncated to whole nanoseconds
 *    as Go's `time.Duration` does; `wrongness = |dist − rtt| / rtt`;
 *    `weight = err / (err + err_peer)`; `err ← CE·w·wrongness +
 *    err·(1 − CE·w)` capped at 1.5; the force `CC·w·(rtt − dist)` moves us
 *    along the unit vector from the peer (random when we coincide), and the
 *    height by `(h + h_peer)·force/|Δ|`, floored at HeightMin;
 * 3. adjustment = mean of the last 20 `(rtt − raw distance)` / 2;
 * 4. gravity pulls toward the origin by `−(dist_origin / 150)²`;
 * 5. a NaN or infinite result resets the coordinate (counted).
 *
 * Bounds: one latency-filter entry (3 samples) per peer; the owner calls
 * {@linkcode CoordinateClient.forgetNode} when a member is reaped.
 *
 * @module
 */

import {
  type Coordinate,
  COORDINATE_DIMENSIONS,
  initialCoordinate,
} from "../codec/coordinate.ts";

/** Serf's Vivaldi tunables (coordinate `Config`). */
export interface VivaldiConfig {
  /** Dimensions of the Euclidean part. */
  readonly dimensionality: number;
  /** Largest error (and the initial one). */
  readonly vivaldiErrorMax: number;
  /** Error-update gain (ce). */
  readonly vivaldiCe: number;
  /** Position-update gain (cc). */
  readonly vivaldiCc: number;
  /** Samples averaged into the adjustment term. */
  readonly adjustmentWindowSize: number;
  /** Smallest height, in seconds. */
  readonly heightMin: number;
  /** RTT samples in the per-peer median filter. */
  readonly latencyFilterSize: number;
  /** Gravity radius rho, in seconds. */
  readonly gravityRho: number;
}

/** coordinate.DefaultConfig(). */
export const DEFAULT_VIVALDI_CONFIG: VivaldiConfig = {
  dimensionality: COORDINATE_DIMENSIONS,
  vivaldiErrorMax: 1.5,
  vivaldiCe: 0.25,
  vivaldiCc: 0.25,
  adjustmentWindowSize: 20,
  heightMin: 10e-6,
  latencyFilterSize: 3,
  gravityRho: 150,
};

/** Updates refused by the client (serf `coordinate.Client.Update` errors). */
export const MAX_RTT_MS = 10_000;

const ZERO_THRESHOLD = 1.0e-6;

function magnitude(v: readonly number[]): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

function diff(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x - b[i]);
}

/**
 * A duration in seconds as Go holds it: truncated to whole nanoseconds,
 * then `Duration.Seconds()` (whole seconds + remainder / 1e9).
 *
 * @param seconds a float distance
 * @returns the same, at nanosecond resolution
 */
export function durationSeconds(seconds: number): number {
  const ns = Math.trunc(seconds * 1e9);
  const sec = Math.trunc(ns / 1e9);
  return sec + (ns - sec * 1e9) / 1e9;
}

// time.Duration.Seconds() of a whole number of ms: whole seconds plus the
// nanosecond remainder / 1e9, exactly as Go computes it.
function msToSeconds(ms: number): number {
  const whole = Math.trunc(ms);
  const sec = Math.trunc(whole / 1000);
  return sec + ((whole - sec * 1000) * 1e6) / 1e9;
}

/**
 * Raw distance (seconds): Euclidean distance plus both heights
 * (coordinate `rawDistanceTo`).
 *
 * @param a one coordinate
 * @param b another
 * @returns the distance in seconds
 */
export function rawDistance(a: Coordinate, b: Coordinate): number {
  return magnitude(diff(a.vec, b.vec)) + a.height + b.height;
}

/**
 * Distance (seconds) as coordinate `DistanceTo` returns it: the raw
 * distance plus both adjustments when that stays positive, truncated to
 * nanoseconds.
 *
 * @param a one coordinate
 * @param b another
 * @returns the estimated RTT in seconds
 */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  let dist = rawDistance(a, b);
  const adjusted = dist + a.adjustment + b.adjustment;
  if (adjusted > 0) dist = adjusted;
  return durationSeconds(dist);
}

/**
 * The RTT `serf rtt a b` prints, in ms: `DistanceTo(a, b).Seconds() × 1000`.
 *
 * @param a one coordinate
 * @param b another
 * @returns milliseconds (fractional)
 */
export function estimateRttMs(a: Coordinate, b: Coordinate): number {
  return distanceSeconds(a, b) * 1000;
}

/**
 * Whether every component is finite (coordinate `IsValid`).
 *
 * @param c a coordinate
 * @returns true when usable
 */
export function isValidCoordinate(c: Coordinate): boolean {
  return c.vec.every(Number.isFinite) && Number.isFinite(c.error) &&
    Number.isFinite(c.adjustment) && Number.isFinite(c.height);
}

function cloneCoordinate(c: Coordinate): Coordinate {
  return {
    vec: [...c.vec],
    error: c.error,
    adjustment: c.adjustment,
    height: c.height,
  };
}

// coordinate unitVectorAt: from b toward a, random when they coincide.
function unitVectorAt(
  a: readonly number[],
  b: readonly number[],
  prng: () => number,
): { unit: number[]; mag: number } {
  const d = diff(a, b);
  const mag = magnitude(d);
  if (mag > ZERO_THRESHOLD) return { unit: d.map((x) => x / mag), mag };
  const r = d.map(() => prng() - 0.5);
  const rmag = magnitude(r);
  if (rmag > ZERO_THRESHOLD) return { unit: r.map((x) => x / rmag), mag: 0 };
  const unit = new Array<number>(a.length).fill(0);
  unit[0] = 1;
  return { unit, mag: 0 };
}

/**
 * Move `c` by `force` away from `other` (coordinate `ApplyForce`).
 *
 * @param config Vivaldi tunables
 * @param c the coordinate to move
 * @param force signed magnitude in seconds
 * @param other the point pushing
 * @param prng randomness for coinciding points
 * @returns a new coordinate
 */
export function applyForce(
  config: VivaldiConfig,
  c: Coordinate,
  force: number,
  other: Coordinate,
  prng: () => number,
): Coordinate {
  const ret = cloneCoordinate(c);
  const { unit, mag } = unitVectorAt(c.vec, other.vec, prng);
  ret.vec = ret.vec.map((x, i) => x + unit[i] * force);
  if (mag > ZERO_THRESHOLD) {
    ret.height = (ret.height + other.height) * force / mag + ret.height;
    ret.height = Math.max(ret.height, config.heightMin);
  }
  return ret;
}

/** Why {@linkcode CoordinateClient.update} refused a sample. */
export class CoordinateRejected extends Error {
  /**
   * Create the error.
   *
   * @param message the reason, in Serf's words
   */
  constructor(message: string) {
    super(message);
    this.name = "CoordinateRejected";
  }
}

/** The local Vivaldi state (coordinate `Client`). */
export class CoordinateClient {
  readonly #config: VivaldiConfig;
  readonly #prng: () => number;
  #coord: Coordinate;
  readonly #origin: Coordinate;
  #adjustmentIndex = 0;
  readonly #adjustmentSamples: number[];
  readonly #latencySamples = new Map<string, number[]>();
  #resets = 0;

  /**
   * Start at the origin with the maximum error (coordinate `NewClient`).
   *
   * @param prng randomness (only for coinciding points)
   * @param config Vivaldi tunables (default Serf's)
   */
  constructor(
    prng: () => number,
    config: VivaldiConfig = DEFAULT_VIVALDI_CONFIG,
  ) {
    this.#config = config;
    this.#prng = prng;
    this.#coord = this.#fresh();
    this.#origin = this.#fresh();
    this.#adjustmentSamples = new Array<number>(config.adjustmentWindowSize)
      .fill(0);
  }

  /** Times the coordinate was reset after going invalid (`coordinate_resets`). */
  get resets(): number {
    return this.#resets;
  }

  /** Peers with latency samples. */
  get trackedPeers(): number {
    return this.#latencySamples.size;
  }

  /** A copy of our coordinate (serf `GetCoordinate`). */
  coordinate(): Coordinate {
    return cloneCoordinate(this.#coord);
  }

  /**
   * Replace our coordinate (serf `SetCoordinate`, used by snapshot replay).
   *
   * @param c the coordinate
   * @throws {CoordinateRejected} when incompatible or invalid
   */
  setCoordinate(c: Coordinate): void {
    this.#check(c);
    this.#coord = cloneCoordinate(c);
  }

  /**
   * Forget a peer's latency samples (serf `ForgetNode`).
   *
   * @param node peer name
   */
  forgetNode(node: string): void {
    this.#latencySamples.delete(node);
  }

  /**
   * Apply one RTT sample against a peer's coordinate (serf `Update`).
   *
   * @param node peer name
   * @param other the peer's coordinate
   * @param rttMs measured round trip in ms (0..10 000)
   * @returns our new coordinate
   * @throws {CoordinateRejected} for an incompatible or invalid coordinate,
   *   or an RTT out of range
   */
  update(node: string, other: Coordinate, rttMs: number): Coordinate {
    this.#check(other);
    if (!(rttMs >= 0 && rttMs <= MAX_RTT_MS)) {
      throw new CoordinateRejected(
        `round trip time not in valid range, duration ${rttMs}ms is not a positive value less than 10s`,
      );
    }
    const rtt = this.#latencyFilter(node, msToSeconds(rttMs));
    this.#updateVivaldi(other, rtt);
    this.#updateAdjustment(other, rtt);
    this.#updateGravity();
    if (!isValidCoordinate(this.#coord)) {
      this.#resets++;
      this.#coord = this.#fresh();
    }
    return this.coordinate();
  }

  /**
   * Estimated RTT from us to `other` in seconds (serf `DistanceTo`).
   *
   * @param other a coordinate
   * @returns seconds, at nanosecond resolution
   */
  distanceTo(other: Coordinate): number {
    return distanceSeconds(this.#coord, other);
  }

  #fresh(): Coordinate {
    const c = initialCoordinate();
    c.vec = new Array<number>(this.#config.dimensionality).fill(0);
    c.error = this.#config.vivaldiErrorMax;
    c.height = this.#config.heightMin;
    return c;
  }

  #check(c: Coordinate): void {
    if (c.vec.length !== this.#coord.vec.length) {
      throw new CoordinateRejected("dimensions aren't compatible");
    }
    if (!isValidCoordinate(c)) {
      throw new CoordinateRejected("coordinate is invalid");
    }
  }

  // client latencyFilter: the median of the last LatencyFilterSize samples.
  #latencyFilter(node: string, rttSeconds: number): number {
    const samples = this.#latencySamples.get(node) ?? [];
    samples.push(rttSeconds);
    if (samples.length > this.#config.latencyFilterSize) samples.shift();
    this.#latencySamples.set(node, samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  #updateVivaldi(other: Coordinate, rttIn: number): void {
    const c = this.#config;
    const dist = distanceSeconds(this.#coord, other);
    const rtt = Math.max(rttIn, ZERO_THRESHOLD);
    const wrongness = Math.abs(dist - rtt) / rtt;
    const totalError = Math.max(
      this.#coord.error + other.error,
      ZERO_THRESHOLD,
    );
    const weight = this.#coord.error / totalError;
    this.#coord.error = c.vivaldiCe * weight * wrongness +
      this.#coord.error * (1.0 - c.vivaldiCe * weight);
    if (this.#coord.error > c.vivaldiErrorMax) {
      this.#coord.error = c.vivaldiErrorMax;
    }
    const force = c.vivaldiCc * weight * (rtt - dist);
    this.#coord = applyForce(c, this.#coord, force, other, this.#prng);
  }

  #updateAdjustment(other: Coordinate, rtt: number): void {
    const size = this.#config.adjustmentWindowSize;
    if (size === 0) return;
    // The existing adjustments don't figure in: the raw distance is used.
    const dist = rawDistance(this.#coord, other);
    this.#adjustmentSamples[this.#adjustmentIndex] = rtt - dist;
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % size;
    let sum = 0;
    for (const s of this.#adjustmentSamples) sum += s;
    this.#coord.adjustment = sum / (2.0 * size);
  }

  #updateGravity(): void {
    const dist = distanceSeconds(this.#origin, this.#coord);
    const force = -1.0 * Math.pow(dist / this.#config.gravityRho, 2.0);
    this.#coord = applyForce(
      this.#config,
      this.#coord,
      force,
      this.#origin,
      this.#prng,
    );
  }
}
