/**
 * The n-gram import simulator: the production n-gram store
 * (`lib/ngram/store.ts`) imports drawn inputs into shards on simulated disks
 * that tear and drop unsynced writes, fail fsyncs and writes, reorder
 * completions and crash at drawn points; after every crash the store is
 * reopened, checked, and the cut import run again.
 *
 * What it proves (the exactly-once contract of `docs/NGRAM.md`):
 *
 * - `ngram-progress`: at every reopen, each shard holds exactly the counts
 *   of the rows below each input's durable progress in that shard (all of
 *   them once it is done): no row lost, none counted twice, no progress
 *   ahead of or apart from its counts;
 * - `ngram-totals`: the per-order totals and distinct counts agree with the
 *   n-grams held;
 * - `ngram-final`: once every import finished, each n-gram's count is the
 *   sum over the distinct inputs (the same content imported twice counts
 *   once), and importing a finished input again changes nothing;
 * - `ngram-open`: a store always reopens after a crash (a key whose word a
 *   crash lost would fail here);
 * - `ngram-error`: an import fails only with a storage error (the disk's);
 * - `hang`: every wait finishes while I/O is pending.
 *
 * Inputs are drawn in memory as `ngram TAB count` lines with boundaries
 * between them, over a small vocabulary with UTF-8 words, orders 1 to 3,
 * with n-grams repeated within and across inputs and some inputs drawn
 * twice with the same content.
 *
 * With a `memoryBudget` (a few KiB a part), the store is opened with it
 * every time and the inputs are up to ten times longer: checkpoints evict,
 * imports wait for checkpoints of the parts past their share, and reads
 * load subtrees again, under the same crashes and faults.
 *
 * @module
 */

import { watchBackgroundErrors } from "./background_errors.ts";
import {
  type ImportSource,
  type NgramStore,
  openNgramStore,
  type StorageFactory,
} from "../lib/ngram/store.ts";
import type { InputSummary, NgramSink } from "../lib/ngram/input.ts";
import { StorageIoError } from "../mod.ts";
import { type FaultProfile, hostile } from "./faults.ts";
import { eventPrng, hash32, type Prng } from "./prng.ts";
import { Scheduler } from "./scheduler.ts";
import { SimBlockStorage } from "./storage.ts";
import { NgramBudgetJudge } from "./ngram_budget.ts";

/**
 * A hostile disk whose faults destroy no durable bytes the store may need,
 * so nothing needs an excuse: the one fault left that destroys any, a lost
 * image header slot, leaves the older slot, which the engine must fall back
 * on (and the lost slot is damage the engine must never be fooled by after).
 */
export const ngramProfile: FaultProfile = Object.freeze({
  ...hostile,
  name: "ngram",
  misdirectedWrite: 0,
  bitFlip: 0,
  readError: 0,
});

/** Options of {@link runNgramSimulation}. */
export interface NgramRunOptions {
  /** The seed of every draw. */
  seed: number;
  /** The disk's faults (default {@link ngramProfile}). */
  profile?: FaultProfile;
  /**
   * The store's `memoryBudget` (default none); at least the smallest for
   * {@link ngramShardsMax} shards (`memoryBudgetMin`), as the shards are drawn.
   */
  memoryBudget?: number;
}

/** The most shards a run draws. */
export const ngramShardsMax = 4;

/** A broken property. */
export interface NgramViolation {
  /** Which (see the module notes). */
  property: string;
  /** What was seen. */
  message: string;
}

/** What one run did. */
export interface NgramRunResult {
  /** The seed. */
  seed: number;
  /** Broken properties; empty when the run passed. */
  violations: NgramViolation[];
  /** Crashes, imports run, resumes, and imports that failed on a disk error. */
  stats: NgramRunStats;
  /** A hash of every disk's writes and faults: equal for equal runs. */
  traceHash: number;
}

/** What one n-gram run counts (see {@link NgramRunResult.stats}). */
export interface NgramRunStats {
  /** Subtrees the memory budget evicted, summed over the stores opened (read before each close or crash). */
  evictions: number;
  /** Under a budget (`sim/ngram_budget.ts`): parts judged by `bound-memory`, rounds by `bound-work`. */
  memoryChecks: number;
  budgetRounds: number;
  /** Intervals between I/O completions a part's `bound-work` judged; relocations judged. */
  workJudged: number;
  relocationsJudged: number;
  crashes: number;
  imports: number;
  resumes: number;
  already: number;
  failures: number;
  readerErrors: number;
  optionProbes: number;
}

