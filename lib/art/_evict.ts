/**
 * Eviction: a loaded subtree whose records the image holds turns back into
 * a stub, and its nodes' memory goes back to the arena. The inverse of an
 * install (`_lazy.ts`): the stub keeps the node's address and generation,
 * so a later read loads the same records again and nothing about the keys
 * changes.
 *
 * Only a clean subtree can go: a node has an image address exactly when it
 * and everything below it are as the last checkpoint that wrote them left
 * them (an edit drops the address of every node on its path, see
 * `ArtTree`), so a node with an address is evicted with its whole subtree.
 * Eviction never runs beside a live snapshot: the checkpoint it belongs to
 * may still fail, and then the addresses it gave name records no committed
 * image holds. The root always stays.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { childSlots, replaceChild } from "./_children.ts";
import {
  addressOf,
  countOf,
  freeNode,
  genOf,
  inlineAddress,
  isStub,
  newStub,
  noAddress,
  referenced,
  takeReferenced,
  wordsOf,
} from "./_node.ts";
import { noSnapshot } from "./_tree.ts";
import { nodeAtPath, pushLoadedChildren } from "./_lazy.ts";
import type { ArtTree } from "./_tree.ts";
import { keyBytesMax } from "../limits.ts";

/** What one eviction freed. */
export interface Evicted {
  /** Words given back to the arena (its nodes' words, less the stub's). */
  words: number;
  /** Nodes turned into the one stub. */
  nodes: number;
  /** Stubs the subtree held (they went with it). */
  stubs: number;
}

/**
 * Evicts the loaded node at `path` (the key bytes from the root to and
 * including the branching byte into it) and its subtree, if it is clean.
 * Returns null, changing nothing, when no loaded node ends there, the node
 * has no address of its own (dirty, or a leaf stored in its parent's
 * record), or a snapshot is live.
 */
export function evictNode(tree: ArtTree, path: Uint8Array): Evicted | null {
  const result = evictNodeIf(tree, path, false);
  return result === evictKept ? null : result;
}

/** What {@link evictNodeIf} returns for a node a read passed since the last look: it stays. */
export const evictKept = "kept";

/**
 * {@link evictNode}; with `spareReferenced`, a node a read passed since the
 * last look (see `markReferenced`) stays, its mark cleared, and
 * {@link evictKept} is returned: a second chance. With `seen`, a node
 * already in it is not looked at again (null), and the node looked at is
 * added: two looks in one round would take the second chance back.
 */
export function evictNodeIf(
  tree: ArtTree,
  path: Uint8Array,
  spareReferenced: boolean,
  seen?: Set<number>,
): Evicted | null | typeof evictKept {
  if (tree.frozenGen !== noSnapshot) return null;
  const found = nodeAtPath(tree.a, tree.root, path);
  if (found === null || isStub(tree.a, found.node)) return null;
  const { parent, node } = found;
  if (seen !== undefined) {
    if (seen.has(node)) return null;
    seen.add(node);
  }
  if (spareReferenced && takeReferenced(tree.a, node)) return evictKept;
  const address = addressOf(tree.a, node);
  if (address === noAddress || address === inlineAddress) return null;
  // The stub first: if the arena cannot grow, nothing has changed.
  const stub = newStub(tree.a, address, genOf(tree.a, node));
  replaceChild(tree.a, parent, path[path.length - 1], stub);
  const evicted = freeSubtree(tree.a, node);
  evicted.words -= wordsOf(tree.a, stub);
  return evicted;
}

