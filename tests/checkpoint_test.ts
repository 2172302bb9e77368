/**
 * Checkpoints: exactly-once recovery across them (D3), the regressions of
 * the seeds' own bugs (#47, #49), lazy open, the WAL segments they remove,
 * space reuse and compaction, failures (D7), epochs and verify().
 */

import assert from "node:assert/strict";
import {
  type BlockFile,
  CorruptionError,
  MemoryBlockStorage,
  openStore,
  StorageIoError,
  type StoreOptions,
} from "../mod.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import { slabBytes } from "../lib/image/allocation.ts";
import { headerSlotBytes, headerSlotOffsets } from "../lib/image/header.ts";
import {
  FaultyStorage,
  ForwardingFile,
  ForwardingStorage,
  TornHeaderWrite,
} from "./_storage_wrappers.ts";
import { compactionDue } from "../lib/engine/checkpointer.ts";
import { Budget } from "../lib/engine/_budget.ts";
import { warmedUp } from "./_warm.ts";
import { readAll } from "./_counts.ts";

/** Checkpoints only when a test asks. */
const manual = { auto: false } as const;

async function reopen(
  storage: MemoryBlockStorage | FaultyStorage,
  options: Partial<StoreOptions> = {},
) {
  return await openStore({ storage, checkpoint: manual, ...options });
}

for (const durability of ["strict", "relaxed"] as const) {
  Deno.test(`checkpoint (${durability}): +4, ckpt, +5, ckpt, reopen reads 9 (#49)`, async () => {
    const storage = new MemoryBlockStorage();
    const store = await reopen(storage, { durability });
    await store.add("w", 4);
    const first = await store.checkpoint();
    await store.add("w", 5);
    const second = await store.checkpoint();
    assert.equal(first.coverageLsn, 1);
    assert.equal(second.coverageLsn, 2, "the coverage follows every applied write");
    await store.close();
    const again = await reopen(storage, { durability });
    assert.equal(await again.get("w"), 9);
    assert.equal(again.stats().recovery.replayedRecords, 0);
    assert.equal(again.stats().lastLsn, 2, "LSNs continue above the image");
    await again.add("w", 1);
    await again.close();
    const third = await reopen(storage, { durability });
    assert.equal(await third.get("w"), 10);
    await third.close();
  });
}

Deno.test("checkpoint: a recovery, then a checkpoint, then a reopen counts each write once (#47)", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage, { walSegmentBytes: 4096 });
  await store.add("w", 4);
  await store.checkpoint();
  await store.add("w", 5);
  await store.close(); // no checkpoint at close: +5 is only in the WAL
  const recovered = await reopen(storage);
  assert.equal(recovered.stats().recovery.replayedRecords, 1);
  assert.equal(recovered.stats().recovery.coverageLsn, 1);
  const result = await recovered.checkpoint(); // nothing written since the reopen
  assert.equal(result.coverageLsn, 2, "the coverage holds what recovery replayed");
  await recovered.close();
  const again = await reopen(storage);
  assert.equal(await again.get("w"), 9);
  await again.close();
});

Deno.test("checkpoint: writes made while it runs are not in it, and are replayed once", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage, { durability: "relaxed" });
  for (let index = 0; index < 2000; index++) void store.add(`key ${index}`, 1);
  await store.sync();
  const running = store.checkpoint();
  // These land while the checkpoint walks the trie (D8): above its coverage.
  for (let index = 0; index < 2000; index += 7) void store.add(`key ${index}`, 10);
  const result = await running;
  assert.equal(result.coverageLsn, 2000);
  await store.close();
  const again = await reopen(storage);
  assert.equal(await again.get("key 0"), 11);
  assert.equal(await again.get("key 1"), 1);
  assert.equal(again.stats().recovery.replayedRecords, Math.ceil(2000 / 7));
  assert.ok((await again.verify()).ok);
  await again.close();
});

Deno.test("lazy open: reads load only their paths; writes to cold keys keep call order", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  // Long keys, so the image spans a dozen slabs: a load reads (and caches)
  // one slab, and a key in another subtree far from it still needs a read.
  const key = (index: number) => `k${index % 97} ${index} ${"x".repeat(300)}`;
  const batch = store.atomic();
  for (let index = 0; index < 5000; index++) batch.add(key(index), index + 1);
  await batch.commit();
  await store.checkpoint();
  await store.close();
  const lazy = await reopen(storage, { load: "lazy" });
  assert.equal(lazy.stats().image.nodesLoaded, 0, "open reads the root only");
  assert.equal(lazy.stats().keys, 5000);
  assert.equal(await lazy.get(key(1558)), 1559);
  const afterGet = lazy.stats().image.nodesLoaded;
  assert.ok(afterGet > 0 && afterGet < 20, `one path loaded: ${afterGet} nodes`);
  // A cold write queues; a hot write made after it waits its turn.
  const cold = lazy.add(key(4940), 1); // subtree k90, far from k6 in byte order
  assert.equal(lazy.stats().queuedWrites, 1);
  const hot = lazy.add(key(1558), 1);
  assert.equal(lazy.stats().queuedWrites, 2, "a write made after a queued one queues too");
  assert.equal(lazy.stats().lastLsn, 1, "neither has an LSN yet");
  assert.deepEqual(await Promise.all([cold, hot]), [4942, 1560]);
  assert.equal(lazy.stats().lastLsn, 3);
  // Same key, cold path: the set made second must win.
  const first = lazy.add(key(3001), 5);
  const second = lazy.set(key(3001), 7);
  await Promise.all([first, second]);
  assert.equal(await lazy.get(key(3001)), 7);
  const [a, b] = await lazy.getMany([key(4947), "absent"]);
  assert.deepEqual([a, b], [4948, undefined]);
  const state = await readAll(lazy);
  assert.equal(state.size, 5000);
  assert.equal(state.get(key(4940)), 4942);
  assert.ok(lazy.stats().image.nodesLoaded > afterGet);
  await lazy.close();
  // The log holds the two writes in call order: the cold one first.
  const again = await reopen(storage);
  assert.equal(await again.get(key(4940)), 4942);
  assert.equal(await again.get(key(3001)), 7);
  assert.equal(again.stats().lastLsn, 5);
  await again.close();
});

