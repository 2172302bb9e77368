/**
 * The whole-trie structural check (in the spirit of bbolt's `Verify`): walks
 * every node with an explicit stack and asserts every node invariant.
 * O(nodes); run by tests after each step and on request in production.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { KEY_BYTES_MAX } from "./_bytes.ts";
import { childAt, findChild, nextChildByte } from "./_children.ts";
import {
  type ArtNode,
  BYTE_VALUES,
  capacityOf,
  isStub,
  keyAt16,
  keyAt4,
  KIND_16,
  KIND_4,
  KIND_48,
  KIND_LEAF,
  NO_ADDRESS,
  NO_VALUE,
  NODE16_CHILDREN_MAX,
  NODE16_SHRINK_COUNT,
  NODE256_SHRINK_COUNT,
  NODE48_SHRINK_COUNT,
  type NodeWide,
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
}

/** The fewest children each kind may hold, indexed by kind. */
const COUNT_MIN = [
  0,
  1,
  NODE16_SHRINK_COUNT + 1,
  NODE48_SHRINK_COUNT + 1,
  NODE256_SHRINK_COUNT + 1,
];

/**
 * Walks the trie under `root`, asserts every invariant and counts the nodes.
 * A `lazy` trie (opened from an image) may hold stubs, and valueless
 * one-child nodes whose merge waited for a child that was not loaded. Keys
 * behind stubs are not counted.
 */
export function verifyTree(root: ArtNode | null, lazy = false): TreeStats {
  const stats = {
    keys: 0,
    leaves: 0,
    nodes4: 0,
    nodes16: 0,
    nodes48: 0,
    nodes256: 0,
    depthMax: 0,
    stubs: 0,
  };
  const nodes: ArtNode[] = root === null ? [] : [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    if (isStub(node)) {
      assert(lazy && node.address !== NO_ADDRESS, "a stub in a trie not opened from an image");
      stats.stubs++;
      depths.pop();
      continue;
    }
    const depth = depths.pop()! + node.prefix.length;
    assert(depth <= KEY_BYTES_MAX, `key path of ${depth} bytes is too long`);
    verifyNode(node, lazy);
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
      const child = findChild(node, byte)!;
      // A written node's record points at its children's records.
      assert(
        node.address === NO_ADDRESS || child.address !== NO_ADDRESS,
        "written above unwritten",
      );
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
  return stats;
}

function verifyNode(node: ArtNode, lazy: boolean): void {
  assert(node.value === NO_VALUE || (Number.isSafeInteger(node.value) && node.value >= 0), "value");
  for (let i = 0; i < node.prefix.length; i++) assert(node.prefix.charCodeAt(i) <= 0xff, "prefix");
  if (node.kind === KIND_LEAF) {
    assert(node.value !== NO_VALUE, "leaf without a value");
    return;
  }
  assert(node.count >= COUNT_MIN[node.kind], `kind ${node.kind} with ${node.count} children`);
  assert(node.count <= capacityOf(node.kind), `kind ${node.kind} with ${node.count} children`);
  assert(
    lazy || node.count !== 1 || node.value !== NO_VALUE,
    "valueless one-child node not compressed",
  );
  if (node.kind === KIND_4 || node.kind === KIND_16) {
    for (let at = 0; at < capacityOf(node.kind); at++) {
      assert((childAt(node, at) !== null) === at < node.count, `child slot ${at} disagrees`);
    }
    const keyAt = (at: number) => node.kind === KIND_4 ? keyAt4(node.keys, at) : keyAt16(node, at);
    for (let at = 1; at < node.count; at++) assert(keyAt(at - 1) < keyAt(at), "keys not ascending");
    if (node.kind === KIND_4) {
      assert(node.count === 4 || node.keys >>> (node.count * 8) === 0, "stray Node4 key bytes");
    } else {
      for (let at = node.count; at < NODE16_CHILDREN_MAX; at++) {
        assert(keyAt16(node, at) === 0, "stray Node16 key bytes");
      }
    }
  } else {
    verifyWide(node);
  }
}

function verifyWide(node: NodeWide): void {
  assert(node.children.length === BYTE_VALUES, "a wide node has one slot per byte value");
  const present = node.children.filter((child) => child !== null).length;
  assert(present === node.count, `count ${node.count} but ${present} children`);
  assert(present <= capacityOf(node.kind), `${present} children over the kind's capacity`);
}
