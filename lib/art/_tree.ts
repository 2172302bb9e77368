/**
 * Whole-key operations on a trie given its root: lookup, find-or-create,
 * removal and the structural check. All descents are loops, never recursion:
 * a key can be 65,535 bytes deep.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { KEY_BYTES_MAX, matchLength } from "./_bytes.ts";
import {
  addChild,
  type ArtNode,
  BYTE_VALUES,
  capacityOf,
  findChild,
  KIND_16,
  KIND_256,
  KIND_4,
  KIND_48,
  KIND_LEAF,
  newLeaf,
  nextChildByte,
  NO_VALUE,
  NODE16_SHRINK_COUNT,
  NODE256_SHRINK_COUNT,
  NODE48_CHILDREN_MAX,
  NODE48_SHRINK_COUNT,
  NODE4_CHILDREN_MAX,
  normalize,
  removeChild,
  splitPrefix,
} from "./_node.ts";

/** The node where `key` ends (it may hold no value), or null. */
export function findNode(root: ArtNode | null, key: Uint8Array): ArtNode | null {
  const length = key.length;
  let node = root;
  let depth = 0;
  while (node !== null) {
    const prefix = node.prefix;
    const prefixLength = prefix.length;
    if (prefixLength > length - depth) return null;
    for (let i = 0; i < prefixLength; i++) {
      if (key[depth + i] !== prefix.charCodeAt(i)) return null;
    }
    depth += prefixLength;
    if (depth === length) return node;
    node = findChild(node, key[depth]);
    depth++;
  }
  assert(depth <= length + 1, "descent went past the key");
  return null;
}

/**
 * The node where `key` ends, created (with {@link NO_VALUE}) when missing; the
 * caller must give it a value. Splits prefixes and grows nodes on the way.
 */
export function locateNode(root: ArtNode, key: Uint8Array): ArtNode {
  assert(key.length <= KEY_BYTES_MAX, `key of ${key.length} bytes is too long`);
  let node = root;
  let depth = 0;
  for (let level = 0; level <= key.length; level++) {
    const prefixLength = node.prefix.length;
    const matched = matchLength(node.prefix, key, depth);
    if (matched < prefixLength) {
      splitPrefix(node, matched);
      return depth + matched === key.length ? node : attachLeaf(node, key, depth + matched);
    }
    depth += prefixLength;
    if (depth === key.length) return node;
    const child = findChild(node, key[depth]);
    if (child === null) return attachLeaf(node, key, depth);
    node = child;
    depth++;
  }
  return unreachable("descent deeper than the key");
}

function attachLeaf(node: ArtNode, key: Uint8Array, depth: number): ArtNode {
  assert(depth < key.length, "leaf branch byte past the key");
  const leaf = newLeaf(key, depth + 1, NO_VALUE);
  addChild(node, key[depth], leaf);
  return leaf;
}

/** {@link removeKey}: the key was not there. */
export const REMOVE_MISSING = 0;
/** {@link removeKey}: the key was removed; the root is still in use. */
export const REMOVE_DONE = 1;
/** {@link removeKey}: the key was the root leaf; the trie is now empty. */
export const REMOVE_EMPTIED = 2;

/** Removes `key` and restores the node invariants; returns a `REMOVE_*` code. */
export function removeKey(root: ArtNode, key: Uint8Array): number {
  let node = root;
  let parent: ArtNode | null = null;
  let parentByte = -1;
  let depth = 0;
  for (let level = 0;; level++) {
    assert(level <= key.length, "descent deeper than the key");
    const prefixLength = node.prefix.length;
    if (matchLength(node.prefix, key, depth) < prefixLength) return REMOVE_MISSING;
    depth += prefixLength;
    if (depth === key.length) break;
    const child = findChild(node, key[depth]);
    if (child === null) return REMOVE_MISSING;
    parent = node;
    parentByte = key[depth];
    node = child;
    depth++;
  }
  if (node.value === NO_VALUE) return REMOVE_MISSING;
  node.value = NO_VALUE;
  if (node.kind !== KIND_LEAF) {
    normalize(node);
    return REMOVE_DONE;
  }
  if (parent === null) return REMOVE_EMPTIED;
  removeChild(parent, parentByte);
  normalize(parent);
  return REMOVE_DONE;
}

