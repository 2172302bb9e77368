/**
 * What the four format parsers share: the counters of {@link InputSummary},
 * the filters in the form the hot loops test, the pass over lines that start
 * before `resumeFrom` (only their ends are found), and the slow path that
 * turns a malformed line into an {@link InputFormatError}.
 *
 * A parser is fed the decompressed content in pieces by the driver
 * (`_driver.ts`): `parse(b, start, base, last)` reads the complete lines of
 * `b[start, b.length)`, where `b[i]` is byte `base + i` of the content, and
 * returns where the first line it did not finish starts (the driver keeps
 * those bytes and hands them again with what follows). With `last`, `b`
 * ends the content, so a final line without a line end is complete. A piece
 * always ends at `b.length`: the digit loops stop at the first index past
 * the end (it reads `undefined`) without a bound check of their own.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { InputFormat, NgramSink } from "./input.ts";
import { InputFormatError } from "./_input_errors.ts";
import { describeLine } from "./_describe.ts";
import { carriageReturn, lineFeed } from "./_scan.ts";

/** The filters of an import, checked and in the form the parsers test. */
export interface ParserFilters {
  /** First and last year summed (v2, v3); 0 and 9999 for every year. */
  yearFrom: number;
  yearTo: number;
  /** Smallest (year-filtered) count handed to the sink. */
  minCount: number;
  /** Whether n-grams with a part-of-speech token are skipped. */
  dropTags: boolean;
  /** Text: the longest n-gram counted. */
  order: number;
}

/** What a parser needs besides the content. */
export interface ParserSettings {
  /** The file as the caller named it, for messages. */
  file: string;
  /** Where n-grams go. */
  sink: NgramSink;
  /** The filters. */
  filters: ParserFilters;
  /** Lines (v2: n-grams) starting before this content offset are passed over. */
  resumeFrom: number;
}

/** The base of the format parsers. */
export abstract class LineParser {
  /** The format parsed. */
  abstract readonly format: InputFormat;
  /** Lines read, those passed over included. */
  lines = 0;
  /** Rows read (see InputSummary.rows). */
  rows = 0;
  /** N-grams handed to the sink. */
  ngrams = 0;
  /** N-grams skipped by the filters. */
  filtered = 0;
  /** Whether lines are still passed over for `resumeFrom`. */
  protected resuming: boolean;
  protected readonly sink: NgramSink;
  protected readonly filters: ParserFilters;
  protected readonly resumeFrom: number;
  protected readonly file: string;

  constructor(settings: ParserSettings) {
    this.sink = settings.sink;
    this.filters = settings.filters;
    this.resumeFrom = settings.resumeFrom;
    this.file = settings.file;
    this.resuming = settings.resumeFrom > 0;
  }

  /**
   * Reads the complete lines of `b[start, b.length)` (byte `i` of `b` is
   * byte `base + i` of the content) and returns where the first line not
   * read starts; with `last`, reads them all and returns `b.length`.
   */
  abstract parse(b: Uint8Array, start: number, base: number, last: boolean): number;

  /** The offset of an n-gram begun but not yet handed over (v2), or -1. */
  pendingOffset(): number {
    return -1;
  }

  /** Hands over what is pending at the end of the content. */
  finish(): void {}

  /**
   * Passes over the lines of `b[start, b.length)` that start before
   * `resumeFrom`, finding only their ends; returns where the first line not
   * passed over starts. Calls {@link lastPassed} for the last one passed over.
   */
  protected passOver(b: Uint8Array, start: number, base: number, last: boolean): number {
    const end = b.length;
    let pos = start;
    while (pos < end) {
      if (base + pos >= this.resumeFrom) {
        this.resuming = false;
        return pos;
      }
      let next = b.indexOf(lineFeed, pos);
      if (next < 0) {
        if (!last) return pos;
        next = end;
      } else {
        next++;
      }
      this.lines++;
      if (base + next >= this.resumeFrom) this.lastPassed(b, pos, next, base);
      pos = next;
    }
    if (base + pos >= this.resumeFrom) this.resuming = false;
    return pos;
  }

  /** Called with the last line passed over for `resumeFrom` (its end included). */
  protected lastPassed(_b: Uint8Array, _start: number, _next: number, _base: number): void {}

  /**
   * The slow path for a line the fast path found malformed at `lineStart`:
   * returns `lineStart` if the line is not complete in `b` (the driver hands
   * it again, whole), else throws the {@link InputFormatError} that says
   * what is wrong.
   */
  protected malformed(b: Uint8Array, lineStart: number, last: boolean): number {
    let lineEnd = b.indexOf(lineFeed, lineStart);
    if (lineEnd < 0) {
      if (!last) return lineStart;
      lineEnd = b.length;
    }
    if (lineEnd > lineStart && b[lineEnd - 1] === carriageReturn) lineEnd--;
    const line = b.subarray(lineStart, lineEnd);
    const detail = describeLine(this.format, line);
    assert.ok(
      detail !== undefined,
      `the fast path and describeLine disagree on line ${this.lines + 1}`,
    );
    throw this.error(detail);
  }

  /** An {@link InputFormatError} about the line being read. */
  protected error(detail: string): InputFormatError {
    return new InputFormatError(this.file, this.lines + 1, this.format, detail);
  }
}
