/**
 * The image file's header: two slots, A at byte 0 and B at byte 4096, each
 * in its own 4 KiB sector so a torn header write damages at most the slot it
 * was writing. Writing the older slot (with the next generation) and
 * fsyncing it is the commit point of a checkpoint; open takes the valid
 * slot with the higher generation.
 *
 * ```text
 * slot = magic "TTIMAGE1" | version u32 (2) | slotBytes u32 | generation u64 |
 *        coverageLsn u64 | rootRef u64 | keyCount u64 | pageCount u64 |
 *        allocationAddress u64 | deadBytes u64 | slabBytes u32 |
 *        chunkEntriesMax u32 | flags u32 | zeros (4) | valueCeiling u64 |
 *        reserved (zeros) | crc32c u32
 * ```
 *
 * The checksum is the slot's last 4 bytes and covers everything before it.
 * `slabBytes` and `chunkEntriesMax` are the file's geometry (see
 * `allocation.ts`); 0 stands for the default one (128 KiB, 8,192), so every
 * image written before they existed reads as it was. `valueCeiling` bounds
 * every count the image holds, so a trie opened lazily knows how far an
 * addition can go without loading the keys; flag bit 0 says it is recorded
 * (an image written before it existed has flags 0: no bound).
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
import { CorruptionError } from "../errors.ts";

/** Bytes of one header slot (one sector of the largest common size). */
export const headerSlotBytes = 4096;
/** Where the header slots start: A at 0, B right after. */
export const headerSlotOffsets = [0, headerSlotBytes] as const;
/** Bytes before the first node page. */
export const headerRegionBytes = 2 * headerSlotBytes;
/** The image format version this code writes and reads. */
export const imageFormatVersion = 2;
/** Where the geometry's two u32 fields are (in the slot's once reserved zeros). */
const slabBytesOffset = 72;
const chunkEntriesOffset = 76;
/** Where the flags (u32) and the value ceiling (u64) are, in the once reserved zeros too. */
const flagsOffset = 80;
const valueCeilingOffset = 88;
/** Flag bit: {@link ImageHeader.valueCeiling} is recorded. */
const flagValueCeiling = 1;
/**
 * What the geometry fields' 0 stands for: the default geometry (128 KiB
 * slabs, 8,192 table entries a chunk; see `allocation.ts`, which names them).
 */
export const geometryDefaults = Object.freeze({ slabBytes: 128 * 1024, chunkEntriesMax: 8192 });

const prologue: HeaderPrologue = {
  magic: new TextEncoder().encode("TTIMAGE1"),
  version: imageFormatVersion,
  bytes: headerSlotBytes,
  what: "slot",
  format: "image",
};

/** What one committed checkpoint records. */
export interface ImageHeader {
  /** Counts commits; the slot with the higher valid generation is current. */
  generation: number;
  /**
   * Every WAL record at or below this LSN is in the image (D3 of
   * docs/DURABILITY.md: replay starts above it).
   */
  coverageLsn: number;
  /** Address of the root node, or 0 for an empty trie. */
  rootAddress: number;
  /** Keys in the image. */
  keyCount: number;
  /** Slabs the allocation table describes. */
  pageCount: number;
  /** Address of the allocation table's first chunk, or 0. */
  allocationAddress: number;
  /** Bytes of non-free slabs that neither this image nor the one before uses (drives compaction). */
  deadBytes: number;
  /** The file's slab size (the same in every slot: chosen when the file was created). */
  slabBytes: number;
  /** Table entries per chunk record, at most (as `slabBytes`). */
  chunkEntriesMax: number;
  /**
   * An upper bound on every count the image holds (at least the largest);
   * absent when unknown (an image written before the field existed, or by a
   * trie that never saw all of its values).
   */
  valueCeiling?: number;
}

const fieldOrder = [
  "generation",
  "coverageLsn",
  "rootAddress",
  "keyCount",
  "pageCount",
  "allocationAddress",
  "deadBytes",
] as const satisfies readonly (keyof ImageHeader)[];

