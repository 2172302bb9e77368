/**
 * Whole-key operations on the trie: lookup, find-or-create and removal.
 * Every descent is a loop, never recursion: a key can be 65,535 bytes deep.
 * Kind changes and prefix changes make a new node, so descents that edit
 * keep the slot (the word in the parent, or the root) that holds the node
 * they are on, to store the replacement.
 *
 * Copy-on-write: the descents that edit first take ownership of each node on
 * their path, top-down: a node a live snapshot shares is cloned and the clone
 * linked into its (already owned) parent or made the root; a node the trie
 * alone holds is kept. Either way its address is cleared, since the image
 * must rewrite it and every ancestor. An edit therefore touches only owned
 * nodes; one that would change nothing (a removal of an absent key) checks
 * first with a read-only descent so it owns, clones and dirties nothing.
 *
 * Freeing: a node an edit replaces or removes is freed at once if the trie
 * alone holds it; a node a live snapshot shares is kept (`retired`) until
 * the snapshot is released.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import { addChild, childAt, childSlot, findChild, removeChild, replaceChild } from "./_children.ts";
import {
  addressOf,
  bodyOf,
  bodyWords,
  capacityOf,
  cloneNode,
  countOf,
  freeNode,
  genOf,
  headerPrefixLength,
  inlineAddress,
  isStub,
  kind4,
  kindLeaf,
  kindOf,
  markReferenced,
  matchPrefix,
  newNode,
  newNodeLike,
  noAddress,
  noValue,
  prefixByte,
  prefixLengthOf,
  prefixStart,
  setAddress,
  setCount,
  setValue,
  valueOf,
} from "./_node.ts";
import { relocateTree } from "./_relocate.ts";
import { newWalkPosition, type WalkPosition } from "./_image_walk.ts";
import { MemoryLimitError } from "../errors.ts";
import { grow, leafToNode4, mergesIntoChild, normalize } from "./_reshape.ts";

/** `frozenGen` when no snapshot is live: no node's `gen` is at or below it. */
export const noSnapshot = -1;

/**
 * Told about every image record the live trie stops using, by its address
 * (the image's ref, which also gives the record's size).
 */
export type DropHandler = (address: number) => void;

/** Tells `onDrop` that the live trie no longer uses the image record of node `n`. */
export function reportDrop(onDrop: DropHandler, a: Arena, n: number): void {
  const address = addressOf(a, n);
  assert(address !== noAddress && !isStub(a, n), "only a loaded, written node is dropped");
  // A leaf stored in its parent's record has none of its own; the parent's
  // record goes with it (an edit of a node drops its whole path).
  if (address === inlineAddress) return;
  onDrop(address);
}

/**
 * The node where `key` ends (it may hold no value) in the trie under `root`,
 * or 0. The hot path. With `mark`, every node passed is marked referenced
 * (see `markReferenced`).
 */
export function findNode(a: Arena, root: number, key: Uint8Array, mark = false): number {
  const length = key.length;
  const i32 = a.i32;
  const u8 = a.u8;
  let node = root;
  let depth = 0;
  while (node !== 0) {
    const header = i32[node];
    if (mark) markReferenced(a, node, header);
    const prefixLength = headerPrefixLength(header);
    if (prefixLength > length - depth) return 0;
    const prefix = prefixStart(node);
    for (let i = 0; i < prefixLength; i++) {
      if (key[depth + i] !== u8[prefix + i]) return 0;
    }
    depth += prefixLength;
    if (depth === length) return node;
    node = findChild(a, node, key[depth]);
    depth++;
  }
  assert(depth <= length + 1, "descent went past the key");
  return 0;
}

/** Words a relocated arena has beyond its live nodes and half as many again. */
const relocateSpareWords = 256;

