/**
 * Lazy tries: stubs, installs, and the edits next to nodes not loaded yet
 * (a removal never waits for a load, so a merge may be skipped).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Art, inlineAddress, NodeNotLoaded, type NodeView } from "./art.ts";
import { TestImage, withLoads } from "./_test_image.ts";
import { decodeRecordFields, encodeNodeRecord, newRecordFields } from "../image/node_record.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Writes `art` into a map of address → record, as an image would hold it. */
function imageOf(art: Art): { records: Map<number, NodeView>; root: number } {
  const image = new TestImage();
  const root = image.checkpoint(art);
  return { records: image.records, root };
}

function lazyCopy(keys: string[]): { art: Art; records: Map<number, NodeView> } {
  const source = new Art();
  for (const [index, key] of keys.entries()) source.set(bytes(key), index + 1);
  const { records, root } = imageOf(source);
  return { art: Art.fromImage(records.get(root)!, root, keys.length), records };
}

Deno.test("lazy Art: reads throw NodeNotLoaded until the path is installed", () => {
  const { art, records } = lazyCopy(["apple", "apricot", "banana"]);
  assert.throws(() => art.get(bytes("apple")), NodeNotLoaded);
  assert.equal(withLoads(art, records, () => art.get(bytes("apricot"))), 2);
  assert.equal(withLoads(art, records, () => art.get(bytes("apples"))), undefined);
  assert.throws(() => [...art.entries()], NodeNotLoaded, "a walk meets the banana stub");
  const all = withLoads(art, records, () => [...art.entries()].map(([, value]) => value));
  assert.deepEqual(all, [1, 2, 3]);
  assert.equal(art.stubs(10).length, 0);
  assert.equal(art.verify().keys, 3);
});

Deno.test("lazy Art: a removal beside a stub skips the merge; a later one walks up the chain", () => {
  // "ab" and "ac" hang under "a"; the root branches on a, x.
  const { art, records } = lazyCopy(["ab", "ac", "x"]);
  // Load only the path to "ab", then delete it: "a" keeps one child ("ac"),
  // a stub, so it stays an unmerged one-child node.
  withLoads(art, records, () => art.get(bytes("ab")));
  assert.equal(art.delete(bytes("ab")), true);
  assert.ok(art.stubOnPath(bytes("ac")) !== null, "ac is still on disk");
  art.verify();
  // Now load "ac" and delete it too: "a" is left with nothing and must go.
  withLoads(art, records, () => art.get(bytes("ac")));
  assert.equal(art.delete(bytes("ac")), true);
  assert.equal(withLoads(art, records, () => art.get(bytes("x"))), 3);
  assert.equal(art.size, 1);
  const stats = art.verify();
  assert.equal(stats.keys, 1);
  assert.deepEqual(withLoads(art, records, () => [...art.entries()].map(([key]) => [...key])), [[
    "x".charCodeAt(0),
  ]]);
});

Deno.test("lazy Art: an edit reports the records it drops; a written subtree keeps its address", () => {
  const { art, records } = lazyCopy(["ab", "ac", "x"]);
  const dropped: number[] = [];
  art.onDrop((address) => dropped.push(address));
  withLoads(art, records, () => art.get(bytes("ab")));
  art.add(bytes("ab"), 5);
  // The leaf "ab", its parent "a" and the root changed; "ac" and "x" did not.
  assert.equal(dropped.length, 3);
  const snapshot = art.capture();
  assert.equal(snapshot.changedNodeCount(), 3, "only the changed path is written again");
  snapshot.release();
});

/** Writes `art` as the image does: leaves other than the root stored inline in their parent. */
function inlineImageOf(art: Art): { records: Map<number, NodeView>; root: number } {
  const image = new TestImage();
  const root = image.checkpoint(art, { inline: true });
  return { records: image.records, root };
}

