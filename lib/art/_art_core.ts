/**
 * The trie's in-memory core: the map from byte keys to counters, its walks,
 * snapshots and relocation. `art.ts` adds what ties it to an image (opening
 * from one, loading stubs, evicting); use {@link Art} from there.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type CollectedEntry,
  collectEntries,
  type EntryVisitor,
  TrieChangedDuringVisit,
  visitEntries,
  walkEntries,
} from "./_cursor.ts";
import { stubOnPath } from "./_lazy.ts";
import { Arena } from "./_arena.ts";
import { NodeNotLoaded, noValue, setValue, tickGeneration, valueOf } from "./_node.ts";
import { ArtTree, type DropHandler, noSnapshot } from "./_tree.ts";
import { type TreeStats, verifyTree } from "./_verify.ts";
import { FrozenSnapshot } from "./_snapshot.ts";
import { clearUncommittedMarks } from "./_image_walk.ts";
import type { ArtSnapshot } from "./snapshot.ts";

/** Options for {@link Art.entries}: a key range in unsigned byte order. */
export interface ArtRange {
  /** The first key to include (inclusive); default: the smallest key. */
  start?: Uint8Array;
  /** The key to stop before (exclusive); default: past the largest key. */
  end?: Uint8Array;
  /** Walk from the end of the range down to its start (default false). */
  reverse?: boolean;
}

/** The memory a trie's nodes take (its arena), as {@link Art.memory} reports it. */
export interface TrieMemory {
  /** Bytes of the buffer the nodes live in (pages never touched take no RAM). */
  bufferBytes: number;
  /** Bytes of the nodes in use. */
  liveBytes: number;
  /** Bytes of freed nodes, kept for reuse. */
  freeBytes: number;
}

/** What {@link ArtCore.relocations} counts. */
export interface TrieRelocations {
  /** Relocations made. */
  count: number;
  /** Bytes of live nodes the last one copied. */
  liveBytes: number;
  /** Bytes of freed nodes the last one gave back. */
  freeBytes: number;
}

/** Node counts by kind and the longest key, as {@link Art.verify} reports them. */
export type ArtStats = TreeStats;

/** {@link Art.lookup}: the key is absent. */
export const lookupAbsent = -1;
/** {@link Art.lookup}: a node on the key's path is not loaded yet. */
export const lookupNotLoaded = -2;

/** The in-memory core of {@link Art} (see the module notes); not used alone. */
export class ArtCore {
  /** The root and the arena of the live trie. */
  protected tree = new ArtTree(new Arena());
  /**
   * Relocations made (see {@link ArtCore.relocate}), and the live and freed
   * bytes the last one found: it copied the first and gave the second back.
   */
  readonly relocations: TrieRelocations = { count: 0, liveBytes: 0, freeBytes: 0 };
  /** The number of keys. */
  protected keyCount = 0;
  /**
   * An upper bound on every value the trie has held in memory: the largest
   * ever set, added or loaded from an image (values only fall below it).
   * It bounds the values behind stubs an eviction made too, since those
   * were in memory.
   */
  protected ceiling = 0;
  /**
   * An upper bound on the values behind the stubs the trie was opened with,
   * never loaded: what the image's header records, Infinity if it records
   * none. 0 once no stub is left (every node was then in memory, so
   * {@link ArtCore.ceiling} bounds them all), and for a trie made in memory.
   */
  protected imageCeiling = 0;
  /** Bumped by every change; live iterators compare it after each step. */
  protected version = 0;
  /** Whether the trie may hold stubs (it was opened from an image, or evicted). */
  protected lazy = false;
  /** Stubs the live trie holds: loading one replaces it by its children's. */
  protected stubCount = 0;

  /**
   * Receives every image record the live trie stops using (an edit changed
   * or removed its node), so the image can free its space.
   *
   * @param handler Called with the record's address and the shape fixing its size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const dropped: number[] = [];
   * art.onDrop((address) => dropped.push(address));
   * art.set(Uint8Array.of(1), 1);
   * const snapshot = art.capture();
   * snapshot.writeChanged(() => 64);
   * snapshot.release();
   * art.set(Uint8Array.of(1), 2); // the record at 64 no longer holds the live node
   * assert.deepEqual(dropped, [64]);
   * ```
   */
  onDrop(handler: DropHandler): void {
    this.tree.onDrop = handler;
  }

