/**
 * The memory budget: after a checkpoint the trie's clean subtrees past the
 * budget go back to disk and load again when read; writes and reads in
 * flight meanwhile keep their paths (pins), and every answer stays exact.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BlockFile,
  type Durability,
  MemoryBlockStorage,
  openStore,
  type Store,
} from "../mod.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";

/** A file whose reads wait while its storage holds them. */
class HeldFile extends ForwardingFile {
  readonly #storage: HeldReads;

  constructor(inner: BlockFile, storage: HeldReads) {
    super(inner);
    this.#storage = storage;
  }

  override async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.#storage.held && this.name.startsWith("image")) await this.#storage.wait();
    return await super.read(offset, length);
  }
}

/** A storage whose image reads wait while `held` is set, until `release()`. */
class HeldReads extends ForwardingStorage {
  held = false;
  #waiting: (() => void)[] = [];

  override wrapFile(file: BlockFile): BlockFile {
    return new HeldFile(file, this);
  }

  /** Resolves when the held reads are let go. */
  wait(): Promise<void> {
    return new Promise((resume) => this.#waiting.push(resume));
  }

  /** Lets the held reads go on. */
  release(): void {
    this.held = false;
    for (const resume of this.#waiting.splice(0)) resume();
  }

  /** Reads held now. */
  get waiting(): number {
    return this.#waiting.length;
  }
}

const budget = 16 * 1024;
const key = (i: number) => `key ${i % 97} ${i}`;

/** Adds 1..n to keys 0..n-1 in batches, with a checkpoint after each; returns the expected counts. */
async function fill(store: Store, n: number): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  for (let from = 0; from < n; from += 500) {
    const op = store.atomic();
    for (let i = from; i < Math.min(n, from + 500); i++) {
      op.add(key(i), i + 1);
      expected.set(key(i), i + 1);
    }
    assert.ok((await op.commit()).ok);
    await store.checkpoint();
    const memory = store.stats().memory;
    assert.ok(memory.liveBytes <= budget, `after a checkpoint: ${JSON.stringify(memory)}`);
  }
  return expected;
}

for (const durability of ["strict", "relaxed"] satisfies Durability[]) {
  Deno.test(`memoryBudget (${durability}): after checkpoints the trie stays within it, and reads load what went`, async () => {
    const storage = new MemoryBlockStorage();
    const store = await openStore({ storage, durability, memoryBudget: budget });
    const expected = await fill(store, 4_000);
    const memory = store.stats().memory;
    assert.equal(memory.budget, budget);
    assert.ok(memory.evictions > 0 && memory.evictedBytes > 0, JSON.stringify(memory));
    const keys = [...expected.keys()];
    assert.deepEqual(
      await store.getMany(keys.slice(0, 1000)),
      keys.slice(0, 1000).map((k) => expected.get(k)),
    );
    for (const k of keys.slice(1000, 1200)) assert.equal(await store.get(k), expected.get(k));
    let listed = 0;
    for await (const { key: k, value } of store.list({ prefix: "key 5" })) {
      assert.equal(value, expected.get(new TextDecoder().decode(k)));
      listed++;
    }
    assert.equal(listed, keys.filter((k) => k.startsWith("key 5")).length);
    await store.close();
    const again = await openStore({ storage, memoryBudget: budget });
    assert.deepEqual(
      await again.getMany(keys.slice(2000, 3000)),
      keys.slice(2000, 3000).map((k) => expected.get(k)),
    );
    await again.close();
  });
}

Deno.test("memoryBudget: writes and reads in flight while a checkpoint evicts keep their paths", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, memoryBudget: budget, checkpoint: { auto: false } });
  const expected = await fill(store, 3_000);
  // Adds to keys all over the trie, not awaited, then a checkpoint that evicts under them.
  const adds: Promise<number>[] = [];
  for (let i = 0; i < 3_000; i += 7) {
    adds.push(store.add(key(i), 1));
    expected.set(key(i), expected.get(key(i))! + 1);
  }
  const reads = store.getMany([...expected.keys()].slice(0, 500));
  const checkpoint = store.checkpoint();
  const more: Promise<number>[] = [];
  for (let i = 3; i < 3_000; i += 11) {
    more.push(store.add(key(i), 2));
    expected.set(key(i), expected.get(key(i))! + 2);
  }
  await Promise.all([...adds, ...more, reads, checkpoint]);
  await store.checkpoint();
  assert.ok(store.stats().memory.evictions > 0);
  const keys = [...expected.keys()];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => expected.get(k)));
  const report = await store.verify();
  assert.deepEqual(report.problems, []);
  await store.close();
});

Deno.test("memoryBudget: checked like every option", async () => {
  const storage = new MemoryBlockStorage();
  await assert.rejects(openStore({ storage, memoryBudget: 100 }), RangeError);
  await assert.rejects(openStore({ storage, memoryBudget: "1 GiB" as never }), TypeError);
  await assert.rejects(openStore({ storage, memoryBudgt: 4096 } as never), /memoryBudget/);
});

Deno.test("memoryBudget: nothing is evicted while a record read is in flight", async () => {
  // Such a read installs by path and address: were its stub evicted and the address reused by
  // another record, it would install old content in the new stub.
  const disk = new MemoryBlockStorage();
  const storage = new HeldReads(disk, "held reads");
  const store = await openStore({ storage, memoryBudget: budget, checkpoint: { auto: false } });
  const expected = await fill(store, 3_000);
  const evictions = store.stats().memory.evictions;
  assert.ok(evictions > 0);
  storage.held = true;
  const [first] = [...expected.keys()];
  const reading = store.get(first); // its path went at the last checkpoint: a read from the image
  await new Promise((resume) => setTimeout(resume, 10));
  assert.ok(storage.waiting > 0, "the read waits for the image");
  for (let i = 0; i < 3_000; i += 3) await store.add(`other ${i}`, 1); // a trie past the budget again
  await store.checkpoint();
  assert.equal(store.stats().memory.evictions, evictions, "no eviction beside the read");
  storage.release();
  assert.equal(await reading, expected.get(first));
  await store.checkpoint();
  assert.ok(store.stats().memory.evictions > evictions, "evictions go on once the read is done");
  await store.close();
});

Deno.test("memoryBudget: writes far past the budget start a checkpoint of their own, so they can go", async () => {
  const storage = new MemoryBlockStorage();
  // Epoch triggers far away: only the budget starts checkpoints here.
  const checkpoint = { epochMs: 60_000, epochOps: 10_000_000, epochWalBytes: 2 ** 30 };
  const store = await openStore({ storage, memoryBudget: budget, checkpoint });
  const expected = new Map<string, number>();
  for (let from = 0; from < 6_000; from += 200) {
    const op = store.atomic();
    for (let i = from; i < from + 200; i++) {
      op.add(key(i), 1);
      expected.set(key(i), 1);
    }
    assert.ok((await op.commit()).ok);
  }
  await store.checkpoint(); // waits for any running one too
  const stats = store.stats();
  assert.ok(stats.epochs.checkpoints > 1, `checkpoints: ${stats.epochs.checkpoints}`);
  assert.ok(stats.memory.evictions > 0 && stats.memory.liveBytes <= budget);
  const keys = [...expected.keys()];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => expected.get(k)));
  await store.close();
});
