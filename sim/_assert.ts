/**
 * The simulator's invariant checks. `lib/_assert.ts` is private to `lib/`,
 * so the simulator keeps this copy of its one function; a failed check
 * throws the engine's own `AssertionError` (from the public `lib/errors.ts`),
 * as before: the simulated disk stops a run on any `AssertionError` (a bug,
 * in the engine or here), and the runner reports one the engine wraps in a
 * `StorageIoError` as an engine fault.
 *
 * @module
 */

import { AssertionError } from "../lib/errors.ts";

/** Throws an `AssertionError` unless `condition` holds: a simulator (or engine) bug. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}
