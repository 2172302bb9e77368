/**
 * Reading node records back by address, through a cache of whole slabs.
 * Loading a node reads its whole slab, so the nodes written beside it (a
 * subtree: children are written just before their parent) load without
 * another read; a read of a trie whose slabs are cached never waits. It
 * exists apart from the image's writes because its one promise runs the
 * other way: a cached copy never outlives a write into its slab (the
 * writer calls {@link SlabCache.forget}, and a read that raced a write is
 * not cached), and a record that fails its checks is read again, with
 * retries, before damage counts.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import type { BlockFile } from "../storage/block_storage.ts";
import { headerRegionBytes, headerSlotOffsets } from "./header.ts";
import {
  decodeNodeRecord,
  decodeRecordFields,
  inlineLeafRef,
  newRecordFields,
  type NodeImage,
  nodeImageOf,
  type RecordFields,
  refLength,
  refOffset,
} from "./node_record.ts";
import { imageFileName, recordReadsMax } from "./_open.ts";
import { slabBase, type SlabTable } from "./_slab_table.ts";

/**
 * Slabs of records kept in memory after a read, at most: loading a node
 * reads its whole slab, so the nodes written beside it (a subtree: children
 * are written just before their parent) load without another read.
 */
export const slabCacheSlabsMax = 512;
/** Bytes of the buffer {@link SlabCache.readNow} reads into at first (most records are smaller). */
const recordScratchBytesInitial = 4096;
/** Slab reads {@link SlabCache.cacheAll} keeps in flight at once. */
const slabReadsAtOnce = 8;

/** The slabs of one image file read whole, and the reads of its records. */
export class SlabCache {
  readonly #file: BlockFile;
  /** The table the slabs' extents come from. */
  readonly #table: SlabTable;
  /** Slabs read whole, by index, least recently used first (see {@link slabCacheSlabsMax}). */
  readonly #slabs = new Map<number, Uint8Array>();
  /** Where {@link SlabCache.#cachedSlab} found a record (reused: no allocation per read). */
  readonly #found = { slab: 0, start: 0, end: 0 };
  /** Slabs kept at most (see {@link SlabCache.slabsMax}). */
  #slabsMax = slabCacheSlabsMax;
  /** Bytes of the slabs cached now. */
  #bytes = 0;
  /** What {@link SlabCache.readNow} decodes a record read alone into. */
  readonly #fields = newRecordFields();
  /** The buffer {@link SlabCache.readNow} reads records into (it grows to the longest). */
  #scratch = new Uint8Array(recordScratchBytesInitial);
  /** Slab reads in flight, by index. */
  readonly #reads = new Map<number, Promise<Uint8Array | undefined>>();
  /** Per slab: bumped on every write into it, so a read that raced a write is not cached. */
  readonly #versions = new Map<number, number>();

  /** A cache of `file`'s slabs, as `table` lays them out. */
  constructor(file: BlockFile, table: SlabTable) {
    this.#file = file;
    this.#table = table;
  }

  /** Slabs the cache keeps at most: {@link slabCacheSlabsMax} unless a memory budget lowered it. */
  get slabsMax(): number {
    return this.#slabsMax;
  }

  /** Lowers (or raises, up to {@link slabCacheSlabsMax}) the slabs kept; drops the oldest past it. */
  set slabsMax(slabs: number) {
    assert(Number.isSafeInteger(slabs) && slabs >= 1, "a slab cache keeps at least one slab");
    this.#slabsMax = Math.min(slabs, slabCacheSlabsMax);
    this.#trim();
  }

