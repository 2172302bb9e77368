/**
 * `Store.scan`: visits the entries of a range with a callback, in passes of
 * one synchronous walk each, where `list` hands out one object and one
 * promise per entry. A continuation query that reads thousands of entries
 * (the n-gram store's `next`) pays tens of nanoseconds an entry instead of
 * hundreds.
 *
 * A pass ends at {@link scanPassEntriesMax} entries, at a node not loaded
 * yet, or after a visit that wrote to the store (a relaxed store applies a
 * write at once, under the walk); the next pass starts after the last key
 * visited, so each pass is one state of the store and writes between passes
 * may or may not be seen (as between `list`'s batches).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { keyBytesMax } from "../limits.ts";
import { type EntryVisitor, NodeNotLoaded, TrieChangedDuringVisit } from "../art/art.ts";

/** What a scan reads from: the engine's trie and loader. */
export interface ScanSource {
  /** Throws if the store may no longer be read (closed). */
  checkOpen(): void;
  /** Visits up to `limit` entries of `[start, end)` in one walk; may throw {@link NodeNotLoaded}. */
  visit(
    start: Uint8Array,
    end: Uint8Array | undefined,
    reverse: boolean,
    limit: number,
    visit: EntryVisitor,
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

/** Entries one pass visits at most, between two checks that the store is still open. */
export const scanPassEntriesMax = 1 << 16;
/**
 * Loads a scan makes at most between two passes that visit an entry. What
 * they load stays until one does (`held`), and each load installs the stub
 * the walk met, so each node on the walk loads once: the path to where the
 * scan goes on and the path from there to the next entry, a key's depth each.
 */
const scanStallLoadsMax = 2 * (keyBytesMax + 2);

/** The last key a scan visited, copied into a buffer it reuses. */
class LastKey {
  #bytes = new Uint8Array(64);
  length = -1;

  set(key: Uint8Array): void {
    const length = key.length;
    if (length > this.#bytes.length) this.#bytes = new Uint8Array(length * 2);
    const bytes = this.#bytes;
    // A loop, not `set`: keys are short, and this runs once per entry visited.
    for (let i = 0; i < length; i++) bytes[i] = key[i];
    this.length = length;
  }

  /** The key, copied. */
  copy(): Uint8Array {
    return this.#bytes.slice(0, this.length);
  }

  /** The smallest key after it: the key and a zero byte. */
  successor(): Uint8Array {
    const next = new Uint8Array(this.length + 1);
    next.set(this.#bytes.subarray(0, this.length));
    return next;
  }
}

/** Visits up to `limit` entries of `[start, end)`; returns how many (see the module notes). */
export async function scanEntries(
  source: ScanSource,
  range: { start: Uint8Array; end: Uint8Array | undefined; reverse: boolean },
  limit: number,
  visit: EntryVisitor,
): Promise<number> {
  /**
   * What releases the subtrees loaded since the last pass that visited an
   * entry: none may go before one does (the seek to where the scan goes on
   * and the next entries may lie in different subtrees that a memory budget
   * does not hold at once).
   */
  const held: (() => void)[] = [];
  try {
    return await scanPasses(source, range, limit, visit, held);
  } finally {
    for (const release of held) release();
  }
}

/** The passes of {@link scanEntries}; `held` gets what releases each subtree loaded. */
async function scanPasses(
  source: ScanSource,
  range: { start: Uint8Array; end: Uint8Array | undefined; reverse: boolean },
  limit: number,
  visit: EntryVisitor,
  held: (() => void)[],
): Promise<number> {
  let { start, end } = range;
  const last = new LastKey();
  let visited = 0;
  let stopped = false;
  const each: EntryVisitor = (key, value) => {
    last.set(key);
    visited++;
    if (visit(key, value) === false) stopped = true;
    return !stopped;
  };
  // Bounded: every pass visits an entry, ends, or loads (scanStallLoadsMax in a row at most).
  for (let loads = 0;;) {
    source.checkOpen();
    const before = visited;
    const want = Math.min(scanPassEntriesMax, limit - visited);
    let unloaded: NodeNotLoaded | undefined;
    let changed = false;
    try {
      source.visit(start, end, range.reverse, want, each);
    } catch (error) {
      if (error instanceof TrieChangedDuringVisit) changed = true;
      else if (error instanceof NodeNotLoaded) unloaded = error;
      else throw error;
    }
    if (visited > before) {
      for (const release of held.splice(0)) release();
      loads = 0;
    }
    assert(visited <= limit, "scanned past the limit");
    assert(!changed || visited > before, "a write from a visit ends a pass after that visit");
    if (stopped || visited === limit) return visited;
    if (unloaded === undefined && !changed && visited - before < want) return visited;
    if (visited > before) {
      if (range.reverse) end = last.copy();
      else start = last.successor();
    }
    if (unloaded !== undefined) {
      assert(
        ++loads <= scanStallLoadsMax,
        "a scan's loads between visits are bounded: they stay loaded",
      );
      held.push(source.loadCached(unloaded) ?? await source.load(unloaded));
    }
  }
}
