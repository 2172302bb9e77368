/**
 * A header slot left holding an older generation than the previous
 * commit's (a header write the disk dropped, or a crash that brought an
 * older header back): the table protects the records of the current image
 * and of the previous commit only, so a checkpoint may write over what that
 * header names, and a crash that then loses the current slot must not make
 * it current over those records (simulator seed 242, hostile, memory
 * budget 4 KiB).
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, openStore, StorageIoError, type Store } from "../mod.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { headerSlotBytes, headerSlotOffsets } from "../lib/image/header.ts";
import { imageGeometryKey, type InternalStoreOptions } from "../lib/store/store.ts";
import { type ForwardingStorage, TornHeaderWrite } from "./_storage_wrappers.ts";
import { readAll } from "./_counts.ts";

/** Keys of the test: enough for records in several 4 KiB slabs. */
const keysCount = 300;
const key = (index: number) => `key ${String(index).padStart(5, "0")} ${"x".repeat(40)}`;

/**
 * Manual checkpoints, every WAL segment kept (so a reopen that falls back
 * on any header, or on none, has the log it needs), and 4 KiB slabs (so
 * space a commit freed is reused soon).
 */
function options(storage: MemoryBlockStorage | ForwardingStorage): InternalStoreOptions {
  return {
    storage,
    checkpoint: { auto: false, retainSegments: 100 },
    [imageGeometryKey]: { slabBytes: 4096, chunkEntriesMax: 64 },
  };
}

/** Adds `delta` to every key, in one atomic. */
async function addAll(store: Store, delta: number): Promise<void> {
  const atomic = store.atomic();
  for (let index = 0; index < keysCount; index++) atomic.add(key(index), delta);
  assert.ok((await atomic.commit()).ok);
}

async function readSlot(storage: MemoryBlockStorage, slot: 0 | 1): Promise<Uint8Array> {
  const file = await storage.open(imageFileName);
  try {
    return await file.read(headerSlotOffsets[slot], headerSlotBytes);
  } finally {
    await file.close();
  }
}

async function writeAt(storage: MemoryBlockStorage, offset: number, data: Uint8Array) {
  const file = await storage.open(imageFileName);
  await file.write(offset, data);
  await file.sync();
  await file.close();
}

Deno.test("open: a slot older than the previous commit is blanked before a checkpoint reuses its records (sim seed 242)", async () => {
  // Simulator seed 242 (hostile, memory budget 4 KiB): a crash took back the
  // newest header (generation 25, slot A) to an older one of that slot
  // (21), while slot B held 24. Open took B; its table holds the records of
  // 24 and 23, not 21's, and the checkpoint wrote over those. A crash that
  // then lost B (and the header write into A) would make 21 current again.
  const storage = new MemoryBlockStorage();
  const first = await openStore(options(storage));
  await addAll(first, 1);
  await first.checkpoint(); // generation 1, slot A
  const generation1 = await readSlot(storage, 0);
  for (let round = 2; round <= 4; round++) {
    await addAll(first, 1);
    await first.checkpoint(); // generations 2 (B), 3 (A), 4 (B)
  }
  assert.equal(first.stats().image.generation, 4);
  const dropped = storage.clone(); // the power fails; the disk dropped the header write of 3
  await first.close();
  await writeAt(dropped, headerSlotOffsets[0], generation1);

  const lost = new TornHeaderWrite(dropped);
  const second = await openStore(options(lost));
  assert.equal(second.stats().image.generation, 4, "open took slot B");
  const slots = (await second.verify()).headerSlots;
  assert.equal(slots[0].state, "stale", "slot A holds generation 1, no fallback");
  await addAll(second, 1); // durable in the log
  // The records of generation 1 are free to generation 4's table: the
  // checkpoint writes over them, then the power fails before its header.
  await assert.rejects(second.checkpoint(), StorageIoError);
  await second.close();
  assert.ok(lost.crashed !== undefined, "the checkpoint reached its header write");

  // The crash also loses slot B (a byte of its fields changed).
  const crashed = lost.crashed;
  const slotB = await readSlot(crashed, 1);
  slotB[40] ^= 0x01;
  await writeAt(crashed, headerSlotOffsets[1], slotB);

  // Had slot A kept generation 1, open would read its records, overwritten.
  const third = await openStore(options(crashed));
  const state = await readAll(third);
  assert.equal(state.size, keysCount);
  for (let index = 0; index < keysCount; index++) assert.equal(state.get(key(index)), 5);
  await third.close();
});
