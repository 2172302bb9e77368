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
import { byteString } from "./_text.ts";

/** The longest key a chunk builds: an order byte and {@link orderMax} ids. */
const keyBytesMax = 1 + orderMax * idBytesMax;

/** One shard's part of a chunk. */
export class ShardChunk {
  /** The shard. */
  readonly shard: Shard;
  /** Keys, in the order first seen. */
  keys: Uint8Array[] = [];
  /** Their counts, summed. */
  counts: number[] = [];
  /** Key (as a one-byte string) → its index in {@link keys}. */
  #index = new Map<string, number>();
  /** The first id given to a word in this chunk (the vocabulary's size before it). */
  firstNewId: number;
  /** Scratch for a key being built. */
  readonly #scratch = new Uint8Array(keyBytesMax);

  /** @param shard The shard the chunk goes to. */
  constructor(shard: Shard) {
    this.shard = shard;
    this.firstNewId = shard.vocabularySize;
  }

  /** Whether the chunk holds nothing to write. */
  get empty(): boolean {
    return this.keys.length === 0 && this.firstNewId === this.shard.vocabularySize;
  }

  /**
   * Adds `count` to the n-gram `bytes[start, end)` (tokens split by single
   * spaces, already checked by the reader), giving new words ids.
   */
  add(bytes: Uint8Array, start: number, end: number, count: number): void {
    const scratch = this.#scratch;
    let at = 1;
    let order = 0;
    let tokenStart = start;
    for (let i = start; i <= end; i++) {
      if (i < end && bytes[i] !== 0x20) continue;
      const word = byteString(bytes, tokenStart, i);
      const id = this.shard.idOf(word) ?? this.shard.assignId(word);
      at = writeId(scratch, at, id);
      order++;
      tokenStart = i + 1;
    }
    scratch[0] = order;
    const name = byteString(scratch, 0, at);
    const index = this.#index.get(name);
    if (index !== undefined) {
      this.counts[index] += count;
      return;
    }
    this.#index.set(name, this.keys.length);
    this.keys.push(scratch.slice(0, at));
    this.counts.push(count);
  }

  /** Empties the chunk after its commit. */
  reset(): void {
    this.keys = [];
    this.counts = [];
    this.#index = new Map();
    this.firstNewId = this.shard.vocabularySize;
  }

  /** Takes back the words this chunk gave ids (its commit did not happen) and empties it. */
  abandon(): void {
    this.shard.forgetWords(this.firstNewId);
    this.reset();
  }
}
