/**
 * The keys and values a simulated run uses, drawn per seed so runs vary.
 *
 * A key is written in the model as a _byte string_: one char per byte, each
 * char code 0..255 (latin1 without any code page). JavaScript compares such
 * strings code unit by code unit, which is exactly the byte order the store
 * lists in, and they survive JSON traces. The store gets the key as a
 * `Uint8Array`, or as a string when its bytes are valid UTF-8 (the form
 * alternates by step, so both the string paths — the ASCII fast paths among
 * them — and the bytes path see every kind of key).
 *
 * Each seed draws a small hot set most operations pick (so clients collide
 * on the same keys) and a wide cold set: ASCII keys that prefix each other,
 * binary keys with `0x00` and `0xff` bytes, UTF-8 keys, keys of 600 B and
 * 1.5 KB (records span sectors), keys at and past the overlay's 4 KiB
 * id limit (`overlayIdBytesMax`: longer keys live in a trie of their own),
 * now and then one of up to 65,535 bytes, and the children of a _fan_
 * prefix: up to 256 keys under one prefix, filled and cleared by large
 * atomic operations, so the trie's Node48 and Node256 appear and shrink
 * back, and lists cross the store's 256-entry batches. Values come near
 * 2^31, 2^32 and 2^53, so varints, counts and range checks meet their edges.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { overlayIdBytesMax } from "../lib/store/internals.ts";
import { eventPrng, hash32, type Prng } from "./prng.ts";

/** The keys of one run: see the module notes. */
export interface KeySpace {
  /** Keys most operations pick: few, so clients collide often. */
  hot: readonly string[];
  /** Keys picked now and then (the fan's children among them). */
  cold: readonly string[];
  /** The prefix of the fan (undefined: none this seed). */
  fanPrefix: string | undefined;
  /** The fan's children, ascending (empty without a fan). */
  fan: readonly string[];
  /** Hot ASCII keys of at most 4 KiB: what counting batches add to (the store's fast path). */
  ascii: readonly string[];
  /**
   * Whether values come near 2^53 too (one seed in three): one such count
   * raises the store's value ceiling past what its batch fast path takes,
   * so on the other seeds values stop near 2^31 and 2^32.
   */
  nearMaxSafe: boolean;
}

/** The `eventPrng` stream of a seed's key space. */
const keyStream = 0x6b65;
/** Keys of ASCII text that prefix each other (the run's short keys come from here). */
const asciiKeys = ["a", "ab", "abc", "b", "ba", "the", "the cat", "the dog", "then", "z"];
/** Binary keys at the edges of byte order: zero bytes, `0xff` runs (no prefix end), bytes ≥ 0x80. */
const binaryKeys = [
  "\x00",
  "\x00\x00",
  "\x00\xff",
  "\xff",
  "\xff\xff",
  "\xff\xff\xff",
  "\xff\x00",
  "a\x00",
  "a\x00b",
  "\x80",
  "\xfe\xff",
];
/** UTF-8 text keys, as their bytes ("é", "the é", "日本", "🐈"). */
const utf8Keys = ["\xc3\xa9", "the \xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x90\x88"];
/** Bytes of a key with a long shared prefix at the overlay's id limit. */
const longPrefixBytes = overlayIdBytesMax;
/** The longest key the store takes (the documented limit). */
export const simKeyBytesMax = 65_535;
/** Cold keys of random bytes each seed adds. */
const randomColdKeys = 24;
/** The fewest and most children a fan has (Node48 past 16, Node256 past 48). */
const fanChildrenMin = 24;
const fanChildrenMax = 256;

/** Values near the edges of 32-bit and safe integers. */
export const valueEdges = [2 ** 31 - 1, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER] as const;

/**
 * The key space of a seed: deterministic in the seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawKeySpace } from "./keys.ts";
 * const a = drawKeySpace(7);
 * assert.ok(JSON.stringify(a) === JSON.stringify(drawKeySpace(7)));
 * assert.ok(a.hot.length > 0 && a.hot.every((key) => key.length > 0));
 * ```
 */
