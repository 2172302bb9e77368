/**
 * Epochs: when the store checkpoints on its own, and what it reports about it.
 *
 * An epoch is the span of writes between two checkpoints. A checkpoint is due
 * when the current epoch reaches a trigger: `epochOps` operations,
 * `epochWalBytes` WAL bytes, or `epochMs` milliseconds since its first
 * operation. Pure logic: the caller passes every clock reading in, so the
 * simulator replays a run exactly, and does the I/O itself.
 *
 * Why the time trigger counts from the epoch's first operation rather than
 * from the epoch's start: an epoch with no operations has nothing to
 * checkpoint, so an idle store never checkpoints by time (the WAL record a
 * checkpoint itself may write is not an operation, so it cannot restart the
 * cycle either); and after an idle spell a single write does not force a
 * checkpoint at once, it waits up to `epochMs` for company. `epochMs` thus
 * bounds how long an operation stays outside the image while checkpoints
 * keep up.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { checkOptions, describe, type OptionsPlace, type OptionTypes } from "../_options.ts";

/** A named set of trigger thresholds for {@link CheckpointOptions.preset}. */
export type CheckpointPreset = "default" | "lowLatency" | "highThroughput";

/**
 * When the store checkpoints: the `checkpoint` option of the store. Every
 * field is optional; explicit fields override the preset's.
 *
 * @example Frequent small checkpoints, but never more than 500 operations apart
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointOptions, resolveCheckpointOptions } from "./epochs.ts";
 * const options: CheckpointOptions = { preset: "lowLatency", epochOps: 500 };
 * assert.equal(resolveCheckpointOptions(options).epochOps, 500);
 * ```
 */
export interface CheckpointOptions {
  /**
   * The thresholds to start from (default `"default"`): `"lowLatency"` is
   * 10 ms, 1,000 operations, 8 MiB; `"highThroughput"` is 1,000 ms,
   * 100,000 operations, 256 MiB.
   */
  preset?: CheckpointPreset;
  /** Milliseconds from an epoch's first operation to its checkpoint (default 100, 10 to 60,000). */
  epochMs?: number;
  /** Operations in an epoch that make a checkpoint due (default 10,000, 100 to 10,000,000). */
  epochOps?: number;
  /** WAL bytes in an epoch that make a checkpoint due (default 64 MiB, 1 MiB to 10 GiB). */
  epochWalBytes?: number;
  /**
   * WAL segments kept after a checkpoint beyond what the older header slot
   * needs to fall back on (default 0, 0 to 100).
   */
  retainSegments?: number;
  /** `true` (default): checkpoint when a trigger fires. `false`: only on `store.checkpoint()`. */
  auto?: boolean;
}

/**
 * {@link CheckpointOptions} resolved: every field present and in range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EpochConfig, resolveCheckpointOptions } from "./epochs.ts";
 * const config: EpochConfig = resolveCheckpointOptions(undefined);
 * assert.ok(config.epochMs === 100 && config.auto);
 * ```
 */
export interface EpochConfig {
  /** Milliseconds from an epoch's first operation to its checkpoint. */
  readonly epochMs: number;
  /** Operations in an epoch that make a checkpoint due. */
  readonly epochOps: number;
  /** WAL bytes in an epoch that make a checkpoint due. */
  readonly epochWalBytes: number;
  /** WAL segments wholly covered by the image kept after a checkpoint. */
  readonly retainSegments: number;
  /** Whether triggers make checkpoints due at all. */
  readonly auto: boolean;
}

const mebibyte = 1024 * 1024;

type Thresholds = Pick<EpochConfig, "epochMs" | "epochOps" | "epochWalBytes">;

/** The presets (seed `001`): shorter epochs lose less replay time, longer ones write less. */
const presets: Readonly<Record<CheckpointPreset, Readonly<Thresholds>>> = {
  default: { epochMs: 100, epochOps: 10_000, epochWalBytes: 64 * mebibyte },
  lowLatency: { epochMs: 10, epochOps: 1_000, epochWalBytes: 8 * mebibyte },
  highThroughput: { epochMs: 1_000, epochOps: 100_000, epochWalBytes: 256 * mebibyte },
};