/** Encodes one header slot. */
export function encodeHeaderSlot(header: ImageHeader): Uint8Array {
  const bytes = new Uint8Array(headerSlotBytes);
  const view = new DataView(bytes.buffer);
  writeHeaderPrologue(bytes, view, prologue);
  fieldOrder.forEach((field, index) => writeU64(view, 16 + index * 8, header[field]));
  assert(
    header.slabBytes > 0 && header.slabBytes < 2 ** 32 && header.chunkEntriesMax > 0 &&
      header.chunkEntriesMax < 2 ** 32,
    "geometry fields fit a u32",
  );
  const slab = header.slabBytes === geometryDefaults.slabBytes ? 0 : header.slabBytes;
  view.setUint32(slabBytesOffset, slab, true);
  const entries = header.chunkEntriesMax === geometryDefaults.chunkEntriesMax
    ? 0
    : header.chunkEntriesMax;
  view.setUint32(chunkEntriesOffset, entries, true);
  const ceiling = header.valueCeiling;
  if (ceiling !== undefined) {
    assert(Number.isSafeInteger(ceiling) && ceiling >= 0, "a value ceiling is a count");
    view.setUint32(flagsOffset, flagValueCeiling, true);
    writeU64(view, valueCeilingOffset, ceiling);
  }
  sealHeader(bytes, view, prologue);
  assert(typeof decodeHeaderSlot(bytes) === "object", "a header slot round-trips");
  return bytes;
}

/** Decodes one header slot; a description of the first failed check if it is invalid. */
export function decodeHeaderSlot(bytes: Uint8Array): ImageHeader | string {
  if (bytes.length < headerSlotBytes) {
    return `slot is ${bytes.length} bytes, not ${headerSlotBytes}`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerSlotBytes);
  const problem = checkHeaderPrologue(bytes, view, prologue);
  if (problem !== undefined) return problem;
  const header = {} as ImageHeader;
  for (const [index, field] of fieldOrder.entries()) {
    const value = readU64(view, 16 + index * 8);
    if (!Number.isSafeInteger(value)) return `${field} ${value} is out of range`;
    header[field] = value;
  }
  header.slabBytes = view.getUint32(slabBytesOffset, true) || geometryDefaults.slabBytes;
  header.chunkEntriesMax = view.getUint32(chunkEntriesOffset, true) ||
    geometryDefaults.chunkEntriesMax;
  // Flags this code does not know are left alone: they name fields it need not read.
  if ((view.getUint32(flagsOffset, true) & flagValueCeiling) !== 0) {
    const ceiling = readU64(view, valueCeilingOffset);
    if (!Number.isSafeInteger(ceiling)) return `valueCeiling ${ceiling} is out of range`;
    header.valueCeiling = ceiling;
  }
  return header;
}

/** The slot a header was read from, and the slot the next commit must write. */
export interface CurrentHeader {
  /** The newest valid header, or undefined for a fresh image (A blank, B blank or torn). */
  header: ImageHeader | undefined;
  /** 0 (A) or 1 (B): where the current header is. */
  slot: 0 | 1;
}

/**
 * Picks the current header from the two slots' bytes: the valid one with the
 * higher generation. With no valid slot, a blank (all-zero or absent) slot
 * means a fresh image:
 * - A blank: B holds nothing or a torn write of the empty header that
 *   initialises a new image;
 * - B blank: that initialisation never reached the disk (its fsync failed
 *   and an open retried in the same process trusted the page cache), so the
 *   only commit A could hold is the first, and a damaged A is that commit,
 *   torn: nothing was committed. No WAL was reclaimed either (the reclaim
 *   stops at the lower coverage of the two slots, 0 for that empty header),
 *   so the log replays whole.
 *
 * A close blanks the slot a failed commit wrote, so one blank slot beside a
 * damaged one may instead be a committed image whose valid slot was damaged
 * since: `openImage` tells them apart by where the log starts.
 *
 * @throws {CorruptionError} if no slot is valid and neither is blank.
 */
