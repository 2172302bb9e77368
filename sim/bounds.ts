/**
 * Bounds: the simulator's liveness and space checks. Safety (`model.ts`)
 * says nothing acknowledged is lost; these say the store also lets go of
 * what it no longer needs, so a reclaim that keeps every segment, a replay
 * that reads more than the image lacks, or a compaction that keeps dead
 * records fails a seed too. Each is reported as a violation with its own
 * property name:
 *
 * | property       | when                                        | bound                                                                                                                                 |
 * | -------------- | ------------------------------------------- | ------------------------------------------------------------------------------------------------------------------------------------- |
 * | `bound-wal`    | a checkpoint resolved; a clean close        | WAL segments whose records all lie at or below a header slot's coverage ({@link walBoundRules}) number at most `retainSegments` |
 * | `bound-replay` | every open; an open after a clean close     | records replayed = last LSN − the image's coverage; after a clean close of a store with automatic checkpoints, none                  |
 * | `bound-image`  | a compaction resolved                       | the image file holds its header region, the records its root reaches, its table, and per slab boundary at most one record's tail     |
 *
 * The checks read the simulated disk directly (file names and live bytes),
 * not through the store, and are skipped when a fault was injected while
 * the work they judge ran (a failed removal or a damaged header leaves more
 * behind, rightly).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { chunkBytes } from "../lib/image/allocation.ts";
import {
  currentHeader,
  decodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
} from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { decodeNodeRecord, inlineLeafRef, refLength, refOffset } from "../lib/image/node_record.ts";

/** What the bounds read of the simulated disk (a `SimBlockStorage`). */
export interface DiskView {
  /** The live file names. */
  fileNames(): string[];
  /** What reads of a live file see. */
  readLive(name: string): Uint8Array;
}

/** A WAL segment on disk: its name and the LSN of its first record. */
export interface SegmentFile {
  name: string;
  firstLsn: number;
}

/**
 * Which coverage counts a WAL segment as covered, and how many covered
 * segments may stay, after a checkpoint and after a clean close. A
 * checkpoint follows the reclaim rule (docs/FORMAT.md, checkpoint step 5):
 * segments at or below the _older_ header slot's coverage go, but the
 * newest `retainSegments` of them. A clean close commits the image into
 * both slots first (docs/FORMAT.md, Close), so every segment at or below
 * the _newer_ slot's coverage goes, but `retainSegments` of them.
 */
export const walBoundRules: Record<"checkpoint" | "close", WalBoundRule> = {
  checkpoint: { slot: "older", retained: (retain) => retain },
  close: { slot: "newer", retained: (retain) => retain },
};

/** See {@link walBoundRules}. */
export interface WalBoundRule {
  /** The coverage a segment must lie under: the lower of the two valid slots', or the higher. */
  slot: "older" | "newer";
  /** How many covered segments may stay, given the store's `retainSegments`. */
  retained: (retain: number) => number;
}

const segmentNamePattern = /^wal-(\d{20})\.wal$/;

/** The WAL segments among `names`, oldest first. */
export function walSegments(names: readonly string[]): SegmentFile[] {
  const segments: SegmentFile[] = [];
  for (const name of names) {
    const match = segmentNamePattern.exec(name);
    if (match !== null) segments.push({ name, firstLsn: Number(match[1]) });
  }
  return segments.sort((a, b) => a.firstLsn - b.firstLsn);
}

/**
 * The segments whose records all lie at or below `coverage`: each one but
 * the last (which appends go to) whose successor starts at or below
 * `coverage + 1`, counted from the oldest while that holds.
 */
export function coveredSegments(segments: readonly SegmentFile[], coverage: number): SegmentFile[] {
  let covered = 0;
  while (covered + 1 < segments.length && segments[covered + 1].firstLsn - 1 <= coverage) covered++;
  return segments.slice(0, covered);
}

/** The coverages of the image's valid header slots (none for a missing or fresh image). */
export function slotCoverages(disk: DiskView): number[] {
  if (!disk.fileNames().includes(imageFileName)) return [];
  const bytes = disk.readLive(imageFileName);
  const coverages: number[] = [];
  for (const offset of [0, headerSlotBytes]) {
    const slot = decodeHeaderSlot(bytes.subarray(offset, offset + headerSlotBytes));
    if (typeof slot === "object") coverages.push(slot.coverageLsn);
  }
  return coverages;
}

/**
 * What breaks the WAL bound on `disk` now, or undefined if nothing does.
 * `namesBefore`: the durable file names when the checkpoint judged here
 * began. A reclaim never removes the segment appends go to; if the next
 * segment was created meanwhile (writers go on during a checkpoint), or its
 * creation was under way, so that its directory entry was not yet durable
 * (the log counts a segment once its creation is), that one may now count
 * as covered too, once.
 */