  /**
   * An upper bound on every value the trie holds, loaded or not: the
   * largest value ever stored in it or loaded into it (deletes, subtractions
   * and evictions do not lower it), and, while stubs of the image it was
   * opened from remain, the bound that image's header records (Infinity if
   * it records none). Lets a writer know an addition cannot leave the
   * safe-integer range without looking the key up (or loading it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 40);
   * art.add(Uint8Array.of(1), -30);
   * assert.equal(art.valueCeiling, 40);
   * ```
   */
  get valueCeiling(): number {
    return this.ceiling >= this.imageCeiling ? this.ceiling : this.imageCeiling;
  }

  /**
   * The memory the nodes take.
   *
   * @returns The arena's buffer size, and the bytes of live and of freed nodes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 2, 3), 1);
   * assert.ok(art.memory().liveBytes > 0);
   * art.delete(Uint8Array.of(1, 2, 3));
   * assert.equal(art.memory().liveBytes, 0);
   * ```
   */
  memory(): TrieMemory {
    const a = this.tree.a;
    return { bufferBytes: a.bufferBytes, liveBytes: a.liveWords * 4, freeBytes: a.freeWords * 4 };
  }

  /**
   * The number of keys.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.add(new Uint8Array([7]), 1);
   * art.add(new Uint8Array([7]), 1);
   * assert.equal(art.size, 1);
   * ```
   */
  get size(): number {
    return this.keyCount;
  }

  /**
   * Looks a key up.
   *
   * @param key The key bytes; not kept.
   * @returns The key's value, or `undefined` if the key is absent.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(new Uint8Array([1]), 3);
   * assert.equal(art.get(new Uint8Array([1])), 3);
   * assert.equal(art.get(new Uint8Array([1, 0])), undefined);
   * ```
   */
  get(key: Uint8Array): number | undefined {
    const tree = this.tree;
    const node = tree.find(key);
    const value = node === 0 ? noValue : valueOf(tree.a, node);
    if (value === noValue) return this.stubCount > 0 ? this.#missed(key) : undefined;
    return value;
  }

  /**
   * Looks a key up without throwing: its value, {@link lookupAbsent}, or
   * {@link lookupNotLoaded} if a stub lies on its path (load it, then
   * look again). The store's read path: an exception per cold read costs
   * more than the read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, lookupAbsent } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 3);
   * assert.equal(art.lookup(Uint8Array.of(1)), 3);
   * assert.equal(art.lookup(Uint8Array.of(2)), lookupAbsent);
   * ```
   */
  lookup(key: Uint8Array): number {
    const tree = this.tree;
    const node = tree.find(key);
    const value = node === 0 ? noValue : valueOf(tree.a, node);
    if (value !== noValue) return value;
    if (this.stubCount > 0 && stubOnPath(tree.a, tree.root, key) !== null) return lookupNotLoaded;
    return lookupAbsent;
  }