export function currentHeader(file: string, slotA: Uint8Array, slotB: Uint8Array): CurrentHeader {
  const decoded = [decodeHeaderSlot(slotA), decodeHeaderSlot(slotB)] as const;
  const valid = decoded.map((slot) => (typeof slot === "object" ? slot : undefined));
  if (valid[0] === undefined && valid[1] === undefined) {
    // A new image writes an empty generation-0 header into B before any
    // commit writes A: with A blank, B can only hold that write, torn; with B
    // blank, A can only hold the first commit, torn (see above).
    if (isBlank(slotA) || isBlank(slotB)) return { header: undefined, slot: 1 };
    throw new CorruptionError(
      file,
      0,
      `both image header slots are invalid (A: ${decoded[0]}; B: ${decoded[1]})`,
    );
  }
  // Equal generations cannot come from alternating commits (only from damage
  // such as a misdirected write copying one slot over the other): take A.
  const slot = (valid[1]?.generation ?? -1) > (valid[0]?.generation ?? -1) ? 1 : 0;
  assert(valid[slot] !== undefined, "the chosen slot is valid");
  return { header: valid[slot], slot };
}

/** The slot the commit after `current` writes: the other one. */
export function nextSlot(current: CurrentHeader): 0 | 1 {
  return current.slot === 0 ? 1 : 0;
}

/** Whether a slot's bytes are all zero (or absent): never written. */
export function isBlank(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) if (bytes[index] !== 0) return false;
  return true;
}

/** What a header slot holds, as `verify()` reports it (see {@link describeSlots}). */
export type HeaderSlotState = "current" | "fallback" | "blank" | "damaged" | "stale";

/** One header slot as read from disk. */
export interface HeaderSlotReport {
  /** `"A"` (byte 0) or `"B"` (byte 4096). */
  slot: "A" | "B";
  /** What the slot holds (see {@link describeSlots}). */
  state: HeaderSlotState;
  /** The header's generation, if the slot holds a valid header. */
  generation?: number;
  /** The header's coverage LSN, if the slot holds a valid header. */
  coverageLsn?: number;
  /** What the state means for this store. */
  detail: string;
}

/** The header slots described, and what is wrong or worth a look. */
export interface HeaderSlotsCheck {
  /** Slots A and B. */
  slots: HeaderSlotReport[];
  /** The current slot does not read back as the header in use. */
  problems: string[];
  /** The other slot cannot serve as a fallback (damaged, blank after a commit, stale). */
  warnings: string[];
}

/**
 * Describes both header slots as read now (`slots`), given the header in use
 * (`current`) and the lowest LSN the WAL still holds (`logFirstLsn`).
 *
 * The current slot must read back as the header in use, or it is a problem.
 * After every commit the other slot holds the previous generation: that is
 * the normal state, `fallback`, the image open takes if the current slot is
 * ever lost. It is a warning (nothing is lost, but there is no fallback until
 * the next checkpoint rewrites the slot) when the other slot is
 * - `damaged`: it fails its checks (a commit torn by a crash, or damage);
 * - `blank` after a commit (a commit whose fsync failed, blanked by close;
 *   a damaged or stale slot blanked by a checkpoint that failed after it);
 *   blank before any commit is normal;
 * - `stale`: valid, but open could not fall back on it: its generation is not
 *   the current one minus 1 (older: a header write the disk dropped, so the
 *   records it names may have been reused; newer or equal: a commit that
 *   failed, or a copied slot), its coverage is above the current one, or the
 *   WAL no longer holds the records above its coverage. A slot of another
 *   generation is blanked by the first write into the image after open
 *   (`ImageFile.flush`), before any record of it can be reused.
 */
