/**
 * Unit tests of the epochs: the checkpoint options (defaults, presets, every
 * bad value refused), the triggers firing exactly at their thresholds, the
 * pacing of automatic checkpoints, and the stats.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AssertionError } from "../_assert.ts";
import {
  checkpointDutyMax,
  type CheckpointOptions,
  type EpochConfig,
  EpochTracker,
  resolveCheckpointOptions,
} from "./epochs.ts";

/** A checkpoint of `t` ms is followed by a pause of `t × pauseFactor` ms. */
const pauseFactor = 1 / checkpointDutyMax - 1;

const mebibyte = 1024 * 1024;

/** Options as a caller might build them at run time, typos included. */
function resolveLoose(options: unknown): EpochConfig {
  return resolveCheckpointOptions(options as CheckpointOptions);
}

/** A config with only the trigger under test reachable in a test's span. */
function config(overrides: CheckpointOptions): EpochConfig {
  return resolveCheckpointOptions({
    epochMs: 60_000,
    epochOps: 10_000_000,
    epochWalBytes: 10 * 1024 * mebibyte,
    ...overrides,
  });
}

Deno.test("resolveCheckpointOptions() defaults match the seed", () => {
  const expected = {
    epochMs: 100,
    epochOps: 10_000,
    epochWalBytes: 64 * mebibyte,
    retainSegments: 0,
    auto: true,
  };
  assert.deepEqual(resolveCheckpointOptions(undefined), expected);
  assert.deepEqual(resolveCheckpointOptions({}), expected);
  assert.deepEqual(resolveCheckpointOptions({ preset: "default" }), expected);
  assert.ok(Object.isFrozen(resolveCheckpointOptions(undefined)));
});

Deno.test("resolveCheckpointOptions() presets lowLatency and highThroughput", () => {
  assert.deepEqual(resolveCheckpointOptions({ preset: "lowLatency" }), {
    epochMs: 10,
    epochOps: 1_000,
    epochWalBytes: 8 * mebibyte,
    retainSegments: 0,
    auto: true,
  });
  assert.deepEqual(resolveCheckpointOptions({ preset: "highThroughput" }), {
    epochMs: 1_000,
    epochOps: 100_000,
    epochWalBytes: 256 * mebibyte,
    retainSegments: 0,
    auto: true,
  });
});

Deno.test("resolveCheckpointOptions() explicit fields override the preset", () => {
  assert.deepEqual(
    resolveCheckpointOptions({
      preset: "highThroughput",
      epochMs: 20,
      retainSegments: 3,
      auto: false,
    }),
    {
      epochMs: 20,
      epochOps: 100_000,
      epochWalBytes: 256 * mebibyte,
      retainSegments: 3,
      auto: false,
    },
  );
  assert.deepEqual(
    resolveCheckpointOptions({ preset: "lowLatency", epochOps: 50_000, epochWalBytes: mebibyte }),
    { epochMs: 10, epochOps: 50_000, epochWalBytes: mebibyte, retainSegments: 0, auto: true },
  );
  assert.equal(resolveCheckpointOptions({ epochMs: undefined }).epochMs, 100);
});

const boundaries: [
  name: "epochMs" | "epochOps" | "epochWalBytes" | "retainSegments",
  min: number,
  max: number,
][] = [
  ["epochMs", 10, 60_000],
  ["epochOps", 100, 10_000_000],
  ["epochWalBytes", 1_048_576, 10_737_418_240],
  ["retainSegments", 0, 100],
];

for (const [name, min, max] of boundaries) {
  Deno.test(`resolveCheckpointOptions() ${name} accepts ${min} to ${max} and no more`, () => {
    assert.equal(resolveCheckpointOptions({ [name]: min })[name], min);
    assert.equal(resolveCheckpointOptions({ [name]: max })[name], max);
    for (const value of [min - 1, max + 1]) {
      assert.throws(() => resolveCheckpointOptions({ [name]: value }), {
        name: "RangeError",
        message:
          `Cannot open store: checkpoint.${name} must be an integer from ${min} to ${max}, got ${value}`,
      });
    }
  });
}

Deno.test("resolveCheckpointOptions() rejects non-integers with a RangeError, non-numbers with a TypeError", () => {
  for (const [name, min] of boundaries) {
    for (const value of [min + 0.5, NaN, Infinity, -Infinity]) {
      assert.throws(() => resolveLoose({ [name]: value }), RangeError, `${name}: ${value}`);
    }
    for (const value of ["100", null, 10n, true]) {
      assert.throws(() => resolveLoose({ [name]: value }), TypeError, `${name}: ${value}`);
    }
  }
  assert.throws(() => resolveCheckpointOptions({ epochMs: 10.5 }), {
    message: "Cannot open store: checkpoint.epochMs must be an integer from 10 to 60000, got 10.5",
  });
  assert.throws(() => resolveLoose({ epochOps: "1000" }), {
    name: "TypeError",
    message: 'Cannot open store: checkpoint.epochOps must be a number, got "1000"',
  });
});

