/**
 * Reading and editing the children of one node by branching byte. Edits
 * never change a node's kind: a full node must be grown first and a sparse one
 * shrunk after (see `_reshape.ts`).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type ArtNode,
  BYTE_VALUES,
  capacityOf,
  childAt16,
  childAt4,
  type InnerNode,
  keyAt16,
  keyAt4,
  KIND_16,
  KIND_256,
  KIND_4,
  KIND_48,
  KIND_LEAF,
  type Node16,
  type Node4,
  type NodeWide,
  setChildAt16,
  setChildAt4,
  setKeyAt16,
} from "./_node.ts";

/** The child under `byte`, or null. The hot path: no allocation, one field per level for 4/16. */
export function findChild(node: ArtNode, byte: number): ArtNode | null {
  switch (node.kind) {
    case KIND_4: {
      const keys = node.keys;
      for (let at = 0; at < node.count; at++) {
        const key = keyAt4(keys, at);
        if (key === byte) return childAt4(node, at);
        if (key > byte) return null;
      }
      return null;
    }
    case KIND_16: {
      const at = positionOf16(node, byte);
      return at < 0 ? null : childAt16(node, at);
    }
    case KIND_48:
    case KIND_256:
      return node.children[byte];
    default:
      return null;
  }
}

/** The position of `byte` in a Node16's sorted keys, or -1. */
function positionOf16(node: Node16, byte: number): number {
  for (let at = 0; at < node.count; at++) {
    const key = keyAt16(node, at);
    if (key === byte) return at;
    if (key > byte) return -1;
  }
  return -1;
}

/** The child byte in sorted position `at` of a Node4 or Node16. */
function keyAt(node: Node4 | Node16, at: number): number {
  return node.kind === KIND_4 ? keyAt4(node.keys, at) : keyAt16(node, at);
}

/** The smallest child byte greater than `after` (-1 for the first), or -1. */
export function nextChildByte(node: ArtNode, after: number): number {
  assert(after >= -1 && after < BYTE_VALUES, "child cursor out of range");
  if (node.kind === KIND_LEAF) return -1;
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    for (let at = 0; at < node.count; at++) {
      const key = keyAt(node, at);
      if (key > after) return key;
    }
    return -1;
  }
  for (let byte = after + 1; byte < BYTE_VALUES; byte++) {
    if (hasWideChild(node, byte)) return byte;
  }
  return -1;
}

/** The branching byte of the child the last {@link nextChild} returned. */
export const nextChildFound = { byte: -1 };

/**
 * The child with the smallest byte greater than `after` (-1 for the first),
 * or null; its byte goes to {@link nextChildFound}. One pass: for Node4/16
 * it saves the second scan `nextChildByte` + `findChild` make.
 */
export function nextChild(node: ArtNode, after: number): ArtNode | null {
  assert(after >= -1 && after < BYTE_VALUES, "child cursor out of range");
  switch (node.kind) {
    case KIND_4: {
      const keys = node.keys;
      for (let at = 0; at < node.count; at++) {
        const key = keyAt4(keys, at);
        if (key > after) {
          nextChildFound.byte = key;
          return childAt4(node, at);
        }
      }
      return null;
    }
    case KIND_16: {
      for (let at = 0; at < node.count; at++) {
        const key = keyAt16(node, at);
        if (key > after) {
          nextChildFound.byte = key;
          return childAt16(node, at);
        }
      }
      return null;
    }
    case KIND_48:
    case KIND_256: {
      const children = node.children;
      for (let byte = after + 1; byte < BYTE_VALUES; byte++) {
        const child = children[byte];
        if (child !== null) {
          nextChildFound.byte = byte;
          return child;
        }
      }
      return null;
    }
    default:
      return null;
  }
}

/** The largest child byte smaller than `before` (256 for the last), or -1. */
export function prevChildByte(node: ArtNode, before: number): number {
  assert(before >= 0 && before <= BYTE_VALUES, "child cursor out of range");
  if (node.kind === KIND_LEAF) return -1;
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    for (let at = node.count - 1; at >= 0; at--) {
      const key = keyAt(node, at);
      if (key < before) return key;
    }
    return -1;
  }
  for (let byte = before - 1; byte >= 0; byte--) {
    if (hasWideChild(node, byte)) return byte;
  }
  return -1;
}

function hasWideChild(node: NodeWide, byte: number): boolean {
  return node.children[byte] !== null;
}

