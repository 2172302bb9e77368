/**
 * `countMany` on many n-grams at once, on bytes: every n-gram's UTF-8 is
 * written into one buffer, its tokens are hashed where they lie (the first
 * token's hash routes it and looks it up), and its key is built into a
 * second buffer; each shard then answers its keys in one `getMany`.
 *
 * The first version built a token list, a key array and a typed array per
 * n-gram: a third of its time went to the garbage collector and it counted
 * 0.3M n-grams a second; this allocates per n-gram only its key's view.
 *
 * @module
 */

import { getManyKeysMax } from "../../mod.ts";
import { fnvBasis, fnvPrime, idBytesMax, orderMax, writeId } from "./_keys.ts";
import type { Shard } from "./_shard.ts";

const encoder = new TextEncoder();

/** Writes `text`'s UTF-8 at `out[at]` (room checked by the caller); returns the end. */
function writeUtf8(text: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return at + encoder.encodeInto(text.slice(i), out.subarray(at)).written;
    out[at++] = code;
  }
  return at;
}

/** Why an n-gram cannot be counted, or undefined if it can. */
function problem(ngram: unknown): string | undefined {
  if (typeof ngram !== "string") return `an n-gram must be a string, got ${typeof ngram}`;
  if (!ngram.isWellFormed()) return "an n-gram has a lone surrogate, which is no UTF-8";
  return undefined;
}

/**
 * The UTF-8 of `ngrams`, one after another, and where each ends. The common case, all ASCII, is one `encodeInto`
 * of the joined text: a loop over each string's characters took a seventh
 * of a random `countMany`.
 *
 * @throws {TypeError} for a value that is not a string or a lone surrogate.
 */
function utf8Ends(ngrams: readonly string[]): { text: Uint8Array; ends: Int32Array } {
  const ends = new Int32Array(ngrams.length);
  let length = 0;
  for (let at = 0; at < ngrams.length; at++) {
    const ngram = ngrams[at];
    if (typeof ngram !== "string") {
      throw new TypeError(`Cannot count: an n-gram must be a string, got ${typeof ngram}`);
    }
    length += ngram.length;
    ends[at] = length;
  }
  const joined = ngrams.join("");
  const text = new Uint8Array(length * 3);
  // Every UTF-16 unit one byte: all ASCII, so no surrogate, and the ends are the strings' ends.
  if (encoder.encodeInto(joined, text).written === length) return { text, ends };
  let textAt = 0;
  for (let at = 0; at < ngrams.length; at++) {
    const why = problem(ngrams[at]);
    if (why !== undefined) throw new TypeError(`Cannot count: ${why}`);
    textAt = writeUtf8(ngrams[at], text, textAt);
    ends[at] = textAt;
  }
  return { text, ends };
}

/** Per shard: the keys to read and where their counts go. */
interface ShardKeys {
  keys: Uint8Array[];
  at: number[];
}

/**
 * The counts of `ngrams` (text, tokens separated by single spaces), in
 * order; 0 where absent.
 *
 * @throws {TypeError} for a value that is not a string, a lone surrogate or an empty token.
 * @throws {RangeError} for more than {@link orderMax} tokens.
 */
export async function countStrings(
  shards: readonly Shard[],
  ngrams: readonly string[],
): Promise<number[]> {
  const { text, ends } = utf8Ends(ngrams);
  const keyBytes = new Uint8Array(ngrams.length + text.length * idBytesMax);
  const counts = new Array<number>(ngrams.length).fill(0);
  const perShard: ShardKeys[] = shards.map(() => ({ keys: [], at: [] }));
  let keyAt = 0;
  for (let at = 0; at < ngrams.length; at++) {
    const start = at === 0 ? 0 : ends[at - 1];
    const end = keyAt;
    keyAt = keyOfText(shards, text, start, ends[at], keyBytes, keyAt, ngrams[at]);
    if (keyAt > end) {
      const target = perShard[routed.shard];
      target.keys.push(keyBytes.subarray(end, keyAt));
      target.at.push(at);
    }
  }
  for (const [index, { keys, at }] of perShard.entries()) {
    for (let from = 0; from < keys.length; from += getManyKeysMax) {
      const part = keys.length <= getManyKeysMax ? keys : keys.slice(from, from + getManyKeysMax);
      const values = await shards[index].store.getMany(part);
      for (let i = 0; i < values.length; i++) counts[at[from + i]] = values[i] ?? 0;
    }
  }
  return counts;
}

/** Where {@link keyOfText} leaves the shard it routed to. */
const routed = { shard: 0 };

/**
 * Writes the key of the n-gram `text[start, end)` at `out[at]` and sets
 * {@link routed}; returns the key's end, or `at` if the n-gram is empty or a
 * word is unknown to its shard (then its count is 0).
 */
function keyOfText(
  shards: readonly Shard[],
  text: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
  ngram: string,
): number {
  if (start === end) return at;
  let shard: Shard | undefined;
  let write = at + 1;
  let order = 0;
  let tokenStart = start;
  let hash = fnvBasis;
  for (let i = start; i <= end; i++) {
    const byte = i < end ? text[i] : 0x20;
    if (byte !== 0x20) {
      hash = Math.imul(hash ^ byte, fnvPrime);
      continue;
    }
    if (i === tokenStart) throw emptyToken(ngram);
    if (++order > orderMax) {
      throw new RangeError(
        `Cannot count: "${ngram.slice(0, 80)}" has more than ${orderMax} tokens`,
      );
    }
    const tokenHash = hash >>> 0;
    if (shard === undefined) {
      routed.shard = tokenHash % shards.length;
      shard = shards[routed.shard];
    }
    const id = shard.idOf(text, tokenStart, i, tokenHash);
    if (id < 0) return checkRest(text, i, end, ngram, at, order);
    write = writeId(out, write, id);
    tokenStart = i + 1;
    hash = fnvBasis;
  }
  out[at] = order;
  return write;
}

/**
 * After an unknown word ending at `from` (a space, or the end): checks that
 * the rest of the n-gram is well formed, with `tokens` tokens so far;
 * returns `at` (no key: the count is 0).
 */
function checkRest(
  text: Uint8Array,
  from: number,
  end: number,
  ngram: string,
  at: number,
  tokens: number,
): number {
  let seen = tokens;
  for (let i = from + 1, tokenStart = from + 1; from < end && i <= end; i++) {
    if (i < end && text[i] !== 0x20) continue;
    if (i === tokenStart) throw emptyToken(ngram);
    if (++seen > orderMax) {
      throw new RangeError(
        `Cannot count: "${ngram.slice(0, 80)}" has more than ${orderMax} tokens`,
      );
    }
    tokenStart = i + 1;
  }
  return at;
}

function emptyToken(ngram: string): TypeError {
  return new TypeError(
    `Cannot count: "${ngram.slice(0, 80)}" has an empty token: separate tokens by single spaces`,
  );
}
