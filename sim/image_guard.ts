/**
 * The image guard: a check at the disk's door that the engine never writes
 * over a record either header slot of its image still uses. The engine
 * promises (`lib/image/image_file.ts`) to write only past a slab's `filled`
 * mark or into free slabs, so that if the newest header is lost the older
 * one still describes a whole image; a bug in freeing, reuse or the free
 * tail breaks that promise silently (nothing reads the older image unless
 * the newest slot is lost), so the guard checks every write as it is made.
 *
 * It sits between the store and a `SimBlockStorage` (see
 * {@link ImageGuard.wrap}) and keeps, per image file (`image.tt`, and a
 * compaction's `image.tt.compacting`), a shadow of the bytes the engine
 * meant to write: the live file at open, plus every write at the offset the
 * engine asked for (a misdirected write changes the disk, not the engine's
 * intent, which is what is judged). From the shadow's two header slots it
 * collects every byte range either committed image uses — the node records
 * reached from each root and the allocation table's chunks — cached until a
 * header slot is written. A write (other than of a whole header slot) or a
 * truncate that reaches into one of those ranges is an `image-overwrite`.
 *
 * At a compaction's rename it also reads the new file's header slots as the
 * disk holds them: both must be exactly what the engine wrote (the same
 * header, generations `g` and `g + 1`), or the rename replaced a whole image
 * with one a misplaced header write damaged (`image-rename`; the engine
 * reads the slots back before the rename to prevent this).
 *
 * A misplaced header write of a compaction's file is rare on the simulated
 * disk (a misdirected write is one in 2,000 writes at most, and a run
 * compacts a few times), so the guard also plants it: on the seeds that ask
 * ({@link ImageGuardOptions.compactionHeaderFaults}) each whole-slot write
 * to `image.tt.compacting` is, with that chance, sent elsewhere in the file
 * or nowhere, reported done, and logged as the disk logs a misdirected write
 * (so the oracle's excuses treat it as one).
 *
 * It also counts what the image did (header commits, the most slabs, tables
 * of several chunks, slabs reused after they were freed) for the summary.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import {
  chunkBytes,
  decodeChunk,
  defaultGeometry,
  type ImageGeometry,
} from "../lib/image/allocation.ts";
import {
  decodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import { decodeNodeRecord, inlineLeafRef, refLength, refOffset } from "../lib/image/node_record.ts";
import type { BlockFile, BlockStorage, OpenFileOptions } from "../lib/storage/block_storage.ts";
import { ByteImage } from "../lib/storage/shared.ts";
import { eventPrng } from "./prng.ts";
import type { SimBlockStorage } from "./storage.ts";

/** The largest shadowed file (the simulated disk's own limit). */
const shadowBytesMax = 1 << 30;
/** Records one walk of an image visits at most (a bound; the simulator's images hold hundreds). */
const walkRecordsMax = 1 << 20;
/** Table chunks one walk of a chain reads at most. */
const walkChunksMax = 1 << 16;
/** The smallest sector a write is torn into (see {@link revivableHeader}). */
const tornSectorBytes = 512;
/** The `eventPrng` stream of planted compaction header faults. */
const headerFaultStream = 0x4eaf;

/** What the guard saw, summed over a run. */
export interface ImageGuardStats {
  /** Writes and truncates of image files checked against the records in use. */
  writesChecked: number;
  /** Header slots written with a committed image (a generation above 0). */
  headerCommits: number;
  /** The most slabs a committed header described. */
  slabsMax: number;
  /** Header slots written whose allocation table spans several chunks. */
  multiChunkTables: number;
  /** Slabs written into that the newest committed table lists as free (used before, then freed). */
  slabsReused: number;
  /** Slabs committed tables list as held only (no live record; records the older image uses). */
  heldSlabs: number;
  /** Compactions' files checked at their rename. */
  renamesChecked: number;
  /** Header writes of compactions' files the guard misplaced (see the module comment). */
  headerFaultsPlanted: number;
  /**
   * Image files opened with a damaged header slot whose newer image a torn
   * header write could revive (see {@link revivableHeader}).
   */
  revivableSlots: number;
}

/** Counters at zero. */
export function newImageGuardStats(): ImageGuardStats {
  return {
    writesChecked: 0,
    headerCommits: 0,
    slabsMax: 0,
    multiChunkTables: 0,
    slabsReused: 0,
    heldSlabs: 0,
    renamesChecked: 0,
    headerFaultsPlanted: 0,
    revivableSlots: 0,
  };
}