Deno.test("resolveCheckpointOptions() rejects unknown keys, naming a near miss", () => {
  assert.throws(() => resolveLoose({ epochMS: 50 }), {
    name: "TypeError",
    message: 'Cannot open store: unknown checkpoint option "epochMS", did you mean "epochMs"?',
  });
  assert.throws(() => resolveLoose({ interval: 50 }), {
    name: "TypeError",
    message: 'Cannot open store: unknown checkpoint option "interval", expected one of ' +
      "preset, epochMs, epochOps, epochWalBytes, retainSegments, auto",
  });
});

Deno.test("resolveCheckpointOptions() rejects a non-object, a bad preset or a non-boolean auto", () => {
  for (const options of [null, 5, "lowLatency", [], true]) {
    assert.throws(() => resolveLoose(options), TypeError, String(options));
  }
  assert.throws(() => resolveLoose({ preset: "fast" }), {
    name: "TypeError",
    message:
      'Cannot open store: checkpoint.preset must be "default", "lowLatency" or "highThroughput", got "fast"',
  });
  for (const preset of ["toString", "LowLatency", null, 1]) {
    assert.throws(() => resolveLoose({ preset }), TypeError, String(preset));
  }
  for (const auto of ["yes", 1, null]) {
    assert.throws(() => resolveLoose({ auto }), TypeError, String(auto));
  }
  assert.throws(() => resolveLoose({ auto: "no" }), {
    message: 'Cannot open store: checkpoint.auto must be a boolean, got "no"',
  });
});

Deno.test("EpochTracker operations trigger fires exactly at epochOps", () => {
  const tracker = new EpochTracker(config({ epochOps: 100 }), 0);
  assert.equal(tracker.noteWrites(60, 600, 1), false);
  assert.equal(tracker.noteWrites(39, 390, 2), false);
  assert.equal(tracker.due(2), false);
  assert.equal(tracker.noteWrites(1, 10, 3), true);
  assert.equal(tracker.due(3), true, "level-triggered until a checkpoint begins");
});

Deno.test("EpochTracker WAL bytes trigger fires exactly at epochWalBytes", () => {
  const tracker = new EpochTracker(config({ epochWalBytes: mebibyte }), 0);
  assert.equal(tracker.noteWrites(1, mebibyte - 1, 0), false);
  assert.equal(tracker.noteWrites(0, 1, 0), true, "WAL bytes alone count toward the trigger");
});

Deno.test("EpochTracker time trigger fires exactly epochMs after the first operation", () => {
  const tracker = new EpochTracker(config({ epochMs: 100 }), 1_000);
  assert.equal(tracker.noteWrites(1, 10, 1_040), false);
  assert.equal(
    tracker.noteWrites(1, 10, 1_100),
    false,
    "counts from the first write, not the start",
  );
  assert.equal(tracker.due(1_139.5), false);
  assert.equal(tracker.due(1_140), true);
  assert.equal(tracker.stats(1_140).currentEpoch.writeAgeMs, 100);
  assert.equal(tracker.stats(1_140).currentEpoch.ageMs, 140);
});

Deno.test("EpochTracker idle epoch is never due by time", () => {
  const tracker = new EpochTracker(config({ epochMs: 10 }), 0);
  assert.equal(tracker.due(1_000_000), false);
  assert.equal(tracker.noteWrites(0, 64, 1_000_000), false, "WAL bytes without operations");
  assert.equal(tracker.due(2_000_000), false);
  assert.equal(tracker.noteWrites(1, 64, 2_000_000), false);
  assert.equal(tracker.due(2_000_010), true);
  tracker.endCheckpoint(tracker.beginCheckpoint(2_000_010), 2_000_011, true);
  assert.equal(tracker.due(9_000_000), false, "the new epoch is idle");
});

Deno.test("EpochTracker auto=false never makes a checkpoint due", () => {
  const tracker = new EpochTracker(config({ epochOps: 100, epochMs: 10, auto: false }), 0);
  assert.equal(tracker.noteWrites(1_000, 100 * mebibyte, 0), false);
  assert.equal(tracker.due(1_000), false);
  assert.equal(tracker.beginCheckpoint(1_000), 1, "manual checkpoints still work");
});