export function describeSlots(
  file: string,
  current: CurrentHeader,
  slots: readonly Uint8Array[],
  logFirstLsn: number,
): HeaderSlotsCheck {
  assert(slots.length === 2, "an image has two header slots");
  const inUse = current.header;
  const check: HeaderSlotsCheck = { slots: [], problems: [], warnings: [] };
  for (const index of [0, 1] as const) {
    const decoded = decodeHeaderSlot(slots[index]);
    const isCurrent = index === current.slot;
    const { state, detail } = isCurrent
      ? describeCurrent(decoded, slots[index], inUse)
      : describeOther(decoded, slots[index], inUse, logFirstLsn);
    const report: HeaderSlotReport = { slot: index === 0 ? "A" : "B", state, detail };
    if (typeof decoded === "object") {
      report.generation = decoded.generation;
      report.coverageLsn = decoded.coverageLsn;
    }
    check.slots.push(report);
    const where = `${file}: header slot ${report.slot} (byte ${headerSlotOffsets[index]})`;
    const fresh = state === "blank" && (inUse?.generation ?? 0) === 0;
    if (isCurrent && state !== "current") {
      check.problems.push(`${where} does not read back as the header in use: ${detail}`);
    } else if (!isCurrent && state !== "fallback" && !fresh) {
      check.warnings.push(`${where} is ${state}: ${detail}`);
    }
  }
  assert(check.slots.length === 2, "both slots are described");
  return check;
}

const noFallback = "open has no older image to fall back on until the next checkpoint " +
  "rewrites this slot";

/** The state of the slot that should hold the header in use. */
function describeCurrent(
  decoded: ImageHeader | string,
  bytes: Uint8Array,
  inUse: ImageHeader | undefined,
): { state: HeaderSlotState; detail: string } {
  if (typeof decoded === "string") {
    return isBlank(bytes)
      ? { state: "blank", detail: "it is all zeros" }
      : { state: "damaged", detail: `it fails its checks (${decoded})` };
  }
  if (inUse !== undefined && sameHeader(decoded, inUse)) {
    return { state: "current", detail: "the header in use" };
  }
  return {
    state: "stale",
    detail: `it holds generation ${decoded.generation}, the header in use is generation ` +
      `${inUse?.generation ?? "none"}`,
  };
}

/** The state of the slot the next commit writes (see {@link describeSlots}). */
function describeOther(
  decoded: ImageHeader | string,
  bytes: Uint8Array,
  inUse: ImageHeader | undefined,
  logFirstLsn: number,
): { state: HeaderSlotState; detail: string } {
  if (typeof decoded === "string") {
    if (!isBlank(bytes)) {
      return {
        state: "damaged",
        detail: `it fails its checks (${decoded}): a commit torn by a crash, or damage; ` +
          noFallback,
      };
    }
    return (inUse?.generation ?? 0) === 0
      ? { state: "blank", detail: "never written: nothing was committed yet" }
      : {
        state: "blank",
        detail: `all zeros after a commit: a commit whose fsync failed, blanked at close; ` +
          `a damaged or stale slot blanked by a checkpoint that then failed; ` +
          `or a wiped slot; ` + noFallback,
      };
  }
  const why = inUse === undefined ? "no header is in use" : staleness(decoded, inUse, logFirstLsn);
  return why === undefined
    ? {
      state: "fallback",
      detail: "the previous commit's header: open falls back on it if the current slot is lost",
    }
    : { state: "stale", detail: `${why}; ${noFallback}` };
}

/** Why a valid header in the other slot cannot serve as a fallback, or undefined if it can. */
function staleness(
  other: ImageHeader,
  inUse: ImageHeader,
  logFirstLsn: number,
): string | undefined {
  if (other.generation < inUse.generation - 1) {
    return `generation ${other.generation} is older than the previous commit's ` +
      `(${inUse.generation - 1}): a header write the disk dropped; the records it names may ` +
      `have been reused`;
  }
  if (other.generation >= inUse.generation) {
    return `generation ${other.generation} is not older than the current ` +
      `${inUse.generation}: a commit that failed, or a copied slot`;
  }
  if (other.coverageLsn > inUse.coverageLsn) {
    return `its coverage ${other.coverageLsn} is above the current ${inUse.coverageLsn}`;
  }
  if (other.coverageLsn + 1 < logFirstLsn) {
    return `the WAL starts at lsn ${logFirstLsn}, so records ${other.coverageLsn + 1}..` +
      `${logFirstLsn - 1} a fallback would replay are gone`;
  }
  return undefined;
}

function sameHeader(a: ImageHeader, b: ImageHeader): boolean {
  return fieldOrder.every((field) => a[field] === b[field]) && a.valueCeiling === b.valueCeiling;
}