/** How an {@link ImageGuard} reports and what it plants. */
export interface ImageGuardOptions {
  /** Called once per broken property found. */
  report: GuardReport;
  /** The run's seed: decides the planted faults. */
  seed: number;
  /** The chance that a whole-slot write to a compaction's file is misplaced (default 0). */
  compactionHeaderFaults?: number;
}

/** Reports a broken property: `image-overwrite` or `image-rename`, and a sentence. */
export type GuardReport = (property: string, message: string) => void;

/** The byte ranges the two committed images use, sorted and merged, and the free slabs. */
interface InUse {
  /** `[start, end)` pairs, flattened, ascending and disjoint. */
  ranges: number[];
  /**
   * As `ranges`, for the image of a damaged slot that a torn header write
   * could make valid again (see {@link revivableHeader}), when it would be
   * newer than the other slot's; empty if there is none.
   */
  revivable: number[];
  /**
   * Slabs the newest committed table lists as free: a slab enters the table
   * when a record is placed in it, so a write into one of these reuses it.
   * Each is counted once, at its first write.
   */
  freeSlabs: Set<number>;
  slabBytes: number;
}

/** Checks writes to the image files of simulated disks; see the module comment. */
export class ImageGuard {
  /** What the guard saw so far. */
  readonly stats: ImageGuardStats = newImageGuardStats();
  readonly #report: GuardReport;
  readonly #seed: number;
  readonly #headerFaults: number;
  /** Compaction header writes so far: the index of the next one's fault decision. */
  #headerWrites = 0;

  /** @param options How to report, and what to plant. */
  constructor(options: ImageGuardOptions) {
    this.#report = options.report;
    this.#seed = options.seed;
    this.#headerFaults = options.compactionHeaderFaults ?? 0;
    assert(this.#headerFaults >= 0 && this.#headerFaults <= 1, "a chance");
  }

  /**
   * @internal Where a whole-slot write of a compaction's file at `offset`
   * goes: `offset`, another sector-aligned offset below `fileBytes`, or
   * nowhere (null), as drawn.
   */
  placeHeaderWrite(offset: number, fileBytes: number, sectorBytes: number): number | null {
    const random = eventPrng(this.#seed, headerFaultStream, this.#headerWrites++);
    if (!random.chance(this.#headerFaults)) return offset;
    this.stats.headerFaultsPlanted++;
    const sectors = Math.floor(fileBytes / sectorBytes);
    const roll = random.below(3);
    if (roll === 0 || sectors <= 1) return null;
    if (roll === 1) return offset === headerSlotOffsets[0] ? headerSlotOffsets[1] : 0;
    const target = random.below(sectors) * sectorBytes;
    return target === offset ? null : target;
  }

  /** The storage a store of the run opens: `storage`, with every image write checked. */
  wrap(storage: SimBlockStorage): BlockStorage {
    return new GuardedStorage(storage, this);
  }

  /** @internal Reports a violation. */
  violate(property: string, message: string): void {
    this.#report(property, message);
  }
}

/** A shadow of one image file: what the engine wrote, and what its headers use. */
class ImageShadow {
  readonly #guard: ImageGuard;
  name: string;
  readonly bytes = new ByteImage(shadowBytesMax);
  #inUse: InUse | undefined;

  constructor(guard: ImageGuard, name: string, contents: Uint8Array) {
    this.#guard = guard;
    this.name = name;
    this.bytes.write(0, contents);
    // Damage comes from the disk, so only the file as opened can hold it.
    if (revivedHeaders(this.bytes).length > 0) guard.stats.revivableSlots++;
  }

  /** Checks and records a write the engine asked for. */
  write(offset: number, data: Uint8Array): void {
    const stats = this.#guard.stats;
    stats.writesChecked++;
    const slot = headerSlotOffsets.indexOf(offset as 0 | 4096);
    if (slot >= 0 && data.length === headerSlotBytes) {
      this.bytes.write(offset, data);
      this.#inUse = undefined;
      this.#countCommit(data);
      return;
    }
    const end = offset + data.length;
    if (offset < headerRegionBytes) {
      this.#guard.violate(
        "image-overwrite",
        `${this.name}: a write of bytes ${offset}..${end} reaches into the header region ` +
          `without being a whole header slot`,
      );
    }
    const inUse = this.#used();
    const hit = overlap(inUse.ranges, offset, end);
    if (hit !== undefined) {
      this.#guard.violate(
        "image-overwrite",
        `${this.name}: a write of bytes ${offset}..${end} lands on bytes ${hit[0]}..${hit[1]} ` +
          `of a record a committed header slot still uses`,
      );
    }
    const revived = overlap(inUse.revivable, offset, end);
    if (revived !== undefined) {
      this.#guard.violate(
        "image-overwrite",
        `${this.name}: a write of bytes ${offset}..${end} lands on bytes ` +
          `${revived[0]}..${revived[1]} of a record named by a damaged header slot that a torn ` +
          `header write can make whole again (only its zeros were changed), and newer than ` +
          `the other slot's: the slot must be blanked, durably, first`,
      );
    }
    if (inUse.freeSlabs.delete(Math.floor(offset / inUse.slabBytes))) stats.slabsReused++;
    this.bytes.write(offset, data);
  }

  /** Checks and records a truncate. */
  truncate(length: number): void {
    this.#guard.stats.writesChecked++;
    const hit = overlap(this.#used().ranges, length, Number.MAX_SAFE_INTEGER);
    if (hit !== undefined) {
      this.#guard.violate(
        "image-overwrite",
        `${this.name}: a truncate to ${length} bytes cuts bytes ${hit[0]}..${hit[1]} of a ` +
          `record a committed header slot still uses`,
      );
    }
    this.bytes.resize(length);
  }

  /** The ranges the two committed images use (walked once per header pair). */
  #used(): InUse {
    if (this.#inUse !== undefined) return this.#inUse;
    const spans: [number, number][] = [];
    let newest: ImageHeader | undefined;
    for (const offset of headerSlotOffsets) {
      const header = decodeHeaderSlot(view(this.bytes, offset, offset + headerSlotBytes));
      if (typeof header !== "object") continue;
      if (header.generation >= (newest?.generation ?? -1)) newest = header;
      collectTable(this.bytes, header, spans);
      collectRecords(this.bytes, header.rootAddress, spans);
    }
    const revivableSpans: [number, number][] = [];
    for (const revived of revivedHeaders(this.bytes)) {
      collectTable(this.bytes, revived, revivableSpans);
      collectRecords(this.bytes, revived.rootAddress, revivableSpans);
    }
    const geometry: ImageGeometry = newest ?? defaultGeometry;
    const freeSlabs = new Set<number>();
    if (newest !== undefined) collectTable(this.bytes, newest, [], freeSlabs);
    this.#inUse = {
      ranges: merge(spans),
      revivable: merge(revivableSpans),
      freeSlabs,
      slabBytes: geometry.slabBytes,
    };
    return this.#inUse;
  }