Deno.test("EpochTracker does not re-trigger during a checkpoint", () => {
  const tracker = new EpochTracker(config({ epochOps: 100, epochMs: 10 }), 0);
  assert.equal(tracker.noteWrites(100, 1_000, 0), true);
  const epoch = tracker.beginCheckpoint(0);
  assert.equal(epoch, 1);
  assert.equal(tracker.due(0), false);
  assert.equal(tracker.noteWrites(150, 1_500, 5), false, "over epochOps, but one is in progress");
  assert.equal(tracker.due(1_000), false, "over epochMs, but one is in progress");
  assert.equal(tracker.stats(1_000).checkpointInProgress, true);
  assert.throws(() => tracker.beginCheckpoint(1_000), AssertionError);
  tracker.endCheckpoint(epoch, 1_000, true);
  // Paced: a checkpoint of 1,000 ms is followed by a pause without one.
  const resumes = 1_000 + 1_000 * pauseFactor;
  assert.equal(tracker.due(resumes - 1), false, "over epochOps, but the pause is not over");
  assert.equal(tracker.due(resumes), true, "judged against the new epoch's counters");
  const stats = tracker.stats(resumes);
  assert.equal(stats.checkpointInProgress, false);
  assert.deepEqual(stats.currentEpoch, {
    operations: 150,
    walBytes: 1_500,
    ageMs: resumes,
    writeAgeMs: resumes - 5,
  });
});

Deno.test("EpochTracker a new epoch below every threshold is not due after the checkpoint", () => {
  const tracker = new EpochTracker(config({ epochOps: 100, epochMs: 50 }), 0);
  tracker.noteWrites(100, 1_000, 0);
  const epoch = tracker.beginCheckpoint(0);
  tracker.noteWrites(99, 990, 2);
  tracker.endCheckpoint(epoch, 4, true); // its pause ends before the epoch is 50 ms old
  assert.ok(4 + 4 * pauseFactor < 52);
  assert.equal(tracker.due(51), false);
  assert.equal(tracker.due(52), true, "50 ms after the new epoch's first write");
});

Deno.test("EpochTracker stats averages after a few epochs", () => {
  const tracker = new EpochTracker(config({}), 100);
  const fresh = tracker.stats(100);
  assert.deepEqual(fresh.averages, {
    operationsPerEpoch: 0,
    walBytesPerEpoch: 0,
    checkpointMs: 0,
    epochMs: 0,
  });
  // Epoch 1: 10 ops, 1,000 B, 100..200; checkpoint 200..204.
  tracker.noteWrites(10, 1_000, 150);
  assert.equal(tracker.beginCheckpoint(200), 1);
  tracker.endCheckpoint(1, 204, true);
  // Epoch 2: 30 ops, 5,000 B, 200..500; checkpoint 500..512 fails.
  tracker.noteWrites(30, 5_000, 300);
  assert.equal(tracker.beginCheckpoint(500), 2);
  tracker.endCheckpoint(2, 512, false);
  // Epoch 3: 20 ops, 3,000 B, 500..800; checkpoint 800..808.
  tracker.noteWrites(5, 1_000, 600);
  tracker.noteWrites(15, 2_000, 700);
  assert.equal(tracker.beginCheckpoint(800), 3);
  tracker.endCheckpoint(3, 808, true);
  tracker.noteWrites(7, 70, 900);
  assert.deepEqual(tracker.stats(1_000), {
    epoch: 4,
    epochs: 3,
    checkpoints: 2,
    failedCheckpoints: 1,
    checkpointInProgress: false,
    operations: 67,
    walBytes: 9_070,
    currentEpoch: { operations: 7, walBytes: 70, ageMs: 200, writeAgeMs: 100 },
    averages: {
      operationsPerEpoch: 20,
      walBytesPerEpoch: 3_000,
      checkpointMs: 6,
      epochMs: 700 / 3,
    },
    lastDurableEpoch: 3,
    lastCheckpointMs: 8,
  });
});

Deno.test("EpochTracker lastDurableEpoch advances only on ok=true", () => {
  const tracker = new EpochTracker(config({}), 0);
  tracker.endCheckpoint(tracker.beginCheckpoint(0), 5, true);
  assert.equal(tracker.stats(5).lastDurableEpoch, 1);
  assert.equal(tracker.stats(5).lastCheckpointMs, 5);
  tracker.endCheckpoint(tracker.beginCheckpoint(10), 30, false);
  tracker.endCheckpoint(tracker.beginCheckpoint(40), 90, false);
  const failed = tracker.stats(90);
  assert.equal(failed.lastDurableEpoch, 1);
  assert.equal(failed.lastCheckpointMs, 5, "failed checkpoints leave the timings alone");
  assert.equal(failed.failedCheckpoints, 2);
  assert.equal(failed.checkpoints, 1);
  tracker.endCheckpoint(tracker.beginCheckpoint(100), 103, true);
  assert.equal(tracker.stats(103).lastDurableEpoch, 4);
  assert.equal(tracker.stats(103).averages.checkpointMs, 4);
});

