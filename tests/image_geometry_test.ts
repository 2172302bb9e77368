/**
 * Image geometry: the slab size and chunk entry limit an image records in
 * its header. Small slabs (the simulator's) make a small store's image span
 * many slabs and its table several chunks, so freeing, reuse and the older
 * header slot's held slabs run; the default geometry must read and write as
 * before it existed.
 */

import assert from "node:assert/strict";
import {
  CorruptionError,
  MemoryBlockStorage,
  openStore,
  StorageIoError,
  type Store,
} from "../mod.ts";
import {
  chunkBytes,
  decodeChunk,
  defaultGeometry,
  encodeChunk,
  geometryProblem,
  type ImageGeometry,
  recordBytesMax,
  slabBytes,
} from "../lib/image/allocation.ts";
import {
  decodeHeaderSlot,
  encodeHeaderSlot,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { ImageFile, imageFileName, tableChunkRanges } from "../lib/image/image_file.ts";
import { nodeRecordBytesLargest } from "../lib/image/node_record.ts";
import { imageGeometryKey, type InternalStoreOptions } from "../lib/store/store.ts";

/** Slabs half the header region: the first two hold no record. */
const small: ImageGeometry = { slabBytes: 4096, chunkEntriesMax: 2 };

/** A deterministic stream of integers below `bound` (an LCG). */
function lcg(seed: number): (bound: number) => number {
  let state = seed;
  return (bound) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % bound;
  };
}

/** Reads a header slot of the image in `storage` as it is on disk. */
async function slotOnDisk(storage: MemoryBlockStorage, slot: 0 | 1): Promise<Uint8Array> {
  const file = await storage.open(imageFileName);
  const bytes = await file.read(headerSlotOffsets[slot], headerSlotBytes);
  await file.close();
  return bytes;
}

/** The newest valid header on disk, and its slot. */
async function newestOnDisk(storage: MemoryBlockStorage): Promise<[ImageHeader, 0 | 1]> {
  const slots = [await slotOnDisk(storage, 0), await slotOnDisk(storage, 1)].map(decodeHeaderSlot);
  const valid = slots.map((slot) => (typeof slot === "object" ? slot : undefined));
  const slot = (valid[1]?.generation ?? -1) > (valid[0]?.generation ?? -1) ? 1 : 0;
  assert.ok(valid[slot] !== undefined, "a valid header on disk");
  return [valid[slot], slot];
}

async function contents(store: Store): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const decoder = new TextDecoder();
  for await (const { key, value } of store.list({ prefix: "" })) {
    found.set(decoder.decode(key), value);
  }
  return found;
}

Deno.test("image geometry: the default one is recorded as zeros, and zeros read as the default", () => {
  const header: ImageHeader = {
    generation: 3,
    coverageLsn: 9,
    rootAddress: 0,
    keyCount: 0,
    pageCount: 1,
    allocationAddress: 8192,
    deadBytes: 0,
    ...defaultGeometry,
  };
  const bytes = encodeHeaderSlot(header);
  // The bytes images had before the geometry was recorded: every one of them reads as before.
  assert.ok(bytes.subarray(72, 80).every((byte) => byte === 0));
  assert.deepEqual(decodeHeaderSlot(bytes), header);
  const smallBytes = encodeHeaderSlot({ ...header, ...small });
  const view = new DataView(smallBytes.buffer);
  assert.equal(view.getUint32(72, true), small.slabBytes);
  assert.equal(view.getUint32(76, true), small.chunkEntriesMax);
  assert.deepEqual(decodeHeaderSlot(smallBytes), { ...header, ...small });
});

Deno.test("image geometry: valid ones, and what is wrong with the others", () => {
  assert.equal(geometryProblem(defaultGeometry), undefined);
  assert.equal(geometryProblem(small), undefined);
  assert.equal(geometryProblem({ slabBytes: 4096, chunkEntriesMax: 339 }), undefined);
  assert.match(String(geometryProblem({ slabBytes: 2048, chunkEntriesMax: 2 })), /power of two/);
  assert.match(String(geometryProblem({ slabBytes: 20_000, chunkEntriesMax: 2 })), /power of two/);
  assert.match(String(geometryProblem({ slabBytes: 256 * 1024, chunkEntriesMax: 2 })), /"262144"/);
  assert.match(String(geometryProblem({ slabBytes: 16384, chunkEntriesMax: 0 })), /chunk entry/);
  assert.match(String(geometryProblem({ slabBytes: 4096, chunkEntriesMax: 340 })), /does not fit/);
  // Any record the format allows fits any slab of the default geometry.
  assert.ok(nodeRecordBytesLargest <= recordBytesMax(defaultGeometry));
  assert.equal(defaultGeometry.slabBytes, slabBytes);
});

