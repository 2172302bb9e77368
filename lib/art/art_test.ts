/**
 * Unit tests of the in-memory trie: edits, key order, node growth and
 * shrinkage, path compression, ranges, and the assertions on bad input.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AssertionError } from "../_assert.ts";
import { Art, type ArtRange, type ArtStats } from "./art.ts";

/** A key from a byte string ("\x00", "\xff" allowed). */
function k(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function text(key: Uint8Array): string {
  return String.fromCharCode(...key);
}

function list(art: Art, range?: ArtRange): string[] {
  return [...art.entries(range)].map(([key, value]) => `${text(key)}=${value}`);
}

function keysOf(art: Art, range?: ArtRange): string[] {
  return [...art.entries(range)].map(([key]) => text(key));
}

/** The node-kind counts only (keys and depth dropped). */
function kinds(art: Art): Omit<ArtStats, "keys" | "depthMax" | "stubs" | "valueMax"> {
  const { leaves, nodes4, nodes16, nodes48, nodes256 } = art.verify();
  return { leaves, nodes4, nodes16, nodes48, nodes256 };
}

Deno.test("Art: an empty trie has nothing", () => {
  const art = new Art();
  assert.equal(art.size, 0);
  assert.equal(art.get(k("a")), undefined);
  assert.equal(art.get(k("")), undefined);
  assert.equal(art.delete(k("a")), false);
  assert.deepEqual(list(art), []);
  assert.deepEqual(list(art, { reverse: true }), []);
  assert.deepEqual(list(art, { start: k("a"), end: k("b") }), []);
  art.verify();
});

Deno.test("Art: set, get, overwrite, add and clear", () => {
  const art = new Art();
  art.set(k("apple"), 3);
  art.set(k("apple"), 7);
  assert.equal(art.get(k("apple")), 7);
  assert.equal(art.add(k("apple"), 5), 12);
  assert.equal(art.add(k("pear"), 0), 0); // absent counts as 0 and inserts
  assert.equal(art.get(k("pear")), 0);
  assert.equal(art.add(k("apple"), -12), 0);
  assert.equal(art.size, 2);
  art.set(k("big"), Number.MAX_SAFE_INTEGER);
  assert.equal(art.get(k("big")), Number.MAX_SAFE_INTEGER);
  art.clear();
  assert.equal(art.size, 0);
  assert.equal(art.get(k("apple")), undefined);
  assert.deepEqual(list(art), []);
  art.set(k("again"), 1);
  assert.deepEqual(list(art), ["again=1"]);
});

Deno.test("Art: bad values and deltas are assertion failures that change nothing", () => {
  const art = new Art();
  art.set(k("a"), 2);
  assert.throws(() => art.add(k("missing"), -1), AssertionError);
  assert.throws(() => art.add(k("a"), -3), AssertionError);
  assert.throws(() => art.add(k("a"), Number.MAX_SAFE_INTEGER), AssertionError);
  assert.throws(() => art.add(k("a"), 0.5), AssertionError);
  assert.throws(() => art.set(k("b"), -1), AssertionError);
  assert.throws(() => art.set(k("b"), NaN), AssertionError);
  assert.throws(() => art.set(new Uint8Array(65_536), 1), AssertionError);
  assert.deepEqual(list(art), ["a=2"]);
  assert.equal(art.size, 1);
  art.verify();
});

Deno.test("Art: keys are copied in and out", () => {
  const art = new Art();
  const key = k("shared");
  art.set(key, 1);
  key[0] = 0x7a; // the caller reuses its buffer
  assert.equal(art.get(k("shared")), 1);
  assert.equal(art.get(key), undefined);
  const [[yielded]] = [...art.entries()];
  yielded[0] = 0x7a; // the caller keeps and edits a yielded key
  assert.deepEqual(list(art), ["shared=1"]);
  // A key that is a view into a larger buffer.
  const buffer = k("xxwordyy");
  art.set(buffer.subarray(2, 6), 9);
  assert.equal(art.get(k("word")), 9);
});

Deno.test("Art: the empty key sorts first and coexists with others", () => {
  const art = new Art();
  art.set(k(""), 1);
  assert.equal(art.get(k("")), 1);
  assert.deepEqual(kinds(art), { leaves: 1, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.set(k("a"), 2);
  art.set(k("\x00"), 3);
  assert.deepEqual(list(art), ["=1", "\x00=3", "a=2"]);
  assert.deepEqual(list(art, { reverse: true }), ["a=2", "\x00=3", "=1"]);
  assert.deepEqual(list(art, { end: k("\x00") }), ["=1"]);
  assert.deepEqual(list(art, { start: k(""), end: k("") }), []);
  assert.equal(art.delete(k("")), true);
  assert.equal(art.get(k("")), undefined);
  assert.deepEqual(list(art), ["\x00=3", "a=2"]);
  art.verify();
  assert.equal(art.delete(k("a")), true);
  assert.equal(art.delete(k("\x00")), true);
  assert.deepEqual(kinds(art), { leaves: 0, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
});

Deno.test("Art: keys that are prefixes of other keys", () => {
  const art = new Art();
  const words = ["abc", "ab", "abcd", "a", "abd", "b", ""];
  words.forEach((word, i) => art.set(k(word), i));
  assert.deepEqual(keysOf(art), ["", "a", "ab", "abc", "abcd", "abd", "b"]);
  assert.deepEqual(keysOf(art, { reverse: true }), ["b", "abd", "abcd", "abc", "ab", "a", ""]);
  for (const [i, word] of words.entries()) assert.equal(art.get(k(word)), i);
  assert.equal(art.get(k("abcde")), undefined);
  assert.equal(art.get(k("ac")), undefined);
  // Removing an inner key keeps its extensions; removing extensions keeps the inner key.
  assert.equal(art.delete(k("ab")), true);
  assert.deepEqual(keysOf(art), ["", "a", "abc", "abcd", "abd", "b"]);
  assert.equal(art.delete(k("abcd")), true);
  assert.equal(art.delete(k("abd")), true);
  assert.deepEqual(keysOf(art), ["", "a", "abc", "b"]);
  art.verify();
});

Deno.test("Art: prefix splits and path compression on delete", () => {
  const art = new Art();
  art.set(k("romane"), 1);
  assert.deepEqual(kinds(art), { leaves: 1, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.set(k("romanus"), 2); // split "roman|e" / "roman|us"
  assert.deepEqual(kinds(art), { leaves: 2, nodes4: 1, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.set(k("romulus"), 3); // split "rom|an" / "rom|ulus"
  art.set(k("rubens"), 4); // split "r|om" / "r|ubens"
  art.set(k("rom"), 5); // ends exactly at a split point: a value on an inner node
  art.set(k("ro"), 6); // ends inside a compressed prefix: splits it
  assert.deepEqual(keysOf(art), ["ro", "rom", "romane", "romanus", "romulus", "rubens"]);
  assert.deepEqual(kinds(art), { leaves: 4, nodes4: 4, nodes16: 0, nodes48: 0, nodes256: 0 });
  for (const word of ["ro", "rom", "rubens", "romulus", "romane"]) {
    assert.equal(art.delete(k(word)), true);
    art.verify(); // no valueless one-child Node4 survives a delete
  }
  assert.deepEqual(list(art), ["romanus=2"]);
  assert.deepEqual(kinds(art), { leaves: 1, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.set(k("romane"), 1); // splits the merged leaf again
  assert.deepEqual(keysOf(art), ["romane", "romanus"]);
});

Deno.test("Art: delete of missing keys changes nothing", () => {
  const art = new Art();
  for (const word of ["abc", "abd", "abcdef", "x"]) art.set(k(word), 1);
  const before = list(art);
  for (const word of ["", "a", "ab", "abcd", "abcdefg", "abe", "y", "xx", "abcdeg", "b"]) {
    assert.equal(art.delete(k(word)), false, word);
  }
  assert.deepEqual(list(art), before);
  assert.equal(art.size, 4);
  art.verify();
});

Deno.test("Art: nodes grow 4 -> 16 -> 48 -> 256 and shrink back", () => {
  const art = new Art();
  const child = (byte: number) => Uint8Array.of(0x70, 0x71, byte);
  art.set(Uint8Array.of(0x70, 0x71), 0); // the branching node also holds a value
  const kindAt = () => {
    const { nodes4, nodes16, nodes48, nodes256 } = kinds(art);
    assert.equal(nodes4 + nodes16 + nodes48 + nodes256, 1);
    return nodes4 ? 4 : nodes16 ? 16 : nodes48 ? 48 : 256;
  };
  const growth: [number, number][] = [];
  for (let byte = 255; byte >= 0; byte--) { // descending: every insert shifts sorted keys
    art.set(child(byte), byte);
    growth.push([256 - byte, kindAt()]);
  }
  const at = (count: number) => growth[count - 1][1];
  assert.deepEqual([at(1), at(4), at(5), at(16), at(17), at(48), at(49), at(256)], [
    4,
    4,
    16,
    16,
    48,
    48,
    256,
    256,
  ]);
  assert.equal(keysOf(art).length, 257);
  assert.deepEqual(keysOf(art).slice(0, 3), ["pq", "pq\x00", "pq\x01"]);
  const shrinking: [number, number][] = [];
  for (let byte = 0; byte < 256; byte += 1) {
    art.delete(child((byte * 7) % 256)); // scattered order: holes in every node kind
    shrinking.push([255 - byte, art.size === 1 ? 0 : kindAt()]);
  }
  const left = (count: number) => shrinking.find(([n]) => n === count)![1];
  assert.deepEqual(
    [left(38), left(37), left(13), left(12), left(4), left(3), left(1)],
    [256, 48, 48, 16, 16, 4, 4],
  );
  assert.deepEqual(list(art), ["pq=0"]);
  assert.deepEqual(kinds(art), { leaves: 1, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
});

Deno.test("Art: a Node4 left with one child merges into it", () => {
  const art = new Art();
  for (const word of ["ab", "ac", "ad"]) art.set(k(`xy${word}z`), 1);
  assert.deepEqual(kinds(art), { leaves: 3, nodes4: 1, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.delete(k("xyabz"));
  art.delete(k("xyacz"));
  assert.deepEqual(kinds(art), { leaves: 1, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0 });
  assert.equal(art.get(k("xyadz")), 1);
  // Removing the value of a one-child inner node merges it too.
  art.set(k("xyad"), 1); // splits the leaf: Node4 "xyad" with a value and child "z"
  art.set(k("xyq"), 1); // splits again: Node4 "xy" over "d" and "q"
  assert.deepEqual(kinds(art), { leaves: 2, nodes4: 2, nodes16: 0, nodes48: 0, nodes256: 0 });
  art.delete(k("xyad"));
  assert.deepEqual(kinds(art), { leaves: 2, nodes4: 1, nodes16: 0, nodes48: 0, nodes256: 0 });
  assert.deepEqual(keysOf(art), ["xyadz", "xyq"]);
});

Deno.test("Art: 65,535-byte keys", () => {
  const art = new Art();
  const long = (length: number, last: number) => {
    const key = new Uint8Array(length).fill(0x61);
    key[length - 1] = last;
    return key;
  };
  const a = long(65_535, 0x01);
  const b = long(65_535, 0xff);
  const c = long(65_534, 0x61); // a prefix of both
  art.set(a, 1);
  art.set(b, 2);
  art.set(c, 3);
  assert.equal(art.get(a), 1);
  assert.equal(art.get(b), 2);
  assert.equal(art.get(c), 3);
  const forward = [...art.entries()];
  assert.deepEqual(forward.map(([, value]) => value), [3, 1, 2]);
  assert.deepEqual(forward[1][0], a);
  assert.deepEqual([...art.entries({ start: a, reverse: true })].map(([, v]) => v), [2, 1]);
  assert.equal(art.verify().depthMax, 65_535);
  assert.equal(art.delete(c), true);
  assert.equal(art.delete(a), true);
  assert.deepEqual([...art.entries()].map(([, value]) => value), [2]);
  art.verify();
});

Deno.test("Art: a trie 65,535 bytes deep with a branch every 64 bytes", () => {
  const art = new Art();
  const step = 64;
  const keys: Uint8Array[] = [];
  for (let length = step; length <= 65_535; length += step) {
    const key = new Uint8Array(length).fill(0x61);
    key[length - 1] = 0x62; // branches off the all-"a" spine
    keys.push(key);
  }
  keys.push(new Uint8Array(65_535).fill(0x61));
  keys.forEach((key, i) => art.set(key, i));
  assert.equal(art.size, keys.length);
  const stats = art.verify();
  assert.ok(stats.nodes4 >= keys.length - 1);
  // Byte order: the all-"a" spine key first, then branches from deepest to shallowest.
  const values = [...art.entries()].map(([, value]) => value);
  assert.equal(values[0], keys.length - 1);
  assert.deepEqual(values.slice(1), [...keys.keys()].slice(0, -1).reverse());
  const reversed = [...art.entries({ reverse: true })].map(([, value]) => value);
  assert.deepEqual(reversed, values.toReversed());
  for (const key of keys) assert.equal(art.delete(key), true);
  assert.equal(art.size, 0);
});

Deno.test("Art: a trie 8,192 nodes deep (one byte per level)", () => {
  const art = new Art();
  const depth = 8_192;
  const spine = new Uint8Array(depth).fill(0x61);
  for (let length = 0; length < depth; length++) {
    const key = spine.slice(0, length + 1);
    key[length] = 0x62;
    art.set(key, length);
  }
  assert.equal(art.verify().nodes4, depth - 1);
  // Every shorter branch sorts after the deepest ones: a seek to the bottom sees them all.
  const fromBottom = [...art.entries({ start: spine.subarray(0, depth - 2) })];
  assert.deepEqual(fromBottom.slice(0, 3).map(([, value]) => value), [8191, 8190, 8189]);
  assert.equal(fromBottom.length, depth);
  const bottomOnly = art.entries({ end: spine.subarray(0, depth - 1), reverse: true });
  assert.deepEqual([...bottomOnly].map(([, value]) => value), []);
  assert.equal(art.entries({ reverse: true }).next().value![1], 0);
  assert.equal([...art.entries()].length, depth);
});

Deno.test("Art: entries ranges, bounds and reverse edge cases", () => {
  const art = new Art();
  for (const word of ["a", "ab", "abc", "abd", "b", "ba", "c"]) art.set(k(word), word.length);
  const range = (start?: string, end?: string, reverse = false) =>
    keysOf(art, {
      start: start === undefined ? undefined : k(start),
      end: end === undefined ? undefined : k(end),
      reverse,
    });
  assert.deepEqual(range("ab", "b"), ["ab", "abc", "abd"]);
  assert.deepEqual(range("ab", "b", true), ["abd", "abc", "ab"]);
  assert.deepEqual(range("b", "b"), []); // start == end
  assert.deepEqual(range("b", "b", true), []);
  assert.deepEqual(range("c", "a"), []); // start > end
  assert.deepEqual(range("c", "a", true), []);
  assert.deepEqual(range("abb", "abz"), ["abc", "abd"]); // bounds on missing keys
  assert.deepEqual(range("abb", "abz", true), ["abd", "abc"]);
  assert.deepEqual(range("aa", "bb"), ["ab", "abc", "abd", "b", "ba"]);
  assert.deepEqual(range("aa", "bb", true), ["ba", "b", "abd", "abc", "ab"]);
  assert.deepEqual(range("ab\x00"), ["abc", "abd", "b", "ba", "c"]); // just after "ab"
  assert.deepEqual(range(undefined, "ab", true), ["a"]);
  assert.deepEqual(range("", "a"), []); // the empty key is absent
  assert.deepEqual(range(undefined, ""), []); // nothing sorts below the empty key
  assert.deepEqual(range(""), range());
  assert.deepEqual(range("c\x00"), []); // past the last key
  assert.deepEqual(range("c\x00", undefined, true), []);
  assert.deepEqual(range("\xff"), []);
  assert.deepEqual(range(undefined, "\xff", true), ["c", "ba", "b", "abd", "abc", "ab", "a"]);
  assert.deepEqual(range("0", "1"), []); // wholly below every key
});

Deno.test("Art: entries bounds that are prefixes of keys or inside compressed paths", () => {
  const art = new Art();
  for (const word of ["internal", "internet", "interval", "into", "in"]) art.set(k(word), 1);
  const range = (start?: string, end?: string, reverse = false) =>
    keysOf(art, {
      start: start === undefined ? undefined : k(start),
      end: end === undefined ? undefined : k(end),
      reverse,
    });
  // "inte" ends inside the compressed "er" path; "intern" at a split point.
  assert.deepEqual(range("inte"), ["internal", "internet", "interval", "into"]);
  assert.deepEqual(range(undefined, "inte", true), ["in"]);
  assert.deepEqual(range("intern", "interv"), ["internal", "internet"]);
  assert.deepEqual(range("intern", "interv", true), ["internet", "internal"]);
  assert.deepEqual(range("in", "in\x00"), ["in"]); // exactly one key
  assert.deepEqual(range("in", "in\x00", true), ["in"]);
  assert.deepEqual(range("i", "in"), []);
  assert.deepEqual(range("internals"), ["internet", "interval", "into"]); // extends a key
  assert.deepEqual(range(undefined, "internals", true), ["internal", "in"]);
  assert.deepEqual(range("interz", undefined, true), ["into"]);
  assert.deepEqual(range(undefined, "interz", true), ["interval", "internet", "internal", "in"]);
  assert.deepEqual(range("intz"), []);
  assert.deepEqual(range("ia", "io"), ["in", "internal", "internet", "interval", "into"]);
});

Deno.test("Art: entries re-seeking batch by batch, as the store does", () => {
  const art = new Art();
  const keys: string[] = [];
  for (let i = 0; i < 3000; i++) keys.push(`w${(i * 7919) % 3000}`);
  for (const key of keys) art.add(k(key), 1);
  const sorted = keys.toSorted();
  const seen: string[] = [];
  let start: Uint8Array | undefined = undefined;
  for (let batches = 0; batches < 100; batches++) {
    const batch = [];
    for (const [key] of art.entries({ start })) {
      batch.push(key);
      if (batch.length === 256) break;
    }
    if (batch.length === 0) break;
    seen.push(...batch.map(text));
    start = Uint8Array.of(...batch[batch.length - 1], 0);
  }
  assert.deepEqual(seen, sorted);
});

Deno.test("Art: changing the trie during iteration throws on the next step", () => {
  const art = new Art();
  for (const word of ["a", "b", "c"]) art.set(k(word), 1);
  const changes: ((art: Art) => unknown)[] = [
    (art) => art.set(k("d"), 1),
    (art) => art.set(k("a"), 5),
    (art) => art.add(k("b"), 1),
    (art) => art.delete(k("c")),
    (art) => art.clear(),
  ];
  for (const change of changes) {
    const copy = new Art();
    for (const [key, value] of art.entries()) copy.set(key, value);
    const walk = copy.entries();
    assert.equal(walk.next().done, false);
    change(copy);
    assert.throws(() => walk.next(), /changed during iteration/);
    // A new walk works.
    assert.ok(list(copy).length <= 4);
  }
  // A change before the first step is caught too; reads and missed deletes are not changes.
  const early = art.entries({ reverse: true });
  art.set(k("e"), 1);
  assert.throws(() => early.next(), /changed during iteration/);
  const calm = art.entries();
  calm.next();
  art.get(k("a"));
  art.delete(k("missing"));
  assert.equal(calm.next().value![0][0], 0x62);
});
