/**
 * The loop of `readNgrams`: pulls the content of a file in pieces
 * (`_source.ts`), detects its format from the first ones if asked, feeds the
 * pieces to the format's parser, keeps the one line that a piece cuts, and
 * keeps the boundary promise of `NgramSink.boundary`.
 *
 * After each piece it reports the boundary `end`: the offset of the n-gram
 * the parser still sums (v2), else the start of the line the piece cut (or
 * the content read so far). Every n-gram below `end` has then been handed
 * over, and a parser never hands one below it later: lines are read in order
 * and an n-gram's offset is where its first line starts. With `resumeFrom`,
 * `end` is at least `resumeFrom`: n-grams below it are passed over, never
 * handed, in this read. `end` is reported when it has grown, and always at
 * the end of the content, where it is the content's length.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { InputFormat, InputSummary, NgramSink } from "./input.ts";
import { CorruptInputError, InputFormatError } from "./_input_errors.ts";
import { type Content, GzipDataError, openContent } from "./_source.ts";
import { detectSample, headSample, readHead } from "./_detect.ts";
import { type CheckedOptions, checkFiltersFit } from "./_read_options.ts";
import type { LineParser, ParserSettings } from "./_parser.ts";
import { V2Parser } from "./_parse_v2.ts";
import { TsvParser, V3Parser } from "./_parse_lines.ts";
import { TextParser } from "./_parse_text.ts";
import { lineFeed } from "./_scan.ts";

/**
 * The longest line a reader holds: a line cut by a piece's end is kept
 * until its end arrives. 16 MiB is far above any line of Google's files (a
 * v3 1-gram with every year is about 12 KB) and bounds what a file without
 * line ends (a binary file read as text) can make the reader hold.
 */
export const lineBytesMax = 16 * 1024 * 1024;
/** Bytes first reserved for a cut line; grows to the longest one met. */
const carryBytesInitial = 64 * 1024;

/** What the progress callback receives. */
export interface ReadProgress {
  /** Bytes of decompressed content read. */
  contentBytes: number;
  /** Bytes of the stored file consumed (for an ETA against its size). */
  fileBytes: number;
  /** Lines read. */
  lines: number;
  /** Rows read. */
  rows: number;
}

/** What the driver needs: the checked options and the caller's objects. */
export interface DriverSettings {
  path: string;
  checked: CheckedOptions;
  sink: NgramSink;
  onProgress?: (progress: ReadProgress) => void;
  /** Tests: cut every piece into parts of at most this many bytes. */
  pieceBytesMax?: number;
}

/** Reads one file into the sink; see `readNgrams`. */
export async function drive(settings: DriverSettings): Promise<InputSummary> {
  const content = await openContent(settings.path);
  const state = { lines: 0 };
  try {
    return await driveContent(settings, content, state);
  } catch (error) {
    if (error instanceof GzipDataError) {
      throw new CorruptInputError(settings.path, state.lines, error.message, { cause: error });
    }
    throw error;
  } finally {
    content.close();
  }
}

/** {@link drive} on opened content; `state.lines` follows the lines read, for errors. */
async function driveContent(
  settings: DriverSettings,
  content: Content,
  state: { lines: number },
): Promise<InputSummary> {
  const { path, checked, sink } = settings;
  let head: Uint8Array[] = [];
  let format = checked.format;
  let empty = false;
  if (format === "auto") {
    const read = await readHead(content);
    head = read.pieces;
    format = detectSample(headSample(read), read.complete);
    empty = read.bytes === 0;
  }
  if (!empty) checkFiltersFit(path, format, checked);
  const parser = makeParser(format, {
    file: path,
    sink,
    filters: checked.filters,
    resumeFrom: checked.resumeFrom,
  });
  const feed = new Feed(settings, parser, content);
  for (const piece of head) {
    await feed.piece(piece);
    state.lines = parser.lines;
  }
  for (let piece = await content.next(); piece !== null; piece = await content.next()) {
    await feed.piece(piece);
    state.lines = parser.lines;
  }
  await feed.end();
  return {
    format,
    fileBytes: content.fileBytes(),
    contentBytes: feed.contentBytes,
    lines: parser.lines,
    rows: parser.rows,
    ngrams: parser.ngrams,
    filtered: parser.filtered,
  };
}

/** The parser of `format`. */
function makeParser(format: InputFormat, settings: ParserSettings): LineParser {
  switch (format) {
    case "v2":
      return new V2Parser(settings);
    case "v3":
      return new V3Parser(settings);
    case "tsv":
      return new TsvParser(settings);
    case "text":
      return new TextParser(settings);
  }
}

