/**
 * Workloads: the steps a simulated run takes, drawn from the seed. Every
 * step's content comes from `eventPrng(seed, stream, step id)`, never from one
 * running stream, so the shrinker can drop steps and keep the rest unchanged.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { keyBytesMax } from "../lib/limits.ts";
import { drawDelta, drawKeySpace, drawValue, type KeySpace, nearMiss, pickKey } from "./keys.ts";
import { eventPrng, type Prng } from "./prng.ts";

/**
 * A write or read a client issues. Keys are byte strings (one char per byte,
 * see `keys.ts`), drawn from a small hot set and a wide cold one.
 */
export type SimOp =
  | { type: "add"; key: string; delta: number }
  | { type: "set"; key: string; value: number }
  | { type: "delete"; key: string }
  | {
    type: "atomic";
    checks: { key: string; value: number | undefined }[];
    ops: SimMutation[];
    /** Keys go to the store as strings (a counting batch: the store's ASCII fast path). */
    text?: boolean;
  }
  | { type: "get"; key: string }
  | { type: "getMany"; keys: string[] }
  | { type: "list"; selector: SimSelector; limit?: number; reverse?: boolean }
  | {
    type: "scan";
    selector: SimSelector;
    limit?: number;
    reverse?: boolean;
    /** The visitor returns `false` at this visit (1-based): the scan must stop there. */
    stopAfter?: number;
  };

/** A list selector in the shapes of Deno KV's (byte-string keys). */
export type SimSelector =
  | { prefix: string }
  | { prefix: string; start: string }
  | { prefix: string; end: string }
  | { start: string; end: string };

/** A mutation inside an atomic operation. */
export type SimMutation =
  | { type: "add"; key: string; delta: number }
  | { type: "set"; key: string; value: number }
  | { type: "delete"; key: string };

/**
 * One step of a run. `drive` is how many I/O completions the scheduler
 * makes after it. `closeCrash`: the store starts a clean close, and the
 * power fails after `ios` I/O completions (part-way through it, or after it).
 */
export type Step =
  | { id: number; kind: "op"; client: number; op: SimOp; drive: number }
  | { id: number; kind: "crash"; drive: number }
  | { id: number; kind: "restart"; drive: number }
  | { id: number; kind: "closeCrash"; ios: number; drive: number }
  | { id: number; kind: "sync"; drive: number }
  | { id: number; kind: "checkpoint"; compact: boolean; drive: number }
  | { id: number; kind: "verify"; drive: number };

/** What shapes a workload. */
export interface WorkloadOptions {
  /** The run's seed. */
  seed: number;
  /** Client operations to generate (crashes and restarts come on top). */
  ops: number;
  /** Concurrent clients. */
  clients: number;
  /** Chance that a step is a crash (power loss) instead of an op. */
  crashChance?: number;
  /** Chance that a step is a clean close and reopen. */
  restartChance?: number;
  /** Chance that a step is a close the power cuts short (see {@link Step}). */
  closeCrashChance?: number;
  /** Chance that a step asks for a checkpoint (one in four of them compacts). */
  checkpointChance?: number;
}

/** Streams of `eventPrng`: one per kind of decision. */
const stream = {
  step: 0x5731,
  drive: 0xd217,
  closeCrash: 0xc105,
  scan: 0x5ca7,
  nearMiss: 0x4e4d,
} as const;
/** The most steps a workload holds (bounds runs and traces). */
export const stepsMax = 1_000_000;
/** The most I/O completions a step drives. */
export const driveMax = 12;
/**
 * The most I/O completions a close gets before the power fails, on three
 * crashes in four and on the rest. A close with work to do (its checkpoint,
 * empty segment, reclaim, padding cut and header work) took 8 to 16 in
 * seeds 1..30, some up to 31; one right after an open often none.
 */
export const closeCrashIosTypical = 12;
export const closeCrashIosMax = 32;
/** Chance that an op fills a range of the fan's children (one atomic, up to 256 mutations). */
const fanFillChance = 0.03;
/** Chance that an op deletes a range of the fan's children. */
const fanClearChance = 0.02;
/** The share of atomic operations that are counting batches (see `drawAtomic`). */
const countingBatchChance = 0.35;
/** List limits: small ones, and ones around the store's 256-entry batches. */
const listLimits = [1, 2, 3, 10, 100, 255, 256, 257, 300, 511, 512, 600];
/** The share of drawn lists run as scans instead (see {@link scanOf}). */
const scanShare = 0.5;
/** The share of gets (and getMany's first keys) made one byte off (see {@link nearMissOf}). */
const nearMissShare = 0.2;
/** The share of scans whose visitor stops early, and the most visits before it does. */
const scanStopChance = 0.3;
const scanStopAfterMax = 400;

