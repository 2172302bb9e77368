/**
 * Opening an image file: its names, reading both header slots (a damaged
 * one again, so a transient read fault never makes open take the older
 * image), making a new file valid before its first commit, checking the
 * slab geometry its header records, and reading the allocation table chain
 * with a bound on its length. What open finds becomes an `ImageFile`
 * (`image_file.ts`); this is apart from it because reading a file someone
 * else wrote (a crash, a misplaced write, an older writer) trusts nothing,
 * where the image's own writes keep promises (see its commit protocol).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError } from "../errors.ts";
import type { BlockFile, BlockStorage } from "../storage/block_storage.ts";
import {
  type AllocationChunk,
  chunkBytes,
  decodeChunk,
  defaultGeometry,
  geometryProblem,
  type ImageGeometry,
} from "./allocation.ts";
import {
  type CurrentHeader,
  currentHeader,
  decodeHeaderSlot,
  encodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
  isBlank,
} from "./header.ts";
import { SlabTable } from "./_slab_table.ts";

/** The image file's name in the store's directory. */
export const imageFileName = "image.tt";
/**
 * A compaction writes the whole image into this file, then renames it over
 * {@link imageFileName}. One left by a crash never became the image: once
 * the image and the log it would have replaced open, open removes it.
 */
export const compactingFileName = "image.tt.compacting";
/**
 * Reads of one record before a failed check counts: a transient read fault
 * (a flipped bit, a failed transfer) must not be reported as damage. Records
 * are small, so reading one eight times costs little, and only when a check fails.
 */
export const recordReadsMax = 8;
/** Reads of a damaged header slot before it counts as damaged. */
const headerReadsMax = 8;
/**
 * Empty chunks a table's chain may hold at most. The writer before
 * `tableChunkRanges` chained every chunk it had reserved, so a table
 * whose reservation outgrew it (by 2 slabs and one a chunk, or by a whole
 * free tail dropped at that commit) ended in empty ones: up to one per
 * 8,192 slabs of the file's largest size (2^32 slabs: 2^19 chunks).
 */
const emptyChunksMax = 2 ** 20;

/** What opening an image file found: the parts an `ImageFile` is made of. */
export interface OpenedImage {
  /** The open file (the caller closes it). */
  file: BlockFile;
  /** The header in use and its slot (a new file: its empty header). */
  current: CurrentHeader;
  /** The allocation table the header points to. */
  table: SlabTable;
  /** The file's length. */
  fileBytes: number;
  /** The coverage of a valid header in the other slot, else undefined. */
  fallbackCoverage: number | undefined;
  /**
   * Why the other slot (the one the next commit writes) must be blanked
   * before anything is written into the file (see `ImageFile.flush`), or
   * undefined: `"damaged"` when it is neither a valid header nor blank,
   * `"stale"` when it is a valid header of another generation than the
   * previous commit's (see {@link untrustedOther}).
   */
  blankOther: "damaged" | "stale" | undefined;
}

/**
 * Opens the image file `name` (creating it if absent: `existed` says
 * whether it was listed), making a new one valid with `geometry` (the
 * caller checked it) and a new image file durable with its directory entry;
 * reads its current header and its allocation table. `logFirstLsn`, the
 * first LSN the store's log holds (undefined: no log, or not known), tells
 * a new image from a lost one (see {@link checkNewImage}). The file is
 * closed again if anything fails.
 *
 * @throws {CorruptionError} if both header slots, the geometry or the table are damaged.
 */