/** Counts of zero, to add runs' counts to. */
export function ngramStatsZero(): NgramRunStats {
  return {
    evictions: 0,
    memoryChecks: 0,
    budgetRounds: 0,
    workJudged: 0,
    relocationsJudged: 0,
    crashes: 0,
    imports: 0,
    resumes: 0,
    already: 0,
    failures: 0,
    readerErrors: 0,
    optionProbes: 0,
  };
}

/** Adds `from`'s counts to `into`'s. */
export function addNgramStats(into: NgramRunStats, from: NgramRunStats): void {
  for (const key of Object.keys(into) as (keyof NgramRunStats)[]) into[key] += from[key];
}

/** Draw streams. */
const stream = { inputs: 1, plan: 2, crash: 3, disk: 4, bad: 5, options: 6 } as const;
/** Scheduler steps a wait may take before it counts as a hang. */
const waitStepsMax = 200_000;
/** Crashes one run draws at most. */
const crashesMax = 6;
/** Scheduler steps before a drawn crash, at most. */
const crashStepsMax = 600;
/** Times a run reopens after failures before giving up on a plan (each failure is a fault). */
const attemptsMax = 60;
/** Keys a part holds besides its n-grams and its inputs' bookkeeping, at most (orders' totals, words). */
const budgetKeysSpare = 64;
/** Lines an input draws at most. */
const inputLinesMax = 40;
/**
 * Lines an input draws at most in a run with a memory budget: ten times
 * more, so that each part's trie passes the smallest budget (4096 bytes).
 */
const budgetInputLinesMax = 400;
/** The words n-grams are drawn from. */
const words = ["the", "a", "cat", "sat", "über", "straße", "中文", "🙂", "of", "_START_", "x"];

/** One line of a drawn input. */
interface Line {
  ngram: string;
  count: number;
  offset: number;
}

/** A drawn input: its identity, lines and where its boundaries fall. */
interface SimInput {
  id: number;
  lines: Line[];
  /** A boundary follows line `i` when `boundaryAfter[i]`. */
  boundaryAfter: boolean[];
  bytes: number;
  /** A bad input: its read throws {@link SimReaderError} after this many boundaries. */
  failAfter?: number;
  /** A bad input: one of its lines takes a count past 2^53, so its import stops with a RangeError. */
  overflows?: boolean;
  /**
   * A bad input: the file changes under the import after this many
   * boundaries (the rows read after it have other counts), and the source's
   * `check` says so; its import must stop before any of those rows count.
   */
  changedAfter?: number;
}

/** What a changed input's `check` throws (a file written to since its digest). */
export class SimChangedError extends Error {
  /** @param id The input's identity. */
  constructor(id: number) {
    super(`Cannot import input ${id}: it changed since its digest (drawn)`);
    this.name = "SimChangedError";
  }
}

/** What a changed input's rows add to their counts after the change. */
const changedCountDelta = 7;

/** What a bad input's read throws (a malformed line, as the real readers do). */
export class SimReaderError extends Error {
  /** @param id The input's identity. */
  constructor(id: number) {
    super(`Cannot read input ${id}: a malformed line (drawn)`);
    this.name = "SimReaderError";
  }
}

/** One drawn input with identity `id`. */
function drawInput(random: Prng, id: number, linesMax = inputLinesMax): SimInput {
  const lines: Line[] = [];
  const boundaryAfter: boolean[] = [];
  let offset = 0;
  const length = 1 + random.below(linesMax);
  for (let at = 0; at < length; at++) {
    const order = 1 + random.below(3);
    const tokens = Array.from({ length: order }, () => words[random.below(words.length)]);
    const ngram = tokens.join(" ");
    const countDrawn = 1 + random.below(random.chance(0.1) ? 1_000_000 : 50);
    lines.push({ ngram, count: countDrawn, offset });
    offset += new TextEncoder().encode(`${ngram}\t${countDrawn}\n`).length;
    boundaryAfter.push(random.chance(0.4));
  }
  return { id, lines, boundaryAfter, bytes: offset };
}

