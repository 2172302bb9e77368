/**
 * The simulator's I/O scheduler: every simulated disk operation is a pending
 * completion here, and the scheduler decides, from its seed, which one
 * completes next. That is how the simulator reorders I/O completions.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { checkOptions, type OptionTypes } from "../lib/options.ts";
import { SimClock } from "./clock.ts";
import { eventPrng, hash32, Prng } from "./prng.ts";

/** The most completions pending at once; more means the engine queues I/O without bound. */
const pendingCompletionsMax = 1 << 16;
/** The default step budget of {@link Scheduler.runUntilIdle}. */
const runStepsMaxDefault = 1_000_000;
/** The default largest latency one completion adds to the clock, in milliseconds. */
const latencyMsMaxDefault = 1;
/** Latencies are drawn in whole microseconds. */
const microsecondsPerMs = 1000;
/** The `eventPrng` stream of completion choices made within a context. */
const contextStream = 0xc0c7;

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** The seed of the completion order and latencies (default 0). */
  seed?: number;
  /** The clock each completion advances (default: a new {@link SimClock}). */
  clock?: SimClock;
  /** Complete pending operations in a drawn order (default true) or FIFO. */
  reorder?: boolean;
  /**
   * Complete each submission by itself, one step per submission in a
   * microtask, with no driver (default false). For tests that just await
   * storage calls, like the conformance suite.
   */
  autoRun?: boolean;
  /** The largest latency one completion adds to the clock (default 1 ms). */
  latencyMsMax?: number;
}

/** The keys {@link SchedulerOptions} takes, with their types (unknown keys are a TypeError). */
const schedulerOptionTypes: OptionTypes = {
  seed: "number",
  clock: "object",
  reorder: "boolean",
  autoRun: "boolean",
  latencyMsMax: "number",
};

/** One submitted, not yet completed operation. */
interface Completion {
  readonly id: number;
  readonly label: string;
  readonly complete: () => void;
}

/**
 * Waits for one message to travel through a fresh `MessageChannel`: a
 * macrotask boundary, so every microtask queued before it has run (~16 µs;
 * `setTimeout(0)` costs ~2 ms in Deno). The channel must be fresh: on a
 * long-lived channel whose receive is already pending, Deno can deliver the
 * message before the microtask queue drains. Both ports are closed after, as
 * an open port with a listener would keep the process alive.
 */
