/**
 * The nodes of the adaptive radix trie and the edits on one node.
 *
 * All kinds share one class ({@link ArtNode}, a tagged shape) so a kind change
 * (grow, shrink, split, collapse) is an in-place edit: a node's identity never
 * changes, so no edit has to find and patch the parent. It also keeps every
 * property access on the hot path monomorphic.
 *
 * A node stands for the key path that ends after its `prefix`. The branching
 * byte that leads from a parent to a child is held by the parent (in `keys`
 * or as the Node256 slot), not repeated in the child's prefix. A node may hold
 * a value (the key that ends exactly there) and children (longer keys).
 *
 * Invariants (checked by {@link verifyTree}):
 * - Leaf: no children, holds a value; `prefix` is the rest of its key.
 * - Node4 holds 1..4 children, Node16 4..16, Node48 13..48, Node256 38..256
 *   (growth happens when full, shrinking at the `*_SHRINK_COUNT` marks, so a
 *   node never flips between two kinds on one insert/delete pair).
 * - An inner node with a single child holds a value (otherwise it is merged
 *   with its child: path compression).
 * - Node4/Node16 `keys` are strictly ascending; Node48 `keys` is a 256-byte
 *   index of slot + 1 (0: no child).
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import {
  bytesToString,
  insertByte,
  joinStrings,
  KEY_BYTES_MAX,
  removeByte,
  replaceByte,
  sliceString,
  zeroString,
} from "./_bytes.ts";

/** A node without children: the end of one key. */
export const KIND_LEAF = 0;
/** Up to 4 children, keys sorted in a string. */
export const KIND_4 = 1;
/** Up to 16 children, keys sorted in a string. */
export const KIND_16 = 2;
/** Up to 48 children behind a 256-entry index. */
export const KIND_48 = 3;
/** One slot per byte value. */
export const KIND_256 = 4;

/** Children a Node4 holds at most. */
export const NODE4_CHILDREN_MAX = 4;
/** Children a Node16 holds at most. */
export const NODE16_CHILDREN_MAX = 16;
/** Children a Node48 holds at most. */
export const NODE48_CHILDREN_MAX = 48;
/** Children a Node256 holds at most. */
export const NODE256_CHILDREN_MAX = 256;
/** A Node16 that drops to this many children becomes a Node4. */
export const NODE16_SHRINK_COUNT = 3;
/** A Node48 that drops to this many children becomes a Node16. */
export const NODE48_SHRINK_COUNT = 12;
/** A Node256 that drops to this many children becomes a Node48. */
export const NODE256_SHRINK_COUNT = 37;
/** The number of distinct byte values. */
export const BYTE_VALUES = 256;
/** `ArtNode.value` when no key ends at the node (values are never negative). */
export const NO_VALUE = -1;

/** One trie node; `kind` says how `keys` and `children` are laid out. */
export class ArtNode {
  /** One of the `KIND_*` constants. */
  kind: number;
  /** The compressed path bytes below the parent's branching byte. */
  prefix: string;
  /** The value of the key ending after `prefix`, or {@link NO_VALUE}. */
  value: number;
  /** The number of non-null entries in `children`. */
  count: number;
  /** Node4/16: sorted child bytes; Node48: 256-byte slot index; else "". */
  keys: string;
  /** Sized to the kind's capacity; `null` for an empty slot. */
  children: (ArtNode | null)[];

  constructor(kind: number, prefix: string, value: number) {
    this.kind = kind;
    this.prefix = prefix;
    this.value = value;
    this.count = 0;
    this.keys = "";
    this.children = kind === KIND_LEAF ? NO_CHILDREN : emptyChildren(capacityOf(kind));
  }
}

/** The children array every leaf shares; frozen so a stray write throws. */
const NO_CHILDREN: (ArtNode | null)[] = Object.freeze([]) as unknown as (ArtNode | null)[];

function emptyChildren(capacity: number): (ArtNode | null)[] {
  return new Array<ArtNode | null>(capacity).fill(null);
}

/** The children capacity of an inner kind. */
export function capacityOf(kind: number): number {
  switch (kind) {
    case KIND_4:
      return NODE4_CHILDREN_MAX;
    case KIND_16:
      return NODE16_CHILDREN_MAX;
    case KIND_48:
      return NODE48_CHILDREN_MAX;
    case KIND_256:
      return NODE256_CHILDREN_MAX;
    default:
      return unreachable(`capacity of node kind ${kind}`);
  }
}

/** A new leaf for `key[from...]`. */
export function newLeaf(key: Uint8Array, from: number, value: number): ArtNode {
  assert(from >= 0 && from <= key.length, "leaf suffix start out of bounds");
  return new ArtNode(KIND_LEAF, bytesToString(key, from, key.length), value);
}