Deno.test("lazy Art: inline leaves load with their parent and drop no record of their own", () => {
  const source = new Art();
  const keys = ["ab", "ac", "ad", "x", "xyz"];
  for (const [index, key] of keys.entries()) source.set(bytes(key), index + 1);
  const { records, root } = inlineImageOf(source);
  // Records: the root, "a" (holding b, c, d inline) and "x" (holding yz inline).
  assert.equal(records.size, 3);
  assert.equal(records.get(root)!.inlineLeaves, undefined, "the root's children are inner nodes");
  const art = Art.fromImage(records.get(root)!, root, keys.length);
  assert.equal(art.unloaded, 2);
  const dropped: number[] = [];
  art.onDrop((address) => dropped.push(address));
  assert.equal(withLoads(art, records, () => art.get(bytes("ac"))), 2);
  assert.equal(art.unloaded, 1, "loading a installed its inline leaves, no stubs");
  assert.equal(art.get(bytes("ad")), 3, "a sibling inline leaf needs no load");
  art.add(bytes("ad"), 10);
  // "ad" has no record: only "a" and the root are dropped.
  assert.equal(dropped.length, 2);
  assert.ok(!dropped.includes(inlineAddress));
  const again = art.capture();
  // The leaf, its parent and the root are written again; "x" keeps its record.
  assert.equal(again.changedNodeCount(), 3);
  again.release();
  assert.deepEqual(
    withLoads(art, records, () => [...art.entries()].map(([, value]) => value)),
    [1, 2, 13, 4, 5],
  );
  assert.equal(art.verify().keys, 5);
});

/** A record source over encoded records, by offset (refs are `offset × 2^17 + length`). */
function sourceOf(records: Map<number, Uint8Array>) {
  const fields = newRecordFields();
  return {
    fields,
    fetch(address: number): Uint8Array | undefined {
      const bytes = records.get(Math.floor(address / 2 ** 17));
      if (bytes === undefined) return undefined;
      assert.equal(decodeRecordFields(bytes, 0, bytes.length, fields), undefined);
      return bytes;
    },
  };
}

/**
 * `art`'s image with each record encoded, and refs that name each record's
 * exact length: children (lower addresses, written first) are encoded
 * before their parents.
 */
function encodedImageOf(art: Art) {
  const { records, root } = imageOf(art);
  const exact = new Map<number, Uint8Array>();
  const refOf = (address: number) =>
    address === inlineAddress ? address : address * 2 ** 17 + exact.get(address)!.length;
  for (const address of [...records.keys()].sort((a, b) => a - b)) {
    const view = records.get(address)!;
    exact.set(
      address,
      encodeNodeRecord({ ...view, childAddresses: view.childAddresses.map(refOf) }),
    );
  }
  return { records, root, exact, refOf };
}

Deno.test("fromImageWhole: builds every record at hand, stubs the rest, same trie as loads", () => {
  const art = new Art();
  for (let index = 0; index < 400; index++) art.set(bytes(`k${index % 31} ${index}`), index);
  art.set(bytes("k1"), 7); // a key ending on an inner node
  const { records, root, exact, refOf } = encodedImageOf(art);
  const whole = Art.fromImageWhole(refOf(root), art.size, sourceOf(exact));
  assert.ok(whole instanceof Art);
  assert.equal(whole.unloaded, 0);
  assert.deepEqual([...whole.entries()], [...art.entries()]);
  whole.verify();
  // Without one record, its subtree is a stub that loads as usual.
  const missing = [...records.keys()].find((address) => address !== root)!;
  const partial = new Map(exact);
  partial.delete(missing);
  const lazy = Art.fromImageWhole(refOf(root), art.size, sourceOf(partial));
  assert.ok(lazy instanceof Art);
  assert.equal(lazy.unloaded, 1);
  const byRef = new Map([...records].map(([address, view]) => [refOf(address), view]));
  const withRefs = (view: NodeView) => ({
    ...view,
    childAddresses: view.childAddresses.map(refOf),
  });
  const loaded = withLoads(lazy, new Map([...byRef].map(([r, v]) => [r, withRefs(v)])), () => [
    ...lazy.entries(),
  ]);
  assert.deepEqual(loaded, [...art.entries()]);
  // The root not at hand: nothing to build.
  assert.equal(Art.fromImageWhole(refOf(root), art.size, sourceOf(new Map())), undefined);
});

