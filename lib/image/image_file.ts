/**
 * The image file: node records written by checkpoints behind the two header
 * slots, in slabs tracked by the allocation table (see `allocation.ts`). This
 * layer places and appends records, commits a header and reads records back
 * by address; deciding what to write (the changed nodes of a captured trie)
 * and which records died belongs to the checkpoint above it.
 *
 * Commit protocol (what each crash point leaves):
 * 1. records (nodes, then the allocation table) are written only past each
 *    slab's `filled` mark or into free slabs, never over a record the
 *    committed image uses — a crash leaves garbage no header points to;
 * 2. the file is fsynced — same;
 * 3. the other header slot is written with the next generation — a crash
 *    may tear it; open then takes the intact older slot;
 * 4. the file is fsynced — the commit point: the new header is current.
 *
 * Records are named by refs (offset and length, see `node_record.ts`).
 * Records the new image no longer uses (the caller's `frees`) count as dead
 * from the commit on: their slabs become free for the next checkpoint only,
 * once no durable header can need them.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import type { BlockFile, BlockStorage } from "../storage/block_storage.ts";
import {
  type AllocationChunk,
  chunkBytes,
  decodeChunk,
  defaultGeometry,
  encodeChunk,
  geometryProblem,
  type ImageGeometry,
  recordBytesMax,
} from "./allocation.ts";
import {
  type CurrentHeader,
  currentHeader,
  decodeHeaderSlot,
  describeSlots,
  encodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type HeaderSlotsCheck,
  type ImageHeader,
  isBlank,
  nextSlot,
} from "./header.ts";
import {
  decodeNodeRecord,
  decodeRecordFields,
  encodeNodeRecordInto,
  inlineLeafRef,
  type NodeImage,
  nodeRecordBytes,
  type RecordFields,
  recordRef,
  refLength,
  refOffset,
  storedInline,
} from "./node_record.ts";

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
const recordReadsMax = 8;
/** Reads of a damaged header slot before it counts as damaged. */
const headerReadsMax = 8;
/**
 * Slabs of records kept in memory after a read, at most: loading a node
 * reads its whole slab, so the nodes written beside it (a subtree: children
 * are written just before their parent) load without another read.
 */
export const slabCacheSlabsMax = 512;
/** Slab reads {@link ImageFile.cacheAll} keeps in flight at once. */
const slabReadsAtOnce = 8;
/** Bytes of a buffer appended records are encoded into (a longer record gets its own). */
const runBufferBytes = 256 * 1024;
/** Slabs an image holds at most (2^32 slabs: far past any disk, and past a ref's offsets). */
const slabsMax = 2 ** 32 - 1;

/** The fields a commit sets (the generation and the space fields come from the file). */
export type CommitFields = Pick<ImageHeader, "coverageLsn" | "rootAddress" | "keyCount">;

/** Space use of the image, from the allocation table. */
export interface ImageSpace {
  /** Slabs in the table. */
  slabs: number;
  /** Slabs with no live or held record (reusable). */
  freeSlabs: number;
  /** Bytes of records the image uses (committed, plus appended by a running checkpoint). */
  liveBytes: number;
  /** Bytes of records only the image before the committed one uses (free after the next commit). */
  heldBytes: number;
  /** Bytes of non-free slabs that no live or held record uses: space lost to fragmentation. */
  deadBytes: number;
  /**
   * Bytes of the image file, as long as it is: a commit cuts it to the end of
   * its last slab's records, so after a crash it may hold bytes past them
   * (an uncommitted checkpoint's) until the next commit.
   */
  fileBytes: number;
}

/**
 * A node record longer than the image's slabs hold (only a geometry smaller
 * than the default can meet one: see `recordBytesMax`). A `RangeError`: the
 * data does not fit the file's limits.
 */
