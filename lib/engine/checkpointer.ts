/**
 * The checkpoint: writes the trie's changed nodes into the image and
 * commits a header covering LSN `W`, then drops the WAL segments the image
 * covers. Only the capture is synchronous (D8 of docs/DURABILITY.md):
 * writers go on while the nodes are written, since the trie copies on write
 * what the capture shares.
 *
 * Protocol (SPEC §5; what each crash point leaves is in docs/FORMAT.md):
 * 1. in one synchronous step: seal the WAL segment (the next group starts
 *    the next epoch's), note `W` (the LSN of the last write applied to the
 *    trie), take the records dropped since the last capture, capture;
 * 2. write the unaddressed nodes (changed since the last checkpoint) into
 *    free space, pausing between steps for writers;
 * 3. make the WAL durable up to `W` (relaxed mode), then commit the image
 *    (fsync, header, fsync) with coverage `W`;
 * 4. remove WAL segments wholly covered by both header slots (keeping
 *    `retainSegments` more), fsync the directory.
 *
 * A failure after step 1 leaves nodes holding addresses of records no
 * committed header points to, so the checkpointer poisons the store (reopen
 * to continue) rather than build on them.
 *
 * A compaction writes every node into a new file instead, and streams:
 * the trie is not loaded for it. Its walk rewrites the loaded nodes from
 * memory and, at each stub, copies the old image's subtree record by
 * record (`_stream_copy.ts`); until the new file is renamed over the image,
 * the addresses it gave are fresh (negated, see `freshAddress`), so a
 * reader faulting in a stub knows which file holds its record, and the
 * commit settles them in one synchronous pass (`Art.settleAddresses`).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type Art,
  type ArtSnapshot,
  freshAddress,
  inlineAddress,
  isFreshAddress,
  type NodeView,
  type SubtreeCopy,
} from "../art/art.ts";
import { StorageIoError } from "../errors.ts";
import type { ImageGeometry } from "../image/allocation.ts";
import { headerRegionBytes, type ImageHeader } from "../image/header.ts";
import {
  type CommitFields,
  compactingFileName,
  ImageFile,
  imageFileName,
  type ImageSpace,
} from "../image/image_file.ts";
import { inlineLeafRef, inlinePrefixBytesMax } from "../image/node_record.ts";
import type { BlockStorage, Clock } from "../storage/block_storage.ts";
import type { Wal } from "../wal/wal.ts";
import type { Loader } from "./_loader.ts";
import { abandonCopy, type CopyCounts, copySubtree } from "./_stream_copy.ts";
import { checkpointDutyMax, type EpochTracker } from "./epochs.ts";

/** Nodes written between looks at the clock. */
const nodesPerStep = 128;
/** Milliseconds of node writing between pauses for writers (D8). */
const sliceMs = 1;
/** The longest sleep of a background checkpoint between two slices (see {@link Checkpointer.run}). */
const throttleSleepMsMax = 20;
/** Bytes of records buffered before they are written. */
const flushBytes = 256 * 1024;
/** Dead image bytes below which the image is never compacted. */
export const compactionBytesMin = 4 * 1024 * 1024;
/** The share of dead bytes among used bytes past which a checkpoint rewrites the whole image. */
export const compactionDeadFraction = 0.5;

/**
 * The largest image file a clean close leaves, as a multiple of the bytes
 * its records would take compacted (the live bytes and the header slots):
 * past it, close compacts (see {@link closeCompactionDue}). The bound a
 * close promises is 1.5 times the compacted image; live records of a
 * fragmented image can take a few percent more than the same records
 * compacted (their children's offsets are larger numbers, so longer
 * varints), so the rule keeps a margin below it.
 */
export const closeFileToLiveMax = 1.4;

/**
 * Whether a close should compact an image with this space use: its file
 * is more than {@link closeFileToLiveMax} times its live records and
 * header slots. Dead space, free slabs inside the file and the previous
 * image's held records all count, since all of them stay on disk.
 */
export function closeCompactionDue(space: ImageSpace): boolean {
  return space.fileBytes > closeFileToLiveMax * (headerRegionBytes + space.liveBytes);
}

/**
 * Whether an image with this space use should be rewritten whole: dead bytes
 * (fragmentation, not counting the previous image's held records) past
 * {@link compactionBytesMin} and past {@link compactionDeadFraction} of the
 * bytes in use.
 */
