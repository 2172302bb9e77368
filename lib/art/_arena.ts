/**
 * The memory every node of one trie lives in: a single `ArrayBuffer` seen as
 * 32-bit words (`i32`), bytes (`u8`) and 64-bit floats (`f64`). A node is a
 * run of words starting at an even word index, its ref; ref 0 is null.
 *
 * Why not a JS object per node: a lookup in a large trie is bound by
 * dependent cache misses, and an object per node (plus a string per prefix
 * and an array per wide node) costs two or three of them a level, while a
 * node packed in words costs about one. The nodes also cost the garbage
 * collector nothing: the young generation copied every new trie node once
 * or twice (18% of a bulk load's time), and the arena is one object. A
 * node freed by an edit goes on a free list of its size class and is
 * reused by the next node of that class.
 *
 * Growth copies the buffer, so the three views change: read them from the
 * arena after any call that may allocate, never keep one across it. The
 * buffer left is freed at once (detached: a view kept across would read
 * nothing), not when the garbage collector gets to it.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { MemoryLimitError } from "../errors.ts";

/** Words of a new arena's buffer (1 KiB): small tries stay small, and grow by doubling. */
const arenaWordsInitial = 256;
/** The buffer doubles up to this many words (256 MiB), then grows by half. */
const arenaDoublingWordsMax = 64 * 1024 * 1024;
/**
 * Refs are stored in int32 slots, so an arena holds fewer than 2^31 words
 * (8 GiB): about 150 million short keys.
 */
export const arenaWordsMax = 2 ** 31 - 2;
/** Words 0 and 1 are never a node: ref 0 means "no node". */
const arenaFirstRef = 2;
/** Block sizes up to this many words each have a free list of their own. */
const exactClassWordsMax = 64;
/** Classes of larger blocks: four per power of two. */
const classesPerDoubling = 4;
/** The `kind` a freed block carries in its first word (no node kind is 7). */
export const kindFree = 7;

/** The words a block of `words` takes: exact up to 64, else rounded up to a quarter power of two. */
export function classWords(words: number): number {
  assert(words >= 2 && words % 2 === 0, "blocks are an even number of words");
  if (words <= exactClassWordsMax) return words;
  const step = 1 << (31 - Math.clz32(words) - 2);
  return Math.ceil(words / step) * step;
}

/** The free list index of a class size ({@link classWords}). */
function classIndex(size: number): number {
  if (size <= exactClassWordsMax) return size >> 1;
  const bits = 31 - Math.clz32(size);
  const quarter = (size >>> (bits - 2)) & (classesPerDoubling - 1);
  return exactClassWordsMax / 2 + 1 + (bits - 6) * classesPerDoubling + quarter;
}

/** The nodes of one trie: allocation, freeing, and the three views of their words. */
export class Arena {
  /** The buffer as 32-bit words: node headers, child refs, generations. */
  i32: Int32Array;
  /** The buffer as bytes: prefixes and child key bytes. */
  u8: Uint8Array;
  /** The buffer as 64-bit floats: values and image addresses (at even word indexes). */
  f64: Float64Array;
  #top = arenaFirstRef;
  /** Free list heads by class index (0: empty); a free block's word 1 links the next. */
  readonly #freeHeads: number[] = [];
  #liveWords = 0;
  #freeWords = 0;

