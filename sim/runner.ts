/**
 * The simulation runner: drives the production engine on a simulated disk
 * with concurrent clients, crashes and restarts, and checks every step with
 * the oracle. One seed decides everything; the same options replay the same
 * run, to the same trace hash.
 *
 * @module
 */

import { describe, watchBackgroundErrors } from "./background_errors.ts";
import { assert } from "./_assert.ts";
import { checkOptions, type OptionTypes } from "../lib/options.ts";
import {
  AssertionError,
  CorruptionError,
  MemoryLimitError,
  StorageIoError,
  StoreClosedError,
} from "../lib/errors.ts";
import type { ImageGeometry } from "../lib/image/allocation.ts";
import { RecordTooLargeError } from "../lib/image/image_file.ts";
import {
  type CheckpointOptions,
  type Durability,
  imageGeometryKey,
  type InternalStoreOptions,
  type ListOptions,
  type LoadMode,
  memoryFloor,
  openStore,
  slabCacheSlabsMinKey,
  type Store,
  type WriteCounters,
  writeCounters,
} from "../lib/store/store.ts";
import { parseSegmentName } from "../lib/wal/segment.ts";
import type { Clock } from "../lib/storage/block_storage.ts";
import {
  listBatchSize,
  overlayIdBytesMax,
  quarantineProblem,
  refusedForFailedCompaction,
} from "../lib/store/internals.ts";
import { Excuses } from "./excuses.ts";
import { addChurn, drawImageWorkload, imageGeometryFor } from "./churn.ts";
import type { FaultProfile, FaultRecord } from "./faults.ts";
import { ImageGuard, type ImageGuardStats, newImageGuardStats } from "./image_guard.ts";
import { MemoryPressure } from "./memory.ts";
import { imageBoundProblem, replayBoundProblem, walBoundProblem, walBoundRules } from "./bounds.ts";
import { bytesOfKey, keyArgument, keyOfBytes } from "./keys.ts";
import {
  budgetWorkProblem,
  cacheBoundProblem,
  cacheSlabsFloor,
  compactionAsksMax,
  heldBytesMax,
  memoryBoundProblem,
  relocationProblem,
  triePart,
  workSince,
  writerMustWait,
} from "./memory_bound.ts";
import type { ListSelector } from "../lib/store/keys.ts";
import { type ListEntry, listShapeProblem, selectorKeyRange } from "./list.ts";
import type { ScanShape } from "./scan.ts";
import { type ExcusedLoss, Oracle, type State, type Verdict, type Violation } from "./model.ts";
import { eventPrng, hash32, hashString, type Prng } from "./prng.ts";
import { drawCheckpointOptions } from "./profiles.ts";
import { SimBlockStorage } from "./storage.ts";
import { WalkClock } from "./clock.ts";
import { WalMap } from "./wal_map.ts";
import { compactingFileName, WorkWatch } from "./work_events.ts";
import {
  distinctDelta,
  generateSteps,
  isWrite,
  type SimMutation,
  type SimOp,
  type SimSelector,
  type Step,
  stepsMax,
} from "./workload.ts";

/** What a run does. */
export interface RunOptions {
  /** Decides the workload, the faults and the I/O order. */
  seed: number;
  /** Client operations (used when `steps` is not given). */
  ops: number;
  /** Concurrent clients (used when `steps` is not given). */
  clients: number;
  /** The fault profile of the simulated disk. */
  profile: FaultProfile;
  /** Sector size of torn writes (default 512). */
  sectorBytes?: 512 | 4096;
  /** The store's durability mode (default strict). */
  durability?: Durability;
  /** Steps to run instead of generating them (replay and shrinking). */
  steps?: Step[];
  /** Stop at the first violation (default true). */
  stopAtFirst?: boolean;
  /** Automatic checkpoint settings (default: drawn from the seed). */
  checkpoint?: CheckpointOptions;
  /**
   * How recovery opens load the image (default: drawn for each open, eager
   * or lazy, half and half). The reopen after a recovery check is always
   * lazy, so the ops after it meet stubs.
   */
  load?: LoadMode;
  /**
   * The chance, before each step, that the process runs out of memory (the
   * trie's arena cannot grow) until the next crash or restart; default 0.
   */
  memoryPressure?: number;
  /**
   * The store's `memoryBudget` (bytes; default none): with a few KiB, every
   * checkpoint evicts and most reads and writes load their paths again.
   */
  memoryBudget?: number;
  /**
   * The geometry of the images the store creates (default: drawn for the
   * seed, see `drawImageWorkload`: small slabs on three seeds in four).
   */
  imageGeometry?: ImageGeometry;
  /**
   * Whether generated steps get churn batches and compacting checkpoints,
   * and compactions' header writes misplaced faults (default: on the seeds
   * that draw small slabs; see `addChurn` and `ImageGuardOptions`).
   */
  churn?: boolean;
  /**
   * Whether the engine's long work yields to the simulator: its clock is a
   * `WalkClock`, so a checkpoint's node walk pauses between steps while
   * writes, loads and evictions run (default: drawn, on half the seeds).
   */
  walkPauses?: boolean;
  /**
   * Under {@link RunOptions.memoryBudget}, the fewest slabs the image's slab
   * cache keeps (the engine's floor is 8, which holds a small-slab run's
   * whole image: a list's batch or a scan's pass then never reads a slab
   * from the disk twice, so nothing it loaded and let go too early loads
   * again from the disk, and the walk never starves). Default: drawn, 1 on
   * half the budgeted seeds, the engine's on the others and without a budget.
   */
  slabCacheSlabsMin?: number;
  /**
   * Whether the disk's files offer `readSync` (as a file through the page
   * cache does), so the engine loads a key's path for a read without an
   * await; else every read is scheduled. Default: drawn, on half the seeds.
   */
  syncReads?: boolean;
  /**
   * Whether a file's close completes when the scheduler steps it, so that
   * other I/O completes while the engine awaits it (a failed compaction's
   * close of its new file, say). Default false.
   */
  scheduledCloses?: boolean;
}

/** Counters of one run. */
export interface RunStats {
  /** Steps executed. */
  steps: number;
  /** I/O completions the scheduler made. */
  ioSteps: number;
  /** Power losses simulated. */
  crashes: number;
  /** Clean closes and reopens (including those after a poisoned store). */
  restarts: number;
  /** Opens retried after a transient storage error. */
  openRetries: number;
  /** Writes acknowledged. */
  acked: number;
  /** Writes rejected by a storage failure. */
  failedWrites: number;
  /** Recoveries that lost acknowledged writes whose bytes a fault destroyed. */
  excusedLosses: number;
  /** Acknowledged writes those recoveries lost. */
  excusedLsns: number;
  /** Recoveries not judged: destroyed bytes took log records recovered before. */
  clobberedRecoveries: number;
  /** Distinct (file, kind, outstanding I/O) situations the crashes hit. */
  crashPoints: Set<string>;
  /** Checkpoints asked for (automatic ones not counted). */
  checkpoints: number;
  /** `store.verify()` calls that completed. */
  verifies: number;
  /** Writes the store queued while their key's path loaded from the image. */
  queuedWrites: number;
  /** Stores reopened after a recovery check with nothing but the image's root loaded. */
  lazyOpens: number;
  /** Recovery opens that loaded the whole image at once. */
  eagerOpens: number;
  /** Opens that returned with the root alone and loaded the rest in the background (`"auto"`). */
  warmOpens: number;
  /** Stores that crashed or closed while their background warm-up still ran. */
  warmUpsCut: number;
  /** Checkpoints committed (asked for or automatic), by stores that were then closed or crashed. */
  checkpointsCommitted: number;
  /** Image nodes loaded (at open or on use), by those stores. */
  nodesLoaded: number;
  /** Subtrees the memory budget evicted, by those stores (see {@link RunOptions.memoryBudget}). */
  evictions: number;
  /** Records reads answered from without loading them, by those stores (`memory.readThrough`). */
  readThrough: number;
  /** Pauses of the engine's long work (see {@link RunOptions.walkPauses}). */
  walkPauses: number;
  /** 1 if the run's files read at once (see {@link RunOptions.syncReads}), else 0. */
  syncReads: number;
  /** Writes acknowledged while such a pause waited: the walk went on beside them. */
  writesInWalks: number;
  /** Calls that failed with `MemoryLimitError` (see {@link RunOptions.memoryPressure}). */
  outOfMemory: number;
  /** Of those, refused loads after which the process got its memory back and went on. */
  memoryBack: number;
  /** Closes the power cut short (`closeCrash` steps). */
  closeCrashes: number;
  /** Of those, the ones the power cut before the close ended. */
  closeCrashesInside: number;
  /** Writes called while a clean close ran, which the store must refuse (see `#writeWhileClosing`). */
  closeWrites: number;
  /** Adds refused with a RangeError because the count would pass 2^53 - 1. */
  refusedPastMaxSafe: number;
  /** Gets and getMany refused for a failed compaction's file (`readable` judged each). */
  compactionRefusals: number;
  /** Of those, the ones a read that began after the failure had answered (each a violation). */
  compactionRefusalsAnswered: number;
  /** Gets of keys answered since a failed compaction stopped reading its file, read again. */
  answeredRereads: number;
  /** Memory probes' sweeps of gets as a compaction beside stopped reading its file (`readable`). */
  sweeps: number;
  /** Lists whose result spanned more than one of the store's batches. */
  listsPastBatch: number;
  /** Scans judged. */
  scans: number;
  /** Of those, the ones a load from the disk split between two visits (see `scanInto`). */
  scansSplit: number;
  /** Of those, the ones their visitor stopped before the end. */
  scansStopped: number;
  /** Bound checks made (see `bounds.ts`): WAL after checkpoints and closes, replay at opens, image after compactions. */
  boundChecks: number;
  /** The most children one prefix had in a recovered state (Node48 past 16, Node256 past 48). */
  fanOutMax: number;
  /** Injected faults by kind (`memoryExhausted`: see {@link RunOptions.memoryPressure}). */
  faults: Record<string, number>;
  /** What the image guard saw: writes checked, slabs reused, the most slabs, tables of several chunks. */
  image: ImageGuardStats;
  /** The slab size of the images the run's stores created. */
  slabBytes: number;
  /** The slab cache's floor the run's stores had (see {@link RunOptions.slabCacheSlabsMin}); 0: the engine's. */
  slabCacheSlabsMin: number;
  /**
   * Under a memory budget (see `memory_bound.ts`): memory probes run, the
   * `bound-memory` checks they made, writes judged by `bound-writers`
   * (their call left the trie past the writers' bound), and budget relocations
   * judged by `bound-relocate`; of the checks, those made while a
   * checkpoint's snapshot was live (`checksBeside`), and the subtrees
   * evicted while one was (`evictionsBeside`, seen between I/O completions);
   * of the probes, those on a poisoned store (`probesPoisoned`: a write or
   * a checkpoint had failed, the probe's own checkpoint among them) and
   * their checks (`checksPoisoned`).
   */
  memory: {
    probes: number;
    probesPoisoned: number;
    checks: number;
    checksPoisoned: number;
    checksBeside: number;
    evictionsBeside: number;
    writersWaiting: number;
    relocations: number;
    /** Intervals between I/O completions in which `bound-work` judged some work. */
    workJudged: number;
    /** The budget's rounds in them, and the nodes its clock hand visited. */
    rounds: number;
    handVisits: number;
    /** Of those rounds, the ones whose hand walked the whole trie and found nothing (more). */
    fruitless: number;
    /** Rounds whose hand stayed idle (its last walk found nothing, and nothing changed). */
    handIdle: number;
  };
}