export function compactionDue(space: ImageSpace): boolean {
  const used = space.liveBytes + space.deadBytes;
  return space.deadBytes >= compactionBytesMin && space.deadBytes > compactionDeadFraction * used;
}

/** What one checkpoint did. */
export interface CheckpointResult {
  /** The committed header's generation. */
  generation: number;
  /** Every write at or below this LSN is in the image. */
  coverageLsn: number;
  /** Keys in the image. */
  keys: number;
  /** Node records written. */
  nodesWritten: number;
  /** Bytes of node records written. */
  bytesWritten: number;
  /** Whether the whole image was rewritten (compaction). */
  compacted: boolean;
  /** WAL segments removed. */
  segmentsRemoved: number;
  /** Milliseconds from capture to the end. */
  ms: number;
}

/** What the checkpointer needs from the store. */
export interface CheckpointDeps {
  trie: Art;
  /** The image; a compaction replaces it with the file it wrote (read it anew each time). */
  image: ImageFile;
  /** Where the image lives (a compaction writes a new file and renames it). */
  storage: BlockStorage;
  /** The geometry of a compaction's new file (see `allocation.ts`). */
  geometry: ImageGeometry;
  wal: Wal;
  loader: Loader;
  clock: Clock;
  epochs: EpochTracker;
  /** The LSN of the last write applied to the trie. */
  appliedLsn: () => number;
  /**
   * Called when a checkpoint committed or failed, its snapshot released
   * (the memory budget's turn).
   */
  afterCheckpoint?: () => void;
  /**
   * Called each time the node walk moved on (a pause, a stub met or
   * copied, a record a compaction's copy read, its end): what a compaction's walk
   * stood on may go now, and a copy's read may have filled the slab cache,
   * which shrinks the trie's part of a memory budget (the budget's turn, in
   * a microtask). `moved` is false after a copy's read: the walk stands
   * where it stood.
   */
  afterWalkStep?: (moved?: boolean) => void;
}

/** Runs checkpoints of one store, one at a time. */
export class Checkpointer {
  readonly #deps: CheckpointDeps;
  /** Refs of the records the live trie dropped since the last capture. */
  #dropped: number[] = [];
  #poison: StorageIoError | undefined;
  /** The last checkpoint queued or running; the next one starts after it. */
  #tail: Promise<unknown> = Promise.resolve();
  #queued = 0;

  constructor(deps: CheckpointDeps) {
    this.#deps = deps;
    assert(inlineLeafRef === inlineAddress, "the trie and the image agree on inline leaves");
    deps.trie.onDrop((ref) => {
      assert(ref !== inlineLeafRef, "an inline leaf has no record to drop");
      this.#dropped.push(ref);
    });
  }

  /** Set once a checkpoint failed past its capture: the store must be reopened. */
  get poison(): StorageIoError | undefined {
    return this.#poison;
  }

