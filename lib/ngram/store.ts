/**
 * The n-gram store: a directory of tallytrie stores (shards) routed by an
 * n-gram's first token, with a manifest fixed at creation; exactly-once
 * imports (`_import.ts`) and the queries (`_query.ts`) on top.
 *
 * @module
 */

import {
  type BlockStorage,
  checkOptions,
  type CheckpointOptions,
  type Clock,
  FileBlockStorage,
  type OptionTypes,
  type Store,
  StoreClosedError,
  StoreLockedError,
} from "../../mod.ts";
import { orderMax, routingName } from "./_keys.ts";
import { manifestName, readManifest, shardName, shardsMax, writeManifest } from "./_manifest.ts";
import { Vocabulary, vocabularyName, type VocabularyState } from "./_vocabulary.ts";
import { type PartOptions, Shard, shardCheckpointDefault, type ShardState } from "./_shard.ts";
import {
  budgetParts,
  memoryBudgetMin,
  memoryOf,
  type NgramMemoryStats,
  sumMemory,
} from "./_memory.ts";
import {
  allEntries,
  type Continuation,
  continuationCount,
  countMany,
  listPrefix,
  next,
  type NgramCount,
  type OrderTotals,
  orderTotals,
  shardIndexOf,
} from "./_query.ts";
import { tokenCount, tokenize, type Tokens } from "./_text.ts";
import { countStrings } from "./_count.ts";
import { type FileProgress, type FileReading, fileSource } from "./_files.ts";
import type { InputFormat } from "./input.ts";
import {
  chunkNgramsDefault,
  chunkNgramsMax,
  type ImportOutcome,
  type ImportSource,
  importSource,
  readProgress,
  type ShardProgress,
  syncEveryChunksDefault,
} from "./_import.ts";

export type {
  Continuation,
  FileProgress,
  FileReading,
  ImportOutcome,
  ImportSource,
  NgramCount,
  NgramMemoryStats,
  OrderTotals,
  ShardProgress,
  ShardState,
  VocabularyState,
};
export { memoryBudgetMin, shardCheckpointDefault };

/** Shards of a new store unless `shards` says otherwise. */
export const shardsDefault = 8;
/** The `top` of {@link NgramStore.next} unless given. */
export const nextTopDefault = 10;
/** The largest `top` {@link NgramStore.next} takes. */
export const nextTopMax = 100_000;
/** Stupid Backoff's factor (Brants et al. 2007). */
export const backoffAlphaDefault = 0.4;

/**
 * Gives the storage of one part of the store: `""` for the manifest,
 * `vocabulary` for the vocabulary, `shard-0003` for a shard.
 */
export type StorageFactory = (name: string) => BlockStorage | Promise<BlockStorage>;

/** Tokens `[from, to)` of `tokens`. */
function slice(tokens: Tokens, from: number, to: number): Tokens {
  return { bytes: tokens.bytes, bounds: tokens.bounds.slice(2 * from, 2 * to) };
}

/** Options of {@link openNgramStore}. */
export interface NgramStoreOptions {
  /** The store's directory (created if absent). Give this or `storage`. */
  path?: string;
  /** Storages instead of a directory (the simulator's, or memory). */
  storage?: StorageFactory;
  /** Shards of a new store (default {@link shardsDefault}); an existing store's must match. */
  shards?: number;
  /** The shards' checkpoint policy (default {@link shardCheckpointDefault}). */
  checkpoint?: CheckpointOptions;
  /** The shards' clock (the simulator's; default the system's). */
  clock?: Clock;
  /** Create the store if there is none (default true); false: an error instead. */
  create?: boolean;
  /**
   * The bytes the whole store's tries may take once checkpoints have written
   * them (default: no limit): split over the parts, a sixteenth (at least
   * 4096 bytes) to the vocabulary and the rest in equal shares to the
   * shards, each part at least 4096 bytes ({@link memoryBudgetMin}), and
   * each part is its store's `memoryBudget` (see `openStore`): past it, clean
   * subtrees go back to disk after a checkpoint and load again when read,
   * and writes far past it start a checkpoint early. The vocabulary's words,
   * held in memory whole, are not counted. `stats().memory` sums the parts.
   */
  memoryBudget?: number;
}

