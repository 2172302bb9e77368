/**
 * Text helpers of the n-gram store: words as one-byte strings (a JS string
 * whose char codes are the word's UTF-8 bytes: a cheap `Map` key that
 * compares in byte order), and the check and split of an n-gram given as
 * text by a caller.
 *
 * @module
 */

import { orderMax } from "./_keys.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** Bytes handed to one `String.fromCharCode` call. */
const charsPerCallMax = 4_096;

/** `bytes[start, end)` as a one-byte string. */
export function byteString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= charsPerCallMax) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  let text = "";
  for (let at = start; at < end; at += charsPerCallMax) {
    const part = bytes.subarray(at, Math.min(end, at + charsPerCallMax));
    text += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return text;
}

/** The bytes of a one-byte string. */
export function stringBytes(word: string): Uint8Array {
  const bytes = new Uint8Array(word.length);
  for (let i = 0; i < word.length; i++) bytes[i] = word.charCodeAt(i);
  return bytes;
}

/** The text of a one-byte string of UTF-8. */
export function wordText(word: string): string {
  return decoder.decode(stringBytes(word));
}

/** An n-gram given by a caller, as one-byte strings of its tokens' UTF-8. */
export function splitNgram(ngram: string, what: string): string[] {
  if (typeof ngram !== "string") {
    throw new TypeError(`Cannot ${what}: the n-gram must be a string, got ${typeof ngram}`);
  }
  if (!ngram.isWellFormed()) {
    throw new TypeError(`Cannot ${what}: the n-gram has a lone surrogate, which is no UTF-8`);
  }
  if (ngram === "") return [];
  const tokens = ngram.split(" ");
  if (tokens.length > orderMax) {
    throw new RangeError(
      `Cannot ${what}: "${ngram.slice(0, 80)}" has ${tokens.length} tokens; at most ${orderMax}`,
    );
  }
  const words: string[] = [];
  for (const token of tokens) {
    if (token === "") {
      throw new TypeError(
        `Cannot ${what}: "${
          ngram.slice(0, 80)
        }" has an empty token: separate tokens by single spaces`,
      );
    }
    const bytes = encoder.encode(token);
    words.push(byteString(bytes, 0, bytes.length));
  }
  return words;
}
