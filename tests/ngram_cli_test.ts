/**
 * The n-gram command line end to end, on fixtures it builds (v2 and v3
 * gzip with several members, a Spark-style directory of TSV parts, text):
 * an import of a directory counts what a plain recount counts; importing
 * again passes every file by; an import killed with SIGKILL at drawn points
 * and run again until it finishes counts every row once; bad input names
 * the file and line and leaves the files before it imported.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  gzipMembers,
  recount,
  textFixture,
  tsvFixture,
  v2Fixture,
  v3Fixture,
} from "../lib/ngram/fixtures.ts";
import { openNgramStore } from "../lib/ngram/mod.ts";
import { parseByteSize } from "../lib/ngram/cli.ts";
import type { InputFilters, InputFormat } from "../lib/ngram/input.ts";

const cli = new URL("../lib/ngram/cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();
const defaults: InputFilters = { minCount: 1, tags: "drop", order: 3 };

/** Runs the command line; returns its exit code and output. */
async function ngram(args: string[], stdin?: string) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", cli, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

/** One fixture file: where it is, its format, its text. */
interface Fixture {
  path: string;
  format: InputFormat;
  content: string;
}

/** Writes v2, v3 and text fixtures under `dir/in`, TSV parts under `dir/parts`; returns them. */
async function writeFixtures(dir: string, seed: number, ngrams: number): Promise<Fixture[]> {
  await Deno.mkdir(`${dir}/in`, { recursive: true });
  await Deno.mkdir(`${dir}/parts`, { recursive: true });
  const fixtures: Fixture[] = [
    {
      path: `${dir}/in/googlebooks-eng-all-2gram-20120701-th.gz`,
      format: "v2",
      content: v2Fixture({ seed, ngrams }),
    },
    {
      path: `${dir}/in/2-00001-of-00003.gz`,
      format: "v3",
      content: v3Fixture({ seed: seed + 1, ngrams }),
    },
    {
      path: `${dir}/parts/part-00000`,
      format: "tsv",
      content: tsvFixture({ seed: seed + 2, ngrams }),
    },
    {
      path: `${dir}/parts/part-00001`,
      format: "tsv",
      content: tsvFixture({ seed: seed + 3, ngrams }),
    },
    {
      path: `${dir}/in/text.txt`,
      format: "text",
      content: textFixture({ seed: seed + 4, lines: ngrams / 10 }),
    },
  ];
  for (const { path, content } of fixtures) {
    const data = path.endsWith(".gz") ? gzipMembers(content, 3) : new TextEncoder().encode(content);
    await Deno.writeFile(path, data);
  }
  await Deno.writeTextFile(`${dir}/parts/_SUCCESS`, "");
  return fixtures;
}

/** Every n-gram's expected count over `fixtures`, read with `filters`. */
function expectedCounts(fixtures: Fixture[], filters: InputFilters): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { format, content } of fixtures) {
    for (const [ngram, count] of recount(format, content, filters).counts) {
      counts.set(ngram, (counts.get(ngram) ?? 0) + count);
    }
  }
  return counts;
}

/** Checks the store at `path` holds exactly `expected`, totals included. */
async function assertStoreHolds(path: string, expected: Map<string, number>): Promise<void> {
  const store = await openNgramStore(path);
  try {
    const held = new Map<string, number>();
    for await (const { ngram, count } of store.entries()) held.set(ngram, count);
    const wrong = [...expected].filter(([ngram, count]) => held.get(ngram) !== count).slice(0, 5);
    assert.deepEqual(wrong.map(([n, c]) => `${n}: ${held.get(n)} want ${c}`), []);
    assert.equal(held.size, expected.size, "no n-gram the inputs lack");
    const distinct = (await store.totals()).reduce((sum, order) => sum + order.distinct, 0);
    assert.equal(distinct, expected.size);
  } finally {
    await store.close();
  }
}