/** The root of a trie, its arena, and the whole-key operations on it. */
export class ArtTree {
  /** Where the nodes live. */
  a: Arena;
  /** The root node, or 0 when the trie is empty. */
  root = 0;
  /**
   * The generation a live snapshot froze, or {@link noSnapshot}: nodes with
   * `gen <= frozenGen` are shared with it and never changed.
   */
  frozenGen: number = noSnapshot;
  /** Told when an edit makes the live trie stop using an image record. */
  onDrop: DropHandler | null = null;
  /**
   * Nodes of a live snapshot cloned before the checkpoint gave them an
   * address: once it has, their records are dropped too (see `Art.capture`).
   */
  orphans: number[] = [];
  /** Nodes of a live snapshot the trie replaced or removed: freed when it is released. */
  retired: number[] = [];
  /**
   * The live snapshot rewrites every node (a compaction): the walk frees each
   * node's old record itself, so a shared node cloned meanwhile is always an
   * orphan (its new record, once written, is the one to drop).
   */
  rewriting = false;
  /**
   * A checkpoint failed past its capture (`Art.checkpointFailed`): the
   * nodes marked `uncommitted` name records the committed image lacks,
   * themselves or below them, and stay loaded (`_evict.ts`).
   */
  imageFailed = false;
  /** Reads mark the nodes they pass referenced (a memory budget's second chance). */
  markReads = false;
  /**
   * The memory budget's admission epoch: it advances as evictions free the
   * budget's worth of nodes; a read loads a stub only if a read passed it
   * in this epoch (see `_read_through.ts`).
   */
  admitEpoch = 0;
  /**
   * The root a live snapshot holds, or 0: while it rewrites every node (a
   * streaming compaction), a stub the live trie loads is installed in the
   * snapshot's parent too (see `installTwin` in `_lazy.ts`).
   */
  frozenRoot = 0;
  /** Where the live snapshot's image walk stands (see `_evict.ts`): empty when none runs. */
  readonly walk: WalkPosition = newWalkPosition();
  /** The arena the live snapshot's nodes are in (`clear` gives the trie another), or null. */
  frozenArena: Arena | null = null;

  constructor(a: Arena) {
    this.a = a;
  }

  /**
   * Moves the nodes into a fresh arena (see `_relocate.ts`). False, changing
   * nothing, while a snapshot is live or when the process cannot give the
   * new arena's memory (relocation only helps: the trie stays as it was).
   */
  relocate(): boolean {
    if (this.frozenGen !== noSnapshot) return false;
    assert(
      this.orphans.length === 0 && this.retired.length === 0,
      "no snapshot, no snapshot nodes",
    );
    const live = this.a.liveWords;
    let relocated: { a: Arena; root: number };
    try {
      relocated = relocateTree(this.a, this.root, live + (live >> 1) + relocateSpareWords);
    } catch (error) {
      if (error instanceof MemoryLimitError) return false;
      throw error;
    }
    const from = this.a;
    this.a = relocated.a;
    this.root = relocated.root;
    from.release(); // no snapshot or cursor reads it: give its memory back now
    return true;
  }

  /** Ends the live snapshot, which froze generation `frozen` of `arena`. */
  releaseSnapshot(frozen: number, arena: Arena): void {
    assert(this.frozenGen === frozen, "released a snapshot that is not the live one");
    this.frozenGen = noSnapshot;
    this.rewriting = false;
    this.frozenRoot = 0;
    this.frozenArena = null;
    this.walk.nodes.length = 0; // a walk left off (its checkpoint failed) stands nowhere now
    this.walk.marks.length = 0;
    this.walk.visited = 0;
    this.walk.copyParent = 0;
    // Shared nodes cloned before the checkpoint wrote them: their records
    // (if it did) are not the live trie's either.
    const orphans = this.orphans;
    this.orphans = [];
    for (const node of orphans) {
      if (this.onDrop !== null && addressOf(arena, node) !== 0) {
        reportDrop(this.onDrop, arena, node);
      }
    }
    // Nodes only the snapshot still held (a cleared trie left the whole arena to it).
    const retired = this.retired;
    this.retired = [];
    if (arena === this.a) { for (const node of retired) freeNode(arena, node); }
  }

  /** The node where `key` ends (it may hold no value), or 0. The hot path. */
  find(key: Uint8Array): number {
    return findNode(this.a, this.root, key, this.markReads);
  }

  /** The trie no longer holds `n`: freed now, or at release if a snapshot shares it. */
  discard(n: number): void {
    assert(n !== 0, "discard a node");
    if (genOf(this.a, n) <= this.frozenGen) this.retired.push(n);
    else freeNode(this.a, n);
  }