export function drawKeySpace(seed: number): KeySpace {
  const random = eventPrng(seed, keyStream, 0);
  const hot: string[] = [];
  const cold: string[] = [];
  const place = (key: string, hotChance: number) => {
    assert(key.length >= 1 && key.length <= simKeyBytesMax, "a key the store takes");
    if (hot.includes(key) || cold.includes(key)) return;
    (random.chance(hotChance) ? hot : cold).push(key);
  };
  for (const key of asciiKeys) place(key, 0.6);
  place(`long ${"x".repeat(600)}`, 0.5);
  place("w".repeat(1500), 0.5);
  if (random.chance(0.75)) { for (const key of binaryKeys) place(key, 0.3); }
  if (random.chance(0.5)) { for (const key of utf8Keys) place(key, 0.3); }
  if (random.chance(0.7)) {
    // Keys at the overlay's id limit and past it, sharing a long prefix (the
    // trie splits inside it); the first two are hot on most seeds.
    const base = "L".repeat(longPrefixBytes);
    place(base, 0.8);
    place(`${base}y`, 0.8);
    const tail = 1 + random.below(8000);
    place(`${base}y${byteString(random, tail)}`, 0.5);
  }
  if (random.chance(0.1)) {
    place("H".repeat(20_000 + random.below(simKeyBytesMax - 20_000 + 1)), 0.5);
  }
  for (let index = 0; index < randomColdKeys; index++) {
    place(byteString(random, 1 + random.below(12)), 0);
  }
  const { fanPrefix, fan } = drawFan(random);
  cold.push(...fan.filter((key) => !hot.includes(key) && !cold.includes(key)));
  if (hot.length === 0) hot.push(cold.shift()!);
  const ascii = hot.filter((key) =>
    key.length <= overlayIdBytesMax && !/[\u0080-\uffff]/.test(key)
  );
  if (ascii.length === 0) ascii.push("a");
  return { hot, cold, fanPrefix, fan, ascii, nearMaxSafe: random.chance(1 / 3) };
}

/**
 * Two seeds in three get a fan: a prefix with 24 to 256 children, on half
 * of them with one or two grandchildren under each child too (up to 768
 * keys, so lists cross the store's 256-entry batches).
 */
function drawFan(random: Prng): { fanPrefix: string | undefined; fan: string[] } {
  if (!random.chance(2 / 3)) return { fanPrefix: undefined, fan: [] };
  const fanPrefix = random.pick(["f/", "\xff", "\x00", "the ", "a"]) +
    (random.chance(0.3) ? byteString(random, 1 + random.below(3)) : "");
  const width = fanChildrenMin + random.below(fanChildrenMax - fanChildrenMin + 1);
  const children = distinctBytes(random, width);
  const grandchildren = random.chance(0.5) ? distinctBytes(random, 1 + random.below(2)) : [];
  const fan: string[] = [];
  for (const byte of children) {
    const child = fanPrefix + String.fromCharCode(byte);
    fan.push(child);
    for (const below of grandchildren) fan.push(child + String.fromCharCode(below));
  }
  return { fanPrefix, fan };
}

/** `count` distinct bytes, ascending. */
function distinctBytes(random: Prng, count: number): number[] {
  assert(count >= 1 && count <= 256, "a count of distinct bytes");
  const bytes = Array.from({ length: 256 }, (_, byte) => byte);
  for (let index = 255; index > 0; index--) {
    const other = random.below(index + 1);
    [bytes[index], bytes[other]] = [bytes[other], bytes[index]];
  }
  return bytes.slice(0, count).sort((a, b) => a - b);
}

/** `length` random bytes as a byte string (any byte, 0x00 and 0xff included). */
function byteString(random: Prng, length: number): string {
  let text = "";
  for (let index = 0; index < length; index++) text += String.fromCharCode(random.below(256));
  return text;
}

/**
 * `key` one byte off: its last byte changed, a byte added, or its last byte
 * dropped (a key stays 1 to {@link simKeyBytesMax} bytes).
 */
export function nearMiss(key: string, random: Prng): string {
  const roll = random.below(3);
  const byte = String.fromCharCode(random.below(256));
  if (roll === 0 && key.length < simKeyBytesMax) return key + byte;
  if (roll === 1 && key.length > 1) return key.slice(0, -1);
  const last = key.charCodeAt(key.length - 1);
  return key.slice(0, -1) + String.fromCharCode((last + 1 + random.below(255)) % 256);
}