Deno.test("lazy open: deletes next to nodes still on disk, then checkpoints and reopens", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  const keys = ["a", "ab", "abc", "abd", "b", "ba", "bb", "c"];
  for (const key of keys) await store.set(key, key.length);
  await store.checkpoint();
  await store.close();
  // Each delete may leave a one-child node whose child is not loaded yet.
  for (const victim of ["abc", "ab", "ba", "a", "b", "bb"]) {
    const lazy = await reopen(storage, { load: "lazy" });
    await lazy.delete(victim);
    await lazy.checkpoint();
    const report = await lazy.verify();
    assert.ok(report.ok, report.problems.join("; "));
    await lazy.close();
  }
  const last = await reopen(storage);
  assert.deepEqual([...(await readAll(last))], [["abd", 3], ["c", 1]]);
  await last.close();
});

Deno.test("checkpoint: covered WAL segments go, keeping retainSegments of them", async () => {
  for (const retainSegments of [0, 2]) {
    const storage = new MemoryBlockStorage();
    const store = await openStore({
      storage,
      walSegmentBytes: 4096,
      checkpoint: { auto: false, retainSegments },
    });
    for (let round = 0; round < 5; round++) {
      for (let index = 0; index < 200; index++) await store.add(`key ${index}`, 1);
      await store.checkpoint();
    }
    const segments = (await storage.list()).filter((name) => name.endsWith(".wal"));
    assert.ok(
      segments.length <= retainSegments + 2,
      `retain ${retainSegments}: ${segments.length} segments left`,
    );
    assert.ok(store.stats().wal.segmentsRemoved > 0);
    await store.close();
    const again = await openStore({ storage, checkpoint: { auto: false } });
    assert.equal(await again.get("key 199"), 5);
    await again.close();
  }
});

Deno.test("checkpoint: space is reused, and compaction rewrites the image", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  for (let round = 0; round < 40; round++) {
    const batch = store.atomic();
    for (let index = 0; index < 500; index++) batch.set(`key ${index}`, round);
    await batch.commit();
    await store.checkpoint();
  }
  const space = store.stats().image;
  assert.ok(
    space.freeSlabs > 0 || space.slabs <= 3,
    `slabs ${space.slabs}, free ${space.freeSlabs}`,
  );
  const file = await storage.open(imageFileName);
  const size = await file.size();
  await file.close();
  // 40 full rewrites of ~20 KB each would need ~1 MB without reuse.
  assert.ok(size < 4 * slabBytes, `image is ${size} bytes`);
  assert.equal(space.fileBytes, size, "stats report the file's length");
  const compacted = await store.checkpoint({ compact: true });
  assert.equal(compacted.compacted, true);
  assert.equal(compacted.keys, 500);
  assert.ok((await store.verify()).ok);
  // Two commits later the old image's slabs are free, and a free tail is cut off.
  await store.set("key 0", 39);
  assert.equal((await store.checkpoint()).compacted, false, "a compaction does not repeat");
  await store.set("key 0", 39);
  await store.checkpoint();
  const after = await storage.open(imageFileName);
  const shrunk = await after.size();
  await after.close();
  assert.ok(shrunk <= size, `the image grew from ${size} to ${shrunk} bytes`);
  assert.equal(store.stats().image.fileBytes, shrunk);
  assert.ok((await store.verify()).ok);
  await store.close();
  const again = await reopen(storage);
  assert.equal(await again.get("key 499"), 39);
  await again.close();
});

Deno.test("checkpoint: a failed fsync poisons the store; a reopen has every acknowledged write", async () => {
  const storage = new FaultyStorage();
  const store = await reopen(storage);
  await store.add("a", 1);
  await store.checkpoint();
  await store.add("a", 2);
  storage.failNext.sync = 1; // the image's fsync before the header
  await assert.rejects(store.checkpoint(), StorageIoError);
  await assert.rejects(store.add("a", 3), StorageIoError, "a poisoned store refuses writes");
  await assert.rejects(store.checkpoint(), StorageIoError);
  const report = await store.verify(); // the committed image, read from disk
  assert.ok(report.ok, report.problems.join("; "));
  await store.close(); // the WAL itself is fine: nothing was lost
  const again = await reopen(storage);
  assert.equal(await again.get("a"), 3);
  assert.ok((await again.verify()).ok);
  await again.close();
});

