/**
 * The reader of plain text: every word n-gram of orders 1 to `order`, each
 * occurrence handed with count 1 and the offset of its line.
 *
 * The tokenisation rule (docs/NGRAM.md, "Input formats"): a token is a
 * maximal run of characters that are not whitespace, where whitespace is
 * what JavaScript's `\s` matches (ASCII TAB, LF, VT, FF, CR and SPACE,
 * U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 and
 * U+FEFF); nothing else splits or changes a token (no case folding, no
 * punctuation split). Lines end at LF (CR LF too: CR is whitespace), and an
 * n-gram never spans a line end. The n-gram's text is its tokens joined by
 * single spaces. A line holding a NUL byte or invalid UTF-8 is an error:
 * binary data is not text. Part-of-speech tags are recognised as in the other
 * formats, so with `tags: "drop"` an n-gram with a tagged token is skipped.
 *
 * @module
 */

import { LineParser, type ParserSettings } from "./_parser.ts";
import { isTaggedToken, isUtf8, lineFeed, underscore, whitespaceBytes } from "./_scan.ts";

/** Bytes first reserved for the n-grams being built; grows to the longest. */
const scratchBytesInitial = 1024;

/** Reads plain text. */
export class TextParser extends LineParser {
  readonly format = "text";
  readonly #order: number;
  /** The last `order` tokens of the line: start, end and whether tagged, in a ring. */
  readonly #starts: Int32Array;
  readonly #ends: Int32Array;
  readonly #tagged: Uint8Array;
  /** Where each token of the window starts in {@link #scratch}, oldest first. */
  readonly #placed: Int32Array;
  #scratch = new Uint8Array(scratchBytesInitial);

  constructor(settings: ParserSettings) {
    super(settings);
    this.#order = settings.filters.order;
    this.#starts = new Int32Array(this.#order);
    this.#ends = new Int32Array(this.#order);
    this.#tagged = new Uint8Array(this.#order);
    this.#placed = new Int32Array(this.#order);
  }

  /** Reads lines of text; see {@link LineParser.parse}. */
  parse(b: Uint8Array, start: number, base: number, last: boolean): number {
    const end = b.length;
    let pos = this.resuming ? this.passOver(b, start, base, last) : start;
    if (this.resuming) return pos; // still before resumeFrom: the next piece goes on
    while (pos < end) {
      let lineEnd = b.indexOf(lineFeed, pos);
      let next = lineEnd + 1;
      if (lineEnd < 0) {
        if (!last) return pos;
        lineEnd = next = end;
      }
      if (!this.#valid(b, pos, lineEnd)) return this.malformed(b, pos, last);
      this.#line(b, pos, lineEnd, base + pos);
      this.lines++;
      pos = next;
    }
    return pos;
  }

  /** Whether `b[start, end)` holds no NUL and is valid UTF-8. */
  #valid(b: Uint8Array, start: number, end: number): boolean {
    let high = 0;
    for (let i = start; i < end; i++) {
      const byte = b[i];
      if (byte === 0) return false;
      high |= byte;
    }
    return high < 0x80 || isUtf8(b, start, end);
  }

  /** Counts the n-grams of the line `b[start, end)`, which starts at `offset`. */
  #line(b: Uint8Array, start: number, end: number, offset: number): void {
    const order = this.#order;
    let tokens = 0;
    let i = start;
    while (i < end) {
      const space = whitespaceBytes(b, i, end);
      if (space > 0) {
        i += space;
        continue;
      }
      const tokenStart = i;
      let underscores = 0;
      while (i < end && whitespaceBytes(b, i, end) === 0) {
        if (b[i] === underscore) underscores++;
        i++;
      }
      const slot = tokens % order;
      this.#starts[slot] = tokenStart;
      this.#ends[slot] = i;
      this.#tagged[slot] = underscores > 0 && this.filters.dropTags &&
          isTaggedToken(b, tokenStart, i)
        ? 1
        : 0;
      tokens++;
      this.#emit(b, tokens, offset);
    }
  }

  /** Hands the n-grams ending at the line's token number `tokens` (1-based). */
  #emit(b: Uint8Array, tokens: number, offset: number): void {
    const order = this.#order;
    const count = Math.min(order, tokens);
    let bytes = count - 1;
    for (let k = tokens - count; k < tokens; k++) {
      bytes += this.#ends[k % order] - this.#starts[k % order];
    }
    if (bytes > this.#scratch.length) {
      this.#scratch = new Uint8Array(Math.max(bytes, 2 * this.#scratch.length));
    }
    const scratch = this.#scratch;
    let at = 0;
    for (let k = tokens - count, j = 0; k < tokens; k++, j++) {
      if (j > 0) scratch[at++] = 0x20;
      this.#placed[j] = at;
      const slot = k % order;
      for (let i = this.#starts[slot]; i < this.#ends[slot]; i++) scratch[at++] = b[i];
    }
    let tagged = false;
    for (let n = 1; n <= count; n++) {
      tagged ||= this.#tagged[(tokens - n) % order] === 1;
      this.rows++;
      if (tagged) {
        this.filtered++;
      } else {
        this.ngrams++;
        this.sink.ngram(scratch, this.#placed[count - n], at, 1, offset);
      }
    }
  }
}
