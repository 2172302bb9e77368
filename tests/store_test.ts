/** Conformance of the public API: every call, its misuse errors and its durability. */

import assert from "node:assert/strict";
import {
  MemoryBlockStorage,
  openStore,
  type Store,
  StoreClosedError,
  StoreLockedError,
} from "../mod.ts";
import type { BlockFile } from "../lib/storage/block_storage.ts";
import { ForwardingFile, ForwardingStorage } from "./_storage_wrappers.ts";
import { writeCounters } from "../lib/store/store.ts";

const decoder = new TextDecoder();
const text = (key: Uint8Array) => decoder.decode(key);

async function withStore(
  fn: (store: Store, storage: MemoryBlockStorage) => Promise<void>,
): Promise<void> {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  try {
    await fn(store, storage);
  } finally {
    await store.close();
  }
}

async function listed(store: Store, ...args: Parameters<Store["list"]>): Promise<string[]> {
  const out: string[] = [];
  for await (const { key, value } of store.list(...args)) out.push(`${text(key)}=${value}`);
  return out;
}

Deno.test("add returns the new count and accumulates, strings and bytes alike", async () => {
  await withStore(async (store) => {
    assert.equal(await store.add("the quick", 3), 3);
    assert.equal(await store.add(new TextEncoder().encode("the quick"), 4), 7);
    assert.equal(await store.add("the quick", -7), 0);
    assert.equal(await store.get("the quick"), 0, "a count of zero is kept, not deleted");
    assert.equal(await store.add("\u00e9t\u00e9", 1), 1);
    assert.equal(
      await store.get(new Uint8Array([0xc3, 0xa9, 0x74, 0xc3, 0xa9])),
      1,
      "strings are UTF-8",
    );
  });
});

Deno.test("set, delete, get and getMany", async () => {
  await withStore(async (store) => {
    await store.set("x", 10);
    await store.set("y", Number.MAX_SAFE_INTEGER);
    assert.equal(await store.get("x"), 10);
    await store.delete("x");
    await store.delete("never-there");
    assert.equal(await store.get("x"), undefined);
    assert.deepEqual(await store.getMany(["x", "y", "z"]), [
      undefined,
      Number.MAX_SAFE_INTEGER,
      undefined,
    ]);
    assert.deepEqual(await store.getMany([]), []);
  });
});

Deno.test("list: every selector shape, limit and reverse, in byte order", async () => {
  await withStore(async (store) => {
    for (const key of ["the", "the cat", "the dog", "then", "a", "\u00ff", "thf"]) {
      await store.add(key, key.length);
    }
    assert.deepEqual(await listed(store, { prefix: "the " }), ["the cat=7", "the dog=7"]);
    assert.deepEqual(await listed(store, { prefix: "the" }), [
      "the=3",
      "the cat=7",
      "the dog=7",
      "then=4",
    ]);
    assert.deepEqual(await listed(store, { prefix: "the", start: "the d" }), [
      "the dog=7",
      "then=4",
    ]);
    assert.deepEqual(await listed(store, { prefix: "the", end: "the d" }), ["the=3", "the cat=7"]);
    assert.deepEqual(await listed(store, { start: "a", end: "the cat" }), ["a=1", "the=3"]);
    assert.deepEqual(await listed(store, { start: "the", end: "the" }), []);
    assert.deepEqual(await listed(store, { start: "z", end: "a" }), []);
    assert.deepEqual(await listed(store, { prefix: "" }, { limit: 2 }), ["a=1", "the=3"]);
    assert.deepEqual(await listed(store, { prefix: "" }, { reverse: true, limit: 2 }), [
      "\u00ff=1",
      "thf=3",
    ]);
    assert.deepEqual(await listed(store, { prefix: "the" }, { reverse: true }), [
      "then=4",
      "the dog=7",
      "the cat=7",
      "the=3",
    ]);
    const entry = (await store.list({ prefix: "a" }).next()).value!;
    assert.ok(entry.key instanceof Uint8Array && entry.value === 1);
  });
});

