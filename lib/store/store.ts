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

import { assert } from "../_assert.ts";
import { Art } from "../art/art.ts";
import { StoreClosedError, StoreLockedError } from "../errors.ts";
import { type BlockStorage, type Clock, systemClock } from "../storage/block_storage.ts";
import { FileBlockStorage } from "../storage/file.ts";
import {
  decodeMutations,
  type MutationKind,
  type MutationSink,
  RecordKind,
  trustedFrames,
} from "../wal/record.ts";
import { segmentBytesDefault, segmentBytesMax } from "../wal/segment.ts";
import { type BatchOp, Wal } from "../wal/wal.ts";
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
  selectorRange,
  transientKeyBytes,
} from "./keys.ts";

/** When a write resolves. */
export type Durability = "strict" | "relaxed";

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** A directory on disk (created if absent). Give this or `storage`. */
  path?: string;
  /** A storage to use instead of a directory, such as a `MemoryBlockStorage`. */
  storage?: BlockStorage;
  /**
   * `"strict"` (default): writes resolve once their WAL bytes are fsynced.
   * `"relaxed"`: writes resolve once buffered; `sync()` makes them durable.
   */
  durability?: Durability;
  /** The clock for timings in `stats()` (default: `performance.now`). */
  clock?: Clock;
  /** WAL segment size in bytes at which a new segment starts (default 64 MiB). */
  walSegmentBytes?: number;
}

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
  /** Every write at or below this LSN is durable. */
  durableLsn: number;
  /** The durability mode. */
  durability: Durability;
  /** Group-commit writes, fsyncs, bytes and segments since open. */
  wal: { groups: number; fsyncs: number; bytesWritten: number; segmentsCreated: number };
  /** What open found: records replayed, torn bytes truncated, time taken. */
  recovery: { replayedRecords: number; tornBytesTruncated: number; openMs: number };
}

/** Entries `list` pulls from the trie per step; bounds the work done without yielding. */
const listBatchSize = 256;
/** The smallest WAL segment size accepted. */
const walSegmentBytesMin = 4096;
/** The most keys one `getMany` call takes (Deno KV allows 10). */
export const getManyKeysMax = 100_000;
/** The most mutations or checks one atomic operation takes. */
export const atomicOpsMax = 1_000_000;

/**
 * The newest values of keys written by one group that is not yet durable:
 * counts in `values`, deleted keys in `deleted` (a key is in at most one).
 */
class Overlay {
  readonly values = new Art();
  readonly deleted = new Art();

  get size(): number {
    return this.values.size + this.deleted.size;
  }

  /** The key's newest value: a number, `null` if deleted, undefined if not written. */
  get(key: Uint8Array): number | null | undefined {
    const value = this.values.get(key);
    if (value !== undefined) return value;
    return this.deleted.get(key) === undefined ? undefined : null;
  }

  record(key: Uint8Array, value: number | undefined): void {
    if (value === undefined) {
      this.values.delete(key);
      this.deleted.set(key, 0);
    } else {
      this.deleted.delete(key);
      this.values.set(key, value);
    }
    assert(this.get(key) === (value ?? null), "the overlay holds the newest value");
  }

  clear(): void {
    this.values.clear();
    this.deleted.clear();
  }
}