  /** Bytes of the slabs cached now (a memory budget counts them). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Drops slab `slab`'s cached copy, if any. */
  #drop(slab: number): void {
    const cached = this.#slabs.get(slab);
    if (cached === undefined) return;
    this.#bytes -= cached.length;
    this.#slabs.delete(slab);
  }

  /** Drops the least recently used slabs past {@link SlabCache.slabsMax}. */
  #trim(): void {
    for (const oldest of this.#slabs.keys()) {
      if (this.#slabs.size <= this.#slabsMax) break;
      this.#drop(oldest);
    }
    assert(this.#slabs.size <= this.#slabsMax, "the slab cache is bounded");
  }

  /**
   * Drops the cached copies of the slabs `[offset, offset + bytes)` touches,
   * and keeps a read of them in flight from being cached: call it for every
   * write into the file.
   */
  forget(offset: number, bytes: number): void {
    const slabBytes = this.#table.slabBytes;
    const last = Math.floor((offset + bytes - 1) / slabBytes);
    for (let slab = Math.floor(offset / slabBytes); slab <= last; slab++) {
      this.#drop(slab);
      this.#versions.set(slab, (this.#versions.get(slab) ?? 0) + 1);
    }
  }

  /**
   * Reads the node record `ref` names, not from the cache. A failed check or
   * a failed read is tried again (a transient read fault is not damage).
   *
   * @throws {CorruptionError} naming the file and offset if the record is damaged.
   * @throws {StorageIoError} if every read failed.
   */
  async read(ref: number): Promise<NodeImage> {
    const offset = recordOffset(ref);
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
   * The node `ref` names, without an await: from a cached slab, or, when
   * the file reads at once (`BlockFile.readSync`) and the live records do
   * not fit the cache, the record alone from the file, checked and retried
   * as {@link SlabCache.read}. Undefined when it needs an awaited read. The
   * node's bytes are valid until the next call (a reused buffer).
   */
  readNow(ref: number): NodeImage | undefined {
    const cached = this.readCached(ref);
    if (cached !== undefined) return cached;
    const bytes = this.#readAloneNow(ref, this.#fields);
    return bytes === undefined ? undefined : nodeImageOf(bytes, this.#fields);
  }

  /**
   * {@link SlabCache.readNow} decoded into `out` (no allocation): returns
   * the bytes `out`'s offsets point into (a cached slab, or a buffer reused
   * by the next call), or undefined when the record needs an awaited read.
   */
  fieldsNow(ref: number, out: RecordFields): Uint8Array | undefined {
    return this.cachedFields(ref, out) ?? this.#readAloneNow(ref, out);
  }

  /**
   * Reads the record `ref` names alone, at once, decoded into `out`, when
   * the file reads at once and the live records do not fit the cache
   * (undefined otherwise); checked and retried as {@link SlabCache.read}.
   * Returns its bytes, in a buffer the next call reuses.
   */
  #readAloneNow(ref: number, out: RecordFields): Uint8Array | undefined {
    const file = this.#file;
    if (file.readSync === undefined || this.liveFits) return undefined;
    const offset = recordOffset(ref);
    const length = refLength(ref);
    if (this.#scratch.length < length) this.#scratch = new Uint8Array(length);
    const bytes = this.#scratch.subarray(0, length);
    let problem = "record was not read";
    let failure: StorageIoError | undefined;
    for (let reads = 0; reads < recordReadsMax; reads++) {
      let count: number;
      try {
        count = file.readSync(offset, bytes);
      } catch (error) {
        if (!(error instanceof StorageIoError)) throw error;
        failure = error; // maybe transient, as in `read`
        continue;
      }
      const decoded = decodeRecordFields(bytes, 0, count, out);
      if (decoded === undefined) return bytes.subarray(0, count);
      problem = decoded;
      failure = undefined;
    }
    if (failure !== undefined) throw failure;
    throw new CorruptionError(imageFileName, offset, `node record: ${problem}`);
  }

  /**
   * The node `ref` names, if its slab is cached and the record checks out;
   * undefined otherwise (then {@link SlabCache.load} reads it). Synchronous,
   * so a read of a trie whose slabs are cached never waits.
   */
  readCached(ref: number): NodeImage | undefined {
    const cached = this.#cachedSlab(ref);
    if (cached === undefined) return undefined;
    const { slab, start, end } = this.#found;
    const decoded = decodeNodeRecord(cached.subarray(start, end));
    if (typeof decoded === "string") {
      this.#drop(slab); // perhaps a flipped bit in the read: read again
      return undefined;
    }
    // Least recently used first: move the slab to the end.
    this.#slabs.delete(slab);
    this.#slabs.set(slab, cached);
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
    this.#drop(slab); // perhaps a flipped bit in the read: read again
    return undefined;
  }

  /**
   * The cached slab holding the whole record `ref` names, or undefined;
   * the slab's index and the record's range in it go to `#found`.
   */
  #cachedSlab(ref: number): Uint8Array | undefined {
    if (ref <= inlineLeafRef || refOffset(ref) < headerRegionBytes) return undefined;
    const offset = refOffset(ref);
    const slabBytes = this.#table.slabBytes;
    const slab = Math.floor(offset / slabBytes);
    const cached = this.#slabs.get(slab);
    if (cached === undefined) return undefined;
    const found = this.#found;
    found.slab = slab;
    found.start = offset - slab * slabBytes;
    found.end = found.start + refLength(ref);
    assert(found.start >= slabBase(slab, slabBytes), "a record lies past its slab's base");
    return found.end > cached.length ? undefined : cached;
  }

  /** Whether every slab holding live records fits the cache (a whole load's bound). */
  get liveFits(): boolean {
    return !this.#table.liveSlabsMoreThan(this.#slabsMax);
  }

  /**
   * Reads every slab that holds live records into the cache, if they all fit
   * it ({@link slabCacheSlabsMax}): the first step of loading the whole image
   * at open. False, reading nothing, if they do not fit. A failed read leaves
   * its slab uncached (its records load later, with the usual retries).
   */
  async cacheAll(): Promise<boolean> {
    const slabs = this.#table.liveSlabs().filter((slab) => !this.#slabs.has(slab));
    if (slabs.length + this.#slabs.size > this.#slabsMax) return false;
    for (let first = 0; first < slabs.length; first += slabReadsAtOnce) {
      const wave = slabs.slice(first, first + slabReadsAtOnce);
      await Promise.all(wave.map((slab) => this.#readSlab(slab)));
    }
    assert(this.#slabs.size <= this.#slabsMax, "the slab cache is bounded");
    return true;
  }

  /** Forgets every cached slab: once the trie is loaded whole, no load needs them. */
  clear(): void {
    this.#slabs.clear();
    this.#bytes = 0;
  }

  /**
   * Loads the node `ref` names: from the cached slab, else by reading its
   * whole slab (and caching it), else (a failed or damaged slab read) by
   * {@link SlabCache.read}, which retries before it reports damage.
   */
  async load(ref: number): Promise<NodeImage> {
    const cached = this.readCached(ref);
    if (cached !== undefined) return cached;
    if (ref > inlineLeafRef && refOffset(ref) >= headerRegionBytes) {
      await this.#readSlab(Math.floor(refOffset(ref) / this.#table.slabBytes));
      const read = this.readCached(ref);
      if (read !== undefined) return read;
    }
    return await this.read(ref);
  }

  /**
   * Loads the node `ref` names for a point read: from the cached slab, else
   * by reading its whole slab when every live slab fits the cache (the cache
   * then fills up), else by reading the record alone (a cache smaller than
   * the image would evict a slab for each record: a point read would read
   * a whole slab to use one record of it).
   */
  async loadRecord(ref: number): Promise<NodeImage> {
    const cached = this.readCached(ref);
    if (cached !== undefined) return cached;
    if (this.liveFits) return await this.load(ref);
    return await this.read(ref);
  }

  /** Reads slab `slab` whole into the cache (once, however many ask); failures are not cached. */
  #readSlab(slab: number): Promise<Uint8Array | undefined> {
    let reading = this.#reads.get(slab);
    if (reading === undefined) {
      const version = this.#versions.get(slab) ?? 0;
      const slabBytes = this.#table.slabBytes;
      const end = Math.min(this.#table.filledBytes(slab), slabBytes);
      reading = this.#file.read(slab * slabBytes, end).then((bytes) => {
        if ((this.#versions.get(slab) ?? 0) !== version) return undefined;
        this.#drop(slab); // a concurrent read of it may have cached it already
        this.#slabs.set(slab, bytes);
        this.#bytes += bytes.length;
        this.#trim();
        return bytes;
      }, () => undefined).finally(() => this.#reads.delete(slab));
      this.#reads.set(slab, reading);
    }
    return reading;
  }
}

/**
 * The file offset of the record `ref` names.
 *
 * @throws {CorruptionError} If `ref` is not a record's or points into the header region.
 */
function recordOffset(ref: number): number {
  if (!Number.isSafeInteger(ref) || ref <= inlineLeafRef || refOffset(ref) < headerRegionBytes) {
    throw new CorruptionError(
      imageFileName,
      headerSlotOffsets[0],
      `a node record reference ${ref} points into the header region`,
    );
  }
  return refOffset(ref);
}