/**
 * Why a run stopped before its last step: a violation; the store refused to
 * open (a damaged log segment, a damaged image) or to list what it
 * recovered (a damaged image record) with a `CorruptionError` that
 * destroyed bytes explain, so it genuinely cannot go on; every open try
 * failed on a failing disk; or a wait hung.
 */
export type StopKind =
  | "violation"
  | "log damaged at open"
  | "image damaged at open"
  | "image damaged reading the recovered state"
  | "open failed"
  | "hang";

/** The outcome of one run. */
export interface RunResult {
  /** The seed. */
  seed: number;
  /** The steps run, for a trace. */
  steps: Step[];
  /** Broken properties (empty when the run passed). */
  violations: Violation[];
  /** A hash of every I/O and outcome: equal for equal runs. */
  traceHash: number;
  /** Counters. */
  stats: RunStats;
  /** Why the run ended before its last step, if it did (for example: corruption reported). */
  stoppedEarly?: string;
  /** The kind of {@link RunResult.stoppedEarly}. */
  stopKind?: StopKind;
  /** Each recovery whose lost acknowledged writes a fault excused, with those LSNs and why. */
  excused: readonly ExcusedLoss[];
  /** Every injected fault and crash outcome, oldest first. */
  faults: readonly FaultRecord[];
}

/** I/O completions one wait may take before the run is declared hung. */
const waitStepsMax = 100_000;
/** Small WAL segments, so runs cross segment boundaries (and their directory fsyncs) often. */
const simSegmentBytes = 4096;
/** Event contexts (see `Scheduler.context`) of the first open and of the final drain. */
const openContext = stepsMax + 1;
const finishContext = stepsMax + 2;
/** The `eventPrng` stream of crash-during-recovery decisions. */
const crashStream = 0xc4a5;
/** The `eventPrng` stream of the choice to reopen lazily after a recovery. */
const lazyStream = 0x1a2b;
/** The `eventPrng` stream of how a recovery open loads the image. */
const loadStream = 0x10ad;
/** The `eventPrng` stream of whether the reopen after a recovery warms up in the background. */
const warmStream = 0x3a7e;
/** The `eventPrng` stream of memory exhaustion ({@link RunOptions.memoryPressure}). */
const memoryStream = 0x3e30;
/** The `eventPrng` stream of whether the engine's long work yields ({@link RunOptions.walkPauses}). */
const walkPauseStream = 0x9a05;
/** The `eventPrng` stream of the slab cache's floor ({@link RunOptions.slabCacheSlabsMin}). */
const slabCacheStream = 0x5c1a;
/** The share of budgeted seeds whose slab cache keeps {@link slabCacheSlabsTiny}, when not given. */
const slabCacheTinyChance = 0.5;
/** The floor those seeds draw: one slab, so a walk spanning two slabs reads one again. */
const slabCacheSlabsTiny = 1;
/** The `eventPrng` stream of whether the disk's files read at once ({@link RunOptions.syncReads}). */
const syncReadStream = 0x5e4d;
/** The share of seeds whose files read at once, when not given. */
const syncReadChance = 0.5;
/** The share of seeds whose engine's long work yields, when not given. */
const walkPauseChance = 0.5;
/** The most scheduler completions one pause of the engine's walk waits for. */
const walkPauseTurnsMax = 32;
/** Storms of gets a memory probe runs beside a compaction, at most (see `#stormBeside`). */
const besideStormsMax = 8;
/** Keys a memory probe's sweep gets at once (see `#sweep`). */
const sweepKeysMax = 64;
/** Keys a memory probe reads again after its checkpoint failed (`readable`), at most. */
const rereadKeysMax = 64;
/** Clocks of stores still pausing at once, at most (the live store and opens that failed). */
const walkClocksMax = 64;
/** The `eventPrng` stream of writes called while a clean close runs. */
const closeWriteStream = 0xc105;
/** The `eventPrng` stream of whether a refused load's process gets its memory back and goes on. */
const memoryBackStream = 0x3e31;
/** The `eventPrng` stream of memory probes (see `#memoryProbe`), under a memory budget only. */
const memoryProbeStream = 0x3e32;
/** The chance of a memory probe before a step, and the most probes a run makes. */
const memoryProbeChance = 1 / 50;
const memoryProbesMax = 8;
/** The gets of a probe's storm: at least this many, and up to this many more. */
const probeGetsMin = 16;
const probeGetsSpread = 32;
/** The gets a storm keeps in flight at once: at least this many, and up to this many more. */
const probeWidthMin = 2;
const probeWidthSpread = 3;
/** The chance that a probe goes on with writes and a storm beside a checkpoint, and its writes. */
const probeBesideChance = 0.5;
const probeWritesMax = 8;
/** The chance that a probe goes on with a write of deletes of absent keys, and their most. */
const probeIdleWriteChance = 0.5;
const probeAbsentKeysMax = 32;
/** The chance that a clean close meets a write, and the most I/O completions into it before. */
const closeWriteChance = 0.5;
const closeWriteIosMax = 16;
/** The most extra power losses during one recovery. */
const recoveryCrashesMax = 3;
/** Opens tried before a transient storage error counts as a failure. */
const openAttemptsMax = 16;

/** Ends a run that cannot go on (after a violation, or a legitimate corruption report). */
class StopRun extends Error {
  readonly kind: StopKind;

