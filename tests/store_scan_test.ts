/**
 * `Store.scan`: it visits what `list` lists, in the same order, for every
 * kind of selector, with limits and in reverse; a visit returning `false`
 * stops it; on a lazily opened store it loads what it meets and goes on
 * after the last key visited, never visiting a key twice.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ListOptions,
  type ListSelector,
  MemoryBlockStorage,
  openStore,
  type Store,
} from "../mod.ts";

const decoder = new TextDecoder();

async function listed(store: Store, selector: ListSelector, options: ListOptions = {}) {
  const found: string[] = [];
  for await (const { key, value } of store.list(selector, options)) {
    found.push(`${decoder.decode(key)}=${value}`);
  }
  return found;
}

async function scanned(store: Store, selector: ListSelector, options: ListOptions = {}) {
  const found: string[] = [];
  const count = await store.scan(selector, (key, value) => {
    found.push(`${decoder.decode(key)}=${value}`);
  }, options);
  assert.equal(count, found.length);
  return found;
}

/** Keys with shared prefixes and a spread of lengths: `w12 w7`, `w3`, ... */
function drawKeys(count: number): string[] {
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % 97;
  return Array.from(
    { length: count },
    (_, i) => i % 3 === 0 ? `w${next()}` : `w${next()} w${next()}`,
  );
}

const selectors: ListSelector[] = [
  { prefix: "" },
  { prefix: "w1" },
  { prefix: "w4 " },
  { prefix: "w", start: "w5" },
  { prefix: "w", end: "w5" },
  { start: "w2", end: "w7 w3" },
  { prefix: "none" },
];

async function assertScanMatchesList(store: Store): Promise<void> {
  for (const selector of selectors) {
    for (const options of [{}, { reverse: true }, { limit: 7 }, { limit: 3, reverse: true }]) {
      const what = JSON.stringify({ selector, options });
      assert.deepEqual(
        await scanned(store, selector, options),
        await listed(store, selector, options),
        what,
      );
    }
  }
}

Deno.test("scan visits what list lists, in its order, for every selector and option", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage() });
  for (const [at, key] of drawKeys(3_000).entries()) await store.add(key, 1 + (at % 5));
  await assertScanMatchesList(store);
  await store.close();
});

Deno.test("scan on a lazily opened store loads what it meets and visits each key once", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage });
  const atomic = store.atomic();
  for (const [at, key] of drawKeys(20_000).entries()) atomic.add(key, 1 + (at % 5));
  await atomic.commit();
  await store.close();
  const lazy = await openStore({ storage, load: "lazy" });
  const keys: string[] = [];
  await lazy.scan({ prefix: "" }, (key) => void keys.push(decoder.decode(key)));
  assert.equal(new Set(keys).size, keys.length, "no key visited twice");
  assert.deepEqual(keys, [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  await lazy.close();
  const again = await openStore({ storage, load: "lazy" });
  await assertScanMatchesList(again);
  await again.close();
});

Deno.test("scan stops when a visit returns false, and checks its arguments", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage() });
  for (const key of ["a", "b", "c", "d"]) await store.add(key, 1);
  const seen: string[] = [];
  const count = await store.scan({ prefix: "" }, (key) => {
    seen.push(decoder.decode(key));
    return seen.length < 2;
  });
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(count, 2);
  await assert.rejects(store.scan({ prefix: "" }, "no" as never), /visit must be a function/);
  await assert.rejects(
    store.scan({ prefix: "" }, () => {}, { limt: 2 } as never),
    /did you mean "limit"/,
  );
  await assert.rejects(store.scan({ prefix: "" }, () => {}, { limit: 0 }), RangeError);
  await store.close();
});

Deno.test("scan whose visitor writes (relaxed: applied at once) visits every key once, in order", async () => {
  const store = await openStore({ storage: new MemoryBlockStorage(), durability: "relaxed" });
  const keys = Array.from({ length: 2_000 }, (_, i) => `k${String(i).padStart(4, "0")}`);
  const atomic = store.atomic();
  for (const key of keys) atomic.add(key, 1);
  await atomic.commit();
  const seen: string[] = [];
  let writes = 0;
  await store.scan({ prefix: "k" }, (key) => {
    seen.push(decoder.decode(key));
    void store.set(`j${writes++}`, 1); // outside the range
    if (writes % 7 === 0) void store.delete(`j${writes - 3}`);
  });
  assert.deepEqual(seen, keys);
  const reverse: string[] = [];
  await store.scan({ prefix: "k" }, (key) => {
    reverse.push(decoder.decode(key));
    void store.add(`k${decoder.decode(key).slice(1)}x`, 1); // inside the range, behind the walk
  }, { reverse: true });
  assert.deepEqual(reverse, [...keys].reverse());
  await store.close();
});