/** Adds `child` under the free `byte` of a node that is not full. */
export function addChild(node: InnerNode, byte: number, child: ArtNode): void {
  assert(node.count < capacityOf(node.kind), "add to a full node");
  assert(findChild(node, byte) === null, "child byte already taken");
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    let at = node.count;
    for (; at > 0 && keyAt(node, at - 1) > byte; at--) {
      setChildAt(node, at, childAt(node, at - 1));
      if (node.kind === KIND_16) setKeyAt16(node, at, keyAt16(node, at - 1));
    }
    setChildAt(node, at, child);
    if (node.kind === KIND_4) node.keys = insertKey4(node.keys, at, byte);
    else setKeyAt16(node, at, byte);
  } else {
    node.children[byte] = child;
  }
  node.count++;
}

/**
 * Gives an empty `node` its `count` children at once: `children[childFrom
 * + i]` under the byte `bytes[bytesFrom + i]`, the bytes strictly
 * ascending. One keys string (or integer) built once, instead of one per
 * child as repeated {@link addChild} calls do. The loader's path: a node
 * read from the image arrives with every child.
 */
export function fillChildren(
  node: InnerNode,
  bytes: Uint8Array,
  bytesFrom: number,
  children: readonly ArtNode[],
  childFrom: number,
  count: number,
): void {
  assert(
    node.count === 0 && bytesFrom + count <= bytes.length,
    "fill an empty node, bytes in range",
  );
  assert(count <= capacityOf(node.kind) && childFrom + count <= children.length, "children fit");
  for (let at = bytesFrom + 1; at < bytesFrom + count; at++) {
    assert(bytes[at] > bytes[at - 1], "child bytes ascend");
  }
  if (node.kind === KIND_4) {
    let keys = 0;
    for (let at = 0; at < count; at++) {
      keys |= bytes[bytesFrom + at] << (at * 8);
      setChildAt(node, at, children[childFrom + at]);
    }
    node.keys = keys;
  } else if (node.kind === KIND_16) {
    for (let at = 0; at < count; at++) {
      setChildAt(node, at, children[childFrom + at]);
      setKeyAt16(node, at, bytes[bytesFrom + at]);
    }
  } else {
    for (let at = 0; at < count; at++) {
      node.children[bytes[bytesFrom + at]] = children[childFrom + at];
    }
  }
  node.count = count;
}

/** Removes the child under `byte`, which must exist. Shrinking is left to the caller. */
export function removeChild(node: InnerNode, byte: number): void {
  assert(node.count > 0, "remove from a node without children");
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    const at = positionOf(node, byte);
    for (let next = at + 1; next < node.count; next++) {
      setChildAt(node, next - 1, childAt(node, next));
      if (node.kind === KIND_16) setKeyAt16(node, next - 1, keyAt16(node, next));
    }
    setChildAt(node, node.count - 1, null);
    if (node.kind === KIND_4) node.keys = removeKey4(node.keys, at);
    else setKeyAt16(node, node.count - 1, 0);
  } else {
    assert(node.children[byte] !== null, "no child under the byte");
    node.children[byte] = null;
  }
  node.count--;
}

/** Puts `child` in place of the existing child under `byte`. */
export function replaceChild(node: InnerNode, byte: number, child: ArtNode): void {
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    setChildAt(node, positionOf(node, byte), child);
  } else {
    assert(node.children[byte] !== null, "no child under the byte");
    node.children[byte] = child;
  }
}

function positionOf(node: Node4 | Node16, byte: number): number {
  let at = 0;
  while (at < node.count && keyAt(node, at) !== byte) at++;
  assert(at < node.count, "no child under the byte");
  return at;
}

/** Child `at` of a Node4 or Node16. */
export function childAt(node: Node4 | Node16, at: number): ArtNode | null {
  return node.kind === KIND_4 ? childAt4(node, at) : childAt16(node, at);
}

function setChildAt(node: Node4 | Node16, at: number, child: ArtNode | null): void {
  if (node.kind === KIND_4) setChildAt4(node, at, child);
  else setChildAt16(node, at, child);
}

/** Bits in a Node4's packed keys. */
const KEYS4_BITS = 32;

/** Packed Node4 keys with `byte` inserted at position `at` (bytes past the count stay 0). */
function insertKey4(keys: number, at: number, byte: number): number {
  const bits = at * 8;
  const low = bits === 0 ? 0 : keys & ((1 << bits) - 1);
  const high = bits + 8 >= KEYS4_BITS ? 0 : (keys >>> bits) << (bits + 8);
  return low | (byte << bits) | high;
}

/** Packed Node4 keys without the byte at position `at`. */
function removeKey4(keys: number, at: number): number {
  const bits = at * 8;
  const low = bits === 0 ? 0 : keys & ((1 << bits) - 1);
  const high = bits + 8 >= KEYS4_BITS ? 0 : (keys >>> (bits + 8)) << bits;
  return low | high;
}
