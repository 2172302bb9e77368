/**
 * Bytes open cannot explain are never deleted (issue 14, defect 5): a last
 * WAL segment whose header was written but fails its checks is moved aside
 * (no record of the log in it) or is a `CorruptionError` (records in it may
 * have been acknowledged); only a torn creation and a compaction's leftover
 * are removed, and every removal is reported. `verify()` reports the files
 * moved aside and both image header slots. Each scenario runs on memory and
 * on real files.
 */

import assert from "node:assert/strict";
import {
  type BlockStorage,
  CorruptionError,
  FileBlockStorage,
  MemoryBlockStorage,
  openStore,
  type StoreOptions,
} from "../mod.ts";
import {
  encodeHeaderSlot,
  geometryDefaults,
  headerSlotBytes,
  headerSlotOffsets,
} from "../lib/image/header.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import { segmentHeaderBytes, segmentName } from "../lib/wal/segment.ts";
import { tornCreation } from "../lib/wal/recover.ts";

/** No automatic checkpoint: the tests decide what the image covers. */
const manual = { auto: false } as const;
const firstSegment = segmentName(1);

/** Runs `body` on a memory storage and on a file storage in a temporary directory. */
function onBothStorages(name: string, body: (storage: BlockStorage) => Promise<void>): void {
  Deno.test(`${name} (memory)`, () => body(new MemoryBlockStorage()));
  Deno.test(`${name} (files)`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tallytrie-quarantine-" });
    try {
      await body(await FileBlockStorage.open(dir));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

function open(storage: BlockStorage, options: Omit<StoreOptions, "storage"> = {}) {
  return openStore({ storage, checkpoint: manual, ...options });
}

async function readBytes(storage: BlockStorage, name: string): Promise<Uint8Array> {
  const file = await storage.open(name);
  try {
    return await file.read(0, await file.size());
  } finally {
    await file.close();
  }
}

async function writeBytes(
  storage: BlockStorage,
  name: string,
  offset: number,
  bytes: Uint8Array,
): Promise<void> {
  const file = await storage.open(name, { create: true });
  await file.write(offset, bytes);
  await file.sync();
  await file.close();
}

/** Deterministic bytes no part of the engine wrote (a xorshift stream, never zero). */
function garbage(length: number, seed = 0x9e3779b9): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = (state & 0xff) | 1;
  }
  return bytes;
}

async function segments(storage: BlockStorage): Promise<string[]> {
  return (await storage.list()).filter((name) => name.startsWith("wal-"));
}

/** A store holding `a`, `b`, `c` in one group-commit write of the one segment; closed. */
async function oneGroup(storage: BlockStorage): Promise<void> {
  const store = await open(storage);
  await Promise.all([store.add("a", 1), store.add("b", 2), store.add("c", 3)]);
  await store.close();
  assert.deepEqual(await segments(storage), [firstSegment]);
}

onBothStorages(
  "a garbage file named like a WAL segment in a fresh directory is moved aside and reported",
  async (storage) => {
    const junk = garbage(4096);
    await writeBytes(storage, firstSegment, 0, junk);
    const store = await open(storage);
    const movedTo = `quarantine-1-${firstSegment}`;
    const { quarantined, removed } = store.stats().recovery;
    assert.equal(quarantined.length, 1);
    assert.equal(quarantined[0].file, firstSegment);
    assert.equal(quarantined[0].movedTo, movedTo);
    assert.equal(quarantined[0].bytes, 4096);
    assert.match(quarantined[0].reason, /fails its checks .* none of its 4096 bytes is a record/);
    assert.deepEqual(removed, []);
    assert.deepEqual(await readBytes(storage, movedTo), junk, "the bytes are kept as they were");
    const report = await store.verify();
    assert.equal(report.ok, false);
    assert.deepEqual(report.quarantined, [{ file: movedTo, original: firstSegment, bytes: 4096 }]);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0], new RegExp(`"${movedTo}": 4096 bytes .* delete it`));
    // The store works where the file was, and the file stays reported until it is deleted.
    await store.add("x", 5);
    await store.close();
    const again = await open(storage);
    assert.equal(await again.get("x"), 5);
    assert.deepEqual(again.stats().recovery.quarantined, []);
    assert.equal((await again.verify()).quarantined.length, 1);
    await storage.remove(movedTo);
    const clean = await again.verify();
    assert.ok(clean.ok, clean.problems.join("; "));
    await again.close();
  },
);

