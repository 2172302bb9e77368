/**
 * What an import gathers for one shard between two commits: the n-grams'
 * keys with their summed counts (words new to the store's vocabulary get
 * ids as they come). Gathering per chunk rather than writing each n-gram at
 * once lets one atomic commit carry the counts and the file's progress
 * together, which is what makes an import exactly once.
 *
 * @module
 */

import { fnvBasis, fnvPrime, idBytesMax, orderMax, writeId } from "./_keys.ts";
import type { Shard } from "./_shard.ts";
import { ByteTable, hashBytes } from "./_byte_table.ts";

/** The longest key a chunk builds: an order byte and {@link orderMax} ids. */
const keyBytesMax = 1 + orderMax * idBytesMax;
/** The longest first token whose id a chunk keeps for the next n-gram. */
const lastFirstBytesMax = 256;

/** One shard's part of a chunk. */
export class ShardChunk {
  /** The shard. */
  readonly shard: Shard;
  /** The keys, in the order first seen. */
  readonly #keys = new ByteTable();
  /** Their counts, summed, by the keys' indices. */
  #counts: number[] = [];
  /** Scratch for a key being built. */
  readonly #scratch = new Uint8Array(keyBytesMax);
  /** The last first token (see {@link ShardChunk.#firstId}); its id -1 when none is kept. */
  readonly #lastFirst = new Uint8Array(lastFirstBytesMax);
  #lastFirstLength = 0;
  #lastFirstHash = 0;
  #lastFirstId = -1;

  /** @param shard The shard the chunk goes to. */
  constructor(shard: Shard) {
    this.shard = shard;
  }

  /** The number of distinct keys gathered. */
  get size(): number {
    return this.#keys.size;
  }

  /** Whether the chunk holds nothing to write. */
  get empty(): boolean {
    return this.#keys.size === 0;
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
   * spaces, already checked by the reader), giving new words ids. Its first
   * token ends at `firstEnd` and hashes to `firstHash` (the routing hash).
   */
  add(
    bytes: Uint8Array,
    start: number,
    end: number,
    count: number,
    firstEnd: number,
    firstHash: number,
  ): void {
    const scratch = this.#scratch;
    if (firstEnd === start) throw badNgram(bytes, start, end, "an empty token");
    let at = writeId(scratch, 1, this.#firstId(bytes, start, firstEnd, firstHash));
    let order = 1;
    let tokenStart = firstEnd + 1;
    let hash = fnvBasis;
    for (let i = tokenStart; i <= end; i++) {
      const byte = i < end ? bytes[i] : 0x20;
      if (byte !== 0x20) {
        hash = Math.imul(hash ^ byte, fnvPrime);
        continue;
      }
      // A source of the library's own readers never hands these; another one may.
      if (i === tokenStart) throw badNgram(bytes, start, end, "an empty token");
      if (++order > orderMax) throw badNgram(bytes, start, end, `more than ${orderMax} tokens`);
      at = writeId(scratch, at, this.#idOf(bytes, tokenStart, i, hash >>> 0));
      tokenStart = i + 1;
      hash = fnvBasis;
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

  /** The id of word `bytes[start, end)` (hash `hash`), given one if new. */
  #idOf(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const vocabulary = this.shard.vocabulary;
    const id = vocabulary.idOf(bytes, start, end, hash);
    return id >= 0 ? id : vocabulary.assignId(bytes, start, end, hash);
  }

  /**
   * The id of the first token: sorted inputs (Google's files) give one
   * history many n-grams in a row, so the last first token's id is kept and
   * its bytes compared before the vocabulary is asked.
   */
  #firstId(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const last = this.#lastFirst;
    const length = end - start;
    if (
      this.#lastFirstId >= 0 && this.#lastFirstLength === length && this.#lastFirstHash === hash
    ) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (last[i] !== bytes[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastFirstId;
    }
    const id = this.#idOf(bytes, start, end, hash);
    if (length <= last.length) {
      for (let i = 0; i < length; i++) last[i] = bytes[start + i];
      this.#lastFirstLength = length;
      this.#lastFirstHash = hash;
      this.#lastFirstId = id;
    }
    return id;
  }

  /** Empties the chunk after its commit. */
  reset(): void {
    this.#keys.clear();
    this.#counts = [];
  }

  /**
   * Empties the chunk when its commit did not happen (the import stops and
   * takes back the ids it gave that are not durable).
   */
  abandon(): void {
    this.#lastFirstId = -1; // its id may be one taken back
    this.reset();
  }
}

/** The error for an n-gram a source handed that the store cannot key. */
function badNgram(bytes: Uint8Array, start: number, end: number, what: string): RangeError {
  const text = new TextDecoder().decode(bytes.subarray(start, Math.min(end, start + 80)));
  return new RangeError(
    `Cannot import: the source handed "${text}", which has ${what}; separate at most ` +
      `${orderMax} tokens by single spaces`,
  );
}
