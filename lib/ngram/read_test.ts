/**
 * The readers against the fixtures' plain recount (every format, gzip with
 * one or several members and plain, CRLF, no final line end, filters, and
 * pieces cut anywhere), the boundary promise, resume, detection, malformed
 * lines, damaged and missing files, fingerprints and directory expansion.
 */

import assert from "node:assert/strict";
import type { InputFilters, InputFormat, InputSummary, NgramSink } from "./input.ts";
import {
  CorruptInputError,
  detectFormat,
  expandInputs,
  fingerprint,
  InputFormatError,
  InputPathError,
  readNgrams,
  type ReadOptions,
} from "./read.ts";
import { drive, lineBytesMax } from "./_driver.ts";
import { checkReadOptions } from "./_read_options.ts";
import {
  gzipMembers,
  type Handed,
  recount,
  textFixture,
  tsvFixture,
  v2Fixture,
  v3Fixture,
  writeTsvParts,
} from "./fixtures.ts";

const decoder = new TextDecoder();

/** A sink that records what it is handed and checks the boundary promise as it goes. */
class RecordingSink implements NgramSink {
  handed: Handed[] = [];
  /** Each boundary with the number of n-grams handed before it. */
  boundaries: { end: number; handed: number }[] = [];
  #waiting = false;

  constructor(readonly asyncBoundaries = false) {}

