/**
 * The n-gram store's invariant checks. `lib/_assert.ts` is private to the
 * engine's layers, and this layer uses the engine only through `mod.ts`, so
 * it has its own.
 *
 * @module
 */

/** Raised when an invariant of the n-gram store does not hold: a bug. */
export class NgramAssertionError extends Error {
  /** @param message The invariant that failed. */
  constructor(message: string) {
    super(`Invariant failed: ${message}`);
    this.name = "NgramAssertionError";
  }
}

/** Throws {@link NgramAssertionError} unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new NgramAssertionError(message);
}
