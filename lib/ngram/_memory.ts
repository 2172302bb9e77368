/**
 * The n-gram store's memory budget: one `memoryBudget` for the whole store,
 * split over its parts (each shard's tallytrie store and the vocabulary's),
 * each opened with its part as `openStore`'s `memoryBudget`; and the parts'
 * memory summed for `stats()`.
 *
 * **The split.** The vocabulary takes a sixteenth of the total (at least the
 * engine's minimum, 4096 bytes), the shards share the rest equally, and the
 * bytes the division leaves go to the vocabulary: the parts add up to the
 * total, and none is below 4096 (a smaller total is a `RangeError` naming
 * the smallest one, {@link memoryBudgetMin}). A sixteenth, because the
 * vocabulary's trie holds one key per word while the shards hold the
 * n-grams, many times more (the bench's 1.75M bigrams have 50,000 words),
 * and its trie is read only at open and written only with new words: what
 * it leaves of its part unused is little. Equal shares, because routing by
 * the first token's hash spreads the n-grams over the shards; a shard that
 * gets more (the one of "the") evicts more.
 *
 * **Imports wait for checkpoints.** The engine starts a checkpoint early
 * when writes take a trie past its part of the budget (1.5 times it before
 * the writers' bound of `lib/engine/_budget.ts`), but in the background,
 * where it keeps to a tenth of the time while writers are busy: an import,
 * which writes as fast as it reads, runs ahead of it. And a strict store's
 * write reaches its trie only when it is next read, after the engine
 * looked: the vocabulary, written in few large commits, stayed at 16 times
 * its part. So after each commit of an import, a part whose trie's nodes
 * and slab cache take more than its budget ({@link holdFactor}) is
 * checkpointed, and the import waits ({@link BudgetHold}): after each round
 * of commits every part is within its part, so the store within its budget
 * (unless readers held paths the checkpoint would have evicted:
 * {@link BudgetHold}). In `tests/ngram_memory_budget_test.ts` (14,923
 * n-grams into 4 shards, 128 KiB, chunks of 256) the largest sum of live
 * nodes seen after a round was 0.82 budgets; with the holds at 1.5 times
 * the part (nodes alone) 1.28, without holds 2.9, with no budget 7.0. At
 * 1.5, a 100M-key import under 1 GiB took the tries to 1.17 GiB, and the
 * process past 1.5 GiB resident (BENCHMARKS.md).
 *
 * The budget bounds the tries' nodes only, as `openStore`'s does: the
 * vocabulary's words (held in memory whole, `_byte_table.ts`) and an
 * import's chunk are apart from it.
 *
 * @module
 */

import type { MemoryStats, Store } from "../../mod.ts";
import { assert } from "./_assert.ts";

/** The smallest `memoryBudget` the engine takes for one store (`openStore` refuses less). */
export const partBudgetMin = 4096;
/** The vocabulary's share of the budget: one part in this many (see the module notes). */
const vocabularyShareDivisor = 16;
/** Halvings {@link memoryBudgetMin}'s search takes at most (its range is below 2^53). */
const searchStepsMax = 64;

/** A total budget's parts: the vocabulary's and each shard's (bytes). */
export interface BudgetParts {
  /** The vocabulary store's `memoryBudget`. */
  vocabulary: number;
  /** Each shard store's `memoryBudget`. */
  shard: number;
}

/** The parts of `total` over `shards` shards (see the module notes), undefined if one is too small. */
function split(total: number, shards: number): BudgetParts | undefined {
  const vocabularyShare = Math.max(partBudgetMin, Math.floor(total / vocabularyShareDivisor));
  const shard = Math.floor((total - vocabularyShare) / shards);
  if (shard < partBudgetMin) return undefined;
  const vocabulary = total - shard * shards;
  assert(vocabulary >= vocabularyShare, "the division's rest goes to the vocabulary");
  return { vocabulary, shard };
}

/**
 * The smallest `memoryBudget` an n-gram store of `shards` shards takes: the
 * vocabulary and every shard get at least 4096 bytes of it. That is
 * 4096 × (shards + 1) up to 15 shards, a little more past them (the
 * vocabulary takes a sixteenth of the total).
 *
 * @param shards The number of shards (1 to 1,024).
 * @returns The smallest total budget in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryBudgetMin } from "./mod.ts";
 * assert.equal(memoryBudgetMin(8), 9 * 4096);
 * ```
 */