/**
 * Opens (creating if needed) the store in a directory or on a given storage,
 * recovering every durable write. One store at a time may hold a directory.
 *
 * @param target A directory path, or options with `path` or `storage`.
 * @returns The open store.
 * @throws {StoreLockedError} if the directory is already open.
 * @throws {CorruptionError} if the durable log is damaged.
 *
 * @example
 * ```ts
 * import { openStore } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir);
 * console.assert((await store.add("the quick", 3)) === 3);
 * await store.close();
 * const again = await openStore(dir);
 * console.assert((await again.get("the quick")) === 3);
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openStore(target: string | StoreOptions): Promise<Store> {
  const options: StoreOptions = typeof target === "string" ? { path: target } : target;
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot open store: pass a directory path or an options object");
  }
  const durability = options.durability ?? "strict";
  if (durability !== "strict" && durability !== "relaxed") {
    throw new TypeError(
      `Cannot open store: durability must be "strict" or "relaxed", got "${durability}"`,
    );
  }
  const segmentBytes = options.walSegmentBytes ?? segmentBytesDefault;
  if (
    !Number.isSafeInteger(segmentBytes) || segmentBytes < walSegmentBytesMin ||
    segmentBytes > segmentBytesMax
  ) {
    throw new RangeError(
      `Cannot open store: walSegmentBytes must be an integer from ${walSegmentBytesMin} to ${segmentBytesMax}, got ${segmentBytes}`,
    );
  }
  const storage = await resolveStorage(options);
  if (!(await storage.tryLock())) throw new StoreLockedError(storage.description);
  try {
    return await Store.open(storage, durability, segmentBytes, options.clock ?? systemClock);
  } catch (error) {
    await storage.unlock();
    throw error;
  }
}

async function resolveStorage(options: StoreOptions): Promise<BlockStorage> {
  if (options.storage !== undefined && options.path !== undefined) {
    throw new TypeError("Cannot open store: give either path or storage, not both");
  }
  if (options.storage !== undefined) return options.storage;
  if (typeof options.path !== "string" || options.path === "") {
    throw new TypeError("Cannot open store: path must be a non-empty string");
  }
  return await FileBlockStorage.open(options.path);
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
  readonly #durability: Durability;
  readonly #trie: Art;
  #overlayGathering = new Overlay();
  #overlayInFlight = new Overlay();
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #recovery: StoreStats["recovery"];

  private constructor(
    storage: BlockStorage,
    wal: Wal,
    durability: Durability,
    trie: Art,
    recovery: StoreStats["recovery"],
  ) {
    this.#storage = storage;
    this.#wal = wal;
    this.#durability = durability;
    this.#trie = trie;
    this.#recovery = recovery;
    if (durability === "strict") {
      wal.onSeal = () => this.#sealOverlay();
      wal.onDurable = (records) => this.#applyGroup(records);
    }
  }

  /** Recovers a store from a locked storage. Use {@link openStore}. */
  static async open(
    storage: BlockStorage,
    durability: Durability,
    segmentBytes: number,
    clock: Clock,
  ): Promise<Store> {
    const started = clock.now();
    const trie = new Art();
    const sink = replaySink(trie);
    const { wal, scan } = await Wal.open(storage, {
      afterLsn: 0,
      segmentBytes,
      onRecord: (bytes, view, frame) => decodeMutations(bytes, view, frame, sink),
    });
    assert(wal.durableLsn === scan.lastLsn, "recovery leaves everything replayed durable");
    const recovery = {
      replayedRecords: scan.replayed,
      tornBytesTruncated: scan.tornBytes,
      openMs: clock.now() - started,
    };
    return new Store(storage, wal, durability, trie, recovery);
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw new StoreClosedError(operation);
  }

  /**
   * Throws unless writes are allowed: a poisoned store refuses every write
   * before judging it, since the values it would be judged against may hold
   * writes a failed fsync lost (D7).
   */
  #checkWritable(operation: string): void {
    this.#checkOpen(operation);
    this.#wal.checkWritable();
    assert(!this.#wal.poisoned, "a writable log is not poisoned");
  }

  /** The newest value of `key`, counting writes still in flight. */
  #latest(key: Uint8Array): number | undefined {
    // The gathering group is newer than the one in flight; both are newer than the trie.
    const gathering = this.#overlayGathering.size === 0
      ? undefined
      : this.#overlayGathering.get(key);
    if (gathering !== undefined) return gathering ?? undefined;
    const inFlight = this.#overlayInFlight.size === 0 ? undefined : this.#overlayInFlight.get(key);
    if (inFlight !== undefined) return inFlight ?? undefined;
    return this.#trie.get(key);
  }

  /** Records a write's outcome for validation (strict) or applies it (relaxed). */
  #stage(kind: MutationKind, key: Uint8Array, value: number, result: number | undefined): void {
    if (this.#durability === "relaxed") {
      applyMutation(this.#trie, kind, key, value);
      return;
    }
    this.#overlayGathering.record(key, result);
  }

  /** The gathering group was sealed for flushing: its overlay now describes the group in flight. */
  #sealOverlay(): void {
    assert(
      this.#overlayInFlight.size === 0 || this.#wal.poisoned,
      "the previous group was applied",
    );
    this.#overlayInFlight.clear();
    [this.#overlayGathering, this.#overlayInFlight] = [
      this.#overlayInFlight,
      this.#overlayGathering,
    ];
  }

  /** Applies a durable group's records to the trie (strict mode). */
  #applyGroup(records: Uint8Array): void {
    assert(this.#durability === "strict", "only strict mode applies on durability");
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
    const sink = replaySink(this.#trie);
    for (const frame of trustedFrames(records, view)) {
      const problem = decodeMutations(records, view, frame, sink);
      assert(problem === undefined, `own records apply cleanly: ${problem}`);
    }
    this.#overlayInFlight.clear();
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
      this.#checkWritable("add");
      const bytes = transientKeyBytes(key, "add");
      checkDelta(delta, "add");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.add(key, delta));
      const result = addChecked(this.#latest(bytes) ?? 0, delta, bytes, "add");
      this.#wal.appendMutation(RecordKind.add, bytes, delta);
      this.#stage(RecordKind.add, bytes, delta, result);
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
      this.#checkWritable("set");
      const bytes = transientKeyBytes(key, "set");
      checkValue(value, "set");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.set(key, value));
      this.#wal.appendMutation(RecordKind.set, bytes, value);
      this.#stage(RecordKind.set, bytes, value, value);
      return this.#settle(undefined);
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
      this.#checkWritable("delete");
      const bytes = transientKeyBytes(key, "delete");
      if (this.#wal.congested) return this.#wal.drained().then(() => this.delete(key));
      this.#wal.appendMutation(RecordKind.delete, bytes, 0);
      this.#stage(RecordKind.delete, bytes, 0, undefined);
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
      this.#checkOpen("get");
      return Promise.resolve(this.#trie.get(transientKeyBytes(key, "get")));
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
      this.#checkOpen("getMany");
      if (!Array.isArray(keys)) throw new TypeError("Cannot getMany: keys must be an array");
      if (keys.length > getManyKeysMax) {
        throw new RangeError(
          `Cannot getMany: at most ${getManyKeysMax} keys per call, got ${keys.length}`,
        );
      }
      const bytes = keys.map((key) => keyBytes(key, "getMany"));
      return Promise.resolve(bytes.map((key) => this.#trie.get(key)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Iterates entries in byte order (or reverse) selected like Deno KV's
   * `list`: `{ prefix }`, `{ prefix, start }`, `{ prefix, end }` or
   * `{ start, end }` (start inclusive, end exclusive). Unlike Deno KV, a
   * prefix selector also yields the key equal to the prefix. Entries are read
   * in batches; writes that land between batches may or may not be seen.
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
    this.#checkOpen("list");
    const range = selectorRange(selector);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 1)) {
      throw new RangeError(`Cannot list: limit must be a positive integer, got ${limit}`);
    }
    return this.#listEntries(range.start, range.end, limit, options.reverse === true);
  }

  async *#listEntries(
    start: Uint8Array,
    end: Uint8Array | undefined,
    limit: number,
    reverse: boolean,
  ): AsyncIterableIterator<Entry> {
    let remaining = limit;
    while (remaining > 0) {
      this.#checkOpen("list");
      const batch: Entry[] = [];
      const want = Math.min(listBatchSize, remaining);
      for (const [key, value] of this.#trie.entries({ start, end, reverse })) {
        batch.push({ key, value });
        if (batch.length === want) break;
      }
      for (const entry of batch) yield entry;
      remaining -= batch.length;
      if (batch.length < want) return;
      const last = batch[batch.length - 1].key;
      if (reverse) end = last;
      else start = successor(last);
    }
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
    this.#checkOpen("atomic");
    return new AtomicOperation(this);
  }

  /** Validates and commits an atomic operation. Called by {@link AtomicOperation.commit}. */
  commitAtomic(checks: AtomicCheck[], mutations: AtomicMutation[]): Promise<CommitResult> {
    try {
      this.#checkWritable("commit");
      if (checks.length + mutations.length > atomicOpsMax) {
        throw new RangeError(
          `Cannot commit: at most ${atomicOpsMax} checks and mutations, got ${
            checks.length + mutations.length
          }`,
        );
      }
      const ops = mutations.map((mutation) => toBatchOp(mutation));
      const checked = checks.map((check) => ({
        key: keyBytes(check.key, "check"),
        value: check.value,
      }));
      if (this.#wal.congested) {
        return this.#wal.drained().then(() => this.commitAtomic(checks, mutations));
      }
      for (const check of checked) {
        if (this.#latest(check.key) !== check.value) return Promise.resolve({ ok: false });
      }
      if (ops.length === 0) {
        // Checks alone write nothing, but in strict mode their verdict may rest
        // on writes in flight: answer once those are durable (D11).
        const result = { ok: true as const, lsn: this.#wal.nextLsn - 1 };
        return this.#durability === "strict"
          ? this.#wal.flushAll().then(() => result)
          : Promise.resolve(result);
      }
      const results = this.#batchResults(ops);
      const lsn = this.#wal.appendBatch(ops);
      for (let index = 0; index < ops.length; index++) {
        this.#stage(ops[index].kind, ops[index].key, ops[index].value, results[index]);
      }
      return this.#settle({ ok: true as const, lsn });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The value each op leaves, in order; throws RangeError if one leaves the range. */
  #batchResults(ops: BatchOp[]): (number | undefined)[] {
    const local = new Map<string, number | undefined>();
    const results: (number | undefined)[] = [];
    for (const op of ops) {
      const id = binaryKey(op.key);
      const current = local.has(id) ? local.get(id) : this.#latest(op.key);
      let result: number | undefined;
      if (op.kind === RecordKind.add) result = addChecked(current ?? 0, op.value, op.key, "commit");
      else if (op.kind === RecordKind.set) result = op.value;
      local.set(id, result);
      results.push(result);
    }
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
    return {
      keys: this.#trie.size,
      lastLsn: this.#wal.nextLsn - 1,
      durableLsn: this.#wal.durableLsn,
      durability: this.#durability,
      wal: { ...this.#wal.stats },
      recovery: { ...this.#recovery },
    };
  }

  /**
   * Waits for accepted writes to become durable, then releases the files and
   * the directory lock. Later calls throw {@link StoreClosedError}. Idempotent.
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
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = (async () => {
        try {
          await this.#wal.close();
        } finally {
          await this.#storage.unlock();
        }
      })();
    }
    return this.#closing;
  }
}

/** Applies one mutation to a trie; the caller has validated it. */
function applyMutation(trie: Art, kind: MutationKind, key: Uint8Array, value: number): void {
  if (kind === RecordKind.add) trie.add(key, value);
  else if (kind === RecordKind.set) trie.set(key, value);
  else trie.delete(key);
}

/** A sink that applies records to a trie, refusing ones that leave the value range. */
function replaySink(trie: Art): MutationSink {
  return {
    mutation(kind, key, value) {
      if (kind === RecordKind.add) {
        const result = (trie.get(key) ?? 0) + value;
        if (result < 0 || result > Number.MAX_SAFE_INTEGER) {
          return `add of ${value} leaves the value range`;
        }
      } else if (kind === RecordKind.set && value < 0) {
        return `set of ${value} is negative`;
      }
      applyMutation(trie, kind, key, value);
      return undefined;
    },
  };
}

function toBatchOp(mutation: AtomicMutation): BatchOp {
  const key = keyBytes(mutation.key, mutation.type);
  if (mutation.type === "add") {
    return { kind: RecordKind.add, key, value: checkDelta(mutation.value, "add") };
  }
  if (mutation.type === "set") {
    return { kind: RecordKind.set, key, value: checkValue(mutation.value, "set") };
  }
  assert(mutation.type === "delete", "mutation types are add, set and delete");
  return { kind: RecordKind.delete, key, value: 0 };
}

/** A string with one char per byte, for Map keys. */
function binaryKey(key: Uint8Array): string {
  let text = "";
  for (let index = 0; index < key.length; index++) text += String.fromCharCode(key[index]);
  return text;
}

/** The smallest key greater than `key`: `key` followed by a zero byte. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}
