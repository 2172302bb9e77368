/**
 * The exactly-once import of one input into the shards.
 *
 * The protocol: the input has an identity (a digest of its content) and is
 * read as n-grams, each with the offset where its first row starts. The
 * n-grams are gathered per shard into a chunk; at a boundary (a point the
 * reader promises no n-gram below it is still to come) a full chunk is
 * committed: first the words new to the store's vocabulary, made durable
 * (`_vocabulary.ts`: so no key ever refers to a word a crash lost), then
 * every shard's part, each in one atomic commit that holds:
 *
 * - the adds of the chunk's counts, and the per-order totals and distinct
 *   counts;
 * - a check that the file's progress in the shard is still what this import
 *   read, and its new value: the boundary's offset;
 * - at the end of the input, its done mark.
 *
 * So in every shard the counts of the input's rows below the progress are
 * in, and none above it, whatever a crash cuts. A resume reads each shard's
 * progress, asks the reader to start at the smallest, and passes over, per
 * shard, every n-gram below that shard's progress. An input done in every
 * shard is not read again: importing the same content twice changes
 * nothing. Two inputs with different content have different identities and
 * add up.
 *
 * @module
 */

import { atomicOpsMax, type Store } from "../../mod.ts";
import type { InputSummary, NgramSink } from "./input.ts";
import { fileKey, fnvBasis, fnvPrime, metaKind, orderKey, orderMax } from "./_keys.ts";
import { ShardChunk } from "./_chunk.ts";
import { type Shard, ShardFailedError } from "./_shard.ts";
import type { Vocabulary } from "./_vocabulary.ts";
import { assert } from "./_assert.ts";

/** Raised when a file's progress in a shard is not what the import read: another import of it ran. */
export class ImportConflictError extends Error {
  /** The shard whose progress moved. */
  readonly shard: number;

  /**
   * Builds the error for a shard whose progress moved.
   *
   * @param shard The shard whose progress moved.
   */
  constructor(shard: number) {
    super(
      `Cannot import: the file's progress in shard ${shard} moved while this import ran; ` +
        `import a file in one process at a time`,
    );
    this.name = "ImportConflictError";
    this.shard = shard;
  }
}

/** N-grams gathered over all shards before a commit (at the next boundary). */
export const chunkNgramsDefault = 65_536;
/** The most `chunkNgrams` may be: a shard's part of a chunk must fit one atomic commit. */
export const chunkNgramsMax = 500_000;
/** Chunks committed between two syncs of the shards. */
export const syncEveryChunksDefault = 16;
/** Keys per `getMany` call when counting new n-grams. */
const getManyBatch = 10_000;

/** An input to import: its identity and how to read it. */
export interface ImportSource {
  /** The input's identity: a digest of its content (at most 64 bytes). */
  id: Uint8Array;
  /** A hash of the format and filters it is read with (a resume must use the same). */
  optionsHash: number;
  /** Reads the input into `sink`, from `resumeFrom` on. */
  read(sink: NgramSink, resumeFrom: number): Promise<InputSummary>;
  /**
   * Called before each round of commits: throws if what was read no longer
   * belongs to this identity (a file written to since its digest).
   */
  check?(): Promise<void>;
}

/** How an import ended. */
export type ImportStatus = "imported" | "resumed" | "already-imported";

/** What {@link importSource} did. */
export interface ImportOutcome {
  /** `imported` (from the start), `resumed` (after an earlier, cut import) or `already-imported`. */
  status: ImportStatus;
  /** Where the reading began (0 unless resumed). */
  resumedFrom: number;
  /** Distinct n-grams committed by this run, summed over its chunks. */
  ngrams: number;
  /** Chunks committed. */
  chunks: number;
  /** The reader's summary; undefined when nothing was read. */
  summary: InputSummary | undefined;
}

/** Tuning of one import. */
export interface ImportTuning {
  /** See {@link chunkNgramsDefault}. */
  chunkNgrams: number;
  /** See {@link syncEveryChunksDefault}. */
  syncEveryChunks: number;
}

/** Where an input stands in one shard. */
export interface ShardProgress {
  /** The progress read (undefined: never committed to this shard). */
  progress: number | undefined;
  /** Whether the input is done in this shard. */
  done: boolean;
  /** The options hash recorded, if any. */
  optionsHash: number | undefined;
}