export class RecordTooLargeError extends RangeError {
  /** @param message What did not fit, and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "RecordTooLargeError";
  }
}

/** A run of buffered records that are contiguous in the file, encoded into `buffer`. */
interface Run {
  offset: number;
  buffer: Uint8Array;
  bytes: number;
}

/**
 * Where records may start in `slab`, from its start: past the header region
 * in the slabs it covers (only slab 0, but with slabs smaller than 8 KiB all
 * of the first ones, which then hold no record).
 */
function slabBase(slab: number, slabBytes: number): number {
  const start = slab * slabBytes;
  return start >= headerRegionBytes ? 0 : Math.min(slabBytes, headerRegionBytes - start);
}

/** An open image file. */
export class ImageFile {
  readonly #file: BlockFile;
  /** Bytes per slab: the file's geometry (see `allocation.ts`), fixed at its creation. */
  readonly #slabBytes: number;
  /** Table entries per chunk record, at most (the file's geometry). */
  readonly #chunkEntriesMax: number;
  /** The largest record a slab of this file holds. */
  readonly #recordBytesMax: number;
  /** Slabs the header region touches: the table always keeps them. */
  readonly #headerSlabs: number;
  #current: CurrentHeader;
  /** Per slab: bytes used from its start (appends continue there). */
  readonly #filled: number[];
  /** Per slab: bytes of records the committed image (plus a running checkpoint) uses. */
  readonly #live: number[];
  /** Per slab: bytes of records only the image before the committed one uses. */
  #held: number[];
  /** No slab below this index is free (a hint for placement). */
  #freeFrom = 0;
  /** The slab appends go to first, or -1. */
  #cursor = -1;
  /** Where the committed allocation table's chunks are, as [address, bytes] pairs. */
  #chunks: number[] = [];
  #runs: Run[] = [];
  #buffered = 0;
  /** A header slot written by a commit that failed before its fsync returned, or -1. */
  #uncertainSlot = -1;
  #lastAppendBytes = 0;
  /** The file's length as this process wrote or cut it (read at open). */
  #fileBytes = 0;
  /** Slabs read whole, by index, least recently used first (see {@link slabCacheSlabsMax}). */
  readonly #slabCache = new Map<number, Uint8Array>();
  /** Where {@link ImageFile.#cachedSlab} found a record (reused: no allocation per read). */
  readonly #found = { slab: 0, start: 0, end: 0 };
  /** Slab reads in flight, by index. */
  readonly #slabReads = new Map<number, Promise<Uint8Array | undefined>>();
  /** Per slab: bumped on every write into it, so a read that raced a write is not cached. */
  readonly #slabVersions = new Map<number, number>();
  /**
   * The coverage of the header in the other slot, if it is valid: the image
   * open falls back on if the current slot is ever unreadable (or if the
   * current slot's fsync failed and a power loss takes it back).
   */
  #fallbackCoverage: number | undefined;

  private constructor(file: BlockFile, current: CurrentHeader, table: AllocationChunk[]) {
    assert(current.header !== undefined, "an open image has a header (a new one its empty one)");
    this.#file = file;
    this.#slabBytes = current.header.slabBytes;
    this.#chunkEntriesMax = current.header.chunkEntriesMax;
    this.#recordBytesMax = recordBytesMax(current.header);
    this.#headerSlabs = Math.ceil(headerRegionBytes / this.#slabBytes);
    this.#current = current;
    this.#filled = [];
    this.#live = [];
    this.#held = [];
    for (const chunk of table) {
      assert(
        chunk.firstSlab === this.#filled.length || chunk.filled.length === 0,
        "table chunks are in slab order",
      );
      this.#filled.push(...chunk.filled);
      this.#live.push(...chunk.live);
      this.#held.push(...chunk.held);
    }
    const last = this.#filled.length - 1;
    if (last >= 0 && this.#live[last] > 0 && this.#filled[last] < this.#slabBytes) {
      this.#cursor = last;
    }
  }

  /**
   * Opens (creating if absent) the image file and reads its current header
   * and allocation table. A new file is durable with its directory entry
   * before this returns. A new image gets `geometry` (validated by the
   * caller: see `geometryProblem`); an existing one keeps the geometry its
   * header records.
   *
   * @throws {CorruptionError} if both header slots, or the table, are damaged.
   */
  static async open(
    storage: BlockStorage,
    geometry: ImageGeometry = defaultGeometry,
  ): Promise<ImageFile> {
    const names = await storage.list();
    return await ImageFile.#open(storage, imageFileName, names.includes(imageFileName), geometry);
  }

