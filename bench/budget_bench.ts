// deno-lint-ignore-file no-console
/**
 * `deno task budget-bench`: the memory budget (issue 17) side by side with
 * no budget, in one process: a store of word n-gram keys built in batches
 * with a checkpoint after each, once without a budget and once with a tenth
 * of the first one's live nodes; then gets on both, skewed (90% of reads on
 * 2% of the keys) and uniform. Every answer is checked.
 *
 * ```sh
 * deno task budget-bench [--keys N]
 * ```
 *
 * @module
 */

import { openStore, type Store } from "../mod.ts";

/** Keys a batch adds. */
const batchKeys = 10_000;
/** Gets per measured phase. */
const getsPerPhase = 50_000;

function parseKeys(args: string[]): number {
  if (args.length === 0) return 300_000;
  if (args.length === 2 && args[0] === "--keys" && Number.isSafeInteger(Number(args[1]))) {
    return Math.max(batchKeys, Number(args[1]));
  }
  throw new TypeError(`Unknown arguments ${JSON.stringify(args)}; usage: --keys N`);
}

/** Key `i` of the workload: a word bigram and its index (word n-gram shaped). */
function key(i: number): string {
  return `w${(i * 7919) % 50_021} w${i % 977} ${i}`;
}

/** Builds `keys` keys into a new store; returns it and the seconds it took. */
async function build(
  keys: number,
  memoryBudget?: number,
): Promise<{ store: Store; seconds: number; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "budget-bench-" });
  const store = await openStore(dir, {
    durability: "relaxed",
    memoryBudget,
  });
  const started = performance.now();
  for (let from = 0; from < keys; from += batchKeys) {
    const op = store.atomic();
    for (let i = from; i < Math.min(keys, from + batchKeys); i++) op.add(key(i), 1 + (i % 5));
    await op.commit();
    await store.checkpoint();
  }
  return { store, seconds: (performance.now() - started) / 1000, dir };
}

/** Gets per second on `store`, skewed or uniform, each answer checked. */
async function gets(store: Store, keys: number, skewed: boolean): Promise<number> {
  let state = 1;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const started = performance.now();
  for (let done = 0; done < getsPerPhase; done++) {
    const hot = skewed && random() < 0.9;
    const i = Math.floor(random() * (hot ? keys * 0.02 : keys));
    const value = await store.get(key(i));
    if (value !== 1 + (i % 5)) throw new Error(`key ${i}: ${value}, want ${1 + (i % 5)}`);
  }
  return getsPerPhase / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const keys = parseKeys(Deno.args);
  const free = await build(keys);
  const budget = Math.floor(free.store.stats().memory.liveBytes / 10);
  const tight = await build(keys, budget);
  console.log(
    `build of ${keys} keys: ${free.seconds.toFixed(2)} s unbudgeted, ${
      tight.seconds.toFixed(2)
    } s ` +
      `with a budget of ${budget} bytes (a tenth of the live nodes)`,
  );
  console.log(`budgeted, after the build: ${JSON.stringify(tight.store.stats().memory)}`);
  for (const skewed of [true, false]) {
    const unbudgeted = await gets(free.store, keys, skewed);
    const budgeted = await gets(tight.store, keys, skewed);
    console.log(
      `${skewed ? "skewed (90% on 2%)" : "uniform"} gets: ${(unbudgeted / 1e3).toFixed(0)}k/s ` +
        `unbudgeted, ${(budgeted / 1e3).toFixed(0)}k/s budgeted (${
          (budgeted / unbudgeted).toFixed(2)
        }×)`,
    );
  }
  console.log(`budgeted, after the gets: ${JSON.stringify(tight.store.stats().memory)}`);
  for (const { store, dir } of [free, tight]) {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
