/**
 * Google-shaped Ngram v2 files for the n-gram benchmarks, made fast and
 * streamed to disk: bigrams sorted by text, first tokens and continuations
 * drawn from a Zipf vocabulary (so a few histories have thousands of
 * continuations and most have a handful), each n-gram with a few year rows,
 * written as a multi-member gzip (one member per ~1 MiB of text, as tools
 * that concatenate archives leave them). Deterministic from the seed.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { makeRandom } from "./random.ts";

/** What {@link writeV2Bigrams} wrote. */
export interface V2Data {
  /** Rows written (one per n-gram and year). */
  rows: number;
  /** Distinct n-grams written. */
  ngrams: number;
  /** Bytes of the gzip file. */
  fileBytes: number;
  /** Bytes of its text. */
  textBytes: number;
  /** Every `sampleEvery`-th n-gram with its summed count, to check answers. */
  sample: [string, number][];
  /** The most frequent first tokens, most frequent first. */
  topFirstTokens: string[];
}

/** Text bytes per gzip member. */
const memberTextBytes = 1 << 20;
/** One n-gram in this many is kept in {@link V2Data.sample}. */
const sampleEvery = 97;
const syllables = [
  "ka",
  "to",
  "ri",
  "an",
  "el",
  "mo",
  "su",
  "ne",
  "li",
  "ra",
  "po",
  "vi",
  "de",
  "ul",
];
const accented = ["é", "ü", "ß", "ø", "ñ"];

/** `count` distinct words, sorted, some with accented letters. */
function vocabulary(count: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < count) {
    let word = "";
    const length = 1 + Math.floor(random() * 4);
    for (let i = 0; i < length; i++) word += syllables[Math.floor(random() * syllables.length)];
    if (random() < 0.05) word += accented[Math.floor(random() * accented.length)];
    words.add(word);
  }
  return [...words];
}

/** Writes about `ngrams` bigrams as a v2 gzip file at `path`. */
export async function writeV2Bigrams(
  path: string,
  options: { ngrams: number; words: number; seed: number },
): Promise<V2Data> {
  const random = makeRandom(options.seed);
  const words = vocabulary(options.words, random);
  // Zipf ranks: word i (in draw order) has weight 1 / (i + 1).
  const harmonic = words.reduce((sum, _w, i) => sum + 1 / (i + 1), 0);
  const zipf = () =>
    Math.min(words.length - 1, Math.floor(Math.exp(random() * Math.log(words.length))));
  const firsts = words.map((word, rank) => ({ word, rank })).sort((
    a,
    b,
  ) => (a.word < b.word ? -1 : 1));
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const data: V2Data = {
    rows: 0,
    ngrams: 0,
    fileBytes: 0,
    textBytes: 0,
    sample: [],
    topFirstTokens: [],
  };
  data.topFirstTokens = words.slice(0, 20);
  let text = "";
  const flush = async () => {
    const member = gzipSync(new TextEncoder().encode(text));
    data.textBytes += new TextEncoder().encode(text).length;
    data.fileBytes += member.length;
    for (let at = 0; at < member.length;) at += await file.write(member.subarray(at));
    text = "";
  };
  for (const { word, rank } of firsts) {
    const want = Math.round(options.ngrams / harmonic / (rank + 1) * (0.5 + random()));
    const seconds = new Set<string>();
    for (let tries = 0; seconds.size < want && tries < want * 4; tries++) {
      seconds.add(words[zipf()]);
    }
    for (const second of [...seconds].sort()) {
      const ngram = `${word} ${second}`;
      const years = 1 + Math.floor(random() * 4);
      let sum = 0;
      for (let y = 0; y < years; y++) {
        const count = 40 + Math.floor(random() * 1000);
        sum += count;
        text += `${ngram}\t${1950 + 3 * y}\t${count}\t${1 + (count >> 3)}\n`;
        data.rows++;
      }
      if (data.ngrams++ % sampleEvery === 0) data.sample.push([ngram, sum]);
      if (text.length >= memberTextBytes) await flush();
    }
  }
  if (text.length > 0) await flush();
  file.close();
  return data;
}