const optionTypes: OptionTypes = {
  path: "string",
  storage: { expected: "a function giving a BlockStorage", test: (v) => typeof v === "function" },
  shards: "number",
  checkpoint: "object",
  clock: "object",
  create: "boolean",
  memoryBudget: "number",
};
const openPlace = {
  operation: "open the n-gram store",
  object: "options",
  key: "option",
  keyPrefix: "",
};

/** Tuning of {@link NgramStore.importSource}. */
export interface ImportSourceOptions {
  /** N-grams gathered over all shards before a commit. */
  chunkNgrams?: number;
  /** Chunks between two syncs. */
  syncEveryChunks?: number;
}

/** Options of {@link NgramStore.importFile}: how to read the file, and progress. */
export interface ImportFileOptions extends FileReading {
  /** Called as the file is read (about every MiB of it). */
  onProgress?: (progress: FileProgress) => void;
  /** N-grams gathered over all shards before a commit (default 65,536). */
  chunkNgrams?: number;
}

/** What {@link NgramStore.importFile} did. */
export interface FileImportOutcome extends ImportOutcome {
  /** The file. */
  path: string;
  /** The format it was read as. */
  format: InputFormat;
  /** Its identity: the digest of its content (hex). */
  digest: string;
}

const importSourceTypes: OptionTypes = { chunkNgrams: "number", syncEveryChunks: "number" };

const importFileTypes: OptionTypes = {
  format: ["auto", "v2", "v3", "tsv", "text"],
  years: "object",
  minCount: "number",
  tags: ["drop", "keep"],
  order: "number",
  onProgress: { expected: "a function", test: (v) => typeof v === "function" },
  chunkNgrams: "number",
};

/** Throws a RangeError unless a reading's numbers are in range. */
function checkReading(options: ImportFileOptions): void {
  const { years, minCount, order } = options;
  if (years !== undefined) {
    const { from, to } = years;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from > to) {
      throw new RangeError(`Cannot import: years must be integers from ≤ to, got ${from}..${to}`);
    }
  }
  if (minCount !== undefined && (!Number.isSafeInteger(minCount) || minCount < 1)) {
    throw new RangeError(`Cannot import: minCount must be a positive integer, got ${minCount}`);
  }
  checkChunkNgrams(options.chunkNgrams);
  if (order !== undefined && (!Number.isInteger(order) || order < 1 || order > orderMax)) {
    throw new RangeError(
      `Cannot import: order must be an integer from 1 to ${orderMax}, got ${order}`,
    );
  }
}

/** Throws a RangeError unless `chunk` is absent or 1 to {@link chunkNgramsMax}. */
function checkChunkNgrams(chunk: number | undefined): void {
  if (
    chunk !== undefined && (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > chunkNgramsMax)
  ) {
    throw new RangeError(
      `Cannot import: chunkNgrams must be an integer from 1 to ${chunkNgramsMax}, got ${chunk}`,
    );
  }
}

/** One shard in {@link NgramStats}. */
export interface ShardStats {
  /** The shard's index. */
  index: number;
  /** Its state. */
  state: ShardState;
  /** Keys in its store (n-grams and bookkeeping). */
  keys: number;
  /** Its trie's memory; `budget` is its part of the store's `memoryBudget`. */
  memory: NgramMemoryStats;
}

/** What {@link NgramStore.stats} reports. */
export interface NgramStats {
  /** The number of shards. */
  shards: number;
  /** Per order: totals and distinct n-grams. */
  orders: OrderTotals[];
  /** Words in the store's vocabulary. */
  words: number;
  /** The vocabulary's state: `failed` after a write to it failed (imports stop until a reopen). */
  vocabulary: VocabularyState;
  /** Per shard. */
  perShard: ShardStats[];
  /** The memory of the tries of every shard and the vocabulary, summed (see {@link NgramStore.memory}). */
  memory: NgramMemoryStats;
}

