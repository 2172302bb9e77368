/**
 * Reading and editing the children of one node by branching byte. Edits
 * never change a node's kind: a full node must be grown first and a sparse one
 * shrunk after (see `_reshape.ts`). Nothing here allocates.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import {
  bodyOf,
  byteValues,
  capacityOf,
  childrenAt16,
  childrenAt4,
  countOf,
  headerCount,
  headerKind,
  headerPrefixLength,
  keysStart,
  kind16,
  kind256,
  kind4,
  kind48,
  kindOf,
  prefixLengthOf,
  setCount,
} from "./_node.ts";

/** The word index where the node's body starts. */
export function bodyAt(a: Arena, n: number): number {
  return bodyOf(n, prefixLengthOf(a, n));
}

/** Where a Node4's or Node16's child refs start, given its body. */
function childrenAt(kind: number, body: number): number {
  return body + (kind === kind4 ? childrenAt4 : childrenAt16);
}

/**
 * The word index of the slot holding the child under `byte`, or -1: read
 * the child there, or store a replacement. The hot path.
 */
export function childSlot(a: Arena, n: number, byte: number): number {
  const header = a.i32[n];
  const kind = headerKind(header);
  const body = bodyOf(n, headerPrefixLength(header));
  if (kind === kind4 || kind === kind16) {
    const count = headerCount(header);
    const u8 = a.u8;
    const keys = keysStart(body);
    for (let at = 0; at < count; at++) {
      const key = u8[keys + at];
      if (key === byte) return childrenAt(kind, body) + at;
      if (key > byte) return -1;
    }
    return -1;
  }
  if (kind === kind48 || kind === kind256) return a.i32[body + byte] === 0 ? -1 : body + byte;
  return -1;
}

/** Appends to `into` the word index of each child slot of `n` in use, in byte order. */
export function childSlots(a: Arena, n: number, into: number[]): void {
  const header = a.i32[n];
  const kind = headerKind(header);
  const body = bodyOf(n, headerPrefixLength(header));
  if (kind === kind4 || kind === kind16) {
    const children = childrenAt(kind, body);
    for (let at = 0; at < headerCount(header); at++) into.push(children + at);
  } else if (kind === kind48 || kind === kind256) {
    const i32 = a.i32;
    for (let byte = 0; byte < byteValues; byte++) {
      if (i32[body + byte] !== 0) into.push(body + byte);
    }
  }
}

/** The child under `byte`, or 0. */
export function findChild(a: Arena, n: number, byte: number): number {
  const slot = childSlot(a, n, byte);
  return slot < 0 ? 0 : a.i32[slot];
}

/** The key byte in sorted position `at` of a Node4 or Node16. */
export function keyAt(a: Arena, n: number, at: number): number {
  assert(at >= 0 && at < capacityOf(kindOf(a, n)), "a key position of a Node4 or Node16");
  return a.u8[keysStart(bodyAt(a, n)) + at];
}

/** Child `at` (by sorted position) of a Node4 or Node16; 0 past the count. */
export function childAt(a: Arena, n: number, at: number): number {
  const kind = kindOf(a, n);
  assert(kind === kind4 || kind === kind16, "children by position: a Node4 or Node16");
  return a.i32[childrenAt(kind, bodyAt(a, n)) + at];
}

/** The branching byte of the child the last {@link nextChild} returned. */
export const nextChildFound = { byte: -1 };

/**
 * The child with the smallest byte greater than `after` (-1 for the first),
 * or 0; its byte goes to {@link nextChildFound}.
 */
export function nextChild(a: Arena, n: number, after: number): number {
  assert(after >= -1 && after < byteValues, "child cursor out of range");
  const header = a.i32[n];
  const kind = headerKind(header);
  const body = bodyOf(n, headerPrefixLength(header));
  if (kind === kind4 || kind === kind16) {
    const count = headerCount(header);
    const u8 = a.u8;
    const keys = keysStart(body);
    for (let at = 0; at < count; at++) {
      const key = u8[keys + at];
      if (key > after) {
        nextChildFound.byte = key;
        return a.i32[childrenAt(kind, body) + at];
      }
    }
    return 0;
  }
  if (kind === kind48 || kind === kind256) {
    const i32 = a.i32;
    for (let byte = after + 1; byte < byteValues; byte++) {
      const child = i32[body + byte];
      if (child !== 0) {
        nextChildFound.byte = byte;
        return child;
      }
    }
  }
  return 0;
}

/** The smallest child byte greater than `after` (-1 for the first), or -1. */
export function nextChildByte(a: Arena, n: number, after: number): number {
  return nextChild(a, n, after) === 0 ? -1 : nextChildFound.byte;
}