  constructor(kind: StopKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** The keys {@link RunOptions} takes, with their types (unknown keys are a TypeError). */
const runOptionTypes: OptionTypes = {
  seed: "number",
  ops: "number",
  clients: "number",
  profile: "object",
  sectorBytes: "number",
  durability: ["strict", "relaxed"],
  steps: "object",
  stopAtFirst: "boolean",
  checkpoint: "object",
  load: ["auto", "eager", "lazy"],
  memoryPressure: "number",
  memoryBudget: "number",
  walkPauses: "boolean",
  slabCacheSlabsMin: "number",
  syncReads: "boolean",
  scheduledCloses: "boolean",
  imageGeometry: "object",
  churn: "boolean",
};

/** Runs one seed. */
export async function runSimulation(options: RunOptions): Promise<RunResult> {
  checkOptions(options, runOptionTypes, {
    operation: "run a simulation",
    object: "options",
    key: "option",
    keyPrefix: "",
  });
  const workload = drawImageWorkload(options.seed);
  const churned = options.churn ?? workload.small;
  const generate = () => {
    const generated = generateSteps({
      seed: options.seed,
      ops: options.ops,
      clients: options.clients,
    });
    return churned ? addChurn(generated, options.seed, workload) : generated;
  };
  const steps = options.steps ?? generate();
  // Given steps (a replay, a shrink) take the geometry of the run they came from.
  const geometry = options.imageGeometry ??
    imageGeometryFor(workload, options.steps === undefined ? steps : [...generate(), ...steps]);
  const run = new Run(options, geometry, churned ? workload.compactionHeaderFaults : 0);
  let stoppedEarly: string | undefined;
  let stopKind: StopKind | undefined;
  run.memory.install();
  const unwatch = watchBackgroundErrors((message) => run.oracle.violate("error", message, []));
  try {
    run.storage.scheduler.context = openContext;
    await run.open(-1);
    for (const step of steps) {
      await run.execute(step);
      if (run.oracle.violations.length > 0 && options.stopAtFirst !== false) break;
    }
    await run.finish();
  } catch (error) {
    if (!(error instanceof StopRun)) throw error;
    stoppedEarly = error.message;
    stopKind = run.oracle.violations.length > 0 ? "violation" : error.kind;
  } finally {
    unwatch();
    run.memory.uninstall();
  }
  run.stats.faults = { ...run.storage.faultCounts };
  if (run.memory.exhaustions > 0) run.stats.faults.memoryExhausted = run.memory.exhaustions;
  run.stats.ioSteps = run.storage.scheduler.steps;
  run.stats.excusedLosses = run.oracle.excused.filter((loss) => !loss.clobbered).length;
  run.stats.excusedLsns = run.oracle.excused.reduce((sum, loss) => sum + loss.lsns.length, 0);
  run.stats.clobberedRecoveries = run.oracle.excused.filter((loss) => loss.clobbered).length;
  if (stopKind === undefined && run.oracle.violations.length > 0) stopKind = "violation";
  run.stats.image = { ...run.guard.stats };
  return {
    seed: options.seed,
    steps,
    violations: run.oracle.violations,
    traceHash: hash32(run.storage.traceHash(), hashString(JSON.stringify(run.oracle.violations))),
    stats: run.stats,
    stoppedEarly,
    stopKind,
    excused: run.oracle.excused,
    faults: run.storage.faults,
  };
}

class Run {
  storage: SimBlockStorage;
  store: Store | undefined;
  readonly oracle = new Oracle();
  readonly stats: RunStats = {
    steps: 0,
    ioSteps: 0,
    crashes: 0,
    restarts: 0,
    openRetries: 0,
    acked: 0,
    failedWrites: 0,
    excusedLosses: 0,
    excusedLsns: 0,
    clobberedRecoveries: 0,
    crashPoints: new Set(),
    checkpoints: 0,
    verifies: 0,
    queuedWrites: 0,
    lazyOpens: 0,
    eagerOpens: 0,
    warmOpens: 0,
    warmUpsCut: 0,
    checkpointsCommitted: 0,
    nodesLoaded: 0,
    evictions: 0,
    readThrough: 0,
    walkPauses: 0,
    syncReads: 0,
    writesInWalks: 0,
    outOfMemory: 0,
    memoryBack: 0,
    closeCrashes: 0,
    closeCrashesInside: 0,
    closeWrites: 0,
    refusedPastMaxSafe: 0,
    compactionRefusals: 0,
    compactionRefusalsAnswered: 0,
    answeredRereads: 0,
    sweeps: 0,
    listsPastBatch: 0,
    scans: 0,
    scansSplit: 0,
    scansStopped: 0,
    boundChecks: 0,
    fanOutMax: 0,
    faults: {},
    image: newImageGuardStats(),
    slabBytes: 0,
    slabCacheSlabsMin: 0,
    memory: {
      probes: 0,
      probesPoisoned: 0,
      checks: 0,
      checksPoisoned: 0,
      checksBeside: 0,
      evictionsBeside: 0,
      writersWaiting: 0,
      relocations: 0,
      workJudged: 0,
      rounds: 0,
      handVisits: 0,
      fruitless: 0,
      handIdle: 0,
    },
  };
  /** Checks every write to the image files (see `image_guard.ts`). */
  readonly guard: ImageGuard;
  /** Engine faults already reported (a poisoned store fails every call with the same one). */
  readonly #engineFaults = new WeakSet<Error>();
  readonly #geometry: ImageGeometry;
  /** Each client's op in flight (settles either way), if any. */
  readonly #busy = new Map<number, Promise<void>>();
  /** A write failed with a storage error: the store must refuse writes until reopened. */
  poisoned = false;
  /** A call failed for lack of memory: the process restarts before the next write. */
  #restartSoon = false;
  /** Makes the trie's arena unable to grow, at the steps {@link RunOptions.memoryPressure} picks. */
  readonly memory = new MemoryPressure();
  readonly #memoryPressure: number;
  /** The trie's part of the budget at the last `bound-memory` check of a probe. */
  #partBefore: number | undefined;
  /** The store's memory budget (see {@link RunOptions.memoryBudget}). */
  readonly #memoryBudget: number | undefined;
  /** The slab cache's floor under it (see {@link RunOptions.slabCacheSlabsMin}); undefined: the engine's. */
  readonly #slabCacheSlabsMin: number | undefined;
  readonly #memoryRandom: ReturnType<typeof eventPrng>;
  /** Whether stores get a {@link WalkClock} (see {@link RunOptions.walkPauses}). */
  readonly #walkPauses: boolean;
  /** Draws how long each pause lasts. */
  readonly #walkRandom: ReturnType<typeof eventPrng>;
  /** The clocks given to stores since the last power loss. */
  #walkClocks: WalkClock[] = [];
  /** Where each LSN's record was last written, from the writes the disk saw. */
  readonly #places = new WalMap();
  /** What a fault's destroyed bytes excuse (losses, corruption reports, failed verifies). */
  readonly #excuses = new Excuses(this.#places);
  /** fsync failures seen when the current store was opened (acks after a new one are D7). */
  #syncFailuresAtOpen = 0;
  /** Faults injected when the current store was opened. */
  #faultsAtOpen = 0;
  /** Memory exhaustions when the current store was opened. */
  #exhaustionsAtOpen = 0;
  /**
   * The last store closed cleanly with automatic checkpoints and nothing
   * injected in its life: the next open must replay nothing (`bound-replay`).
   */
  #closedQuietly = false;
  #life = 0;
  /**
   * `readable`: per key, the compactions the store had started
   * (`WriteCounters.compactions`) when a get or getMany of it that
   * answered began, if no compaction's file was read then. This life's only.
   */
  readonly #answered = new Map<string, number>();
  /** A store whose counters were added already (a close the power cut short). */
  #counted: Store | undefined;

  readonly #seed: number;
  readonly #durability: Durability;
  readonly #checkpoint: CheckpointOptions;
  readonly #load: LoadMode | undefined;
  /**
   * A write the store queued (its key's path was loading from the image):
   * no other step runs until it settles, so the LSN it then took (if any)
   * is known to be its own.
   */
  #queuedWrite: Promise<void> | undefined;
  /** The open store whose memory the bounds sample (none while it closes or opens). */
  #sampled: Store | undefined;
  /** That store's budget work, arena and relocations at the last sample (`bound-work`). */
  #workSeen:
    | { work: WriteCounters["budgetWork"]; arena: number; relocations: number }
    | undefined;
  /** That store's relocations seen by the last sample. */
  #relocationsSeen = 0;
  /** Checkpoints the workload asked for that have not settled; of them, compactions. */
  #checkpointsPending = 0;
  #compactionsPending = 0;
  /** Whether a compaction (which relocates the trie for its layout) settled since the last sample. */
  #compactedSinceSample = false;
  /** What may make room for the budget, as the runner sees it (`bound-work`). */
  readonly #watch = new WorkWatch();
  /** Distinct keys the run wrote: a bound on the keys a compaction walks. */
  readonly #keysWritten = new Set<string>();
  /** Rounds a compaction running may still ask for, beyond what the runner sees (`bound-work`). */
  #compactionCredit = 0;

  constructor(options: RunOptions, geometry: ImageGeometry, compactionHeaderFaults: number) {
    this.#seed = options.seed;
    this.#geometry = geometry;
    this.stats.slabBytes = geometry.slabBytes;
    const report = (property: string, message: string) => {
      const step = this.storage.scheduler.context ?? -1;
      const where = step === finishContext
        ? "the final drain"
        : step === openContext
        ? "the first open"
        : `step ${step}`;
      this.oracle.violate(property, `${where}: ${message}`, [step]);
    };
    this.guard = new ImageGuard({ report, seed: options.seed, compactionHeaderFaults });
    this.#durability = options.durability ?? "strict";
    this.#checkpoint = options.checkpoint ?? drawCheckpointOptions(options.seed);
    this.#load = options.load;
    this.#memoryPressure = options.memoryPressure ?? 0;
    this.#memoryBudget = options.memoryBudget;
    this.#slabCacheSlabsMin = drawSlabCacheSlabsMin(options);
    this.stats.slabCacheSlabsMin = this.#slabCacheSlabsMin ?? 0;
    assert(this.#memoryPressure >= 0 && this.#memoryPressure <= 1, "a chance per step");
    this.#memoryRandom = eventPrng(options.seed, memoryStream, 0);
    this.#walkPauses = options.walkPauses ??
      eventPrng(options.seed, walkPauseStream, 0).chance(walkPauseChance);
    this.#walkRandom = eventPrng(options.seed, walkPauseStream, 1);
    const syncReads = options.syncReads ??
      eventPrng(options.seed, syncReadStream, 0).chance(syncReadChance);
    this.stats.syncReads = syncReads ? 1 : 0;
    this.storage = new SimBlockStorage({
      seed: options.seed,
      profile: options.profile,
      sectorBytes: options.sectorBytes ?? 512,
      syncReads,
      scheduledCloses: options.scheduledCloses ?? false,
    });
    this.storage.observeWrites(this.#places.observe);
    this.storage.scheduler.onStep = (label) => this.#watch.completed(label);
  }

  /** Completes I/O until `promise` settles; a wait with nothing left to complete is a hang. */
  async until<T>(promise: Promise<T>, step: number, what: string): Promise<T> {
    let settled = false;
    promise.then(() => settled = true, () => settled = true);
    const scheduler = this.storage.scheduler;
    for (let index = 0; index < waitStepsMax; index++) {
      await scheduler.settle();
      this.#sampleMemory();
      if (settled) return await promise;
      if (scheduler.pending === 0) break;
      scheduler.step();
    }
    this.oracle.violate(
      "hang",
      `step ${step}: ${what} never finished (${scheduler.pending} I/O pending)`,
      [step],
    );
    throw new StopRun("hang", `hang in ${what}`);
  }

  async drive(count: number): Promise<void> {
    const scheduler = this.storage.scheduler;
    for (let index = 0; index < count; index++) {
      await scheduler.settle();
      this.#sampleMemory();
      if (scheduler.pending === 0) return;
      scheduler.step();
    }
    await scheduler.settle();
    this.#sampleMemory();
  }

  async execute(step: Step): Promise<void> {
    this.stats.steps++;
    if (this.#memoryBudget !== undefined && this.stats.memory.probes < memoryProbesMax) {
      const random = eventPrng(this.#seed, memoryProbeStream, step.id);
      if (random.chance(memoryProbeChance)) await this.#memoryProbe(step.id, random);
    }
    if (
      this.#memoryPressure > 0 && !this.memory.exhausted &&
      this.#memoryRandom.chance(this.#memoryPressure)
    ) this.memory.exhaust();
    this.storage.scheduler.context = step.id;
    if (this.#queuedWrite !== undefined) {
      await this.until(this.#queuedWrite, step.id, "a write queued for a load");
    }
    const poisonedWrite = step.kind === "op" ? isWrite(step.op) : step.kind === "checkpoint";
    if ((this.poisoned || this.#restartSoon) && poisonedWrite) await this.restart(step.id);
    if (step.kind === "op") await this.#submitFor(step.client, step.id, step.op);
    else if (step.kind === "crash") await this.crash(step.id);
    else if (step.kind === "restart") await this.restart(step.id);
    else if (step.kind === "closeCrash") await this.#closeCrash(step.id, step.ios);
    else if (step.kind === "checkpoint") void this.#checkpointStep(step.id, step.compact);
    else if (step.kind === "verify") await this.#verify(step.id);
    else this.#sync(step.id);
    await this.drive(step.drive);
  }

  /**
   * A checkpoint, not waited for: writers go on while it runs (D8). The
   * promise settles (never rejects) once it ended and was judged.
   */
  #checkpointStep(step: number, compact: boolean): Promise<void> {
    const life = this.#life;
    const faults = this.storage.faults.length;
    // A segment whose creation was not yet durable at the call is not yet in the log the
    // reclaim sees (it joins once its directory entry is synced): the one before it may stay.
    const namesBefore = this.storage.durableFileNames();
    this.stats.checkpoints++;
    this.#checkpointsPending++;
    if (compact) this.#compactionsPending++;
    const checkpoint = this.#watch.call(this.store!.checkpoint({ compact }), { applies: true });
    // A compaction relocates the trie for its layout (not for the budget): see `#sampleMemory`.
    checkpoint.then((result) => result.compacted, () => true).then((compacted) => {
      this.#checkpointsPending--;
      if (compact) this.#compactionsPending--;
      if (compacted) this.#compactedSinceSample = true;
    });
    return checkpoint.then((result) => {
      // Judged at once: no I/O completes between the checkpoint's end and here.
      if (life !== this.#life || !this.#quietSince(faults)) return;
      this.#checkBound(
        step,
        "bound-wal",
        walBoundProblem(this.storage, this.#retain, walBoundRules.checkpoint, namesBefore),
      );
      if (result.compacted) this.#checkBound(step, "bound-image", imageBoundProblem(this.storage));
    }, (error) => {
      if (life !== this.#life) return;
      this.#checkpointFailed(step, error);
    });
  }

  /** A checkpoint failed: a storage failure poisons the store; an engine fault is a violation. */
  #checkpointFailed(step: number, error: unknown): void {
    if (error instanceof StorageIoError) {
      this.#storageErrorSeen(step, "a checkpoint", error);
      this.#poisonedBy(step, error);
    } else if (this.#outOfMemory(error)) return;
    else if (error instanceof CorruptionError) this.#corruptionSeen(step, error);
    else {this.oracle.violate("error", `step ${step}: checkpoint failed: ${describe(error)}`, [
        step,
      ]);}
  }

  /**
   * The budget's bounds that hold at every moment (see `memory_bound.ts`),
   * checked between I/O completions: `bound-cache`, and `bound-relocate`
   * for each relocation the budget made since the last sample (one a
   * compaction made lays the trie out afresh, whatever it gives back).
   */
  #sampleMemory(): void {
    const store = this.#sampled;
    const budget = this.#memoryBudget;
    if (store === undefined || budget === undefined || store !== this.store) return;
    const counters = writeCounters(store);
    const floor = this.#slabCacheSlabsMin ?? cacheSlabsFloor;
    const cache = cacheBoundProblem(
      counters.memory.cacheBytes,
      budget,
      this.stats.slabBytes,
      floor,
    );
    if (cache !== undefined) this.oracle.violate("bound-cache", `${this.#where()}: ${cache}`, []);
    this.#judgeWork(counters, budget);
    const { relocations } = counters;
    const compaction = this.#compactionsPending > 0 || this.#compactedSinceSample;
    this.#compactedSinceSample = false;
    if (relocations.count === this.#relocationsSeen) return;
    const one = relocations.count === this.#relocationsSeen + 1;
    this.#relocationsSeen = relocations.count;
    if (!one || compaction) return;
    this.stats.memory.relocations++;
    const problem = relocationProblem(relocations);
    if (problem !== undefined) {
      this.oracle.violate("bound-relocate", `${this.#where()}: ${problem}`, []);
    }
  }

  /**
   * `bound-work` for the interval since the last sample (see
   * `memory_bound.ts`): the rounds answer events that can make room, and
   * their walks stay within a few passes over the largest arena the
   * interval can have held (its live and freed bytes now, at the last
   * sample, and before a relocation made meanwhile: those only grow until
   * a relocation replaces the arena).
   */
  #judgeWork(counters: WriteCounters, budget: number): void {
    const seen = this.#workSeen;
    const arena = counters.memory.liveBytes + counters.memory.freeBytes;
    this.#workSeen = { work: counters.budgetWork, arena, relocations: counters.relocations.count };
    const compacting = this.storage.fileNames().includes(compactingFileName);
    const events = this.#watch.take(counters.nodesLoaded, compacting);
    if (!events.compacting) this.#compactionCredit = 0;
    this.#compactionCredit += events.compactionsBegun * compactionAsksMax(this.#keysWritten.size);
    // Two relocations: the arena between them is unknown (the rounds are still judged).
    const since = seen === undefined ? undefined : workSince(seen, counters, arena);
    if (since === undefined) return;
    const { work, peak } = since;
    this.stats.memory.workJudged++;
    this.stats.memory.rounds += work.rounds;
    this.stats.memory.handVisits += work.visits;
    this.stats.memory.fruitless += work.fruitless;
    this.stats.memory.handIdle += work.handIdle;
    const credit = { left: this.#compactionCredit };
    const heldBytes = () => heldBytesMax(events.pinnedKeys, this.#keysWritten);
    const problem = budgetWorkProblem(work, {
      events,
      credit,
      peakArenaBytes: peak,
      budget,
      heldBytes,
    });
    this.#compactionCredit = credit.left;
    if (problem !== undefined) {
      this.oracle.violate("bound-work", `${this.#where()}: ${problem}`, []);
    }
  }

  /** The step being driven, for a violation found between I/O completions. */
  #where(): string {
    const context = this.storage.scheduler.context;
    return context === undefined || context > stepsMax ? "between steps" : `step ${context}`;
  }

  /**
   * A memory probe (`bound-memory`, under a memory budget, before one step
   * in {@link memoryProbeChance}): once every client's op settled and no
   * checkpoint runs, a checkpoint makes every node clean, and the round
   * after it must leave the live nodes within the trie's part or what must
   * stay (`memoryFloor`: the root and a stub for each of its children).
   * Then a storm of gets of the model's keys, a few in flight at a time,
   * each new one started as one ends, so that reads overlap for the whole
   * storm: after each I/O completion the round after a load must have left
   * the live nodes within the trie's part or the footprint of the gets
   * that were in flight since the last load (those a round may have found
   * pinned). The gets are judged as any read (D11). Then, on half the
   * probes, a few writes and a checkpoint (a compaction on half of those),
   * and a second storm while it runs: evictions go on beside its snapshot,
   * and the same bound holds, what the snapshot holds counted among what
   * must stay (`memoryFloor`).
   */
  async #memoryProbe(step: number, random: Prng): Promise<void> {
    await this.#quieten(step);
    const store = this.#healthyStore();
    if (store === undefined) return;
    this.stats.memory.probes++;
    // A poisoned store checkpoints no more; its reads keep to the budget all the same.
    if (this.poisoned) this.stats.memory.probesPoisoned++;
    else if (!(await this.#probeCheckpoint(step, store))) return;
    const keys = this.oracle.latestKeys().filter((key) => key.length <= overlayIdBytesMax);
    if (keys.length === 0) return;
    const window = await this.#storm(step, store, keys, random);
    if (window !== undefined && !this.poisoned && random.chance(probeIdleWriteChance)) {
      if (!await this.#writeNothing(step, store, keys, random)) return;
    }
    if (window !== undefined && !this.poisoned && random.chance(probeBesideChance)) {
      await this.#stormBeside(step, store, keys, random, window);
    }
  }

  /**
   * A memory probe's checkpoint, then `bound-memory`; false if the probe
   * ends there (a violation, or the store is gone). A checkpoint that
   * failed poisons the store, and the probe goes on with it, poisoned (its
   * storm judges it).
   */
  async #probeCheckpoint(step: number, store: Store): Promise<boolean> {
    let committed = true;
    await this.until(
      this.#watch.call(store.checkpoint(), { applies: true }),
      step,
      "a memory probe's checkpoint",
    )
      .catch((error) => {
        if (error instanceof StopRun) throw error;
        this.#checkpointFailed(step, error);
        committed = false;
      });
    if (this.#healthyStore() !== store) return false;
    this.#partBefore = undefined;
    if (committed) return this.#judgeMemory(step, store, [], " after a checkpoint");
    this.stats.memory.probesPoisoned++;
    return true;
  }

  /**
   * A part of a memory probe: one atomic of deletes of absent keys beside
   * `keys` (their paths load, and nothing changes), waited for; once it
   * settled, nothing pins a path, so the round its end asks for must leave
   * the live nodes within the trie's part (`bound-memory`). Strict mode
   * applies its group only later: a durable group's keys pinned their paths
   * with no round after them until the next operation. False if a
   * violation was found.
   */
  async #writeNothing(
    step: number,
    store: Store,
    keys: readonly string[],
    random: Prng,
  ): Promise<boolean> {
    const present = new Set(keys);
    const ops: SimMutation[] = [];
    for (let index = 1 + random.below(probeAbsentKeysMax); index > 0; index--) {
      const key = random.pick(keys) + "~";
      if (!present.has(key) && key.length <= overlayIdBytesMax) ops.push({ type: "delete", key });
    }
    if (ops.length === 0 || this.#healthyStore() !== store) return true;
    const op: SimOp = { type: "atomic", checks: [], ops };
    await this.until(this.submit(step, op).catch(() => {}), step, "a memory probe's write");
    if (this.#queuedWrite !== undefined) {
      await this.until(this.#queuedWrite, step, "a memory probe's queued write");
    }
    await this.storage.scheduler.settle();
    if (this.#healthyStore() !== store) return true;
    return this.#judgeMemory(step, store, [], " once a write that changed nothing settled");
  }

  /**
   * The second part of a memory probe: writes to a few of `keys` (so that
   * an incremental checkpoint has a walk), a checkpoint not waited for,
   * and a storm of gets while it runs, judged by `bound-memory` as any.
   * No round ran since the first storm's last load, nor, unless they
   * loaded, since these writes: until a load, its last `window` and the
   * keys written may still be what the last round found pinned.
   */
  async #stormBeside(
    step: number,
    store: Store,
    keys: readonly string[],
    random: Prng,
    window: Set<string>,
  ): Promise<void> {
    if (this.#healthyStore() !== store) return;
    // One at a time, as one client's: each is judged as any write.
    for (let index = random.below(probeWritesMax + 1); index > 0; index--) {
      const op: SimOp = { type: "add", key: random.pick(keys), delta: distinctDelta(step) + index };
      window.add(op.key);
      await this.until(this.submit(step, op).catch(() => {}), step, "a memory probe's write");
      if (this.#queuedWrite !== undefined) {
        await this.until(this.#queuedWrite, step, "a memory probe's queued write");
      }
      if (this.#healthyStore() !== store) return;
    }
    let ended = false;
    const checkpoint = this.#checkpointStep(step, random.chance(0.5)).finally(() => ended = true);
    let since: Set<string> | undefined = window;
    // Beside a compaction, storms go on until it ends: a failure's handling meets reads too.
    for (let storms = 0; since !== undefined && storms < besideStormsMax; storms++) {
      since = await this.#storm(step, store, keys, random, since);
      if (ended || !writeCounters(store).compactions.fileRead) break;
    }
    await this.until(checkpoint, step, "a memory probe's checkpoint");
    if (this.poisoned && this.#healthyStore() === store) await this.#rereadAnswered(step, store);
  }

  /**
   * After a memory probe's checkpoint failed (`readable`): gets again of up
   * to {@link rereadKeysMax} keys that a get begun while no compaction's
   * file was read answered, with no compaction started since. Each must
   * answer again (or fail as the disk may make it fail), never be refused
   * for a failed compaction's file.
   */
  async #rereadAnswered(step: number, store: Store): Promise<void> {
    const started = writeCounters(store).compactions.started;
    const keys = [...this.#answered].filter(([, mark]) => mark === started).map(([key]) => key);
    for (const key of keys.slice(0, rereadKeysMax)) {
      this.stats.answeredRereads++;
      await this.until(this.read(step, { type: "get", key }, store), step, "a reread");
      if (this.#healthyStore() !== store) return;
    }
  }

  /**
   * Waits for every client's op and a queued write to settle, and for the
   * store's checkpoints (its own and the workload's) to end.
   */
  async #quieten(step: number): Promise<void> {
    for (const busy of [...this.#busy.values()]) {
      await this.until(busy, step, "an op before a memory probe");
    }
    if (this.#queuedWrite !== undefined) {
      await this.until(this.#queuedWrite, step, "a write queued before a memory probe");
    }
    const scheduler = this.storage.scheduler;
    for (let index = 0; index < waitStepsMax && this.#checkpointing(); index++) {
      if (scheduler.pending === 0) break;
      scheduler.step();
      await scheduler.settle();
      this.#sampleMemory();
    }
  }

  /**
   * The store, if a probe may judge it: open, with memory to spare (a round
   * that cannot make a stub stops; a failed apply leaves a trie no round
   * takes from), and (unless `beside`) no checkpoint queued or running. A
   * poisoned one may be judged: evictions go on, of what the committed
   * image holds.
   */
  #healthyStore(beside = false): Store | undefined {
    const store = this.store;
    const healthy = store !== undefined && this.#sampled === store &&
      !this.#restartSoon && !this.memory.exhausted;
    return healthy && (beside || !this.#checkpointing()) ? store : undefined;
  }

  /** Whether the store has a checkpoint queued or running (its own or the workload's). */
  #checkpointing(): boolean {
    const store = this.#sampled;
    return store !== undefined && (this.#checkpointsPending > 0 ||
      writeCounters(store).checkpointing);
  }

  /**
   * The storm of a memory probe (see {@link Run.#memoryProbe}): `bound-memory`
   * after each I/O completion until every get settled. With `since` (the
   * keys a round may have found pinned before it began), it runs beside a
   * checkpoint. Returns the keys a round may have found pinned at its end,
   * or undefined if it stopped early.
   */
  async #storm(
    step: number,
    store: Store,
    keys: readonly string[],
    random: Prng,
    since?: Set<string>,
  ): Promise<Set<string> | undefined> {
    const beside = since !== undefined;
    const total = probeGetsMin + random.below(probeGetsSpread + 1);
    const width = probeWidthMin + random.below(probeWidthSpread + 1);
    const inFlight = new Map<number, string>();
    let started = 0;
    let loaded = writeCounters(store).nodesLoaded;
    let window = since ?? new Set<string>();
    // A poisoned store ran no round since its failure's (a group applied since, a pin let go
    // since, left what it kept): judged once a load asked for one.
    let judged = !this.poisoned;
    let fileRead = writeCounters(store).compactions.fileRead;
    const scheduler = this.storage.scheduler;
    for (let turn = 0; turn < waitStepsMax; turn++) {
      for (; started < total && inFlight.size < width; started++) {
        const id = started;
        const key = random.pick(keys);
        inFlight.set(id, key);
        const settled = () => void inFlight.delete(id);
        this.read(step, { type: "get", key }, store).then(settled, settled);
      }
      // A round in this turn may find any of these pinned (a get between its load and its read).
      const during = [...inFlight.values()];
      await scheduler.settle();
      if (this.#healthyStore(beside) !== store) return;
      const now = writeCounters(store).nodesLoaded;
      if (now !== loaded) window = new Set(during); // every round follows a load
      else for (const key of during) window.add(key);
      if (now !== loaded) judged = true;
      loaded = now;
      const what = beside ? " in a storm of gets beside a checkpoint" : " in a storm of gets";
      if (judged && !this.#judgeMemory(step, store, [...window], what)) return;
      // `readable`: the compaction beside stopped reading its file (it failed, or committed).
      const swept = fileRead && !writeCounters(store).compactions.fileRead;
      if (swept) this.#sweep(step, store, keys, inFlight);
      fileRead = writeCounters(store).compactions.fileRead;
      if (swept) continue; // the next turn's settle runs the sweep's gets
      if (started === total && inFlight.size === 0) {
        // Every get let its path go, and that asks for a round: none may stay past the part.
        await scheduler.settle();
        if (this.#healthyStore(beside) !== store) return;
        if (!judged) return window;
        return this.#judgeMemory(step, store, [], what + " once every get settled")
          ? window
          : undefined;
      }
      if (scheduler.pending > 0) scheduler.step();
      else if (inFlight.size > 0) break; // gets waiting with no I/O left
    }
    this.oracle.violate("hang", `step ${step}: a memory probe's gets never finished`, [step]);
    throw new StopRun("hang", "hang in a memory probe");
  }

  /**
   * `readable`: gets of the first {@link sweepKeysMax} of `keys` at once,
   * added to a storm's `inFlight` (under ids past its own), as a compaction
   * beside it stopped reading its file: what they answer is recorded, and
   * read again once the compaction ended if it failed (`#rereadAnswered`).
   */
  #sweep(step: number, store: Store, keys: readonly string[], inFlight: Map<number, string>): void {
    this.stats.sweeps++;
    for (const [index, key] of keys.slice(0, sweepKeysMax).entries()) {
      const id = Number.MAX_SAFE_INTEGER - index; // past any storm's own ids
      inFlight.set(id, key);
      const settled = () => void inFlight.delete(id);
      this.read(step, { type: "get", key }, store).then(settled, settled);
    }
  }

  /**
   * `bound-memory` now, with `keys` the keys a round may have found
   * pinned; false (and a violation) if the live nodes are past it.
   */
  #judgeMemory(step: number, store: Store, keys: readonly string[], what: string): boolean {
    const budget = this.#memoryBudget!;
    const counters = writeCounters(store);
    // A list or a scan still holds what it loaded (a client's, mid-way across steps), or the round
    // after a load has not run yet (it runs in a microtask, a few after the install): not judged.
    if (counters.subtreesPinned > 0 || counters.evictionRoundQueued) return true;
    // A poisoned store's log may keep a failed group's writes unapplied, their paths held.
    if (this.poisoned && counters.writesPending) return true;
    const { liveBytes, cacheBytes } = counters.memory;
    const part = Math.max(triePart(budget, cacheBytes), this.#partBefore ?? 0);
    this.#partBefore = triePart(budget, cacheBytes);
    this.stats.memory.checks++;
    if (counters.checkpointing) this.stats.memory.checksBeside++;
    if (this.poisoned) this.stats.memory.checksPoisoned++;
    if (liveBytes <= part) return true;
    const floor = memoryFloor(store, keys.map(bytesOfKey));
    const pinned = keys.length === 0 ? "" : ` with ${keys.length} gets in flight`;
    const problem = memoryBoundProblem(liveBytes, part, floor, what + pinned);
    if (problem === undefined) return true;
    this.oracle.violate("bound-memory", `step ${step}: ${problem}`, [step]);
    return false;
  }

  /** Whether no fault was injected (nor memory refused) since the fault log held `faults` records. */
  #quietSince(faults: number): boolean {
    return this.storage.faults.length === faults &&
      this.memory.exhaustions === this.#exhaustionsAtOpen;
  }

  /** The `retainSegments` the run's stores use. */
  get #retain(): number {
    return this.#checkpoint.retainSegments ?? 0;
  }

  /** Counts a bound check and reports its problem, if any, as a violation of `property`. */
  #checkBound(step: number, property: string, problem: string | undefined): void {
    this.stats.boundChecks++;
    if (problem !== undefined) this.oracle.violate(property, `step ${step}: ${problem}`, [step]);
  }

  /** `store.verify()`: the image on disk must pass, unless a misdirected write explains it. */
  async #verify(step: number): Promise<void> {
    const store = this.store!;
    let report;
    try {
      report = await this.until(
        this.#watch.call(store.verify(), { applies: true }),
        step,
        "verify",
      );
    } catch (error) {
      if (error instanceof StopRun) throw error;
      if (error instanceof StorageIoError || this.#outOfMemory(error)) return; // nothing to judge
      if (error instanceof CorruptionError) return this.#corruptionSeen(step, error);
      this.oracle.violate("error", `step ${step}: verify failed: ${describe(error)}`, [step]);
      return;
    }
    this.stats.verifies++;
    // A file moved aside is a problem line of its own until someone deletes it: the
    // open that moved it was judged for it (see #quarantinesSeen), so it is not judged again.
    const aside = new Set(report.quarantined.map(quarantineProblem));
    const problems = report.problems.filter((problem) => !aside.has(problem));
    if (problems.length > 0 && !this.#excuses.verify(problems, this.storage)) {
      this.oracle.violate("verify", `step ${step}: ${report.problems.join("; ")}`, [step]);
    }
  }

  /**
   * Failed fsyncs of WAL segments, and of the directory while a segment's
   * creation was pending, so far. Only these bear on acks (D7): a failed
   * fsync of the image (or of the directory after segment removals) fails
   * a checkpoint, and poisons the store, but a write whose WAL bytes were
   * made durable is rightly acknowledged.
   */
  #walSyncFailures(): number {
    return this.storage.faults.filter((fault) =>
      fault.kind === "fsyncFail" &&
      (fault.file.endsWith(".wal") || (fault.file === "" && /create wal-/.test(fault.detail)))
    ).length;
  }

  /** Adds what a store about to go did to the run's counters. */
  #countStore(store: Store): void {
    const stats = store.stats();
    this.stats.checkpointsCommitted += stats.epochs.checkpoints;
    this.stats.nodesLoaded += stats.image.nodesLoaded;
    this.stats.evictions += stats.memory.evictions;
    this.stats.readThrough += stats.memory.readThrough;
    this.stats.memory.evictionsBeside += writeCounters(store).evictionsBeside;
    if (stats.warmUp.state === "running") this.stats.warmUpsCut++;
  }

  /**
   * Files the open moved aside: bytes a crash alone never leaves (a torn
   * creation is removed), so destroyed bytes in each must explain it (D6).
   */
  #quarantinesSeen(step: number): void {
    for (const { file, reason } of this.store!.stats().recovery.quarantined) {
      if (this.#excuses.destroyedIn(file)) continue;
      this.oracle.violate("D6", `step ${step}: open moved "${file}" aside: ${reason}`, [step]);
    }
  }

  /** A CorruptionError outside open: it must be explained by a fault (D6), or it is a violation. */
  #corruptionSeen(step: number, error: CorruptionError): void {
    if (!this.#corruptionExplained(error)) {
      this.oracle.violate("D6", `step ${step}: corruption no fault explains: ${error.message}`, [
        step,
      ]);
    }
  }

  /**
   * A client has at most one op in flight: waits (completing I/O) until the
   * client's previous op settled, then submits this one.
   */
  async #submitFor(client: number, step: number, op: SimOp): Promise<void> {
    const busy = this.#busy.get(client);
    if (busy !== undefined) await this.until(busy, step, `client ${client}'s previous op`);
    const settled = this.submit(step, op).then(() => {}, () => {});
    this.#busy.set(client, settled);
    settled.then(() => {
      if (this.#busy.get(client) === settled) this.#busy.delete(client);
    });
  }

  /** Submits one client op without waiting for it; its outcome is checked when it settles. */
  submit(step: number, op: SimOp): Promise<unknown> {
    const store = this.store!;
    if (!isWrite(op)) return this.read(step, op, store);
    const verdict = this.oracle.verdict(op);
    // Not stats(): it applies a durable group still waiting, which would hide that window.
    const before = writeCounters(store).lastLsn;
    const queuedBefore = writeCounters(store).queuedWrites;
    for (const key of writtenKeys(op)) this.#keysWritten.add(key);
    const promise = this.#watch.call(callStore(store, op, step), {
      keys: pinnedKeysOf(op),
      write: true,
    });
    const after = writeCounters(store).lastLsn;
    if (after === before && writeCounters(store).queuedWrites > queuedBefore) {
      this.#queuedWrite = this.#whenQueuedSettles(step, op, promise, before, verdict);
      this.#watch.queued(promise);
      return promise;
    }
    this.#judgeSubmitted(step, op, promise, { before, after, verdict });
    if (after > before) this.#watchWriter(step, store, promise);
    return promise;
  }

  /**
   * `bound-writers`: a write whose call left the trie's live nodes past
   * its part of the budget and its arena past it by a fifth of the budget
   * (`writerMustWait`) resolves only once the automatic
   * checkpoint it waits for ended (writers faster than a checkpoint would
   * otherwise take the trie past any bound). Not judged without automatic
   * checkpoints, nor while a checkpoint the workload asked for is pending
   * (the engine then starts none of its own: that one makes the room).
   */
  #watchWriter(step: number, store: Store, promise: Promise<unknown>): void {
    const budget = this.#memoryBudget;
    if (budget === undefined || this.#checkpoint.auto === false || this.#checkpointsPending > 0) {
      return;
    }
    const counters = writeCounters(store);
    const { liveBytes, freeBytes } = counters.memory;
    if (!writerMustWait(counters.memory, budget)) return;
    this.stats.memory.writersWaiting++;
    const ended = counters.automaticCheckpointsEnded;
    const life = this.#life;
    promise.then(() => {
      if (life !== this.#life || writeCounters(store).automaticCheckpointsEnded > ended) return;
      this.oracle.violate(
        "bound-writers",
        `step ${step}: a write that left the trie's live nodes at ${liveBytes} bytes and ` +
          `${freeBytes} freed, past its part of the budget and the writers' bound ` +
          `(a fifth of the budget more), resolved before the automatic checkpoint it waits ` +
          `for ended`,
        [step],
      );
    }, () => {});
  }

  /** A queued write settled with no other step in between: its LSN, if any, is its own. */
  async #whenQueuedSettles(
    step: number,
    op: SimOp,
    promise: Promise<unknown>,
    before: number,
    verdict: Verdict,
  ): Promise<void> {
    const life = this.#life;
    this.stats.queuedWrites++;
    await promise.then(() => {}, () => {});
    this.#queuedWrite = undefined;
    if (life !== this.#life) return;
    const after = writeCounters(this.store!).lastLsn;
    // Whether the store was poisoned when it took the write is not seen
    // here (the write waited): #addNow's own check covers that.
    this.#judgeSubmitted(step, op, promise, { before, after, verdict, queued: true });
  }

  #judgeSubmitted(
    step: number,
    op: SimOp,
    promise: Promise<unknown>,
    { before, after, verdict, queued = false }: {
      before: number;
      after: number;
      verdict: Verdict;
      queued?: boolean;
    },
  ): void {
    if (after === before + 1) {
      if (this.poisoned && !queued) {
        this.oracle.violate("D7", `step ${step} was accepted after a write had failed`, [step]);
      }
      this.oracle.accepted(step, op, after);
      this.#watchAccepted(step, promise, after);
    } else if (after === before) {
      this.#watchRefused(step, op, promise, verdict);
    } else {
      this.oracle.violate(
        "D4",
        `step ${step} took lsns ${before + 1}..${after}: one write must be one record`,
        [step],
      );
      throw new StopRun("violation", "a write took several lsns");
    }
  }

  /** A sync: once it resolves, every write accepted before it must be durable (relaxed mode's D1). */
  #sync(step: number): void {
    const life = this.#life;
    const through = this.oracle.nextLsn - 1;
    this.#watch.call(this.store!.sync()).then(() => {
      if (life !== this.#life) return;
      if (this.#walSyncFailures() > this.#syncFailuresAtOpen) {
        this.oracle.violate("D7", `step ${step}: sync resolved after an fsync had failed`, [step]);
      }
      this.oracle.syncedThrough(through);
    }, (error) => {
      if (life !== this.#life) return;
      if (error instanceof StorageIoError) this.#poisonedBy(step, error);
      else {this.oracle.violate("error", `step ${step}: sync failed with ${describe(error)}`, [
          step,
        ]);}
    });
  }

  #watchAccepted(step: number, promise: Promise<unknown>, lsn: number): void {
    const life = this.#life;
    promise.then((value) => {
      if (life !== this.#life) return;
      const strict = this.#durability === "strict";
      if (strict && this.#walSyncFailures() > this.#syncFailuresAtOpen) {
        this.oracle.violate("D7", `step ${step} was acknowledged after an fsync had failed`, [
          step,
        ]);
      }
      this.stats.acked++;
      if (this.#walkPaused) this.stats.writesInWalks++;
      this.oracle.acked(lsn, typeof value === "object" ? undefined : value, strict);
    }, (error) => {
      if (life !== this.#life) return;
      if (error instanceof StorageIoError) {
        this.#storageErrorSeen(step, "an accepted write", error);
        this.#poisonedBy(step, error);
        this.stats.failedWrites++;
        this.oracle.failed(lsn);
      } else if (this.#outOfMemory(error)) {
        // Relaxed: the commit's apply failed after its record was logged, so the
        // write stays pending (a clean close must keep it). Strict: a group is
        // acknowledged once durable, whatever its apply does.
        if (this.#durability === "strict") {
          this.oracle.violate("error", `accepted strict step ${step} failed: ${describe(error)}`, [
            step,
          ]);
        }
      } else {
        this.oracle.violate("error", `accepted step ${step} failed with ${describe(error)}`, [
          step,
        ]);
      }
    });
  }

  #watchRefused(step: number, op: SimOp, promise: Promise<unknown>, verdict: Verdict): void {
    const life = this.#life;
    promise.then((value) => {
      if (life !== this.#life) return;
      const ok = (value as { ok?: boolean } | undefined)?.ok;
      if (!(op.type === "atomic" && verdict === "check" && ok === false)) {
        this.oracle.violate(
          "validation",
          `step ${step} resolved without a write but the model says ${verdict}`,
          [step],
        );
      }
    }, (error) => {
      if (life !== this.#life) return;
      if (error instanceof StorageIoError) this.#poisonedBy(step, error);
      else if (this.#outOfMemory(error)) return;
      else if (error instanceof RangeError && verdict === "range") {
        if (op.type === "add" && op.delta > 0) this.stats.refusedPastMaxSafe++;
      } else {
        this.oracle.violate(
          "validation",
          `step ${step} was refused with ${describe(error)}; the model says ${verdict}`,
          [step],
        );
      }
    });
  }

  /** A read: what it sees must be a state no later recovery takes back (D11). */
  read(step: number, op: SimOp, store: Store): Promise<unknown> {
    const low = this.oracle.ackedLsn;
    const life = this.#life;
    const durableRead = this.#durability === "strict";
    const judge = (check: () => void): Promise<void> | void => {
      // A write queued for a load may show in the store (relaxed mode applies
      // it once appended) before the oracle learns its LSN: judge after it.
      const queued = this.#queuedWrite;
      if (queued !== undefined) return queued.then(() => judge(check));
      if (life === this.#life) check();
    };
    // `readable`: the compactions started, if no compaction's file is read as it begins.
    const pointKeys = op.type === "get" ? [op.key] : op.type === "getMany" ? op.keys : [];
    const counters = writeCounters(store).compactions;
    const mark = counters.fileRead ? undefined : counters.started;
    const answered = () => {
      if (life !== this.#life || mark === undefined) return;
      for (const key of pointKeys) this.#answered.set(key, mark);
    };
    // A read may load nodes from the image: a failed read is no verdict,
    // a corruption report must be explained by a fault.
    const failed = (error: unknown) => {
      if (life === this.#life && refusedForFailedCompaction(error)) {
        this.#compactionRefusal(step, pointKeys, store);
      }
      // A failed read is no verdict, nor one the store was closed under.
      if (life !== this.#life || error instanceof StorageIoError) return;
      if (this.#outOfMemory(error)) return;
      if (error instanceof StoreClosedError) return;
      if (error instanceof CorruptionError) return this.#corruptionSeen(step, error);
      this.oracle.violate("error", `step ${step}: a read failed with ${describe(error)}`, [step]);
    };
    if (op.type === "get") {
      const get = store.get(keyArgument(op.key, step));
      return this.#watch.call(get, { keys: [op.key], applies: true }).then(
        (value) => {
          answered();
          return judge(() =>
            this.oracle.checkRead(
              step,
              "get",
              new Map([[op.key, value]]),
              low,
              undefined,
              durableRead,
            )
          );
        },
        failed,
      );
    } else if (op.type === "getMany") {
      const keys = op.keys.map((key, index) => keyArgument(key, step + index));
      const shape = { keys: op.keys, applies: true };
      return this.#watch.call(store.getMany(keys), shape).then(
        (values) => {
          answered();
          return judge(() => {
            const view = new Map(op.keys.map((key, index) => [key, values[index]]));
            this.oracle.checkRead(step, "getMany", view, low, undefined, durableRead);
          });
        },
        failed,
      );
    }
    if (op.type === "scan") return this.#scan(step, op, store, low, judge, failed);
    assert(op.type === "list", "reads are get, getMany, list and scan");
    return this.#list(step, op, store, low, judge, failed);
  }

  /** A list of {@link Run.read}: its entries judged as one read (D11). */
  #list(
    step: number,
    op: Extract<SimOp, { type: "list" }>,
    store: Store,
    low: number,
    judge: (check: () => void) => Promise<void> | void,
    failed: (error: unknown) => void,
  ): Promise<unknown> {
    const durableRead = this.#durability === "strict";
    const limit = op.limit ?? Number.POSITIVE_INFINITY;
    const list = { range: selectorKeyRange(op.selector), reverse: op.reverse === true, limit };
    return this.#watch.call(
      collect(store, storeSelector(op.selector, step), {
        limit: op.limit,
        reverse: op.reverse,
      }),
      { walk: true, applies: true },
    ).then(
      (entries) =>
        judge(() => {
          if (entries.length > listBatchSize) this.stats.listsPastBatch++;
          this.oracle.checkList(step, "list", entries, list, low, durableRead);
        }),
      failed,
    );
  }

  /**
   * `readable`: a get or getMany of `keys` was refused because its path
   * reached a stub whose record is in the file of a compaction that failed.
   * Such a stub is made only while that compaction runs (an eviction beside
   * its walk); once it failed, the nodes naming its file, and those above
   * them, stay loaded (docs/ARCHITECTURE.md, The memory budget). So if a
   * get or getMany that began while no compaction's file was read answered
   * every one of `keys`, and no compaction started since, the refusal is a
   * stub made after the failure: a violation (e.g. evictions the failure
   * let go on before it kept those nodes). Lists and scans are not judged.
   */
  #compactionRefusal(step: number, keys: readonly string[], store: Store): void {
    this.stats.compactionRefusals++;
    if (keys.length === 0) return;
    const started = writeCounters(store).compactions.started;
    if (!keys.every((key) => this.#answered.get(key) === started)) return;
    this.stats.compactionRefusalsAnswered++;
    const what = keys.length === 1 ? `a get of ${JSON.stringify(keys[0])}` : "a getMany";
    this.oracle.violate(
      "readable",
      `step ${step}: ${what} was refused for a failed compaction's file, though a read ` +
        `begun after that compaction's file was no longer read had answered it`,
      [step],
    );
  }

  /**
   * A scan, judged as a read (see `read`): its visits are collected as
   * they come and checked against the model's states (see `scan.ts`).
   */
  #scan(
    step: number,
    op: Extract<SimOp, { type: "scan" }>,
    store: Store,
    low: number,
    judge: (check: () => void) => Promise<void> | void,
    failed: (error: unknown) => void,
  ): Promise<unknown> {
    const durableRead = this.#durability === "strict";
    const shape: ScanShape = {
      range: selectorKeyRange(op.selector),
      reverse: op.reverse === true,
      limit: op.limit ?? Number.POSITIVE_INFINITY,
      stopAfter: op.stopAfter,
    };
    const options = { limit: op.limit, reverse: op.reverse };
    return this.#watch.call(
      scanInto(store, storeSelector(op.selector, step), options, op.stopAfter),
      { walk: true, applies: true },
    )
      .then(
        ({ entries, returned, split }) =>
          judge(() => {
            this.stats.scans++;
            if (split) this.stats.scansSplit++;
            if (entries.length === op.stopAfter) this.stats.scansStopped++;
            this.oracle.checkScan(step, entries, returned, shape, low, durableRead);
          }),
        failed,
      );
  }

  async crash(step: number, pointPrefix = ""): Promise<void> {
    const random = eventPrng(this.#seed, crashStream, step % 0x1_0000_0000);
    this.#powerLoss(pointPrefix);
    // Sometimes the power fails again while the store recovers: mid-replay,
    // mid-truncation of a torn tail, mid-removal of a torn segment.
    for (let again = 0; again < recoveryCrashesMax && random.chance(0.3); again++) {
      const options = this.#storeOptions(this.#recoveryLoad(step));
      const opening = openStore(options).then((store) => store, () => undefined);
      await this.drive(1 + random.below(6));
      this.#powerLoss();
      void opening;
    }
    await this.open(step, false, true);
  }

  /**
   * Starts a clean close and cuts the power after `ios` I/O completions:
   * inside the close (its checkpoint, its empty segment and reclaim, its
   * padding cut, its header work) or, if it needed fewer, after it. The
   * recovery is checked as after any power loss.
   */
  async #closeCrash(step: number, ios: number): Promise<void> {
    const store = this.store!;
    this.#sampled = undefined;
    this.stats.closeCrashes++;
    this.#countStore(store);
    let closed = false;
    const closing = this.#watch.call(store.close()).finally(() => closed = true);
    closing.catch(() => {}); // a power loss mid-close leaves it pending or failed: no verdict
    this.#counted = store;
    await this.drive(ios);
    if (!closed) this.stats.closeCrashesInside++;
    await this.crash(step, closed ? "after close: " : "closing: ");
  }

  /** Crashes the machine and notes the damage it leaves, for the excuses of the recovery. */
  #powerLoss(pointPrefix = ""): void {
    this.stats.crashes++;
    this.memory.release(); // a new process
    this.#abandonWalks();
    this.stats.crashPoints.add(
      pointPrefix +
        (this.store === undefined && pointPrefix === ""
          ? `recovering: ${this.#crashPoint()}`
          : this.#crashPoint()),
    );
    if (this.store !== undefined && this.store !== this.#counted) this.#countStore(this.store);
    this.#counted = undefined;
    this.storage = this.storage.crash();
    this.store = undefined;
    this.#sampled = undefined;
    this.#excuses.noteCrash(this.storage);
  }

  /** The clock of a store about to open: the simulated one, or one whose work yields. */
  #engineClock(): Clock {
    if (!this.#walkPauses) return this.storage.clock;
    // The stores before this one were closed or never opened: none pauses again.
    this.#walkClocks = this.#walkClocks.filter((clock) => clock.waiting);
    assert(this.#walkClocks.length < walkClocksMax, "the clocks of stores gone do not pile up");
    const random = this.#walkRandom;
    const clock = new WalkClock(this.storage.clock, this.storage.scheduler, {
      turns: () => 1 + random.below(walkPauseTurnsMax),
      onPause: () => this.stats.walkPauses++,
    });
    this.#walkClocks.push(clock);
    return clock;
  }

  /** Whether some store's long work is paused now. */
  get #walkPaused(): boolean {
    return this.#walkClocks.some((clock) => clock.waiting);
  }

  /** A power loss: the walks of the lost process never go on. */
  #abandonWalks(): void {
    for (const clock of this.#walkClocks) clock.abandon();
    this.#walkClocks = [];
  }

  #storeOptions(load: LoadMode): InternalStoreOptions {
    return {
      storage: this.guard.wrap(this.storage),
      clock: this.#engineClock(),
      walSegmentBytes: simSegmentBytes,
      durability: this.#durability,
      checkpoint: this.#checkpoint,
      load,
      memoryBudget: this.#memoryBudget,
      [imageGeometryKey]: this.#geometry,
      ...(this.#slabCacheSlabsMin === undefined
        ? {}
        : { [slabCacheSlabsMinKey]: this.#slabCacheSlabsMin }),
    };
  }

  /** How the recovery open at `step` loads the image: the run's setting, or drawn. */
  #recoveryLoad(step: number): LoadMode {
    if (this.#load !== undefined) return this.#load;
    if (step < 0) return "lazy"; // the first open, of an empty disk
    const random = eventPrng(this.#seed, loadStream, step % 0x1_0000_0000);
    if (random.chance(0.5)) return "eager";
    // Half the others warm up in the background, beside the listing that checks the recovery.
    return random.chance(0.5) ? "auto" : "lazy";
  }

  /**
   * What the crash interrupted: the kinds of I/O in flight (counts capped at
   * 2), e.g. "write+sync", "syncDir", "nothing in flight".
   */
  #crashPoint(): string {
    const counts = new Map<string, number>();
    for (const label of this.storage.scheduler.pendingLabels()) {
      const verb = label.split(/[ @]/)[0];
      counts.set(verb, Math.min(2, (counts.get(verb) ?? 0) + 1));
    }
    const parts = [...counts].sort().map(([verb, count]) => (count > 1 ? `${verb}×2+` : verb));
    return parts.length === 0 ? "nothing in flight" : parts.join("+");
  }

  async restart(step: number): Promise<void> {
    this.stats.restarts++;
    const clean = await this.#closeStore(step);
    this.memory.release(); // a new process
    await this.open(step, clean);
  }

  /**
   * A `MemoryLimitError` while the simulated process is out of memory. One
   * from a failed apply leaves the store refusing everything, as a poisoned
   * one (no write may be accepted after it): the process restarts before the
   * next write. One from a load fails that call alone: on half of them the
   * process restarts as well, on the other half its memory comes back and
   * the same store goes on (later checkpoints and compactions then run on a
   * trie a load could not finish). One while memory is free is a violation.
   */
  #outOfMemory(error: unknown): boolean {
    if (!(error instanceof MemoryLimitError)) return false;
    this.stats.outOfMemory++;
    if (!this.memory.exhausted) {
      this.oracle.violate("error", `MemoryLimitError with memory to spare: ${error.message}`, []);
    }
    if (error.applyFailed) this.poisoned = true;
    const step = this.storage.scheduler.context ?? 0;
    const goesOn = !error.applyFailed &&
      eventPrng(this.#seed, memoryBackStream, (step >>> 0) + this.stats.outOfMemory).chance(0.5);
    if (goesOn) {
      this.stats.memoryBack++;
      this.memory.release();
    } else this.#restartSoon = true;
    return true;
  }

  /**
   * Closes the current store; returns whether the close was clean. One that
   * reports a failed write was not: writes not yet durable were lost
   * (relaxed mode never told their callers otherwise).
   */
  async #closeStore(step: number): Promise<boolean> {
    const store = this.store!;
    this.#sampled = undefined;
    this.store = undefined;
    this.#countStore(store);
    const quiet = () => this.#quietSince(this.#faultsAtOpen);
    const closing = this.#watch.call(store.close());
    const random = eventPrng(this.#seed, closeWriteStream, step % 0x1_0000_0000);
    if (random.chance(closeWriteChance)) {
      closing.catch(() => {}); // judged below
      await this.drive(random.below(closeWriteIosMax + 1));
      this.#writeWhileClosing(step, store);
    }
    return await this.until(closing, step, "close").then(() => {
      const open = this.storage.openFileNames();
      if (open.length > 0) {
        this.oracle.violate("leak", `step ${step}: the close left files open: ${open}`, [step]);
      }
      // A close in a life without faults lets go of what a checkpoint would,
      // and (with automatic checkpoints) leaves nothing for the next open to replay.
      if (quiet()) {
        this.#checkBound(
          step,
          "bound-wal",
          walBoundProblem(this.storage, this.#retain, walBoundRules.close),
        );
        this.#closedQuietly = this.#checkpoint.auto !== false;
      }
      return true;
    }, (error) => {
      if (error instanceof StopRun) throw error;
      if (!(error instanceof StorageIoError)) {
        this.oracle.violate("error", `step ${step}: close failed: ${describe(error)}`, [step]);
      }
      return false;
    });
  }

  /**
   * A write called once `close()` began (at a drawn point inside it, or just
   * after it ended): the store must refuse it with `StoreClosedError` and log
   * nothing. One it takes could land behind close's last checkpoint, in a
   * segment the empty one close starts seals off, or in one close reclaims;
   * it is judged as any accepted write too, so a loss shows as D1.
   */
  #writeWhileClosing(step: number, store: Store): void {
    this.stats.closeWrites++;
    const op: SimOp = { type: "add", key: "close write", delta: distinctDelta(step) };
    const verdict = this.oracle.verdict(op);
    const before = writeCounters(store).lastLsn;
    for (const key of writtenKeys(op)) this.#keysWritten.add(key);
    const promise = this.#watch.call(callStore(store, op, step), {
      keys: pinnedKeysOf(op),
      write: true,
    });
    const after = writeCounters(store).lastLsn;
    const life = this.#life;
    const refused = (what: string) =>
      this.oracle.violate("close-write", `step ${step}: a write called during close() ${what}`, [
        step,
      ]);
    if (after !== before) {
      refused(`was accepted as lsn ${after}`);
      this.#judgeSubmitted(step, op, promise, { before, after, verdict });
      return;
    }
    promise.then(() => {
      if (life === this.#life) refused("resolved, though it took no lsn");
    }, (error) => {
      if (life === this.#life && !(error instanceof StoreClosedError)) {
        refused(`was refused with ${describe(error)}, not StoreClosedError`);
      }
    });
  }

  /**
   * Opens the store, retrying transient storage errors, and checks what it
   * recovered; after a power loss, a loss of acknowledged writes is excused
   * where a fault destroyed their bytes.
   */
  async open(step: number, clean = false, powerLoss = false): Promise<void> {
    const load = this.#recoveryLoad(step);
    if (load === "eager") this.stats.eagerOpens++;
    if (load === "auto") this.stats.warmOpens++;
    await this.#openStore(step, load);
    const store = this.store!;
    const state = await this.#collectRecovered(store, step);
    if (step >= 0) {
      this.oracle.recovered(
        step,
        state,
        store.stats().lastLsn,
        clean,
        powerLoss ? this.#excuses : undefined,
        powerLoss,
      );
      this.#excuses.judged();
      // Listing everything loaded the whole trie from the image. On half the
      // recoveries, close and reopen (a clean restart changes nothing), so
      // the ops that follow meet a lazily loaded trie: reads fault nodes in
      // and writes queue for loads.
      if (eventPrng(this.#seed, lazyStream, step % 0x1_0000_0000).chance(0.5)) {
        await this.#reopenLazily(step);
      }
    }
  }

  /** Opens the store, retrying transient storage errors; checks nothing. */
  async #openStore(step: number, load: LoadMode): Promise<void> {
    this.#life++;
    this.#answered.clear();
    this.#busy.clear(); // ops of the store before are settled or lost with it
    this.poisoned = false;
    this.#restartSoon = false;
    for (let attempt = 1; attempt <= openAttemptsMax; attempt++) {
      try {
        this.store = await this.until(openStore(this.#storeOptions(load)), step, "open");
        break;
      } catch (error) {
        if (error instanceof StopRun) throw error;
        this.#openFailed(step, error, attempt);
        this.stats.openRetries++;
      }
    }
    this.#syncFailuresAtOpen = this.#walSyncFailures();
    this.#faultsAtOpen = this.storage.faults.length;
    if (this.store !== undefined) this.#quarantinesSeen(step);
    this.#exhaustionsAtOpen = this.memory.exhaustions;
    this.#sampled = this.store;
    this.#relocationsSeen = writeCounters(this.store!).relocations.count;
    this.#workSeen = undefined; // its first sample starts the count
    this.#watch.restart();
    this.#compactionCredit = 0;
    const stats = this.store!.stats();
    const report = { ...stats.recovery, lastLsn: stats.lastLsn };
    this.#checkBound(step, "bound-replay", replayBoundProblem(report, this.#closedQuietly));
    this.#closedQuietly = false;
  }

  /**
   * A `StorageIoError` with no fault injected since the store opened is the
   * engine failing on its own (a spurious poison): a violation.
   */
  /**
   * A call failed with `StorageIoError`: the store refuses writes until
   * reopened. A failed checkpoint poisons the store with whatever failed it,
   * so the error a call meets may wrap an engine fault (an assertion, a
   * record too long for the image's slabs) rather than disk trouble: that is
   * a violation, whatever faults the disk injected (reported once).
   */
  #poisonedBy(step: number, error: StorageIoError): void {
    this.poisoned = true;
    const cause = error.cause;
    if (!(cause instanceof AssertionError || cause instanceof RecordTooLargeError)) return;
    if (this.#engineFaults.has(cause)) return;
    this.#engineFaults.add(cause);
    this.oracle.violate("error", `step ${step}: the store failed on ${describe(cause)}`, [step]);
  }

  #storageErrorSeen(step: number, what: string, error: StorageIoError): void {
    if (this.storage.faults.length > this.#faultsAtOpen) return;
    this.oracle.violate(
      "spurious",
      `step ${step}: ${what} failed with no fault injected since open: ${error.message}`,
      [step],
    );
  }

  /**
   * A clean close and an open that loads nothing but the root (on half of
   * them, the rest then loads in the background while the ops go on: an
   * `"auto"` open's warm-up, which crashes, faults and evictions meet); an
   * unclean close is checked as usual.
   */
  async #reopenLazily(step: number): Promise<void> {
    if (!(await this.#closeStore(step))) {
      await this.#openStore(step, this.#recoveryLoad(step));
      const state = await this.#collectRecovered(this.store!, step);
      this.oracle.recovered(step, state, this.store!.stats().lastLsn, false, undefined, false);
      return;
    }
    this.stats.lazyOpens++;
    const warm = this.#load === undefined &&
      eventPrng(this.#seed, warmStream, step % 0x1_0000_0000).chance(0.5);
    if (warm) this.stats.warmOpens++;
    await this.#openStore(step, warm ? "auto" : "lazy");
  }

  /** Lists the whole recovered store, trying again after failed reads (lazy loads read the image). */
  async #collectRecovered(store: Store, step: number): Promise<State> {
    for (let attempt = 1;; attempt++) {
      try {
        const entries = await this.until(
          this.#watch.call(collect(store, { prefix: "" }), { walk: true, applies: true }),
          step,
          "reading the recovered state",
        );
        return this.#recoveredState(entries, step);
      } catch (error) {
        if (error instanceof StopRun) throw error;
        if (error instanceof CorruptionError) {
          this.#corruptionSeen(step, error);
          throw new StopRun(
            "image damaged reading the recovered state",
            `corruption reported: ${error.message}`,
          );
        }
        if (!(error instanceof StorageIoError) || attempt === openAttemptsMax) {
          this.oracle.violate(
            "error",
            `step ${step}: reading the recovered state: ${describe(error)}`,
            [step],
          );
          throw new StopRun("violation", "the recovered state could not be read");
        }
      }
    }
  }

  /**
   * The state a whole list of the recovered store shows: it must come in
   * strict byte order (a repeated or misplaced key is a `list` violation).
   */
  #recoveredState(entries: ListEntry[], step: number): State {
    const whole = { start: "", end: undefined };
    const problem = listShapeProblem(entries, whole, false, Number.POSITIVE_INFINITY);
    if (problem !== undefined) {
      this.oracle.violate("list", `step ${step}: listing the recovered store: ${problem}`, [step]);
    }
    if (entries.length > listBatchSize) this.stats.listsPastBatch++;
    this.stats.fanOutMax = Math.max(this.stats.fanOutMax, fanOut(entries));
    return new Map(entries);
  }

  /** True if bytes a fault destroyed explain `error` (see `excuses.ts`). */
  #corruptionExplained(error: CorruptionError): boolean {
    return this.#excuses.corruption(error, this.storage) !== undefined;
  }

  #openFailed(step: number, error: unknown, attempt: number): void {
    if (error instanceof CorruptionError) {
      if (!this.#corruptionExplained(error)) {
        this.oracle.violate(
          "D6",
          `step ${step}: open reported corruption that no fault explains: ${error.message}`,
          [step],
        );
      }
      const kind = parseSegmentName(error.file) === undefined
        ? "image damaged at open"
        : "log damaged at open";
      throw new StopRun(kind, `corruption reported: ${error.message}`);
    }
    if (!(error instanceof StorageIoError)) {
      this.oracle.violate("error", `step ${step}: open failed: ${describe(error)}`, [step]);
      throw new StopRun("violation", "open failed");
    }
    if (attempt === openAttemptsMax) {
      // Open reads every segment; on a disk failing many reads, every try can
      // meet one. Refusing to open then is right, unless no fault explains it.
      const epoch = this.storage.epoch;
      const explained = this.storage.faults.some((fault) =>
        fault.epoch === epoch && (fault.kind === "readError" || fault.kind === "fsyncFail" ||
          fault.kind === "noSpace" || fault.kind === "shortWrite")
      );
      if (!explained) {
        this.oracle.violate("error", `step ${step}: open failed: ${describe(error)}`, [step]);
      }
      throw new StopRun("open failed", `open failed ${openAttemptsMax} times: ${describe(error)}`);
    }
  }

  /** Lets every client finish, then crashes once more and checks the recovery. */
  async finish(): Promise<void> {
    const last = Number.MAX_SAFE_INTEGER;
    this.storage.scheduler.context = finishContext;
    await this.storage.scheduler.runUntilIdle(waitStepsMax);
    await this.storage.scheduler.settle();
    await this.crash(last);
    this.#sampled = undefined; // a close may compact, and relocate for it
    await this.until(this.#watch.call(this.store!.close()), last, "close").catch((error) => {
      if (error instanceof StopRun || !(error instanceof StorageIoError)) throw error;
    });
  }
}

/**
 * The slab cache's floor of a run (see {@link RunOptions.slabCacheSlabsMin}):
 * the given one, else drawn from a stream of its own on budgeted seeds only,
 * so every other draw of the run, and every run without a budget, stays as
 * it was.
 */
export function drawSlabCacheSlabsMin(
  options: Pick<RunOptions, "seed" | "memoryBudget" | "slabCacheSlabsMin">,
): number | undefined {
  const given = options.slabCacheSlabsMin;
  if (given !== undefined) {
    if (!Number.isSafeInteger(given) || given < 1) {
      throw new RangeError(
        `Cannot run a simulation: slabCacheSlabsMin must be an integer of at least 1, got ${given}`,
      );
    }
    return given;
  }
  if (options.memoryBudget === undefined) return undefined;
  const tiny = eventPrng(options.seed, slabCacheStream, 0).chance(slabCacheTinyChance);
  return tiny ? slabCacheSlabsTiny : undefined;
}

/** The keys a write op writes (a bound on the keys a compaction walks is their number). */
function writtenKeys(op: SimOp): string[] {
  if (op.type === "add" || op.type === "set" || op.type === "delete") return [op.key];
  if (op.type === "atomic") return op.ops.map((mutation) => mutation.key);
  return [];
}

/** The keys a write op may pin: those it writes and those it checks. */
function pinnedKeysOf(op: SimOp): string[] {
  const checks = op.type === "atomic" ? op.checks.map((check) => check.key) : [];
  return [...writtenKeys(op), ...checks];
}

/** Calls the store for a write; `step` varies how keys are passed (bytes or string). */
function callStore(store: Store, op: SimOp, step: number): Promise<unknown> {
  if (op.type === "add") return store.add(keyArgument(op.key, step), op.delta);
  if (op.type === "set") return store.set(keyArgument(op.key, step), op.value);
  if (op.type === "delete") return store.delete(keyArgument(op.key, step));
  assert(op.type === "atomic", "only writes are called here");
  const atomic = store.atomic();
  let variant = step;
  const key = (text: string) => op.text === true ? text : keyArgument(text, variant++);
  for (const check of op.checks) atomic.check(key(check.key), check.value);
  for (const mutation of op.ops) {
    if (mutation.type === "add") atomic.add(key(mutation.key), mutation.delta);
    else if (mutation.type === "set") atomic.set(key(mutation.key), mutation.value);
    else atomic.delete(key(mutation.key));
  }
  return atomic.commit();
}

/** The store's selector for a model selector (keys passed as `keyArgument` says). */
function storeSelector(selector: SimSelector, step: number): ListSelector {
  const key = (text: string, variant: number) =>
    text === "" ? "" : keyArgument(text, step + variant);
  if (!("prefix" in selector)) return { start: key(selector.start, 1), end: key(selector.end, 2) };
  if ("start" in selector) {
    return { prefix: key(selector.prefix, 0), start: key(selector.start, 1) };
  }
  if ("end" in selector) return { prefix: key(selector.prefix, 0), end: key(selector.end, 2) };
  return { prefix: key(selector.prefix, 0) };
}

/**
 * The most children one node of a trie holding `entries` (sorted keys) has:
 * the most distinct bytes following one common prefix of neighbours.
 */
function fanOut(entries: readonly ListEntry[]): number {
  // Neighbours in byte order part at one node: the byte after their common
  // prefix is a child of the node at that prefix. Count children per node.
  const children = new Map<string, Set<number>>();
  for (let index = 1; index < entries.length; index++) {
    const [a, b] = [entries[index - 1][0], entries[index][0]];
    let common = 0;
    while (common < a.length && common < b.length && a[common] === b[common]) common++;
    const node = a.slice(0, common);
    let set = children.get(node);
    if (set === undefined) children.set(node, set = new Set());
    if (common < a.length) set.add(a.charCodeAt(common));
    if (common < b.length) set.add(b.charCodeAt(common));
  }
  let widest = 0;
  for (const set of children.values()) widest = Math.max(widest, set.size);
  return widest;
}

/** Lists into an array, in the order the store returns, keys as byte strings. */
async function collect(
  store: Store,
  selector: ListSelector,
  options: ListOptions = {},
): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  for await (const { key, value } of store.list(selector, options)) {
    entries.push([keyOfBytes(key), value]);
  }
  return entries;
}

/**
 * Scans into an array, keys as byte strings, the visitor returning `false`
 * at visit `stopAfter`. `split`: image nodes were loaded between two
 * visits, so a load split the scan's passes there (a pass is one
 * synchronous walk, which loads nothing; the scan's own load, from cached
 * slabs or read, ends it).
 */
async function scanInto(
  store: Store,
  selector: ListSelector,
  options: ListOptions,
  stopAfter: number | undefined,
): Promise<{ entries: ListEntry[]; returned: number; split: boolean }> {
  const entries: ListEntry[] = [];
  let loaded = writeCounters(store).nodesLoaded;
  let split = false;
  const returned = await store.scan(selector, (key, value) => {
    const now = writeCounters(store).nodesLoaded;
    if (now !== loaded && entries.length > 0) split = true;
    loaded = now;
    entries.push([keyOfBytes(key), value]);
    if (entries.length === stopAfter) return false;
  }, options);
  return { entries, returned, split };
}
