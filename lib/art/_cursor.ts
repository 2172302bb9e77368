/**
 * An ordered walk over the trie with an explicit stack (a key can be 65,535
 * bytes deep, so no recursion). A seek descends along the bound key once and
 * leaves on the stack exactly the frames whose remaining work lies on the
 * wanted side of the bound; stepping then never compares with the bound
 * again except for the far end, which the caller checks.
 *
 * Each frame holds a node, the length of its key path (the byte after the
 * prefix) and a mark: the last child byte visited. Forward walks visit a
 * node's own value before its children; reverse walks visit it after them.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { compareBytes } from "../_bytes.ts";
import { Arena } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import { findChild, nextChild, nextChildFound, prevChildByte } from "./_children.ts";
import {
  addressOf,
  bodyOf,
  byteValues,
  countOf,
  headerKind,
  headerPrefixLength,
  isStub,
  kind256,
  kind48,
  kindLeaf,
  matchPrefix,
  NodeNotLoaded,
  noValue,
  prefixByte,
  prefixLengthOf,
  prefixStart,
  valueOf,
} from "./_node.ts";

/** Forward mark: the node's own value is still to be visited. */
const markValuePending = -2;
/** Forward mark: value done (or skipped), no child visited yet. */
const markValueDone = -1;
/** Reverse mark: no child visited yet. */
const markReverseStart = byteValues;
/** A frame's count of children left when a seek left some behind it: never reaches 0. */
const leftUnknown = 2 ** 30;
/** Frames on the stack at most: each frame sits at least one byte deeper. */
const framesMax = keyBytesMax + 1;
/** Bytes of the key buffer at first; it doubles up to the longest key. */
const keyBufferBytesInitial = 64;
/**
 * Bytes of the blocks that yielded keys are copied into. One `Uint8Array`
 * allocation costs about 1 µs on a large heap (its backing store is off-heap),
 * more than the rest of an iteration step; a view into a block costs ~30 ns.
 */
const keyBlockBytes = 4_096;
/** Keys longer than this get a block of their own. */
const keyBlockSharedBytesMax = keyBlockBytes / 8;
const emptyKey = new Uint8Array(0);
/** The arena of a cursor not walking: holds no trie alive. */
const noArena = new Arena(2);

/** Whether `key[0, length)` is below `end` in byte order and no prefix of it. */
function pathBelow(key: Uint8Array, length: number, end: Uint8Array): boolean {
  const limit = Math.min(length, end.length);
  for (let i = 0; i < limit; i++) if (key[i] !== end[i]) return key[i] < end[i];
  return false;
}

/**
 * Whether `node` is a leaf with no prefix: a walk lands on it from its
 * parent's frame, without a frame of its own (a leaf always holds a value).
 */
function isBareLeaf(a: Arena, node: number): boolean {
  const header = a.i32[node];
  return headerKind(header) === kindLeaf && headerPrefixLength(header) === 0;
}

/** A positioned walk; `seek*` then repeated `next`/`prev`. */
export class Cursor {
  #a: Arena = noArena;
  #nodes: number[] = [];
  #depths: number[] = [];
  #marks: number[] = [];
  /** Per frame: its children not visited yet, or {@link leftUnknown} (a seek's frame). */
  #left: number[] = [];
  #key = new Uint8Array(keyBufferBytesInitial);
  /** Views of `#key` by length, for {@link Cursor.keyView} (emptied when `#key` grows). */
  #views: Uint8Array[] = [];
  #keyLength = 0;
  #value = noValue;
  /** Yielded keys are views into this block, which is never written twice. */
  #block = new Uint8Array(0);
  #blockUsed = 0;