/**
 * Opens (creating if needed) an n-gram store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openNgramStore } from "./store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openNgramStore(dir, { shards: 2 });
 * assert.ok((await store.count("the cat")) === 0);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openNgramStore(
  target: string | NgramStoreOptions,
  options: Omit<NgramStoreOptions, "path" | "storage"> = {},
): Promise<NgramStore> {
  const all = typeof target === "string" ? { ...checked(options), path: target } : checked(target);
  if ((all.path === undefined) === (all.storage === undefined)) {
    throw new TypeError(
      "Cannot open the n-gram store: give a path or a storage, not both or neither",
    );
  }
  const shards = all.shards;
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1 || shards > shardsMax)) {
    throw new RangeError(
      `Cannot open the n-gram store: shards must be an integer from 1 to ${shardsMax}, got ${shards}`,
    );
  }
  // The parts' sizes need the shard count: checked here when it is given, before any file
  // is touched, and again below once the manifest says it.
  if (shards !== undefined) budgetParts(all.memoryBudget, shards);
  if (all.create === false && all.path !== undefined) await checkExists(all.path);
  const factory = all.storage ?? fileFactory(all.path!);
  const root = await factory("");
  if (!(await root.tryLock())) throw new StoreLockedError(root.description);
  try {
    const existing = await manifestShards(root, shards, all.create !== false);
    const count = existing ?? shards ?? shardsDefault;
    // Checked before a new store's manifest is written: a refused budget creates nothing.
    const budgets = budgetParts(all.memoryBudget, count);
    if (existing === undefined) await createManifest(root, count, all.path);
    const part: PartOptions = { checkpoint: all.checkpoint, clock: all.clock };
    const vocabulary = await Vocabulary.open(await factory(vocabularyName), {
      ...part,
      memoryBudget: budgets?.vocabulary,
    });
    // All at once: each shard's open returns with its root, and its trie loads in the
    // background; opened in turn, each open waited on the warm-ups of those before it.
    const options = { ...part, memoryBudget: budgets?.shard };
    const opening = await Promise.allSettled(
      Array.from({ length: count }, async (_, index) => {
        return await Shard.open(index, await factory(shardName(index)), vocabulary, options);
      }),
    );
    const opened = opening.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
    const failed = opening.find((result) => result.status === "rejected");
    if (failed !== undefined) {
      for (const shard of opened) await shard.close().catch(() => {});
      await vocabulary.close().catch(() => {});
      throw failed.reason;
    }
    return new NgramStore(root, vocabulary, opened);
  } catch (error) {
    await root.unlock();
    throw error;
  }
}

function checked(options: NgramStoreOptions): NgramStoreOptions {
  checkOptions(options, optionTypes, openPlace);
  return options;
}

/** The error for a store that is not there, when opening may not create one. */
function noStore(where: string): Error {
  return new Error(
    `Cannot open the n-gram store: there is none at "${where}"; import into it first`,
  );
}

/** Throws {@link noStore} unless `path` exists (so a store that may not be created is not). */
async function checkExists(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw noStore(path);
    throw error;
  }
}

/** The storages of a store in directory `path`: the root, `path/vocabulary` and `path/shard-NNNN`. */
function fileFactory(path: string): StorageFactory {
  return (name) => FileBlockStorage.open(name === "" ? path : `${path}/${name}`);
}

/**
 * Reads the manifest: the shard count of an existing store (which `shards`
 * must match if given), undefined if there is none and one may be created.
 */
async function manifestShards(
  root: BlockStorage,
  shards: number | undefined,
  create: boolean,
): Promise<number | undefined> {
  const manifest = await readManifest(root);
  if (manifest === undefined && !create) throw noStore(root.description);
  if (manifest === undefined) return undefined;
  if (shards !== undefined && shards !== manifest.shards) {
    throw new Error(
      `Cannot open the n-gram store: it has ${manifest.shards} shards, not ${shards}; ` +
        `the number of shards is fixed when a store is created`,
    );
  }
  return manifest.shards;
}

/** Writes the manifest of a new store of `count` shards, in a directory with no other files. */
async function createManifest(
  root: BlockStorage,
  count: number,
  path: string | undefined,
): Promise<void> {
  const strangers = (await root.list()).filter((name) =>
    name !== "LOCK" && name !== `${manifestName}.tmp`
  );
  if (path !== undefined) {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) strangers.push(`${entry.name}/`);
    }
  }
  if (strangers.length > 0) {
    throw new Error(
      `Cannot create an n-gram store in "${root.description}": it holds other files ` +
        `(${
          strangers.slice(0, 3).map((name) => `"${name}"`).join(", ")
        }) and no "${manifestName}"; ` +
        `give an empty or new directory`,
    );
  }
  await writeManifest(root, { shards: count, routing: routingName });
}

/** One part of an n-gram store (see {@link ngramParts}). */
export interface NgramPart {
  /** The name its storage was asked for from the `StorageFactory`. */
  name: string;
  /** Its tallytrie store. */
  store: Store;
}