/** Frees `top` and every node below it; counts them. */
function freeSubtree(a: Arena, top: number): Evicted {
  const evicted: Evicted = { words: 0, nodes: 0, stubs: 0 };
  const pending = [top];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // read before the frees lower it
  for (let steps = 0; pending.length > 0; steps++) {
    assert(steps <= nodesMax, "each node of the subtree is freed once");
    assert(pending.length <= (keyBytesMax + 1) * 256, "eviction stack is bounded");
    const node = pending.pop()!;
    assert(addressOf(a, node) !== noAddress, "below an address, every node has one");
    if (isStub(a, node)) evicted.stubs++;
    slots.length = 0;
    childSlots(a, node, slots);
    for (const slot of slots) pending.push(a.i32[slot]);
    evicted.words += wordsOf(a, node);
    evicted.nodes++;
    freeNode(a, node);
  }
  return evicted;
}

/** What {@link evictableNodes} does with a node that could go: offer it. */
export const evictTake = 0;
/** ... look below it instead (something below it must stay). */
export const evictDescend = 1;
/** ... pass over it and everything below it. */
export const evictSkip = 2;
/** A caller's choice for one node that could go, by its path. */
export type EvictChoice = (path: Uint8Array) => number;

/**
 * Up to `limit` loaded nodes with image addresses of their own (so each can
 * be evicted with its subtree), in key order: the highest such node on each
 * path (not the root), not the ones below it, unless `choose` says to look
 * below it ({@link evictDescend}) or pass it ({@link evictSkip}); with
 * `lowest`, the lowest such nodes instead (none of their children has
 * children loaded: the nodes near the root, which most keys share, stay). With
 * `from`, subtrees wholly below it are passed over (a clock hand: the walk
 * goes on where the last one stopped). With `spareReferenced`, a node a
 * read passed since the last look (see `markReferenced`) is not offered:
 * the walk looks below it, and leaves the mark (the cooling queue's looks
 * clear it).
 */
export function evictableNodes(
  a: Arena,
  root: number,
  limit: number,
  from?: Uint8Array,
  choose?: EvictChoice,
  lowest = false,
  spareReferenced = false,
): { path: Uint8Array; address: number }[] {
  const found: { path: Uint8Array; address: number }[] = [];
  if (root === 0 || isStub(a, root)) return found;
  const nodes: number[] = [];
  const paths: Uint8Array[] = [];
  const slots: number[] = [];
  const skip = from === undefined ? undefined : (path: Uint8Array) => whollyBelow(path, from);
  // Leaves without a record of their own are passed over: nothing below them, none can go.
  pushLoadedChildren(a, root, new Uint8Array(0), nodes, paths, skip, true);
  for (let steps = 0; nodes.length > 0 && found.length < limit; steps++) {
    assert(steps <= a.liveWords, "each node is visited once");
    const node = nodes.pop()!;
    const path = paths.pop()!;
    const address = addressOf(a, node);
    let choice = address === noAddress || address === inlineAddress
      ? evictDescend
      : choose?.(path) ?? evictTake;
    // Read since the last look: a second chance, and the walk looks below it.
    if (choice === evictTake && spareReferenced && referenced(a, node)) choice = evictDescend;
    if (choice === evictTake && lowest && holdsLoadedInner(a, node, slots)) {
      pushLoadedChildren(a, node, path, nodes, paths, skip, true); // the lowest ones go first
    } else if (choice === evictTake) found.push({ path, address });
    else if (choice === evictDescend) {
      pushLoadedChildren(a, node, path, nodes, paths, skip, true);
    }
  }
  return found;
}

/** Whether a child of `node` is a loaded node with children of its own (`slots` is scratch). */
function holdsLoadedInner(a: Arena, node: number, slots: number[]): boolean {
  slots.length = 0;
  childSlots(a, node, slots);
  for (const slot of slots) {
    const child = a.i32[slot];
    if (!isStub(a, child) && countOf(a, child) > 0) return true;
  }
  return false;
}

/** Whether every key that starts with `path` sorts before `from`. */
function whollyBelow(path: Uint8Array, from: Uint8Array): boolean {
  const length = Math.min(path.length, from.length);
  for (let i = 0; i < length; i++) if (path[i] !== from[i]) return path[i] < from[i];
  return false; // one is a prefix of the other: some key under `path` is at or past `from`
}
