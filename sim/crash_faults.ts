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
 * - {@link headerWriteLostFault} (`crashHeaderWriteLost`): a header write of
 *   `image.tt` made since the machine last lost power proves gone astray:
 *   the disk acknowledged it and its fsync succeeded, but it never reached
 *   its sector (a lost write) or reached the other slot's (a misdirected
 *   write). Either leaves, beside the current header, a valid header older
 *   than the previous commit's, whose records the engine no longer keeps: it
 *   must not trust that slot (see `untrustedOther` in `lib/image/_open.ts`).
 *   Only a write of this life may be lost so: a write an open read back
 *   after a power loss came from the media.
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
import { chunkBytes, decodeChunk } from "../lib/image/allocation.ts";
import {
  currentHeader,
  decodeHeaderSlot,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { parseRecord, recordHeaderBytes } from "../lib/wal/record.ts";
import { decodeSegmentHeader, parseSegmentName, segmentHeaderBytes } from "../lib/wal/segment.ts";
import type { DamageMap } from "./damage.ts";
import type { FaultRecord } from "./faults.ts";
import { collectRecords, collectTable } from "./image_guard.ts";
import type { Prng } from "./prng.ts";

/** One file as a crash builds it: its bytes, its destroyed ranges, its header blocks' past. */
export interface CrashFile {
  readonly image: ByteImage;
  readonly damage: DamageMap;
  /** The previous durable contents of each whole 4 KiB block of the header region, by offset. */
  readonly blocksBefore: Map<number, Uint8Array>;
  /**
   * The header blocks (by offset) whose last whole write was made since the
   * machine last lost power: no read has yet come from the media for them.
   */
  readonly blocksWritten: Set<number>;
}

/** A fault record without its epoch (the disk stamps it). */
export type CrashFaultRecord = Omit<FaultRecord, "epoch">;

/** The most stale pieces one crash brings back past the tail. */
const stalePiecesMax = 3;
/** How far past the tail (rounded up to a sector) stale pieces may start, in sectors. */
const staleSpanSectors = 2;
/** The most records one segment yields as sources (bounds the parse of a large segment). */
const sourceRecordsMax = 4096;
/** Table chunks {@link exposesRecords} reads at most (a bound on a damaged chain). */
const tableChunksMax = 1 << 16;

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

/** One way a header write of this life may have gone astray, and the slots it leaves. */
interface AstrayWrite {
  /** The header slots' bytes after the crash, by slot. */
  readonly after: readonly Uint8Array[];
  /** The header open will take, and the stale one beside it. */
  readonly current: ImageHeader;
  readonly stale: ImageHeader;
  readonly detail: string;
}

/**
 * Loses a header write of `image.tt` made since the machine last lost power:
 * the older slot's last write, or the newest slot's, which landed on the
 * older slot instead (see {@link astrayWrites}). It applies only if both
 * slots hold valid headers no fault destroyed and the header it leaves
 * beside the current one names records where the current header's table
 * lets the next commit write (see {@link exposesRecords}): elsewhere the
 * fault would change nothing the engine reads. Returns the fault record, or
 * undefined when the fault does not apply.
 */
export function headerWriteLostFault(
  files: ReadonlyMap<string, CrashFile>,
  rng: Prng,
): CrashFaultRecord | undefined {
  const file = files.get(imageFileName);
  if (file === undefined) return undefined;
  if (headerSlotOffsets.some((at) => file.damage.overlaps(at, at + headerSlotBytes))) {
    return undefined; // a destroyed slot: one fault on the header at a time
  }
  const slots = headerSlotOffsets.map((offset) =>
    file.image.slice(offset, offset + headerSlotBytes)
  );
  const candidates = astrayWrites(file, slots)
    .filter((astray) => exposesRecords(file.image, astray.current, astray.stale));
  if (candidates.length === 0) return undefined;
  const chosen = rng.pick(candidates);
  for (const [slot, offset] of headerSlotOffsets.entries()) {
    if (sameBytes(chosen.after[slot], slots[slot])) continue;
    file.damage.add(offset, offset + headerSlotBytes, slots[slot]);
    file.image.write(offset, chosen.after[slot]);
  }
  const changed = headerSlotOffsets.filter((_, slot) =>
    !sameBytes(chosen.after[slot], slots[slot])
  );
  assert(changed.length > 0, "a lost write changes a slot");
  const newer = currentHeader(imageFileName, chosen.after[0], chosen.after[1]).header;
  assert(newer?.generation === chosen.current.generation, "open takes the current header");
  return {
    kind: "crashHeaderWriteLost",
    file: imageFileName,
    offset: changed[0],
    length: changed.at(-1)! + headerSlotBytes - changed[0],
    detail: chosen.detail,
    coverageLsn: chosen.current.coverageLsn,
  };
}

/**
 * The header writes of this life a crash may reveal as gone astray, both
 * slots valid: the older slot's last write lost (it holds the header before
 * it again, two commits older), or the newest slot's last write landed on
 * the older slot (the newest header is there; the newest slot holds the
 * header before it, one commit older than the one it replaced). Either
 * write was made since the last power loss: a write an open read back after
 * a power loss came from the media.
 */
function astrayWrites(file: CrashFile, slots: readonly Uint8Array[]): AstrayWrite[] {
  const headers = slots.map(decodeHeaderSlot);
  const [a, b] = headers;
  if (typeof a === "string" || typeof b === "string") return [];
  const newest = b.generation > a.generation ? 1 : 0; // as `currentHeader` picks
  const older = 1 - newest;
  const name = (slot: number) => (slot === 0 ? "A" : "B");
  const previous = (slot: number) => {
    const before = file.blocksBefore.get(headerSlotOffsets[slot]);
    if (!file.blocksWritten.has(headerSlotOffsets[slot]) || before === undefined) return undefined;
    const header = decodeHeaderSlot(before);
    const written = slot === 0 ? a : b;
    return typeof header === "object" && header.generation < written.generation
      ? { bytes: before, header }
      : undefined;
  };
  const found: AstrayWrite[] = [];
  const lost = previous(older);
  const landed = previous(newest);
  const current = newest === 0 ? a : b;
  if (lost !== undefined) {
    const after = older === 0 ? [lost.bytes, slots[1]] : [slots[0], lost.bytes];
    const what = `slot ${name(older)} lost its last write (generation ${
      (older === 0 ? a : b).generation
    }): it holds generation ${lost.header.generation} again, beside ${current.generation}`;
    found.push({ after, current, stale: lost.header, detail: what });
  }
  if (landed !== undefined) {
    const after = newest === 0 ? [landed.bytes, slots[0]] : [slots[1], landed.bytes];
    const what = `slot ${name(newest)}'s last write (generation ${current.generation}) ` +
      `landed on slot ${name(older)}: ${name(newest)} holds generation ` +
      `${landed.header.generation} again`;
    found.push({ after, current, stale: landed.header, detail: what });
  }
  return found;
}

/**
 * Whether `stale` names a record or a table chunk (as the image guard
 * collects them: a record that no longer decodes still counts, its branch
 * ends) in space `current`'s table lets a commit write: a free slab, past a
 * slab's filled bytes, or past the slabs the table lists.
 */
function exposesRecords(image: ByteImage, current: ImageHeader, stale: ImageHeader): boolean {
  const spans: [number, number][] = [];
  collectTable(image, stale, spans);
  collectRecords(image, stale.rootAddress, spans);
  if (spans.length === 0) return false;
  const writableFrom = new Map<number, number>(); // slab → first byte a commit may write
  let address = current.allocationAddress;
  for (let chunks = 0; address !== 0 && chunks < tableChunksMax; chunks++) {
    const chunk = decodeChunk(
      image.slice(address, address + chunkBytes(current.chunkEntriesMax)),
      current,
    );
    if (typeof chunk !== "object") return false; // a damaged table: open fails anyway
    for (const [entry, filled] of chunk.filled.entries()) {
      const free = chunk.live[entry] === 0 && chunk.held[entry] === 0;
      writableFrom.set(chunk.firstSlab + entry, free ? 0 : filled);
    }
    address = chunk.next;
  }
  return spans.some(([start, end]) => {
    const slab = Math.floor(start / current.slabBytes);
    return end > slab * current.slabBytes + (writableFrom.get(slab) ?? 0);
  });
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
