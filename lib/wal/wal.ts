/**
 * The write-ahead log: segmented files of checksummed records, written with
 * group commit.
 *
 * Appends encode a record into the pending buffer synchronously and return its
 * LSN. One flush is in flight at a time: it writes the whole pending buffer in
 * one write and makes it durable with one fsync, while new appends gather in
 * the next buffer. A flush starts in a microtask, so an idle log adds no delay
 * and every append made in the same tick shares one fsync.
 *
 * A failed write or fsync poisons the log (D7 of docs/DURABILITY.md, where
 * the D-ids cited here are defined): that group's waiters and all later ones
 * get a {@link StorageIoError}, nothing is retried.
 *
 * Segment space is preallocated: a group whose records would pass the
 * zero-filled frontier of the open segment also writes zeros past them, so
 * most groups overwrite blocks that already exist and their fdatasync carries
 * no file-size change through the file system's journal. The zeros stay in
 * proportion to the records: a new segment's first write, and a group
 * passing the frontier, double the segment (at most
 * {@link walPreallocBytesMax} more, to the end of a page), so a segment gets
 * fewer zeros than twice its bytes plus a page, however short its epoch. A
 * segment may so end in zeros past its last record, which recovery treats
 * as a torn tail (the last segment) or ignores (a sealed one ends where the
 * next one's header says); `close()` cuts them off.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { StorageIoError } from "../errors.ts";
import { pendingBytesMax, walRecordBytesMax } from "../limits.ts";
import type { BlockFile, BlockStorage } from "../storage/block_storage.ts";
import { moveAside } from "../storage/quarantine.ts";
import {
  type AsciiAdd,
  decodeMutations,
  type MutationKind,
  RecordBuffer,
  RecordKind,
  type RecordSink,
} from "./record.ts";
import { readWal, type WalScan } from "./recover.ts";
import {
  encodeSegmentHeader,
  segmentBytesDefault,
  segmentHeaderBytes,
  segmentName,
} from "./segment.ts";

/**
 * The most zero bytes one group writes past its records (and the rest of a
 * page). Below it a group that passes the preallocated frontier, or a new
 * segment's first write, writes as many zeros as the segment then holds
 * (it doubles the segment), so a segment takes a few size changes, not one
 * per group, its zeros never outgrow its records (a short epoch's segment
 * of short records gets a page or two), and a group waits for at most this
 * many zeros.
 */
export const walPreallocBytesMax = 1024 * 1024;
/**
 * The preallocated frontier is a multiple of this (a page): no block is left
 * half written, and a write pads at least to the end of its last page (the
 * file system writes whole pages anyway).
 */
export const walPreallocAlignBytes = 4096;

/** One mutation of an atomic batch. */
export interface BatchOp {
  /** add, set or delete. */
  kind: MutationKind;
  /** The key's bytes (1..65535). */
  key: Uint8Array;
  /** The delta (add) or value (set); ignored for delete. */
  value: number;
}

/** Options of {@link Wal.open}. */
export interface WalOpenOptions {
  /** Records at or below this LSN are covered elsewhere and not replayed (0: none). */
  afterLsn: number;
  /**
   * Receives every record above `afterLsn` during recovery, decoded: its LSN,
   * then its mutations. A mutation it refuses (a description returned) is
   * damage in the log.
   */
  replay: RecordSink;
  /** Segment size at which the next write starts a new segment. */
  segmentBytes?: number;
}