/** Picks a key: a hot one three times in four. */
export function pickKey(space: KeySpace, random: Prng): string {
  const cold = space.cold.length > 0 && random.chance(0.25);
  return random.pick(cold ? space.cold : space.hot);
}

/**
 * A value to set: mostly small, one in five near 2^31, 2^32 or (see
 * {@link KeySpace.nearMaxSafe}) 2^53: up to 2,000 below or above the edge,
 * within the store's range.
 */
export function drawValue(random: Prng, space: KeySpace): number {
  if (!random.chance(0.2)) return random.below(1000);
  const edge = random.pick(space.nearMaxSafe ? valueEdges : valueEdges.slice(0, 2));
  return Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, edge - 2000 + random.below(4001)));
}

/**
 * An add's delta: `distinct` mostly (no other step uses it, so a doubled or
 * lost add shows), sometimes negative, sometimes past 2^31 or 2^32 either
 * way, now and then big enough to cross 2^53 from a value near it (the
 * store must refuse it with a RangeError).
 */
export function drawDelta(random: Prng, distinct: number, space: KeySpace): number {
  const roll = random.below(100);
  if (roll < 10) return -random.below(3000);
  if (roll < 16) return (random.chance(0.5) ? 2 ** 31 : 2 ** 32) + distinct;
  if (roll < 20) return -((random.chance(0.5) ? 2 ** 31 : 2 ** 32) + distinct);
  if (roll < 22 && space.nearMaxSafe) return Number.MAX_SAFE_INTEGER - random.below(4_000_000);
  return distinct;
}

/** The bytes of a byte string. */
export function bytesOfKey(key: string): Uint8Array {
  return forms(key).bytes.slice();
}

/**
 * WHATWG's "latin1" is windows-1252: bytes 0x80..0x9f decode to other
 * chars, every other byte to the char of its own code.
 */
const windows1252 = new TextDecoder("latin1");
/** Chars converted per `String.fromCharCode` call (bounds its argument count). */
const charsPerCall = 8192;

/** The byte string of some bytes (the model's form of a key the store returned). */
export function keyOfBytes(bytes: Uint8Array): string {
  const text = windows1252.decode(bytes);
  // A char past 0xff comes from a byte in 0x80..0x9f (five of them decode to themselves).
  if (text.length === bytes.length && !/[\u0100-\uffff]/.test(text)) return text;
  let exact = "";
  for (let start = 0; start < bytes.length; start += charsPerCall) {
    exact += String.fromCharCode(...bytes.subarray(start, start + charsPerCall));
  }
  return exact;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A key's bytes and, if they are valid UTF-8, the string they spell. */
interface KeyForms {
  bytes: Uint8Array;
  text: string | undefined;
}

/** Keys whose forms are kept (a run uses a few hundred; the cache is emptied past this). */
const formsCachedMax = 4096;
const formsCache = new Map<string, KeyForms>();

function forms(key: string): KeyForms {
  let found = formsCache.get(key);
  if (found !== undefined) return found;
  const bytes = new Uint8Array(key.length);
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index);
    assert(code <= 0xff, "a byte string holds bytes");
    bytes[index] = code;
  }
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (formsCache.size >= formsCachedMax) formsCache.clear();
  found = { bytes, text };
  formsCache.set(key, found);
  return found;
}

/**
 * How a key is handed to the store: as bytes, or, when its bytes are valid
 * UTF-8 and `variant` picks it, as the string they spell. The bytes are one
 * array per key, shared by every call: the store must copy what it keeps
 * and never write to a caller's key (if it did, later calls would show it).
 */
export function keyArgument(key: string, variant: number): Uint8Array | string {
  const { bytes, text } = forms(key);
  if (text !== undefined && (hash32(variant, key.length, key.charCodeAt(0)) & 1) === 1) return text;
  return bytes;
}

/** A key shortened for a message: printable bytes as they are, others as `\xNN`. */
export function showKey(key: string): string {
  const shown = key.length > 24 ? key.slice(0, 12) : key;
  const text = shown.replace(
    /[^\x20-\x7e]/g,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return key.length > 24 ? `${text}…(${key.length} bytes)` : text;
}
