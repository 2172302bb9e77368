/**
 * Reads that pass a stub without installing it: under a memory budget, a
 * read that meets a stub no read met before answers from the records below
 * it, read and checked as a load reads them, and installs nothing. The stub
 * is marked (`markReferenced`); the next read that meets it installs it.
 *
 * Why: a read of a cold key (a tenth of the budget bench's skewed mix, all
 * of a uniform one) installed its path's records, each with a stub per
 * child, and a round of evictions then took them out again, or took a hot
 * node in their place. Admitting a node on its second read keeps one-off
 * reads from displacing what is read again (as 2Q's probation or
 * TinyLFU's admission do), and a cold read costs its record reads only.
 *
 * What answers is what a load would have installed: stubs stand for
 * records of the committed image, unchanged (an edit loads its path
 * first), so a read through them sees the same counts.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import type { NodeView } from "./_image_walk.ts";
import { inlineAddress, noValue } from "./_node.ts";

/** What {@link readThrough} returns when `fetch` cannot give a record at once. */
export const throughNotGiven = -2;

/**
 * The count of `key` in the subtree of the record at `address`, whose node
 * starts at `key[depth]` (after its parent's branching byte): noValue if
 * absent, {@link throughNotGiven} if `fetch` cannot give a record on the
 * way. Installs nothing; each record's view is used before the next fetch
 * (views may share buffers).
 */
export function readThrough(
  key: Uint8Array,
  depth: number,
  address: number,
  fetch: (address: number) => NodeView | undefined,
): number {
  assert(depth > 0 && depth <= key.length, "a stub lies below the root, within the key");
  // Each level takes at least its branching byte from the key.
  for (let level = 0; level <= key.length; level++) {
    const view = fetch(address);
    if (view === undefined) return throughNotGiven;
    depth = matchedEnd(view.prefix, key, depth);
    if (depth < 0) return noValue;
    if (depth === key.length) return view.value ?? noValue;
    const index = childIndex(view.childBytes, key[depth]);
    if (index < 0) return noValue;
    depth++;
    const child = view.childAddresses[index];
    if (child !== inlineAddress) {
      address = child;
      continue;
    }
    const leaf = view.inlineLeaves?.[inlineIndex(view.childAddresses, index)];
    assert(leaf !== undefined, "an inline child has its leaf in the record");
    return matchedEnd(leaf.prefix, key, depth) === key.length ? leaf.value : noValue;
  }
  return unreachable("a read through records deeper than its key");
}

/** The end of `prefix` matched in `key` from `from`, or -1 if it does not match there. */
function matchedEnd(prefix: Uint8Array, key: Uint8Array, from: number): number {
  if (prefix.length > key.length - from) return -1;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== key[from + i]) return -1;
  return from + prefix.length;
}

/** The position of `byte` among the ascending `bytes`, or -1. */
function childIndex(bytes: Uint8Array, byte: number): number {
  let low = 0;
  let high = bytes.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = bytes[middle];
    if (found === byte) return middle;
    if (found < byte) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** How many inline children come before child `index` (the inline leaf's position). */
function inlineIndex(addresses: readonly number[], index: number): number {
  let inline = 0;
  for (let i = 0; i < index; i++) if (addresses[i] === inlineAddress) inline++;
  return inline;
}
