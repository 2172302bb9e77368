// deno-lint-ignore-file no-console
/**
 * `deno task scale-bench`: an n-gram store far larger than its memory budget
 * (issue 17), built and queried the way a user would, through the command
 * line, each step in its own process so its peak resident set is its own.
 *
 * 1. Writes `--keys` distinct trigrams as Spark-style count files
 *    (`NGRAM TAB COUNT`, {@link fileCount} part files, each sorted by its
 *    first token as a partitioned job's output is) under `--dir`, once; a
 *    later run with the same `--keys` reuses them.
 * 2. `deno task ngram import` of them into a new store, `DIR/store` (one
 *    left there by an earlier run is removed first: give a directory of its own), with
 *    `--memory-budget`: wall time, keys per second, peak RSS (from
 *    `/usr/bin/time -v`).
 * 3. Bytes on disk per key.
 * 4. A query process opens the store with the same budget and reads keys
 *    skewed (90% of reads on the first 2% of keys: those of the 2% first
 *    tokens first in the files) and uniform, each mix measured (`--reads`)
 *    after `--warm-reads` reads of it unmeasured, and both after uniform
 *    reads filled the budget (until the tries take {@link fillShare} of it or
 *    something was evicted, at most `--fill-reads`), so that the measured reads meet evictions; its peak
 *    RSS, and per phase the largest arena seen and the subtrees evicted.
 *    Every answer is checked against the count the generator gave.
 *
 * ```sh
 * deno task scale-bench --keys 100000000 --budget 1GiB --dir /tmp/scale \
 *   [--reads N] [--warm-reads N] [--fill-reads N] [--query-only] [--json FILE]
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { type NgramStore, openNgramStore } from "../lib/ngram/mod.ts";
import { parseByteSize } from "../lib/ngram/cli.ts";
import { makeRandom } from "./random.ts";
import { du } from "./_du.ts";

/** Part files the keys are split over. */
const fileCount = 10;
/** Distinct first tokens. */
const firstTokens = 20_011;
/** Words the second and third tokens are drawn from (a prime, so `r ↦ r·step mod words` is one to one). */
const words = 49_999;
const wordStep = 7_919;
/**
 * The uniform reads before the mixes go on until the tries take this share
 * of the budget (a part evicts down to three quarters of its trie's share,
 * the slab cache and the cooling queue take a fifth).
 */
const fillShare = 0.6;
/** Keys a `countMany` asks at once. */
const readBatch = 100;

interface Args {
  keys: number;
  budget: number;
  dir: string;
  json?: string;
  query: boolean;
  /** Measure the queries of the store built last (`--query-only`). */
  queryOnly: boolean;
  /** Reads per mix measured. */
  reads: number;
  /** Reads per mix before, unmeasured. */
  warmReads: number;
  /** The most uniform reads that fill the budget before the mixes. */
  fillReads: number;
}

function parseArgs(args: string[]): Args {
  const parsed: Args = {
    keys: 1_000_000,
    budget: 2 ** 30,
    dir: "/tmp/scale",
    query: false,
    queryOnly: false,
    reads: 1_000_000,
    warmReads: 2_000_000,
    fillReads: 200_000_000,
  };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] === "--keys" && Number.isSafeInteger(Number(value))) parsed.keys = Number(value);
    else if (args[i] === "--budget" && parseByteSize(value) !== undefined) {
      parsed.budget = parseByteSize(value)!;
    } else if (args[i] === "--dir" && value !== undefined) parsed.dir = value;
    else if (args[i] === "--json" && value !== undefined) parsed.json = value;
    else if (args[i] === "--reads" && Number.isSafeInteger(Number(value))) {
      parsed.reads = Number(value);
    } else if (args[i] === "--warm-reads" && Number.isSafeInteger(Number(value))) {
      parsed.warmReads = Number(value);
    } else if (args[i] === "--fill-reads" && Number.isSafeInteger(Number(value))) {
      parsed.fillReads = Number(value);
    } else if (args[i] === "--query" || args[i] === "--query-only") {
      if (args[i] === "--query") parsed.query = true;
      else parsed.queryOnly = true;
      continue;
    } else {
      throw new TypeError(
        `Unknown argument ${
          JSON.stringify(args[i])
        }; usage: --keys N --budget SIZE --dir DIR [--reads N] [--warm-reads N] [--fill-reads N] [--query-only] [--json FILE]`,
      );
    }
    i++;
  }
  return parsed;
}