Deno.test("image geometry: the simulator's option is a symbol, checked, and not an option name", async () => {
  const options: InternalStoreOptions = {
    storage: new MemoryBlockStorage(),
    [imageGeometryKey]: { slabBytes: 12_000, chunkEntriesMax: 2 },
  };
  assert.deepEqual(Object.keys(options), ["storage"]);
  await assert.rejects(openStore(options), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /image geometry is invalid: slab size "12000"/);
    return true;
  });
  const mod = await import("../mod.ts");
  assert.ok(
    !(Object.values(mod) as unknown[]).includes(imageGeometryKey),
    "mod.ts does not export it",
  );
});

Deno.test("image geometry: small slabs: rewrites and deletes free, reuse and span slabs, tables span chunks, and the older slot stays whole", async () => {
  const storage = new MemoryBlockStorage();
  const options: InternalStoreOptions = {
    storage,
    checkpoint: { auto: false },
    [imageGeometryKey]: small,
  };
  let store = await openStore(options);
  const next = lcg(7);
  const model = new Map<string, number>();
  const keyCount = 300;
  const suffix = "-".repeat(40); // inline leaves of ~45 bytes: a few KB of records a checkpoint
  let written = 0;
  let slabsMax = 0;
  let fileBytesMax = 0;
  for (let round = 0; round < 40; round++) {
    const atomic = store.atomic();
    for (let index = 0; index < 80; index++) {
      const key = `k${next(keyCount)}${suffix}`;
      const value = 1 + next(1_000_000) * 1000;
      atomic.set(key, value);
      model.set(key, value);
    }
    for (let index = 0; index < 40; index++) {
      const key = `k${next(keyCount)}${suffix}`;
      atomic.delete(key);
      model.delete(key);
    }
    assert.equal((await atomic.commit()).ok, true);
    const result = await store.checkpoint();
    written += result.bytesWritten;
    const space = store.stats().image;
    slabsMax = Math.max(slabsMax, space.slabs);
    fileBytesMax = Math.max(fileBytesMax, space.slabs * small.slabBytes);
    // The image the older slot describes is whole: open a copy without the newest slot.
    const [newest, slot] = await newestOnDisk(storage);
    assert.equal(newest.slabBytes, small.slabBytes);
    assert.equal(newest.chunkEntriesMax, small.chunkEntriesMax);
    const copy = storage.clone();
    const file = await copy.open(imageFileName);
    await file.write(headerSlotOffsets[slot], new Uint8Array(headerSlotBytes));
    await file.close();
    const older = await openStore({ storage: copy, checkpoint: { auto: false } });
    assert.deepEqual(await contents(older), model, `round ${round}: the older slot's image`);
    assert.equal(older.stats().recovery.coverageLsn < newest.coverageLsn, true);
    await older.close();
    if (round % 6 === 5) {
      await store.close();
      store = await openStore(options);
      assert.deepEqual(await contents(store), model, `round ${round}: reopened`);
    }
  }
  const report = await store.verify();
  assert.deepEqual(report.problems, []);
  await store.close();
  assert.ok(slabsMax > small.chunkEntriesMax, `${slabsMax} slabs: a table of several chunks`);
  // Checkpoints wrote twice what the file ever held: freed slabs were reused.
  assert.ok(written > 2 * fileBytesMax, `${written} bytes written into at most ${fileBytesMax}`);
});

Deno.test("image geometry: an existing image keeps its own; a compaction's new file takes the store's", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, [imageGeometryKey]: small } as InternalStoreOptions);
  await store.add("a", 1);
  await store.checkpoint();
  await store.close();
  // Opened without the option: the image is still one of small slabs.
  const plain = await openStore({ storage });
  await plain.add("b", 2);
  await plain.checkpoint();
  assert.equal((await newestOnDisk(storage))[0].slabBytes, small.slabBytes);
  // A compaction writes a new file with the store's (default) geometry.
  await plain.checkpoint({ compact: true });
  const [compacted] = await newestOnDisk(storage);
  assert.deepEqual(
    { slabBytes: compacted.slabBytes, chunkEntriesMax: compacted.chunkEntriesMax },
    { ...defaultGeometry },
  );
  assert.ok((await slotOnDisk(storage, 0)).subarray(72, 80).every((byte) => byte === 0));
  assert.deepEqual(await contents(plain), new Map([["a", 1], ["b", 2]]));
  await plain.close();
});

