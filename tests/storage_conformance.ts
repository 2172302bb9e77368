/**
 * The contract every {@link BlockStorage} keeps, as a reusable test suite:
 * real files, the memory image and the simulator's fault-free disk all run it.
 * It tests only what `lib/storage/block_storage.ts` promises, plus the POSIX
 * behaviours the engine relies on (open handles survive remove and rename,
 * `NotFound` for a missing rename source or remove target, `StorageIoError`
 * on a closed file).
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import type { BlockFile, BlockStorage } from "../lib/storage/block_storage.ts";
import { StorageIoError } from "../lib/errors.ts";

/** A fresh, empty storage and how to dispose of it. */
export interface StorageFixture {
  /** The storage under test: empty, unlocked. */
  storage: BlockStorage;
  /** Releases whatever the storage holds (a temporary directory...). */
  cleanup(): Promise<void>;
}

const encoder = new TextEncoder();

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

async function readAll(file: BlockFile): Promise<Uint8Array> {
  return await file.read(0, await file.size());
}

async function writeFile(storage: BlockStorage, name: string, data: Uint8Array): Promise<void> {
  const file = await storage.open(name, { create: true });
  try {
    await file.write(0, data);
  } finally {
    await file.close();
  }
}

async function readFile(storage: BlockStorage, name: string): Promise<Uint8Array> {
  const file = await storage.open(name);
  try {
    return await readAll(file);
  } finally {
    await file.close();
  }
}

/** One step of the model-based test: a write or a truncate. */
type FileStep =
  | { kind: "write"; offset: number; data: Uint8Array }
  | { kind: "truncate"; length: number };

const fileStep: fc.Arbitrary<FileStep> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    offset: fc.nat({ max: 9000 }),
    data: fc.uint8Array({ maxLength: 3000 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), length: fc.nat({ max: 12000 }) }),
);

/** What the file must hold after `step`, computed on a plain array. */
function applyToModel(model: Uint8Array, step: FileStep): Uint8Array {
  if (step.kind === "truncate") {
    const result = new Uint8Array(step.length);
    result.set(model.subarray(0, step.length));
    return result;
  }
  if (step.data.length === 0) return model;
  const result = new Uint8Array(Math.max(model.length, step.offset + step.data.length));
  result.set(model);
  result.set(step.data, step.offset);
  return result;
}

/**
 * Registers the conformance tests of a {@link BlockStorage} implementation.
 *
 * @param name The implementation's name, prefixed to every test name.
 * @param makeStorage Makes a fresh, empty, unlocked storage for one test.
 *
 * @example Running the suite for the memory storage
 * ```ts ignore
 * import { blockStorageConformance } from "./storage_conformance.ts";
 * import { MemoryBlockStorage } from "../lib/storage/memory.ts";
 * blockStorageConformance("MemoryBlockStorage", () =>
 *   Promise.resolve({ storage: new MemoryBlockStorage(), cleanup: () => Promise.resolve() }));
 * ```
 */
export function blockStorageConformance(
  name: string,
  makeStorage: () => Promise<StorageFixture>,
): void {
  const test = (title: string, body: (storage: BlockStorage) => Promise<void>): void => {
    Deno.test(`${name}: ${title}`, async () => {
      const { storage, cleanup } = await makeStorage();
      try {
        await body(storage);
      } finally {
        await cleanup();
      }
    });
  };
  registerOpenTests(test);
  registerReadWriteTests(test);
  registerGrowthTests(test);
  registerTruncateTests(test);
  registerDirectoryTests(test);
  registerRemoveTests(test);
  registerLockAndCloseTests(test);
  registerNameTests(test);
}

type Register = (title: string, body: (storage: BlockStorage) => Promise<void>) => void;