let readParts: (store: NgramStore) => NgramPart[];

/**
 * The parts of `store`, each shard's then the vocabulary's: the names their
 * storages were asked for and their tallytrie stores, whose counters the
 * simulator reads between I/O completions (`writeCounters`, which changes
 * nothing, where `stats()` applies durable groups first) to judge each
 * part's memory budget. Not part of the module's API (`mod.ts` does not
 * export it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ngramParts, openNgramStore } from "./store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openNgramStore(dir, { shards: 2 });
 * assert.deepEqual(ngramParts(store).map((part) => part.name), [
 *   "shard-0000",
 *   "shard-0001",
 *   "vocabulary",
 * ]);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function ngramParts(store: NgramStore): NgramPart[] {
  return readParts(store);
}

/** An open n-gram store: see {@link openNgramStore}. */
export class NgramStore {
  readonly #root: BlockStorage;
  readonly #vocabulary: Vocabulary;
  readonly #shards: Shard[];
  #importing: Promise<unknown> = Promise.resolve();
  #closed = false;

  static {
    readParts = (store) => [
      ...store.#shards.map((shard, index) => ({ name: shardName(index), store: shard.store })),
      { name: vocabularyName, store: store.#vocabulary.store },
    ];
  }

  /** Use {@link openNgramStore}. */
  constructor(root: BlockStorage, vocabulary: Vocabulary, shards: Shard[]) {
    this.#root = root;
    this.#vocabulary = vocabulary;
    this.#shards = shards;
  }

  /** The number of shards. */
  get shardCount(): number {
    return this.#shards.length;
  }

  /**
   * Imports one input exactly once (see `docs/NGRAM.md`). Imports run one
   * at a time; a second call waits for the first.
   */
  async importSource(
    source: ImportSource,
    options: ImportSourceOptions = {},
  ): Promise<ImportOutcome> {
    this.#checkOpen("import");
    checkOptions(options, importSourceTypes, { ...openPlace, operation: "import" });
    checkChunkNgrams(options.chunkNgrams);
    const every = options.syncEveryChunks;
    if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) {
      throw new RangeError(
        `Cannot import: syncEveryChunks must be a positive integer, got ${every}`,
      );
    }
    const tuning = {
      chunkNgrams: options.chunkNgrams ?? chunkNgramsDefault,
      syncEveryChunks: options.syncEveryChunks ?? syncEveryChunksDefault,
    };
    const run = this.#importing.catch(() => {}).then(() =>
      importSource(this.#shards, this.#vocabulary, source, tuning)
    );
    this.#importing = run;
    return await run;
  }