const retainSegmentsDefault = 0;
/**
 * The share of the time automatic checkpoints may take: after one whose own
 * work took `t` ms, the next is due (by operations or time) no sooner than
 * `t × (1 / checkpointDutyMax - 1)` ms after it ended; and while writers are
 * busy, one sleeps between its slices of work so that it takes about this
 * share of the time as it runs (see the checkpointer). The WAL-bytes trigger
 * is never held back, which bounds the log.
 */
export const checkpointDutyMax = 0.1;

type NumericOption = "epochMs" | "epochOps" | "epochWalBytes" | "retainSegments";

/** The accepted range of each numeric option, inclusive. */
const ranges: Readonly<Record<NumericOption, readonly [min: number, max: number]>> = {
  epochMs: [10, 60_000],
  epochOps: [100, 10_000_000],
  epochWalBytes: [mebibyte, 10 * 1024 * mebibyte],
  retainSegments: [0, 100],
};

/** The keys of {@link CheckpointOptions}, each with its type. */
const optionTypes: OptionTypes = {
  preset: Object.keys(presets),
  epochMs: "number",
  epochOps: "number",
  epochWalBytes: "number",
  retainSegments: "number",
  auto: "boolean",
};

/** Where {@link resolveCheckpointOptions} checks its options, for the messages. */
const optionsPlace: OptionsPlace = {
  operation: "open store",
  object: "checkpoint",
  key: "checkpoint option",
  keyPrefix: "checkpoint.",
};

/**
 * The option's value if given, else `fallback`; a `RangeError` unless an
 * integer in range ({@link checkOptions} has checked that it is a number).
 */
