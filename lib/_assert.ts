/**
 * Internal invariant checks for the engine. A failed assertion means a bug in
 * tallytrie, never bad input or a bad disk: those raise the public error
 * classes instead.
 *
 * @module
 */

/** Thrown when an engine invariant does not hold: always a tallytrie bug. */
export class AssertionError extends Error {
  /** Builds the error with the invariant's description. */
  constructor(message: string) {
    super(`tallytrie invariant violated: ${message}`);
    this.name = "AssertionError";
  }
}

/** Throws an {@link AssertionError} unless `condition` holds. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch that must never run, such as the default of an exhaustive switch. */
export function unreachable(message: string): never {
  throw new AssertionError(`unreachable: ${message}`);
}