onBothStorages(
  "a store's only segment overwritten with garbage is moved aside and reported",
  async (storage) => {
    await oneGroup(storage);
    const size = (await readBytes(storage, firstSegment)).length;
    const junk = garbage(size, 7);
    await writeBytes(storage, firstSegment, 0, junk);
    const store = await open(storage);
    const { quarantined } = store.stats().recovery;
    assert.deepEqual(
      quarantined.map(({ file, movedTo, bytes }) => ({ file, movedTo, bytes })),
      [{ file: firstSegment, movedTo: `quarantine-1-${firstSegment}`, bytes: size }],
    );
    assert.deepEqual(await store.getMany(["a", "b", "c"]), [undefined, undefined, undefined]);
    const report = await store.verify();
    assert.equal(report.ok, false);
    assert.match(report.problems.join("\n"), /writes acknowledged before a crash may be missing/);
    await store.close();
    assert.deepEqual(await readBytes(storage, `quarantine-1-${firstSegment}`), junk);
  },
);

onBothStorages(
  "a segment whose header has one flipped bit is corruption at byte 0, and is left as it was",
  async (storage) => {
    await oneGroup(storage);
    const intact = await readBytes(storage, firstSegment);
    const flipped = intact.slice();
    flipped[20] ^= 0x04; // a bit of the header's first LSN
    await writeBytes(storage, firstSegment, 0, flipped);
    await assert.rejects(
      open(storage),
      (error: unknown) =>
        error instanceof CorruptionError && error.file === firstSegment && error.offset === 0 &&
        /holds record 1 at byte 32/.test(error.message),
    );
    assert.deepEqual(await readBytes(storage, firstSegment), flipped, "nothing was removed or cut");
    assert.deepEqual(await segments(storage), [firstSegment]);
    assert.ok((await storage.list()).every((name) => !name.startsWith("quarantine-")));
    // Repaired by hand, every acknowledged write is back.
    await writeBytes(storage, firstSegment, 0, intact);
    const store = await open(storage);
    assert.deepEqual(await store.getMany(["a", "b", "c"]), [1, 2, 3]);
    await store.close();
  },
);

onBothStorages(
  "an empty segment whose header has a flipped bit is moved aside: the image holds everything",
  async (storage) => {
    const store = await open(storage);
    await store.add("a", 1);
    await store.checkpoint();
    await store.close();
    // The close started an empty segment (a header only) for the records to come.
    const last = (await segments(storage)).at(-1)!;
    const header = await readBytes(storage, last);
    assert.equal(header.length, segmentHeaderBytes);
    header[9] ^= 0x10; // the version field
    await writeBytes(storage, last, 0, header);
    const again = await open(storage);
    assert.equal(await again.get("a"), 1);
    assert.deepEqual(again.stats().recovery.quarantined.map((file) => file.file), [last]);
    await again.add("b", 2);
    await again.close();
    const third = await open(storage);
    assert.deepEqual(await third.getMany(["a", "b"]), [1, 2]);
    await third.close();
  },
);

onBothStorages("a torn creation of the last segment is removed and reported", async (storage) => {
  await oneGroup(storage);
  const intact = await readBytes(storage, firstSegment);
  // Its write was cut short after 20 bytes of the header: nothing in it was acknowledged.
  const torn = new Uint8Array(intact.length);
  torn.set(intact.subarray(0, 20));
  await writeBytes(storage, firstSegment, 0, torn);
  const store = await open(storage);
  const { removed, quarantined } = store.stats().recovery;
  assert.deepEqual(quarantined, []);
  assert.equal(removed.length, 1);
  assert.equal(removed[0].file, firstSegment);
  assert.equal(removed[0].bytes, intact.length);
  assert.match(removed[0].reason, /creation was torn/);
  assert.equal(await store.get("a"), undefined);
  await store.close();
});

