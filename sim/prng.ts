/**
 * Deterministic randomness for the simulator: a 32-bit hash ({@link hash32})
 * and a small seeded generator ({@link Prng}). Nothing here reads
 * `Math.random`, the clock or any other ambient state, so one seed replays a
 * whole run.
 *
 * Fault decisions use {@link eventPrng}: a generator derived from the seed and
 * the identity of one event (which file, which kind of operation, which
 * occurrence), never from one running stream. Removing an unrelated event
 * from a run (what a shrinker does) then leaves every other decision as it was.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/** The most parts one {@link hash32} call mixes. */
const hashPartsMax = 64;
/** The longest string {@link hashString} hashes, in UTF-16 code units. */
const hashStringUnitsMax = 1 << 20;
/** The longest byte array {@link hashBytes} hashes (the engine's largest I/O). */
const hashBytesMax = 1 << 30;
/** Outputs discarded after seeding, so nearby seeds start far apart. */
const prngWarmupRounds = 12;
/** Draws {@link Prng.below} tries before its (never reached) fallback. */
const belowAttemptsMax = 64;
/** 2^32: the number of distinct `u32()` outputs. */
const twoPow32 = 0x1_0000_0000;
/** The initial state of every hash (the murmur3 seed). */
const hashSeed = 0x2f1e_9bd3;

/** One murmur3_32 body round: mixes the 32-bit `word` into the state `h`. */
function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51); // Math.imul takes its operands mod 2^32.
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser (fmix32): every input bit flips each output bit with p ≈ 1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes any number of integers to one unsigned 32-bit integer: murmur3_32's
 * body over the parts (each taken mod 2^32, like `x >>> 0`), then its
 * avalanche finaliser over the state and the part count. Not cryptographic;
 * strong enough that nearby inputs (seed 1 and seed 2, index 7 and index 8)
 * give unrelated outputs.
 *
 * @param parts Safe integers, at most 64 of them.
 * @returns An integer in `[0, 2^32)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hash32 } from "./prng.ts";
 * assert.ok(hash32(1, 2) === hash32(1, 2));
 * assert.ok(hash32(1, 2) !== hash32(2, 1));
 * ```
 */
export function hash32(...parts: number[]): number {
  assert(parts.length <= hashPartsMax, "hash32 takes at most 64 parts");
  let h = hashSeed;
  for (const part of parts) {
    assert(Number.isSafeInteger(part), "hash32 parts must be safe integers");
    h = mixWord(h, part);
  }
  const result = fmix32(h ^ parts.length);
  assert(result >= 0 && result < twoPow32, "hash32 must return an unsigned 32-bit integer");
  return result;
}

/**
 * Hashes a string (its UTF-16 code units, two per word) with the scheme of
 * {@link hash32}.
 *
 * @param text At most 2^20 code units.
 * @returns An integer in `[0, 2^32)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashString } from "./prng.ts";
 * assert.ok(hashString("wal-1.wal") !== hashString("wal-2.wal"));
 * ```
 */
export function hashString(text: string): number {
  assert(text.length <= hashStringUnitsMax, "hashString takes at most 2^20 code units");
  let h = hashSeed ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i += 2) {
    const high = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    h = mixWord(h, text.charCodeAt(i) | (high << 16));
  }
  return fmix32(h ^ text.length);
}

/**
 * Hashes bytes (four per word, little-endian) with the scheme of {@link hash32}.
 *
 * @param bytes At most 1 GiB.
 * @returns An integer in `[0, 2^32)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashBytes } from "./prng.ts";
 * assert.ok(hashBytes(new Uint8Array([1])) !== hashBytes(new Uint8Array([1, 0])));
 * ```
 */