/** Reads where the input stands in every shard. */
export async function readProgress(
  shards: readonly Shard[],
  id: Uint8Array,
): Promise<ShardProgress[]> {
  const keys = [
    fileKey(metaKind.progress, id),
    fileKey(metaKind.done, id),
    fileKey(metaKind.options, id),
  ];
  const found: ShardProgress[] = [];
  for (const shard of shards) {
    const [progress, done, optionsHash] = await shard.store.getMany(keys);
    found.push({ progress, done: done !== undefined, optionsHash });
  }
  return found;
}

/** Imports `source` into `shards` exactly once (see the module notes). */
export async function importSource(
  shards: readonly Shard[],
  vocabulary: Vocabulary,
  source: ImportSource,
  tuning: ImportTuning,
): Promise<ImportOutcome> {
  const standing = await readProgress(shards, source.id);
  if (standing.every((at) => at.done)) {
    return { status: "already-imported", resumedFrom: 0, ngrams: 0, chunks: 0, summary: undefined };
  }
  for (const [index, at] of standing.entries()) {
    // Done shards count too: they were read with the options the rest must be read with.
    if (at.optionsHash !== undefined && at.optionsHash !== source.optionsHash) {
      throw new Error(
        `Cannot resume the import: shard ${index} holds part of it read with other options ` +
          `(format and filters); import the file again with the options of its first import`,
      );
    }
  }
  for (const shard of shards) shard.checkWritable();
  const resumeFrom = Math.min(...standing.filter((at) => !at.done).map((at) => at.progress ?? 0));
  const run = new ImportRun(shards, vocabulary, source, standing, tuning);
  let summary: InputSummary;
  try {
    summary = await source.read(run, resumeFrom);
    await run.finish(summary.contentBytes);
  } catch (error) {
    run.abandon(); // ids given to words whose commit did not happen must not stay
    throw error;
  }
  const resumed = standing.some((at) => at.progress !== undefined);
  return {
    status: resumed ? "resumed" : "imported",
    resumedFrom: resumeFrom,
    ngrams: run.ngrams,
    chunks: run.chunks,
    summary,
  };
}

/** One run of an import: the sink the reader fills. */
class ImportRun implements NgramSink {
  readonly #shards: readonly Shard[];
  readonly #vocabulary: Vocabulary;
  readonly #source: ImportSource;
  readonly #tuning: ImportTuning;
  readonly #chunks: ShardChunk[];
  /** Per shard: the progress committed (or read at the start). */
  readonly #progress: (number | undefined)[];
  /** Per shard: n-grams below this offset are in already. */
  readonly #skipBelow: number[];
  readonly #done: boolean[];
  #gathered = 0;
  /** N-grams committed. */
  ngrams = 0;
  /** Chunks committed. */
  chunks = 0;

  constructor(
    shards: readonly Shard[],
    vocabulary: Vocabulary,
    source: ImportSource,
    standing: readonly ShardProgress[],
    tuning: ImportTuning,
  ) {
    this.#shards = shards;
    this.#vocabulary = vocabulary;
    this.#source = source;
    this.#tuning = tuning;
    this.#chunks = shards.map((shard) => new ShardChunk(shard));
    this.#progress = standing.map((at) => at.progress);
    this.#skipBelow = standing.map((at) => at.done ? Infinity : at.progress ?? 0);
    this.#done = standing.map((at) => at.done);
  }

