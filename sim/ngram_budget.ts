/**
 * The memory budget's bounds in the n-gram simulator (`sim/ngram.ts`): the
 * n-gram store splits its `memoryBudget` over its parts (each shard's
 * tallytrie store and the vocabulary's), and each part keeps to its share
 * as any budgeted store does. The simulator sees the parts through
 * `ngramParts` (a hook of `lib/ngram/store.ts`, not part of its API: the
 * parts' names and stores) and reads their counters with `writeCounters`,
 * which changes nothing; the n-gram layer imports nothing of the engine's
 * for it. Judged, per part (see `memory_bound.ts`):
 *
 * - `bound-memory`: at a quiet point (no call in flight, after the check
 *   of a reopened store) the simulator checkpoints the store; then each
 *   part's live nodes are within the trie's part of its share of the
 *   budget, as the simulator splits it (`docs/NGRAM.md`: the vocabulary a
 *   sixteenth, at least 4096 bytes, the shards the rest equally), or what
 *   must stay (`memoryFloor` with nothing pinned), whichever is larger;
 * - `bound-cache`: each part's slab cache within its share of that part;
 * - `bound-relocate`: each relocation a part's budget made gave back a
 *   fifth of its arena (one after a compaction of the part is not judged);
 * - `bound-work`: between two I/O completions, each part's rounds, hand
 *   walks and queue looks, against what the simulator saw: the interval's
 *   I/O completions (all of them: a label does not tell the disk), the
 *   part's loads, the calls into the n-gram store (each in flight counted
 *   as a list's: an import writes, reads and loads in every part as it
 *   goes) and a compaction of the part (its file at the part's storage).
 *
 * @module
 */

import { ngramParts, type NgramStore } from "../lib/ngram/store.ts";
import { memoryFloor, type Store, writeCounters } from "../lib/store/store.ts";
import type { WriteCounters } from "../lib/store/store.ts";
import { defaultGeometry } from "../lib/image/allocation.ts";
import {
  budgetWorkProblem,
  cacheBoundProblem,
  cacheSlabsFloor,
  compactionAsksMax,
  memoryBoundProblem,
  relocationProblem,
  triePart,
  workSince,
} from "./memory_bound.ts";
import { compactingFileName, WorkWatch } from "./work_events.ts";
import type { SimBlockStorage } from "./storage.ts";

/** The engine's least `memoryBudget` for one store, and the vocabulary's share (`docs/NGRAM.md`). */
const partBudgetMin = 4096;
const vocabularyShareDivisor = 16;

/**
 * The budget of each part of an n-gram store of `shards` shards whose
 * `memoryBudget` is `total`, as `docs/NGRAM.md` splits it: the vocabulary a
 * sixteenth (at least 4096 bytes), the shards the rest equally, the rest of
 * the division to the vocabulary. Computed here, not taken from the store,
 * so that a store that splits it otherwise fails a seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partBudgets } from "./ngram_budget.ts";
 * assert.deepEqual(partBudgets(20_480, 4), { shard: 4096, vocabulary: 4096 });
 * assert.deepEqual(partBudgets(100_000, 3), { shard: 31_250, vocabulary: 6250 });
 * ```
 */
export function partBudgets(total: number, shards: number): { shard: number; vocabulary: number } {
  const vocabularyShare = Math.max(partBudgetMin, Math.floor(total / vocabularyShareDivisor));
  const shard = Math.floor((total - vocabularyShare) / shards);
  return { shard, vocabulary: total - shard * shards };
}

/** What the judge knows of one part between samples. */
interface PartState {
  name: string;
  store: Store;
  /** Its share of the budget (see {@link partBudgets}). */
  budget: number;
  watch: WorkWatch;
  /** Its budget work, arena and relocations at the last sample. */
  seen: { work: WriteCounters["budgetWork"]; arena: number; relocations: number } | undefined;
  /** Its relocations at the last sample. */
  relocationsSeen: number;
  /** Whether its compaction's file was seen since its last relocation. */
  compacted: boolean;
  /** What a compaction of it may still ask for (see `compactionAsksMax`). */
  credit: number;
}

/** What an {@link NgramBudgetJudge} needs of its run. */
export interface NgramBudgetOptions {
  /** The store's `memoryBudget`. */
  total: number;
  /** Its shards. */
  shards: number;
  /** The most keys a part's trie holds (a compaction's credit). */
  keysMax: number;
  /** The storage of a part, by name. */
  disk: (name: string) => SimBlockStorage | undefined;
  /** Reports a violation. */
  report: (property: string, message: string) => void;
}

/** Counts of the judge's work, for the run's summary. */
export interface NgramBudgetStats {
  /** Parts judged by `bound-memory` at quiet points. */
  memoryChecks: number;
  /** Intervals and rounds `bound-work` judged, summed over parts. */
  workJudged: number;
  rounds: number;
  /** Budget relocations judged by `bound-relocate`. */
  relocations: number;
}

/**
 * Judges the memory budgets of an n-gram store's parts (see the module
 * notes): {@link NgramBudgetJudge.attach} it to each store opened,
 * {@link NgramBudgetJudge.detach} it before a close or crash, report I/O
 * completions and calls, and {@link NgramBudgetJudge.sample} after each
 * completion's microtasks ran.
 */
