import assert from "node:assert/strict";
import type { ImportSource } from "./_import.ts";
import { memoryFactory } from "./fixtures.ts";
import type { InputSummary, NgramSink } from "./input.ts";
import { type NgramStore, openNgramStore } from "./store.ts";
import { StoreLockedError } from "../../mod.ts";

const encoder = new TextEncoder();

/**
 * A source of `ngram TAB count` lines held in memory: one n-gram per line,
 * a boundary after every `every` lines; `stopAfter` boundaries, then a throw
 * (a killed import).
 */
function linesSource(
  id: number,
  lines: readonly [string, number][],
  every = 3,
  stopAfter = Infinity,
): ImportSource {
  const content = lines.map(([ngram, count]) => encoder.encode(`${ngram}\t${count}\n`));
  return {
    id: Uint8Array.of(id),
    optionsHash: 7,
    async read(sink: NgramSink, resumeFrom: number): Promise<InputSummary> {
      let offset = 0;
      let boundaries = 0;
      for (const [at, bytes] of content.entries()) {
        const tab = bytes.indexOf(9);
        if (offset >= resumeFrom) sink.ngram(bytes, 0, tab, lines[at][1], offset);
        offset += bytes.length;
        if ((at + 1) % every === 0) {
          if (boundaries++ === stopAfter) throw new Error("killed");
          await sink.boundary(offset);
        }
      }
      await sink.boundary(offset);
      return {
        format: "tsv",
        fileBytes: offset,
        contentBytes: offset,
        lines: lines.length,
        rows: lines.length,
        ngrams: lines.length,
        filtered: 0,
      };
    },
  };
}

/** Every n-gram's expected count, summed. */
function recount(...inputs: (readonly [string, number][])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const lines of inputs) {
    for (const [ngram, count] of lines) counts.set(ngram, (counts.get(ngram) ?? 0) + count);
  }
  return counts;
}

async function assertCounts(store: NgramStore, expected: Map<string, number>): Promise<void> {
  const ngrams = [...expected.keys()];
  assert.deepEqual(await store.countMany(ngrams), ngrams.map((n) => expected.get(n)));
}

const fileA: [string, number][] = [
  ["the cat", 3],
  ["the dog", 5],
  ["a cat", 1],
  ["the cat sat", 2],
  ["über straße", 4],
  ["中文 词", 6],
  ["the", 40],
  ["cat", 9],
  ["the cat", 1],
  ["dog", 2],
];
const fileB: [string, number][] = [["the cat", 10], ["the bird", 10], ["bird", 3]];

Deno.test("ngram store: an import counts every row once; the same content again changes nothing", async () => {
  const storage = memoryFactory();
  const store = await openNgramStore({ storage, shards: 3 });
  const first = await store.importSource(linesSource(1, fileA), { chunkNgrams: 2 });
  assert.equal(first.status, "imported");
  await assertCounts(store, recount(fileA));
  const again = await store.importSource(linesSource(1, fileA), { chunkNgrams: 2 });
  assert.equal(again.status, "already-imported");
  await assertCounts(store, recount(fileA));
  await store.importSource(linesSource(2, fileB));
  await assertCounts(store, recount(fileA, fileB));
  assert.equal(await store.count("the zebra"), 0);
  assert.equal(await store.count("zebra"), 0);
  await store.close();
});

Deno.test("ngram store: an import cut at every boundary resumes and counts each row once", async () => {
  for (let stop = 0; stop < 3; stop++) {
    const storage = memoryFactory();
    const store = await openNgramStore({ storage, shards: 2 });
    await assert.rejects(
      store.importSource(linesSource(1, fileA, 3, stop), { chunkNgrams: 1 }),
      /killed/,
    );
    await store.close();
    const reopened = await openNgramStore({ storage });
    const outcome = await reopened.importSource(linesSource(1, fileA), { chunkNgrams: 1 });
    assert.equal(outcome.status, stop === 0 ? "imported" : "resumed", `stop ${stop}`);
    await assertCounts(reopened, recount(fileA));
    const expected = new Map<number, { order: number; total: number; distinct: number }>();
    for (const [ngram, count] of recount(fileA)) {
      const order = ngram.split(" ").length;
      const at = expected.get(order) ?? { order, total: 0, distinct: 0 };
      expected.set(order, { order, total: at.total + count, distinct: at.distinct + 1 });
    }
    assert.deepEqual(
      await reopened.totals(),
      [...expected.values()].sort((a, b) => a.order - b.order),
    );
    await reopened.close();
  }
});

