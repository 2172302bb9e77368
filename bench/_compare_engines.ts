/**
 * Internal helpers of `bench/compare.ts`: the n-gram workload (generated or
 * from a corpus) and one adapter per engine behind a common interface, so the
 * worker runs the same phases on each.
 *
 * @module
 */

import { openStore, type Store } from "../mod.ts";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { makeRandom } from "./random.ts";

/** Engine names, in the order the comparison runs them. */
export const engineNames = ["tallytrie", "sqlite", "denokv", "map"] as const;
/** One of {@linkcode engineNames}. */
export type EngineName = typeof engineNames[number];

/** Words in the generated vocabulary. */
export const vocabularyWords = 20_000;
/** Zipf exponent of the generated text. */
const zipfExponent = 1;
/** Seed of the generator; fixed so every worker sees the same workload. */
export const workloadSeed = 0x7a11_7e1e;
/** Shortest and longest generated word, in letters. */
const wordLettersMin = 2;
const wordLettersMax = 9;
/** Bound on the attempts to draw a new distinct word. */
const vocabularyAttemptsMax = vocabularyWords * 100;
/** Longest n-gram counted. */
const gramLengthMax = 3;

/** The increments to apply, in order, and the vocabulary by falling frequency. */
export interface Workload {
  /** One n-gram key per increment of 1. */
  increments: string[];
  /** Words ranked by frequency, most frequent first (scan prefixes come from here). */
  wordsByRank: string[];
}

function generatedVocabulary(random: () => number): string[] {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = new Set<string>();
  for (
    let attempt = 0;
    attempt < vocabularyAttemptsMax && words.size < vocabularyWords;
    attempt++
  ) {
    const length = wordLettersMin +
      Math.floor(random() * (wordLettersMax - wordLettersMin + 1));
    let word = "";
    for (let index = 0; index < length; index++) word += letters[Math.floor(random() * 26)];
    words.add(word);
  }
  if (words.size !== vocabularyWords) {
    throw new Error("Cannot generate the vocabulary: too few words");
  }
  return [...words];
}

function zipfCumulative(count: number): Float64Array {
  const cumulative = new Float64Array(count);
  let total = 0;
  for (let rank = 0; rank < count; rank++) {
    total += 1 / Math.pow(rank + 1, zipfExponent);
    cumulative[rank] = total;
  }
  for (let rank = 0; rank < count; rank++) cumulative[rank] /= total;
  return cumulative;
}

