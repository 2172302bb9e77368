/**
 * Space in the image file: fixed-size slabs and the allocation table that
 * says how much of each is used.
 *
 * The file is cut into slabs of one size, its {@link ImageGeometry} (a header
 * records it; {@link slabBytes} unless the simulator chose smaller ones);
 * slab 0 starts with the header region. A record never crosses a slab
 * boundary. For each slab the table keeps `filled` (bytes from the slab's
 * start that records occupy or once occupied: appends continue there),
 * `live` (bytes of records the committed image uses) and `held` (bytes of
 * records the committed image no longer uses but the one before it did). A
 * slab whose `live` and `held` are both 0 is free: the next checkpoint may
 * write anywhere in it. Only
 * bytes past `filled`, or in a free slab, are ever written, so neither the
 * committed image nor the one before it is ever overwritten: if the newest
 * header slot is unreadable, the older one still describes a whole image.
 *
 * The table is stored with each checkpoint as a chain of chunk records:
 *
 * ```text
 * chunk = length u32 | crc32c u32 | flags u8 (0x80) | reserved u8 × 3 |
 *         firstSlab u32 | count u32 | next u64 (0: last chunk) |
 *         count × (filled u32 | live u32 | held u32)
 * crc32c covers bytes [0, 4) and [8, length)
 * ```
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { readU64, writeU64 } from "../_binary.ts";
import { crc32c } from "../_crc32c.ts";
import { geometryDefaults, headerRegionBytes } from "./header.ts";
import { nodeRecordBytesLargest } from "./node_record.ts";

/** Bytes per slab of the default geometry: any node record fits in one. */
export const slabBytes = geometryDefaults.slabBytes;
/** Table entries one chunk record holds at most (the default geometry's, and the format's limit). */
export const chunkEntriesMax = geometryDefaults.chunkEntriesMax;
/**
 * The smallest slab: a sector. Slabs smaller than the header region (8 KiB)
 * leave the first ones to it whole: they hold no record, and records start
 * in the next.
 */
export const slabBytesMin = 4096;

/**
 * How an image file cuts its space: chosen when the file is created and
 * recorded in every header slot. Every store uses {@link defaultGeometry};
 * only the simulator asks for smaller slabs and chunks, so that a small
 * image spans many slabs and its table several chunks.
 */
export interface ImageGeometry {
  /** Bytes per slab: a power of two from {@link slabBytesMin} to {@link slabBytes}. */
  readonly slabBytes: number;
  /** Table entries per chunk record, at most: 1 to {@link chunkEntriesMax}, a chunk fitting a slab. */
  readonly chunkEntriesMax: number;
}

/** The geometry of every image a store creates (128 KiB slabs, 8,192 entries a chunk). */
export const defaultGeometry: ImageGeometry = Object.freeze({ slabBytes, chunkEntriesMax });

/**
 * The largest record an image of this geometry holds: a whole slab (one
 * that does not fit the rest of slab 0, past the header region, goes to
 * another slab).
 */
export function recordBytesMax(geometry: ImageGeometry): number {
  return geometry.slabBytes;
}

/** What is wrong with a geometry, or undefined if it is valid. */
export function geometryProblem(geometry: ImageGeometry): string | undefined {
  const { slabBytes: slab, chunkEntriesMax: entries } = geometry;
  if (
    !Number.isSafeInteger(slab) || slab < slabBytesMin || slab > slabBytes ||
    (slab & (slab - 1)) !== 0
  ) {
    return `slab size "${slab}" is not a power of two from ${slabBytesMin} to ${slabBytes}`;
  }
  if (!Number.isSafeInteger(entries) || entries < 1 || entries > chunkEntriesMax) {
    return `chunk entry limit "${entries}" is not an integer from 1 to ${chunkEntriesMax}`;
  }
  if (chunkBytes(entries) > recordBytesMax(geometry)) {
    return `a chunk of ${entries} entries does not fit a slab of ${slab} bytes`;
  }
  return undefined;
}
/** The flags byte of a chunk record (node records use the low bits only). */
export const allocationFlag = 0x80;
/** Bytes of a chunk before its entries. */
const chunkFixedBytes = 28;
const entryBytes = 12;

