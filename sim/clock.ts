/**
 * The simulator's clock: time moves only when the simulation says so.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { Clock } from "../lib/storage/block_storage.ts";

/** The latest time the clock may reach, in milliseconds (about 285 years). */
const simTimeMsMax = 2 ** 53 / 1000;

/**
 * A {@link Clock} that starts at 0 and advances only through
 * {@link SimClock.advance} (the `Scheduler` advances it by each I/O
 * completion's latency).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimClock } from "./clock.ts";
 * const clock = new SimClock();
 * assert.ok(clock.now() === 0);
 * clock.advance(1.5);
 * assert.ok(clock.now() === 1.5);
 * ```
 */
export class SimClock implements Clock {
  #nowMs = 0;

  /**
   * The simulated time.
   *
   * @returns Milliseconds since the simulation started.
   */
  now(): number {
    return this.#nowMs;
  }

  /**
   * Moves time forward.
   *
   * @param ms A finite, non-negative number of milliseconds.
   */
  advance(ms: number): void {
    assert(Number.isFinite(ms) && ms >= 0, "the clock only advances by a non-negative time");
    this.#nowMs += ms;
    assert(this.#nowMs <= simTimeMsMax, "the simulated clock ran past its limit");
  }
}