/** Word `i`: syllables from its digits in base 13, so words share prefixes as words do. */
const syllables = ["ka", "to", "ri", "an", "el", "mo", "su", "ne", "li", "ra", "po", "vi", "de"];
function word(i: number): string {
  let text = "";
  let rest = i + 1;
  while (rest > 0) {
    text += syllables[rest % syllables.length];
    rest = Math.floor(rest / syllables.length);
  }
  return text;
}

/** First tokens in the order the files hold them (sorted). */
const firstWords = Array.from({ length: firstTokens }, (_, i) => word(i * 3 + 1)).sort();

/** Key `i` of `keys` and its count: keys are grouped by first token, in file order. */
export function keyOf(i: number, keys: number): [string, number] {
  const perFirst = Math.ceil(keys / firstTokens);
  const first = Math.floor(i / perFirst);
  const r = i % perFirst; // < words while keys ≤ firstTokens · words (a billion)
  const second = word((r * wordStep + first) % words);
  const third = word((r * 31 + first * 17) % words);
  return [`${firstWords[first]} ${second} ${third}`, 1 + (i % 7)];
}

/** Writes the part files if they are not there yet; returns their paths. */
async function writeFiles(dir: string, keys: number): Promise<string[]> {
  const inputs = `${dir}/input-${keys}`;
  const paths = Array.from({ length: fileCount }, (_, f) => `${inputs}/part-${f}.tsv`);
  try {
    await Deno.stat(`${inputs}/done`);
    return paths;
  } catch { /* not written yet */ }
  await Deno.mkdir(inputs, { recursive: true });
  const started = performance.now();
  const encoder = new TextEncoder();
  for (let f = 0; f < fileCount; f++) {
    const file = await Deno.open(paths[f], { write: true, create: true, truncate: true });
    const writer = file.writable.getWriter();
    const from = Math.floor(keys * f / fileCount);
    const to = Math.floor(keys * (f + 1) / fileCount);
    let text = "";
    for (let i = from; i < to; i++) {
      const [key, count] = keyOf(i, keys);
      text += `${key}\t${count}\n`;
      if (text.length > 1 << 20) {
        await writer.write(encoder.encode(text));
        text = "";
      }
    }
    await writer.write(encoder.encode(text));
    await writer.close();
  }
  await Deno.writeTextFile(`${inputs}/done`, "");
  console.log(`wrote ${keys} keys in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return paths;
}

/** Runs `args` under `/usr/bin/time -v`; returns its stdout, seconds and peak RSS in bytes. */
async function timed(args: string[]): Promise<{ stdout: string; seconds: number; rss: number }> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${args.join(" ")} failed:\n${stderr.slice(-4000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (rss === null) throw new Error(`no peak RSS in /usr/bin/time's output:\n${stderr}`);
  return { stdout: new TextDecoder().decode(output.stdout), seconds, rss: Number(rss[1]) * 1024 };
}

/** A deterministic stream of the keys a mix reads: skewed (90% on the first 2% of keys) or uniform. */
function readStream(keys: number, skewed: boolean, seed: number): () => number {
  const random = makeRandom(seed);
  const hot = Math.max(1, Math.floor(keys * 0.02));
  return () => Math.floor(random() * (skewed && random() < 0.9 ? hot : keys));
}

/** What one measured phase of reads gave. */
interface Phase {
  reads: number;
  perSecond: number;
  perCpuSecond: number;
  /** The most the tries' nodes (live and freed) took, sampled every {@link sampleEveryBatches}. */
  peakArenaBytes: number;
  evictions: number;
}

/** Batches of reads between two samples of the memory. */
const sampleEveryBatches = 100;

/**
 * Reads `reads` keys of `next`, checking every count, or fewer once `enough`
 * says so (asked at each sample of the memory); what it took.
 */
async function readPhase(
  store: NgramStore,
  keys: number,
  next: () => number,
  reads: number,
  enough: () => boolean = () => false,
) {
  const cpu = cpuUsage();
  const started = performance.now();
  const evictedBefore = store.memory().evictions;
  let peakArenaBytes = 0;
  let at = 0;
  for (let batches = 0; at < reads; batches++) {
    const batch = Array.from(
      { length: Math.min(readBatch, reads - at) },
      () => keyOf(next(), keys),
    );
    at += batch.length;
    const counts = await store.countMany(batch.map(([key]) => key));
    for (let j = 0; j < batch.length; j++) {
      if (counts[j] !== batch[j][1]) {
        throw new Error(`${batch[j][0]}: counted ${counts[j]}, want ${batch[j][1]}`);
      }
    }
    if (batches % sampleEveryBatches === 0) {
      const memory = store.memory();
      peakArenaBytes = Math.max(peakArenaBytes, memory.liveBytes + memory.freeBytes);
      if (enough()) break;
    }
  }
  const used = cpuUsage(cpu);
  return {
    reads: at,
    perSecond: at / ((performance.now() - started) / 1000),
    perCpuSecond: at / ((used.user + used.system) / 1e6),
    peakArenaBytes,
    evictions: store.memory().evictions - evictedBefore,
  } satisfies Phase;
}

/**
 * The query process: opens with the budget, fills it with uniform reads
 * (to {@link fillShare} of it, at most `--fill-reads`), so that the measured
 * reads meet evictions; then per mix reads `--warm-reads` keys unmeasured
 * and `--reads` measured; prints JSON.
 */
async function query(args: Args): Promise<void> {
  const openedAt = performance.now();
  const store = await openNgramStore(`${args.dir}/store`, {
    create: false,
    memoryBudget: args.budget,
  });
  const result: Record<string, number | Phase> = { openMs: performance.now() - openedAt };
  // Full once the tries take their share, or once anything was evicted: where the slab cache's
  // floor takes much of a small budget, the tries never reach the share (a 300,000-key run under 4
  // MiB read on for more than 10 minutes).
  const full = () => {
    const memory = store.memory();
    return memory.liveBytes + memory.freeBytes >= args.budget * fillShare || memory.evictions > 0;
  };
  const fill = readStream(args.keys, false, 5);
  result.fill = await readPhase(store, args.keys, fill, args.fillReads, full);
  for (const [name, skewed] of [["skewed", true], ["uniform", false]] as const) {
    const next = readStream(args.keys, skewed, skewed ? 7 : 11);
    result[`${name}Warm`] = await readPhase(store, args.keys, next, args.warmReads);
    result[name] = await readPhase(store, args.keys, next, args.reads);
  }
  await store.close();
  console.log(JSON.stringify(result));
}

/** Imports the part files (written first if need be) into a new store with `deno task ngram`. */
async function importFiles(args: Args): Promise<{ seconds: number; rss: number }> {
  const paths = await writeFiles(args.dir, args.keys);
  const storePath = `${args.dir}/store`;
  await Deno.remove(storePath, { recursive: true }).catch(() => {});
  const cli = new URL("../lib/ngram/cli.ts", import.meta.url).pathname;
  const budget = String(args.budget);
  console.log(`importing ${args.keys} keys under a budget of ${budget} bytes`);
  const built = await timed([
    Deno.execPath(),
    "run",
    "-A",
    "--v8-flags=--max-semi-space-size=64", // as `deno task ngram` runs
    cli,
    "import",
    storePath,
    ...paths,
    "--format",
    "tsv",
    "--memory-budget",
    budget,
  ]);
  console.log(
    `import: ${built.seconds.toFixed(1)} s, ${(args.keys / built.seconds).toFixed(0)} keys/s, ` +
      `peak RSS ${(built.rss / 2 ** 20).toFixed(0)} MiB`,
  );
  return built;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  if (args.query) return await query(args);
  const built = args.queryOnly ? undefined : await importFiles(args);
  const bytes = await du(`${args.dir}/store`);
  console.log(`${(bytes / args.keys).toFixed(1)} bytes on disk per key`);
  const queried = await timed([
    Deno.execPath(),
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    "--query",
    "--keys",
    String(args.keys),
    "--budget",
    String(args.budget),
    "--dir",
    args.dir,
    "--reads",
    String(args.reads),
    "--warm-reads",
    String(args.warmReads),
    "--fill-reads",
    String(args.fillReads),
  ]);
  const reads = JSON.parse(queried.stdout.trim().split("\n").at(-1)!);
  console.log(
    `queries: ${JSON.stringify(reads)}, peak RSS ${(queried.rss / 2 ** 20).toFixed(0)} MiB`,
  );
  const summary = {
    keys: args.keys,
    budget: args.budget,
    importSeconds: built?.seconds,
    importKeysPerSecond: built === undefined ? undefined : args.keys / built.seconds,
    importPeakRss: built?.rss,
    bytesOnDiskPerKey: bytes / args.keys,
    queryPeakRss: queried.rss,
    ...reads,
  };
  if (args.json !== undefined) {
    await Deno.writeTextFile(args.json, JSON.stringify(summary, null, 2));
  }
}

if (import.meta.main) await main();
