/**
 * Reads that pass a stub without installing it: under a memory budget, a
 * read that meets a stub no read met lately answers from the records below
 * it, read and checked as a load reads them, and installs nothing. The stub
 * is stamped with the budget's admission epoch (`markPassed`); a read that
 * meets it again in the same epoch installs it (`installPath`).
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
import type { RecordSource } from "./_lazy.ts";
import { inlineAddress, noValue } from "./_node.ts";

/** What {@link readThrough} returns when `source` cannot give a record at once. */
export const throughNotGiven = -2;

/**
 * The count of `key` in the subtree of the record at `address`, whose node
 * starts at `key[depth]` (after its parent's branching byte): noValue if
 * absent, {@link throughNotGiven} if `source` cannot give a record on the
 * way. Installs nothing and allocates nothing: each record is decoded into
 * `source.fields` and used before the next fetch (they share buffers).
 */
export function readThrough(
  key: Uint8Array,
  depth: number,
  address: number,
  source: RecordSource,
): number {
  assert(depth > 0 && depth <= key.length, "a stub lies below the root, within the key");
  const fields = source.fields;
  // Each level takes at least its branching byte from the key.
  for (let level = 0; level <= key.length; level++) {
    const bytes = source.fetch(address);
    if (bytes === undefined) return throughNotGiven;
    depth = matchedEnd(bytes, fields.prefixAt, fields.prefixLength, key, depth);
    if (depth < 0) return noValue;
    if (depth === key.length) return fields.value < 0 ? noValue : fields.value;
    const index = childIndex(bytes, fields.childBytesAt, fields.count, key[depth]);
    if (index < 0) return noValue;
    depth++;
    const child = fields.refs[index];
    if (child !== inlineAddress) {
      address = child;
      continue;
    }
    const leaf = inlineIndex(fields.refs, index);
    assert(leaf < fields.leaves, "an inline child has its leaf in the record");
    const end = matchedEnd(bytes, fields.leafAt[leaf], fields.leafLength[leaf], key, depth);
    return end === key.length ? fields.leafValue[leaf] : noValue;
  }
  return unreachable("a read through records deeper than its key");
}

/**
 * The end of the `length` bytes at `bytes[at]` matched in `key` from `from`,
 * or -1 if they do not match there.
 */
function matchedEnd(
  bytes: Uint8Array,
  at: number,
  length: number,
  key: Uint8Array,
  from: number,
): number {
  if (length > key.length - from) return -1;
  for (let i = 0; i < length; i++) if (bytes[at + i] !== key[from + i]) return -1;
  return from + length;
}

/** The position of `byte` among the `count` ascending bytes at `bytes[at]`, or -1. */
function childIndex(bytes: Uint8Array, at: number, count: number, byte: number): number {
  let low = 0;
  let high = count - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = bytes[at + middle];
    if (found === byte) return middle;
    if (found < byte) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** How many inline children come before child `index` (the inline leaf's position). */
function inlineIndex(refs: readonly number[], index: number): number {
  let inline = 0;
  for (let i = 0; i < index; i++) if (refs[i] === inlineAddress) inline++;
  return inline;
}