function registerOpenTests(test: Register): void {
  test("a new storage is empty", async (storage) => {
    assert.deepEqual(await storage.list(), []);
    assert.equal(typeof storage.description, "string");
    assert.ok(storage.description.length > 0);
  });

  test("open() of a missing file without create throws NotFound", async (storage) => {
    await assert.rejects(storage.open("missing"), Deno.errors.NotFound);
    assert.deepEqual(await storage.list(), []);
  });

  test("open() with create makes an empty file and keeps an existing one", async (storage) => {
    const file = await storage.open("a", { create: true });
    assert.equal(file.name, "a");
    assert.equal(await file.size(), 0);
    await file.write(0, bytes(1, 2, 3));
    await file.close();
    assert.deepEqual(await storage.list(), ["a"]);
    const again = await storage.open("a", { create: true });
    assert.deepEqual(await readAll(again), bytes(1, 2, 3), "create must not truncate");
    await again.close();
  });

  test("open() with exclusive creates a new file and refuses an existing one", async (storage) => {
    const file = await storage.open("a", { exclusive: true });
    await file.write(0, bytes(7));
    await file.close();
    await assert.rejects(storage.open("a", { exclusive: true }), Deno.errors.AlreadyExists);
    await assert.rejects(
      storage.open("a", { create: true, exclusive: true }),
      Deno.errors.AlreadyExists,
    );
    assert.deepEqual(await readFile(storage, "a"), bytes(7));
  });

  test("two handles of one file see each other's writes", async (storage) => {
    const first = await storage.open("a", { create: true });
    const second = await storage.open("a");
    await first.write(0, bytes(1, 2));
    assert.deepEqual(await second.read(0, 10), bytes(1, 2));
    await second.write(1, bytes(9, 9));
    assert.deepEqual(await readAll(first), bytes(1, 9, 9));
    await first.close();
    await second.close();
  });
}

function registerReadWriteTests(test: Register): void {
  test("write() then read() round-trips at offset 0 and mid-file", async (storage) => {
    const file = await storage.open("a", { create: true });
    const data = encoder.encode("hello, block storage");
    await file.write(0, data);
    assert.deepEqual(await file.read(0, data.length), data);
    assert.deepEqual(await file.read(7, 5), encoder.encode("block"));
    assert.equal(await file.size(), data.length);
    await file.close();
  });

  test("write() past the end zero-fills the gap", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1));
    await file.write(5, bytes(2, 3));
    assert.equal(await file.size(), 7);
    assert.deepEqual(await readAll(file), bytes(1, 0, 0, 0, 0, 2, 3));
    await file.close();
  });

  test("overlapping writes keep the latest bytes", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1, 1, 1, 1, 1, 1));
    await file.write(2, bytes(2, 2, 2));
    await file.write(4, bytes(3, 3, 3, 3));
    assert.deepEqual(await readAll(file), bytes(1, 1, 2, 2, 3, 3, 3, 3));
    await file.close();
  });

  test("read() at or past the end is short or empty", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1, 2, 3, 4));
    assert.deepEqual(await file.read(2, 10), bytes(3, 4));
    assert.deepEqual(await file.read(4, 10), bytes());
    assert.deepEqual(await file.read(100, 10), bytes());
    assert.deepEqual(await file.read(1, 0), bytes());
    const empty = await storage.open("b", { create: true });
    assert.deepEqual(await empty.read(0, 4096), bytes());
    await file.close();
    await empty.close();
  });

  test("read() returns a copy and write() copies its input", async (storage) => {
    const file = await storage.open("a", { create: true });
    const data = bytes(1, 2, 3);
    await file.write(0, data);
    data.fill(9);
    const first = await file.read(0, 3);
    assert.deepEqual(first, bytes(1, 2, 3), "write must copy the caller's buffer");
    first.fill(8);
    assert.deepEqual(await file.read(0, 3), bytes(1, 2, 3), "read must return a copy");
    await file.close();
  });

  test("write() of a subarray view writes only the view", async (storage) => {
    const file = await storage.open("a", { create: true });
    const backing = bytes(0, 1, 2, 3, 4, 5, 6, 7);
    await file.write(1, backing.subarray(2, 5));
    assert.deepEqual(await readAll(file), bytes(0, 2, 3, 4));
    await file.close();
  });
}