Deno.test("checkpoint: epochs trigger on their own, and stats count them", async () => {
  const storage = new MemoryBlockStorage();
  // A clock that stands still: checkpoints take 0 ms, so pacing never holds one back.
  const clock = { now: () => 0 };
  const store = await openStore({
    storage,
    clock,
    checkpoint: { epochOps: 100, retainSegments: 0 },
  });
  for (let index = 0; index < 350; index++) await store.add(`key ${index % 50}`, 1);
  await store.checkpoint(); // waits for any automatic one, then runs
  const epochs = store.stats().epochs;
  assert.ok(epochs.checkpoints >= 4, `${epochs.checkpoints} checkpoints`);
  assert.equal(epochs.operations, 350);
  assert.ok(epochs.lastDurableEpoch >= 4);
  assert.ok(epochs.averages.operationsPerEpoch > 0);
  await store.close();
  await assert.rejects(
    openStore({ storage, checkpoint: { epochMs: 5 } }),
    (error: unknown) => error instanceof RangeError && /epochMs/.test(error.message),
  );
  await assert.rejects(
    openStore({ storage, checkpoint: { preset: "fast" as "lowLatency" } }),
    TypeError,
  );
});

for (const load of ["lazy", "eager"] as const) {
  Deno.test(`verify: a damaged image record is found; reading it is a CorruptionError (${load} open)`, async () => {
    const storage = new MemoryBlockStorage();
    const store = await reopen(storage);
    for (let index = 0; index < 50; index++) await store.set(`key ${index}`, index);
    await store.checkpoint();
    await store.close();
    // Flip a byte inside the first slab's records (past the header region).
    const file = await storage.open(imageFileName);
    const [byte] = await file.read(8192 + 20, 1);
    await file.write(8192 + 20, Uint8Array.of(byte ^ 0x10));
    await file.close();
    // An eager open leaves the damaged record (and its slab) on disk: its
    // read then fails as a lazy one does, after the usual re-reads.
    const damaged = await reopen(storage, { load });
    const report = await damaged.verify();
    assert.equal(report.ok, false);
    assert.match(report.problems.join("\n"), /record at \d+/);
    const reads = [];
    for (let index = 0; index < 50; index++) {
      reads.push(damaged.get(`key ${index}`).catch((e) => e));
    }
    const outcomes = await Promise.all(reads);
    assert.ok(
      outcomes.some((outcome) =>
        outcome instanceof CorruptionError && outcome.file === imageFileName
      ),
      "a read through the damaged record names the image file",
    );
    const intact = outcomes.filter((outcome, index) => outcome === index).length;
    assert.ok(intact > 0, "keys outside the damaged record read as written");
    await damaged.close();
  });
}

Deno.test("eager open: the whole image loads at open and holds what a lazy open reads", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  // Every node shape: a 256-way root (one key per first byte), keys that
  // are prefixes of others, leaves too long to sit inside their parent's
  // record, and enough keys for several slabs.
  const keys: Uint8Array[] = [];
  for (let byte = 0; byte < 256; byte++) keys.push(Uint8Array.of(byte, 1, 2));
  for (let index = 0; index < 3000; index++) {
    const word = `w${index % 40} ${index % 7 === 0 ? "long ".repeat(20) : ""}${index}`;
    keys.push(new TextEncoder().encode(word), new TextEncoder().encode(`w${index % 40}`));
  }
  const batch = store.atomic();
  keys.forEach((key, index) => batch.add(key, index + 1));
  await batch.commit();
  await store.checkpoint();
  await store.close();

  const lazy = await reopen(storage, { load: "lazy" });
  assert.equal(lazy.stats().image.nodesLoaded, 0, "a lazy open reads the root only");
  const expected = await readAll(lazy);
  const expectedBytes = [];
  for await (const entry of lazy.list({ prefix: "" })) expectedBytes.push(entry);
  await lazy.close();

  const eager = await reopen(storage, { load: "eager" });
  const loaded = eager.stats().image.nodesLoaded;
  assert.ok(loaded > 100, `open loaded ${loaded} records`);
  const entries = [];
  for await (const entry of eager.list({ prefix: "" })) entries.push(entry);
  assert.deepEqual(entries, expectedBytes);
  assert.equal(eager.stats().image.nodesLoaded, loaded, "the list loaded nothing more");
  assert.equal(eager.stats().keys, expectedBytes.length);
  assert.equal(await eager.get(Uint8Array.of(200, 1, 2)), 201);
  // Writes over the loaded trie, a checkpoint of them, and a check of it all.
  await eager.add("w3", 5);
  await eager.delete(Uint8Array.of(7, 1, 2));
  await eager.checkpoint();
  assert.ok((await eager.verify()).ok);
  await eager.close();
  const again = await reopen(storage); // auto: the root, then the rest in the background
  await warmedUp(again);
  assert.ok(again.stats().image.nodesLoaded > 0);
  assert.equal(again.stats().image.unloadedNodes, 0);
  const state = await readAll(again);
  assert.equal(state.get("w3"), expected.get("w3")! + 5);
  assert.equal(state.size, expected.size - 1);
  await again.close();
});

