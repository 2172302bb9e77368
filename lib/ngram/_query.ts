/**
 * The n-gram store's reads, on the shards' key layout (`_keys.ts`): counts,
 * the continuations of a history, prefix listings, totals per order, and
 * the scores built on them.
 *
 * A history's continuations all live in one shard (the one of its first
 * token), under the keys `[order + 1, ...ids(history)]`, so each is one
 * prefix scan of one store.
 *
 * @module
 */

import { type Entry, getManyKeysMax } from "../../mod.ts";
import { idRead, metaKind, orderKey, orderMax, readId, routeHash, writeId } from "./_keys.ts";
import type { Shard } from "./_shard.ts";
import { stringBytes, wordText } from "./_text.ts";

/** A continuation of a history: the next word and the count of the longer n-gram. */
export interface Continuation {
  /** The next word. */
  word: string;
  /** The count of the history followed by the word. */
  count: number;
}

/** One n-gram with its count. */
export interface NgramCount {
  /** The n-gram, tokens separated by single spaces. */
  ngram: string;
  /** Its count. */
  count: number;
}

/** The totals of one order. */
export interface OrderTotals {
  /** The order (tokens per n-gram). */
  order: number;
  /** The sum of the counts of the n-grams of this order. */
  total: number;
  /** How many distinct n-grams of this order the store holds. */
  distinct: number;
}

/** The shard of an n-gram whose first word is `word` (a one-byte string). */
export function shardIndexOf(word: string, shards: number): number {
  return routeHash(stringBytes(word), 0, word.length) % shards;
}

/**
 * The key of `words` (one-byte strings) prefixed by order `order` in
 * `shard`, or undefined if a word is not in its vocabulary (then no key
 * with that prefix exists).
 */
export function keyOf(
  shard: Shard,
  order: number,
  words: readonly string[],
): Uint8Array | undefined {
  const key = new Uint8Array(1 + words.length * 5);
  key[0] = order;
  let at = 1;
  for (const word of words) {
    const id = shard.idOf(word);
    if (id === undefined) return undefined;
    at = writeId(key, at, id);
  }
  return key.subarray(0, at);
}

/** The words (one-byte strings) of the ids in `key[from, end)`. */
function wordsOf(shard: Shard, key: Uint8Array, from: number): string[] {
  const words: string[] = [];
  let at = from;
  while (at < key.length) {
    if (!readId(key, at, key.length)) throw new Error(`Shard ${shard.index} holds a malformed key`);
    const word = shard.wordOf(idRead.id);
    if (word === undefined) {
      throw new Error(
        `Shard ${shard.index} holds a key with word id ${idRead.id}, not in its vocabulary`,
      );
    }
    words.push(word);
    at = idRead.end;
  }
  return words;
}

/** The n-gram text of an n-gram key of `shard`. */
export function ngramOf(shard: Shard, key: Uint8Array): string {
  return wordsOf(shard, key, 1).map(wordText).join(" ");
}

/** The counts of `ngrams` (word lists), in order; 0 where absent. */
export async function countMany(
  shards: readonly Shard[],
  ngrams: readonly (readonly string[])[],
): Promise<number[]> {
  const counts = new Array<number>(ngrams.length).fill(0);
  const perShard = shards.map(() => ({ keys: [] as Uint8Array[], at: [] as number[] }));
  for (const [at, words] of ngrams.entries()) {
    if (words.length === 0) continue;
    const index = shardIndexOf(words[0], shards.length);
    const key = keyOf(shards[index], words.length, words);
    if (key === undefined) continue;
    perShard[index].keys.push(key);
    perShard[index].at.push(at);
  }
  for (const [index, { keys, at }] of perShard.entries()) {
    for (let from = 0; from < keys.length; from += getManyKeysMax) {
      const values = await shards[index].store.getMany(keys.slice(from, from + getManyKeysMax));
      for (let i = 0; i < values.length; i++) counts[at[from + i]] = values[i] ?? 0;
    }
  }
  return counts;
}

/** The entries under `prefix` in `shard`, each given to `visit`. */
async function scan(
  shard: Shard,
  prefix: Uint8Array,
  visit: (entry: Entry) => void,
): Promise<void> {
  for await (const entry of shard.store.list({ prefix })) visit(entry);
}

