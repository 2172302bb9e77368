/**
 * Deterministic word n-gram keys for the part benches (`art_bench.ts`,
 * `wal_bench.ts`): the 1-, 2- and 3-grams of a text drawn over a generated
 * vocabulary, each word's rank log-uniform, so a few words are frequent and
 * most are rare, as in real text. Every run builds the same keys.
 *
 * @module
 */

import { makeRandom } from "./random.ts";

/** Words in the generated vocabulary. */
const vocabularyWords = 5_000;
/** Shortest and longest word, in letters. */
const wordLettersMin = 2;
const wordLettersMax = 9;
/** Longest n-gram. */
const gramLengthMax = 3;
/** Bound on the grams drawn per distinct key asked for (the text repeats grams). */
const drawsPerDistinctMax = 20;
/** Seed of the generator. */
const seed = 0x6e67_7261;

/** The n-grams of the text, in order, repeats included; endless. */
function* ngrams(): Generator<string> {
  const random = makeRandom(seed);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = new Set<string>();
  while (words.size < vocabularyWords) {
    const length = wordLettersMin + Math.floor(random() * (wordLettersMax - wordLettersMin + 1));
    let word = "";
    for (let index = 0; index < length; index++) word += letters[Math.floor(random() * 26)];
    words.add(word);
  }
  const byRank = [...words];
  const window: string[] = [];
  while (true) {
    const rank = Math.floor(Math.exp(random() * Math.log(byRank.length))) - 1;
    window.push(byRank[Math.max(0, Math.min(byRank.length - 1, rank))]);
    if (window.length > gramLengthMax) window.shift();
    for (let length = 1; length <= window.length; length++) {
      yield window.slice(window.length - length).join(" ");
    }
  }
}

/** The first `count` n-grams of the text, repeats included (a counting workload). */
export function ngramStream(count: number): string[] {
  const result: string[] = [];
  for (const gram of ngrams()) {
    if (result.length === count) break;
    result.push(gram);
  }
  return result;
}

/** The first `count` distinct n-grams of the text, in the order they first occur. */
export function distinctNgrams(count: number): string[] {
  const seen = new Set<string>();
  let draws = 0;
  for (const gram of ngrams()) {
    if (seen.size === count) break;
    if (++draws > count * drawsPerDistinctMax) {
      throw new Error(`Cannot draw ${count} distinct n-grams: the vocabulary is too small`);
    }
    seen.add(gram);
  }
  return [...seen];
}