  ngram(bytes: Uint8Array, start: number, end: number, count: number, offset: number): void {
    // The first token's hash routes the n-gram and looks the word up (see hashBytes).
    let firstEnd = start;
    let hash = fnvBasis;
    for (; firstEnd < end && bytes[firstEnd] !== 0x20; firstEnd++) {
      hash = Math.imul(hash ^ bytes[firstEnd], fnvPrime);
    }
    const firstHash = hash >>> 0;
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot import: the source handed a count of ${count}; counts are positive safe integers`,
      );
    }
    const index = firstHash % this.#shards.length;
    if (offset < this.#skipBelow[index]) return;
    this.#chunks[index].add(bytes, start, end, count, firstEnd, firstHash);
    this.#gathered++;
  }

  boundary(end: number): void | Promise<void> {
    if (this.#gathered < this.#tuning.chunkNgrams) return;
    return this.#commitAll(end, false);
  }

  /** Empties every chunk and takes back the ids of words not committed (the import stopped). */
  abandon(): void {
    for (const chunk of this.#chunks) chunk.abandon();
    this.#vocabulary.forgetUncommitted();
  }

  /** Commits what is left and marks the input done in every shard. */
  async finish(contentBytes: number): Promise<void> {
    await this.#commitAll(contentBytes, true);
    await Promise.all(this.#shards.map((shard) => shard.sync()));
  }

  async #commitAll(end: number, last: boolean): Promise<void> {
    await this.#source.check?.();
    // Durable before any key that uses them is committed (see the module notes).
    await this.#vocabulary.commit();
    for (const [index, chunk] of this.#chunks.entries()) {
      if (this.#done[index]) continue;
      const progress = this.#progress[index];
      if (progress !== undefined && progress >= end && !last) {
        // A resume: this shard is ahead of the reader; nothing below its progress was gathered.
        assert(chunk.empty, "a shard ahead of the reader gathered nothing");
        continue;
      }
      assert(progress === undefined || progress <= end, "a file's progress never goes back");
      await this.#commitShard(index, chunk, end, last);
    }
    this.#gathered = 0;
    this.chunks++;
    if (!last && this.chunks % this.#tuning.syncEveryChunks === 0) {
      await Promise.all(this.#shards.map((shard) => shard.sync()));
    }
  }

  async #commitShard(index: number, chunk: ShardChunk, end: number, last: boolean): Promise<void> {
    const shard = chunk.shard;
    let committed: boolean;
    try {
      shard.checkWritable();
      checkCommitSize(chunk, index);
      const op = await this.#operation(chunk, index, end, last);
      committed = (await op.commit()).ok;
    } catch (error) {
      chunk.abandon();
      // A refused commit (a count past 2^53, too many operations) wrote nothing: the shard is fine.
      if (error instanceof RangeError || error instanceof ShardFailedError) throw error;
      throw shard.fail(error);
    }
    if (!committed) {
      chunk.abandon();
      throw new ImportConflictError(index);
    }
    shard.markDirty();
    this.ngrams += chunk.size;
    this.#progress[index] = end;
    chunk.reset();
    await shard.holdToBudget();
  }

  /** The atomic operation that commits `chunk` with the file's progress `end` (see the notes). */
  async #operation(chunk: ShardChunk, index: number, end: number, last: boolean) {
    const store = chunk.shard.store;
    const id = this.#source.id;
    const op = store.atomic();
    const progressKey = fileKey(metaKind.progress, id);
    op.check(progressKey, this.#progress[index]);
    if (this.#progress[index] === undefined) {
      op.set(fileKey(metaKind.options, id), this.#source.optionsHash);
    }
    const keys: Uint8Array[] = [];
    for (let i = 0; i < chunk.size; i++) keys.push(chunk.key(i));
    const fresh = await newPerOrder(store, keys);
    const totals = new Array<number>(orderMax + 1).fill(0);
    for (let i = 0; i < keys.length; i++) {
      op.add(keys[i], chunk.count(i));
      totals[keys[i][0]] += chunk.count(i);
    }
    for (let order = 1; order <= orderMax; order++) {
      if (totals[order] > 0) op.add(orderKey(metaKind.total, order), totals[order]);
      if (fresh[order] > 0) op.add(orderKey(metaKind.distinct, order), fresh[order]);
    }
    op.set(progressKey, end);
    if (last) op.set(fileKey(metaKind.done, id), 1);
    return op;
  }
}

/** Operations a commit adds besides the keys: totals, distinct counts, progress. */
const commitExtraOps = 2 * orderMax + 4;

/** Throws a RangeError if `chunk` needs more operations than one atomic commit takes. */
function checkCommitSize(chunk: ShardChunk, index: number): void {
  const ops = chunk.size + commitExtraOps;
  if (ops > atomicOpsMax) {
    throw new RangeError(
      `Cannot import: shard ${index}'s part of a chunk needs ${ops} operations, more than one ` +
        `commit takes (${atomicOpsMax}); a chunk ends only at a boundary (a line's end): ` +
        `split the input's long lines or lower chunkNgrams`,
    );
  }
}

/** Per order, how many of `keys` the store does not hold yet. */
async function newPerOrder(store: Store, keys: readonly Uint8Array[]): Promise<number[]> {
  const fresh = new Array<number>(orderMax + 1).fill(0);
  for (let at = 0; at < keys.length; at += getManyBatch) {
    const part = keys.slice(at, at + getManyBatch);
    const values = await store.getMany(part);
    for (let i = 0; i < part.length; i++) {
      if (values[i] === undefined) fresh[part[i][0]]++;
    }
  }
  return fresh;
}
