/**
 * The public API's argument checks (issue 14, items 1, 2, 3 and 6): both
 * forms of `openStore` honour their options; every options object refuses
 * an unknown key (naming the nearest valid one) and a value of the wrong
 * type; extra positional arguments are refused; string keys with lone
 * surrogates are refused on every key path; a path that is a file raises a
 * documented error class.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  FileBlockStorage,
  MemoryBlockStorage,
  openStore,
  StorageIoError,
  type Store,
} from "../mod.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-options-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withStore(
  body: (store: Store) => Promise<void>,
  durability: "strict" | "relaxed" = "strict",
): Promise<void> {
  const store = await openStore({ storage: new MemoryBlockStorage(), durability });
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

/** Asserts that `run` throws or rejects with a `TypeError` whose message matches `message`. */
async function rejectsType(run: () => unknown, message: RegExp | string): Promise<void> {
  let thrown: unknown;
  try {
    await run();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof TypeError, `expected a TypeError, got ${thrown}`);
  if (typeof message === "string") assert.equal(thrown.message, message);
  else assert.match(thrown.message, message);
}

// Item 1: openStore(path, options) honours its options.

Deno.test("openStore(path, { checkpoint: { auto: false } }): 3,000 adds and a 10,000-add batch run no checkpoint", async () => {
  await withDir(async (dir) => {
    const store = await openStore(dir, { checkpoint: { auto: false } });
    try {
      for (let index = 0; index < 3_000; index++) await store.add(`key ${index % 50}`, 1);
      // 10,000 operations: the default epochOps, so the defaults would checkpoint here.
      const batch = store.atomic();
      for (let index = 0; index < 10_000; index++) batch.add(`batch ${index}`, 1);
      assert.ok((await batch.commit()).ok);
      await store.verify(); // waits for a checkpoint in progress, if one had started
      const { epochs } = store.stats();
      assert.equal(epochs.checkpoints, 0, "auto: false ran a checkpoint");
      assert.equal(epochs.epochs, 0, "auto: false began a checkpoint");
      assert.equal(epochs.operations, 13_000);
    } finally {
      await store.close();
    }
  });
});

Deno.test('openStore(path, { durability: "relaxed" }) is relaxed; openStore(path) is strict', async () => {
  await withDir(async (dir) => {
    const relaxed = await openStore(dir, { durability: "relaxed", walSegmentBytes: 4096 });
    assert.equal(relaxed.stats().durability, "relaxed");
    const pending = relaxed.add("fast", 1);
    assert.equal(relaxed.stats().durableLsn, 0, "relaxed: the add resolves before its fsync");
    assert.equal(await relaxed.get("fast"), 1, "relaxed: reads show a buffered write");
    assert.equal(await pending, 1);
    for (let index = 0; index < 200; index++) {
      await relaxed.add(`k${index}`.repeat(20), 1);
      await relaxed.sync(); // a group each: a segment rolls over between groups
    }
    assert.ok(relaxed.stats().wal.segmentsCreated > 1, "walSegmentBytes: 4096 was honoured");
    await relaxed.close();
    const strict = await openStore(dir);
    assert.equal(strict.stats().durability, "strict");
    assert.equal(await strict.get("fast"), 1);
    await strict.close();
    const lazy = await openStore(dir, { load: "lazy", durability: "strict" });
    assert.equal(lazy.stats().durability, "strict");
    await lazy.close();
  });
});

