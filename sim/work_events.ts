/**
 * The events that may make room for a memory budget, as the simulator sees
 * them (`bound-work`, see `memory_bound.ts`): the calls it makes into the
 * store and their settling, the I/O completions it performs, the records
 * the store reports loaded (`stats().image.nodesLoaded`, the loader's count,
 * which the budget does not keep) and the compactions it sees start at the
 * storage layer (the creation of `image.tt.compacting`). The budget's own
 * counts (`WriteCounters.budgetWork.asked`, `handEvents`) are what a bug in
 * it would get wrong along with its rounds (an `enforce()` counts itself as
 * asked; the hand counts its own wake-ups), so the judge leans on these
 * instead.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/** What the runner saw in one interval between two samples. */
export interface WorkEvents {
  /** I/O completions it performed (a checkpoint ends after its commit's). */
  completions: number;
  /** Of those, reads of the image or a compaction's file (each settles a load, which asks). */
  imageReads: number;
  /** Records the store loaded (`stats().image.nodesLoaded` grew by this). */
  loads: number;
  /** Calls it made into the store (ops, lists, scans, checkpoints, syncs, verifies, closes). */
  calls: number;
  /** Of its calls, those that settled. */
  settled: number;
  /**
   * Its lists and scans in flight at most: each may go on after an await
   * and meet a stub, pin its subtree and let it go again without a load.
   */
  inFlight: number;
  /**
   * Writes queued for a load in flight at most: each lets the paths it
   * pinned go once applied, before it settles.
   */
  queued: number;
  /**
   * The keys the store may have held pinned in the interval: those of its
   * point calls in flight, and of its writes no read, checkpoint or verify
   * began after (their groups may not be applied yet).
   */
  pinnedKeys: string[];
  /** Whether a compaction's file was open at the interval's start or end, or created in it. */
  compacting: boolean;
  /** Compactions whose file's creation completed in the interval. */
  compactionsBegun: number;
}

/** What a call into the store is, for {@link WorkWatch.call}. */
export interface CallShape {
  /** A list or a scan: it pins subtrees, not keys. */
  walk?: boolean;
  /** The keys it pins while in flight (a point read's, a write's). */
  keys?: readonly string[];
  /** A write: its keys stay pending until a call that applies them. */
  write?: boolean;
  /** A read, a checkpoint or a verify: it applies every write settled before it. */
  applies?: boolean;
}

/**
 * Counts {@link WorkEvents} between samples: the runner reports its calls
 * ({@link WorkWatch.call}), its completions ({@link WorkWatch.completed})
 * and, at each sample, the store's loads; {@link WorkWatch.take} hands the
 * interval's counts over and starts the next.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkWatch } from "./work_events.ts";
 * const watch = new WorkWatch();
 * let finish = () => {};
 * const call = watch.call(new Promise<void>((resolve) => finish = resolve), { walk: true });
 * watch.call(Promise.resolve(), { keys: ["a"], write: true });
 * watch.completed("read image.tt@0+512");
 * const first = watch.take(3, false);
 * assert.deepEqual(first, {
 *   completions: 1, imageReads: 1, loads: 0, calls: 2, settled: 0, inFlight: 1, queued: 0,
 *   pinnedKeys: ["a"], compacting: false, compactionsBegun: 0,
 * });
 * finish();
 * await call;
 * const second = watch.take(5, false);
 * assert.equal(second.settled, 2);
 * assert.equal(second.loads, 2);
 * assert.deepEqual(second.pinnedKeys, ["a"]); // no read since: maybe not applied
 * watch.call(Promise.resolve(), { keys: ["b"], applies: true });
 * assert.deepEqual(watch.take(5, false).pinnedKeys, ["b"]);
 * ```
 */
export class WorkWatch {
  #completions = 0;
  #imageReads = 0;
  #calls = 0;
  #settled = 0;
  #inFlight = 0;
  #inFlightMax = 0;
  #queued = 0;
  #queuedMax = 0;
  /** Bumped by {@link WorkWatch.restart}: calls of a store before count no more. */
  #generation = 0;
  /** The keys of the point calls in flight, by call. */
  readonly #pinning = new Map<number, readonly string[]>();
  #nextCall = 0;
  /** Keys pinned at some time since the last sample. */
  readonly #pinnedSeen = new Set<string>();
  /** Writes no applying call began after, and whether each settled. */
  #unapplied: { keys: readonly string[]; settled: boolean }[] = [];
  /** `nodesLoaded` at the last sample (undefined: none yet for this store). */
  #loaded: number | undefined;
  /** Compactions whose file's creation completed since the last sample. */
  #compactionsBegun = 0;
  /** Whether the compaction's file was open at the last sample. */
  #compactingBefore = false;