  /**
   * Removes a compacting file a crash left (see {@link compactingFileName}),
   * and fsyncs the directory. Call it only once the image and the WAL have
   * opened: a compaction is committed by its rename, and the segments the
   * new image covers are removed only after that rename is durable, so the
   * image and the log that opened hold everything the leftover holds. (Were
   * the open to fail, the leftover is kept: it may be the one readable
   * copy.) Returns its size, or undefined if there was none.
   */
  static async removeCompactingLeftover(storage: BlockStorage): Promise<number | undefined> {
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
   * Creates an empty image file named {@link compactingFileName} (replacing
   * one a crash left) with `geometry`, for a compaction: commit it with
   * {@link ImageFile.commitWhole}, then rename it over the image.
   */
  static async createCompacting(
    storage: BlockStorage,
    geometry: ImageGeometry = defaultGeometry,
  ): Promise<ImageFile> {
    if ((await storage.list()).includes(compactingFileName)) {
      await storage.remove(compactingFileName);
    }
    return await ImageFile.#open(storage, compactingFileName, false, geometry);
  }

  static async #open(
    storage: BlockStorage,
    name: string,
    existed: boolean,
    geometry: ImageGeometry,
  ): Promise<ImageFile> {
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
      if (current.header === undefined) current = await initialise(file, geometry);
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
      const image = new ImageFile(file, current, table);
      image.#chunks = chunks;
      image.#fileBytes = await file.size();
      const other = decodeHeaderSlot(slots[1 - current.slot]);
      image.#fallbackCoverage = typeof other === "object" ? other.coverageLsn : undefined;
      return image;
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** The committed header, or undefined for an image never committed. */
  get header(): ImageHeader | undefined {
    return this.#current.header;
  }

  /**
   * Reads both header slots from disk again and describes them (see
   * `describeSlots`): the current one must read back as the header in use,
   * the other should be a usable fallback. `logFirstLsn` is the lowest LSN
   * the WAL still holds (a fallback must not need records below it).
   */
  async checkSlots(logFirstLsn: number): Promise<HeaderSlotsCheck> {
    const slots = await readSlots(this.#file);
    return describeSlots(imageFileName, this.#current, slots, logFirstLsn);
  }

  /** How the file cuts its space (recorded in its header when it was created). */
  get geometry(): ImageGeometry {
    return { slabBytes: this.#slabBytes, chunkEntriesMax: this.#chunkEntriesMax };
  }

  /** Space use from the allocation table. */
  space(): ImageSpace {
    let liveBytes = 0;
    let heldBytes = 0;
    let deadBytes = 0;
    let freeSlabs = 0;
    for (let slab = 0; slab < this.#filled.length; slab++) {
      liveBytes += this.#live[slab];
      heldBytes += this.#held[slab];
      const base = slabBase(slab, this.#slabBytes);
      if (this.#isFree(slab)) freeSlabs += base < this.#slabBytes ? 1 : 0; // not a header's whole slab
      else deadBytes += this.#filled[slab] - base - this.#live[slab] - this.#held[slab];
    }
    assert(deadBytes >= 0 && liveBytes >= 0, "space counts are not negative");
    const fileBytes = this.#fileBytes;
    return { slabs: this.#filled.length, freeSlabs, liveBytes, heldBytes, deadBytes, fileBytes };
  }

  /** Where the slabs the table describes end: the file needs no byte past it. */
  #spanBytes(): number {
    const last = this.#filled.length - 1;
    return last < 0 ? headerRegionBytes : last * this.#slabBytes + this.#filled[last];
  }

  /**
   * Compares the committed allocation table, read again from disk, with the
   * live node bytes per slab that a walk of the committed image found (the
   * table's own chunks added). Returns one line per disagreeing slab.
   *
   * @throws {CorruptionError} if the table on disk is damaged.
   */
  async checkLive(nodeBytesBySlab: ReadonlyMap<number, number>): Promise<string[]> {
    const { table, chunks } = await readTable(this.#file, this.#current.header);
    const live = table.flatMap((chunk) => chunk.live);
    const expected = new Map(nodeBytesBySlab);
    for (let index = 0; index < chunks.length; index += 2) {
      const slab = Math.floor(chunks[index] / this.#slabBytes);
      expected.set(slab, (expected.get(slab) ?? 0) + chunks[index + 1]);
    }
    const problems: string[] = [];
    const slabs = Math.max(live.length, ...[...expected.keys()].map((slab) => slab + 1));
    for (let slab = 0; slab < slabs; slab++) {
      const counted = live[slab] ?? 0;
      const found = expected.get(slab) ?? 0;
      if (counted !== found) {
        problems.push(
          `${imageFileName}: slab ${slab} (offset ${
            slab * this.#slabBytes
          }): the allocation table ` +
            `counts ${counted} live bytes, the records in use hold ${found}`,
        );
      }
    }
    return problems;
  }

  /**
   * Places a node record and buffers it, returning its ref at once, so a
   * synchronous walk can give parents their children's refs. A leaf the
   * image stores inline (see `storedInline`) gets {@link inlineLeafRef} and
   * no record, unless it is the `root`. Call {@link ImageFile.flush} whenever
   * {@link ImageFile.buffered} grows large; durable only after
   * {@link ImageFile.commit}.
   */
  append(node: NodeImage, root = false): number {
    if (!root && storedInline(node)) {
      this.#lastAppendBytes = 0;
      return inlineLeafRef;
    }
    const length = nodeRecordBytes(node);
    if (length > this.#recordBytesMax) {
      // Only a geometry smaller than the default can meet this (the simulator's).
      throw new RecordTooLargeError(
        `Cannot write a node record of ${length} bytes: this image's ${this.#slabBytes}-byte ` +
          `slabs hold records of at most ${this.#recordBytesMax} bytes; create the image with ` +
          `larger slabs`,
      );
    }
    const offset = this.#place(length);
    const run = this.#runFor(offset, length);
    const written = encodeNodeRecordInto(node, run.buffer, run.bytes);
    assert(written === length, "a record is as long as measured");
    run.bytes += length;
    this.#buffered += length;
    this.#lastAppendBytes = length;
    return recordRef(offset, length);
  }

  /** The size of the record the last {@link ImageFile.append} placed. */
  get lastAppendBytes(): number {
    return this.#lastAppendBytes;
  }

  /** Bytes appended but not yet written. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Writes the buffered records (not durable until the commit). */
  async flush(): Promise<void> {
    const runs = this.#runs;
    this.#runs = [];
    this.#buffered = 0;
    for (const run of runs) {
      await this.#file.write(run.offset, run.buffer.subarray(0, run.bytes));
      this.#fileBytes = Math.max(this.#fileBytes, run.offset + run.bytes);
      // A cached copy (or a read racing the write) predates these records,
      // and a reused free slab's copy may hold an older record at the same
      // offset: drop it. Until the commit no stub names the new records.
      this.#forgetSlabs(run.offset, run.bytes);
    }
  }

  /** Drops the cached copies of the slabs `[offset, offset + bytes)` touches. */
  #forgetSlabs(offset: number, bytes: number): void {
    const last = Math.floor((offset + bytes - 1) / this.#slabBytes);
    for (let slab = Math.floor(offset / this.#slabBytes); slab <= last; slab++) {
      this.#slabCache.delete(slab);
      this.#slabVersions.set(slab, (this.#slabVersions.get(slab) ?? 0) + 1);
    }
  }

  /**
   * The node `ref` names, if its slab is cached and the record checks out;
   * undefined otherwise (then {@link ImageFile.load} reads it). Synchronous,
   * so a read of a trie whose slabs are cached never waits.
   */
  readCached(ref: number): NodeImage | undefined {
    const cached = this.#cachedSlab(ref);
    if (cached === undefined) return undefined;
    const { slab, start, end } = this.#found;
    const decoded = decodeNodeRecord(cached.subarray(start, end));
    if (typeof decoded === "string") {
      this.#slabCache.delete(slab); // perhaps a flipped bit in the read: read again
      return undefined;
    }
    // Least recently used first: move the slab to the end.
    this.#slabCache.delete(slab);
    this.#slabCache.set(slab, cached);
    return decoded;
  }

  /**
   * Decodes the record `ref` names from its cached slab into `out`, whose
   * offsets then point into the returned slab bytes; undefined if the slab
   * is not cached or the record fails its checks (the slab is then dropped,
   * so a load reads it again, with the usual retries). The bulk load's read:
   * no allocation per record, and the least-recently-used order untouched.
   */
  cachedFields(ref: number, out: RecordFields): Uint8Array | undefined {
    const cached = this.#cachedSlab(ref);
    if (cached === undefined) return undefined;
    const { slab, start, end } = this.#found;
    if (decodeRecordFields(cached, start, end, out) === undefined) return cached;
    this.#slabCache.delete(slab); // perhaps a flipped bit in the read: read again
    return undefined;
  }

  /**
   * The cached slab holding the whole record `ref` names, or undefined;
   * the slab's index and the record's range in it go to `#found`.
   */
  #cachedSlab(ref: number): Uint8Array | undefined {
    if (ref <= inlineLeafRef || refOffset(ref) < headerRegionBytes) return undefined;
    const offset = refOffset(ref);
    const slabBytes = this.#slabBytes;
    const slab = Math.floor(offset / slabBytes);
    const cached = this.#slabCache.get(slab);
    if (cached === undefined) return undefined;
    const found = this.#found;
    found.slab = slab;
    found.start = offset - slab * slabBytes;
    found.end = found.start + refLength(ref);
    assert(found.start >= slabBase(slab, slabBytes), "a record lies past its slab's base");
    return found.end > cached.length ? undefined : cached;
  }

  /**
   * Reads every slab that holds live records into the slab cache, if they
   * all fit it ({@link slabCacheSlabsMax}): the first step of loading the
   * whole image at open. False, reading nothing, if they do not fit. A
   * failed read leaves its slab uncached (its records load later, with the
   * usual retries).
   */
  /** Whether every slab holding live records fits the slab cache (a whole load's bound). */
  get liveFitsSlabCache(): boolean {
    let slabs = 0;
    for (let slab = 0; slab < this.#filled.length; slab++) if (this.#live[slab] > 0) slabs++;
    return slabs <= slabCacheSlabsMax;
  }

  async cacheAll(): Promise<boolean> {
    const slabs: number[] = [];
    for (let slab = 0; slab < this.#filled.length; slab++) {
      if (this.#live[slab] > 0 && !this.#slabCache.has(slab)) slabs.push(slab);
    }
    if (slabs.length + this.#slabCache.size > slabCacheSlabsMax) return false;
    for (let first = 0; first < slabs.length; first += slabReadsAtOnce) {
      const wave = slabs.slice(first, first + slabReadsAtOnce);
      await Promise.all(wave.map((slab) => this.#readSlab(slab)));
    }
    assert(this.#slabCache.size <= slabCacheSlabsMax, "the slab cache is bounded");
    return true;
  }

  /** Forgets every cached slab: once the trie is loaded whole, no load needs them. */
  dropCache(): void {
    this.#slabCache.clear();
  }

  /**
   * Loads the node `ref` names: from the cached slab, else by reading its
   * whole slab (and caching it), else (a failed or damaged slab read) by
   * {@link ImageFile.read}, which retries before it reports damage.
   */
  async load(ref: number): Promise<NodeImage> {
    const cached = this.readCached(ref);
    if (cached !== undefined) return cached;
    if (ref > inlineLeafRef && refOffset(ref) >= headerRegionBytes) {
      await this.#readSlab(Math.floor(refOffset(ref) / this.#slabBytes));
      const read = this.readCached(ref);
      if (read !== undefined) return read;
    }
    return await this.read(ref);
  }

  /** Reads slab `slab` whole into the cache (once, however many ask); failures are not cached. */
  #readSlab(slab: number): Promise<Uint8Array | undefined> {
    let reading = this.#slabReads.get(slab);
    if (reading === undefined) {
      const version = this.#slabVersions.get(slab) ?? 0;
      const end = Math.min(this.#filled[slab] ?? 0, this.#slabBytes);
      reading = this.#file.read(slab * this.#slabBytes, end).then((bytes) => {
        if ((this.#slabVersions.get(slab) ?? 0) !== version) return undefined;
        this.#slabCache.set(slab, bytes);
        for (const oldest of this.#slabCache.keys()) {
          if (this.#slabCache.size <= slabCacheSlabsMax) break;
          this.#slabCache.delete(oldest);
        }
        assert(this.#slabCache.size <= slabCacheSlabsMax, "the slab cache is bounded");
        return bytes;
      }, () => undefined).finally(() => this.#slabReads.delete(slab));
      this.#slabReads.set(slab, reading);
    }
    return reading;
  }

  /**
   * Writes the allocation table, makes everything appended durable, then
   * commits a header (with the next generation) into the other slot and
   * fsyncs it: the commit point. `frees` lists the refs of the records of
   * the committed image the new one no longer uses. Returns the committed
   * header.
   */
  async commit(fields: CommitFields, frees: readonly number[]): Promise<ImageHeader> {
    assert(
      (fields.rootAddress === 0) === (fields.keyCount === 0),
      "only an empty image has no root",
    );
    const oldChunks = this.#chunks;
    const placed = this.#placeTable();
    this.#retire(frees, oldChunks);
    this.#dropFreeTail();
    const allocationAddress = this.#writeTable(placed);
    await this.flush();
    await this.#file.sync();
    const header: ImageHeader = {
      ...fields,
      generation: (this.#current.header?.generation ?? 0) + 1,
      pageCount: this.#filled.length,
      allocationAddress,
      deadBytes: this.space().deadBytes,
      slabBytes: this.#slabBytes,
      chunkEntriesMax: this.#chunkEntriesMax,
    };
    const slot = nextSlot(this.#current);
    this.#uncertainSlot = slot;

    await this.#file.write(headerSlotOffsets[slot], encodeHeaderSlot(header));
    await this.#file.sync();
    this.#uncertainSlot = -1;
    this.#fallbackCoverage = this.#current.header?.coverageLsn;
    this.#current = { header, slot };
    const span = this.#spanBytes();
    if (this.#fileBytes > span) {
      // The file shrinks to the end of its last slab's records (not fsynced:
      // bytes past the table's slabs, or past a slab's filled mark, are free
      // anyway if the old length comes back).
      await this.#file.truncate(span);
      this.#fileBytes = span;
    }
    return header;
  }

  /**
   * Commits a file written from empty by a compaction: the table, an fsync,
   * then the same header in both slots (generations `generation` and
   * `generation + 1`) and an fsync. With both slots alike, damage to either
   * falls back to the same image, so no older WAL is needed. The file is not
   * the store's image until renamed over it (the caller's commit point).
   */
  async commitWhole(fields: CommitFields, generation: number): Promise<ImageHeader> {
    assert(this.#current.header?.generation === 0, "a compaction writes into a fresh file");
    assert(this.#chunks.length === 0, "a fresh file has no table yet");
    const placed = this.#placeTable();
    const allocationAddress = this.#writeTable(placed);
    await this.flush();
    await this.#file.sync();
    const header: ImageHeader = {
      ...fields,
      generation,
      pageCount: this.#filled.length,
      allocationAddress,
      deadBytes: this.space().deadBytes,
      slabBytes: this.#slabBytes,
      chunkEntriesMax: this.#chunkEntriesMax,
    };
    const slotB = encodeHeaderSlot(header);
    await this.#file.write(headerSlotOffsets[1], slotB);
    header.generation = generation + 1;
    const slotA = encodeHeaderSlot(header);
    await this.#file.write(headerSlotOffsets[0], slotA);
    await this.#file.sync();
    // Read back before the rename makes this file the image: a write the
    // disk misplaced must fail the compaction, not replace a good image.
    // Both slots, exactly: slot B holding the empty header of the new file
    // (its write lost) would be a fallback with no records and coverage 0,
    // while the whole covered WAL goes with the rename.
    const slots = await readSlots(this.#file);
    if (!equalBytes(slots[0], slotA) || !equalBytes(slots[1], slotB)) {
      throw new StorageIoError(
        `Cannot compact: the new image's headers did not read back as written; ` +
          `the image is unchanged`,
      );
    }
    this.#current = { header, slot: 0 };
    this.#fallbackCoverage = header.coverageLsn;
    return header;
  }

  /**
   * The LSN at or below which no WAL record is needed: the lower of the two
   * header slots' coverages (a slot that is not a valid header does not
   * count). Reclaiming only up to here keeps the log the older slot needs
   * if the newer one is lost, whether to damage or to a header whose fsync
   * failed in an earlier life of the store (a close could not blank it).
   */
  get reclaimableLsn(): number {
    const coverage = this.#current.header?.coverageLsn ?? 0;
    return Math.min(coverage, this.#fallbackCoverage ?? coverage);
  }

  /**
   * Whether the other header slot holds a valid header with the current
   * coverage, so that losing the current slot loses nothing (a close commits
   * the image again until it does).
   */
  get slotsAgree(): boolean {
    const coverage = this.#current.header?.coverageLsn;
    return coverage !== undefined && this.#fallbackCoverage === coverage;
  }

  /** Forgets free slabs at the end of the file, so the file can shrink (never into the header). */
  #dropFreeTail(): void {
    while (this.#filled.length > this.#headerSlabs && this.#isFree(this.#filled.length - 1)) {
      this.#filled.pop();
      this.#live.pop();
      this.#held.pop();
    }
    if (this.#cursor >= this.#filled.length) this.#cursor = -1;
    assert(this.#filled.length >= 1, "slab 0 (the header's) is always in the table");
  }

  /** Reserves room for the table's chunks (before any free: freed slabs are still in use). */
  #placeTable(): number[] {
    // Placing chunks may add slabs; reserve for a few more entries than now
    // (and, in a new table, for the header region's whole slabs too).
    const perChunk = this.#chunkEntriesMax;
    const slabs = this.#filled.length;
    const headerSlabsToAdd = Math.max(0, this.#headerSlabs - Math.max(slabs, 1));
    const entries = slabs + Math.ceil(slabs / perChunk) + 2 + headerSlabsToAdd;
    const addresses: number[] = [];
    for (let first = 0; first < entries; first += perChunk) {
      const reserved = chunkBytes(Math.min(perChunk, entries - first));
      addresses.push(this.#place(reserved), reserved);
    }
    assert(this.#filled.length <= entries, "the reserved table covers every slab");
    this.#chunks = addresses;
    return addresses;
  }

  /**
   * Encodes the table into the reserved chunks, as many as its slabs need
   * (the reservation was made before the free tail went); returns the first
   * chunk's address.
   */
  #writeTable(placed: number[]): number {
    const ranges = tableChunkRanges(this.#filled.length, this.#chunkEntriesMax);
    assert(ranges.length <= placed.length / 2, "the reservation has a chunk for every range");
    for (let index = 0; index < placed.length; index += 2) {
      const [first, end] = ranges[index / 2] ?? [0, 0];
      // The reservation allowed for more slabs than there are: give back the rest
      // (a chunk no range needs, whole).
      const reserved = placed[index + 1];
      const actual = index / 2 < ranges.length ? chunkBytes(end - first) : 0;
      assert(actual <= reserved, "a chunk fits its reservation");
      this.#live[Math.floor(placed[index] / this.#slabBytes)] -= reserved - actual;
      this.#chunks[index + 1] = actual;
    }
    this.#chunks.length = 2 * ranges.length;
    for (const [index, [first, end]] of ranges.entries()) {
      const record = encodeChunk({
        firstSlab: first,
        filled: this.#filled.slice(first, end),
        live: this.#live.slice(first, end),
        held: this.#held.slice(first, end),
        next: index + 1 < ranges.length ? placed[2 * index + 2] : 0,
      });
      assert(record.length === this.#chunks[2 * index + 1], "a chunk has the size accounted");
      this.#buffer(placed[2 * index], record);
    }
    return placed[0];
  }

  /**
   * The records the new image no longer uses leave `live` for `held`; what
   * was held for the image before the committed one is released. A slab
   * with nothing live or held becomes free (its space is reused from the
   * start).
   */
  #retire(refs: readonly number[], chunks: readonly number[]): void {
    assert(chunks.length % 2 === 0, "chunks come in address and size pairs");
    const held = new Array<number>(this.#live.length).fill(0);
    const release = (offset: number, bytes: number): void => {
      const slab = Math.floor(offset / this.#slabBytes);
      assert(slab < this.#live.length, `a freed record at ${offset} lies in a known slab`);
      this.#live[slab] -= bytes;
      held[slab] += bytes;
      assert(this.#live[slab] >= 0, `slab ${slab} freed more than it held`);
    };
    for (const ref of refs) {
      assert(ref !== inlineLeafRef, "an inline leaf has no record to free");
      release(refOffset(ref), refLength(ref));
    }
    for (let index = 0; index < chunks.length; index += 2) {
      release(chunks[index], chunks[index + 1]);
    }
    this.#held = held;
    for (let slab = 0; slab < this.#live.length; slab++) {
      if (this.#isFree(slab)) this.#filled[slab] = slabBase(slab, this.#slabBytes);
    }
    this.#freeFrom = 0;
  }

  #isFree(slab: number): boolean {
    return this.#live[slab] === 0 && this.#held[slab] === 0;
  }

  /**
   * Finds room for `bytes` in the cursor slab, a free slab or a new one, and
   * claims it. A free or new slab may still lack the room: the header
   * region's (slab 0's rest, or none), so the search goes on past it.
   */
  #place(bytes: number): number {
    const slabBytes = this.#slabBytes;
    assert(bytes > 0 && bytes <= this.#recordBytesMax, "a record fits a slab past the header");
    let slab = this.#cursor;
    for (let tries = 0; slab < 0 || this.#filled[slab] + bytes > slabBytes; tries++) {
      // Each try takes a free slab past the last, or a new one: a header slab at most once.
      assert(tries <= this.#filled.length + this.#headerSlabs, "a slab with room is found");
      slab = this.#nextFreeSlab();
      if (slab < 0) {
        assert(this.#filled.length < slabsMax, "the image has room for another slab");
        slab = this.#filled.length;
        this.#filled.push(slabBase(slab, slabBytes));
        this.#live.push(0);
        this.#held.push(0);
      }
      this.#cursor = slab;
    }
    const address = slab * slabBytes + this.#filled[slab];
    this.#filled[slab] += bytes;
    this.#live[slab] += bytes;
    assert(this.#filled[slab] <= slabBytes, "a record never crosses a slab");
    return address;
  }

  /** The lowest free slab other than the cursor's, or -1. */
  #nextFreeSlab(): number {
    for (let slab = this.#freeFrom; slab < this.#live.length; slab++) {
      if (this.#isFree(slab) && slab !== this.#cursor) {
        this.#freeFrom = slab + 1;
        return slab;
      }
    }
    this.#freeFrom = this.#live.length;
    return -1;
  }

  #buffer(address: number, record: Uint8Array): void {
    const run = this.#runFor(address, record.length);
    run.buffer.set(record, run.bytes);
    run.bytes += record.length;
    this.#buffered += record.length;
  }

  /** The run that continues at `offset` with room for `bytes` more, started if need be. */
  #runFor(offset: number, bytes: number): Run {
    const run = this.#runs.at(-1);
    if (
      run !== undefined && run.offset + run.bytes === offset &&
      run.bytes + bytes <= run.buffer.length
    ) return run;
    const started = {
      offset,
      buffer: new Uint8Array(Math.max(bytes, runBufferBytes)),
      bytes: 0,
    };
    this.#runs.push(started);
    return started;
  }

  /**
   * Reads the node record `ref` names. A failed check or a failed read is
   * tried again (a transient read fault is not damage).
   *
   * @throws {CorruptionError} naming the file and offset if the record is damaged.
   * @throws {StorageIoError} if every read failed.
   */
  async read(ref: number): Promise<NodeImage> {
    if (!Number.isSafeInteger(ref) || ref <= inlineLeafRef || refOffset(ref) < headerRegionBytes) {
      throw new CorruptionError(
        imageFileName,
        headerSlotOffsets[0],
        `a node record reference ${ref} points into the header region`,
      );
    }
    const offset = refOffset(ref);
    let problem = "record was not read";
    let failure: StorageIoError | undefined;
    for (let reads = 0; reads < recordReadsMax; reads++) {
      let bytes: Uint8Array;
      try {
        bytes = await this.#file.read(offset, refLength(ref));
      } catch (error) {
        // A failed read may be transient: try again, and report it only if every try fails.
        if (!(error instanceof StorageIoError)) throw error;
        failure = error;
        continue;
      }
      const decoded = decodeNodeRecord(bytes);
      if (typeof decoded === "object") return decoded;
      problem = decoded;
      failure = undefined;
    }
    if (failure !== undefined) throw failure;
    throw new CorruptionError(imageFileName, offset, `node record: ${problem}`);
  }

  /**
   * Releases the file handle. Appended records not committed are abandoned.
   * A header written by a commit whose fsync failed is blanked first (best
   * effort): the page cache may show it while the disk never got it, and a
   * reopen on this machine must not trust it (and so drop WAL segments a
   * power loss would show it still needs). Open then takes the other slot.
   */
  async close(): Promise<void> {
    this.#runs = [];
    this.#buffered = 0;
    try {
      if (this.#uncertainSlot >= 0) {
        await this.#file.write(
          headerSlotOffsets[this.#uncertainSlot],
          new Uint8Array(headerSlotBytes),
        );
        await this.#file.sync();
      }
    } catch {
      // The open after a power loss finds the old header or the new one, both whole.
    } finally {
      await this.#file.close();
    }
  }
}

/**
 * Reads both header slots, reading a damaged one again (up to
 * {@link headerReadsMax} reads) so a transient read fault never makes open
 * take the older image.
 */
async function readSlots(file: BlockFile): Promise<Uint8Array[]> {
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

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

function isDamaged(slot: Uint8Array): boolean {
  return !isBlank(slot) && typeof decodeHeaderSlot(slot) === "string";
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
 * The slabs each chunk of a table of `slabs` slabs describes, as
 * `[first, end)` ranges of `perChunk` slabs (the last one shorter), in
 * order: as many chunks as the slabs need, never an empty one (a table
 * always has slab 0). A chain longer than that would fail the bound that
 * {@link readTable} puts on it.
 */
export function tableChunkRanges(slabs: number, perChunk: number): [first: number, end: number][] {
  assert(slabs >= 1 && perChunk >= 1, "a table has slab 0, a chunk at least one entry");
  const ranges: [first: number, end: number][] = [];
  for (let first = 0; first < slabs; first += perChunk) {
    ranges.push([first, Math.min(slabs, first + perChunk)]);
  }
  assert(ranges.length === Math.ceil(slabs / perChunk), "one chunk per perChunk slabs");
  return ranges;
}

/**
 * Empty chunks a table's chain may hold at most. The writer before
 * {@link tableChunkRanges} chained every chunk it had reserved, so a table
 * whose reservation outgrew it (by 2 slabs and one a chunk, or by a whole
 * free tail dropped at that commit) ended in empty ones: up to one per
 * 8,192 slabs of the file's largest size (2^32 slabs: 2^19 chunks).
 */
const emptyChunksMax = 2 ** 20;

/** Reads the allocation table a header points to (re-reading before damage counts). */
async function readTable(
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