Deno.test("a torn creation is a prefix of the segment's header, then zeros to the end of a sector", () => {
  const header = new Uint8Array(1024);
  header.set(garbage(1024, 3));
  const real = new Uint8Array(segmentHeaderBytes);
  const view = new DataView(real.buffer);
  real.set(new TextEncoder().encode("TTWALSEG"));
  view.setUint32(8, 1, true);
  view.setUint32(12, segmentHeaderBytes, true);
  view.setBigUint64(16, 7n, true);
  view.setUint32(24, 4096, true);
  view.setUint32(28, 0xdeadbeef, true); // the checksum is not compared
  const file = (prefix: number, zeroUntil: number): Uint8Array => {
    const bytes = header.slice();
    bytes.set(real.subarray(0, prefix));
    bytes.fill(0, prefix, zeroUntil);
    return bytes;
  };
  assert.equal(tornCreation(new Uint8Array(0), 7), true, "an empty file");
  assert.equal(tornCreation(new Uint8Array(40), 7), true, "zeros");
  assert.equal(tornCreation(file(0, 512), 7), true, "the first sector lost, later ones kept");
  assert.equal(tornCreation(file(13, 512), 7), true, "a write cut short in the header");
  assert.equal(tornCreation(file(30, 512), 7), true, "cut inside the checksum");
  assert.equal(tornCreation(real.subarray(0, 20), 7), true, "a file that ends in the header");
  assert.equal(tornCreation(file(32, 512), 7), false, "a whole header is no tear");
  assert.equal(tornCreation(file(13, 511), 7), false, "a non-zero byte in the first sector");
  assert.equal(tornCreation(file(20, 512), 8), false, "another segment's first LSN");
  const flipped = file(13, 512);
  flipped[3] ^= 1;
  assert.equal(tornCreation(flipped, 7), false, "a flipped bit before the zeros");
});

onBothStorages(
  "a compaction's leftover file is removed only once the open succeeded, and reported",
  async (storage) => {
    await oneGroup(storage);
    await writeBytes(storage, compactingFileName, 0, garbage(10_000, 5));
    // A damaged log fails the open: the leftover may be the one readable copy, so it stays.
    const intact = await readBytes(storage, firstSegment);
    const damaged = intact.slice();
    damaged[20] ^= 4; // the header, and records follow it: corruption
    await writeBytes(storage, firstSegment, 0, damaged);
    await open(storage).then(() => assert.fail("the open must fail"), () => {});
    assert.ok((await storage.list()).includes(compactingFileName), "kept after a failed open");
    await writeBytes(storage, firstSegment, 0, intact);
    const store = await open(storage);
    assert.deepEqual(
      store.stats().recovery.removed.map(({ file, bytes }) => ({ file, bytes })),
      [{ file: compactingFileName, bytes: 10_000 }],
    );
    assert.ok(!(await storage.list()).includes(compactingFileName));
    await store.close();
  },
);

onBothStorages("open reports where it cut a torn tail", async (storage) => {
  await oneGroup(storage);
  const size = (await readBytes(storage, firstSegment)).length;
  await writeBytes(storage, firstSegment, size, garbage(100, 9));
  const store = await open(storage);
  const recovery = store.stats().recovery;
  assert.equal(recovery.tornBytesTruncated, 100);
  assert.deepEqual(recovery.tornTail, { file: firstSegment, offset: size });
  await store.close();
});

/** A store after `checkpoints` checkpoints, one write each; open. */
async function checkpointed(storage: BlockStorage, checkpoints: number) {
  const store = await open(storage);
  for (let index = 0; index < checkpoints; index++) {
    await store.add(`k${index}`, index + 1);
    await store.checkpoint();
  }
  return store;
}

onBothStorages("verify: both header slots, normal after every commit", async (storage) => {
  const store = await open(storage);
  let report = await store.verify();
  assert.deepEqual(report.headerSlots.map(({ slot, state }) => [slot, state]), [
    ["A", "blank"],
    ["B", "current"],
  ]);
  assert.deepEqual(report.warnings, []);
  for (let generation = 1; generation <= 3; generation++) {
    await store.add("k", 1);
    await store.checkpoint();
    report = await store.verify();
    const states = report.headerSlots.map(({ state, generation }) => [state, generation]);
    assert.deepEqual(
      states,
      generation % 2 === 1
        ? [["current", generation], ["fallback", generation - 1]]
        : [["fallback", generation - 1], ["current", generation]],
    );
    assert.deepEqual(report.warnings, []);
    assert.ok(report.ok, report.problems.join("; "));
  }
  await store.checkpoint({ compact: true });
  report = await store.verify();
  assert.deepEqual(report.headerSlots.map(({ state }) => state), ["current", "fallback"]);
  assert.deepEqual(report.warnings, []);
  await store.close();
});