export function memoryBudgetMin(shards: number): number {
  assert(Number.isSafeInteger(shards) && shards >= 1, "a store has at least one shard");
  // A part only grows with the total (the vocabulary's share grows slower), so search.
  let low = 0; // too small
  let high = 2 * partBudgetMin * (shards + 1); // enough: the vocabulary takes at most half
  assert(split(high, shards) !== undefined, "the search starts from a total that is enough");
  for (let step = 0; high - low > 1; step++) {
    assert(step < searchStepsMax, "the search halves its range each step");
    const middle = Math.floor((low + high) / 2);
    if (split(middle, shards) === undefined) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * The parts of the `memoryBudget` option `total` for a store of `shards`
 * shards; undefined for no budget.
 *
 * @throws {RangeError} if `total` is not an integer of at least {@link memoryBudgetMin}.
 */
export function budgetParts(total: number | undefined, shards: number): BudgetParts | undefined {
  if (total === undefined) return undefined;
  const parts = Number.isSafeInteger(total) ? split(total, shards) : undefined;
  if (parts === undefined) {
    const min = memoryBudgetMin(shards);
    throw new RangeError(
      `Cannot open the n-gram store: memoryBudget must be an integer of at least ${min} bytes ` +
        `for ${shards} shard${shards === 1 ? "" : "s"} (the vocabulary and each shard take ` +
        `at least ${partBudgetMin}), got ${total}; give a larger budget`,
    );
  }
  assert(parts.vocabulary + parts.shard * shards === total, "the parts add up to the total");
  return parts;
}

/** The memory of the n-gram store's tries, as its `stats()` reports it. */
export interface NgramMemoryStats {
  /** The `memoryBudget` (of the whole store, or of one part), or null for none. */
  budget: number | null;
  /** Bytes of the nodes in use. */
  liveBytes: number;
  /** Bytes of freed nodes, kept for reuse. */
  freeBytes: number;
  /** Bytes of the buffers the nodes live in (pages never touched take no RAM). */
  bufferBytes: number;
  /** Subtrees the budget evicted since open (each loads again when read). */
  evictions: number;
  /** Bytes of nodes those evictions freed. */
  evictedBytes: number;
  /** Bytes of image slabs cached for loads (the budget counts them). */
  cacheBytes: number;
  /** Records loaded since open because an operation needed them (see `MemoryStats.faults`). */
  faults: number;
  /** Records read to answer reads without loading them (see `MemoryStats.readThrough`). */
  readThrough: number;
}

/** The fields of {@link NgramMemoryStats} one store's `stats().memory` gives. */
export function memoryOf(memory: MemoryStats): NgramMemoryStats {
  const { budget, liveBytes, freeBytes, bufferBytes, evictions, evictedBytes } = memory;
  const { cacheBytes, faults, readThrough } = memory;
  return {
    budget,
    liveBytes,
    freeBytes,
    bufferBytes,
    evictions,
    evictedBytes,
    cacheBytes,
    faults,
    readThrough,
  };
}

/** The sum of `parts`; its budget is null when no part has one. */
export function sumMemory(parts: readonly NgramMemoryStats[]): NgramMemoryStats {
  const sum: NgramMemoryStats = {
    budget: null,
    liveBytes: 0,
    freeBytes: 0,
    bufferBytes: 0,
    evictions: 0,
    evictedBytes: 0,
    cacheBytes: 0,
    faults: 0,
    readThrough: 0,
  };
  for (const part of parts) {
    if (part.budget !== null) sum.budget = (sum.budget ?? 0) + part.budget;
    sum.liveBytes += part.liveBytes;
    sum.freeBytes += part.freeBytes;
    sum.bufferBytes += part.bufferBytes;
    sum.evictions += part.evictions;
    sum.evictedBytes += part.evictedBytes;
    sum.cacheBytes += part.cacheBytes;
    sum.faults += part.faults;
    sum.readThrough += part.readThrough;
  }
  return sum;
}

/**
 * A part whose trie's nodes and slab cache take more than this many times
 * its budget after an import's commit is checkpointed before the import
 * goes on (see the module notes).
 */
export const holdFactor = 1;
/**
 * After a hold, the next one waits until the trie grew by this many budgets
 * more: a trie the checkpoint could not shrink (a reader pinned its paths)
 * does not checkpoint after every commit.
 */
const holdGrowthMin = 0.5;

/** Keeps an import's writes to one store near the store's budget (see the module notes). */
export class BudgetHold {
  readonly #store: Store;
  /** The store's `memoryBudget`; undefined: none, and no hold ever. */
  readonly #budget: number | undefined;
  /** The store's live and cached bytes after the last hold. */
  #heldAt = 0;

  constructor(store: Store, budget: number | undefined) {
    this.#store = store;
    this.#budget = budget;
  }

  /**
   * Checkpoints the store and waits, if its trie's nodes and slab cache
   * take more than {@link holdFactor} times its budget (and, if the last
   * hold could not bring them under it, grew by {@link holdGrowthMin}
   * budgets since). Without a budget it does nothing, not even read the
   * store's stats (which apply a strict store's waiting groups).
   */
  async hold(): Promise<void> {
    const budget = this.#budget;
    if (budget === undefined) return;
    const memory = this.#store.stats().memory;
    assert(memory.budget === budget, "the store runs with the budget this hold keeps to");
    // The slab cache is in the budget: the trie's nodes get what it leaves.
    const used = memory.liveBytes + memory.cacheBytes;
    // A checkpoint that could not bring the part under its bound (readers pinned paths) is not
    // made again until the part grew.
    if (used <= holdFactor * budget) {
      this.#heldAt = used; // back within the budget: the next hold comes at the budget again
      return;
    }
    if (this.#heldAt > holdFactor * budget && used <= this.#heldAt + holdGrowthMin * budget) return;
    await this.#store.checkpoint(); // a foreground one: a background one runs first at full pace
    const after = this.#store.stats().memory;
    this.#heldAt = after.liveBytes + after.cacheBytes;
  }
}
