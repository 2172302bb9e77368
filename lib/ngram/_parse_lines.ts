/**
 * The readers of the formats with one n-gram per line, handed with the
 * offset of its line: Google Books Ngram v3 (20200217), `ngram TAB
 * year,match_count,volume_count TAB ...`, whose match counts within the
 * years filter are summed, and the TSV counts of a user's own job, `ngram
 * TAB count`. Both work on bytes as the v2 reader does (`_parse_v2.ts`).
 *
 * @module
 */

import { LineParser } from "./_parser.ts";
import {
  carriageReturn,
  checkNgram,
  comma,
  countDigitsMax,
  digitZero,
  lineFeed,
  ngramMalformed,
  ngramTagged,
  tab,
  yearDigitsMax,
} from "./_scan.ts";

/** What a line parser's fields method returns for a line that is not complete yet. */
const incomplete = -1;
/** What it returns for a malformed line. */
const bad = -2;

/** The base of the one-n-gram-per-line readers. */
abstract class OneLineParser extends LineParser {
  /** The start of the next line after the fields read last. */
  protected next = 0;

  /**
   * Reads the fields after the n-gram's TAB at `i`; returns the n-gram's
   * count (≥ 0) and sets {@link next}, or {@link incomplete} or {@link bad}.
   */
  protected abstract fields(b: Uint8Array, i: number, last: boolean): number;

  /** Reads lines; see {@link LineParser.parse}. */
  parse(b: Uint8Array, start: number, base: number, last: boolean): number {
    const end = b.length;
    let pos = this.resuming ? this.passOver(b, start, base, last) : start;
    if (this.resuming) return pos; // still before resumeFrom: the next piece goes on
    while (pos < end) {
      const lineStart = pos;
      let i = lineStart;
      while (i < end && b[i] !== tab && b[i] !== lineFeed) i++;
      if (i === end || b[i] !== tab) return this.malformed(b, lineStart, last);
      const count = this.fields(b, i, last);
      if (count === incomplete) return lineStart;
      if (count === bad) return this.malformed(b, lineStart, last);
      const check = checkNgram(b, lineStart, i, this.filters.dropTags);
      if (check === ngramMalformed) return this.malformed(b, lineStart, last);
      this.lines++;
      this.rows++;
      if (check === ngramTagged || count === 0 || count < this.filters.minCount) {
        this.filtered++;
      } else {
        this.ngrams++;
        this.sink.ngram(b, lineStart, i, count, base + lineStart);
      }
      pos = this.next;
    }
    return pos;
  }

  /**
   * Reads the line end at `i` (LF, CR LF, or the content's end): sets
   * {@link next} and returns 0, or returns {@link incomplete} or {@link bad}.
   */
  protected lineEnd(b: Uint8Array, i: number, last: boolean): number {
    const end = b.length;
    if (i < end && b[i] === lineFeed) {
      this.next = i + 1;
    } else if (i + 1 < end && b[i] === carriageReturn && b[i + 1] === lineFeed) {
      this.next = i + 2;
    } else if (i >= end || (i + 1 === end && b[i] === carriageReturn)) {
      if (!last) return incomplete;
      this.next = end;
    } else {
      return bad;
    }
    return 0;
  }
}

/** Reads v3 lines: `ngram TAB year,match_count,volume_count [TAB ...]`. */
export class V3Parser extends OneLineParser {
  readonly format = "v3";

  /** Reads the year triples after the TAB at `tabAt`: the sum of their match counts. */
  protected fields(b: Uint8Array, tabAt: number, last: boolean): number {
    const end = b.length;
    const { yearFrom, yearTo } = this.filters;
    let sum = 0;
    let i = tabAt;
    do {
      let from = ++i;
      let year = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        year = year * 10 + digit;
      }
      if (i >= end || b[i] !== comma || i === from || i - from > yearDigitsMax) break;
      from = ++i;
      let match = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        match = match * 10 + digit;
      }
      if (i >= end || b[i] !== comma || i === from || i - from > countDigitsMax) break;
      if (match > Number.MAX_SAFE_INTEGER) break;
      from = ++i;
      let volume = 0;
      for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
        volume = volume * 10 + digit;
      }
      if (i === from || i - from > countDigitsMax || volume > Number.MAX_SAFE_INTEGER) {
        return i >= end && !last ? incomplete : bad;
      }
      if (year >= yearFrom && year <= yearTo) sum += match;
      if (i < end && b[i] === tab) continue;
      const atEnd = this.lineEnd(b, i, last);
      if (atEnd < 0) return atEnd;
      if (sum > Number.MAX_SAFE_INTEGER) throw this.#sumError(b, tabAt);
      return sum;
    } while (i < end);
    // A field broke off: incomplete if it ran to the end of the piece.
    return i >= end && !last ? incomplete : bad;
  }

  #sumError(b: Uint8Array, tabAt: number): Error {
    let start = tabAt;
    while (start > 0 && b[start - 1] !== lineFeed) start--;
    const ngram = new TextDecoder().decode(b.subarray(start, tabAt));
    return this.error(
      `the match counts of ${JSON.stringify(ngram)} add up to more than the largest safe ` +
        `integer (${Number.MAX_SAFE_INTEGER})`,
    );
  }
}

/** Reads TSV lines: `ngram TAB count`. */
export class TsvParser extends OneLineParser {
  readonly format = "tsv";

  /** Reads the count after the TAB at `tabAt`. */
  protected fields(b: Uint8Array, tabAt: number, last: boolean): number {
    let i = tabAt + 1;
    const from = i;
    let count = 0;
    for (let digit = b[i] - digitZero; digit >= 0 && digit <= 9; digit = b[++i] - digitZero) {
      count = count * 10 + digit;
    }
    const atEnd = this.lineEnd(b, i, last);
    if (atEnd < 0) return atEnd;
    if (i === from || i - from > countDigitsMax || count > Number.MAX_SAFE_INTEGER) return bad;
    return count;
  }
}