/** Generates the steps of a run: deterministic in the options. */
export function generateSteps(options: WorkloadOptions): Step[] {
  assert(options.ops >= 0 && options.ops <= stepsMax, "op count is in range");
  assert(options.clients >= 1, "a run has clients");
  const space = drawKeySpace(options.seed);
  const chances = [
    options.crashChance ?? 0.01,
    options.restartChance ?? 0.005,
    options.closeCrashChance ?? 0.005,
    0.01, // sync
    options.checkpointChance ?? 0.02,
    0.005, // verify
  ];
  const steps: Step[] = [];
  let opsMade = 0;
  for (let id = 0; opsMade < options.ops && id < stepsMax; id++) {
    const random = eventPrng(options.seed, stream.step, id);
    const drive = drawDrive(eventPrng(options.seed, stream.drive, id));
    let roll = random.unit();
    let kind = 0;
    while (kind < chances.length && roll >= chances[kind]) roll -= chances[kind++];
    if (kind === 0) steps.push({ id, kind: "crash", drive });
    else if (kind === 1) steps.push({ id, kind: "restart", drive });
    else if (kind === 2) {
      const draw = eventPrng(options.seed, stream.closeCrash, id);
      const ios = draw.below(1 + (draw.chance(0.75) ? closeCrashIosTypical : closeCrashIosMax));
      steps.push({ id, kind: "closeCrash", ios, drive });
    } else if (kind === 3) steps.push({ id, kind: "sync", drive });
    else if (kind === 4) {
      steps.push({ id, kind: "checkpoint", compact: random.chance(0.25), drive });
    } else if (kind === 5) steps.push({ id, kind: "verify", drive });
    else {
      steps.push({
        id,
        kind: "op",
        client: random.below(options.clients),
        op: nearMissOf(
          scanOf(drawOp(random, id, space), eventPrng(options.seed, stream.scan, id)),
          eventPrng(options.seed, stream.nearMiss, id),
        ),
        drive,
      });
      opsMade++;
    }
  }
  return steps;
}

/**
 * I/O completions after a step: mostly none or few, so writes pile up in
 * flight and crashes land between a write and its fsync; sometimes many.
 */
function drawDrive(random: Prng): number {
  const roll = random.unit();
  if (roll < 0.5) return 0;
  if (roll < 0.8) return 1 + random.below(2);
  return 3 + random.below(driveMax - 2);
}

/** A delta no other step uses, so a doubled or lost increment shows in the count. */
export function distinctDelta(id: number): number {
  return 1 + (id % 9973) * 1000;
}

function drawOp(random: Prng, id: number, space: KeySpace): SimOp {
  const key = pickKey(space, random);
  if (space.fan.length > 0 && random.chance(fanFillChance + fanClearChance)) {
    return drawFanBatch(
      random,
      id,
      space,
      random.chance(fanFillChance / (fanFillChance + fanClearChance)),
    );
  }
  const roll = random.below(100);
  if (roll < 45) return { type: "add", key, delta: drawDelta(random, distinctDelta(id), space) };
  if (roll < 52) return { type: "set", key, value: drawValue(random, space) };
  if (roll < 57) return { type: "delete", key };
  if (roll < 70) return drawAtomic(random, id, space);
  if (roll < 83) return { type: "get", key };
  if (roll < 90) {
    return { type: "getMany", keys: [key, pickKey(space, random), pickKey(space, random)] };
  }
  return drawList(random, key, space);
}

/**
 * One atomic operation over a run of the fan's children: a fill sets (or
 * adds to) each, a clear deletes each. Fills grow the fan's node to Node48
 * and Node256; clears shrink it back.
 */
function drawFanBatch(random: Prng, id: number, space: KeySpace, fill: boolean): SimOp {
  const fan = space.fan;
  const count = 1 + random.below(fan.length);
  const first = random.below(fan.length - count + 1);
  const ops: SimMutation[] = [];
  for (let index = first; index < first + count; index++) {
    const key = fan[index];
    if (!fill) ops.push({ type: "delete", key });
    else if (random.chance(0.5)) ops.push({ type: "set", key, value: drawValue(random, space) });
    else ops.push({ type: "add", key, delta: distinctDelta(id) + index });
  }
  return { type: "atomic", checks: [], ops };
}