  /** Counts a header slot written with a committed image. */
  #countCommit(data: Uint8Array): void {
    const header = decodeHeaderSlot(data);
    if (typeof header !== "object" || header.generation === 0) return;
    const stats = this.#guard.stats;
    stats.headerCommits++;
    stats.slabsMax = Math.max(stats.slabsMax, header.pageCount);
    const chunks: [number, number][] = [];
    const held = new Set<number>();
    collectTable(this.bytes, header, chunks, undefined, held);
    if (chunks.length > 1) stats.multiChunkTables++;
    stats.heldSlabs += held.size;
  }
}

/**
 * The header a damaged slot holds but for bytes where every header holds
 * zeros, or undefined. A header's fields lie in its first 512-byte sector
 * and its checksum in its last; the sectors between hold only zeros. Damage
 * there (a changed byte at rest: `crashHeaderLost` scrambles one) makes the
 * slot fail its checksum, and the engine takes the other slot; but the next
 * header write into the slot, torn, may bring zeros into the damaged sector
 * and leave the first and last as they were: the old header is whole again.
 */
function revivableHeader(slot: Uint8Array): ImageHeader | undefined {
  if (slot.length < headerSlotBytes) return undefined;
  const zeroed = slot.slice();
  zeroed.fill(0, tornSectorBytes, headerSlotBytes - tornSectorBytes);
  const header = decodeHeaderSlot(zeroed);
  return typeof header === "object" ? header : undefined;
}

/**
 * The headers damaged slots of `bytes` would hold again after a torn header
 * write (see {@link revivableHeader}) that are newer than the other slot's,
 * so open would take them.
 */
function revivedHeaders(bytes: ByteImage): ImageHeader[] {
  const slots = headerSlotOffsets.map((offset) => view(bytes, offset, offset + headerSlotBytes));
  const headers = slots.map(decodeHeaderSlot);
  const revived: ImageHeader[] = [];
  for (const [index, slot] of slots.entries()) {
    if (typeof headers[index] === "object") continue;
    const header = revivableHeader(slot);
    const other = headers[1 - index];
    const otherGeneration = typeof other === "object" ? other.generation : -1;
    if (header !== undefined && header.generation > otherGeneration) revived.push(header);
  }
  return revived;
}

/**
 * The table chunks `header` chains, as byte ranges (a chunk that does not
 * decode ends it), and the slabs they list as free (neither live nor held).
 * Also used by `crash_faults.ts`.
 */