/** The child under `byte`, or null. The hot path: no allocation. */
export function findChild(node: ArtNode, byte: number): ArtNode | null {
  const kind = node.kind;
  if (kind === KIND_256) return node.children[byte];
  if (kind === KIND_48) {
    const slot = node.keys.charCodeAt(byte);
    return slot === 0 ? null : node.children[slot - 1];
  }
  const keys = node.keys;
  const count = node.count;
  for (let i = 0; i < count; i++) {
    const key = keys.charCodeAt(i);
    if (key === byte) return node.children[i];
    if (key > byte) return null;
  }
  return null;
}

/** The smallest child byte greater than `after` (-1 for the first), or -1. */
export function nextChildByte(node: ArtNode, after: number): number {
  assert(after >= -1 && after < BYTE_VALUES, `child cursor ${after} out of range`);
  const kind = node.kind;
  if (kind === KIND_4 || kind === KIND_16) {
    for (let i = 0; i < node.count; i++) {
      const key = node.keys.charCodeAt(i);
      if (key > after) return key;
    }
    return -1;
  }
  if (kind === KIND_LEAF) return -1;
  for (let byte = after + 1; byte < BYTE_VALUES; byte++) {
    if (kind === KIND_48 ? node.keys.charCodeAt(byte) !== 0 : node.children[byte] !== null) {
      return byte;
    }
  }
  return -1;
}

/** The largest child byte smaller than `before` (256 for the last), or -1. */
export function prevChildByte(node: ArtNode, before: number): number {
  assert(before >= 0 && before <= BYTE_VALUES, `child cursor ${before} out of range`);
  const kind = node.kind;
  if (kind === KIND_4 || kind === KIND_16) {
    for (let i = node.count - 1; i >= 0; i--) {
      const key = node.keys.charCodeAt(i);
      if (key < before) return key;
    }
    return -1;
  }
  if (kind === KIND_LEAF) return -1;
  for (let byte = before - 1; byte >= 0; byte--) {
    if (kind === KIND_48 ? node.keys.charCodeAt(byte) !== 0 : node.children[byte] !== null) {
      return byte;
    }
  }
  return -1;
}

/** Adds `child` under `byte`, which must be free; grows the node when full. */
export function addChild(node: ArtNode, byte: number, child: ArtNode): void {
  if (node.kind === KIND_LEAF) becomeInner(node);
  if (node.count === capacityOf(node.kind)) grow(node);
  assert(node.count < capacityOf(node.kind), "node still full after growing");
  const children = node.children;
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    let at = node.count;
    while (at > 0 && node.keys.charCodeAt(at - 1) > byte) {
      children[at] = children[at - 1];
      at--;
    }
    assert(at === 0 || node.keys.charCodeAt(at - 1) < byte, `child byte ${byte} already taken`);
    children[at] = child;
    node.keys = insertByte(node.keys, at, byte);
  } else if (node.kind === KIND_48) {
    assert(node.keys.charCodeAt(byte) === 0, `child byte ${byte} already taken`);
    const slot = children.indexOf(null);
    children[slot] = child;
    node.keys = replaceByte(node.keys, byte, slot + 1);
  } else {
    assert(children[byte] === null, `child byte ${byte} already taken`);
    children[byte] = child;
  }
  node.count++;
}

/** Removes the child under `byte`, which must exist. Leaves shrinking to {@link normalize}. */
export function removeChild(node: ArtNode, byte: number): void {
  assert(node.kind !== KIND_LEAF && node.count > 0, "remove from a node without children");
  const children = node.children;
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    let at = 0;
    while (at < node.count && node.keys.charCodeAt(at) !== byte) at++;
    assert(at < node.count, `no child under byte ${byte}`);
    children.copyWithin(at, at + 1, node.count);
    children[node.count - 1] = null;
    node.keys = removeByte(node.keys, at);
  } else if (node.kind === KIND_48) {
    const slot = node.keys.charCodeAt(byte);
    assert(slot > 0, `no child under byte ${byte}`);
    children[slot - 1] = null;
    node.keys = replaceByte(node.keys, byte, 0);
  } else {
    assert(children[byte] !== null, `no child under byte ${byte}`);
    children[byte] = null;
  }
  node.count--;
}

/** Turns a leaf into an empty Node4 in place (it keeps its prefix and value). */
function becomeInner(node: ArtNode): void {
  assert(node.kind === KIND_LEAF && node.count === 0, "only a leaf becomes inner");
  node.kind = KIND_4;
  node.keys = "";
  node.children = emptyChildren(NODE4_CHILDREN_MAX);
}

