/**
 * The memory budget's cooling queue: the paths of the nodes loaded, oldest
 * first, in one ring of bytes of a fixed size. A round of evictions takes
 * candidates from its head instead of walking the trie to find them (the
 * walk was a third of a budgeted read's time), and puts back at the tail
 * the ones that must stay for now (read since the last round, pinned, or
 * with loaded children below them): a FIFO with a second chance, as
 * LeanStore's cooling stage.
 *
 * A path is the key bytes from the root to and including the branching byte
 * into a node (a `StubRef`'s). Each entry is its length in two bytes, then
 * its bytes; an entry that would not fit before the ring's end starts at
 * its beginning, after a wrap mark. When the ring is full, the oldest
 * entries are dropped: their nodes stay loaded, and the budget's clock
 * hand finds them instead. So it does for paths longer than
 * {@link queuedPathBytesMax}, which are not queued.
 *
 * @module
 */

import { assert } from "../_assert.ts";

/** Bytes before each entry's path: its length. */
const lengthBytes = 2;
/** The length mark of a wrap: the next entry is at the ring's start. */
const wrapMark = 0xffff;
/** Paths longer than this are not queued (few nodes lie so deep; the clock hand finds them). */
export const queuedPathBytesMax = 256;
/** The smallest ring: room for a few of the longest paths. */
export const pathQueueBytesMin = 4 * (queuedPathBytesMax + lengthBytes);

/** A FIFO of paths in a fixed ring of bytes (see the module notes). */
export class PathQueue {
  readonly #ring: Uint8Array;
  /** Where the oldest entry starts. */
  #head = 0;
  /** Where the next entry goes. */
  #tail = 0;
  /** Entries held: from head to tail, or (wrapped) from head to the end and from 0 to tail. */
  #length = 0;
  /** Entries dropped, oldest first, to make room. */
  dropped = 0;

  constructor(bytes: number) {
    assert(Number.isSafeInteger(bytes) && bytes >= pathQueueBytesMin, "a ring holds long paths");
    this.#ring = new Uint8Array(bytes);
  }

  /** Entries held. */
  get length(): number {
    return this.#length;
  }

  /** The ring's size in bytes (what it takes of the budget). */
  get bytes(): number {
    return this.#ring.length;
  }

  /**
   * Appends `path`, dropping the oldest entries if the ring is full; a path
   * longer than {@link queuedPathBytesMax} is not queued. False if it was not.
   */
  push(path: Uint8Array): boolean {
    if (path.length > queuedPathBytesMax) return false;
    const size = lengthBytes + path.length;
    // An entry that would not fit before the end wraps: a mark, and the ring's start.
    for (let drops = 0; !this.#fits(size); drops++) {
      assert(drops <= this.#ring.length, "a full ring empties in as many drops as it has bytes");
      this.#dropOldest();
    }
    if (this.#tail + size > this.#ring.length) {
      // Fewer than two bytes before the end need no mark: a reader wraps there anyway.
      if (this.#tail + lengthBytes <= this.#ring.length) this.#writeLength(this.#tail, wrapMark);
      this.#tail = 0;
    }
    this.#writeLength(this.#tail, path.length);
    this.#ring.set(path, this.#tail + lengthBytes);
    this.#tail += size;
    this.#length++;
    return true;
  }

  /**
   * Removes and returns the oldest path, or undefined when empty: a copy,
   * or with `into` (at least {@link queuedPathBytesMax} bytes) a view of it
   * (no allocation per path; valid until `into` is reused).
   */
  shift(into?: Uint8Array): Uint8Array | undefined {
    if (this.#length === 0) return undefined;
    this.#skipWrap();
    const length = this.#readLength(this.#head);
    const start = this.#head + lengthBytes;
    assert(into === undefined || into.length >= length, "a scratch holds any queued path");
    const bytes = this.#ring.subarray(start, start + length);
    const path = into === undefined ? bytes.slice() : into.subarray(0, length);
    if (into !== undefined) path.set(bytes);
    this.#head = start + length;
    this.#length--;
    if (this.#length === 0) this.#head = this.#tail = 0;
    return path;
  }

  /** Whether an entry of `size` bytes fits now (after a wrap if need be). */
  #fits(size: number): boolean {
    if (this.#length === 0) {
      this.#head = this.#tail = 0;
      return true;
    }
    // Not wrapped: free before the end, or (after a wrap) before the head.
    if (this.#tail > this.#head) {
      return this.#tail + size <= this.#ring.length || size <= this.#head;
    }
    return this.#tail + size <= this.#head; // wrapped: free between tail and head
  }

  #dropOldest(): void {
    assert(this.#length > 0, "only a ring holding entries is full");
    this.shift();
    this.dropped++;
  }

  /** At the head, passes a wrap mark (or the ring's end) to the ring's start. */
  #skipWrap(): void {
    const end = this.#ring.length;
    if (this.#head + lengthBytes > end || this.#readLength(this.#head) === wrapMark) this.#head = 0;
  }

  #readLength(at: number): number {
    return this.#ring[at] | (this.#ring[at + 1] << 8);
  }

  #writeLength(at: number, length: number): void {
    this.#ring[at] = length & 0xff;
    this.#ring[at + 1] = length >>> 8;
  }
}
