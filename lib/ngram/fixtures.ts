/**
 * Input files for tests and benches, shaped like the ones users have and
 * the same for the same seed: Google Books Ngram v2 and v3 (rows sorted by
 * n-gram, a few years each between 1800 and 2019), TSV counts (also as a
 * job's `part-*` directory with `_SUCCESS`) and plain text, over a Zipf-like
 * vocabulary that mixes common English words, made-up words, UTF-8 words
 * (é, ß, 中文, emoji), punctuation, part-of-speech tagged tokens
 * (`word_NOUN`, `,_.`), bare tags (`_NOUN_`, `_._`) and `_START_`/`_END_`.
 * {@link gzipMembers} compresses content as one gzip member or several.
 *
 * {@link recount} is the expected result of reading a fixture: it counts
 * the content again with plain string operations (split on lines, tabs and
 * `\s+`, a regular expression for tags), sharing no code with the readers,
 * so a test that compares the two can fail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recount, v2Fixture } from "./fixtures.ts";
 * const content = v2Fixture({ seed: 1, ngrams: 50 });
 * const expected = recount("v2", content, { minCount: 0, tags: "keep", order: 1 });
 * assert.equal(expected.handed.length, 50);
 * assert.equal(v2Fixture({ seed: 1, ngrams: 50 }), content);
 * ```
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import type { InputFilters, InputFormat } from "./input.ts";
import { MemoryBlockStorage } from "../../mod.ts";
import type { StorageFactory } from "./store.ts";

/**
 * A deterministic PRNG (mulberry32): floats in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeRandom } from "./fixtures.ts";
 * assert.ok(makeRandom(7)() === makeRandom(7)());
 * ```
 */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 12 part-of-speech tags of Google Books Ngram. */
export const tagNames = [
  "NOUN",
  "VERB",
  "ADJ",
  "ADV",
  "PRON",
  "DET",
  "ADP",
  "NUM",
  "CONJ",
  "PRT",
  ".",
  "X",
] as const;

const commonWords = (
  "the of and to in a is that for it as was with be by on not he I this are or his from at " +
  "which but have an they you were her she there one all we can their has been if more when " +
  "will would who so no time people year way day man thing woman life child world school " +
  "state family student group country problem hand part place case week company system"
).split(" ");
const utf8Words = [
  "café",
  "naïve",
  "straße",
  "Ångström",
  "façade",
  "中文",
  "日本語",
  "москва",
  "Ελλάδα",
  "עברית",
  "😀",
  "👍🏽",
  "ﬁn",
  "Œuvre",
];
const punctuation = [",", ".", "!", "?", ";", ":", "'s", "--", '"', "(", ")", "...", "-"];
const syllables = ["ka", "lo", "mi", "nu", "ter", "ra", "sen", "dor", "vi", "que", "th", "ion"];

/** The vocabulary: `size` words, the most frequent first. */
function vocabulary(random: () => number, size: number): string[] {
  const words = new Set<string>([...commonWords]);
  for (let i = 0; words.size < size - utf8Words.length - punctuation.length; i++) {
    let word = "";
    const count = 1 + Math.floor(random() * 4);
    for (let s = 0; s < count; s++) word += syllables[Math.floor(random() * syllables.length)];
    words.add(i % 17 === 0 ? word[0].toUpperCase() + word.slice(1) : word);
  }
  const list = [...words];
  // Punctuation and UTF-8 words among the frequent ones.
  list.splice(3, 0, ...punctuation.slice(0, 4));
  list.splice(40, 0, ...utf8Words, ...punctuation.slice(4));
  return list;
}

/** A Zipf-like rank in [0, size): log-uniform, so a few are frequent and most are rare. */
function zipf(random: () => number, size: number): number {
  return Math.min(size - 1, Math.floor(Math.exp(random() * Math.log(size + 1))) - 1);
}

/** The options of the n-gram fixtures. */
export interface NgramFixtureOptions {
  /** Seed of the generator. */
  seed: number;
  /** Distinct n-grams. */
  ngrams: number;
  /** Most tokens per n-gram; default 3. */
  order?: number;
  /** Fewest tokens per n-gram; default 1 (Google's files hold one order: give both). */
  orderMin?: number;
  /** Fewest and most years per n-gram (v2, v3); default 1 and 6. */
  years?: { min: number; max: number };
  /** Words in the vocabulary; default 2,000. */
  words?: number;
  /** Fraction of tokens that carry a tag suffix; default 0.08. */
  taggedShare?: number;
  /** Line ends; default "\n". */
  lineEnd?: "\n" | "\r\n";
  /** Whether the last line ends with a line end; default true. */
  finalLineEnd?: boolean;
}

