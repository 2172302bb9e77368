/**
 * Image geometry: the slab size and chunk entry limit an image records in
 * its header. Small slabs (the simulator's) make a small store's image span
 * many slabs and its table several chunks, so freeing, reuse and the older
 * header slot's held slabs run; the default geometry must read and write as
 * before it existed.
 */

import assert from "node:assert/strict";
import { CorruptionError, MemoryBlockStorage, openStore, StorageIoError } from "../mod.ts";
import {
  defaultGeometry,
  geometryProblem,
  type ImageGeometry,
  recordBytesMax,
  slabBytes,
} from "../lib/image/allocation.ts";
import {
  decodeHeaderSlot,
  encodeHeaderSlot,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { ImageFile, imageFileName } from "../lib/image/image_file.ts";
import { nodeRecordBytesLargest } from "../lib/image/node_record.ts";
import { imageGeometryKey, type InternalStoreOptions } from "../lib/store/store.ts";

const small: ImageGeometry = { slabBytes: 16 * 1024, chunkEntriesMax: 2 };

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
  assert.equal(geometryProblem({ slabBytes: 16 * 1024, chunkEntriesMax: 680 }), undefined);
  assert.match(String(geometryProblem({ slabBytes: 8192, chunkEntriesMax: 2 })), /power of two/);
  assert.match(String(geometryProblem({ slabBytes: 20_000, chunkEntriesMax: 2 })), /power of two/);
  assert.match(String(geometryProblem({ slabBytes: 256 * 1024, chunkEntriesMax: 2 })), /"262144"/);
  assert.match(String(geometryProblem({ slabBytes: 16384, chunkEntriesMax: 0 })), /chunk entry/);
  assert.match(String(geometryProblem({ slabBytes: 16384, chunkEntriesMax: 681 })), /fit slab 0/);
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

Deno.test("image geometry: a record larger than a small slab is refused with an error, and nothing is lost", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage(), small);
  const long = new TextEncoder().encode("x".repeat(recordBytesMax(small)));
  const leaf = { prefix: long, value: 1, childBytes: new Uint8Array(0), childAddresses: [] };
  assert.throws(() => image.append(leaf, true), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /16384-byte slabs hold records of at most 8192 bytes/);
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
  await store.add("k".repeat(9000), 5);
  await assert.rejects(store.checkpoint(), (error: unknown) => {
    assert.ok(error instanceof StorageIoError && error.cause instanceof RangeError);
    assert.match(error.message, /slabs hold records of at most 8192 bytes/);
    return true;
  });
  await assert.rejects(store.add("a", 1), StorageIoError, "the failed checkpoint poisons");
  await store.close().catch(() => {});
  const again = await openStore({ storage, checkpoint: { auto: false } });
  assert.equal(await again.get("k".repeat(9000)), 5, "the write is in the log");
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