Deno.test("EpochTracker asserts its preconditions", () => {
  const tracker = new EpochTracker(config({}), 0);
  assert.throws(() => tracker.endCheckpoint(1, 0, true), AssertionError, "none in progress");
  const epoch = tracker.beginCheckpoint(0);
  assert.throws(() => tracker.endCheckpoint(epoch + 1, 0, true), AssertionError, "wrong epoch");
  tracker.endCheckpoint(epoch, 0, true);
  for (const [ops, bytes] of [[-1, 0], [0, -1], [1.5, 0], [0, NaN], [2 ** 53, 0]]) {
    assert.throws(() => tracker.noteWrites(ops, bytes, 0), AssertionError, `${ops}, ${bytes}`);
  }
  tracker.noteWrites(Number.MAX_SAFE_INTEGER, 0, 0);
  assert.throws(() => tracker.noteWrites(1, 0, 0), AssertionError, "totals stay safe integers");
  assert.throws(() => tracker.due(NaN), AssertionError);
  assert.throws(() => new EpochTracker(config({}), Infinity), AssertionError);
  assert.throws(
    () => new EpochTracker({ ...config({}), epochMs: 5 }, 0),
    AssertionError,
    "a config resolveCheckpointOptions would refuse",
  );
});

Deno.test("EpochTracker treats a stale clock reading as the newest seen", () => {
  const tracker = new EpochTracker(config({ epochMs: 100 }), 0);
  tracker.noteWrites(1, 10, 50);
  assert.equal(tracker.due(150), true);
  assert.equal(tracker.noteWrites(1, 10, 120), true, "read before an await: still due");
  const epoch = tracker.beginCheckpoint(140);
  tracker.endCheckpoint(epoch, 130, true);
  assert.equal(tracker.stats(0).lastCheckpointMs, 0, "time never runs backwards");
  assert.equal(tracker.stats(0).averages.epochMs, 150);
});

Deno.test("EpochTracker paces checkpoints to a tenth of the time, but never holds back the WAL bytes trigger", () => {
  assert.equal(checkpointDutyMax, 0.1);
  const tracker = new EpochTracker(config({ epochOps: 100, epochWalBytes: 1024 * 1024 }), 0);
  tracker.noteWrites(100, 1_000, 0);
  tracker.endCheckpoint(tracker.beginCheckpoint(0), 300, true); // took 300 ms
  assert.equal(tracker.noteWrites(500, 1_000, 350), false, "ops over, pause until 3,000");
  assert.equal(tracker.due(2_999), false);
  assert.equal(tracker.due(3_000), true);
  const again = new EpochTracker(config({ epochOps: 100, epochWalBytes: 1024 * 1024 }), 0);
  again.noteWrites(100, 1_000, 0);
  again.endCheckpoint(again.beginCheckpoint(0), 300, true);
  assert.equal(again.noteWrites(1, 1024 * 1024, 301), true, "the WAL bytes trigger is not paced");
  // A failed checkpoint does not set the pace.
  const failed = new EpochTracker(config({ epochOps: 100 }), 0);
  failed.noteWrites(100, 1_000, 0);
  failed.endCheckpoint(failed.beginCheckpoint(0), 300, false);
  assert.equal(failed.noteWrites(100, 1_000, 301), true);
});

Deno.test("EpochTracker paces by a checkpoint's own work when it slept for writers", () => {
  const tracker = new EpochTracker(config({ epochOps: 100, epochWalBytes: 1024 * 1024 }), 0);
  tracker.noteWrites(100, 1_000, 0);
  assert.equal(tracker.currentOperations, 100);
  const epoch = tracker.beginCheckpoint(0);
  assert.equal(tracker.currentOperations, 0, "a new epoch counts from zero");
  tracker.noteWrites(150, 1_000, 10); // writers go on while it runs
  assert.equal(tracker.currentOperations, 150);
  // 1,000 ms from start to end, of which 100 ms its own work: the pause is 9 × 100 ms.
  tracker.endCheckpoint(epoch, 1_000, true, 100);
  assert.equal(tracker.due(1_000 + 100 * pauseFactor - 1), false);
  assert.equal(tracker.due(1_000 + 100 * pauseFactor), true);
  assert.equal(tracker.stats(1_000).lastCheckpointMs, 1_000, "stats report the whole duration");
  assert.equal(tracker.walBytesReached, false);
  tracker.noteWrites(1, 1024 * 1024, 1_001);
  assert.equal(tracker.walBytesReached, true, "the epoch's WAL bytes reached their trigger");
});
