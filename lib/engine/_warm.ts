/**
 * The background warm-up of an `"auto"` open: `Engine.open` returns once
 * the image's root and the WAL tail are in; this loads the rest of the
 * trie afterwards, in slices that yield to reads and writes, while reads
 * fault in what they need as in a lazy open. It exists so that a reopen
 * takes milliseconds at any size and a store still ends up as fast as one
 * loaded whole (no stub left: the batch fast path and the value ceiling
 * work again), or, under a `memoryBudget`, holds what the budget allows.
 *
 * How: without a budget, every live slab is read into the slab cache first
 * when they all fit it (`ImageFile.cacheAll`: a few large reads); then each
 * step takes the next stub of a first-in first-out queue (the root's
 * children first: the top of the trie serves every key) and builds the
 * subtree below it from cached slabs at once (`Art.loadSubtreeAtOnce`, the
 * bulk load of a whole open, up to {@link recordsPerStep} records); the
 * stubs it leaves join the queue. A stub whose record is not cached loads
 * through the loader (`Loader.load`: its slab is read and cached, the read
 * shared with the reads that wait for it, its subtree kept from
 * evictions).
 *
 * What it promises: it changes no content, only representation (a stub
 * becomes the subtree its record holds; an edit that replaced the stub, or
 * an eviction above it, makes the step a no-op); every record it installs
 * passed its checksum and the trie's value ceiling; it yields after each
 * step (a microtask with a clock that cannot pause, else after
 * {@link sliceMs} of work), and while writers are busy it takes at most
 * {@link warmDutyMax} of the time; under a budget it stops at the low-water
 * mark of the trie's part (`Budget.warmRoom`), so it never sets off an
 * eviction of its own, or at the first eviction (reads took the room);
 * close stops it after the step under way; a record that cannot be read
 * stays a stub (the reads through it report the problem, as after a lazy
 * open); an arena that cannot grow or a trie that failed applying writes
 * ends it quietly; anything else (a bug) ends it and close throws it,
 * never an unhandled rejection.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Art, StubRef } from "../art/art.ts";
import { CorruptionError, MemoryLimitError, StorageIoError } from "../errors.ts";
import type { ImageFile } from "../image/image_file.ts";
import type { Clock } from "../storage/block_storage.ts";
import type { Loader } from "./_loader.ts";
import { QuotaSource } from "./_quota_source.ts";

/** Milliseconds of loading between pauses for other work (as a checkpoint's walk). */
export const sliceMs = 1;
/** Records one step builds at most from cached slabs (about half a millisecond). */
export const recordsPerStep = 2048;
/** Records a read or write that meets a stub during the warm-up loads below each stub of its path. */
export const assistRecords = 256;
/** What a record takes in the trie, about (94 bytes for the compare's n-grams), to spend the budget's room. */
const recordBytesEstimate = 128;
/** Walks of the trie for stubs the queue missed (an eviction or a compaction moved them). */
const walksMax = 8;
/** Stubs one walk of the trie queues at most. */
const stubsPerWalk = 1_000_000;
/** While writers are busy, the share of the time the warm-up takes at most. */
export const warmDutyMax = 0.5;
/** The longest sleep between two slices while writers are busy. */
const throttleSleepMsMax = 20;

/** Where a warm-up is: see {@link WarmUpStats.state}. */
export type WarmUpState = "off" | "running" | "done" | "full" | "stopped" | "failed";

/** What `stats().warmUp` reports. */
export interface WarmUpStats {
  /**
   * `"off"`: none ran (the open was `"eager"` or `"lazy"`, or left nothing
   * on disk); `"running"`; `"done"`: nothing is left on disk but records
   * that could not be read; `"full"`: it stopped at the memory budget;
   * `"stopped"`: close stopped it, the trie's memory could not grow, or
   * applying logged writes failed; `"failed"`: an engine bug ended it
   * (close throws it).
   */
  state: WarmUpState;
  /** Records it loaded. */
  nodesLoaded: number;
  /** Milliseconds from its start to its end (or until now, while it runs). */
  ms: number;
}

/** What a {@link WarmUp} works with. */
export interface WarmUpParts {
  trie: Art;
  loader: Loader;
  /** The image now (a compaction replaces it). */
  image: () => ImageFile;
  clock: Clock;
  /** Bytes it may still load (`Budget.warmRoom`; infinite without a budget). */
  room: () => number;
  /** Subtrees the budget evicted so far: once one goes, the budget is spent (it stops). */
  evictions: () => number;
  /** A count that changes with every write accepted (writers are busy while it moves). */
  writes: () => number;
  /** False once applying logged writes to the trie failed: no one reads it again, so it stops. */
  healthy: () => boolean;
}

