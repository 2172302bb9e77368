/**
 * The n-gram store's `memoryBudget`: split over the shards and the
 * vocabulary (`lib/ngram/_memory.ts`), it keeps an import's tries near the
 * budget while every count and continuation stays exact, before and after
 * a reopen; it is checked like every option.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, openStore } from "../mod.ts";
import {
  type ImportSource,
  memoryBudgetMin,
  type NgramStore,
  openNgramStore,
} from "../lib/ngram/mod.ts";
import { type Handed, memoryFactory, recount, v2Fixture } from "../lib/ngram/fixtures.ts";

const encoder = new TextEncoder();
const shards = 4;
const budget = 128 * 1024;
const chunkNgrams = 256;
/** N-grams between two boundaries of the source. */
const boundaryEvery = 64;

/** The fixture's n-grams as its v2 reader hands them (tags dropped), with their counts. */
function fixture(): { handed: Handed[]; counts: Map<string, number> } {
  const content = v2Fixture({ seed: 3, ngrams: 20_000 });
  return recount("v2", content, { minCount: 1, tags: "drop", order: 3 });
}

/**
 * A source handing `handed` with a boundary every {@link boundaryEvery}
 * n-grams; after each, `look()` (the import's commits of the round, if
 * any, are done then).
 */
function sourceOf(handed: readonly Handed[], look: () => void): ImportSource {
  return {
    id: Uint8Array.of(1),
    optionsHash: 1,
    async read(sink, resumeFrom) {
      let end = 0;
      for (const [at, { ngram, count, offset }] of handed.entries()) {
        if (offset < resumeFrom) continue;
        const bytes = encoder.encode(ngram);
        sink.ngram(bytes, 0, bytes.length, count, offset);
        end = offset + 1;
        if (at % boundaryEvery === boundaryEvery - 1) {
          await sink.boundary(end);
          look();
        }
      }
      await sink.boundary(end);
      const rows = handed.length;
      return {
        format: "tsv",
        fileBytes: end,
        contentBytes: end,
        lines: rows,
        rows,
        ngrams: rows,
        filtered: 0,
      };
    },
  };
}

