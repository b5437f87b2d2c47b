/**
 * The few error classes users catch. Bad options throw `TypeError` or
 * `RangeError`; network input never throws at the user.
 *
 * @module
 */

/** Joining failed: no seed completed a push-pull. */
export class JoinError extends Error {
  /** One line per seed that failed. */
  readonly errors: readonly string[];

  /**
   * Make a join error.
   *
   * @param message what failed
   * @param errors one line per failed seed
   */
  constructor(message: string, errors: readonly string[] = []) {
    super(message);
    this.name = "JoinError";
    this.errors = errors;
  }
}

/** The member was shut down; the call cannot run. */
export class ClosedError extends Error {
  /**
   * Make a closed error.
   *
   * @param message what could not run
   */
  constructor(message: string) {
    super(message);
    this.name = "ClosedError";
  }
}