export async function openImage(
  storage: BlockStorage,
  name: string,
  options: { existed: boolean; geometry: ImageGeometry; logFirstLsn?: number },
): Promise<OpenedImage> {
  const { existed, geometry } = options;
  assert(geometryProblem(geometry) === undefined, "the caller checked the geometry");
  const file = await storage.open(name, { create: true });
  try {
    if (!existed) {
      await file.sync();
      // A compacting file becomes durable by its rename (and the fsync after it).
      if (name === imageFileName) await storage.syncDir();
    }
    const slots = await readSlots(file);
    let current = currentHeader(imageFileName, slots[0], slots[1]);
    if (current.header === undefined) {
      checkNewImage(name, slots, options.logFirstLsn);
      current = await initialise(file, geometry);
    }
    assert(current.header !== undefined, "an image has a header once initialised");
    const problem = geometryProblem(current.header);
    if (problem !== undefined) {
      throw new CorruptionError(
        imageFileName,
        headerSlotOffsets[current.slot],
        `the header's slab geometry is invalid: ${problem}`,
      );
    }
    const { table, chunks } = await readTable(file, current.header);
    const slabTable = new SlabTable(current.header, table, chunks);
    const fileBytes = await file.size();
    const otherSlot = slots[1 - current.slot];
    const other = decodeHeaderSlot(otherSlot);
    const fallbackCoverage = typeof other === "object" ? other.coverageLsn : undefined;
    const blankOther = untrustedOther(current.header, otherSlot);
    return { file, current, table: slabTable, fileBytes, fallbackCoverage, blankOther };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * Removes a compacting file a crash left (see {@link compactingFileName})
 * and fsyncs the directory; returns its size, or undefined if there was
 * none. See `ImageFile.removeCompactingLeftover` for when this is safe.
 */
export async function removeCompactingFile(storage: BlockStorage): Promise<number | undefined> {
  if (!(await storage.list()).includes(compactingFileName)) return undefined;
  const file = await storage.open(compactingFileName);
  let bytes: number;
  try {
    bytes = await file.size();
  } finally {
    await file.close();
  }
  await storage.remove(compactingFileName);
  await storage.syncDir();
  return bytes;
}

/**
 * Reads both header slots, reading a damaged one again (up to
 * {@link headerReadsMax} reads) so a transient read fault never makes open
 * take the older image.
 */
export async function readSlots(file: BlockFile): Promise<Uint8Array[]> {
  const slots = await Promise.all(
    headerSlotOffsets.map((offset) => file.read(offset, headerSlotBytes)),
  );
  for (const [index, offset] of headerSlotOffsets.entries()) {
    for (let reads = 1; reads < headerReadsMax && isDamaged(slots[index]); reads++) {
      slots[index] = await file.read(offset, headerSlotBytes);
    }
  }
  return slots;
}

/**
 * Why the slot beside the current header must be blanked before the first
 * write into the file, or undefined if it may stay. The table protects the
 * records of two images only: the current one (`live`) and the previous
 * commit's (`held`), which is generation `current - 1`. Any other header in
 * that slot names records the table may call free, so the next checkpoint
 * may write over them, and a crash that then loses the current slot would
 * make that header current again over overwritten records:
 * - `"damaged"`: it fails its checks, but a torn write of the next header
 *   into it can make it whole again (n-gram simulator seed 960112);
 * - `"stale"`: a valid header of another generation: older, when the disk
 *   dropped a header write into the slot (or lost the newer header a crash
 *   later brought back from an earlier one), whose records earlier commits
 *   may already have reused and the next will (simulator seed 242, hostile,
 *   memory budget 4 KiB); equal, a copied slot.
 */
function untrustedOther(
  current: ImageHeader,
  otherSlot: Uint8Array,
): "damaged" | "stale" | undefined {
  if (isDamaged(otherSlot)) return "damaged";
  const other = decodeHeaderSlot(otherSlot);
  if (typeof other !== "object") return undefined; // blank
  assert(other.generation <= current.generation, "the current slot holds the newer header");
  return other.generation === current.generation - 1 ? undefined : "stale";
}

function isDamaged(slot: Uint8Array): boolean {
  return !isBlank(slot) && typeof decodeHeaderSlot(slot) === "string";
}

/**
 * Throws unless header slots holding no valid header (read as a new image
 * by `currentHeader`) may be a new image's, given the first LSN the store's
 * log holds (undefined: no log). A new image's slots are both blank, or one
 * blank beside the other's torn first write. But a close also blanks the
 * slot a failed commit wrote (`ImageFile.close`), so one blank slot
 * beside a damaged one may be a committed image whose only valid slot was
 * damaged since. Nothing was reclaimed from a new image's log (a reclaim
 * stops at the lower coverage of the two slots, 0 for the empty header), so
 * it starts at record 1: a log that starts later proves an image was lost,
 * and the damaged slot is what open reports (writing nothing).
 *
 * @throws {CorruptionError} at the damaged slot if the log starts past record 1.
 */
function checkNewImage(
  name: string,
  slots: readonly Uint8Array[],
  logFirstLsn: number | undefined,
): void {
  assert(slots.length === headerSlotOffsets.length, "both slots were read");
  const damaged = slots.findIndex((slot) => !isBlank(slot));
  if (damaged < 0 || logFirstLsn === undefined || logFirstLsn <= 1) return;
  const other = 1 - damaged;
  assert(isBlank(slots[other]), "no valid slot and one not blank: the other is blank");
  const problem = decodeHeaderSlot(slots[damaged]);
  assert(typeof problem === "string", "a slot read as a new image's is no valid header");
  const slotName = (index: number) => (index === 0 ? "A" : "B");
  throw new CorruptionError(
    name,
    headerSlotOffsets[damaged],
    `header slot ${slotName(damaged)} is damaged (${problem}) and slot ${slotName(other)} ` +
      `is blank, as only a new image's may be, but the log starts at record ${logFirstLsn}: ` +
      `records 1..${logFirstLsn - 1}, which only the image held, are lost with it`,
  );
}

/**
 * Makes a new image valid before any commit: an empty generation-0 header
 * in slot B, durable, so that a torn first commit (into A) falls back to it
 * and damage to A alone is always detectable.
 */
async function initialise(file: BlockFile, geometry: ImageGeometry): Promise<CurrentHeader> {
  const empty: ImageHeader = {
    generation: 0,
    coverageLsn: 0,
    rootAddress: 0,
    keyCount: 0,
    pageCount: 0,
    allocationAddress: 0,
    deadBytes: 0,
    slabBytes: geometry.slabBytes,
    chunkEntriesMax: geometry.chunkEntriesMax,
  };
  await file.write(headerSlotOffsets[1], encodeHeaderSlot(empty));
  await file.sync();
  return { header: empty, slot: 1 };
}

/**
 * Reads the allocation table a header points to (re-reading before damage
 * counts); returns its chunks in order and where they lie, as [address,
 * bytes] pairs.
 *
 * @throws {CorruptionError} if the chain is too long, out of order or damaged.
 */
export async function readTable(
  file: BlockFile,
  header: ImageHeader | undefined,
): Promise<{ table: AllocationChunk[]; chunks: number[] }> {
  const table: AllocationChunk[] = [];
  const chunks: number[] = [];
  let address = header?.allocationAddress ?? 0;
  const geometry = header ?? defaultGeometry;
  const pageCount = header?.pageCount ?? 0;
  const chunksMax = Math.ceil(pageCount / geometry.chunkEntriesMax) + emptyChunksMax;
  const seen = new Set<number>();
  let slabs = 0;
  for (let index = 0; address !== 0; index++) {
    if (index >= chunksMax || address < headerRegionBytes || seen.has(address)) {
      throw new CorruptionError(imageFileName, address, "allocation table chain is too long");
    }
    seen.add(address);
    const chunk = await readChunk(file, address, geometry);
    chunks.push(address, chunkBytes(chunk.filled.length));
    // An empty chunk may start anywhere (see emptyChunksMax): it describes nothing.
    if (chunk.filled.length > 0 && chunk.firstSlab !== slabs) {
      throw new CorruptionError(
        imageFileName,
        address,
        `allocation table chunk starts at slab ${chunk.firstSlab}, not at ${slabs}`,
      );
    }
    slabs += chunk.filled.length;
    if (slabs > pageCount) break; // reported below
    table.push(chunk);
    address = chunk.next;
  }
  if (header !== undefined && slabs !== pageCount) {
    throw new CorruptionError(
      imageFileName,
      header.allocationAddress,
      `allocation table describes ${slabs} slabs, the header ${pageCount}`,
    );
  }
  return { table, chunks };
}

async function readChunk(
  file: BlockFile,
  address: number,
  geometry: ImageGeometry,
): Promise<AllocationChunk> {
  let problem = "record was not read";
  const bytes = chunkBytes(geometry.chunkEntriesMax); // the largest chunk (a read may end sooner)
  for (let reads = 0; reads < recordReadsMax; reads++) {
    const decoded = decodeChunk(await file.read(address, bytes), geometry);
    if (typeof decoded === "object") return decoded;
    problem = decoded;
  }
  throw new CorruptionError(imageFileName, address, problem);
}