export class NgramBudgetJudge {
  readonly #options: NgramBudgetOptions;
  #parts: PartState[] = [];
  readonly stats: NgramBudgetStats = { memoryChecks: 0, workJudged: 0, rounds: 0, relocations: 0 };

  constructor(options: NgramBudgetOptions) {
    this.#options = options;
  }

  /** Starts judging the parts of `store` (just opened). */
  attach(store: NgramStore): void {
    const budgets = partBudgets(this.#options.total, this.#options.shards);
    this.#parts = ngramParts(store).map((part, index) => {
      const counters = writeCounters(part.store);
      return {
        ...part,
        budget: index < this.#options.shards ? budgets.shard : budgets.vocabulary,
        watch: new WorkWatch(),
        seen: undefined,
        compacted: false,
        credit: 0,
        relocationsSeen: counters.relocations.count,
      };
    });
    for (const part of this.#parts) this.#sampleWork(part, writeCounters(part.store));
  }

  /** Stops judging (a close or a crash comes). */
  detach(): void {
    this.#parts = [];
  }

  /** An I/O completion (its scheduler label), for every part. */
  completed(label: string): void {
    for (const part of this.#parts) part.watch.completed(label);
  }

  /** A call into the n-gram store, in flight until `promise` settles, for every part. */
  call<T>(promise: Promise<T>): Promise<T> {
    for (const part of this.#parts) part.watch.call(promise, { walk: true });
    return promise;
  }

  /** Judges `bound-cache`, `bound-relocate` and `bound-work` for each part now. */
  sample(): void {
    for (const part of this.#parts) {
      const counters = writeCounters(part.store);
      const cache = cacheBoundProblem(
        counters.memory.cacheBytes,
        part.budget,
        defaultGeometry.slabBytes,
        cacheSlabsFloor,
      );
      if (cache !== undefined) this.#options.report("bound-cache", `${part.name}: ${cache}`);
      this.#sampleWork(part, counters);
    }
  }

  /**
   * `bound-memory` for each part, right after a checkpoint of the whole
   * store at a quiet point: its live nodes within the trie's part of its
   * share of the budget, or what must stay with nothing pinned.
   */
  judgeMemory(): void {
    for (const part of this.#parts) {
      const counters = writeCounters(part.store);
      // A round queued and not run yet, or subtrees pinned: nothing to judge (none at a quiet point).
      if (counters.subtreesPinned > 0 || counters.evictionRoundQueued) continue;
      this.stats.memoryChecks++;
      const { liveBytes, cacheBytes } = counters.memory;
      const partBytes = triePart(part.budget, cacheBytes);
      if (liveBytes <= partBytes) continue;
      const floor = memoryFloor(part.store, []);
      const what = ` in ${part.name} (a share of ${part.budget} bytes) after a checkpoint`;
      const problem = memoryBoundProblem(liveBytes, partBytes, floor, what);
      if (problem !== undefined) this.#options.report("bound-memory", problem);
    }
  }

  /** `bound-relocate` and `bound-work` for `part` since its last sample. */
  #sampleWork(part: PartState, counters: WriteCounters): void {
    const disk = this.#options.disk(part.name);
    const compactingNow = disk?.fileNames().includes(compactingFileName) ?? false;
    const events = part.watch.take(counters.nodesLoaded, compactingNow);
    if (compactingNow) part.compacted = true;
    if (!events.compacting) part.credit = 0;
    if (compactingNow && events.compactionsBegun > 0) {
      part.credit += compactionAsksMax(this.#options.keysMax);
    }
    this.#judgeRelocation(part, counters);
    const seen = part.seen;
    const arena = counters.memory.liveBytes + counters.memory.freeBytes;
    part.seen = { work: counters.budgetWork, arena, relocations: counters.relocations.count };
    const since = seen === undefined ? undefined : workSince(seen, counters, arena);
    if (since === undefined) return;
    const { work, peak } = since;
    this.stats.workJudged++;
    this.stats.rounds += work.rounds;
    const credit = { left: part.credit };
    const problem = budgetWorkProblem(work, {
      events,
      credit,
      peakArenaBytes: peak,
      budget: counters.memory.budget ?? part.budget,
      heldBytes: () => Infinity, // its calls' keys are the import's: not known here
    });
    part.credit = credit.left;
    if (problem !== undefined) this.#options.report("bound-work", `${part.name}: ${problem}`);
  }

  /** `bound-relocate` for a relocation of `part` since its last sample, if one. */
  #judgeRelocation(part: PartState, counters: WriteCounters): void {
    const { relocations } = counters;
    const before = part.relocationsSeen;
    part.relocationsSeen = relocations.count;
    if (relocations.count === before) return;
    // One after a compaction of the part lays its trie out afresh, whatever it gives back.
    const compaction = part.compacted;
    part.compacted = false;
    if (relocations.count !== before + 1 || compaction) return;
    this.stats.relocations++;
    const problem = relocationProblem(relocations);
    if (problem !== undefined) this.#options.report("bound-relocate", `${part.name}: ${problem}`);
  }
}