onBothStorages(
  "verify: a damaged header slot not in use is a warning until the next commit",
  async (storage) => {
    const store = await checkpointed(storage, 2); // generation 2 in B, 1 in A
    const slotA = headerSlotOffsets[0];
    const bytes = await readBytes(storage, imageFileName);
    await writeBytes(storage, imageFileName, slotA + 20, Uint8Array.of(bytes[slotA + 20] ^ 0x40));
    let report = await store.verify();
    assert.ok(report.ok, "nothing the store holds is lost");
    assert.equal(report.headerSlots[0].state, "damaged");
    assert.equal(report.warnings.length, 1);
    assert.match(
      report.warnings[0],
      /image\.tt: header slot A \(byte 0\) is damaged: .*checkpoint/,
    );
    await store.add("more", 1);
    await store.checkpoint();
    report = await store.verify();
    assert.deepEqual(report.warnings, []);
    await store.close();
  },
);

onBothStorages(
  "verify: a stale header slot (not the previous generation) is a warning",
  async (storage) => {
    const store = await checkpointed(storage, 1);
    const first = (await readBytes(storage, imageFileName)).slice(0, headerSlotBytes); // generation 1, A
    await store.add("x", 1);
    await store.checkpoint(); // generation 2, B
    await store.add("y", 1);
    await store.checkpoint(); // generation 3, A
    // Slot B goes back to generation 1: as if the disk had dropped generation 2's header write.
    await writeBytes(storage, imageFileName, headerSlotOffsets[1], first);
    const report = await store.verify();
    assert.ok(report.ok);
    assert.deepEqual(report.headerSlots.map(({ state }) => state), ["current", "stale"]);
    assert.match(
      report.warnings.join("\n"),
      /slot B .* is stale: generation 1 is older than the previous commit's \(2\)/,
    );
    await store.close();
  },
);

onBothStorages(
  "verify: a fallback slot whose records the WAL no longer holds is stale",
  async (storage) => {
    const store = await checkpointed(storage, 3); // generation 3 in A, 2 in B
    const report = await store.verify();
    const b = report.headerSlots[1];
    assert.equal(b.state, "fallback");
    // Generation 2 again, but covering nothing: a fallback would replay from lsn 1, reclaimed since.
    const header = {
      generation: 2,
      coverageLsn: 0,
      rootAddress: 0,
      keyCount: 0,
      pageCount: 0,
      allocationAddress: 0,
      deadBytes: 0,
      ...geometryDefaults,
    };
    await writeBytes(storage, imageFileName, headerSlotOffsets[1], encodeHeaderSlot(header));
    const stale = await store.verify();
    assert.equal(stale.headerSlots[1].state, "stale");
    assert.match(
      stale.warnings.join("\n"),
      /the WAL starts at lsn \d+, so records 1\.\.\d+ .* are gone/,
    );
    await store.close();
  },
);

onBothStorages(
  "verify: a current header slot that does not read back is a problem",
  async (storage) => {
    const store = await checkpointed(storage, 1); // generation 1 in A
    const bytes = await readBytes(storage, imageFileName);
    await writeBytes(storage, imageFileName, 30, Uint8Array.of(bytes[30] ^ 1));
    const report = await store.verify();
    assert.equal(report.ok, false);
    assert.match(
      report.problems.join("\n"),
      /image\.tt: header slot A \(byte 0\) does not read back as the header in use/,
    );
    await store.close();
  },
);

onBothStorages(
  "a garbage file named like the next WAL segment is moved aside; the log goes on before it",
  async (storage) => {
    await oneGroup(storage);
    const next = segmentName(4);
    await writeBytes(storage, next, 0, garbage(600, 11));
    const store = await open(storage);
    assert.deepEqual(store.stats().recovery.quarantined.map(({ file }) => file), [next]);
    assert.deepEqual(await store.getMany(["a", "b", "c"]), [1, 2, 3]);
    await store.add("d", 4);
    await store.close();
    const again = await open(storage);
    assert.deepEqual(await again.getMany(["a", "d"]), [1, 4]);
    assert.deepEqual(again.stats().recovery.quarantined, []);
    await again.close();
    // Had the segment before it a bad header too (even one that looks torn: zeros), that
    // header was durable before the next segment was created: damage, whatever the last holds.
    await writeBytes(storage, next, 0, garbage(600, 11));
    const first = await readBytes(storage, firstSegment);
    await writeBytes(storage, firstSegment, 0, new Uint8Array(first.length));
    await assert.rejects(
      open(storage),
      (error: unknown) =>
        error instanceof CorruptionError && error.file === firstSegment && error.offset === 0,
    );
  },
);
