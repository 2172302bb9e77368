/**
 * A memory budget on a store a checkpoint failed on (poisoned: writes
 * refused until a reopen): reads go on within the budget, since evictions
 * go on taking what the committed image holds, and every answer stays
 * exact, also those that load again what was evicted after the failure;
 * what the failed checkpoint wrote is never read back (here its record
 * writes never reach the disk, so a read of one would find zeros).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BlockFile,
  MemoryBlockStorage,
  openStore,
  StorageIoError,
  type Store,
} from "../mod.ts";
import {
  imageGeometryKey,
  type InternalStoreOptions,
  memoryFloor,
  slabCacheSlabsMinKey,
} from "../lib/store/store.ts";
import { headerRegionBytes } from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { addCounts } from "./_counts.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";

const budget = 8 * 1024;
const key = (i: number) => `key ${i % 97} ${i}`;

/**
 * A file whose record writes (past the header slots) write zeros while its
 * storage is `losing` (a write the disk lost), and whose fsyncs then fail;
 * once `readsBeforeFailing` reads of the image counted down to 0, reads of it
 * fail until it is set again.
 */
class LosingFile extends ForwardingFile {
  readonly #storage: LosingStorage;

  constructor(inner: BlockFile, storage: LosingStorage) {
    super(inner);
    this.#storage = storage;
  }

  override read(offset: number, length: number): Promise<Uint8Array> {
    if (this.name === imageFileName && this.#storage.readsBeforeFailing >= 0) {
      if (this.#storage.readsBeforeFailing === 0) {
        return Promise.reject(new StorageIoError(`Cannot read "${this.name}": injected failure`));
      }
      this.#storage.readsBeforeFailing--;
    }
    return super.read(offset, length);
  }

  override write(offset: number, data: Uint8Array): Promise<void> {
    const lost = this.name === imageFileName && this.#storage.losing && offset >= headerRegionBytes;
    if (lost) this.#storage.lostWrites++;
    return super.write(offset, lost ? new Uint8Array(data.length) : data);
  }

  override sync(): Promise<void> {
    if (this.#storage.losing) {
      return Promise.reject(new StorageIoError(`Cannot sync "${this.name}": injected failure`));
    }
    return super.sync();
  }
}

/** See {@link LosingFile}. */
class LosingStorage extends ForwardingStorage {
  losing = false;
  /** Image reads left before they fail; -1: none fails. */
  readsBeforeFailing = -1;
  lostWrites = 0;

  constructor() {
    super(new MemoryBlockStorage(), "losing memory");
  }

  override wrapFile(file: BlockFile): BlockFile {
    return new LosingFile(file, this);
  }
}

/** A store under {@link budget}, checkpoints by hand, small slabs and a one-slab cache. */
async function smallStore(storage: LosingStorage): Promise<Store> {
  return await openStore({
    storage,
    durability: "relaxed",
    memoryBudget: budget,
    checkpoint: { auto: false },
    [imageGeometryKey]: { slabBytes: 4096, chunkEntriesMax: 64 },
    [slabCacheSlabsMinKey]: 1,
  } as InternalStoreOptions);
}

/**
 * Reads every key of `expected` one at a time: each count exact, and after
 * each read the live nodes within the trie's part of the budget or what
 * no eviction may take (`memoryFloor`: the root, the nodes the failed
 * checkpoint left naming records of its own and those above them, a stub
 * below each), whichever is larger. Returns the largest live bytes seen.
 */
async function readWithin(store: Store, expected: Map<string, number>): Promise<void> {
  for (const [k, value] of expected) {
    assert.equal(await store.get(k), value, `the count of ${k}`);
    assertWithin(store, `after reading ${k}`);
  }
}

/** The live nodes within the trie's part of the budget or what must stay, whichever is larger. */
function assertWithin(store: Store, when: string): void {
  const memory = store.stats().memory;
  const part = Math.max(budget - memory.cacheBytes, budget / 2);
  const floor = memoryFloor(store, []);
  assert.ok(
    memory.liveBytes <= Math.max(part, floor),
    `${when}: ${memory.liveBytes} live bytes, part ${part}, floor ${floor}`,
  );
}

