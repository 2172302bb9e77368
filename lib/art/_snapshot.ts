/**
 * The implementation of {@link ArtSnapshot} (the public interface and its
 * documentation are in `snapshot.ts`), made only by `Art.capture`.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { walkEntries } from "./_cursor.ts";
import {
  type NodeView,
  type WalkPosition,
  walkUnwritten,
  type WalkYield,
  writeUnwritten,
  writeUnwrittenSteps,
} from "./_image_walk.ts";
import type { Arena } from "./_arena.ts";
import { addressOf, noAddress, noValue, valueOf } from "./_node.ts";
import { findNode } from "./_tree.ts";
import { type TreeStats, verifyTree } from "./_verify.ts";
import type { ArtSnapshot, ArtSnapshotRange } from "./snapshot.ts";

/** What a snapshot is made from. */
export interface FrozenTrie {
  /** Where its nodes live. */
  a: Arena;
  /** The root at capture time (0: empty). */
  root: number;
  /** The number of keys at capture time. */
  size: number;
  /** An upper bound on every value at capture time (the trie's `valueCeiling` then). */
  valueCeiling: number;
  /** Ends copy-on-write in the trie; called once. */
  release: () => void;
  /** `writeChangedSteps` rewrites every node, not only the changed ones. */
  rewriteAll: boolean;
  /** Where `writeChangedSteps` stands while it runs (evictions beside it read it). */
  walk: WalkPosition;
}

/** A captured root: immutable while live, since the trie copies what it shares. */
export class FrozenSnapshot implements ArtSnapshot {
  readonly #a: Arena;
  #root: number;
  #size: number;
  readonly #valueCeiling: number;
  readonly #rewriteAll: boolean;
  readonly #walk: WalkPosition;
  #release: (() => void) | null;

  constructor(frozen: FrozenTrie) {
    assert(frozen.size >= 0, "negative snapshot size");
    assert((frozen.size === 0) === (frozen.root === 0), "snapshot size disagrees with root");
    this.#a = frozen.a;
    this.#root = frozen.root;
    this.#size = frozen.size;
    assert(frozen.valueCeiling >= 0, "a value ceiling is never negative");
    this.#valueCeiling = frozen.valueCeiling;
    this.#rewriteAll = frozen.rewriteAll;
    this.#walk = frozen.walk;
    this.#release = frozen.release;
  }

  get size(): number {
    return this.#size;
  }

  get valueCeiling(): number {
    return this.#valueCeiling;
  }

  get live(): boolean {
    return this.#release !== null;
  }

  get(key: Uint8Array): number | undefined {
    const node = findNode(this.#a, this.#checkLive(), key);
    const value = node === 0 ? noValue : valueOf(this.#a, node);
    return value === noValue ? undefined : value;
  }

  entries(range: ArtSnapshotRange = {}): Generator<[key: Uint8Array, value: number]> {
    // Copies: the caller may reuse its bound buffers while the walk is live.
    const start = range.start?.slice();
    const end = range.end?.slice();
    const check = () => ({ a: this.#a, root: this.#checkLive() });
    return walkEntries(check, start, end, range.reverse === true);
  }

  writeChanged(visit: (node: NodeView, previous: number, root: boolean) => number): number {
    return writeUnwritten(this.#a, this.#checkLive(), this.#size, visit);
  }

  *writeChangedSteps(
    visit: (node: NodeView, previous: number, root: boolean) => number,
    nodesPerStep: number,
    inlineLeafPrefixMax = -1,
  ): Generator<WalkYield, number, number | undefined> {
    const root = this.#checkLive();
    const all = this.#rewriteAll;
    const steps = writeUnwrittenSteps(
      this.#a,
      root,
      this.#size,
      visit,
      nodesPerStep,
      all,
      inlineLeafPrefixMax,
      this.#walk,
    );
    for (let result = steps.next();;) {
      if (result.done === true) return result.value;
      const sent = yield result.value; // a stub's copy, sent back (see `_image_walk.ts`)
      this.#checkLive();
      result = steps.next(sent);
    }
  }

  changedNodeCount(): number {
    let count = 0;
    walkUnwritten(this.#a, this.#checkLive(), this.#size, () => count++);
    assert(count <= 2 * this.#size, "more changed nodes than a trie of this size has");
    return count;
  }

  rootAddress(): number {
    const root = this.#checkLive();
    return root === 0 ? noAddress : addressOf(this.#a, root);
  }

  verify(): TreeStats {
    const stats = verifyTree(this.#a, this.#checkLive());
    assert(stats.keys === this.#size, `snapshot of ${this.#size} keys holds ${stats.keys}`);
    return stats;
  }

  release(): void {
    const release = this.#release;
    if (release === null) return;
    this.#release = null;
    this.#root = 0;
    release();
  }

  #checkLive(): number {
    if (this.#release === null) {
      throw new Error("Cannot read the trie snapshot: it was released; capture a new one");
    }
    return this.#root;
  }
}
