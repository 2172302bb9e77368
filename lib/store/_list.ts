/**
 * The iterator `Store.list` returns: entries read in batches, each batch in
 * one synchronous walk of the trie (so one state of the store), handed out
 * one `next()` at a time.
 *
 * Written by hand rather than as an async generator: a generator's `yield`
 * costs a suspension and several promise jobs per entry, which measured as
 * more than the walk itself. Here `next()` returns an already resolved
 * promise while the batch lasts; only a stub met by the walk makes a
 * `next()` wait (for the load). Calls made before an earlier one settled
 * are answered in call order, and after an error or `return()` every
 * `next()` reports done, as a generator's would.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { keyBytesMax } from "../limits.ts";
import { type CollectedEntry, NodeNotLoaded } from "../art/art.ts";

/** What the iterator reads from: the store's trie and loader. */
export interface ListSource {
  /** Throws if the store may no longer be read (closed). */
  checkOpen(): void;
  /** Appends up to `limit` entries of `[start, end)` to `into` in one walk; may throw {@link NodeNotLoaded}. */
  read(
    start: Uint8Array,
    end: Uint8Array | undefined,
    reverse: boolean,
    limit: number,
    into: CollectedEntry[],
  ): number;
  /**
   * Loads what a walk met from cached slabs; returns what releases it to
   * eviction (called once the walk read it again), or undefined if that
   * needs a read.
   */
  loadCached(unloaded: NodeNotLoaded): (() => void) | undefined;
  /**
   * Loads what a walk met (and some of what lies after it); resolves to
   * what releases it to eviction, called once the walk read it again.
   */
  load(unloaded: NodeNotLoaded): Promise<() => void>;
}

/** Entries read per batch: bounds the work done without yielding to the event loop. */
export const listBatchSize = 256;
/**
 * Subtree loads one batch needs at most. What a batch loads stays until it
 * is read (`#held`), and each load installs the stub the walk met, so each
 * node its walk passes loads once: the nodes on the path to where it starts
 * (a key's depth) and those holding its entries (a node with one child
 * holds an entry: fewer than two per entry).
 */
const listBatchLoadsMax = 2 * listBatchSize + keyBytesMax + 4;

const done: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/** The entries of one `list` call; see the module notes. */
export class EntryIterator implements AsyncIterableIterator<CollectedEntry> {
  readonly #source: ListSource;
  #start: Uint8Array;
  #end: Uint8Array | undefined;
  readonly #reverse: boolean;
  /** Entries the limit still allows. */
  #remaining: number;
  #batch: CollectedEntry[] = [];
  #at = 0;
  /** No batch is left to read: the last one came back short, or the limit is reached. */
  #exhausted = false;
  /** Finished: every later `next()` reports done. */
  #finished = false;
  /** A load under way: later `next()` calls wait for it (settled either way). */
  #waiting: Promise<void> | undefined;
  /** Loads since the last batch was read. */
  #loads = 0;
  /**
   * What releases the subtrees loaded for the batch being read: none may be
   * evicted until the batch is read whole (a batch's walk can span several
   * subtrees that a memory budget does not hold at once).
   */
  #held: (() => void)[] = [];

  constructor(
    source: ListSource,
    start: Uint8Array,
    end: Uint8Array | undefined,
    limit: number,
    reverse: boolean,
  ) {
    assert(limit >= 1, "a list returns at least one entry if any");
    this.#source = source;
    this.#start = start;
    this.#end = end;
    this.#remaining = limit;
    this.#reverse = reverse;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next entry, or done. */
  next(): Promise<IteratorResult<CollectedEntry>> {
    if (this.#waiting !== undefined) return this.#waiting.then(() => this.next());
    // Each pass hands out an entry, ends, reads a batch, or installs at least
    // one node from a cached slab (bounded by the loads' bound).
    for (let pass = 0; pass <= listBatchLoadsMax + 2; pass++) {
      if (this.#at < this.#batch.length) {
        return Promise.resolve({ value: this.#batch[this.#at++], done: false });
      }
      if (this.#finished || this.#exhausted) return this.#finish();
      let unloaded: NodeNotLoaded | undefined;
      try {
        unloaded = this.#readBatch();
      } catch (error) {
        this.#finish();
        return Promise.reject(error);
      }
      if (unloaded !== undefined && !this.#loadCached(unloaded)) {
        return this.#loadThenNext(unloaded);
      }
    }
    return unreachable("a list's passes are bounded by its loads");
  }

  /** Ends the iteration early (a `break` out of `for await`). */
  return(): Promise<IteratorResult<CollectedEntry>> {
    return this.#finish();
  }

  #finish(): Promise<IteratorReturnResult<undefined>> {
    this.#release();
    this.#finished = true;
    this.#batch = [];
    this.#at = 0;
    return Promise.resolve(done);
  }

  /** Reads the next batch; returns the stub the walk met (nothing read) instead. */
  #readBatch(): NodeNotLoaded | undefined {
    this.#source.checkOpen();
    const batch: CollectedEntry[] = [];
    const want = Math.min(listBatchSize, this.#remaining);
    try {
      this.#source.read(this.#start, this.#end, this.#reverse, want, batch);
    } catch (error) {
      if (!(error instanceof NodeNotLoaded)) throw error;
      return error;
    }
    this.#release();
    this.#loads = 0;
    this.#batch = batch;
    this.#at = 0;
    this.#remaining -= batch.length;
    assert(this.#remaining >= 0, "read past the limit");
    if (batch.length < want || this.#remaining === 0) {
      this.#exhausted = true;
      return undefined;
    }
    // Seek on from the last key, so writes between batches never invalidate the walk.
    const last = batch[batch.length - 1].key;
    if (this.#reverse) this.#end = last;
    else this.#start = successor(last);
    return undefined;
  }

  /** Lets the subtrees loaded for the batch just read go (see {@link EntryIterator.#held}). */
  #release(): void {
    for (const release of this.#held.splice(0)) release();
  }

  /** Loads what the walk met from cached slabs; false if a read is needed. */
  #loadCached(unloaded: NodeNotLoaded): boolean {
    assert(++this.#loads <= listBatchLoadsMax, "a batch's loads are bounded: they stay loaded");
    let release;
    try {
      release = this.#source.loadCached(unloaded);
    } catch {
      return false; // a record that fails its checks: the read path reports it
    }
    if (release === undefined) return false;
    this.#held.push(release);
    return true;
  }

  /**
   * Loads what the walk met, then answers this call with a fresh `next()`;
   * calls made meanwhile queue behind the load and are answered after it,
   * in order (a failed load fails this call and finishes the iteration).
   */
  #loadThenNext(unloaded: NodeNotLoaded): Promise<IteratorResult<CollectedEntry>> {
    // Each batch is read in one synchronous walk, so it is one state:
    // load what the walk met and read the batch again.
    assert(++this.#loads <= listBatchLoadsMax, "a batch's loads are bounded: they stay loaded");
    const loading = this.#source.load(unloaded);
    const settled = loading.then(
      () => void (this.#waiting = undefined),
      () => {
        this.#waiting = undefined;
        this.#finish();
      },
    );
    this.#waiting = settled;
    return loading.then((release) => {
      this.#held.push(release);
      return this.next();
    });
  }
}

/** The smallest key greater than `key`: `key` followed by a zero byte. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}
