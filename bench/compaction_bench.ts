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
 * write of the store's files) against the budget. Every answer is
 * checked after each compaction.
 *
 * ```sh
 * deno run -A bench/compaction_bench.ts [--keys N] [--rounds N]
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

/** Keys checked after each compaction, spread over the key space. */
const keysChecked = 20_000;

function parseArgs(args: string[]): { keys: number; rounds: number } {
  const parsed = { keys: 300_000, rounds: 2 };
  for (let i = 0; i < args.length; i += 2) {
    const value = Number(args[i + 1]);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(
        `Bad argument ${JSON.stringify(args[i])}; usage: [--keys N] [--rounds N]`,
      );
    }
    if (args[i] === "--keys") parsed.keys = value;
    else if (args[i] === "--rounds") parsed.rounds = value;
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

/** One compaction of `dir`: whole and unbudgeted, or lazily under `memoryBudget`. */
async function turn(dir: string, keys: number, memoryBudget?: number) {
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
  storage.sample = () => {
    const memory = store.stats().memory;
    peak = Math.max(peak, memory.liveBytes + memory.freeBytes);
  };
  const before = store.stats().memory;
  const started = performance.now();
  const result = await store.checkpoint({ compact: true });
  const ms = performance.now() - started;
  storage.sample = () => {};
  if (!result.compacted) throw new Error("the checkpoint did not compact");
  const after = store.stats().memory;
  await check(store, keys);
  await store.close();
  return { ms, peak, before, after, bytes: result.bytesWritten };
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(3)} MiB`;

async function main(): Promise<void> {
  const { keys, rounds } = parseArgs(Deno.args);
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
      const budgeted = await turn(dir, keys, budget);
      console.log(
        `round ${round} budgeted:   compaction ${budgeted.ms.toFixed(0)} ms, ` +
          `${mb(budgeted.bytes)} written, peak arena ${mb(budgeted.peak)} = ` +
          `${(budgeted.peak / budget).toFixed(2)}× the budget (arena before ${
            mb(budgeted.before.liveBytes + budgeted.before.freeBytes)
          })`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