function registerGrowthTests(test: Register): void {
  test("an empty write() does not grow the file", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1));
    await file.write(100, bytes());
    assert.equal(await file.size(), 1);
    await file.close();
  });

  test("many small appends keep every byte", async (storage) => {
    const file = await storage.open("a", { create: true });
    const count = 5000;
    for (let i = 0; i < count; i++) await file.write(i, bytes(i & 0xff));
    const all = await readAll(file);
    assert.equal(all.length, count);
    assert.ok(all.every((value, i) => value === (i & 0xff)));
    await file.sync();
    await file.close();
  });

  test("any sequence of writes and truncates matches a byte-array model", async (storage) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fileStep, { maxLength: 12 }), async (steps) => {
        const file = await storage.open(`model-${run++}`, { create: true });
        let model: Uint8Array = new Uint8Array(0);
        try {
          for (const step of steps) {
            if (step.kind === "write") await file.write(step.offset, step.data);
            else await file.truncate(step.length);
            model = applyToModel(model, step);
            assert.equal(await file.size(), model.length);
          }
          assert.deepEqual(await file.read(0, model.length + 10), model);
        } finally {
          await file.close();
        }
      }),
      { numRuns: 60 },
    );
  });
}

function registerTruncateTests(test: Register): void {
  test("truncate() shrinks, and later reads end at the new size", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1, 2, 3, 4, 5));
    await file.truncate(2);
    assert.equal(await file.size(), 2);
    assert.deepEqual(await file.read(0, 5), bytes(1, 2));
    await file.sync();
    await file.close();
  });

  test("truncate() extends with zeros, never with stale bytes", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1, 2, 3, 4, 5));
    await file.truncate(1);
    await file.truncate(4);
    assert.deepEqual(await readAll(file), bytes(1, 0, 0, 0));
    await file.truncate(0);
    await file.write(3, bytes(9));
    assert.deepEqual(await readAll(file), bytes(0, 0, 0, 9));
    await file.close();
  });

  test("truncate() to the current size changes nothing", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1, 2));
    await file.truncate(2);
    assert.deepEqual(await readAll(file), bytes(1, 2));
    await file.close();
  });
}

function registerDirectoryTests(test: Register): void {
  test("list() returns every file name, sorted", async (storage) => {
    for (const name of ["wal-2.wal", "b", "a", "wal-10.wal", "Z", "manifest"]) {
      await writeFile(storage, name, bytes(1));
    }
    assert.deepEqual(await storage.list(), ["Z", "a", "b", "manifest", "wal-10.wal", "wal-2.wal"]);
  });

  test("rename() moves a file and its bytes", async (storage) => {
    await writeFile(storage, "a.tmp", bytes(1, 2));
    await storage.rename("a.tmp", "a");
    await storage.syncDir();
    assert.deepEqual(await storage.list(), ["a"]);
    assert.deepEqual(await readFile(storage, "a"), bytes(1, 2));
    await assert.rejects(storage.open("a.tmp"), Deno.errors.NotFound);
  });

  test("rename() replaces the target; old handles keep the old bytes", async (storage) => {
    await writeFile(storage, "current", bytes(1));
    await writeFile(storage, "next", bytes(2, 2));
    const old = await storage.open("current");
    await storage.rename("next", "current");
    assert.deepEqual(await storage.list(), ["current"]);
    assert.deepEqual(await readFile(storage, "current"), bytes(2, 2));
    assert.deepEqual(await readAll(old), bytes(1));
    await old.close();
  });

  test("rename() keeps open handles of the moved file working", async (storage) => {
    const file = await storage.open("a", { create: true });
    await storage.rename("a", "b");
    await file.write(0, bytes(5));
    assert.deepEqual(await readFile(storage, "b"), bytes(5));
    await file.close();
  });
}