Deno.test("ngram cli: import a directory, count, next, stats; again passes every file by", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixtures = await writeFixtures(dir, 11, 3_000);
    const first = await ngram([
      "import",
      `${dir}/store`,
      `${dir}/in`,
      `${dir}/parts`,
      "--shards",
      "3",
    ]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.err, /done: 5 files \(5 imported, 0 resumed, 0 already imported\)/);
    const expected = expectedCounts(fixtures, defaults);
    await assertStoreHolds(`${dir}/store`, expected);
    const again = await ngram(["import", `${dir}/store`, `${dir}/in`, `${dir}/parts`]);
    assert.equal(again.code, 0, again.err);
    assert.match(again.err, /0 imported, 0 resumed, 5 already imported/);
    await assertStoreHolds(`${dir}/store`, expected);
    const [some, other] = [...expected.keys()];
    const counted = await ngram(["count", `${dir}/store`, some, "no such ngram"]);
    assert.equal(counted.out, `${some}\t${expected.get(some)}\nno such ngram\t0\n`);
    const piped = await ngram(["count", `${dir}/store`], `${other}\r\n${some}\n`);
    assert.equal(piped.out, `${other}\t${expected.get(other)}\n${some}\t${expected.get(some)}\n`);
    const first2 = [...expected].find(([ngram]) => ngram.split(" ").length === 2)![0];
    const history = first2.split(" ")[0];
    const next = await ngram(["next", `${dir}/store`, history, "--top", "3"]);
    const want = [...expected]
      .filter(([ngram]) => ngram.split(" ").length === 2 && ngram.split(" ")[0] === history)
      .map(([ngram, count]) => [ngram.split(" ")[1], count] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
    assert.equal(next.out, want.map(([word, count]) => `${word}\t${count}\n`).join(""));
    const stats = JSON.parse((await ngram(["stats", `${dir}/store`, "--json"])).out);
    assert.equal(stats.shards, 3);
    assert.deepEqual(stats.perShard.map((shard: { state: string }) => shard.state), [
      "clean",
      "clean",
      "clean",
    ]);
    assert.ok(stats.words > 0 && stats.vocabulary === "clean", JSON.stringify(stats));
    const compacted = await ngram(["compact", `${dir}/store`]);
    assert.equal(compacted.code, 0, compacted.err);
    await assertStoreHolds(`${dir}/store`, expected);
    const nowhere = await ngram(["compact", `${dir}/no-store`]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /there is none/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ngram cli: filters (years, min-count, tags keep) count what the recount counts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixtures = (await writeFixtures(dir, 21, 1_500)).filter((f) =>
      f.format === "v2" || f.format === "v3"
    );
    const filters: InputFilters = {
      years: { from: 1850, to: 1950 },
      minCount: 20,
      tags: "keep",
      order: 3,
    };
    const paths = fixtures.map((f) => f.path);
    const run = await ngram([
      "import",
      `${dir}/store`,
      ...paths,
      "--years",
      "1850..1950",
      "--min-count",
      "20",
      "--tags",
      "keep",
    ]);
    assert.equal(run.code, 0, run.err);
    await assertStoreHolds(`${dir}/store`, expectedCounts(fixtures, filters));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ngram cli: --memory-budget takes bytes or a binary unit; sizes it cannot read are refused", () => {
  const sizes: [string, number | undefined][] = [
    ["65536", 65536],
    ["512MiB", 512 * 2 ** 20],
    ["1GiB", 2 ** 30],
    ["1 GiB", 2 ** 30],
    ["64kib", 65536],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["2TiB", 2 * 2 ** 40],
    ["0.5KiB", 512],
    ["1GB", undefined],
    ["1G", undefined],
    ["1.5", undefined],
    ["0.1KiB", undefined],
    ["-1", undefined],
    ["1e9", undefined],
    ["", undefined],
    ["GiB", undefined],
    ["99999999TiB", undefined],
  ];
  for (const [text, bytes] of sizes) assert.equal(parseByteSize(text), bytes, `"${text}"`);
});

Deno.test("ngram cli: every command takes --memory-budget; a budgeted import counts what the recount counts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixtures = await writeFixtures(dir, 41, 2_000);
    const store = `${dir}/store`;
    const budget = ["--memory-budget", "64KiB"];
    const imported = await ngram([
      "import",
      store,
      `${dir}/in`,
      `${dir}/parts`,
      "--shards",
      "3",
      ...budget,
    ]);
    assert.equal(imported.code, 0, imported.err);
    const expected = expectedCounts(fixtures, defaults);
    await assertStoreHolds(store, expected);
    const [some] = [...expected.keys()];
    const counted = await ngram(["count", store, some, ...budget]);
    assert.equal(counted.out, `${some}\t${expected.get(some)}\n`, counted.err);
    const stats = JSON.parse((await ngram(["stats", store, "--json", ...budget])).out);
    assert.equal(stats.memory.budget, 65536);
    assert.deepEqual(
      stats.perShard.map((shard: { memory: { budget: number } }) => shard.memory.budget),
      [
        20480,
        20480,
        20480,
      ],
    );
    for (const command of [["next", store, "the"], ["export", store], ["compact", store]]) {
      const run = await ngram([...command, ...budget]);
      assert.equal(run.code, 0, `${command[0]}: ${run.err}`);
    }
    await assertStoreHolds(store, expected);
    const unreadable = await ngram(["stats", store, "--memory-budget", "1GB"]);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.err, /--memory-budget takes bytes or a size with KiB.*got "1GB"/);
    const small = await ngram(["count", store, some, "--memory-budget", "12KiB"]);
    assert.equal(small.code, 1);
    assert.match(small.err, /memoryBudget must be an integer of at least 16384 bytes for 3 shards/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs an import and kills it with SIGKILL after `delayMs`; whether the kill landed. */
async function importKilled(args: string[], delayMs: number): Promise<boolean> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "null" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* it finished first */ }
  }, delayMs);
  const status = await child.status;
  clearTimeout(timer);
  if (status.success) return false;
  assert.equal(status.signal, "SIGKILL", `the import failed with exit ${status.code}`);
  return true;
}

