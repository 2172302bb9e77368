/**
 * Deterministic tests of guards the simulator found or checks, so that each
 * holds without a seed that happens to reach it: what `sync()` waits for, a
 * relaxed checkpoint's flush of the WAL it covers, and the re-reads that keep
 * a transient read fault from counting as damage (sim seed 597).
 */

import assert from "node:assert/strict";
import { type BlockFile, MemoryBlockStorage, openStore, type Store } from "../mod.ts";
import { faultProfiles, Scheduler, SimBlockStorage } from "../sim/mod.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { chunkBytes, chunkEntriesMax } from "../lib/image/allocation.ts";
import { headerSlotBytes, headerSlotOffsets } from "../lib/image/header.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";
import { until as untilSettled } from "./_sim_until.ts";

/** Completions one {@link until} may make before the test gives up. */
const completionsMax = 10_000;

/** A simulated disk that loses every write not fsynced at a crash, completing I/O only when driven. */
function lossyDisk(seed: number): SimBlockStorage {
  const profile = { ...faultProfiles.none, name: "lossy", lostWrite: 1 };
  return new SimBlockStorage({ seed, profile, scheduler: new Scheduler({ seed }) });
}

/** {@link untilSettled} within {@link completionsMax} completions. */
function until<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  return untilSettled(scheduler, promise, completionsMax);
}

function open(storage: SimBlockStorage, durability: "strict" | "relaxed"): Promise<Store> {
  return until(
    storage.scheduler,
    openStore({ storage, clock: storage.clock, durability, checkpoint: { auto: false } }),
  );
}

for (const durability of ["strict", "relaxed"] as const) {
  Deno.test(`sync() (${durability}) resolves only once every accepted write is fsynced`, async () => {
    const storage = lossyDisk(1);
    const store = await open(storage, durability);
    const written = store.add("x", 5);
    written.catch(() => {}); // the crash below cancels its I/O
    await until(storage.scheduler, store.sync());
    // The power fails the moment sync() resolved: only fsynced bytes survive.
    const after = storage.crash();
    const again = await open(after, durability);
    assert.equal(await again.get("x"), 5, "the write sync() covered survives the crash");
    await until(after.scheduler, again.close());
  });
}

/**
 * Holds every fsync of a WAL segment until {@link GatedWalStorage.release},
 * and notes, at each write of an image header slot, how many WAL fsyncs had
 * completed.
 */
class GatedWalStorage extends ForwardingStorage {
  walSyncsDone = 0;
  readonly headerWrites: { walSyncsDone: number }[] = [];
  #held: (() => void)[] = [];
  #gated = true;

  constructor() {
    super(new MemoryBlockStorage(), "gated memory");
  }

