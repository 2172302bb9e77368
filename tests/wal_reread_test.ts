/**
 * Re-reads at WAL recovery: a check that fails on a read counts as damage
 * only once two reads returned the same failing bytes. A bit flipped in
 * transfer lands somewhere new on each read, so however many reads in a row
 * it strikes, it is never reported as corruption or cut as a torn tail;
 * damage on the disk reads back the same every time and is reported (D6).
 */

import assert from "node:assert/strict";
import { CorruptionError, MemoryBlockStorage, openStore, StorageIoError } from "../mod.ts";
import type { BlockFile } from "../lib/storage/block_storage.ts";
import { segmentReadsMax } from "../lib/wal/recover.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";

/** These tests look at the WAL itself: no checkpoint may cover (and so skip or remove) it. */
const walOnly = { auto: false } as const;
/** Whether a file in the store's directory is a WAL segment. */
const isSegment = (name: string) => name.endsWith(".wal");

/**
 * A memory disk whose next reads of WAL segments each come back with one
 * bit flipped, at the offset (within the bytes read) `flips` names for it, in
 * turn; the disk itself stays as it was. Image reads are left alone.
 */
class FlippingStorage extends ForwardingStorage {
  override readonly inner: MemoryBlockStorage;
  /** One offset per flipped read, taken in turn. */
  flips: number[] = [];
  /** Reads of segments made so far. */
  segmentReads = 0;

  constructor() {
    const inner = new MemoryBlockStorage();
    super(inner, "flipping memory");
    this.inner = inner;
  }

  override wrapFile(file: BlockFile): BlockFile {
    return isSegment(file.name) ? new FlippingFile(file, this) : file;
  }
}

class FlippingFile extends ForwardingFile {
  readonly #owner: FlippingStorage;
  constructor(file: BlockFile, owner: FlippingStorage) {
    super(file);
    this.#owner = owner;
  }
  override async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await super.read(offset, length);
    this.#owner.segmentReads++;
    const at = this.#owner.flips.shift();
    if (at !== undefined) {
      assert.ok(at < bytes.length, `a flip at byte ${at} lies inside the ${bytes.length} read`);
      bytes[at] ^= 0x10;
    }
    return bytes;
  }
}

/** `count` distinct offsets from `first` on, `step` bytes apart. */
function distinct(first: number, count: number, step: number): number[] {
  return Array.from({ length: count }, (_, index) => first + index * step);
}

/** The large record's key: its record spans bytes ~70 to ~1,580 of the segment. */
const largeKey = "w".repeat(1500);

/** A log of one segment holding "first", a record of a 1,500-byte key, and "last" (LSNs 1..3). */
async function largeRecordLog(): Promise<FlippingStorage> {
  const storage = new FlippingStorage();
  const store = await openStore({ checkpoint: walOnly, storage });
  await store.add("first", 1);
  await store.add(largeKey, 1);
  await store.add("last", 1);
  await store.close();
  return storage;
}

/** Opens `storage` and checks it recovered all three records of {@link largeRecordLog}. */
async function expectWholeLog(storage: FlippingStorage): Promise<void> {
  const again = await openStore({ checkpoint: walOnly, storage });
  assert.deepEqual(storage.flips, [], "every planned flip happened");
  assert.equal(again.stats().lastLsn, 3);
  assert.equal(again.stats().recovery.tornBytesTruncated, 0);
  assert.deepEqual(await again.getMany(["first", largeKey, "last"]), [1, 1, 1]);
  await again.close();
}

Deno.test("regression (sim seed 910110, hostile): seven flipped reads in a row inside one large record", async () => {
  // The simulator found each of the five reads open made of a segment
  // flipped somewhere inside one 48 KB record: the re-reads ran out and open
  // reported the record as corrupt, though no two reads held the same bytes
  // (the disk held the record intact).
  const storage = await largeRecordLog();
  storage.flips = distinct(200, 7, 150);
  await expectWholeLog(storage);
});

Deno.test("seven flipped reads in a row of the last segment's header are no damage", async () => {
  const storage = await largeRecordLog();
  storage.flips = distinct(2, 7, 4); // inside the 32-byte segment header
  await expectWholeLog(storage);
});

Deno.test("seven flipped reads in a row of a middle segment's header are no damage", async () => {
  const storage = new FlippingStorage();
  const store = await openStore({ checkpoint: walOnly, storage, walSegmentBytes: 4096 });
  let written = 0;
  while (store.stats().wal.segmentsCreated < 3) await store.add(`k${written++ % 7}`, 1);
  const lastLsn = store.stats().lastLsn;
  await store.close();
  assert.equal((await storage.list()).filter(isSegment).length, 3);
  storage.flips = distinct(2, 7, 4); // the first reads are of the second segment's header alone
  const again = await openStore({ checkpoint: walOnly, storage });
  assert.deepEqual(storage.flips, [], "every planned flip happened");
  assert.equal(again.stats().lastLsn, lastLsn);
  await again.close();
});

Deno.test("damage on the disk is reported, though flipped reads of it differ", async () => {
  const storage = await largeRecordLog();
  const [segment] = (await storage.inner.list()).filter(isSegment);
  const file = await storage.inner.open(segment);
  const damaged = await file.read(800, 1);
  await file.write(800, new Uint8Array([damaged[0] ^ 0x01])); // inside the large record
  await file.close();
  storage.flips = distinct(200, 6, 150);
  await assert.rejects(
    openStore({ checkpoint: walOnly, storage }),
    (error: unknown) =>
      error instanceof CorruptionError && /later writes follow it/.test(error.message),
  );
  assert.deepEqual(storage.flips, [], "every planned flip happened");
});

Deno.test("reads that never agree are a StorageIoError, not corruption; the open after them recovers", async () => {
  const storage = await largeRecordLog();
  storage.flips = distinct(100, segmentReadsMax + 8, 20);
  const reads = storage.segmentReads;
  await assert.rejects(
    openStore({ checkpoint: walOnly, storage }),
    (error: unknown) => error instanceof StorageIoError && /different bytes/.test(error.message),
  );
  assert.equal(storage.segmentReads - reads, segmentReadsMax, "reading stopped at the bound");
  storage.flips = [];
  await expectWholeLog(storage);
});
