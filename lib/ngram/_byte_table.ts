/**
 * A hash table from byte strings to dense indices (0, 1, 2, ... in the
 * order the strings were added), looked up by a slice of a caller's bytes.
 *
 * An import looks up every token of every n-gram in its shard's vocabulary
 * and every n-gram's key in its chunk. With strings as `Map` keys each
 * lookup built a string and hashed it: 45% of an import's time went to
 * that and to the garbage it left. Here a lookup hashes the bytes where
 * they lie, compares them with the stored copy, and allocates nothing; the
 * strings themselves sit end to end in one growable byte arena.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { fnvBasis, fnvPrime } from "./_keys.ts";

/** Slots per entry at most before the slot array doubles (a load of 0.5). */
const slotsPerEntryMin = 2;
/** Slots of a new table. */
const slotsInitial = 1024;
/** Bytes of a new arena. */
const arenaBytesInitial = 16 * 1024;
/** The most entries a table holds (indices are int32). */
export const byteTableEntriesMax = 2 ** 30;
/** The most bytes its arena holds. */
const arenaBytesMax = 2 ** 31 - 1;

/**
 * FNV-1a (32 bits) of `bytes[start, end)`: the hash {@link ByteTable} uses,
 * and the routing hash of a first token (see `_keys.ts`).
 */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = fnvBasis;
  for (let at = start; at < end; at++) hash = Math.imul(hash ^ bytes[at], fnvPrime);
  return hash >>> 0;
}

/** See the module notes. */
export class ByteTable {
  /** Slot → entry index + 1 (0: empty). */
  #slots = new Int32Array(slotsInitial);
  #hashes = new Uint32Array(slotsInitial / slotsPerEntryMin);
  #starts = new Int32Array(slotsInitial / slotsPerEntryMin);
  #arena = new Uint8Array(arenaBytesInitial);
  #arenaUsed = 0;
  #size = 0;

  /** The number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The index of `bytes[start, end)` (whose {@link hashBytes} is `hash`), or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const length = end - start;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const entry = slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.#hashes[entry] !== hash) continue;
      const from = this.#starts[entry];
      if (this.#starts[entry + 1] - from === length && this.#equal(from, bytes, start, length)) {
        return entry;
      }
    }
  }

  /** Adds `bytes[start, end)` (absent; its hash is `hash`); returns its index. */
  add(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const entry = this.#size;
    assert(entry < byteTableEntriesMax, "a byte table holds at most 2^30 entries");
    if ((entry + 1) * slotsPerEntryMin > this.#slots.length) this.#grow();
    if (entry + 1 >= this.#starts.length) this.#growEntries();
    const length = end - start;
    this.#reserve(length);
    const arena = this.#arena;
    const to = this.#arenaUsed - start;
    for (let at = start; at < end; at++) arena[to + at] = bytes[at];
    this.#starts[entry] = this.#arenaUsed;
    this.#arenaUsed += length;
    this.#starts[entry + 1] = this.#arenaUsed;
    this.#hashes[entry] = hash;
    this.#size = entry + 1;
    this.#place(entry, hash);
    return entry;
  }

  /** The bytes of entry `index`, a view of the arena valid until the next {@link add}. */
  view(index: number): Uint8Array {
    assert(index >= 0 && index < this.#size, "a byte table index is in range");
    return this.#arena.subarray(this.#starts[index], this.#starts[index + 1]);
  }

  /**
   * Empties the table and gives it a new arena, so views handed out before
   * ({@link ByteTable.view}) keep their bytes: a caller that gave them away
   * (an import's keys, to the store) never sees them change.
   */
  clear(): void {
    this.#arena = new Uint8Array(this.#arena.length);
    this.#arenaUsed = 0;
    this.#size = 0;
    this.#slots.fill(0);
  }

  /** Drops every entry from `size` on (the newest ones). */
  truncate(size: number): void {
    assert(size >= 0 && size <= this.#size, "a byte table shrinks to a size it had");
    if (size === this.#size) return;
    this.#size = size;
    this.#arenaUsed = size === 0 ? 0 : this.#starts[size];
    this.#slots.fill(0);
    for (let entry = 0; entry < size; entry++) this.#place(entry, this.#hashes[entry]);
  }

  #equal(from: number, bytes: Uint8Array, start: number, length: number): boolean {
    const arena = this.#arena;
    for (let i = 0; i < length; i++) {
      if (arena[from + i] !== bytes[start + i]) return false;
    }
    return true;
  }

  #place(entry: number, hash: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hash & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = entry + 1;
  }

  #grow(): void {
    this.#slots = new Int32Array(this.#slots.length * 2);
    for (let entry = 0; entry < this.#size; entry++) this.#place(entry, this.#hashes[entry]);
  }

  #growEntries(): void {
    const capacity = this.#starts.length * 2;
    const starts = new Int32Array(capacity);
    starts.set(this.#starts);
    this.#starts = starts;
    const hashes = new Uint32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
  }

  #reserve(length: number): void {
    const needed = this.#arenaUsed + length;
    if (needed <= this.#arena.length) return;
    if (needed > arenaBytesMax) {
      throw new RangeError(`Cannot hold more words: a table's bytes stop at ${arenaBytesMax}`);
    }
    const arena = new Uint8Array(Math.min(arenaBytesMax, Math.max(needed, this.#arena.length * 2)));
    arena.set(this.#arena.subarray(0, this.#arenaUsed));
    this.#arena = arena;
  }
}