export function collectTable(
  bytes: ByteImage,
  header: ImageHeader,
  spans: [number, number][],
  freeSlabs?: Set<number>,
  heldSlabs?: Set<number>,
): void {
  let address = header.allocationAddress;
  for (let index = 0; address !== 0 && index < walkChunksMax; index++) {
    const chunk = decodeChunk(
      view(bytes, address, address + chunkBytes(header.chunkEntriesMax)),
      header,
    );
    if (typeof chunk !== "object") return; // never written as meant: nothing to protect
    spans.push([address, address + chunkBytes(chunk.filled.length)]);
    for (const [entry, live] of chunk.live.entries()) {
      if (live === 0 && chunk.held[entry] === 0) freeSlabs?.add(chunk.firstSlab + entry);
      if (live === 0 && chunk.held[entry] > 0) heldSlabs?.add(chunk.firstSlab + entry);
    }
    address = chunk.next;
  }
}

/**
 * The records reached from `root`, as byte ranges (a record that does not
 * decode ends its branch). Also used by `crash_faults.ts`.
 */
export function collectRecords(bytes: ByteImage, root: number, spans: [number, number][]): void {
  const seen = new Set<number>();
  const pending = root === 0 ? [] : [root];
  while (pending.length > 0 && seen.size < walkRecordsMax) {
    const ref = pending.pop()!;
    if (!Number.isSafeInteger(ref) || ref <= inlineLeafRef || seen.has(ref)) continue;
    seen.add(ref);
    const offset = refOffset(ref);
    const end = offset + refLength(ref);
    spans.push([offset, end]);
    const node = decodeNodeRecord(view(bytes, offset, end));
    if (typeof node !== "object") continue;
    for (const child of node.childAddresses) if (child !== inlineLeafRef) pending.push(child);
  }
}

/** The shadow's bytes `[start, end)`, clamped to its length, without a copy. */
function view(bytes: ByteImage, start: number, end: number): Uint8Array {
  return bytes.bytes.subarray(Math.min(start, bytes.length), Math.min(end, bytes.length));
}

/** Sorts and merges `[start, end)` spans into flat, disjoint, ascending pairs. */
function merge(spans: [number, number][]): number[] {
  spans.sort((a, b) => a[0] - b[0]);
  const ranges: number[] = [];
  for (const [start, end] of spans) {
    const last = ranges.length - 1;
    if (last > 0 && start <= ranges[last]) ranges[last] = Math.max(ranges[last], end);
    else ranges.push(start, end);
  }
  assert(ranges.length % 2 === 0, "ranges come in pairs");
  return ranges;
}

/** The first range of `ranges` that `[start, end)` overlaps, or undefined. */
function overlap(ranges: number[], start: number, end: number): [number, number] | undefined {
  // Binary search for the first range ending after `start`.
  let low = 0;
  let high = ranges.length / 2;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranges[2 * middle + 1] <= start) low = middle + 1;
    else high = middle;
  }
  if (low < ranges.length / 2 && ranges[2 * low] < end) {
    return [ranges[2 * low], ranges[2 * low + 1]];
  }
  return undefined;
}

/** Whether a write is of one whole header slot. */
function isWholeSlot(offset: number, data: Uint8Array): boolean {
  return (offset === headerSlotOffsets[0] || offset === headerSlotOffsets[1]) &&
    data.length === headerSlotBytes;
}

/** Whether a file name is one the guard shadows. */
function isImage(name: string): boolean {
  return name === imageFileName || name === compactingFileName;
}

/** A `BlockStorage` forwarding to a simulated disk, with the image files shadowed. */
class GuardedStorage implements BlockStorage {
  readonly #inner: SimBlockStorage;
  readonly #guard: ImageGuard;
  /** The shadow of each image file by its current name. */
  readonly #shadows = new Map<string, ImageShadow>();

  constructor(inner: SimBlockStorage, guard: ImageGuard) {
    this.#inner = inner;
    this.#guard = guard;
  }

  get description(): string {
    return this.#inner.description;
  }

  open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    const opening = this.#inner.open(name, options);
    if (!isImage(name)) return opening;
    return opening.then((file) => {
      // The engine reads what the disk holds now: the shadow starts from it.
      const shadow = new ImageShadow(this.#guard, name, this.#inner.readLive(name));
      this.#shadows.set(name, shadow);
      return new GuardedFile(file, shadow, this);
    });
  }

  list(): Promise<string[]> {
    return this.#inner.list();
  }

