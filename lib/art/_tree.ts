/**
 * Whole-key operations on the trie: lookup, find-or-create, removal and the
 * structural check. Every descent is a loop, never recursion: a key can be
 * 65,535 bytes deep. Kind changes replace a node, so descents that edit keep
 * the parent (and, for removal, the grandparent) to store the replacement.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { bytesToString, KEY_BYTES_MAX, matchLength, sliceString } from "./_bytes.ts";
import { addChild, findChild, removeChild, replaceChild } from "./_children.ts";
import {
  type ArtNode,
  capacityOf,
  type InnerNode,
  KIND_LEAF,
  Leaf,
  newLeaf,
  NO_VALUE,
  Node4,
} from "./_node.ts";
import { grow, leafToNode4, normalize } from "./_reshape.ts";

/** The root of a trie and the whole-key operations on it. */
export class ArtTree {
  /** The root node, or null when the trie is empty. */
  root: ArtNode | null = null;

  /** The node where `key` ends (it may hold no value), or null. The hot path. */
  find(key: Uint8Array): ArtNode | null {
    const length = key.length;
    let node = this.root;
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
   * The node where `key` ends, created (holding {@link NO_VALUE}) when
   * missing; the caller must give it a value. Splits prefixes and grows
   * nodes on the way.
   */
  locate(key: Uint8Array): ArtNode {
    assert(key.length <= KEY_BYTES_MAX, "key longer than KEY_BYTES_MAX");
    if (this.root === null) {
      this.root = new Leaf(bytesToString(key, 0, key.length), NO_VALUE);
      return this.root;
    }
    let node: ArtNode = this.root;
    let parent: InnerNode | null = null;
    let parentByte = -1;
    let depth = 0;
    for (let level = 0; level <= key.length; level++) {
      const prefixLength = node.prefix.length;
      const matched = matchLength(node.prefix, key, depth);
      if (matched < prefixLength) {
        return this.#split(parent, parentByte, node, key, depth);
      }
      depth += prefixLength;
      if (depth === key.length) return node;
      const child = findChild(node, key[depth]);
      if (child === null) return this.#attach(parent, parentByte, node, key, depth);
      assert(node.kind !== KIND_LEAF, "a leaf has no children");
      parent = node;
      parentByte = key[depth];
      node = child;
      depth++;
    }
    return unreachable("descent deeper than the key");
  }

  /**
   * Splits `node`'s prefix (which starts at key position `depth`) where
   * `key` departs from it or ends: a new Node4 holds the common part and
   * takes `node`'s place. Returns the node where `key` ends.
   */
  #split(
    parent: InnerNode | null,
    parentByte: number,
    node: ArtNode,
    key: Uint8Array,
    depth: number,
  ): ArtNode {
    const prefix = node.prefix;
    const matched = matchLength(prefix, key, depth);
    assert(matched >= 0 && matched < prefix.length, "split outside the prefix");
    const upper = new Node4(sliceString(prefix, 0, matched), NO_VALUE);
    node.prefix = sliceString(prefix, matched + 1, prefix.length);
    addChild(upper, prefix.charCodeAt(matched), node);
    this.#replace(parent, parentByte, upper);
    const end = depth + matched;
    if (end === key.length) return upper;
    const leaf = newLeaf(key, end + 1, NO_VALUE);
    addChild(upper, key[end], leaf);
    return leaf;
  }

  /** Adds a leaf for `key` under byte `key[depth]` of `node`, growing it first if needed. */
  #attach(
    parent: InnerNode | null,
    parentByte: number,
    node: ArtNode,
    key: Uint8Array,
    depth: number,
  ): Leaf {
    assert(depth < key.length, "branch byte past the end of the key");
    let target: InnerNode;
    if (node.kind === KIND_LEAF) target = leafToNode4(node);
    else target = node.count === capacityOf(node.kind) ? grow(node) : node;
    if (target !== node) this.#replace(parent, parentByte, target);
    const leaf = newLeaf(key, depth + 1, NO_VALUE);
    addChild(target, key[depth], leaf);
    return leaf;
  }

  /** Removes `key`'s value and restores the node invariants; false if it had none. */
  remove(key: Uint8Array): boolean {
    let node = this.root;
    let parent: InnerNode | null = null;
    let parentByte = -1;
    let grandparent: InnerNode | null = null;
    let grandparentByte = -1;
    let depth = 0;
    for (let level = 0; node !== null; level++) {
      assert(level <= key.length, "descent deeper than the key");
      const prefixLength = node.prefix.length;
      if (matchLength(node.prefix, key, depth) < prefixLength) return false;
      depth += prefixLength;
      if (depth === key.length) break;
      const child = findChild(node, key[depth]);
      if (child === null) return false;
      assert(node.kind !== KIND_LEAF, "a leaf has no children");
      grandparent = parent;
      grandparentByte = parentByte;
      parent = node;
      parentByte = key[depth];
      node = child;
      depth++;
    }
    if (node === null || node.value === NO_VALUE) return false;
    node.value = NO_VALUE;
    if (node.kind !== KIND_LEAF) {
      this.#replaceIfChanged(parent, parentByte, node, normalize(node));
    } else if (parent === null) {
      this.root = null;
    } else {
      removeChild(parent, parentByte);
      this.#replaceIfChanged(grandparent, grandparentByte, parent, normalize(parent));
    }
    return true;
  }

  #replaceIfChanged(parent: InnerNode | null, byte: number, old: ArtNode, node: ArtNode): void {
    if (node !== old) this.#replace(parent, byte, node);
  }

  /** Stores `node` in the slot under `byte` of `parent`, or as the root. */
  #replace(parent: InnerNode | null, byte: number, node: ArtNode): void {
    if (parent === null) this.root = node;
    else replaceChild(parent, byte, node);
  }
}
