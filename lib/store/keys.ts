/**
 * Key and value rules of the public API, and list selectors turned into byte
 * ranges. Everything here throws `TypeError`/`RangeError` for misuse.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { keyBytesMax } from "../limits.ts";
import { compareBytes } from "../_bytes.ts";
import { ViewBytes } from "../_view_bytes.ts";
import { checkOptions, type OptionsPlace, type OptionTypes } from "../_options.ts";

/** A key: bytes, or a string stored as its UTF-8 bytes. */
export type KeyLike = Uint8Array | string;

const encoder = new TextEncoder();

/** Short ASCII keys are encoded by hand: a loop beats `TextEncoder` for them (measured ~75 vs ~700 ns). */
const asciiFastPathMax = 256;
/**
 * Views of the scratch buffer are kept for keys up to this long: a key's
 * view then costs no allocation (a new view per call was about a tenth of a
 * point read, and garbage at once).
 */
const scratchViewBytesMax = 256;
/** UTF-8 takes at most 3 bytes per UTF-16 unit, so any string within the key limit fits. */
const scratchViews = new ViewBytes(keyBytesMax * 3, scratchViewBytesMax);
const scratch = scratchViews.bytes;

/**
 * Like {@link keyBytes}, but a string's bytes land in a shared scratch buffer:
 * the view is valid only until the next call. For single-key operations that
 * copy the key (into the WAL buffer, a trie) before they return.
 */
export function transientKeyBytes(key: KeyLike, operation: string): Uint8Array {
  if (typeof key !== "string" || key.length > keyBytesMax) return keyBytes(key, operation);
  const length = key.length;
  let index = 0;
  if (length <= asciiFastPathMax) {
    for (; index < length; index++) {
      const code = key.charCodeAt(index);
      if (code > 0x7f) break;
      scratch[index] = code;
    }
  }
  if (index !== length) checkWellFormed(key, operation);
  const written = index === length ? length : encoder.encodeInto(key, scratch).written;
  if (written === 0 || written > keyBytesMax) return keyBytes(key, operation);
  assert(written >= length, "UTF-8 takes at least one byte per UTF-16 unit");
  return scratchViews.view(written);
}

/**
 * Bytes of the shared blocks {@link packedKeyBytes} encodes string keys into.
 * A `TextEncoder.encode` per key allocates a backing store of its own (about
 * 400 ns per short key measured in a batch of 1,000); a view into a block
 * costs a fraction of that.
 */
const packBlockBytes = 64 * 1024;
/** Keys whose UTF-8 form may take more than this get an array of their own. */
const packSharedBytesMax = packBlockBytes / 16;
let packBlock = new Uint8Array(packBlockBytes);
let packUsed = 0;

/**
 * Like {@link keyBytes}, but a string's bytes land in a shared block that is
 * never written again, so the view stays valid for as long as the caller
 * keeps it (a kept view keeps its 64 KiB block alive). For atomic
 * operations, which hold many keys until they are appended.
 */
export function packedKeyBytes(key: KeyLike, operation: string): Uint8Array {
  if (typeof key !== "string" || key.length * 3 > packSharedBytesMax) {
    return keyBytes(key, operation);
  }
  const length = key.length;
  if (packBlock.length - packUsed < length * 3) {
    packBlock = new Uint8Array(packBlockBytes);
    packUsed = 0;
  }
  const block = packBlock;
  const start = packUsed;
  let index = 0;
  for (; index < length; index++) {
    const code = key.charCodeAt(index);
    if (code > 0x7f) break;
    block[start + index] = code;
  }
  if (index !== length) checkWellFormed(key, operation);
  const written = index === length
    ? length
    : encoder.encodeInto(key, block.subarray(start, start + length * 3)).written;
  if (written === 0) return keyBytes(key, operation); // the empty key: throws
  assert(written >= length && written <= length * 3, "UTF-8 takes 1 to 3 bytes per UTF-16 unit");
  packUsed = start + written;
  return block.subarray(start, start + written);
}

/**
 * Throws a `TypeError` if `key` holds a lone surrogate: UTF-8 has no bytes
 * for one, so the encoder would write U+FFFD in its place and distinct keys
 * (`"a\ud800"`, `"a\udbff"`) would become one. Keys are exact, so such a
 * string is refused. Callers test ASCII strings (always well formed) first,
 * so those pay nothing.
 */
function checkWellFormed(key: string, operation: string): void {
  if (key.isWellFormed()) return;
  let index = 0;
  for (; index < key.length; index++) {
    const code = key.charCodeAt(index);
    if (code < 0xd800 || code > 0xdfff) continue;
    const next = key.charCodeAt(index + 1); // NaN past the end
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) index++;
    else break;
  }
  assert(index < key.length, "an ill-formed string holds a lone surrogate");
  const code = key.charCodeAt(index).toString(16).toUpperCase();
  throw new TypeError(
    `Cannot ${operation}: key holds a lone surrogate (U+${code}) at index ${index}, which UTF-8 ` +
      `cannot encode; pass well-formed text, or the key's bytes as a Uint8Array`,
  );
}

