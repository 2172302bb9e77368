import assert from "node:assert/strict";
import { join } from "node:path";
import { blockStorageConformance } from "./storage_conformance.ts";
import { MemoryBlockStorage } from "../lib/storage/memory.ts";
import { FileBlockStorage } from "../lib/storage/file.ts";
import { StorageIoError } from "../lib/errors.ts";

blockStorageConformance(
  "MemoryBlockStorage",
  () => Promise.resolve({ storage: new MemoryBlockStorage(), cleanup: () => Promise.resolve() }),
);

blockStorageConformance("FileBlockStorage", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-storage-" });
  const storage = await FileBlockStorage.open(dir);
  return {
    storage,
    cleanup: async () => {
      await storage.unlock();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

/** Runs `body` with a fresh temporary directory, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-storage-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

Deno.test("FileBlockStorage: the lock conflicts across two opens of one directory", async () => {
  await withTempDir(async (dir) => {
    const first = await FileBlockStorage.open(dir);
    const second = await FileBlockStorage.open(dir);
    assert.equal(await first.tryLock(), true);
    assert.equal(await second.tryLock(), false);
    await first.unlock();
    assert.equal(await second.tryLock(), true);
    assert.equal(await first.tryLock(), false);
    await second.unlock();
    await first.unlock(); // Not held: does nothing.
  });
});

Deno.test("FileBlockStorage: data is visible after reopening the directory", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    const file = await storage.open("data", { create: true });
    await file.write(10, bytes(1, 2, 3));
    await file.sync();
    await file.close();
    await storage.rename("data", "kept");
    await storage.syncDir();
    const reopened = await FileBlockStorage.open(dir);
    assert.deepEqual(await reopened.list(), ["kept"]);
    const again = await reopened.open("kept");
    assert.equal(await again.size(), 13);
    assert.deepEqual(await again.read(9, 10), bytes(0, 1, 2, 3));
    await again.close();
  });
});

Deno.test("FileBlockStorage.open() creates missing directories, and syncDir() works", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a", "b", "store");
    const storage = await FileBlockStorage.open(path);
    assert.equal(storage.description, path);
    assert.ok((await Deno.stat(path)).isDirectory);
    await storage.syncDir();
    assert.deepEqual(await storage.list(), []);
  });
});

Deno.test("FileBlockStorage.open() resolves a relative path to an absolute one", async () => {
  const storage = await FileBlockStorage.open(".");
  assert.equal(storage.description, Deno.cwd());
});

Deno.test("FileBlockStorage.open() refuses a path that is a file, or empty", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "plain");
    await Deno.writeFile(path, bytes(1));
    await assert.rejects(FileBlockStorage.open(path), {
      name: "StorageIoError",
      message:
        `Cannot open store at "${path}": it is a file, not a directory; give a directory path`,
    });
    await assert.rejects(FileBlockStorage.open(""), TypeError);
  });
});

Deno.test("FileBlockStorage: list() hides LOCK and directories; LOCK is a reserved name", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    assert.equal(await storage.tryLock(), true);
    await Deno.mkdir(join(dir, "subdir"));
    await Deno.writeFile(join(dir, "a"), bytes(1));
    assert.deepEqual(await storage.list(), ["a"]);
    await assert.rejects(storage.open("LOCK"), TypeError);
    await assert.rejects(storage.remove("LOCK"), TypeError);
    await storage.unlock();
  });
});

Deno.test("FileBlockStorage: an OS failure is a StorageIoError naming the path and code", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    await Deno.mkdir(join(dir, "subdir"));
    const error = await storage.open("subdir").catch((error: unknown) => error);
    assert.ok(error instanceof StorageIoError, String(error));
    assert.equal(
      error.message,
      `Cannot open "${join(dir, "subdir")}": EISDIR (is a directory); ` +
        `remove or rename the directory`,
    );
    assert.ok(error.cause instanceof Error);
  });
});

Deno.test("FileBlockStorage: NotFound and AlreadyExists name the path and what to do", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    await assert.rejects(storage.open("x"), {
      name: "NotFound",
      message: `Cannot open "${join(dir, "x")}": ENOENT (no such file or directory); ` +
        `pass { create: true } to create it`,
    });
    await (await storage.open("x", { create: true })).close();
    await assert.rejects(storage.open("x", { exclusive: true }), Deno.errors.AlreadyExists);
  });
});

Deno.test("FileBlockStorage: the closed-file error names the operation and path", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    const file = await storage.open("wal-1.wal", { create: true });
    await file.close();
    await assert.rejects(file.sync(), {
      name: "StorageIoError",
      message: `Cannot fsync "${join(dir, "wal-1.wal")}": the file is closed; open it again`,
    });
  });
});

Deno.test("FileBlockStorage: reads and writes beyond 4 GiB offsets (sparse)", async () => {
  await withTempDir(async (dir) => {
    const storage = await FileBlockStorage.open(dir);
    const file = await storage.open("big", { create: true });
    const offset = 2 ** 32 + 5;
    await file.write(offset, bytes(7, 8));
    assert.equal(await file.size(), offset + 2);
    assert.deepEqual(await file.read(offset - 1, 10), bytes(0, 7, 8));
    await file.truncate(0);
    await file.close();
  });
});

Deno.test("MemoryBlockStorage: clone() is a deep, independent, unlocked copy", async () => {
  const storage = new MemoryBlockStorage();
  assert.equal(storage.description, "memory");
  assert.equal(await storage.tryLock(), true);
  const file = await storage.open("a", { create: true });
  await file.write(0, bytes(1, 2, 3));
  const removed = await storage.open("gone", { create: true });
  await storage.remove("gone");

  const copy = storage.clone();
  assert.deepEqual(await copy.list(), ["a"], "removed files are not part of the copy");
  assert.equal(await copy.tryLock(), true, "a clone starts unlocked");
  assert.equal(await storage.tryLock(), false, "cloning keeps the original locked");

  await file.write(0, bytes(9));
  await file.truncate(2);
  const copied = await copy.open("a");
  assert.deepEqual(await copied.read(0, 10), bytes(1, 2, 3));
  await copied.write(3, bytes(4));
  assert.deepEqual(await file.read(0, 10), bytes(9, 2));
  await copy.remove("a");
  assert.deepEqual(await storage.list(), ["a"]);
  await Promise.all([file.close(), removed.close(), copied.close()]);
});

Deno.test("MemoryBlockStorage: two instances have separate locks", async () => {
  const first = new MemoryBlockStorage();
  const second = new MemoryBlockStorage();
  assert.equal(await first.tryLock(), true);
  assert.equal(await second.tryLock(), true);
});
