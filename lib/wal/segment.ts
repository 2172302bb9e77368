/**
 * WAL segment files: their names and their 32-byte checksummed header.
 *
 * ```text
 * name    = "wal-" + first LSN as 20 decimal digits + ".wal"
 * header  = magic "TTWALSEG" | version u32 | headerBytes u32 | firstLsn u64 | reserved u32 | crc32c u32
 * ```
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { crc32c } from "../_crc32c.ts";
import { lsnMax } from "./record.ts";

/** Bytes of a segment header; records start right after it. */
export const segmentHeaderBytes = 32;
/** The on-disk format version this code writes and reads. */
export const walFormatVersion = 1;
/** A segment is closed once it holds this many bytes; the next write starts a new one. */
export const segmentBytesDefault = 64 * 1024 * 1024;
/** The largest segment size a store may be configured with. */
export const segmentBytesMax = 1024 * 1024 * 1024;
/**
 * The largest segment file recovery reads: a segment is sealed at
 * `segmentBytesMax` but its last write may hold up to the pending bound plus
 * one record more.
 */
export const segmentFileBytesMax = segmentBytesMax + 256 * 1024 * 1024;
/** The most segments a store may hold (bounds recovery work and listing). */
export const segmentCountMax = 1_000_000;

const magic = new TextEncoder().encode("TTWALSEG");
const namePattern = /^wal-(\d{20})\.wal$/;

/** The file name of the segment whose first record has `firstLsn`. */
export function segmentName(firstLsn: number): string {
  assert(Number.isSafeInteger(firstLsn) && firstLsn >= 1, "segment lsn is positive");
  const name = `wal-${String(firstLsn).padStart(20, "0")}.wal`;
  assert(namePattern.test(name), "segment name round-trips");
  return name;
}

/** The first LSN a segment file name declares, or undefined if it is not a segment name. */
export function parseSegmentName(name: string): number | undefined {
  const match = namePattern.exec(name);
  if (match === null) return undefined;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) && lsn >= 1 ? lsn : undefined;
}

/** Encodes the header of a segment starting at `firstLsn`. */
export function encodeSegmentHeader(firstLsn: number): Uint8Array {
  assert(firstLsn >= 1 && firstLsn <= lsnMax, "segment lsn is in range");
  const bytes = new Uint8Array(segmentHeaderBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(magic, 0);
  view.setUint32(8, walFormatVersion, true);
  view.setUint32(12, segmentHeaderBytes, true);
  view.setUint32(16, firstLsn % 0x1_0000_0000, true);
  view.setUint32(20, Math.floor(firstLsn / 0x1_0000_0000), true);
  view.setUint32(28, crc32c(bytes.subarray(0, 28)), true);
  assert(decodeSegmentHeader(bytes) === firstLsn, "segment header round-trips");
  return bytes;
}

/**
 * Decodes a segment header. Returns the first LSN, or a description of the
 * first check that failed.
 */
export function decodeSegmentHeader(bytes: Uint8Array): number | string {
  if (bytes.length < segmentHeaderBytes) return "segment header is truncated";
  const view = new DataView(bytes.buffer, bytes.byteOffset, segmentHeaderBytes);
  if (view.getUint32(28, true) !== crc32c(bytes.subarray(0, 28))) {
    return "segment header checksum mismatch";
  }
  for (let index = 0; index < magic.length; index++) {
    if (bytes[index] !== magic[index]) return "segment header magic is wrong";
  }
  const version = view.getUint32(8, true);
  if (version !== walFormatVersion) {
    return `segment format version ${version} is not supported (this build reads ${walFormatVersion})`;
  }
  if (view.getUint32(12, true) !== segmentHeaderBytes) return "segment header length is wrong";
  const lsn = view.getUint32(16, true) + view.getUint32(20, true) * 0x1_0000_0000;
  if (lsn < 1 || lsn > lsnMax) return `segment first lsn ${lsn} out of range`;
  return lsn;
}
