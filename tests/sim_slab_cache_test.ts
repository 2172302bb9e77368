/**
 * The simulator's one-slab cache (`RunOptions.slabCacheSlabsMin`, the
 * store's internal `slabCacheSlabsMinKey`): under a memory budget the
 * engine's slab cache keeps at least 8 slabs, which hold a small-slab run's
 * whole image, so a list's batch or a scan's pass never read a slab from the
 * disk twice and a walk that let its loads go too early was never starved.
 * With the floor at one slab, walks across slabs read them again; the
 * option reaches the cache, is checked, is drawn per budgeted seed from a
 * stream of its own, and runs replay.
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, openStore, type Store } from "../mod.ts";
import {
  imageGeometryKey,
  type InternalStoreOptions,
  slabCacheSlabsMinKey,
} from "../lib/store/store.ts";
import { slabBytesMin } from "../lib/image/allocation.ts";
import { drawProfile, runSimulation } from "../sim/mod.ts";
import { drawSlabCacheSlabsMin } from "../sim/runner.ts";

const budget = 4096;
const small = { slabBytes: slabBytesMin, chunkEntriesMax: 4 };
const key = (i: number) => `key ${i % 31} ${i}`;

/** A store of `count` keys written over many checkpoints, so its records span many slabs. */
async function filled(storage: MemoryBlockStorage, count: number): Promise<void> {
  const store = await openStore({ storage, [imageGeometryKey]: small } as InternalStoreOptions);
  for (let from = 0; from < count; from += 100) {
    const op = store.atomic();
    for (let i = from; i < from + 100; i++) op.add(key(i), i + 1);
    assert.ok((await op.commit()).ok);
    await store.checkpoint();
  }
  await store.close();
}

/** Lists and scans every key, then reads each one by one; returns the most bytes the slab cache held. */
async function readAll(store: Store, count: number): Promise<number> {
  let cacheMost = 0;
  let listed = 0;
  for await (const { key: bytes, value } of store.list({ prefix: "key " })) {
    const text = new TextDecoder().decode(bytes);
    assert.equal(value, Number(text.slice(text.lastIndexOf(" ") + 1)) + 1);
    listed++;
  }
  assert.equal(listed, count);
  let scanned = 0;
  await store.scan({ prefix: "key " }, () => void scanned++);
  assert.equal(scanned, count);
  for (let i = 0; i < count; i++) {
    assert.equal(await store.get(key(i)), i + 1);
    cacheMost = Math.max(cacheMost, store.stats().memory.cacheBytes);
  }
  return cacheMost;
}

Deno.test("slabCacheSlabsMinKey: under a budget the slab cache keeps that floor, and reads stay exact", async () => {
  const storage = new MemoryBlockStorage();
  const count = 3_000;
  await filled(storage, count);
  const options = { storage, memoryBudget: budget, [imageGeometryKey]: small };
  const engines = await openStore(options as InternalStoreOptions);
  const engineMost = await readAll(engines, count);
  await engines.close();
  // The engine's floor: 8 slabs, well past a 4 KiB budget's eighth.
  assert.ok(engineMost > slabBytesMin, `the engine's floor cached ${engineMost} bytes`);
  const one = await openStore({ ...options, [slabCacheSlabsMinKey]: 1 } as InternalStoreOptions);
  const oneMost = await readAll(one, count);
  assert.ok(oneMost > 0 && oneMost <= slabBytesMin, `one slab at most: ${oneMost} bytes`);
  assert.ok(one.stats().memory.evictions > 0, "the budget evicted while the walks ran");
  await one.close();
});

Deno.test("slabCacheSlabsMinKey: a floor below one slab is refused", async () => {
  for (const floor of [0, 1.5, -1]) {
    const options = { storage: new MemoryBlockStorage(), [slabCacheSlabsMinKey]: floor };
    await assert.rejects(
      openStore(options as InternalStoreOptions),
      RangeError,
      `floor ${floor}`,
    );
  }
});

Deno.test("sim: the one-slab cache is drawn on about half the budgeted seeds, never without a budget", () => {
  let drawn = 0;
  const seeds = 400;
  for (let seed = 1; seed <= seeds; seed++) {
    assert.equal(drawSlabCacheSlabsMin({ seed }), undefined, "no budget: the engine's floor");
    const floor = drawSlabCacheSlabsMin({ seed, memoryBudget: budget });
    assert.ok(floor === undefined || floor === 1, `seed ${seed}: ${floor}`);
    assert.equal(
      drawSlabCacheSlabsMin({ seed, memoryBudget: budget }),
      floor,
      "a seed draws alike",
    );
    if (floor === 1) drawn++;
    const given = drawSlabCacheSlabsMin({ seed, memoryBudget: budget, slabCacheSlabsMin: 3 });
    assert.equal(given, 3, "a given floor wins");
  }
  assert.ok(drawn > seeds * 0.4 && drawn < seeds * 0.6, `${drawn} of ${seeds} seeds drew it`);
  assert.throws(() => drawSlabCacheSlabsMin({ seed: 1, slabCacheSlabsMin: 0 }), RangeError);
});

/** The first seed from 1 whose draw is `floor` (1, or undefined for the engine's). */
function firstSeedDrawing(floor: number | undefined): number {
  for (let seed = 1; seed < 100; seed++) {
    if (drawSlabCacheSlabsMin({ seed, memoryBudget: budget }) === floor) return seed;
  }
  throw new Error("no seed of 1..99 draws it");
}

Deno.test("sim: a seed with the one-slab cache replays to its trace hash; one without runs as the engine's floor", async () => {
  const run = (seed: number, slabCacheSlabsMin?: number) =>
    runSimulation({
      seed,
      ops: 150,
      clients: 3,
      profile: drawProfile("mixed", seed),
      memoryBudget: budget,
      ...(slabCacheSlabsMin === undefined ? {} : { slabCacheSlabsMin }),
    });
  const tiny = firstSeedDrawing(1);
  const first = await run(tiny);
  assert.deepEqual(first.violations, []);
  assert.equal(first.stats.slabCacheSlabsMin, 1);
  assert.equal((await run(tiny)).traceHash, first.traceHash, "the same seed, the same run");
  assert.equal((await run(tiny, 1)).traceHash, first.traceHash, "the drawn floor, given");
  const engines = firstSeedDrawing(undefined);
  const plain = await run(engines);
  assert.equal(plain.stats.slabCacheSlabsMin, 0);
  // The engine's floor given outright changes nothing: seeds that do not draw it run as before.
  assert.equal((await run(engines, 8)).traceHash, plain.traceHash);
});
