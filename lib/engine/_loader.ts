/**
 * Lazy loading for the store: reads image records for the trie's stubs
 * (nodes not loaded since open) and installs them. Every trie read or edit
 * that meets a stub waits here first; a read of one record is shared by
 * everyone waiting for it.
 *
 * During a streaming compaction a stub's address may be a fresh one (see
 * `freshAddress`): its record is in the compaction's new file, which
 * {@link Loader.fresh} names, and the children it loads with take fresh
 * addresses too. Once a compaction failed, nothing names that file: a
 * fresh address is then refused, never read from the image.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type Art,
  freshAddress,
  isFreshAddress,
  type RecordFieldsView,
  type RecordSource,
  type StubRef,
} from "../art/art.ts";
import { bytesToString } from "../_bytes.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import { type ImageFile, imageFileName } from "../image/image_file.ts";
import { inlineLeafRef, newRecordFields, type NodeImage } from "../image/node_record.ts";
import { QuotaSource } from "./_quota_source.ts";

/** Record reads in flight at once while loading a subtree. */
export const loadConcurrency = 64;
/** Stubs found per walk when loading the whole trie. */
const stubsPerWalk = 1_000_000;
/** Walks of the whole trie at most when loading it all (stubs never reappear). */
const loadAllRoundsMax = 8;

/** The refusals of a fresh address once its compaction failed (see {@link refusedForFailedCompaction}). */
const failedCompactionRefusals = new WeakSet<object>();

/**
 * Whether `error` is a load's refusal of a record in the file of a
 * compaction that failed (a stub with a fresh address met after the
 * failure): the simulator tells it from disk trouble.
 */
export function refusedForFailedCompaction(error: unknown): boolean {
  return typeof error === "object" && error !== null && failedCompactionRefusals.has(error);
}

/** Counters for `stats()`. */
export interface LoaderStats {
  /** Records read and installed since open. */
  nodesLoaded: number;
  /** Compactions whose new file loads read fresh addresses from, since open. */
  compactionsStarted: number;
  /** Records read since open to answer a read without installing them (`Loader.lookupNow`). */
  recordsReadThrough: number;
}

/** Loads stubs of one trie from one image. */
export class Loader {
  readonly #trie: Art;
  /** The image (read anew each time: a compaction replaces it). */
  readonly #image: () => ImageFile;
  /** The reads in flight, by the stub's address: the read, the stub's path, and that as an id. */
  readonly #loading = new Map<number, { read: Promise<StubRef[]>; path: Uint8Array; id: string }>();
  readonly stats: LoaderStats = { nodesLoaded: 0, compactionsStarted: 0, recordsReadThrough: 0 };
  /**
   * Called after each record installed, and when the last read in flight
   * settled: the memory budget's turn (`_budget.ts`).
   */
  afterLoad: () => void = () => {};
  /**
   * Called with the path of each node a read installs, when the path is
   * known (a key's path; not a list's breadth-first loads): the memory
   * budget's cooling queue (`_path_queue.ts`).
   */
  onInstalled: (path: Uint8Array) => void = () => {};
  /** A streaming compaction's new file while it is written (the records of fresh addresses). */
  get fresh(): ImageFile | undefined {
    return this.#fresh;
  }