function integerOption(options: CheckpointOptions, name: NumericOption, fallback: number): number {
  const value: unknown = options[name];
  if (value === undefined) return fallback;
  assert(typeof value === "number", "checkOptions lets only numbers through");
  const [min, max] = ranges[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot open store: checkpoint.${name} must be an integer from ${min} to ${max}, got ${
        describe(value)
      }`,
    );
  }
  return value;
}

/**
 * Resolves the `checkpoint` option of the store: the preset's thresholds,
 * overridden field by field, each checked against its range.
 *
 * @param options The options as given, or `undefined` for the defaults.
 * @returns A frozen config with every field present.
 * @throws {TypeError} if `options` is not an object, a key is not a known
 * option (a typo such as `epochMS` is caught, not ignored), `preset` is not a
 * known preset, `auto` is not a boolean or a numeric option not a number.
 * @throws {RangeError} if a numeric option is not an integer in its range.
 *
 * @example Defaults, a preset, and an override
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveCheckpointOptions } from "./epochs.ts";
 * const defaults = resolveCheckpointOptions(undefined);
 * assert.ok(defaults.epochMs === 100 && defaults.epochOps === 10_000);
 * const fast = resolveCheckpointOptions({ preset: "lowLatency", epochMs: 50 });
 * assert.ok(fast.epochMs === 50 && fast.epochOps === 1_000);
 * assert.throws(() => resolveCheckpointOptions({ epochMs: 5 }), RangeError);
 * ```
 */
export function resolveCheckpointOptions(options: CheckpointOptions | undefined): EpochConfig {
  if (options === undefined) options = {};
  checkOptions(options, optionTypes, optionsPlace);
  const preset = presets[options.preset ?? "default"];
  const auto = options.auto ?? true;
  const config: EpochConfig = Object.freeze({
    epochMs: integerOption(options, "epochMs", preset.epochMs),
    epochOps: integerOption(options, "epochOps", preset.epochOps),
    epochWalBytes: integerOption(options, "epochWalBytes", preset.epochWalBytes),
    retainSegments: integerOption(options, "retainSegments", retainSegmentsDefault),
    auto,
  });
  assertConfig(config);
  return config;
}

/** Asserts that a config is one {@link resolveCheckpointOptions} could return. */
function assertConfig(config: EpochConfig): void {
  for (const name of Object.keys(ranges) as NumericOption[]) {
    const [min, max] = ranges[name];
    const value = config[name];
    assert(
      Number.isInteger(value) && min <= value && value <= max,
      `epoch config ${name} in range`,
    );
  }
  assert(typeof config.auto === "boolean", "epoch config auto is a boolean");
}

/**
 * What {@link EpochTracker.stats} reports. Averages are over sealed epochs
 * and committed checkpoints, 0 before the first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EpochTracker, type EpochStats, resolveCheckpointOptions } from "./epochs.ts";
 * const stats: EpochStats = new EpochTracker(resolveCheckpointOptions(undefined), 0).stats(0);
 * assert.ok(stats.epoch === 1 && stats.lastDurableEpoch === 0);
 * ```
 */
export interface EpochStats {
  /** The current epoch's number: 1 at open, one more after each checkpoint begins. */
  epoch: number;
  /** Epochs sealed (checkpoints begun) since open. */
  epochs: number;
  /** Checkpoints committed since open. */
  checkpoints: number;
  /** Checkpoints that ended without committing since open. */
  failedCheckpoints: number;
  /** Whether a checkpoint has begun and not yet ended. */
  checkpointInProgress: boolean;
  /** Operations noted since open. */
  operations: number;
  /** WAL bytes noted since open. */
  walBytes: number;
  /**
   * The current epoch: its operations and WAL bytes, milliseconds since it
   * began, and milliseconds since its first operation (0 while idle).
   */
  currentEpoch: { operations: number; walBytes: number; ageMs: number; writeAgeMs: number };
  /** Per sealed epoch: operations, WAL bytes, length in ms; per committed checkpoint: ms. */
  averages: {
    operationsPerEpoch: number;
    walBytesPerEpoch: number;
    checkpointMs: number;
    epochMs: number;
  };
  /** The newest epoch whose checkpoint committed (0 if none). */
  lastDurableEpoch: number;
  /** How long the last committed checkpoint took, in ms (0 if none). */
  lastCheckpointMs: number;
}

/**
 * Tracks the current epoch against the triggers of an {@link EpochConfig} and
 * keeps the epoch statistics. One checkpoint at a time: while one is in
 * progress no trigger fires; writes noted meanwhile count toward the new
 * epoch, whose triggers are judged once the checkpoint ends.
 *
 * Every method takes the clock reading `now` in ms from the store's
 * monotonic clock. A reading older than one already seen (read before an
 * `await`, say) counts as the newest seen, so time never runs backwards here.
 *
 * A failed checkpoint only counts in `failedCheckpoints`: the sealed epoch's
 * writes stay in the WAL, and the store refuses work after an I/O error
 * anyway, so there is nothing to retry here.
 *
 * @example The store's loop
 * ```ts
 * import assert from "node:assert/strict";
 * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
 * const tracker = new EpochTracker(resolveCheckpointOptions({ epochOps: 100 }), 0);
 * assert.ok(!tracker.noteWrites(99, 4_000, 1));
 * assert.ok(tracker.noteWrites(1, 40, 2)); // 100 operations: due
 * const epoch = tracker.beginCheckpoint(2);
 * assert.ok(!tracker.noteWrites(100, 4_000, 3)); // not while one is in progress
 * tracker.endCheckpoint(epoch, 7, true);
 * assert.ok(!tracker.due(51)); // the new epoch reached 100, but the pause after it lasts 45 ms
 * assert.ok(tracker.due(52));
 * const stats = tracker.stats(7);
 * assert.ok(stats.lastDurableEpoch === 1 && stats.lastCheckpointMs === 5);
 * ```
 */
export class EpochTracker {
  /** The thresholds this tracker judges against. */
  readonly config: EpochConfig;
  #latestNow: number;
  #epoch = 1;
  #epochBeganAt: number;
  #epochOperations = 0;
  #epochWalBytes = 0;
  /** When the current epoch's first operation was noted; `undefined` while idle. */
  #firstWriteAt: number | undefined;
  /** The epoch being checkpointed, and since when; 0 when none is in progress. */
  #checkpointEpoch = 0;
  #checkpointBeganAt = 0;
  #epochsSealed = 0;
  #sealedOperations = 0;
  #sealedWalBytes = 0;
  #sealedMs = 0;
  #checkpoints = 0;
  #failedCheckpoints = 0;
  #checkpointMsTotal = 0;
  #lastDurableEpoch = 0;
  #lastCheckpointMs = 0;
  /** The last checkpoint's own work, its pauses for writers left out: what pacing counts. */
  #lastCheckpointWorkMs = 0;
  /** When the last committed checkpoint ended (pacing, see {@link EpochTracker.due}). */
  #lastEndedAt = Number.NEGATIVE_INFINITY;

  /**
   * Starts epoch 1 at `now`.
   *
   * @param config The resolved thresholds, from {@link resolveCheckpointOptions}.
   * @param now The clock reading in ms at open.
   * @throws {AssertionError} if `config` is out of range or `now` is not finite.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 1_000);
   * assert.equal(tracker.stats(1_250).currentEpoch.ageMs, 250);
   * ```
   */
  constructor(config: EpochConfig, now: number) {
    assertConfig(config);
    assert(Number.isFinite(now), "epoch clock readings are finite");
    this.config = config;
    this.#latestNow = now;
    this.#epochBeganAt = now;
  }

  /** The newest of `now` and every reading seen before. */
  #clock(now: number): number {
    assert(Number.isFinite(now), "epoch clock readings are finite");
    if (now > this.#latestNow) this.#latestNow = now;
    return this.#latestNow;
  }

  /**
   * Notes writes accepted into the current epoch.
   *
   * @param ops Operations accepted (0 for WAL bytes that are not operations).
   * @param walBytes The WAL bytes they took.
   * @param now The clock reading in ms.
   * @returns Whether a checkpoint is due, as {@link EpochTracker.due} says.
   * @throws {AssertionError} if a count is not a non-negative safe integer or a
   * total would leave the safe integers.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const config = resolveCheckpointOptions({ epochWalBytes: 1024 * 1024 });
   * const tracker = new EpochTracker(config, 0);
   * assert.ok(!tracker.noteWrites(1, 1024 * 1024 - 1, 0));
   * assert.ok(tracker.noteWrites(1, 1, 0));
   * ```
   */
  noteWrites(ops: number, walBytes: number, now: number): boolean {
    assert(Number.isSafeInteger(ops) && ops >= 0, "noted operations are a non-negative integer");
    assert(
      Number.isSafeInteger(walBytes) && walBytes >= 0,
      "noted WAL bytes are a non-negative integer",
    );
    const time = this.#clock(now);
    const operations = this.#epochOperations + ops;
    const bytes = this.#epochWalBytes + walBytes;
    assert(
      Number.isSafeInteger(this.#sealedOperations + operations) &&
        Number.isSafeInteger(this.#sealedWalBytes + bytes),
      "epoch totals stay safe integers",
    );
    if (this.#epochOperations === 0 && ops > 0) this.#firstWriteAt = time;
    this.#epochOperations = operations;
    this.#epochWalBytes = bytes;
    assert((this.#firstWriteAt === undefined) === (operations === 0), "idle iff no operations");
    return this.due(time);
  }

  /**
   * Whether a checkpoint is due: `auto` is on, no checkpoint is in progress,
   * and the current epoch has reached `epochWalBytes` WAL bytes, or (once
   * the pause after the last checkpoint is over, see
   * {@link checkpointDutyMax}) `epochOps` operations or `epochMs` since its
   * first operation. An epoch with no
   * operations is never due by time: there is nothing to checkpoint.
   * Level-triggered: stays true until {@link EpochTracker.beginCheckpoint}.
   *
   * @param now The clock reading in ms.
   * @returns Whether the store should begin a checkpoint.
   * @throws {AssertionError} if `now` is not finite.
   *
   * @example Idle epochs are not due by time
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 0);
   * assert.ok(!tracker.due(10_000));
   * tracker.noteWrites(1, 30, 10_000);
   * assert.ok(!tracker.due(10_099) && tracker.due(10_100));
   * ```
   */
  due(now: number): boolean {
    const time = this.#clock(now);
    if (!this.config.auto || this.#checkpointEpoch !== 0) return false;
    if (this.#epochWalBytes >= this.config.epochWalBytes) return true;
    // Paced: checkpoints take at most `checkpointDutyMax` of the time, so a
    // store under constant load does not checkpoint back to back (each
    // checkpoint rewrites the hot paths; fewer, larger ones write less).
    const rest = this.#lastCheckpointWorkMs * (1 / checkpointDutyMax - 1);
    if (time - this.#lastEndedAt < rest) return false;
    if (this.#epochOperations >= this.config.epochOps) return true;
    return this.#firstWriteAt !== undefined && time - this.#firstWriteAt >= this.config.epochMs;
  }

  /**
   * A checkpoint begins: seals the current epoch and begins the next, with
   * its counters at zero. Whether a trigger fired or not (a manual
   * checkpoint, an idle epoch) does not matter.
   *
   * @param now The clock reading in ms.
   * @returns The sealed epoch's number, to pass to {@link EpochTracker.endCheckpoint}.
   * @throws {AssertionError} if a checkpoint is already in progress.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 0);
   * assert.equal(tracker.beginCheckpoint(40), 1);
   * assert.equal(tracker.stats(40).epoch, 2);
   * ```
   */
  beginCheckpoint(now: number): number {
    assert(this.#checkpointEpoch === 0, "one checkpoint at a time");
    const time = this.#clock(now);
    const sealed = this.#epoch;
    assert(Number.isSafeInteger(sealed + 1), "epoch numbers stay safe integers");
    this.#sealedOperations += this.#epochOperations;
    this.#sealedWalBytes += this.#epochWalBytes;
    this.#sealedMs += time - this.#epochBeganAt;
    this.#epochsSealed += 1;
    this.#checkpointEpoch = sealed;
    this.#checkpointBeganAt = time;
    this.#epoch = sealed + 1;
    this.#epochBeganAt = time;
    this.#epochOperations = 0;
    this.#epochWalBytes = 0;
    this.#firstWriteAt = undefined;
    assert(this.#epochsSealed === sealed, "every epoch before the current one is sealed");
    return sealed;
  }

  /**
   * The checkpoint of `epoch` ended: committed (durable) if `ok`, else failed.
   *
   * @param epoch The number {@link EpochTracker.beginCheckpoint} returned.
   * @param now The clock reading in ms.
   * @param ok Whether the checkpoint committed.
   * @throws {AssertionError} if `epoch` is not the checkpoint in progress.
   *
   * @example Only a committed checkpoint makes its epoch durable
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 0);
   * tracker.endCheckpoint(tracker.beginCheckpoint(0), 3, false);
   * assert.equal(tracker.stats(3).lastDurableEpoch, 0);
   * tracker.endCheckpoint(tracker.beginCheckpoint(3), 9, true);
   * assert.equal(tracker.stats(9).lastDurableEpoch, 2);
   * ```
   */
  endCheckpoint(epoch: number, now: number, ok: boolean, workMs?: number): void {
    assert(this.#checkpointEpoch !== 0, "a checkpoint is in progress");
    assert(epoch === this.#checkpointEpoch, "the checkpoint that ends is the one that began");
    const time = this.#clock(now);
    const durationMs = time - this.#checkpointBeganAt;
    assert(durationMs >= 0, "checkpoints take non-negative time");
    assert(
      workMs === undefined || (workMs >= 0 && workMs <= durationMs + 1),
      "work within the time",
    );
    this.#checkpointEpoch = 0;
    if (!ok) {
      this.#failedCheckpoints += 1;
      return;
    }
    assert(epoch > this.#lastDurableEpoch, "durable epochs only advance");
    this.#checkpoints += 1;
    this.#checkpointMsTotal += durationMs;
    this.#lastDurableEpoch = epoch;
    this.#lastCheckpointMs = durationMs;
    this.#lastCheckpointWorkMs = Math.min(workMs ?? durationMs, durationMs);
    this.#lastEndedAt = time;
  }

  /**
   * Operations accepted in the current epoch (those made while a
   * checkpoint runs included): a checkpoint that sees it grow knows writers
   * are busy.
   */
  get currentOperations(): number {
    return this.#epochOperations;
  }

  /**
   * WAL bytes of the current epoch: what was logged since the last
   * checkpoint began (a memory budget checkpoints early on it: nothing
   * written since can be evicted before a checkpoint writes it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 0);
   * tracker.noteWrites(3, 120, 1);
   * assert.equal(tracker.currentWalBytes, 120);
   * ```
   */
  get currentWalBytes(): number {
    return this.#epochWalBytes;
  }

  /**
   * Whether the current epoch has reached `epochWalBytes` WAL bytes: the log
   * grows past its bound until a checkpoint ends, so one that runs should
   * not hold back.
   */
  get walBytesReached(): boolean {
    return this.#epochWalBytes >= this.config.epochWalBytes;
  }

  /**
   * The epoch statistics.
   *
   * @param now The clock reading in ms, for the current epoch's ages.
   * @returns A fresh snapshot.
   * @throws {AssertionError} if `now` is not finite.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EpochTracker, resolveCheckpointOptions } from "./epochs.ts";
   * const tracker = new EpochTracker(resolveCheckpointOptions(undefined), 0);
   * tracker.noteWrites(10, 500, 0);
   * tracker.endCheckpoint(tracker.beginCheckpoint(20), 24, true);
   * const stats = tracker.stats(30);
   * assert.ok(stats.averages.operationsPerEpoch === 10 && stats.averages.epochMs === 20);
   * assert.ok(stats.currentEpoch.ageMs === 10 && stats.operations === 10);
   * ```
   */
  stats(now: number): EpochStats {
    const time = this.#clock(now);
    const sealed = this.#epochsSealed;
    const checkpoints = this.#checkpoints;
    assert(checkpoints + this.#failedCheckpoints <= sealed, "each checkpoint sealed an epoch");
    return {
      epoch: this.#epoch,
      epochs: sealed,
      checkpoints,
      failedCheckpoints: this.#failedCheckpoints,
      checkpointInProgress: this.#checkpointEpoch !== 0,
      operations: this.#sealedOperations + this.#epochOperations,
      walBytes: this.#sealedWalBytes + this.#epochWalBytes,
      currentEpoch: {
        operations: this.#epochOperations,
        walBytes: this.#epochWalBytes,
        ageMs: time - this.#epochBeganAt,
        writeAgeMs: this.#firstWriteAt === undefined ? 0 : time - this.#firstWriteAt,
      },
      averages: {
        operationsPerEpoch: sealed === 0 ? 0 : this.#sealedOperations / sealed,
        walBytesPerEpoch: sealed === 0 ? 0 : this.#sealedWalBytes / sealed,
        checkpointMs: checkpoints === 0 ? 0 : this.#checkpointMsTotal / checkpoints,
        epochMs: sealed === 0 ? 0 : this.#sealedMs / sealed,
      },
      lastDurableEpoch: this.#lastDurableEpoch,
      lastCheckpointMs: this.#lastCheckpointMs,
    };
  }
}
