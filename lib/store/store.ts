/**
 * The durable counting store: an adaptive radix trie written through the WAL.
 *
 * Every write is validated and given its LSN synchronously, against the state
 * that includes writes still in flight, so the LSN order is the order in
 * which writes were judged. In strict mode the trie holds only durable writes
 * (reads never show what a crash could take back, D11) and the writes of a
 * group are applied from the group's own WAL bytes once its fsync returns;
 * two overlay tries (the group gathering, the group in flight) hold the
 * newest values for validation meanwhile. In relaxed mode writes apply to the
 * trie at once.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import {
  checkOptions,
  describe,
  type OptionsPlace,
  type OptionTypes,
  tooManyArguments,
} from "../_options.ts";
import {
  Art,
  lookupNotLoaded as LOOKUP_NOT_LOADED,
  NodeNotLoaded,
  type TrieMemory,
} from "../art/art.ts";
import {
  CorruptionError,
  MemoryLimitError,
  StorageIoError,
  StoreClosedError,
  StoreLockedError,
} from "../errors.ts";
import type { HeaderSlotReport } from "../image/header.ts";
import { defaultGeometry, geometryProblem, type ImageGeometry } from "../image/allocation.ts";
import { ImageFile, imageFileName, type ImageSpace } from "../image/image_file.ts";
import { newRecordFields } from "../image/node_record.ts";
import { type ImageVerifyReport, verifyImage } from "../image/verify.ts";
import { type BlockStorage, type Clock, systemClock } from "../storage/block_storage.ts";
import { FileBlockStorage } from "../storage/file.ts";
import { atomicOpsMax, batchOpsMax, getManyKeysMax } from "../limits.ts";
import {
  addBatchPayloadBytes,
  type AsciiAdd,
  decodeGroup,
  type MutationKind,
  type MutationSink,
  RecordKind,
  type RecordSink,
} from "../wal/record.ts";
import { segmentBytesDefault, segmentBytesMax } from "../wal/segment.ts";
import { type BatchOp, Wal, type WalStats } from "../wal/wal.ts";
import {
  type CheckpointDeps,
  Checkpointer,
  type CheckpointResult,
} from "../engine/checkpointer.ts";
import { checkedNode, Loader } from "../engine/_loader.ts";
import {
  copyRecovery,
  findQuarantined,
  noteCompactingLeftover,
  type QuarantinedFileFound,
  quarantineProblem,
  type RecoveryStats,
  recoveryStats,
} from "../engine/recovery.ts";
import {
  entrySettles,
  keyId,
  Overlay,
  overlayIdBytesMax,
  type RawEntry,
  relativeDeltaMax,
  valueOver,
} from "../engine/_overlay.ts";
import { EntryIterator, type ListSource } from "./_list.ts";
import {
  type CheckpointOptions,
  type EpochConfig,
  type EpochStats,
  EpochTracker,
  resolveCheckpointOptions,
} from "../engine/epochs.ts";
import {
  type AtomicCheck,
  type AtomicCommitter,
  type AtomicMutation,
  AtomicOperation,
  type CommitResult,
} from "./atomic.ts";
import {
  addChecked,
  checkDelta,
  checkValue,
  keyBytes,
  type KeyLike,
  type ListSelector,
  packedKeyBytes,
  selectorRange,
  transientKeyBytes,
} from "./keys.ts";

// What stats().recovery and verify() report, for mod.ts to export.
export type {
  QuarantinedFile,
  QuarantinedFileFound,
  RecoveryStats,
  RemovedFile,
  TornTail,
} from "../engine/recovery.ts";

/** When a write resolves. */
export type Durability = "strict" | "relaxed";

/**
 * Options of {@link openStore} besides where the store lives: what
 * `openStore(path, options)` takes. Each is checked: an unknown key is a
 * `TypeError` naming the nearest valid one, a value of the wrong type a
 * `TypeError`, one out of range a `RangeError`.
 */
export interface OpenOptions {
  /**
   * `"strict"` (default): writes resolve once their WAL bytes are fsynced.
   * `"relaxed"`: writes resolve once buffered; `sync()` makes them durable.
   */
  durability?: Durability;
  /** The clock for timings in `stats()` (default: `performance.now`). */
  clock?: Clock;
  /** WAL segment size in bytes at which a new segment starts (default 64 MiB). */
  walSegmentBytes?: number;
  /** When to checkpoint on its own (epochs); see {@link CheckpointOptions}. */
  checkpoint?: CheckpointOptions;
  /**
   * How open loads the image's trie (see {@link LoadMode}; default `"auto"`:
   * whole when its records fit the slab cache, 64 MiB, else lazily).
   */
  load?: LoadMode;
}

/** Options of {@link openStore} in one object: where the store lives, and {@link OpenOptions}. */
export interface StoreOptions extends OpenOptions {
  /** A directory on disk (created if absent). Give this or `storage`. */
  path?: string;
  /** A storage to use instead of a directory, such as a `MemoryBlockStorage`. */
  storage?: BlockStorage;
}

/**
 * How {@link openStore} loads the image's trie: `"eager"` loads it whole
 * before resolving (reads and scans then never wait for the disk; open
 * takes time and memory in proportion to the store); `"lazy"` reads only
 * the root, and every other node on first use; `"auto"` is eager when the
 * image's records fit the slab cache (64 MiB, about four million short
 * keys), lazy otherwise.
 */
export type LoadMode = "auto" | "eager" | "lazy";

/** The load modes {@link openStore} accepts. */
const loadModes: readonly LoadMode[] = ["auto", "eager", "lazy"];

/**
 * The key of the simulator's image geometry in the options of
 * {@link openStore}: a symbol, so it is no option of the API (`mod.ts` does
 * not export it, and checks of option names, which list string keys, never
 * see it). An image created by the store (or by a compaction) gets this
 * geometry; an existing one keeps its own. Only the simulator sets it, to
 * make small images span many slabs (see `allocation.ts`).
 */
export const imageGeometryKey: unique symbol = Symbol("tallytrie.imageGeometry");

/** {@link StoreOptions} with the simulator's image geometry (see {@link imageGeometryKey}). */
export interface InternalStoreOptions extends StoreOptions {
  /** The geometry of images the store creates (default: 128 KiB slabs). */
  [imageGeometryKey]?: ImageGeometry;
}

export type { CheckpointOptions, CheckpointResult, EpochStats };

/** Options of {@link Store.list}. */
export interface ListOptions {
  /** The most entries to return. */
  limit?: number;
  /** Descending byte order. */
  reverse?: boolean;
}

/** One entry of {@link Store.list}. */
export interface Entry {
  /** The key's bytes. */
  key: Uint8Array;
  /** Its count. */
  value: number;
}

/** What {@link Store.stats} reports. */
export interface StoreStats {
  /** Keys in the store (strict mode: durable keys). */
  keys: number;
  /** The LSN of the last accepted write. */
  lastLsn: number;
  /**
   * Writes waiting for their key's path to load from the image (and writes
   * made after them, which wait their turn): they get an LSN once it has.
   */
  queuedWrites: number;
  /** Every write at or below this LSN is durable. */
  durableLsn: number;
  /** The durability mode. */
  durability: Durability;
  /** Group-commit writes, fsyncs, bytes and segments created and removed since open. */
  wal: WalStats;
  /**
   * What open found and did: the image's coverage, records replayed, the
   * torn tail cut (bytes and where), files removed (each provably held
   * nothing acknowledged) and files moved aside (bytes it could not explain:
   * empty normally), time taken.
   */
  recovery: RecoveryStats;
  /** Epochs and checkpoints since open (see {@link EpochStats}). */
  epochs: EpochStats;
  /** The image file: its committed generation and coverage, its space, nodes loaded lazily. */
  image: ImageSpace & { generation: number; coverageLsn: number; nodesLoaded: number };
  /** The trie's memory (see {@link TrieMemory}). */
  memory: TrieMemory;
}

/** Records a list loads below a stub it meets (a scan reads on, so read ahead). */
const listPrefetchNodes = 4096;
/** The smallest WAL segment size accepted. */
const walSegmentBytesMin = 4096;
/** Bytes of the buffer a durable group waits in to be applied, at first (it grows to the largest). */
const unappliedBytesInitial = 64 * 1024;

/** The keys of {@link ListOptions}, each with its type. */
const listOptionTypes: OptionTypes = { limit: "number", reverse: "boolean" };
const listOptionsPlace: OptionsPlace = {
  operation: "list",
  object: "options",
  key: "option",
  keyPrefix: "",
};
/** The keys of {@link Store.checkpoint}'s options, each with its type. */
const checkpointOptionTypes: OptionTypes = { compact: "boolean" };
const checkpointOptionsPlace: OptionsPlace = {
  operation: "checkpoint",
  object: "options",
  key: "option",
  keyPrefix: "",
};

