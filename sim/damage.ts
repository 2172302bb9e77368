/**
 * Destroyed byte ranges: where a simulated file's bytes are not the bytes the
 * engine last wrote there and the disk reported durable, because a fault
 * destroyed them (a misdirected write that never reached its offset, or that
 * landed on other bytes; a header sector the crash lost). The simulated disk
 * keeps one {@link DamageMap} per file for what reads see and one for what
 * survives a crash, and the oracle excuses a loss or a corruption report only
 * when the bytes concerned lie in such a range: a torn or dropped write that
 * was never synced is ordinary crash loss, never damage.
 *
 * Each range keeps the bytes that should be there when they are known (a
 * misdirected write's own bytes, the bytes a landing overwrote), so the
 * oracle can tell what a destroyed header held.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/** One destroyed range `[start, end)`, with the bytes the engine expects there if known. */
export interface Damage {
  /** The first destroyed byte. */
  readonly start: number;
  /** One past the last destroyed byte. */
  readonly end: number;
  /** What should be there (`end - start` bytes), if known. */
  readonly expected?: Uint8Array;
}

/** The most disjoint ranges one file keeps (misdirected writes are rare; this bounds a storm). */
const rangesMax = 1 << 14;

/**
 * The destroyed ranges of one file, sorted and disjoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DamageMap } from "./damage.ts";
 * const damage = new DamageMap();
 * damage.add(100, 200);
 * damage.heal(120, 150);
 * assert.ok(damage.overlaps(110, 111) && !damage.overlaps(130, 140));
 * damage.clip(110);
 * assert.ok(damage.ranges().length === 1 && damage.ranges()[0].end === 110);
 * ```
 */
export class DamageMap {
  #ranges: Damage[] = [];

  /** The ranges, sorted by start. */
  ranges(): readonly Damage[] {
    return this.#ranges;
  }

  /** Whether nothing is destroyed. */
  get empty(): boolean {
    return this.#ranges.length === 0;
  }

  /** A copy (ranges are immutable, so shared). */
  copy(): DamageMap {
    const copy = new DamageMap();
    copy.#ranges = this.#ranges.slice();
    return copy;
  }

  /** Whether any destroyed byte lies in `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    return this.#ranges.some((range) => range.start < end && start < range.end);
  }

  /**
   * Marks `[start, end)` destroyed. Where it meets a range already destroyed,
   * that range keeps its expected bytes: the engine still expects what it
   * wrote before the first fault.
   */
  add(start: number, end: number, expected?: Uint8Array): void {
    assert(Number.isSafeInteger(start) && start >= 0 && end >= start, "a byte range");
    assert(expected === undefined || expected.length === end - start, "expected bytes fit");
    if (start === end) return;
    const pieces: Damage[] = [];
    let cursor = start;
    for (const range of this.#ranges) {
      if (range.end <= cursor || range.start >= end) continue;
      if (range.start > cursor) pieces.push(cut({ start, end, expected }, cursor, range.start));
      cursor = Math.max(cursor, range.end);
    }
    if (cursor < end) pieces.push(cut({ start, end, expected }, cursor, end));
    this.#ranges = [...this.#ranges, ...pieces].sort((a, b) => a.start - b.start);
    assert(this.#ranges.length <= rangesMax, "a file's destroyed ranges stay bounded");
  }

  /** Marks `[start, end)` whole again: the engine's own bytes reached it. */
  heal(start: number, end: number): void {
    if (start >= end || !this.overlaps(start, end)) return;
    const kept: Damage[] = [];
    for (const range of this.#ranges) {
      if (range.end <= start || range.start >= end) {
        kept.push(range);
        continue;
      }
      if (range.start < start) kept.push(cut(range, range.start, start));
      if (range.end > end) kept.push(cut(range, end, range.end));
    }
    this.#ranges = kept;
    assert(!this.overlaps(start, end), "a healed range holds no damage");
  }

  /** Forgets every range at or past `length` (the file was truncated there). */
  clip(length: number): void {
    this.heal(length, Number.MAX_SAFE_INTEGER);
  }
}

/** The part `[start, end)` of `range`. */
function cut(range: Damage, start: number, end: number): Damage {
  assert(range.start <= start && start < end && end <= range.end, "a cut lies inside its range");
  const expected = range.expected?.subarray(start - range.start, end - range.start);
  return expected === undefined ? { start, end } : { start, end, expected };
}