/** One n-gram of a fixture and its rows. */
interface FixtureNgram {
  ngram: string;
  rows: { year: number; match: number; volume: number }[];
}

/** The distinct n-grams of a fixture, sorted by their UTF-8 bytes, with their years. */
function fixtureNgrams(options: NgramFixtureOptions): FixtureNgram[] {
  const random = makeRandom(options.seed);
  const order = options.order ?? 3;
  const orderMin = options.orderMin ?? 1;
  const words = vocabulary(random, options.words ?? 2000);
  const taggedShare = options.taggedShare ?? 0.08;
  const ngrams = new Set<string>();
  const attemptsMax = 100 * options.ngrams + 1000;
  for (let attempt = 0; ngrams.size < options.ngrams && attempt < attemptsMax; attempt++) {
    const length = orderMin + Math.floor(random() * (order - orderMin + 1));
    const tokens: string[] = [];
    for (let t = 0; t < length; t++) {
      const draw = random();
      const tag = tagNames[Math.floor(random() * tagNames.length)];
      const word = words[zipf(random, words.length)];
      if (draw < taggedShare) tokens.push(`${word}_${tag}`);
      else if (draw < taggedShare + 0.02) tokens.push(`_${tag}_`);
      else if (draw < taggedShare + 0.04 && t === 0) tokens.push("_START_");
      else if (draw < taggedShare + 0.06 && t === length - 1) tokens.push("_END_");
      else tokens.push(word);
    }
    ngrams.add(tokens.join(" "));
  }
  const encoder = new TextEncoder();
  const sorted = [...ngrams].map((ngram) => ({ ngram, bytes: encoder.encode(ngram) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes));
  const { min, max } = options.years ?? { min: 1, max: 6 };
  return sorted.map(({ ngram }) => ({ ngram, rows: fixtureYears(random, min, max) }));
}

/** The rows of one n-gram: `min` to `max` distinct years in 1800..2019, ascending. */
function fixtureYears(random: () => number, min: number, max: number): FixtureNgram["rows"] {
  const count = min + Math.floor(random() * (max - min + 1));
  const years = new Set<number>();
  while (years.size < count) years.add(1800 + Math.floor(random() * 220));
  return [...years].sort((a, b) => a - b).map((year) => {
    const match = 1 + zipf(random, 5000);
    return { year, match, volume: 1 + Math.floor(random() * match) };
  });
}

/** Joins `lines` with `options`' line end, and a final one if asked. */
function joinLines(lines: string[], options: NgramFixtureOptions): string {
  const end = options.lineEnd ?? "\n";
  return lines.join(end) + (options.finalLineEnd === false || lines.length === 0 ? "" : end);
}

/**
 * A Google Books Ngram v2 file's content: `ngram TAB year TAB match_count TAB
 * volume_count`, one row per n-gram and year, sorted by n-gram.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { v2Fixture } from "./fixtures.ts";
 * const rows = v2Fixture({ seed: 1, ngrams: 10, lineEnd: "\r\n" }).split("\r\n");
 * assert.ok(rows[0].split("\t").length === 4);
 * ```
 */
export function v2Fixture(options: NgramFixtureOptions): string {
  const lines: string[] = [];
  for (const { ngram, rows } of fixtureNgrams(options)) {
    for (const row of rows) lines.push(`${ngram}\t${row.year}\t${row.match}\t${row.volume}`);
  }
  return joinLines(lines, options);
}

/**
 * A Google Books Ngram v3 file's content: `ngram TAB year,match,volume TAB ...`, sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { v3Fixture } from "./fixtures.ts";
 * assert.ok(v3Fixture({ seed: 1, ngrams: 10 }).split("\n").length === 11);
 * ```
 */
export function v3Fixture(options: NgramFixtureOptions): string {
  const lines = fixtureNgrams(options).map(({ ngram, rows }) =>
    [ngram, ...rows.map((row) => `${row.year},${row.match},${row.volume}`)].join("\t")
  );
  return joinLines(lines, options);
}

/**
 * TSV counts (`ngram TAB count`), as a Spark or Hadoop job writes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tsvFixture } from "./fixtures.ts";
 * assert.ok(/^[^\t]+\t\d+$/.test(tsvFixture({ seed: 1, ngrams: 10 }).split("\n")[0]));
 * ```
 */
export function tsvFixture(options: NgramFixtureOptions): string {
  const lines = fixtureNgrams(options).map(({ ngram, rows }) =>
    `${ngram}\t${rows.reduce((sum, row) => sum + row.match, 0)}`
  );
  return joinLines(lines, options);
}

/** The options of {@link textFixture}. */
export interface TextFixtureOptions {
  /** Seed of the generator. */
  seed: number;
  /** Lines of text. */
  lines: number;
  /** Most tokens per line; default 20. */
  tokensMax?: number;
  /** Line ends; default "\n". */
  lineEnd?: "\n" | "\r\n";
  /** Whether the last line ends with a line end; default true. */
  finalLineEnd?: boolean;
}

/** Whitespace between tokens of the text fixture: mostly spaces, and every kind `\s` matches. */
const textSpaces = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\u3000", "\u2003", " \v", "\f"];

/**
 * Plain text: lines of words, punctuation, UTF-8 words and the odd tagged
 * token, separated by runs of whitespace of every kind (with leading and
 * trailing whitespace and empty lines).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recount, textFixture } from "./fixtures.ts";
 * const text = textFixture({ seed: 1, lines: 5 });
 * assert.ok(recount("text", text, { minCount: 0, tags: "keep", order: 2 }).lines === 5);
 * ```
 */
export function textFixture(options: TextFixtureOptions): string {
  const random = makeRandom(options.seed);
  const words = vocabulary(random, 500);
  const lines: string[] = [];
  for (let l = 0; l < options.lines; l++) {
    const count = Math.floor(random() * ((options.tokensMax ?? 20) + 1));
    let line = random() < 0.1 ? textSpaces[Math.floor(random() * textSpaces.length)] : "";
    for (let t = 0; t < count; t++) {
      if (t > 0) line += textSpaces[Math.floor(random() * textSpaces.length)];
      const word = words[zipf(random, words.length)];
      line += random() < 0.03
        ? `${word}_${tagNames[Math.floor(random() * tagNames.length)]}`
        : word;
    }
    if (random() < 0.1) line += " ";
    lines.push(line);
  }
  const end = options.lineEnd ?? "\n";
  return lines.join(end) + (options.finalLineEnd === false || lines.length === 0 ? "" : end);
}

/**
 * `content` gzipped as `members` gzip members, cut at line ends (a member
 * may be empty), concatenated as `cat a.gz b.gz` would.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gunzipSync } from "node:zlib";
 * import { gzipMembers } from "./fixtures.ts";
 * const gz = gzipMembers("a\nb\nc\n", 3);
 * assert.ok(new TextDecoder().decode(gunzipSync(gz)) === "a\nb\nc\n");
 * ```
 */
export function gzipMembers(content: string | Uint8Array, members = 1): Uint8Array {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let member = 1; member <= members; member++) {
    let end = member === members ? bytes.length : Math.floor((bytes.length * member) / members);
    while (end < bytes.length && end > start && bytes[end - 1] !== 0x0a) end++;
    parts.push(gzipSync(bytes.subarray(start, end)));
    start = end;
  }
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

/** The options of {@link writeTsvParts}. */
export interface TsvPartsOptions extends NgramFixtureOptions {
  /** Part files; the n-grams are spread over them in order. */
  parts: number;
  /** Whether to write `_SUCCESS`; default true. */
  success?: boolean;
  /** Whether to gzip the parts (`part-00000.gz`); default false. */
  gzip?: boolean;
}

/**
 * Writes a job's output into the directory `dir` (created): `part-00000`
 * ... with TSV counts, hidden `.crc` files, and `_SUCCESS`. Returns the
 * contents of the parts in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeTsvParts } from "./fixtures.ts";
 * const dir = await Deno.makeTempDir();
 * const parts = await writeTsvParts(`${dir}/job`, { seed: 1, ngrams: 20, parts: 2 });
 * assert.ok(parts.length === 2 && (await Deno.stat(`${dir}/job/_SUCCESS`)).isFile);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTsvParts(dir: string, options: TsvPartsOptions): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const lines = tsvFixture({ ...options, lineEnd: "\n", finalLineEnd: true }).split("\n");
  lines.pop();
  const contents: string[] = [];
  for (let part = 0; part < options.parts; part++) {
    const from = Math.floor((lines.length * part) / options.parts);
    const to = Math.floor((lines.length * (part + 1)) / options.parts);
    const content = lines.slice(from, to).map((line) => `${line}\n`).join("");
    const name = `part-${String(part).padStart(5, "0")}${options.gzip ? ".gz" : ""}`;
    await Deno.writeFile(
      `${dir}/${name}`,
      options.gzip ? gzipMembers(content) : new TextEncoder().encode(content),
    );
    await Deno.writeTextFile(`${dir}/.${name}.crc`, "crc");
    contents.push(content);
  }
  if (options.success ?? true) await Deno.writeTextFile(`${dir}/_SUCCESS`, "");
  return contents;
}

/** One n-gram as a reader should hand it. */
export interface Handed {
  ngram: string;
  count: number;
  /** Byte offset of its first row or line in the content. */
  offset: number;
}

/** What reading a fixture should give. */
export interface Recount {
  /** The n-grams handed, in order. */
  handed: Handed[];
  /** Their counts summed per n-gram. */
  counts: Map<string, number>;
  /** N-grams skipped by the filters. */
  filtered: number;
  /** Rows (v2: one per row; v3, tsv: per line; text: n-grams counted). */
  rows: number;
  /** Lines. */
  lines: number;
}

const tagPattern = tagNames.map((tag) => tag.replace(".", "\\.")).join("|");
/** A tagged token: a word with a tag suffix, or a bare tag. */
const taggedToken = new RegExp(`^(?:.+_(?:${tagPattern})|_(?:${tagPattern})_)$`, "su");

/**
 * What reading `content` in `format` with `filters` should give, counted
 * with plain string operations (see the module's documentation). The
 * content must be well formed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recount } from "./fixtures.ts";
 * const content = "a b\t1999\t2\t1\na b\t2000\t3\t1\n";
 * const { handed } = recount("v2", content, { minCount: 0, tags: "drop", order: 1 });
 * assert.ok(handed.length === 1 && handed[0].count === 5 && handed[0].offset === 0);
 * ```
 */
export function recount(format: InputFormat, content: string, filters: InputFilters): Recount {
  const encoder = new TextEncoder();
  const lines = content.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const result: Recount = { handed: [], counts: new Map(), filtered: 0, rows: 0, lines: 0 };
  const dropped = (ngram: string) =>
    filters.tags === "drop" && ngram.split(" ").some((token) => taggedToken.test(token));
  const inYears = (year: number) =>
    filters.years === undefined || (year >= filters.years.from && year <= filters.years.to);
  const take = (ngram: string, count: number, offset: number) => {
    if (dropped(ngram) || count === 0 || count < filters.minCount) {
      result.filtered++;
      return;
    }
    result.handed.push({ ngram, count, offset });
    result.counts.set(ngram, (result.counts.get(ngram) ?? 0) + count);
  };
  let offset = 0;
  let run: Handed | undefined;
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const fields = line.split("\t");
    result.lines++;
    if (format === "v2") {
      result.rows++;
      if (run?.ngram !== fields[0]) {
        if (run) take(run.ngram, run.count, run.offset);
        run = { ngram: fields[0], count: 0, offset };
      }
      if (inYears(Number(fields[1]))) run.count += Number(fields[2]);
    } else if (format === "v3") {
      result.rows++;
      const years = fields.slice(1).map((field) => field.split(",").map(Number));
      take(fields[0], years.reduce((sum, [y, m]) => sum + (inYears(y) ? m : 0), 0), offset);
    } else if (format === "tsv") {
      result.rows++;
      take(fields[0], Number(fields[1]), offset);
    } else {
      const tokens = line.split(/\s+/u).filter((token) => token !== "");
      for (let end = 1; end <= tokens.length; end++) {
        for (let n = 1; n <= Math.min(filters.order, end); n++) {
          result.rows++;
          take(tokens.slice(end - n, end).join(" "), 1, offset);
        }
      }
    }
    offset += encoder.encode(raw).length + 1;
  }
  if (run) take(run.ngram, run.count, run.offset);
  return result;
}

/** Byte order of two byte strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * Storages in memory, one per name, kept across opens: an n-gram store's
 * `storage` option for tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryFactory } from "./fixtures.ts";
 * const storages = memoryFactory();
 * assert.equal(await storages("shard-0"), await storages("shard-0"));
 * ```
 */
export function memoryFactory(): StorageFactory {
  const storages = new Map<string, MemoryBlockStorage>();
  return (name) => {
    let storage = storages.get(name);
    if (storage === undefined) storages.set(name, storage = new MemoryBlockStorage());
    return storage;
  };
}