Deno.test("fromImageWhole: records that cannot be a trie (a cycle of refs) are reported, not looped on", () => {
  const none = new Uint8Array(0);
  // Record 5's only child is record 5 itself.
  const self = 5 * 2 ** 17;
  let record = encodeNodeRecord({
    prefix: none,
    value: 1,
    childBytes: Uint8Array.of(9),
    childAddresses: [self + 20],
  });
  record = encodeNodeRecord({
    prefix: none,
    value: 1,
    childBytes: Uint8Array.of(9),
    childAddresses: [self + record.length],
  });
  const problem = Art.fromImageWhole(self + record.length, 3, sourceOf(new Map([[5, record]])));
  assert.equal(typeof problem, "string");
  assert.match(problem as string, /more than 6 records/);
});

Deno.test("valueCeiling: a lazy trie's is the image's bound, then what loads raise it to", () => {
  const source = new Art();
  const keys = ["ab", "ac", "x", "xyz"];
  for (const [index, key] of keys.entries()) source.set(bytes(key), 10 * (index + 1));
  const { records, root } = inlineImageOf(source);
  // The bound the header records: the source's ceiling at the capture.
  assert.equal(source.valueCeiling, 40);
  const art = Art.fromImage(records.get(root)!, root, keys.length, 40);
  assert.ok(art.unloaded > 0);
  assert.equal(art.valueCeiling, 40, "the unseen values are bounded by the image");
  // A bound an older image did not record: none.
  const unbounded = Art.fromImage(records.get(root)!, root, keys.length);
  assert.equal(unbounded.valueCeiling, Number.POSITIVE_INFINITY);
  // Loads raise what the trie has seen; once nothing is left on disk, that alone bounds it.
  assert.equal(withLoads(unbounded, records, () => unbounded.get(bytes("ac"))), 20);
  assert.equal(unbounded.valueCeiling, Number.POSITIVE_INFINITY, "stubs remain");
  withLoads(unbounded, records, () => [...unbounded.entries()]);
  assert.equal(unbounded.unloaded, 0);
  assert.equal(unbounded.valueCeiling, 40, "every node was loaded: the largest seen");
  // Subtractions and deletes keep it (a bound, not the largest count); a larger set raises it.
  unbounded.add(bytes("xyz"), -35);
  unbounded.delete(bytes("x"));
  assert.equal(unbounded.valueCeiling, 40);
  unbounded.set(bytes("new"), 41);
  assert.equal(unbounded.valueCeiling, 41);
  const snapshot = unbounded.capture();
  unbounded.set(bytes("new"), 50);
  assert.equal(snapshot.valueCeiling, 41, "a snapshot keeps the ceiling of its capture");
  snapshot.release();
  assert.equal(unbounded.verify().valueMax, 50);
});

Deno.test("valueCeiling: evictions keep it, and it bounds the values loaded again", () => {
  const art = new Art();
  for (let index = 0; index < 300; index++) art.set(bytes(`k${index % 7} ${index}`), index);
  const image = new TestImage();
  image.checkpoint(art);
  art.add(bytes("k3 3"), -3); // lowers no bound
  image.checkpoint(art);
  for (const { path } of art.evictable(100)) art.evict(path);
  assert.ok(art.unloaded > 0, "evicted subtrees are stubs");
  assert.equal(art.valueCeiling, 299);
  const values = withLoads(art, image.records, () => [...art.entries()].map(([, value]) => value));
  assert.equal(Math.max(...values), 299);
  assert.equal(art.valueCeiling, 299);
  assert.equal(art.verify().valueMax, 299);
});

Deno.test("fromImageWhole: a count above the header's bound is reported, not loaded", () => {
  const art = new Art();
  for (let index = 0; index < 50; index++) art.set(bytes(`k${index % 5} ${index}`), index);
  const { root, exact, refOf } = encodedImageOf(art);
  const whole = Art.fromImageWhole(refOf(root), art.size, sourceOf(exact), 49);
  assert.ok(whole instanceof Art);
  assert.equal(whole.valueCeiling, 49);
  const problem = Art.fromImageWhole(refOf(root), art.size, sourceOf(exact), 48);
  assert.match(String(problem), /count 49, above the header's value ceiling 48/);
});
