/**
 * Reading the WAL back at open: the longest valid prefix of records, with a
 * torn tail told apart from corruption.
 *
 * A group-commit write is the only write in flight, and the next one starts
 * only after its fsync, so everything before the last write is durable. The
 * first record of each write carries the group-start flag. A bad record is
 * therefore a torn tail only if no valid group-start record follows it; if one
 * does, the bad record was durable and its damage is reported (D6, D9 of
 * docs/DURABILITY.md).
 *
 * A last segment whose header fails its checks is removed only when its
 * first sector is what a torn creation leaves (a prefix of its header, then
 * zeros): its first write never became durable, so nothing in it was
 * acknowledged. A header that was written but fails its checks is damage:
 * corruption if the file holds records of the log, else bytes nobody can
 * explain, which open moves aside (see `../storage/quarantine.ts`).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { readU64 } from "../_binary.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import { walRecordBytesMax } from "../limits.ts";
import type { BlockStorage } from "../storage/block_storage.ts";
import { FailedReads } from "./_failed_reads.ts";
import {
  groupStartFlag,
  parseRecord,
  type RecordFrame,
  recordHeaderBytes,
  type RecordProblem,
} from "./record.ts";
import {
  decodeSegmentHeader,
  parseSegmentName,
  segmentCountMax,
  segmentFileBytesMax,
  type SegmentHeader,
  segmentHeaderBytes,
  segmentHeaderPrefix,
} from "./segment.ts";

/**
 * The most reads of one segment while recovering it, and of one segment
 * header: a failed check is confirmed by re-reads (see `_failed_reads.ts`),
 * and a disk whose reads never agree fails the open with `StorageIoError`.
 */
export const segmentReadsMax = 64;

/**
 * The smallest sector a torn write keeps or loses whole (disks tear at 512
 * bytes or 4 KiB): a torn creation of a segment leaves its header's sector
 * whole, or zeros, or (a write cut short) a prefix of it followed by zeros.
 */
export const tornSectorBytes = 512;

/** A segment that survived recovery. */
export interface SegmentInfo {
  /** File name. */
  name: string;
  /** LSN of its first record (from its name and header). */
  firstLsn: number;
  /** Bytes of valid data: header plus whole records. */
  validBytes: number;
  /** The LSN after its last valid record: where the next segment must start. */
  nextLsn: number;
}

/** What {@link readWal} found. */
export interface WalScan {
  /** Segments in LSN order; the last one is where appends continue. */
  segments: SegmentInfo[];
  /** Segments before those, wholly covered by the image: not read (names and first LSNs). */
  covered: { name: string; firstLsn: number }[];
  /** LSN of the last valid record, or `afterLsn` if there is none above it. */
  lastLsn: number;
  /** Records handed to `onRecord` (those above `afterLsn`). */
  replayed: number;
  /** Bytes of torn tail found past the last valid record of the last segment. */
  tornBytes: number;
  /** A last segment with no valid header, which open sets aside before appending. */
  setAside?: SegmentSetAside;
}

