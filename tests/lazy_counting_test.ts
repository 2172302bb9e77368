/**
 * Counting into a store whose trie has nodes on disk (a lazy open, an image
 * past the slab cache, evictions under `memoryBudget`). The image header
 * bounds every count it holds, so the trie's value ceiling stays finite with
 * stubs present, and batches of additions to ASCII string keys keep the
 * short path (`WritePipeline.commitAsciiAdds`), loading their keys' paths
 * from cached slabs first. Every count stays exact, an addition that would
 * leave the range is still refused, and an image written before the header
 * recorded the bound opens as unbounded and gets one once its trie was all
 * in memory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CorruptionError, MemoryBlockStorage, openStore, type Store } from "../mod.ts";
import {
  decodeHeaderSlot,
  encodeHeaderSlot,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { writeCounters } from "../lib/store/store.ts";
import { addCounts } from "./_counts.ts";
import { warmedUp } from "./_warm.ts";

const max = Number.MAX_SAFE_INTEGER;
const key = (i: number) => `key ${i % 97} ${i}`;

/** A store of `n` keys (key i counts i + 1) and `extra` counts, checkpointed and closed. */
async function built(
  n: number,
  extra: Record<string, number> = {},
): Promise<{ storage: MemoryBlockStorage; expected: Map<string, number> }> {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  const expected = await addCounts(store, n, key);
  for (const [name, value] of Object.entries(extra)) {
    await store.set(name, value);
    expected.set(name, value);
  }
  await store.close();
  return { storage, expected };
}

/** The image's newest valid header slot, and the index of that slot. */
async function newestHeader(storage: MemoryBlockStorage): Promise<[ImageHeader, number]> {
  const file = await storage.open(imageFileName);
  const slots = await Promise.all(
    headerSlotOffsets.map(async (offset) =>
      decodeHeaderSlot(await file.read(offset, headerSlotBytes))
    ),
  );
  await file.close();
  const valid = slots.map((slot) => typeof slot === "object" ? slot : undefined);
  const index = (valid[1]?.generation ?? -1) > (valid[0]?.generation ?? -1) ? 1 : 0;
  assert.ok(valid[index] !== undefined, "an image with a valid header slot");
  return [valid[index], index];
}

/** Adds 1 to each of `keys` in one atomic commit (not awaited), counting it in `expected`. */
function addOnes(store: Store, keys: string[], expected: Map<string, number>) {
  const op = store.atomic();
  for (const k of keys) {
    op.add(k, 1);
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  return op.commit();
}

Deno.test("lazy counting: checkpoints record a bound on every count in the image header", async () => {
  const { storage } = await built(300, { big: max - 100, small: 5 });
  const [header] = await newestHeader(storage);
  assert.equal(header.valueCeiling, max - 100, "the largest count ever set");
  // Subtractions and deletes do not lower it: it is a bound, not the largest count.
  const store = await openStore({ storage });
  await store.add("big", -(max - 200));
  await store.delete("small");
  await store.close();
  const [after] = await newestHeader(storage);
  assert.ok(after.generation > header.generation);
  assert.equal(after.valueCeiling, max - 100);
});

Deno.test("lazy counting: a lazily opened store's batches take the short path and count exactly", async () => {
  const { storage, expected } = await built(300);
  const store = await openStore({ storage, load: "lazy" });
  // One read caches the image's one slab but loads only its own path: the rest are stubs.
  assert.equal(await store.get(key(7)), 8);
  const loadedBefore = store.stats().image.nodesLoaded;
  assert.ok(loadedBefore < 50, `a few nodes loaded: ${loadedBefore}`);
  const commits = [];
  for (let batch = 0; batch < 10; batch++) {
    const keys = [];
    for (let i = batch; i < 300; i += 10) keys.push(key(i)); // existing keys all over the trie
    keys.push(`new ${batch}`, `key ${batch} new`);
    commits.push(addOnes(store, keys, expected));
  }
  for (const commit of commits) assert.ok((await commit).ok);
  assert.equal(writeCounters(store).asciiBatches, 10, "every batch took the short path");
  assert.ok(store.stats().image.nodesLoaded > loadedBefore, "their paths loaded from the cache");
  const keys = [...expected.keys()];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => expected.get(k)));
  assert.deepEqual((await store.verify()).problems, []);
  await store.close();
  const again = await openStore({ storage });
  assert.deepEqual(await again.getMany(keys), keys.map((k) => expected.get(k)));
  await again.close();
});

Deno.test("lazy counting: with stubs present, an addition past the range is still refused", async () => {
  const big = "key 5 big"; // deep in the trie, behind stubs until read
  const { storage, expected } = await built(300, { [big]: max - 100 });
  const store = await openStore({ storage, load: "lazy" });
  assert.equal(await store.get(key(1)), 2); // caches the slab; big stays on disk
  // Far from the bound: the short path judges it by the bound alone (its path loads from the slab).
  assert.ok((await addOnes(store, [key(3), big], expected)).ok);
  assert.equal(writeCounters(store).asciiBatches, 1);
  // The bound (max - 100, then + 1) is too close: judged exactly, and refused.
  await assert.rejects(store.atomic().add(key(5), 1).add(big, 100).commit(), RangeError);
  await assert.rejects(store.atomic().add(big, 100).commit(), RangeError);
  assert.equal(writeCounters(store).asciiBatches, 1, "the refused ones took the general path");
  assert.ok((await store.atomic().add(big, 99).add(key(5), 1).commit()).ok);
  expected.set(big, max).set(key(5), expected.get(key(5))! + 1);
  const keys = [...expected.keys()];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => expected.get(k)));
  await store.close();
});

