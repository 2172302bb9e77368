/**
 * The readers of the files people count n-grams in: Google Books Ngram v2
 * and v3, the TSV counts of a Spark or Hadoop job, and plain text, gzipped
 * (several members too) or not. {@link readNgrams} streams one file into an
 * {@link NgramSink} with the offsets and boundaries the exactly-once import
 * relies on (input.ts); {@link detectFormat} tells the format from the first
 * lines; {@link fingerprint} is a file's identity for the import;
 * {@link expandInputs} turns the paths a user names into files. The formats,
 * the tokenisation of text and the errors are in docs/NGRAM.md, "Input
 * formats".
 *
 * @module
 */

import type { InputFilters, InputFormat, InputSummary, NgramSink } from "./input.ts";
import { drive, type ReadProgress } from "./_driver.ts";
import { checkReadOptions } from "./_read_options.ts";
import { GzipDataError, openContent } from "./_source.ts";
import { detectSample, headSample, readHead } from "./_detect.ts";
import { fileFingerprint } from "./_fingerprint.ts";
import { expandPaths } from "./_expand.ts";

import { CorruptInputError } from "./_input_errors.ts";

export { CorruptInputError };
export { InputFormatError, InputPathError } from "./_input_errors.ts";
export type { ReadProgress } from "./_driver.ts";

/** The options of {@link readNgrams}. */
export interface ReadOptions {
  /** The file's format; `auto` detects it ({@link detectFormat}). */
  format: InputFormat | "auto";
  /** The filters to apply while reading. */
  filters: InputFilters;
  /** Where the n-grams go. */
  sink: NgramSink;
  /**
   * Passes over the n-grams whose first row or line starts before this
   * content offset (a boundary an earlier read reported): their lines are
   * only scanned for their ends, and in v2 the rows that continue an n-gram
   * begun before it are passed over too. Default 0.
   */
  resumeFrom?: number;
  /** Called after each piece of content (about 1 MiB) with how far the read is. */
  onProgress?: (progress: ReadProgress) => void;
}

/**
 * Reads the file at `path` into `options.sink`, streaming (the file is never
 * held whole): gzip (recognised by its magic bytes 1f 8b; every member of a
 * multi-member file) or plain.
 *
 * Each n-gram goes to `sink.ngram` once per run of rows (v2), line (v3,
 * tsv) or occurrence (text, count 1), with the offset in the decompressed
 * content where its first row or line starts, unless a filter skips it:
 * `tags: "drop"` skips n-grams with a part-of-speech token; v2 and v3 sum
 * only the years in `years`; an n-gram whose count is 0 or below `minCount`
 * is skipped (v2, v3, tsv). After each piece of content, and at its end,
 * `sink.boundary(end)` is called and awaited: every n-gram whose offset is
 * below `end` has been handed over (or skipped) and none handed later is.
 * Nothing reaches the sink after an error.
 *
 * @param path The file.
 * @param options The format, filters, sink, resume offset and progress callback.
 * @returns What was read: format, bytes, lines, rows, n-grams handed and filtered.
 * @throws {InputFormatError} for a malformed line, naming the file and line.
 * @throws {CorruptInputError} for gzip data that cannot be decompressed.
 * @throws {Deno.errors.NotFound} (and the runtime's other file errors) for a
 * missing or unreadable file, naming it; `Deno.errors.IsADirectory` for a directory.
 * @throws {TypeError} for bad options, `minCount` above 1 with text, or `years`
 * with tsv or text; {@link RangeError} for values out of range, or a
 * `resumeFrom` past the content's end.
 *
 * @example Summing a v2 file's rows per n-gram
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNgrams } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(
 *   path,
 *   "a cat\t1999\t3\t1\na cat\t2000\t4\t2\na dog\t2000\t5\t5\nthe_DET cat\t2000\t9\t9\n",
 * );
 * const counts: string[] = [];
 * const summary = await readNgrams(path, {
 *   format: "auto",
 *   filters: { minCount: 0, tags: "drop", order: 1 },
 *   sink: {
 *     ngram: (bytes, start, end, count, offset) =>
 *       counts.push(`${new TextDecoder().decode(bytes.subarray(start, end))}=${count}@${offset}`),
 *     boundary: () => {},
 *   },
 * });
 * assert.deepEqual(counts, ["a cat=7@0", "a dog=5@30"]);
 * assert.equal(summary.format, "v2");
 * assert.equal(summary.rows, 4);
 * assert.equal(summary.filtered, 1);
 * await Deno.remove(path);
 * ```
 */