  ngram(bytes: Uint8Array, start: number, end: number, count: number, offset: number): void {
    assert.ok(!this.#waiting, "nothing is handed while a boundary's promise is pending");
    assert.ok(Number.isSafeInteger(count) && count > 0, `count ${count} is positive`);
    const last = this.boundaries[this.boundaries.length - 1];
    assert.ok(last === undefined || offset >= last.end, `offset ${offset} is below a boundary`);
    this.handed.push({ ngram: decoder.decode(bytes.subarray(start, end)), count, offset });
  }

  boundary(end: number): void | Promise<void> {
    assert.ok(!this.#waiting);
    for (const handed of this.handed) assert.ok(handed.offset < end, "handed before: below end");
    this.boundaries.push({ end, handed: this.handed.length });
    if (!this.asyncBoundaries) return;
    // Resolved a few microtasks later: a reader that did not await would hand on at once.
    this.#waiting = true;
    return Promise.resolve().then(() => Promise.resolve()).then(() => {
      this.#waiting = false;
    });
  }
}

const keepAll: InputFilters = { minCount: 0, tags: "keep", order: 3 };

/** Reads `path` through the driver, pieces cut into parts of `pieceBytesMax` bytes. */
async function read(
  path: string,
  options: Partial<ReadOptions> & { sink: NgramSink },
  pieceBytesMax?: number,
): Promise<InputSummary> {
  const full: ReadOptions = { format: "auto", filters: keepAll, ...options };
  const checked = checkReadOptions(path, full);
  return await drive({
    path,
    checked,
    sink: full.sink,
    onProgress: full.onProgress,
    pieceBytesMax,
  });
}

/** Runs `fn` with a fresh temporary directory. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-ngram-read-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `content` to `path`, gzipped as `members` members (0: plain). */
async function writeContent(path: string, content: string, members: number): Promise<void> {
  await Deno.writeFile(
    path,
    members === 0 ? new TextEncoder().encode(content) : gzipMembers(content, members),
  );
}

/** Checks a read of `content` (format `format`) against the plain recount. */
async function checkAgainstRecount(
  path: string,
  format: InputFormat,
  content: string,
  filters: InputFilters,
  pieceBytesMax?: number,
): Promise<void> {
  const sink = new RecordingSink(pieceBytesMax !== undefined);
  const summary = await read(path, { format: "auto", filters, sink }, pieceBytesMax);
  const expected = recount(format, content, filters);
  const what = `${format} ${JSON.stringify(filters)} pieces ${pieceBytesMax}`;
  assert.equal(summary.format, format, what);
  assert.deepEqual(sink.handed, expected.handed, what);
  assert.equal(summary.ngrams, expected.handed.length, what);
  assert.equal(summary.filtered, expected.filtered, what);
  assert.equal(summary.rows, expected.rows, what);
  assert.equal(summary.lines, expected.lines, what);
  assert.equal(summary.contentBytes, new TextEncoder().encode(content).length, what);
  assert.equal(summary.fileBytes, (await Deno.stat(path)).size, what);
  const last = sink.boundaries[sink.boundaries.length - 1];
  assert.deepEqual(last, { end: summary.contentBytes, handed: sink.handed.length }, what);
}

const filterSets: InputFilters[] = [
  { minCount: 0, tags: "keep", order: 3 },
  { minCount: 1, tags: "drop", order: 2 },
  { minCount: 100, tags: "drop", order: 1, years: { from: 1900, to: 1950 } },
];

/** The fixtures of each format, `options` applied. */
function fixtures(options: { lineEnd?: "\n" | "\r\n"; finalLineEnd?: boolean }) {
  return [
    { format: "v2", content: v2Fixture({ seed: 1, ngrams: 300, ...options }) },
    { format: "v3", content: v3Fixture({ seed: 2, ngrams: 300, ...options }) },
    { format: "tsv", content: tsvFixture({ seed: 3, ngrams: 300, ...options }) },
    { format: "text", content: textFixture({ seed: 4, lines: 100, ...options }) },
  ] as const;
}

Deno.test("read: every format, plain and gzip (one member or several), matches the recount under each filter set", async () => {
  await withDir(async (dir) => {
    for (const { format, content } of fixtures({})) {
      for (const members of [0, 1, 3]) {
        const path = `${dir}/${format}-${members}`;
        await writeContent(path, content, members);
        for (const filters of filterSets) {
          const fit = format === "text"
            ? { ...filters, minCount: 0, years: undefined }
            : format === "tsv"
            ? { ...filters, years: undefined }
            : filters;
          await checkAgainstRecount(path, format, content, fit);
        }
      }
    }
  });
});

Deno.test("read: lines cut by pieces anywhere (1 to 97 bytes), CRLF and a last line without its end", async () => {
  await withDir(async (dir) => {
    for (const options of [{}, { lineEnd: "\r\n" as const }, { finalLineEnd: false }]) {
      for (const { format, content } of fixtures(options)) {
        const short = content.slice(0, 3000);
        const whole = short.slice(0, short.lastIndexOf("\n") + 1);
        const path = `${dir}/${format}`;
        const text = options.finalLineEnd === false ? whole.replace(/\r?\n$/, "") : whole;
        await writeContent(path, text, 1);
        const filters = format === "text" ? { ...keepAll, order: 2 } : keepAll;
        for (const pieceBytesMax of [1, 2, 3, 7, 97]) {
          await checkAgainstRecount(path, format, text, filters, pieceBytesMax);
        }
      }
    }
  });
});

/** Reads `content` (a string, or bytes) from a temporary file; returns the sink and summary. */
async function readContent(
  content: string | Uint8Array,
  options: Partial<ReadOptions> = {},
  name = "input",
): Promise<{ sink: RecordingSink; summary: InputSummary; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-ngram-read-" });
  const path = `${dir}/${name}`;
  try {
    await Deno.writeFile(
      path,
      typeof content === "string" ? new TextEncoder().encode(content) : content,
    );
    const sink = new RecordingSink();
    const summary = await read(path, { ...options, sink });
    return { sink, summary, path };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `n-gram=count` of each n-gram handed. */
function pairs(sink: RecordingSink): string[] {
  return sink.handed.map((handed) => `${handed.ngram}=${handed.count}`);
}

Deno.test("read: part-of-speech tags, suffixed and bare, dropped or kept; _START_ and _END_ are ordinary", async () => {
  const tagged = [
    ",_.",
    "_NOUN_ cat",
    "_._ x",
    "_X_",
    "a_b_X",
    "the_DET cat",
    "x_ADJ y",
    "x_ADP",
    "x_ADV",
    "x_CONJ",
    "x_NUM",
    "x_PRON",
    "x_PRT",
    "x_VERB",
    "café_NOUN",
    "x __NOUN",
  ];
  const plain = [
    "_START_ the",
    "book_NOUN_",
    "_NOUN",
    "book",
    "cat _END_",
    "x_NOUNS",
    "x_adj",
    "_",
    "__",
    "_._x",
    "x_",
    "_START__",
  ];
  const all = [...tagged, ...plain].sort();
  for (const format of ["v2", "v3", "tsv"] as const) {
    const line = (ngram: string) =>
      format === "v2"
        ? `${ngram}\t2000\t5\t1\n`
        : format === "v3"
        ? `${ngram}\t2000,5,1\n`
        : `${ngram}\t5\n`;
    const content = all.map(line).join("");
    const dropped = await readContent(content, { filters: { ...keepAll, tags: "drop" } });
    assert.deepEqual(pairs(dropped.sink), plain.sort().map((ngram) => `${ngram}=5`), format);
    assert.equal(dropped.summary.filtered, tagged.length, format);
    const kept = await readContent(content, { filters: keepAll });
    assert.deepEqual(pairs(kept.sink), all.map((ngram) => `${ngram}=5`), format);
    assert.deepEqual(
      recount(format, content, { ...keepAll, tags: "drop" }).handed,
      dropped.sink.handed,
    );
  }
  const text = await readContent("the_DET cat sat\n", {
    format: "text",
    filters: { ...keepAll, tags: "drop", order: 2 },
  });
  assert.deepEqual(pairs(text.sink), ["cat=1", "sat=1", "cat sat=1"]);
  assert.equal(text.summary.filtered, 2);
});

Deno.test("read: UTF-8 n-grams reach the sink byte for byte", async () => {
  const ngrams = ["café naïve", "straße", "中文 日本語", "😀 👍🏽", "ﬁn Œuvre", "Ελλάδα", "\u0085x"];
  const content = ngrams.map((ngram, i) => `${ngram}\t${1990 + i}\t${i + 1}\t1\n`).join("");
  const { sink } = await readContent(content, { format: "v2" });
  assert.deepEqual(pairs(sink), ngrams.map((ngram, i) => `${ngram}=${i + 1}`));
});

Deno.test("read: v2 sums the rows of a run within the years; min-count applies to that sum; a run seen again is handed again", async () => {
  const content = [
    "a b\t1899\t100\t1",
    "a b\t1900\t3\t1",
    "a b\t1950\t4\t1",
    "a b\t1951\t100\t1",
    "a c\t1800\t7\t1", // no year within: sum 0, filtered
    "a d\t1900\t1\t1", // below min-count
    "a d\t1901\t1\t1",
    "a b\t1920\t10\t1", // the run of "a b" again
    "",
  ].join("\n");
  const { sink, summary } = await readContent(content, {
    filters: { ...keepAll, minCount: 3, years: { from: 1900, to: 1950 } },
  });
  assert.deepEqual(sink.handed, [
    { ngram: "a b", count: 7, offset: 0 },
    { ngram: "a b", count: 10, offset: 95 },
  ]);
  assert.equal(summary.filtered, 2);
  assert.equal(summary.rows, 8);
  assert.equal(summary.ngrams, 2);
});

Deno.test("read: an explicit format overrides detection", async () => {
  const content = "the cat\t12\nthe dog\t3\n";
  assert.equal((await readContent(content)).summary.format, "tsv");
  const { sink, summary } = await readContent(content, {
    format: "text",
    filters: { ...keepAll, order: 1 },
  });
  assert.equal(summary.format, "text");
  assert.deepEqual(pairs(sink), ["the=1", "cat=1", "12=1", "the=1", "dog=1", "3=1"]);
});

Deno.test("detectFormat: v2, v3, tsv and text, gzipped or not; the majority of the first lines decides", async () => {
  await withDir(async (dir) => {
    const cases: [string, string][] = [
      [v2Fixture({ seed: 5, ngrams: 20 }), "v2"],
      [v3Fixture({ seed: 5, ngrams: 20 }), "v3"],
      [tsvFixture({ seed: 5, ngrams: 20 }), "tsv"],
      [textFixture({ seed: 5, lines: 20 }), "text"],
      [v2Fixture({ seed: 5, ngrams: 20, lineEnd: "\r\n" }), "v2"],
      ["a\t1900,1,1\n", "v3"], // one year: two fields, told from tsv by its commas
      ["bad line\na\t1\t1\t1\nb\t1\t1\t1\n", "v2"], // a bad first line is named by the reader
      ["a\t1\nb c\nd e\n", "text"], // tsv on a third of the lines
      ["a\t1\nb\t1\t1\t1\nb\t1\t1\t1\nc\n", "v2"],
      ["col1\tcol2\nx\ty\n", "text"],
      ["", "text"],
      ["\n\n", "text"],
      ["a\t1", "tsv"], // no final line end
    ];
    for (const [index, [content, format]] of cases.entries()) {
      for (const members of [0, 2]) {
        const path = `${dir}/${index}-${members}`;
        await writeContent(path, content, members);
        assert.equal(await detectFormat(path), format, `${JSON.stringify(content)} ${members}`);
      }
    }
    // A sample cut in a line leaves the cut line out.
    const long = "a b\t1900\t1\t1\n".repeat(6000) + "x".repeat(10);
    await writeContent(`${dir}/long`, long, 0);
    assert.equal(await detectFormat(`${dir}/long`), "v2");
  });
});

Deno.test("read: empty content is read as text with nothing in it, even with a min-count", async () => {
  const { sink, summary } = await readContent("", { filters: { ...keepAll, minCount: 40 } });
  assert.deepEqual(sink.handed, []);
  assert.deepEqual(sink.boundaries, [{ end: 0, handed: 0 }]);
  assert.equal(summary.format, "text");
  assert.equal(summary.contentBytes, 0);
});

/** Bytes of `parts`: strings as UTF-8, numbers as single bytes. */
function bytesOf(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((part) =>
    typeof part === "string" ? new TextEncoder().encode(part) : Uint8Array.from(part)
  );
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}

/** Malformed lines of each format: the line (bytes or text) and what the message must say. */
const malformed: Record<InputFormat, [string | Uint8Array, RegExp][]> = {
  v2: [
    ["a\t2000\t1", /expected 4 tab-separated fields .*found 3 fields$/],
    ["a\t2000\t1\t1\t5", /found 5 fields$/],
    ["a", /found 1 field$/],
    ["", /the line is empty: expected 4/],
    ["a\tyear\t1\t1", /the year "year" is not a number$/],
    ["a\t12345\t1\t1", /the year "12345" is out of range 0\.\.9999$/],
    ["a\t\t1\t1", /the year "" is not a number$/],
    ["a\t2000\t-1\t1", /the match count "-1" is not a non-negative integer$/],
    ["a\t2000\t1.5\t1", /the match count "1\.5" is not a non-negative integer$/],
    ["a\t2000\t\t1", /the match count "" is not a non-negative integer$/],
    ["a\t2000\t 1\t1", /the match count " 1" is not a non-negative integer$/],
    [
      "a\t2000\t99999999999999999\t1",
      /the match count "99999999999999999" is above the largest safe integer \(9007199254740991\)$/,
    ],
    ["a\t2000\t9007199254740992\t1", /the match count "9007199254740992" is above the largest/],
    ["a\t2000\t1\tx", /the volume count "x" is not a non-negative integer$/],
    ["a\t2000\t1\t", /the volume count "" is not/],
    ["a\t2000\t1\t1\rx", /the volume count "1\\rx" is not/],
    ["a\t2000\t1\t1e3", /the volume count "1e3" is not/],
    [
      "a  b\t2000\t1\t1",
      /the n-gram "a {2}b" has two spaces in a row: tokens are separated by one space$/,
    ],
    [" a\t2000\t1\t1", /the n-gram " a" starts with a space$/],
    ["a \t2000\t1\t1", /the n-gram "a " ends with a space$/],
    [" \t2000\t1\t1", /the n-gram " " starts with a space$/],
    ["\t2000\t1\t1", /the n-gram is empty$/],
    ["a\0b\t2000\t1\t1", /the n-gram "a\\u0000b" holds a NUL byte$/],
    [
      bytesOf("a", [0xff], "\t2000\t1\t1"),
      /the n-gram "a\uFFFD" is not valid UTF-8 \(byte 0xff at byte 2 of the n-gram\)$/,
    ],
    [bytesOf("x", [0xc0, 0xaf], "\t2000\t1\t1"), /not valid UTF-8 \(byte 0xc0 at byte 2/],
    [bytesOf([0xed, 0xa0, 0x80], "\t2000\t1\t1"), /not valid UTF-8 \(byte 0xed at byte 1/],
    [bytesOf("ab", [0xe4, 0xb8], "\t2000\t1\t1"), /not valid UTF-8 \(byte 0xe4 at byte 3/],
    [bytesOf([0xf4, 0x90, 0x80, 0x80], "\t2000\t1\t1"), /not valid UTF-8 \(byte 0xf4/],
    [Array(65).fill("w").join(" ") + "\t2000\t1\t1", /has 65 tokens, more than 64$/],
  ],
  v3: [
    [
      "a",
      /expected an n-gram and at least one tab-separated year,match_count,volume_count, found 1 field$/,
    ],
    ["a\t2000,1", /field 2 "2000,1" is not year,match_count,volume_count$/],
    ["a\t2000,1,1,1", /field 2 "2000,1,1,1" is not year,match_count,volume_count$/],
    ["a\t2000,1,1\t", /field 3 "" is not year,match_count,volume_count$/],
    ["a\t2000,1,1\t2001,x,1", /the match count "x" is not a non-negative integer$/],
    ["a\t20000,1,1", /the year "20000" is out of range/],
    ["a\t2000,1,-1", /the volume count "-1" is not/],
    ["a\t2000 1 1", /field 2 "2000 1 1" is not year/],
    ["a\t2000,1,1 ", /the volume count "1 " is not/],
    ["a  b\t2000,1,1", /two spaces in a row/],
    ["", /the line is empty/],
  ],
  tsv: [
    ["a", /expected 2 tab-separated fields \(ngram, count\), found 1 field$/],
    ["a\t1\t2", /found 3 fields$/],
    ["a\tx", /the count "x" is not a non-negative integer$/],
    ["a\t-1", /the count "-1" is not/],
    ["a\t", /the count "" is not/],
    ["a\t12345678901234567", /the count "12345678901234567" is above the largest safe integer/],
    ["a b \t1", /ends with a space/],
    [bytesOf("a", [0x80], "\t1"), /not valid UTF-8/],
  ],
  text: [
    ["a\0b", /the line holds a NUL byte at byte 2: is this a text file\?$/],
    [
      bytesOf("ok ", [0xfe]),
      /the line "ok \uFFFD" is not valid UTF-8 \(byte 0xfe at byte 4 of the line\)$/,
    ],
  ],
};

/** Two good lines of each format. */
const goodLines: Record<InputFormat, string> = {
  v2: "a\t2000\t1\t1\nb\t2000\t2\t1\n",
  v3: "a\t2000,1,1\nb\t2000,2,1\n",
  tsv: "a\t1\nb\t2\n",
  text: "a\nb\n",
};

Deno.test("read: a malformed line is an InputFormatError naming the file, the line and what is wrong; nothing after it is handed", async () => {
  for (const [format, cases] of Object.entries(malformed) as [InputFormat, typeof malformed.v2][]) {
    for (const [line, detail] of cases) {
      for (const lineEnd of ["\n", "\r\n", ""]) {
        if (lineEnd === "" && line === "") continue; // without a line end, no line at all
        for (const members of [0, 1]) {
          const content = bytesOf(
            goodLines[format],
            line,
            lineEnd,
            lineEnd ? "c\t2000\t1\t1\n" : "",
          );
          const what = `${format} ${JSON.stringify(typeof line === "string" ? line : [...line])}`;
          const sink = new RecordingSink();
          await withDir(async (dir) => {
            const path = `${dir}/bad "file"`;
            await Deno.writeFile(path, members === 0 ? content : gzipMembers(content, members));
            const error = await read(path, { format, sink }).then(() => undefined, (e) => e);
            assert.ok(error instanceof InputFormatError, `${what}: ${error}`);
            assert.equal(error.file, path, what);
            assert.equal(error.line, 3, what);
            assert.equal(error.format, format, what);
            assert.match(error.detail, detail, what);
            assert.equal(
              error.message,
              `Cannot read ${JSON.stringify(path)} at line 3 (${format}): ${error.detail}`,
            );
          });
          // v2's "b" is still pending (its run might go on) when the bad line stops the read.
          const expected = format === "text" ? ["a=1", "b=1"] : format === "v2" ? ["a=1"] : [
            "a=1",
            "b=2",
          ];
          assert.deepEqual(pairs(sink), expected, `${what}: nothing after the bad line`);
        }
      }
    }
  }
});

Deno.test("read: v2 match counts of one n-gram that add up past 2^53 - 1 are an error at the row that does it", async () => {
  const content = "a\t2000\t9007199254740990\t1\na\t2001\t1\t1\na\t2002\t1\t1\n";
  const error = await readContent(content).then(() => undefined, (e) => e);
  assert.ok(error instanceof InputFormatError);
  assert.equal(error.line, 3);
  assert.match(
    error.detail,
    /the match counts of "a" add up to more than the largest safe integer/,
  );
  const v3 = await readContent("x\t2000,1,1\na\t2000,9007199254740990,1\t2001,2,1\n", {
    format: "v3",
  })
    .then(() => undefined, (e) => e);
  assert.ok(v3 instanceof InputFormatError);
  assert.equal(v3.line, 2);
});

Deno.test("read: a line longer than 16 MiB is an error, not a reader holding any amount", async () => {
  const content = new Uint8Array(lineBytesMax + 10).fill(0x61);
  const error = await readContent(content, { format: "text" }).then(() => undefined, (e) => e);
  assert.ok(error instanceof InputFormatError);
  assert.equal(error.line, 1);
  assert.match(error.detail, /the line is longer than 16777216 bytes/);
});

/** The error `promise` rejects with (fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof Error, `expected a rejection, got ${error}`);
  return error;
}

Deno.test("read: a missing file or a directory is the runtime's error naming the path", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/nope.gz`;
    const sink = new RecordingSink();
    const calls = [
      () => readNgrams(path, { format: "auto", filters: keepAll, sink }),
      () => detectFormat(path),
      () => fingerprint(path),
      () => expandInputs([path]),
    ];
    for (const call of calls) {
      const error = await rejection(call());
      assert.ok(error instanceof Deno.errors.NotFound, String(error));
      assert.equal(error.message, `Cannot read ${JSON.stringify(path)}: no such file or directory`);
      assert.ok(error.cause instanceof Deno.errors.NotFound);
    }
    const directory = await rejection(readNgrams(dir, { format: "v2", filters: keepAll, sink }));
    assert.ok(directory instanceof Deno.errors.IsADirectory);
    assert.match(directory.message, /^Cannot read ".*": it is a directory: name its files/);
    assert.deepEqual(sink.handed, []);
    assert.deepEqual(sink.boundaries, []);
  });
});

Deno.test("read: damaged gzip (truncated, bad bytes, bad checksum, a damaged second member) is a CorruptInputError naming the file", async () => {
  const content = v2Fixture({ seed: 7, ngrams: 2000 });
  const whole = gzipMembers(content, 1);
  const two = gzipMembers(content, 2);
  const flipped = (bytes: Uint8Array, at: number) => {
    const copy = bytes.slice();
    copy[at] ^= 0x55;
    return copy;
  };
  const damaged: [string, Uint8Array][] = [
    ["truncated", whole.subarray(0, whole.length - 100)],
    ["truncated trailer", whole.subarray(0, whole.length - 3)],
    ["bad bytes", flipped(whole, Math.floor(whole.length / 2))],
    ["bad checksum", flipped(whole, whole.length - 6)],
    ["second member truncated", two.subarray(0, two.length - 50)],
    ["garbage after the magic", bytesOf([0x1f, 0x8b], "this is not deflate data at all")],
    ["garbage after a member", bytesOf(whole, "garbage")],
  ];
  for (const [what, bytes] of damaged) {
    await withDir(async (dir) => {
      const path = `${dir}/damaged.gz`;
      await Deno.writeFile(path, bytes);
      const sink = new RecordingSink();
      const error = await rejection(read(path, { format: "v2", sink }));
      assert.ok(error instanceof CorruptInputError, `${what}: ${error}`);
      assert.equal(error.file, path);
      assert.match(
        error.message,
        /^Cannot read ".*damaged\.gz": its gzip data is corrupt after line \d+: .+; download or copy the file again$/,
      );
      const lines = content.split("\n").length - 1;
      assert.ok(error.linesRead <= lines, what);
      // detectFormat reads the first 64 KiB only: damage further on goes unseen.
      const detected = await detectFormat(path).then(() => undefined, (e) => e);
      if (what === "garbage after the magic") assert.ok(detected instanceof CorruptInputError);
      else assert.ok(detected === undefined || detected instanceof CorruptInputError, what);
    });
  }
});

Deno.test("read: resumeFrom at any offset hands exactly the n-grams whose first row or line starts there or later", async () => {
  await withDir(async (dir) => {
    const contents: [InputFormat, string][] = [
      ["v2", v2Fixture({ seed: 11, ngrams: 60, years: { min: 1, max: 8 } })],
      ["v2", v2Fixture({ seed: 12, ngrams: 40, lineEnd: "\r\n", finalLineEnd: false })],
      ["v3", v3Fixture({ seed: 13, ngrams: 60 })],
      ["tsv", tsvFixture({ seed: 14, ngrams: 60 })],
      ["text", textFixture({ seed: 15, lines: 30, tokensMax: 8 })],
    ];
    for (const [format, content] of contents) {
      const path = `${dir}/${format}`;
      await writeContent(path, content, 1);
      const filters = format === "text"
        ? { ...keepAll, tags: "drop" as const }
        : { ...keepAll, tags: "drop" as const, minCount: 50 };
      const full = new RecordingSink();
      const summary = await read(path, { format, filters, sink: full }, 13);
      const ends = new Set(full.boundaries.map((boundary) => boundary.end));
      assert.ok(ends.size > 20, `${format}: many boundaries`);
      // Every boundary, and each line start, the byte before it and the one after.
      const offsets = new Set([...ends, summary.contentBytes]);
      const bytes = new TextEncoder().encode(content);
      for (let i = 0; i < bytes.length; i++) {
        if (i === 0 || bytes[i - 1] === 0x0a) {
          for (const at of [i - 1, i, i + 1]) offsets.add(Math.max(0, at));
        }
      }
      for (const resumeFrom of offsets) {
        const sink = new RecordingSink(true);
        const resumed = await read(path, { format, filters, sink, resumeFrom }, 29);
        const what = `${format} resumeFrom ${resumeFrom}`;
        assert.deepEqual(sink.handed, full.handed.filter((h) => h.offset >= resumeFrom), what);
        assert.ok(sink.boundaries.every((boundary) => boundary.end >= resumeFrom), what);
        assert.equal(resumed.contentBytes, summary.contentBytes, what);
        assert.equal(resumed.lines, summary.lines, what);
      }
    }
  });
});

Deno.test("read: v2 rows that continue an n-gram begun before resumeFrom are passed over too", async () => {
  const content = "a\t1900\t1\t1\na\t1901\t2\t1\na\t1902\t4\t1\nb\t1900\t8\t1\n";
  // Rows of 11 bytes: "a" starts at 0 (rows at 0, 11, 22), "b" at 33; 44 bytes in all.
  const cases: [number, string[], number][] = [
    [0, ["a=7", "b=8"], 4],
    [1, ["b=8"], 3],
    [11, ["b=8"], 3],
    [12, ["b=8"], 2],
    [22, ["b=8"], 2],
    [33, ["b=8"], 1],
    [34, [], 0],
    [44, [], 0],
  ];
  for (const [resumeFrom, expected, rows] of cases) {
    const { sink, summary } = await readContent(content, { resumeFrom });
    assert.deepEqual(pairs(sink), expected, `resumeFrom ${resumeFrom}`);
    assert.equal(summary.rows, rows, `resumeFrom ${resumeFrom}`);
    assert.equal(summary.lines, 4);
  }
  const error = await rejection(readContent(content, { resumeFrom: 45 }));
  assert.ok(error instanceof RangeError);
  assert.match(error.message, /resumeFrom \(45\) is past the end of its content \(44 bytes\)/);
});

Deno.test("read: after the sink throws, nothing more reaches it", async () => {
  const content = v2Fixture({ seed: 21, ngrams: 500 });
  for (const throwAt of ["ngram", "boundary"] as const) {
    await withDir(async (dir) => {
      const path = `${dir}/in.gz`;
      await Deno.writeFile(path, gzipMembers(content, 2));
      let calls = 0;
      let thrown = false;
      const sink: NgramSink = {
        ngram: () => {
          assert.ok(!thrown, "called after a throw");
          calls++;
          if (throwAt === "ngram" && calls === 40) {
            thrown = true;
            throw new Error("sink full");
          }
        },
        boundary: () => {
          assert.ok(!thrown, "called after a throw");
          if (throwAt === "boundary" && calls > 40) {
            thrown = true;
            return Promise.reject(new Error("commit failed"));
          }
        },
      };
      const error = await rejection(read(path, { format: "v2", sink }, 500));
      assert.match(error.message, throwAt === "ngram" ? /sink full/ : /commit failed/);
      assert.ok(thrown);
    });
  }
});

Deno.test("read: progress reports content and file bytes as they grow, ending at the content's and the file's sizes", async () => {
  await withDir(async (dir) => {
    const content = v2Fixture({ seed: 22, ngrams: 20_000 });
    const path = `${dir}/in.gz`;
    await Deno.writeFile(path, gzipMembers(content, 3));
    const reports: { contentBytes: number; fileBytes: number; lines: number; rows: number }[] = [];
    const summary = await readNgrams(path, {
      format: "v2",
      filters: keepAll,
      sink: new RecordingSink(),
      onProgress: (progress) => reports.push(progress),
    });
    assert.ok(reports.length > 1, `${reports.length} reports`);
    for (let i = 1; i < reports.length; i++) {
      for (const key of ["contentBytes", "fileBytes", "lines", "rows"] as const) {
        assert.ok(reports[i][key] >= reports[i - 1][key], key);
      }
    }
    const last = reports[reports.length - 1];
    assert.equal(last.contentBytes, summary.contentBytes);
    assert.equal(last.fileBytes, (await Deno.stat(path)).size);
    assert.equal(last.rows, summary.rows);
    assert.equal(summary.fileBytes, last.fileBytes);
  });
});

Deno.test("fingerprint: the same content under another path is the same; one byte changed, one byte more or an 8 MiB piece boundary differs", async () => {
  await withDir(async (dir) => {
    const pieceBytes = 8 * 1024 * 1024;
    const content = new Uint8Array(pieceBytes + 1000).map((_, i) => (i * 7919) & 0xff);
    await Deno.writeFile(`${dir}/a`, content);
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeFile(`${dir}/sub/b.gz`, content);
    const a = await fingerprint(`${dir}/a`);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(await fingerprint(`${dir}/sub/b.gz`), a);
    const seen = new Set([a]);
    for (const at of [0, pieceBytes - 1, pieceBytes, content.length - 1]) {
      const changed = content.slice();
      changed[at] ^= 1;
      await Deno.writeFile(`${dir}/c`, changed);
      seen.add(await fingerprint(`${dir}/c`));
    }
    for (const length of [0, 1, pieceBytes - 1, pieceBytes, pieceBytes + 1, content.length + 1]) {
      const other = new Uint8Array(length);
      other.set(content.subarray(0, length));
      await Deno.writeFile(`${dir}/d`, other);
      seen.add(await fingerprint(`${dir}/d`));
    }
    assert.equal(seen.size, 11, "every file has its own fingerprint");
    // The layout, computed here plainly: SHA-256 of the pieces' digests and the size (LE).
    const digest = async (bytes: Uint8Array<ArrayBuffer>) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const summary = new Uint8Array(2 * 32 + 8);
    summary.set(await digest(content.subarray(0, pieceBytes)), 0);
    summary.set(await digest(content.subarray(pieceBytes)), 32);
    summary.set([0xe8, 0x03, 0x80, 0, 0, 0, 0, 0], 64); // 8 MiB + 1000 = 0x8003e8
    const hex = Array.from(await digest(summary), (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(a, hex);
  });
});

Deno.test("expandInputs: files as given, a job's part files in order with _SUCCESS, a download directory's files, errors for the rest", async () => {
  await withDir(async (dir) => {
    const job = `${dir}/job`;
    const contents = await writeTsvParts(job, { seed: 31, ngrams: 90, parts: 3 });
    await Deno.writeTextFile(`${job}/_committed_123`, "");
    await Deno.mkdir(`${job}/_temporary`);
    const google = `${dir}/google`;
    await Deno.mkdir(google);
    for (
      const name of [
        "googlebooks-eng-all-2gram-20120701-th.gz",
        "googlebooks-eng-all-2gram-20120701-a_.gz",
        ".DS_Store",
      ]
    ) {
      await Deno.writeTextFile(`${google}/${name}`, "");
    }
    const single = `${dir}/one.tsv`;
    await Deno.writeTextFile(single, "a\t1\n");
    assert.deepEqual(await expandInputs([single, `${job}/`, google]), [
      single,
      `${job}/part-00000`,
      `${job}/part-00001`,
      `${job}/part-00002`,
      `${google}/googlebooks-eng-all-2gram-20120701-a_.gz`,
      `${google}/googlebooks-eng-all-2gram-20120701-th.gz`,
    ]);
    // The parts read back as the job wrote them.
    let total = 0;
    for (const [index, path] of (await expandInputs([job])).entries()) {
      const { sink } = await readContent(await Deno.readFile(path));
      assert.deepEqual(sink.handed, recount("tsv", contents[index], keepAll).handed);
      total += sink.handed.length;
    }
    assert.equal(total, 90);

    await Deno.remove(`${job}/_SUCCESS`);
    const unfinished = await rejection(expandInputs([job]));
    assert.ok(unfinished instanceof InputPathError);
    assert.equal(unfinished.path, job);
    assert.match(
      unfinished.message,
      /it has part files but no _SUCCESS: the job that wrote it did not finish/,
    );

    await Deno.mkdir(`${google}/more`);
    const nested = await rejection(expandInputs([google]));
    assert.ok(nested instanceof InputPathError);
    assert.match(
      nested.message,
      /it holds the directory "more", and directories are not read recursively/,
    );

    await Deno.mkdir(`${dir}/empty`);
    await Deno.writeTextFile(`${dir}/empty/.hidden`, "");
    const empty = await rejection(expandInputs([`${dir}/empty`]));
    assert.ok(empty instanceof InputPathError);
    assert.match(empty.message, /it holds no data files/);

    await assert.rejects(expandInputs("x" as unknown as string[]), TypeError);
  });
});

/** Misused options of `readNgrams`, each with its message and error type. */
function misuseCases(base: ReadOptions): [unknown, RegExp, ErrorConstructor][] {
  return [
    [{ ...base, fromat: "v2" }, /unknown option "fromat", did you mean "format"\?$/, TypeError],
    [{ ...base, bogus: 1 }, /unknown option "bogus", expected one of format, filters/, TypeError],
    [
      { ...base, format: "v4" },
      /format must be one of "auto", "v2", "v3", "tsv", "text", got "v4"/,
      TypeError,
    ],
    [{ ...base, sink: {} }, /sink must be an object with ngram and boundary methods/, TypeError],
    [
      { ...base, resumeFrom: -1 },
      /resumeFrom must be a non-negative safe integer, got -1/,
      RangeError,
    ],
    [{ ...base, resumeFrom: 1.5 }, /resumeFrom must be/, RangeError],
    [{ ...base, onProgress: 3 }, /onProgress must be a function, got 3/, TypeError],
    [
      { ...base, filters: { ...keepAll, mincount: 3 } },
      /unknown filter "mincount", did you mean "minCount"\?/,
      TypeError,
    ],
    [
      { ...base, filters: { ...keepAll, minCount: -1 } },
      /filters.minCount must be a non-negative safe integer, got -1/,
      RangeError,
    ],
    [
      { ...base, filters: { ...keepAll, tags: "maybe" } },
      /filters.tags must be "drop" or "keep", got "maybe"/,
      TypeError,
    ],
    [
      { ...base, filters: { ...keepAll, order: 0 } },
      /filters.order must be an integer from 1 to 64, got 0/,
      RangeError,
    ],
    [
      { ...base, filters: { ...keepAll, order: 65 } },
      /filters.order must be an integer from 1 to 64/,
      RangeError,
    ],
    [
      { ...base, filters: { ...keepAll, years: { from: 2000, to: 1900 } } },
      /filters.years.from \(2000\) is after filters.years.to \(1900\): swap them/,
      RangeError,
    ],
    [
      { ...base, filters: { ...keepAll, years: { from: 1900, to: 10000 } } },
      /filters.years.to must be a year from 0 to 9999, got 10000/,
      RangeError,
    ],
    [
      { ...base, filters: { ...keepAll, years: { from: 1900, till: 2000 } } },
      /unknown filters.years key "till"/,
      TypeError,
    ],
    [{ ...base, filters: undefined }, /filters must be an object, got undefined/, TypeError],
    [undefined, /options must be an object, got undefined/, TypeError],
  ];
}

Deno.test("read: misused options are a TypeError or RangeError naming the option before anything is read", async () => {
  const sink = new RecordingSink();
  const base: ReadOptions = { format: "auto", filters: keepAll, sink };
  const cases = misuseCases(base);
  await withDir(async (dir) => {
    const path = `${dir}/in.tsv`;
    await Deno.writeTextFile(path, "a\t1\n");
    for (const [options, message, type] of cases) {
      const error = await rejection(readNgrams(path, options as ReadOptions));
      assert.ok(error instanceof type, `${message}: ${error}`);
      assert.match(error.message, new RegExp(`^Cannot read ".*in\\.tsv": `), String(error));
      assert.match(error.message, message);
    }
    const noPath = await rejection(readNgrams("", base));
    assert.ok(noPath instanceof TypeError);
    // Filters that do not fit the format (detected or given): before anything reaches the sink.
    const text = await rejection(
      readNgrams(path, { ...base, format: "text", filters: { ...keepAll, minCount: 2 } }),
    );
    assert.ok(text instanceof TypeError);
    assert.match(text.message, /filters.minCount does not apply to text/);
    const years = await rejection(
      readNgrams(path, { ...base, filters: { ...keepAll, years: { from: 1, to: 2 } } }),
    );
    assert.ok(years instanceof TypeError);
    assert.match(years.message, /filters.years does not apply to tsv: it has no years/);
    assert.deepEqual(sink.handed, []);
    assert.deepEqual(sink.boundaries, []);
  });
});
