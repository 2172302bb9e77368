/**
 * Little-endian helpers shared by the file formats (WAL records and segment
 * headers, image header slots and node records).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { crc32c } from "./_crc32c.ts";

const twoTo32 = 0x1_0000_0000;

/** Writes an unsigned integer below 2^53 as a u64 at `offset`; returns the offset after it. */
export function writeU64(view: DataView, offset: number, value: number): number {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    "a u64 field holds a safe non-negative integer",
  );
  view.setUint32(offset, value % twoTo32, true);
  view.setUint32(offset + 4, Math.floor(value / twoTo32), true);
  return offset + 8;
}

/** Reads a u64 at `offset` (above 2^53 it is no longer exact: callers check the range). */
export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * twoTo32;
}

/** The fixed start of a file header: `magic (8 bytes) | version u32 | headerBytes u32`, and a trailing crc32c. */
export interface HeaderPrologue {
  /** The 8-byte magic. */
  magic: Uint8Array;
  /** The format version this build reads. */
  version: number;
  /** The header's length; the crc32c is its last 4 bytes and covers everything before. */
  bytes: number;
  /** How errors name the header ("segment header", "slot"). */
  what: string;
  /** How errors name the format ("segment", "image"). */
  format: string;
}

/** Writes the prologue's magic, version and length (the caller writes the crc last). */
export function writeHeaderPrologue(
  bytes: Uint8Array,
  view: DataView,
  prologue: HeaderPrologue,
): void {
  assert(
    prologue.magic.length === 8 && bytes.length >= prologue.bytes,
    "a header has room for its prologue",
  );
  bytes.set(prologue.magic, 0);
  view.setUint32(8, prologue.version, true);
  view.setUint32(12, prologue.bytes, true);
}

/** Seals a header: its last 4 bytes become the crc32c of everything before them. */
export function sealHeader(bytes: Uint8Array, view: DataView, prologue: HeaderPrologue): void {
  const crcOffset = prologue.bytes - 4;
  view.setUint32(crcOffset, crc32c(bytes, 0, 0, crcOffset), true);
}

/**
 * Checks a header's checksum, magic, version and length, in that order.
 * Returns a description of the first check that failed, or undefined.
 */
export function checkHeaderPrologue(
  bytes: Uint8Array,
  view: DataView,
  prologue: HeaderPrologue,
): string | undefined {
  const crcOffset = prologue.bytes - 4;
  assert(bytes.length >= prologue.bytes, "the caller checked the header's length");
  if (view.getUint32(crcOffset, true) !== crc32c(bytes, 0, 0, crcOffset)) {
    return `${prologue.what} checksum mismatch`;
  }
  for (let index = 0; index < prologue.magic.length; index++) {
    if (bytes[index] !== prologue.magic[index]) return `${prologue.what} magic is wrong`;
  }
  const version = view.getUint32(8, true);
  if (version !== prologue.version) {
    return `${prologue.format} format version ${version} is not supported (this build reads ${prologue.version})`;
  }
  if (view.getUint32(12, true) !== prologue.bytes) return `${prologue.what} length is wrong`;
  return undefined;
}