Deno.test("eager open: a slab that fails to read stays on disk and loads on use", async () => {
  const inner = new MemoryBlockStorage();
  const store = await reopen(inner);
  const key = (index: number) => `k${index % 13} ${index} ${"x".repeat(300)}`;
  for (let index = 0; index < 2000; index++) await store.set(key(index), index);
  await store.checkpoint();
  await store.close();
  // The first read of a whole slab past slab 0 fails (EIO); the record reads after it succeed.
  let failed = 0;
  class FailingFile extends ForwardingFile {
    override read(offset: number, length: number): Promise<Uint8Array> {
      const slabRead = offset > 0 && offset % slabBytes === 0 && length > 4096;
      if (this.name === imageFileName && slabRead && failed++ === 0) {
        return Promise.reject(new Error("injected slab read failure: EIO"));
      }
      return super.read(offset, length);
    }
  }
  class FailingStorage extends ForwardingStorage {
    override wrapFile(file: BlockFile): BlockFile {
      return new FailingFile(file);
    }
  }
  const storage = new FailingStorage(inner, "failing slab read");
  const opened = await openStore({ storage, checkpoint: manual, load: "eager" });
  assert.ok(failed >= 1, "a slab read failed");
  const atOpen = opened.stats().image.nodesLoaded;
  assert.ok(atOpen > 0, "the other slabs loaded");
  const state = await readAll(opened);
  assert.equal(state.size, 2000);
  assert.equal(state.get(key(1000)), 1000);
  assert.ok(opened.stats().image.nodesLoaded > atOpen, "the failed slab's records loaded on use");
  await opened.close();
});

Deno.test("checkpoint: a covered segment whose removal a crash undid is passed by, not damage", async () => {
  const storage = new MemoryBlockStorage();
  const options = {
    storage,
    walSegmentBytes: 4096,
    checkpoint: { auto: false, retainSegments: 0 },
  };
  const store = await openStore(options);
  for (let index = 0; index < 500; index++) await store.add(`key ${index % 40}`, 1);
  const before = (await storage.list()).filter((name) => name.endsWith(".wal"));
  assert.ok(before.length >= 4, `${before.length} segments`);
  // The oldest comes back, leaving a gap where its successors were removed.
  const kept = await storage.open(before[0]);
  const bytes = await kept.read(0, await kept.size());
  await kept.close();
  await store.checkpoint();
  for (let index = 0; index < 100; index++) await store.add(`key ${index % 40}`, 1);
  // Removed once both header slots cover it (the older slot may be fallen back on).
  await store.checkpoint();
  await store.close();
  assert.ok(!(await storage.list()).includes(before[0]), "the checkpoint removed it");
  // The power failed before the directory fsync made that removal durable.
  const back = await storage.open(before[0], { create: true });
  await back.write(0, bytes);
  await back.close();
  const again = await openStore(options);
  assert.equal(await again.get("key 0"), 13 + 3); // 500 adds then 100, over 40 keys
  assert.equal(await again.get("key 39"), 12 + 2);
  await again.close();
});

Deno.test("checkpoint: a failed directory fsync in a reclaim poisons the log", async () => {
  const storage = new FaultyStorage();
  const store = await openStore({
    storage,
    walSegmentBytes: 4096,
    checkpoint: { auto: false, retainSegments: 0 },
  });
  for (let index = 0; index < 300; index++) await store.add(`key ${index % 40}`, 1);
  await store.checkpoint(); // seals the segment: the next group starts another
  await store.add("key 0", 1);
  storage.failNext.syncDir = 1; // the reclaim's, after removing covered segments
  await store.checkpoint(); // the image is committed; only the reclaim failed
  await assert.rejects(store.add("key 0", 1), StorageIoError, "nothing more is acknowledged");
  await assert.rejects(store.close(), StorageIoError);
  const again = await reopen(storage);
  assert.equal(await again.get("key 0"), 9);
  await again.close();
});

Deno.test("lazy open: a list batch is one state, even when it waits for loads", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage, { durability: "relaxed" });
  const batch = store.atomic();
  for (let index = 0; index < 2000; index++) batch.set(`k${index % 50} ${index}`, 1);
  await batch.commit();
  await store.checkpoint();
  await store.close();
  for (let round = 0; round < 5; round++) {
    const lazy = await reopen(storage, { durability: "relaxed", load: "lazy" });
    const walk = lazy.list({ prefix: "k" });
    const first = walk.next(); // meets a node not loaded yet, and waits for it
    // One atomic write to two keys in different subtrees of the first batch
    // (256 entries), while the list waits. Batches after it may see other
    // states; one batch never mixes two.
    const write = lazy.atomic().set("k1 1", 100 + round).set("k12 12", 100 + round).commit();
    const seen = new Map<string, number>();
    const decoder = new TextDecoder();
    for (let entry = await first; entry.done !== true; entry = await walk.next()) {
      seen.set(decoder.decode(entry.value.key), entry.value.value);
    }
    await write;
    assert.equal(seen.size, 2000);
    assert.equal(seen.get("k1 1"), seen.get("k12 12"), "both keys from one state");
    await lazy.close();
  }
});

Deno.test("compaction: due on fragmentation, not on the previous image's held records", () => {
  const mib = 1024 * 1024;
  const space = {
    slabs: 100,
    freeSlabs: 0,
    liveBytes: 10 * mib,
    heldBytes: 0,
    deadBytes: 0,
    fileBytes: 100 * 128 * 1024,
  };
  // Right after a compaction the old image is held: as big as the live one.
  assert.equal(compactionDue({ ...space, heldBytes: 10 * mib }), false);
  assert.equal(compactionDue({ ...space, deadBytes: 10 * mib + 1 }), true);
  assert.equal(compactionDue({ ...space, deadBytes: 9 * mib }), false, "under half");
  assert.equal(
    compactionDue({ ...space, liveBytes: mib, deadBytes: 3 * mib }),
    false,
    "under 4 MiB",
  );
});

