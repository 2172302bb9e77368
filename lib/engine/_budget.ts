/**
 * The memory budget (`memoryBudget`): after each checkpoint, while the
 * trie's live nodes take more than the budget, clean subtrees turn back
 * into stubs (`Art.evict`) and later reads load them again from the image.
 *
 * A subtree can go only when the image holds it unchanged (the checkpoint
 * that just ended wrote every changed path), no key of a write not yet
 * applied lies under it (`Groups.pendingIds`), and no operation pinned a
 * key under it (`_pins.ts`); and nothing goes while a record read is in
 * flight (see {@link Budget.enforce}). Which subtrees go: a clock hand walks the key
 * space and takes the next clean subtrees after where it stopped, so every
 * part of the trie goes in turn. It knows nothing of which keys are read
 * most (issue 17 asks for an access-aware policy).
 *
 * Once nodes went, a trie whose freed words exceed its live ones is
 * relocated into a smaller arena (`Art.relocate`): the memory goes back.
 * Writes that take the live nodes well past the budget start a checkpoint
 * early ({@link Budget.checkpointDue}), so that what they wrote can go.
 *
 * @module
 */

import type { Art } from "../art/art.ts";
import { MemoryLimitError } from "../errors.ts";
import type { Groups } from "./_groups.ts";
import type { Loader } from "./_loader.ts";
import { holdsUnder, type Pins } from "./_pins.ts";

/**
 * Live nodes past this many budgets start a checkpoint early (when automatic
 * checkpoints are on): nodes written since the last one cannot be evicted
 * until a checkpoint writes them.
 */
const budgetCheckpointFactor = 1.5;
/** Evictions stop once the live nodes take this share of the budget. */
const budgetLowWater = 0.75;
/** Clean subtrees the hand takes per walk of the trie. */
const candidatesPerRound = 256;
/** Walks of the trie one enforcement makes at most. */
const roundsMax = 1024;

/** What the budget did, for `stats().memory`. */
export interface BudgetStats {
  /** Subtrees evicted since open. */
  evictions: number;
  /** Bytes of nodes they freed. */
  evictedBytes: number;
}

/** Keeps one trie within a memory budget (see the module notes). */
export class Budget {
  readonly #bytes: number | undefined;
  readonly #trie: Art;
  readonly #groups: Groups;
  readonly #pins: Pins;
  readonly #loader: Loader;
  /** Where the clock hand stopped: the next walk passes over the keys before it. */
  #hand: Uint8Array | undefined;
  readonly stats: BudgetStats = { evictions: 0, evictedBytes: 0 };

  constructor(
    bytes: number | undefined,
    parts: { trie: Art; groups: Groups; pins: Pins; loader: Loader },
  ) {
    this.#bytes = bytes;
    this.#trie = parts.trie;
    this.#groups = parts.groups;
    this.#pins = parts.pins;
    this.#loader = parts.loader;
  }

  /** Whether the live nodes are far enough past the budget to start a checkpoint early. */
  get checkpointDue(): boolean {
    const budget = this.#bytes;
    return budget !== undefined &&
      this.#trie.memory().liveBytes > budget * budgetCheckpointFactor;
  }

  /** The budget in bytes, or undefined for none. */
  get bytes(): number | undefined {
    return this.#bytes;
  }

  /**
   * Evicts clean subtrees until the live nodes are back under the budget (or
   * none is left to take); called when a checkpoint ended, no snapshot live.
   */
  enforce(): void {
    const budget = this.#bytes;
    if (budget === undefined || this.#trie.memory().liveBytes <= budget) return;
    // A read in flight installs by path and address: were its stub evicted and
    // its record's space reused for another record at the same address, it
    // would install old content in the new stub. So none may be in flight.
    if (this.#loader.busy) return;
    const pinned: string[] = [];
    // A trie whose apply failed is read by no one again; long keys pinned: take nothing.
    if (this.#groups.trieFailure !== undefined || !this.#groups.pendingIds(pinned)) return;
    if (!this.#pins.ids(pinned)) return;
    pinned.sort();
    let live = this.#trie.memory().liveBytes;
    for (
      let round = 0, wrapped = false;
      round < roundsMax && live > budget * budgetLowWater;
      round++
    ) {
      const candidates = this.#trie.evictable(candidatesPerRound, this.#hand);
      if (candidates.length === 0) {
        if (wrapped || this.#hand === undefined) break;
        this.#hand = undefined; // past the last key: around to the first
        wrapped = true;
        continue;
      }
      for (const { path } of candidates) {
        this.#hand = afterSubtree(path);
        if (holdsUnder(pinned, path)) continue;
        let evicted;
        try {
          evicted = this.#trie.evict(path);
        } catch (error) {
          // No memory even for the stub: nothing changed, and the next checkpoint tries again.
          if (error instanceof MemoryLimitError) return;
          throw error;
        }
        if (evicted === null) continue;
        this.stats.evictions++;
        this.stats.evictedBytes += evicted.words * 4;
        live -= evicted.words * 4;
        if (live <= budget * budgetLowWater) break;
      }
    }
    const memory = this.#trie.memory();
    if (memory.freeBytes > memory.liveBytes) this.#trie.relocate();
  }
}

/** The smallest key after every key that starts with `path`; undefined if none is. */
function afterSubtree(path: Uint8Array): Uint8Array | undefined {
  let end = path.length;
  while (end > 0 && path[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const next = path.slice(0, end);
  next[end - 1]++;
  return next;
}
