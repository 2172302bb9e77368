/**
 * Faults a power loss injects that know the engine's file formats, so they
 * reach recovery paths the sector-level fates of unsynced writes rarely do:
 *
 * - {@link headerLossFault} (`crashHeaderLost`): the newest committed slot of
 *   `image.tt` is lost, its sector reverted to the slot's previous durable
 *   contents, zeroed or scrambled. It applies only when the other slot is a
 *   valid header that no fault destroyed, so recovery must take that older
 *   slot and replay the WAL above its coverage, which the engine promises to
 *   keep. The destroyed
 *   sector is a destroyed range (`damage.ts`) that keeps the header it held.
 * - {@link staleTailFault} (`crashStaleTail`): bytes an earlier life of the
 *   disk held come back past the tail of the last WAL segment (the end of
 *   its valid records), as a file system exposes stale blocks after a crash:
 *   copies of earlier records with valid checksums but old LSNs, one right at
 *   the tail, and sectors of earlier segment contents. Nothing the engine
 *   needs lies there, so it is no damage: recovery must stop at the tail
 *   (a record with a valid checksum that is not the next LSN is never
 *   replayed) and truncate.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { ByteImage } from "../lib/storage/shared.ts";
import { decodeHeaderSlot, headerSlotBytes, headerSlotOffsets } from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { parseRecord, recordHeaderBytes } from "../lib/wal/record.ts";
import { decodeSegmentHeader, parseSegmentName, segmentHeaderBytes } from "../lib/wal/segment.ts";
import type { DamageMap } from "./damage.ts";
import type { FaultRecord } from "./faults.ts";
import type { Prng } from "./prng.ts";

/** One file as a crash builds it: its bytes, its destroyed ranges, its header blocks' past. */
export interface CrashFile {
  readonly image: ByteImage;
  readonly damage: DamageMap;
  /** The previous durable contents of each whole 4 KiB block of the header region, by offset. */
  readonly blocksBefore: Map<number, Uint8Array>;
}

/** A fault record without its epoch (the disk stamps it). */
export type CrashFaultRecord = Omit<FaultRecord, "epoch">;

/** The most stale pieces one crash brings back past the tail. */
const stalePiecesMax = 3;
/** How far past the tail (rounded up to a sector) stale pieces may start, in sectors. */
const staleSpanSectors = 2;
/** The most records one segment yields as sources (bounds the parse of a large segment). */
const sourceRecordsMax = 4096;

/**
 * Loses the newest committed header slot of `image.tt`, if both slots hold
 * valid headers and the older one is intact; returns the fault record (with the lost header's coverage
 * in `coverageLsn`), or undefined when the fault does not apply.
 */
export function headerLossFault(
  files: ReadonlyMap<string, CrashFile>,
  rng: Prng,
): CrashFaultRecord | undefined {
  const file = files.get(imageFileName);
  if (file === undefined) return undefined;
  const slots = headerSlotOffsets.map((offset) =>
    file.image.slice(offset, offset + headerSlotBytes)
  );
  const [a, b] = slots.map(decodeHeaderSlot);
  if (typeof a === "string" || typeof b === "string") return undefined;
  // The slot open takes: the higher generation, A on a tie (see `currentHeader`).
  const slot = b.generation > a.generation ? 1 : 0;
  const lost = slot === 0 ? a : b;
  const offset = headerSlotOffsets[slot];
  const older = headerSlotOffsets[1 - slot];
  // An older slot a fault already destroyed (a stale header whose log may be
  // gone) is nothing to fall back on: losing the newest too is a double
  // fault no engine survives, and would only end the run.
  if (file.damage.overlaps(older, older + headerSlotBytes)) return undefined;
  const before = file.blocksBefore.get(offset);
  const modes = before !== undefined && !sameBytes(before, slots[slot])
    ? ["reverted", "zeroed", "scrambled"] as const
    : ["zeroed", "scrambled"] as const;
  const mode = rng.pick(modes);
  const replacement = new Uint8Array(headerSlotBytes);
  let how: string = mode;
  if (mode === "reverted") {
    replacement.set(before!);
    const old = decodeHeaderSlot(replacement);
    how = typeof old === "string"
      ? "reverted to an invalid slot"
      : `reverted to generation ${old.generation}`;
  } else if (mode === "scrambled") {
    replacement.set(slots[slot]);
    const at = rng.below(headerSlotBytes - 4); // Any byte the checksum covers.
    replacement[at] ^= 1 + rng.below(255);
    how = `scrambled at byte ${offset + at}`;
  }
  file.damage.add(offset, offset + headerSlotBytes, slots[slot]);
  file.image.write(offset, replacement);
  const left = decodeHeaderSlot(replacement);
  assert(typeof left === "string" || left.generation < lost.generation, "the header is gone");
  return {
    kind: "crashHeaderLost",
    file: imageFileName,
    offset,
    length: headerSlotBytes,
    detail: `slot ${
      slot === 0 ? "A" : "B"
    } (generation ${lost.generation}, coverage ${lost.coverageLsn}) ${how}`,
    coverageLsn: lost.coverageLsn,
  };
}