Deno.test("openStore: path and storage go in one form or the other, never in the options after a path", async () => {
  await withDir(async (dir) => {
    const storage = new MemoryBlockStorage();
    await rejectsType(
      () => openStore(dir, { path: dir } as never),
      /options after a path cannot hold "path"/,
    );
    await rejectsType(
      () => openStore(dir, { storage } as never),
      /options after a path cannot hold "storage"/,
    );
    await rejectsType(
      () => openStore({ storage }, { durability: "relaxed" } as never),
      /options go in the one object/,
    );
    await rejectsType(
      () => openStore(dir, null as never),
      "Cannot open store: options must be an object, got null",
    );
    await rejectsType(
      () => openStore(dir, "relaxed" as never),
      /options must be an object, got "relaxed"/,
    );
    await rejectsType(
      () => openStore(5 as never),
      /pass a directory path or an options object, got 5/,
    );
    await rejectsType(
      // @ts-expect-error: a third argument
      () => openStore(dir, {}, {}),
      "Cannot open store: it takes 2 arguments (target, options), got 3; remove the extra ones",
    );
    // Nothing was created by the refused calls.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

// Item 2: every options object is checked the same way.

Deno.test("openStore: an unknown option is a TypeError naming the nearest valid one", async () => {
  const storage = new MemoryBlockStorage();
  await rejectsType(
    () => openStore({ storage, durabilty: "relaxed" } as never),
    'Cannot open store: unknown option "durabilty", did you mean "durability"?',
  );
  await withDir(async (dir) => {
    await rejectsType(
      () => openStore(dir, { Durability: "relaxed" } as never),
      'Cannot open store: unknown option "Durability", did you mean "durability"?',
    );
    await rejectsType(
      () => openStore(dir, { walSegmentByte: 4096 } as never),
      /unknown option "walSegmentByte", did you mean "walSegmentBytes"\?/,
    );
    await rejectsType(
      () => openStore(dir, { cacheBytes: 2 ** 30 } as never),
      'Cannot open store: unknown option "cacheBytes", expected one of ' +
        "durability, clock, walSegmentBytes, checkpoint, load, memoryBudget",
    );
  });
  await rejectsType(
    () => openStore({ storage, bogus: 1 } as never),
    'Cannot open store: unknown option "bogus", expected one of ' +
      "path, storage, durability, clock, walSegmentBytes, checkpoint, load, memoryBudget",
  );
  await rejectsType(
    () => openStore({ storage, checkpoint: { epochMS: 50 } } as never),
    'Cannot open store: unknown checkpoint option "epochMS", did you mean "epochMs"?',
  );
  await rejectsType(
    () => openStore({ storage, checkpoint: { atuo: false } } as never),
    'Cannot open store: unknown checkpoint option "atuo", did you mean "auto"?',
  );
  // A key whose value is undefined counts as absent.
  const store = await openStore({ storage, durability: undefined, checkpoint: undefined });
  assert.equal(store.stats().durability, "strict");
  await store.close();
});

Deno.test("openStore: an option of the wrong type is a TypeError; out of range a RangeError", async () => {
  const storage = new MemoryBlockStorage();
  const cases: [Record<string, unknown>, string][] = [
    [{ durability: 1 }, 'durability must be "strict" or "relaxed", got 1'],
    [{ durability: "fast" }, 'durability must be "strict" or "relaxed", got "fast"'],
    [{ walSegmentBytes: "4096" }, 'walSegmentBytes must be a number, got "4096"'],
    [{ load: 3 }, 'load must be "auto", "eager" or "lazy", got 3'],
    [{ checkpoint: 5 }, "checkpoint must be an object, got 5"],
    [{ checkpoint: null }, "checkpoint must be an object, got null"],
    [{ checkpoint: { auto: "no" } }, 'checkpoint.auto must be a boolean, got "no"'],
    [{ checkpoint: { epochOps: "100" } }, 'checkpoint.epochOps must be a number, got "100"'],
    [{ clock: {} }, "clock must be a Clock (an object with a now() method), got an object"],
    [{ clock: Date.now }, "clock must be a Clock (an object with a now() method), got a function"],
  ];
  for (const [options, message] of cases) {
    await rejectsType(() => openStore({ storage, ...options }), `Cannot open store: ${message}`);
  }
  await rejectsType(
    () => openStore({ storage: {} as never }),
    "Cannot open store: storage must be a BlockStorage (such as a MemoryBlockStorage), got an object",
  );
  await rejectsType(
    () => openStore({ path: 5 as never }),
    "Cannot open store: path must be a string, got 5",
  );
  await rejectsType(() => openStore([] as never), /got an array/);
  await assert.rejects(openStore({ storage, walSegmentBytes: 10 }), RangeError);
  await assert.rejects(openStore({ storage, checkpoint: { epochMs: 5 } }), RangeError);
  assert.ok(await storage.tryLock(), "no refused open kept the storage locked");
});

Deno.test("checkpoint(options): unknown keys, wrong types and non-objects are TypeErrors", async () => {
  await withStore(async (store) => {
    await store.add("a", 1);
    await rejectsType(
      () => store.checkpoint({ bogus: 1 } as never),
      'Cannot checkpoint: unknown option "bogus", expected one of compact',
    );
    await rejectsType(
      () => store.checkpoint({ compcat: true } as never),
      'Cannot checkpoint: unknown option "compcat", did you mean "compact"?',
    );
    await rejectsType(
      () => store.checkpoint({ compact: "yes" } as never),
      'Cannot checkpoint: compact must be a boolean, got "yes"',
    );
    await rejectsType(
      () => store.checkpoint(null as never),
      "Cannot checkpoint: options must be an object, got null",
    );
    await rejectsType(() => store.checkpoint(true as never), /options must be an object, got true/);
    assert.equal(store.stats().epochs.checkpoints, 0, "a refused call ran no checkpoint");
    assert.equal((await store.checkpoint({ compact: true })).coverageLsn, 1);
    assert.equal((await store.checkpoint({ compact: undefined })).coverageLsn, 1);
  });
});

Deno.test("list(selector, options): the selector and the options are checked like every options object", async () => {
  await withStore(async (store) => {
    await store.add("a", 1);
    const cases: [() => unknown, string][] = [
      [
        () => store.list({ prefix: "a" }, { reverse: 1 } as never),
        "reverse must be a boolean, got 1",
      ],
      [
        () => store.list({ prefix: "a" }, { limit: "3" } as never),
        'limit must be a number, got "3"',
      ],
      [
        () => store.list({ prefix: "a" }, { limt: 3 } as never),
        'unknown option "limt", did you mean "limit"?',
      ],
      [
        () => store.list({ prefix: "a" }, { bogus: 3 } as never),
        'unknown option "bogus", expected one of limit, reverse',
      ],
      [() => store.list({ prefix: "a" }, null as never), "options must be an object, got null"],
      [
        () => store.list({ prefx: "a" } as never),
        'unknown selector key "prefx", did you mean "prefix"?',
      ],
      [
        () => store.list({ prefix: 5 } as never),
        "selector.prefix must be a string or a Uint8Array, got 5",
      ],
      [
        () => store.list({ start: "a", end: null } as never),
        "selector.end must be a string or a Uint8Array, got null",
      ],
      [() => store.list("a" as never), 'selector must be an object, got "a"'],
    ];
    for (const [run, message] of cases) await rejectsType(run, `Cannot list: ${message}`);
    assert.throws(() => store.list({ prefix: "a" }, { limit: 0 }), RangeError);
    const keys = [];
    for await (
      const { key } of store.list({ prefix: "a", end: undefined }, { reverse: undefined })
    ) {
      keys.push(key);
    }
    assert.equal(keys.length, 1);
  });
});

Deno.test("storage open(name, options): an unknown option is a TypeError, on memory and on disk", async () => {
  await withDir(async (dir) => {
    for (const storage of [new MemoryBlockStorage(), await FileBlockStorage.open(dir)]) {
      await rejectsType(
        () => storage.open("data", { creat: true } as never),
        'Cannot open a file: unknown option "creat", did you mean "create"?',
      );
      await rejectsType(
        () => storage.open("data", { create: "yes" } as never),
        'Cannot open a file: create must be a boolean, got "yes"',
      );
      assert.deepEqual(await storage.list(), [], "a refused open created nothing");
    }
    await rejectsType(
      // @ts-expect-error: a second argument
      () => FileBlockStorage.open(dir, { create: true }),
      "Cannot open storage: it takes 1 argument (path), got 2; remove the extra ones",
    );
  });
});

Deno.test("extra positional arguments are a TypeError on every public method, and write nothing", async () => {
  await withStore(async (store) => {
    const calls: [string, () => unknown][] = [
      // @ts-expect-error: an extra argument
      ["add", () => store.add("k", 1, { durable: true })],
      // @ts-expect-error: an extra argument
      ["set", () => store.set("k", 1, {})],
      // @ts-expect-error: an extra argument
      ["delete", () => store.delete("k", {})],
      // @ts-expect-error: an extra argument
      ["get", () => store.get("k", {})],
      // @ts-expect-error: an extra argument
      ["getMany", () => store.getMany(["k"], {})],
      // @ts-expect-error: an extra argument
      ["list", () => store.list({ prefix: "k" }, {}, {})],
      // @ts-expect-error: an extra argument
      ["atomic", () => store.atomic({})],
      // @ts-expect-error: an extra argument
      ["sync", () => store.sync({})],
      // @ts-expect-error: an extra argument
      ["stats", () => store.stats({})],
      // @ts-expect-error: an extra argument
      ["checkpoint", () => store.checkpoint({}, {})],
      // @ts-expect-error: an extra argument
      ["verify", () => store.verify({})],
      // @ts-expect-error: an extra argument
      ["close", () => store.close({})],
      // @ts-expect-error: an extra argument
      ["check", () => store.atomic().check("k", 1, {})],
      // @ts-expect-error: an extra argument
      ["add", () => store.atomic().add("k", 1, {})],
      // @ts-expect-error: an extra argument
      ["set", () => store.atomic().set("k", 1, {})],
      // @ts-expect-error: an extra argument
      ["delete", () => store.atomic().delete("k", {})],
      // @ts-expect-error: an extra argument
      ["commit", () => store.atomic().add("k", 1).commit({})],
    ];
    for (const [name, run] of calls) {
      await rejectsType(run, new RegExp(`^Cannot ${name}: it takes`));
    }
    await rejectsType(
      // @ts-expect-error: a third argument
      () => store.add("k", 1, 2),
      "Cannot add: it takes 2 arguments (key, delta), got 3; remove the extra ones",
    );
    await rejectsType(
      // @ts-expect-error: an argument
      () => store.close(true),
      "Cannot close: it takes no arguments, got 1; remove the extra ones",
    );
    assert.equal(store.stats().lastLsn, 0, "no refused call wrote");
    assert.equal(await store.get("k"), undefined, "the store is still open");
  });
});

// Item 3: string keys with lone surrogates are refused on every key path.

const loneSurrogates = ["a\ud800", "a\udbff", "\udc00", "x".repeat(300) + "\ud800", "\ud800a"];

Deno.test("keys with a lone surrogate are a TypeError on every key path, strict and relaxed", async () => {
  for (const durability of ["strict", "relaxed"] as const) {
    await withStore(async (store) => {
      for (const key of loneSurrogates) {
        const calls: (() => unknown)[] = [
          () => store.add(key, 1),
          () => store.set(key, 1),
          () => store.delete(key),
          () => store.get(key),
          () => store.getMany(["ok", key]),
          () => store.list({ prefix: key }),
          () => store.list({ prefix: "a", start: key }),
          () => store.list({ prefix: "a", end: key }),
          () => store.list({ start: key, end: "z" }),
          () => store.list({ start: "a", end: key }),
          () => store.atomic().check(key, undefined).commit(),
          () => store.atomic().add("ok", 1).add(key, 1).commit(), // the ASCII path's fallback
          () => store.atomic().add(key, 1).commit(),
          () => store.atomic().set(key, 1).commit(),
          () => store.atomic().delete(key).commit(),
          () => store.atomic().add("é", 1).add(key, 1).commit(),
        ];
        for (const call of calls) {
          await rejectsType(
            call,
            /key holds a lone surrogate \(U\+D[89A-F][0-9A-F]{2}\) at index \d+/,
          );
        }
      }
      assert.equal(store.stats().lastLsn, 0, "no refused call wrote");
      // U+FFFD, which a lone surrogate used to become, and surrogate pairs are ordinary keys.
      assert.equal(await store.add("a\ufffd", 1), 1);
      assert.equal(await store.add("a\ud83d\ude00", 2), 2);
      assert.ok((await store.atomic().add("\ud83d\ude00", 1).add("b", 1).commit()).ok);
      assert.deepEqual(await store.getMany(["a\ufffd", "a\ud83d\ude00", "\ud83d\ude00"]), [
        1,
        2,
        1,
      ]);
    }, durability);
  }
});

Deno.test("a lone surrogate's message names it and its index", async () => {
  await withStore(async (store) => {
    await rejectsType(
      () => store.add("ab\udbff", 1),
      "Cannot add: key holds a lone surrogate (U+DBFF) at index 2, which UTF-8 cannot encode; " +
        "pass well-formed text, or the key's bytes as a Uint8Array",
    );
    await rejectsType(
      () => store.get("\ud83d\ude00\ude00"),
      /^Cannot get: key holds a lone surrogate \(U\+DE00\) at index 2/,
    );
  });
});

// Item 6: a path that is a file raises a documented error class.

Deno.test("openStore on a path that is a file raises StorageIoError, as on a path under a file", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "plain");
    await Deno.writeTextFile(file, "not a store");
    await assert.rejects(openStore(file), (error: unknown) => {
      assert.ok(error instanceof StorageIoError, `expected a StorageIoError, got ${error}`);
      assert.equal(
        error.message,
        `Cannot open store at "${file}": it is a file, not a directory; give a directory path`,
      );
      return true;
    });
    await assert.rejects(openStore(join(file, "below")), StorageIoError);
    await assert.rejects(openStore({ path: file }), StorageIoError);
    assert.equal(await Deno.readTextFile(file), "not a store", "the file is left alone");
  });
});

Deno.test("options: values a getter or a prototype supplies are checked too (review)", async () => {
  const storage = new MemoryBlockStorage();
  class Config {
    storage = storage;
    get durability(): string {
      return "relaxd";
    }
  }
  await assert.rejects(openStore(new Config() as never), {
    name: "TypeError",
    message: /durability must be "strict" or "relaxed", got "relaxd"/,
  });
  await assert.rejects(
    openStore({ storage, checkpoint: Object.create({ epochMs: "50" }) }),
    { name: "TypeError", message: /epochMs must be a number/ },
  );
  await assert.rejects(
    openStore({ storage, checkpoint: Object.create({ preset: "fast" }) }),
    { name: "TypeError", message: /preset must be/ },
  );
});
