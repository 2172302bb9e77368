/**
 * tallytrie/ngram: a sharded n-gram count store on tallytrie. It imports
 * Google Books Ngram v2 and v3 files, count files from Spark or Hadoop and
 * plain text, additively and exactly once (an import cut by a crash
 * continues; the same file imported again changes nothing), and answers
 * counts, continuations, totals and Stupid Backoff scores. See
 * `docs/NGRAM.md`.
 *
 * @example Import counts, then ask
 * ```ts
 * import assert from "node:assert/strict";
 * import { openNgramStore } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/counts.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\n");
 * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
 * await store.importFile(`${dir}/counts.tsv`);
 * assert.ok((await store.count("the cat")) === 3);
 * const next = await store.next("the", { top: 1 });
 * assert.ok(next[0].word === "dog" && next[0].count === 5);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  backoffAlphaDefault,
  type Continuation,
  type FileImportOutcome,
  type FileProgress,
  type FileReading,
  type ImportFileOptions,
  type ImportOutcome,
  type ImportSource,
  type ImportSourceOptions,
  memoryBudgetMin,
  nextTopDefault,
  nextTopMax,
  type NgramCount,
  type NgramMemoryStats,
  type NgramStats,
  NgramStore,
  type NgramStoreOptions,
  openNgramStore,
  type OrderTotals,
  shardCheckpointDefault,
  type ShardProgress,
  shardsDefault,
  type ShardState,
  type ShardStats,
  type StorageFactory,
  type VocabularyState,
} from "./store.ts";
export { ImportConflictError, type ImportStatus } from "./_import.ts";
export { ShardFailedError } from "./_shard.ts";
export type { InputFilters, InputFormat, InputSummary, NgramSink, TagPolicy } from "./input.ts";