  /** The root, owned (see the module notes); the trie must not be empty. */
  #ownRoot(): number {
    const root = this.root;
    assert(root !== 0, "own the root of an empty trie");
    if (!this.#dropForEdit(root)) return root;
    const copy = cloneNode(this.a, root);
    this.retired.push(root);
    this.root = copy;
    return copy;
  }

  /**
   * The slot in the owned `n` holding its child under `byte`, with that
   * child owned (cloned into the slot if a snapshot shares it); -1 if there
   * is no such child.
   */
  #ownChildSlot(n: number, byte: number): number {
    const a = this.a;
    const slot = childSlot(a, n, byte);
    if (slot < 0) return -1;
    const child = a.i32[slot];
    if (!this.#dropForEdit(child)) return slot;
    assert(genOf(a, n) > this.frozenGen, "owning a child of a shared node");
    const copy = cloneNode(a, child);
    a.i32[slot] = copy;
    this.retired.push(child);
    return slot;
  }

  /**
   * The live trie is about to stop using `n` as it is: its image record is
   * dropped (now, or once written if a snapshot shares it) and, if the trie
   * owns it, its address cleared. Returns whether a snapshot shares it (the
   * caller must not change it, but copy it).
   */
  #dropForEdit(n: number): boolean {
    const a = this.a;
    assert(!isStub(a, n), "an edit reached a node not loaded from the image");
    const address = addressOf(a, n);
    if (genOf(a, n) <= this.frozenGen) {
      if (this.onDrop === null) return true;
      if (address !== noAddress && !this.rewriting) reportDrop(this.onDrop, a, n);
      else this.orphans.push(n);
      return true;
    }
    if (address !== noAddress) {
      if (this.onDrop !== null) reportDrop(this.onDrop, a, n);
      setAddress(a, n, noAddress); // a store only when needed: clean cache lines need no write-back
    }
    return false;
  }

  /** Stores `n` in `slot` (a word of a parent), or as the root when `slot` is -1. */
  #replace(slot: number, n: number): void {
    if (slot < 0) this.root = n;
    else this.a.i32[slot] = n;
  }

  /**
   * The node where `key` ends, created (holding {@link noValue}) when
   * missing; the caller must give it a value. Splits prefixes and grows
   * nodes on the way.
   */
  locate(key: Uint8Array): number {
    assert(key.length <= keyBytesMax, "key longer than keyBytesMax");
    const a = this.a;
    if (this.root === 0) {
      this.root = newNode(a, kindLeaf, key, 0, key.length, noValue);
      return this.root;
    }
    let node = this.#ownRoot();
    let slot = -1;
    let depth = 0;
    for (let level = 0; level <= key.length; level++) {
      const matched = matchPrefix(a, node, key, depth);
      if (matched < prefixLengthOf(a, node)) return this.#split(slot, node, key, depth, matched);
      depth += matched;
      if (depth === key.length) return node;
      const childSlot = this.#ownChildSlot(node, key[depth]);
      if (childSlot < 0) return this.#attach(slot, node, key, depth);
      slot = childSlot;
      node = a.i32[slot];
      depth++;
    }
    return unreachable("descent deeper than the key");
  }

  /**
   * Splits the owned `node`'s prefix (which starts at key position `depth`)
   * after its first `matched` bytes, where `key` departs from it or ends: a
   * new Node4 holds the common part and takes `node`'s place in `slot`.
   * Returns the node where `key` ends.
   */
  #split(slot: number, node: number, key: Uint8Array, depth: number, matched: number): number {
    const a = this.a;
    assert(matched >= 0 && matched < prefixLengthOf(a, node), "split outside the prefix");
    const upper = newNode(a, kind4, key, depth, matched, noValue);
    const byte = prefixByte(a, node, matched);
    addChild(a, upper, byte, this.#dropPrefixHead(node, matched + 1));
    this.#replace(slot, upper);
    const end = depth + matched;
    if (end === key.length) return upper;
    const leaf = newNode(a, kindLeaf, key, end + 1, key.length - end - 1, noValue);
    addChild(a, upper, key[end], leaf);
    return leaf;
  }

  /** The owned `node` made again without the first `skip` bytes of its prefix; `node` is discarded. */
  #dropPrefixHead(node: number, skip: number): number {
    const a = this.a;
    const kind = kindOf(a, node);
    const length = prefixLengthOf(a, node) - skip;
    assert(length >= 0 && skip > 0, "a prefix to shorten");
    const copy = newNodeLike(a, kind, node, skip);
    const from = bodyOf(node, length + skip);
    a.i32.copyWithin(bodyOf(copy, length), from, from + bodyWords(kind));
    setCount(a, copy, countOf(a, node));
    assert(prefixLengthOf(a, copy) === length, "the copy has the shortened prefix");
    this.discard(node);
    return copy;
  }

  /** Adds a leaf for `key` under byte `key[depth]` of the owned `node` (in `slot`), growing it first if needed. */
  #attach(slot: number, node: number, key: Uint8Array, depth: number): number {
    const a = this.a;
    assert(depth < key.length, "branch byte past the end of the key");
    let target = node;
    const kind = kindOf(a, node);
    if (kind === kindLeaf) target = leafToNode4(a, node);
    else if (countOf(a, node) === capacityOf(kind)) target = grow(a, node);
    if (target !== node) {
      this.#replace(slot, target);
      this.discard(node);
    }
    const leaf = newNode(a, kindLeaf, key, depth + 1, key.length - depth - 1, noValue);
    addChild(a, target, key[depth], leaf);
    return leaf;
  }

  /** Removes `key`'s value and restores the node invariants; false if it had none. */
  remove(key: Uint8Array): boolean {
    const a = this.a;
    const found = this.find(key);
    if (found === 0 || valueOf(a, found) === noValue) return false; // owns nothing
    // The owned path: each ancestor and the byte leading down from it.
    const ancestors: number[] = [];
    const bytes: number[] = [];
    let node = this.#ownRoot();
    let depth = prefixLengthOf(a, node);
    for (let level = 0; depth < key.length; level++) {
      assert(level <= key.length, "descent deeper than the key");
      const slot = this.#ownChildSlot(node, key[depth]);
      assert(slot >= 0 && kindOf(a, node) !== kindLeaf, "key vanished between the descents");
      ancestors.push(node);
      bytes.push(key[depth]);
      node = a.i32[slot];
      depth += 1 + prefixLengthOf(a, node);
    }
    assert(depth === key.length && valueOf(a, node) !== noValue, "removal descent missed the key");
    setValue(a, node, noValue);
    this.#restoreUpward(node, ancestors, bytes);
    return true;
  }

  /**
   * After `node` lost its value: removes it if nothing is left of it, then
   * its parent if nothing is left of that (only a lazy trie's unmerged
   * one-child nodes let this go past one level), and normalizes the first
   * node that stays.
   */
  #restoreUpward(node: number, ancestors: number[], bytes: number[]): void {
    const a = this.a;
    let current = node;
    for (let level = ancestors.length; level >= 0; level--) {
      const parent = level > 0 ? ancestors[level - 1] : 0;
      const byte = level > 0 ? bytes[level - 1] : -1;
      const empty = valueOf(a, current) === noValue && countOf(a, current) === 0;
      if (!empty) {
        if (kindOf(a, current) !== kindLeaf) this.#normalizeUnder(parent, byte, current);
        return;
      }
      this.discard(current);
      if (parent === 0) {
        this.root = 0;
        return;
      }
      removeChild(a, parent, byte);
      current = parent;
    }
    unreachable("the walk up ends at the root");
  }

  /**
   * Normalizes the owned inner `node` (under `byte` of `parent`, or the
   * root) and puts what takes its place there. A valueless one-child node
   * whose child is not loaded yet (a stub) is not merged: it stays (a lazy
   * trie allows it; lookups and edits pass through it), so edits never wait
   * for a load.
   */
  #normalizeUnder(parent: number, byte: number, node: number): void {
    const a = this.a;
    let child = 0;
    if (mergesIntoChild(a, node)) {
      child = childAt(a, node, 0);
      if (isStub(a, child)) return;
      assert(kindOf(a, node) === kind4, "a merge from a Node4");
      this.#dropForEdit(child);
    }
    const result = normalize(a, node);
    if (result === node) return;
    if (parent === 0) this.root = result;
    else replaceChild(a, parent, byte, result);
    this.discard(node);
    if (child !== 0) this.discard(child);
  }
}
