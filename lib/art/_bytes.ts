/**
 * Byte strings: the trie keeps every run of key bytes (compressed prefixes,
 * leaf suffixes, the child keys of Node4/Node16 and the Node48 index) in a
 * one-byte JS string whose char codes are the bytes.
 *
 * Why not `Uint8Array`: in this V8 build a small `Uint8Array` costs about 200
 * bytes of heap plus an off-heap backing store, while a one-byte string of up
 * to 8 bytes costs 24 bytes and is read with `charCodeAt` as fast as an array.
 * Strings are immutable, so an edit builds a new one; edits happen only on
 * structural changes (a new or removed child), never on the `get`/`add` path.
 *
 * Every string built here is flat (sequential), never a cons or sliced string
 * that would keep a larger string alive.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";

/** The longest key the trie holds, so the longest byte string it builds. */
export const KEY_BYTES_MAX = 65_535;

/**
 * Strings up to this long are built by one `String.fromCharCode` call with
 * the bytes as its arguments: one flat string and no argument array, 20-25
 * ns for 8 to 16 bytes where concatenation took 50-90 ns (a string per byte)
 * and `apply` on a view 75-90 ns (measured on the development VM).
 */
const DIRECT_CHARS_MAX = 16;
/** Bytes handed to one `String.fromCharCode` call (keeps the argument list small). */
const CHARS_PER_CALL_MAX = 4_096;

/** Bytes of the shared scratch buffer that edits are assembled in, at first. */
const SCRATCH_BYTES_INITIAL = 512;

let scratch = new Uint8Array(SCRATCH_BYTES_INITIAL);

function scratchOf(length: number): Uint8Array {
  assert(length >= 0 && length <= KEY_BYTES_MAX + 1, "byte string length out of range");
  if (scratch.length < length) {
    scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  }
  return scratch;
}

/** `b[s, s + length)` as a string, for `length` ≤ {@link DIRECT_CHARS_MAX}: one call, the bytes as arguments. */
// deno-fmt-ignore
function shortString(b: Uint8Array, s: number, length: number): string {
  const f = String.fromCharCode;
  switch (length) {
    case 0: return "";
    case 1: return f(b[s]);
    case 2: return f(b[s], b[s + 1]);
    case 3: return f(b[s], b[s + 1], b[s + 2]);
    case 4: return f(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    case 9: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8]);
    case 10: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9]);
    case 11: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10]);
    case 12: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11]);
    case 13: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12]);
    case 14: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13]);
    case 15: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14]);
    case 16: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14], b[s + 15]);
    default: return unreachable(`shortString of ${length} bytes`);
  }
}

/** Returns `bytes[start, end)` as a flat one-byte string. */
export function bytesToString(bytes: Uint8Array, start: number, end: number): string {
  assert(start >= 0 && start <= end && end <= bytes.length, "byte range out of bounds");
  const length = end - start;
  if (length <= DIRECT_CHARS_MAX) return shortString(bytes, start, length);
  if (length <= CHARS_PER_CALL_MAX) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  const parts: string[] = [];
  for (let at = start; at < end; at += CHARS_PER_CALL_MAX) {
    const chunk = bytes.subarray(at, Math.min(at + CHARS_PER_CALL_MAX, end));
    parts.push(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  const joined = parts.join(""); // join builds one flat string
  assert(joined.length === length, "joined byte string has the wrong length");
  return joined;
}

/** Copies the char codes of `text[start, end)` into `target` at `at`; returns the end. */
function copyChars(text: string, start: number, end: number, target: Uint8Array, at: number) {
  for (let i = start; i < end; i++) target[at++] = text.charCodeAt(i);
  return at;
}

/** Returns `text[start, end)` as a fresh flat string (no slice keeping `text` alive). */
export function sliceString(text: string, start: number, end: number): string {
  assert(start >= 0 && start <= end && end <= text.length, "string range out of bounds");
  const buffer = scratchOf(end - start);
  const length = copyChars(text, start, end, buffer, 0);
  return bytesToString(buffer, 0, length);
}

/** Returns `head + byte + tail` as one flat string. */
export function joinStrings(head: string, byte: number, tail: string): string {
  assert(byte >= 0 && byte <= 0xff, "byte out of range");
  const buffer = scratchOf(head.length + 1 + tail.length);
  let at = copyChars(head, 0, head.length, buffer, 0);
  buffer[at++] = byte;
  at = copyChars(tail, 0, tail.length, buffer, at);
  return bytesToString(buffer, 0, at);
}

/** Returns how many leading bytes of `text` equal `key[from...]` (at most both lengths). */
export function matchLength(text: string, key: Uint8Array, from: number): number {
  const limit = Math.min(text.length, key.length - from);
  let i = 0;
  while (i < limit && key[from + i] === text.charCodeAt(i)) i++;
  return i;
}

/** Compares two byte arrays in unsigned lexicographic order: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const limit = Math.min(a.length, b.length);
  for (let i = 0; i < limit; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
