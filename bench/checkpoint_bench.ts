/**
 * Checkpoint and reopen benchmarks on real files (`deno bench -A
 * bench/checkpoint_bench.ts`): an incremental checkpoint after 100 changed
 * keys, a full (compacting) checkpoint, a lazy and a whole (eager) reopen plus the first get,
 * and recovery replay of 10,000 WAL records. Stores of 100,000 word-bigram
 * keys are built once before the benches (a few seconds); each bench times
 * only its own step (`b.start()`/`b.end()`), so the changes before a
 * checkpoint and the close after a reopen are not counted. The files were
 * just written, so reads hit the OS page cache. Compare numbers from one run
 * only: this machine is shared and noisy.
 *
 * For the "done when" numbers at 1M keys, see
 * `tools/checkpoint_measure.ts`.
 */

import { type LoadMode, openStore, type Store } from "../mod.ts";

const storeKeys = 100_000;
const replayRecords = 10_000;
const changedPerCheckpoint = 100;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-checkpoint-bench-" });
  dirs.push(dir);
  return dir;
}
globalThis.addEventListener("unload", () => {
  for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
});

/** Word-bigram-like keys of 8 to 14 bytes: 1,000 "first" words × 100 "second" words. */
const keys = Array.from(
  { length: storeKeys },
  (_, index) => `word${index % 1000} next${Math.floor(index / 1000)}`,
);

/** A deterministic stream of key indices (an LCG), so every run changes the same keys. */
let state = 12345;
function nextIndex(): number {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state % storeKeys;
}

/** Builds the 100,000-key store: loaded in atomic batches, checkpointed, closed. */
async function buildBase(): Promise<string> {
  const dir = await tempDir();
  const store = await openStore({ path: dir, durability: "relaxed", checkpoint: { auto: false } });
  for (let start = 0; start < keys.length; start += 1000) {
    const atomic = store.atomic();
    for (let index = start; index < start + 1000; index++) atomic.add(keys[index], 1);
    await atomic.commit();
  }
  await store.checkpoint();
  await store.close();
  return dir;
}

/** A copy of a closed store's directory. */
async function copyStore(from: string): Promise<string> {
  const dir = await tempDir();
  for await (const entry of Deno.readDir(from)) {
    if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${dir}/${entry.name}`);
  }
  return dir;
}

/** Opens a copy of the base store with the whole trie in memory (a compact loads every node). */
async function loadedCopy(base: string): Promise<Store> {
  const store = await openStore({
    path: await copyStore(base),
    durability: "relaxed",
    checkpoint: { auto: false },
  });
  await store.checkpoint({ compact: true });
  return store;
}

const base = await buildBase();
const incremental = await loadedCopy(base);
const compacting = await loadedCopy(base);

// A copy whose newest WAL segment holds one record: open reads the newest
// segment whole even when the image covers it, and the base's newest
// segment holds the whole load. Two epochs, since the first one after a
// reopen still appends to the segment the last session ended with.
const tiny = await copyStore(base);
{
  const store = await openStore({ path: tiny, checkpoint: { auto: false } });
  for (let epoch = 0; epoch < 2; epoch++) {
    await store.add(keys[0], 1);
    await store.checkpoint();
  }
  await store.close();
}

// A store whose image covers nothing: 10,000 single-add records to replay.
const replay = await tempDir();
{
  const store = await openStore({
    path: replay,
    durability: "relaxed",
    checkpoint: { auto: false },
  });
  const pending: Promise<number>[] = [];
  for (let index = 0; index < replayRecords; index++) pending.push(store.add(keys[index], 1));
  await Promise.all(pending);
  await store.close();
}

Deno.bench({
  name: `incremental checkpoint, ${changedPerCheckpoint} changed keys of 100,000`,
  group: "checkpoint",
  baseline: true,
  n: 100,
  warmup: 5,
  async fn(b) {
    const atomic = incremental.atomic();
    for (let index = 0; index < changedPerCheckpoint; index++) atomic.add(keys[nextIndex()], 1);
    await atomic.commit();
    b.start();
    const result = await incremental.checkpoint();
    b.end();
    if (result.compacted) throw new Error("an incremental checkpoint compacted: the bench is off");
  },
});

Deno.bench({
  name: "full checkpoint (compact: true), 100,000 keys",
  group: "checkpoint",
  n: 3,
  warmup: 1,
  async fn(b) {
    b.start();
    const result = await compacting.checkpoint({ compact: true });
    b.end();
    if (!result.compacted || result.keys !== storeKeys) throw new Error("the compact went wrong");
  },
});

/** Times an open of `dir` (lazy unless told) and one get of a cold key; the close is not timed. */
async function reopenAndGet(
  b: Deno.BenchContext,
  dir: string,
  expected: number,
  load: LoadMode = "lazy",
): Promise<void> {
  const index = 1 + nextIndex() % (storeKeys - 1); // not keys[0], which the tiny epochs changed
  b.start();
  const store = await openStore({ path: dir, checkpoint: { auto: false }, load });
  const value = await store.get(keys[index]);
  b.end();
  const replayed = store.stats().recovery.replayedRecords;
  await store.close();
  if (value !== expected) throw new Error(`"${keys[index]}" is ${value}, expected ${expected}`);
  if (replayed !== 0) throw new Error(`the reopen replayed ${replayed} records`);
}

Deno.bench({
  name: "reopen 100,000 keys + first get (newest WAL segment: the load, 2.4 MiB)",
  group: "reopen",
  baseline: true,
  n: 30,
  warmup: 3,
  async fn(b) {
    await reopenAndGet(b, base, 1);
  },
});

Deno.bench({
  name: "reopen 100,000 keys + first get (newest WAL segment: 1 record)",
  group: "reopen",
  n: 30,
  warmup: 3,
  async fn(b) {
    await reopenAndGet(b, tiny, 1);
  },
});

Deno.bench({
  name: "reopen 100,000 keys loaded whole (load: eager) + first get",
  group: "reopen",
  n: 30,
  warmup: 3,
  async fn(b) {
    await reopenAndGet(b, tiny, 1, "eager");
  },
});

Deno.bench({
  name: `reopen replaying ${replayRecords.toLocaleString("en-US")} WAL records (no image)`,
  group: "reopen",
  n: 20,
  warmup: 2,
  async fn(b) {
    b.start();
    const store = await openStore({ path: replay, checkpoint: { auto: false } });
    b.end();
    const { replayedRecords } = store.stats().recovery;
    const keyCount = store.stats().keys;
    await store.close();
    if (replayedRecords !== replayRecords || keyCount !== replayRecords) {
      throw new Error(`replayed ${replayedRecords} records into ${keyCount} keys`);
    }
  },
});
