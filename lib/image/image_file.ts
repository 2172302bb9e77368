/**
 * The image file: node records written by checkpoints behind the two header
 * slots, in slabs tracked by the allocation table (see `allocation.ts`). This
 * layer places and appends records, commits a header and reads records back
 * by address; deciding what to write (the changed nodes of a captured trie)
 * and which records died belongs to the checkpoint above it.
 *
 * Commit protocol (what each crash point leaves):
 * 0. once a process's life, if open found the other header slot damaged,
 *    or holding a valid header of another generation than the previous
 *    commit's, that slot is blanked and the file fsynced before anything
 *    else is written (see `#blankOtherSlot`) — a crash leaves the slot as
 *    it was (nothing was reused yet) or blank;
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
 * This file keeps the protocol, the header slots and the buffered appends;
 * the parts it is made of sit beside it: `_slab_table.ts` (the allocation
 * table in memory and where records go: step 1's promise), `_slab_cache.ts`
 * (reading records back by address through a cache of slabs), `_open.ts`
 * (opening a file, its header slots, its geometry and its table).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import type { BlockFile, BlockStorage } from "../storage/block_storage.ts";
import { defaultGeometry, type ImageGeometry } from "./allocation.ts";
import {
  type CurrentHeader,
  describeSlots,
  encodeHeaderSlot,
  headerSlotBytes,
  headerSlotOffsets,
  type HeaderSlotsCheck,
  type ImageHeader,
  nextSlot,
} from "./header.ts";
import {
  decodeNodeRecord,
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
import {
  compactingFileName,
  imageFileName,
  type OpenedImage,
  openImage,
  readSlots,
  readTable,
  removeCompactingFile,
} from "./_open.ts";
import { SlabCache } from "./_slab_cache.ts";
import type { ImageSpace, SlabTable } from "./_slab_table.ts";

export { compactingFileName, imageFileName } from "./_open.ts";
export { slabCacheSlabsMax } from "./_slab_cache.ts";
export { type ImageSpace, tableChunkRanges } from "./_slab_table.ts";

/** Bytes of a buffer appended records are encoded into (a longer record gets its own). */
const runBufferBytes = 256 * 1024;

/**
 * The fields a commit sets (the generation and the space fields come from
 * the file). `valueCeiling` must bound every count of the image committed
 * (the trie's `valueCeiling` at its capture); absent or Infinity when
 * unknown, and then the header records none (an unbounded image is slower
 * to count into when opened lazily, never wrong).
 */
export type CommitFields = Pick<ImageHeader, "coverageLsn" | "rootAddress" | "keyCount"> & {
  valueCeiling?: number;
};

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

/** What the store knows beside the image file, for {@link ImageFile.open}. */
export interface ImageOpenOptions {
  /** The first LSN the store's log holds, read from the directory's file names; undefined: no log. */
  logFirstLsn?: (names: readonly string[]) => number | undefined;
}

/** An open image file. */
export class ImageFile {
  readonly #file: BlockFile;
  /** The allocation table, and where appended records go. */
  readonly #table: SlabTable;
  /** Slabs read whole, and the reads of records by address. */
  readonly #cache: SlabCache;
  #current: CurrentHeader;
  #runs: Run[] = [];
  /** Runs {@link ImageFile.flush} is writing now (a read of an appended record finds them here). */
  #writing: Run[] = [];
  #buffered = 0;
  /** A header slot written by a commit that failed before its fsync returned, or -1. */
  #uncertainSlot = -1;
  #lastAppendBytes = 0;
  /** The file's length as this process wrote or cut it (read at open). */
  #fileBytes: number;
  /**
   * The coverage of the header in the other slot, if it is valid: the image
   * open falls back on if the current slot is ever unreadable (or if the
   * current slot's fsync failed and a power loss takes it back).
   */
  #fallbackCoverage: number | undefined;
  /**
   * The other header slot, if open found it damaged or stale (see
   * `OpenedImage.blankOther`) and no write of this process went into the
   * file since, else -1: see {@link ImageFile.flush}.
   */
  #slotToBlank = -1;