Deno.test("ngram store: next gives continuations by count, ties in byte order of the word", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 4 });
  const lines: [string, number][] = [
    ["the cat", 5],
    ["the dog", 7],
    ["the ant", 5],
    ["the cow", 1],
    ["the cat sat", 1],
    ["a cat", 100],
  ];
  await store.importSource(linesSource(1, lines));
  assert.deepEqual(await store.next("the", { top: 3 }), [
    { word: "dog", count: 7 },
    { word: "ant", count: 5 },
    { word: "cat", count: 5 },
  ]);
  assert.deepEqual(await store.next("the cat"), [{ word: "sat", count: 1 }]);
  assert.deepEqual(await store.next("nothing here"), []);
  assert.equal(await store.continuationCount("the"), 4);
  const listed = [];
  for await (const entry of store.list("the")) listed.push(entry.ngram);
  assert.deepEqual(listed.sort(), ["the ant", "the cat", "the cat sat", "the cow", "the dog"]);
  await store.close();
});

Deno.test("ngram store: the shard count is fixed at creation", async () => {
  const storage = memoryFactory();
  await (await openNgramStore({ storage, shards: 3 })).close();
  await assert.rejects(openNgramStore({ storage, shards: 4 }), /has 3 shards, not 4/);
  const store = await openNgramStore({ storage });
  assert.equal(store.shardCount, 3);
  await store.close();
  await assert.rejects(openNgramStore({ storage, shard: 2 } as never), /did you mean "shards"/);
});

Deno.test("ngram store: a shard that cannot open fails the open, and every part opened is closed", async () => {
  const storage = memoryFactory();
  const store = await openNgramStore({ storage, shards: 4 });
  await store.importSource(linesSource(1, fileA));
  await store.close();
  const held = await storage("shard-0002");
  assert.ok(await held.tryLock(), "another process holds shard 2");
  // The shards open all at once: the others opened before shard 2's refusal came back.
  await assert.rejects(openNgramStore({ storage }), StoreLockedError);
  for (const name of ["", "vocabulary", "shard-0000", "shard-0001", "shard-0003"]) {
    const part = await storage(name);
    assert.ok(await part.tryLock(), `"${name}" was closed and unlocked`);
    await part.unlock();
  }
  await held.unlock();
  const reopened = await openNgramStore({ storage });
  await assertCounts(reopened, recount(fileA));
  await reopened.close();
});

Deno.test("ngram store: Stupid Backoff backs off by alpha to shorter histories", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 2 });
  await store.importSource(linesSource(1, [
    ["the", 10],
    ["cat", 4],
    ["sat", 6],
    ["the cat", 2],
    ["cat sat", 3],
  ]));
  assert.equal(await store.stupidBackoff("the cat"), 2 / 10);
  assert.equal(await store.stupidBackoff("the sat"), 0.4 * 6 / 20);
  assert.equal(await store.stupidBackoff("the cat sat"), 0.4 * 3 / 4);
  assert.equal(await store.stupidBackoff("the dog"), 0);
  await store.close();
});

Deno.test("ngram store: countMany checks every n-gram and answers in order, 0 where absent", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 3 });
  await store.importSource(linesSource(1, fileA));
  const expected = recount(fileA);
  const asked = [...expected.keys(), "zebra", "the zebra", "zebra the cat", "über", "中文 词 x"];
  assert.deepEqual(
    await store.countMany(asked),
    asked.map((ngram) => expected.get(ngram) ?? 0),
  );
  assert.deepEqual(await store.countMany([]), []);
  await assert.rejects(store.countMany(["the  cat"]), /empty token/);
  await assert.rejects(store.countMany(["zebra  cat"]), /empty token/);
  await assert.rejects(store.countMany(["the cat "]), /empty token/);
  await assert.rejects(store.countMany([" the"]), /empty token/);
  await assert.rejects(store.countMany(["\ud800"]), /lone surrogate/);
  // Two lone halves of one pair, in two n-grams: joined they would be a well-formed pair.
  await assert.rejects(store.countMany(["the \ud83d", "\ude42 cat"]), /lone surrogate/);
  const ascii = [...expected.keys()].filter((ngram) => /^[ -~]*$/.test(ngram));
  assert.ok(ascii.length > 0 && ascii.length < expected.size, "the fixture mixes ASCII and UTF-8");
  assert.deepEqual(await store.countMany(ascii), ascii.map((ngram) => expected.get(ngram)));
  await assert.rejects(store.countMany([3 as never]), /must be a string/);
  await assert.rejects(store.countMany([Array(65).fill("the").join(" ")]), RangeError);
  await assert.rejects(store.countMany([Array(65).fill("zz").join(" ")]), RangeError);
  assert.equal(await store.count(""), 0);
  await store.close();
});