function sampleRank(cumulative: Float64Array, u: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (cumulative[middle] < u) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Turns a token stream into 1-, 2- and 3-gram increments until `target` is reached. */
function gramsOf(nextToken: () => string, target: number): string[] {
  const increments: string[] = [];
  const window: string[] = [];
  while (increments.length < target) {
    window.push(nextToken());
    if (window.length > gramLengthMax) window.shift();
    for (let length = 1; length <= window.length && increments.length < target; length++) {
      increments.push(window.slice(window.length - length).join(" "));
    }
  }
  return increments;
}

/**
 * Builds the workload: a deterministic Zipf-like text over a generated
 * vocabulary, or the words of `corpusText` (repeated if too short).
 */
export function buildWorkload(target: number, corpusText?: string): Workload {
  const random = makeRandom(workloadSeed);
  if (corpusText === undefined) {
    const words = generatedVocabulary(random);
    const cumulative = zipfCumulative(words.length);
    const increments = gramsOf(() => words[sampleRank(cumulative, random())], target);
    return { increments, wordsByRank: words };
  }
  const tokens = corpusText.split(/\s+/).filter((token) => token.length > 0);
  if (tokens.length === 0) throw new Error("Cannot use the corpus: it holds no words");
  let next = 0;
  const increments = gramsOf(() => tokens[next++ % tokens.length], target);
  const frequency = new Map<string, number>();
  for (const token of tokens) frequency.set(token, (frequency.get(token) ?? 0) + 1);
  const wordsByRank = [...frequency.keys()].sort((a, b) => frequency.get(b)! - frequency.get(a)!);
  return { increments, wordsByRank };
}

/** One entry returned by a scan: the key as bytes (or a string for the Map) and its count. */
export type ScanEntry = [key: Uint8Array | string, value: number];

/** What the worker drives; every engine holds the same counts at the end. */
export interface Engine {
  /** Whether writes resolve only once durable. */
  readonly durable: boolean;
  /** Whether `add` may be called by many callers at once (SQLite is synchronous). */
  readonly concurrent: boolean;
  open(dir: string): Promise<void>;
  add(key: string, delta: number): Promise<void>;
  /** Adds 1 for each of `keys` as one atomic batch. */
  addBatch(keys: string[]): Promise<void>;
  get(key: string): Promise<number | undefined>;
  /** Every key starting with `prefix`, in byte order. */
  scan(prefix: string): Promise<ScanEntry[]>;
  /** Rewrites the engine's files as small as it can, if it has a way to (after the load). */
  compact?(): Promise<void>;
  /**
   * Resolves once what the open left to the background is done (tallytrie:
   * the warm-up that loads the trie after an `"auto"` open); absent when
   * the open leaves nothing.
   */
  settle?(): Promise<void>;
  /** Checkpoints what the engine can and releases the directory. */
  close(): Promise<void>;
}

/** How long {@link Engine.settle} waits at most for a warm-up (it ends in a few seconds here). */
const settleMsMax = 120_000;
/** Its poll of `stats().warmUp`. */
const settlePollMs = 2;

const encoder = new TextEncoder();

/** The exclusive upper bound of a byte prefix: UTF-8 never holds 0xff. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix.length + 1);
  end.set(prefix);
  end[prefix.length] = 0xff;
  return end;
}

class TallytrieEngine implements Engine {
  readonly durable = true;
  readonly concurrent = true;
  #store: Store | undefined;
  get #open(): Store {
    if (this.#store === undefined) throw new Error("tallytrie store is not open");
    return this.#store;
  }
  async open(dir: string): Promise<void> {
    this.#store = await openStore({ path: dir, durability: "strict" });
  }
  async add(key: string, delta: number): Promise<void> {
    await this.#open.add(key, delta);
  }
  async addBatch(keys: string[]): Promise<void> {
    const atomic = this.#open.atomic();
    for (const key of keys) atomic.add(key, 1);
    const result = await atomic.commit();
    if (!result.ok) throw new Error("tallytrie batch commit returned ok: false");
  }
  get(key: string): Promise<number | undefined> {
    return this.#open.get(key);
  }
  async scan(prefix: string): Promise<ScanEntry[]> {
    const entries: ScanEntry[] = [];
    for await (const { key, value } of this.#open.list({ prefix })) entries.push([key, value]);
    return entries;
  }
  async compact(): Promise<void> {
    await this.#open.checkpoint({ compact: true });
  }
  async settle(): Promise<void> {
    const started = performance.now();
    while (this.#open.stats().warmUp.state === "running") {
      if (performance.now() - started > settleMsMax) {
        throw new Error("tallytrie warm-up never ended");
      }
      await new Promise((resolve) => setTimeout(resolve, settlePollMs));
    }
  }
  async close(): Promise<void> {
    await this.#open.checkpoint();
    await this.#open.close();
    this.#store = undefined;
  }
}

class SqliteEngine implements Engine {
  readonly durable = true;
  readonly concurrent = false;
  #db: DatabaseSync | undefined;
  #upsert: StatementSync | undefined;
  #select: StatementSync | undefined;
  #range: StatementSync | undefined;
  open(dir: string): Promise<void> {
    const db = new DatabaseSync(`${dir}/counts.db`);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("CREATE TABLE IF NOT EXISTS counts(k BLOB PRIMARY KEY, n INTEGER) WITHOUT ROWID");
    this.#upsert = db.prepare(
      "INSERT INTO counts VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET n = n + excluded.n",
    );
    this.#select = db.prepare("SELECT n FROM counts WHERE k = ?");
    this.#range = db.prepare("SELECT k, n FROM counts WHERE k >= ? AND k < ? ORDER BY k");
    this.#db = db;
    return Promise.resolve();
  }
  add(key: string, delta: number): Promise<void> {
    this.#upsert!.run(encoder.encode(key), delta);
    return Promise.resolve();
  }
  addBatch(keys: string[]): Promise<void> {
    const db = this.#db!;
    db.exec("BEGIN");
    try {
      for (const key of keys) this.#upsert!.run(encoder.encode(key), 1);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return Promise.resolve();
  }
  get(key: string): Promise<number | undefined> {
    const row = this.#select!.get(encoder.encode(key)) as { n: number } | undefined;
    return Promise.resolve(row?.n);
  }
  scan(prefix: string): Promise<ScanEntry[]> {
    const start = encoder.encode(prefix);
    const rows = this.#range!.all(start, prefixEnd(start)) as { k: Uint8Array; n: number }[];
    return Promise.resolve(rows.map((row): ScanEntry => [row.k, row.n]));
  }
  close(): Promise<void> {
    this.#db!.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.#db!.close();
    this.#db = undefined;
    return Promise.resolve();
  }
}

class DenoKvEngine implements Engine {
  readonly durable = true;
  readonly concurrent = true;
  #kv: Deno.Kv | undefined;
  async open(dir: string): Promise<void> {
    this.#kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  }
  async add(key: string, delta: number): Promise<void> {
    const result = await this.#kv!.atomic().sum([encoder.encode(key)], BigInt(delta)).commit();
    if (!result.ok) throw new Error("Deno KV sum commit returned ok: false");
  }
  async addBatch(keys: string[]): Promise<void> {
    const atomic = this.#kv!.atomic();
    for (const key of keys) atomic.sum([encoder.encode(key)], 1n);
    const result = await atomic.commit();
    if (!result.ok) throw new Error("Deno KV batch commit returned ok: false");
  }
  async get(key: string): Promise<number | undefined> {
    const entry = await this.#kv!.get<Deno.KvU64>([encoder.encode(key)]);
    return entry.value === null ? undefined : Number(entry.value.value);
  }
  async scan(prefix: string): Promise<ScanEntry[]> {
    const start = encoder.encode(prefix);
    const entries: ScanEntry[] = [];
    const iterator = this.#kv!.list<Deno.KvU64>({ start: [start], end: [prefixEnd(start)] });
    for await (const entry of iterator) {
      entries.push([entry.key[0] as Uint8Array, Number(entry.value.value)]);
    }
    return entries;
  }
  close(): Promise<void> {
    this.#kv!.close();
    this.#kv = undefined;
    return Promise.resolve();
  }
}

/**
 * The no-durability ceiling: a `Map` plus, after a "reopen", a sorted key
 * array for prefix scans (built in the reopen phase, so timed there).
 */
class MapEngine implements Engine {
  readonly durable = false;
  readonly concurrent = true;
  #map = new Map<string, number>();
  #sorted: string[] | undefined;
  open(_dir: string): Promise<void> {
    this.#sorted = [...this.#map.keys()].sort();
    return Promise.resolve();
  }
  add(key: string, delta: number): Promise<void> {
    this.#map.set(key, (this.#map.get(key) ?? 0) + delta);
    return Promise.resolve();
  }
  addBatch(keys: string[]): Promise<void> {
    const map = this.#map;
    for (const key of keys) map.set(key, (map.get(key) ?? 0) + 1);
    return Promise.resolve();
  }
  get(key: string): Promise<number | undefined> {
    return Promise.resolve(this.#map.get(key));
  }
  scan(prefix: string): Promise<ScanEntry[]> {
    const sorted = this.#sorted!;
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle] < prefix) low = middle + 1;
      else high = middle;
    }
    const entries: ScanEntry[] = [];
    for (let index = low; index < sorted.length && sorted[index].startsWith(prefix); index++) {
      entries.push([sorted[index], this.#map.get(sorted[index])!]);
    }
    return Promise.resolve(entries);
  }
  close(): Promise<void> {
    this.#sorted = undefined;
    return Promise.resolve();
  }
}

/** A fresh adapter for `name`. */
export function createEngine(name: EngineName): Engine {
  switch (name) {
    case "tallytrie":
      return new TallytrieEngine();
    case "sqlite":
      return new SqliteEngine();
    case "denokv":
      return new DenoKvEngine();
    case "map":
      return new MapEngine();
  }
}