function messageRoundTrip(): Promise<void> {
  const channel = new MessageChannel();
  return new Promise<void>((resolve) => {
    channel.port1.onmessage = () => {
      channel.port1.close();
      channel.port2.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}

/**
 * Holds pending I/O completions and completes them one at a time, in an
 * order drawn from its seed (or FIFO), advancing a {@link SimClock} by a drawn
 * latency at each step.
 *
 * @example Driving two completions
 * ```ts
 * import assert from "node:assert/strict";
 * import { Scheduler } from "./scheduler.ts";
 * const scheduler = new Scheduler({ seed: 1 });
 * const done: string[] = [];
 * scheduler.submit("a", () => done.push("a"));
 * scheduler.submit("b", () => done.push("b"));
 * assert.ok(scheduler.pending === 2);
 * await scheduler.runUntilIdle(10);
 * assert.ok(done.length === 2 && scheduler.steps === 2);
 * ```
 */
export class Scheduler {
  /** The clock each completed step advances. */
  readonly clock: SimClock;
  /** Whether completions happen in a drawn order rather than FIFO. */
  readonly reorder: boolean;
  /** Whether each submission completes by itself in a microtask. */
  readonly autoRun: boolean;
  #prng: Prng;
  readonly #seed: number;
  #context: number | undefined;
  #stepsInContext = 0;
  #latencyUsMax: number;
  #pending: Completion[] = [];
  #nextId = 1;
  #steps = 0;
  #running = false;
  /** Told the label of each completion as it runs (the simulator's runner counts them). */
  onStep: ((label: string) => void) | undefined;

  /**
   * Builds an idle scheduler.
   *
   * @param options Seed, clock, order, auto-run and latency.
   */
  constructor(options: SchedulerOptions = {}) {
    checkOptions(options, schedulerOptionTypes, {
      operation: "build a Scheduler",
      object: "options",
      key: "option",
      keyPrefix: "",
    });
    const latencyMsMax = options.latencyMsMax ?? latencyMsMaxDefault;
    assert(Number.isFinite(latencyMsMax) && latencyMsMax >= 0, "latency must be non-negative");
    this.clock = options.clock ?? new SimClock();
    this.reorder = options.reorder ?? true;
    this.autoRun = options.autoRun ?? false;
    this.#seed = options.seed ?? 0;
    this.#prng = new Prng(hash32(this.#seed, 0x5c4ed));
    this.#latencyUsMax = Math.round(latencyMsMax * microsecondsPerMs);
  }

  /** The number of completions waiting. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * The event context: the id of what the driver is doing now (a workload
   * step), or undefined. With a context, completion choices and the
   * simulated disk's fault decisions are keyed by it and by a counter within
   * it instead of by one running stream, so dropping one step (shrinking)
   * leaves the decisions made for every other step unchanged.
   */
  get context(): number | undefined {
    return this.#context;
  }

  set context(context: number | undefined) {
    assert(context === undefined || Number.isSafeInteger(context), "a context is an integer id");
    this.#context = context;
    this.#stepsInContext = 0;
  }

  #stepPrng(): Prng {
    if (this.#context === undefined) return this.#prng;
    const index = this.#stepsInContext++;
    return eventPrng(this.#seed, hash32(contextStream, this.#context % 0x1_0000_0000), index);
  }

  /**
   * The labels of the pending completions, oldest first (e.g. to describe a
   * crash point).
   *
   * @returns A copy of the labels.
   */
  pendingLabels(): string[] {
    const labels = this.#pending.map((completion) => completion.label);
    assert(labels.length <= pendingCompletionsMax, "the pending queue stays bounded");
    return labels;
  }

  /** The number of completions performed so far. */
  get steps(): number {
    return this.#steps;
  }

  /**
   * Queues a completion; it runs at a later {@link Scheduler.step} (never
   * inside this call).
   *
   * @param label What the completion is, for traces and errors.
   * @param complete Performs the operation and settles its promise.
   * @returns An id for {@link Scheduler.cancel}.
   * @throws {Error} If 65,536 completions are already pending.
   */
  submit(label: string, complete: () => void): number {
    if (this.#pending.length >= pendingCompletionsMax) {
      throw new Error(
        `Cannot submit "${label}": ${pendingCompletionsMax} completions are already pending; ` +
          `the engine is queueing I/O without bound`,
      );
    }
    const id = this.#nextId++;
    this.#pending.push({ id, label, complete });
    if (this.autoRun) queueMicrotask(() => this.step());
    assert(this.#pending.length <= pendingCompletionsMax, "the pending queue must stay bounded");
    return id;
  }

  /**
   * Drops a pending completion without running it (a crash loses it).
   *
   * @param id The id {@link Scheduler.submit} returned.
   * @returns True if it was pending.
   */
  cancel(id: number): boolean {
    const index = this.#pending.findIndex((completion) => completion.id === id);
    if (index < 0) return false;
    this.#pending.splice(index, 1);
    assert(this.#pending.every((completion) => completion.id !== id), "cancel must remove it");
    return true;
  }

  /**
   * Completes one pending completion, drawn (or the oldest, without
   * reordering), after advancing the clock by a drawn latency.
   *
   * @returns The completed label, or undefined if nothing was pending.
   */
  step(): string | undefined {
    const count = this.#pending.length;
    if (count === 0) return undefined;
    const random = this.#stepPrng();
    const index = this.reorder ? random.below(count) : 0;
    const [completion] = this.#pending.splice(index, 1);
    assert(this.#pending.length === count - 1, "a step must complete exactly one completion");
    this.#steps++;
    this.clock.advance(random.below(this.#latencyUsMax + 1) / microsecondsPerMs);
    completion.complete();
    this.onStep?.(completion.label);
    return completion.label;
  }

  /**
   * Yields to the event loop once (a `MessageChannel` round trip), so every
   * microtask chained on earlier completions runs and submits what it will.
   */
  settle(): Promise<void> {
    return messageRoundTrip();
  }

  /**
   * Settles and steps until nothing is pending.
   *
   * @param stepsMax The most steps to take (default 1,000,000).
   * @returns The number of steps taken.
   * @throws {Error} If completions are still pending after `stepsMax` steps.
   */
  async runUntilIdle(stepsMax: number = runStepsMaxDefault): Promise<number> {
    assert(Number.isSafeInteger(stepsMax) && stepsMax >= 0, "stepsMax must be a count");
    assert(!this.#running, "runUntilIdle must not run twice at once");
    this.#running = true;
    try {
      for (let taken = 0; taken <= stepsMax; taken++) {
        await this.settle();
        if (this.#pending.length === 0) return taken;
        if (taken === stepsMax) break;
        this.step();
      }
    } finally {
      this.#running = false;
    }
    throw new Error(
      `Cannot run the scheduler until idle: ${this.#pending.length} completions still pending ` +
        `after ${stepsMax} steps (next: "${this.#pending[0]?.label}"); ` +
        `the engine may be looping on I/O, or raise stepsMax`,
    );
  }
}