  /** Checkpoints (and exclusive tasks such as a verify) queued or running. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Runs a checkpoint, after any running one; `compact` rewrites the whole
   * image. A `background` one (an epoch's trigger) keeps to
   * `checkpointDutyMax` of the time while writers are busy: after each slice
   * of work it sleeps until its work is back within that share, unless
   * another checkpoint (a caller's, or close's) waits behind it or the log
   * has grown by `epochWalBytes` since it began. Writers then keep most of
   * the CPU, as PostgreSQL spreads a checkpoint over its interval.
   */
  run(compact: boolean, background = false): Promise<CheckpointResult> {
    // With none queued, the capture happens within this call (unless a
    // compaction must load the whole trie first): the image then holds
    // exactly what was accepted before it.
    const run = this.#queued === 0
      ? this.#checkpoint(compact, background)
      : this.#tail.then(() => this.#checkpoint(compact, background));
    this.#queued++;
    this.#tail = run.then(
      () => this.#queued--,
      () => this.#queued--,
    );
    return run;
  }

  /** Runs `task` with no checkpoint in progress (one waits for the other). */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.#queued++;
    const run = this.#tail.then(task);
    this.#tail = run.then(
      () => this.#queued--,
      () => this.#queued--,
    );
    return run;
  }

  /**
   * Whether dead space has passed the compaction threshold. Held bytes (the
   * previous image's records, free after the next commit) do not count:
   * right after a compaction they are the whole old image.
   */
  compactionDue(): boolean {
    return compactionDue(this.#deps.image.space());
  }

  /** Whether the image file outgrew its records enough that a close compacts it. */
  closeCompactionDue(): boolean {
    // A compaction streams what is not loaded: it fits any memory.
    return this.#poison === undefined && closeCompactionDue(this.#deps.image.space());
  }

  /**
   * Commits the committed image again, unchanged, into the other header
   * slot, when that slot covers less or holds no valid header (close calls
   * it): both slots then cover the same LSN, so every WAL segment at or
   * below it can go, and
   * the records only the image before the committed one used become free
   * (free slabs at the end of the file are cut). A normal commit with
   * nothing to free, so its crash points are a commit's: until its header
   * is durable the other slot (the image just committed) is current and
   * no WAL was removed for it. A failure poisons the checkpointer like a
   * failed checkpoint (the store is closing: nothing is lost).
   *
   * @returns Whether it committed.
   */
  restate(): Promise<boolean> {
    return this.exclusive(async () => {
      this.#checkHealthy();
      const image = this.#deps.image;
      const header = image.header;
      // A damaged or blank other slot counts as disagreeing too: commit into it.
      if (header === undefined || image.slotsAgree) return false;
      const { coverageLsn, rootAddress, keyCount, valueCeiling } = header;
      try {
        await image.commit({ coverageLsn, rootAddress, keyCount, valueCeiling }, []);
      } catch (error) {
        throw this.#poisonWith(error);
      }
      assert(image.reclaimableLsn === coverageLsn, "both header slots cover the image's lsn");
      return true;
    });
  }

  async #checkpoint(forceCompact: boolean, background: boolean): Promise<CheckpointResult> {
    this.#checkHealthy();
    const { trie, wal, clock, epochs } = this.#deps;
    const compacted = forceCompact || this.compactionDue();
    // A store whose trie failed applying writes throws here, before any work.
    this.#deps.appliedLsn();
    const fresh = compacted ? await this.#createCompacting() : undefined;
    // The capture: one synchronous step from here, so the image is the state at `coverage`.
    let coverage: number;
    try {
      this.#checkHealthy();
      wal.checkWritable();
      coverage = this.#deps.appliedLsn(); // applies a waiting group: the trie may fail now
    } catch (error) {
      await fresh?.close();
      throw error;
    }
    const started = clock.now();
    wal.roll();
    // The old file's records are all dropped by a compaction: none to free.
    const frees = compacted ? [] : this.#dropped;
    this.#dropped = [];
    const snapshot = trie.capture({ rewriteAll: compacted });
    // Readers fault in what the walk gave fresh addresses from the new file.
    if (fresh !== undefined) this.#deps.loader.fresh = fresh;
    const epoch = epochs.beginCheckpoint(started);
    let written: Written;
    let header: ImageHeader;
    try {
      written = await this.#write(fresh, snapshot, background);
      if (wal.durableLsn < coverage) await wal.flushAll();
      const fields = { coverageLsn: coverage, rootAddress: written.root, keyCount: snapshot.size };
      const committed = this.#deps.image.header;
      const unchanged = fresh === undefined && committed !== undefined && frees.length === 0 &&
        written.nodes === 0 && sameFields(committed, fields);
      header = unchanged
        ? committed
        : fresh === undefined
        ? await this.#deps.image.commit({ ...fields, valueCeiling: snapshot.valueCeiling }, frees)
        : await this.#replaceImage(fresh, { ...fields, valueCeiling: snapshot.valueCeiling });
    } catch (error) {
      throw await this.#failed(error, snapshot, epoch, fresh);
    }
    const segmentsRemoved = await this.#afterCommit(snapshot, epoch, compacted, written.workMs);
    return checkpointResult(header, written, {
      coverageLsn: coverage,
      compacted,
      segmentsRemoved,
      ms: clock.now() - started,
    });
  }

  /**
   * The steps after a checkpoint committed: releases its snapshot, relocates
   * the trie after a compaction, asks the budget for a round, removes the
   * segments the image covers; returns how many. The epoch ends whatever
   * happens. Only a bug throws here: the checkpoint committed, so nothing is
   * marked failed, but the store is poisoned (writes refused until a
   * reopen), as after a failed checkpoint, instead of going on with a
   * snapshot perhaps still live and the error lost (an automatic
   * checkpoint's rejection is no caller's).
   */
  async #afterCommit(
    snapshot: ArtSnapshot,
    epoch: number,
    compacted: boolean,
    workMs: number,
  ): Promise<number> {
    const { trie, clock, epochs } = this.#deps;
    try {
      snapshot.release();
      // The image is laid out afresh: so is the trie in memory (and its freed words go back).
      if (compacted) trie.relocate();
      this.#deps.afterCheckpoint?.();
      return await this.#reclaim();
    } catch (error) {
      throw this.#poisonWith(error);
    } finally {
      epochs.endCheckpoint(epoch, clock.now(), true, workMs);
    }
  }

  /**
   * Ends a checkpoint that failed before its commit (or a compaction whose
   * rename's directory sync failed): poisons the store and returns the
   * poison to throw. Fresh addresses left in the trie are
   * refused from now on (`Loader.fresh`), never read from the image, and so
   * are the records the failed walk wrote: the nodes naming them, and those
   * above them, stay loaded (`Art.checkpointFailed`, before the release
   * clears an incremental walk's marks); evictions take only what the
   * committed image holds. It comes before any await: a round of evictions
   * in the close's (after a load) took loaded nodes whose records are in the
   * failed file, so reads of keys loaded all along failed.
   */
  async #failed(
    error: unknown,
    snapshot: ArtSnapshot,
    epoch: number,
    fresh: ImageFile | undefined,
  ): Promise<StorageIoError> {
    const { trie, clock, epochs } = this.#deps;
    this.#deps.loader.fresh = undefined;
    const poison = this.#poisonWith(error);
    trie.checkpointFailed();
    snapshot.release();
    epochs.endCheckpoint(epoch, clock.now(), false);
    this.#deps.afterCheckpoint?.(); // what the snapshot held may go now
    if (fresh !== undefined && fresh !== this.#deps.image) await fresh.close().catch(() => {});
    return poison;
  }

  /**
   * A compaction's new file (so the old one keeps no dead space). Nothing
   * is loaded for it: its walk copies what is not in memory from the old
   * file (see the module notes).
   */
  async #createCompacting(): Promise<ImageFile> {
    try {
      return await ImageFile.createCompacting(this.#deps.storage, this.#deps.geometry);
    } catch (error) {
      throw this.#poisonWith(error); // as any failed checkpoint I/O: reopen to go on
    }
  }

  /**
   * Commits a compaction's file and renames it over the image: the rename,
   * once the directory fsync returns, is the commit point. Before it, a
   * crash leaves the old image (and the WAL it needs: nothing was reclaimed).
   */
  async #replaceImage(
    fresh: ImageFile,
    fields: CommitFields,
  ): Promise<ImageHeader> {
    const old = this.#deps.image;
    const header = await fresh.commitWhole(fields, (old.header?.generation ?? 0) + 1);
    const storage = this.#deps.storage;
    await storage.rename(compactingFileName, imageFileName);
    fresh.cacheSlabsMax = old.cacheSlabsMax; // a memory budget's bound holds on
    // In one synchronous step: the new file is the image, and its addresses are plain refs.
    this.#deps.image = fresh;
    this.#deps.trie.settleAddresses();
    this.#deps.loader.fresh = undefined;
    try {
      await this.#deps.wal.syncDir(); // a failure poisons the log too (D7), and the store
    } finally {
      await this.#deps.loader.idle(); // reads of the old file begun before the rename end first
      await old.close(); // also when the sync failed: nothing reads the old file again
    }
    assert(this.#deps.image.header === header, "the compacted file is the image");
    return header;
  }

  /**
   * Step 2: writes the changed nodes (every node, for a compaction: into
   * `fresh`, copying the subtrees of stubs from the image) pausing for
   * writers between steps.
   */
  async #write(
    fresh: ImageFile | undefined,
    snapshot: ArtSnapshot,
    background: boolean,
  ): Promise<Written> {
    const image = fresh ?? this.#deps.image;
    const keys = snapshot.size;
    const counts: CopyCounts = { records: 0, bytes: 0, start: -1, end: -1 };
    // Only a compaction visits written nodes (`previous`), and it writes a new file.
    // Leaves the image stores inline are not visited: their parents carry them.
    const walk = snapshot.writeChangedSteps(
      fresh === undefined ? appendVisit(image, counts) : freshVisit(fresh, counts),
      nodesPerStep,
      inlinePrefixBytesMax,
    );
    const pace = new Pace(this.#deps, background, (workMs, began) => this.#throttle(workMs, began));
    const copyOptions = {
      valueCeiling: snapshot.valueCeiling,
      recordsMax: 2 * keys + 1,
      between: () => pace.step(image),
      afterRead: () => this.#deps.afterWalkStep?.(false), // the walk did not move
    };
    let result = walk.next();
    // A trie of `keys` keys has fewer than 2 * keys + 1 nodes; a stub is copied once, or
    // abandoned once and walked.
    const stepsMax = (2 * keys + 1) / nodesPerStep + 4 * keys + 2;
    for (let steps = 0; result.done !== true; steps++) {
      assert(steps <= stepsMax, "the node walk pauses a bounded number of times");
      this.#deps.afterWalkStep?.();
      const copy: SubtreeCopy | undefined = result.value;
      if (copy === undefined) {
        await pace.step(image);
        result = walk.next();
        continue;
      }
      assert(fresh !== undefined, "only a compaction's walk meets stubs");
      const ref = await copySubtree(this.#deps.image, fresh, copy, copyOptions, counts);
      // A reader may have loaded the stub since the copy's last look: in this turn, it stays.
      result = walk.next(ref !== undefined && copy.present() ? ref : abandonCopy(fresh, counts));
    }
    // The walk's last step left the nodes it stood on (its stack, the root last): they may go.
    this.#deps.afterWalkStep?.();
    const workMs = pace.end();
    // A compaction's root address is a fresh one, until the commit settles it.
    const root = isFreshAddress(result.value) ? -result.value : result.value;
    return { root, nodes: counts.records, bytes: counts.bytes, workMs };
  }

  /**
   * A background checkpoint whose writers were busy during its last pause:
   * sleeps until its work (`workMs` since `began`) is back within
   * `checkpointDutyMax` of the time, at most {@link throttleSleepMsMax} at a
   * time, unless a checkpoint waits behind it or the log has grown by a
   * whole epoch's bytes (then it finishes at full pace).
   */
  async #throttle(workMs: number, began: number): Promise<void> {
    const { clock, epochs } = this.#deps;
    if (clock.sleep === undefined || this.#queued > 1 || epochs.walBytesReached) return;
    const owedMs = workMs / checkpointDutyMax - (clock.now() - began);
    assert(Number.isFinite(owedMs), "a finite debt of time");
    if (owedMs > 0) await clock.sleep(Math.min(owedMs, throttleSleepMsMax));
  }

  /**
   * Step 4: segments both header slots cover go (see
   * `ImageFile.reclaimableLsn`), but the newest `retainSegments` of them; a
   * failure here loses nothing (they are only extra).
   */
  async #reclaim(): Promise<number> {
    const { wal, image, epochs } = this.#deps;
    try {
      return await wal.reclaim(image.reclaimableLsn, epochs.config.retainSegments);
    } catch {
      return 0; // left for the next checkpoint, which covers them too
    }
  }

  #checkHealthy(): void {
    if (this.#poison !== undefined) throw this.#poison;
  }

  #poisonWith(error: unknown): StorageIoError {
    const detail = error instanceof Error ? error.message : String(error);
    this.#poison ??= new StorageIoError(
      `Cannot checkpoint: ${detail}; close the store and open it again (nothing acknowledged is lost)`,
      error,
    );
    return this.#poison;
  }
}