/** A source that hands `lines` with a boundary after each, then throws at the end (a bad line). */
function failingSource(id: number, lines: readonly [string, number][]): ImportSource {
  const good = linesSource(id, lines, 1);
  return {
    ...good,
    async read(sink: NgramSink, resumeFrom: number): Promise<InputSummary> {
      const counting: NgramSink = {
        ngram: (...args) => sink.ngram(...args),
        boundary: (end) => end >= 0 ? undefined : sink.boundary(end), // hands, never commits
      };
      await good.read(counting, resumeFrom);
      throw new Error("malformed line");
    },
  };
}

Deno.test("ngram store: words of an import that failed get no ids a later import could reuse", async () => {
  const storage = memoryFactory();
  const store = await openNgramStore({ storage, shards: 1 });
  await assert.rejects(store.importSource(failingSource(1, [["zebra quux", 5]])), /malformed/);
  await store.importSource(linesSource(2, [["zebra quux", 7]]));
  await store.close();
  const reopened = await openNgramStore({ storage });
  assert.equal(await reopened.count("zebra quux"), 7);
  await reopened.importSource(linesSource(3, [["cat dog", 1]]));
  const held = new Map<string, number>();
  for await (const { ngram, count } of reopened.entries()) held.set(ngram, count);
  assert.deepEqual([...held].sort(), [["cat dog", 1], ["zebra quux", 7]]);
  await reopened.close();
});

Deno.test("ngram store: a count past 2^53 stops the import without failing the shard; other options are refused", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 2 });
  // Two n-grams in different shards: the overflow lands in the shard committed second.
  const candidates = Array.from({ length: 40 }, (_, i) => `w${i} x`);
  const firstShard = candidates.filter((n) => store.shardOf(n) === 0);
  const secondShard = candidates.filter((n) => store.shardOf(n) === 1);
  assert.ok(firstShard.length > 0 && secondShard.length > 0);
  const [fine, overflow] = [firstShard[0], secondShard[0]];
  await store.importSource(linesSource(9, [[overflow, Number.MAX_SAFE_INTEGER - 1]]));
  const lines: [string, number][] = [[fine, 1], [overflow, 5]];
  await assert.rejects(store.importSource(linesSource(1, lines, 100)), RangeError);
  const stats = await store.stats();
  assert.ok(stats.perShard.every((shard) => shard.state !== "failed"), JSON.stringify(stats));
  assert.equal(await store.count(fine), 1, "the shard committed before it keeps its part");
  const other = { ...linesSource(1, lines, 100), optionsHash: 8 };
  await assert.rejects(store.importSource(other), /read with other options/);
  await store.importSource(linesSource(2, [[fine, 2]]));
  assert.equal(await store.count(fine), 3, "the shards still take writes");
  await store.close();
});

Deno.test("ngram store: a file that changes while it is imported is refused before its counts are committed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/in.tsv`;
    const lines = Array.from({ length: 3_000 }, (_, i) => `w${i} x\t1\n`).join("");
    await Deno.writeTextFile(path, lines);
    const store = await openNgramStore({ storage: memoryFactory(), shards: 2 });
    let appended = false;
    const importing = store.importFile(path, {
      chunkNgrams: 100,
      onProgress: () => {
        if (!appended) Deno.writeTextFileSync(path, "late x\t5\n", { append: true });
        appended = true;
      },
    });
    await assert.rejects(importing, /changed while it was imported/);
    assert.ok(appended);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ngram store: a source that hands an n-gram the store cannot key stops the import, nothing kept", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 2 });
  const long = Array.from({ length: 65 }, (_, i) => `t${i}`).join(" ");
  for (
    const [line, message] of [
      [[long, 1], /more than 64 tokens/],
      [["a  b", 1], /an empty token/],
      [[" a", 1], /an empty token/],
      [["a ", 1], /an empty token/],
      [["a b", 0], /count of 0/],
      [["a b", 1.5], /count of 1.5/],
    ] as [[string, number], RegExp][]
  ) {
    await assert.rejects(store.importSource(linesSource(5, [line])), message);
  }
  await store.importSource(linesSource(6, [["a b", 2]]));
  assert.equal(await store.count("a b"), 2);
  const held = [];
  for await (const entry of store.entries()) held.push(entry);
  assert.deepEqual(held, [{ ngram: "a b", count: 2 }]);
  await store.close();
});

Deno.test("ngram store: import options are checked like every options object", async () => {
  const store = await openNgramStore({ storage: memoryFactory(), shards: 1 });
  await assert.rejects(
    store.importSource(linesSource(1, fileA), { chunkNgram: 5 } as never),
    /unknown option "chunkNgram", did you mean "chunkNgrams"/,
  );
  await assert.rejects(
    store.importSource(linesSource(1, fileA), { syncEveryChunks: 0 }),
    RangeError,
  );
  await assert.rejects(
    store.importSource(linesSource(1, fileA), { chunkNgrams: 500_001 }),
    RangeError,
  );
  await store.close();
});
