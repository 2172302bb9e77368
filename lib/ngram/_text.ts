/**
 * N-grams as callers give them (text, tokens separated by single spaces),
 * checked and turned into the UTF-8 bytes of their tokens, which is how the
 * shards' vocabularies look words up.
 *
 * @module
 */

import { orderMax } from "./_keys.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** An n-gram's UTF-8 and where each token lies in it. */
export interface Tokens {
  /** The n-gram's UTF-8. */
  bytes: Uint8Array;
  /** Token `i` is `bytes[bounds[2i], bounds[2i + 1])`. */
  bounds: number[];
}

/** The number of tokens. */
export function tokenCount(tokens: Tokens): number {
  return tokens.bounds.length / 2;
}

/**
 * Checks an n-gram given by a caller and splits it into tokens. `what` is
 * the operation, for messages (`"count"`).
 *
 * @throws {TypeError} if it is not a string, has a lone surrogate or an empty token.
 * @throws {RangeError} if it has more than {@link orderMax} tokens.
 */
export function tokenize(ngram: string, what: string): Tokens {
  if (typeof ngram !== "string") {
    throw new TypeError(`Cannot ${what}: an n-gram must be a string, got ${typeof ngram}`);
  }
  if (!ngram.isWellFormed()) {
    throw new TypeError(`Cannot ${what}: the n-gram has a lone surrogate, which is no UTF-8`);
  }
  const bytes = encoder.encode(ngram);
  const bounds: number[] = [];
  if (bytes.length === 0) return { bytes, bounds };
  let start = 0;
  for (let at = 0; at <= bytes.length; at++) {
    if (at < bytes.length && bytes[at] !== 0x20) continue;
    if (at === start) {
      throw new TypeError(
        `Cannot ${what}: "${
          ngram.slice(0, 80)
        }" has an empty token: separate tokens by single spaces`,
      );
    }
    bounds.push(start, at);
    start = at + 1;
  }
  if (bounds.length / 2 > orderMax) {
    throw new RangeError(
      `Cannot ${what}: "${ngram.slice(0, 80)}" has ${
        bounds.length / 2
      } tokens; at most ${orderMax}`,
    );
  }
  return { bytes, bounds };
}

/** The text of a word's UTF-8. */
export function wordText(word: Uint8Array): string {
  return decoder.decode(word);
}

/** Compares two byte strings in unsigned byte order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