Deno.test("list: prefix of 0xff bytes and long listings across batches", async () => {
  await withStore(async (store) => {
    await store.set(new Uint8Array([0xff, 0xff]), 1);
    await store.set(new Uint8Array([0xff, 0xff, 0x01]), 2);
    await store.set(new Uint8Array([0xfe]), 3);
    const under = [];
    for await (const entry of store.list({ prefix: new Uint8Array([0xff, 0xff]) })) {
      under.push(entry.value);
    }
    assert.deepEqual(under, [1, 2]);
    const atomic = store.atomic();
    for (let index = 0; index < 1000; index++) {
      atomic.set(`k${String(index).padStart(4, "0")}`, index);
    }
    assert.ok((await atomic.commit()).ok);
    const forward = await listed(store, { prefix: "k" });
    assert.equal(forward.length, 1000);
    assert.equal(forward[999], "k0999=999");
    const backward = await listed(store, { prefix: "k" }, { reverse: true, limit: 600 });
    assert.equal(backward.length, 600);
    assert.equal(backward[0], "k0999=999");
    assert.equal(backward[599], "k0400=400");
  });
});

Deno.test("atomic: checks, all mutation kinds, failed checks write nothing", async () => {
  await withStore(async (store) => {
    await store.set("x", 10);
    const ok = await store.atomic().check("x", 10).check("w", undefined).add("y", 2).set("z", 1)
      .delete("x").commit();
    assert.equal(ok.ok, true);
    assert.equal(ok.ok && ok.lsn, 2);
    assert.deepEqual(await store.getMany(["x", "y", "z"]), [undefined, 2, 1]);
    const failed = await store.atomic().check("y", 3).add("y", 100).commit();
    assert.deepEqual(failed, { ok: false });
    assert.equal(await store.get("y"), 2);
    assert.equal(store.stats().lastLsn, 2, "a failed check writes no record");
    const same = await store.atomic().add("n", 1).add("n", 1).set("m", 5).add("m", -5).commit();
    assert.ok(same.ok);
    assert.deepEqual(await store.getMany(["n", "m"]), [2, 0]);
  });
});

Deno.test("atomic: a mutation leaving the range rejects the whole commit", async () => {
  await withStore(async (store) => {
    await store.set("a", 1);
    await assert.rejects(store.atomic().add("b", 5).add("a", -2).commit(), RangeError);
    assert.equal(await store.get("b"), undefined);
    assert.equal(store.stats().lastLsn, 1);
    // Writes judged after it see none of it (nothing of the batch stayed staged).
    await assert.rejects(store.add("b", -5), RangeError, "b is absent, not 5");
    assert.equal((await store.atomic().check("b", undefined).commit()).ok, true);
    assert.equal(await store.add("a", -1), 0, "a is still 1");
    const op = store.atomic().add("c", 1);
    await op.commit();
    await assert.rejects(op.commit(), TypeError);
  });
});

Deno.test("misuse: bad keys, values and deltas throw before writing", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.add("", 1), RangeError);
    await assert.rejects(store.add(new Uint8Array(65_536), 1), RangeError);
    await assert.rejects(store.add(42 as unknown as string, 1), TypeError);
    await assert.rejects(store.add("k", 1.5), RangeError);
    await assert.rejects(store.add("k", Number.NaN), RangeError);
    await assert.rejects(store.add("k", "1" as unknown as number), TypeError);
    await assert.rejects(store.add("k", -1), /leaves the range/);
    await assert.rejects(store.set("k", -1), RangeError);
    await assert.rejects(store.set("k", Number.MAX_SAFE_INTEGER + 1), RangeError);
    await store.set("big", Number.MAX_SAFE_INTEGER - 1);
    await assert.rejects(store.add("big", 2), RangeError);
    await assert.rejects(store.get(""), RangeError);
    await assert.rejects(store.getMany("ab" as unknown as string[]), TypeError);
    assert.throws(() => store.list({ start: "a" } as never), TypeError);
    assert.throws(() => store.list({ prefix: "a" }, { limit: 0 }), RangeError);
    assert.equal(store.stats().lastLsn, 1, "only the valid set was written");
    assert.equal(await store.add(new Uint8Array(65_535), 1), 1, "the longest key is accepted");
  });
});

Deno.test("range is judged against writes still in flight", async () => {
  await withStore(async (store) => {
    const first = store.add("k", 5);
    await assert.rejects(store.add("k", -6), RangeError, "5 is in flight, so -6 leaves the range");
    const second = store.add("k", -5);
    assert.deepEqual(await Promise.all([first, second]), [5, 0]);
    const check = store.atomic().check("k", 0).set("k", 9).commit();
    const set = store.set("j", 1);
    const checkAgain = await store.atomic().check("j", 1).commit();
    assert.ok(checkAgain.ok, "a check sees a set still in flight");
    assert.ok((await check).ok);
    await set;
  });
});