  /**
   * Imports one file exactly once: its identity is the digest of its
   * content, so a file imported again (under any name) changes nothing, and
   * an import cut by a crash continues where its durable progress says.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * const file = `${dir}/counts.tsv`;
   * await Deno.writeTextFile(file, "the cat\t3\nthe dog\t2\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * assert.ok((await store.importFile(file)).status === "imported");
   * assert.ok((await store.importFile(file)).status === "already-imported");
   * assert.ok((await store.count("the cat")) === 3);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async importFile(path: string, options: ImportFileOptions = {}): Promise<FileImportOutcome> {
    this.#checkOpen("import");
    checkOptions(options, importFileTypes, { ...openPlace, operation: "import" });
    checkReading(options);
    const file = await fileSource(path, options, options.onProgress);
    const outcome = await this.importSource(file.source, { chunkNgrams: options.chunkNgrams });
    return { ...outcome, path, format: file.format, digest: file.digest };
  }

  /**
   * The count of an n-gram (tokens separated by single spaces); 0 if absent.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await openNgramStore(dir);
   * assert.ok((await store.count("no such words")) === 0);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async count(ngram: string): Promise<number> {
    return (await this.countMany([ngram]))[0];
  }

  /**
   * The counts of many n-grams, in order; 0 where absent.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * assert.ok(JSON.stringify(await store.countMany(["the cat", "no such", "a cat"])) === "[3,0,1]");
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async countMany(ngrams: readonly string[]): Promise<number[]> {
    this.#checkOpen("count");
    if (!Array.isArray(ngrams)) {
      throw new TypeError(`Cannot count: give an array of n-grams, got ${typeof ngrams}`);
    }
    return await countStrings(this.#shards, ngrams);
  }

  /**
   * The words that follow `history`, highest count first, ties in byte order
   * of the word; at most `top` (default {@link nextTopDefault}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * const next = await store.next("the", { top: 1 });
   * assert.ok(next.length === 1 && next[0].word === "dog" && next[0].count === 5);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async next(history: string, options: { top?: number } = {}): Promise<Continuation[]> {
    this.#checkOpen("list continuations");
    checkOptions(options, { top: "number" }, { ...openPlace, operation: "list continuations" });
    const top = options.top ?? nextTopDefault;
    if (!Number.isInteger(top) || top < 1 || top > nextTopMax) {
      throw new RangeError(
        `Cannot list continuations: top must be an integer from 1 to ${nextTopMax}, got ${top}`,
      );
    }
    const tokens = tokenize(history, "list continuations");
    if (tokenCount(tokens) >= orderMax) return [];
    return await next(this.#shards, tokens, top);
  }

  /**
   * N1+(h •): how many distinct words follow `history`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * assert.ok((await store.continuationCount("the")) === 2);
   * assert.ok((await store.continuationCount("the cat")) === 1);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async continuationCount(history: string): Promise<number> {
    this.#checkOpen("count continuations");
    const tokens = tokenize(history, "count continuations");
    if (tokenCount(tokens) >= orderMax) return 0;
    return await continuationCount(this.#shards, tokens);
  }

  /**
   * The n-grams that start with the tokens of `prefix`, order by order; at most `limit`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * const found: string[] = [];
   * for await (const { ngram, count } of store.list("the cat")) found.push(`${ngram}=${count}`);
   * assert.ok(found.join(",") === "the cat=3,the cat sat=2");
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  list(prefix: string, options: { limit?: number } = {}): AsyncGenerator<NgramCount> {
    this.#checkOpen("list");
    checkOptions(options, { limit: "number" }, { ...openPlace, operation: "list" });
    const tokens = tokenize(prefix, "list");
    if (tokenCount(tokens) === 0) throw new TypeError("Cannot list: give at least one token");
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`Cannot list: limit must be a positive integer, got ${limit}`);
    }
    return listPrefix(this.#shards, tokens, limit);
  }

  /** The index of the shard that holds `ngram` (and every n-gram with its first token). */
  shardOf(ngram: string): number {
    this.#checkOpen("route");
    const tokens = tokenize(ngram, "route");
    if (tokenCount(tokens) === 0) throw new TypeError("Cannot route: give at least one token");
    return shardIndexOf(tokens, this.#shards.length);
  }

  /** Where the input with identity `id` stands in each shard (its durable or applied progress). */
  async importProgress(id: Uint8Array): Promise<ShardProgress[]> {
    this.#checkOpen("read import progress");
    return await readProgress(this.#shards, id);
  }

  /**
   * Every n-gram with its count, shard by shard (no order across shards).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * let total = 0;
   * for await (const { count } of store.entries()) total += count;
   * assert.ok(total === 11);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  entries(): AsyncGenerator<NgramCount> {
    this.#checkOpen("list");
    return allEntries(this.#shards);
  }

  /**
   * Totals and distinct n-grams per order.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * const [bigrams, trigrams] = await store.totals();
   * assert.ok(bigrams.order === 2 && bigrams.total === 9 && bigrams.distinct === 3);
   * assert.ok(trigrams.order === 3 && trigrams.total === 2);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async totals(): Promise<OrderTotals[]> {
    this.#checkOpen("read totals");
    return await orderTotals(this.#shards);
  }

  /**
   * The Stupid Backoff score of the last word of `ngram` given the others
   * (Brants et al. 2007): its relative frequency after the longest history
   * seen, times `alpha` per word backed off; the unigram's share of all
   * 1-gram counts at the end. It needs every order up to the n-gram's own
   * imported; 0 if even the last word was never seen.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * assert.ok((await store.stupidBackoff("the cat sat")) === 2 / 3);
   * assert.ok((await store.stupidBackoff("a dog")) === 0);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async stupidBackoff(ngram: string, options: { alpha?: number } = {}): Promise<number> {
    this.#checkOpen("score");
    checkOptions(options, { alpha: "number" }, { ...openPlace, operation: "score" });
    const alpha = options.alpha ?? backoffAlphaDefault;
    const tokens = tokenize(ngram, "score");
    const length = tokenCount(tokens);
    if (length === 0) throw new TypeError("Cannot score: give at least one token");
    const queries: Tokens[] = [];
    for (let from = 0; from < length; from++) {
      queries.push(slice(tokens, from, length), slice(tokens, from, length - 1));
    }
    const counts = await countMany(this.#shards, queries);
    let factor = 1;
    for (let from = 0; from < length - 1; from++) {
      const [full, history] = [counts[2 * from], counts[2 * from + 1]];
      if (full > 0 && history > 0) return factor * full / history;
      factor *= alpha;
    }
    const unigrams = (await this.totals()).find((t) => t.order === 1)?.total ?? 0;
    const last = counts[2 * (length - 1)];
    return unigrams === 0 ? 0 : factor * last / unigrams;
  }

  /**
   * Per order and per shard.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\na cat\t1\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2 });
   * await store.importFile(`${dir}/in.tsv`);
   * const stats = await store.stats();
   * assert.ok(stats.shards === 2 && stats.perShard.every((shard) => shard.state === "clean"));
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async stats(): Promise<NgramStats> {
    this.#checkOpen("read stats");
    return {
      shards: this.#shards.length,
      orders: await orderTotals(this.#shards),
      words: this.#vocabulary.size,
      vocabulary: this.#vocabulary.state,
      perShard: this.#shards.map((shard) => {
        const stats = shard.store.stats();
        return {
          index: shard.index,
          state: shard.state,
          keys: stats.keys,
          memory: memoryOf(stats.memory),
        };
      }),
      memory: this.memory(),
    };
  }

  /**
   * The memory of the tries of every shard and the vocabulary now, summed:
   * `budget` is the `memoryBudget` option (the parts' budgets add up to it)
   * or null, `liveBytes` the bytes of their nodes in use, `evictions` and
   * `evictedBytes` what the budget evicted since open, `cacheBytes` the
   * image slabs cached, `faults` the records reads and writes loaded,
   * `readThrough` those reads answered from without loading them.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await openNgramStore(dir, { shards: 2, memoryBudget: 2 ** 20 });
   * const memory = store.memory();
   * assert.ok(memory.budget === 2 ** 20 && memory.evictions === 0);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  memory(): NgramMemoryStats {
    this.#checkOpen("read memory stats");
    const parts = [...this.#shards, this.#vocabulary].map((part) => part.store.stats().memory);
    return sumMemory(parts.map(memoryOf));
  }

  /** Makes every import so far durable. */
  async sync(): Promise<void> {
    this.#checkOpen("sync");
    await Promise.all(this.#shards.map((shard) => shard.sync()));
  }

  /**
   * Checkpoints every shard and the vocabulary (waiting for one running):
   * each folds its WAL into its image, and with a `memoryBudget` evicts
   * clean subtrees until its trie is back within its part. Imports need no
   * checkpoint (the shards take theirs per their policy, and early when far
   * past their part): this is for a point where the whole store must be
   * within its budget, or its WAL short.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openNgramStore } from "./store.ts";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/in.tsv`, "the cat\t3\nthe dog\t5\nthe cat sat\t2\n");
   * const store = await openNgramStore(`${dir}/store`, { shards: 2, memoryBudget: 3 * 4096 });
   * await store.importFile(`${dir}/in.tsv`);
   * await store.checkpoint();
   * assert.ok(store.memory().liveBytes <= 3 * 4096);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async checkpoint(): Promise<void> {
    this.#checkOpen("checkpoint");
    for (const part of [...this.#shards, this.#vocabulary]) await part.store.checkpoint();
  }

  /**
   * Compacts every shard's image (a checkpoint that rewrites it whole) and
   * lays each shard's trie out afresh in memory: after a large import, `next`
   * and `countMany` run as fast as in a reopened store.
   */
  async compact(): Promise<void> {
    this.#checkOpen("compact");
    for (const shard of this.#shards) await shard.store.checkpoint({ compact: true });
    await this.#vocabulary.store.checkpoint({ compact: true });
  }

  /** Waits for a running import, closes every shard and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#importing.catch(() => {});
    const failures: unknown[] = [];
    for (const part of [...this.#shards, this.#vocabulary]) {
      try {
        await part.close();
      } catch (error) {
        failures.push(error);
      }
    }
    await this.#root.unlock();
    if (failures.length > 0) throw failures[0];
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new StoreClosedError(`${what} (the n-gram store is closed)`);
  }
}
