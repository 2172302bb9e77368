// deno-lint-ignore-file no-console
/**
 * What the n-gram store's `memoryBudget` costs an import: one TSV fixture of
 * bigrams imported into a new 8-shard store on files with no budget, then
 * with one (default 2 MiB), side by side in one process, rounds alternated.
 * Prints per run: n-grams/s, the largest summed live bytes seen (at each
 * progress report, about every MiB of the file, and at the end), the live
 * bytes after `checkpoint()`, and the evictions (docs/NGRAM.md, Memory budget).
 *
 * ```sh
 * deno run -A --v8-flags=--max-semi-space-size=64 tools/ngram_budget_measure.ts \
 *   [--ngrams 300000] [--budget 2097152] [--rounds 2]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openNgramStore } from "../lib/ngram/mod.ts";
import { tsvFixture } from "../lib/ngram/fixtures.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ngrams: { type: "string", default: "300000" },
    budget: { type: "string", default: String(2 * 2 ** 20) },
    rounds: { type: "string", default: "2" },
  },
});
const dir = await Deno.makeTempDir({ prefix: "ngram-budget-" });
const file = `${dir}/bigrams.tsv`;
const content = tsvFixture({
  seed: 9,
  ngrams: Number(values.ngrams),
  words: 20_000,
  orderMin: 2,
  order: 2,
});
await Deno.writeTextFile(file, content);

/** Imports the file into a new store with `memoryBudget`; prints one line. */
async function run(memoryBudget: number | undefined): Promise<void> {
  const path = `${dir}/store`;
  await Deno.remove(path, { recursive: true }).catch(() => {});
  const store = await openNgramStore(path, { shards: 8, memoryBudget });
  let peak = 0;
  const look = () => peak = Math.max(peak, store.memory().liveBytes);
  const started = performance.now();
  const outcome = await store.importFile(file, { onProgress: look });
  const ms = performance.now() - started;
  look();
  await store.checkpoint();
  const after = store.memory();
  await store.close();
  const rate = (outcome.ngrams / ms / 1000).toFixed(3);
  console.log(
    `budget ${memoryBudget ?? "none"}: ${outcome.ngrams} n-grams in ${Math.round(ms)} ms ` +
      `(${rate}M/s); largest live bytes seen ${peak}; after checkpoint() ${after.liveBytes}; ` +
      `evictions ${after.evictions}`,
  );
}

try {
  for (let round = 0; round < Number(values.rounds); round++) {
    await run(undefined);
    await run(Number(values.budget));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
