/**
 * The simulation runner: drives the production engine on a simulated disk
 * with concurrent clients, crashes and restarts, and checks every step with
 * the oracle. One seed decides everything; the same options replay the same
 * run, to the same trace hash.
 *
 * @module
 */

import { assert, AssertionError } from "../lib/_assert.ts";
import {
  CorruptionError,
  MemoryLimitError,
  StorageIoError,
  StoreClosedError,
} from "../lib/errors.ts";
import type { ImageGeometry } from "../lib/image/allocation.ts";
import { compactingFileName, imageFileName, RecordTooLargeError } from "../lib/image/image_file.ts";
import {
  type CheckpointOptions,
  type Durability,
  imageGeometryKey,
  type InternalStoreOptions,
  type LoadMode,
  openStore,
  type Store,
  trieFailureLead,
  writeCounters,
} from "../lib/store/store.ts";
import { addChurn, drawImageWorkload, imageGeometryFor } from "./churn.ts";
import type { FaultProfile, FaultRecord } from "./faults.ts";
import { ImageGuard, type ImageGuardStats, newImageGuardStats } from "./image_guard.ts";
import { MemoryPressure } from "./memory.ts";
import { Oracle, type State, type Verdict, type Violation } from "./model.ts";
import { eventPrng, hash32, hashString } from "./prng.ts";
import { drawCheckpointOptions } from "./profiles.ts";
import { SimBlockStorage } from "./storage.ts";
import { generateSteps, isWrite, type SimOp, type Step, stepsMax } from "./workload.ts";

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
  /** Recoveries that lost acknowledged writes because the disk dropped or misplaced a write. */
  excusedLosses: number;
  /** Recoveries not judged: a misdirected write overwrote log records recovered before. */
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
  /** Checkpoints committed (asked for or automatic), by stores that were then closed or crashed. */
  checkpointsCommitted: number;
  /** Image nodes loaded (at open or on use), by those stores. */
  nodesLoaded: number;
  /** Calls that failed with `MemoryLimitError` (see {@link RunOptions.memoryPressure}). */
  outOfMemory: number;
  /** Injected faults by kind (`memoryExhausted`: see {@link RunOptions.memoryPressure}). */
  faults: Record<string, number>;
  /** What the image guard saw: writes checked, slabs reused, the most slabs, tables of several chunks. */
  image: ImageGuardStats;
  /** The slab size of the images the run's stores created. */
  slabBytes: number;
}

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
/** How far before a damaged byte the record holding it may start (records here are small). */
const damageSlackBytes = 64 * 1024;
/** The `eventPrng` stream of crash-during-recovery decisions. */
const crashStream = 0xc4a5;
/** The `eventPrng` stream of the choice to reopen lazily after a recovery. */
const lazyStream = 0x1a2b;
/** The `eventPrng` stream of how a recovery open loads the image. */
const loadStream = 0x10ad;
/** The `eventPrng` stream of memory exhaustion ({@link RunOptions.memoryPressure}). */
const memoryStream = 0x3e30;
/** The most extra power losses during one recovery. */
const recoveryCrashesMax = 3;
/** Opens tried before a transient storage error counts as a failure. */
const openAttemptsMax = 16;

/** Ends a run that cannot go on (after a violation, or a legitimate corruption report). */
class StopRun extends Error {}

