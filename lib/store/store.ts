/**
 * The public face of the durable counting store: `openStore` and the
 * `Store` class. Everything a caller passes is checked here (argument
 * counts, options objects, keys, values, deltas, selectors, limits; the
 * options of `openStore` in `_open_options.ts`), and turned into what the
 * engine takes (key bytes, resolved options); then
 * each call is one call of the engine (`lib/engine/engine.ts`), which
 * holds the trie, the log and the image and orders the work between them.
 * Kept apart so that the API and its checks read in one place, and the
 * engine's flow in another (docs/ARCHITECTURE.md).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  checkOptions,
  type OptionsPlace,
  type OptionTypes,
  tooManyArguments,
} from "../_options.ts";
import { StoreClosedError, StoreLockedError } from "../errors.ts";
import type { BlockStorage } from "../storage/block_storage.ts";
import { atomicOpsMax, getManyKeysMax } from "../limits.ts";
import {
  type CheckedKey,
  type Durability,
  Engine,
  type EngineConfig,
  type LoadMode,
  type StagedOp,
  stagedOp,
  type StoreStats,
  type VerifyReport,
  type WriteCounters,
} from "../engine/engine.ts";
import type { CheckpointResult } from "../engine/checkpointer.ts";
import type { CheckpointOptions, EpochStats } from "../engine/epochs.ts";
import { EntryIterator, type ListSource } from "./_list.ts";
import { scanEntries, type ScanSource } from "./_scan.ts";
import {
  engineConfig,
  type OpenOptions,
  resolveOpenOptions,
  resolveStorage,
  type StoreOptions,
} from "./_open_options.ts";
import {
  type AtomicCheck,
  type AtomicCommitter,
  type AtomicMutation,
  AtomicOperation,
  type CommitResult,
} from "./atomic.ts";
import {
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
// The engine's types the API shows (mod.ts exports them from here).
export type { Durability, LoadMode, StoreStats, VerifyReport, WriteCounters };
// openStore's options; the image geometry's and the slab cache's keys are for the simulator.
export {
  imageGeometryKey,
  type InternalStoreOptions,
  type OpenOptions,
  slabCacheSlabsMinKey,
  type StoreOptions,
} from "./_open_options.ts";

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

/** The resolved options {@link Store.open} takes (the engine's; see `lib/engine/config.ts`). */
export type StoreConfig = EngineConfig;

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
 * import assert from "node:assert/strict";
 * import { openStore } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir);
 * assert.ok((await store.add("the quick", 3)) === 3);
 * await store.close();
 * const again = await openStore(dir, { durability: "relaxed", checkpoint: { auto: false } });
 * assert.ok((await again.get("the quick")) === 3);
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
  const config = engineConfig(resolved);
  const storage = await resolveStorage(resolved);
  if (!(await storage.tryLock())) throw new StoreLockedError(storage.description);
  try {
    return await Store.open(storage, config);
  } catch (error) {
    await storage.unlock();
    throw error;
  }
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
 * import assert from "node:assert/strict";
 * import { MemoryBlockStorage, openStore } from "../../mod.ts";
 * import { writeCounters } from "./store.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.add("a", 1);
 * assert.ok(writeCounters(store).lastLsn === 1);
 * await store.close();
 * ```
 */
export function writeCounters(store: Store): WriteCounters {
  return readWriteCounters(store);
}

let readMemoryFloor: (store: Store, keys: readonly Uint8Array[]) => number;

/**
 * The bytes of trie nodes no eviction of a memory budget may free while
 * `keys` are pinned (the root, their paths, nodes not yet written to the
 * image, a stub for each child below those that could go): for the
 * simulator's memory bound. Not part of the module's API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBlockStorage, openStore } from "../../mod.ts";
 * import { memoryFloor, writeCounters } from "./store.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.add("a", 1);
 * // Nothing checkpointed yet: every node must stay.
 * assert.ok(memoryFloor(store, []) === writeCounters(store).memory.liveBytes);
 * await store.close();
 * ```
 */
export function memoryFloor(store: Store, keys: readonly Uint8Array[]): number {
  return readMemoryFloor(store, keys);
}

