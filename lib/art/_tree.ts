/**
 * Whole-key operations on the trie: lookup, find-or-create, removal and the
 * structural check. Every descent is a loop, never recursion: a key can be
 * 65,535 bytes deep. Kind changes replace a node, so descents that edit keep
 * the parent (and, for removal, the grandparent) to store the replacement.
 *
 * Copy-on-write: the descents that edit first take ownership of each node on
 * their path, top-down: a node a live snapshot shares is cloned and the clone
 * linked into its (already owned) parent or made the root; a node the trie
 * alone holds is kept. Either way its `address` is cleared, since the image
 * must rewrite it and every ancestor. An edit therefore touches only owned
 * nodes; one that would change nothing (a removal of an absent key) checks
 * first with a read-only descent so it owns, clones and dirties nothing.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { bytesToString, KEY_BYTES_MAX, matchLength, sliceString } from "./_bytes.ts";
import { addChild, findChild, removeChild, replaceChild } from "./_children.ts";
import {
  type ArtNode,
  capacityOf,
  cloneNode,
  INLINE_ADDRESS,
  type InnerNode,
  isStub,
  keyAt4,
  KIND_4,
  KIND_LEAF,
  Leaf,
  newLeaf,
  NO_ADDRESS,
  NO_VALUE,
  Node4,
} from "./_node.ts";
import { grow, leafToNode4, normalize } from "./_reshape.ts";

/** `frozenGen` when no snapshot is live: no node's `gen` is at or below it. */
export const NO_SNAPSHOT = -1;

/**
 * Told about every image record the live trie stops using, by its address
 * (the image's ref, which also gives the record's size).
 */
export type DropHandler = (address: number) => void;

/** The number of children of `node`. */
export function childCount(node: ArtNode): number {
  return node.kind === KIND_LEAF ? 0 : node.count;
}

/** Tells `onDrop` that the live trie no longer uses `node`'s image record. */
export function reportDrop(onDrop: DropHandler, node: ArtNode): void {
  assert(node.address !== NO_ADDRESS && !isStub(node), "only a loaded, written node is dropped");
  // A leaf stored in its parent's record has none of its own; the parent's
  // record goes with it (an edit of a node drops its whole path).
  if (node.address === INLINE_ADDRESS) return;
  onDrop(node.address);
}

/** The node where `key` ends (it may hold no value) in the trie under `root`, or null. The hot path. */
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

/** The root of a trie and the whole-key operations on it. */
export class ArtTree {
  /** The root node, or null when the trie is empty. */
  root: ArtNode | null = null;
  /**
   * The generation a live snapshot froze, or {@link NO_SNAPSHOT}: nodes with
   * `gen <= frozenGen` are shared with it and never changed.
   */
  frozenGen: number = NO_SNAPSHOT;
  /** Told when an edit makes the live trie stop using an image record. */
  onDrop: DropHandler | null = null;
  /**
   * Nodes of a live snapshot cloned before the checkpoint gave them an
   * address: once it has, their records are dropped too (see `Art.capture`).
   */
  orphans: ArtNode[] = [];
  /**
   * The live snapshot rewrites every node (a compaction): the walk frees each
   * node's old record itself, so a shared node cloned meanwhile is always an
   * orphan (its new record, once written, is the one to drop).
   */
  rewriting = false;

  /** The node where `key` ends (it may hold no value), or null. The hot path. */
  find(key: Uint8Array): ArtNode | null {
    return findNode(this.root, key);
  }