/**
 * A list (or, see {@link scanOf}, a scan): a prefix of a key (or the fan's prefix, or everything), with a
 * start or an end now and then, or a start and an end; a limit on half of
 * them (some around the 256-entry batches); reversed on three in ten.
 */
function drawList(random: Prng, key: string, space: KeySpace): SimOp {
  const roll = random.below(100);
  const prefix = random.chance(0.1)
    ? ""
    : space.fanPrefix !== undefined && random.chance(0.3)
    ? space.fanPrefix
    : key.slice(0, 1 + random.below(key.length));
  let selector: SimSelector;
  if (roll < 45) selector = { prefix };
  // A start past the prefix stays a key the store takes (1 to 65,535 bytes).
  else if (roll < 60) {
    selector = { prefix, start: (prefix + pickKey(space, random)).slice(0, keyBytesMax) };
  } else if (roll < 70) selector = { prefix, end: pickKey(space, random) };
  else if (random.chance(0.3)) selector = { start: "\x00", end: "\xff\xff\xff\xff" };
  else selector = { start: pickKey(space, random), end: pickKey(space, random) };
  const limit = random.chance(0.5) ? random.pick(listLimits) : undefined;
  const reverse = random.chance(0.3);
  return {
    type: "list",
    selector,
    ...(limit === undefined ? {} : { limit }),
    ...(reverse ? { reverse } : {}),
  };
}

/**
 * A list turned, on {@link scanShare} of them, into a scan of the same
 * selector, limit and order, whose visitor stops early on some. Drawn from
 * a stream of its own, so every other draw of the run stays as it was.
 */
function scanOf(op: SimOp, random: Prng): SimOp {
  if (op.type !== "list" || !random.chance(scanShare)) return op;
  if (!random.chance(scanStopChance)) return { ...op, type: "scan" };
  // Mostly within the first few entries, sometimes deep into a long scan.
  const stopAfter = 1 + random.below(random.chance(0.5) ? 10 : scanStopAfterMax);
  return { ...op, type: "scan", stopAfter };
}

/**
 * A get, or a getMany's first key, turned on {@link nearMissShare} of them
 * into a key one byte off the one drawn (its last byte changed, one byte
 * more, or one less): a key no step writes, whose path runs down to a
 * stored key's node and parts from it there, so a read that matches a
 * node's branching byte but not the rest of its prefix (an inline leaf's,
 * a record read through) answers wrongly. A stream of its own, as
 * {@link scanOf}'s.
 */
function nearMissOf(op: SimOp, random: Prng): SimOp {
  if (op.type === "get" && random.chance(nearMissShare)) {
    return { type: "get", key: nearMiss(op.key, random) };
  }
  if (op.type === "getMany" && random.chance(nearMissShare)) {
    return { type: "getMany", keys: [nearMiss(op.keys[0], random), ...op.keys.slice(1)] };
  }
  return op;
}

function drawAtomic(random: Prng, id: number, space: KeySpace): SimOp {
  if (random.chance(countingBatchChance)) {
    // A counting batch: additions to ASCII keys given as strings, no checks.
    const ops: SimMutation[] = [];
    const count = 1 + random.below(8);
    for (let index = 0; index < count; index++) {
      ops.push({ type: "add", key: random.pick(space.ascii), delta: distinctDelta(id) + index });
    }
    return { type: "atomic", checks: [], ops, text: true };
  }
  const checks = [];
  const ops: SimMutation[] = [];
  const checkCount = random.below(3);
  for (let index = 0; index < checkCount; index++) {
    checks.push({
      key: pickKey(space, random),
      value: random.chance(0.3) ? undefined : random.below(5),
    });
  }
  const opCount = 1 + random.below(5);
  for (let index = 0; index < opCount; index++) {
    const key = pickKey(space, random);
    const roll = random.below(10);
    if (roll < 6) {
      ops.push({ type: "add", key, delta: drawDelta(random, distinctDelta(id) + index, space) });
    } else if (roll < 8) ops.push({ type: "set", key, value: drawValue(random, space) });
    else ops.push({ type: "delete", key });
  }
  return { type: "atomic", checks, ops };
}

/** True for ops that write (and so take an LSN when accepted). */
export function isWrite(op: SimOp): boolean {
  return op.type === "add" || op.type === "set" || op.type === "delete" || op.type === "atomic";
}
