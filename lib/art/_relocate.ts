/**
 * Relocation: the trie copied into a fresh arena in the order a walk reads
 * it. Inserts in the order keys arrive scatter a node's children over the
 * arena (an import's leaves lie where each was made, between the nodes of
 * other keys), and freed nodes leave holes; a walk of a history's
 * continuations then misses the cache at almost every leaf. Relocated, each
 * node's children lie together right after the nodes before them in key
 * order, as a trie loaded from its image does, and the arena holds only
 * live nodes.
 *
 * Every node is copied word for word (generation, value, image address,
 * stub or not), so the trie is the same trie: only its refs change.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { Arena } from "./_arena.ts";
import { childSlots } from "./_children.ts";
import { countOf, headerWords, wordsOf } from "./_node.ts";

/** Copies node `n` of `from` into `to`, children refs unchanged; returns its ref in `to`. */
function copyNode(from: Arena, n: number, to: Arena): number {
  const words = wordsOf(from, n);
  const copy = to.alloc(words);
  // A loop, not `set` on a subarray: most nodes are a few words, and a view per node costs more.
  const source = from.i32;
  const target = to.i32;
  for (let w = 0; w < words; w++) target[copy + w] = source[n + w];
  return copy;
}

/**
 * The trie under `root` in `from`, copied into a new arena of `words` words
 * at least (it grows if the nodes need more): each node's children together,
 * in byte order, depth first. Returns the new arena and root.
 */
export function relocateTree(from: Arena, root: number, words: number): { a: Arena; root: number } {
  const to = new Arena(words + (words % 2));
  if (root === 0) return { a: to, root: 0 };
  const top = copyNode(from, root, to);
  /** Copied nodes whose children still refer to `from`, the next one last. */
  const pending = [top];
  const slots: number[] = [];
  const inner: number[] = [];
  const nodesMax = from.liveWords / headerWords;
  let copied = 1;
  while (pending.length > 0) {
    const node = pending.pop()!;
    slots.length = 0;
    inner.length = 0;
    childSlots(to, node, slots);
    for (const slot of slots) {
      const child = copyNode(from, to.i32[slot], to);
      to.i32[slot] = child;
      if (countOf(to, child) > 0) inner.push(child);
    }
    copied += slots.length;
    assert(copied <= nodesMax, "relocation copies each live node once");
    for (let at = inner.length - 1; at >= 0; at--) pending.push(inner[at]);
  }
  assert(to.liveWords === from.liveWords, "relocation copies every live node and nothing else");
  return { a: to, root: top };
}