Deno.test("lazy counting: an image without a recorded bound opens unbounded and gets one", async () => {
  const { storage, expected } = await built(300, { big: 1_000 });
  // Rewrite the newest header slot as code before the bound wrote it (flags 0).
  const [header, index] = await newestHeader(storage);
  const old: ImageHeader = { ...header };
  delete old.valueCeiling;
  const file = await storage.open(imageFileName);
  await file.write(headerSlotOffsets[index], encodeHeaderSlot(old));
  await file.sync();
  await file.close();
  assert.equal((await newestHeader(storage))[0].valueCeiling, undefined);
  const store = await openStore({ storage, load: "lazy" });
  assert.equal(await store.get(key(1)), 2);
  assert.ok((await addOnes(store, [key(2), key(250)], expected)).ok);
  assert.equal(writeCounters(store).asciiBatches, 0, "no bound while unread counts remain");
  // A list reads every node: with none left on disk, the counts seen bound them all.
  let listed = 0;
  for await (const _ of store.list({ prefix: "" })) listed++;
  assert.equal(listed, expected.size);
  assert.ok((await addOnes(store, [key(2), key(251)], expected)).ok);
  assert.equal(writeCounters(store).asciiBatches, 1, "bounded once every node was loaded");
  await store.close();
  assert.equal((await newestHeader(storage))[0].valueCeiling, 1_000);
  const keys = [...expected.keys()];
  const again = await openStore({ storage, load: "lazy" });
  assert.deepEqual(await again.getMany(keys), keys.map((k) => expected.get(k)));
  await again.close();
});

Deno.test("lazy counting: short-path batches keep their paths while a checkpoint evicts", async () => {
  const storage = new MemoryBlockStorage();
  const budget = 16 * 1024;
  const store = await openStore({ storage, memoryBudget: budget, checkpoint: { auto: false } });
  const expected = new Map<string, number>();
  const all = Array.from({ length: 3_000 }, (_, i) => key(i));
  for (let from = 0; from < all.length; from += 500) {
    assert.ok((await addOnes(store, all.slice(from, from + 500), expected)).ok);
    await store.checkpoint();
  }
  assert.ok(store.stats().memory.evictions > 0, "evictions left stubs");
  const batchesBefore = writeCounters(store).asciiBatches;
  // Batches over the whole key space while checkpoints run and evict: those
  // appended and not yet applied when an eviction runs must keep their paths.
  const commits: Promise<unknown>[] = [];
  for (let round = 0; round < 6; round++) {
    let done = false;
    const checkpoint = store.checkpoint().finally(() => done = true);
    for (let batch = 0; !done && batch < 200; batch++) {
      const keys = all.filter((_, i) => i % 37 === (round * 200 + batch) % 37);
      commits.push(addOnes(store, keys, expected));
      await new Promise((resume) => setTimeout(resume, 0));
    }
    await checkpoint;
  }
  await Promise.all(commits);
  assert.ok(writeCounters(store).asciiBatches > batchesBefore, "some took the short path");
  assert.ok(store.stats().memory.evictions > 0);
  const keys = [...expected.keys()];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => expected.get(k)));
  assert.deepEqual((await store.verify()).problems, []);
  await store.close();
});

Deno.test("lazy counting: a count above the header's bound is damage, at load and in verify()", async () => {
  const deep = "key 5 deep"; // below the root's record: it loads only when read
  const { storage } = await built(300, { [deep]: 1_000 });
  const [header, index] = await newestHeader(storage);
  assert.equal(header.valueCeiling, 1_000);
  const file = await storage.open(imageFileName);
  await file.write(headerSlotOffsets[index], encodeHeaderSlot({ ...header, valueCeiling: 999 }));
  await file.sync();
  await file.close();
  const store = await openStore({ storage, load: "lazy" });
  await assert.rejects(store.get(deep), CorruptionError);
  assert.match((await store.verify()).problems.join("\n"), /count 1000 is above .* ceiling 999/);
  await store.close();
  // A whole load reports it too, before anything is read.
  await assert.rejects(
    openStore({ storage, load: "eager" }),
    /count 1000, above the header's value ceiling 999/,
  );
  // The warm-up of an "auto" open leaves that record on disk: a read of it reports it.
  const auto = await openStore({ storage });
  await warmedUp(auto);
  assert.equal(auto.stats().warmUp.state, "done");
  assert.equal(auto.stats().image.unloadedNodes, 1);
  await assert.rejects(auto.get(deep), CorruptionError);
  assert.equal(await auto.get(key(10)), 11);
  await auto.close();
});
