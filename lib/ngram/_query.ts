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

import { getManyKeysMax } from "../../mod.ts";
import { idBytesMax, idRead, metaKind, orderKey, orderMax, readId, writeId } from "./_keys.ts";
import type { Shard } from "./_shard.ts";
import { hashBytes } from "./_byte_table.ts";
import { compareBytes, tokenCount, type Tokens, wordText } from "./_text.ts";

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

/** The shard of the n-gram `tokens`. */
export function shardIndexOf(tokens: Tokens, shards: number): number {
  return hashBytes(tokens.bytes, tokens.bounds[0], tokens.bounds[1]) % shards;
}

/**
 * The key of the first `count` tokens of `tokens`, prefixed by order
 * `order`, in `shard`; undefined if a word is not in its vocabulary (then no
 * key with that prefix exists).
 */
export function keyOf(
  shard: Shard,
  order: number,
  tokens: Tokens,
  count: number,
): Uint8Array | undefined {
  const key = new Uint8Array(1 + count * idBytesMax);
  key[0] = order;
  let at = 1;
  const { bytes, bounds } = tokens;
  for (let i = 0; i < count; i++) {
    const start = bounds[2 * i];
    const end = bounds[2 * i + 1];
    const id = shard.idOf(bytes, start, end, hashBytes(bytes, start, end));
    if (id < 0) return undefined;
    at = writeId(key, at, id);
  }
  return key.subarray(0, at);
}

/** The words of the ids in `key` from `from` on. */
function wordsOf(shard: Shard, key: Uint8Array, from: number): Uint8Array[] {
  const words: Uint8Array[] = [];
  let at = from;
  while (at < key.length) {
    if (!readId(key, at, key.length)) throw new Error(`Shard ${shard.index} holds a malformed key`);
    words.push(wordOfId(shard, idRead.id));
    at = idRead.end;
  }
  return words;
}

/** Word `id` of `shard`'s vocabulary; an error if it has none (a damaged store). */
function wordOfId(shard: Shard, id: number): Uint8Array {
  const word = shard.wordOf(id);
  if (word === undefined) {
    throw new Error(`Shard ${shard.index} holds a key with word id ${id}, not in its vocabulary`);
  }
  return word;
}

/** The n-gram text of an n-gram key of `shard`. */
export function ngramOf(shard: Shard, key: Uint8Array): string {
  return wordsOf(shard, key, 1).map(wordText).join(" ");
}

/** The counts of `ngrams`, in order; 0 where absent. */
export async function countMany(
  shards: readonly Shard[],
  ngrams: readonly Tokens[],
): Promise<number[]> {
  const counts = new Array<number>(ngrams.length).fill(0);
  const perShard = shards.map(() => ({ keys: [] as Uint8Array[], at: [] as number[] }));
  for (let at = 0; at < ngrams.length; at++) {
    const tokens = ngrams[at];
    const order = tokenCount(tokens);
    if (order === 0) continue;
    const index = shardIndexOf(tokens, shards.length);
    const key = keyOf(shards[index], order, tokens, order);
    if (key === undefined) continue;
    perShard[index].keys.push(key);
    perShard[index].at.push(at);
  }
  for (const [index, { keys, at }] of perShard.entries()) {
    for (let from = 0; from < keys.length; from += getManyKeysMax) {
      const part = from === 0 && keys.length <= getManyKeysMax
        ? keys
        : keys.slice(from, from + getManyKeysMax);
      const values = await shards[index].store.getMany(part);
      for (let i = 0; i < values.length; i++) counts[at[from + i]] = values[i] ?? 0;
    }
  }
  return counts;
}

/** Calls `visit` for each entry under `prefix` in `shard` (the key is a view valid during the call). */
function scan(
  shard: Shard,
  prefix: Uint8Array,
  visit: (key: Uint8Array, value: number) => void,
): Promise<number> {
  return shard.store.scan({ prefix }, visit);
}

/** The `top` best next words under `prefix` (whose keys end in one more word id) in `shard`. */
async function topUnder(
  shard: Shard,
  prefix: Uint8Array,
  top: number,
): Promise<[Uint8Array, number][]> {
  const best = new TopK(shard, top);
  await scan(shard, prefix, (key, value) => {
    if (!readId(key, prefix.length, key.length) || idRead.end !== key.length) {
      throw new Error(`Shard ${shard.index} holds a malformed key`);
    }
    best.offer(idRead.id, value);
  });
  return best.sorted();
}