Deno.test("strict reads show only durable values (D11)", async () => {
  await withStore(async (store) => {
    await store.set("k", 1);
    const pending = store.add("k", 1);
    assert.equal(await store.get("k"), 1, "the add is not durable yet");
    assert.equal(await pending, 2);
    assert.equal(await store.get("k"), 2);
  });
});

Deno.test("relaxed mode resolves before fsync and sync makes it durable", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, durability: "relaxed" });
  assert.equal(await store.add("k", 1), 1);
  assert.equal(await store.get("k"), 1, "relaxed reads see buffered writes");
  assert.equal(store.stats().durableLsn, 0);
  await store.sync();
  assert.equal(store.stats().durableLsn, 1);
  await store.close();
  const again = await openStore({ storage });
  assert.equal(await again.get("k"), 1);
  await again.close();
});

Deno.test("group commit: 1000 concurrent adds share a handful of fsyncs", async () => {
  await withStore(async (store) => {
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, index) => store.add(`k${index % 10}`, 1)),
    );
    assert.equal(results.length, 1000);
    assert.equal(await store.get("k0"), 100);
    const stats = store.stats();
    assert.ok(stats.wal.groups <= 2, `1000 adds took ${stats.wal.groups} groups`);
    assert.ok(stats.wal.fsyncs <= 3, `1000 adds took ${stats.wal.fsyncs} fsyncs`);
  });
});

Deno.test("closed store: every call throws StoreClosedError", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage() });
  await store.close();
  await assert.rejects(store.add("a", 1), StoreClosedError);
  await assert.rejects(store.set("a", 1), StoreClosedError);
  await assert.rejects(store.delete("a"), StoreClosedError);
  await assert.rejects(store.get("a"), StoreClosedError);
  await assert.rejects(store.getMany(["a"]), StoreClosedError);
  await assert.rejects(store.sync(), StoreClosedError);
  assert.throws(() => store.list({ prefix: "" }), StoreClosedError);
  assert.throws(() => store.atomic(), StoreClosedError);
  await store.close();
});

Deno.test("close waits for writes in flight", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  const write = store.add("k", 1);
  await store.close();
  assert.equal(await write, 1);
  const again = await openStore({ storage });
  assert.equal(await again.get("k"), 1);
  await again.close();
});