/**
 * The continuations of `history` (one-byte strings), highest count first,
 * ties in byte order of the word; at most `top`. An empty history gives
 * the most frequent words (the 1-grams of every shard).
 */
export async function next(
  shards: readonly Shard[],
  history: readonly string[],
  top: number,
): Promise<Continuation[]> {
  const best = new TopK(top);
  if (history.length === 0) {
    for (const shard of shards) {
      await scan(shard, Uint8Array.of(1), (entry) => {
        best.offer(wordsOf(shard, entry.key, 1)[0], entry.value);
      });
    }
  } else {
    const shard = shards[shardIndexOf(history[0], shards.length)];
    const prefix = keyOf(shard, history.length + 1, history);
    if (prefix === undefined) return [];
    await scan(shard, prefix, (entry) => {
      if (!readId(entry.key, prefix.length, entry.key.length)) return;
      best.offer(shard.wordOf(idRead.id)!, entry.value);
    });
  }
  return best.sorted().map(([word, count]) => ({ word: wordText(word), count }));
}

/** N1+(h •): how many distinct words follow `history` (one-byte strings). */
export async function continuationCount(
  shards: readonly Shard[],
  history: readonly string[],
): Promise<number> {
  if (history.length === 0) {
    let words = 0;
    for (const shard of shards) await scan(shard, Uint8Array.of(1), () => words++);
    return words;
  }
  const shard = shards[shardIndexOf(history[0], shards.length)];
  const prefix = keyOf(shard, history.length + 1, history);
  if (prefix === undefined) return 0;
  let found = 0;
  await scan(shard, prefix, () => found++);
  return found;
}

/**
 * The n-grams that start with `prefix` (one-byte strings; at least one),
 * order by order from the prefix's own, each order in the store's key order
 * (by word id, not alphabetical).
 */
export async function* listPrefix(
  shards: readonly Shard[],
  prefix: readonly string[],
  limit: number,
): AsyncGenerator<NgramCount> {
  const shard = shards[shardIndexOf(prefix[0], shards.length)];
  let left = limit;
  for (let order = prefix.length; order <= orderMax && left > 0; order++) {
    const key = keyOf(shard, order, prefix);
    if (key === undefined) return;
    for await (const entry of shard.store.list({ prefix: key }, { limit: left })) {
      yield { ngram: ngramOf(shard, entry.key), count: entry.value };
      left--;
    }
  }
}

/** Totals and distinct counts per order, over every shard; orders with none left out. */
export async function orderTotals(shards: readonly Shard[]): Promise<OrderTotals[]> {
  const found: OrderTotals[] = [];
  for (let order = 1; order <= orderMax; order++) {
    let total = 0;
    let distinct = 0;
    for (const shard of shards) {
      const [t, d] = await shard.store.getMany([
        orderKey(metaKind.total, order),
        orderKey(metaKind.distinct, order),
      ]);
      total += t ?? 0;
      distinct += d ?? 0;
    }
    if (distinct > 0) found.push({ order, total, distinct });
  }
  return found;
}

/** The `top` best (count, then word bytes) of what it is offered. */
class TopK {
  readonly #top: number;
  #kept: [string, number][] = [];

  constructor(top: number) {
    this.#top = top;
  }

  /** Considers `word` with `count`. */
  offer(word: string, count: number): void {
    const kept = this.#kept;
    if (kept.length === this.#top) {
      const [lastWord, lastCount] = kept[kept.length - 1];
      if (count < lastCount || (count === lastCount && word > lastWord)) return;
    }
    let at = kept.length;
    while (at > 0 && better(word, count, kept[at - 1])) at--;
    kept.splice(at, 0, [word, count]);
    if (kept.length > this.#top) kept.pop();
  }

  /** What was kept, best first. */
  sorted(): [string, number][] {
    return this.#kept;
  }
}

/** Whether (word, count) ranks above `other`. */
function better(word: string, count: number, other: [string, number]): boolean {
  return count > other[1] || (count === other[1] && word < other[0]);
}