Deno.test("image geometry: a record larger than a small slab is refused with an error, and nothing is lost", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage(), small);
  const long = new TextEncoder().encode("x".repeat(recordBytesMax(small)));
  const leaf = { prefix: long, value: 1, childBytes: new Uint8Array(0), childAddresses: [] };
  assert.throws(() => image.append(leaf, true), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /4096-byte slabs hold records of at most 4096 bytes/);
    return true;
  });
  await image.close();

  const storage = new MemoryBlockStorage();
  const options: InternalStoreOptions = {
    storage,
    checkpoint: { auto: false },
    [imageGeometryKey]: small,
  };
  const store = await openStore(options);
  await store.add("k".repeat(5000), 5);
  await assert.rejects(store.checkpoint(), (error: unknown) => {
    assert.ok(error instanceof StorageIoError && error.cause instanceof RangeError);
    assert.match(error.message, /slabs hold records of at most 4096 bytes/);
    return true;
  });
  await assert.rejects(store.add("a", 1), StorageIoError, "the failed checkpoint poisons");
  await store.close().catch(() => {});
  const again = await openStore({ storage, checkpoint: { auto: false } });
  assert.equal(await again.get("k".repeat(5000)), 5, "the write is in the log");
  await again.close();
});

Deno.test("image geometry: a header whose recorded geometry is invalid is corruption", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage, small);
  const header = await image.commit({ coverageLsn: 0, rootAddress: 0, keyCount: 0 }, []);
  await image.close();
  const file = await storage.open(imageFileName);
  const bad = encodeHeaderSlot({ ...header, generation: 2, slabBytes: 12_000 });
  await file.write(headerSlotOffsets[1], bad);
  await file.close();
  await assert.rejects(ImageFile.open(storage), (error: unknown) => {
    assert.ok(error instanceof CorruptionError);
    assert.match(error.message, /slab geometry is invalid: slab size "12000"/);
    return true;
  });
});

Deno.test("regression: a table's chain has only the chunks its slabs need, so it reads back", async () => {
  // The reservation is for 2 more slabs and one more a chunk than the table
  // has (placing the chunks may add slabs). Every reserved chunk was chained:
  // the unneeded ones were empty, started past the table's end (an assertion
  // at open) and outgrew the reader's bound on the chain (a false
  // CorruptionError). With the default geometry: a table of 8,190 or 8,191
  // slabs (a 1 GiB image), or one whose free tail shrank by 8,192 slabs.
  assert.deepEqual(tableChunkRanges(8190, 8192), [[0, 8190]]);
  assert.deepEqual(tableChunkRanges(8193, 8192), [[0, 8192], [8192, 8193]]);
  // Slabs that hold slab 0's records: a one-record table has one slab.
  const sixteen = { slabBytes: 16 * 1024, chunkEntriesMax: 2 };
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage, sixteen);
  const leaf = { prefix: new Uint8Array(0), value: 7, childBytes: new Uint8Array(0) };
  const root = image.append({ ...leaf, childAddresses: [] }, true);
  const header = await image.commit({ coverageLsn: 1, rootAddress: root, keyCount: 1 }, []);
  await image.close();
  assert.equal(header.pageCount, 1);
  const file = await storage.open(imageFileName);
  const chunk = decodeChunk(await file.read(header.allocationAddress, chunkBytes(2)), sixteen);
  await file.close();
  assert.ok(typeof chunk === "object");
  assert.deepEqual([chunk.firstSlab, chunk.filled.length, chunk.next], [0, 1, 0], "one chunk");
  const reopened = await ImageFile.open(storage);
  assert.deepEqual(reopened.header, header);
  assert.equal((await reopened.read(root)).value, 7);
  await reopened.close();
});

Deno.test("image file: a table ending in empty chunks past its end (as written before) reads", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const node = { prefix: new Uint8Array(0), value: 7, childBytes: new Uint8Array(0) };
  const root = image.append({ ...node, childAddresses: [] }, true);
  const header = await image.commit({ coverageLsn: 1, rootAddress: root, keyCount: 1 }, []);
  await image.close();
  // Chain two empty chunks (as the writer before left unneeded reservations) after the only one.
  const file = await storage.open(imageFileName);
  const first = decodeChunk(await file.read(header.allocationAddress, chunkBytes(1)));
  assert.ok(typeof first === "object" && first.filled.length === 1);
  const end = await file.size();
  const empty = (next: number) =>
    encodeChunk({ firstSlab: 8192, filled: [], live: [], held: [], next });
  await file.write(end, empty(end + chunkBytes(0)));
  await file.write(end + chunkBytes(0), empty(0));
  await file.write(header.allocationAddress, encodeChunk({ ...first, next: end }));
  await file.close();
  const reopened = await ImageFile.open(storage);
  assert.deepEqual(reopened.header, header);
  assert.equal((await reopened.read(root)).value, 7);
  await reopened.close();
});