/** The resolved options {@link Store.open} takes. */
export interface StoreConfig {
  /** When writes resolve. */
  durability: Durability;
  /** WAL segment size at which a new segment starts. */
  segmentBytes: number;
  /** The clock for timings and epochs. */
  clock: Clock;
  /** Checkpoint triggers. */
  epochs: EpochConfig;
  /** How open loads the image's trie. */
  load: LoadMode;
  /** The geometry of image files the store creates (see {@link imageGeometryKey}). */
  geometry: ImageGeometry;
}

/** What a store is made of once recovered. */
interface StoreParts {
  storage: BlockStorage;
  wal: Wal;
  image: ImageFile;
  trie: Art;
  /** Records open loaded into the trie. */
  loaded: number;
  config: StoreConfig;
  recovery: RecoveryStats;
}

/** One WAL record above the image's coverage, collected at open to apply once paths load. */
interface ReplayRecord {
  lsn: number;
  ops: { kind: MutationKind; key: Uint8Array; value: number }[];
}

/**
 * Opens (creating if needed) the store in a directory or on a given storage,
 * recovering every durable write. One store at a time may hold a directory.
 * Two forms: `openStore(path, options?)`, or `openStore({ path | storage,
 * ...options })`.
 *
 * @param target A directory path, or every option in one object, with
 * `path` or `storage`.
 * @param options With a path: the other options (not `path` or `storage`).
 * @returns The open store.
 * @throws {TypeError} if an option is unknown (the message names the nearest
 * valid one) or of the wrong type, or the call has extra arguments.
 * @throws {RangeError} if a numeric option is out of range.
 * @throws {StoreLockedError} if the directory is already open.
 * @throws {StorageIoError} if the directory cannot be used: the path is a
 * file, or the OS refuses (permissions, a read-only file system).
 * @throws {CorruptionError} if the durable log is damaged.
 *
 * @example
 * ```ts
 * import { openStore } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir);
 * console.assert((await store.add("the quick", 3)) === 3);
 * await store.close();
 * const again = await openStore(dir, { durability: "relaxed", checkpoint: { auto: false } });
 * console.assert((await again.get("the quick")) === 3);
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openStore(
  target: string | StoreOptions,
  options?: OpenOptions,
): Promise<Store> {
  if (arguments.length > 2) {
    throw tooManyArguments("open store", "target, options", arguments.length);
  }
  const resolved = resolveOpenOptions(target, options);
  const durability = resolved.durability ?? "strict";
  const segmentBytes = resolved.walSegmentBytes ?? segmentBytesDefault;
  if (
    !Number.isSafeInteger(segmentBytes) || segmentBytes < walSegmentBytesMin ||
    segmentBytes > segmentBytesMax
  ) {
    throw new RangeError(
      `Cannot open store: walSegmentBytes must be an integer from ${walSegmentBytesMin} to ${segmentBytesMax}, got ${segmentBytes}`,
    );
  }
  const epochs = resolveCheckpointOptions(resolved.checkpoint);
  const load = resolved.load ?? "auto";
  const geometry = (resolved as InternalStoreOptions)[imageGeometryKey] ?? defaultGeometry;
  const geometryWrong = geometryProblem(geometry);
  if (geometryWrong !== undefined) {
    throw new RangeError(`Cannot open store: the image geometry is invalid: ${geometryWrong}`);
  }
  const storage = await resolveStorage(resolved);
  if (!(await storage.tryLock())) throw new StoreLockedError(storage.description);
  try {
    return await Store.open(storage, {
      durability,
      segmentBytes,
      clock: resolved.clock ?? systemClock,
      epochs,
      load,
      geometry,
    });
  } catch (error) {
    await storage.unlock();
    throw error;
  }
}

/** The keys of {@link OpenOptions}, each with its type. */
const openOptionTypes: OptionTypes = {
  durability: ["strict", "relaxed"] satisfies Durability[],
  clock: {
    expected: "a Clock (an object with a now() method)",
    test: (value) => hasMethods(value, ["now"]),
  },
  walSegmentBytes: "number",
  checkpoint: "object",
  load: loadModes,
};

/** The keys of {@link StoreOptions}, each with its type. */
const storeOptionTypes: OptionTypes = {
  path: "string",
  storage: {
    expected: "a BlockStorage (such as a MemoryBlockStorage)",
    test: (value) =>
      hasMethods(value, ["open", "list", "rename", "remove", "syncDir", "tryLock", "unlock"]),
  },
  ...openOptionTypes,
};

const openOptionsPlace: OptionsPlace = {
  operation: "open store",
  object: "options",
  key: "option",
  keyPrefix: "",
};

/** Whether `value` is an object with a function under each name of `names`. */
function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === "function");
}

/** The options of either form of {@link openStore} as one object, every key checked. */
function resolveOpenOptions(target: unknown, options: unknown): StoreOptions {
  if (typeof target === "string") {
    if (options === undefined) return { path: target };
    if (typeof options === "object" && options !== null) {
      for (const name of ["path", "storage"]) {
        if (Object.hasOwn(options, name)) {
          throw new TypeError(
            `Cannot open store: options after a path cannot hold "${name}"; ` +
              `give openStore(path, options) or openStore({ ${name}, ...options })`,
          );
        }
      }
    }
    checkOptions(options, openOptionTypes, openOptionsPlace);
    return { ...options, path: target };
  }
  if (typeof target !== "object" || target === null || Array.isArray(target)) {
    throw new TypeError(
      `Cannot open store: pass a directory path or an options object, got ${describe(target)}`,
    );
  }
  if (options !== undefined) {
    throw new TypeError(
      "Cannot open store: options go in the one object when it holds path or storage; " +
        "give openStore(path, options) or openStore({ path, ...options })",
    );
  }
  checkOptions(target, storeOptionTypes, openOptionsPlace);
  return target;
}

async function resolveStorage(options: StoreOptions): Promise<BlockStorage> {
  if (options.storage !== undefined && options.path !== undefined) {
    throw new TypeError("Cannot open store: give either path or storage, not both");
  }
  if (options.storage !== undefined) return options.storage;
  if (typeof options.path !== "string" || options.path === "") {
    throw new TypeError("Cannot open store: give a path (a non-empty string) or a storage");
  }
  return await FileBlockStorage.open(options.path);
}

/** What {@link writeCounters} reads. */
export interface WriteCounters {
  /** The LSN of the last write accepted (as `stats().lastLsn`). */
  lastLsn: number;
  /** Writes waiting for a load (as `stats().queuedWrites`). */
  queuedWrites: number;
  /** Atomic commits taken by the path for additions to ASCII string keys. */
  asciiBatches: number;
}

let readWriteCounters: (store: Store) => WriteCounters;

/**
 * The write counters of `stats()` without its side effects (`stats()`
 * first applies a durable group still waiting, to count its keys): for the
 * simulator, which reads them around every write and must not change when
 * the store does its work. Not part of the module's API.
 *
 * @example
 * ```ts
 * import { MemoryBlockStorage, openStore } from "../../mod.ts";
 * import { writeCounters } from "./store.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.add("a", 1);
 * console.assert(writeCounters(store).lastLsn === 1);
 * await store.close();
 * ```
 */
export function writeCounters(store: Store): WriteCounters {
  return readWriteCounters(store);
}

/**
 * An open store. Get one from {@link openStore}.
 *
 * @example
 * ```ts
 * import { openStore, MemoryBlockStorage } from "../../mod.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.add("the cat", 2);
 * await store.add("the dog", 1);
 * const keys = [];
 * for await (const { key, value } of store.list({ prefix: "the " })) {
 *   keys.push(`${new TextDecoder().decode(key)}=${value}`);
 * }
 * console.assert(keys.join(",") === "the cat=2,the dog=1");
 * await store.close();
 * ```
 */
