/**
 * The n-gram store's vocabulary: every word's id, one for the whole store,
 * in a tallytrie store of its own (`vocabulary/`, keys `[0xfe, ...utf8(word)]`
 * → id). The shards' keys hold the ids.
 *
 * One vocabulary rather than one per shard: a word that follows histories
 * of every shard was written once per shard (8 shards, 50,000 words:
 * 273,448 entries), 1.1 bytes of the 9.1 an n-gram took on disk.
 *
 * **A key never refers to a lost word.** An import gives new words ids in
 * memory while it gathers a chunk, and before it commits the chunk to any
 * shard it commits the new words here and waits for them to be durable
 * ({@link Vocabulary.commit}: this store is strict). A crash after that
 * leaves words no count uses yet, which a resume finds and reuses; one
 * before it leaves neither. Ids are dense: words are committed in id
 * order, each commit durable before the next, so a crash keeps a prefix of
 * them and open checks that ids run from 0 with no gap. An import that
 * stops takes back the ids it gave and did not commit
 * ({@link Vocabulary.forgetUncommitted}).
 *
 * @module
 */

import { type BlockStorage, openStore, type Store } from "../../mod.ts";
import type { PartOptions } from "./_shard.ts";
import { wordKeyByte } from "./_keys.ts";
import { ByteTable, hashBytes } from "./_byte_table.ts";
import { assert } from "./_assert.ts";
import { BudgetHold } from "./_memory.ts";

/** Words one vocabulary commit writes at most. */
const commitWordsMax = 65_536;
/** Key bytes one vocabulary commit writes at most (a WAL record takes 64 MiB). */
const commitBytesMax = 8 * 1024 * 1024;

/** The vocabulary's storage name beside the shards' (`shard-0000`, …). */
export const vocabularyName = "vocabulary";

/** The vocabulary's state: `clean` (every id given is durable or taken back) or `failed`. */
export type VocabularyState = "clean" | "failed";

/** The words of an n-gram store (see the module notes). */
export class Vocabulary {
  /** The vocabulary's store. */
  readonly store: Store;
  /** A word's UTF-8 bytes → its id. */
  readonly #words = new ByteTable();
  /** Ids below this are durable in the store. */
  #durable = 0;
  #failure: unknown;
  readonly #budget: BudgetHold;

  private constructor(store: Store, memoryBudget: number | undefined) {
    this.store = store;
    this.#budget = new BudgetHold(store, memoryBudget);
  }

  /** Opens the vocabulary on `storage` and reads it. */
  static async open(storage: BlockStorage, options: PartOptions = {}): Promise<Vocabulary> {
    const { checkpoint, clock, memoryBudget } = options;
    const store = await openStore({
      storage,
      durability: "strict",
      checkpoint,
      clock,
      memoryBudget,
    });
    const vocabulary = new Vocabulary(store, memoryBudget);
    try {
      await vocabulary.#load();
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    return vocabulary;
  }

  async #load(): Promise<void> {
    const byId: Uint8Array[] = [];
    for await (const { key, value } of this.store.list({ prefix: Uint8Array.of(wordKeyByte) })) {
      if (!Number.isSafeInteger(value) || byId[value] !== undefined) {
        throw new Error(
          `Cannot open the vocabulary: id ${value} is given twice or is not an id`,
        );
      }
      byId[value] = key;
    }
    for (let id = 0; id < byId.length; id++) {
      const key = byId[id];
      if (key === undefined) throw new Error(`Cannot open the vocabulary: id ${id} is missing`);
      this.#words.add(key, 1, key.length, hashBytes(key, 1, key.length));
    }
    this.#durable = this.#words.size;
  }

  /** The id of the word `bytes[start, end)` whose {@link hashBytes} is `hash`, or -1. */
  idOf(bytes: Uint8Array, start: number, end: number, hash: number): number {
    return this.#words.find(bytes, start, end, hash);
  }

  /** The UTF-8 bytes of word `id` (a view, valid until the vocabulary grows). */
  wordOf(id: number): Uint8Array | undefined {
    return id < this.#words.size ? this.#words.view(id) : undefined;
  }

  /** The number of words, durable or not. */
  get size(): number {
    return this.#words.size;
  }

  /** The vocabulary's state. */
  get state(): VocabularyState {
    return this.#failure === undefined ? "clean" : "failed";
  }

  /**
   * Gives the word `bytes[start, end)` (absent, hash `hash`) the next id, in
   * memory: {@link Vocabulary.commit} makes it durable before any count that
   * uses it is committed.
   */
  assignId(bytes: Uint8Array, start: number, end: number, hash: number): number {
    return this.#words.add(bytes, start, end, hash);
  }

  /**
   * Writes every word given an id since the last commit and waits until they
   * are durable, in id order, in commits of at most {@link commitWordsMax}
   * words and {@link commitBytesMax} bytes; then, far past its memory
   * budget, checkpoints (`_memory.ts`). After a write or that checkpoint
   * fails the vocabulary refuses to commit until the store is reopened.
   */
  async commit(): Promise<void> {
    if (this.#failure !== undefined) throw failedError(this.#failure);
    for (let rounds = 0; this.#durable < this.#words.size; rounds++) {
      assert(rounds <= this.#words.size, "each commit writes at least one word");
      const op = this.store.atomic();
      let id = this.#durable;
      for (let bytes = 0; id < this.#words.size && id - this.#durable < commitWordsMax; id++) {
        const key = this.#entryKey(id);
        if (bytes > 0 && bytes + key.length > commitBytesMax) break;
        op.set(key, id); // a word too long for a key throws here, before any write
        bytes += key.length;
      }
      try {
        const result = await op.commit();
        assert(result.ok, "a vocabulary commit checks nothing, so it cannot be refused");
      } catch (error) {
        this.#failure = error;
        throw failedError(error);
      }
      this.#durable = id;
    }
    try {
      await this.#budget.hold(); // far past its memory budget: a checkpoint first
    } catch (error) {
      this.#failure = error;
      throw failedError(error);
    }
  }

  /** Takes back every id given and not committed (the import that gave them stopped). */
  forgetUncommitted(): void {
    this.#words.truncate(this.#durable);
  }

  /** The key of word `id`'s entry. */
  #entryKey(id: number): Uint8Array {
    const word = this.#words.view(id);
    const key = new Uint8Array(1 + word.length);
    key[0] = wordKeyByte;
    key.set(word, 1);
    return key;
  }

  /** Closes the vocabulary's store. */
  async close(): Promise<void> {
    await this.store.close();
  }
}

/** The error of a commit to a vocabulary that failed. */
function failedError(cause: unknown): Error {
  return new Error(
    `Cannot write the vocabulary: it failed (${(cause as Error)?.message ?? cause}); ` +
      `reopen the n-gram store to go on`,
    { cause },
  );
}