/** Moves a full node to the next larger kind in place. */
function grow(node: ArtNode): void {
  assert(node.count === capacityOf(node.kind), "grow a node that is not full");
  const old = node.children;
  if (node.kind === KIND_4) {
    node.kind = KIND_16;
    node.children = emptyChildren(NODE16_CHILDREN_MAX);
    for (let i = 0; i < node.count; i++) node.children[i] = old[i];
  } else if (node.kind === KIND_16) {
    let index = zeroString(BYTE_VALUES);
    for (let i = 0; i < node.count; i++) index = replaceByte(index, node.keys.charCodeAt(i), i + 1);
    node.kind = KIND_48;
    node.keys = index;
    node.children = emptyChildren(NODE48_CHILDREN_MAX);
    for (let i = 0; i < node.count; i++) node.children[i] = old[i];
  } else {
    assert(node.kind === KIND_48, `grow node kind ${node.kind}`);
    node.kind = KIND_256;
    node.children = emptyChildren(NODE256_CHILDREN_MAX);
    for (let byte = 0; byte < BYTE_VALUES; byte++) {
      const slot = node.keys.charCodeAt(byte);
      if (slot !== 0) node.children[byte] = old[slot - 1];
    }
    node.keys = "";
  }
}

/** Moves a sparse node to the next smaller kind in place. */
function shrink(node: ArtNode): void {
  const old = node.children;
  const oldKind = node.kind;
  assert(oldKind === KIND_16 || oldKind === KIND_48 || oldKind === KIND_256, "shrink kind");
  const codes: number[] = [];
  const kept: ArtNode[] = [];
  for (let byte = nextChildByte(node, -1); byte >= 0; byte = nextChildByte(node, byte)) {
    codes.push(byte);
    kept.push(findChild(node, byte)!);
  }
  assert(kept.length === node.count, "child count disagrees with children");
  node.kind = oldKind - 1;
  node.children = emptyChildren(capacityOf(node.kind));
  if (node.kind === KIND_48) {
    let index = zeroString(BYTE_VALUES);
    for (let i = 0; i < kept.length; i++) index = replaceByte(index, codes[i], i + 1);
    node.keys = index;
  } else {
    node.keys = String.fromCharCode(...codes);
  }
  for (let i = 0; i < kept.length; i++) node.children[i] = kept[i];
  assert(old !== node.children && node.count <= capacityOf(node.kind), "shrink overflow");
}

/**
 * Restores the invariants of an inner node after it lost a child or a value:
 * becomes a leaf, merges with its only child, or shrinks.
 */
export function normalize(node: ArtNode): void {
  assert(node.kind !== KIND_LEAF, "normalize a leaf");
  assert(node.count > 0 || node.value !== NO_VALUE, "inner node with nothing left");
  if (node.count === 0) {
    node.kind = KIND_LEAF;
    node.keys = "";
    node.children = NO_CHILDREN;
  } else if (node.count === 1 && node.value === NO_VALUE) {
    absorbOnlyChild(node);
  } else if (
    (node.kind === KIND_16 && node.count <= NODE16_SHRINK_COUNT) ||
    (node.kind === KIND_48 && node.count <= NODE48_SHRINK_COUNT) ||
    (node.kind === KIND_256 && node.count <= NODE256_SHRINK_COUNT)
  ) {
    shrink(node);
  }
}

/** Path compression: a valueless Node4 with one child takes the child's place. */
function absorbOnlyChild(node: ArtNode): void {
  assert(node.kind === KIND_4 && node.count === 1, "absorb needs a Node4 with one child");
  const byte = node.keys.charCodeAt(0);
  const child = node.children[0]!;
  assert(node.prefix.length + 1 + child.prefix.length <= KEY_BYTES_MAX, "merged prefix too long");
  node.prefix = joinStrings(node.prefix, byte, child.prefix);
  node.kind = child.kind;
  node.value = child.value;
  node.count = child.count;
  node.keys = child.keys;
  node.children = child.children;
}

/**
 * Splits `node`'s prefix after `at` bytes, in place: `node` becomes a Node4
 * holding the first `at` bytes, and its old contents move to a new child under
 * the byte at `at`.
 */
export function splitPrefix(node: ArtNode, at: number): void {
  const prefix = node.prefix;
  assert(at >= 0 && at < prefix.length, `split at ${at} outside prefix`);
  const lower = new ArtNode(KIND_LEAF, sliceString(prefix, at + 1, prefix.length), node.value);
  lower.kind = node.kind;
  lower.count = node.count;
  lower.keys = node.keys;
  lower.children = node.children;
  node.kind = KIND_4;
  node.prefix = sliceString(prefix, 0, at);
  node.value = NO_VALUE;
  node.count = 0;
  node.keys = "";
  node.children = emptyChildren(NODE4_CHILDREN_MAX);
  addChild(node, prefix.charCodeAt(at), lower);
}