export async function readNgrams(path: string, options: ReadOptions): Promise<InputSummary> {
  const checked = checkReadOptions(path, options);
  return await drive({ path, checked, sink: options.sink, onProgress: options.onProgress });
}

/**
 * The format of the file at `path`, from its first lines (at most 100 lines
 * or 64 KiB of content): the format with columns (v2, v3, tsv) that most of
 * them match, if at least half do; otherwise text. Empty content is text.
 *
 * @param path The file (gzip or plain).
 * @returns Its format.
 * @throws {Deno.errors.NotFound} (and the runtime's other file errors) naming
 * the file; {@link CorruptInputError} if its gzip data is damaged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectFormat } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "the cat\t1900,3,1\t1901,2,2\n");
 * assert.equal(await detectFormat(path), "v3");
 * await Deno.writeTextFile(path, "the cat\t12\n");
 * assert.equal(await detectFormat(path), "tsv");
 * await Deno.writeTextFile(path, "The cat sat.\n");
 * assert.equal(await detectFormat(path), "text");
 * await Deno.remove(path);
 * ```
 */
export async function detectFormat(path: string): Promise<InputFormat> {
  const content = await openContent(path);
  try {
    const head = await readHead(content);
    return detectSample(headSample(head), head.complete);
  } catch (error) {
    if (error instanceof GzipDataError) {
      throw new CorruptInputError(path, 0, error.message, { cause: error });
    }
    throw error;
  } finally {
    content.close();
  }
}

/**
 * The identity of the file at `path` for exactly-once imports: a SHA-256
 * digest of its bytes as stored (compressed, if it is), whatever its path.
 * Streams the file in 8 MiB pieces: SHA-256 of each, then SHA-256 of their
 * digests and the size (8 bytes, little-endian). 64 lowercase hex digits.
 *
 * @param path The file.
 * @returns Its fingerprint.
 * @throws {Deno.errors.NotFound} (and the runtime's other file errors) naming the file.
 *
 * @example Same bytes, same fingerprint
 * ```ts
 * import assert from "node:assert/strict";
 * import { fingerprint } from "./read.ts";
 * const a = await Deno.makeTempFile();
 * const b = await Deno.makeTempFile();
 * await Deno.writeTextFile(a, "the cat\t3\n");
 * await Deno.writeTextFile(b, "the cat\t3\n");
 * assert.equal(await fingerprint(a), await fingerprint(b));
 * await Deno.writeTextFile(b, "the cat\t4\n");
 * assert.notEqual(await fingerprint(a), await fingerprint(b));
 * await Deno.remove(a);
 * await Deno.remove(b);
 * ```
 */
export async function fingerprint(path: string): Promise<string> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError("Cannot fingerprint: the path must be a non-empty string");
  }
  return await fileFingerprint(path);
}

/**
 * The files to read for the paths a user names, in order: a file as given; a
 * directory as its `part-*` files sorted by name if it has any (a Spark or
 * Hadoop job's output, which must have `_SUCCESS` beside them), else all its
 * files sorted by name (v2 `googlebooks-*`, v3 `*-of-*`). Hidden and
 * `_`-prefixed files are never data; subdirectories are not read.
 *
 * @param paths Files and directories.
 * @returns The files.
 * @throws {Deno.errors.NotFound} naming a missing path; {@link InputPathError}
 * for a job's output without `_SUCCESS`, a subdirectory, or a directory
 * without data files.
 *
 * @example A job's output directory
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandInputs } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * for (const name of ["part-00001", "part-00000", "_SUCCESS", ".part-00000.crc"]) {
 *   await Deno.writeTextFile(`${dir}/${name}`, "");
 * }
 * assert.deepEqual(await expandInputs([dir]), [`${dir}/part-00000`, `${dir}/part-00001`]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function expandInputs(paths: string[]): Promise<string[]> {
  if (!Array.isArray(paths) || paths.some((path) => typeof path !== "string")) {
    throw new TypeError("Cannot expand inputs: paths must be an array of strings");
  }
  return await expandPaths(paths);
}
