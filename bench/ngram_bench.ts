// deno-lint-ignore-file no-console
/**
 * `deno task ngram-bench`: the n-gram store's numbers (issue 16), measured
 * side by side in one run on one Google-shaped v2 file it writes:
 *
 * - import: rows/s and distinct n-grams/s into the n-gram store, and the
 *   same rows loaded into SQLite (`node:sqlite`, `INSERT … ON CONFLICT`,
 *   one transaction per 50,000 n-grams) through the same reader;
 * - what no import can go below on one core: the reader alone, and the
 *   trie alone taking the distinct keys (so the most any import could be
 *   over SQLite);
 * - bytes on disk per n-gram after a compaction;
 * - `countMany` per second through the library, the store loaded: in the
 *   importing process right after the import, after a compaction (which
 *   also lays the trie out afresh in memory), and reopened;
 * - `next(history, { top: 10 })` latency (p50, p99) on histories with
 *   1,000–2,000, 2,000–5,000 and 5,000–10,000 continuations.
 *
 * Every answer is checked against the file's sums (a sample of n-grams).
 *
 * ```sh
 * deno task ngram-bench [--ngrams N] [--words N] [--shards N] [--json FILE]
 * ```
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { type NgramStore, openNgramStore } from "../lib/ngram/mod.ts";
import { readNgrams } from "../lib/ngram/read.ts";
import { writeV2Bigrams } from "./_ngram_data.ts";
import { Art } from "../lib/art/art.ts";
import { du } from "./_du.ts";

interface Options {
  ngrams: number;
  words: number;
  shards: number;
  json?: string;
}

function parseArgs(args: string[]): Options {
  const options: Options = { ngrams: 2_000_000, words: 100_000, shards: 8 };
  for (let at = 0; at < args.length; at++) {
    const value = args[++at];
    if (args[at - 1] === "--ngrams") options.ngrams = Number(value);
    else if (args[at - 1] === "--shards") options.shards = Number(value);
    else if (args[at - 1] === "--words") options.words = Number(value);
    else if (args[at - 1] === "--json") options.json = value;
    else {throw new TypeError(
        `Unknown argument "${args[at - 1]}"; usage: --ngrams N --words N --shards N --json FILE`,
      );}
  }
  return options;
}

/** Loads the file's rows into SQLite as the store takes them; returns seconds. */
async function loadSqlite(file: string, dir: string): Promise<number> {
  const db = new DatabaseSync(`${dir}/ngrams.sqlite3`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec("CREATE TABLE ngrams (ngram TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID");
  const upsert = db.prepare(
    "INSERT INTO ngrams (ngram, count) VALUES (?, ?) " +
      "ON CONFLICT (ngram) DO UPDATE SET count = count + excluded.count",
  );
  const decoder = new TextDecoder();
  let pending = 0;
  const started = performance.now();
  db.exec("BEGIN");
  await readNgrams(file, {
    format: "v2",
    filters: { minCount: 1, tags: "drop", order: 3 },
    sink: {
      ngram(bytes, start, end, count) {
        upsert.run(decoder.decode(bytes.subarray(start, end)), count);
        pending++;
      },
      boundary() {
        if (pending < 50_000) return;
        db.exec("COMMIT");
        db.exec("BEGIN");
        pending = 0;
      },
    },
  });
  db.exec("COMMIT");
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return seconds;
}

/** Bytes of a LEB128 word id at most (as the store writes them). */
const idBytesMax = 5;

/** Writes `id` as LEB128 at `out[at]`, as the store's keys hold it; returns the end. */
function writeId(out: Uint8Array, at: number, id: number): number {
  let rest = id;
  while (rest >= 0x80) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[at++] = rest;
  return at;
}

/**
 * What no import on one core can go below: the reader handing every n-gram
 * to a sink that does nothing, and the trie (`Art`, in memory, no log, no
 * image) taking each distinct n-gram's key once, in the order the file
 * first has it, keys built beforehand as the store builds them (order byte,
 * LEB128 ids of one vocabulary), spread over one trie per shard.
 */
async function importFloor(
  file: string,
  shards: number,
): Promise<{ readerSeconds: number; trieSeconds: number }> {
  const filters = { minCount: 1, tags: "drop" as const, order: 3 };
  let handed = 0;
  const readStarted = performance.now();
  await readNgrams(file, {
    format: "v2",
    filters,
    sink: { ngram: () => void handed++, boundary() {} },
  });
  const readerSeconds = (performance.now() - readStarted) / 1000;
  const ids = new Map<string, number>();
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  const shardOf: number[] = [];
  const decoder = new TextDecoder();
  await readNgrams(file, {
    format: "v2",
    filters,
    sink: {
      ngram(bytes, start, end) {
        const text = decoder.decode(bytes.subarray(start, end));
        if (seen.has(text)) return;
        seen.add(text);
        const words = text.split(" ");
        const key = new Uint8Array(1 + words.length * idBytesMax);
        key[0] = words.length;
        let at = 1;
        for (const word of words) {
          let id = ids.get(word);
          if (id === undefined) ids.set(word, id = ids.size);
          if (at === 1) shardOf.push(id % shards);
          at = writeId(key, at, id);
        }
        keys.push(key.subarray(0, at));
      },
      boundary() {},
    },
  });
  if (handed < keys.length) throw new Error("the reader handed fewer n-grams than are distinct");
  const arts = Array.from({ length: shards }, () => new Art());
  const insertStarted = performance.now();
  for (let at = 0; at < keys.length; at++) arts[shardOf[at]].add(keys[at], 1);
  const trieSeconds = (performance.now() - insertStarted) / 1000;
  const held = arts.reduce((sum, art) => sum + art.size, 0);
  if (held !== keys.length) throw new Error("the tries hold another number of keys");
  return { readerSeconds, trieSeconds };
}

/** Continuation counts whose `next` latency is measured, and histories a band at most. */
const nextBands: readonly [number, number][] = [[1_000, 2_000], [2_000, 5_000], [5_000, 10_000]];
const historiesPerBand = 20;
/** Rounds over a band's histories. */
const nextRounds = 50;

/** The first tokens of the file's n-grams, by band of continuation counts ({@link nextBands}). */
async function historyBands(file: string): Promise<string[][]> {
  const firsts = new Map<string, number>();
  const decoder = new TextDecoder();
  await readNgrams(file, {
    format: "v2",
    filters: { minCount: 1, tags: "drop", order: 3 },
    sink: {
      ngram(bytes, start, end) {
        let at = start;
        while (bytes[at] !== 0x20 && at < end) at++;
        const word = decoder.decode(bytes.subarray(start, at));
        firsts.set(word, (firsts.get(word) ?? 0) + 1);
      },
      boundary() {},
    },
  });
  return nextBands.map(([from, to]) =>
    [...firsts].filter(([, n]) => n >= from && n < to).slice(0, historiesPerBand).map(([h]) => h)
  );
}

/** `next(h, { top: 10 })` latency per band of continuation counts. */
async function nextLatencies(store: NgramStore, histories: string[][]) {
  const bands = [];
  for (const [band, [from, to]] of nextBands.entries()) {
    const latencies: number[] = [];
    for (let round = 0; round < nextRounds; round++) {
      for (const history of histories[band]) {
        const at = performance.now();
        await store.next(history, { top: 10 });
        latencies.push(performance.now() - at);
      }
    }
    latencies.sort((a, b) => a - b);
    bands.push({
      from,
      to,
      histories: histories[band].length,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
    });
  }
  return bands;
}

/** `countMany` calls of this many n-grams. */
const countCallNgrams = 100_000;
/** N-grams counted in all. */
const countNgrams = 1_000_000;

/** The `countMany` rate on the sampled n-grams, and the `next` latencies. */
async function queryNumbers(store: NgramStore, lookups: string[], histories: string[][]) {
  const queries: string[] = [];
  while (queries.length < countNgrams) queries.push(...lookups);
  const calls: string[][] = [];
  for (let at = 0; at < queries.length; at += countCallNgrams) {
    calls.push(queries.slice(at, at + countCallNgrams));
  }
  await store.countMany(calls[0]); // warm up: the rate is the steady one
  const countStarted = performance.now();
  for (const call of calls) await store.countMany(call);
  const countRate = queries.length / ((performance.now() - countStarted) / 1000);
  return { countRate, bands: await nextLatencies(store, histories) };
}

function printQueries(when: string, numbers: Awaited<ReturnType<typeof queryNumbers>>): void {
  console.log(
    `count, ${when}: ${(numbers.countRate / 1e6).toFixed(2)}M per second ` +
      `(countMany, ${countCallNgrams.toLocaleString("en")} a call)`,
  );
  for (const band of numbers.bands) {
    console.log(
      `next top 10, ${when}, ${band.from}-${band.to} continuations (${band.histories} histories): ` +
        `p50 ${band.p50Ms.toFixed(3)} ms, p99 ${band.p99Ms.toFixed(3)} ms`,
    );
  }
}

/** The `p`-quantile of sorted `values`. */
function quantile(values: number[], p: number): number {
  return values[Math.min(values.length - 1, Math.floor(p * values.length))];
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "ngram-bench-" });
  try {
    const file = `${dir}/googlebooks-eng-all-2gram-20120701-bench.gz`;
    const data = await writeV2Bigrams(file, {
      ngrams: options.ngrams,
      words: options.words,
      seed: 1,
    });
    console.log(
      `input: ${data.rows} rows, ${data.ngrams} distinct bigrams, ` +
        `${(data.fileBytes / 1e6).toFixed(1)} MB gzip (${
          (data.textBytes / 1e6).toFixed(1)
        } MB text)`,
    );
    const store = await openNgramStore(`${dir}/store`, { shards: options.shards });
    const started = performance.now();
    const outcome = await store.importFile(file, { format: "v2" });
    const importSeconds = (performance.now() - started) / 1000;
    const counts = await store.countMany(data.sample.map(([ngram]) => ngram));
    const wrong = data.sample.filter(([, sum], at) => counts[at] !== sum).length;
    if (wrong > 0) throw new Error(`${wrong} of ${data.sample.length} sampled counts are wrong`);
    const lookups = data.sample.map(([ngram]) => ngram);
    const histories = await historyBands(file);
    const afterImport = await queryNumbers(store, lookups, histories);
    await store.compact();
    const afterCompact = await queryNumbers(store, lookups, histories);
    await store.close();
    const reopened = await openNgramStore(`${dir}/store`, { create: false });
    const afterReopen = await queryNumbers(reopened, lookups, histories);
    await reopened.close();
    const storeBytes = await du(`${dir}/store`);
    const sqliteSeconds = await loadSqlite(file, dir);
    const floor = await importFloor(file, options.shards);
    const report = {
      rows: data.rows,
      ngrams: data.ngrams,
      shards: options.shards,
      importSeconds,
      rowsPerSecond: data.rows / importSeconds,
      ngramsPerSecond: data.ngrams / importSeconds,
      sqliteSeconds,
      sqliteRowsPerSecond: data.rows / sqliteSeconds,
      speedupOverSqlite: sqliteSeconds / importSeconds,
      readerSeconds: floor.readerSeconds,
      trieSeconds: floor.trieSeconds,
      speedupBound: sqliteSeconds / (floor.readerSeconds + floor.trieSeconds),
      bytesPerNgram: storeBytes / data.ngrams,
      countPerSecond: afterImport.countRate,
      next: afterImport.bands,
      compacted: { countPerSecond: afterCompact.countRate, next: afterCompact.bands },
      reopened: { countPerSecond: afterReopen.countRate, next: afterReopen.bands },
      written: outcome.ngrams,
    };
    console.log(
      `import: ${(report.rowsPerSecond / 1e6).toFixed(2)}M rows/s, ` +
        `${(report.ngramsPerSecond / 1e6).toFixed(2)}M n-grams/s (${importSeconds.toFixed(1)} s, ` +
        `${options.shards} shards)`,
    );
    console.log(
      `sqlite: ${(report.sqliteRowsPerSecond / 1e6).toFixed(2)}M rows/s (${
        sqliteSeconds.toFixed(1)
      } s): ` +
        `tallytrie ${report.speedupOverSqlite.toFixed(1)}× faster`,
    );
    console.log(
      `floor: reading alone ${floor.readerSeconds.toFixed(2)} s, the trie's inserts alone ` +
        `${floor.trieSeconds.toFixed(2)} s: on one core an import is at most ` +
        `${report.speedupBound.toFixed(1)}× SQLite`,
    );
    console.log(`disk: ${report.bytesPerNgram.toFixed(2)} bytes per n-gram after compaction`);
    printQueries("in the importing process", afterImport);
    printQueries("compacted", afterCompact);
    printQueries("reopened", afterReopen);
    if (options.json !== undefined) {
      await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
