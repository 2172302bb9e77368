/**
 * Kind changes: growing a full node, shrinking a sparse one, turning a leaf
 * into a Node4 and back, and path compression (merging a valueless
 * one-child node into its child). Each returns the node that takes the old
 * one's place; the caller stores it in the parent.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { joinStrings, KEY_BYTES_MAX } from "./_bytes.ts";
import { addChild, findChild, nextChildByte } from "./_children.ts";
import {
  type ArtNode,
  capacityOf,
  type InnerNode,
  keyAt4,
  KIND_16,
  KIND_256,
  KIND_4,
  KIND_48,
  Leaf,
  NO_VALUE,
  Node16,
  NODE16_SHRINK_COUNT,
  NODE256_SHRINK_COUNT,
  Node4,
  NODE48_SHRINK_COUNT,
  NodeWide,
} from "./_node.ts";

function newInner(kind: number, prefix: string, value: number): InnerNode {
  switch (kind) {
    case KIND_4:
      return new Node4(prefix, value);
    case KIND_16:
      return new Node16(prefix, value);
    case KIND_48:
    case KIND_256:
      return new NodeWide(kind, prefix, value);
    default:
      return unreachable(`inner node kind ${kind}`);
  }
}

/** A node of `kind` with `node`'s prefix, value and children. */
function rebuild(node: InnerNode, kind: number): InnerNode {
  assert(node.count <= capacityOf(kind), "children do not fit the kind");
  const target = newInner(kind, node.prefix, node.value);
  for (let byte = nextChildByte(node, -1); byte >= 0; byte = nextChildByte(node, byte)) {
    addChild(target, byte, findChild(node, byte)!);
  }
  assert(target.count === node.count, "rebuild lost children");
  return target;
}

/** The next larger kind holding the children of the full `node`. */
export function grow(node: InnerNode): InnerNode {
  assert(node.count === capacityOf(node.kind), "grow a node that is not full");
  assert(node.kind !== KIND_256, "a Node256 cannot grow");
  return rebuild(node, node.kind + 1);
}

/** A Node4 in place of a leaf that gains a child; it keeps the prefix and value. */
export function leafToNode4(leaf: Leaf): Node4 {
  assert(leaf.value !== NO_VALUE, "a leaf holds a value");
  return new Node4(leaf.prefix, leaf.value);
}

/**
 * What takes the place of an inner node that lost a child or its value: a
 * leaf (no children left), its merged only child (no value, one child), a
 * smaller kind (too sparse), or the node itself.
 */
export function normalize(node: InnerNode): ArtNode {
  assert(node.count > 0 || node.value !== NO_VALUE, "inner node with nothing left");
  if (node.count === 0) return new Leaf(node.prefix, node.value);
  if (node.count === 1 && node.value === NO_VALUE) return mergeOnlyChild(node);
  if (
    (node.kind === KIND_16 && node.count <= NODE16_SHRINK_COUNT) ||
    (node.kind === KIND_48 && node.count <= NODE48_SHRINK_COUNT) ||
    (node.kind === KIND_256 && node.count <= NODE256_SHRINK_COUNT)
  ) {
    return rebuild(node, node.kind - 1);
  }
  return node;
}

/** Path compression: the only child absorbs `node`'s prefix and branching byte. */
function mergeOnlyChild(node: InnerNode): ArtNode {
  assert(node.kind === KIND_4 && node.count === 1, "merge needs a Node4 with one child");
  const byte = keyAt4(node.keys, 0);
  const child = node.c0!;
  assert(node.prefix.length + 1 + child.prefix.length <= KEY_BYTES_MAX, "merged prefix too long");
  child.prefix = joinStrings(node.prefix, byte, child.prefix);
  return child;
}
