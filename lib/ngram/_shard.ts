/**
 * One shard of an n-gram store: a tallytrie store of n-grams keyed by the
 * ids of the store's vocabulary (`_vocabulary.ts`), and its state (the
 * seed's `ShardHandle`).
 *
 * The shard's store runs in relaxed durability: an import's commits are
 * applied at once and made durable by {@link Shard.sync}, which the import
 * calls at the end of every file and between chunks every so often. A crash
 * loses a suffix of the commits, each whole (one WAL record each), and with
 * each its progress: the import resumes where the durable progress says.
 *
 * States: `clean` (everything written is durable), `dirty` (commits not yet
 * synced), `syncing`, `failed` (a write or a sync failed: the shard refuses
 * writes until the store is reopened, and still answers reads). A failed
 * shard stops its own writes, not the other shards' reads.
 *
 * @module
 */

import {
  type BlockStorage,
  type CheckpointOptions,
  type Clock,
  openStore,
  type Store,
} from "../../mod.ts";
import type { Vocabulary } from "./_vocabulary.ts";
import { BudgetHold } from "./_memory.ts";

/** How a part of the n-gram store (a shard, the vocabulary) opens its tallytrie store. */
export interface PartOptions {
  /** Its checkpoint policy (a shard's default: {@link shardCheckpointDefault}). */
  checkpoint?: CheckpointOptions;
  /** Its clock (default the system's). */
  clock?: Clock;
  /** Its part of the n-gram store's memory budget (`_memory.ts`); none if undefined. */
  memoryBudget?: number;
}

/** A shard's state (see the module notes). */
export type ShardState = "clean" | "dirty" | "syncing" | "failed";

/**
 * The shards' checkpoint policy unless one is given: a checkpoint per 256 MiB
 * of WAL or 10 million operations or a minute, not the engine's 100 ms. An
 * import writes keys all over the trie, so each checkpoint rewrites most of
 * it: at the engine's default an import of 1M bigrams into 8 shards ran at
 * 0.16M n-grams/s, with checkpoints off at 0.28M/s. The WAL this leaves is
 * what a crash replays, at most 256 MiB a shard.
 */
export const shardCheckpointDefault: CheckpointOptions = {
  epochMs: 60_000,
  epochOps: 10_000_000,
  epochWalBytes: 256 * 1024 * 1024,
};

/** Raised by a write to a failed shard. */
export class ShardFailedError extends Error {
  /** The shard's index. */
  readonly shard: number;

  /**
   * Builds the error for a write to shard `shard`, stopped by `cause`.
   *
   * @param shard The shard's index.
   * @param cause The failure that stopped it.
   */
  constructor(shard: number, cause: unknown) {
    super(
      `Cannot write to shard ${shard}: it failed (${(cause as Error)?.message ?? cause}); ` +
        `reopen the n-gram store to go on`,
      { cause },
    );
    this.name = "ShardFailedError";
    this.shard = shard;
  }
}

/** One shard: see the module notes. */
export class Shard {
  /** The shard's index. */
  readonly index: number;
  /** Its store. */
  readonly store: Store;
  /** The store's vocabulary (one for every shard). */
  readonly vocabulary: Vocabulary;
  #state: ShardState = "clean";
  #failure: unknown;
  #syncing: Promise<void> | undefined;
  /** Commits made; a sync that began after the last one leaves the shard clean. */
  #commits = 0;
  readonly #budget: BudgetHold;

  private constructor(
    index: number,
    store: Store,
    vocabulary: Vocabulary,
    memoryBudget: number | undefined,
  ) {
    this.index = index;
    this.store = store;
    this.vocabulary = vocabulary;
    this.#budget = new BudgetHold(store, memoryBudget);
  }

  /** Opens shard `index` on `storage`; its keys' word ids are `vocabulary`'s. */
  static async open(
    index: number,
    storage: BlockStorage,
    vocabulary: Vocabulary,
    options: PartOptions = {},
  ): Promise<Shard> {
    const { checkpoint = shardCheckpointDefault, clock, memoryBudget } = options;
    const store = await openStore({
      storage,
      durability: "relaxed",
      checkpoint,
      clock,
      memoryBudget,
    });
    return new Shard(index, store, vocabulary, memoryBudget);
  }

  /** The id of the word `bytes[start, end)` whose {@link hashBytes} is `hash`, or -1. */
  idOf(bytes: Uint8Array, start: number, end: number, hash: number): number {
    return this.vocabulary.idOf(bytes, start, end, hash);
  }

  /** The UTF-8 bytes of word `id` (a view, valid until the vocabulary grows). */
  wordOf(id: number): Uint8Array | undefined {
    return this.vocabulary.wordOf(id);
  }

  /** The shard's state. */
  get state(): ShardState {
    return this.#state;
  }

  /** Throws {@link ShardFailedError} if the shard failed. */
  checkWritable(): void {
    if (this.#state === "failed") throw new ShardFailedError(this.index, this.#failure);
  }

  /** Marks a commit done (the shard has unsynced writes). */
  markDirty(): void {
    this.#commits++;
    if (this.#state === "clean") this.#state = "dirty";
  }

  /** Marks the shard failed by `error`, and returns the error to throw. */
  fail(error: unknown): ShardFailedError {
    if (this.#state !== "failed") {
      this.#state = "failed";
      this.#failure = error;
    }
    return new ShardFailedError(this.index, this.#failure);
  }

  /**
   * After an import's commit: checkpoints the shard and waits if its trie is
   * far past its memory budget (`_memory.ts`). A failed checkpoint fails the
   * shard.
   */
  async holdToBudget(): Promise<void> {
    try {
      await this.#budget.hold();
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Makes every commit so far durable. */
  async sync(): Promise<void> {
    this.checkWritable();
    if (this.#syncing !== undefined) {
      // That sync covers the commits before it began: wait, then sync what came since.
      await this.#syncing.catch(() => {});
      return await this.sync();
    }
    if (this.#state === "clean") return;
    this.#state = "syncing";
    const upTo = this.#commits;
    this.#syncing = this.store.sync();
    try {
      await this.#syncing;
      if (this.#state === "syncing") this.#state = this.#commits === upTo ? "clean" : "dirty";
    } catch (error) {
      throw this.fail(error);
    } finally {
      this.#syncing = undefined;
    }
  }

  /** Closes the shard's store (it makes everything durable first). */
  async close(): Promise<void> {
    await this.store.close();
  }
}