/** A last segment without a valid header: removed, or moved aside, before anything is appended. */
export interface SegmentSetAside {
  /** The segment's file name. */
  name: string;
  /** Its size in bytes. */
  bytes: number;
  /**
   * True: its header was written yet fails its checks and it holds no record
   * of the log, so nothing proves it held nothing acknowledged: it is moved
   * aside. False: a torn creation, which holds nothing acknowledged: removed.
   */
  quarantine: boolean;
  /** Why, in words. */
  reason: string;
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
  const all = (await storage.list())
    .filter((name) => parseSegmentName(name) !== undefined)
    .sort();
  if (all.length > segmentCountMax) {
    throw new CorruptionError(
      all[0],
      0,
      `${all.length} WAL segments exceed the limit of ${segmentCountMax}`,
    );
  }
  // Segments before the last one starting at or below afterLsn + 1 hold
  // only records the image covers. They are not read: a checkpoint removes
  // them, and a crash may undo any of those removals (until the directory
  // fsync), leaving gaps among them that are no damage.
  let start = 0;
  while (start + 1 < all.length && parseSegmentName(all[start + 1])! <= afterLsn + 1) start++;
  const names = all.slice(start);
  const scan: WalScan = {
    segments: [],
    covered: all.slice(0, start).map((name) => ({ name, firstLsn: parseSegmentName(name)! })),
    lastLsn: afterLsn,
    replayed: 0,
    tornBytes: 0,
  };
  for (let index = 0; index < names.length; index++) {
    const next = index + 1 < names.length ? await readHeader(storage, names[index + 1]) : undefined;
    // A last segment with a bad header may be a torn creation (or bytes to
    // move aside): the segment before it is then where appends continue.
    const nextTorn = typeof next === "string" && index + 1 === names.length - 1;
    if (typeof next === "string" && !nextTorn) {
      // A damaged header with segments after it: durable before they were
      // made, so damage. It is the damage to report: this segment's end is
      // what it recorded, and bytes past the records here (zero padding, a
      // torn tail whose truncation never became durable) are no damage.
      throw new CorruptionError(names[index + 1], 0, next);
    }
    const isLast = index === names.length - 1 || nextTorn;
    const sealedAt = typeof next === "object" && next.previousBytes > 0
      ? next.previousBytes
      : undefined;
    const info = await scanSegment(
      storage,
      names[index],
      { isLast, lastFile: index === names.length - 1, sealedAt },
      afterLsn,
      onRecord,
      scan,
    );
    if ("reason" in info) {
      scan.setAside = info;
      break;
    }
    scan.segments.push(info);
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
 * Validates a segment header. Returns its first LSN, or for the last segment
 * (which comes with the `evidence` its reads gathered) with a bad header
 * what open must do with it.
 *
 * @throws {CorruptionError} if the header is damaged and the segment holds
 * records that may have been acknowledged, or its LSN does not fit the log.
 */
function checkHeader(
  name: string,
  bytes: Uint8Array,
  expectedLsn: number | undefined,
  afterLsn: number,
  evidence: BadHeaderEvidence | undefined,
): number | SegmentSetAside {
  const decoded = decodeSegmentHeader(bytes);
  if (typeof decoded === "string") {
    if (evidence !== undefined) return badLastHeader(evidence, bytes.length, decoded);
    throw new CorruptionError(name, 0, decoded);
  }
  const lsn = decoded.firstLsn;
  if (lsn !== parseSegmentName(name)) {
    throw new CorruptionError(name, 16, `header first lsn ${lsn} does not match the file name`);
  }
  if (expectedLsn === undefined && lsn > afterLsn + 1) {
    throw new CorruptionError(
      name,
      16,
      `records ${afterLsn + 1}..${lsn - 1} are missing from the log`,
    );
  }
  if (expectedLsn !== undefined && lsn !== expectedLsn) {
    throw new CorruptionError(
      name,
      16,
      `segment starts at lsn ${lsn} but lsn ${expectedLsn} comes next`,
    );
  }
  return lsn;
}

/**
 * The header of a segment, read again on failure so a transient read fault
 * is not taken for damage or a torn creation; a description if it stays
 * invalid (confirmed, see `_failed_reads.ts`).
 *
 * @throws {StorageIoError} if its reads never agree.
 */
async function readHeader(storage: BlockStorage, name: string): Promise<SegmentHeader | string> {
  const failed = new FailedReads();
  for (let reads = 1; reads <= segmentReadsMax; reads++) {
    const file = await storage.open(name);
    let bytes: Uint8Array;
    try {
      bytes = await file.read(0, segmentHeaderBytes);
    } finally {
      await file.close();
    }
    const decoded = decodeSegmentHeader(bytes);
    if (typeof decoded !== "string") return decoded;
    failed.add(bytes);
    if (failed.confirmed) return decoded;
  }
  throw unstableReads(name, 0);
}

/** The error of a check whose failing reads never returned the same bytes twice. */
function unstableReads(name: string, offset: number): StorageIoError {
  return new StorageIoError(
    `Cannot open the log: "${name}" returned different bytes at byte ${offset} on each of ` +
      `${segmentReadsMax} reads, each failing its checks; the disk or its connection is failing: ` +
      `check it, then retry the open`,
  );
}

/**
 * A segment's bytes up to where the next segment's header says it was sealed
 * (bytes past it are a torn tail whose truncation never became durable).
 */
function sealed(name: string, bytes: Uint8Array, sealedAt: number | undefined): Uint8Array {
  if (sealedAt === undefined) return bytes;
  if (bytes.length < sealedAt) {
    throw new CorruptionError(
      name,
      bytes.length,
      `segment ends before byte ${sealedAt}, where the next segment says it was sealed`,
    );
  }
  return bytes.subarray(0, sealedAt);
}

/**
 * Reads and replays one segment. A check that fails is confirmed by reading
 * the file again until two failing reads agree (see `_failed_reads.ts`), so
 * a transient read fault (a flipped bit, a bad transfer) neither truncates
 * durable records nor reports false corruption. Returns what to do with a
 * last segment whose header is bad.
 *
 * @throws {StorageIoError} if the reads of a failing check never agree.
 */
async function scanSegment(
  storage: BlockStorage,
  name: string,
  place: SegmentPlace,
  afterLsn: number,
  onRecord: RecordHandler,
  scan: WalScan,
): Promise<SegmentInfo | SegmentSetAside> {
  // Not scan.lastLsn + 1: segments a checkpoint covers wholly may be kept,
  // so the last LSN seen so far can be below the coverage.
  const expected = scan.segments.at(-1)?.nextLsn;
  const { sealedAt } = place;
  let reads = 1;
  let bytes = sealed(name, await readWhole(storage, name), sealedAt);
  /** Reads the segment again for a check failing at `offset`, within {@link segmentReadsMax}. */
  const reread = async (offset: number) => {
    if (reads >= segmentReadsMax) throw unstableReads(name, offset);
    reads++;
    return sealed(name, await readWhole(storage, name), sealedAt);
  };
  // Only the last file can be a torn creation: a segment is created once
  // the one before it was durable, its header included.
  const evidence = place.lastFile ? noEvidence(name) : undefined;
  const headerReads = new FailedReads();
  while (typeof decodeSegmentHeader(bytes) === "string") {
    if (evidence !== undefined) gatherEvidence(evidence, bytes);
    headerReads.add(bytes.subarray(0, segmentHeaderBytes));
    if (headerReads.confirmed) break;
    bytes = await reread(0);
  }
  const firstLsn = checkHeader(name, bytes, expected, afterLsn, evidence);
  if (typeof firstLsn === "object") return firstLsn;
  let cursor: RecordCursor = { offset: segmentHeaderBytes, expected: firstLsn, problem: undefined };
  let failed = new FailedReads();
  let problemAt = -1;
  while (reads <= segmentReadsMax) { // reread() throws rather than pass the bound
    cursor = replayRecords(bytes, cursor, afterLsn, onRecord, scan, name);
    if (cursor.problem === undefined) break;
    // Each new problem offset gets its own re-reads (transient faults can
    // strike several reads in a row at different places), compared from
    // that offset on: the bytes a check there looks at, and all after them.
    if (cursor.offset > problemAt) [problemAt, failed] = [cursor.offset, new FailedReads()];
    failed.add(bytes.subarray(cursor.offset));
    if (failed.confirmed) break;
    bytes = await reread(cursor.offset);
    if (bytes.length < cursor.offset) {
      throw new StorageIoError(
        `Cannot open the log: "${name}" shrank while it was read; retry the open`,
      );
    }
  }
  if (cursor.problem !== undefined) classifyProblem(name, bytes, cursor, place, scan);
  assert(
    cursor.offset <= bytes.length || cursor.problem !== undefined,
    "valid records end inside the segment",
  );
  return { name, firstLsn, validBytes: cursor.offset, nextLsn: cursor.expected };
}

/** Where a segment stands in the log. */
interface SegmentPlace {
  /** Appends continue in it: the last file, or the one before a last file whose header is bad. */
  isLast: boolean;
  /** It is the last file. */
  lastFile: boolean;
  /** The length the next segment's header records for it, if any. */
  sealedAt: number | undefined;
}

/** Where replay stands in a segment: the next offset and LSN, and the check that failed there. */
interface RecordCursor {
  offset: number;
  expected: number;
  problem: RecordProblem | undefined;
}

/** Replays valid records from the cursor on; stops at the end or at the first invalid record. */
function replayRecords(
  bytes: Uint8Array,
  from: RecordCursor,
  afterLsn: number,
  onRecord: RecordHandler,
  scan: WalScan,
  name: string,
): RecordCursor {
  const bytesView = view(bytes);
  let { offset, expected } = from;
  while (offset < bytes.length) {
    const frame = parseRecord(bytes, bytesView, offset, expected);
    if (typeof frame === "string") return { offset, expected, problem: frame };
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
  assert(offset === bytes.length, "records end at the end of the segment");
  return { offset, expected, problem: undefined };
}

/**
 * An invalid record its re-reads confirmed: corruption, the torn tail
 * (recorded in `scan`), or the zero padding of a sealed segment whose sealed
 * length is unknown.
 */
function classifyProblem(
  name: string,
  bytes: Uint8Array,
  cursor: RecordCursor,
  place: SegmentPlace,
  scan: WalScan,
): void {
  const { offset, expected, problem } = cursor;
  const { isLast, sealedAt } = place;
  // A sealed segment normally ends where the next header says. When that
  // header is damaged (its own CorruptionError follows, at that segment),
  // the segment ends where zeros run to its end: its preallocation padding.
  // Records lost there would leave a gap the next segment's first LSN shows.
  if (!isLast && sealedAt === undefined && zerosFrom(bytes, offset)) return;
  if (!isLast) {
    throw new CorruptionError(
      name,
      offset,
      `record ${expected} is invalid (${problem}) in a sealed segment`,
    );
  }
  if (laterGroupStarts(bytes, view(bytes), offset + 1, expected)) {
    throw new CorruptionError(
      name,
      offset,
      `record ${expected} is invalid (${problem}) but later writes follow it`,
    );
  }
  scan.tornBytes = Math.max(0, bytes.length - offset);
}

/** True if every byte of `bytes` from `from` on is zero. */
function zerosFrom(bytes: Uint8Array, from: number): boolean {
  assert(from >= 0 && from <= bytes.length, "the offset lies inside the segment");
  for (let index = from; index < bytes.length; index++) if (bytes[index] !== 0) return false;
  return true;
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
    if (
      length < recordHeaderBytes || length > walRecordBytesMax || length > bytes.length - offset
    ) {
      continue;
    }
    const lsn = readU64(view, offset + 8);
    if (lsn < minLsn) continue;
    const frame = parseRecord(bytes, view, offset);
    if (typeof frame !== "string" && frame.groupStart) return true;
  }
  return false;
}

/**
 * What the reads of a last segment whose header fails its checks showed.
 * Any one read counts: a bit flipped in transfer can hide a torn creation or
 * a record, never fake one (records carry checksums; a flip does not make a
 * written sector look like a prefix of the header and zeros).
 */
interface BadHeaderEvidence {
  name: string;
  /** Some read's first sector is what a torn creation leaves. */
  torn: boolean;
  /** Some read holds a group-start record after the first write's: that write was fsynced. */
  laterWrite: boolean;
  /** A valid record of the segment's LSN range some read holds. */
  record: { lsn: number; offset: number } | undefined;
}

function noEvidence(name: string): BadHeaderEvidence {
  return { name, torn: false, laterWrite: false, record: undefined };
}

/** Adds what one read of the segment shows to `evidence`. */
function gatherEvidence(evidence: BadHeaderEvidence, bytes: Uint8Array): void {
  const firstLsn = parseSegmentName(evidence.name);
  assert(firstLsn !== undefined, "only segment files are read");
  const bytesView = view(bytes);
  evidence.torn ||= tornCreation(bytes, firstLsn);
  evidence.laterWrite ||= laterGroupStarts(
    bytes,
    bytesView,
    segmentHeaderBytes + 1,
    firstLsn + 1,
  );
  evidence.record ??= recordOfRange(bytes, bytesView, firstLsn);
}

/**
 * What open does with the last segment when its header fails its checks
 * (`problem`) on every read:
 * - a later group-start record proves the segment's first write was
 *   fsynced before it: the header is damage (`CorruptionError`, offset 0);
 * - a torn creation (see {@link tornCreation}) never had a write
 *   acknowledged: it is removed;
 * - otherwise the header was written and damaged since. If the file holds
 *   a record of its LSN range, writes in it may have been acknowledged, and
 *   opening without them would lose them: `CorruptionError`. If it holds
 *   none, nothing in it can be read back, and it is moved aside.
 */
function badLastHeader(
  evidence: BadHeaderEvidence,
  bytes: number,
  problem: string,
): SegmentSetAside {
  const { name, record } = evidence;
  if (evidence.laterWrite) {
    throw new CorruptionError(name, 0, `${problem}, but later writes follow it`);
  }
  if (evidence.torn) {
    const reason = bytes === 0
      ? "empty: its creation never reached the disk"
      : "its creation was torn: its header never reached the disk whole, so none of its " +
        "writes was acknowledged";
    return { name, bytes, quarantine: false, reason };
  }
  if (record !== undefined) {
    throw new CorruptionError(
      name,
      0,
      `${problem}, but the segment holds record ${record.lsn} at byte ${record.offset}: ` +
        `writes in it may have been acknowledged`,
    );
  }
  const reason = `its header was written but fails its checks (${problem}), ` +
    `and none of its ${bytes} bytes is a record of the log`;
  return { name, bytes, quarantine: true, reason };
}

/**
 * Whether a segment's first sector is what a torn creation leaves: a prefix
 * (perhaps empty) of the header its first write began with, then zeros to
 * the end of the sector (or of the file). Sectors are kept or lost whole, and
 * a write cut short keeps a prefix, so a header that is whole but invalid, or
 * holds a wrong byte before its zeros, was written and then damaged. Only the
 * fields a header of this file must hold (magic, version, size, first LSN)
 * are compared; the previous segment's length and the checksum may be any.
 */
export function tornCreation(bytes: Uint8Array, firstLsn: number): boolean {
  const known = segmentHeaderPrefix(firstLsn);
  const sectorEnd = Math.min(bytes.length, tornSectorBytes);
  let matching = 0;
  while (matching < Math.min(known.length, sectorEnd) && bytes[matching] === known[matching]) {
    matching++;
  }
  let zerosFrom = sectorEnd;
  while (zerosFrom > 0 && bytes[zerosFrom - 1] === 0) zerosFrom--;
  assert(matching <= known.length && zerosFrom <= sectorEnd, "the scans stay in the sector");
  return zerosFrom <= matching || (matching === known.length && zerosFrom < segmentHeaderBytes);
}

/**
 * The first valid record anywhere in `bytes` whose LSN could belong to a
 * segment starting at `firstLsn` (at or above it, and below it plus the
 * records the file could hold), or undefined.
 */
function recordOfRange(
  bytes: Uint8Array,
  bytesView: DataView,
  firstLsn: number,
): { lsn: number; offset: number } | undefined {
  const lsnEnd = firstLsn + Math.ceil(bytes.length / recordHeaderBytes);
  for (let offset = 0; offset + recordHeaderBytes <= bytes.length; offset++) {
    const length = bytesView.getUint32(offset, true);
    if (length < recordHeaderBytes || length > bytes.length - offset) continue;
    const lsn = readU64(bytesView, offset + 8);
    if (lsn < firstLsn || lsn >= lsnEnd) continue;
    const frame = parseRecord(bytes, bytesView, offset);
    if (typeof frame !== "string") return { lsn: frame.lsn, offset };
  }
  return undefined;
}
