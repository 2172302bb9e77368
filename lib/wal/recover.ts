/**
 * Reading the WAL back at open: the longest valid prefix of records, with a
 * torn tail told apart from corruption.
 *
 * A group-commit write is the only write in flight, and the next one starts
 * only after its fsync, so everything before the last write is durable. The
 * first record of each write carries the group-start flag. A bad record is
 * therefore a torn tail only if no valid group-start record follows it; if one
 * does, the bad record was durable and its damage is reported (D6, D9).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError } from "../errors.ts";
import type { BlockStorage } from "../storage/block_storage.ts";
import {
  groupStartFlag,
  parseRecord,
  recordBytesMax,
  type RecordFrame,
  recordHeaderBytes,
} from "./record.ts";
import {
  decodeSegmentHeader,
  parseSegmentName,
  segmentCountMax,
  segmentFileBytesMax,
  segmentHeaderBytes,
} from "./segment.ts";

/** A segment that survived recovery. */
export interface SegmentInfo {
  /** File name. */
  name: string;
  /** LSN of its first record (from its name and header). */
  firstLsn: number;
  /** Bytes of valid data: header plus whole records. */
  validBytes: number;
}

/** What {@link readWal} found. */
export interface WalScan {
  /** Segments in LSN order; the last one is where appends continue. */
  segments: SegmentInfo[];
  /** LSN of the last valid record, or `afterLsn` if there is none above it. */
  lastLsn: number;
  /** Records handed to `onRecord` (those above `afterLsn`). */
  replayed: number;
  /** Bytes of torn tail found past the last valid record of the last segment. */
  tornBytes: number;
  /** A last segment whose creation was torn (no valid header): to be removed. */
  tornSegment?: string;
}

/** Receives each valid record above `afterLsn`; returns an error description for a bad payload. */
export type RecordHandler = (
  bytes: Uint8Array,
  view: DataView,
  frame: RecordFrame,
) => string | undefined;

/**
 * Reads every segment in `storage`, hands the records above `afterLsn` to
 * `onRecord` in LSN order and reports where the valid log ends. Changes
 * nothing on disk: the caller truncates the torn tail before appending.
 *
 * @throws {CorruptionError} on damage inside the durable part of the log.
 */
