/**
 * What an import gathers for one shard between two commits: the n-grams'
 * keys with their summed counts, and the words new to the shard's
 * vocabulary that those keys use. Gathering per chunk rather than writing
 * each n-gram at once lets one atomic commit carry the counts, the new
 * words and the file's progress together, which is what makes an import
 * exactly once.
 *
 * @module
 */

import { idBytesMax, orderMax, writeId } from "./_keys.ts";
import type { Shard } from "./_shard.ts";
import { ByteTable, hashBytes } from "./_byte_table.ts";

/** The longest key a chunk builds: an order byte and {@link orderMax} ids. */
const keyBytesMax = 1 + orderMax * idBytesMax;

/** One shard's part of a chunk. */
export class ShardChunk {
  /** The shard. */
  readonly shard: Shard;
  /** The keys, in the order first seen. */
  readonly #keys = new ByteTable();
  /** Their counts, summed, by the keys' indices. */
  #counts: number[] = [];
  /** The first id given to a word in this chunk (the vocabulary's size before it). */
  firstNewId: number;
  /** Scratch for a key being built. */
  readonly #scratch = new Uint8Array(keyBytesMax);

  /** @param shard The shard the chunk goes to. */
  constructor(shard: Shard) {
    this.shard = shard;
    this.firstNewId = shard.vocabularySize;
  }

  /** The number of distinct keys gathered. */
  get size(): number {
    return this.#keys.size;
  }

  /** Whether the chunk holds nothing to write. */
  get empty(): boolean {
    return this.#keys.size === 0 && this.firstNewId === this.shard.vocabularySize;
  }

  /**
   * Key `index`'s bytes: a view the store may keep, since {@link reset}
   * moves the chunk to a new arena instead of writing over this one.
   */
  key(index: number): Uint8Array {
    return this.#keys.view(index);
  }

  /** Key `index`'s count. */
  count(index: number): number {
    return this.#counts[index];
  }

  /**
   * Adds `count` to the n-gram `bytes[start, end)` (tokens split by single
   * spaces, already checked by the reader), giving new words ids.
   */
  add(bytes: Uint8Array, start: number, end: number, count: number): void {
    const scratch = this.#scratch;
    const shard = this.shard;
    let at = 1;
    let order = 0;
    let tokenStart = start;
    let hash = 0x811c9dc5;
    for (let i = start; i <= end; i++) {
      const byte = i < end ? bytes[i] : 0x20;
      if (byte !== 0x20) {
        hash = Math.imul(hash ^ byte, 0x01000193);
        continue;
      }
      const wordHash = hash >>> 0;
      let id = shard.idOf(bytes, tokenStart, i, wordHash);
      if (id < 0) id = shard.assignId(bytes, tokenStart, i, wordHash);
      at = writeId(scratch, at, id);
      order++;
      tokenStart = i + 1;
      hash = 0x811c9dc5;
    }
    scratch[0] = order;
    const keyHash = hashBytes(scratch, 0, at);
    const index = this.#keys.find(scratch, 0, at, keyHash);
    if (index >= 0) {
      this.#counts[index] += count;
      return;
    }
    this.#keys.add(scratch, 0, at, keyHash);
    this.#counts.push(count);
  }

  /** Empties the chunk after its commit. */
  reset(): void {
    this.#keys.clear();
    this.#counts = [];
    this.firstNewId = this.shard.vocabularySize;
  }

  /** Takes back the words this chunk gave ids (its commit did not happen) and empties it. */
  abandon(): void {
    this.shard.forgetWords(this.firstNewId);
    this.reset();
  }
}