  release(): void {
    this.#gated = false;
    for (const resume of this.#held.splice(0)) resume();
  }

  override wrapFile(file: BlockFile): BlockFile {
    // deno-lint-ignore no-this-alias
    const owner = this;
    return new class extends ForwardingFile {
      override async sync(): Promise<void> {
        if (!file.name.endsWith(".wal")) return await super.sync();
        if (owner.#gated) await new Promise<void>((resume) => owner.#held.push(resume));
        await super.sync();
        owner.walSyncsDone++;
      }
      override write(offset: number, data: Uint8Array): Promise<void> {
        const slot = (headerSlotOffsets as readonly number[]).includes(offset) &&
          data.length === headerSlotBytes;
        if (file.name === imageFileName && slot) {
          owner.headerWrites.push({ walSyncsDone: owner.walSyncsDone });
        }
        return super.write(offset, data);
      }
    }(file);
  }
}

Deno.test("relaxed checkpoint: the image never covers WAL records that are not yet fsynced", async () => {
  const storage = new GatedWalStorage();
  const store = await openStore({ storage, durability: "relaxed", checkpoint: { auto: false } });
  await store.add("a", 1); // relaxed: resolves once buffered; its fsync is held
  storage.headerWrites.length = 0; // a new image's initial slots were written at open
  const checkpoint = store.checkpoint();
  let done = false;
  checkpoint.then(() => done = true, () => done = true);
  for (let tick = 0; tick < 50 && !done; tick++) await new Promise((go) => setTimeout(go, 0));
  assert.ok(!done, "the checkpoint waits for the WAL it covers");
  assert.equal(storage.headerWrites.length, 0, "no header is written before the WAL is durable");
  storage.release();
  const result = await checkpoint;
  assert.equal(result.coverageLsn, 1);
  assert.ok(storage.headerWrites.length > 0, "the checkpoint committed a header");
  for (const write of storage.headerWrites) {
    assert.ok(write.walSyncsDone > 0, "each header write follows the WAL fsync of what it covers");
  }
  await store.close();
});

/** Flips one bit in the first `flips` reads at `offset` of the image file (a transient fault). */
class FlippingStorage extends ForwardingStorage {
  flipped = 0;
  readonly #offset: number;
  readonly #length: number;
  readonly #flips: number;

  constructor(inner: MemoryBlockStorage, at: { offset: number; length: number; flips: number }) {
    super(inner, "flipping memory");
    this.#offset = at.offset;
    this.#length = at.length;
    this.#flips = at.flips;
  }

  override wrapFile(file: BlockFile): BlockFile {
    // deno-lint-ignore no-this-alias
    const owner = this;
    return new class extends ForwardingFile {
      override async read(offset: number, length: number): Promise<Uint8Array> {
        const bytes = await super.read(offset, length);
        const hit = file.name === imageFileName && offset === owner.#offset &&
          length === owner.#length && bytes.length > 20;
        if (hit && owner.flipped < owner.#flips) {
          owner.flipped++;
          bytes[20] ^= 0x10; // inside the checksummed bytes of a chunk or a slot
        }
        return bytes;
      }
    }(file);
  }
}

/** A store on memory with two committed checkpoints (generations 1 and 2), closed. */
async function twoCheckpoints(): Promise<MemoryBlockStorage> {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, checkpoint: { auto: false } });
  for (let index = 0; index < 50; index++) await store.add(`key ${index}`, index + 1);
  await store.checkpoint();
  await store.add("key 0", 100);
  await store.checkpoint();
  await store.close();
  return storage;
}

const tableRead = { offset: -1, length: chunkBytes(chunkEntriesMax) };

Deno.test("open: an allocation chunk read flipped seven times in a row is read again, not damage (sim seed 597)", async () => {
  const storage = await twoCheckpoints();
  // Find the table's read: the only image read of a whole chunk's size.
  const probe = new FlippingStorage(storage, { ...tableRead, flips: 0 });
  const offsets: number[] = [];
  const watcher = new class extends ForwardingStorage {
    override wrapFile(file: BlockFile): BlockFile {
      return new class extends ForwardingFile {
        override read(offset: number, length: number): Promise<Uint8Array> {
          if (file.name === imageFileName && length === tableRead.length) offsets.push(offset);
          return super.read(offset, length);
        }
      }(file);
    }
  }(probe, "watcher");
  await (await openStore({ storage: watcher, checkpoint: { auto: false } })).close();
  assert.equal(new Set(offsets).size, 1, "open reads one allocation chunk");
  const at = { offset: offsets[0], length: tableRead.length };

  const flaky = new FlippingStorage(storage, { ...at, flips: 7 });
  const store = await openStore({ storage: flaky, checkpoint: { auto: false } });
  assert.equal(flaky.flipped, 7);
  assert.equal(await store.get("key 0"), 101);
  assert.equal(store.stats().image.generation, 3, "the image close committed again");
  await store.close();

  const broken = new FlippingStorage(storage, { ...at, flips: Number.POSITIVE_INFINITY });
  await assert.rejects(
    openStore({ storage: broken, checkpoint: { auto: false } }),
    (error: Error) => error.name === "CorruptionError",
    "a chunk that reads damaged every time is damage",
  );
});

Deno.test("open: a header slot read flipped seven times in a row still opens the newest image", async () => {
  const storage = await twoCheckpoints();
  // Generation 2 went to slot B (the first commit takes slot A); close
  // committed the same image again, generation 3, into slot A.
  const flaky = new FlippingStorage(storage, {
    offset: headerSlotOffsets[0],
    length: headerSlotBytes,
    flips: 7,
  });
  const store = await openStore({ storage: flaky, checkpoint: { auto: false } });
  assert.equal(flaky.flipped, 7);
  assert.equal(
    store.stats().image.generation,
    3,
    "a transient fault never falls back a generation",
  );
  assert.equal(store.stats().recovery.replayedRecords, 0);
  assert.equal(await store.get("key 0"), 101);
  await store.close();
});
