/**
 * The single typed error thrown by every decoder in `src/codec` on malformed network input.
 *
 * Network input never throws at the user (ARCHITECTURE principle 9): the driver and the core catch
 * `DecodeError`, count it by `reason` and drop the input. Anything else escaping a decoder is our bug.
 *
 * @example
 * ```ts
 * try {
 *   decodeSomething(bytes);
 * } catch (err) {
 *   if (err instanceof DecodeError) console.log(err.reason); // "truncated", "crc", "lzw", ...
 *   else throw err;
 * }
 * ```
 *
 * @module
 */

/** Malformed, truncated, oversized or unauthenticated input; `reason` is a short machine-readable tag. */
export class DecodeError extends Error {
  /** Short machine-readable reason such as "truncated", "crc", "lzw", "too-large" or "decrypt". */
  readonly reason: string;

  /**
   * Create a decode error.
   *
   * @param reason Short machine-readable reason ("truncated", "crc", "lzw", "too-large", ...).
   * @param message Human-readable detail, capitalized, no final period.
   */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "DecodeError";
    this.reason = reason;
  }
}
