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
import { compareBytes, KEY_BYTES_MAX, matchLength } from "./_bytes.ts";
import { findChild, nextChild, nextChildFound, prevChildByte } from "./_children.ts";
import { type ArtNode, BYTE_VALUES, isStub, NO_VALUE, NodeNotLoaded } from "./_node.ts";

/** Forward mark: the node's own value is still to be visited. */
const MARK_VALUE_PENDING = -2;
/** Forward mark: value done (or skipped), no child visited yet. */
const MARK_VALUE_DONE = -1;
/** Reverse mark: no child visited yet. */
const MARK_REVERSE_START = BYTE_VALUES;
/** Frames on the stack at most: each frame sits at least one byte deeper. */
const FRAMES_MAX = KEY_BYTES_MAX + 1;
/** Bytes of the key buffer at first; it doubles up to the longest key. */
const KEY_BUFFER_BYTES_INITIAL = 64;
/**
 * Bytes of the blocks that yielded keys are copied into. One `Uint8Array`
 * allocation costs about 1 µs on a large heap (its backing store is off-heap),
 * more than the rest of an iteration step; a view into a block costs ~30 ns.
 */
const KEY_BLOCK_BYTES = 4_096;
/** Keys longer than this get a block of their own. */
const KEY_BLOCK_SHARED_BYTES_MAX = KEY_BLOCK_BYTES / 8;
const EMPTY_KEY = new Uint8Array(0);

/** A positioned walk; `seek*` then repeated `next`/`prev`. */
export class Cursor {
  #nodes: ArtNode[] = [];
  #depths: number[] = [];
  #marks: number[] = [];
  #key = new Uint8Array(KEY_BUFFER_BYTES_INITIAL);
  #keyLength = 0;
  #value = NO_VALUE;
  /** Yielded keys are views into this block, which is never written twice. */
  #block = new Uint8Array(0);
  #blockUsed = 0;

  /** The value at the current position. */
  get value(): number {
    assert(this.#value !== NO_VALUE, "cursor is not on an entry");
    return this.#value;
  }

  /** A fresh copy of the key at the current position. */
  key(): Uint8Array {
    const length = this.#keyLength;
    if (length > KEY_BLOCK_SHARED_BYTES_MAX) return this.#key.slice(0, length);
    if (this.#block.length - this.#blockUsed < length) {
      this.#block = new Uint8Array(KEY_BLOCK_BYTES);
      this.#blockUsed = 0;
    }
    const block = this.#block;
    const key = this.#key;
    const start = this.#blockUsed;
    for (let i = 0; i < length; i++) block[start + i] = key[i];
    this.#blockUsed = start + length;
    return block.subarray(start, start + length);
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

  /** Positions a forward walk before the first key `>= start`. */
  seekForward(root: ArtNode | null, start: Uint8Array): void {
    this.#reset();
    let node = root;
    let depth = 0;
    for (let level = 0; node !== null; level++) {
      assert(level <= start.length, "seek deeper than the start key");
      const end = this.#writePrefix(node, depth);
      const matched = matchLength(node.prefix, start, depth);
      if (matched < node.prefix.length) {
        // The subtree is wholly above start (start ended, or a larger byte) or wholly below.
        const above = depth + matched === start.length ||
          node.prefix.charCodeAt(matched) > start[depth + matched];
        if (above) this.#push(node, end, MARK_VALUE_PENDING);
        return;
      }
      if (end === start.length) return this.#push(node, end, MARK_VALUE_PENDING);
      // The node's own key is a proper prefix of start, so below it: skip the value.
      const byte = start[end];
      this.#push(node, end, byte);
      node = findChild(node, byte);
      this.#key[end] = byte;
      depth = end + 1;
      this.#checkLoaded(node, depth);
    }
  }

  /** Positions a reverse walk after the last key `< end` (the last key if no end). */
  seekReverse(root: ArtNode | null, end: Uint8Array | undefined): void {
    this.#reset();
    if (root === null) return;
    if (end === undefined) return this.#push(root, this.#writePrefix(root, 0), MARK_REVERSE_START);
    let node: ArtNode | null = root;
    let depth = 0;
    for (let level = 0; node !== null; level++) {
      assert(level <= end.length, "seek deeper than the end key");
      const pathEnd = this.#writePrefix(node, depth);
      const matched = matchLength(node.prefix, end, depth);
      if (matched < node.prefix.length) {
        const below = depth + matched < end.length &&
          node.prefix.charCodeAt(matched) < end[depth + matched];
        if (below) this.#push(node, pathEnd, MARK_REVERSE_START);
        return;
      }
      // Own key equal to end (excluded) and every child above it: nothing here.
      if (pathEnd === end.length) return;
      const byte = end[pathEnd];
      this.#push(node, pathEnd, byte); // children below byte, then the own value (< end)
      node = findChild(node, byte);
      this.#key[pathEnd] = byte;
      depth = pathEnd + 1;
      this.#checkLoaded(node, depth);
    }
  }

  /** Moves to the next key in byte order; false when the walk is over. */
  next(): boolean {
    const nodes = this.#nodes;
    const marks = this.#marks;
    while (nodes.length > 0) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const depth = this.#depths[top];
      if (marks[top] === MARK_VALUE_PENDING) {
        marks[top] = MARK_VALUE_DONE;
        if (node.value !== NO_VALUE) return this.#land(depth, node.value);
        continue;
      }
      const child = nextChild(node, marks[top]);
      if (child === null) {
        this.#pop();
        continue;
      }
      const byte = nextChildFound.byte;
      marks[top] = byte;
      this.#descendTo(child, depth, byte, MARK_VALUE_PENDING);
    }
    return false;
  }

  /** Moves to the previous key in byte order; false when the walk is over. */
  prev(): boolean {
    const nodes = this.#nodes;
    const marks = this.#marks;
    while (nodes.length > 0) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const depth = this.#depths[top];
      const byte = prevChildByte(node, marks[top]);
      if (byte >= 0) {
        marks[top] = byte;
        this.#descend(node, depth, byte, MARK_REVERSE_START);
        continue;
      }
      this.#pop();
      // Children write only at or past `depth`, so key[0, depth) is still this node's path.
      if (node.value !== NO_VALUE) return this.#land(depth, node.value);
    }
    return false;
  }

