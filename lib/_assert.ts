/**
 * Internal invariant checks for the engine. A failed assertion means a bug in
 * tallytrie, never bad input or a bad disk: those raise the public error
 * classes instead. The class, {@link AssertionError}, lives in the public
 * `errors.ts`, so code outside `lib/` (the simulator) can recognise it.
 *
 * @module
 */

import { AssertionError } from "./errors.ts";

export { AssertionError };

/** Throws an {@link AssertionError} unless `condition` holds. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch that must never run, such as the default of an exhaustive switch. */
export function unreachable(message: string): never {
  throw new AssertionError(`unreachable: ${message}`);
}
