/**
 * Space in the image file: fixed-size slabs and the allocation table that
 * says how much of each is used.
 *
 * The file is cut into slabs of {@link slabBytes}; slab 0 starts with the
 * header region. A record never crosses a slab boundary. For each slab the
 * table keeps `filled` (bytes from the slab's start that records occupy or
 * once occupied: appends continue there), `live` (bytes of records the
 * committed image uses) and `held` (bytes of records the committed image no
 * longer uses but the one before it did). A slab whose `live` and `held`
 * are both 0 is free: the next checkpoint may write anywhere in it. Only
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
import { nodeRecordBytesMax } from "./node_record.ts";

/** Bytes per slab: any node record fits in one. */
export const slabBytes = 128 * 1024;
/** Table entries one chunk record holds at most (so a chunk fits a slab). */
export const chunkEntriesMax = 8192;
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

assert(nodeRecordBytesMax <= slabBytes, "a node record fits in one slab");
assert(chunkBytes(chunkEntriesMax) <= slabBytes, "a chunk record fits in one slab");

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

/** Decodes the chunk at the start of `bytes`; a description of the first failed check if invalid. */
export function decodeChunk(bytes: Uint8Array): AllocationChunk | string {
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
  if (chunkBytes(Math.min(count, chunkEntriesMax)) !== length) {
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
    if (live + held > filled || filled > slabBytes) return `slab entry ${index} is out of range`;
    chunk.filled.push(filled);
    chunk.live.push(live);
    chunk.held.push(held);
  }
  if (!Number.isSafeInteger(chunk.next)) return "allocation record next address is out of range";
  return chunk;
}
