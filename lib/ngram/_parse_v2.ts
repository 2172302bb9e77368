/**
 * The reader of Google Books Ngram v2 files (20120701): one row per n-gram
 * and year, `ngram TAB year TAB match_count TAB volume_count`, the rows of
 * one n-gram consecutive. The hottest loop of an import, so it works on
 * bytes only: a row whose n-gram is the previous row's is recognised by
 * comparing bytes (no scan, no check: the first row checked it), counts are
 * parsed from digits, and nothing is allocated per row.
 *
 * A run of rows of one n-gram becomes one n-gram for the sink: the sum of
 * the match counts of its rows within the years filter, handed with the
 * offset of its first row once the next n-gram starts (or the content
 * ends). Until then the n-gram is pending: {@link V2Parser.pendingOffset} is
 * where its first row starts, which is how far a boundary may go. If the
 * same n-gram comes again later, not next to its run, it is handed again
 * (the store adds). Rows are not checked for order.
 *
 * @module
 */

import { LineParser, type ParserSettings } from "./_parser.ts";
import {
  carriageReturn,
  checkNgram,
  countDigitsMax,
  digitZero,
  lineFeed,
  ngramMalformed,
  ngramTagged,
  sameBytes,
  tab,
  yearDigitsMax,
} from "./_scan.ts";

/** Bytes first reserved for the pending n-gram; it grows to the longest one met. */
const ngramBytesInitial = 256;

/** Reads v2 rows. */
export class V2Parser extends LineParser {
  readonly format = "v2";
  /** The pending n-gram's bytes are `#ngram[0, #ngramLength)`. */
  #ngram = new Uint8Array(ngramBytesInitial);
  #ngramLength = 0;
  /** Where the pending n-gram's first row starts; -1 when none is pending. */
  #ngramOffset = -1;
  /** The sum of its match counts within the years. */
  #sum = 0;
  /** Whether it has a part-of-speech token and tags are dropped. */
  #tagged = false;
  /** Whether it began before `resumeFrom`: passed over, neither handed nor filtered. */
  #resumed = false;
  /** The offset of the run held last: runs are held in content order. */
  #heldOffset = -1;
  readonly #yearFrom: number;
  readonly #yearTo: number;

  constructor(settings: ParserSettings) {
    super(settings);
    this.#yearFrom = settings.filters.yearFrom;
    this.#yearTo = settings.filters.yearTo;
  }

  override pendingOffset(): number {
    return this.#ngramOffset;
  }

  override finish(): void {
    this.#flush();
  }

  /** Reads v2 rows; see {@link LineParser.parse}. */
  parse(b: Uint8Array, start: number, base: number, last: boolean): number {
    const end = b.length;
    let pos = this.resuming ? this.passOver(b, start, base, last) : start;
    if (this.resuming) return pos; // still before resumeFrom: the next piece goes on
    while (pos < end) {
      const lineStart = pos;
      const length = this.#ngramLength;
      let i = lineStart + length;
      const same = this.#ngramOffset >= 0 && i < end && b[i] === tab &&
        sameBytes(b, lineStart, this.#ngram, length);
      if (!same) {
        i = lineStart;
        while (i < end && b[i] !== tab && b[i] !== lineFeed) i++;
        if (i === end || b[i] !== tab) return this.malformed(b, lineStart, last);
      }
      const ngramEnd = i;
      let from = ++i;
      let year = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        year = year * 10 + digit;
      }
      if (i >= end || b[i] !== tab || i === from || i - from > yearDigitsMax) {
        return this.malformed(b, lineStart, last);
      }
      from = ++i;
      let match = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        match = match * 10 + digit;
      }
      if (i >= end || b[i] !== tab || i === from || i - from > countDigitsMax) {
        return this.malformed(b, lineStart, last);
      }
      from = ++i;
      let volume = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        volume = volume * 10 + digit;
      }
      if (i >= end || (i + 1 === end && b[i] === carriageReturn)) {
        if (!last) return lineStart;
      }
      let next: number;
      if (i < end && b[i] === lineFeed) next = i + 1;
      else if (i + 1 < end && b[i] === carriageReturn && b[i + 1] === lineFeed) next = i + 2;
      else if (i >= end || (i + 1 === end && b[i] === carriageReturn)) next = end;
      else return this.malformed(b, lineStart, last);
      if (
        i === from || i - from > countDigitsMax || match > Number.MAX_SAFE_INTEGER ||
        volume > Number.MAX_SAFE_INTEGER
      ) {
        return this.malformed(b, lineStart, last);
      }
      if (!same && !this.#begin(b, lineStart, ngramEnd, base + lineStart)) {
        return this.malformed(b, lineStart, last);
      }
      if (year >= this.#yearFrom && year <= this.#yearTo) {
        this.#sum += match;
        if (this.#sum > Number.MAX_SAFE_INTEGER) throw this.#sumError();
      }
      this.lines++;
      this.rows++;
      pos = next;
    }
    return pos;
  }

  /**
   * Hands over the pending n-gram and makes `b[start, end)` (first row at
   * content offset `offset`) the pending one; false, changing nothing, if it
   * is malformed.
   */
  #begin(b: Uint8Array, start: number, end: number, offset: number): boolean {
    const check = checkNgram(b, start, end, this.filters.dropTags);
    if (check === ngramMalformed) return false;
    this.#flush();
    this.#hold(b, start, end, offset);
    this.#tagged = check === ngramTagged;
    this.#resumed = false;
    return true;
  }

  /** Makes `b[start, end)` the pending n-gram's bytes, first row at `offset`. */
  #hold(b: Uint8Array, start: number, end: number, offset: number): void {
    const length = end - start;
    // Per run, so not node:assert (its rest arguments allocate on every call).
    if (length < 0 || offset <= this.#heldOffset) {
      throw new Error("tallytrie invariant violated: runs are held in content order, whole");
    }
    this.#heldOffset = offset;
    if (length > this.#ngram.length) {
      this.#ngram = new Uint8Array(Math.max(length, 2 * this.#ngram.length));
    }
    const ngram = this.#ngram;
    if (length <= 64) {
      for (let i = 0; i < length; i++) ngram[i] = b[start + i];
    } else {
      ngram.set(b.subarray(start, end));
    }
    this.#ngramLength = length;
    this.#ngramOffset = offset;
    this.#sum = 0;
  }

  /** Hands the pending n-gram to the sink, or counts it as filtered. */
  #flush(): void {
    if (this.#ngramOffset < 0) return;
    const offset = this.#ngramOffset;
    this.#ngramOffset = -1;
    if (this.#resumed) return;
    if (this.#tagged || this.#sum === 0 || this.#sum < this.filters.minCount) {
      this.filtered++;
      return;
    }
    this.ngrams++;
    this.sink.ngram(this.#ngram, 0, this.#ngramLength, this.#sum, offset);
  }

  /** Holds the n-gram of the last line passed over: rows of it that follow are passed over too. */
  protected override lastPassed(b: Uint8Array, start: number, next: number, base: number): void {
    let end = start;
    while (end < next && b[end] !== tab && b[end] !== lineFeed) end++;
    this.#hold(b, start, end, base + start);
    this.#tagged = false;
    this.#resumed = true;
  }

  #sumError(): Error {
    const ngram = new TextDecoder().decode(this.#ngram.subarray(0, this.#ngramLength));
    return this.error(
      `the match counts of ${JSON.stringify(ngram)} add up to more than the largest safe ` +
        `integer (${Number.MAX_SAFE_INTEGER})`,
    );
  }
}