  private constructor(opened: OpenedImage) {
    const { file, current, table } = opened;
    assert(current.header !== undefined, "an open image has a header (a new one its empty one)");
    assert(
      table.slabBytes === current.header.slabBytes &&
        table.chunkEntriesMax === current.header.chunkEntriesMax,
      "the table has the header's geometry",
    );
    this.#file = file;
    this.#table = table;
    this.#cache = new SlabCache(file, table);
    this.#current = current;
    this.#fileBytes = opened.fileBytes;
    this.#fallbackCoverage = opened.fallbackCoverage;
    if (opened.blankOther !== undefined) this.#slotToBlank = 1 - current.slot;
  }

  /**
   * Opens (creating if absent) the image file and reads its current header
   * and allocation table. A new file is durable with its directory entry
   * before this returns. A new image gets `geometry` (validated by the
   * caller: see `geometryProblem`); an existing one keeps the geometry its
   * header records.
   *
   * `options.logFirstLsn` reads the first LSN the store's log holds from
   * the directory's names (undefined: no log): header slots that read as a
   * new image's (one blank, the other damaged) are one only beside a log
   * that starts at record 1; else the damaged slot is reported. Without it,
   * such slots read as a new image's.
   *
   * @throws {CorruptionError} if both header slots, or the table, are damaged.
   */
  static async open(
    storage: BlockStorage,
    geometry: ImageGeometry = defaultGeometry,
    options: ImageOpenOptions = {},
  ): Promise<ImageFile> {
    const names = await storage.list();
    const existed = names.includes(imageFileName);
    const logFirstLsn = options.logFirstLsn?.(names);
    return new ImageFile(
      await openImage(storage, imageFileName, { existed, geometry, logFirstLsn }),
    );
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
    return await removeCompactingFile(storage);
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
    const existed = false;
    return new ImageFile(await openImage(storage, compactingFileName, { existed, geometry }));
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
    return { slabBytes: this.#table.slabBytes, chunkEntriesMax: this.#table.chunkEntriesMax };
  }

  /** Space use from the allocation table. */
  space(): ImageSpace {
    return this.#table.space(this.#fileBytes);
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
    const slabBytes = this.#table.slabBytes;
    const live = table.flatMap((chunk) => chunk.live);
    const expected = new Map(nodeBytesBySlab);
    for (let index = 0; index < chunks.length; index += 2) {
      const slab = Math.floor(chunks[index] / slabBytes);
      expected.set(slab, (expected.get(slab) ?? 0) + chunks[index + 1]);
    }
    const problems: string[] = [];
    const slabs = Math.max(live.length, ...[...expected.keys()].map((slab) => slab + 1));
    for (let slab = 0; slab < slabs; slab++) {
      const counted = live[slab] ?? 0;
      const found = expected.get(slab) ?? 0;
      if (counted !== found) {
        problems.push(
          `${imageFileName}: slab ${slab} (offset ${slab * slabBytes}): the allocation table ` +
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
    const table = this.#table;
    if (length > table.recordBytesMax) {
      // Only a geometry smaller than the default can meet this (the simulator's).
      throw new RecordTooLargeError(
        `Cannot write a node record of ${length} bytes: this image's ${table.slabBytes}-byte ` +
          `slabs hold records of at most ${table.recordBytesMax} bytes; create the image with ` +
          `larger slabs`,
      );
    }
    const offset = table.place(length);
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

  /**
   * Writes the buffered records (not durable until the commit). The first
   * write into a file whose other header slot open found damaged or stale
   * blanks that slot and fsyncs first (see `#blankOtherSlot`).
   */
  async flush(): Promise<void> {
    if (this.#slotToBlank >= 0) await this.#blankOtherSlot();
    const runs = this.#runs;
    this.#runs = [];
    this.#buffered = 0;
    this.#writing.push(...runs);
    for (const run of runs) {
      await this.#file.write(run.offset, run.buffer.subarray(0, run.bytes));
      this.#fileBytes = Math.max(this.#fileBytes, run.offset + run.bytes);
      // A cached copy (or a read racing the write) predates these records,
      // and a reused free slab's copy may hold an older record at the same
      // offset: drop it. Until the commit no stub names the new records
      // (but a compaction's fresh addresses: see `readAppended`).
      this.#cache.forget(run.offset, run.bytes);
      this.#writing.splice(this.#writing.indexOf(run), 1);
    }
  }

  /**
   * Reads a record this process appended to this file and has not
   * committed (a streaming compaction's, whose fresh addresses readers
   * fault in before the commit): from the buffered runs or those being
   * written, else from the file (as {@link ImageFile.read}). Checked as
   * any record read.
   *
   * @throws {CorruptionError} naming the file and offset if the record is damaged.
   * @throws {StorageIoError} if every read failed.
   */
  async readAppended(ref: number): Promise<NodeImage> {
    const offset = refOffset(ref);
    const length = refLength(ref);
    for (const run of [...this.#runs, ...this.#writing]) {
      if (offset < run.offset || offset + length > run.offset + run.bytes) continue;
      const at = offset - run.offset;
      // A copy: the node's views must outlive the run's buffer.
      const decoded = decodeNodeRecord(run.buffer.slice(at, at + length));
      if (typeof decoded === "string") {
        throw new CorruptionError(compactingFileName, offset, `appended node record: ${decoded}`);
      }
      return decoded;
    }
    return await this.#cache.read(ref);
  }

  /**
   * Gives up the records appended at `[start, end)` (a streaming
   * compaction's copy of a subtree a reader loaded meanwhile): they stay
   * in the file but count as dead. Only for a file being written from
   * empty (no free slab to reuse), where nothing else was placed between.
   */
  abandonAppended(start: number, end: number): void {
    assert(this.#current.header?.generation === 0, "only a compaction's new file abandons");
    this.#table.abandon(start, end);
  }

  /**
   * Blanks the header slot open found damaged or stale, durably, before
   * anything is written into the file. Open took the other slot, whose
   * table protects its own records and the previous commit's only, so the
   * first checkpoint may write over what the slot's header names.
   *
   * A damaged slot may be a whole header with a byte changed among the
   * zeros between its first and last sector (damage at rest, a lost slot),
   * and the commit's header write into it can be torn: the sector it brings
   * puts those zeros back, the sectors it leaves hold the old fields and
   * checksum, and the old header is valid again, newer than the slot open
   * took, naming records the checkpoint wrote over (n-gram simulator seed
   * 960112). A stale slot is valid already: an older header than the
   * previous commit's (the disk dropped a header write into it), whose
   * records the commits since could reuse, and the next can; a crash that
   * loses the current slot (or the commit's header write into this one, and
   * then the current slot) makes it current, over records written since
   * (simulator seed 242). A blank slot, durable first, leaves nothing to
   * fall back on but the log, and nothing for a torn write to bring back.
   */
  async #blankOtherSlot(): Promise<void> {
    const slot = this.#slotToBlank;
    assert(slot === nextSlot(this.#current), "the slot to blank is the one the next commit writes");
    await this.#file.write(headerSlotOffsets[slot], new Uint8Array(headerSlotBytes));
    await this.#file.sync();
    this.#slotToBlank = -1;
    this.#fallbackCoverage = undefined;
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
  read(ref: number): Promise<NodeImage> {
    return this.#cache.read(ref);
  }

  /**
   * The node `ref` names, if its slab is cached and the record checks out;
   * undefined otherwise (then {@link ImageFile.load} reads it). Synchronous,
   * so a read of a trie whose slabs are cached never waits.
   */
  readCached(ref: number): NodeImage | undefined {
    return this.#cache.readCached(ref);
  }

  /**
   * The node `ref` names without an await, or undefined if it needs one
   * (see `SlabCache.readNow`): from a cached slab, or the record alone when
   * the storage reads at once and the live records do not fit the cache.
   * Its bytes are valid until the next call.
   */
  readNow(ref: number): NodeImage | undefined {
    return this.#cache.readNow(ref);
  }

  /**
   * {@link ImageFile.readNow} decoded into `out` (see `SlabCache.fieldsNow`):
   * the bytes `out`'s offsets point into, valid until the next call, or
   * undefined if the record needs an awaited read.
   */
  fieldsNow(ref: number, out: RecordFields): Uint8Array | undefined {
    return this.#cache.fieldsNow(ref, out);
  }

  /**
   * Decodes the record `ref` names from its cached slab into `out`, whose
   * offsets then point into the returned slab bytes; undefined if the slab
   * is not cached or the record fails its checks (see `SlabCache.cachedFields`).
   */
  cachedFields(ref: number, out: RecordFields): Uint8Array | undefined {
    return this.#cache.cachedFields(ref, out);
  }

  /**
   * Slabs the slab cache keeps at most (`slabCacheSlabsMax` unless lowered:
   * a memory budget counts the cache); setting it drops the oldest past it.
   */
  get cacheSlabsMax(): number {
    return this.#cache.slabsMax;
  }

  set cacheSlabsMax(slabs: number) {
    this.#cache.slabsMax = slabs;
  }

  /** Bytes of the slabs cached now. */
  get cacheBytes(): number {
    return this.#cache.bytes;
  }

  /** Whether every slab holding live records fits the slab cache (a whole load's bound). */
  get liveFitsSlabCache(): boolean {
    return this.#cache.liveFits;
  }

  /**
   * Reads every slab that holds live records into the slab cache, if they
   * all fit it (`slabCacheSlabsMax`): the first step of loading the whole
   * image at open. False, reading nothing, if they do not fit. A failed read
   * leaves its slab uncached (its records load later, with the usual retries).
   */
  cacheAll(): Promise<boolean> {
    return this.#cache.cacheAll();
  }

  /** Forgets every cached slab: once the trie is loaded whole, no load needs them. */
  dropCache(): void {
    this.#cache.clear();
  }

  /**
   * Loads the node `ref` names: from the cached slab, else by reading its
   * whole slab (and caching it), else (a failed or damaged slab read) by
   * {@link ImageFile.read}, which retries before it reports damage.
   */
  load(ref: number): Promise<NodeImage> {
    return this.#cache.load(ref);
  }

  /**
   * Loads the node `ref` names for a point read: as {@link ImageFile.load}
   * when every live slab fits the slab cache, else by reading the record
   * alone unless its slab is cached (see `SlabCache.loadRecord`).
   */
  loadRecord(ref: number): Promise<NodeImage> {
    return this.#cache.loadRecord(ref);
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
    const table = this.#table;
    const oldChunks = table.chunks;
    const placed = table.placeTable();
    table.retire(frees, oldChunks);
    table.dropFreeTail();
    const allocationAddress = this.#writeTable(placed);
    await this.flush();
    await this.#file.sync();
    const header = this.#nextHeader(fields, allocationAddress);
    header.generation = (this.#current.header?.generation ?? 0) + 1;
    const slot = nextSlot(this.#current);
    this.#uncertainSlot = slot;

    await this.#file.write(headerSlotOffsets[slot], encodeHeaderSlot(header));
    await this.#file.sync();
    this.#uncertainSlot = -1;
    this.#fallbackCoverage = this.#current.header?.coverageLsn;
    this.#current = { header, slot };
    const span = table.spanBytes();
    if (this.#fileBytes > span) {
      // The file shrinks to the end of its last slab's records (not fsynced:
      // bytes past the table's slabs, or past a slab's filled mark, are free
      // anyway if the old length comes back).
      await this.#file.truncate(span);
      this.#fileBytes = span;
    }
    return header;
  }

  /** Buffers the table's records into the chunks `placed` reserved; returns its address. */
  #writeTable(placed: number[]): number {
    return this.#table.encodeTable(placed, (address, record) => this.#buffer(address, record));
  }

  /** The header of a commit of `fields` with its table at `allocationAddress` (generation 0). */
  #nextHeader(fields: CommitFields, allocationAddress: number): ImageHeader {
    const table = this.#table;
    const header: ImageHeader = {
      generation: 0,
      coverageLsn: fields.coverageLsn,
      rootAddress: fields.rootAddress,
      keyCount: fields.keyCount,
      pageCount: table.slabs,
      allocationAddress,
      deadBytes: this.space().deadBytes,
      slabBytes: table.slabBytes,
      chunkEntriesMax: table.chunkEntriesMax,
    };
    const ceiling = fields.valueCeiling;
    if (ceiling !== undefined && Number.isFinite(ceiling)) header.valueCeiling = ceiling;
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
    assert(this.#table.chunks.length === 0, "a fresh file has no table yet");
    const placed = this.#table.placeTable();
    const allocationAddress = this.#writeTable(placed);
    await this.flush();
    await this.#file.sync();
    const header = this.#nextHeader(fields, allocationAddress);
    header.generation = generation;
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

  /**
   * Releases the file handle. Appended records not committed are abandoned.
   * A header written by a commit whose fsync failed is blanked first (best
   * effort): the page cache may show it while the disk never got it, and a
   * reopen on this machine must not trust it (and so drop WAL segments a
   * power loss would show it still needs). Open then takes the other slot.
   */
  async close(): Promise<void> {
    this.#runs = [];
    this.#writing = [];
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

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