function registerRemoveTests(test: Register): void {
  test("rename() of a missing file throws NotFound", async (storage) => {
    await assert.rejects(storage.rename("missing", "b"), Deno.errors.NotFound);
    assert.deepEqual(await storage.list(), []);
  });

  test("remove() deletes the name; open handles keep working", async (storage) => {
    await writeFile(storage, "a", bytes(1, 2, 3));
    await writeFile(storage, "b", bytes(4));
    const file = await storage.open("a");
    await storage.remove("a");
    await storage.syncDir();
    assert.deepEqual(await storage.list(), ["b"]);
    await assert.rejects(storage.open("a"), Deno.errors.NotFound);
    assert.deepEqual(await readAll(file), bytes(1, 2, 3));
    await file.write(3, bytes(4));
    assert.equal(await file.size(), 4);
    await file.close();
    const recreated = await storage.open("a", { exclusive: true });
    assert.equal(await recreated.size(), 0, "a new file of the same name starts empty");
    await recreated.close();
  });

  test("remove() of a missing file throws NotFound", async (storage) => {
    await assert.rejects(storage.remove("missing"), Deno.errors.NotFound);
  });

  test("sync() and syncDir() succeed on a healthy storage", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1));
    await file.sync();
    await file.sync();
    await storage.syncDir();
    await file.close();
  });
}

function registerLockAndCloseTests(test: Register): void {
  test("tryLock() admits one holder until unlock()", async (storage) => {
    assert.equal(await storage.tryLock(), true);
    assert.equal(await storage.tryLock(), false);
    assert.equal(await storage.tryLock(), false);
    await storage.unlock();
    assert.equal(await storage.tryLock(), true);
    await storage.unlock();
  });

  test("the lock does not hide or block files", async (storage) => {
    assert.equal(await storage.tryLock(), true);
    await writeFile(storage, "a", bytes(1));
    assert.deepEqual(await storage.list(), ["a"]);
    await storage.unlock();
  });

  test("close() is idempotent", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.close();
    await file.close();
  });

  test("every call on a closed file throws StorageIoError", async (storage) => {
    const file = await storage.open("a", { create: true });
    await file.write(0, bytes(1));
    await file.close();
    await assert.rejects(file.read(0, 1), StorageIoError);
    await assert.rejects(file.write(0, bytes(1)), StorageIoError);
    await assert.rejects(file.sync(), StorageIoError);
    await assert.rejects(file.size(), StorageIoError);
    await assert.rejects(file.truncate(0), StorageIoError);
    const error = await file.read(0, 1).catch((error: unknown) => error);
    assert.match((error as Error).message, /closed/);
    assert.deepEqual(await readFile(storage, "a"), bytes(1), "closing keeps the bytes");
  });
}

function registerNameTests(test: Register): void {
  const badNames = ["", ".", "..", "a/b", "/a", "../a", "a\\b", "a\0b"];

  test("open(), rename() and remove() reject names that are not flat", async (storage) => {
    await writeFile(storage, "good", bytes(1));
    for (const bad of badNames) {
      await assert.rejects(storage.open(bad, { create: true }), TypeError, `open(${bad})`);
      await assert.rejects(storage.rename("good", bad), TypeError, `rename(good, ${bad})`);
      await assert.rejects(storage.rename(bad, "good"), TypeError, `rename(${bad}, good)`);
      await assert.rejects(storage.remove(bad), TypeError, `remove(${bad})`);
    }
    assert.deepEqual(await storage.list(), ["good"]);
  });

  test("names may hold dots, dashes and non-ASCII letters", async (storage) => {
    const names = ["a..b", ".hidden", "wal-00000000000000000001.wal", "zählung"];
    for (const name of names) await writeFile(storage, name, encoder.encode(name));
    assert.deepEqual(await storage.list(), [...names].sort());
    for (const name of names) assert.deepEqual(await readFile(storage, name), encoder.encode(name));
  });
}