/**
 * An open store. Get one from {@link openStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore, MemoryBlockStorage } from "../../mod.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.add("the cat", 2);
 * await store.add("the dog", 1);
 * const keys = [];
 * for await (const { key, value } of store.list({ prefix: "the " })) {
 *   keys.push(`${new TextDecoder().decode(key)}=${value}`);
 * }
 * assert.ok(keys.join(",") === "the cat=2,the dog=1");
 * await store.close();
 * ```
 */
export class Store implements AtomicCommitter {
  readonly #engine: Engine;
  /** What `list` iterators read from: the engine's trie and loader. */
  readonly #listSource: ListSource;
  /** What `scan` visits: the same trie and loader. */
  readonly #scanSource: ScanSource;

  static {
    readWriteCounters = (store) => store.#engine.writeCounters();
    readMemoryFloor = (store, keys) => store.#engine.memoryFloor(keys);
  }

  private constructor(engine: Engine) {
    this.#engine = engine;
    this.#listSource = {
      checkOpen: () => engine.checkOpen("list"),
      read: (start, end, reverse, limit, into) =>
        engine.readRange(start, end, reverse, limit, into),
      loadCached: (unloaded) => engine.loadListCached(unloaded),
      load: (unloaded) => engine.loadList(unloaded),
    };
    this.#scanSource = {
      checkOpen: () => engine.checkOpen("scan"),
      visit: (start, end, reverse, limit, visit) =>
        engine.visitRange(start, end, reverse, limit, visit),
      loadCached: (unloaded) => engine.loadListCached(unloaded),
      load: (unloaded) => engine.loadList(unloaded),
    };
  }

  /**
   * Recovers a store from a locked storage: the newest image (its root only;
   * other nodes load on first use), then the WAL records above its coverage,
   * each batch whole. Use {@link openStore}.
   */
  static async open(storage: BlockStorage, config: StoreConfig): Promise<Store> {
    return new Store(await Engine.open(storage, config));
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
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * assert.ok((await store.add("word", 5)) === 5);
   * assert.ok((await store.add("word", -2)) === 3);
   * await store.close();
   * ```
   */
  add(key: KeyLike, delta: number): Promise<number> {
    try {
      if (arguments.length > 2) throw tooManyArguments("add", "key, delta", arguments.length);
      const engine = this.#engine;
      engine.checkNewWrite("add");
      const bytes = transientKeyBytes(key, "add");
      checkDelta(delta, "add");
      if (engine.congested) return engine.drained().then(() => this.add(key, delta));
      return engine.add(bytes, key, delta);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sets the key's count.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("x", 10);
   * assert.ok((await store.get("x")) === 10);
   * await store.close();
   * ```
   */
  set(key: KeyLike, value: number): Promise<void> {
    try {
      if (arguments.length > 2) throw tooManyArguments("set", "key, value", arguments.length);
      const engine = this.#engine;
      engine.checkNewWrite("set");
      const bytes = transientKeyBytes(key, "set");
      checkValue(value, "set");
      if (engine.congested) return engine.drained().then(() => this.set(key, value));
      return engine.set(bytes, value);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Removes the key (a no-op write if absent).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("x", 1);
   * await store.delete("x");
   * assert.ok((await store.get("x")) === undefined);
   * await store.close();
   * ```
   */
  delete(key: KeyLike): Promise<void> {
    try {
      if (arguments.length > 1) throw tooManyArguments("delete", "key", arguments.length);
      const engine = this.#engine;
      engine.checkNewWrite("delete");
      const bytes = transientKeyBytes(key, "delete");
      if (engine.congested) return engine.drained().then(() => this.delete(key));
      return engine.delete(bytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The key's count, or undefined if absent. Strict mode shows only durable
   * writes; relaxed mode shows every accepted write.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * assert.ok((await store.get("missing")) === undefined);
   * await store.close();
   * ```
   */
  get(key: KeyLike): Promise<number | undefined> {
    try {
      if (arguments.length > 1) throw tooManyArguments("get", "key", arguments.length);
      this.#engine.checkOpen("get");
      return this.#engine.get(transientKeyBytes(key, "get"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The counts of several keys, in order, read at one instant.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.set("a", 1);
   * const [a, b] = await store.getMany(["a", "b"]);
   * assert.ok(a === 1 && b === undefined);
   * await store.close();
   * ```
   */
  getMany(keys: readonly KeyLike[]): Promise<(number | undefined)[]> {
    try {
      if (arguments.length > 1) throw tooManyArguments("getMany", "keys", arguments.length);
      this.#engine.checkOpen("getMany");
      if (!Array.isArray(keys)) throw new TypeError("Cannot getMany: keys must be an array");
      if (keys.length > getManyKeysMax) {
        throw new RangeError(
          `Cannot getMany: at most ${getManyKeysMax} keys per call, got ${keys.length}`,
        );
      }
      return this.#engine.getMany(keys.map((key) => keyBytes(key, "getMany")));
    } catch (error) {
      return Promise.reject(error);
    }
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
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * for (const word of ["b", "a", "c"]) await store.add(word, 1);
   * const seen = [];
   * for await (const entry of store.list({ start: "a", end: "c" }, { reverse: true })) {
   *   seen.push(new TextDecoder().decode(entry.key));
   * }
   * assert.ok(seen.join("") === "ba");
   * await store.close();
   * ```
   */
  list(selector: ListSelector, options: ListOptions = {}): AsyncIterableIterator<Entry> {
    if (arguments.length > 2) throw tooManyArguments("list", "selector, options", arguments.length);
    this.#engine.checkOpen("list");
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
   * Calls `visit(key, value)` for each entry a selector selects, in byte
   * order (or reversed), as `list` would list them; `visit` returning
   * `false` stops the scan. The key is a view valid only during the call
   * (copy it to keep it). Much cheaper than `list` per entry: the entries
   * are visited in passes of one synchronous walk each (up to 65,536
   * entries, or up to a node not loaded yet), each pass one state of the
   * store; writes between passes may or may not be seen.
   *
   * @returns How many entries were visited.
   * @throws {TypeError} as {@link Store.list} does, or if `visit` is not a function.
   * @throws {RangeError} if `limit` is not a positive integer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * for (const word of ["the cat", "the dog", "a cat"]) await store.add(word, 2);
   * let total = 0;
   * const visited = await store.scan({ prefix: "the " }, (_key, value) => void (total += value));
   * assert.ok(visited === 2 && total === 4);
   * await store.close();
   * ```
   */
  scan(
    selector: ListSelector,
    visit: (key: Uint8Array, value: number) => boolean | void,
    options: ListOptions = {},
  ): Promise<number> {
    try {
      return this.#scan(arguments.length, selector, visit, options);
    } catch (error) {
      return Promise.reject(error); // a promise-returning call reports misuse by rejecting
    }
  }

  #scan(
    given: number,
    selector: ListSelector,
    visit: (key: Uint8Array, value: number) => boolean | void,
    options: ListOptions,
  ): Promise<number> {
    if (given > 3) {
      throw tooManyArguments("scan", "selector, visit, options", given);
    }
    this.#engine.checkOpen("scan");
    const range = selectorRange(selector);
    if (typeof visit !== "function") {
      throw new TypeError(`Cannot scan: visit must be a function, got ${typeof visit}`);
    }
    checkOptions(options, listOptionTypes, { ...listOptionsPlace, operation: "scan" });
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`Cannot scan: limit must be a positive integer, got ${limit}`);
    }
    const reverse = options.reverse === true;
    return scanEntries(this.#scanSource, { ...range, reverse }, limit, visit);
  }

  /**
   * Starts an atomic operation: checks and mutations that commit as one WAL
   * record, all or nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * const failed = await store.atomic().check("x", 1).set("y", 2).commit();
   * assert.ok(!failed.ok && (await store.get("y")) === undefined);
   * await store.close();
   * ```
   */
  atomic(): AtomicOperation {
    if (arguments.length > 0) throw tooManyArguments("atomic", "", arguments.length);
    if (this.#engine.closed) throw new StoreClosedError("atomic"); // a store refusing writes: commit() says so
    return new AtomicOperation(this);
  }

  /** Validates and commits an atomic operation. Called by {@link AtomicOperation.commit}. */
  commitAtomic(checks: AtomicCheck[], mutations: AtomicMutation[]): Promise<CommitResult> {
    try {
      const engine = this.#engine;
      engine.checkNewWrite("commit");
      if (checks.length + mutations.length > atomicOpsMax) {
        throw new RangeError(
          `Cannot commit: at most ${atomicOpsMax} checks and mutations, got ${
            checks.length + mutations.length
          }`,
        );
      }
      if (checks.length === 0) {
        // Additions to short ASCII string keys commit without key bytes or op objects.
        const committed = engine.commitAsciiAdds(mutations);
        if (committed !== undefined) return committed;
      }
      const ops = new Array<StagedOp>(mutations.length);
      // Overlay ids serve strict mode's groups only: relaxed mode applies each op to the trie.
      const withIds = engine.durability === "strict";
      for (let index = 0; index < ops.length; index++) {
        ops[index] = toStagedOp(mutations[index], withIds);
      }
      const checked: CheckedKey[] = checks.map((check) => ({
        key: keyBytes(check.key, "check"),
        value: check.value,
      }));
      if (engine.congested) {
        return engine.drained().then(() => this.commitAtomic(checks, mutations));
      }
      return engine.commit(checked, ops);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Makes every write accepted so far durable (relaxed mode's explicit
   * commit point; in strict mode it waits for writes in flight).
   *
   * @throws {StorageIoError} if a WAL write or fsync failed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage(), durability: "relaxed" });
   * void store.add("fast", 1);
   * await store.sync();
   * assert.ok(store.stats().durableLsn === 1);
   * await store.close();
   * ```
   */
  sync(): Promise<void> {
    if (arguments.length > 0) {
      return Promise.reject(tooManyArguments("sync", "", arguments.length));
    }
    return this.#engine.sync();
  }

  /**
   * Counters describing the store now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.add("a", 1);
   * assert.ok(store.stats().keys === 1 && store.stats().lastLsn === 1);
   * await store.close();
   * ```
   */
  stats(): StoreStats {
    if (arguments.length > 0) throw tooManyArguments("stats", "", arguments.length);
    return this.#engine.stats();
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
   * its own once dead space passes half of it) and lays the trie out afresh
   * in memory, each node's children together in key order (long walks after
   * a bulk load get faster; memory freed by deletes goes back).
   * @returns What the checkpoint wrote.
   * @throws {TypeError} if `options` is not an object, has a key other than
   * `compact`, or `compact` is not a boolean.
   * @throws {StorageIoError} if a write or fsync failed: the store then
   * refuses writes until reopened (nothing acknowledged is lost).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const storage = new MemoryBlockStorage();
   * const store = await openStore({ storage });
   * await store.add("the cat", 4);
   * const { coverageLsn } = await store.checkpoint();
   * assert.ok(coverageLsn === 1);
   * await store.add("the cat", 5);
   * await store.close();
   * const again = await openStore({ storage });
   * assert.ok((await again.get("the cat")) === 9);
   * await again.close();
   * ```
   */
  checkpoint(options: { compact?: boolean } = {}): Promise<CheckpointResult> {
    try {
      if (arguments.length > 1) {
        throw tooManyArguments("checkpoint", "options", arguments.length);
      }
      checkOptions(options, checkpointOptionTypes, checkpointOptionsPlace);
      this.#engine.checkNewWrite("checkpoint");
      return this.#engine.checkpoint(options.compact === true);
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
   * import assert from "node:assert/strict";
   * import { openStore, MemoryBlockStorage } from "../../mod.ts";
   * const store = await openStore({ storage: new MemoryBlockStorage() });
   * await store.add("a", 1);
   * await store.checkpoint();
   * const report = await store.verify();
   * assert.ok(report.ok && report.image.keys === 1);
   * await store.close();
   * ```
   */
  verify(): Promise<VerifyReport> {
    try {
      if (arguments.length > 0) throw tooManyArguments("verify", "", arguments.length);
      this.#engine.checkOpen("verify");
      return this.#engine.verify();
    } catch (error) {
      return Promise.reject(error);
    }
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
    return this.#engine.close();
  }
}

/** A mutation of an atomic commit, checked, its key in bytes with its overlay id. */
function toStagedOp(mutation: AtomicMutation, withId: boolean): StagedOp {
  const key = packedKeyBytes(mutation.key, mutation.type);
  const source = withId ? mutation.key : undefined;
  if (mutation.type === "add") {
    return stagedOp("add", key, checkDelta(mutation.value, "add"), source);
  }
  if (mutation.type === "set") {
    return stagedOp("set", key, checkValue(mutation.value, "set"), source);
  }
  assert(mutation.type === "delete", "mutation types are add, set and delete");
  return stagedOp("delete", key, 0, source);
}
