/**
 * The end of a streaming compaction in memory: once the new file is the
 * image, every fresh (negated) address the compaction gave becomes the
 * plain ref it stands for, in one synchronous pass over the live trie and
 * the snapshot's nodes an edit replaced (their records are dropped when
 * the snapshot is released). No node may keep an address of the old
 * image: the file those records were in is gone, so one would load
 * another record, or free space the new image uses. The pass asserts it.
 * A node may be both live and replaced (an edit that failed for memory
 * leaves the node it meant to replace among the replaced ones): the
 * replaced ones are settled first, and a live node met with a plain ref
 * must be one of them.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { childSlots } from "./_children.ts";
import {
  addressOf,
  countOf,
  inlineAddress,
  isFreshAddress,
  noAddress,
  setAddress,
} from "./_node.ts";

/**
 * Settles the addresses of every node under `root` and of `orphans`;
 * returns how many nodes it passed.
 *
 * @throws {AssertionError} if a node holds an address of the old image.
 */
export function settleFreshAddresses(a: Arena, root: number, orphans: readonly number[]): number {
  const settled = new Set<number>();
  for (const node of orphans) {
    settleNode(a, node, settled);
    settled.add(node);
  }
  if (root === 0) return orphans.length;
  settleNode(a, root, settled);
  const pending = countOf(a, root) > 0 ? [root] : [];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // a node takes several words
  let passed = 1;
  while (pending.length > 0) {
    const node = pending.pop()!;
    slots.length = 0;
    childSlots(a, node, slots);
    passed += slots.length;
    assert(passed <= nodesMax, "each live node is settled once");
    for (const slot of slots) {
      const child = a.i32[slot];
      settleNode(a, child, settled);
      if (countOf(a, child) > 0) pending.push(child); // leaves and stubs have no children
    }
  }
  return passed + orphans.length;
}

/** Settles `node`'s address, asserting it is no old image's (but one `settled` already). */
function settleNode(a: Arena, node: number, settled: ReadonlySet<number>): void {
  const address = addressOf(a, node);
  if (isFreshAddress(address)) {
    setAddress(a, node, -address);
    return;
  }
  assert(
    address === noAddress || address === inlineAddress || settled.has(node),
    `a node kept the old image's address ${address} past a compaction`,
  );
}
