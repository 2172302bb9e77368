/**
 * One shard of an n-gram store: a tallytrie store, the vocabulary of the
 * words its n-grams use, and its state (the seed's `ShardHandle`).
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
import { wordKeyByte } from "./_keys.ts";
import { ByteTable, hashBytes } from "./_byte_table.ts";

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
  /** The vocabulary: a word's UTF-8 bytes → its id. */
  readonly #words = new ByteTable();
  #state: ShardState = "clean";
  #failure: unknown;
  #syncing: Promise<void> | undefined;
  /** Commits made; a sync that began after the last one leaves the shard clean. */
  #commits = 0;

  private constructor(index: number, store: Store) {
    this.index = index;
    this.store = store;
  }

  /** Opens shard `index` on `storage` and reads its vocabulary. */
  static async open(
    index: number,
    storage: BlockStorage,
    checkpoint: CheckpointOptions = shardCheckpointDefault,
    clock?: Clock,
  ): Promise<Shard> {
    const store = await openStore({ storage, durability: "relaxed", checkpoint, clock });
    const shard = new Shard(index, store);
    try {
      await shard.#loadVocabulary();
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    return shard;
  }

  async #loadVocabulary(): Promise<void> {
    const entries = this.store.list({ prefix: Uint8Array.of(wordKeyByte) });
    const byId: Uint8Array[] = [];
    for await (const { key, value } of entries) {
      if (!Number.isSafeInteger(value) || byId[value] !== undefined) {
        throw new Error(
          `Cannot open shard ${this.index}: vocabulary id ${value} is given twice or is not an id`,
        );
      }
      byId[value] = key;
    }
    for (let id = 0; id < byId.length; id++) {
      const key = byId[id];
      if (key === undefined) {
        throw new Error(`Cannot open shard ${this.index}: vocabulary id ${id} is missing`);
      }
      this.#words.add(key, 1, key.length, hashBytes(key, 1, key.length));
    }
  }

  /** The id of the word `bytes[start, end)` whose {@link hashBytes} is `hash`, or -1. */
  idOf(bytes: Uint8Array, start: number, end: number, hash: number): number {
    return this.#words.find(bytes, start, end, hash);
  }

  /** The UTF-8 bytes of word `id` (a view, valid until the vocabulary grows). */
  wordOf(id: number): Uint8Array | undefined {
    return id < this.#words.size ? this.#words.view(id) : undefined;
  }

  /** The number of words in the vocabulary. */
  get vocabularySize(): number {
    return this.#words.size;
  }

  /**
   * Gives the word `bytes[start, end)` (absent, hash `hash`) the next id in
   * memory, for a commit that writes its vocabulary entry
   * ({@link Shard.wordEntryKeys}); {@link Shard.forgetWords} takes ids back if
   * that commit does not happen.
   */
  assignId(bytes: Uint8Array, start: number, end: number, hash: number): number {
    return this.#words.add(bytes, start, end, hash);
  }

  /** Takes back every id from `fromId` on (their commit failed). */
  forgetWords(fromId: number): void {
    this.#words.truncate(fromId);
  }

  /**
   * The vocabulary keys of words `from` to the vocabulary's end, as views of
   * one buffer (a chunk's new words are written together).
   */
  wordEntryKeys(from: number): Uint8Array[] {
    let bytes = 0;
    for (let id = from; id < this.#words.size; id++) bytes += 1 + this.#words.view(id).length;
    const buffer = new Uint8Array(bytes);
    const keys: Uint8Array[] = [];
    for (let id = from, at = 0; id < this.#words.size; id++) {
      const word = this.#words.view(id);
      buffer[at] = wordKeyByte;
      buffer.set(word, at + 1);
      keys.push(buffer.subarray(at, at + 1 + word.length));
      at += 1 + word.length;
    }
    return keys;
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
