/**
 * The engine: one open store's trie, log and image, and the order in which
 * writes, reads, checkpoints and close pass through them. The public
 * `Store` (`lib/store/store.ts`) checks every argument, turns keys into
 * bytes, and then calls one method here; everything below that line is
 * this layer's.
 *
 * How the parts fit (docs/ARCHITECTURE.md shows each flow):
 * - a write waits for its key's path to load (`_write_queue.ts`), is judged
 *   and appended in one synchronous step (`_pipeline.ts`), and resolves once
 *   its group is durable (strict mode) or at once (relaxed mode);
 * - between its append and the trie a write sits in the groups
 *   (`_groups.ts`), which the WAL's hooks move along and apply;
 * - a read applies the durable group still waiting, then reads the trie,
 *   loading stubs from the image (`_loader.ts`) when it meets one;
 * - checkpoints (`checkpointer.ts`) capture the trie and write its changed
 *   nodes into the image; the epochs (`epochs.ts`) say when;
 * - {@link Engine.open} recovers (`_open.ts`), close settles the directory
 *   (`_close.ts`).
 *
 * What it promises: every write is judged and given its LSN synchronously,
 * so the LSN order is the order in which writes were judged; strict reads
 * never show a value a crash could take back (D11); after `close()` is
 * called no new write or checkpoint is taken; after a failed apply, every
 * read, write and checkpoint throws that failure.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import {
  type Art,
  type CollectedEntry,
  type EntryVisitor,
  lookupNotLoaded,
  NodeNotLoaded,
  type StubRef,
} from "../art/art.ts";
import { StoreClosedError } from "../errors.ts";
import { geometryProblem } from "../image/allocation.ts";
import { ImageFile } from "../image/image_file.ts";
import type { BlockStorage, Clock } from "../storage/block_storage.ts";
import { type MutationKind, RecordKind } from "../wal/record.ts";
import { firstSegmentLsn } from "../wal/segment.ts";
import { Wal } from "../wal/wal.ts";
import { poisonedCloseError, settleForClose } from "./_close.ts";
import { Groups } from "./_groups.ts";
import { Loader } from "./_loader.ts";
import { Pins } from "./_pins.ts";
import { Budget } from "./_budget.ts";
import { WarmUp } from "./_warm.ts";
import { applyReplay, loadRest, openTrie, replayCollector, type ReplayRecord } from "./_open.ts";
import { type CheckedKey, type MutationLike, type StagedOp, WritePipeline } from "./_pipeline.ts";
import { WriteQueue } from "./_write_queue.ts";
import { type CheckpointDeps, Checkpointer, type CheckpointResult } from "./checkpointer.ts";
import type { Durability, EngineConfig } from "./config.ts";
import { EpochTracker } from "./epochs.ts";
import {
  copyRecovery,
  noteCompactingLeftover,
  type RecoveryStats,
  recoveryStats,
} from "./recovery.ts";
import { type VerifyReport, verifyStore } from "./verify.ts";
import type { MemoryStats, StoreStats, WriteCounters } from "./_stats.ts";

export type { Durability, EngineConfig, LoadMode } from "./config.ts";
export type { WarmUpState, WarmUpStats } from "./_warm.ts";
export type { VerifyReport } from "./verify.ts";
export type { MemoryStats, StoreStats, WriteCounters } from "./_stats.ts";
/** Keys up to this many bytes are kept by id in the overlays, longer ones in a trie (for the simulator). */
export { overlayIdBytesMax } from "./_overlay.ts";
export { refusedForFailedCompaction } from "./_loader.ts";
export {
  type CheckedKey,
  type MutationLike,
  type MutationType,
  type StagedOp,
  stagedOp,
} from "./_pipeline.ts";

/** Records a list loads below a stub it meets (a scan reads on, so read ahead). */
const listPrefetchNodes = 4096;
/** Passes of loads a `getMany` makes at most before it reads (see {@link Engine.getMany}). */
const getManyLoadPassesMax = 4;

/** What an atomic commit resolves to (as `CommitResult`): its LSN, or `ok: false` if a check failed. */
export type CommitOutcome = { ok: true; lsn: number } | { ok: false };