/** The background load of one engine's trie (see the module notes). */
export class WarmUp {
  readonly #parts: WarmUpParts;
  readonly #source = new QuotaSource();
  /** Addresses whose records could not be read or are damaged: they stay stubs. */
  readonly #failed = new Set<number>();
  /** Stubs to load, first in first out; those before {@link WarmUp.#head} are taken. */
  readonly #queue: StubRef[] = [];
  #head = 0;
  /** Whether a memory budget bounds it (set at start). */
  #budgeted = false;
  #stopping = false;
  #running: Promise<void> | undefined;
  #failure: unknown;
  #began = 0;
  readonly #stats: WarmUpStats = { state: "off", nodesLoaded: 0, ms: 0 };

  constructor(parts: WarmUpParts) {
    this.#parts = parts;
  }

  /** Its state now (see {@link WarmUpStats}). */
  get stats(): WarmUpStats {
    const ms = this.#stats.state === "running"
      ? this.#parts.clock.now() - this.#began
      : this.#stats.ms;
    return { ...this.#stats, ms };
  }

  /** What ended it, when an engine bug did (close throws it). */
  get failure(): unknown {
    return this.#failure;
  }

  /** Starts it in the background (once, after the open's replay). */
  start(): void {
    assert(this.#running === undefined && this.#stats.state === "off", "a warm-up starts once");
    const clock = this.#parts.clock;
    this.#began = clock.now();
    this.#budgeted = this.#parts.room() !== Number.POSITIVE_INFINITY;
    this.#stats.state = "running";
    this.#running = this.#run().then(
      (state) => {
        this.#stats.state = state;
      },
      (error) => {
        this.#failure = error;
        this.#stats.state = "failed";
      },
    ).finally(() => {
      this.#stats.ms = clock.now() - this.#began;
    });
  }

  /** Stops it; resolves once the step under way ended (it may be reading the image). */
  stop(): Promise<void> {
    this.#stopping = true;
    return this.#running ?? Promise.resolve();
  }

  /** Resolves once it ended, whichever way (tests wait for it). */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #run(): Promise<WarmUpState> {
    const { trie, image, room } = this.#parts;
    const budgeted = this.#budgeted;
    // Nothing before open has returned and its caller's first reads are under way.
    const clock = this.#parts.clock;
    await (clock.pause === undefined ? Promise.resolve() : clock.pause());
    if (!budgeted && trie.unloaded > 0 && !this.#stopping) {
      // Room for the whole trie (no copy per doubling), in the background: a large
      // allocation can set off a garbage collection, which open must not wait for.
      trie.reserveWhole();
      // Every slab at once when they fit the cache: a few large reads.
      await image().cacheAll();
    }
    const queue = this.#queue;
    let walks = 0;
    const pacer = new Pacer(this.#parts.clock, this.#parts.writes);
    const evictions = this.#parts.evictions();
    // Each step consumes a queued stub; each stub queued came from a walk or an install.
    const stepsMax = (walksMax + 1) * (2 * trie.size + 2) * 2 + stubsPerWalk * walksMax;
    for (let steps = 0; !this.#stopping && this.#parts.healthy(); steps++) {
      assert(steps <= stepsMax, "the warm-up ends in a bounded number of steps");
      // Past an eviction it would load back what the budget let go: the budget is spent.
      if (room() < recordBytesEstimate || this.#parts.evictions() !== evictions) return "full";
      if (this.#head === queue.length) {
        if (trie.unloaded === 0 || walks === walksMax) break;
        walks++;
        queue.length = this.#head = 0;
        for (const stub of trie.stubs(stubsPerWalk)) {
          if (!this.#failed.has(stub.address)) queue.push(stub);
        }
        if (queue.length === 0) break;
        continue;
      }
      const stub = queue[this.#head++];
      if (this.#head >= stubsPerWalk) {
        queue.splice(0, this.#head); // the queue's taken part goes
        this.#head = 0;
      }
      const ended = await this.#step(stub);
      if (ended !== undefined) return ended;
      await pacer.pace();
    }
    if (this.#stopping || !this.#parts.healthy()) return "stopped";
    // Loaded whole, no load needs the slabs: the memory goes back (as after a whole open).
    if (!budgeted && trie.unloaded === 0) image().dropCache();
    return "done";
  }

  /**
   * Loads `stub` and what lies below it in cached slabs, or reads its slab
   * when its record is not cached; queues the stubs left. Returns the state
   * to end in, when it must end.
   */
  async #step(stub: StubRef): Promise<WarmUpState | undefined> {
    const room = this.#parts.room();
    const quota = Math.max(1, Math.min(recordsPerStep, Math.floor(room / recordBytesEstimate)));
    const built = this.#build(stub, quota, true);
    if (built === "stopped") return "stopped";
    // Not cached, or damaged below (the loader then finds the record, and the rest loads).
    return built === "unread" ? await this.#read(stub) : undefined;
  }

  /**
   * The synchronous part of a step: `stub` and up to `quota - 1` records
   * below it from cached slabs, the stubs left queued (with `queue`).
   * `"loaded"`; `"gone"` (loaded already, evicted above, or edited);
   * `"unread"` when its record is not cached or something below it is
   * damaged; `"stopped"` when the trie's memory could not grow.
   */
  #build(stub: StubRef, quota: number, queue: boolean): "loaded" | "gone" | "unread" | "stopped" {
    const source = this.#source;
    source.image = this.#parts.image();
    source.left = quota;
    source.given = 0;
    let left: StubRef[] | null | undefined | string;
    try {
      left = this.#parts.trie.loadSubtreeAtOnce(stub.path, stub.address, source, queue);
    } catch (error) {
      if (error instanceof MemoryLimitError) return "stopped";
      throw error;
    } finally {
      source.image = undefined; // keep no image alive past a compaction
    }
    if (left === null) return "gone";
    if (left === undefined || typeof left === "string") return "unread";
    assert(source.given >= 1 && source.given <= quota, "a step loads within its quota");
    this.#stats.nodesLoaded += source.given;
    this.#parts.loader.stats.nodesLoaded += source.given;
    for (const ref of left) this.#queue.push(ref);
    // Under a budget, its round judges what was built: a wide record's stubs can take far more
    // than the room's estimate per record (simulator seed 20, hostile, 8 KiB: 5 KB for 2 records).
    if (this.#budgeted) this.#parts.loader.afterLoad();
    return "loaded";
  }

  /**
   * While it runs without a budget: loads the stubs on `key`'s path the
   * warm-up's way, each with up to {@link assistRecords} records below it
   * from cached slabs (a read or a write that meets a stub right after the
   * open: one bulk build instead of a decode per record, and the warm-up
   * moves on while the caller never yields). What it cannot load this way
   * is left to the caller's own load.
   */
  assist(key: Uint8Array): void {
    if (this.#stats.state !== "running" || this.#stopping || this.#budgeted) return;
    if (!this.#parts.healthy()) return;
    const trie = this.#parts.trie;
    // Each round loads at least one node of the path, a key byte deeper.
    for (let round = 0; round <= key.length + 1; round++) {
      const stub = trie.stubOnPath(key);
      // The stubs it leaves are not queued: a walk finds those still there once the queue is done.
      if (stub === null || this.#build(stub, assistRecords, false) !== "loaded") return;
    }
    assert(trie.stubOnPath(key) === null, "a key's path loads in key-length rounds");
  }

  /**
   * While it runs without a budget: loads `stub` and up to `records - 1`
   * records below it the warm-up's way (a list or a scan that met it: one
   * bulk build instead of a decode per record). True if it loaded `stub`.
   */
  assistSubtree(stub: StubRef, records: number): boolean {
    if (this.#stats.state !== "running" || this.#stopping || this.#budgeted) return false;
    if (!this.#parts.healthy()) return false;
    return this.#build(stub, records, false) === "loaded";
  }

  /** Loads `stub`, whose record is not cached, through the loader (its slab is read and cached). */
  async #read(stub: StubRef): Promise<WarmUpState | undefined> {
    let below: StubRef[];
    try {
      below = await this.#parts.loader.load(stub);
    } catch (error) {
      if (error instanceof MemoryLimitError) return "stopped";
      if (!(error instanceof CorruptionError || error instanceof StorageIoError)) throw error;
      this.#failed.add(stub.address); // it stays on disk: reads through it report the problem
      return undefined;
    }
    this.#stats.nodesLoaded++; // the loader counted it too
    for (const ref of below) this.#queue.push(ref);
    return undefined;
  }
}

/**
 * The pauses between steps: a microtask with a clock that cannot pause;
 * else one after every {@link sliceMs} of work, and while writes came in
 * during the last pause, sleeps that keep the warm-up's share of the time
 * within {@link warmDutyMax}.
 */
class Pacer {
  readonly #clock: Clock;
  readonly #writes: () => number;
  readonly #began: number;
  #sliceStart: number;
  #workMs = 0;
  #writesSeen: number;

  constructor(clock: Clock, writes: () => number) {
    this.#clock = clock;
    this.#writes = writes;
    this.#began = clock.now();
    this.#sliceStart = this.#began;
    this.#writesSeen = writes();
  }

  async pace(): Promise<void> {
    const clock = this.#clock;
    if (clock.pause === undefined) {
      await Promise.resolve();
      return;
    }
    const now = clock.now();
    if (now - this.#sliceStart < sliceMs) return;
    this.#workMs += now - this.#sliceStart;
    await clock.pause();
    const busy = this.#writes() !== this.#writesSeen;
    if (busy && clock.sleep !== undefined) {
      const owedMs = this.#workMs / warmDutyMax - (clock.now() - this.#began);
      assert(Number.isFinite(owedMs), "a finite debt of time");
      if (owedMs > 0) await clock.sleep(Math.min(owedMs, throttleSleepMsMax));
    }
    this.#writesSeen = this.#writes();
    this.#sliceStart = clock.now();
  }
}