/** What step 2 wrote: the root's record, the records and their bytes, and its work time. */
interface Written {
  root: number;
  nodes: number;
  bytes: number;
  workMs: number;
}

/** What a walk does with each node it writes: returns its address (see `ArtSnapshot`). */
type NodeVisit = (node: NodeView, previous: number, root: boolean) => number;

/** A checkpoint's visit: appends each node to `image` (records and bytes counted). */
function appendVisit(image: ImageFile, counts: CopyCounts): NodeVisit {
  return (node, _previous, root) => {
    const ref = image.append(node, root);
    if (ref !== inlineLeafRef) counts.records++;
    counts.bytes += image.lastAppendBytes;
    return ref;
  };
}

/**
 * A compaction's visit: appends each node to its new file, with its
 * children's fresh addresses as refs, and gives it a fresh address.
 */
function freshVisit(fresh: ImageFile, counts: CopyCounts): NodeVisit {
  const append = appendVisit(fresh, counts);
  return (node, previous, root) => {
    const children = node.childAddresses;
    for (let index = 0; index < children.length; index++) {
      const address = children[index];
      if (isFreshAddress(address)) children[index] = -address;
      else assert(address === inlineAddress, "a compaction wrote every child before its parent");
    }
    const ref = append(node, previous, root);
    return ref === inlineLeafRef ? ref : freshAddress(ref);
  };
}