Deno.test("second open of one storage or directory fails with StoreLockedError", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  await assert.rejects(openStore({ storage }), StoreLockedError);
  await store.close();
  (await openStore({ storage })).close();

  const dir = await Deno.makeTempDir();
  try {
    const first = await openStore(dir);
    await assert.rejects(openStore(dir), StoreLockedError);
    await first.close();
    const second = await openStore(dir);
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("second open from another process fails with a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openStore(dir);
    await store.add("k", 1);
    const script = `import { openStore } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      try { await openStore(${JSON.stringify(dir)}); console.log("opened"); }
      catch (error) { console.log(error.name + ": " + error.message); }`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const printed = decoder.decode(output.stdout);
    assert.match(printed, /StoreLockedError: Cannot open store at ".*": it is already open/);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore: option errors are clear", async () => {
  await assert.rejects(openStore({}), TypeError);
  await assert.rejects(openStore({ storage: new MemoryBlockStorage(), path: "x" }), TypeError);
  await assert.rejects(
    openStore({ storage: new MemoryBlockStorage(), durability: "fast" as never }),
    TypeError,
  );
  await assert.rejects(
    openStore({ storage: new MemoryBlockStorage(), walSegmentBytes: 10 }),
    RangeError,
  );
  await assert.rejects(
    openStore({ storage: new MemoryBlockStorage(), load: "all" as never }),
    /load must be "auto", "eager" or "lazy", got "all"/,
  );
});

Deno.test("stats report keys, lsns and the WAL", async () => {
  await withStore(async (store) => {
    await store.add("a", 1);
    await store.add("b", 1);
    const stats = store.stats();
    assert.equal(stats.keys, 2);
    assert.equal(stats.lastLsn, 2);
    assert.equal(stats.durableLsn, 2);
    assert.equal(stats.durability, "strict");
    assert.equal(stats.wal.groups, 2);
    assert.ok(stats.wal.bytesWritten > 0);
    assert.equal(stats.recovery.replayedRecords, 0);
  });
});

Deno.test("real files: counts survive reopen, segments roll over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // No automatic checkpoint: the reopen replays the whole log from the segments.
    const walOnly = { auto: false };
    const store = await openStore({ path: dir, walSegmentBytes: 4096, checkpoint: walOnly });
    for (let round = 0; round < 50; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, index) => store.add(`key ${index}`, round)));
    }
    assert.ok(store.stats().wal.segmentsCreated > 2);
    await store.close();
    const again = await openStore({ path: dir, checkpoint: walOnly });
    assert.equal(await again.get("key 7"), (49 * 50) / 2);
    assert.equal(again.stats().recovery.replayedRecords, 1000);
    assert.equal(again.stats().lastLsn, 1000);
    await again.close();
    // With them (the default), close checkpoints: the next open replays nothing.
    const third = await openStore(dir);
    await third.add("key 7", 1);
    await third.close();
    const fourth = await openStore(dir);
    assert.equal(await fourth.get("key 7"), (49 * 50) / 2 + 1);
    assert.equal(fourth.stats().recovery.replayedRecords, 0);
    assert.equal(fourth.stats().recovery.coverageLsn, 1001);
    assert.equal(fourth.stats().lastLsn, 1001);
    await fourth.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backpressure: a burst beyond the pending bound waits and completes in order", async () => {
  await withStore(async (store) => {
    const big = (index: number) => {
      const key = new Uint8Array(60_000);
      key[0] = index % 256;
      key[1] = Math.floor(index / 256);
      return key;
    };
    const burst = Array.from({ length: 700 }, (_, index) => store.add(big(index), index));
    const results = await Promise.all(burst);
    assert.deepEqual(results.slice(0, 3), [0, 1, 2]);
    assert.equal(results[699], 699);
    assert.equal(store.stats().keys, 700);
    assert.ok(store.stats().wal.groups >= 2, "the burst was split at the bound");
  });
});

Deno.test("a check-only atomic answers once the writes it saw are durable (D11)", async () => {
  await withStore(async (store) => {
    const write = store.set("k", 1);
    const checked = await store.atomic().check("k", 1).commit();
    assert.ok(checked.ok);
    assert.equal(store.stats().durableLsn, 1, "the set the check saw is durable");
    await write;
  });
});

Deno.test("string keys: ASCII, multi-byte, surrogate pairs and the UTF-8 length limit", async () => {
  await withStore(async (store) => {
    const keys = ["plain", "é", "naïve café", "😀 emoji", "a".repeat(300), "\u0800".repeat(10)];
    for (const [index, key] of keys.entries()) await store.set(key, index);
    for (const [index, key] of keys.entries()) {
      assert.equal(
        await store.get(new TextEncoder().encode(key)),
        index,
        `bytes of ${key.slice(0, 12)}`,
      );
      assert.equal(await store.get(key), index);
    }
    await assert.rejects(
      store.set("\u0800".repeat(21_846), 1),
      RangeError,
      "65,538 UTF-8 bytes is too long",
    );
    assert.equal(await store.add("\u0800".repeat(21_845), 1), 1, "65,535 UTF-8 bytes fits");
  });
});