  /** A lookup in a lazy trie missed: absent, or behind a stub (then it throws). */
  #missed(key: Uint8Array): undefined {
    const stub = stubOnPath(this.tree.a, this.tree.root, key);
    if (stub !== null) throw NodeNotLoaded.signal(stub.path, stub.address);
    return undefined;
  }

  /**
   * Inserts a key or overwrites its value.
   *
   * @param key The key bytes (0..65,535 of them); copied, not kept.
   * @param value A non-negative safe integer (validated by the caller).
   * @throws {AssertionError} If `value` or the key length is out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(new Uint8Array([9]), 1);
   * art.set(new Uint8Array([9]), 4);
   * assert.equal(art.get(new Uint8Array([9])), 4);
   * assert.equal(art.size, 1);
   * ```
   */
  set(key: Uint8Array, value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, "value is not a non-negative safe integer");
    const tree = this.tree;
    const node = tree.locate(key);
    if (valueOf(tree.a, node) === noValue) this.keyCount++;
    setValue(tree.a, node, value);
    if (value > this.ceiling) this.ceiling = value;
    this.version++;
  }

  /**
   * Adds `delta` to a key's value, inserting the key (as 0 + `delta`) if absent.
   *
   * @param key The key bytes (0..65,535 of them); copied, not kept.
   * @param delta A safe integer; the caller has checked the result stays in range.
   * @returns The new value.
   * @throws {AssertionError} If the new value would be negative or not a safe integer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const key = new Uint8Array([4, 2]);
   * assert.equal(art.add(key, 5), 5);
   * assert.equal(art.add(key, -2), 3);
   * ```
   */
  add(key: Uint8Array, delta: number): number {
    assert(Number.isSafeInteger(delta), "delta is not a safe integer");
    // A negative delta never inserts (0 + delta < 0), so it must not create nodes
    // (nor copy or dirty any): check with a read-only descent before the editing one.
    if (delta < 0) this.#checkSubtract(key, delta);
    const tree = this.tree;
    const node = tree.locate(key);
    const found = valueOf(tree.a, node);
    const value = (found === noValue ? 0 : found) + delta;
    assert(Number.isSafeInteger(value) && value >= 0, "counter would leave 0..MAX_SAFE_INTEGER");
    if (found === noValue) this.keyCount++;
    setValue(tree.a, node, value);
    if (value > this.ceiling) this.ceiling = value;
    this.version++;
    return value;
  }

  /**
   * Removes a key. Nodes shrink (Node256 → 48 → 16 → 4) and a Node4 left with
   * one child merges back into its child's prefix.
   *
   * @param key The key bytes; not kept.
   * @returns `true` if the key existed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(new Uint8Array([1]), 1);
   * assert.equal(art.delete(new Uint8Array([1])), true);
   * assert.equal(art.delete(new Uint8Array([1])), false);
   * assert.equal(art.size, 0);
   * ```
   */
  delete(key: Uint8Array): boolean {
    if (!this.tree.remove(key)) return false;
    this.keyCount--;
    this.version++;
    assert(this.keyCount >= 0, "size out of step");
    assert((this.keyCount === 0) === (this.tree.root === 0), "size out of step with the root");
    return true;
  }

  /**
   * Lists entries in unsigned byte order (or reversed) within a range. Starting
   * at `start` (or, reversed, at `end`) is a seek: O(key length), no scan.
   *
   * Any change to the trie while the generator is live makes its next `next()`
   * throw; to continue after a change, call `entries` again from the last key.
   *
   * @param range The optional bounds and direction.
   * @returns A generator of `[key, value]`. Every key is a fresh copy the
   * caller may keep: short keys are views into 4 KiB blocks that are never
   * written again (allocating one `Uint8Array` per key would cost more than the
   * walk itself), so a kept key keeps its block alive; `slice()` it to hold
   * just its own bytes.
   * @throws {Error} From `next()`, if the trie changed since `entries` was called.
   *
   * @example Ranges and reverse order
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * for (const byte of [1, 2, 3, 4]) art.set(new Uint8Array([byte]), byte * 10);
   * const start = new Uint8Array([2]);
   * const end = new Uint8Array([4]);
   * const forward = [...art.entries({ start, end })].map(([, value]) => value);
   * const backward = [...art.entries({ start, end, reverse: true })].map(([, value]) => value);
   * assert.deepEqual(forward, [20, 30]);
   * assert.deepEqual(backward, [30, 20]);
   * ```
   */
  entries(range: ArtRange = {}): Generator<[key: Uint8Array, value: number]> {
    // Copies: the caller may reuse its bound buffers while the walk is live.
    const start = range.start?.slice();
    const end = range.end?.slice();
    const version = this.version;
    const check = () => {
      this.#checkVersion(version);
      return { a: this.tree.a, root: this.tree.root };
    };
    return walkEntries(check, start, end, range.reverse === true);
  }

  /**
   * Reads up to `limit` entries of a range in one synchronous walk, appending
   * `{ key, value }` objects to `into`: what {@link Art.entries} yields, without
   * a generator step and a tuple per entry (a scan's hot loop). Keys are
   * views the caller may keep, as with `entries`.
   *
   * @param range The optional bounds and direction.
   * @param limit The most entries to read (at least 1).
   * @param into Where to append them.
   * @returns How many it appended.
   * @throws {NodeNotLoaded} If the walk reached a stub (`into` may hold some
   * entries already): load it and read again.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, type CollectedEntry } from "./art.ts";
   * const art = new Art();
   * for (const byte of [1, 2, 3]) art.set(Uint8Array.of(byte), byte * 10);
   * const into: CollectedEntry[] = [];
   * assert.equal(art.readRange({ start: Uint8Array.of(2) }, 10, into), 2);
   * assert.deepEqual(into.map((entry) => entry.value), [20, 30]);
   * ```
   */
  readRange(range: ArtRange, limit: number, into: CollectedEntry[]): number {
    assert(Number.isSafeInteger(limit) && limit >= 1, "read at least one entry");
    const before = into.length;
    const count = collectEntries(
      this.tree.a,
      this.tree.root,
      range.start,
      range.end,
      range.reverse === true,
      limit,
      into,
    );
    assert(into.length === before + count, "every entry read was appended");
    return count;
  }

  /**
   * Calls `visit` for up to `limit` entries of a range in one synchronous
   * walk: the key is a view valid only during the call, so nothing is
   * allocated per entry but that view. A visit that returns `false` ends the
   * walk. Returns how many entries were visited.
   *
   * @throws {NodeNotLoaded} If the walk reached a stub, after visiting the
   * entries before it: load it and walk on from after the last key visited.
   * @throws {TrieChangedDuringVisit} If a visit changed the trie: walk on
   * from after the key that visit was given.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * for (const byte of [1, 2, 3]) art.set(Uint8Array.of(byte), byte * 10);
   * let sum = 0;
   * assert.equal(art.visitRange({ start: Uint8Array.of(2) }, 10, (_key, value) => void (sum += value)), 2);
   * assert.equal(sum, 50);
   * ```
   */
  visitRange(range: ArtRange, limit: number, visit: EntryVisitor): number {
    assert(Number.isSafeInteger(limit) && limit >= 1, "visit at least one entry");
    const version = this.version;
    // A visit that writes (a relaxed store applies at once) moves the walk's ground: stop there.
    const guarded: EntryVisitor = (key, value) => {
      const go = visit(key, value);
      if (go !== false && this.version !== version) throw new TrieChangedDuringVisit();
      return go;
    };
    return visitEntries(
      this.tree.a,
      this.tree.root,
      range.start,
      range.end,
      range.reverse === true,
      limit,
      guarded,
    );
  }

  /**
   * Whether reads (`get`, `lookup`) mark the nodes they pass referenced: a
   * memory budget turns it on, and its evictions give such nodes a second
   * chance (`Art.evictCold`). Off by default: an unbudgeted read writes
   * nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.markReads = true;
   * art.set(Uint8Array.of(1), 1);
   * assert.equal(art.get(Uint8Array.of(1)), 1); // and its path is marked
   * assert.ok(art.markReads);
   * ```
   */
  get markReads(): boolean {
    return this.tree.markReads;
  }

  set markReads(on: boolean) {
    this.tree.markReads = on;
  }

  /** The budget's admission epoch (see `_read_through.ts`); 0 without a budget. */
  get admitEpoch(): number {
    return this.tree.admitEpoch;
  }

  set admitEpoch(epoch: number) {
    assert(Number.isSafeInteger(epoch) && epoch >= this.tree.admitEpoch, "epochs only advance");
    this.tree.admitEpoch = epoch;
  }

  /**
   * Whether a snapshot is live (nothing can be evicted until it is released).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const snapshot = art.capture();
   * assert.ok(art.captured);
   * snapshot.release();
   * assert.ok(!art.captured);
   * ```
   */
  get captured(): boolean {
    return this.tree.frozenGen !== noSnapshot;
  }

  /**
   * Whether the live snapshot is a compaction's (captured with
   * `rewriteAll`): its walk frees, as it moves on, what it stood on.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const snapshot = art.capture({ rewriteAll: true });
   * assert.ok(art.compacting);
   * snapshot.release();
   * assert.ok(!art.compacting && !art.captured);
   * ```
   */
  get compacting(): boolean {
    return this.tree.frozenGen !== noSnapshot && this.tree.rewriting;
  }

  /**
   * Captures the trie for a checkpoint in O(1): the snapshot keeps the state
   * of this instant while writes go on. Until it is released, an edit copies
   * the nodes on its path that the snapshot shares (path copying) instead of
   * changing them, so the trie's own results stay exactly as without it.
   *
   * @param options `rewriteAll`: the snapshot's `writeChangedSteps` writes
   * every node again, not only the changed ones (a compaction: a stub asks
   * its driver to copy the subtree it stands for, see `_image_walk.ts`).
   * @returns The snapshot; release it when the checkpoint is done.
   * @throws {AssertionError} If a snapshot of this trie is still live.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.add(Uint8Array.of(1), 1);
   * const snapshot = art.capture();
   * art.add(Uint8Array.of(1), 1);
   * assert.equal(snapshot.get(Uint8Array.of(1)), 1);
   * assert.equal(art.get(Uint8Array.of(1)), 2);
   * snapshot.release();
   * ```
   */
  capture(options: { rewriteAll?: boolean } = {}): ArtSnapshot {
    const tree = this.tree;
    assert(tree.frozenGen === noSnapshot, "capture while a snapshot is live: release it first");
    assert(!tree.imageFailed, "a trie a checkpoint failed on is not captured again: reopen");
    const rewriteAll = options.rewriteAll === true;
    const frozen = tickGeneration();
    tree.frozenGen = frozen;
    tree.rewriting = rewriteAll;
    tree.frozenRoot = tree.root;
    const arena = tree.a;
    tree.frozenArena = arena;
    const root = tree.root;
    const size = this.keyCount;
    const release = () => {
      // The marks of the addresses an incremental walk gave: committed now; or never, and then
      // they stay (`Art.checkpointFailed`).
      if (!rewriteAll && !tree.imageFailed) clearUncommittedMarks(arena, root, size);
      tree.releaseSnapshot(frozen, arena);
    };
    return new FrozenSnapshot({
      a: arena,
      root,
      size,
      valueCeiling: this.valueCeiling,
      release,
      rewriteAll,
      walk: tree.walk,
    });
  }

  /**
   * Moves the nodes into a fresh arena in walk order (`_relocate.ts`): the
   * leaves of a node lie together again, and freed words go back.
   *
   * @returns false, changing nothing, while a snapshot is live.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * for (let i = 0; i < 1000; i++) art.set(Uint8Array.of(i >> 8, i & 255), i);
   * for (let i = 0; i < 900; i++) art.delete(Uint8Array.of(i >> 8, i & 255));
   * const before = art.memory().bufferBytes;
   * assert.equal(art.relocate(), true);
   * assert.ok(art.memory().bufferBytes < before);
   * assert.equal(art.get(Uint8Array.of(3, 231)), 999);
   * ```
   */
  relocate(): boolean {
    const a = this.tree.a;
    const liveBytes = a.liveWords * 4;
    const freeBytes = a.freeWords * 4;
    if (!this.tree.relocate()) return false;
    this.version++;
    const relocations = this.relocations;
    relocations.count++;
    relocations.liveBytes = liveBytes;
    relocations.freeBytes = freeBytes;
    return true;
  }

  /**
   * Removes every key.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(new Uint8Array([1]), 1);
   * art.clear();
   * assert.equal(art.size, 0);
   * assert.equal(art.get(new Uint8Array([1])), undefined);
   * ```
   */
  clear(): void {
    // A fresh arena: a live snapshot keeps the old one, the garbage collector takes it after.
    this.tree.a = new Arena();
    this.tree.root = 0;
    this.keyCount = 0;
    this.stubCount = 0;
    this.ceiling = 0;
    this.imageCeiling = 0;
    this.version++;
  }

  /**
   * Checks every structural invariant of the trie (node fill bounds, sorted
   * child keys, path compression, the key count). O(nodes): meant for tests
   * and on-request consistency checks.
   *
   * @returns Node counts by kind and the longest key's length.
   * @throws {AssertionError} If an invariant does not hold (a tallytrie bug).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(new Uint8Array([1, 2, 3]), 1);
   * assert.equal(art.verify().leaves, 1);
   * ```
   */
  verify(): ArtStats {
    const stats = verifyTree(this.tree.a, this.tree.root, this.lazy);
    assert(stats.stubs === this.stubCount, `${this.stubCount} stubs counted, ${stats.stubs} found`);
    assert(
      stats.stubs > 0 ? stats.keys <= this.keyCount : stats.keys === this.keyCount,
      `size ${this.keyCount} but ${stats.keys} keys in the trie`,
    );
    assert(
      stats.valueMax <= this.ceiling,
      `a value ${stats.valueMax} in memory above the ceiling ${this.ceiling}`,
    );
    assert(stats.stubs > 0 || this.imageCeiling === 0, "no stub left, but an image ceiling");
    return stats;
  }

  #checkSubtract(key: Uint8Array, delta: number): void {
    const node = this.tree.find(key);
    const found = node === 0 ? noValue : valueOf(this.tree.a, node);
    assert(
      (found === noValue ? 0 : found) + delta >= 0,
      "counter would leave 0..MAX_SAFE_INTEGER",
    );
    assert(node !== 0, "negative delta on an absent key");
  }

  #checkVersion(version: number): void {
    if (this.version !== version) {
      throw new Error(
        "Cannot continue Art.entries(): the trie changed during iteration; " +
          "call entries() again starting after the last key seen",
      );
    }
  }
}