/** Draws the inputs of up to `linesMax` lines: some share an identity (the same content imported twice). */
function drawInputs(random: Prng, linesMax: number): SimInput[] {
  const count = 1 + random.below(4);
  return Array.from({ length: count }, (_, index) => drawInput(random, index + 1, linesMax));
}

/**
 * Bad inputs for the end of the plan, from a stream of their own (so every
 * other draw stays), each followed by a good one imported by the same open
 * store. On half the seeds, one whose read fails part way: a store that took
 * back the ids of words it had made durable (not only those of its
 * uncommitted chunk) would give them to the next input's words, whose keys
 * then share ids with the stopped input's. On three in ten, one that takes an
 * n-gram's count past 2^53: its import stops with a RangeError, and a store
 * that took that for a failed shard would refuse the next input. On three in
 * ten, one that changes under its import (its source's `check` says so), then
 * its original content: rows read after the change must never count.
 */
function drawBadInputs(random: Prng, inputs: readonly SimInput[]): SimInput[] {
  const drawn: SimInput[] = [];
  // Ids are places in the run's inputs, which hold a changed input's original only.
  const nextId = () => inputs.length + drawn.filter((d) => d.changedAfter === undefined).length + 1;
  if (random.chance(0.5)) {
    const bad = drawInput(random, nextId());
    bad.failAfter = random.below(bad.boundaryAfter.filter((b) => b).length + 2);
    drawn.push(bad);
    drawn.push(drawInput(random, nextId()));
  }
  if (random.chance(0.3)) {
    // An n-gram of the first input again, with a count that takes it past 2^53: the import must
    // stop with a RangeError and leave its shard working for the input after it.
    const overflow = drawInput(random, nextId());
    const line = overflow.lines[random.below(overflow.lines.length)];
    line.ngram = inputs[0].lines[0].ngram;
    line.count = Number.MAX_SAFE_INTEGER;
    overflow.overflows = true;
    drawn.push(overflow);
    drawn.push(drawInput(random, nextId()));
  }
  if (random.chance(0.3)) {
    // A file that changes while it is imported, then its original content again (the same id).
    const original = drawInput(random, nextId());
    const changedAfter = random.below(original.boundaryAfter.filter((b) => b).length + 1);
    drawn.push({ ...original, changedAfter }, original);
  }
  return drawn;
}

/** The source an import reads: the input's lines from `resumeFrom` on. */
function sourceOf(input: SimInput): ImportSource {
  const encoder = new TextEncoder();
  let changed = false;
  return {
    id: Uint8Array.of(0x51, input.id),
    optionsHash: 1,
    check(): Promise<void> {
      return changed ? Promise.reject(new SimChangedError(input.id)) : Promise.resolve();
    },
    async read(sink: NgramSink, resumeFrom: number): Promise<InputSummary> {
      let handed = 0;
      let boundaries = 0;
      for (const [at, line] of input.lines.entries()) {
        changed ||= input.changedAfter !== undefined && boundaries >= input.changedAfter;
        if (line.offset >= resumeFrom) {
          const bytes = encoder.encode(line.ngram);
          const count = changed ? line.count + changedCountDelta : line.count;
          sink.ngram(bytes, 0, bytes.length, count, line.offset);
          handed++;
        }
        if (input.boundaryAfter[at]) {
          if (boundaries++ === input.failAfter) throw new SimReaderError(input.id);
          const next = input.lines[at + 1]?.offset ?? input.bytes;
          await sink.boundary(next);
        }
      }
      if (input.failAfter !== undefined) throw new SimReaderError(input.id);
      await sink.boundary(input.bytes);
      return {
        format: "tsv",
        fileBytes: input.bytes,
        contentBytes: input.bytes,
        lines: input.lines.length,
        rows: input.lines.length,
        ngrams: handed,
        filtered: 0,
      };
    },
  };
}

/** How a driven wait ended. */
type Waited<T> =
  | { kind: "value"; value: T }
  | { kind: "error"; error: unknown }
  | { kind: "crash" }
  | { kind: "hang" };

