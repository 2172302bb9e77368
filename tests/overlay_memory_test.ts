/**
 * A strict write whose overlay entry cannot be made for lack of memory (a
 * key over 4 KiB lives in a small trie of its own there, which allocates)
 * must fail whole: nothing logged, so a retry counts once. Found by the
 * simulator's long keys under `--memory-pressure` (seed 1, mixed, 0.01): the
 * write was logged, then refused, and would have counted twice.
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, MemoryLimitError, openStore } from "../mod.ts";
import { overlayIdBytesMax } from "../lib/engine/_overlay.ts";

/** Runs `fn` while `new ArrayBuffer(n)` throws for `n` above `bytesMax`, as V8 does out of memory. */
async function withBufferLimit<T>(bytesMax: number, fn: () => Promise<T>): Promise<T> {
  const original = globalThis.ArrayBuffer;
  globalThis.ArrayBuffer = new Proxy(original, {
    construct(target, args, newTarget) {
      if (Number(args[0] ?? 0) > bytesMax) throw new RangeError("Array buffer allocation failed");
      return Reflect.construct(target, args, newTarget);
    },
  });
  try {
    return await fn();
  } finally {
    globalThis.ArrayBuffer = original;
  }
}

const longKey = (fill: string) => fill.repeat(overlayIdBytesMax + 1);

for (const kind of ["add", "set", "delete"] as const) {
  Deno.test(`strict ${kind} of a long key the overlay cannot hold logs nothing`, async () => {
    const storage = new MemoryBlockStorage();
    const store = await openStore({ storage, checkpoint: { auto: false } });
    await store.add(longKey("a"), 1); // the log's buffers grow to long records here
    await store.set(longKey("b"), 5);
    const write = () =>
      kind === "add"
        ? store.add(longKey("b"), 2)
        : kind === "set"
        ? store.set(longKey("b"), 9)
        : store.delete(longKey("b"));
    await withBufferLimit(512, async () => {
      await assert.rejects(write(), MemoryLimitError);
    });
    assert.equal(store.stats().lastLsn, 2, "the refused write took no LSN");
    assert.equal(await store.get(longKey("b")), 5);
    await write(); // memory is back: the retry counts once
    const expected = kind === "add" ? 7 : kind === "set" ? 9 : undefined;
    assert.equal(await store.get(longKey("b")), expected);
    assert.equal(store.stats().lastLsn, 3);
    await store.close();
    const again = await openStore({ storage, checkpoint: { auto: false } });
    assert.equal(await again.get(longKey("b")), expected, "the log holds the write once");
    assert.equal(await again.get(longKey("a")), 1);
    await again.close();
  });
}
