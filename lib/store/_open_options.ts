/**
 * The options of `openStore`, both forms: their types, and the checks that
 * turn them into an engine's configuration (every key known, every value of
 * its type and in range) and a storage. Kept apart from `store.ts`, which
 * re-exports the types, so that file reads as the API and its calls.
 *
 * @module
 */

import { checkOptions, describe, type OptionsPlace, type OptionTypes } from "../_options.ts";
import { defaultGeometry, geometryProblem, type ImageGeometry } from "../image/allocation.ts";
import { type BlockStorage, type Clock, systemClock } from "../storage/block_storage.ts";
import { FileBlockStorage } from "../storage/file.ts";
import { segmentBytesDefault, segmentBytesMax } from "../wal/segment.ts";
import type { Durability, EngineConfig, LoadMode } from "../engine/engine.ts";
import { type CheckpointOptions, resolveCheckpointOptions } from "../engine/epochs.ts";

/**
 * Options of `openStore` besides where the store lives: what
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
   * How open loads the image's trie (see {@link LoadMode}). Default
   * `"auto"`: open returns once the root and the WAL tail are in, and the
   * rest loads in the background (as much as `memoryBudget` allows) while
   * reads load what they need; `"eager"`: whole before open returns;
   * `"lazy"`: only what reads and writes need.
   */
  load?: LoadMode;
  /**
   * The bytes the trie's nodes, the image's slab cache and the budget's
   * own queue may take (at least 4096; default: no limit). Past it, clean
   * subtrees (those a checkpoint wrote) go back to disk as stubs, the
   * coldest first, and load again when read again soon (a `get` or
   * `getMany` that meets a stub no read met lately answers from its records
   * and loads nothing: `stats().memory.readThrough`); this runs after loads, after
   * reads let go of what they loaded, and after checkpoints. Nodes written
   * since the last checkpoint cannot go: writes that take the trie past its
   * part start a checkpoint early, and past the part and a fifth of the
   * budget they wait for it (with automatic checkpoints on). The slab cache
   * keeps at least 8 slabs (1 MiB) whatever the budget. `stats().memory`
   * shows the budget, the live and freed bytes, the cache and the
   * evictions; `stats().image.nodesLoaded` the loads.
   */
  memoryBudget?: number;
}

/** Options of `openStore` in one object: where the store lives, and {@link OpenOptions}. */
export interface StoreOptions extends OpenOptions {
  /** A directory on disk (created if absent). Give this or `storage`. */
  path?: string;
  /** A storage to use instead of a directory, such as a `MemoryBlockStorage`. */
  storage?: BlockStorage;
}

/**
 * The key of the simulator's image geometry in the options of
 * `openStore`: a symbol, so it is no option of the API (`mod.ts` does
 * not export it, and checks of option names, which list string keys, never
 * see it). An image created by the store (or by a compaction) gets this
 * geometry; an existing one keeps its own. Only the simulator sets it, to
 * make small images span many slabs (see `allocation.ts`).
 */
export const imageGeometryKey: unique symbol = Symbol("tallytrie.imageGeometry");

/**
 * The key of the simulator's floor on the slab cache under a memory budget,
 * in the options of `openStore` (a symbol, as {@link imageGeometryKey}): the
 * budget's cache keeps at least this many slabs instead of `cacheSlabsMin`
 * (`lib/engine/_budget.ts`). Only the simulator sets it: the default floor
 * holds a small-slab run's whole image, so no walk ever read a slab from the
 * disk twice; with one slab, a list or a scan whose walk spans subtrees in
 * several slabs reads them again after an eviction (docs/SIMULATION.md).
 */
export const slabCacheSlabsMinKey: unique symbol = Symbol("tallytrie.slabCacheSlabsMin");

/** {@link StoreOptions} with the simulator's settings (see {@link imageGeometryKey}). */
export interface InternalStoreOptions extends StoreOptions {
  /** The geometry of images the store creates (default: 128 KiB slabs). */
  [imageGeometryKey]?: ImageGeometry;
  /** The fewest slabs the slab cache keeps under a memory budget (default: 8). */
  [slabCacheSlabsMinKey]?: number;
}

/** The load modes `openStore` accepts. */
const loadModes: readonly LoadMode[] = ["auto", "eager", "lazy"];

/** The smallest memory budget accepted (bytes). */
const memoryBudgetMin = 4096;

/** The smallest WAL segment size accepted. */
const walSegmentBytesMin = 4096;

/**
 * The engine's configuration from checked options: defaults filled in, the
 * segment size and the geometry in range, the checkpoint options resolved.
 *
 * @throws {RangeError} if a numeric option is out of range.
 */
export function engineConfig(resolved: StoreOptions): EngineConfig {
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
  const { geometry, cacheSlabsMin } = internalConfig(resolved as InternalStoreOptions);
  const clock = resolved.clock ?? systemClock;
  const memoryBudget = resolved.memoryBudget;
  if (
    memoryBudget !== undefined &&
    (!Number.isSafeInteger(memoryBudget) || memoryBudget < memoryBudgetMin)
  ) {
    throw new RangeError(
      `Cannot open store: memoryBudget must be an integer of at least ${memoryBudgetMin} bytes, got ${memoryBudget}`,
    );
  }
  return { durability, segmentBytes, clock, epochs, load, geometry, memoryBudget, cacheSlabsMin };
}

/**
 * The simulator's settings (see {@link InternalStoreOptions}), checked.
 *
 * @throws {RangeError} if one is out of range.
 */
function internalConfig(
  options: InternalStoreOptions,
): { geometry: ImageGeometry; cacheSlabsMin?: number } {
  const geometry = options[imageGeometryKey] ?? defaultGeometry;
  const geometryWrong = geometryProblem(geometry);
  if (geometryWrong !== undefined) {
    throw new RangeError(`Cannot open store: the image geometry is invalid: ${geometryWrong}`);
  }
  const cacheSlabsMin = options[slabCacheSlabsMinKey];
  if (cacheSlabsMin !== undefined && (!Number.isSafeInteger(cacheSlabsMin) || cacheSlabsMin < 1)) {
    throw new RangeError(
      `Cannot open store: the slab cache's floor must be an integer of at least 1 slab, got ${cacheSlabsMin}`,
    );
  }
  return cacheSlabsMin === undefined ? { geometry } : { geometry, cacheSlabsMin };
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
  memoryBudget: "number",
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

/** The options of either form of `openStore` as one object, every key checked. */
export function resolveOpenOptions(target: unknown, options: unknown): StoreOptions {
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

/**
 * The storage the options name: theirs, or a `FileBlockStorage` on the
 * directory `path` (created if absent).
 *
 * @throws {TypeError} if they name both or neither.
 */
export async function resolveStorage(options: StoreOptions): Promise<BlockStorage> {
  if (options.storage !== undefined && options.path !== undefined) {
    throw new TypeError("Cannot open store: give either path or storage, not both");
  }
  if (options.storage !== undefined) return options.storage;
  if (typeof options.path !== "string" || options.path === "") {
    throw new TypeError("Cannot open store: give a path (a non-empty string) or a storage");
  }
  return await FileBlockStorage.open(options.path);
}