/** Node counts by kind, from {@link verifyTree}. */
export interface TreeStats {
  /** Keys (nodes holding a value). */
  keys: number;
  /** Leaf nodes. */
  leaves: number;
  /** Node4 nodes. */
  nodes4: number;
  /** Node16 nodes. */
  nodes16: number;
  /** Node48 nodes. */
  nodes48: number;
  /** Node256 nodes. */
  nodes256: number;
  /** The length of the longest key. */
  depthMax: number;
}

/** Children-count bounds per kind, indexed by kind: [min, max]. */
const COUNT_BOUNDS: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, NODE4_CHILDREN_MAX],
  [NODE16_SHRINK_COUNT + 1, capacityOf(KIND_16)],
  [NODE48_SHRINK_COUNT + 1, NODE48_CHILDREN_MAX],
  [NODE256_SHRINK_COUNT + 1, capacityOf(KIND_256)],
];

/**
 * Walks the whole trie (explicit stack) and asserts every node invariant;
 * returns node counts. O(nodes): for tests and on-request checks.
 */
export function verifyTree(root: ArtNode | null): TreeStats {
  const stats = { keys: 0, leaves: 0, nodes4: 0, nodes16: 0, nodes48: 0, nodes256: 0, depthMax: 0 };
  if (root === null) return stats;
  const nodes: ArtNode[] = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()! + node.prefix.length;
    assert(depth <= KEY_BYTES_MAX, `key path of ${depth} bytes is too long`);
    verifyNode(node);
    if (node.value !== NO_VALUE) {
      stats.keys++;
      stats.depthMax = Math.max(stats.depthMax, depth);
    }
    if (node.kind === KIND_LEAF) stats.leaves++;
    else if (node.kind === KIND_4) stats.nodes4++;
    else if (node.kind === KIND_16) stats.nodes16++;
    else if (node.kind === KIND_48) stats.nodes48++;
    else stats.nodes256++;
    for (let byte = nextChildByte(node, -1); byte >= 0; byte = nextChildByte(node, byte)) {
      nodes.push(findChild(node, byte)!);
      depths.push(depth + 1);
    }
  }
  return stats;
}

function verifyNode(node: ArtNode): void {
  const [countMin, countMax] = COUNT_BOUNDS[node.kind];
  assert(node.count >= countMin && node.count <= countMax, `kind ${node.kind} count ${node.count}`);
  assert(node.value === NO_VALUE || (Number.isSafeInteger(node.value) && node.value >= 0), "value");
  assert(node.count !== 1 || node.value !== NO_VALUE, "uncompressed one-child node");
  assert(node.kind !== KIND_LEAF || node.value !== NO_VALUE, "leaf without a value");
  for (let i = 0; i < node.prefix.length; i++) assert(node.prefix.charCodeAt(i) <= 0xff, "prefix");
  if (node.kind === KIND_LEAF) {
    assert(node.children.length === 0 && node.keys === "", "leaf with children");
    return;
  }
  assert(node.children.length === capacityOf(node.kind), "children array not at capacity");
  const present = node.children.filter((child) => child !== null).length;
  assert(present === node.count, `count ${node.count} but ${present} children`);
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    assert(node.keys.length === node.count, "keys length differs from count");
    for (let i = 1; i < node.count; i++) {
      assert(node.keys.charCodeAt(i - 1) < node.keys.charCodeAt(i), "keys not ascending");
    }
  } else if (node.kind === KIND_48) {
    assert(node.keys.length === BYTE_VALUES, "Node48 index length");
    const slots = new Set<number>();
    for (let byte = 0; byte < BYTE_VALUES; byte++) {
      const slot = node.keys.charCodeAt(byte);
      assert(slot <= NODE48_CHILDREN_MAX && !slots.has(slot), "Node48 slot out of range or shared");
      if (slot !== 0) {
        assert(node.children[slot - 1] !== null, "Node48 index points at an empty slot");
        slots.add(slot);
      }
    }
    assert(slots.size === node.count, "Node48 index disagrees with count");
  }
}