/**
 * The pace of step 2: between steps, flushes what was appended past
 * {@link flushBytes}, and every {@link sliceMs} of work pauses for writers
 * (a background checkpoint, when they were busy, throttled to its duty);
 * counts the time worked.
 */
class Pace {
  readonly #deps: CheckpointDeps;
  readonly #background: boolean;
  readonly #throttle: (workMs: number, began: number) => Promise<void>;
  readonly #began: number;
  #sliceStart: number;
  #workMs = 0;
  #operations: number;

  constructor(
    deps: CheckpointDeps,
    background: boolean,
    throttle: (workMs: number, began: number) => Promise<void>,
  ) {
    this.#deps = deps;
    this.#background = background;
    this.#throttle = throttle;
    this.#began = deps.clock.now();
    this.#sliceStart = this.#began;
    this.#operations = deps.epochs.currentOperations;
  }

  /** A step's end: a promise when it flushes or pauses, else undefined (no await needed). */
  step(image: ImageFile): Promise<void> | undefined {
    const clock = this.#deps.clock;
    const flush = image.buffered >= flushBytes;
    // A simulated clock: interleave at every step.
    const pause = clock.pause === undefined || clock.now() - this.#sliceStart >= sliceMs;
    return flush || pause ? this.#stepAsync(image, flush) : undefined;
  }