export function hashBytes(bytes: Uint8Array): number {
  assert(bytes.length <= hashBytesMax, "hashBytes takes at most 1 GiB");
  let h = hashSeed ^ 0x27d4eb2f;
  const whole = bytes.length - (bytes.length % 4);
  for (let i = 0; i < whole; i += 4) {
    h = mixWord(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  let tail = 0;
  for (let i = whole; i < bytes.length; i++) tail |= bytes[i] << (8 * (i - whole));
  if (whole < bytes.length) h = mixWord(h, tail);
  return fmix32(h ^ bytes.length);
}

/**
 * A small, fast, seeded pseudo-random generator: Chris Doty-Humphrey's sfc32
 * (128 bits of state, 32-bit operations only, passes PractRand), seeded
 * through {@link hash32}.
 *
 * @example Drawing numbers
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const a = new Prng(42);
 * const b = new Prng(42);
 * assert.ok(a.u32() === b.u32());
 * const die = a.below(6);
 * assert.ok(die >= 0 && die < 6);
 * assert.ok(a.chance(1) && !a.chance(0));
 * assert.ok(["x", "y"].includes(a.pick(["x", "y"])));
 * ```
 */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Seeds the generator.
   *
   * @param seed A safe integer; only its low 32 bits count.
   */
  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), "the seed must be a safe integer");
    this.#a = hash32(seed, 0xa);
    this.#b = hash32(seed, 0xb);
    this.#c = hash32(seed, 0xc);
    this.#d = hash32(seed, 0xd);
    for (let i = 0; i < prngWarmupRounds; i++) this.u32();
  }

  /**
   * Draws the next unsigned 32-bit integer.
   *
   * @returns An integer in `[0, 2^32)`.
   */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /**
   * Draws a number in `[0, 1)` with 32 random bits.
   *
   * @returns A multiple of 2^-32 in `[0, 1)`.
   */
  unit(): number {
    const result = this.u32() / twoPow32;
    assert(result >= 0 && result < 1, "unit must be in [0, 1)");
    return result;
  }

  /**
   * Draws an integer uniformly from `[0, n)`, without modulo bias (rejection
   * sampling).
   *
   * @param n An integer in `[1, 2^32]`.
   * @returns An integer in `[0, n)`.
   */
  below(n: number): number {
    assert(Number.isSafeInteger(n) && n >= 1 && n <= twoPow32, "below needs n in [1, 2^32]");
    if (n === twoPow32) return this.u32();
    // The largest multiple of n not above 2^32: draws at or past it would favour small results.
    const limit = twoPow32 - (twoPow32 % n);
    for (let attempt = 0; attempt < belowAttemptsMax; attempt++) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
    // Each draw is rejected with probability below 1/2: reaching here has odds under 2^-64.
    return this.u32() % n;
  }

  /**
   * Draws true with probability `p`. Always consumes one draw, whatever `p`,
   * so later draws do not shift when a probability changes.
   *
   * @param p A probability in `[0, 1]`.
   * @returns True with probability `p`.
   */
  chance(p: number): boolean {
    assert(p >= 0 && p <= 1, "chance needs a probability in [0, 1]");
    return this.unit() < p;
  }

  /**
   * Draws one element of `array`, uniformly.
   *
   * @param array A non-empty array.
   * @returns One of its elements.
   */
  pick<T>(array: readonly T[]): T {
    assert(array.length > 0, "pick needs a non-empty array");
    return array[this.below(array.length)];
  }

  /**
   * Derives an independent child generator for `label` from the current
   * state. The parent does not advance, so forking never shifts its stream;
   * different labels give unrelated children.
   *
   * @param label A safe integer naming the child stream.
   * @returns The child generator.
   */
  fork(label: number): Prng {
    assert(Number.isSafeInteger(label), "the fork label must be a safe integer");
    return new Prng(hash32(this.#a, this.#b, this.#c, this.#d, label));
  }
}

/**
 * A generator for one event, derived from the run's seed and the event's
 * identity alone: `stream` names a family of events (e.g. a hash of the
 * operation kind and the file name) and `index` the occurrence within it.
 * Decisions drawn from it do not depend on any other event, so adding or
 * removing unrelated events leaves them unchanged.
 *
 * @param seed The run's seed.
 * @param stream The event family, e.g. `hash32(kind, hashString(name))`.
 * @param index The event's occurrence number within its family.
 * @returns A fresh generator for that event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventPrng, hash32, hashString } from "./prng.ts";
 * const stream = hash32(1, hashString("wal-1.wal"));
 * assert.ok(eventPrng(7, stream, 3).u32() === eventPrng(7, stream, 3).u32());
 * ```
 */
export function eventPrng(seed: number, stream: number, index: number): Prng {
  assert(Number.isSafeInteger(stream) && Number.isSafeInteger(index), "event ids must be integers");
  assert(index >= 0, "the event index must not be negative");
  return new Prng(hash32(seed, stream, index));
}