  constructor(words = arenaWordsInitial) {
    assert(words >= arenaFirstRef && words % 2 === 0, "an arena of even size");
    // A size reserved ahead (a whole open) falls back to the smallest; growth tries again.
    const buffer = allocateBuffer(words, Math.min(words, arenaWordsInitial), 0);
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  /** Words in live blocks (their class sizes). */
  get liveWords(): number {
    return this.#liveWords;
  }

  /** Bytes the buffer takes. */
  get bufferBytes(): number {
    return this.i32.byteLength;
  }

  /** Words on free lists, waiting for reuse. */
  get freeWords(): number {
    return this.#freeWords;
  }

  /**
   * A block of at least `words` words (even) whose contents are undefined:
   * the caller writes every word it reads. May grow the buffer: read the
   * views again afterwards.
   */
  alloc(words: number): number {
    const size = classWords(words);
    const index = classIndex(size);
    const head = this.#freeHeads[index] ?? 0;
    if (head !== 0) {
      assert(this.i32[head] === kindFree, "a free-list block is marked free");
      this.#freeHeads[index] = this.i32[head + 1];
      this.#freeWords -= size;
      this.#liveWords += size;
      return head;
    }
    const ref = this.#top;
    if (ref + size > this.i32.length) this.#grow(ref + size);
    this.#top = ref + size;
    this.#liveWords += size;
    assert(ref % 2 === 0 && this.#top <= this.i32.length, "blocks are even and in the buffer");
    return ref;
  }

  /** Gives back the block at `ref`, allocated for `words` words; it must not be used again. */
  free(ref: number, words: number): void {
    assert(ref >= arenaFirstRef && ref % 2 === 0 && ref < this.#top, "a ref of this arena");
    assert(this.i32[ref] !== kindFree, "a block freed twice");
    const size = classWords(words);
    const index = classIndex(size);
    this.i32[ref] = kindFree;
    this.i32[ref + 1] = this.#freeHeads[index] ?? 0;
    this.#freeHeads[index] = ref;
    this.#freeWords += size;
    this.#liveWords -= size;
  }

  /**
   * Grows the buffer to `words` words now (the views change), if it is
   * smaller and the process can give them; else nothing changes. Room for
   * a load whose size is known (a warm-up), with no copy per doubling.
   */
  reserve(words: number): void {
    if (words <= this.i32.length || words > arenaWordsMax) return;
    let buffer: ArrayBuffer;
    try {
      buffer = new ArrayBuffer((words + (words % 2)) * 4);
    } catch (error) {
      if (error instanceof RangeError) return; // "Array buffer allocation failed": grow later
      throw error;
    }
    this.#moveTo(buffer);
  }

  /**
   * A larger buffer holding at least `needed` words; the views change.
   * Grows by half or double for headroom, or, if the process cannot give
   * that much, by just enough. Throws {@link MemoryLimitError}, changing
   * nothing, when even that is refused or past {@link arenaWordsMax}.
   */
  #grow(needed: number): void {
    if (needed > arenaWordsMax) {
      throw new MemoryLimitError(
        `Cannot grow the trie's memory past its limit of ${arenaWordsMax * 4} bytes ` +
          `(int32 node refs): split the keys over several stores`,
      );
    }
    const length = this.i32.length;
    const least = needed + (needed % 2);
    let words = length < arenaDoublingWordsMax ? length * 2 : length + (length >> 1);
    words = Math.min(Math.max(words, least), arenaWordsMax);
    words += words % 2;
    assert(words >= least && words <= arenaWordsMax, "a growth within the limit");
    this.#moveTo(allocateBuffer(words, least, length));
  }

  /** Copies the blocks into `buffer`, which becomes the arena's, and releases the old one. */
  #moveTo(buffer: ArrayBuffer): void {
    const i32 = new Int32Array(buffer);
    i32.set(this.i32.subarray(0, this.#top));
    const old = this.i32.buffer;
    this.i32 = i32;
    this.u8 = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer);
    release(old);
  }

  /**
   * Gives the buffer's memory back now, not when the garbage collector gets
   * to it: the arena must not be used again (its views become empty). A
   * relocation calls it on the arena it left.
   */
  release(): void {
    const old = this.i32.buffer;
    this.i32 = new Int32Array(0);
    this.u8 = new Uint8Array(0);
    this.f64 = new Float64Array(0);
    this.#top = arenaFirstRef;
    this.#freeHeads.length = 0; // a block of the old buffer is no block of a new one
    this.#liveWords = 0;
    this.#freeWords = 0;
    release(old);
  }
}

/**
 * Frees `buffer`'s memory at once: a transfer detaches it, and a detached
 * buffer holds no memory. Left to the garbage collector, the buffers an
 * arena grew out of (each touched whole) stayed resident for seconds: in a
 * 100M-key import under a 1 GiB budget they were a third of the process's
 * peak resident set.
 */
function release(buffer: ArrayBufferLike): void {
  if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
}

/**
 * A buffer of `words` words or, if the process cannot give that much, of
 * `least`; throws {@link MemoryLimitError} if it cannot give that either
 * (`fromWords`: the buffer it was to replace, 0 for none).
 */
function allocateBuffer(words: number, least: number, fromWords: number): ArrayBuffer {
  assert(least <= words && least >= arenaFirstRef, "a fallback no larger than the wish");
  for (const size of least === words ? [words] : [words, least]) {
    try {
      return new ArrayBuffer(size * 4);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error; // "Array buffer allocation failed"
    }
  }
  const from = fromWords === 0 ? "" : ` from ${fromWords * 4}`;
  throw new MemoryLimitError(
    `Cannot grow the trie's memory${from} to ${least * 4} bytes: the process is out of ` +
      `memory; run it where more memory is free, or split the keys over several stores`,
  );
}