/** One simulated machine: the disks of the store's parts, one scheduler. */
class Machine {
  readonly scheduler: Scheduler;
  readonly #seed: number;
  readonly #profile: FaultProfile;
  readonly #disks = new Map<string, SimBlockStorage>();
  #names: string[] = [];
  /** Judges the memory budget (runs with one): told of every call waited for, sampled after every completion. */
  judge: NgramBudgetJudge | undefined;

  constructor(seed: number, profile: FaultProfile) {
    this.#seed = seed;
    this.#profile = profile;
    this.scheduler = new Scheduler({ seed: hash32(seed, 0x5c4d), reorder: profile.reorder });
  }

  /** The storages, made on first use, each seeded by its name's order. */
  readonly factory: StorageFactory = (name) => {
    let disk = this.#disks.get(name);
    if (disk === undefined) {
      this.#names.push(name);
      disk = new SimBlockStorage({
        seed: hash32(this.#seed, stream.disk, this.#names.length),
        profile: this.#profile,
        scheduler: this.scheduler,
      });
      this.#disks.set(name, disk);
    }
    return disk;
  };

  /** The storage named `name`, if made. */
  disk(name: string): SimBlockStorage | undefined {
    return this.#disks.get(name);
  }

  /** Cuts the power to every disk. */
  crash(): void {
    for (const [name, disk] of this.#disks) this.#disks.set(name, disk.crash());
  }

  /** Completes I/O until `promise` settles, or `budget` steps pass (then: crash). */
  async until<T>(promise: Promise<T>, budget = waitStepsMax): Promise<Waited<T>> {
    let outcome: Waited<T> | undefined;
    this.judge?.call(promise);
    promise.then(
      (value) => outcome = { kind: "value", value },
      (error) => outcome = { kind: "error", error },
    );
    for (let taken = 0; taken <= waitStepsMax; taken++) {
      await this.scheduler.settle();
      this.judge?.sample();
      if (outcome !== undefined) return outcome;
      if (this.scheduler.pending === 0) return { kind: "hang" };
      if (taken >= budget) return { kind: "crash" };
      this.scheduler.step();
    }
    return { kind: "hang" };
  }

  /** Every disk's trace hash, folded in the order the disks were made. */
  traceHash(): number {
    let hash = hash32(this.#seed);
    for (const name of this.#names) hash = hash32(hash, this.#disks.get(name)!.traceHash());
    return hash;
  }
}

/** Whether `error` is the disk's doing (a fault, or a shard a fault stopped). */
function isDiskError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause !== undefined && depth < 4; depth++) {
    if (cause instanceof StorageIoError) return true;
    cause = (cause as { cause?: unknown })?.cause;
  }
  return false;
}

/** Runs one seed: see the module notes. */
export async function runNgramSimulation(options: NgramRunOptions): Promise<NgramRunResult> {
  const run = new NgramRun(options.seed, options.profile ?? ngramProfile, options.memoryBudget);
  const unwatch = watchBackgroundErrors((message) => run.violate("ngram-error", message));
  try {
    await run.execute();
  } finally {
    unwatch();
  }
  return {
    seed: options.seed,
    violations: run.violations,
    stats: run.stats,
    traceHash: run.machine.traceHash(),
  };
}

/** One run's state. */
class NgramRun {
  readonly machine: Machine;
  readonly violations: NgramViolation[] = [];
  readonly stats = ngramStatsZero();
  readonly #seed: number;
  readonly #inputs: SimInput[];
  readonly #plan: SimInput[];
  readonly #shards: number;
  readonly #memoryBudget: number | undefined;
  #crashesLeft: number;
  readonly #crashRandom: Prng;
  /** Draws when to try resuming an input with other options (a stream of its own). */
  readonly #optionsRandom: Prng;
  /** Identities of the inputs an import was started for. */
  readonly #started = new Set<number>();

  constructor(seed: number, profile: FaultProfile, memoryBudget: number | undefined) {
    this.#seed = seed;
    this.#memoryBudget = memoryBudget;
    this.machine = new Machine(seed, profile);
    const linesMax = memoryBudget === undefined ? inputLinesMax : budgetInputLinesMax;
    this.#inputs = drawInputs(eventPrng(seed, stream.inputs, 0), linesMax);
    const plan = eventPrng(seed, stream.plan, 0);
    this.#plan = Array.from(
      { length: this.#inputs.length + plan.below(3) },
      (_, at) =>
        at < this.#inputs.length ? this.#inputs[at] : this.#inputs[plan.below(this.#inputs.length)],
    );
    this.#shards = 1 + plan.below(ngramShardsMax);
    const bad = drawBadInputs(eventPrng(seed, stream.bad, 0), this.#inputs);
    this.#inputs.push(...bad.filter((input) => input.changedAfter === undefined));
    this.#plan.push(...bad);
    this.#crashRandom = eventPrng(seed, stream.crash, 0);
    this.#optionsRandom = eventPrng(seed, stream.options, 0);
    this.#crashesLeft = this.#crashRandom.below(crashesMax + 1);
    if (memoryBudget !== undefined) this.#judgeBudget(memoryBudget);
  }

  /** Judges the parts' memory budgets from now on (`sim/ngram_budget.ts`). */
  #judgeBudget(total: number): void {
    const lines = [...this.#inputs, ...this.#plan].reduce(
      (sum, input) => sum + input.lines.length,
      0,
    );
    const judge = new NgramBudgetJudge({
      total,
      shards: this.#shards,
      // Its n-grams, three bookkeeping keys an input and two an order, the words.
      keysMax: lines + 3 * this.#plan.length + budgetKeysSpare,
      disk: (name) => this.machine.disk(name),
      report: (property, message) => this.violate(property, message),
    });
    this.machine.judge = judge;
    this.machine.scheduler.onStep = (label) => judge.completed(label);
  }

  /**
   * Under a budget, at a quiet point (a reopened store checked, nothing in
   * flight): a checkpoint of every part, then `bound-memory` for each. A
   * fault that fails it is met again by the next import.
   */
  async #checkpointQuiet(store: NgramStore): Promise<void> {
    const judge = this.machine.judge;
    if (judge === undefined) return;
    const waited = await this.machine.until(store.checkpoint());
    if (waited.kind === "value") judge.judgeMemory();
  }

  violate(property: string, message: string): void {
    this.violations.push({ property, message: `seed ${this.#seed}: ${message}` });
  }

  async execute(): Promise<void> {
    let next = 0;
    for (let attempt = 0; attempt < attemptsMax && next < this.#plan.length; attempt++) {
      const store = await this.#open();
      if (store === undefined) return;
      if (!(await this.#check(store))) return;
      await this.#checkpointQuiet(store);
      if (this.violations.length > 0) return;
      next = await this.#importFrom(store, next);
      if (this.violations.length > 0) return;
    }
    if (next < this.#plan.length) return;
    const store = await this.#open();
    if (store === undefined) return;
    await this.#final(store);
  }

  /** A crash budget: drawn while crashes are left, else unbounded. */
  #budget(): number {
    if (this.#crashesLeft === 0) return waitStepsMax;
    return this.#crashRandom.below(crashStepsMax);
  }

  /** Crashes the machine (a drawn crash, or the restart after a disk error). */
  #crash(drawn: boolean): void {
    if (drawn) this.#crashesLeft--;
    this.stats.crashes++;
    this.machine.judge?.detach();
    this.machine.crash();
  }

  /** Opens the store; undefined (with a violation) if it cannot be. */
  async #open(): Promise<NgramStore | undefined> {
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const opening = openNgramStore({
        storage: this.machine.factory,
        shards: this.#shards,
        clock: this.machine.scheduler.clock,
        checkpoint: { epochOps: 100, epochMs: 10 },
        memoryBudget: this.#memoryBudget,
      });
      const waited = await this.machine.until(opening, this.#budget());
      if (waited.kind === "value") {
        this.machine.judge?.attach(waited.value);
        return waited.value;
      }
      if (waited.kind === "hang") return this.#hang("opening the store");
      if (waited.kind === "error" && !isDiskError(waited.error)) {
        this.violate("ngram-open", `the store did not reopen: ${(waited.error as Error)?.stack}`);
        return undefined;
      }
      this.#crash(waited.kind === "crash");
    }
    this.violate("ngram-open", `the store did not open in ${attemptsMax} attempts`);
    return undefined;
  }

  #hang(what: string): undefined {
    this.violate("hang", `${what} never finished (${this.machine.scheduler.pending} I/O pending)`);
    return undefined;
  }

  /** Imports the plan from `next` on; returns where the next attempt starts. */
  async #importFrom(store: NgramStore, next: number): Promise<number> {
    let at = next;
    while (at < this.#plan.length) {
      const input = this.#plan[at];
      if (this.#optionsRandom.chance(0.5) && !(await this.#otherOptionsRefused(store, input))) {
        return this.#plan.length;
      }
      this.#started.add(input.id);
      const importing = store.importSource(sourceOf(input), {
        chunkNgrams: 1 + this.#crashRandom.below(8),
        syncEveryChunks: 1 + this.#crashRandom.below(4),
      });
      const waited = await this.machine.until(importing, this.#budget());
      if (waited.kind === "hang") return this.#hang("an import") ?? this.#plan.length;
      if (waited.kind === "value") {
        this.stats.imports++;
        if (waited.value.status === "resumed") this.stats.resumes++;
        if (waited.value.status === "already-imported") this.stats.already++;
        at++;
        continue;
      }
      const expected = waited.kind === "error" &&
        (waited.error instanceof SimReaderError ||
          (input.changedAfter !== undefined && waited.error instanceof SimChangedError) ||
          (input.overflows === true && waited.error instanceof RangeError));
      if (expected) {
        this.stats.readerErrors++; // a bad file: the user moves on, the store stays open
        at++;
        continue;
      }
      if (waited.kind === "error") {
        if (!isDiskError(waited.error)) {
          this.violate("ngram-error", `an import failed: ${(waited.error as Error)?.stack}`);
          return this.#plan.length;
        }
        this.stats.failures++;
      }
      this.#noteMemory(store);
      this.#crash(waited.kind === "crash");
      return at;
    }
    this.#noteMemory(store);
    this.machine.judge?.detach();
    const closing = await this.machine.until(store.close(), this.#budget());
    if (closing.kind === "hang") this.#hang("a close");
    else if (closing.kind === "error" && !isDiskError(closing.error)) {
      this.violate("ngram-error", `a close failed: ${(closing.error as Error)?.stack}`);
    }
    this.#crash(closing.kind === "crash");
    return at;
  }

  /**
   * `ngram-options`: an input part of which a shard holds (done or not) may
   * not be resumed with other options. Tries it when that is so; false (with
   * a violation) if the store took it.
   */
  async #otherOptionsRefused(store: NgramStore, input: SimInput): Promise<boolean> {
    const read = await this.machine.until(store.importProgress(Uint8Array.of(0x51, input.id)));
    if (read.kind !== "value") return true; // a fault or a crash here: the run goes on as drawn
    const progress = read.value;
    if (progress.every((at) => at.done) || progress.every((at) => at.optionsHash === undefined)) {
      return true;
    }
    this.stats.optionProbes++;
    const other = { ...sourceOf(input), optionsHash: 2 };
    const tried = await this.machine.until(store.importSource(other));
    if (tried.kind === "error" && /read with other options/.test(String(tried.error))) return true;
    if (tried.kind === "error" && isDiskError(tried.error)) return true;
    this.violate(
      "ngram-options",
      `input ${input.id}, part of it in a shard, resumed with other options: ${tried.kind}`,
    );
    return false;
  }

  /** The counts the store must hold, given each started input's progress per shard. */
  async #expected(store: NgramStore): Promise<Map<string, number> | undefined> {
    const expected = new Map<string, number>();
    for (const id of this.#started) {
      const input = this.#inputs[id - 1];
      const waited = await this.machine.until(store.importProgress(Uint8Array.of(0x51, id)));
      if (waited.kind !== "value") return this.#hang("reading progress");
      const progress = waited.value;
      for (const line of input.lines) {
        const at = progress[store.shardOf(line.ngram)];
        if (!at.done && line.offset >= (at.progress ?? 0)) continue;
        expected.set(line.ngram, (expected.get(line.ngram) ?? 0) + line.count);
      }
    }
    return expected;
  }