  set fresh(file: ImageFile | undefined) {
    if (file !== undefined && file !== this.#fresh) this.stats.compactionsStarted++;
    this.#fresh = file;
  }

  #fresh: ImageFile | undefined;
  /** The records of {@link Loader.loadSubtreeAtOnce}'s builds. */
  readonly #source = new QuotaSource();

  constructor(trie: Art, image: () => ImageFile) {
    this.#trie = trie;
    this.#image = image;
  }

  /**
   * Appends the paths (as ids) of the stubs whose records are being read
   * and which are still stubs: each read installs by path and address, so
   * an eviction keeps those subtrees (were one evicted, and its record's
   * space reused for another record at that address, the read would
   * install old content). A stub another load replaced meanwhile (a
   * warm-up's build, a load from cached slabs) is not kept: its read will
   * install nothing, and were its node evicted again, into a stub of the
   * same record (the live trie still names it, so no one reused it).
   * Keeping those kept whole subtrees loaded while their reads waited
   * (simulator seed 77 at 4 KiB: 16 KB live against a part of 2 KiB).
   */
  readingPaths(into: string[]): void {
    for (const [address, { path, id }] of this.#loading) {
      if (this.#trie.hasStubAt(path, address)) into.push(id);
    }
  }

  /**
   * Loads one stub; resolves to the stubs below it (empty if it was loaded
   * already). A `point` load (a key's path) reads the record alone when the
   * slab cache cannot hold the image (`ImageFile.loadRecord`); else the
   * record's whole slab is read and cached (a subtree's records lie together).
   */
  load(stub: StubRef, point = false): Promise<StubRef[]> {
    const loading = this.#loading.get(stub.address);
    if (loading !== undefined) return loading.read;
    const id = bytesToString(stub.path, 0, stub.path.length);
    const read = this.#read(stub, point).finally(() => {
      this.#loading.delete(stub.address);
      if (this.#loading.size === 0) this.afterLoad();
    });
    this.#loading.set(stub.address, { read, path: stub.path, id });
    return read;
  }

  async #read(stub: StubRef, point: boolean): Promise<StubRef[]> {
    // Gone since its caller found it (loaded, edited, or its address settled by a compaction
    // that committed during the caller's own await): its address may name another record now.
    if (!this.#trie.hasStubAt(stub.path, stub.address)) return [];
    const image = this.#image();
    const node = checkedNode(
      isFreshAddress(stub.address)
        ? await this.#readFresh(stub.address)
        : await (point ? image.loadRecord(stub.address) : image.load(stub.address)),
      stub.address,
      this.#trie.valueCeiling,
    );
    // A compaction replaced the image meanwhile: the stub's record may now lie at the same ref
    // in the new file, with other refs below it. Install nothing; the caller loads again.
    if (!isFreshAddress(stub.address) && this.#image() !== image) return [];
    const below = this.#trie.install(stub.path, stub.address, node);
    if (below !== null) {
      this.stats.nodesLoaded++;
      this.onInstalled(stub.path);
    }
    this.afterLoad();
    return below ?? [];
  }

  /** The record of a fresh address, from the compaction's new file; its children's fresh too. */
  async #readFresh(address: number): Promise<NodeImage> {
    const fresh = this.fresh;
    if (fresh === undefined) {
      const refusal = new StorageIoError(
        `Cannot load a node: its record ${-address} is in the file of a compaction that ` +
          `failed; close the store and open it again (nothing acknowledged is lost)`,
      );
      failedCompactionRefusals.add(refusal);
      throw refusal;
    }
    let node: NodeImage;
    try {
      node = await fresh.readAppended(-address);
    } catch (error) {
      // Not the image's damage: the compaction's file did not read back as written (its
      // commit reads back what decides, and fails the compaction).
      if (!(error instanceof CorruptionError)) throw error;
      throw new StorageIoError(
        `Cannot load a node: the compaction's new file did not read back as written ` +
          `(${error.message}); close the store and open it again (nothing acknowledged is lost)`,
        error,
      );
    }
    const children = node.childAddresses;
    for (let index = 0; index < children.length; index++) {
      if (children[index] !== inlineLeafRef) children[index] = freshAddress(children[index]);
    }
    return node;
  }

  /**
   * Loads `stub` and up to `budget` records below it, breadth first, from
   * cached slabs only; stops at the first record not cached. True if it
   * loaded at least `stub` itself.
   */
  loadSubtreeCached(stub: StubRef, budget: number): boolean {
    assert(budget >= 1, "a subtree load reads at least its root");
    return this.#trie.loadSubtree(stub.path, stub.address, this.#fetchCached, budget) > 0;
  }

  /**
   * Builds `stub` and up to `quota - 1` records below it from cached slabs
   * in one pass (`Art.loadSubtreeAtOnce`); what lies past the quota or in
   * slabs not cached stays a stub. False, installing nothing, when the
   * stub's own record is not cached, a record below it fails its checks
   * (then {@link Loader.loadSubtreeCached} loads what checks out, and a
   * load reads the rest with the usual retries), or the stub is gone
   * (loaded or edited meanwhile).
   */
  loadSubtreeAtOnce(stub: StubRef, quota: number): boolean {
    assert(quota >= 1, "a subtree load reads at least its root");
    const source = this.#source;
    source.image = this.#image();
    source.left = quota;
    source.given = 0;
    let left: StubRef[] | null | undefined | string;
    try {
      left = this.#trie.loadSubtreeAtOnce(stub.path, stub.address, source, false);
    } finally {
      source.image = undefined; // keep no image alive past a compaction
    }
    if (left === null || left === undefined || typeof left === "string") return false;
    assert(source.given >= 1 && source.given <= quota, "a build loads within its quota");
    this.stats.nodesLoaded += source.given;
    this.afterLoad(); // runs later: the caller pins what it loaded until it read it
    return true;
  }

  /**
   * Reads the slab of `stub`'s record into the image's slab cache (with
   * the record's checks and retries: a damaged record throws here), so a
   * build from cached slabs can follow.
   */
  async cacheSlabOf(stub: StubRef): Promise<void> {
    if (isFreshAddress(stub.address) || !this.#trie.hasStubAt(stub.path, stub.address)) return;
    await this.#image().load(stub.address);
  }

  /**
   * `Art.lookupLoading` with the records read now (`ImageFile.readNow`):
   * from cached slabs, or from a file that reads at once. A read that fails
   * throws here (after the image's retries).
   */
  lookupNow(key: Uint8Array): number {
    // Under a budget (reads mark what they pass), a stub no read met in this epoch is read through.
    const through = this.#trie.markReads ? this.#through : undefined;
    return this.#trie.lookupLoading(key, this.#fetchNow, through);
  }

  /**
   * Loads `key`'s path as far as its records read now go (see
   * {@link Loader.lookupNow}); true if the whole path is loaded.
   */
  loadPathNow(key: Uint8Array): boolean {
    return this.#trie.loadPath(key, this.#fetchNow);
  }

  /** A record from a cached slab, checked, or undefined. */
  readonly #fetchCached = (address: number): NodeImage | undefined => {
    if (isFreshAddress(address)) return undefined; // in a compaction's file: read by `load`
    const node = this.#image().readCached(address);
    if (node === undefined) return undefined;
    this.stats.nodesLoaded++;
    this.afterLoad(); // runs later: the caller installs the record first
    return checkedNode(node, address, this.#trie.valueCeiling);
  };

  /** A record read now (see {@link Loader.lookupNow}), checked, or undefined; as `#fetchCached`. */
  readonly #fetchNow = (address: number, path?: Uint8Array): NodeImage | undefined => {
    if (isFreshAddress(address)) return undefined; // in a compaction's file: read by `load`
    const node = this.#image().readNow(address);
    if (node === undefined) return undefined;
    this.stats.nodesLoaded++;
    if (path !== undefined) this.onInstalled(path); // installed right after this returns
    this.afterLoad(); // runs later: the caller installs the record first
    return checkedNode(node, address, this.#trie.valueCeiling);
  };

  /**
   * The records read now to answer a read without loading them (see
   * `Art.lookupLoading`), decoded in place and checked as `checkedNode` does.
   */
  readonly #through: RecordSource = {
    fields: newRecordFields(),
    fetch: (address) => {
      if (isFreshAddress(address)) return undefined; // in a compaction's file: read by `load`
      const fields = this.#through.fields;
      const bytes = this.#image().fieldsNow(address, fields);
      if (bytes === undefined) return undefined;
      this.stats.recordsReadThrough++;
      // No round for room (nothing installed), but one if writes left the live nodes past the
      // budget's part: such a round starts the checkpoint that makes them clean (`Budget.stuck`).
      this.afterLoad();
      checkFields(fields, address, this.#trie.valueCeiling);
      return bytes;
    },
  };

  /** Resolves once no load is in flight (their outcomes do not matter here). */
  async idle(): Promise<void> {
    for (let round = 0; round < loadAllRoundsMax && this.#loading.size > 0; round++) {
      await Promise.allSettled([...this.#loading.values()].map((loading) => loading.read));
    }
  }

  /** Loads every stub on `key`'s path, top down. */
  async loadPath(key: Uint8Array): Promise<void> {
    // Each round loads one level; a level is at least one key byte deep.
    for (let round = 0; round <= key.length + 1; round++) {
      const stub = this.#trie.stubOnPath(key);
      if (stub === null) return;
      await this.load(stub, true);
    }
    assert(this.#trie.stubOnPath(key) === null, "a key's path loads in key-length rounds");
  }

  /** Loads `stub` and up to `budget` records below it, breadth first. */
  async loadSubtree(stub: StubRef, budget: number): Promise<void> {
    assert(budget >= 1, "a subtree load reads at least its root");
    await this.#loadBreadthFirst([stub], budget);
  }

  /** Loads the stubs in `queue` and those found below them, up to `budget` records. */
  async #loadBreadthFirst(queue: StubRef[], budget: number): Promise<void> {
    let head = 0;
    while (head < queue.length && head < budget) {
      const wave = queue.slice(head, Math.min(queue.length, head + loadConcurrency, budget));
      head += wave.length;
      const below = await Promise.all(wave.map((ref) => this.load(ref)));
      for (const refs of below) for (const ref of refs) queue.push(ref);
    }
  }

  /** Loads the whole trie (a compaction rewrites every node). */
  async loadAll(): Promise<void> {
    for (let round = 0; round < loadAllRoundsMax && this.#trie.unloaded > 0; round++) {
      const stubs = this.#trie.stubs(stubsPerWalk);
      if (stubs.length === 0) return;
      await this.#loadBreadthFirst(stubs, Number.POSITIVE_INFINITY);
    }
    assert(this.#trie.unloaded === 0, "the whole trie loads in a few walks");
  }
}

/** {@link checkedNode}'s checks of a record decoded in place (`RecordFields`); throws as it does. */
function checkFields(fields: RecordFieldsView, address: number, valueCeiling: number): void {
  let valueMax = fields.value;
  for (let leaf = 0; leaf < fields.leaves; leaf++) {
    valueMax = Math.max(valueMax, fields.leafValue[leaf]);
  }
  checkCounts(fields.count, fields.value >= 0, valueMax, address, valueCeiling);
}

/**
 * Throws the {@link CorruptionError} of {@link checkedNode} if a record with
 * `children` children holds no count (`hasValue` false, no children), or
 * a count (`valueMax`, its own and its inline leaves') above `valueCeiling`.
 */
function checkCounts(
  children: number,
  hasValue: boolean,
  valueMax: number,
  address: number,
  valueCeiling: number,
): void {
  if (children === 0 && !hasValue) {
    throw new CorruptionError(imageFileName, address, "a node without children holds no count");
  }
  if (valueMax > valueCeiling) {
    throw new CorruptionError(
      imageFileName,
      address,
      `the count ${valueMax} is above ${valueCeiling}, the bound on every count the image holds`,
    );
  }
}

/**
 * A record read from the image, checked against the trie's invariants
 * (what a checksum cannot catch: a record the engine could not have written):
 * a childless record holds a count, and no count is above `valueCeiling`
 * (the trie's, which bounds every value on disk).
 *
 * @throws {CorruptionError} naming the image file and the address.
 */
export function checkedNode(
  node: NodeImage,
  address: number,
  valueCeiling = Number.POSITIVE_INFINITY,
): NodeImage {
  let valueMax = node.value ?? 0;
  const leaves = node.inlineLeaves;
  if (leaves !== undefined) {
    for (const leaf of leaves) {
      valueMax = Math.max(valueMax, leaf.value);
    }
  }
  checkCounts(node.childBytes.length, node.value !== undefined, valueMax, address, valueCeiling);
  return node;
}
