/**
 * A compaction reads its new file's header slots back before renaming it
 * over the image: a header write the disk reported done but put elsewhere
 * (or nowhere) must fail the compaction, leaving the image as it was.
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, openStore, StorageIoError } from "../mod.ts";
import { decodeHeaderSlot, headerSlotBytes, headerSlotOffsets } from "../lib/image/header.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import type { BlockFile } from "../lib/storage/block_storage.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";

/**
 * Misplaces (reporting success) the `nth` write of a whole header slot
 * `slot` of a compaction's file: to offset `target`, or nowhere (null).
 */
class LosesCompactionSlot extends ForwardingStorage {
  readonly #slot: 0 | 1;
  readonly #nth: number;
  readonly #target: number | null;
  /** Writes dropped so far (an object, so the file wrapper shares it). */
  readonly dropped = { count: 0 };

  constructor(inner: MemoryBlockStorage, slot: 0 | 1, nth: number, target: number | null) {
    super(inner, "memory misplacing a compaction's header write");
    this.#slot = slot;
    this.#nth = nth;
    this.#target = target;
  }

  override wrapFile(file: BlockFile): BlockFile {
    if (file.name !== compactingFileName) return file;
    let writes = 0;
    const dropped = this.dropped;
    const offset = headerSlotOffsets[this.#slot];
    const nth = this.#nth;
    const target = this.#target;
    return new class extends ForwardingFile {
      override write(at: number, data: Uint8Array): Promise<void> {
        if (at === offset && data.length === headerSlotBytes && ++writes === nth) {
          dropped.count++;
          // A misdirected write: elsewhere, or never reaching the disk.
          return target === null ? Promise.resolve() : super.write(target, data);
        }
        return super.write(at, data);
      }
    }(file);
  }
}

async function filled(storage: ForwardingStorage | MemoryBlockStorage) {
  const store = await openStore({ storage, checkpoint: { auto: false } });
  for (let index = 0; index < 40; index++) await store.set(`key ${index}`, index + 1);
  await store.checkpoint();
  for (let index = 0; index < 20; index++) await store.delete(`key ${index}`);
  await store.checkpoint(); // both slots hold committed images
  return store;
}

// The read-back checked the newest valid slot's generation and that slot B
// was not damaged. Slot B lost: B still held the new file's empty
// generation-0 header (the slot's first write, at the file's creation), a
// valid fallback with coverage 0 while every covered WAL segment went. Slot A
// written over slot B (sim seed 2, mixed, pinned): A blank, B holding A's
// header, current, while the store took A for current and would write its
// next commit over B, the only valid slot. Slot A lost: caught before.
for (
  const [slot, nth, target, lead, what] of [
    [1, 2, null, "regression", "slot B lost (left holding the file's empty header)"],
    [0, 1, 4096, "regression", "slot A landing on slot B"],
    [0, 1, null, "compaction", "slot A lost (left blank)"],
  ] as const
) {
  Deno.test(`${lead}: a compaction whose write of ${what} is refused`, async () => {
    const memory = new MemoryBlockStorage();
    const storage = new LosesCompactionSlot(memory, slot, nth, target);
    const store = await filled(storage);
    await assert.rejects(store.checkpoint({ compact: true }), (error: unknown) => {
      assert.ok(error instanceof StorageIoError);
      assert.match(error.message, /headers did not read back as written; the image is unchanged/);
      return true;
    });
    assert.equal(storage.dropped.count, 1);
    await store.close().catch(() => {});
    // The old image is the image: both its slots hold committed headers.
    const file = await memory.open(imageFileName);
    for (const offset of headerSlotOffsets) {
      const header = decodeHeaderSlot(await file.read(offset, headerSlotBytes));
      assert.ok(typeof header === "object" && header.generation > 0, `slot at ${offset}`);
    }
    await file.close();
    const again = await openStore({ storage: memory });
    assert.equal(await again.get("key 30"), 31);
    assert.equal(await again.get("key 3"), undefined);
    assert.ok((await again.verify()).ok);
    await again.close();
  });
}