/** What an engine is made of once its image and log are open. */
interface EngineParts {
  storage: BlockStorage;
  wal: Wal;
  image: ImageFile;
  trie: Art;
  /** Records open loaded into the trie. */
  loaded: number;
  config: EngineConfig;
  recovery: RecoveryStats;
}

/**
 * One open store below its API: keys arrive as bytes and arguments checked.
 * Get one from {@link Engine.open}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBlockStorage, systemClock } from "../../mod.ts";
 * import { defaultGeometry } from "../image/allocation.ts";
 * import { resolveCheckpointOptions } from "./epochs.ts";
 * import { Engine } from "./engine.ts";
 * const storage = new MemoryBlockStorage();
 * assert.ok(await storage.tryLock());
 * const engine = await Engine.open(storage, {
 *   durability: "strict",
 *   segmentBytes: 1 << 20,
 *   clock: systemClock,
 *   epochs: resolveCheckpointOptions(undefined),
 *   load: "auto",
 *   geometry: defaultGeometry,
 * });
 * const key = new TextEncoder().encode("the cat");
 * assert.ok((await engine.add(key, "the cat", 2)) === 2);
 * assert.ok((await engine.get(key)) === 2);
 * await engine.close();
 * ```
 */
export class Engine {
  readonly #storage: BlockStorage;
  readonly #wal: Wal;
  /** What the checkpointer shares; its `image` changes when a compaction replaces the file. */
  readonly #deps: CheckpointDeps;
  readonly #durability: Durability;
  readonly #trie: Art;
  readonly #clock: Clock;
  readonly #epochs: EpochTracker;
  readonly #loader: Loader;
  /** Records the open loaded (`"eager"`, or the root): not faults (`MemoryStats.faults`). */
  readonly #loadedAtOpen: number;
  readonly #checkpointer: Checkpointer;
  readonly #groups: Groups;
  readonly #pipeline: WritePipeline;
  readonly #queue: WriteQueue;
  /** Keys whose paths must stay loaded (see `_pins.ts`). */
  readonly #pins = new Pins();
  readonly #budget: Budget;
  /** The background load after an `"auto"` open (`_warm.ts`). */
  readonly #warm: WarmUp;
  /** Whether checkpoints run on their own (the `checkpoint` option's `auto`). */
  readonly #autoCheckpoints: boolean;
  readonly #recovery: RecoveryStats;
  /** WAL bytes appended when the epochs last heard of it. */
  #walBytesNoted = 0;
  /** Automatic checkpoints started by {@link Engine.#noteWrite} that ended (for the simulator). */
  #automaticCheckpointsEnded = 0;
  /** The automatic checkpoint running now, settled either way (see {@link Engine.#settle}). */
  #checkpointRunning: Promise<void> | undefined;
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