/** Counters for `stats()`. */
export interface WalStats {
  /** Group-commit writes made durable. */
  groups: number;
  /** fsync calls made on segment files. */
  fsyncs: number;
  /** Record bytes made durable since open. */
  bytesWritten: number;
  /** Zero bytes written past the records to preallocate segment space, since open. */
  paddingBytes: number;
  /** Segments created since open. */
  segmentsCreated: number;
  /** Segments removed since open (wholly covered by a checkpoint). */
  segmentsRemoved: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // A relaxed-mode caller may never await its group: a failure must not become
  // an unhandled rejection. Callers that do await still see it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The write-ahead log of one store. */
export class Wal {
  readonly #storage: BlockStorage;
  readonly #segmentBytes: number;
  #file: BlockFile | undefined;
  /** Bytes of the open segment that are durable: appends go here. */
  #fileSize = 0;
  /**
   * The preallocated frontier of the open segment: its bytes below this are
   * durable records or durable zeros, so a group ending here or before
   * changes no file size. Never below `#fileSize`.
   */
  #preallocated = 0;
  /** Zeros written into the open segment since it was started (or opened). */
  #segmentZeros = 0;
  /** A segment whose creation is under way (or failed): not yet part of the log. */
  #startedSegment: string | undefined;
  #nextLsn: number;
  #durableLsn: number;
  #pending = new RecordBuffer();
  #spare = new RecordBuffer();
  #pendingGroup: Deferred | undefined;
  #inFlightGroup: Deferred | undefined;
  #flushQueued = false;
  #poison: StorageIoError | undefined;
  #closed = false;
  /** Called when the pending buffer is taken for flushing (a group is sealed). */
  onSeal: (() => void) | undefined;
  /** Called after a group is durable and before its waiters resume, with the group's bytes. */
  onDurable: ((records: Uint8Array, firstLsn: number, lastLsn: number) => void) | undefined;
  /**
   * Called once a group's bytes are written and their fsync has started,
   * before it ends: CPU work done here overlaps the disk's wait.
   */
  onSyncing: (() => void) | undefined;
  /** Counters since open. */
  readonly stats: WalStats = {
    groups: 0,
    fsyncs: 0,
    bytesWritten: 0,
    paddingBytes: 0,
    segmentsCreated: 0,
    segmentsRemoved: 0,
  };
  /** Record bytes appended since open (durable or not). */
  #appendedBytes = 0;
  /** The segments of the log, oldest first, by name and first LSN; the last is the open one. */
  #segments: { name: string; firstLsn: number }[] = [];
  /** The next group starts a new segment (a new epoch) even if the open one has room. */
  #rollPending = false;
  /**
   * The next group must start a new segment, even after an empty one: the
   * open segment's records end below the LSN appends continue at (records
   * the image covers were cut from its tail at open), and appending there
   * would leave a gap inside it.
   */
  #gapPending = false;
  /** A reclaim in progress (one at a time). */
  #reclaiming: Promise<number> | undefined;
  /** A segment creation under way (a reclaim waits for it: the segment it seals may be covered). */
  #starting: Promise<void> | undefined;

  private constructor(storage: BlockStorage, segmentBytes: number, lastLsn: number) {
    assert(segmentBytes >= segmentHeaderBytes, "segments hold at least a header");
    assert(Number.isSafeInteger(lastLsn) && lastLsn >= 0, "last lsn is valid");
    this.#storage = storage;
    this.#segmentBytes = segmentBytes;
    this.#nextLsn = lastLsn + 1;
    this.#durableLsn = lastLsn;
  }

  /**
   * Recovers the log in `storage` (replaying records into `replay`),
   * truncates a torn tail and sets aside a last segment without a valid
   * header (removes a torn creation, moves unexplained bytes aside) before
   * anything is appended (D9), and returns the log ready for appends, with
   * the name a segment moved aside got.
   */
  static async open(
    storage: BlockStorage,
    options: WalOpenOptions,
  ): Promise<{ wal: Wal; scan: WalScan; movedTo: string | undefined }> {
    const sink = options.replay;
    const scan = await readWal(storage, options.afterLsn, (bytes, view, frame) => {
      sink.record(frame.lsn);
      return decodeMutations(bytes, view, frame, sink);
    });
    const wal = new Wal(storage, options.segmentBytes ?? segmentBytesDefault, scan.lastLsn);
    let movedTo: string | undefined;
    if (scan.setAside?.quarantine === true) {
      movedTo = await moveAside(storage, scan.setAside.name);
    } else if (scan.setAside !== undefined) {
      await storage.remove(scan.setAside.name);
      await storage.syncDir();
    }
    wal.#segments = [
      ...scan.covered,
      ...scan.segments.map(({ name, firstLsn }) => ({ name, firstLsn })),
    ];
    const last = scan.segments.at(-1);
    if (last !== undefined) {
      const file = await storage.open(last.name);
      try {
        if (scan.tornBytes > 0) await file.truncate(last.validBytes);
        // What recovery read may sit only in the page cache (a process that
        // stopped before its fsync): make it durable, with its directory entry,
        // before anything new is acknowledged on top of it.
        await file.sync();
        await storage.syncDir();
        assert(
          (await file.size()) === last.validBytes,
          "appends continue right after the valid records",
        );
      } catch (error) {
        await file.close().catch(() => {}); // the open failed: no log keeps it
        throw error;
      }
      wal.#file = file;
      wal.#fileSize = last.validBytes;
      wal.#preallocated = last.validBytes;
      // Damage cut covered records from the tail: the next LSN (above the
      // image's coverage) does not follow the segment's last record.
      wal.#gapPending = last.nextLsn !== scan.lastLsn + 1;
      assert(last.nextLsn <= scan.lastLsn + 1, "a segment's records never pass the last lsn");
    }
    return { wal, scan, movedTo };
  }