Deno.test("ngram cli: an import killed at drawn points and run again counts every row once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixtures = await writeFixtures(dir, 31, 12_000);
    const expected = expectedCounts(fixtures, defaults);
    const inputs = [`${dir}/in`, `${dir}/parts`];
    const tuning = ["--shards", "4", "--chunk-ngrams", "50"];
    const probeStarted = performance.now();
    const probe = await ngram(["import", `${dir}/probe`, ...inputs, ...tuning]);
    assert.equal(probe.code, 0, probe.err);
    // A busy machine (the suite runs in parallel) makes the probe slow and the runs after it
    // fast: a kill that came after its import ended shortens the runs' time from there on.
    let fullMs = performance.now() - probeStarted;
    let kills = 0;
    const kill = async (args: string[], share: number) => {
      if (await importKilled(args, fullMs * share)) kills++;
      else fullMs *= 0.6;
    };
    // Each scenario: a fresh store, killed at a point of a full run, then killed
    // again (or not) during the resumed run, then finished and checked.
    for (const [scenario, share] of [0.3, 0.5, 0.7, 0.9].entries()) {
      const store = `${dir}/store-${scenario}`;
      const args = [
        "run",
        "--allow-read",
        "--allow-write",
        cli,
        "import",
        store,
        ...inputs,
        ...tuning,
      ];
      await kill(args, share);
      await kill(args, share / 2);
      const finished = await ngram(["import", store, ...inputs]);
      assert.equal(finished.code, 0, finished.err);
      await assertStoreHolds(store, expected);
    }
    assert.ok(kills >= 3, `only ${kills} of 8 kills landed inside an import`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ngram cli: a malformed line names file and line; the files before it stay imported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.tsv`, "the cat\t3\nthe dog\t4\n");
    await Deno.writeTextFile(`${dir}/b.tsv`, "a b\t1\nbad line without a count\nc d\t2\n");
    const run = await ngram([
      "import",
      `${dir}/store`,
      `${dir}/a.tsv`,
      `${dir}/b.tsv`,
      "--format",
      "tsv",
    ]);
    assert.equal(run.code, 1);
    assert.match(run.err, /b\.tsv.*line 2/s);
    const counted = await ngram(["count", `${dir}/store`, "the cat", "a b", "c d"]);
    assert.equal(counted.out, "the cat\t3\na b\t0\nc d\t0\n");
    const missing = await ngram(["import", `${dir}/store`, `${dir}/nope.gz`]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.gz/);
    const typo = await ngram(["count", `${dir}/no-store`, "the cat"]);
    assert.equal(typo.code, 1);
    assert.match(typo.err, /there is none at ".*no-store"; import into it first/);
    await assert.rejects(Deno.stat(`${dir}/no-store`), Deno.errors.NotFound, "nothing created");
    const usage = await ngram(["import", `${dir}/store`, `${dir}/a.tsv`, "--tags", "maybe"]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--tags must be drop, keep/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