/** Byte order of two words' UTF-8. */
function byteOrder(a: string, b: string): number {
  const [x, y] = [encoder.encode(a), encoder.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

/** Every history's continuations (word and count), highest count first, ties in byte order. */
function continuations(counts: Map<string, number>): Map<string, [string, number][]> {
  const byHistory = new Map<string, [string, number][]>();
  for (const [ngram, count] of counts) {
    const cut = ngram.lastIndexOf(" ");
    if (cut < 0) continue;
    const history = ngram.slice(0, cut);
    const list = byHistory.get(history) ?? [];
    list.push([ngram.slice(cut + 1), count]);
    byHistory.set(history, list);
  }
  for (const list of byHistory.values()) list.sort((a, b) => b[1] - a[1] || byteOrder(a[0], b[0]));
  return byHistory;
}

/** Checks every count, and the continuations of every history, against `counts`. */
async function assertAnswers(store: NgramStore, counts: Map<string, number>): Promise<void> {
  const ngrams = [...counts.keys()];
  const held = await store.countMany(ngrams);
  const wrong = ngrams.filter((ngram, at) => held[at] !== counts.get(ngram));
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} counts wrong`);
  for (const [history, list] of continuations(counts)) {
    const next = await store.next(history, { top: 100_000 });
    assert.deepEqual(next.map(({ word, count }) => [word, count]), list, `next("${history}")`);
    assert.equal(await store.continuationCount(history), list.length, history);
  }
}

/** Imports the fixture; returns the largest summed live bytes seen after a round of commits. */
async function importFixture(store: NgramStore, handed: readonly Handed[]): Promise<number> {
  let peak = 0;
  const look = () => {
    peak = Math.max(peak, store.memory().liveBytes);
  };
  const outcome = await store.importSource(sourceOf(handed, look), { chunkNgrams });
  assert.equal(outcome.status, "imported");
  look();
  return peak;
}

Deno.test("ngram memoryBudget: an import stays within its budget, every answer exact, also after a reopen", async () => {
  const { handed, counts } = fixture();
  const unbudgeted = await openNgramStore({ storage: memoryFactory(), shards });
  const unbudgetedPeak = await importFixture(unbudgeted, handed);
  await unbudgeted.close();

  const storage = memoryFactory();
  const store = await openNgramStore({ storage, shards, memoryBudget: budget });
  const peak = await importFixture(store, handed);
  // After each round of commits every part's nodes and slab cache are within its part of the
  // budget (it was checkpointed and the import waited, or it was not past that), and the parts
  // add up to the budget: so the sum is within the budget, which the same import with none
  // passes 7 times.
  assert.ok(peak <= budget, `peak ${peak}`);
  assert.ok(unbudgetedPeak > 1.5 * budget, `unbudgeted peak ${unbudgetedPeak}`);
  const memory = store.memory();
  assert.equal(memory.budget, budget);
  assert.ok(memory.evictions > 0 && memory.evictedBytes > 0, JSON.stringify(memory));
  await store.checkpoint(); // each part evicts down to its part
  assert.ok(store.memory().liveBytes <= budget, JSON.stringify(store.memory()));
  await assertAnswers(store, counts);
  const stats = await store.stats();
  assert.equal(stats.memory.budget, budget);
  const perShard = stats.perShard.reduce((sum, shard) => sum + shard.memory.budget!, 0);
  assert.ok(perShard < budget && perShard >= (15 / 16) * budget - shards, `shards ${perShard}`);
  await store.close();

  const reopened = await openNgramStore({ storage, memoryBudget: budget });
  await assertAnswers(reopened, counts);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the rounds the reads' ends asked for
  // Reads give back what they loaded once they let it go (a countMany of every n-gram left
  // the shards at 6 budgets before).
  assert.ok(reopened.memory().liveBytes <= budget, JSON.stringify(reopened.memory()));
  await reopened.checkpoint();
  assert.ok(reopened.memory().liveBytes <= budget, JSON.stringify(reopened.memory()));
  await assertAnswers(reopened, counts);
  await reopened.close();
});

Deno.test("ngram memoryBudget: the parts add up to the total; the smallest total takes 4096 a part", async () => {
  // By the split's rule: the vocabulary a sixteenth (at least 4096), the shards the rest.
  for (const count of [1, 2, 8, 15, 16, 17, 100, 1024]) {
    const min = memoryBudgetMin(count);
    const vocabulary = Math.max(4096, Math.floor(min / 16));
    assert.ok(Math.floor((min - vocabulary) / count) >= 4096, `${count} shards: ${min}`);
    const less = min - 1;
    const lessVocabulary = Math.max(4096, Math.floor(less / 16));
    assert.ok(Math.floor((less - lessVocabulary) / count) < 4096, `${count} shards: ${less}`);
    if (count <= 15) assert.equal(min, 4096 * (count + 1));
  }
  const storage = memoryFactory();
  const store = await openNgramStore({ storage, shards: 3, memoryBudget: 1_000_003 });
  const stats = await store.stats();
  const shardPart = Math.floor((1_000_003 - Math.floor(1_000_003 / 16)) / 3);
  assert.deepEqual(stats.perShard.map((shard) => shard.memory.budget), [
    shardPart,
    shardPart,
    shardPart,
  ]);
  assert.equal(stats.memory.budget, 1_000_003);
  await store.close();
  const unbudgeted = await openNgramStore({ storage });
  assert.equal(unbudgeted.memory().budget, null);
  await unbudgeted.close();
});

Deno.test("ngram memoryBudget: checked like every option; a total too small names the smallest", async () => {
  const storage = memoryFactory();
  await assert.rejects(
    openNgramStore({ storage, memoryBudget: "1 GiB" as never }),
    (error) => error instanceof TypeError && /memoryBudget must be a number/.test(error.message),
  );
  await assert.rejects(
    openNgramStore({ storage, memoryBudgt: 65536 } as never),
    /unknown option "memoryBudgt", did you mean "memoryBudget"/,
  );
  for (const wrong of [1.5, -1, 0, NaN, Infinity]) {
    await assert.rejects(
      openNgramStore({ storage, shards: 2, memoryBudget: wrong }),
      RangeError,
      String(wrong),
    );
  }
  await assert.rejects(
    openNgramStore({ storage, shards: 8, memoryBudget: 36863 }),
    (error) =>
      error instanceof RangeError &&
      error.message.includes(
        "memoryBudget must be an integer of at least 36864 bytes for 8 shards",
      ),
  );
  // Refused before the manifest is written: nothing was created.
  await assert.rejects(openNgramStore({ storage, create: false }), /there is none/);
  await (await openNgramStore({ storage, shards: 8, memoryBudget: 36864 })).close();
  // An existing store's shard count decides, read from its manifest.
  await assert.rejects(
    openNgramStore({ storage, memoryBudget: 3 * 4096 }),
    /at least 36864 bytes for 8 shards/,
  );
  // The engine's minimum is what each part keeps to.
  await assert.rejects(openStore({ storage: new MemoryBlockStorage(), memoryBudget: 4095 }));
});