  /** The LSN the next append gets. */
  get nextLsn(): number {
    return this.#nextLsn;
  }

  /** Every record at or below this LSN is durable. */
  get durableLsn(): number {
    return this.#durableLsn;
  }

  /** True once a write or fsync failed; the log refuses appends until reopened. */
  get poisoned(): boolean {
    return this.#poison !== undefined;
  }

  /** True while the pending buffer is over its bound: callers should wait for {@link Wal.drained}. */
  get congested(): boolean {
    return this.#pending.length >= pendingBytesMax;
  }

  /** Resolves when the records pending now have been flushed (successfully or not). */
  drained(): Promise<void> {
    const group = this.#pendingGroup ?? this.#inFlightGroup;
    return group === undefined ? Promise.resolve() : group.promise.catch(() => {});
  }

  /** Throws unless appends are allowed. */
  checkWritable(): void {
    if (this.#closed) throw new StorageIoError("Cannot write: the log is closed");
    if (this.#poison !== undefined) {
      throw new StorageIoError(
        `Cannot write: an earlier write or fsync failed (${this.#poison.message}); ` +
          `close the store and open it again`,
        this.#poison,
      );
    }
  }

  /** Appends one add, set or delete record; returns its LSN. */
  appendMutation(kind: MutationKind, key: Uint8Array, value: number): number {
    this.checkWritable();
    const lsn = this.#nextLsn;
    const before = this.#pending.length;
    this.#pending.mutation(lsn, kind, key, value);
    return this.#appended(lsn, before);
  }

  /** The record of `lsn` was encoded into the pending buffer from byte `before` on: queues it. */
  #appended(lsn: number, before: number): number {
    assert(lsn === this.#nextLsn && this.#pending.length > before, "one record was encoded");
    this.#appendedBytes += this.#pending.length - before;
    this.#nextLsn++;
    this.#queue();
    return lsn;
  }

  /** Record bytes appended since open. */
  get appendedBytes(): number {
    return this.#appendedBytes;
  }

  /** The segments, oldest first (names and first LSNs); the last is the one appends go to. */
  get segments(): readonly { name: string; firstLsn: number }[] {
    return this.#segments;
  }

  /**
   * Starts an empty segment (a header only) for the records to come, when
   * the open one holds records and nothing is pending: after a checkpoint
   * that covers the whole log, the next open then reads 32 bytes of log
   * instead of the last epoch's segment. Best effort: on failure the log
   * goes on in the open segment. Returns whether it started one.
   */
  async startEmptySegment(): Promise<boolean> {
    this.checkWritable();
    if (this.#file === undefined || this.#fileSize <= segmentHeaderBytes) return false;
    if (this.#pendingGroup !== undefined || this.#inFlightGroup !== undefined) return false;
    try {
      await this.#startSegment(new Uint8Array(0), this.#nextLsn);
    } catch {
      const started = this.#startedSegment;
      this.#startedSegment = undefined;
      if (started !== undefined) await this.#storage.remove(started).catch(() => {});
      return false;
    }
    this.#rollPending = false;
    this.#gapPending = false;
    assert(this.#fileSize === segmentHeaderBytes, "the new segment holds its header only");
    return true;
  }

  /** Makes the next group start a new segment: one segment per epoch. */
  roll(): void {
    this.#rollPending = this.#file !== undefined;
  }

  /**
   * Removes the oldest segments whose records all lie at or below
   * `coveredLsn` (a checkpoint holds them), keeping the newest `retain` of
   * those, oldest first so what is left is always a suffix of the log; then
   * fsyncs the directory (D10). The open segment is never removed. Returns
   * how many were removed.
   */
  reclaim(coveredLsn: number, retain: number): Promise<number> {
    assert(coveredLsn < this.#nextLsn, "a checkpoint covers only appended records");
    const previous = this.#reclaiming ?? Promise.resolve(0);
    const run = previous.catch(() => 0).then(() => this.#reclaim(coveredLsn, retain));
    this.#reclaiming = run;
    return run;
  }

  async #reclaim(coveredLsn: number, retain: number): Promise<number> {
    // A group creating the next segment meanwhile (strict writers go on
    // during a checkpoint) seals the open one: wait, so it counts as covered.
    await this.#starting?.catch(() => {});
    const segments = this.#segments;
    let covered = 0;
    // Segment i ends just before segment i + 1 starts; the last one is open.
    while (covered + 1 < segments.length && segments[covered + 1].firstLsn - 1 <= coveredLsn) {
      covered++;
    }
    const remove = Math.max(0, covered - retain);
    for (let index = 0; index < remove; index++) {
      assert(this.#segments[0] === segments[0], "segments are removed oldest first");
      await this.#storage.remove(segments[0].name);
      this.#segments.shift();
      this.stats.segmentsRemoved++;
    }
    if (remove > 0) await this.syncDir();
    return remove;
  }

  /**
   * Fsyncs the store's directory for any layer (segment removals, an image
   * renamed by a compaction). A failure poisons the log: after a failed
   * directory fsync nothing pending in the directory is known to be
   * durable, a segment created meanwhile included (D7).
   *
   * @throws {StorageIoError} if the fsync failed.
   */
  async syncDir(): Promise<void> {
    try {
      await this.#storage.syncDir();
    } catch (error) {
      this.#poison ??= error instanceof StorageIoError
        ? error
        : new StorageIoError(`Cannot sync the directory: ${String(error)}`, error);
      throw error;
    }
  }

  /**
   * Appends one batch record holding every op (the unit of atomicity);
   * returns its LSN.
   *
   * @throws {RangeError} if the record would exceed the record size limit; nothing is appended.
   */
  appendBatch(ops: readonly BatchOp[]): number {
    this.checkWritable();
    assert(ops.length >= 1, "a batch holds at least one op");
    const lsn = this.#nextLsn;
    const buffer = this.#pending;
    const before = buffer.length;
    buffer.begin(lsn, RecordKind.batch);
    buffer.u32(ops.length);
    for (const op of ops) {
      buffer.u8(op.kind);
      buffer.key(op.key);
      if (op.kind !== RecordKind.delete) buffer.i64(op.value);
      if (buffer.openRecordBytes() > walRecordBytesMax) {
        buffer.abandon();
        throw new RangeError(
          `Cannot commit: the atomic operation encodes to more than ${walRecordBytesMax} bytes; split it`,
        );
      }
    }
    buffer.end();
    return this.#appended(lsn, before);
  }

  /**
   * Appends a batch record of additions to ASCII string keys, checked by the
   * caller (see `RecordBuffer.asciiAdds`); returns its LSN.
   */
  appendAsciiAdds(adds: readonly AsciiAdd[], payloadBytes: number): number {
    this.checkWritable();
    const lsn = this.#nextLsn;
    const buffer = this.#pending;
    const before = buffer.length;
    buffer.asciiAdds(lsn, adds, payloadBytes);
    return this.#appended(lsn, before);
  }

  /** Resolves when the record with the LSN last appended is durable. */
  lastGroup(): Promise<void> {
    assert(this.#pendingGroup !== undefined, "an append made a pending group");
    return this.#pendingGroup.promise;
  }

  /** Resolves when everything appended so far is durable; rejects if the log is poisoned. */
  flushAll(): Promise<void> {
    if (this.#poison !== undefined && this.#pendingGroup === undefined) {
      return Promise.reject(
        new StorageIoError(
          `Cannot sync: an earlier write or fsync failed (${this.#poison.message})`,
          this.#poison,
        ),
      );
    }
    return this.#pendingGroup?.promise ?? this.#inFlightGroup?.promise ?? Promise.resolve();
  }

  #queue(): void {
    if (this.#pendingGroup === undefined) this.#pendingGroup = deferred();
    if (this.#flushQueued || this.#inFlightGroup !== undefined) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      void this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    assert(this.#inFlightGroup === undefined, "one flush at a time");
    let rounds = 0;
    while (this.#pendingGroup !== undefined) {
      assert(rounds++ < Number.MAX_SAFE_INTEGER, "flush loop is bounded");
      const buffer = this.#pending;
      const group = this.#pendingGroup;
      this.#pending = this.#spare;
      this.#pendingGroup = undefined;
      this.#inFlightGroup = group;
      this.onSeal?.();
      if (this.#poison !== undefined) {
        group.reject(this.#poisonFor("write"));
      } else {
        await this.#flushGroup(buffer, group);
      }
      buffer.reset();
      this.#spare = buffer;
      this.#inFlightGroup = undefined;
    }
  }

  async #flushGroup(buffer: RecordBuffer, group: Deferred): Promise<void> {
    assert(buffer.length > 0, "a group holds records");
    assert(buffer.firstLsn === this.#durableLsn + 1, "groups are durable in lsn order");
    try {
      await this.#writeDurably(buffer.view(), buffer.firstLsn);
      // A directory fsync that failed meanwhile (a reclaim) leaves this
      // group's segment entry in doubt: nothing more is acknowledged.
      if (this.#poison !== undefined) throw this.#poison;
    } catch (error) {
      this.#poison = error instanceof StorageIoError
        ? error
        : new StorageIoError(`Cannot write the log: ${String(error)}`, error);
      group.reject(this.#poison);
      return;
    }
    this.#durableLsn = buffer.lastLsn;
    this.stats.groups++;
    this.stats.bytesWritten += buffer.length;
    this.onDurable?.(buffer.view(), buffer.firstLsn, buffer.lastLsn);
    group.resolve();
  }

  #poisonFor(operation: string): StorageIoError {
    assert(this.#poison !== undefined, "the log is poisoned");
    return new StorageIoError(
      `Cannot ${operation}: an earlier write or fsync failed (${this.#poison.message}); reopen the store`,
      this.#poison,
    );
  }

  /** Writes records at the end of the log and fsyncs them; starts a new segment when full. */
  async #writeDurably(records: Uint8Array, firstLsn: number): Promise<void> {
    // A segment started empty (at close) takes the next LSN for its name and
    // seals the open one at its length now: a group must not land in the old
    // one meanwhile, where recovery would never read it. The store accepts no
    // write once close begins; this keeps the log right whoever calls.
    await this.#starting?.catch(() => {});
    // A roll into a new segment needs records in the open one: an empty
    // segment (started at close, or rolled into already) is this epoch's,
    // and a new one would take its name.
    const roll = (this.#rollPending && this.#fileSize > segmentHeaderBytes) || this.#gapPending;
    this.#rollPending = false;
    this.#gapPending = false;
    if (this.#file === undefined || this.#fileSize >= this.#segmentBytes || roll) {
      await this.#startSegment(records, firstLsn);
      return;
    }
    await this.#writeInSegment(this.#file, records);
  }

  /**
   * Writes records right after the open segment's last one, then (when they
   * pass the preallocated frontier) zeros after them, and makes both durable
   * with one fsync. A failure of either write or of the fsync poisons the
   * log like any failed group (D7); nothing here changes until it succeeded.
   */
  async #writeInSegment(file: BlockFile, records: Uint8Array): Promise<void> {
    assert(this.#starting === undefined, "no segment is being started under a group's write");
    assert(file === this.#file, "groups go to the open segment, the log's last");
    assert(this.#preallocated >= this.#fileSize, "the preallocated frontier is past the records");
    const end = this.#fileSize + records.length;
    const padding = end > this.#preallocated ? this.#preallocationEnd(end) - end : 0;
    await file.write(this.#fileSize, records);
    if (padding > 0) await file.write(end, new Uint8Array(padding));
    const synced = file.sync();
    synced.catch(() => {}); // awaited below; a hook that throws must not leave it unhandled
    this.onSyncing?.();
    await synced;
    this.#fileSize = end;
    this.#preallocated = Math.max(this.#preallocated, end + padding);
    this.#segmentZeros += padding;
    this.stats.paddingBytes += padding;
    this.stats.fsyncs++;
    assert(this.#preallocated >= this.#fileSize, "the records end at or below the frontier");
    assert(
      this.#segmentZeros <= 2 * this.#fileSize + walPreallocAlignBytes,
      "a segment's zeros stay below twice its bytes and a page",
    );
  }

  /**
   * Where a segment whose records end at `end` (a new segment's first write,
   * or a group past the frontier) is zero-filled to: as many zeros as the
   * segment holds (it doubles), at most {@link walPreallocBytesMax}, then
   * to the end of that page; but never past the segment size (a segment is
   * sealed there: zeros past it would never be overwritten) unless the
   * records themselves are. Each run of zeros is shorter than the records
   * that pass it before the next run starts, so the zeros a segment ever
   * gets stay below its bytes plus its last run: twice its bytes plus a
   * page (asserted in {@link Wal.#writeInSegment}).
   */
  #preallocationEnd(end: number): number {
    const page = walPreallocAlignBytes;
    const zeros = Math.min(walPreallocBytesMax, end);
    const aligned = Math.ceil((end + zeros) / page) * page;
    const frontier = Math.max(end, Math.min(aligned, this.#segmentBytes));
    assert(frontier >= end, "the frontier is never below the records");
    assert(
      frontier - end < zeros + page,
      "a run of zeros is at most the segment's bytes and a page",
    );
    return frontier;
  }

  /** Creates the next segment (see {@link Wal.#createSegment}), known as under way meanwhile. */
  #startSegment(records: Uint8Array, firstLsn: number): Promise<void> {
    assert(this.#starting === undefined, "one segment creation at a time");
    const starting = this.#createSegment(records, firstLsn);
    this.#starting = starting;
    return starting.finally(() => {
      this.#starting = undefined;
    });
  }

  /**
   * Creates the next segment holding its header, `records` and (when there
   * are records) zeros up to its first preallocated frontier, in one write,
   * durable with its directory entry (D10).
   */
  async #createSegment(records: Uint8Array, firstLsn: number): Promise<void> {
    // The new header records where the previous segment ends: bytes past it
    // (its zero padding, or a torn tail whose truncation a failed fsync
    // never made durable) are ignored for good once this segment exists.
    const header = encodeSegmentHeader(firstLsn, this.#file === undefined ? 0 : this.#fileSize);
    const end = header.length + records.length;
    // An empty segment (started at close) is not padded: nothing may follow soon.
    const frontier = records.length === 0 ? end : this.#preallocationEnd(end);
    const data = new Uint8Array(frontier);
    data.set(header, 0);
    data.set(records, header.length);
    this.#startedSegment = segmentName(firstLsn);
    const file = await this.#storage.open(this.#startedSegment, { exclusive: true });
    try {
      await file.write(0, data);
      await file.sync();
      await this.#storage.syncDir();
    } catch (error) {
      // The log is poisoned, and nothing writes this file again (the name stays, to be removed).
      await file.close().catch(() => {});
      throw error;
    }
    this.stats.fsyncs++;
    this.stats.segmentsCreated++;
    this.stats.paddingBytes += frontier - end;
    this.#segments.push({ name: this.#startedSegment, firstLsn });
    const previous = this.#file;
    this.#file = file;
    this.#fileSize = end;
    this.#preallocated = frontier;
    this.#segmentZeros = frontier - end;
    this.#startedSegment = undefined;
    await previous?.close();
  }

  /**
   * Waits for pending records, then releases the open segment. A poisoned log
   * first cuts the bytes of its failed write (best effort): after a failed
   * fsync the page cache may show records the disk never got, and a reopen in
   * the same machine must not build on them. A healthy log cuts the zero
   * padding past its last record (best effort: left there, it is a torn tail
   * of zeros the next open cuts). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flushAll().catch(() => {});
    this.#closed = true;
    if (this.#poison !== undefined) await this.#dropFailedWrite().catch(() => {});
    else await this.#cutPadding().catch(() => {});
    await this.#file?.close();
    this.#file = undefined;
  }

  /**
   * Truncates the open segment to its last durable record and fsyncs it, so
   * a clean reopen finds no torn tail. Only durable zeros go: every record
   * below the cut was fsynced and acknowledged before, and neither a failed
   * truncate nor a failed fsync can take them back (the zeros stay, or come
   * back after a power loss, and the next open cuts them as a torn tail).
   */
  async #cutPadding(): Promise<void> {
    assert(this.#poison === undefined, "a poisoned log cuts its failed write instead");
    if (this.#file === undefined || this.#preallocated === this.#fileSize) return;
    assert(this.#preallocated > this.#fileSize, "padding lies past the records");
    await this.#file.truncate(this.#fileSize);
    this.#preallocated = this.#fileSize;
    await this.#file.sync();
  }

  async #dropFailedWrite(): Promise<void> {
    assert(this.#poison !== undefined, "only a poisoned log drops its failed write");
    if (this.#startedSegment !== undefined) {
      await this.#storage.remove(this.#startedSegment).catch(() => {});
      await this.#storage.syncDir();
      return;
    }
    if (this.#file === undefined) return;
    await this.#file.truncate(this.#fileSize);
    await this.#file.sync();
  }
}