export function walBoundProblem(
  disk: DiskView,
  retain: number,
  rule: WalBoundRule,
  namesBefore?: readonly string[],
): string | undefined {
  const coverages = slotCoverages(disk);
  if (coverages.length === 0) return undefined;
  const coverage = rule.slot === "older" ? Math.min(...coverages) : Math.max(...coverages);
  const segments = walSegments(disk.fileNames());
  const covered = coveredSegments(segments, coverage);
  const successor = segments[covered.length];
  const sealedMeanwhile = namesBefore !== undefined && covered.length > 0 &&
    successor !== undefined && !namesBefore.includes(successor.name);
  const allowed = rule.retained(retain) + (sealedMeanwhile ? 1 : 0);
  assert(allowed >= 0, "a count of segments");
  if (covered.length <= allowed) return undefined;
  return `${covered.length} WAL segments hold only records at or below lsn ${coverage} (the ` +
    `${rule.slot} header slot's coverage; slots: ${coverages.join(", ")}), at most ${allowed} ` +
    `may stay (retainSegments ${retain}): ${covered.map((segment) => segment.name).join(", ")}`;
}

/** What an open reported about its recovery (`stats().recovery`) and its last LSN. */
export interface OpenReport {
  coverageLsn: number;
  replayedRecords: number;
  lastLsn: number;
}

/**
 * What breaks the replay bound, or undefined: an open replays exactly the
 * records above the image's coverage; after `cleanClose` (a clean close of
 * a store with automatic checkpoints and no fault in its life), none.
 */
export function replayBoundProblem(open: OpenReport, cleanClose: boolean): string | undefined {
  const above = Math.max(0, open.lastLsn - open.coverageLsn);
  if (open.replayedRecords !== above) {
    return `open replayed ${open.replayedRecords} records, but ${above} lie above the image's ` +
      `coverage ${open.coverageLsn} (last lsn ${open.lastLsn})`;
  }
  if (cleanClose && above > 0) {
    return `open replayed ${above} records after a clean close with automatic checkpoints ` +
      `(coverage ${open.coverageLsn}, last lsn ${open.lastLsn}): close must checkpoint what the ` +
      `image lacks`;
  }
  return undefined;
}

/** Records one image walk reads at most (far above any simulated image). */
const imageRecordsMax = 1 << 22;

/**
 * What breaks the image bound after a compaction, or undefined. A
 * compaction writes every record its root reaches, once, into a fresh file
 * after the header region, then the table; a record never crosses a slab,
 * so each slab boundary may leave at most one record's length unused. The
 * file may hold nothing more, but the bytes its header counts dead: a
 * streaming compaction's copies of subtrees a reader loaded while they ran
 * (the walk rewrote those from memory; see `lib/engine/_stream_copy.ts`).
 */
export function imageBoundProblem(disk: DiskView): string | undefined {
  const bytes = disk.readLive(imageFileName);
  let header;
  try {
    header = currentHeader(
      imageFileName,
      bytes.subarray(0, headerSlotBytes),
      bytes.subarray(headerSlotBytes, headerRegionBytes),
    ).header;
  } catch (error) {
    return `the compacted image's headers do not decode: ${String(error)}`;
  }
  if (header === undefined) return "the compacted image has no header";
  const walked = walkImage(bytes, header.rootAddress);
  if (typeof walked === "string") return `the compacted image does not walk: ${walked}`;
  const slabs = header.pageCount;
  // The file's own geometry: small-slab images chain many small chunks.
  const perChunk = header.chunkEntriesMax;
  const tableEntries = slabs + Math.ceil(slabs / perChunk) + 2;
  const tableBytes = Math.ceil(tableEntries / perChunk) *
    chunkBytes(Math.min(perChunk, tableEntries));
  const bound = headerRegionBytes + walked.bytes + tableBytes + header.deadBytes +
    Math.max(0, slabs - 1) * walked.recordBytesMax;
  if (bytes.length <= bound) return undefined;
  return `after a compaction the image is ${bytes.length} bytes, past ${bound}: ` +
    `${walked.records} records of ${walked.bytes} bytes reached from the root, ${slabs} slabs of ` +
    `${header.slabBytes}, a table of at most ${tableBytes}, ${header.deadBytes} dead`;
}

/** Sums the records reachable from `root` in the image's bytes (each counted once). */
function walkImage(
  bytes: Uint8Array,
  root: number,
): { records: number; bytes: number; recordBytesMax: number } | string {
  const seen = new Set<number>();
  const stack = root === 0 ? [] : [root];
  let total = 0;
  let recordBytesMax = 0;
  while (stack.length > 0) {
    if (seen.size >= imageRecordsMax) return `more than ${imageRecordsMax} records`;
    const ref = stack.pop()!;
    if (seen.has(ref)) return `record ${ref} is reached twice`;
    seen.add(ref);
    const offset = refOffset(ref);
    const length = refLength(ref);
    if (offset + length > bytes.length) return `record at ${offset} runs past the file's end`;
    const node = decodeNodeRecord(bytes.subarray(offset, offset + length));
    if (typeof node === "string") return `record at ${offset}: ${node}`;
    total += length;
    recordBytesMax = Math.max(recordBytesMax, length);
    for (const child of node.childAddresses) if (child !== inlineLeafRef) stack.push(child);
  }
  return { records: seen.size, bytes: total, recordBytesMax };
}