Deno.test("overlays: one key as ASCII string, bytes, U+FFFD and long key, in flight and in one batch", async () => {
  await withStore(async (store) => {
    const long = "k".repeat(5000); // longer than the overlay's id limit: kept in a trie
    const longBytes = new TextEncoder().encode(long);
    // Not awaited: each write is judged against the ones still in flight.
    const pending = [
      store.add("ab", 1),
      store.add(Uint8Array.of(0x61, 0x62), 2),
      store.add(Uint8Array.of(0xef, 0xbf, 0xbd), 1), // U+FFFD's bytes, then the string
      store.add("\uFFFD", 1),
      store.add(long, 5),
      store.add(longBytes, 1),
      store.add("\u00e9", 1),
      store.add(Uint8Array.of(0xc3, 0xa9), 1),
    ];
    assert.deepEqual(await Promise.all(pending), [1, 3, 1, 2, 5, 6, 1, 2]);
    const committed = store.atomic()
      .add("ab", 1).add(Uint8Array.of(0x61, 0x62), 1).delete("ab").add("ab", 4)
      .add(long, 1).delete(longBytes).add(long, 2)
      .add("\uFFFD", 1).add(Uint8Array.of(0xef, 0xbf, 0xbd), 1)
      .add("\u00e9".repeat(2000), 1).add("\u00e9".repeat(2000), 1)
      .commit();
    await assert.rejects(
      store.atomic().add("ab", -5).commit(),
      RangeError,
      "judged against the batch in flight",
    );
    assert.ok((await committed).ok);
    assert.deepEqual(
      await store.getMany(["ab", long, "\uFFFD", "\u00e9".repeat(2000)]),
      [4, 2, 4, 2],
    );
    // A batch that fails its range check leaves no trace in later judgements.
    await assert.rejects(store.atomic().add("zz", 3).add("zz", -4).commit(), RangeError);
    await assert.rejects(store.atomic().add("zz", -1).commit(), RangeError);
    assert.equal(await store.get("zz"), undefined);
  });
});

Deno.test("atomic: many string keys keep their bytes until the commit is applied", async () => {
  await withStore(async (store) => {
    const keys = Array.from(
      { length: 20_000 },
      (_, index) => `key ${index} ${"é".repeat(index % 7)}`,
    );
    const atomic = store.atomic();
    for (const key of keys) atomic.add(key, 1);
    // Keys packed for this commit must not be overwritten by a later one.
    const later = store.atomic();
    for (const key of keys) later.add(`${key}!`, 2);
    const [first, second] = await Promise.all([atomic.commit(), later.commit()]);
    assert.ok(first.ok && second.ok);
    const values = await store.getMany([...keys, ...keys.map((key) => `${key}!`)]);
    assert.deepEqual(values, [...keys.map(() => 1), ...keys.map(() => 2)]);
  });
});

Deno.test("list: next() calls made at once are answered in order, across batches and loads", async () => {
  const storage = new MemoryBlockStorage();
  const words = Array.from({ length: 3000 }, (_, index) => `w${String(index).padStart(5, "0")}`);
  const first = await openStore({ storage });
  for (let start = 0; start < words.length; start += 500) {
    const atomic = first.atomic();
    for (const word of words.slice(start, start + 500)) atomic.add(word, 1);
    await atomic.commit();
  }
  await first.close();
  const store = await openStore({ storage, load: "lazy" }); // the walk meets stubs and loads them
  try {
    assert.equal(store.stats().image.nodesLoaded, 0);
    for (const reverse of [false, true]) {
      const iterator = store.list({ prefix: "w" }, { reverse, limit: 2999 });
      const results = await Promise.all(Array.from({ length: 3001 }, () => iterator.next()));
      const keys = results.filter((result) => !result.done).map((result) => text(result.value.key));
      const expected = (reverse ? [...words].reverse() : words).slice(0, 2999);
      assert.deepEqual(keys, expected);
      assert.ok(results.slice(2999).every((result) => result.done));
    }
    assert.ok(store.stats().image.nodesLoaded > 0);
  } finally {
    await store.close();
  }
});

Deno.test("list: return() ends the iteration, and so does an error", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  for (let index = 0; index < 600; index++) await store.add(`k${index}`, 1);
  const early = store.list({ prefix: "k" });
  assert.equal((await early.next()).done, false);
  assert.deepEqual(await early.return!(), { value: undefined, done: true });
  assert.equal((await early.next()).done, true);
  const cut = store.list({ prefix: "k" });
  for (let index = 0; index < 256; index++) assert.equal((await cut.next()).done, false);
  await store.close();
  await assert.rejects(cut.next(), StoreClosedError, "the next batch finds the store closed");
  assert.equal((await cut.next()).done, true);
});