export class Store implements AtomicCommitter {
  readonly #storage: BlockStorage;
  readonly #wal: Wal;
  /** What the checkpointer shares; its `image` changes when a compaction replaces the file. */
  readonly #deps: CheckpointDeps;
  readonly #durability: Durability;
  readonly #trie: Art;
  readonly #clock: Clock;
  readonly #epochs: EpochTracker;
  readonly #loader: Loader;
  readonly #checkpointer: Checkpointer;
  #overlayGathering = new Overlay();
  #overlayInFlight = new Overlay();
  /** The overlay of the durable group not yet applied ({@link Store.#unapplied}), until it is. */
  #overlayUnapplied = new Overlay();
  /** Bounds on the values the gathering and the in-flight group leave (strict mode). */
  #boundsGathering: GroupBounds = { exactMax: 0, byBound: 0 };
  #boundsInFlight: GroupBounds = { exactMax: 0, byBound: 0 };
  /**
   * A durable group not yet applied to the trie (strict mode): a copy of its
   * records, applied while the next group's fsync runs, or before anything
   * reads the trie, whichever comes first. At most one waits.
   */
  #unapplied: { bytes: number; lastLsn: number } | undefined;
  /** Where {@link Store.#unapplied}'s records are copied (reused: at most one group waits). */
  #unappliedRecords = new Uint8Array(unappliedBytesInitial);
  #unappliedView = new DataView(this.#unappliedRecords.buffer);
  #boundsUnapplied: GroupBounds = { exactMax: 0, byBound: 0 };
  /** An atomic commit's view of its own earlier mutations (scratch, cleared per commit). */
  readonly #batchLocal = new Overlay();
  /** {@link Store.#stageStrict}'s undo log: each op's overlay entry before it (reused). */
  readonly #undoValues: (RawEntry | undefined)[] = [];
  /** Applies the records of a durable group (strict mode): they were judged when appended. */
  readonly #applySink: MutationSink;
  /** What `list` iterators read from. */
  readonly #listSource: ListSource = {
    checkOpen: () => this.#checkOpen("list"),
    read: (start, end, reverse, limit, into) => {
      this.#applyPending();
      return this.#trie.readRange({ start, end, reverse }, limit, into);
    },
    loadCached: (unloaded) => this.#loader.loadSubtreeCached(unloaded, listPrefetchNodes),
    load: (unloaded) => this.#loader.loadSubtree(unloaded, listPrefetchNodes),
  };
  /** The LSN of the last write applied to the trie (a checkpoint's coverage). */
  #appliedLsn = 0;
  /** WAL bytes appended when the epochs last heard of it. */
  #walBytesNoted = 0;
  /** Writes waiting for their key's path to load; while any wait, later writes queue behind them. */
  #queued = 0;
  #queueTail: Promise<void> = Promise.resolve();
  /** Commits {@link Store.#commitAsciiAdds} took (for tests, through {@link writeCounters}). */
  #asciiBatches = 0;
  /**
   * Set when applying logged writes to the trie failed (it could not grow):
   * the trie may hold part of a batch, so nothing reads, judges against or
   * checkpoints it again; the writes are in the log for the next open.
   */
  #trieFailure: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /**
   * Set the moment `close()` is called: writes called from then on are
   * refused. Close's last checkpoint, its second header commit and the empty
   * segment it starts cover exactly what was accepted before; a write
   * accepted during them could land in a segment the new one seals before
   * it, or be reclaimed with the covered ones.
   */
  #closeCalled = false;
  readonly #recovery: RecoveryStats;

  static {
    readWriteCounters = (store) => ({
      lastLsn: store.#wal.nextLsn - 1,
      queuedWrites: store.#queued,
      asciiBatches: store.#asciiBatches,
    });
  }

  private constructor(parts: StoreParts) {
    this.#storage = parts.storage;
    this.#wal = parts.wal;
    this.#durability = parts.config.durability;
    this.#trie = parts.trie;
    this.#clock = parts.config.clock;
    this.#recovery = parts.recovery;
    this.#applySink = applyingSink(parts.trie);
    this.#epochs = new EpochTracker(parts.config.epochs, this.#clock.now());
    this.#loader = new Loader(parts.trie, () => this.#image);
    this.#loader.stats.nodesLoaded = parts.loaded;
    this.#deps = {
      trie: parts.trie,
      image: parts.image,
      storage: parts.storage,
      geometry: parts.config.geometry,
      wal: parts.wal,
      loader: this.#loader,
      clock: this.#clock,
      epochs: this.#epochs,
      appliedLsn: () => {
        this.#applyPending();
        return this.#appliedLsn;
      },
    };
    this.#checkpointer = new Checkpointer(this.#deps);
    if (this.#durability === "strict") {
      parts.wal.onSeal = () => this.#sealOverlay();
      parts.wal.onDurable = (records, _first, last) => this.#holdGroup(records, last);
      parts.wal.onSyncing = () => void this.#applyQuietly();
    }
  }

  /**
   * Recovers a store from a locked storage: the newest image (its root only;
   * other nodes load on first use), then the WAL records above its coverage,
   * each batch whole. Use {@link openStore}.
   */
  static async open(storage: BlockStorage, config: StoreConfig): Promise<Store> {
    const started = config.clock.now();
    const image = await ImageFile.open(storage, config.geometry);
    try {
      const header = image.header;
      const coverage = header?.coverageLsn ?? 0;
      const { trie, loaded, whole } = await openTrie(image, config.load);
      const replay: ReplayRecord[] = [];
      const { wal, scan, movedTo } = await Wal.open(storage, {
        afterLsn: coverage,
        segmentBytes: config.segmentBytes,
        replay: replayCollector(replay),
      });
      assert(wal.durableLsn === scan.lastLsn, "recovery leaves everything replayed durable");
      const recovery = recoveryStats(coverage, scan, movedTo);
      const store = new Store({ storage, wal, image, trie, loaded, config, recovery });
      try {
        if (config.load === "eager" && !whole) await store.#loadRest();
        await store.#replay(replay);
        const leftover = await ImageFile.removeCompactingLeftover(storage);
        if (leftover !== undefined) noteCompactingLeftover(recovery, leftover);
      } catch (error) {
        await wal.close();
        throw error;
      }
      // LSNs continue above both the image and the log (D3).
      store.#appliedLsn = Math.max(coverage, scan.lastLsn);
      assert(wal.nextLsn === store.#appliedLsn + 1, "the next LSN follows everything recovered");
      recovery.openMs = config.clock.now() - started;
      return store;
    } catch (error) {
      await image.close();
      throw error;
    }
  }

  /**
   * An eager open of an image too big for the slab cache: loads the rest
   * the slow way, a read per record. A record that cannot be read stays on
   * disk, as in a lazy open: the reads through it report the problem.
   */
  async #loadRest(): Promise<void> {
    try {
      await this.#loader.loadAll();
    } catch (error) {
      if (!(error instanceof CorruptionError || error instanceof StorageIoError)) throw error;
    }
  }

  /** Applies the records recovery collected, loading each key's path first. */
  async #replay(records: ReplayRecord[]): Promise<void> {
    for (const record of records) {
      for (const op of record.ops) {
        await this.#loader.loadPath(op.key);
        if (op.kind === RecordKind.add) {
          const result = (this.#trie.get(op.key) ?? 0) + op.value;
          if (result < 0 || result > Number.MAX_SAFE_INTEGER) {
            throw new CorruptionError(
              "wal",
              record.lsn,
              `record ${record.lsn} adds ${op.value}, leaving the value range (the offset is the LSN)`,
            );
          }
        }
        applyMutation(this.#trie, op.kind, op.key, op.value);
      }
      this.#appliedLsn = record.lsn;
    }
  }

  /** The image file (a compaction replaces it). */
  get #image(): ImageFile {
    return this.#deps.image;
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw new StoreClosedError(operation);
    if (this.#trieFailure !== undefined) throw this.#trieFailure;
  }

  /**
   * {@link Store.#checkWritable} for a write (or checkpoint) the caller just
   * made: refused once `close()` was called. Writes made before it (queued
   * for a load, say) are judged by `#checkWritable` alone and go on.
   */
  #checkNewWrite(operation: string): void {
    if (this.#closeCalled) throw new StoreClosedError(operation, !this.#closed);
    this.#checkWritable(operation);
  }

  /**
   * Throws unless writes are allowed: a poisoned store refuses every write
   * before judging it, since the values it would be judged against may hold
   * writes a failed fsync lost (D7).
   */
  #checkWritable(operation: string): void {
    this.#checkOpen(operation);
    this.#wal.checkWritable();
    const poison = this.#checkpointer.poison;
    if (poison !== undefined) throw poison;
    assert(!this.#wal.poisoned, "a writable log is not poisoned");
  }

  /**
   * Whether a write of these keys must wait: a path is not loaded yet, or
   * earlier writes wait (writes are judged in the order they were made).
   */
  #mustWait(keys: readonly Uint8Array[]): boolean {
    if (this.#queued > 0) return true;
    // Paths whose records are in cached slabs load here, at once.
    for (const key of keys) if (!this.#loader.loadPathCached(key)) return true;
    return false;
  }

  /**
   * Runs a write once its keys' paths are loaded, after every write queued
   * before it. Loads start at once; judging and appending stay in order.
   */
  #enqueue<T>(keys: readonly Uint8Array[], write: () => Promise<T>): Promise<T> {
    this.#queued++;
    const loads = Promise.all(keys.map((key) => this.#loader.loadPath(key)));
    const started = this.#queueTail.then(() => loads).then(async () => {
      for (const key of keys) await this.#loader.loadPath(key);
      // Wrapped so the queue moves on once the write is appended, not durable.
      return { done: write() };
    });
    this.#queueTail = started.then(
      () => void this.#queued--,
      () => void this.#queued--,
    );
    return started.then(({ done }) => done);
  }

  /** Tells the epochs about an accepted write; starts a checkpoint if one is due. */
  #noteWrite(ops = 1): void {
    const appended = this.#wal.appendedBytes;
    const due = this.#epochs.noteWrites(ops, appended - this.#walBytesNoted, this.#clock.now());
    this.#walBytesNoted = appended;
    if (due && this.#checkpointer.queued === 0) {
      // A failure poisons the store: later writes report it.
      this.#checkpointer.run(false, true).catch(() => {});
    }
  }

  /** The newest value of `key` (whose overlay id is `id`), counting writes still in flight. */
  #latest(key: Uint8Array, id: string | undefined): number | undefined {
    // The gathering group is newer than the one in flight; both are newer than the trie.
    const gathering = this.#overlayGathering.empty
      ? undefined
      : this.#overlayGathering.entry(key, id);
    return this.#newestFrom(gathering, key, id);
  }

  /** The newest value of `key` given its raw entry in the gathering group. */
  #newestFrom(gathering: RawEntry | undefined, key: Uint8Array, id: string | undefined) {
    return valueOver(
      gathering,
      entrySettles(gathering) ? undefined : this.#latestBelowGathering(key, id),
    );
  }

  /**
   * An upper bound on the newest value of every key: the trie's, raised by
   * what the groups not yet applied may have added. Additions that keep it
   * in range need no lookup (see {@link Store.#stageStrict}).
   */
  #ceiling(): number {
    const gathering = this.#boundsGathering;
    const inFlight = this.#boundsInFlight;
    const unapplied = this.#boundsUnapplied;
    const exact = Math.max(
      this.#trie.valueCeiling,
      gathering.exactMax,
      inFlight.exactMax,
      unapplied.exactMax,
    );
    return exact + gathering.byBound + inFlight.byBound + unapplied.byBound;
  }

  /**
   * Whether the additions of `ops` can be judged by {@link Store.#ceiling}
   * alone: none subtracts, and the ceiling plus every delta and every value
   * set stays in range (so does any key, however the ops fall on it).
   */
  #fitsCeiling(ops: readonly StagedOp[]): boolean {
    let total = 0;
    for (const op of ops) {
      if (op.kind === RecordKind.delete) continue;
      if (op.value < 0) return false;
      total += op.value;
    }
    return this.#ceiling() + total <= relativeDeltaMax;
  }

  /**
   * Appends one write and stages its outcome (see {@link Store.#stage}). In
   * strict mode the overlay entry is made first and put back if the append
   * throws: making it may throw too (a key over `overlayIdBytesMax` lives in
   * a trie of the overlay's own, which allocates), and a write must not be
   * logged once its caller is told it failed.
   */
  #appendStaged(
    kind: MutationKind,
    key: Uint8Array,
    id: string | undefined,
    value: number,
    result: number | undefined,
  ): void {
    if (this.#durability === "relaxed") {
      this.#wal.appendMutation(kind, key, value);
      this.#stage(kind, key, id, value, result); // a failed apply poisons: the write stays logged
      return;
    }
    const overlay = this.#overlayGathering;
    const bounds = this.#boundsGathering;
    const before = overlay.entry(key, id);
    const exactMax = bounds.exactMax;
    this.#stage(kind, key, id, value, result);
    try {
      this.#wal.appendMutation(kind, key, value);
    } catch (error) {
      bounds.exactMax = exactMax;
      try {
        overlay.restoreEntry(key, id, before);
      } catch (restoring) {
        throw this.#failTrie(restoring); // the overlay is wrong now: refuse everything
      }
      throw error;
    }
  }

  /** Records a write's outcome for validation (strict) or applies it (relaxed). */
  #stage(
    kind: MutationKind,
    key: Uint8Array,
    id: string | undefined,
    value: number,
    result: number | undefined,
  ): void {
    if (this.#durability === "relaxed") {
      try {
        applyMutation(this.#trie, kind, key, value);
      } catch (error) {
        throw this.#failTrie(error);
      }
      this.#appliedLsn = this.#wal.nextLsn - 1;
      return;
    }
    this.#overlayGathering.record(key, id, result);
    const bounds = this.#boundsGathering;
    if (result !== undefined && result > bounds.exactMax) bounds.exactMax = result;
  }

  /** The gathering group was sealed for flushing: its overlay now describes the group in flight. */
  #sealOverlay(): void {
    assert(
      this.#overlayInFlight.empty || this.#wal.poisoned,
      "the previous group was applied",
    );
    this.#overlayInFlight.clear();
    [this.#overlayGathering, this.#overlayInFlight] = [
      this.#overlayInFlight,
      this.#overlayGathering,
    ];
    const drained = resetBounds(this.#boundsInFlight);
    this.#boundsInFlight = this.#boundsGathering;
    this.#boundsGathering = drained;
  }

  /**
   * A group became durable (strict mode): its waiters may resume before its
   * records reach the trie, so the apply can overlap the next fsync. Until
   * then its bounds count in {@link Store.#ceiling}, every reader of the
   * trie calls {@link Store.#applyPending} first, and its overlay stays:
   * judgments read it over the trie instead of applying the group (the
   * waiters' next writes would otherwise apply it before the next fsync
   * starts, with nothing to overlap).
   */
  #holdGroup(records: Uint8Array, lastLsn: number): void {
    assert(this.#durability === "strict", "only strict mode applies on durability");
    if (!this.#applyQuietly()) return this.#dropInFlightGroup();
    assert(lastLsn > this.#appliedLsn, "groups become durable in LSN order");
    if (this.#unappliedRecords.length < records.length) {
      try {
        this.#unappliedRecords = new Uint8Array(2 * records.length);
      } catch (error) {
        // A WAL hook must not throw.
        this.#failTrie(new MemoryLimitError(`Cannot keep a durable group to apply`, error));
        return this.#dropInFlightGroup();
      }
      this.#unappliedView = new DataView(this.#unappliedRecords.buffer);
    }
    this.#unappliedRecords.set(records);
    this.#unapplied = { bytes: records.length, lastLsn };
    assert(this.#overlayUnapplied.empty, "the group applied before left no overlay");
    [this.#overlayUnapplied, this.#overlayInFlight] = [
      this.#overlayInFlight,
      this.#overlayUnapplied,
    ];
    const drained = resetBounds(this.#boundsUnapplied);
    this.#boundsUnapplied = this.#boundsInFlight;
    this.#boundsInFlight = drained;
  }

  /**
   * The trie failed, so the durable group in flight will never reach it: it
   * stays in the log for the next open, and its overlay goes.
   */
  #dropInFlightGroup(): void {
    assert(this.#trieFailure !== undefined, "only a failed trie drops a durable group");
    this.#overlayInFlight.clear();
    resetBounds(this.#boundsInFlight);
  }

  /**
   * Applies the durable group {@link Store.#holdGroup} kept, if one waits.
   * Throws {@link Store.#trieFailure} if this or an earlier apply failed:
   * whoever reads the trie next calls this first.
   */
  #applyPending(): void {
    if (this.#trieFailure !== undefined) throw this.#trieFailure;
    const pending = this.#unapplied;
    if (pending === undefined) return;
    this.#unapplied = undefined;
    const { bytes, lastLsn } = pending;
    const records = this.#unappliedRecords.subarray(0, bytes);
    const view = this.#unappliedView;
    const sink = this.#applySink;
    try {
      const problem = decodeGroup(records, view, sink);
      assert(problem === undefined, `own records apply cleanly: ${problem}`);
    } catch (error) {
      throw this.#failTrie(error);
    }
    assert(lastLsn > this.#appliedLsn, "groups apply in LSN order");
    this.#appliedLsn = lastLsn;
    this.#overlayUnapplied.clear(); // the trie holds the group now
    resetBounds(this.#boundsUnapplied); // the trie's own ceiling now covers what the group left
  }

  /**
   * {@link Store.#applyPending} from a WAL hook, which must not throw (the
   * log is fine): returns false if the trie failed, which every later read,
   * write and checkpoint reports.
   */
  #applyQuietly(): boolean {
    try {
      this.#applyPending();
      return true;
    } catch (error) {
      this.#failTrie(error);
      return false;
    }
  }

  /**
   * Records that applying logged writes to the trie failed; returns the
   * error every later read, write and checkpoint throws.
   */
  #failTrie(error: unknown): Error {
    if (this.#trieFailure !== undefined) return this.#trieFailure;
    const detail = error instanceof Error ? error.message : String(error);
    const logged = this.#durability === "strict"
      ? "The writes acknowledged are durable in the log"
      : "The write that raised this is in the log and counts once the log is synced (it " +
        "is flushed at close): do not retry it";
    const message = `The store's in-memory trie failed while applying logged writes ` +
      `(${detail}). ${logged}, but the trie may hold part of a batch, so the store refuses ` +
      `reads, writes and checkpoints: close it and open it again, in a process with more memory`;
    this.#trieFailure = error instanceof MemoryLimitError
      ? new MemoryLimitError(message, error, { applyFailed: true })
      : new Error(message, { cause: error });
    assert(this.#trieFailure.message.length > 0, "the failure says what happened");
    return this.#trieFailure;
  }

  /**
   * Adds `delta` (an integer, negative to subtract) to the key's count; an
   * absent key counts as 0.
   *
   * @param key The key (1..65535 bytes; strings are UTF-8).
   * @param delta A safe integer.
   * @returns The new count, once durable (strict) or buffered (relaxed).
   * @throws {RangeError} if the count would leave [0, MAX_SAFE_INTEGER] (judged with writes in flight); nothing is written.
   * @throws {StorageIoError} if the WAL write or fsync failed.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * console.assert((await store.add("word", 5)) === 5);
   * console.assert((await store.add("word", -2)) === 3);
   * await store.close();
   * ```
   */
  add(key: KeyLike, delta: number): Promise<number> {
    try {
      if (arguments.length > 2) throw tooManyArguments("add", "key, delta", arguments.length);
      this.#checkNewWrite("add");
      const bytes = transientKeyBytes(key, "add");
      checkDelta(delta, "add");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.add(key, delta));
      if (this.#mustWait([bytes])) {
        const copy = bytes.slice();
        return this.#enqueue([copy], () => this.#addNow(copy, key, delta));
      }
      return this.#addNow(bytes, key, delta);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `source` is the key as the caller gave it (an ASCII string is its own overlay id). */
  #addNow(bytes: Uint8Array, source: KeyLike, delta: number): Promise<number> {
    try {
      this.#checkWritable("add");
      const id = keyId(bytes, source);
      const result = addChecked(this.#latest(bytes, id) ?? 0, delta, bytes, "add");
      this.#appendStaged(RecordKind.add, bytes, id, delta, result);
      this.#noteWrite();
      return this.#settle(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sets the key's count.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("x", 10);
   * console.assert((await store.get("x")) === 10);
   * await store.close();
   * ```
   */
  set(key: KeyLike, value: number): Promise<void> {
    try {
      if (arguments.length > 2) throw tooManyArguments("set", "key, value", arguments.length);
      this.#checkNewWrite("set");
      const bytes = transientKeyBytes(key, "set");
      checkValue(value, "set");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.set(key, value));
      return this.#write(RecordKind.set, bytes, value, "set");
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Removes the key (a no-op write if absent).
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("x", 1);
   * await store.delete("x");
   * console.assert((await store.get("x")) === undefined);
   * await store.close();
   * ```
   */
  delete(key: KeyLike): Promise<void> {
    try {
      if (arguments.length > 1) throw tooManyArguments("delete", "key", arguments.length);
      this.#checkNewWrite("delete");
      const bytes = transientKeyBytes(key, "delete");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.delete(key));
      return this.#write(RecordKind.delete, bytes, 0, "delete");
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A set or delete: written once the key's path is loaded, in order. */
  #write(kind: MutationKind, bytes: Uint8Array, value: number, operation: string): Promise<void> {
    if (!this.#mustWait([bytes])) return this.#writeNow(kind, bytes, value, operation);
    const copy = bytes.slice();
    return this.#enqueue([copy], () => this.#writeNow(kind, copy, value, operation));
  }

  #writeNow(
    kind: MutationKind,
    bytes: Uint8Array,
    value: number,
    operation: string,
  ): Promise<void> {
    try {
      this.#checkWritable(operation);
      const result = kind === RecordKind.set ? value : undefined;
      this.#appendStaged(kind, bytes, keyId(bytes), value, result);
      this.#noteWrite();
      return this.#settle(undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #settle<T>(result: T): Promise<T> {
    if (this.#durability === "relaxed") return Promise.resolve(result);
    return this.#wal.lastGroup().then(() => result);
  }

  /**
   * The key's count, or undefined if absent. Strict mode shows only durable
   * writes; relaxed mode shows every accepted write.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * console.assert((await store.get("missing")) === undefined);
   * await store.close();
   * ```
   */
  get(key: KeyLike): Promise<number | undefined> {
    try {
      if (arguments.length > 1) throw tooManyArguments("get", "key", arguments.length);
      this.#checkOpen("get");
      const bytes = transientKeyBytes(key, "get");
      this.#applyPending();
      let found = this.#trie.lookup(bytes);
      // A path in cached slabs loads at once (one descent loads and reads); one that needs a read waits.
      if (found === LOOKUP_NOT_LOADED) found = this.#loader.lookupCached(bytes);
      if (found !== LOOKUP_NOT_LOADED) return Promise.resolve(found < 0 ? undefined : found);
      const copy = bytes.slice();
      return this.#loader.loadPath(copy).then(() => this.get(copy));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The counts of several keys, in order, read at one instant.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("a", 1);
   * const [a, b] = await store.getMany(["a", "b"]);
   * console.assert(a === 1 && b === undefined);
   * await store.close();
   * ```
   */
  getMany(keys: readonly KeyLike[]): Promise<(number | undefined)[]> {
    try {
      if (arguments.length > 1) throw tooManyArguments("getMany", "keys", arguments.length);
      this.#checkOpen("getMany");
      if (!Array.isArray(keys)) throw new TypeError("Cannot getMany: keys must be an array");
      if (keys.length > getManyKeysMax) {
        throw new RangeError(
          `Cannot getMany: at most ${getManyKeysMax} keys per call, got ${keys.length}`,
        );
      }
      const bytes = keys.map((key) => keyBytes(key, "getMany"));
      for (const key of bytes) if (!this.#loader.loadPathCached(key)) break;
      this.#applyPending();
      try {
        return Promise.resolve(bytes.map((key) => this.#trie.get(key)));
      } catch (error) {
        if (!(error instanceof NodeNotLoaded)) throw error;
        return this.#getManyLoading(bytes);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** getMany once every key's path is loaded: read at one instant after the loads. */
  async #getManyLoading(keys: Uint8Array[]): Promise<(number | undefined)[]> {
    // Loads only add nodes, so one pass of loads suffices unless a key was
    // written (and its path changed) meanwhile; a few passes bound it.
    for (let pass = 0; pass < 4; pass++) {
      await Promise.all(keys.map((key) => this.#loader.loadPath(key)));
      this.#checkOpen("getMany");
      this.#applyPending();
      try {
        return keys.map((key) => this.#trie.get(key));
      } catch (error) {
        if (!(error instanceof NodeNotLoaded)) throw error;
      }
    }
    return unreachable("getMany: paths loaded in four passes still hold stubs");
  }

  /**
   * Iterates entries in byte order (or reverse) selected like Deno KV's
   * `list`: `{ prefix }`, `{ prefix, start }`, `{ prefix, end }` or
   * `{ start, end }` (start inclusive, end exclusive). Unlike Deno KV, a
   * prefix selector also yields the key equal to the prefix. Entries are read
   * in batches of 256, each one state of the store; writes that land between
   * batches may or may not be seen. Nodes not loaded yet are loaded first.
   *
   * @throws {TypeError} if the selector or the options have an unknown key
   * or a value of the wrong type (a selector's keys are keys: a string or a
   * `Uint8Array`; `limit` a number, `reverse` a boolean).
   * @throws {RangeError} if `limit` is not a positive integer.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * for (const word of ["b", "a", "c"]) await store.add(word, 1);
   * const seen = [];
   * for await (const entry of store.list({ start: "a", end: "c" }, { reverse: true })) {
   *   seen.push(new TextDecoder().decode(entry.key));
   * }
   * console.assert(seen.join("") === "ba");
   * await store.close();
   * ```
   */
  list(selector: ListSelector, options: ListOptions = {}): AsyncIterableIterator<Entry> {
    if (arguments.length > 2) throw tooManyArguments("list", "selector, options", arguments.length);
    this.#checkOpen("list");
    const range = selectorRange(selector);
    checkOptions(options, listOptionTypes, listOptionsPlace);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 1)) {
      throw new RangeError(`Cannot list: limit must be a positive integer, got ${limit}`);
    }
    return new EntryIterator(
      this.#listSource,
      range.start,
      range.end,
      limit,
      options.reverse === true,
    );
  }

  /**
   * Starts an atomic operation: checks and mutations that commit as one WAL
   * record, all or nothing.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * const failed = await store.atomic().check("x", 1).set("y", 2).commit();
   * console.assert(!failed.ok && (await store.get("y")) === undefined);
   * await store.close();
   * ```
   */
  atomic(): AtomicOperation {
    if (arguments.length > 0) throw tooManyArguments("atomic", "", arguments.length);
    if (this.#closed) throw new StoreClosedError("atomic"); // a store refusing writes: commit() says so
    return new AtomicOperation(this);
  }

  /** Validates and commits an atomic operation. Called by {@link AtomicOperation.commit}. */
  commitAtomic(checks: AtomicCheck[], mutations: AtomicMutation[]): Promise<CommitResult> {
    try {
      this.#checkNewWrite("commit");
      if (checks.length + mutations.length > atomicOpsMax) {
        throw new RangeError(
          `Cannot commit: at most ${atomicOpsMax} checks and mutations, got ${
            checks.length + mutations.length
          }`,
        );
      }
      if (checks.length === 0) {
        const lsn = this.#commitAsciiAdds(mutations);
        if (lsn > 0) {
          this.#noteWrite(mutations.length);
          return this.#settle({ ok: true as const, lsn });
        }
      }
      const ops = new Array<StagedOp>(mutations.length);
      for (let index = 0; index < ops.length; index++) ops[index] = toStagedOp(mutations[index]);
      const checked = checks.map((check) => ({
        key: keyBytes(check.key, "check"),
        value: check.value,
      }));
      if (this.#wal.congested) {
        return this.#wal.drained().then(() => this.commitAtomic(checks, mutations));
      }
      const keys = [...checked.map((check) => check.key), ...ops.map((op) => op.key)];
      if (this.#mustWait(keys)) {
        return this.#enqueue(keys, () => this.#commitNow(checked, ops));
      }
      return this.#commitNow(checked, ops);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The common case of a counting load, committed without a key array or an
   * op object per mutation: strict mode, every mutation an addition of a
   * non-negative delta to an ASCII string key of at most
   * {@link overlayIdBytesMax} chars (its own overlay id), the trie loaded,
   * nothing queued or congested, and the value ceiling keeping every sum in
   * range (as {@link Store.#stageStrict} judges such a batch). Returns the
   * LSN, or 0 when the batch is not such a case: the general path then
   * judges it, and reports whatever is wrong with it.
   */
  #commitAsciiAdds(mutations: readonly AtomicMutation[]): number {
    const count = mutations.length;
    if (this.#durability !== "strict" || count === 0 || count > batchOpsMax) return 0;
    if (this.#queued > 0 || this.#trie.unloaded > 0 || this.#wal.congested) return 0;
    let total = 0;
    let keyBytes = 0;
    for (let index = 0; index < count; index++) {
      const { type, key, value } = mutations[index];
      if (type !== "add" || typeof key !== "string") return 0;
      if (!Number.isSafeInteger(value) || value < 0) return 0;
      const length = key.length;
      if (length === 0 || length > overlayIdBytesMax) return 0;
      for (let i = 0; i < length; i++) if (key.charCodeAt(i) > 0x7f) return 0;
      total += value;
      keyBytes += length;
    }
    const payloadBytes = addBatchPayloadBytes(count, keyBytes);
    if (payloadBytes < 0) return 0;
    if (this.#ceiling() + total > relativeDeltaMax) return 0;
    const adds = mutations as readonly AsciiAdd[]; // checked above: string keys
    const lsn = this.#wal.appendAsciiAdds(adds, payloadBytes);
    this.#overlayGathering.deferAscii(adds);
    this.#boundsGathering.byBound += total;
    this.#asciiBatches++;
    assert(lsn > 0, "LSNs start at 1");
    return lsn;
  }

  /** Judges and appends an atomic operation whose keys' paths are loaded. */
  #commitNow(
    checked: { key: Uint8Array; value: number | undefined }[],
    ops: StagedOp[],
  ): Promise<CommitResult> {
    try {
      this.#checkWritable("commit");
      for (const check of checked) {
        const latest = this.#latest(check.key, keyId(check.key));
        if (latest !== check.value) return Promise.resolve({ ok: false });
      }
      if (ops.length === 0) {
        // Checks alone write nothing, but in strict mode their verdict may rest
        // on writes in flight: answer once those are durable (D11).
        const result = { ok: true as const, lsn: this.#wal.nextLsn - 1 };
        return this.#durability === "strict"
          ? this.#wal.flushAll().then(() => result)
          : Promise.resolve(result);
      }
      let lsn: number;
      if (this.#durability === "strict") {
        lsn = this.#stageStrict(ops);
      } else {
        // Relaxed: the trie holds every value, so the ceiling is the trie's own.
        const results = this.#fitsCeiling(ops) ? undefined : this.#batchResults(ops);
        lsn = this.#wal.appendBatch(ops);
        for (let index = 0; index < ops.length; index++) {
          const op = ops[index];
          this.#stage(op.kind, op.key, op.id, op.value, results?.[index]);
        }
      }
      this.#noteWrite(ops.length);
      return this.#settle({ ok: true as const, lsn });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Strict mode: judges each op against the gathering overlay, which holds
   * the batch's earlier ops too (so no scratch table is needed), records
   * its result there, then appends the batch; if an op leaves the range or
   * the append fails, the overlay and its bounds are put back as they were
   * (an undo log), so nothing of the batch remains. Returns its LSN. The
   * group cannot be sealed in between: that happens only in the flush loop,
   * never inside this synchronous step.
   *
   * When the batch fits {@link Store.#ceiling}, its additions are judged by
   * the bound alone: no lookup below the gathering group, and the overlay
   * records "the value below, plus the delta" (a relative entry) where it
   * knows no value. Applying the group after its fsync finds the real ones.
   */
  #stageStrict(ops: StagedOp[]): number {
    const overlay = this.#overlayGathering;
    const bounds = this.#boundsGathering;
    const additions = additionsById(ops);
    if (additions >= 0 && this.#ceiling() + additions <= relativeDeltaMax) {
      // Nothing to judge or to undo: the append throws before anything is staged.
      const lsn = this.#wal.appendBatch(ops);
      overlay.defer(ops);
      bounds.byBound += additions;
      return lsn;
    }
    const { exactMax, byBound } = bounds;
    const before = this.#undoValues;
    before.length = 0;
    const judgedByBound = this.#fitsCeiling(ops);
    try {
      for (const op of ops) {
        const entry = overlay.entry(op.key, op.id);
        before.push(entry);
        if (judgedByBound && op.kind === RecordKind.add && op.id !== undefined) {
          // The bound rises by every delta judged by it: a looser bound, never a wrong one.
          overlay.addEntry(op.id, op.value);
          bounds.byBound += op.value;
          continue;
        }
        const current = this.#newestFrom(entry, op.key, op.id);
        let result: number | undefined;
        if (op.kind === RecordKind.add) {
          result = addChecked(current ?? 0, op.value, op.key, "commit");
        } else if (op.kind === RecordKind.set) result = op.value;
        overlay.record(op.key, op.id, result);
        if (result !== undefined && result > bounds.exactMax) bounds.exactMax = result;
      }
      assert(before.length === ops.length, "every op was staged");
      return this.#wal.appendBatch(ops);
    } catch (error) {
      for (let index = before.length - 1; index >= 0; index--) {
        overlay.restoreEntry(ops[index].key, ops[index].id, before[index]);
      }
      bounds.exactMax = exactMax;
      bounds.byBound = byBound;
      throw error;
    } finally {
      before.length = 0;
    }
  }

  /** The newest value of `key` below the gathering group: the group in flight, then the durable state. */
  #latestBelowGathering(key: Uint8Array, id: string | undefined): number | undefined {
    const inFlight = this.#overlayInFlight.empty ? undefined : this.#overlayInFlight.entry(key, id);
    if (entrySettles(inFlight)) return valueOver(inFlight, undefined);
    return valueOver(inFlight, this.#latestDurable(key, id));
  }

  /**
   * The durable value of `key`: the group waiting to be applied, then the
   * trie, which lacks only that group (so a key it did not write, or only
   * added to, reads right without applying it).
   */
  #latestDurable(key: Uint8Array, id: string | undefined): number | undefined {
    const overlay = this.#overlayUnapplied;
    assert(overlay.empty || this.#unapplied !== undefined, "an overlay only for a waiting group");
    const unapplied = overlay.empty ? undefined : overlay.entry(key, id);
    if (entrySettles(unapplied)) return valueOver(unapplied, undefined);
    return valueOver(unapplied, this.#trie.get(key));
  }

  /** The value each op leaves, in order; throws RangeError if one leaves the range. */
  #batchResults(ops: StagedOp[]): (number | undefined)[] {
    const local = this.#batchLocal;
    local.clear(); // a commit that threw left its entries
    const results = new Array<number | undefined>(ops.length);
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index];
      const earlier = local.get(op.key, op.id); // null: deleted by an earlier op
      const current = earlier === undefined ? this.#latest(op.key, op.id) : earlier ?? undefined;
      let result: number | undefined;
      if (op.kind === RecordKind.add) result = addChecked(current ?? 0, op.value, op.key, "commit");
      else if (op.kind === RecordKind.set) result = op.value;
      local.record(op.key, op.id, result);
      results[index] = result;
    }
    local.clear();
    assert(results.length === ops.length, "every op has a result");
    return results;
  }

  /**
   * Makes every write accepted so far durable (relaxed mode's explicit
   * commit point; in strict mode it waits for writes in flight).
   *
   * @throws {StorageIoError} if a WAL write or fsync failed.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage(), durability: "relaxed" });
   * void store.add("fast", 1);
   * await store.sync();
   * console.assert(store.stats().durableLsn === 1);
   * await store.close();
   * ```
   */
  sync(): Promise<void> {
    if (arguments.length > 0) {
      return Promise.reject(tooManyArguments("sync", "", arguments.length));
    }
    if (this.#closed) return Promise.reject(new StoreClosedError("sync"));
    return this.#wal.flushAll();
  }

  /**
   * Counters describing the store now.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.add("a", 1);
   * console.assert(store.stats().keys === 1 && store.stats().lastLsn === 1);
   * await store.close();
   * ```
   */
  stats(): StoreStats {
    if (arguments.length > 0) throw tooManyArguments("stats", "", arguments.length);
    // A trie that failed (now or before) is reported as it is: it may hold part of a batch.
    this.#applyQuietly();
    const header = this.#image.header;
    return {
      keys: this.#trie.size,
      lastLsn: this.#wal.nextLsn - 1,
      queuedWrites: this.#queued,
      durableLsn: this.#wal.durableLsn,
      durability: this.#durability,
      wal: { ...this.#wal.stats },
      recovery: copyRecovery(this.#recovery),
      epochs: this.#epochs.stats(this.#clock.now()),
      image: {
        ...this.#image.space(),
        generation: header?.generation ?? 0,
        coverageLsn: header?.coverageLsn ?? 0,
        nodesLoaded: this.#loader.stats.nodesLoaded,
      },
      memory: this.#trie.memory(),
    };
  }

  /**
   * Writes the changes since the last checkpoint into the image and drops
   * the WAL segments it covers, so a reopen replays less. Writers go on
   * meanwhile; only the capture of the trie is exclusive (D8). Checkpoints
   * also run on their own when an epoch ends (the `checkpoint` option). A
   * call while one runs waits for it and then runs another, so everything
   * accepted before the call is in the image when it resolves.
   *
   * @param options `compact: true` rewrites the whole image (it compacts on
   * its own once dead space passes half of it).
   * @returns What the checkpoint wrote.
   * @throws {TypeError} if `options` is not an object, has a key other than
   * `compact`, or `compact` is not a boolean.
   * @throws {StorageIoError} if a write or fsync failed: the store then
   * refuses writes until reopened (nothing acknowledged is lost).
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const storage = new MemoryBlockStorage();
   * const store = await openStore({ storage });
   * await store.add("the cat", 4);
   * const { coverageLsn } = await store.checkpoint();
   * console.assert(coverageLsn === 1);
   * await store.add("the cat", 5);
   * await store.close();
   * const again = await openStore({ storage });
   * console.assert((await again.get("the cat")) === 9);
   * await again.close();
   * ```
   */
  checkpoint(options: { compact?: boolean } = {}): Promise<CheckpointResult> {
    try {
      if (arguments.length > 1) {
        throw tooManyArguments("checkpoint", "options", arguments.length);
      }
      checkOptions(options, checkpointOptionTypes, checkpointOptionsPlace);
      this.#checkNewWrite("checkpoint");
      return this.#checkpointer.run(options.compact === true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Checks the committed image from disk: every record's checksum, the key
   * order, the node invariants, the key count and the allocation table; and
   * the in-memory trie's invariants. Reads the whole image: meant for tests,
   * the simulator and on-request checks. Waits for a running checkpoint.
   * Also reports the files an open moved aside (`quarantined`: each is a
   * problem until it is deleted) and both image header slots: the current
   * one must read back as the header in use (else a problem); the other
   * should hold the previous commit's header, which open falls back on if
   * the current one is lost, and a `warning` says when it cannot (damaged,
   * blank after a commit, or stale; the next checkpoint rewrites it).
   *
   * @returns A report; `ok` is false and `problems` says why if anything is wrong.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.add("a", 1);
   * await store.checkpoint();
   * const report = await store.verify();
   * console.assert(report.ok && report.image.keys === 1);
   * await store.close();
   * ```
   */
  verify(): Promise<VerifyReport> {
    try {
      if (arguments.length > 0) throw tooManyArguments("verify", "", arguments.length);
      this.#checkOpen("verify");
      return this.#checkpointer.exclusive(() => this.#verify());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #verify(): Promise<VerifyReport> {
    const header = this.#image.header;
    const image = await verifyImage({
      read: (address) => this.#image.read(address),
      rootAddress: header?.rootAddress ?? 0,
      keyCount: header?.keyCount ?? 0,
      slabBytes: this.#image.geometry.slabBytes,
    });
    const problems = [...image.problems, ...await this.#image.checkLive(image.liveBytesBySlab)];
    const slots = await this.#image.checkSlots(
      this.#wal.segments[0]?.firstLsn ?? this.#wal.nextLsn,
    );
    problems.push(...slots.problems);
    const quarantined = await findQuarantined(this.#storage);
    problems.push(...quarantined.map(quarantineProblem));
    this.#applyPending(); // a trie that failed applying writes throws that failure, no problem of its own
    try {
      this.#trie.verify();
    } catch (error) {
      problems.push(`in-memory trie: ${error instanceof Error ? error.message : String(error)}`);
    }
    return {
      ok: problems.length === 0,
      image,
      problems,
      warnings: slots.warnings,
      headerSlots: slots.slots,
      quarantined,
    };
  }

  /**
   * Waits for accepted writes to become durable (and, with automatic
   * checkpoints, checkpoints what the image lacks so the next open is
   * fast), then releases the files and the directory lock. Writes and
   * checkpoints called once `close()` was called, and every call after it
   * resolves, are refused with {@link StoreClosedError} (nothing of them is
   * written). Idempotent.
   *
   * @throws {StorageIoError} if a WAL write or fsync had failed (the message
   * says whether writes not yet durable were lost); the files are released
   * all the same.
   *
   * @example
   * ```ts
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.close();
   * await store.close();
   * ```
   */
  close(): Promise<void> {
    if (arguments.length > 0) {
      return Promise.reject(tooManyArguments("close", "", arguments.length));
    }
    if (this.#closing === undefined) {
      this.#closeCalled = true;
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /**
   * Leaves the directory as small as the image allows (close, once the last
   * checkpoint ran): commits the image again into the other header slot so
   * both slots cover the same LSN (`Checkpointer.restate`); compacts an
   * image whose file outgrew its records (automatic checkpoints only, see
   * `closeCompactionDue`); then, when the image covers the whole log,
   * starts an empty segment, and removes every segment both slots cover but
   * the newest `retainSegments` (also with nothing new to seal: covered
   * segments a power loss brought back, their removal not yet durable,
   * would otherwise stay until a checkpoint). Best effort: a failure leaves
   * segments the
   * next open reads past (nothing is lost), and a failed restate or
   * compaction poisons the checkpointer, so nothing is removed after it.
   */
  async #settleForClose(): Promise<void> {
    const checkpointer = this.#checkpointer;
    // A store that must be reopened changes nothing more on disk.
    if (this.#trieFailure !== undefined || checkpointer.poison !== undefined) return;
    if (this.#wal.poisoned) return;
    await checkpointer.restate().catch(() => {});
    if (this.#epochs.config.auto && checkpointer.closeCompactionDue()) {
      await checkpointer.run(true).catch(() => {});
    }
    await checkpointer.exclusive(async () => {
      if (checkpointer.poison !== undefined || this.#wal.poisoned) return;
      const coverage = this.#image.header?.coverageLsn ?? 0;
      if (coverage === 0) return;
      if (coverage === this.#wal.nextLsn - 1) await this.#wal.startEmptySegment();
      const reclaimable = this.#image.reclaimableLsn;
      await this.#wal.reclaim(reclaimable, this.#epochs.config.retainSegments).catch(() => {});
    });
  }

  async #close(): Promise<void> {
    try {
      // Writes queued for loads go first; then a last checkpoint makes the
      // next open fast (best effort: the WAL holds everything anyway).
      await this.#queueTail;
      if (this.#epochs.config.auto) {
        // Every accepted write is logged and applied first (strict mode
        // applies a group once durable), so the checkpoint covers them all;
        // records replayed at open count too, though no epoch saw them.
        await this.#wal.flushAll().catch(() => {});
        const coverage = this.#image.header?.coverageLsn ?? 0;
        if (this.#wal.nextLsn - 1 > coverage) await this.#checkpointer.run(false).catch(() => {});
      }
      await this.#settleForClose();
      this.#closed = true;
      await this.#checkpointer.exclusive(() => Promise.resolve());
      await this.#loader.idle(); // reads under way finish before the image closes
      const lost = this.#wal.nextLsn - 1 - this.#wal.durableLsn;
      await this.#wal.close();
      if (this.#wal.poisoned && lost > 0) {
        throw new StorageIoError(
          "Cannot close cleanly: an earlier WAL write or fsync failed, so writes not yet " +
            "durable were lost (strict mode: their callers were told; relaxed mode: writes " +
            "since the last successful sync()); the files are released, open the store again",
        );
      }
      if (this.#wal.poisoned) {
        // A directory fsync failed (a reclaim's, say): the store stopped taking
        // writes, but every one it accepted is durable.
        throw new StorageIoError(
          "Cannot close cleanly: a directory fsync failed, so the store took no more writes; " +
            "every write it accepted is durable; the files are released, open the store again",
        );
      }
    } finally {
      this.#closed = true;
      try {
        await this.#image.close();
      } finally {
        await this.#storage.unlock();
      }
    }
  }
}

/** Applies one mutation to a trie; the caller has validated it. */
function applyMutation(trie: Art, kind: MutationKind, key: Uint8Array, value: number): void {
  if (kind === RecordKind.add) trie.add(key, value);
  else if (kind === RecordKind.set) trie.set(key, value);
  else trie.delete(key);
}

/**
 * A sink that applies records this store judged when it appended them (a
 * durable group, strict mode): no range checks beyond the trie's own
 * assertions, one descent per mutation.
 */
function applyingSink(trie: Art): MutationSink {
  return {
    mutation(kind, key, value) {
      applyMutation(trie, kind, key, value);
      return undefined;
    },
  };
}

/**
 * Upper bounds on what a group not yet applied leaves (strict mode): the
 * largest value its writes were judged to leave, and the sum of the deltas
 * it added without knowing the values below them (relative entries).
 */
interface GroupBounds {
  exactMax: number;
  byBound: number;
}

/** Zeroes `bounds` (its group was applied, or it starts a new one); returns it. */
function resetBounds(bounds: GroupBounds): GroupBounds {
  bounds.exactMax = 0;
  bounds.byBound = 0;
  return bounds;
}

/** One mutation of an atomic commit, with its key's overlay id. */
interface StagedOp extends BatchOp {
  id: string | undefined;
}

/**
 * The sum of the deltas of `ops` when every op adds (≥ 0) to a key with an
 * overlay id, so the batch can be deferred whole (see `Overlay.defer`); else -1.
 */
function additionsById(ops: readonly StagedOp[]): number {
  let total = 0;
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index];
    if (op.kind !== RecordKind.add || op.id === undefined || op.value < 0) return -1;
    total += op.value;
  }
  return total;
}

function toStagedOp(mutation: AtomicMutation): StagedOp {
  const key = packedKeyBytes(mutation.key, mutation.type);
  const id = keyId(key, mutation.key);
  if (mutation.type === "add") {
    return { kind: RecordKind.add, key, value: checkDelta(mutation.value, "add"), id };
  }
  if (mutation.type === "set") {
    return { kind: RecordKind.set, key, value: checkValue(mutation.value, "set"), id };
  }
  assert(mutation.type === "delete", "mutation types are add, set and delete");
  return { kind: RecordKind.delete, key, value: 0, id };
}

/** What {@link Store.verify} reports. */
export interface VerifyReport {
  /** True when nothing is wrong. */
  ok: boolean;
  /** The image walk: keys, nodes, bytes, depth. */
  image: ImageVerifyReport;
  /**
   * What is wrong, each naming where; empty when `ok`: damage in the image,
   * a current header slot that does not read back, a file moved aside (one
   * line each), a broken invariant of the in-memory trie.
   */
  problems: string[];
  /**
   * What loses nothing now but leaves less margin: the header slot not in
   * use cannot serve as a fallback (damaged, blank after a commit, stale).
   * The next checkpoint rewrites it.
   */
  warnings: string[];
  /** Both image header slots as read from disk now (A, then B). */
  headerSlots: HeaderSlotReport[];
  /** Files an open moved aside that are still in the directory. */
  quarantined: QuarantinedFileFound[];
}

/** What {@link openTrie} opened. */
interface OpenedTrie {
  trie: Art;
  /** Records loaded into it. */
  loaded: number;
  /** Whether every record was read (some may have failed: they stay stubs). */
  whole: boolean;
}

/**
 * The trie of a freshly opened image: the whole image when `load` allows
 * and its slabs fit the slab cache (read slab by slab, then built in one
 * pass; a record that fails its checks or a slab that fails to read stays
 * a stub), else the root with a stub for everything else.
 */
async function openTrie(image: ImageFile, load: LoadMode): Promise<OpenedTrie> {
  const header = image.header;
  if (header === undefined || header.rootAddress === 0) {
    return { trie: new Art(), loaded: 0, whole: true };
  }
  if (header.keyCount === 0) {
    throw new CorruptionError(imageFileName, 0, "the image header has a root but no keys");
  }
  const rootAddress = header.rootAddress;
  const whole = load !== "lazy" && await image.cacheAll();
  const built = whole ? buildWhole(image, rootAddress, header.keyCount) : undefined;
  if (built !== undefined) return { ...built, whole };
  // Lazy, too big for the slab cache, or the root's slab read badly: the root alone.
  const root = checkedNode(await image.read(rootAddress), rootAddress);
  return { trie: Art.fromImage(root, rootAddress, header.keyCount), loaded: 0, whole };
}

/**
 * The whole trie from an image whose slabs are all cached, and the records
 * it loaded; undefined if the root's slab is not there (its read failed).
 */
function buildWhole(
  image: ImageFile,
  rootAddress: number,
  keys: number,
): { trie: Art; loaded: number } | undefined {
  let loaded = 0;
  const fields = newRecordFields();
  const source = {
    fields,
    fetch: (address: number): Uint8Array | undefined => {
      const bytes = image.cachedFields(address, fields);
      if (bytes !== undefined) loaded++;
      return bytes;
    },
  };
  const trie = Art.fromImageWhole(rootAddress, keys, source);
  if (trie === undefined) return undefined;
  if (typeof trie === "string") throw new CorruptionError(imageFileName, rootAddress, trie);
  // Every record is in the trie (or, read badly, still a stub that loads on use).
  if (trie.unloaded === 0) image.dropCache();
  return { trie, loaded };
}

/**
 * A sink that collects the WAL records above the coverage for
 * {@link Store.open} into `into` (a record without mutations, such as a
 * checkpoint record, is left out); refuses a negative set, which the engine
 * never logs.
 */
function replayCollector(into: ReplayRecord[]): RecordSink {
  let record: ReplayRecord = { lsn: 0, ops: [] };
  return {
    record(lsn) {
      record = { lsn, ops: [] };
    },
    mutation(kind, key, value) {
      if (kind === RecordKind.set && value < 0) return `set of ${value} is negative`;
      if (record.ops.length === 0) into.push(record);
      record.ops.push({ kind, key: key.slice(), value });
      return undefined;
    },
  };
}
