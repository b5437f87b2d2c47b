/**
 * memberlist's scaling formulas (util.go, suspicion.go), as pure functions of
 * integer milliseconds. Each one cites the rule it reproduces.
 *
 * @module
 */

import { PUSH_PULL_SCALE_THRESHOLD } from "../config.ts";

/**
 * The minimum suspicion timeout (memberlist `suspicionTimeout`, SPEC §6.3):
 * `suspicionMult × max(1, log10(max(1, n))) × probeInterval`, where the node
 * scale is truncated to thousandths first, as memberlist does to keep
 * precision in an integer `time.Duration`.
 *
 * @param suspicionMult config `suspicionMult`
 * @param n estimated cluster size (length of the node list)
 * @param probeIntervalMs config `probeIntervalMs`
 * @returns the timeout in whole milliseconds (sub-millisecond parts dropped)
 */
export function suspicionTimeoutMs(
  suspicionMult: number,
  n: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const scaleMilli = Math.trunc(nodeScale * 1000);
  return Math.floor((suspicionMult * scaleMilli * probeIntervalMs) / 1000);
}

/**
 * Lifeguard's remaining suspicion time after `confirmations` independent
 * confirmations (memberlist `remainingSuspicionTime`, SPEC §6.3):
 * `max(min, floor_ms(max − ln(c+1)/ln(k+1)·(max − min))) − elapsed`.
 * May be ≤ 0, meaning "fire now".
 *
 * @param confirmations independent confirmations so far (c)
 * @param k confirmations expected to drive the timeout down to `minMs`
 * @param elapsedMs time since the suspicion started
 * @param minMs lower bound of the timeout
 * @param maxMs upper bound of the timeout
 * @returns milliseconds still to wait (may be negative)
 */
export function remainingSuspicionMs(
  confirmations: number,
  k: number,
  elapsedMs: number,
  minMs: number,
  maxMs: number,
): number {
  // Computed in seconds like memberlist so float rounding matches, then
  // floored to whole milliseconds (`math.Floor(1000.0*raw)`).
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs / 1000 - frac * (maxMs / 1000 - minMs / 1000);
  let timeoutMs = Math.floor(1000 * raw);
  if (timeoutMs < minMs) timeoutMs = minMs;
  return timeoutMs - elapsedMs;
}

/**
 * How many times a broadcast is sent before it is dropped (memberlist
 * `retransmitLimit`, SPEC §6.4): `retransmitMult × ceil(log10(n + 1))`.
 *
 * @param retransmitMult config `retransmitMult`
 * @param n number of known nodes
 * @returns the transmit limit
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

/**
 * The push-pull period for a cluster of `n` (memberlist `pushPullScale`,
 * SPEC §6.5): the interval itself up to 32 nodes, then
 * `interval × (ceil(log2(n) − log2(32)) + 1)` (×2 for 33..64, ×3 for 65..128).
 *
 * @param intervalMs config `pushPullIntervalMs`
 * @param n estimated cluster size
 * @returns the scaled interval in milliseconds
 */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier =
    Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}

/**
 * A uniform index in `[0, n)` from the injected PRNG (memberlist
 * `randomOffset`); 0 when `n` is 0.
 *
 * @param n exclusive upper bound
 * @param prng uniform numbers in [0, 1)
 * @returns the index
 */
export function randomOffset(n: number, prng: () => number): number {
  if (n <= 0) return 0;
  // Guard against a PRNG that returns exactly 1.
  return Math.min(n - 1, Math.floor(prng() * n));
}
