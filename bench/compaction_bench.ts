// deno-lint-ignore-file no-console
/**
 * Streaming compaction under a memory budget (issue 17), against an
 * unbudgeted compaction, in one process: builds a store of word n-gram
 * shaped keys (relaxed, a checkpoint per batch), then in turns reopens it
 * loaded whole without a budget, and lazily with a budget of a tenth of
 * the whole trie's live nodes (warmed by reads until the arena holds about
 * that much), forces a compaction (`checkpoint({ compact: true })`) and
 * reports its time and the largest
 * arena seen during it (live and freed nodes, sampled at every read and
 * write of the store's files) against the budget. With `--reads`, the
 * budgeted store also answers gets while its compaction runs (one at a
 * time, spread over the key space, each checked), which load what they
 * read: the largest live nodes and arena then show whether evictions go
 * on beside the compaction's snapshot (issue 17). Every answer is
 * checked after each compaction.
 *
 * ```sh
 * deno run -A bench/compaction_bench.ts [--keys N] [--rounds N] [--reads 0|1]
 * ```
 *
 * @module
 */

import {
  type BlockFile,
  type BlockStorage,
  FileBlockStorage,
  type OpenFileOptions,
  openStore,
  type Store,
} from "../mod.ts";
import { build, countOf, key } from "./budget_bench.ts";

/** Gets at most during one compaction (the compaction is then awaited alone). */
const readsMax = 20_000;

/** Keys checked after each compaction, spread over the key space. */
const keysChecked = 20_000;

function parseArgs(args: string[]): { keys: number; rounds: number; reads: boolean } {
  const parsed = { keys: 300_000, rounds: 2, reads: true };
  for (let i = 0; i < args.length; i += 2) {
    const value = Number(args[i + 1]);
    if (!Number.isSafeInteger(value) || value < (args[i] === "--reads" ? 0 : 1)) {
      throw new TypeError(
        `Bad argument ${JSON.stringify(args[i])}; usage: [--keys N] [--rounds N] [--reads 0|1]`,
      );
    }
    if (args[i] === "--keys") parsed.keys = value;
    else if (args[i] === "--rounds") parsed.rounds = value;
    else if (args[i] === "--reads") parsed.reads = value !== 0;
    else throw new TypeError(`Unknown argument ${JSON.stringify(args[i])}`);
  }
  return parsed;
}

/** A storage that calls `sample` at every read and write of its files. */
class SampledStorage implements BlockStorage {
  readonly description: string;
  readonly #inner: BlockStorage;
  sample: () => void = () => {};

  constructor(inner: BlockStorage) {
    this.#inner = inner;
    this.description = inner.description;
  }