/**
 * The continuations of `history`, highest count first, ties in byte order of
 * the word; at most `top`. An empty history gives the most frequent words
 * (the 1-grams of every shard).
 */
export async function next(
  shards: readonly Shard[],
  history: Tokens,
  top: number,
): Promise<Continuation[]> {
  const order = tokenCount(history);
  let kept: [Uint8Array, number][];
  if (order === 0) {
    const lists: [Uint8Array, number][][] = [];
    for (const shard of shards) lists.push(await topUnder(shard, Uint8Array.of(1), top));
    kept = mergeTop(lists, top);
  } else {
    const shard = shards[shardIndexOf(history, shards.length)];
    const prefix = keyOf(shard, order + 1, history, order);
    if (prefix === undefined) return [];
    kept = await topUnder(shard, prefix, top);
  }
  return kept.map(([word, count]) => ({ word: wordText(word), count }));
}

/** N1+(h •): how many distinct words follow `history`. */
export async function continuationCount(
  shards: readonly Shard[],
  history: Tokens,
): Promise<number> {
  const order = tokenCount(history);
  if (order === 0) {
    let found = 0;
    for (const shard of shards) found += await scan(shard, Uint8Array.of(1), () => {});
    return found;
  }
  const shard = shards[shardIndexOf(history, shards.length)];
  const prefix = keyOf(shard, order + 1, history, order);
  if (prefix === undefined) return 0;
  return await scan(shard, prefix, () => {});
}

/**
 * The n-grams that start with `prefix` (at least one token), order by order
 * from the prefix's own, each order in the store's key order (the LEB128
 * bytes of the word ids: neither id nor alphabetical order).
 */
export async function* listPrefix(
  shards: readonly Shard[],
  prefix: Tokens,
  limit: number,
): AsyncGenerator<NgramCount> {
  const shard = shards[shardIndexOf(prefix, shards.length)];
  const length = tokenCount(prefix);
  let left = limit;
  for (let order = length; order <= orderMax && left > 0; order++) {
    const key = keyOf(shard, order, prefix, length);
    if (key === undefined) return;
    for await (const entry of shard.store.list({ prefix: key }, { limit: left })) {
      yield { ngram: ngramOf(shard, entry.key), count: entry.value };
      left--;
    }
  }
}

/** Every n-gram, shard by shard, each shard's order by order (in key order within one). */
export async function* allEntries(shards: readonly Shard[]): AsyncGenerator<NgramCount> {
  for (const shard of shards) {
    for (let order = 1; order <= orderMax; order++) {
      for await (const entry of shard.store.list({ prefix: Uint8Array.of(order) })) {
        yield { ngram: ngramOf(shard, entry.key), count: entry.value };
      }
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

/**
 * The `top` best (highest count, then lowest word bytes) of the words it is
 * offered by id. Most offers lose to the last word kept on the count alone,
 * so a word's bytes are looked up only on a tie or when it is kept.
 */
class TopK {
  readonly #top: number;
  readonly #shard: Shard;
  readonly #kept: [Uint8Array, number][] = [];

  constructor(shard: Shard, top: number) {
    this.#shard = shard;
    this.#top = top;
  }

  /** Considers word `id` of the shard with `count`. */
  offer(id: number, count: number): void {
    const kept = this.#kept;
    if (kept.length === this.#top && count < kept[kept.length - 1][1]) return;
    const word = wordOfId(this.#shard, id);
    if (kept.length === this.#top && !better(word, count, kept[kept.length - 1])) return;
    let at = kept.length;
    while (at > 0 && better(word, count, kept[at - 1])) at--;
    kept.splice(at, 0, [word, count]);
    if (kept.length > this.#top) kept.pop();
  }

  /** What was kept, best first. */
  sorted(): [Uint8Array, number][] {
    return this.#kept;
  }
}

/** Merges kept lists of several shards into the `top` best. */
function mergeTop(lists: [Uint8Array, number][][], top: number): [Uint8Array, number][] {
  return lists.flat().sort((x, y) => (better(x[0], x[1], y) ? -1 : better(y[0], y[1], x) ? 1 : 0))
    .slice(0, top);
}

/** Whether (word, count) ranks above `other`. */
function better(word: Uint8Array, count: number, other: [Uint8Array, number]): boolean {
  return count > other[1] || (count === other[1] && compareBytes(word, other[0]) < 0);
}