  /** The root, owned (see the module notes); the trie must not be empty. */
  #ownRoot(): ArtNode {
    let root = this.root;
    assert(root !== null, "own the root of an empty trie");
    if (root.gen <= this.frozenGen) {
      this.#dropShared(root);
      root = cloneNode(root);
      this.root = root;
    } else if (root.address !== NO_ADDRESS) {
      this.#dropOwned(root);
    }
    return root;
  }

  /** The child under `byte` of the owned `node`, owned; null if there is none. */
  #ownChild(node: ArtNode, byte: number): ArtNode | null {
    let child = findChild(node, byte);
    if (child === null) return null;
    if (child.gen <= this.frozenGen) {
      assert(node.gen > this.frozenGen, "owning a child of a shared node");
      this.#dropShared(child);
      child = cloneNode(child);
      replaceChild(node as InnerNode, byte, child);
    } else if (child.address !== NO_ADDRESS) {
      this.#dropOwned(child);
    }
    return child;
  }

  /** A node the snapshot shares is replaced by a clone: its record (now or once written) is dropped. */
  #dropShared(node: ArtNode): void {
    if (this.onDrop === null) return;
    if (node.address !== NO_ADDRESS && !this.rewriting) reportDrop(this.onDrop, node);
    else this.orphans.push(node);
  }

  /** An owned node is about to change: its record is dropped and its address cleared. */
  #dropOwned(node: ArtNode): void {
    assert(!isStub(node), "an edit reached a node not loaded from the image");
    if (this.onDrop !== null) reportDrop(this.onDrop, node);
    node.address = NO_ADDRESS; // a store only when needed: clean cache lines need no write-back
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
    let node: ArtNode = this.#ownRoot();
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
      const child = this.#ownChild(node, key[depth]);
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
    const found = this.find(key);
    if (found === null || found.value === NO_VALUE) return false; // owns nothing
    // The owned path: each ancestor and the byte leading down from it.
    const ancestors: InnerNode[] = [];
    const bytes: number[] = [];
    let node: ArtNode = this.#ownRoot();
    let depth = node.prefix.length;
    for (let level = 0; depth < key.length; level++) {
      assert(level <= key.length, "descent deeper than the key");
      const child = this.#ownChild(node, key[depth]);
      assert(child !== null && node.kind !== KIND_LEAF, "key vanished between the descents");
      ancestors.push(node as InnerNode);
      bytes.push(key[depth]);
      node = child;
      depth += 1 + node.prefix.length;
    }
    assert(depth === key.length && node.value !== NO_VALUE, "removal descent missed the key");
    node.value = NO_VALUE;
    this.#restoreUpward(node, ancestors, bytes);
    return true;
  }

  /**
   * After `node` lost its value: removes it if nothing is left of it, then
   * its parent if nothing is left of that (only a lazy trie's unmerged
   * one-child nodes let this go past one level), and normalizes the first
   * node that stays.
   */
  #restoreUpward(node: ArtNode, ancestors: InnerNode[], bytes: number[]): void {
    let current = node;
    for (let level = ancestors.length; level >= 0; level--) {
      const parent = level > 0 ? ancestors[level - 1] : null;
      const byte = level > 0 ? bytes[level - 1] : -1;
      const empty = current.value === NO_VALUE &&
        (current.kind === KIND_LEAF || current.count === 0);
      if (!empty) {
        if (current.kind !== KIND_LEAF) {
          this.#replaceIfChanged(parent, byte, current, this.#normalize(current));
        }
        return;
      }
      if (parent === null) {
        this.root = null;
        return;
      }
      removeChild(parent, byte);
      current = parent;
    }
    unreachable("the walk up ends at the root");
  }

  /**
   * {@link normalize} on an owned node, owning first the only child it may
   * merge into. A child not loaded yet (a stub) is not merged: the node
   * stays a valueless one-child node (a lazy trie allows it; lookups and
   * edits pass through it), so edits never wait for a load.
   */
  #normalize(node: InnerNode): ArtNode {
    if (node.kind === KIND_4 && node.count === 1 && node.value === NO_VALUE) {
      if (isStub(node.c0!)) return node;
      const child = this.#ownChild(node, keyAt4(node.keys, 0));
      assert(child !== null && node.c0 === child, "the only child is not owned");
    }
    return normalize(node);
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