  async #stepAsync(image: ImageFile, flush: boolean): Promise<void> {
    if (flush) await image.flush();
    const { clock, epochs } = this.#deps;
    if (clock.pause === undefined) {
      await Promise.resolve();
      return;
    }
    if (clock.now() - this.#sliceStart < sliceMs) return;
    this.#workMs += clock.now() - this.#sliceStart;
    await clock.pause();
    const busy = epochs.currentOperations !== this.#operations;
    if (this.#background && busy) await this.#throttle(this.#workMs, this.#began);
    this.#operations = epochs.currentOperations;
    this.#sliceStart = clock.now();
  }

  /** The time worked, once the walk ended. */
  end(): number {
    const now = this.#deps.clock.now();
    this.#workMs += now - this.#sliceStart;
    assert(
      this.#workMs >= 0 && this.#workMs <= now - this.#began + 1,
      "work within the walk's time",
    );
    return this.#workMs;
  }
}

/**
 * Whether `committed` holds `fields` already. A checkpoint that wrote and
 * freed nothing then commits no header: a new one would only cost two
 * fsyncs (and make the slots disagree, keeping WAL a compaction let go).
 */
function sameFields(
  committed: ImageHeader,
  fields: { coverageLsn: number; rootAddress: number; keyCount: number },
): boolean {
  return committed.rootAddress === fields.rootAddress &&
    committed.coverageLsn === fields.coverageLsn && committed.keyCount === fields.keyCount;
}

/** What a checkpoint reports: its header's generation and keys, what it wrote, and `rest`. */
function checkpointResult(
  header: ImageHeader,
  written: { nodes: number; bytes: number },
  rest: Pick<CheckpointResult, "coverageLsn" | "compacted" | "segmentsRemoved" | "ms">,
): CheckpointResult {
  return {
    generation: header.generation,
    coverageLsn: rest.coverageLsn,
    keys: header.keyCount,
    nodesWritten: written.nodes,
    bytesWritten: written.bytes,
    compacted: rest.compacted,
    segmentsRemoved: rest.segmentsRemoved,
    ms: rest.ms,
  };
}