Deno.test("checkpoint: right after an open whose log is an empty segment, writes go on", async () => {
  const storage = new MemoryBlockStorage();
  const first = await openStore({ storage });
  await first.add("a", 1);
  await first.close(); // checkpoints, then starts an empty segment for what comes next
  const segments = (await storage.list()).filter((name) => name.endsWith(".wal"));
  assert.equal(segments.at(-1), "wal-00000000000000000002.wal", "an empty segment comes last");
  const last = await storage.open(segments.at(-1)!);
  assert.equal(await last.size(), 32, "a header only");
  await last.close();
  const again = await openStore({ storage, checkpoint: { auto: false } });
  await again.checkpoint(); // seals the empty segment: the next group must not take its name
  assert.equal(await again.add("a", 1), 2);
  await again.close();
  const third = await openStore({ storage });
  assert.equal(await third.get("a"), 2);
  await third.close();
});

/** Fails the `failAt`-th fsync of the image file (1-based), once. */
class FailingImageSync extends ForwardingStorage {
  imageSyncs = 0;
  failAt = 0;
  constructor() {
    super(new MemoryBlockStorage(), "failing image sync");
  }
  override wrapFile(file: BlockFile): BlockFile {
    return file.name === imageFileName ? new ImageSyncFile(file, this) : file;
  }
}

class ImageSyncFile extends ForwardingFile {
  readonly #owner: FailingImageSync;
  constructor(file: BlockFile, owner: FailingImageSync) {
    super(file);
    this.#owner = owner;
  }
  override async sync(): Promise<void> {
    if (++this.#owner.imageSyncs === this.#owner.failAt) {
      throw new StorageIoError("injected fsync failure");
    }
    await super.sync();
  }
}

Deno.test("checkpoint: a header whose fsync failed is blanked at close; the reopen takes the old one", async () => {
  const storage = new FailingImageSync();
  const store = await reopen(storage as unknown as MemoryBlockStorage, { walSegmentBytes: 4096 });
  for (let index = 0; index < 200; index++) await store.add(`key ${index % 20}`, 1);
  const first = await store.checkpoint();
  for (let index = 0; index < 200; index++) await store.add(`key ${index % 20}`, 1);
  storage.failAt = storage.imageSyncs + 2; // the fsync right after the header write
  await assert.rejects(store.checkpoint(), StorageIoError);
  await store.close();
  const again = await reopen(storage as unknown as MemoryBlockStorage);
  assert.equal(
    again.stats().image.generation,
    first.generation,
    "the failed header is not trusted",
  );
  assert.equal(again.stats().recovery.coverageLsn, first.coverageLsn);
  assert.equal(await again.get("key 0"), 20);
  assert.ok((await again.verify()).ok);
  await again.close();
});

Deno.test("compaction: a new file renamed over the image, as small as the live records", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  for (let round = 0; round < 30; round++) {
    const batch = store.atomic();
    for (let index = 0; index < 2000; index++) batch.set(`key ${index}`, round * index);
    await batch.commit();
    await store.checkpoint();
  }
  const before = store.stats().image;
  const fileBytes = async () => {
    const file = await storage.open(imageFileName);
    const size = await file.size();
    await file.close();
    return size;
  };
  const sizeBefore = await fileBytes();
  const result = await store.checkpoint({ compact: true });
  assert.equal(result.compacted, true);
  const after = store.stats().image;
  assert.equal(after.deadBytes + after.heldBytes < 4096, true, JSON.stringify(after));
  const sizeAfter = await fileBytes();
  assert.ok(sizeAfter < sizeBefore, `${sizeAfter} < ${sizeBefore} (${JSON.stringify(before)})`);
  assert.ok(sizeAfter <= after.liveBytes + slabBytes, `${sizeAfter} bytes for ${after.liveBytes}`);
  assert.ok(!(await storage.list()).includes(compactingFileName));
  assert.ok((await store.verify()).ok);
  // Both slots hold the compacted image: the close keeps no covered segment.
  await store.close();
  const wal = (await storage.list()).filter((name) => name.endsWith(".wal"));
  assert.equal(wal.length, 1, wal.join(", "));
  // A compacting file left by a crash is garbage: open removes it.
  const stale = await storage.open(compactingFileName, { create: true });
  await stale.write(0, new Uint8Array(100).fill(7));
  await stale.close();
  const again = await reopen(storage);
  assert.ok(!(await storage.list()).includes(compactingFileName));
  assert.equal(await again.get("key 1999"), 29 * 1999);
  assert.ok((await again.verify()).ok);
  await again.close();
});

Deno.test("lazy open: a write whose path is in a cached slab goes through without queueing", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  const batch = store.atomic();
  for (let index = 0; index < 500; index++) batch.set(`k${index % 7} ${index}`, index);
  await batch.commit();
  await store.checkpoint(); // a small image: one slab
  await store.close();
  const lazy = await reopen(storage, { load: "lazy" });
  assert.equal(await lazy.get("k1 1"), 1); // reads the slab, and caches it
  const loaded = lazy.stats().image.nodesLoaded;
  const write = lazy.add("k5 12", 1); // another subtree, same slab
  assert.equal(lazy.stats().queuedWrites, 0, "loaded at once from the cached slab");
  assert.equal(lazy.stats().lastLsn, 2, "the write has its LSN at once");
  assert.equal(await write, 13);
  assert.ok(lazy.stats().image.nodesLoaded > loaded);
  await lazy.close();
});