/** The largest child byte smaller than `before` (256 for the last), or -1. */
export function prevChildByte(a: Arena, n: number, before: number): number {
  assert(before >= 0 && before <= byteValues, "child cursor out of range");
  const header = a.i32[n];
  const kind = headerKind(header);
  const body = bodyOf(n, headerPrefixLength(header));
  if (kind === kind4 || kind === kind16) {
    const u8 = a.u8;
    const keys = keysStart(body);
    for (let at = (headerCount(header)) - 1; at >= 0; at--) {
      if (u8[keys + at] < before) return u8[keys + at];
    }
    return -1;
  }
  if (kind === kind48 || kind === kind256) {
    const i32 = a.i32;
    for (let byte = before - 1; byte >= 0; byte--) if (i32[body + byte] !== 0) return byte;
  }
  return -1;
}

/** Adds `child` under the free `byte` of an inner node that is not full. */
export function addChild(a: Arena, n: number, byte: number, child: number): void {
  const kind = kindOf(a, n);
  const count = countOf(a, n);
  assert(count < capacityOf(kind), "add to a full node");
  assert(child > 0 && childSlot(a, n, byte) < 0, "a new child under a free byte");
  const body = bodyAt(a, n);
  if (kind === kind4 || kind === kind16) {
    const u8 = a.u8;
    const i32 = a.i32;
    const keys = keysStart(body);
    const children = childrenAt(kind, body);
    let at = count;
    for (; at > 0 && u8[keys + at - 1] > byte; at--) {
      u8[keys + at] = u8[keys + at - 1];
      i32[children + at] = i32[children + at - 1];
    }
    u8[keys + at] = byte;
    i32[children + at] = child;
  } else {
    a.i32[body + byte] = child;
  }
  setCount(a, n, count + 1);
}

/**
 * Gives an empty inner node its `count` children at once:
 * `children[childFrom + i]` under the byte `bytes[bytesFrom + i]`, the bytes
 * strictly ascending. The loader's path: a node read from the image arrives
 * with every child.
 */
export function fillChildren(
  a: Arena,
  n: number,
  bytes: Uint8Array,
  bytesFrom: number,
  children: readonly number[],
  childFrom: number,
  count: number,
): void {
  const kind = kindOf(a, n);
  assert(countOf(a, n) === 0 && bytesFrom + count <= bytes.length, "fill an empty node");
  assert(count <= capacityOf(kind) && childFrom + count <= children.length, "children fit");
  const body = bodyAt(a, n);
  const i32 = a.i32;
  if (kind === kind4 || kind === kind16) {
    const u8 = a.u8;
    const keys = keysStart(body);
    const slots = childrenAt(kind, body);
    for (let at = 0; at < count; at++) {
      assert(at === 0 || bytes[bytesFrom + at] > bytes[bytesFrom + at - 1], "child bytes ascend");
      u8[keys + at] = bytes[bytesFrom + at];
      i32[slots + at] = children[childFrom + at];
    }
  } else {
    for (let at = 0; at < count; at++) {
      assert(at === 0 || bytes[bytesFrom + at] > bytes[bytesFrom + at - 1], "child bytes ascend");
      i32[body + bytes[bytesFrom + at]] = children[childFrom + at];
    }
  }
  setCount(a, n, count);
}

/** Removes the child under `byte`, which must exist. Shrinking is left to the caller. */
export function removeChild(a: Arena, n: number, byte: number): void {
  const kind = kindOf(a, n);
  const count = countOf(a, n);
  const slot = childSlot(a, n, byte);
  assert(count > 0 && slot >= 0, "no child under the byte");
  const i32 = a.i32;
  if (kind === kind4 || kind === kind16) {
    const body = bodyAt(a, n);
    const u8 = a.u8;
    const keys = keysStart(body);
    const children = childrenAt(kind, body);
    for (let at = slot - children + 1; at < count; at++) {
      u8[keys + at - 1] = u8[keys + at];
      i32[children + at - 1] = i32[children + at];
    }
    u8[keys + count - 1] = 0;
    i32[children + count - 1] = 0;
  } else {
    i32[slot] = 0;
  }
  setCount(a, n, count - 1);
}

/** Puts `child` in place of the existing child under `byte`. */
export function replaceChild(a: Arena, n: number, byte: number, child: number): void {
  const slot = childSlot(a, n, byte);
  assert(slot >= 0 && child > 0, "no child under the byte");
  a.i32[slot] = child;
}

/**
 * Copies the children of `from` into the empty inner node `to`, in byte
 * order (any kinds; `to` must hold them all).
 */
export function copyChildren(a: Arena, from: number, to: number): void {
  const count = countOf(a, from);
  assert(countOf(a, to) === 0 && count <= capacityOf(kindOf(a, to)), "the children fit");
  let byte = -1;
  for (let child = nextChild(a, from, -1); child !== 0; child = nextChild(a, from, byte)) {
    byte = nextChildFound.byte;
    addChild(a, to, byte, child);
  }
  assert(countOf(a, to) === count, "every child was copied");
}