  /** Counts a call into the store, in flight until `promise` settles; returns `promise`. */
  call<T>(promise: Promise<T>, shape: CallShape = {}): Promise<T> {
    this.#calls++;
    if (shape.applies === true) this.#unapplied = this.#unapplied.filter((write) => !write.settled);
    const generation = this.#generation;
    const walks = shape.walk === true ? 1 : 0;
    this.#inFlight += walks;
    this.#inFlightMax = Math.max(this.#inFlightMax, this.#inFlight);
    const id = this.#nextCall++;
    const keys = shape.keys ?? [];
    if (keys.length > 0) this.#pinning.set(id, keys);
    for (const key of keys) this.#pinnedSeen.add(key);
    const write = shape.write === true ? { keys, settled: false } : undefined;
    if (write !== undefined) this.#unapplied.push(write);
    const done = () => {
      this.#pinning.delete(id);
      if (write !== undefined) write.settled = true;
      if (generation !== this.#generation) return;
      this.#settled++;
      this.#inFlight -= walks;
      assert(this.#inFlight >= 0, "a call settles once");
    };
    promise.then(done, done);
    return promise;
  }

  /** Marks a write call as queued for a load until `promise` settles. */
  queued(promise: Promise<unknown>): void {
    const generation = this.#generation;
    this.#queued++;
    this.#queuedMax = Math.max(this.#queuedMax, this.#queued);
    const done = () => {
      if (generation !== this.#generation) return;
      this.#queued--;
      assert(this.#queued >= 0, "a queued write settles once");
    };
    promise.then(done, done);
  }

  /** Counts an I/O completion (its scheduler label). */
  completed(label: string): void {
    this.#completions++;
    if (imageRead.test(label)) this.#imageReads++;
    if (label === `open ${compactingFileName}`) this.#compactionsBegun++;
  }

  /**
   * Forgets the store sampled before (a new one opened): its loads, its
   * calls in flight and its writes are not this one's (its open replayed
   * and applied them).
   */
  restart(): void {
    this.#generation++;
    this.#loaded = undefined;
    this.#compactingBefore = false;
    this.#inFlight = 0;
    this.#queued = 0;
    this.#pinning.clear();
    this.#unapplied = [];
  }

  /**
   * The interval's events, given the store's `nodesLoaded` now and whether
   * the compaction's file is open now; starts the next interval.
   */
  take(nodesLoaded: number, compactingNow: boolean): WorkEvents {
    const loads = this.#loaded === undefined ? 0 : nodesLoaded - this.#loaded;
    assert(loads >= 0, "a store's loads only grow");
    const pinned = new Set(this.#pinnedSeen);
    for (const write of this.#unapplied) for (const key of write.keys) pinned.add(key);
    const events: WorkEvents = {
      completions: this.#completions,
      imageReads: this.#imageReads,
      loads,
      calls: this.#calls,
      settled: this.#settled,
      inFlight: this.#inFlightMax,
      queued: this.#queuedMax,
      pinnedKeys: [...pinned].sort(),
      compacting: compactingNow || this.#compactingBefore || this.#compactionsBegun > 0,
      compactionsBegun: this.#compactionsBegun,
    };
    this.#loaded = nodesLoaded;
    this.#compactingBefore = compactingNow;
    this.#completions = 0;
    this.#imageReads = 0;
    this.#calls = 0;
    this.#settled = 0;
    this.#inFlightMax = this.#inFlight;
    this.#queuedMax = this.#queued;
    this.#compactionsBegun = 0;
    this.#pinnedSeen.clear();
    for (const keys of this.#pinning.values()) for (const key of keys) this.#pinnedSeen.add(key);
    return events;
  }
}

/** A completion's label (`sim/storage.ts`) for a read of the image or a compaction's file. */
const imageRead = /^read image\.tt(\.compacting)?@/;

/** The compaction's file (`lib/image/_open.ts`), whose creation the storage layer sees. */
export const compactingFileName = "image.tt.compacting";