Deno.test("atomic: additions judged by the value ceiling resolve exactly for the writes after them", async () => {
  await withStore(async (store, storage) => {
    await store.set("x", 10);
    // Not awaited: these sit in the gathering and in-flight groups, added to
    // values the store never looked up (the ceiling is far from the limit).
    const first = store.atomic().add("x", 5).add("fresh", 2).commit();
    const second = store.atomic().add("x", 1).add("fresh", 1).commit();
    // Exact judgements below them see the sums.
    const checked = store.atomic().check("x", 16).check("fresh", 3).commit();
    await assert.rejects(store.add("x", -17), RangeError, "x is 16, not 17 or more");
    const down = store.add("x", -16);
    const [a, b, c] = await Promise.all([first, second, checked]);
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(await down, 0);
    assert.equal(await store.get("fresh"), 3);
    assert.equal(await store.get("x"), 0);
    // A set in flight raises the ceiling at once: an addition past the limit is refused.
    const high = store.set("big", Number.MAX_SAFE_INTEGER - 1);
    await assert.rejects(store.atomic().add("big", 2).commit(), RangeError);
    const fits = store.atomic().add("big", 1).add("small", 1).commit();
    await high;
    assert.ok((await fits).ok);
    assert.equal(await store.get("big"), Number.MAX_SAFE_INTEGER);
    // With the trie's ceiling at the limit, additions are judged one by one.
    await assert.rejects(store.atomic().add("small", 1).add("big", 1).commit(), RangeError);
    assert.equal(await store.get("small"), 1, "the refused batch left nothing");
    await store.close();
    const again = await openStore({ storage });
    assert.deepEqual(await again.getMany(["x", "fresh", "big", "small"]), [
      0,
      3,
      Number.MAX_SAFE_INTEGER,
      1,
    ]);
    await again.close();
  });
});

Deno.test("atomic: batches of additions deferred by the ceiling count once, and a refused batch keeps them", async () => {
  await withStore(async (store, storage) => {
    const max = Number.MAX_SAFE_INTEGER;
    await store.set("big", max - 20);
    // Not awaited: pure additions far enough from the limit are deferred, a
    // key twice in one batch included.
    const deferred = store.atomic().add("big", 3).add("w", 1).add("big", 2).add("w", 1).commit();
    // This one could pass the limit: judged exactly on top of the deferred ones (max - 15).
    await assert.rejects(store.atomic().add("w", 1).add("big", 16).commit(), RangeError);
    const exact = store.atomic().add("big", 15).add("w", 1).commit();
    assert.ok((await deferred).ok && (await exact).ok);
    assert.deepEqual(await store.getMany(["big", "w"]), [max, 3]);
    await store.close();
    const again = await openStore({ storage });
    assert.deepEqual(await again.getMany(["big", "w"]), [max, 3], "recovered from the WAL alike");
    await again.close();
  });
});

Deno.test("atomic: additions to ASCII string keys log the bytes of byte keys and count alike", async () => {
  // One workload twice: string keys (the commit path for ASCII additions),
  // then the same keys as bytes (the general path). The logs must be equal
  // byte for byte, and so must every count, before and after a reopen.
  const encoder = new TextEncoder();
  const run = async (asBytes: boolean) => {
    const storage = new MemoryBlockStorage();
    const store = await openStore({ storage });
    const key = (text: string) => asBytes ? encoder.encode(text) : text;
    const max = Number.MAX_SAFE_INTEGER;
    const long = "k".repeat(4096);
    const pending: Promise<unknown>[] = [];
    pending.push(store.atomic().add(key("a"), 1).add(key("ab"), 2).add(key("a"), 3).commit());
    pending.push(store.atomic().add(key(long), 7).add(key("z"), 0).commit());
    pending.push(store.atomic().check(key("a"), 4).add(key("a"), 1).commit()); // sees the deferral
    await Promise.all(pending);
    await store.set(key("big"), max - 10);
    pending.push(store.atomic().add(key("big"), 4).add(key("ab"), 1).commit());
    pending.push(store.atomic().add(key("big"), 6).commit()); // reaches max: judged exactly
    await Promise.all(pending);
    await assert.rejects(store.atomic().add(key("big"), 1).commit(), RangeError);
    const counts = await store.getMany(["a", "ab", long, "z", "big"]);
    const batches = writeCounters(store).asciiBatches;
    const logs = (await storage.list()).filter((name) => name.endsWith(".wal"));
    const bytes = await Promise.all(logs.map(async (name) => {
      const file = await storage.open(name);
      return await file.read(0, await file.size());
    }));
    await store.close();
    const again = await openStore({ storage });
    assert.deepEqual(await again.getMany(["a", "ab", long, "z", "big"]), counts);
    await again.close();
    return { counts, batches, bytes };
  };
  const strings = await run(false);
  const bytes = await run(true);
  assert.deepEqual(strings.counts, [5, 3, 7, 0, Number.MAX_SAFE_INTEGER]);
  assert.deepEqual(strings.bytes, bytes.bytes, "the same log bytes");
  assert.deepEqual(bytes.counts, strings.counts);
  assert.equal(bytes.batches, 0, "byte keys take the general path");
  assert.equal(strings.batches, 3, "the ASCII path took the batches it can judge by the ceiling");
});

