/**
 * The whole-trie structural check (in the spirit of bbolt's `Verify`): walks
 * every node with an explicit stack and asserts every node invariant.
 * O(nodes); run by tests after each step and on request in production.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { type Arena, kindFree } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import { bodyAt, childAt, findChild, keyAt, nextChildByte } from "./_children.ts";
import {
  addressOf,
  byteValues,
  capacityOf,
  countOf,
  isStub,
  kind16,
  kind4,
  kind48,
  kindLeaf,
  kindOf,
  noAddress,
  node16ShrinkCount,
  node256ShrinkCount,
  node48ShrinkCount,
  noValue,
  prefixLengthOf,
  valueOf,
} from "./_node.ts";

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
  /** Nodes not loaded from the image yet (a lazy trie's stubs). */
  stubs: number;
  /** The largest value of the loaded nodes (0 if none holds one). */
  valueMax: number;
}

/** The fewest children each kind may hold, indexed by kind. */
const childrenMinByKind = [
  0,
  1,
  node16ShrinkCount + 1,
  node48ShrinkCount + 1,
  node256ShrinkCount + 1,
];

/**
 * Walks the trie under `root`, asserts every invariant and counts the nodes.
 * A `lazy` trie (opened from an image) may hold stubs, and valueless
 * one-child nodes whose merge waited for a child that was not loaded. Keys
 * behind stubs are not counted.
 */
export function verifyTree(a: Arena, root: number, lazy = false): TreeStats {
  const stats = {
    keys: 0,
    leaves: 0,
    nodes4: 0,
    nodes16: 0,
    nodes48: 0,
    nodes256: 0,
    depthMax: 0,
    stubs: 0,
    valueMax: 0,
  };
  const nodes: number[] = root === 0 ? [] : [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    assert(kindOf(a, node) !== kindFree, "the trie reaches a freed node");
    if (isStub(a, node)) {
      assert(
        lazy && addressOf(a, node) !== noAddress,
        "a stub in a trie not opened from an image",
      );
      stats.stubs++;
      depths.pop();
      continue;
    }
    const depth = depths.pop()! + prefixLengthOf(a, node);
    assert(depth <= keyBytesMax, `key path of ${depth} bytes is too long`);
    verifyNode(a, node, lazy);
    const value = valueOf(a, node);
    if (value !== noValue) {
      if (value > stats.valueMax) stats.valueMax = value;
      stats.keys++;
      stats.depthMax = Math.max(stats.depthMax, depth);
    }
    const kind = kindOf(a, node);
    if (kind === kindLeaf) stats.leaves++;
    else if (kind === kind4) stats.nodes4++;
    else if (kind === kind16) stats.nodes16++;
    else if (kind === kind48) stats.nodes48++;
    else stats.nodes256++;
    const address = addressOf(a, node);
    for (let byte = nextChildByte(a, node, -1); byte >= 0; byte = nextChildByte(a, node, byte)) {
      const child = findChild(a, node, byte);
      // A written node's record points at its children's records.
      assert(
        address === noAddress || addressOf(a, child) !== noAddress,
        "written above unwritten",
      );
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
  return stats;
}

function verifyNode(a: Arena, node: number, lazy: boolean): void {
  const value = valueOf(a, node);
  assert(value === noValue || (Number.isSafeInteger(value) && value >= 0), "value");
  const kind = kindOf(a, node);
  const count = countOf(a, node);
  if (kind === kindLeaf) {
    assert(value !== noValue && count === 0, "leaf without a value");
    return;
  }
  assert(count >= childrenMinByKind[kind], `kind ${kind} with ${count} children`);
  assert(count <= capacityOf(kind), `kind ${kind} with ${count} children`);
  assert(lazy || count !== 1 || value !== noValue, "valueless one-child node not compressed");
  if (kind === kind4 || kind === kind16) {
    for (let at = 0; at < capacityOf(kind); at++) {
      assert((childAt(a, node, at) !== 0) === at < count, `child slot ${at} disagrees`);
      assert(at < count || keyAt(a, node, at) === 0, "stray key bytes");
    }
    for (let at = 1; at < count; at++) {
      assert(keyAt(a, node, at - 1) < keyAt(a, node, at), "keys not ascending");
    }
  } else {
    verifyWide(a, node, count);
  }
}

function verifyWide(a: Arena, node: number, count: number): void {
  const body = bodyAt(a, node);
  let present = 0;
  for (let byte = 0; byte < byteValues; byte++) if (a.i32[body + byte] !== 0) present++;
  assert(present === count, `count ${count} but ${present} children`);
  assert(present <= capacityOf(kindOf(a, node)), `${present} children over the kind's capacity`);
}
