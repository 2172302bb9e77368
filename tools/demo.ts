// deno-lint-ignore-file no-console
/**
 * The main job: counts the word 1-, 2- and 3-grams of a text file into a
 * durable store, prints progress, throughput and the top 10 n-grams, then
 * closes, reopens and checks every count against an in-memory tally.
 *
 * ```sh
 * deno task demo [FILE] [--dir DIR] [--batch N]
 * ```
 *
 * FILE defaults to the project's README.md; DIR defaults to a temporary
 * directory that is removed afterwards (a given DIR is kept, and counts add
 * up across runs: the check then compares against the counts found at start).
 *
 * @module
 */

import { openStore, type Store } from "../mod.ts";

interface Args {
  file: string;
  dir: string | undefined;
  batch: number;
}

const usage = "usage: deno task demo [FILE] [--dir DIR] [--batch N]";
/** Commits in flight at once; each is one atomic batch of `batch` increments. */
const commitsInFlightMax = 8;
const orderMax = 3;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    file: new URL("../README.md", import.meta.url).pathname,
    dir: undefined,
    batch: 1000,
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === "--dir" || arg === "--batch") {
      const value = argv[++index];
      if (value === undefined) throw new TypeError(`${arg} needs a value; ${usage}`);
      if (arg === "--dir") args.dir = value;
      else args.batch = Number(value);
    } else if (arg === "--help" || arg === "-h") {
      console.log(usage);
      Deno.exit(0);
    } else if (arg.startsWith("-")) {
      throw new TypeError(`Unknown option "${arg}"; ${usage}`);
    } else {
      args.file = arg;
    }
  }
  if (!Number.isSafeInteger(args.batch) || args.batch < 1 || args.batch > 100_000) {
    throw new RangeError(`--batch must be an integer from 1 to 100000, got ${args.batch}`);
  }
  return args;
}

/** The word n-grams of `text`, orders 1 to 3, lowercased, in text order. */
function* ngrams(text: string): Generator<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
  for (let index = 0; index < words.length; index++) {
    for (let order = 1; order <= orderMax && index + order <= words.length; order++) {
      yield words.slice(index, index + order).join(" ");
    }
  }
}

async function countInto(
  store: Store,
  text: string,
  batchSize: number,
): Promise<Map<string, number>> {
  const tally = new Map<string, number>();
  const total = [...ngrams(text)].length;
  const inFlight = new Set<Promise<unknown>>();
  let done = 0;
  let nextReport = 0.1;
  let batch = store.atomic();
  let batchLength = 0;
  const started = performance.now();
  const flush = async () => {
    const commit = batch.commit().then((result) => {
      if (!result.ok) throw new Error("Atomic batch without checks failed: this is a bug");
    });
    inFlight.add(commit);
    commit.finally(() => inFlight.delete(commit)).catch(() => {});
    batch = store.atomic();
    batchLength = 0;
    if (inFlight.size >= commitsInFlightMax) await Promise.race(inFlight);
  };
  for (const gram of ngrams(text)) {
    tally.set(gram, (tally.get(gram) ?? 0) + 1);
    batch.add(gram, 1);
    batchLength++;
    done++;
    if (batchLength === batchSize) await flush();
    if (done / total >= nextReport) {
      console.log(`  ${(100 * done / total).toFixed(0).padStart(3)}%  ${done} increments`);
      nextReport += 0.1;
    }
  }
  if (batchLength > 0) await flush();
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `counted ${total} n-gram increments (${tally.size} distinct) in ${seconds.toFixed(2)} s: ` +
      `${Math.round(total / seconds)} increments/s, durable (strict mode)`,
  );
  return tally;
}

async function topTen(store: Store): Promise<[string, number][]> {
  const decoder = new TextDecoder();
  const top: [string, number][] = [];
  for await (const { key, value } of store.list({ prefix: "" })) {
    top.push([decoder.decode(key), value]);
    top.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    if (top.length > 10) top.pop();
  }
  return top;
}

async function verify(
  dir: string,
  before: Map<string, number>,
  tally: Map<string, number>,
): Promise<void> {
  const started = performance.now();
  const store = await openStore(dir);
  try {
    const expected = new Map(before);
    for (const [gram, count] of tally) expected.set(gram, (expected.get(gram) ?? 0) + count);
    let checked = 0;
    for (const [gram, count] of expected) {
      const stored = await store.get(gram);
      if (stored !== count) {
        throw new Error(`Verification failed: "${gram}" is ${stored} on disk, ${count} in memory`);
      }
      checked++;
    }
    if (store.stats().keys !== expected.size) {
      throw new Error(
        `Verification failed: ${store.stats().keys} keys on disk, ${expected.size} in memory`,
      );
    }
    const ms = performance.now() - started;
    console.log(
      `reopened in ${
        store.stats().recovery.openMs.toFixed(1)
      } ms (${store.stats().recovery.replayedRecords} WAL records replayed)`,
    );
    console.log(
      `verified ${checked} counts against the in-memory tally in ${ms.toFixed(1)} ms: all match`,
    );
  } finally {
    await store.close();
  }
}

async function snapshot(store: Store): Promise<Map<string, number>> {
  const decoder = new TextDecoder();
  const counts = new Map<string, number>();
  for await (const { key, value } of store.list({ prefix: "" })) {
    counts.set(decoder.decode(key), value);
  }
  return counts;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const text = await Deno.readTextFile(args.file);
  const dir = args.dir ?? await Deno.makeTempDir({ prefix: "tallytrie-demo-" });
  console.log(`counting word 1-, 2- and 3-grams of "${args.file}" into "${dir}"`);
  try {
    const store = await openStore(dir);
    let before: Map<string, number>;
    let tally: Map<string, number>;
    try {
      before = await snapshot(store);
      tally = await countInto(store, text, args.batch);
      console.log("top 10 n-grams:");
      for (const [gram, count] of await topTen(store)) {
        console.log(`  ${String(count).padStart(8)}  ${gram}`);
      }
    } finally {
      await store.close();
    }
    await verify(dir, before, tally);
  } finally {
    if (args.dir === undefined) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