Deno.test("checkpoint: with nothing changed since the last commit, no new header is written", async () => {
  const storage = new MemoryBlockStorage();
  const store = await reopen(storage);
  await store.set("a", 1);
  const first = await store.checkpoint();
  const again = await store.checkpoint();
  assert.equal(again.generation, first.generation, "no commit: the same generation");
  assert.equal(again.nodesWritten, 0);
  await store.add("a", 1);
  const changed = await store.checkpoint();
  assert.equal(changed.generation, first.generation + 1);
  assert.equal(changed.coverageLsn, 2);
  await store.close();
  const reopened = await reopen(storage);
  assert.equal(await reopened.get("a"), 2);
  await reopened.close();
});

Deno.test("compaction: a failed directory fsync after the rename poisons the log; nothing is lost", async () => {
  const storage = new FaultyStorage();
  const store = await reopen(storage);
  for (let index = 0; index < 50; index++) await store.set(`k${index}`, index);
  await store.checkpoint();
  await store.add("k1", 100);
  storage.failNext.syncDir = 1; // the fsync that makes the rename durable
  await assert.rejects(store.checkpoint({ compact: true }), StorageIoError);
  // A segment created meanwhile is in doubt: the log itself is poisoned, so
  // no write in flight can be acknowledged, and close reports it.
  await assert.rejects(store.add("k2", 1), StorageIoError);
  await assert.rejects(store.close(), StorageIoError);
  const again = await reopen(storage);
  assert.equal(await again.get("k1"), 101);
  assert.equal(await again.get("k49"), 49);
  assert.ok((await again.verify()).ok);
  await again.close();
});

Deno.test("compaction: a failure creating its file poisons the store, which reopens whole", async () => {
  const storage = new FaultyStorage();
  const store = await reopen(storage);
  for (let index = 0; index < 50; index++) await store.set(`k${index}`, index);
  await store.checkpoint();
  storage.failNext.open = 1; // opening image.tt.compacting
  await assert.rejects(store.checkpoint({ compact: true }), StorageIoError);
  await assert.rejects(store.add("k2", 1), StorageIoError, "a failed checkpoint poisons");
  await store.close().catch(() => {});
  const again = await reopen(storage);
  assert.equal(await again.get("k7"), 7);
  assert.ok(!(await storage.list()).includes(compactingFileName));
  await again.close();
});

Deno.test("open: a damaged slot A beside a blank slot B reads as fresh only if the WAL is whole", async () => {
  // The first commit, torn, and an initialisation lost: the whole log replays.
  const fresh = new MemoryBlockStorage();
  const first = await reopen(fresh);
  for (let index = 0; index < 20; index++) await first.add(`k${index}`, index + 1);
  await first.checkpoint();
  const crashed = fresh.clone(); // a power cut after the first commit (a close commits again)
  await first.close();
  const damage = async (storage: MemoryBlockStorage) => {
    const file = await storage.open(imageFileName);
    await file.write(4096, new Uint8Array(4096)); // slot B: never initialised on disk
    await file.write(100, Uint8Array.of(0xff)); // slot A: torn
    await file.close();
  };
  await damage(crashed);
  const replayed = await reopen(crashed);
  assert.equal(await replayed.get("k19"), 20, "every record replayed from the log");
  assert.equal(replayed.stats().recovery.coverageLsn, 0);
  await replayed.close();
  // The same damage after the log was reclaimed: reported, never an empty store.
  const reclaimed = new MemoryBlockStorage();
  const store = await openStore({
    storage: reclaimed,
    walSegmentBytes: 4096,
    checkpoint: { auto: false },
  });
  for (let index = 0; index < 300; index++) await store.add(`k${index % 40}`, 1);
  await store.checkpoint();
  await store.add("k0", 1);
  await store.checkpoint(); // both slots cover the first 300 adds: their segments go
  await store.close();
  await damage(reclaimed);
  await assert.rejects(
    openStore({ storage: reclaimed, walSegmentBytes: 4096, checkpoint: { auto: false } }),
    (error: unknown) => error instanceof CorruptionError && error.file === imageFileName,
  );
});

Deno.test("open: a slot blanked at close beside a damaged one is a lost image, reported at that slot", async () => {
  // Sim seed 810347 (hostile): a failed commit (there a short header write,
  // here its fsync) leaves its slot blank at close (above), and a misdirected
  // table write then damaged the other, current slot. No valid header, one slot blank: what a new image
  // whose initialisation was lost looks like. But the log, reclaimed by the
  // commits before, starts past record 1: the image is lost, and open must
  // name its damaged slot (not the log, which is whole) and write nothing.
  for (const checkpoints of [2, 3]) { // the failed commit writes slot A, then slot B
    const storage = new FailingImageSync();
    const memory = storage as unknown as MemoryBlockStorage;
    const store = await reopen(memory, { walSegmentBytes: 4096 });
    for (let round = 0; round <= checkpoints; round++) {
      for (let index = 0; index < 200; index++) await store.add(`key ${index % 20}`, 1);
      if (round === checkpoints) storage.failAt = storage.imageSyncs + 2; // after the header write
      if (round < checkpoints) await store.checkpoint();
      else await assert.rejects(store.checkpoint(), StorageIoError);
    }
    await store.close();
    const image = await storage.open(imageFileName);
    const slots = await Promise.all(
      headerSlotOffsets.map((offset) => image.read(offset, headerSlotBytes)),
    );
    const blank = slots.findIndex((slot) => slot.every((byte) => byte === 0));
    assert.equal(blank, checkpoints % 2 === 0 ? 0 : 1, "the failed commit's slot is blank");
    const damaged = headerSlotOffsets[1 - blank];
    await image.write(damaged + 3584, new Uint8Array(40).fill(0x5a)); // a misplaced table chunk
    await image.close();
    const names = (await storage.list()).filter((name) => name.endsWith(".wal"));
    assert.ok(!names.includes("wal-00000000000000000001.wal"), names.join(", "));
    for (let open = 0; open < 2; open++) { // an open writes nothing: the next one reports the same
      await assert.rejects(
        reopen(memory, { walSegmentBytes: 4096 }),
        (error: unknown) => {
          assert.ok(error instanceof CorruptionError, String(error));
          assert.equal(error.file, imageFileName, error.message);
          assert.equal(error.offset, damaged, error.message);
          assert.match(error.message, /is blank, .* but the log starts at record \d+/);
          return true;
        },
      );
    }
  }
});