  rename(from: string, to: string): Promise<void> {
    if (from === compactingFileName && to === imageFileName) this.#checkCompacted(from);
    const shadow = this.#shadows.get(from);
    this.#shadows.delete(from);
    if (shadow !== undefined) {
      shadow.name = to;
      this.#shadows.set(to, shadow);
    }
    return this.#inner.rename(from, to);
  }

  remove(name: string): Promise<void> {
    this.#shadows.delete(name);
    return this.#inner.remove(name);
  }

  syncDir(): Promise<void> {
    return this.#inner.syncDir();
  }

  tryLock(): Promise<boolean> {
    return this.#inner.tryLock();
  }

  unlock(): Promise<void> {
    return this.#inner.unlock();
  }

  /**
   * Writes a header slot of a compaction's file where the guard draws
   * (see {@link ImageGuard.placeHeaderWrite}); a misplaced one is logged as
   * the disk logs a misdirected write. A write that goes nowhere still goes
   * through the disk, empty, so it completes in the drawn order.
   */
  writeCompactionHeader(
    file: BlockFile,
    offset: number,
    data: Uint8Array,
    shadow: ImageShadow,
  ): Promise<void> {
    const disk = this.#inner;
    const target = this.#guard.placeHeaderWrite(
      offset,
      shadow.bytes.length,
      disk.sectorBytes,
    );
    if (target === offset) return file.write(offset, data);
    disk.faultLog.add({
      kind: "misdirectedWrite",
      file: file.name,
      offset,
      length: data.length,
      detail: target === null
        ? "planted on a compaction's header: the write never reaches the disk"
        : `planted on a compaction's header: the bytes reach the disk at byte ${target} instead`,
      epoch: disk.epoch,
    });
    return target === null ? file.write(offset, new Uint8Array(0)) : file.write(target, data);
  }

  /** A compaction's file must hold, on disk, both header slots exactly as the engine wrote them. */
  #checkCompacted(name: string): void {
    const stats = this.#guard.stats;
    stats.renamesChecked++;
    const shadow = this.#shadows.get(name);
    let disk: Uint8Array;
    try {
      disk = this.#inner.readLive(name);
    } catch {
      return; // the rename itself will fail: nothing is replaced
    }
    const problems: string[] = [];
    const headers: (ImageHeader | undefined)[] = [];
    for (const [slot, offset] of headerSlotOffsets.entries()) {
      const onDisk = disk.subarray(offset, offset + headerSlotBytes);
      const meant = shadow?.bytes.slice(offset, offset + headerSlotBytes);
      const decoded = decodeHeaderSlot(onDisk);
      headers.push(typeof decoded === "object" ? decoded : undefined);
      const name = slot === 0 ? "A" : "B";
      if (typeof decoded !== "object") problems.push(`slot ${name}: ${decoded}`);
      else if (meant !== undefined && !equalBytes(onDisk, meant)) {
        problems.push(`slot ${name}: generation ${decoded.generation}, not what was written`);
      }
    }
    const [a, b] = headers;
    if (a !== undefined && b !== undefined && a.generation !== b.generation + 1) {
      problems.push(`generations ${a.generation} (A) and ${b.generation} (B) are not g + 1 and g`);
    }
    if (problems.length > 0) {
      this.#guard.violate(
        "image-rename",
        `${name} was renamed over ${imageFileName} with header slots that did not read back as ` +
          `written (${problems.join("; ")})`,
      );
    }
  }
}

/** A file of a {@link GuardedStorage}: writes and truncates of an image file are checked first. */
class GuardedFile implements BlockFile {
  readonly #inner: BlockFile;
  readonly #shadow: ImageShadow;
  readonly #storage: GuardedStorage;

  constructor(inner: BlockFile, shadow: ImageShadow, storage: GuardedStorage) {
    this.#inner = inner;
    this.#shadow = shadow;
    this.#storage = storage;
  }

  get name(): string {
    return this.#inner.name;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#inner.read(offset, length);
  }

  /** The inner file's `readSync`, when it has one (reads are not guarded). */
  get readSync(): ((offset: number, into: Uint8Array) => number) | undefined {
    const inner = this.#inner;
    return inner.readSync === undefined
      ? undefined
      : (offset, into) => inner.readSync!(offset, into);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.#shadow.write(offset, data);
    if (this.#shadow.name === compactingFileName && isWholeSlot(offset, data)) {
      return this.#storage.writeCompactionHeader(this.#inner, offset, data, this.#shadow);
    }
    return this.#inner.write(offset, data);
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  size(): Promise<number> {
    return this.#inner.size();
  }

  truncate(length: number): Promise<void> {
    this.#shadow.truncate(length);
    return this.#inner.truncate(length);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