  private constructor(parts: EngineParts) {
    this.#storage = parts.storage;
    this.#wal = parts.wal;
    this.#durability = parts.config.durability;
    this.#trie = parts.trie;
    this.#clock = parts.config.clock;
    this.#recovery = parts.recovery;
    const groups = new Groups(parts.trie, parts.wal, this.#durability);
    this.#groups = groups;
    this.#pipeline = new WritePipeline(parts.trie, parts.wal, groups, {
      durability: this.#durability,
      loadPathNow: (key) => this.#loadPathNow(key),
    });
    this.#epochs = new EpochTracker(parts.config.epochs, this.#clock.now());
    this.#autoCheckpoints = parts.config.epochs.auto;
    this.#loader = new Loader(parts.trie, () => this.#deps.image);
    this.#loader.stats.nodesLoaded = parts.loaded;
    this.#loadedAtOpen = parts.loaded;
    this.#queue = new WriteQueue({
      loadPathNow: (key) => this.#loadPathNow(key),
      loadPath: (key) => this.#loader.loadPath(key),
    }, this.#pins);
    this.#budget = new Budget(parts.config.memoryBudget, {
      trie: parts.trie,
      groups,
      pins: this.#pins,
      loader: this.#loader,
      image: () => this.#deps.image,
      stuck: () => this.#roundStuck(),
    }, parts.config.cacheSlabsMin);
    this.#loader.afterLoad = () => this.#budget.afterLoad();
    this.#pins.onRelease = () => this.#budget.afterLoad();
    this.#loader.onInstalled = (path) => this.#budget.noteLoaded(path);
    this.#warm = new WarmUp({
      trie: parts.trie,
      loader: this.#loader,
      image: () => this.#deps.image,
      clock: this.#clock,
      room: () => this.#budget.warmRoom(),
      evictions: () => this.#budget.stats.evictions,
      writes: () => this.#wal.nextLsn,
      healthy: () => this.#groups.trieFailure === undefined,
    });
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
        groups.applyPending();
        return groups.appliedLsn;
      },
      afterCheckpoint: () => this.#budget.afterCheckpoint(),
      afterWalkStep: (moved) => this.#budget.afterWalkStep(moved),
    };
    this.#checkpointer = new Checkpointer(this.#deps);
    if (this.#durability === "strict") this.#hookGroups(parts.wal, groups);
  }

  /** Strict mode: the WAL moves each group along (see `Groups`). */
  #hookGroups(wal: Wal, groups: Groups): void {
    wal.onSeal = () => groups.seal();
    wal.onDurable = (records, _first, last) => {
      groups.holdGroup(records, last);
      // Its keys pin their paths until it applies, which a round past the part does first
      // (`Groups.pendingIds`): else the last group's paths stayed until the next operation.
      this.#budget.afterLoad();
    };
    wal.onSyncing = () => void groups.applyQuietly();
  }

  /**
   * Recovers an engine from a locked storage: the newest image (whole, or
   * its root; see `_open.ts`), then the WAL records above its coverage,
   * each batch whole. LSNs continue above both the image and the log (D3);
   * a failed open closes what it opened.
   *
   * @throws {CorruptionError} if the image or the durable log is damaged.
   * @throws {StorageIoError} if the storage fails.
   */
  static async open(storage: BlockStorage, config: EngineConfig): Promise<Engine> {
    // The store checked the options: the engine asserts, it does not check again.
    assert(geometryProblem(config.geometry) === undefined, "the image geometry is valid");
    assert(Number.isSafeInteger(config.segmentBytes) && config.segmentBytes > 0, "a segment size");
    const started = config.clock.now();
    // A new image's log starts at record 1: one starting later means an image was lost.
    const image = await ImageFile.open(storage, config.geometry, { logFirstLsn: firstSegmentLsn });
    try {
      const header = image.header;
      const coverage = header?.coverageLsn ?? 0;
      // "auto" opens lazily, then loads the rest in the background (`_warm.ts`).
      const load = config.load === "eager" ? "eager" : "lazy";
      const { trie, loaded, whole } = await openTrie(image, load);
      const replay: ReplayRecord[] = [];
      const { wal, scan, movedTo } = await Wal.open(storage, {
        afterLsn: coverage,
        segmentBytes: config.segmentBytes,
        replay: replayCollector(replay),
      });
      assert(wal.durableLsn === scan.lastLsn, "recovery leaves everything replayed durable");
      const recovery = recoveryStats(coverage, scan, movedTo);
      // Made before the replay: the records the trie drops during it are the next checkpoint's to free.
      const engine = new Engine({ storage, wal, image, trie, loaded, config, recovery });
      try {
        if (config.load === "eager" && !whole) await loadRest(engine.#loader);
        await applyReplay(replay, engine.#loader, trie);
        const leftover = await ImageFile.removeCompactingLeftover(storage);
        if (leftover !== undefined) noteCompactingLeftover(recovery, leftover);
      } catch (error) {
        await wal.close();
        throw error;
      }
      // LSNs continue above both the image and the log (D3).
      engine.#groups.appliedLsn = Math.max(coverage, scan.lastLsn);
      assert(
        wal.nextLsn === engine.#groups.appliedLsn + 1,
        "the next LSN follows everything recovered",
      );
      recovery.openMs = config.clock.now() - started;
      engine.#budget.start(); // replayed: evictions may begin
      if (config.load === "auto" && trie.unloaded > 0) engine.#warm.start();
      return engine;
    } catch (error) {
      await image.close();
      throw error;
    }
  }

  /** When writes resolve. */
  get durability(): Durability {
    return this.#durability;
  }

  /** True once close has released the files (and while its last steps run). */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while the log's pending buffer is over its bound: wait for {@link Engine.drained}. */
  get congested(): boolean {
    return this.#wal.congested;
  }

  /**
   * `Loader.loadPathNow`, during a warm-up its way first (subtrees at
   * once, see `WarmUp.assist`): true if `key`'s path is loaded.
   */
  #loadPathNow(key: Uint8Array): boolean {
    this.#warm.assist(key);
    return this.#loader.loadPathNow(key);
  }

  /** Resolves when the records pending now have been flushed (successfully or not). */
  drained(): Promise<void> {
    return this.#wal.drained();
  }

  /** Throws unless the store may be read: closed, or its trie failed applying logged writes. */
  checkOpen(operation: string): void {
    if (this.#closed) throw new StoreClosedError(operation);
    const failure = this.#groups.trieFailure;
    if (failure !== undefined) throw failure;
  }

  /**
   * {@link Engine.#checkWritable} for a write (or checkpoint) the caller just
   * made: refused once `close()` was called. Writes made before it (queued
   * for a load, say) are judged by `#checkWritable` alone and go on.
   */
  checkNewWrite(operation: string): void {
    if (this.#closeCalled) throw new StoreClosedError(operation, !this.#closed);
    this.#checkWritable(operation);
  }

  /**
   * Throws unless writes are allowed: a poisoned store refuses every write
   * before judging it, since the values it would be judged against may hold
   * writes a failed fsync lost (D7).
   */
  #checkWritable(operation: string): void {
    this.checkOpen(operation);
    this.#wal.checkWritable();
    const poison = this.#checkpointer.poison;
    if (poison !== undefined) throw poison;
    assert(!this.#wal.poisoned, "a writable log is not poisoned");
  }

  /**
   * Adds `delta` to `bytes` (`source`: the key as the caller gave it; an
   * ASCII string is its own overlay id) once its path is loaded, after
   * every write queued before it; resolves to the new count once durable
   * (strict) or at once (relaxed). `bytes` may be a reused buffer: it is
   * copied if the write must wait.
   */
  add(bytes: Uint8Array, source: string | Uint8Array, delta: number): Promise<number> {
    if (this.#queue.mustWaitFor(bytes)) {
      const copy = bytes.slice();
      return this.#queue.enqueue([copy], () => this.#addNow(copy, source, delta));
    }
    return this.#addNow(bytes, source, delta);
  }

  #addNow(bytes: Uint8Array, source: string | Uint8Array, delta: number): Promise<number> {
    try {
      this.#checkWritable("add");
      const result = this.#pipeline.add(bytes, source, delta);
      this.#noteWrite();
      return this.#settle(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sets the count of `bytes` (as {@link Engine.add} orders and resolves a write). */
  set(bytes: Uint8Array, value: number): Promise<void> {
    return this.#write(RecordKind.set, bytes, value, "set");
  }

  /** Removes `bytes` (as {@link Engine.add} orders and resolves a write). */
  delete(bytes: Uint8Array): Promise<void> {
    return this.#write(RecordKind.delete, bytes, 0, "delete");
  }

  /** A set or delete: written once the key's path is loaded, in order. */
  #write(kind: MutationKind, bytes: Uint8Array, value: number, operation: string): Promise<void> {
    if (!this.#queue.mustWaitFor(bytes)) return this.#writeNow(kind, bytes, value, operation);
    const copy = bytes.slice();
    return this.#queue.enqueue([copy], () => this.#writeNow(kind, copy, value, operation));
  }

  #writeNow(
    kind: MutationKind,
    bytes: Uint8Array,
    value: number,
    operation: string,
  ): Promise<void> {
    try {
      this.#checkWritable(operation);
      this.#pipeline.write(kind, bytes, value);
      this.#noteWrite();
      return this.#settle(undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Commits an atomic batch of additions to ASCII string keys the short way
   * (`WritePipeline.commitAsciiAdds`: no key bytes or op objects made),
   * when it is such a batch and no write waits for a load; else undefined,
   * and nothing is done: {@link Engine.commit} then judges it.
   */
  commitAsciiAdds(mutations: readonly MutationLike[]): Promise<CommitOutcome> | undefined {
    if (this.#queue.queued > 0) return undefined;
    const lsn = this.#pipeline.commitAsciiAdds(mutations);
    if (lsn === 0) return undefined;
    this.#noteWrite(mutations.length);
    return this.#settle({ ok: true as const, lsn });
  }

  /**
   * Commits an atomic operation once its keys' paths are loaded, after every
   * write queued before it: the checks against the newest values, then the
   * mutations as one record (the keys must stay as they are until then).
   */
  commit(checked: CheckedKey[], ops: StagedOp[]): Promise<CommitOutcome> {
    const keys = [...checked.map((check) => check.key), ...ops.map((op) => op.key)];
    if (this.#queue.mustWait(keys)) {
      return this.#queue.enqueue(keys, () => this.#commitNow(checked, ops));
    }
    return this.#commitNow(checked, ops);
  }

  /** Judges and appends an atomic operation whose keys' paths are loaded. */
  #commitNow(checked: CheckedKey[], ops: StagedOp[]): Promise<CommitOutcome> {
    try {
      this.#checkWritable("commit");
      if (!this.#pipeline.checksHold(checked)) return Promise.resolve({ ok: false });
      if (ops.length === 0) {
        // Checks alone write nothing, but in strict mode their verdict may rest
        // on writes in flight: answer once those are durable (D11).
        const result = { ok: true as const, lsn: this.#wal.nextLsn - 1 };
        return this.#durability === "strict"
          ? this.#wal.flushAll().then(() => result)
          : Promise.resolve(result);
      }
      const lsn = this.#pipeline.commit(ops);
      this.#noteWrite(ops.length);
      return this.#settle({ ok: true as const, lsn });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Tells the epochs about an accepted write; starts a checkpoint if one is due. */
  #noteWrite(ops = 1): void {
    const appended = this.#wal.appendedBytes;
    const due = this.#epochs.noteWrites(ops, appended - this.#walBytesNoted, this.#clock.now());
    this.#walBytesNoted = appended;
    // Past the memory budget: a checkpoint makes what was written evictable.
    const budgetDue = this.#autoCheckpoints &&
      this.#budget.checkpointDue(this.#epochs.currentWalBytes);
    if (due || budgetDue) this.#startAutomaticCheckpoint(budgetDue);
  }

  /**
   * After a round of evictions that left the live nodes past the budget's
   * trie part, with writes logged since the last checkpoint began: what
   * they wrote cannot go before a checkpoint writes it, so one starts, as a
   * write past the part starts one (in a microtask: a round may run inside
   * a list's load). Without it, gets after a burst of writes each paid a
   * round that walked the trie and freed nothing, until the next write (60
   * gets a second on 100,000 keys under a tenth of their arena).
   */
  #roundStuck(): void {
    if (!this.#autoCheckpoints || this.#epochs.currentWalBytes === 0) return;
    if (this.#checkpointer.poison !== undefined) return; // it would fail at once: reopen
    queueMicrotask(() => {
      if (!this.#closeCalled) this.#startAutomaticCheckpoint(false); // no append to wait for
    });
  }

  /**
   * Starts an automatic checkpoint unless one is running or queued;
   * `budgetDue`: for the budget, right after a write's append.
   */
  #startAutomaticCheckpoint(budgetDue: boolean): void {
    if (this.#checkpointer.queued > 0 || this.#checkpointRunning !== undefined) return;
    // A strict write reaches the trie once durable: a checkpoint for the budget starts then,
    // so its capture holds what was written (a failure of the log fails the writes instead).
    const start = budgetDue && this.#durability === "strict"
      ? this.#wal.lastGroup().catch(() => {})
      : Promise.resolve();
    // A failure poisons the store: later writes report it.
    const running = start.then(() => this.#checkpointer.run(false, true)).then(() => {}, () => {});
    this.#checkpointRunning = running;
    void running.then(() => {
      this.#automaticCheckpointsEnded++;
      if (this.#checkpointRunning === running) this.#checkpointRunning = undefined;
    });
  }

  /**
   * Resolves to `result` once the write just appended is durable (strict) or
   * at once (relaxed); past the memory budget (`Budget.overloaded`), also
   * once the automatic checkpoint running ended (writers wait for the room
   * it makes).
   */
  #settle<T>(result: T): Promise<T> {
    const running = this.#budget.overloaded() ? this.#checkpointRunning : undefined;
    const durable = this.#durability === "strict" ? this.#wal.lastGroup() : undefined;
    if (running === undefined) return durable?.then(() => result) ?? Promise.resolve(result);
    // Acknowledged after the wait: a log that failed meanwhile may have lost it (D7).
    return Promise.all([durable, running]).then(() => {
      if (this.#wal.poisoned) this.#wal.checkWritable(); // throws the failure
      return result;
    });
  }

  /**
   * The count of `bytes`, or undefined if absent: read from the trie at
   * once when its path is loaded, in cached slabs, or in a file that reads
   * at once (`BlockFile.readSync`), else once the path is loaded (then
   * `bytes` is copied: it may be a reused buffer).
   */
  get(bytes: Uint8Array): Promise<number | undefined> {
    this.#groups.applyPending();
    const found = this.#lookupNow(bytes);
    if (found !== lookupNotLoaded) return Promise.resolve(found < 0 ? undefined : found);
    const copy = bytes.slice();
    const unpin = this.#pins.pin([copy]); // no eviction between the load and the read
    return this.#loader.loadPath(copy).then(() => this.#getLoaded(copy)).finally(unpin);
  }

  /**
   * The trie's answer for `bytes` (pending groups applied), its path loaded
   * or read through as far as records read at once go: a value,
   * `lookupAbsent`, or `lookupNotLoaded` (the read must wait for a load).
   */
  #lookupNow(bytes: Uint8Array): number {
    const found = this.#trie.lookup(bytes);
    if (found !== lookupNotLoaded) return found;
    // A path that loads at once does so in one descent that loads and reads; else the read waits.
    this.#warm.assist(bytes); // during a warm-up, subtrees at once
    return this.#loader.lookupNow(bytes);
  }

  /** {@link Engine.get} again once a path loaded: the store may have closed meanwhile. */
  #getLoaded(bytes: Uint8Array): Promise<number | undefined> {
    try {
      this.checkOpen("get");
      return this.get(bytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The counts of `keys`, in order, read at one instant (after the loads their paths need). */
  getMany(keys: Uint8Array[]): Promise<(number | undefined)[]> {
    this.#groups.applyPending();
    // No await between the reads: they see one instant.
    const values: (number | undefined)[] = [];
    for (const key of keys) {
      const found = this.#lookupNow(key);
      if (found === lookupNotLoaded) return this.#getManyLoading(keys);
      values.push(found < 0 ? undefined : found);
    }
    return Promise.resolve(values);
  }

  /** getMany once every key's path is loaded: read at one instant after the loads. */
  async #getManyLoading(keys: Uint8Array[]): Promise<(number | undefined)[]> {
    // Pinned, the paths stay loaded once loaded (no eviction takes them), so
    // one pass of loads suffices unless a key was written (and its path
    // changed) meanwhile; a few passes bound it.
    const unpin = this.#pins.pin(keys);
    try {
      return await this.#getManyPasses(keys);
    } finally {
      unpin();
    }
  }

  /** The passes of {@link Engine.#getManyLoading}. */
  async #getManyPasses(keys: Uint8Array[]): Promise<(number | undefined)[]> {
    for (let pass = 0; pass < getManyLoadPassesMax; pass++) {
      await Promise.all(keys.map((key) => this.#loader.loadPath(key)));
      this.checkOpen("getMany");
      this.#groups.applyPending();
      try {
        return keys.map((key) => this.#trie.get(key));
      } catch (error) {
        if (!(error instanceof NodeNotLoaded)) throw error;
      }
    }
    return unreachable("getMany: paths loaded in four passes still hold stubs");
  }

  /**
   * Appends up to `limit` entries of `[start, end)` to `into` in one walk of
   * the trie (a list's batch); throws `NodeNotLoaded` at a stub.
   */
  readRange(
    start: Uint8Array,
    end: Uint8Array | undefined,
    reverse: boolean,
    limit: number,
    into: CollectedEntry[],
  ): number {
    this.#groups.applyPending();
    return this.#trie.readRange({ start, end, reverse }, limit, into);
  }

  /**
   * Visits up to `limit` entries of `[start, end)` in one walk of the trie (a
   * scan's pass); throws `NodeNotLoaded` at a stub, after the entries before it.
   */
  visitRange(
    start: Uint8Array,
    end: Uint8Array | undefined,
    reverse: boolean,
    limit: number,
    visit: EntryVisitor,
  ): number {
    this.#groups.applyPending();
    return this.#trie.visitRange({ start, end, reverse }, limit, visit);
  }

  /**
   * Loads what a list's walk met, and some records below it, from cached
   * slabs; returns what unpins that subtree (see {@link Engine.loadList}),
   * or undefined if it needs a read. A scan loads from cached slabs without
   * a pause, so the memory budget's round runs here, not in a microtask.
   */
  loadListCached(stub: StubRef): (() => void) | undefined {
    const unpin = this.#pins.pinSubtree(stub.path);
    let loaded = false;
    try {
      this.#budget.enforce();
      // The subtree at once (`WarmUp.assistSubtree` during a warm-up); a decode per record
      // when something below the stub failed its checks (a load then reads it again).
      const quota = this.#budget.prefetchNodes(listPrefetchNodes);
      loaded = this.#warm.assistSubtree(stub, listPrefetchNodes) ||
        this.#loader.loadSubtreeAtOnce(stub, quota) ||
        this.#loader.loadSubtreeCached(stub, quota);
    } finally {
      if (!loaded) unpin();
    }
    return loaded ? unpin : undefined;
  }

  /**
   * Loads what a list's walk met, and some records below it; resolves to
   * what unpins that subtree, which the list calls once it read it again
   * (until then no eviction takes it).
   */
  async loadList(stub: StubRef): Promise<() => void> {
    // Its slab first, then the subtree at once from cached slabs; record by record if that fails.
    await this.#loader.cacheSlabOf(stub);
    const cached = this.loadListCached(stub);
    if (cached !== undefined) return cached;
    const unpin = this.#pins.pinSubtree(stub.path);
    try {
      await this.#loader.loadSubtree(stub, this.#budget.prefetchNodes(listPrefetchNodes));
    } catch (error) {
      unpin();
      throw error;
    }
    return unpin;
  }

  /** Runs a checkpoint after any running one (`compact`: rewrite the whole image). */
  checkpoint(compact: boolean): Promise<CheckpointResult> {
    return this.#checkpointer.run(compact);
  }

  /** Checks the image, its header slots, the files moved aside and the trie (see `verify.ts`). */
  verify(): Promise<VerifyReport> {
    return this.#checkpointer.exclusive(() =>
      verifyStore({
        image: this.#deps.image,
        wal: this.#wal,
        storage: this.#storage,
        trie: this.#trie,
        applyPending: () => this.#groups.applyPending(),
      })
    );
  }

  /** Makes every write accepted so far durable. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreClosedError("sync"));
    return this.#wal.flushAll();
  }

  /** Counters describing the store now (a failed trie is reported as it is). */
  stats(): StoreStats {
    // A trie that failed (now or before) is reported as it is: it may hold part of a batch.
    this.#groups.applyQuietly();
    const image = this.#deps.image;
    const header = image.header;
    return {
      keys: this.#trie.size,
      lastLsn: this.#wal.nextLsn - 1,
      queuedWrites: this.#queue.queued,
      durableLsn: this.#wal.durableLsn,
      durability: this.#durability,
      wal: { ...this.#wal.stats },
      recovery: copyRecovery(this.#recovery),
      epochs: this.#epochs.stats(this.#clock.now()),
      image: {
        ...image.space(),
        generation: header?.generation ?? 0,
        coverageLsn: header?.coverageLsn ?? 0,
        nodesLoaded: this.#loader.stats.nodesLoaded,
        unloadedNodes: this.#trie.unloaded,
      },
      memory: this.#memory(),
      warmUp: this.#warm.stats,
    };
  }

  /** {@link MemoryStats} now. */
  #memory(): MemoryStats {
    return {
      ...this.#trie.memory(),
      budget: this.#budget.bytes ?? null,
      ...this.#budget.stats,
      cacheBytes: this.#deps.image.cacheBytes,
      faults: this.#loader.stats.nodesLoaded - this.#loadedAtOpen - this.#warm.stats.nodesLoaded,
      readThrough: this.#loader.stats.recordsReadThrough,
      queueBytes: this.#budget.queueBytes,
    };
  }

  /**
   * The bytes of trie nodes no eviction may free while `keys` are pinned
   * (`Art.footprint`): the simulator's memory bound.
   */
  memoryFloor(keys: readonly Uint8Array[]): number {
    return this.#trie.footprint(keys);
  }

  /** The write counters of {@link Engine.stats}, without its side effects. */
  writeCounters(): WriteCounters {
    return {
      lastLsn: this.#wal.nextLsn - 1,
      queuedWrites: this.#queue.queued,
      asciiBatches: this.#pipeline.asciiBatches,
      nodesLoaded: this.#loader.stats.nodesLoaded,
      memory: this.#memory(),
      relocations: { ...this.#trie.relocations },
      automaticCheckpointsEnded: this.#automaticCheckpointsEnded,
      checkpointing: this.#checkpointer.queued > 0 || this.#checkpointRunning !== undefined,
      subtreesPinned: this.#pins.subtreeCount,
      writesPending: this.#groups.writesPending,
      compactions: {
        started: this.#loader.stats.compactionsStarted,
        fileRead: this.#loader.fresh !== undefined,
      },
      evictionRoundQueued: this.#budget.roundQueued,
      evictionsBeside: this.#budget.evictionsBeside,
      budgetWork: { ...this.#budget.work, ...this.#trie.evictWalks },
    };
  }

  /**
   * Refuses new writes and checkpoints, waits for accepted writes to become
   * durable, checkpoints (automatic checkpoints only), settles the directory
   * and releases the files and the lock. Idempotent.
   *
   * @throws {StorageIoError} if a WAL write or fsync had failed.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closeCalled = true;
      this.#closing = this.#close(this.#warm.stop());
    }
    return this.#closing;
  }

  /** Resolves once the warm-up (stopped at `warmStopped`) and everything else settled. */
  async #close(warmStopped: Promise<void>): Promise<void> {
    try {
      await warmStopped; // its step under way ends: it may be reading the image
      // Writes queued for loads go first; then a last checkpoint makes the
      // next open fast (best effort: the WAL holds everything anyway).
      await this.#queue.tail;
      if (this.#epochs.config.auto) {
        // Every accepted write is logged and applied first (strict mode
        // applies a group once durable), so the checkpoint covers them all;
        // records replayed at open count too, though no epoch saw them.
        await this.#wal.flushAll().catch(() => {});
        const coverage = this.#deps.image.header?.coverageLsn ?? 0;
        if (this.#wal.nextLsn - 1 > coverage) await this.#checkpointer.run(false).catch(() => {});
      }
      await settleForClose(this.#deps, this.#checkpointer, this.#groups.trieFailure);
      this.#closed = true;
      await this.#checkpointer.exclusive(() => Promise.resolve());
      await this.#loader.idle(); // reads under way finish before the image closes
      const lost = this.#wal.nextLsn - 1 - this.#wal.durableLsn;
      await this.#wal.close();
      if (this.#wal.poisoned) throw poisonedCloseError(lost);
      // A bug ended the warm-up: reported here, never as an unhandled rejection.
      if (this.#warm.failure !== undefined) throw this.#warm.failure;
    } finally {
      this.#closed = true;
      try {
        await this.#deps.image.close();
      } finally {
        await this.#storage.unlock();
      }
    }
  }
}
