/**
 * Workloads: the steps a simulated run takes, drawn from the seed. Every
 * step's content comes from `eventPrng(seed, stream, step id)`, never from one
 * running stream, so the shrinker can drop steps and keep the rest unchanged.
 *
 * @module
 */

import { assert } from "../lib/_assert.ts";
import { eventPrng, type Prng } from "./prng.ts";

/** A write or read a client issues. Keys are short strings so clients collide often. */
export type SimOp =
  | { type: "add"; key: string; delta: number }
  | { type: "set"; key: string; value: number }
  | { type: "delete"; key: string }
  | { type: "atomic"; checks: { key: string; value: number | undefined }[]; ops: SimMutation[] }
  | { type: "get"; key: string }
  | { type: "getMany"; keys: string[] }
  | { type: "list"; prefix: string };

/** A mutation inside an atomic operation. */
export type SimMutation =
  | { type: "add"; key: string; delta: number }
  | { type: "set"; key: string; value: number }
  | { type: "delete"; key: string };

/** One step of a run. `drive` is how many I/O completions the scheduler makes after it. */
export type Step =
  | { id: number; kind: "op"; client: number; op: SimOp; drive: number }
  | { id: number; kind: "crash"; drive: number }
  | { id: number; kind: "restart"; drive: number }
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
  /** Chance that a step asks for a checkpoint (one in four of them compacts). */
  checkpointChance?: number;
}

/** Streams of `eventPrng`: one per kind of decision. */
const stream = { step: 0x5731, drive: 0xd217 } as const;
/** The most steps a workload holds (bounds runs and traces). */
export const stepsMax = 1_000_000;
/** The most I/O completions a step drives. */
export const driveMax = 12;

/**
 * Short keys that are prefixes of each other (so clients collide often) and
 * two long ones, so records span sectors and crashes tear inside a record.
 */
const keys = [
  "a",
  "ab",
  "abc",
  "b",
  "ba",
  "the",
  "the cat",
  "the dog",
  "then",
  "z",
  `long ${"x".repeat(600)}`,
  "w".repeat(1500),
];

/** Generates the steps of a run: deterministic in the options. */
export function generateSteps(options: WorkloadOptions): Step[] {
  assert(options.ops >= 0 && options.ops <= stepsMax, "op count is in range");
  assert(options.clients >= 1, "a run has clients");
  const crashChance = options.crashChance ?? 0.01;
  const restartChance = options.restartChance ?? 0.005;
  const checkpointChance = options.checkpointChance ?? 0.02;
  const steps: Step[] = [];
  let opsMade = 0;
  for (let id = 0; opsMade < options.ops && id < stepsMax; id++) {
    const random = eventPrng(options.seed, stream.step, id);
    const drive = drawDrive(eventPrng(options.seed, stream.drive, id));
    const roll = random.unit();
    if (roll < crashChance) steps.push({ id, kind: "crash", drive });
    else if (roll < crashChance + restartChance) steps.push({ id, kind: "restart", drive });
    else if (roll < crashChance + restartChance + 0.01) steps.push({ id, kind: "sync", drive });
    else if (roll < crashChance + restartChance + 0.01 + checkpointChance) {
      steps.push({ id, kind: "checkpoint", compact: random.chance(0.25), drive });
    } else if (roll < crashChance + restartChance + 0.015 + checkpointChance) {
      steps.push({ id, kind: "verify", drive });
    } else {
      steps.push({
        id,
        kind: "op",
        client: random.below(options.clients),
        op: drawOp(random, id),
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

function drawOp(random: Prng, id: number): SimOp {
  const key = random.pick(keys);
  const roll = random.below(100);
  if (roll < 45) {
    return {
      type: "add",
      key,
      delta: random.chance(0.1) ? -random.below(3000) : distinctDelta(id),
    };
  }
  if (roll < 52) return { type: "set", key, value: random.below(1000) };
  if (roll < 57) return { type: "delete", key };
  if (roll < 70) return drawAtomic(random, id);
  if (roll < 85) return { type: "get", key };
  if (roll < 92) return { type: "getMany", keys: [key, random.pick(keys), random.pick(keys)] };
  return { type: "list", prefix: key.slice(0, 1 + random.below(key.length)) };
}

function drawAtomic(random: Prng, id: number): SimOp {
  const checks = [];
  const ops: SimMutation[] = [];
  const checkCount = random.below(3);
  for (let index = 0; index < checkCount; index++) {
    checks.push({
      key: random.pick(keys),
      value: random.chance(0.3) ? undefined : random.below(5),
    });
  }
  const opCount = 1 + random.below(5);
  for (let index = 0; index < opCount; index++) {
    const key = random.pick(keys);
    const roll = random.below(10);
    if (roll < 6) ops.push({ type: "add", key, delta: distinctDelta(id) + index });
    else if (roll < 8) ops.push({ type: "set", key, value: random.below(1000) });
    else ops.push({ type: "delete", key });
  }
  return { type: "atomic", checks, ops };
}

/** True for ops that write (and so take an LSN when accepted). */
export function isWrite(op: SimOp): boolean {
  return op.type === "add" || op.type === "set" || op.type === "delete" || op.type === "atomic";
}
