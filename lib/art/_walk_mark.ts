/**
 * How far a compaction's node walk got, as a place in the key space: what
 * a memory budget's clock hand, idle since a walk of the whole trie found
 * nothing, looks at when the walk moves on. The walk is post-order in key
 * order, so the nodes it visited (gave fresh addresses, and left) are the
 * ones a {@link WalkMark} says it passed; a step passed the nodes between
 * the marks before and after it, and only those can have turned evictable
 * by it. A mark names nodes by their paths (`StubRef.path`: the key bytes
 * from the root to and including the branching byte into the node), so it
 * judges the live trie's nodes as well as the snapshot's the walk runs on.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import type { WalkPosition } from "./_image_walk.ts";
import { copyPrefix, prefixLengthOf } from "./_node.ts";
import { keyBytesMax } from "../limits.ts";

/**
 * A place in post-order: every node whose path sorts before `base` (and is
 * not a prefix of it) is passed, and so is every node under `base` whose
 * next byte is at most `byte` (-1: none, 256: all); a node whose path is a
 * prefix of `base` (one the walk stands on) is not.
 */
export interface WalkMark {
  base: Uint8Array;
  byte: number;
}

/** The mark before any node: none passed. */
export const markNone: WalkMark = { base: new Uint8Array(0), byte: -1 };
/** The mark after every node but the root (which no eviction takes). */
export const markAll: WalkMark = { base: new Uint8Array(0), byte: 256 };

/**
 * The mark after the subtree at `path` (a node's path, not the root's):
 * it, everything before it, and nothing it lies under.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markAfter, passedBy } from "./_walk_mark.ts";
 * const mark = markAfter(Uint8Array.of(1, 2));
 * assert.ok(passedBy(Uint8Array.of(1, 2, 9), mark) && passedBy(Uint8Array.of(0, 7), mark));
 * assert.ok(!passedBy(Uint8Array.of(1), mark) && !passedBy(Uint8Array.of(1, 3), mark));
 * ```
 */
export function markAfter(path: Uint8Array): WalkMark {
  assert(path.length > 0, "the root has no mark after it");
  return { base: path.subarray(0, path.length - 1), byte: path[path.length - 1] };
}

/** Whether two marks are the same place. */
export function sameMark(one: WalkMark, other: WalkMark): boolean {
  if (one.byte !== other.byte || one.base.length !== other.base.length) return false;
  for (let i = 0; i < one.base.length; i++) if (one.base[i] !== other.base[i]) return false;
  return true;
}

/**
 * Whether the node at `path` (and so every node under it) lies before
 * `mark` in post-order: the walk that reached `mark` passed it.
 */
export function passedBy(path: Uint8Array, mark: WalkMark): boolean {
  const { base } = mark;
  const length = Math.min(path.length, base.length);
  for (let i = 0; i < length; i++) if (path[i] !== base[i]) return path[i] < base[i];
  if (path.length <= base.length) return false; // a prefix of the base: stood on, not passed
  return path[base.length] <= mark.byte;
}

/** Whether no node at or under `path` lies before `mark`: all of them lie after it. */
export function beyond(path: Uint8Array, mark: WalkMark): boolean {
  const { base } = mark;
  const length = Math.min(path.length, base.length);
  for (let i = 0; i < length; i++) if (path[i] !== base[i]) return path[i] > base[i];
  if (path.length <= base.length) return false; // above the mark: nodes before it may lie under
  return path[base.length] > mark.byte;
}

/**
 * Where the walk at `position` stands (`_image_walk.ts`): after the last
 * node it visited, before the stub it copies, and short of the nodes on its
 * stack; {@link markAll} once it ended (its stack is empty), {@link markNone}
 * before it visited any node.
 */
export function walkMark(a: Arena, position: WalkPosition): WalkMark {
  const { nodes, marks } = position;
  if (nodes.length === 0) return position.visited > 0 ? markAll : markNone;
  assert(marks.length === nodes.length, "a mark for each node on the walk's stack");
  let length = 0;
  for (let level = 0; level < nodes.length; level++) {
    length += prefixLengthOf(a, nodes[level]) + (level + 1 < nodes.length ? 1 : 0);
  }
  assert(length <= keyBytesMax + 1, "the walk stands within a key's length");
  const base = new Uint8Array(length);
  let at = 0;
  for (let level = 0; level < nodes.length; level++) {
    at = copyPrefix(a, nodes[level], base, at);
    if (level + 1 < nodes.length) base[at++] = marks[level];
  }
  assert(at === length, "the base holds every byte down to the walk's place");
  return { base, byte: marks[marks.length - 1] };
}