/** Feeds pieces to a parser, holding the line a piece cuts, and reports boundaries. */
class Feed {
  /** Bytes of content fed so far. */
  contentBytes = 0;
  /** The cut line: `#carry[0, #carryLength)`, starting at content offset `#carryBase`. */
  #carry = new Uint8Array(carryBytesInitial);
  #carryLength = 0;
  #carryBase = 0;
  /** The last boundary reported; -1 before the first. */
  #reported = -1;

  constructor(
    readonly settings: DriverSettings,
    readonly parser: LineParser,
    readonly content: Content,
  ) {}

  /** Feeds one piece of content (in parts, for tests). */
  async piece(piece: Uint8Array): Promise<void> {
    const partMax = this.settings.pieceBytesMax ?? piece.length;
    for (let start = 0; start < piece.length; start += partMax) {
      this.#part(piece.subarray(start, Math.min(piece.length, start + partMax)));
      await this.#report(false);
    }
  }

  /** Reads what is left at the end of the content and reports the last boundary. */
  async end(): Promise<void> {
    if (this.#carryLength > 0) {
      const line = this.#carry.subarray(0, this.#carryLength);
      const read = this.parser.parse(line, 0, this.#carryBase, true);
      assert.equal(read, line.length, "the last line is read whole");
      this.#carryLength = 0;
    }
    this.parser.finish();
    const resumeFrom = this.settings.checked.resumeFrom;
    if (resumeFrom > this.contentBytes) {
      throw new RangeError(
        `Cannot read ${JSON.stringify(this.settings.path)}: resumeFrom (${resumeFrom}) is past ` +
          `the end of its content (${this.contentBytes} bytes): the file is not the one whose ` +
          `progress was recorded`,
      );
    }
    await this.#report(true);
  }

  /** Parses `part`, the content after what was fed so far. */
  #part(part: Uint8Array): void {
    const base = this.contentBytes;
    this.contentBytes += part.length;
    let start = 0;
    if (this.#carryLength > 0) {
      const lineFeedAt = part.indexOf(lineFeed);
      if (lineFeedAt < 0) {
        this.#hold(part, 0);
        return;
      }
      this.#hold(part.subarray(0, lineFeedAt + 1), 0);
      const line = this.#carry.subarray(0, this.#carryLength);
      const read = this.parser.parse(line, 0, this.#carryBase, false);
      assert.equal(read, line.length, "a complete line is read whole");
      this.#carryLength = 0;
      start = lineFeedAt + 1;
    }
    const read = this.parser.parse(part, start, base, false);
    assert.ok(read >= start && read <= part.length, "a parser stops inside what it was given");
    if (read < part.length) {
      this.#carryBase = base + read;
      this.#hold(part, read);
    }
  }

  /** Appends `bytes[from, )` to the cut line. */
  #hold(bytes: Uint8Array, from: number): void {
    const length = this.#carryLength + bytes.length - from;
    if (length > lineBytesMax) {
      throw new InputFormatError(
        this.settings.path,
        this.parser.lines + 1,
        this.parser.format,
        `the line is longer than ${lineBytesMax} bytes: is the file in the ${this.parser.format} ` +
          `format?`,
      );
    }
    if (length > this.#carry.length) {
      const grown = new Uint8Array(
        Math.min(lineBytesMax, Math.max(length, 2 * this.#carry.length)),
      );
      grown.set(this.#carry.subarray(0, this.#carryLength));
      this.#carry = grown;
    }
    this.#carry.set(bytes.subarray(from), this.#carryLength);
    this.#carryLength = length;
  }

  /** Reports the boundary if it grew (or at the end) and the progress. */
  async #report(atEnd: boolean): Promise<void> {
    const { sink, onProgress, checked } = this.settings;
    const pending = this.parser.pendingOffset();
    const unread = this.#carryLength > 0 ? this.#carryBase : this.contentBytes;
    assert.ok(pending <= unread, "a pending n-gram starts at a line already read");
    let end = pending >= 0 ? pending : unread;
    if (end < checked.resumeFrom) end = checked.resumeFrom;
    assert.ok(!atEnd || end === this.contentBytes, "the last boundary is the content's end");
    if (end > this.#reported || atEnd) {
      assert.ok(end >= this.#reported, "boundaries never go back");
      this.#reported = end;
      await sink.boundary(end);
    }
    onProgress?.({
      contentBytes: this.contentBytes,
      fileBytes: this.content.fileBytes(),
      lines: this.parser.lines,
      rows: this.parser.rows,
    });
  }
}
