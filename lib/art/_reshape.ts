/**
 * Kind changes: growing a full node, shrinking a sparse one, turning a leaf
 * into a Node4 and back, and path compression (merging a valueless
 * one-child node into its child). Each returns a new node that takes the
 * old one's place; the caller stores it in the parent and discards the
 * nodes it replaced (they may be shared with a snapshot).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import { childAt, copyChildren, keyAt } from "./_children.ts";
import {
  capacityOf,
  copyPrefix,
  countOf,
  kind16,
  kind256,
  kind4,
  kind48,
  kindLeaf,
  kindOf,
  newNode,
  newNodeLike,
  node16ShrinkCount,
  node256ShrinkCount,
  node48ShrinkCount,
  noValue,
  prefixBuffer,
  prefixLengthOf,
  valueOf,
} from "./_node.ts";

/** A node of `kind` with `n`'s prefix, value and children. */
function rebuild(a: Arena, n: number, kind: number): number {
  assert(countOf(a, n) <= capacityOf(kind), "children do not fit the kind");
  const target = newNodeLike(a, kind, n);
  copyChildren(a, n, target);
  return target;
}

/** The next larger kind holding the children of the full `n`. */
export function grow(a: Arena, n: number): number {
  const kind = kindOf(a, n);
  assert(countOf(a, n) === capacityOf(kind), "grow a node that is not full");
  assert(kind !== kind256 && kind !== kindLeaf, "a Node256 cannot grow");
  return rebuild(a, n, kind + 1);
}

/** A Node4 in place of a leaf that gains a child; it keeps the prefix and value. */
export function leafToNode4(a: Arena, leaf: number): number {
  assert(kindOf(a, leaf) === kindLeaf && valueOf(a, leaf) !== noValue, "a leaf holds a value");
  return newNodeLike(a, kind4, leaf);
}

/** Whether {@link normalize} of `n` is a merge into its only child. */
export function mergesIntoChild(a: Arena, n: number): boolean {
  return countOf(a, n) === 1 && valueOf(a, n) === noValue;
}

/**
 * What takes the place of an inner node that lost a child or its value: a
 * leaf (no children left), its merged only child (no value, one child), a
 * smaller kind (too sparse), or the node itself.
 */
export function normalize(a: Arena, n: number): number {
  const kind = kindOf(a, n);
  const count = countOf(a, n);
  assert(count > 0 || valueOf(a, n) !== noValue, "inner node with nothing left");
  if (count === 0) return newNodeLike(a, kindLeaf, n);
  if (mergesIntoChild(a, n)) return mergeOnlyChild(a, n);
  if (
    (kind === kind16 && count <= node16ShrinkCount) ||
    (kind === kind48 && count <= node48ShrinkCount) ||
    (kind === kind256 && count <= node256ShrinkCount)
  ) {
    return rebuild(a, n, kind - 1);
  }
  return n;
}

/**
 * Path compression: a new node in place of `n` and its only child, holding
 * `n`'s prefix, the branching byte and the child's prefix, and the child's
 * value and children.
 */
function mergeOnlyChild(a: Arena, n: number): number {
  assert(kindOf(a, n) === kind4 && countOf(a, n) === 1, "merge needs a Node4 with one child");
  const byte = keyAt(a, n, 0);
  const child = childAt(a, n, 0);
  const length = prefixLengthOf(a, n) + 1 + prefixLengthOf(a, child);
  assert(length <= keyBytesMax, "merged prefix too long");
  const buffer = prefixBuffer(length);
  let at = copyPrefix(a, n, buffer, 0);
  buffer[at++] = byte;
  at = copyPrefix(a, child, buffer, at);
  const merged = newNode(a, kindOf(a, child), buffer, 0, at, valueOf(a, child));
  if (kindOf(a, child) !== kindLeaf) copyChildren(a, child, merged);
  return merged;
}
