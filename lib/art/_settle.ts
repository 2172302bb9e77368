/**
 * The end of a streaming compaction in memory: once the new file is the
 * image, every fresh (negated) address the compaction gave becomes the
 * plain ref it stands for, in one synchronous step over the live trie and
 * the snapshot's nodes an edit replaced (their records are dropped when
 * the snapshot is released). No node may keep an address of the old
 * image: the file those records were in is gone, so one would load
 * another record, or free space the new image uses. A first pass checks
 * that, a second settles (a node may be met twice: an edit that failed
 * for memory leaves the node it meant to replace among the replaced ones).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { childSlots } from "./_children.ts";
import { addressOf, inlineAddress, isFreshAddress, noAddress, setAddress } from "./_node.ts";

/**
 * Settles the addresses of every node under `root` and of `orphans`;
 * returns how many nodes it passed.
 *
 * @throws {AssertionError} if a node holds an address of the old image.
 */
export function settleFreshAddresses(a: Arena, root: number, orphans: readonly number[]): number {
  const check = (node: number): void => {
    const address = addressOf(a, node);
    assert(
      isFreshAddress(address) || address === noAddress || address === inlineAddress,
      `a node kept the old image's address ${address} past a compaction`,
    );
  };
  const settle = (node: number): void => {
    const address = addressOf(a, node);
    if (isFreshAddress(address)) setAddress(a, node, -address);
  };
  for (const node of orphans) check(node);
  const passed = eachNode(a, root, check);
  for (const node of orphans) settle(node);
  eachNode(a, root, settle);
  return passed + orphans.length;
}

/** Calls `visit` for every node under `root` (stubs too); returns how many. */
function eachNode(a: Arena, root: number, visit: (node: number) => void): number {
  if (root === 0) return 0;
  const pending = [root];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // a node takes several words
  let passed = 0;
  while (pending.length > 0) {
    assert(++passed <= nodesMax, "each live node is passed once");
    const node = pending.pop()!;
    visit(node);
    slots.length = 0;
    childSlots(a, node, slots);
    for (const slot of slots) pending.push(a.i32[slot]);
  }
  return passed;
}