Deno.test("relaxed: atomic additions judged by the value ceiling apply at once", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage(), durability: "relaxed" });
  try {
    await store.atomic().add("a", 2).add("a", 3).set("b", 7).add("b", 1).commit();
    assert.deepEqual(await store.getMany(["a", "b"]), [5, 8]);
    await store.set("top", Number.MAX_SAFE_INTEGER);
    await assert.rejects(store.atomic().add("a", 1).add("top", 1).commit(), RangeError);
    assert.equal(await store.get("a"), 5, "the refused batch left nothing");
  } finally {
    await store.close();
  }
});

/** Holds every WAL fsync while `held`, until {@link HeldSyncStorage.release}. */
class HeldSyncStorage extends ForwardingStorage {
  held = false;
  #waiting: (() => void)[] = [];
  constructor() {
    super(new MemoryBlockStorage(), "memory, WAL fsyncs held on request");
  }
  override wrapFile(file: BlockFile): BlockFile {
    const gate = (): Promise<void> => this.#gate(file.name);
    return new class extends ForwardingFile {
      override async sync(): Promise<void> {
        await gate();
        return await super.sync();
      }
    }(file);
  }
  #gate(name: string): Promise<void> {
    if (!this.held || !name.endsWith(".wal")) return Promise.resolve();
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  get waiting(): number {
    return this.#waiting.length;
  }
  release(): void {
    this.held = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

Deno.test("strict: a group acknowledged before the trie holds it reads, judges and recovers exactly", async () => {
  const storage = new HeldSyncStorage();
  const store = await openStore({ storage, checkpoint: { auto: false } });
  try {
    assert.equal(await store.add("k", 5), 5);
    await store.atomic().add("k", 1).add("w", 2).commit(); // durable; applied later
    storage.held = true;
    const other = store.add("other", 1); // its fsync waits: the group above is applied meanwhile
    const again = store.add("k", 3); // judged on top of both
    for (let turn = 0; turn < 100 && storage.waiting === 0; turn++) await Promise.resolve();
    assert.equal(storage.waiting, 1, "the second group's fsync is held");
    assert.deepEqual(await store.getMany(["k", "w", "other"]), [6, 2, undefined]);
    assert.deepEqual(await listed(store, { prefix: "" }), ["k=6", "w=2"]);
    assert.equal(store.stats().keys, 2, "the group not yet durable is not in the trie");
    // Checks judge the newest values, in flight included; they answer once those are durable.
    const newest = store.atomic().check("k", 9).commit();
    const durableOnly = store.atomic().check("k", 6).commit();
    storage.release();
    assert.equal((await newest).ok, true);
    assert.equal((await durableOnly).ok, false);
    assert.equal(await other, 1);
    assert.equal(await again, 9);
    assert.deepEqual(await store.getMany(["k", "w", "other"]), [9, 2, 1]);
  } finally {
    storage.release();
    await store.close();
  }
  const reopened = await openStore({ storage });
  assert.deepEqual(await reopened.getMany(["k", "w", "other"]), [9, 2, 1]);
  await reopened.close();
});

Deno.test("relaxed atomic commits near 2^53 judge each op by its key (ops carry no overlay id)", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage(), durability: "relaxed" });
  const max = Number.MAX_SAFE_INTEGER;
  await store.set("k", max - 5);
  const ok = await store.atomic().add("k", 3).add(Uint8Array.of(107), 2).add("other", 1).commit();
  assert.equal(ok.ok, true);
  assert.equal(await store.get("k"), max);
  await assert.rejects(store.atomic().add("k", -1).add("k", 2).commit(), RangeError);
  assert.equal(await store.get("k"), max, "a refused commit writes nothing");
  const mixed = await store.atomic().delete("k").add("k", 4).set("other", max).add("other", -max)
    .commit();
  assert.equal(mixed.ok, true);
  assert.deepEqual(await store.getMany(["k", "other"]), [4, 0]);
  await store.close();
});