/** Memory whose fsyncs complete in a later turn of the event loop, as a disk's do. */
class SlowSyncStorage extends ForwardingStorage {
  constructor(inner = new MemoryBlockStorage()) {
    super(inner, "memory, fsyncs answered by setTimeout");
  }
  override wrapFile(file: BlockFile): BlockFile {
    return new class extends ForwardingFile {
      override async sync(): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 0));
        return await super.sync();
      }
    }(file);
  }
}

Deno.test("checkpoint: a background one sleeps for busy writers; a caller's never does", async () => {
  // A virtual clock, so the pacing it judges does not depend on how busy the
  // machine is: each reading is a twentieth of a millisecond of work, a sleep
  // passes its time at once. Pauses, sleeps and fsyncs all wait one timer
  // turn, so writers and the checkpoint interleave in the same order in
  // every run (timers fire in the order they were set).
  const sleeps: number[] = [];
  let virtualMs = 0;
  const clock = {
    now: () => (virtualMs += 0.05),
    pause: () => new Promise<void>((resolve) => setTimeout(resolve, 0)),
    sleep: (ms: number) => {
      sleeps.push(ms);
      virtualMs += ms;
      return new Promise<void>((resolve) => setTimeout(resolve, 0));
    },
  };
  const storage = new SlowSyncStorage();
  const checkpoint = { epochOps: 1_000, epochMs: 60_000 };
  const store = await openStore({ storage, clock, checkpoint });
  const load = async (round: number) => {
    for (let batch = 0; batch < 40; batch++) {
      const atomic = store.atomic();
      for (let index = 0; index < 1_000; index++) atomic.add(`r${round} b${batch} k${index}`, 1);
      assert.ok((await atomic.commit()).ok);
    }
  };
  // Epoch triggers start checkpoints of a growing trie while the load goes
  // on (a few rounds at most: a busy machine may let one run unopposed).
  const roundsMax = 5;
  let rounds = 0;
  while (rounds < roundsMax && sleeps.length === 0) await load(rounds++);
  while (store.stats().epochs.checkpointInProgress) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.ok(store.stats().epochs.checkpoints > 0, "the load set off background checkpoints");
  assert.ok(sleeps.length > 0, `no background checkpoint slept in ${rounds} rounds of writes`);
  assert.ok(sleeps.every((ms) => ms > 0 && ms <= 20), `sleeps are bounded: ${sleeps}`);
  // A caller's checkpoint, with a load going on, runs at full pace.
  const called = await openStore({ storage: new SlowSyncStorage(), clock, checkpoint: manual });
  const atomic = called.atomic();
  for (let index = 0; index < 40_000; index++) atomic.add(`m${index % 7} ${index}`, 1);
  assert.ok((await atomic.commit()).ok);
  sleeps.length = 0;
  let writing = true;
  const writer = (async () => {
    for (let batch = 0; writing; batch++) {
      const more = called.atomic();
      for (let index = 0; index < 100; index++) more.add(`w${batch} ${index}`, 1);
      assert.ok((await more.commit()).ok);
    }
  })();
  const result = await called.checkpoint();
  writing = false;
  await writer;
  assert.ok(result.nodesWritten > 10_000, "a checkpoint long enough to pause");
  assert.deepEqual(sleeps, [], "a caller's checkpoint never sleeps");
  await called.close();
  await store.close();
  const again = await openStore({ storage: storage.inner, checkpoint: manual });
  assert.equal(await again.get(`r${rounds - 1} b39 k999`), 1);
  assert.equal(again.stats().keys, 40_000 * rounds);
  await again.close();
});

