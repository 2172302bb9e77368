/**
 * The footprint of a set of key paths: the bytes of the trie that no
 * eviction may free while those keys are pinned, whatever nodes a memory
 * budget chooses to take. The simulator's memory bound (`bound-memory`,
 * docs/SIMULATION.md) is "the trie's part of the budget, or this, whichever
 * is larger": a round of evictions that stops above both left something
 * behind it could have taken.
 *
 * What stays, by the rules of eviction (`_evict.ts`, `Budget.enforce`):
 * the root; every loaded node on the path of a pinned key (down to where
 * the key ends or leaves the trie); every node without an image address of
 * its own (dirty: written since the last checkpoint, or a leaf stored in
 * its parent's record), with the nodes above it; and, below each of those,
 * a stub for every child that could go (a stub is what an evicted subtree
 * leaves). A child already a stub counts as one. Beside a live snapshot,
 * the nodes it holds (`snapshotHolds`: the marks of an incremental walk,
 * a compaction's walk stack) stay as dirty ones do, and so do the nodes
 * only the snapshot still holds (the ones the live trie replaced, freed at
 * its release). After a failed checkpoint, the nodes it left naming
 * records the committed image lacks, themselves or below them
 * (`keepUncommitted`), stay as dirty ones do.
 *
 * It walks the loaded nodes it counts, not the trie: the paths, then what
 * hangs below them that must stay. Meant for the simulator and tests.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { type Arena, classWords } from "./_arena.ts";
import { childSlots, findChild } from "./_children.ts";
import {
  addressOf,
  headerWords,
  inlineAddress,
  isStub,
  matchPrefix,
  noAddress,
  prefixLengthOf,
  wordsOf,
} from "./_node.ts";
import { evictionHolds } from "./_evict.ts";
import { noSnapshot } from "./_tree.ts";
import type { ArtTree } from "./_tree.ts";

/** The bytes of one trie word. */
const wordBytes = 4;

/**
 * The bytes the nodes that must stay take while `keys` are pinned (see the
 * module notes); 0 for an empty trie.
 */
export function footprintBytes(tree: ArtTree, keys: readonly Uint8Array[]): number {
  return liveFootprint(tree, keys) + snapshotOnlyBytes(tree);
}

/** The bytes of the nodes only a live snapshot holds (retired: the live trie replaced them). */
function snapshotOnlyBytes(tree: ArtTree): number {
  if (tree.frozenGen === noSnapshot || tree.frozenArena !== tree.a) return 0;
  let words = 0;
  for (const node of tree.retired) words += classWords(wordsOf(tree.a, node));
  return words * wordBytes;
}

/** The bytes of the live trie's nodes that must stay while `keys` are pinned. */
function liveFootprint(tree: ArtTree, keys: readonly Uint8Array[]): number {
  const { a, root } = tree;
  if (root === 0) return 0;
  const stays = new Set<number>([root]);
  for (const key of keys) pathNodes(a, root, key, stays);
  let words = 0;
  const pending = [...stays];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // every node is counted once
  for (let steps = 0; pending.length > 0; steps++) {
    assert(steps <= nodesMax, "each node of the footprint is counted once");
    const node = pending.pop()!;
    words += classWords(wordsOf(a, node)); // the arena's block, as `liveWords` counts it
    if (isStub(a, node)) continue;
    slots.length = 0;
    childSlots(a, node, slots);
    for (const slot of slots) {
      const child = a.i32[slot];
      if (stays.has(child)) continue;
      const address = addressOf(a, child);
      const clean = address !== noAddress && address !== inlineAddress;
      if (isStub(a, child) || (clean && !evictionHolds(tree, child))) {
        words += classWords(headerWords); // could go: a stub's block stays in its place
      } else {
        stays.add(child); // dirty, inline or the snapshot's: it stays, and so may some below it
        pending.push(child);
      }
    }
  }
  return words * wordBytes;
}

/** Adds to `into` the loaded nodes on `key`'s path, from the root down. */
function pathNodes(a: Arena, root: number, key: Uint8Array, into: Set<number>): void {
  let node = root;
  let depth = 0;
  for (let level = 0; node !== 0 && !isStub(a, node); level++) {
    assert(level <= key.length + 1, "descent deeper than the key");
    into.add(node);
    const prefixLength = prefixLengthOf(a, node);
    if (prefixLength > key.length - depth) return;
    if (matchPrefix(a, node, key, depth) < prefixLength) return;
    depth += prefixLength;
    if (depth === key.length) return;
    node = findChild(a, node, key[depth]);
    depth++;
  }
}