/** Runs one seed. */
export async function runSimulation(options: RunOptions): Promise<RunResult> {
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
  run.memory.install();
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
  } finally {
    run.memory.uninstall();
  }
  run.stats.faults = { ...run.storage.faultCounts };
  if (run.memory.exhaustions > 0) run.stats.faults.memoryExhausted = run.memory.exhaustions;
  run.stats.ioSteps = run.storage.scheduler.steps;
  run.stats.image = { ...run.guard.stats };
  run.stats.excusedLosses = run.oracle.excusedLosses;
  run.stats.clobberedRecoveries = run.oracle.clobberedRecoveries;
  return {
    seed: options.seed,
    steps,
    violations: run.oracle.violations,
    traceHash: hash32(run.storage.traceHash(), hashString(JSON.stringify(run.oracle.violations))),
    stats: run.stats,
    stoppedEarly,
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
    clobberedRecoveries: 0,
    crashPoints: new Set(),
    checkpoints: 0,
    verifies: 0,
    queuedWrites: 0,
    lazyOpens: 0,
    eagerOpens: 0,
    checkpointsCommitted: 0,
    nodesLoaded: 0,
    outOfMemory: 0,
    faults: {},
    image: newImageGuardStats(),
    slabBytes: 0,
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
  readonly #memoryRandom: ReturnType<typeof eventPrng>;
  /** Whether a misdirected WAL write landed on other bytes since the last recovery. */
  #logClobbered = false;
  /** fsync failures seen when the current store was opened (acks after a new one are D7). */
  #syncFailuresAtOpen = 0;
  /** Faults injected when the current store was opened. */
  #faultsAtOpen = 0;
  #life = 0;

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
    assert(this.#memoryPressure >= 0 && this.#memoryPressure <= 1, "a chance per step");
    this.#memoryRandom = eventPrng(options.seed, memoryStream, 0);
    this.storage = new SimBlockStorage({
      seed: options.seed,
      profile: options.profile,
      sectorBytes: options.sectorBytes ?? 512,
    });
  }

  /** Completes I/O until `promise` settles; a wait with nothing left to complete is a hang. */
  async until<T>(promise: Promise<T>, step: number, what: string): Promise<T> {
    let settled = false;
    promise.then(() => settled = true, () => settled = true);
    const scheduler = this.storage.scheduler;
    for (let index = 0; index < waitStepsMax; index++) {
      await scheduler.settle();
      if (settled) return await promise;
      if (scheduler.pending === 0) break;
      scheduler.step();
    }
    this.oracle.violate(
      "hang",
      `step ${step}: ${what} never finished (${scheduler.pending} I/O pending)`,
      [step],
    );
    throw new StopRun(`hang in ${what}`);
  }

  async drive(count: number): Promise<void> {
    const scheduler = this.storage.scheduler;
    for (let index = 0; index < count; index++) {
      await scheduler.settle();
      if (scheduler.pending === 0) return;
      scheduler.step();
    }
    await scheduler.settle();
  }

  async execute(step: Step): Promise<void> {
    this.stats.steps++;
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
    else if (step.kind === "checkpoint") this.#checkpointStep(step.id, step.compact);
    else if (step.kind === "verify") await this.#verify(step.id);
    else this.#sync(step.id);
    await this.drive(step.drive);
  }

  /** A checkpoint, not waited for: writers go on while it runs (D8). */
  #checkpointStep(step: number, compact: boolean): void {
    const life = this.#life;
    this.stats.checkpoints++;
    this.store!.checkpoint({ compact }).catch((error) => {
      if (life !== this.#life) return;
      if (error instanceof StorageIoError) {
        this.#storageErrorSeen(step, "a checkpoint", error);
        this.#poisonedBy(step, error);
      } else if (this.#outOfMemory(error)) return;
      else if (error instanceof CorruptionError) this.#corruptionSeen(step, error);
      else {this.oracle.violate("error", `step ${step}: checkpoint failed: ${describe(error)}`, [
          step,
        ]);}
    });
  }

  /** `store.verify()`: the image on disk must pass, unless a misdirected write explains it. */
  async #verify(step: number): Promise<void> {
    const store = this.store!;
    let report;
    try {
      report = await this.until(store.verify(), step, "verify");
    } catch (error) {
      if (error instanceof StopRun) throw error;
      if (error instanceof StorageIoError || this.#outOfMemory(error)) return; // nothing to judge
      if (error instanceof CorruptionError) return this.#corruptionSeen(step, error);
      this.oracle.violate("error", `step ${step}: verify failed: ${describe(error)}`, [step]);
      return;
    }
    this.stats.verifies++;
    if (!report.ok && !this.#imageWriteMisplaced()) {
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
  }

  /** Whether a misdirected write hit the image file since the last crash. */
  #imageWriteMisplaced(): boolean {
    return this.storage.faults.some((fault) =>
      fault.kind === "misdirectedWrite" && imageName(fault.file) === imageFileName
    );
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
    const promise = callStore(store, op);
    const after = writeCounters(store).lastLsn;
    if (after === before && writeCounters(store).queuedWrites > queuedBefore) {
      this.#queuedWrite = this.#whenQueuedSettles(step, op, promise, before, verdict);
      return promise;
    }
    this.#judgeSubmitted(step, op, promise, { before, after, verdict });
    return promise;
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
      throw new StopRun("a write took several lsns");
    }
  }

  /** A sync: once it resolves, every write accepted before it must be durable (relaxed mode's D1). */
  #sync(step: number): void {
    const life = this.#life;
    const through = this.oracle.nextLsn - 1;
    this.store!.sync().then(() => {
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
      else if (!(error instanceof RangeError && verdict === "range")) {
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
    const check = (
      what: string,
      view: Map<string, number | undefined>,
      prefix?: string,
    ): Promise<void> | void => {
      // A write queued for a load may show in the store (relaxed mode applies
      // it once appended) before the oracle learns its LSN: judge after it.
      const queued = this.#queuedWrite;
      if (queued !== undefined) return queued.then(() => check(what, view, prefix));
      if (life === this.#life) {
        this.oracle.checkRead(step, what, view, low, prefix, this.#durability === "strict");
      }
    };
    // A read may load nodes from the image: a failed read is no verdict,
    // a corruption report must be explained by a fault.
    const failed = (error: unknown) => {
      // A failed read is no verdict, nor one the store was closed under.
      if (life !== this.#life || error instanceof StorageIoError) return;
      if (this.#outOfMemory(error)) return;
      if (error instanceof StoreClosedError) return;
      if (error instanceof CorruptionError) return this.#corruptionSeen(step, error);
      this.oracle.violate("error", `step ${step}: a read failed with ${describe(error)}`, [step]);
    };
    if (op.type === "get") {
      return store.get(op.key).then(
        (value) => check(`get(${op.key})`, new Map([[op.key, value]])),
        failed,
      );
    } else if (op.type === "getMany") {
      return store.getMany(op.keys).then(
        (values) =>
          check(`getMany(${op.keys})`, new Map(op.keys.map((key, index) => [key, values[index]]))),
        failed,
      );
    }
    assert(op.type === "list", "reads are get, getMany and list");
    return collect(store, op.prefix).then(
      (state) => check(`list(${op.prefix})`, new Map(state), op.prefix),
      failed,
    );
  }

  async crash(step: number): Promise<void> {
    const random = eventPrng(this.#seed, crashStream, step % 0x1_0000_0000);
    let lostWrite = this.#powerLoss();
    // Sometimes the power fails again while the store recovers: mid-replay,
    // mid-truncation of a torn tail, mid-removal of a torn segment.
    for (let again = 0; again < recoveryCrashesMax && random.chance(0.3); again++) {
      const options = this.#storeOptions(this.#recoveryLoad(step));
      const opening = openStore(options).then((store) => store, () => undefined);
      await this.drive(1 + random.below(6));
      lostWrite = this.#powerLoss() || lostWrite;
      void opening;
    }
    await this.open(step, false, lostWrite, true);
  }

  /** Crashes the machine; returns whether the disk dropped or misplaced a write in the ending epoch. */
  #powerLoss(): boolean {
    this.stats.crashes++;
    this.memory.release(); // a new process
    this.stats.crashPoints.add(
      this.store === undefined ? `recovering: ${this.#crashPoint()}` : this.#crashPoint(),
    );
    const epoch = this.storage.epoch;
    const lostWrite = this.storage.faults.some((fault) =>
      fault.kind === "misdirectedWrite" && fault.epoch === epoch
    );
    // A misdirected log write that landed elsewhere in its segment may have
    // overwritten records recovered before: see `Oracle.clobberedRecoveries`.
    this.#logClobbered ||= this.storage.faults.some((fault) =>
      fault.kind === "misdirectedWrite" && fault.epoch === epoch && fault.file.endsWith(".wal") &&
      fault.detail.includes("reach the disk at byte")
    );
    if (this.store !== undefined) this.#countStore(this.store);
    this.storage = this.storage.crash();
    this.store = undefined;
    return lostWrite;
  }

  #storeOptions(load: LoadMode): InternalStoreOptions {
    return {
      storage: this.guard.wrap(this.storage),
      clock: this.storage.clock,
      walSegmentBytes: simSegmentBytes,
      durability: this.#durability,
      checkpoint: this.#checkpoint,
      load,
      [imageGeometryKey]: this.#geometry,
    };
  }

  /** How the recovery open at `step` loads the image: the run's setting, or drawn. */
  #recoveryLoad(step: number): LoadMode {
    if (this.#load !== undefined) return this.#load;
    if (step < 0) return "lazy"; // the first open, of an empty disk
    const eager = eventPrng(this.#seed, loadStream, step % 0x1_0000_0000).chance(0.5);
    return eager ? "eager" : "lazy";
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
   * one (no write may be accepted after it); one from a load fails that call
   * alone. Either way the process restarts before the next write. One while
   * memory is free is a violation.
   */
  #outOfMemory(error: unknown): boolean {
    if (!(error instanceof MemoryLimitError)) return false;
    this.stats.outOfMemory++;
    if (!this.memory.exhausted) {
      this.oracle.violate("error", `MemoryLimitError with memory to spare: ${error.message}`, []);
    }
    if (error.message.startsWith(trieFailureLead)) this.poisoned = true;
    this.#restartSoon = true;
    return true;
  }

  /**
   * Closes the current store; returns whether the close was clean. One that
   * reports a failed write was not: writes not yet durable were lost
   * (relaxed mode never told their callers otherwise).
   */
  async #closeStore(step: number): Promise<boolean> {
    const store = this.store!;
    this.store = undefined;
    this.#countStore(store);
    return await this.until(store.close(), step, "close").then(() => true, (error) => {
      if (error instanceof StopRun) throw error;
      if (!(error instanceof StorageIoError)) {
        this.oracle.violate("error", `step ${step}: close failed: ${describe(error)}`, [step]);
      }
      return false;
    });
  }

  /** Opens the store, retrying transient storage errors, and checks what it recovered. */
  async open(
    step: number,
    clean = false,
    lostWriteExcused = false,
    powerLoss = false,
  ): Promise<void> {
    const load = this.#recoveryLoad(step);
    if (load === "eager") this.stats.eagerOpens++;
    await this.#openStore(step, load);
    const store = this.store!;
    const state = await this.#collectRecovered(store, step);
    if (step >= 0) {
      this.oracle.recovered(
        step,
        state,
        store.stats().lastLsn,
        clean,
        lostWriteExcused,
        powerLoss,
        this.#logClobbered,
      );
      this.#logClobbered = false;
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

  /** A clean close and an open that loads nothing but the root; an unclean close is checked as usual. */
  async #reopenLazily(step: number): Promise<void> {
    if (!(await this.#closeStore(step))) {
      await this.#openStore(step, this.#recoveryLoad(step));
      const state = await this.#collectRecovered(this.store!, step);
      this.oracle.recovered(step, state, this.store!.stats().lastLsn, false, false, false);
      return;
    }
    this.stats.lazyOpens++;
    await this.#openStore(step, "lazy");
  }

  /** Lists the whole recovered store, trying again after failed reads (lazy loads read the image). */
  async #collectRecovered(store: Store, step: number): Promise<State> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.until(collect(store, ""), step, "reading the recovered state");
      } catch (error) {
        if (error instanceof StopRun) throw error;
        if (error instanceof CorruptionError) {
          this.#corruptionSeen(step, error);
          throw new StopRun(`corruption reported: ${error.message}`);
        }
        if (!(error instanceof StorageIoError) || attempt === openAttemptsMax) {
          this.oracle.violate(
            "error",
            `step ${step}: reading the recovered state: ${describe(error)}`,
            [step],
          );
          throw new StopRun("the recovered state could not be read");
        }
      }
    }
  }

  /**
   * True if a write the disk dropped or misplaced explains `error`: it hit
   * the named file near the offset (the bytes it left stale, or the bytes it
   * overwrote), or the error is a gap between segments that a dropped write
   * in any segment leaves.
   */
  #corruptionExplained(error: CorruptionError): boolean {
    const gap = /comes next|are missing|says it was sealed/.test(error.message);
    return this.storage.faults.some((fault) => {
      if (fault.kind !== "misdirectedWrite") return false;
      if (gap) return true;
      if (imageName(fault.file) !== imageName(error.file)) return false;
      const landed = /at byte (\d+)/.exec(fault.detail);
      const starts = landed === null ? [fault.offset] : [fault.offset, Number(landed[1])];
      return starts.some((start) =>
        error.offset >= start - damageSlackBytes && error.offset < start + fault.length
      );
    });
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
      throw new StopRun(`corruption reported: ${error.message}`);
    }
    if (!(error instanceof StorageIoError)) {
      this.oracle.violate("error", `step ${step}: open failed: ${describe(error)}`, [step]);
      throw new StopRun("open failed");
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
      throw new StopRun(`open failed ${openAttemptsMax} times: ${describe(error)}`);
    }
  }

  /** Lets every client finish, then crashes once more and checks the recovery. */
  async finish(): Promise<void> {
    const last = Number.MAX_SAFE_INTEGER;
    this.storage.scheduler.context = finishContext;
    await this.storage.scheduler.runUntilIdle(waitStepsMax);
    await this.storage.scheduler.settle();
    await this.crash(last);
    await this.until(this.store!.close(), last, "close").catch((error) => {
      if (error instanceof StopRun || !(error instanceof StorageIoError)) throw error;
    });
  }
}

function callStore(store: Store, op: SimOp): Promise<unknown> {
  if (op.type === "add") return store.add(op.key, op.delta);
  if (op.type === "set") return store.set(op.key, op.value);
  if (op.type === "delete") return store.delete(op.key);
  assert(op.type === "atomic", "only writes are called here");
  const atomic = store.atomic();
  for (const check of op.checks) atomic.check(check.key, check.value);
  for (const mutation of op.ops) {
    if (mutation.type === "add") atomic.add(mutation.key, mutation.delta);
    else if (mutation.type === "set") atomic.set(mutation.key, mutation.value);
    else atomic.delete(mutation.key);
  }
  return atomic.commit();
}

async function collect(store: Store, prefix: string): Promise<State> {
  const state: State = new Map();
  const decoder = new TextDecoder();
  for await (const { key, value } of store.list({ prefix })) state.set(decoder.decode(key), value);
  return state;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A file's name as the image it becomes: a compaction's file is renamed over the image. */
function imageName(file: string): string {
  return file === compactingFileName ? imageFileName : file;
}
