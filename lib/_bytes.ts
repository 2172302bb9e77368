/**
 * Byte helpers shared by the layers: byte order (the trie's and the store's
 * selectors'), and one-byte strings (a JS string whose char codes are the
 * bytes), which the store's overlays use as `Map` keys: an ASCII key already
 * is one.
 *
 * Every string built here is flat (sequential), never a cons or sliced string
 * that would keep a larger string alive.
 *
 * @module
 */

import { assert, unreachable } from "./_assert.ts";

/**
 * Strings up to this long are built by one `String.fromCharCode` call with
 * the bytes as its arguments: one flat string and no argument array, 20-25
 * ns for 8 to 16 bytes where concatenation took 50-90 ns (a string per byte)
 * and `apply` on a view 75-90 ns (measured on the development VM).
 */
const directCharsMax = 16;
/** Bytes handed to one `String.fromCharCode` call (keeps the argument list small). */
const charsPerCallMax = 4_096;

/** `b[s, s + length)` as a string, for `length` ≤ {@link directCharsMax}: one call, the bytes as arguments. */
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
  if (length <= directCharsMax) return shortString(bytes, start, length);
  if (length <= charsPerCallMax) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  const parts: string[] = [];
  for (let at = start; at < end; at += charsPerCallMax) {
    const chunk = bytes.subarray(at, Math.min(at + charsPerCallMax, end));
    parts.push(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  const joined = parts.join(""); // join builds one flat string
  assert(joined.length === length, "joined byte string has the wrong length");
  return joined;
}

/** Compares two byte arrays in unsigned lexicographic order: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const limit = Math.min(a.length, b.length);
  for (let i = 0; i < limit; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
