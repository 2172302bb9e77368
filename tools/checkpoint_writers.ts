// deno-lint-ignore-file no-console
/**
 * Writers during a checkpoint, the plain case: a store of N keys whose trie
 * was built from the WAL (so every node is new and the checkpoint writes
 * all of them, without the loads a compaction after a lazy open adds), and
 * 1,000 concurrent strict `add` callers on random keys. Reports adds per
 * second while the checkpoint runs over the mean of two equally long
 * windows after it, measured side by side in one process, for `--runs`
 * runs. Counts are checked after the last run.
 *
 * ```sh
 * deno run -A tools/checkpoint_writers.ts [--keys 1000000] [--writers 1000] [--runs 3]
 * ```
 *
 * @module
 */

import { openStore, type Store } from "../mod.ts";

const usage = "usage: deno run -A tools/checkpoint_writers.ts [--keys N] [--writers N] [--runs N]";

function parseArgs(argv: string[]): { keys: number; writers: number; runs: number } {
  const args = { keys: 1_000_000, writers: 1000, runs: 3 };
  for (let index = 0; index < argv.length; index += 2) {
    const value = Number(argv[index + 1]);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`Bad value for ${argv[index]}: ${argv[index + 1]}; ${usage}`);
    }
    if (argv[index] === "--keys") args.keys = value;
    else if (argv[index] === "--writers") args.writers = value;
    else if (argv[index] === "--runs") args.runs = value;
    else throw new TypeError(`Unknown argument ${argv[index]}; ${usage}`);
  }
  return args;
}

/** Deterministic word bigrams and trigrams, all distinct. */
function generateKeys(count: number): string[] {
  const words = Array.from({ length: 4000 }, (_, index) => `w${(index * 7919) % 100000}`);
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const keys: string[] = [];
  const seen = new Set<string>();
  for (let tries = 0; keys.length < count && tries < count * 10; tries++) {
    const third = next() % 3 === 0 ? ` ${words[next() % 4000]}` : "";
    const key = `${words[next() % 4000]} ${words[next() % 4000]}${third}`;
    if (seen.has(key)) continue;
    seen.add(key);
    keys.push(key);
  }
  if (keys.length < count) throw new Error(`Only ${keys.length} distinct keys could be made`);
  return keys;
}

/** Loads every key once (relaxed, atomic batches), with no checkpoint. */
async function load(dir: string, keys: string[]): Promise<void> {
  const store = await openStore({ path: dir, durability: "relaxed", checkpoint: { auto: false } });
  for (let start = 0; start < keys.length; start += 1000) {
    const batch = store.atomic();
    for (let index = start; index < Math.min(keys.length, start + 1000); index++) {
      batch.add(keys[index], 1);
    }
    await batch.commit();
  }
  await store.sync();
  await store.close();
}

interface RunResult {
  nodes: number;
  checkpointMs: number;
  during: number;
  after: number;
  ratio: number;
}

/** One run: open (replaying the log: every node new), checkpoint under writers, then two windows. */
async function run(
  dir: string,
  keys: string[],
  writers: number,
  counts: Int32Array,
): Promise<RunResult> {
  const store: Store = await openStore({ path: dir, checkpoint: { auto: false } });
  let adds = 0;
  let stop = false;
  let state = 99;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const loops = Array.from({ length: writers }, async () => {
    while (!stop) {
      const index = next() % keys.length;
      await store.add(keys[index], 1);
      counts[index]++;
      adds++;
    }
  });
  const window = async (ms: number) => {
    const before = adds;
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return (adds - before) / ((performance.now() - started) / 1000);
  };
  await window(1000); // warm up
  const before = adds;
  const started = performance.now();
  const result = await store.checkpoint();
  const checkpointMs = performance.now() - started;
  const during = (adds - before) / (checkpointMs / 1000);
  const after = ((await window(checkpointMs)) + (await window(checkpointMs))) / 2;
  stop = true;
  await Promise.all(loops);
  await store.close();
  return { nodes: result.nodesWritten, checkpointMs, during, after, ratio: during / after };
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const keys = generateKeys(args.keys);
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-writers-" });
  try {
    const counts = new Int32Array(keys.length).fill(1);
    const results: RunResult[] = [];
    for (let index = 0; index < args.runs; index++) {
      await Deno.remove(dir, { recursive: true });
      await Deno.mkdir(dir);
      counts.fill(1);
      console.error(`run ${index + 1}: loading ${keys.length} keys`);
      await load(dir, keys);
      const result = await run(dir, keys, args.writers, counts);
      console.error(`run ${index + 1}: ratio ${result.ratio.toFixed(3)}`);
      results.push(result);
    }
    const store = await openStore({ path: dir, checkpoint: { auto: false } });
    for (let index = 0; index < keys.length; index += Math.ceil(keys.length / 2000)) {
      const value = await store.get(keys[index]);
      if (value !== counts[index]) {
        throw new Error(`${keys[index]}: ${value}, expected ${counts[index]}`);
      }
    }
    await store.close();
    console.log("| run | nodes written | checkpoint | adds/s during | adds/s after | ratio |");
    console.log("|---|---|---|---|---|---|");
    for (const [index, r] of results.entries()) {
      console.log(
        `| ${index + 1} | ${r.nodes} | ${(r.checkpointMs / 1000).toFixed(1)} s | ` +
          `${Math.round(r.during)} | ${Math.round(r.after)} | ${r.ratio.toFixed(3)} |`,
      );
    }
    const ratios = results.map((r) => r.ratio).sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        keys: args.keys,
        writers: args.writers,
        ratios,
        median: ratios[ratios.length >> 1],
      }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