  /** The value at the current position. */
  get value(): number {
    assert(this.#value !== noValue, "cursor is not on an entry");
    return this.#value;
  }

  /** A fresh copy of the key at the current position. */
  key(): Uint8Array {
    const length = this.#keyLength;
    if (length > keyBlockSharedBytesMax) return this.#key.slice(0, length);
    if (this.#block.length - this.#blockUsed < length) {
      this.#block = new Uint8Array(keyBlockBytes);
      this.#blockUsed = 0;
    }
    const block = this.#block;
    const key = this.#key;
    const start = this.#blockUsed;
    for (let i = 0; i < length; i++) block[start + i] = key[i];
    this.#blockUsed = start + length;
    return block.subarray(start, start + length);
  }

  /**
   * The key at the current position: a view of the cursor's buffer, valid
   * until it moves. Views are kept per length, so a walk allocates one per
   * key length it meets, not one per entry.
   */
  keyView(): Uint8Array {
    const length = this.#keyLength;
    let view = this.#views[length];
    if (view === undefined) {
      view = this.#key.subarray(0, length);
      this.#views[length] = view;
    }
    return view;
  }

  /** Compares the current key with `bound` in byte order: negative, zero or positive. */
  compareKey(bound: Uint8Array): number {
    const key = this.#key;
    const limit = Math.min(this.#keyLength, bound.length);
    for (let i = 0; i < limit; i++) {
      if (key[i] !== bound[i]) return key[i] - bound[i];
    }
    return this.#keyLength - bound.length;
  }

  /** Positions a forward walk of the trie under `root` before the first key `>= start`. */
  seekForward(a: Arena, root: number, start: Uint8Array): void {
    this.#reset();
    this.#a = a;
    let node = root;
    let depth = 0;
    for (let level = 0; node !== 0; level++) {
      assert(level <= start.length, "seek deeper than the start key");
      const end = this.#writePrefix(node, depth);
      const matched = matchPrefix(a, node, start, depth);
      if (matched < prefixLengthOf(a, node)) {
        // The subtree is wholly above start (start ended, or a larger byte) or wholly below.
        const above = depth + matched === start.length ||
          prefixByte(a, node, matched) > start[depth + matched];
        if (above) this.#push(node, end, markValuePending);
        return;
      }
      if (end === start.length) return this.#push(node, end, markValuePending);
      // The node's own key is a proper prefix of start, so below it: skip the value.
      const byte = start[end];
      this.#push(node, end, byte);
      node = findChild(a, node, byte);
      this.#key[end] = byte;
      depth = end + 1;
      this.#checkLoaded(node, depth);
    }
  }

  /** Positions a reverse walk of the trie under `root` after the last key `< end` (the last key if no end). */
  seekReverse(a: Arena, root: number, end: Uint8Array | undefined): void {
    this.#reset();
    this.#a = a;
    if (root === 0) return;
    if (end === undefined) return this.#push(root, this.#writePrefix(root, 0), markReverseStart);
    let node = root;
    let depth = 0;
    for (let level = 0; node !== 0; level++) {
      assert(level <= end.length, "seek deeper than the end key");
      const pathEnd = this.#writePrefix(node, depth);
      const matched = matchPrefix(a, node, end, depth);
      if (matched < prefixLengthOf(a, node)) {
        const below = depth + matched < end.length &&
          prefixByte(a, node, matched) < end[depth + matched];
        if (below) this.#push(node, pathEnd, markReverseStart);
        return;
      }
      // Own key equal to end (excluded) and every child above it: nothing here.
      if (pathEnd === end.length) return;
      const byte = end[pathEnd];
      this.#push(node, pathEnd, byte); // children below byte, then the own value (< end)
      node = findChild(a, node, byte);
      this.#key[pathEnd] = byte;
      depth = pathEnd + 1;
      this.#checkLoaded(node, depth);
    }
  }

  /** Moves to the next key in byte order; false when the walk is over. */
  next(): boolean {
    const a = this.#a;
    const nodes = this.#nodes;
    const marks = this.#marks;
    const left = this.#left;
    while (nodes.length > 0) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const depth = this.#depths[top];
      if (marks[top] === markValuePending) {
        marks[top] = markValueDone;
        const value = valueOf(a, node);
        if (value !== noValue) return this.#land(depth, value);
        continue;
      }
      // A node whose children were all visited pops without a look at its
      // slots: a Node48's or Node256's would scan to byte 255 (under a
      // LEB128 id's last byte, half of them are always empty).
      const child = left[top] === 0 ? 0 : nextChild(a, node, marks[top]);
      if (child === 0) {
        this.#pop();
        continue;
      }
      left[top]--;
      const byte = nextChildFound.byte;
      marks[top] = byte;
      if (isBareLeaf(a, child)) {
        // Most entries: no frame for a leaf, only its byte and its value.
        this.#key[depth] = byte;
        return this.#land(depth + 1, valueOf(a, child));
      }
      this.#descendTo(child, depth, byte, markValuePending);
    }
    return false;
  }

  /**
   * Visits up to `limit` entries forward from the position, stopping before
   * the first key `>= end`; returns how many it visited (a visit that
   * returns `false` counts, and stops the walk). The loop of {@link next},
   * with a Node48's or Node256's children taken in one pass over its slots
   * and the bound compared only where a node's path does not settle it.
   */
  visitForward(end: Uint8Array | undefined, limit: number, visit: EntryVisitor): number {
    const a = this.#a;
    const nodes = this.#nodes;
    let count = 0;
    while (nodes.length > 0 && count < limit) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const kind = headerKind(a.i32[node]);
      if (this.#marks[top] === markValuePending || (kind !== kind48 && kind !== kind256)) {
        if (!this.next()) break;
        if (end !== undefined && this.compareKey(end) >= 0) break;
        count++;
        if (visit(this.keyView(), this.#value) === false) break;
        continue;
      }
      const visited = this.#visitSlots(top, end, limit - count, visit);
      if (visited < 0) return count - visited - 1;
      count += visited;
    }
    return count;
  }

  /**
   * Visits the children of the Node48 or Node256 in frame `top` after its
   * mark: bare leaves in place, up to `limit`; descends into the first other
   * child (pushing its frame) or pops the frame when it is done. Returns how
   * many it visited, or `-1 - visited` if the walk is over (the bound was
   * reached, a visit returned `false`).
   */
  #visitSlots(
    top: number,
    end: Uint8Array | undefined,
    limit: number,
    visit: EntryVisitor,
  ): number {
    const a = this.#a;
    const i32 = a.i32;
    const node = this.#nodes[top];
    const depth = this.#depths[top];
    const body = bodyOf(node, headerPrefixLength(i32[node]));
    const key = this.#key;
    // Keys under a path that is below `end` and no prefix of it are all below it.
    const bounded = end !== undefined && !pathBelow(key, depth, end);
    let count = 0;
    for (let byte = this.#marks[top] + 1; byte < byteValues && this.#left[top] > 0; byte++) {
      const child = i32[body + byte];
      if (child === 0) continue;
      this.#left[top]--;
      this.#marks[top] = byte;
      if (!isBareLeaf(a, child)) {
        this.#descendTo(child, depth, byte, markValuePending);
        return count;
      }
      key[depth] = byte;
      this.#land(depth + 1, valueOf(a, child));
      if (bounded && this.compareKey(end!) >= 0) return -1 - count;
      count++;
      if (visit(this.keyView(), this.#value) === false) return -1 - count;
      if (count === limit) return count;
    }
    this.#pop();
    return count;
  }

  /** Moves to the previous key in byte order; false when the walk is over. */
  prev(): boolean {
    const a = this.#a;
    const nodes = this.#nodes;
    const marks = this.#marks;
    const left = this.#left;
    while (nodes.length > 0) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const depth = this.#depths[top];
      const byte = left[top] === 0 ? -1 : prevChildByte(a, node, marks[top]);
      if (byte >= 0) {
        left[top]--;
        marks[top] = byte;
        const child = findChild(a, node, byte);
        if (isBareLeaf(a, child)) {
          this.#key[depth] = byte;
          return this.#land(depth + 1, valueOf(a, child));
        }
        this.#descendTo(child, depth, byte, markReverseStart);
        continue;
      }
      this.#pop();
      // Children write only at or past `depth`, so key[0, depth) is still this node's path.
      const value = valueOf(a, node);
      if (value !== noValue) return this.#land(depth, value);
    }
    return false;
  }

  #land(keyLength: number, value: number): boolean {
    assert(keyLength <= this.#key.length && value !== noValue, "landed on a bad entry");
    this.#keyLength = keyLength;
    this.#value = value;
    return true;
  }

  #descendTo(child: number, depth: number, byte: number, mark: number): void {
    this.#key[depth] = byte;
    this.#checkLoaded(child, depth + 1);
    this.#push(child, this.#writePrefix(child, depth + 1), mark);
  }

  #push(node: number, depth: number, mark: number): void {
    assert(this.#nodes.length < framesMax, "cursor stack overflow");
    assert(depth <= keyBytesMax, "key path too long");
    this.#nodes.push(node);
    this.#depths.push(depth);
    this.#marks.push(mark);
    const whole = mark === markValuePending || mark === markValueDone || mark === markReverseStart;
    this.#left.push(whole ? countOf(this.#a, node) : leftUnknown);
  }

  /** Throws {@link NodeNotLoaded} if `node` is a stub whose path is `key[0, pathLength)`. */
  #checkLoaded(node: number, pathLength: number): void {
    if (node === 0 || !isStub(this.#a, node)) return;
    assert(pathLength >= 1 && pathLength <= this.#key.length, "a stub's path lies in the key");
    throw NodeNotLoaded.signal(this.#key.slice(0, pathLength), addressOf(this.#a, node));
  }

  #pop(): void {
    this.#nodes.pop();
    this.#depths.pop();
    this.#marks.pop();
    this.#left.pop();
  }

  /** Forgets the walk (its stack holds nodes: a cursor kept for reuse must not keep a trie alive). */
  clear(): void {
    this.#reset();
    assert(this.#nodes.length === 0, "a cleared cursor holds no nodes");
  }

  #reset(): void {
    this.#a = noArena;
    this.#nodes.length = 0;
    this.#depths.length = 0;
    this.#marks.length = 0;
    this.#left.length = 0;
    this.#keyLength = 0;
    this.#value = noValue;
  }

  /** Writes the node's prefix at `at` (room for one more byte after); returns the path end. */
  #writePrefix(node: number, at: number): number {
    const a = this.#a;
    const length = prefixLengthOf(a, node);
    const end = at + length;
    assert(end <= keyBytesMax, "key path too long");
    if (this.#key.length <= end) {
      const grown = new Uint8Array(Math.min(Math.max(end + 1, this.#key.length * 2), framesMax));
      grown.set(this.#key);
      this.#key = grown;
      this.#views = [];
    }
    const key = this.#key;
    const u8 = a.u8;
    const start = prefixStart(node);
    for (let i = 0; i < length; i++) key[at + i] = u8[start + i];
    return end;
  }
}

/**
 * The entries of a trie within `[start, end)`, forward or reversed. `check`
 * runs before the walk starts (it returns the root to walk) and after each
 * yield: it throws when the walk must not go on (the trie changed, the
 * snapshot was released). The bounds must be the caller's own copies.
 */
export function* walkEntries(
  check: () => { a: Arena; root: number },
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  reverse: boolean,
): Generator<[key: Uint8Array, value: number]> {
  if (start !== undefined && end !== undefined && compareBytes(start, end) >= 0) return;
  const cursor = new Cursor();
  const { a, root } = check();
  if (reverse) cursor.seekReverse(a, root, end);
  else cursor.seekForward(a, root, start ?? emptyKey);
  for (;;) {
    if (reverse ? !cursor.prev() : !cursor.next()) return;
    if (
      reverse
        ? start !== undefined && cursor.compareKey(start) < 0
        : end !== undefined && cursor.compareKey(end) >= 0
    ) {
      return;
    }
    yield [cursor.key(), cursor.value];
    check();
  }
}

/** One entry {@link collectEntries} reads: the shape of the store's `Entry`. */
export interface CollectedEntry {
  /** The key: a view the caller may keep (see `Cursor.key`). */
  key: Uint8Array;
  /** Its value. */
  value: number;
}

/** The cursor {@link collectEntries} reuses: a walk is synchronous, so one at a time. */
const collectCursor = new Cursor();

/**
 * Appends up to `limit` entries of `[start, end)` under `root` to `into`, in
 * order (or reversed), in one synchronous walk: no generator step and no
 * tuple per entry. Returns how many it appended. Throws {@link NodeNotLoaded}
 * from a stub (`into` may then hold some entries already).
 */
export function collectEntries(
  a: Arena,
  root: number,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  reverse: boolean,
  limit: number,
  into: CollectedEntry[],
): number {
  assert(limit >= 1, "collect at least one entry");
  if (start !== undefined && end !== undefined && compareBytes(start, end) >= 0) return 0;
  const cursor = collectCursor;
  let count = 0;
  try {
    if (reverse) cursor.seekReverse(a, root, end);
    else cursor.seekForward(a, root, start ?? emptyKey);
    while (count < limit) {
      if (reverse) {
        if (!cursor.prev() || (start !== undefined && cursor.compareKey(start) < 0)) break;
      } else if (!cursor.next() || (end !== undefined && cursor.compareKey(end) >= 0)) break;
      into.push({ key: cursor.key(), value: cursor.value });
      count++;
    }
  } finally {
    cursor.clear(); // the shared cursor must not keep this trie alive
  }
  assert(count <= limit, "collected past the limit");
  return count;
}

/** What a visiting walk calls per entry: the key (a view valid during the call) and its value; `false` stops. */
export type EntryVisitor = (key: Uint8Array, value: number) => boolean | void;

/**
 * Calls `visit` for up to `limit` entries of `[start, end)` under `root`, in
 * order (or reversed), in one synchronous walk that allocates nothing per
 * entry but the key's view. Returns how many it visited (a visit that
 * returns `false` counts, and ends the walk). Throws {@link NodeNotLoaded}
 * from a stub, after the entries before it were visited.
 */
export function visitEntries(
  a: Arena,
  root: number,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  reverse: boolean,
  limit: number,
  visit: EntryVisitor,
): number {
  assert(limit >= 1, "visit at least one entry");
  if (start !== undefined && end !== undefined && compareBytes(start, end) >= 0) return 0;
  const cursor = new Cursor();
  let count = 0;
  if (reverse) cursor.seekReverse(a, root, end);
  else cursor.seekForward(a, root, start ?? emptyKey);
  if (!reverse) count = cursor.visitForward(end, limit, visit);
  while (reverse && count < limit) {
    if (!cursor.prev() || (start !== undefined && cursor.compareKey(start) < 0)) break;
    count++;
    if (visit(cursor.keyView(), cursor.value) === false) break;
  }
  assert(count <= limit, "visited past the limit");
  return count;
}

/**
 * Raised by `Art.visitRange` when a visit changed the trie (a write from
 * inside the visitor): the walk stops after that visit, and a caller walks
 * on from after the key it was given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art, TrieChangedDuringVisit } from "./art.ts";
 * const art = new Art();
 * for (const byte of [1, 2, 3]) art.set(Uint8Array.of(byte), 1);
 * assert.throws(() => art.visitRange({}, 10, () => void art.set(Uint8Array.of(9), 1)), TrieChangedDuringVisit);
 * ```
 */
export class TrieChangedDuringVisit extends Error {
  /** Builds the error. */
  constructor() {
    super("Cannot walk on: a visit changed the trie; walk on from after the key it was given");
    this.name = "TrieChangedDuringVisit";
  }
}
