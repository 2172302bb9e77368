/**
 * Waiting, in tests, for the background warm-up of an `"auto"` open to end
 * (`stats().warmUp.state` leaves `"running"`).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../mod.ts";

/** Event-loop turns a test waits for a warm-up at most. */
const turnsMax = 100_000;

/** Resolves once `store`'s warm-up is no longer running; returns the turns it waited. */
export async function warmedUp(store: Store): Promise<number> {
  for (let turn = 0; turn < turnsMax; turn++) {
    if (store.stats().warmUp.state !== "running") return turn;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.fail(`the warm-up still runs after ${turnsMax} turns`);
}
