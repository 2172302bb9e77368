/**
 * Eviction against a `Map` model: random edits, checkpoints into an image
 * (a map of address → record), evictions of clean subtrees and the loads
 * that bring them back; every answer must stay the model's.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Art, evictKept, NodeNotLoaded } from "./art.ts";
import { generator, TestImage, withLoads } from "./_test_image.ts";

const encode = (key: Uint8Array) => String.fromCharCode(...key);

function randomKey(next: (below: number) => number, wide: boolean): Uint8Array {
  const length = 1 + next(4);
  return Uint8Array.from({ length }, () => (wide ? next(256) : next(4)));
}

function checkAll(art: Art, image: TestImage, model: Map<string, number>): void {
  const entries = withLoads(art, image.records, () => [...art.entries()]);
  const expected = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual(entries.map(([key, value]) => [encode(key), value]), expected);
}

function run(seed: number, wide: boolean): { evictions: number; loads: number } {
  const next = generator(seed);
  const art = new Art();
  const image = new TestImage();
  const model = new Map<string, number>();
  let evictions = 0;
  for (let step = 0; step < 600; step++) {
    const key = randomKey(next, wide);
    const choice = next(20);
    if (choice < 8) {
      assert.ok(art.loadPath(key, image.fetch), "an edit's path loads from the image");
      const value = art.add(key, 1 + next(5));
      model.set(encode(key), value);
    } else if (choice < 10) {
      assert.ok(art.loadPath(key, image.fetch));
      assert.equal(art.delete(key), model.delete(encode(key)));
    } else if (choice < 13) {
      assert.equal(withLoads(art, image.records, () => art.get(key)), model.get(encode(key)));
    } else if (choice < 15) {
      image.checkpoint(art);
    } else {
      const candidates = art.evictable(64);
      if (candidates.length === 0) continue;
      const { path, address } = candidates[next(candidates.length)];
      const unloaded = art.unloaded;
      const evicted = art.evict(path);
      assert.ok(evicted !== null && evicted.nodes >= 1, "an evictable node is evicted");
      assert.equal(art.unloaded, unloaded + 1 - evicted.stubs);
      assert.equal(art.stubOnPath(path)?.address ?? address, address);
      evictions++;
    }
    art.verify();
    assert.equal(art.size, model.size);
  }
  checkAll(art, image, model);
  return { evictions, loads: image.records.size };
}

Deno.test("Art.evict: random edits, checkpoints and evictions read back as the model", () => {
  let evictions = 0;
  for (let seed = 1; seed <= 60; seed++) evictions += run(seed, seed % 2 === 0).evictions;
  assert.ok(evictions > 500, `the runs evict (${evictions})`);
});

Deno.test("Art.evict: refused for a dirty node, one the live checkpoint wrote, and the root", () => {
  const art = new Art();
  const image = new TestImage();
  for (let i = 0; i < 100; i++) art.set(Uint8Array.of(i % 10, i), i);
  assert.deepEqual(art.evictable(10), [], "nothing is clean before a checkpoint");
  assert.equal(art.evict(Uint8Array.of(3)), null);
  image.checkpoint(art);
  const [first] = art.evictable(1);
  art.add(Uint8Array.of(first.path[0], 200), 1); // dirties the node at that path
  assert.equal(art.evict(first.path), null, "a node changed since the checkpoint stays");
  const snapshot = art.capture();
  // An inner node (the dirtied node's leaves have records of their own, but a leaf frees nothing).
  const clean = art.evictable(64).find((candidate) => candidate.path.length === 1)!;
  let next = 10_000;
  snapshot.writeChanged(() => next++); // the dirtied node: an address no committed image holds
  assert.equal(art.evict(first.path), null, "a node the live checkpoint wrote stays");
  assert.ok(!art.evictable(64).some(({ path }) => path.length === 1 && path[0] === first.path[0]));
  snapshot.release();
  assert.ok(art.evict(first.path) !== null, "once its checkpoint ended, it goes");
  assert.equal(art.evict(new Uint8Array(0)), null, "the root stays");
  const evicted = art.evict(clean.path);
  assert.ok(evicted !== null && evicted.words > 0);
  assert.equal(art.evict(clean.path), null, "a stub is not evicted again");
  assert.throws(() => art.get(Uint8Array.of(clean.path[0], clean.path[0] + 10)), NodeNotLoaded);
  assert.equal(
    withLoads(art, image.records, () => art.get(Uint8Array.of(clean.path[0], clean.path[0] + 10))),
    clean.path[0] + 10,
  );
  art.verify();
});

/** 100 keys under 10 first bytes, all written by a checkpoint, with reads marking their paths. */
function markedTrie(): { art: Art; image: TestImage } {
  const art = new Art();
  const image = new TestImage();
  for (let i = 0; i < 100; i++) art.set(Uint8Array.of(i % 10, i), i);
  image.checkpoint(art);
  art.markReads = true;
  return { art, image };
}

Deno.test("Art.evictCold: a node a read passed since the last look stays once, then goes", () => {
  const { art, image } = markedTrie();
  assert.equal(art.get(Uint8Array.of(3, 13)), 13); // marks every node on the key's path
  assert.equal(art.evictCold(Uint8Array.of(3)), evictKept, "read since: a second chance");
  assert.ok(art.evictCold(Uint8Array.of(4)) !== null, "not read: it goes");
  const second = art.evictCold(Uint8Array.of(3));
  assert.ok(second !== null && second !== evictKept, "not read since the last look: it goes");
  // Reads with marking off leave no mark: the unbudgeted trie writes nothing on a read.
  art.markReads = false;
  withLoads(art, image.records, () => art.get(Uint8Array.of(5, 15)));
  const unmarked = art.evictCold(Uint8Array.of(5));
  assert.ok(unmarked !== null && unmarked !== evictKept);
  art.verify();
});

Deno.test("Art.evictCold: a node looked at once in a round is not looked at again in it", () => {
  // Found while building the cooling queue: a path queued twice (loaded, evicted, loaded again)
  // was looked at twice in one round, and the second look took back the first one's second chance.
  const { art } = markedTrie();
  art.get(Uint8Array.of(3, 13));
  const seen = new Set<number>();
  assert.equal(art.evictCold(Uint8Array.of(3), true, seen), evictKept);
  assert.equal(art.evictCold(Uint8Array.of(3), true, seen), null, "seen this round: left alone");
  art.markReads = false; // a look at it that leaves no mark
  assert.equal(art.get(Uint8Array.of(3, 13)), 13, "still loaded");
  const next = art.evictCold(Uint8Array.of(3), true, new Set());
  assert.ok(next !== null && next !== evictKept, "the next round takes it");
});

Deno.test("Art.evictable: with spareReferenced the walk offers no node a read passed, and keeps the marks", () => {
  const { art } = markedTrie();
  art.get(Uint8Array.of(3, 13));
  const offered = art.evictable(64, undefined, undefined, false, true);
  // The walk looks below a node a read passed: it offers the node's clean children instead.
  const tops = offered.filter(({ path }) => path.length === 1).map(({ path }) => path[0]);
  assert.ok(!tops.includes(3) && tops.includes(4), `offered ${tops}`);
  assert.equal(art.evictCold(Uint8Array.of(3)), evictKept, "the walk left the mark");
});