/** The encoded size of a chunk of `count` entries. */
export function chunkBytes(count: number): number {
  assert(count >= 0 && count <= chunkEntriesMax, "a chunk holds at most chunkEntriesMax entries");
  return chunkFixedBytes + count * entryBytes;
}

assert(geometryProblem(defaultGeometry) === undefined, "the default geometry is valid");
assert(
  nodeRecordBytesLargest <= defaultGeometry.slabBytes - headerRegionBytes,
  "any node record fits any slab of the default geometry, slab 0 included",
);

/** One decoded chunk: entries for slabs `firstSlab .. firstSlab + filled.length - 1`. */
export interface AllocationChunk {
  /** The first slab the chunk describes. */
  firstSlab: number;
  /** Bytes used from each slab's start. */
  filled: number[];
  /** Live bytes in each slab. */
  live: number[];
  /** Bytes in each slab the image before the committed one still used. */
  held: number[];
  /** The next chunk's address, or 0 for the last. */
  next: number;
}

/** Encodes one chunk. */
export function encodeChunk(chunk: AllocationChunk): Uint8Array {
  const count = chunk.filled.length;
  assert(
    count === chunk.live.length && count === chunk.held.length,
    "filled, live and held describe the same slabs",
  );
  const length = chunkBytes(count);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  bytes[8] = allocationFlag;
  view.setUint32(12, chunk.firstSlab, true);
  view.setUint32(16, count, true);
  writeU64(view, 20, chunk.next);
  for (let index = 0; index < count; index++) {
    const at = chunkFixedBytes + index * entryBytes;
    assert(
      chunk.live[index] + chunk.held[index] <= chunk.filled[index],
      "live and held bytes lie within the filled part",
    );
    view.setUint32(at, chunk.filled[index], true);
    view.setUint32(at + 4, chunk.live[index], true);
    view.setUint32(at + 8, chunk.held[index], true);
  }
  view.setUint32(4, crc32c(bytes, crc32c(bytes, 0, 0, 4), 8, length), true);
  return bytes;
}

/**
 * Decodes the chunk at the start of `bytes` of an image with `geometry`; a
 * description of the first failed check if invalid.
 */
export function decodeChunk(
  bytes: Uint8Array,
  geometry: ImageGeometry = defaultGeometry,
): AllocationChunk | string {
  if (bytes.length < chunkFixedBytes) return "allocation record is truncated";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  if (length < chunkFixedBytes || length > chunkBytes(chunkEntriesMax) || length > bytes.length) {
    return `allocation record length ${length} is out of range`;
  }
  if (view.getUint32(4, true) !== crc32c(bytes, crc32c(bytes, 0, 0, 4), 8, length)) {
    return "allocation record checksum mismatch";
  }
  if (bytes[8] !== allocationFlag) return "record is not an allocation record";
  const count = view.getUint32(16, true);
  if (count > geometry.chunkEntriesMax || chunkBytes(count) !== length) {
    return "allocation record entry count is inconsistent";
  }
  const chunk: AllocationChunk = {
    firstSlab: view.getUint32(12, true),
    filled: [],
    live: [],
    held: [],
    next: readU64(view, 20),
  };
  for (let index = 0; index < count; index++) {
    const at = chunkFixedBytes + index * entryBytes;
    const filled = view.getUint32(at, true);
    const live = view.getUint32(at + 4, true);
    const held = view.getUint32(at + 8, true);
    if (live + held > filled || filled > geometry.slabBytes) {
      return `slab entry ${index} is out of range`;
    }
    chunk.filled.push(filled);
    chunk.live.push(live);
    chunk.held.push(held);
  }
  if (!Number.isSafeInteger(chunk.next)) return "allocation record next address is out of range";
  return chunk;
}