/** A valid record of a segment: where it lies and its LSN. */
interface SourceRecord {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  readonly lsn: number;
}

/** A segment's valid records from its header on, in the order recovery reads them. */
function validRecords(name: string, bytes: Uint8Array): { records: SourceRecord[]; next: number } {
  const header = decodeSegmentHeader(bytes);
  if (typeof header === "string") return { records: [], next: 0 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: SourceRecord[] = [];
  let offset = segmentHeaderBytes;
  let expected = header.firstLsn;
  while (records.length < sourceRecordsMax) {
    const frame = parseRecord(bytes, view, offset, expected);
    if (typeof frame === "string") break;
    records.push({ file: name, start: offset, end: frame.end, lsn: frame.lsn });
    offset = frame.end;
    expected++;
  }
  return { records, next: expected };
}

/**
 * Brings back stale bytes past the tail of the last WAL segment (when its
 * header is valid); returns the fault record, or undefined when it does not
 * apply. Only bytes whose every whole record has an LSN below the next one
 * are brought back, so nothing the engine could take for a later write.
 */
export function staleTailFault(
  files: ReadonlyMap<string, CrashFile>,
  sectorBytes: number,
  rng: Prng,
): CrashFaultRecord | undefined {
  const names = [...files.keys()].filter((name) => parseSegmentName(name) !== undefined).sort();
  const last = names.at(-1);
  if (last === undefined) return undefined;
  const target = files.get(last)!;
  const bytes = target.image.contents();
  const own = validRecords(last, bytes);
  if (own.next === 0) return undefined; // a torn creation: recovery removes the file
  const tail = own.records.at(-1)?.end ?? segmentHeaderBytes;
  const next = own.next;
  if (recordFrom(bytes, tail, next)) return undefined; // damage past the tail: leave it be
  const sources = names.flatMap((name) =>
    name === last ? own.records : validRecords(name, files.get(name)!.image.contents()).records
  ).filter((record) => record.lsn < next);
  if (sources.length === 0) return undefined;
  let stale: Uint8Array = bytes.slice();
  const aligned = Math.ceil(tail / sectorBytes) * sectorBytes;
  const pieces: string[] = [];
  const count = 1 + rng.below(stalePiecesMax);
  for (let index = 0; index < count; index++) {
    const at = index === 0 && rng.chance(0.5)
      ? tail
      : aligned + rng.below(staleSpanSectors + 1) * sectorBytes;
    const source = rng.chance(0.7) && own.records.length > 0
      ? rng.pick(own.records)
      : rng.pick(sources);
    const image = files.get(source.file)!.image;
    const whole = rng.chance(0.7);
    const copy = whole
      ? image.slice(source.start, source.end)
      : sectorOf(image, source.start, sectorBytes);
    stale = grown(stale, at + copy.length);
    stale.set(copy, at);
    const what = whole ? "record" : "the sector holding record";
    pieces.push(`${what} ${source.lsn} of ${source.file} at byte ${at}`);
  }
  if (recordFrom(stale, tail, next)) return undefined; // never a later write
  target.image.write(tail, stale.subarray(tail));
  assert(target.image.length === stale.length, "the stale bytes end the file");
  return {
    kind: "crashStaleTail",
    file: last,
    offset: tail,
    length: stale.length - tail,
    detail: `stale bytes past the tail (next lsn ${next}): ${pieces.join("; ")}`,
  };
}

/** `bytes`, or a copy grown with zeros to `length` if it is shorter. */
function grown(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length >= length) return bytes;
  const copy = new Uint8Array(length);
  copy.set(bytes);
  return copy;
}

/** The whole sector holding byte `offset` of `image`. */
function sectorOf(image: ByteImage, offset: number, sectorBytes: number): Uint8Array {
  const start = Math.floor(offset / sectorBytes) * sectorBytes;
  const sector = new Uint8Array(sectorBytes);
  sector.set(image.slice(start, start + sectorBytes));
  return sector;
}

/** Whether a valid record with an LSN at or above `minLsn` begins at or after `from`. */
function recordFrom(bytes: Uint8Array, from: number, minLsn: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = from; offset + recordHeaderBytes <= bytes.length; offset++) {
    const frame = parseRecord(bytes, view, offset);
    if (typeof frame !== "string" && frame.lsn >= minLsn) return true;
  }
  return false;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