/** The key's bytes, after checking its type, form and length (1..65535 bytes). */
export function keyBytes(key: KeyLike, operation: string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === "string") {
    bytes = encoder.encode(key);
    // As many bytes as UTF-16 units only if every unit is ASCII, which is well formed.
    if (bytes.length !== key.length) checkWellFormed(key, operation);
  } else if (key instanceof Uint8Array) bytes = key;
  else {
    throw new TypeError(
      `Cannot ${operation}: key must be a string or a Uint8Array, got ${describe(key)}`,
    );
  }
  if (bytes.length === 0 || bytes.length > keyBytesMax) {
    throw new RangeError(
      `Cannot ${operation}: key must be 1 to ${keyBytesMax} bytes long, got ${bytes.length}`,
    );
  }
  return bytes;
}

/** Checks a value to store: an integer in [0, Number.MAX_SAFE_INTEGER]. */
export function checkValue(value: number, operation: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`Cannot ${operation}: value must be a number, got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot ${operation}: value must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${value}`,
    );
  }
  return value;
}

/** Checks a delta: any safe integer (negative deltas subtract). */
export function checkDelta(delta: number, operation: string): number {
  if (typeof delta !== "number") {
    throw new TypeError(`Cannot ${operation}: delta must be a number, got ${describe(delta)}`);
  }
  if (!Number.isSafeInteger(delta)) {
    throw new RangeError(`Cannot ${operation}: delta must be a safe integer, got ${delta}`);
  }
  return delta;
}

/** Selects keys for `list`, in the shapes of Deno KV's selectors. */
export type ListSelector =
  | { prefix: KeyLike }
  | { prefix: KeyLike; start: KeyLike }
  | { prefix: KeyLike; end: KeyLike }
  | { start: KeyLike; end: KeyLike };

/** A half-open byte range `[start, end)`; `end` undefined means unbounded. */
export interface ByteRange {
  start: Uint8Array;
  end: Uint8Array | undefined;
}

const empty = new Uint8Array(0);

/** The first key after every key that starts with `prefix`, or undefined if none exists. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let last = prefix.length - 1;
  while (last >= 0 && prefix[last] === 0xff) last--;
  if (last < 0) return undefined;
  const end = prefix.slice(0, last + 1);
  end[last]++;
  assert(compareBytes(end, prefix) > 0, "a prefix end sorts after the prefix");
  return end;
}

/** The keys of {@link ListSelector}, each with its type. */
const selectorTypes: OptionTypes = { prefix: "key", start: "key", end: "key" };
const selectorPlace: OptionsPlace = {
  operation: "list",
  object: "selector",
  key: "selector key",
  keyPrefix: "selector.",
};

/** Turns a selector into a byte range. A prefix selector includes the prefix itself as a key. */
export function selectorRange(selector: ListSelector): ByteRange {
  checkOptions(selector, selectorTypes, selectorPlace);
  const has = (name: string) =>
    name in selector && (selector as Record<string, unknown>)[name] !== undefined;
  if (has("prefix")) {
    const prefix = selectorKey((selector as { prefix: KeyLike }).prefix, true);
    if (has("start") && has("end")) {
      throw new TypeError("Cannot list: a selector takes prefix with start or with end, not both");
    }
    let start = prefix;
    let end = prefixEnd(prefix);
    if (has("start")) {
      start = maxBytes(start, selectorKey((selector as { start: KeyLike }).start, false));
    }
    if (has("end")) end = minBytes(end, selectorKey((selector as { end: KeyLike }).end, false));
    return { start, end };
  }
  if (!has("start") || !has("end")) {
    throw new TypeError("Cannot list: selector needs prefix, or both start and end");
  }
  const start = selectorKey((selector as { start: KeyLike }).start, false);
  const end = selectorKey((selector as { end: KeyLike }).end, false);
  return { start, end };
}

function selectorKey(key: KeyLike, allowEmpty: boolean): Uint8Array {
  if (allowEmpty && (key === "" || (key instanceof Uint8Array && key.length === 0))) return empty;
  return keyBytes(key, "list");
}

function maxBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) >= 0 ? a : b;
}

function minBytes(a: Uint8Array | undefined, b: Uint8Array): Uint8Array {
  return a === undefined || compareBytes(b, a) < 0 ? b : a;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object"
    ? `an object (${value.constructor?.name ?? "Object"})`
    : typeof value;
}
