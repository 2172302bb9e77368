/**
 * What is wrong with a malformed line, in words. The readers' hot loops only
 * notice that a line breaks its format (and where it ends); this slow path,
 * run once before the reader throws, reads the line again field by field and
 * says what the user must fix. It is also the syntax of each format written
 * plainly: a line it finds nothing wrong with is well formed.
 *
 * @module
 */

import type { InputFormat } from "./input.ts";
import { quote } from "./_input_errors.ts";
import {
  comma,
  countDigitsMax,
  digitsValue,
  isUtf8,
  ngramTokensMax,
  space,
  tab,
  utf8ErrorAt,
  yearDigitsMax,
} from "./_scan.ts";

const lossy = new TextDecoder();

/** The fields of each format, for messages about the field count. */
const fieldNames: Readonly<Record<Exclude<InputFormat, "text">, string>> = {
  v2: "4 tab-separated fields (ngram, year, match_count, volume_count)",
  v3: "an n-gram and at least one tab-separated year,match_count,volume_count",
  tsv: "2 tab-separated fields (ngram, count)",
};

/**
 * What is wrong with `line` (its bytes without the line end) read as
 * `format`, or `undefined` if nothing is.
 */
export function describeLine(format: InputFormat, line: Uint8Array): string | undefined {
  if (format === "text") return describeText(line);
  if (line.length === 0) return `the line is empty: expected ${fieldNames[format]}`;
  const fields = splitTabs(line);
  if (format === "v2" && fields.length !== 4 || format === "tsv" && fields.length !== 2) {
    return `expected ${fieldNames[format]}, found ${fields.length} field` +
      (fields.length === 1 ? "" : "s");
  }
  if (format === "v3" && fields.length < 2) return `expected ${fieldNames.v3}, found 1 field`;
  const ngram = describeNgram(fields[0]);
  if (ngram !== undefined) return ngram;
  if (format === "v2") {
    return describeYear(fields[1]) ?? describeCount("match count", fields[2]) ??
      describeCount("volume count", fields[3]);
  }
  if (format === "tsv") return describeCount("count", fields[1]);
  for (let index = 1; index < fields.length; index++) {
    const problem = describeYearTriple(fields[index], index + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** What is wrong with a line of plain text: a NUL byte or invalid UTF-8. */
function describeText(line: Uint8Array): string | undefined {
  const nul = line.indexOf(0);
  if (nul >= 0) return `the line holds a NUL byte at byte ${nul + 1}: is this a text file?`;
  return isUtf8(line, 0, line.length) ? undefined : invalidUtf8(line, "line");
}

/** What is wrong with the n-gram `bytes`, or `undefined`. */
export function describeNgram(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return "the n-gram is empty";
  const nul = bytes.indexOf(0);
  if (nul >= 0) return `the n-gram ${quote(lossy.decode(bytes))} holds a NUL byte`;
  if (!isUtf8(bytes, 0, bytes.length)) return invalidUtf8(bytes, "n-gram");
  const shown = quote(lossy.decode(bytes));
  if (bytes[0] === space) return `the n-gram ${shown} starts with a space`;
  if (bytes[bytes.length - 1] === space) return `the n-gram ${shown} ends with a space`;
  let tokens = 1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== space) continue;
    if (bytes[i + 1] === space) {
      return `the n-gram ${shown} has two spaces in a row: tokens are separated by one space`;
    }
    tokens++;
  }
  if (tokens > ngramTokensMax) {
    return `the n-gram ${shown} has ${tokens} tokens, more than ${ngramTokensMax}`;
  }
  return undefined;
}

/** The message for invalid UTF-8 in `bytes` (a `what`), naming the first bad byte. */
function invalidUtf8(bytes: Uint8Array, what: string): string {
  const at = utf8ErrorAt(bytes, 0, bytes.length);
  const hex = bytes[at].toString(16).padStart(2, "0");
  return `the ${what} ${quote(lossy.decode(bytes))} is not valid UTF-8 (byte 0x${hex} at ` +
    `byte ${at + 1} of the ${what})`;
}

/** What is wrong with a v2 year field, or `undefined`. */
function describeYear(field: Uint8Array): string | undefined {
  const text = lossy.decode(field);
  if (!/^[0-9]+$/.test(text)) return `the year ${quote(text)} is not a number`;
  if (digitsValue(field, 0, field.length, yearDigitsMax) < 0) {
    return `the year ${quote(text)} is out of range 0..9999`;
  }
  return undefined;
}

/** What is wrong with a count field (`what`: "match count", ...), or `undefined`. */
function describeCount(what: string, field: Uint8Array): string | undefined {
  const text = lossy.decode(field);
  if (!/^[0-9]+$/.test(text)) return `the ${what} ${quote(text)} is not a non-negative integer`;
  if (digitsValue(field, 0, field.length, countDigitsMax) < 0) {
    return `the ${what} ${quote(text)} is above the largest safe integer ` +
      `(${Number.MAX_SAFE_INTEGER})`;
  }
  return undefined;
}

/** What is wrong with v3's `year,match,volume` field number `index` (1-based), or `undefined`. */
function describeYearTriple(field: Uint8Array, index: number): string | undefined {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= field.length; i++) {
    if (i === field.length || field[i] === comma) {
      parts.push(field.subarray(start, i));
      start = i + 1;
    }
  }
  if (parts.length !== 3) {
    return `field ${index} ${quote(lossy.decode(field))} is not year,match_count,volume_count`;
  }
  return describeYear(parts[0]) ?? describeCount("match count", parts[1]) ??
    describeCount("volume count", parts[2]);
}

/** `line` cut at each TAB. */
function splitTabs(line: Uint8Array): Uint8Array[] {
  const fields: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === tab) {
      fields.push(line.subarray(start, i));
      start = i + 1;
    }
  }
  return fields;
}
