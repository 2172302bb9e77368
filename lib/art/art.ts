/**
 * The in-memory adaptive radix trie (ART) that holds tallytrie's counters:
 * byte keys in unsigned byte order mapped to non-negative integer values.
 *
 * Node4/Node16/Node48/Node256 inner nodes grow and shrink with their child
 * count; single-child paths are compressed into a node's prefix (the full
 * bytes, so a 65,535-byte key costs no extra levels); a key that is a prefix of
 * another key lives on the inner node where it ends. No operation recurses
 * over key depth.
 *
 * For checkpoints, {@link Art.capture} freezes the trie in O(1) as an
 * {@link ArtSnapshot} that writers do not wait for (copy-on-write by path
 * copying), and every node remembers its image address until an edit on its
 * path clears it, so a checkpoint writes only what changed since the last.
 *
 * @example Counting and listing
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * const key = (text: string) => new TextEncoder().encode(text);
 * art.add(key("to be"), 2);
 * art.add(key("to"), 1);
 * const keys = [...art.entries()].map(([k, v]) => `${new TextDecoder().decode(k)}=${v}`);
 * assert.deepEqual(keys, ["to=1", "to be=2"]); // a prefix sorts first
 * ```
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { walkEntries } from "./_cursor.ts";
import { NO_VALUE, tickGeneration } from "./_node.ts";
import { ArtTree, NO_SNAPSHOT } from "./_tree.ts";
import { type TreeStats, verifyTree } from "./_verify.ts";
import { FrozenSnapshot } from "./_snapshot.ts";
import type { ArtSnapshot } from "./snapshot.ts";

export type { ArtSnapshot, ArtSnapshotRange, NodeView } from "./snapshot.ts";

/** Options for {@link Art.entries}: a key range in unsigned byte order. */
export interface ArtRange {
  /** The first key to include (inclusive); default: the smallest key. */
  start?: Uint8Array;
  /** The key to stop before (exclusive); default: past the largest key. */
  end?: Uint8Array;
  /** Walk from the end of the range down to its start (default false). */
  reverse?: boolean;
}

/** Node counts by kind and the longest key, as {@link Art.verify} reports them. */
export type ArtStats = TreeStats;

/**
 * An adaptive radix trie from byte keys (0..65,535 bytes) to non-negative
 * safe-integer counters. Not thread-safe; iterators fail fast on mutation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * art.set(new Uint8Array([1, 2]), 5);
 * assert.equal(art.get(new Uint8Array([1, 2])), 5);
 * assert.equal(art.size, 1);
 * ```
 */
export class Art {
  #tree = new ArtTree();
  #size = 0;
  /** Bumped by every change; live iterators compare it after each step. */
  #version = 0;

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
    return this.#size;
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
    const node = this.#tree.find(key);
    if (node === null || node.value === NO_VALUE) return undefined;
    return node.value;
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
    const node = this.#tree.locate(key);
    if (node.value === NO_VALUE) this.#size++;
    node.value = value;
    this.#version++;
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
    const node = this.#tree.locate(key);
    const old = node.value === NO_VALUE ? 0 : node.value;
    const value = old + delta;
    assert(Number.isSafeInteger(value) && value >= 0, "counter would leave 0..MAX_SAFE_INTEGER");
    if (node.value === NO_VALUE) this.#size++;
    node.value = value;
    this.#version++;
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
    if (!this.#tree.remove(key)) return false;
    this.#size--;
    this.#version++;
    assert(this.#size >= 0, "size out of step");
    assert((this.#size === 0) === (this.#tree.root === null), "size out of step with the root");
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
    const version = this.#version;
    const check = () => {
      this.#checkVersion(version);
      return this.#tree.root;
    };
    return walkEntries(check, start, end, range.reverse === true);
  }

  /**
   * Captures the trie for a checkpoint in O(1): the snapshot keeps the state
   * of this instant while writes go on. Until it is released, an edit copies
   * the nodes on its path that the snapshot shares (path copying) instead of
   * changing them, so the trie's own results stay exactly as without it.
   *
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
  capture(): ArtSnapshot {
    const tree = this.#tree;
    assert(tree.frozenGen === NO_SNAPSHOT, "capture while a snapshot is live: release it first");
    const frozen = tickGeneration();
    tree.frozenGen = frozen;
    const release = () => {
      assert(tree.frozenGen === frozen, "released a snapshot that is not the live one");
      tree.frozenGen = NO_SNAPSHOT;
    };
    return new FrozenSnapshot({ root: tree.root, size: this.#size, release });
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
    this.#tree.root = null;
    this.#size = 0;
    this.#version++;
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
    const stats = verifyTree(this.#tree.root);
    assert(stats.keys === this.#size, `size ${this.#size} but ${stats.keys} keys in the trie`);
    return stats;
  }

  #checkSubtract(key: Uint8Array, delta: number): void {
    const node = this.#tree.find(key);
    const old = node === null || node.value === NO_VALUE ? 0 : node.value;
    assert(old + delta >= 0, "counter would leave 0..MAX_SAFE_INTEGER");
    assert(node !== null, "negative delta on an absent key");
  }

  #checkVersion(version: number): void {
    if (this.#version !== version) {
      throw new Error(
        "Cannot continue Art.entries(): the trie changed during iteration; " +
          "call entries() again starting after the last key seen",
      );
    }
  }
}
