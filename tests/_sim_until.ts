/**
 * Driving a simulated disk from a test: its I/O completes only when the
 * test steps the scheduler, so a test awaits a call through {@link until}.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Scheduler } from "../sim/mod.ts";

/**
 * Completes I/O one operation at a time until `promise` settles; returns its
 * value. Fails if the call waits for no I/O (it would hang), or after
 * `completionsMax` completions.
 */
export async function until<T>(
  scheduler: Scheduler,
  promise: Promise<T>,
  completionsMax: number,
): Promise<T> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let step = 0; step < completionsMax; step++) {
    await scheduler.settle();
    if (settled) return await promise;
    assert.ok(scheduler.pending > 0, "the awaited call waits for no I/O: it hangs");
    scheduler.step();
  }
  throw new Error(`the awaited call did not settle within ${completionsMax} completions`);
}
