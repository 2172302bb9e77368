/**
 * WAL segment files: their names and their 32-byte checksummed header.
 *
 * ```text
 * name    = "wal-" + first LSN as 20 decimal digits + ".wal"
 * header  = magic "TTWALSEG" | version u32 | headerBytes u32 | firstLsn u64 | previousBytes u32 | crc32c u32
 *
 * previousBytes: the valid length of the segment before this one (0 for the
 * first): that segment is sealed there, whatever bytes follow in its file.
 * ```
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  checkHeaderPrologue,
  type HeaderPrologue,
  readU64,
  sealHeader,
  writeHeaderPrologue,
  writeU64,
} from "../_binary.ts";
import { lsnMax } from "../limits.ts";

/** Bytes of a segment header; records start right after it. */
export const segmentHeaderBytes = 32;
/** Where a header records the previous segment's length; the fields before it are fixed by the name. */
const previousBytesOffset = 24;
/** The on-disk format version this code writes and reads. */
export const walFormatVersion = 1;

const prologue: HeaderPrologue = {
  magic: new TextEncoder().encode("TTWALSEG"),
  version: walFormatVersion,
  bytes: segmentHeaderBytes,
  what: "segment header",
  format: "segment",
};
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

/** The lowest first LSN the segment file names among `names` declare, or undefined if none is one. */
export function firstSegmentLsn(names: readonly string[]): number | undefined {
  let first: number | undefined;
  for (const name of names) {
    const lsn = parseSegmentName(name);
    if (lsn !== undefined && (first === undefined || lsn < first)) first = lsn;
  }
  return first;
}

/** A decoded segment header. */
export interface SegmentHeader {
  /** LSN of the segment's first record. */
  firstLsn: number;
  /** Valid bytes of the previous segment (0 if none): it is sealed at that length. */
  previousBytes: number;
}

/** Encodes the header of a segment starting at `firstLsn`, sealing the previous one at `previousBytes`. */
export function encodeSegmentHeader(firstLsn: number, previousBytes: number): Uint8Array {
  assert(firstLsn >= 1 && firstLsn <= lsnMax, "segment lsn is in range");
  assert(
    previousBytes === 0 || previousBytes >= segmentHeaderBytes,
    "a sealed segment holds a header",
  );
  assert(previousBytes <= segmentFileBytesMax, "a sealed length fits in a u32");
  const bytes = new Uint8Array(segmentHeaderBytes);
  const view = new DataView(bytes.buffer);
  writeHeaderPrologue(bytes, view, prologue);
  writeU64(view, 16, firstLsn);
  view.setUint32(previousBytesOffset, previousBytes, true);
  sealHeader(bytes, view, prologue);
  const decoded = decodeSegmentHeader(bytes);
  assert(
    typeof decoded !== "string" && decoded.firstLsn === firstLsn,
    "segment header round-trips",
  );
  return bytes;
}

/**
 * Decodes a segment header. Returns it, or a description of the first check
 * that failed.
 */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | string {
  if (bytes.length < segmentHeaderBytes) return "segment header is truncated";
  const view = new DataView(bytes.buffer, bytes.byteOffset, segmentHeaderBytes);
  const problem = checkHeaderPrologue(bytes, view, prologue);
  if (problem !== undefined) return problem;
  const firstLsn = readU64(view, 16);
  if (firstLsn < 1 || firstLsn > lsnMax) return `segment first lsn ${firstLsn} out of range`;
  const previousBytes = view.getUint32(previousBytesOffset, true);
  if (previousBytes !== 0 && previousBytes < segmentHeaderBytes) {
    return `previous segment length ${previousBytes} is shorter than a header`;
  }
  return { firstLsn, previousBytes };
}

/**
 * The first bytes every header of the segment starting at `firstLsn` holds
 * (magic, version, header size, first LSN): what follows them depends on the
 * previous segment. Recovery compares a torn header with them.
 */
export function segmentHeaderPrefix(firstLsn: number): Uint8Array {
  const prefix = encodeSegmentHeader(firstLsn, 0).subarray(0, previousBytesOffset);
  assert(prefix.length === 24, "the prefix ends where the previous segment's length starts");
  return prefix;
}