  /** Checks `ngram-progress` and `ngram-totals` on a reopened store. */
  async #check(store: NgramStore): Promise<boolean> {
    const expected = await this.#expected(store);
    if (expected === undefined) return false;
    const held = await this.machine.until(collect(store));
    if (held.kind !== "value") {
      if (held.kind === "error") {
        this.violate("ngram-open", `listing failed: ${(held.error as Error)?.stack}`);
      } else this.#hang("listing");
      return false;
    }
    const problems = differences(expected, held.value);
    if (problems.length > 0) {
      this.violate("ngram-progress", `after ${this.stats.crashes} crashes: ${problems.join("; ")}`);
      return false;
    }
    const totals = await this.machine.until(store.totals());
    if (totals.kind !== "value") return this.#hang("totals") ?? false;
    const want = totalsOf(held.value);
    const got = JSON.stringify(totals.value);
    if (got !== JSON.stringify(want)) {
      this.violate("ngram-totals", `totals ${got}, the n-grams held give ${JSON.stringify(want)}`);
      return false;
    }
    return true;
  }

  /** Checks `ngram-final` once every import finished. */
  async #final(store: NgramStore): Promise<void> {
    if (!(await this.#check(store))) return;
    const expected = await this.#expected(store); // bad inputs: what their progress says
    if (expected === undefined) return;
    for (const id of this.#started) {
      const input = this.#inputs[id - 1];
      if (input.failAfter !== undefined || input.overflows) continue;
      const progress = await this.machine.until(store.importProgress(Uint8Array.of(0x51, id)));
      if (progress.kind !== "value") return void this.#hang("reading progress");
      if (!progress.value.every((at) => at.done)) {
        this.violate(
          "ngram-final",
          `input ${id} finished its import but is not done in every shard`,
        );
        return;
      }
    }
    const again = await this.machine.until(store.importSource(sourceOf(this.#inputs[0])));
    if (again.kind !== "value" || again.value.status !== "already-imported") {
      this.violate(
        "ngram-final",
        `importing a finished input again did not pass it by: ${again.kind}`,
      );
      return;
    }
    const held = await this.machine.until(collect(store));
    if (held.kind !== "value") return void this.#hang("listing");
    const problems = differences(expected, held.value);
    if (problems.length > 0) this.violate("ngram-final", problems.join("; "));
    this.#noteMemory(store);
    this.machine.judge?.detach();
    await this.machine.until(store.close());
  }

  /**
   * Adds what the budget evicted in `store` to the run's counts, before it
   * is closed or lost (only with a budget: reading it applies groups still
   * waiting, which must not change the runs without one).
   */
  #noteMemory(store: NgramStore): void {
    if (this.#memoryBudget !== undefined) this.stats.evictions += store.memory().evictions;
    const judged = this.machine.judge?.stats;
    if (judged === undefined) return;
    this.stats.memoryChecks = judged.memoryChecks;
    this.stats.budgetRounds = judged.rounds;
    this.stats.workJudged = judged.workJudged;
    this.stats.relocationsJudged = judged.relocations;
  }
}

/** Every n-gram the store holds with its count. */
async function collect(store: NgramStore): Promise<Map<string, number>> {
  const held = new Map<string, number>();
  for await (const { ngram, count } of store.entries()) held.set(ngram, count);
  return held;
}

/** What differs between the counts expected and held (at most a few lines). */
function differences(expected: Map<string, number>, held: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const [ngram, count] of expected) {
    if (held.get(ngram) !== count) {
      problems.push(`"${ngram}": ${held.get(ngram) ?? 0}, want ${count}`);
    }
  }
  for (const [ngram, count] of held) {
    if (!expected.has(ngram)) problems.push(`"${ngram}": ${count}, want none`);
  }
  return problems.slice(0, 5);
}

/** The per-order totals of a set of counts, as `NgramStore.totals` gives them. */
function totalsOf(held: Map<string, number>): { order: number; total: number; distinct: number }[] {
  const orders = new Map<number, { order: number; total: number; distinct: number }>();
  for (const [ngram, count] of held) {
    const order = ngram.split(" ").length;
    const at = orders.get(order) ?? { order, total: 0, distinct: 0 };
    orders.set(order, { order, total: at.total + count, distinct: at.distinct + 1 });
  }
  return [...orders.values()].sort((a, b) => a.order - b.order);
}