  #land(keyLength: number, value: number): boolean {
    assert(keyLength <= this.#key.length && value !== NO_VALUE, "landed on a bad entry");
    this.#keyLength = keyLength;
    this.#value = value;
    return true;
  }

  #descend(node: ArtNode, depth: number, byte: number, mark: number): void {
    const child = findChild(node, byte);
    assert(child !== null, "no child under the byte");
    this.#descendTo(child, depth, byte, mark);
  }

  #descendTo(child: ArtNode, depth: number, byte: number, mark: number): void {
    this.#key[depth] = byte;
    this.#checkLoaded(child, depth + 1);
    this.#push(child, this.#writePrefix(child, depth + 1), mark);
  }

  #push(node: ArtNode, depth: number, mark: number): void {
    assert(this.#nodes.length < FRAMES_MAX, "cursor stack overflow");
    assert(depth <= KEY_BYTES_MAX, "key path too long");
    this.#nodes.push(node);
    this.#depths.push(depth);
    this.#marks.push(mark);
  }

  /** Throws {@link NodeNotLoaded} if `node` is a stub whose path is `key[0, pathLength)`. */
  #checkLoaded(node: ArtNode | null, pathLength: number): void {
    if (node === null || !isStub(node)) return;
    assert(pathLength >= 1 && pathLength <= this.#key.length, "a stub's path lies in the key");
    throw NodeNotLoaded.signal(this.#key.slice(0, pathLength), node.address);
  }

  #pop(): void {
    this.#nodes.pop();
    this.#depths.pop();
    this.#marks.pop();
  }

  /** Forgets the walk (its stack holds nodes: a cursor kept for reuse must not keep a trie alive). */
  clear(): void {
    this.#reset();
    assert(this.#nodes.length === 0, "a cleared cursor holds no nodes");
  }

  #reset(): void {
    this.#nodes.length = 0;
    this.#depths.length = 0;
    this.#marks.length = 0;
    this.#keyLength = 0;
    this.#value = NO_VALUE;
  }

  /** Writes `node.prefix` at `at` (room for one more byte after); returns the path end. */
  #writePrefix(node: ArtNode, at: number): number {
    const prefix = node.prefix;
    const end = at + prefix.length;
    assert(end <= KEY_BYTES_MAX, "key path too long");
    if (this.#key.length <= end) {
      const grown = new Uint8Array(Math.min(Math.max(end + 1, this.#key.length * 2), FRAMES_MAX));
      grown.set(this.#key);
      this.#key = grown;
    }
    const key = this.#key;
    for (let i = 0; i < prefix.length; i++) key[at + i] = prefix.charCodeAt(i);
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
  check: () => ArtNode | null,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  reverse: boolean,
): Generator<[key: Uint8Array, value: number]> {
  if (start !== undefined && end !== undefined && compareBytes(start, end) >= 0) return;
  const cursor = new Cursor();
  const root = check();
  if (reverse) cursor.seekReverse(root, end);
  else cursor.seekForward(root, start ?? EMPTY_KEY);
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
  root: ArtNode | null,
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
    if (reverse) cursor.seekReverse(root, end);
    else cursor.seekForward(root, start ?? EMPTY_KEY);
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
