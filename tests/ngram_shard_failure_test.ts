/**
 * A failed shard stops its own writes, not the other shards' reads: a
 * failed fsync in one shard stops the import with ShardFailedError, that
 * shard reads `failed` in `stats()`, every shard still answers counts, a
 * later import refuses to write, and a reopen resumes the import with each
 * row counted once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage } from "../mod.ts";
import { type ImportSource, openNgramStore, ShardFailedError } from "../lib/ngram/mod.ts";
import type { InputSummary, NgramSink } from "../lib/ngram/input.ts";
import { FailingSyncStorage } from "./_storage_wrappers.ts";

/** One storage per part of the store, each able to fail its fsyncs, made on first use. */
function failingDisks() {
  const disks = new Map<string, FailingSyncStorage>();
  const factory = (name: string) => {
    let disk = disks.get(name);
    if (disk === undefined) {
      disk = new FailingSyncStorage(new MemoryBlockStorage(), name);
      disks.set(name, disk);
    }
    return disk;
  };
  return { disks, factory };
}

/** Reopens the store and checks the import resumes and counts every line once. */
async function assertResumes(factory: (name: string) => FailingSyncStorage): Promise<void> {
  const reopened = await openNgramStore({ storage: factory });
  const outcome = await reopened.importSource(source(), { chunkNgrams: 7 });
  assert.equal(outcome.status, "resumed");
  assert.deepEqual(
    await reopened.countMany(lines.map(([ngram]) => ngram)),
    lines.map(([, c]) => c),
  );
  await reopened.close();
}

const encoder = new TextEncoder();
const words = ["the", "a", "cat", "dog", "sat", "über", "中文", "x", "y", "z"];
const lines: [string, number][] = words.flatMap((first, i) =>
  words.map((second, j) => [`${first} ${second}`, 1 + ((i * 7 + j) % 5)] as [string, number])
);

/** A source of `lines`, a boundary after each. */
function source(): ImportSource {
  return {
    id: Uint8Array.of(42),
    optionsHash: 3,
    async read(sink: NgramSink, resumeFrom: number): Promise<InputSummary> {
      let offset = 0;
      for (const [ngram, count] of lines) {
        const bytes = encoder.encode(ngram);
        if (offset >= resumeFrom) sink.ngram(bytes, 0, bytes.length, count, offset);
        offset += bytes.length + 4;
        await sink.boundary(offset);
      }
      const summary = { lines: lines.length, rows: lines.length, ngrams: lines.length };
      return { format: "tsv", fileBytes: offset, contentBytes: offset, filtered: 0, ...summary };
    },
  };
}

Deno.test("ngram store: a failed shard stops its writes, the others still answer, a reopen resumes", async () => {
  const { disks, factory } = failingDisks();
  const store = await openNgramStore({ storage: factory, shards: 3 });
  const failing = store.shardOf("the cat");
  disks.get(`shard-000${failing}`)!.failing = true;
  await assert.rejects(
    store.importSource(source(), { chunkNgrams: 7, syncEveryChunks: 2 }),
    (error) => {
      assert.ok(error instanceof ShardFailedError, String(error));
      assert.equal(error.shard, failing);
      assert.match(error.message, /reopen the n-gram store/);
      return true;
    },
  );
  const stats = await store.stats();
  assert.deepEqual(
    stats.perShard.map((shard) => shard.state === "failed"),
    [0, 1, 2].map((index) => index === failing),
  );
  const counts = await store.countMany(lines.map(([ngram]) => ngram));
  assert.ok(counts.every((count, at) => count === 0 || count === lines[at][1]), "reads answer");
  await assert.rejects(store.importSource(source()), ShardFailedError);
  disks.get(`shard-000${failing}`)!.failing = false;
  await store.close().catch(() => {}); // the failed shard's close may report its failure
  await assertResumes(factory);
});

Deno.test("ngram store: a failed vocabulary stops imports before any count that needs its words, and a reopen resumes", async () => {
  const { disks, factory } = failingDisks();
  const store = await openNgramStore({ storage: factory, shards: 3 });
  // One chunk in; then the vocabulary's fsyncs fail, at the next chunk (it has new words).
  let boundaries = 0;
  const counting = source();
  const read = counting.read.bind(counting);
  counting.read = (sink, from) =>
    read({
      ngram: sink.ngram.bind(sink),
      boundary(end) {
        if (++boundaries === 10) disks.get("vocabulary")!.failing = true;
        return sink.boundary(end);
      },
    }, from);
  await assert.rejects(
    store.importSource(counting, { chunkNgrams: 7, syncEveryChunks: 1 }),
    /Cannot write the vocabulary: it failed/,
  );
  const stats = await store.stats();
  assert.equal(stats.vocabulary, "failed");
  assert.ok(stats.perShard.every((shard) => shard.state !== "failed"), JSON.stringify(stats));
  const counts = await store.countMany(lines.map(([ngram]) => ngram));
  assert.ok(counts.some((count) => count > 0), "the chunks before the failure are in");
  assert.ok(counts.every((count, at) => count === 0 || count === lines[at][1]), "reads answer");
  await assert.rejects(store.importSource(source()), /vocabulary: it failed/);
  disks.get("vocabulary")!.failing = false;
  await store.close().catch(() => {}); // the vocabulary's close may report its failure
  await assertResumes(factory);
});
