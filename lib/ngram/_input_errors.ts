/**
 * The errors a reader of input files raises, apart from misuse (`TypeError`,
 * `RangeError`): the import stops on each and names the file, so the user
 * can fix or remove it and run the import again (files already done stay
 * done). Three kinds:
 *
 * - {@link InputFormatError}: a line breaks its format's syntax; it names the
 *   file, the 1-based line and what is wrong.
 * - {@link CorruptInputError}: the file's gzip data cannot be decompressed
 *   (truncated, damaged bytes, a bad checksum).
 * - {@link InputPathError}: a directory named as input is not a whole set of
 *   data files (a job's output without `_SUCCESS`, a subdirectory, nothing).
 * - A missing or unreadable file: the runtime's own error class
 *   (`Deno.errors.NotFound`, `Deno.errors.PermissionDenied`, ...) rethrown by
 *   {@link fileError} with the path in its message and the original as `cause`.
 *
 * @module
 */

import type { InputFormat } from "./input.ts";

/** Values quoted in messages are cut to this many characters. */
const quotedCharsMax = 60;

/**
 * `value` as messages quote it: JSON string syntax, cut to
 * {@link quotedCharsMax} characters with an ellipsis.
 */
export function quote(value: string): string {
  const cut = value.length > quotedCharsMax ? `${value.slice(0, quotedCharsMax)}…` : value;
  return JSON.stringify(cut);
}

/**
 * A line of an input file breaks its format's syntax: wrong field count, a
 * count that is not a non-negative safe integer, a year out of 0..9999, an
 * n-gram with an empty token, a NUL byte, invalid UTF-8 or more than 64
 * tokens. Nothing the reader reads after it reaches the sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputFormatError } from "./read.ts";
 * const error = new InputFormatError("a.tsv", 3, "tsv", 'the count "x" is not a non-negative integer');
 * assert.ok(error.file === "a.tsv" && error.line === 3 && error.format === "tsv");
 * assert.ok(error.message === 'Cannot read "a.tsv" at line 3 (tsv): the count "x" is not a non-negative integer');
 * ```
 */
export class InputFormatError extends Error {
  /** The file as the caller named it. */
  readonly file: string;
  /** The offending line, 1-based. */
  readonly line: number;
  /** The format the line was read as. */
  readonly format: InputFormat;
  /** What is wrong, as the message says it after the colon. */
  readonly detail: string;

  /**
   * Builds the error for line `line` of `file`.
   *
   * @param file The file as the caller named it.
   * @param line The line, 1-based.
   * @param format The format it was read as.
   * @param detail What is wrong, sentence case, quoted values.
   */
  constructor(file: string, line: number, format: InputFormat, detail: string) {
    super(`Cannot read ${JSON.stringify(file)} at line ${line} (${format}): ${detail}`);
    this.name = "InputFormatError";
    this.file = file;
    this.line = line;
    this.format = format;
    this.detail = detail;
  }
}

/**
 * An input file's compressed data cannot be read: a truncated gzip file,
 * damaged bytes, a checksum that does not match. `cause` holds the
 * decompressor's error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CorruptInputError } from "./read.ts";
 * const error = new CorruptInputError("a.gz", 2, "unexpected end of file");
 * assert.ok(error.file === "a.gz" && error.linesRead === 2);
 * ```
 */
export class CorruptInputError extends Error {
  /** The file as the caller named it. */
  readonly file: string;
  /** Complete lines read before the damage. */
  readonly linesRead: number;

  /**
   * Builds the error for `file`.
   *
   * @param file The file as the caller named it.
   * @param linesRead Complete lines read before the damage.
   * @param detail What the decompressor reported.
   * @param options The decompressor's error as `cause`.
   */
  constructor(file: string, linesRead: number, detail: string, options?: ErrorOptions) {
    super(
      `Cannot read ${JSON.stringify(file)}: its gzip data is corrupt after line ` +
        `${linesRead}: ${detail}; download or copy the file again`,
      options,
    );
    this.name = "CorruptInputError";
    this.file = file;
    this.linesRead = linesRead;
  }
}

/**
 * A directory named as input is not a whole set of data files: a job's
 * `part-*` files without `_SUCCESS` (the job did not finish), a
 * subdirectory (not read recursively), or no data file at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputPathError } from "./read.ts";
 * const error = new InputPathError("out", 'Cannot read directory "out": it holds no data files');
 * assert.ok(error.path === "out");
 * ```
 */
export class InputPathError extends Error {
  /** The directory as the caller named it. */
  readonly path: string;

  /**
   * Builds the error for `path`.
   *
   * @param path The directory as the caller named it.
   * @param message The whole message.
   */
  constructor(path: string, message: string) {
    super(message);
    this.name = "InputPathError";
    this.path = path;
  }
}

/**
 * The error to throw for `error`, raised by the runtime on `path`: a runtime
 * error (`Deno.errors.NotFound`, ...) of the same class with the path in its
 * message and `error` as its cause; anything else unchanged.
 */
export function fileError(path: string, error: unknown, what = "read"): unknown {
  if (!(error instanceof Error) || error instanceof TypeError) return error;
  const runtimeClass = Object.values(Deno.errors).find((type) =>
    Object.getPrototypeOf(error) === type.prototype
  );
  if (runtimeClass === undefined) return error;
  const reason = error instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : error.message.replace(/:? (?:open|read|stat|readdir) '[^']*'$/, "");
  return new runtimeClass(`Cannot ${what} ${JSON.stringify(path)}: ${reason}`, { cause: error });
}