export async function readWal(
  storage: BlockStorage,
  afterLsn: number,
  onRecord: RecordHandler,
): Promise<WalScan> {
  const names = (await storage.list())
    .filter((name) => parseSegmentName(name) !== undefined)
    .sort();
  if (names.length > segmentCountMax) {
    throw new CorruptionError(
      names[0],
      0,
      `${names.length} WAL segments exceed the limit of ${segmentCountMax}`,
    );
  }
  const scan: WalScan = { segments: [], lastLsn: afterLsn, replayed: 0, tornBytes: 0 };
  for (let index = 0; index < names.length; index++) {
    const isLast = index === names.length - 1;
    const bytes = await readWhole(storage, names[index]);
    const expected = scan.segments.length === 0 ? undefined : scan.lastLsn + 1;
    const firstLsn = checkHeader(names[index], bytes, expected, afterLsn, isLast);
    if (firstLsn === undefined) {
      scan.tornSegment = names[index];
      break;
    }
    const validBytes = readRecords(names[index], bytes, firstLsn, isLast, afterLsn, onRecord, scan);
    scan.segments.push({ name: names[index], firstLsn, validBytes });
  }
  assert(scan.lastLsn >= afterLsn, "recovery never moves below the coverage");
  return scan;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function readWhole(storage: BlockStorage, name: string): Promise<Uint8Array> {
  const file = await storage.open(name);
  try {
    const size = await file.size();
    if (size > segmentFileBytesMax) {
      throw new CorruptionError(
        name,
        0,
        `segment is ${size} bytes, more than the ${segmentFileBytesMax} this version ever writes`,
      );
    }
    const bytes = await file.read(0, size);
    assert(bytes.length === size, "a whole segment is read");
    return bytes;
  } finally {
    await file.close();
  }
}

/**
 * Validates a segment header. Returns its first LSN, or undefined for a torn
 * creation: the last segment, with a bad header and no write after its first.
 */
function checkHeader(
  name: string,
  bytes: Uint8Array,
  expectedLsn: number | undefined,
  afterLsn: number,
  isLast: boolean,
): number | undefined {
  const decoded = decodeSegmentHeader(bytes);
  if (typeof decoded === "string") {
    if (
      isLast &&
      !laterGroupStarts(
        bytes,
        view(bytes),
        segmentHeaderBytes + 1,
        (parseSegmentName(name) ?? 0) + 1,
      )
    ) {
      // The segment's first write (header and first group, one write) never
      // became durable whole, and no later write followed it: nothing in it
      // was acknowledged.
      return undefined;
    }
    throw new CorruptionError(name, 0, decoded);
  }
  if (decoded !== parseSegmentName(name)) {
    throw new CorruptionError(name, 16, `header first lsn ${decoded} does not match the file name`);
  }
  if (expectedLsn === undefined && decoded > afterLsn + 1) {
    throw new CorruptionError(
      name,
      16,
      `records ${afterLsn + 1}..${decoded - 1} are missing from the log`,
    );
  }
  if (expectedLsn !== undefined && decoded !== expectedLsn) {
    throw new CorruptionError(
      name,
      16,
      `segment starts at lsn ${decoded} but lsn ${expectedLsn} comes next`,
    );
  }
  return decoded;
}

/** Walks the records of one segment; returns the offset where its valid records end. */
function readRecords(
  name: string,
  bytes: Uint8Array,
  firstLsn: number,
  isLast: boolean,
  afterLsn: number,
  onRecord: RecordHandler,
  scan: WalScan,
): number {
  const bytesView = view(bytes);
  let offset = segmentHeaderBytes;
  let expected = firstLsn;
  while (offset < bytes.length) {
    const frame = parseRecord(bytes, bytesView, offset, expected);
    if (typeof frame === "string") {
      if (!isLast) {
        throw new CorruptionError(
          name,
          offset,
          `record ${expected} is invalid (${frame}) in a sealed segment`,
        );
      }
      if (laterGroupStarts(bytes, bytesView, offset + 1, expected)) {
        throw new CorruptionError(
          name,
          offset,
          `record ${expected} is invalid (${frame}) but later writes follow it`,
        );
      }
      scan.tornBytes = bytes.length - offset;
      break;
    }
    if (frame.lsn > afterLsn) {
      const problem = onRecord(bytes, bytesView, frame);
      if (problem !== undefined) {
        throw new CorruptionError(name, offset, `record ${frame.lsn}: ${problem}`);
      }
      scan.replayed++;
    }
    scan.lastLsn = Math.max(scan.lastLsn, frame.lsn);
    expected++;
    offset = frame.end;
  }
  assert(offset <= bytes.length, "valid records end inside the segment");
  return offset;
}

/**
 * True if a valid group-start record with an LSN at or above `minLsn` begins
 * anywhere at or after `from`: proof that the write holding the bad record was
 * fsynced before a later write, so its damage is not a torn tail.
 */
function laterGroupStarts(
  bytes: Uint8Array,
  view: DataView,
  from: number,
  minLsn: number,
): boolean {
  const last = bytes.length - recordHeaderBytes;
  for (let offset = from; offset <= last; offset++) {
    if ((bytes[offset + 16] & groupStartFlag) === 0) continue;
    const length = view.getUint32(offset, true);
    if (length < recordHeaderBytes || length > recordBytesMax || length > bytes.length - offset) {
      continue;
    }
    const lsn = view.getUint32(offset + 8, true) +
      view.getUint32(offset + 12, true) * 0x1_0000_0000;
    if (lsn < minLsn) continue;
    const frame = parseRecord(bytes, view, offset);
    if (typeof frame !== "string" && frame.groupStart) return true;
  }
  return false;
}
