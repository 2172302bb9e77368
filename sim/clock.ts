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

/**
 * Simulated milliseconds one {@link WalkClock.now} call costs when no I/O
 * completed since the previous call: the engine's checkpoint walk reads the
 * clock once per step of nodes and pauses once a millisecond (`sliceMs`)
 * has passed, so with this cost it pauses after every step.
 */
export const walkCpuMsPerCall = 1;

/** What {@link WalkClock} needs of the scheduler: its step count and its completions. */
export interface WalkScheduler {
  /** The completions made so far. */
  readonly steps: number;
  /** Queues a completion; returns its id. */
  submit(label: string, complete: () => void): number;
  /** Drops a pending completion; true if it was pending. */
  cancel(id: number): boolean;
}

/** Options of a {@link WalkClock}. */
export interface WalkClockOptions {
  /**
   * How many completions of the scheduler's one pause waits for, one after
   * the other (default 1): the longer, the more of the simulation runs in it.
   */
  turns?: () => number;
  /** Told of every pause (the run's counters). */
  onPause?: () => void;
}

/**
 * The engine's clock on the seeds whose long work yields to the simulator
 * (`RunOptions.walkPauses`). The plain {@link SimClock} gives the engine no
 * `pause`, so a checkpoint's node walk yields only a microtask between
 * steps: it always ran to its end before the next I/O completion, and no
 * write ever landed in its middle (in seeds 1..100, none of 107 yields met
 * an edit). Here, time also passes while the engine computes: a
 * {@link WalkClock.now} call with no I/O completion since the previous one
 * costs {@link walkCpuMsPerCall}; and {@link WalkClock.pause} is a
 * completion of the scheduler's, so the walk goes on only when the drawn
 * completion order reaches it, after client operations, group commits,
 * loads and evictions have run in between, as on a real machine. A power
 * loss drops the pauses pending ({@link WalkClock.abandon}), as it does the
 * disk's I/O: the walk of a crashed process never goes on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Scheduler } from "./scheduler.ts";
 * import { WalkClock } from "./clock.ts";
 * const scheduler = new Scheduler({ seed: 1 });
 * const clock = new WalkClock(scheduler.clock, scheduler);
 * const began = clock.now();
 * assert.ok(clock.now() - began >= 1); // computing without I/O takes time
 * let resumed = false;
 * const pause = clock.pause().then(() => resumed = true);
 * await scheduler.settle();
 * assert.ok(!resumed && scheduler.pending === 1);
 * await scheduler.runUntilIdle();
 * await pause;
 * assert.ok(resumed && clock.pauses === 1);
 * ```
 */
export class WalkClock implements Clock {
  readonly #base: SimClock;
  readonly #scheduler: WalkScheduler;
  /** Simulated milliseconds of computing added to the base clock so far. */
  #cpuMs = 0;
  /** The scheduler's step count at the last {@link WalkClock.now} call. */
  #stepsAtLastCall = -1;
  /** Pauses not resumed yet, by completion id. */
  readonly #pending = new Set<number>();
  #abandoned = false;
  readonly #options: WalkClockOptions;
  /** Pauses the engine asked for. */
  pauses = 0;

  /**
   * @param base The simulated clock (the scheduler's).
   * @param scheduler Where pauses wait their turn.
   * @param options How many turns a pause takes, and who is told of each.
   */
  constructor(base: SimClock, scheduler: WalkScheduler, options: WalkClockOptions = {}) {
    this.#base = base;
    this.#scheduler = scheduler;
    this.#options = options;
  }

  /** Whether a pause waits for its completion. */
  get waiting(): boolean {
    return this.#pending.size > 0;
  }

  /**
   * The simulated time plus the computing time so far.
   *
   * @returns Milliseconds; never less than an earlier call's.
   */
  now(): number {
    const steps = this.#scheduler.steps;
    if (steps === this.#stepsAtLastCall) this.#cpuMs += walkCpuMsPerCall;
    this.#stepsAtLastCall = steps;
    const now = this.#base.now() + this.#cpuMs;
    assert(now <= simTimeMsMax, "the simulated clock ran past its limit");
    return now;
  }

  /**
   * Lets the simulator run: resolves when the scheduler completes it (never,
   * after {@link WalkClock.abandon}).
   *
   * @returns A promise that resolves at the completion.
   */
  pause(): Promise<void> {
    this.pauses++;
    this.#options.onPause?.();
    const turns = this.#options.turns?.() ?? 1;
    assert(Number.isSafeInteger(turns) && turns >= 1, "a pause takes a turn at least");
    return new Promise((resolve) => this.#wait(turns, resolve));
  }

  /** Waits `turns` completions of the scheduler's, one after the other, then resolves. */
  #wait(turns: number, resolve: () => void): void {
    if (this.#abandoned) return; // a crashed process computes no more
    const id = this.#scheduler.submit("pause", () => {
      this.#pending.delete(id);
      if (turns > 1) this.#wait(turns - 1, resolve);
      else resolve();
    });
    this.#pending.add(id);
  }

  /** Drops the pending pauses and every later one: the process lost its power. */
  abandon(): void {
    this.#abandoned = true;
    for (const id of this.#pending) {
      assert(this.#scheduler.cancel(id), "a pending pause is the scheduler's");
    }
    this.#pending.clear();
  }
}
