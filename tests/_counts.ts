/**
 * Filling a store in tests: key `i` counts `i + 1`, added in atomic batches;
 * and reading every count back.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../mod.ts";

/** Keys a batch of {@link addCounts} adds. */
const batchKeys = 500;

/**
 * Adds `i + 1` to `key(i)` for every `i` below `n`, in atomic batches,
 * awaiting `afterBatch` after each; returns the expected counts.
 */
export async function addCounts(
  store: Store,
  n: number,
  key: (i: number) => string,
  afterBatch?: () => Promise<void>,
): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  for (let from = 0; from < n; from += batchKeys) {
    const op = store.atomic();
    for (let i = from; i < Math.min(n, from + batchKeys); i++) {
      op.add(key(i), i + 1);
      expected.set(key(i), i + 1);
    }
    assert.ok((await op.commit()).ok);
    await afterBatch?.();
  }
  return expected;
}

/** Every key of `store` (as text) with its count. */
export async function readAll(store: Store): Promise<Map<string, number>> {
  const state = new Map<string, number>();
  const decoder = new TextDecoder();
  for await (const { key, value } of store.list({ prefix: "" })) {
    state.set(decoder.decode(key), value);
  }
  return state;
}
