// Flag parsing shared by the VOPR and campaign command lines.

/**
 * Parse `--flag` as a whole number ≥ `min`, or throw an error that says
 * what to fix.
 *
 * @param flag the flag's name, without dashes
 * @param text its value as given
 * @param min the least value allowed
 * @returns the number
 */
export function wholeNumberFlag(
  flag: string,
  text: string,
  min: number,
): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new RangeError(
      `Invalid --${flag}: ${
        JSON.stringify(text)
      } must be a whole number ≥ ${min}`,
    );
  }
  return n;
}