  async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    const file = await this.#inner.open(name, options);
    const sampled: BlockFile = {
      get name() {
        return file.name;
      },
      read: (offset, length) => {
        this.sample();
        return file.read(offset, length);
      },
      write: (offset, data) => {
        this.sample();
        return file.write(offset, data);
      },
      sync: () => file.sync(),
      size: () => file.size(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
    return sampled;
  }
  list(): Promise<string[]> {
    return this.#inner.list();
  }
  rename(from: string, to: string): Promise<void> {
    return this.#inner.rename(from, to);
  }
  remove(name: string): Promise<void> {
    return this.#inner.remove(name);
  }
  syncDir(): Promise<void> {
    return this.#inner.syncDir();
  }
  tryLock(): Promise<boolean> {
    return this.#inner.tryLock();
  }
  unlock(): Promise<void> {
    return this.#inner.unlock();
  }
}

async function check(store: Store, keys: number): Promise<void> {
  const step = Math.max(1, Math.floor(keys / keysChecked));
  const indexes: number[] = [];
  for (let i = 0; i < keys; i += step) indexes.push(i);
  const found = await store.getMany(indexes.map(key));
  for (const [at, i] of indexes.entries()) {
    if (found[at] !== countOf(i)) throw new Error(`key ${key(i)} holds ${found[at]}`);
  }
}

/** Gets `key(i)` for every `stride`-th key, one at a time, checked, until `done()`; their count. */
async function readWhile(store: Store, keys: number, done: () => boolean): Promise<number> {
  const stride = 7919; // a prime: the gets spread over the key space and come back to none soon
  let reads = 0;
  for (let at = 0; !done() && reads < readsMax; at = (at + stride) % keys) {
    const found = await store.get(key(at));
    if (found !== countOf(at)) throw new Error(`key ${key(at)} holds ${found} during compaction`);
    // A get from files read at once resolves in microtasks: let the compaction's pauses end.
    if (++reads % 64 === 0) await new Promise((resume) => setTimeout(resume, 0));
  }
  return reads;
}

/**
 * One compaction of `dir`: whole and unbudgeted, or lazily under
 * `memoryBudget` (with `reads`, gets run while it does).
 */
async function turn(dir: string, keys: number, memoryBudget?: number, reads = false) {
  const storage = new SampledStorage(await FileBlockStorage.open(dir));
  const store = await openStore({
    storage,
    durability: "relaxed",
    checkpoint: { auto: false },
    ...(memoryBudget === undefined ? { load: "eager" as const } : { memoryBudget }),
  });
  if (memoryBudget !== undefined) {
    await check(store, keys); // warm: reads fill the arena
    await store.checkpoint(); // and the budget's round after it brings it back within the budget
  }
  let peak = 0;
  let peakLive = 0;
  storage.sample = () => {
    const memory = store.stats().memory;
    peak = Math.max(peak, memory.liveBytes + memory.freeBytes);
    peakLive = Math.max(peakLive, memory.liveBytes);
  };
  const before = store.stats().memory;
  const started = performance.now();
  let ended = false;
  const compaction = store.checkpoint({ compact: true }).finally(() => ended = true);
  const gets = reads ? await readWhile(store, keys, () => ended) : 0;
  const result = await compaction;
  const ms = performance.now() - started;
  storage.sample = () => {};
  if (!result.compacted) throw new Error("the checkpoint did not compact");
  const after = store.stats().memory;
  await check(store, keys);
  await store.close();
  return { ms, peak, peakLive, gets, before, after, bytes: result.bytesWritten };
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(3)} MiB`;

async function main(): Promise<void> {
  const { keys, rounds, reads } = parseArgs(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-compaction-bench-" });
  try {
    await build(dir, keys);
    const whole = await openStore(dir, { load: "eager" });
    const live = whole.stats().memory.liveBytes;
    await whole.close();
    const budget = Math.floor(live / 10);
    console.log(`${keys} keys; whole trie ${mb(live)}; budget ${mb(budget)} (a tenth)`);
    for (let round = 1; round <= rounds; round++) {
      const unbudgeted = await turn(dir, keys);
      console.log(
        `round ${round} unbudgeted: compaction ${unbudgeted.ms.toFixed(0)} ms, ` +
          `${mb(unbudgeted.bytes)} written, peak arena ${mb(unbudgeted.peak)}`,
      );
      for (const withReads of reads ? [false, true] : [false]) {
        const budgeted = await turn(dir, keys, budget, withReads);
        console.log(
          `round ${round} budgeted${withReads ? ", with gets" : ""}: compaction ` +
            `${budgeted.ms.toFixed(0)} ms, ${mb(budgeted.bytes)} written` +
            (withReads ? `, ${budgeted.gets} gets during it` : "") +
            `, peak arena ${mb(budgeted.peak)} = ${(budgeted.peak / budget).toFixed(2)}× the ` +
            `budget, peak live nodes ${mb(budgeted.peakLive)} = ` +
            `${(budgeted.peakLive / budget).toFixed(2)}× (arena before ${
              mb(budgeted.before.liveBytes + budgeted.before.freeBytes)
            })`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
