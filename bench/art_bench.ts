/**
 * Benchmarks of the in-memory adaptive radix trie alone (`lib/art/art.ts`,
 * `deno bench bench/art_bench.ts`): adds of new word n-gram keys into an
 * empty and into a 100,000-key trie, adds to keys already there (the
 * counting case), `get` hits and misses, and `entries()` over a prefix range
 * and over the whole trie. No storage, no WAL: a regression here is the
 * trie's. Keys are `Uint8Array`s built once before the benches; each bench
 * checks its result, so a wrong trie fails the run. Compare numbers from one
 * run only: this machine is shared and noisy.
 *
 * @module
 */

import { Art } from "../lib/art/art.ts";
import { distinctNgrams } from "./_ngram_keys.ts";

/** Keys in the loaded tries. */
const loadedKeys = 100_000;
/** Keys each add, get or miss bench handles per iteration. */
const opsPerIteration = 10_000;

const encoder = new TextEncoder();
const texts = distinctNgrams(loadedKeys + opsPerIteration);
/** The loaded keys; key `index` holds {@linkcode valueOf}(index). */
const keys = texts.slice(0, loadedKeys).map((text) => encoder.encode(text));
/** Keys of the same text that the loaded tries do not hold. */
const newKeys = texts.slice(loadedKeys).map((text) => encoder.encode(text));

function valueOf(index: number): number {
  return index % 7 + 1;
}

function loadedTrie(): Art {
  const art = new Art();
  for (let index = 0; index < keys.length; index++) art.add(keys[index], valueOf(index));
  if (art.size !== loadedKeys) throw new Error(`the trie holds ${art.size} keys`);
  return art;
}

/** For the read benches; nothing writes to it. */
const reads = loadedTrie();
/** For the add benches: new keys are deleted again after each iteration. */
const writes = loadedTrie();

/** Loaded keys in a scattered order (a stride prime to the key count), and their value sum. */
const hitIndices = Array.from(
  { length: opsPerIteration },
  (_, index) => (index * 7919) % loadedKeys,
);
const hitKeys = hitIndices.map((index) => keys[index]);
const hitSum = hitIndices.reduce((sum, index) => sum + valueOf(index), 0);

/** The prefix range: "<the most common first word> ", and what it holds. */
const firstWords = new Map<string, number>();
for (const text of texts.slice(0, loadedKeys)) {
  const space = text.indexOf(" ");
  if (space > 0) {
    const word = text.slice(0, space);
    firstWords.set(word, (firstWords.get(word) ?? 0) + 1);
  }
}
const commonest = [...firstWords].reduce((best, entry) => entry[1] > best[1] ? entry : best);
const prefixText = `${commonest[0]} `;
const prefixStart = encoder.encode(prefixText);
const prefixEnd = prefixStart.slice();
prefixEnd[prefixEnd.length - 1]++;
let prefixCount = 0;
let prefixSum = 0;
for (let index = 0; index < loadedKeys; index++) {
  if (texts[index].startsWith(prefixText)) {
    prefixCount++;
    prefixSum += valueOf(index);
  }
}
const wholeSum = keys.reduce((sum, _, index) => sum + valueOf(index), 0);

const per = opsPerIteration.toLocaleString("en-US");
const loaded = loadedKeys.toLocaleString("en-US");

Deno.bench({
  name: `add ${per} new keys into an empty trie`,
  group: "add",
  baseline: true,
  fn() {
    const art = new Art();
    for (let index = 0; index < newKeys.length; index++) art.add(newKeys[index], 1);
    if (art.size !== opsPerIteration) throw new Error(`the trie holds ${art.size} keys`);
  },
});

Deno.bench({
  name: `add ${per} new keys into a ${loaded}-key trie`,
  group: "add",
  fn(b) {
    b.start();
    for (let index = 0; index < newKeys.length; index++) writes.add(newKeys[index], 1);
    b.end();
    if (writes.size !== loadedKeys + opsPerIteration) {
      throw new Error(`the trie holds ${writes.size} keys`);
    }
    for (let index = 0; index < newKeys.length; index++) {
      if (!writes.delete(newKeys[index])) throw new Error("an added key is missing");
    }
  },
});

/** Iterations of the bench below so far: each adds 1 to every hit key. */
let increments = 0;
Deno.bench({
  name: `add 1 to ${per} keys of a ${loaded}-key trie (counting)`,
  group: "add",
  fn() {
    let last = 0;
    for (let index = 0; index < hitKeys.length; index++) last = writes.add(hitKeys[index], 1);
    increments++;
    const expected = valueOf(hitIndices[hitIndices.length - 1]) + increments;
    if (last !== expected) throw new Error(`the last count is ${last}, expected ${expected}`);
  },
});

Deno.bench({
  name: `get ${per} hits, ${loaded}-key trie`,
  group: "get",
  baseline: true,
  fn() {
    let sum = 0;
    for (let index = 0; index < hitKeys.length; index++) sum += reads.get(hitKeys[index]) ?? 0;
    if (sum !== hitSum) throw new Error(`the hits sum to ${sum}, expected ${hitSum}`);
  },
});

Deno.bench({
  name: `get ${per} misses, ${loaded}-key trie`,
  group: "get",
  fn() {
    let found = 0;
    for (let index = 0; index < newKeys.length; index++) {
      if (reads.get(newKeys[index]) !== undefined) found++;
    }
    if (found !== 0) throw new Error(`${found} absent keys were found`);
  },
});

Deno.bench({
  name: `entries() of the prefix "${prefixText}" (${prefixCount} keys), ${loaded}-key trie`,
  group: "entries",
  baseline: true,
  fn() {
    let count = 0;
    let sum = 0;
    for (const [, value] of reads.entries({ start: prefixStart, end: prefixEnd })) {
      count++;
      sum += value;
    }
    if (count !== prefixCount || sum !== prefixSum) {
      throw new Error(`the range held ${count} keys summing to ${sum}`);
    }
  },
});

Deno.bench({
  name: `entries() of the whole ${loaded}-key trie`,
  group: "entries",
  fn() {
    let count = 0;
    let sum = 0;
    for (const [, value] of reads.entries()) {
      count++;
      sum += value;
    }
    if (count !== loadedKeys || sum !== wholeSum) {
      throw new Error(`the walk saw ${count} keys summing to ${sum}`);
    }
  },
});