Deno.test("poisoned budget: after a failed incremental checkpoint, reads stay within it and exact", async () => {
  const storage = new LosingStorage();
  const store = await smallStore(storage);
  const expected = await addCounts(store, 3_000, key, async () => void await store.checkpoint());
  // A few writes under one prefix for the checkpoint that fails: its records are lost, its
  // fsync fails.
  for (let i = 5; i < 3_000; i += 97 * 5) {
    await store.add(key(i), 1);
    expected.set(key(i), expected.get(key(i))! + 1);
  }
  storage.losing = true;
  await assert.rejects(store.checkpoint(), StorageIoError);
  storage.losing = false;
  assert.ok(storage.lostWrites > 0, "the failed checkpoint wrote records");
  await assert.rejects(store.add(key(0), 1), StorageIoError); // poisoned
  const floor = memoryFloor(store, []);
  assert.ok(floor < budget, `what must stay, ${floor} bytes, fits the budget`);
  const { evictions } = store.stats().memory;
  const { nodesLoaded } = store.stats().image;
  await readWithin(store, expected);
  assert.ok(store.stats().memory.evictions > evictions, "the reads' loads were evicted");
  // Again: what was evicted after the failure loads back from the committed image.
  const loadedBefore = store.stats().image.nodesLoaded;
  assert.ok(loadedBefore > nodesLoaded, "the reads loaded records");
  await readWithin(store, expected);
  assert.ok(store.stats().image.nodesLoaded > loadedBefore, "the stubs made after it loaded again");
  await store.close().catch(() => {}); // its close may report the failure
});

Deno.test("poisoned budget: after a failed compaction, reads stay within it and exact", async () => {
  const storage = new LosingStorage();
  const store = await smallStore(storage);
  const loaded = await addCounts(store, 3_000, key, async () => void await store.checkpoint());
  // Keys loaded before the compaction, first in key order: its walk gives them fresh addresses
  // before its copy of what follows fails at a read of the old image.
  const hot = [...loaded.keys()].filter((k) => k.startsWith("key 0 "));
  for (const k of hot) await store.get(k);
  storage.readsBeforeFailing = 0;
  await assert.rejects(store.checkpoint({ compact: true }), StorageIoError);
  storage.readsBeforeFailing = -1;
  const floor = memoryFloor(store, []);
  assert.ok(floor < budget, `what must stay, ${floor} bytes, fits the budget`);
  const { evictions } = store.stats().memory;
  // A key whose record is in the failed compaction's file is refused (the walk passed it, and
  // an eviction made a stub of it meanwhile).
  let refused = 0;
  const readable = new Map<string, number>();
  for (const [k, value] of loaded) {
    try {
      assert.equal(await store.get(k), value, `the count of ${k}`);
      readable.set(k, value);
      assertWithin(store, `after reading ${k}`);
    } catch (error) {
      if (!(error instanceof StorageIoError)) throw error;
      refused++;
    }
  }
  assert.ok(readable.size > loaded.size / 2, `${refused} keys refused`);
  assert.ok(store.stats().memory.evictions > evictions, "the reads' loads were evicted");
  // Every key that answered since the failure answers again (no eviction made a stub of a fresh
  // node since: such a read would be refused), within the budget, through the stubs made since.
  const loadedBefore = store.stats().image.nodesLoaded;
  await readWithin(store, readable);
  assert.ok(store.stats().image.nodesLoaded > loadedBefore, "the stubs made after it loaded again");
  await store.close().catch(() => {}); // its close may report the failure
  const reopened = await openStore({ storage, memoryBudget: budget });
  const keys = [...loaded.keys()];
  assert.deepEqual(await reopened.getMany(keys), keys.map((k) => loaded.get(k)));
  await reopened.close();
});
