/**
 * `Art.footprint` against eviction itself: once every subtree that can go
 * went (none above a pinned key's path), the live nodes take exactly the
 * footprint of the pinned keys. The simulator's `bound-memory` rests on it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Art, evictDescend, evictTake } from "./art.ts";
import { generator } from "./_test_image.ts";

/** Writes every changed node to a pretend image: each gets an address of its own. */
function checkpoint(art: Art): void {
  const snapshot = art.capture();
  let address = 1;
  snapshot.writeChanged(() => address++ * 2 ** 17 + 64);
  snapshot.release();
}

/** Evicts every subtree that can go, keeping the paths of `pinned`; the evictions made. */
function evictAll(art: Art, pinned: readonly Uint8Array[]): number {
  const under = (path: Uint8Array) =>
    pinned.some((key) => key.length >= path.length && path.every((byte, i) => key[i] === byte));
  const choose = (path: Uint8Array) => under(path) ? evictDescend : evictTake;
  let evictions = 0;
  for (let walk = 0; walk < 1000; walk++) {
    const candidates = art.evictable(1 << 16, undefined, choose, true);
    if (candidates.length === 0) return evictions;
    for (const { path } of candidates) if (art.evict(path) !== null) evictions++;
  }
  throw new Error("evictions went on past 1,000 walks");
}

Deno.test("footprint: a trie no checkpoint wrote stays whole", () => {
  const art = new Art();
  const next = generator(7);
  for (let i = 0; i < 500; i++) {
    art.set(Uint8Array.from({ length: 1 + next(5) }, () => next(40)), i);
  }
  assert.equal(art.footprint([]), art.memory().liveBytes);
  assert.equal(evictAll(art, []), 0);
});

Deno.test("footprint: what is left once everything that can go went", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const art = new Art();
    const next = generator(seed);
    const keys: Uint8Array[] = [];
    const wide = seed % 2 === 0; // wide fans make Node48s and Node256s
    for (let i = 0; i < 800; i++) {
      const key = Uint8Array.from({ length: 1 + next(6) }, () => next(wide ? 256 : 6));
      keys.push(key);
      art.set(key, i);
    }
    checkpoint(art);
    // Dirty paths too: edits after the checkpoint must stay with the nodes above them.
    for (let i = 0; i < 20; i++) art.set(keys[next(keys.length)], 10_000 + i);
    const pinned = Array.from({ length: next(6) }, () => keys[next(keys.length)]);
    pinned.push(Uint8Array.of(255, 255, 255)); // absent: its path down to where it leaves
    const before = art.footprint(pinned);
    assert.ok(before <= art.memory().liveBytes, `seed ${seed}: within what is live`);
    evictAll(art, pinned);
    assert.equal(art.memory().liveBytes, before, `seed ${seed}: exactly what had to stay`);
    assert.equal(art.footprint(pinned), before, `seed ${seed}: evictions do not change it`);
  }
});
