/**
 * Baseline benchmarks of the store on real files (`deno task bench`):
 * strict adds with 1 and with 1,000 concurrent callers, atomic batches of
 * 1,000 adds, point reads and prefix scans. Compare numbers from one run
 * only: this machine is shared and noisy.
 */

import { openStore, type Store } from "../mod.ts";

const dirs: string[] = [];
async function freshStore(): Promise<Store> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-bench-" });
  dirs.push(dir);
  return await openStore(dir);
}
globalThis.addEventListener("unload", () => {
  for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
});

/** Word-bigram-like keys: 1,000 "first" words × 100 "second" words. */
const readKeys = Array.from(
  { length: 100_000 },
  (_, index) => `w${index % 1000} v${Math.floor(index / 1000)}`,
);

const writes = await freshStore();
const reads = await freshStore();
for (let start = 0; start < readKeys.length; start += 10_000) {
  const atomic = reads.atomic();
  for (const key of readKeys.slice(start, start + 10_000)) atomic.add(key, 1);
  await atomic.commit();
}
let counter = 0;

Deno.bench({
  name: "add, strict, 1 caller (one fsync per add)",
  group: "add",
  baseline: true,
  async fn() {
    await writes.add(`k${counter++ % 5000}`, 1);
  },
});

Deno.bench({
  name: "add, strict, 1,000 concurrent callers (per 1,000 adds)",
  group: "add",
  async fn() {
    const pending = new Array<Promise<number>>(1000);
    for (let index = 0; index < 1000; index++) {
      pending[index] = writes.add(`k${counter++ % 5000}`, 1);
    }
    await Promise.all(pending);
  },
});

Deno.bench({
  name: "atomic batch of 1,000 adds, strict (per batch)",
  group: "add",
  async fn() {
    const atomic = writes.atomic();
    for (let index = 0; index < 1000; index++) atomic.add(`k${counter++ % 5000}`, 1);
    await atomic.commit();
  },
});

let readIndex = 0;
Deno.bench({
  name: "get, 100,000-key store (per 1,000 gets)",
  group: "read",
  baseline: true,
  async fn() {
    for (let index = 0; index < 1000; index++) {
      await reads.get(readKeys[readIndex = (readIndex + 7919) % readKeys.length]);
    }
  },
});

let prefixIndex = 0;
Deno.bench({
  name: "list prefix of 100 keys, 100,000-key store (per scan)",
  group: "read",
  async fn() {
    let seen = 0;
    for await (const _ of reads.list({ prefix: `w${prefixIndex++ % 1000} ` })) seen++;
    if (seen !== 100) throw new Error(`expected 100 keys under the prefix, saw ${seen}`);
  },
});