Deno.test("open: a damaged slot is blanked before a checkpoint reuses the space its header named (sim seed 960112)", async () => {
  // N-gram sim seed 960112: a crash lost the newest header slot (A,
  // generation 1) by changing one byte in its zeros; open fell back on slot
  // B and its checkpoint rewrote the space A's image used, its table too.
  // The power then failed while that checkpoint wrote its header into A,
  // torn: the one new sector that reached the disk held the changed byte,
  // zero again, and the sectors kept from before held A's fields and
  // checksum. The old header was whole again, with the higher generation,
  // and named a table that was gone: open failed with a CorruptionError.
  const storage = new MemoryBlockStorage();
  const first = await reopen(storage);
  for (let index = 0; index < 20; index++) await first.add(`key ${index}`, index + 1);
  await first.checkpoint(); // generation 1 in slot A, the empty generation 0 in B
  const crashed = storage.clone(); // the power fails after the commit
  await first.close();
  const changed = 3496; // in the sector [3072, 3584) of slot A, among its zeros
  const image = await crashed.open(imageFileName);
  await image.write(changed, Uint8Array.of(0x5a));
  await image.close();
  const torn = new TornHeaderWrite(crashed, 3072, 3584);
  const second = await reopen(torn as unknown as MemoryBlockStorage);
  assert.equal(second.stats().image.generation, 0, "open fell back on slot B");
  for (let index = 0; index < 40; index++) await second.add(`longer key ${index}`, 1000 + index);
  await assert.rejects(second.checkpoint(), StorageIoError);
  assert.ok(torn.crashed !== undefined, "the checkpoint wrote its header");
  const third = await reopen(torn.crashed);
  const state = await readAll(third);
  for (let index = 0; index < 20; index++) assert.equal(state.get(`key ${index}`), index + 1);
  for (let index = 0; index < 40; index++) {
    assert.equal(state.get(`longer key ${index}`), 1000 + index);
  }
  assert.equal(state.size, 60);
  assert.ok((await third.verify()).ok);
  await third.close();
});

Deno.test("a throw after a checkpoint's commit (a bug) poisons the store; the epoch ends, the next checkpoint is refused cleanly", async () => {
  // Found by review: the steps after the commit ran outside every handler, so such a throw left
  // the epoch open and the store unpoisoned; the next checkpoint's capture failed an assertion
  // and kept its snapshot live for good (and an automatic checkpoint's error went unseen).
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, memoryBudget: 64 * 1024 });
  await store.set("a", 1);
  const original = Budget.prototype.afterCheckpoint;
  Budget.prototype.afterCheckpoint = function () {
    Budget.prototype.afterCheckpoint = original;
    throw new Error("injected after the commit");
  };
  try {
    const failed = await store.checkpoint().then(() => undefined, (error) => error);
    assert.ok(failed instanceof StorageIoError, String(failed));
    assert.match(String(failed.cause), /injected after the commit/);
  } finally {
    Budget.prototype.afterCheckpoint = original;
  }
  const { epochs } = store.stats();
  assert.equal(epochs.checkpointInProgress, false, "the epoch ended");
  assert.equal(epochs.checkpoints, 1, "as a committed checkpoint");
  await assert.rejects(store.set("b", 2), StorageIoError, "a poisoned store refuses writes");
  await assert.rejects(store.checkpoint(), StorageIoError, "not an assertion of a live snapshot");
  await store.close();
  const again = await openStore({ storage });
  assert.equal(await again.get("a"), 1, "the checkpoint had committed");
  assert.equal(await again.get("b"), undefined);
  await again.close();
});

/** Fails the `failAt`-th directory sync, and counts the files opened and closed. */
class DirSyncFailing extends ForwardingStorage {
  dirSyncs = 0;
  failAt = 0;
  opened = 0;
  closed = 0;
  override syncDir(): Promise<void> {
    if (++this.dirSyncs === this.failAt) return Promise.reject(new Error("injected syncDir: EIO"));
    return super.syncDir();
  }
  override wrapFile(file: BlockFile): BlockFile {
    this.opened++;
    return new ClosingCounted(file, this);
  }
}

class ClosingCounted extends ForwardingFile {
  readonly #storage: DirSyncFailing;
  constructor(file: BlockFile, storage: DirSyncFailing) {
    super(file);
    this.#storage = storage;
  }
  override async close(): Promise<void> {
    await super.close();
    this.#storage.closed++;
  }
}

Deno.test("a directory sync that fails after a compaction's rename or a new segment's write leaks no file", async () => {
  // Found by review: the old image was closed only after the sync, so that failure leaked it;
  // writing this test found the same of a WAL segment whose creation failed (here at close).
  let failedAfterRename = 0;
  for (let at = 1; at <= 6; at++) {
    const storage = new DirSyncFailing(new MemoryBlockStorage(), "dir sync failing");
    const store = await openStore({ storage, checkpoint: manual });
    await store.set("a", 1);
    await store.checkpoint();
    storage.dirSyncs = 0;
    storage.failAt = at;
    const failed = await store.checkpoint({ compact: true }).then(() => false, () => true);
    const renamed = (await storage.list()).includes(imageFileName) &&
      !(await storage.list()).includes(compactingFileName);
    if (failed && renamed) failedAfterRename++;
    await store.close().catch(() => {});
    assert.equal(storage.closed, storage.opened, `sync ${at}: every file opened was closed`);
  }
  assert.ok(failedAfterRename > 0, "some sync failed after the rename");
});

Deno.test("an open whose log's directory sync fails leaks no file", async () => {
  // Found by the simulator's leak judge (seed 1, hostile): the log's open kept the last segment
  // open when its truncate, fsync or directory sync failed, and the open's retry opened it again.
  const storage = new DirSyncFailing(new MemoryBlockStorage(), "dir sync failing");
  const store = await openStore({ storage, checkpoint: manual });
  await store.set("a", 1);
  await store.close();
  storage.dirSyncs = 0;
  storage.failAt = 1;
  const opened = storage.opened;
  await assert.rejects(openStore({ storage, checkpoint: manual }));
  assert.ok(storage.opened > opened, "the failed open opened files");
  assert.equal(storage.closed, storage.opened, "and closed every one");
  const again = await openStore({ storage, checkpoint: manual });
  assert.equal(await again.get("a"), 1);
  await again.close();
  assert.equal(storage.closed, storage.opened);
});
