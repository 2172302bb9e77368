/**
 * Image churn: what makes a simulated store's image grow past its first
 * slab. With the default 128 KiB slabs and a dozen short keys, a run's image
 * never left slab 0, so freeing, reuse, the older header slot's held slabs
 * and tables of several chunks never ran. On most seeds a run therefore
 * gets small slabs and chunks ({@link drawImageWorkload}: an image geometry,
 * chosen per seed and passed to the store through its internal option) and
 * a share of its client ops turned into batches that rewrite and delete
 * many keys of a key space of their own, plus compacting checkpoints
 * ({@link addChurn}): slabs fill, are freed, held for the older slot and
 * reused, and the table spans several chunks.
 *
 * Small slabs hold smaller records: a geometry must hold the largest record
 * the run's keys can make. {@link imageGeometryFor} takes the smallest slab
 * size whose records are long enough for a bound computed from the keys of
 * the generated workload (see `nodeRecordBytesBound`), and asserts it; the
 * engine refuses a longer record with an error, never writing it across a
 * slab, and the runner counts such a refusal as a violation.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import {
  chunkBytes,
  defaultGeometry,
  geometryProblem,
  type ImageGeometry,
  recordBytesMax,
  slabBytesMin,
} from "../lib/image/allocation.ts";
import {
  childrenMax,
  inlinePrefixBytesMax,
  nodeRecordBytesBound,
  prefixBytesMax,
} from "../lib/image/node_record.ts";
import { eventPrng, type Prng } from "./prng.ts";
import { distinctDelta, type SimMutation, type Step } from "./workload.ts";

/** What a seed's image does (see {@link drawImageWorkload}). */
export interface ImageWorkload {
  /** Small slabs and chunks (else the default geometry and no churn). */
  small: boolean;
  /** Table entries per chunk, for small slabs. */
  chunkEntriesMax: number;
  /** The share of client ops turned into churn batches. */
  churn: number;
  /** The share of client ops turned into compacting checkpoints. */
  compactions: number;
  /** The share of client ops turned into (incremental) checkpoints. */
  checkpoints: number;
  /** Groups of the churn key space ({@link churnItems} keys each). */
  groups: number;
  /** Bytes of padding after each churn key's item, so leaves are long but stay inline. */
  padBytes: number;
  /** The chance that the image guard misplaces a header write of a compaction's file. */
  compactionHeaderFaults: number;
  /** Steps the churn grows the store, then as many it shrinks it, in turns. */
  phaseSteps: number;
}

/** Streams of `eventPrng`. */
const stream = { workload: 0x51ab, churn: 0xc4c4 } as const;
/** The share of seeds that run with small slabs and churn. */
const smallSeedsShare = 0.75;
/** Keys per group of the churn key space. */
export const churnItems = 16;
/** Mutations of a scattered churn batch, at most. */
const scatterOpsMax = 32;
/** The share of client ops turned into compacting checkpoints, on seeds with churn. */
const compactions = 0.005;
/**
 * The share of client ops turned into checkpoints, on seeds with churn: a
 * slab is freed two commits after its records were dropped, so reuse and the
 * older slot's held slabs need several commits in one store's life.
 */
const checkpoints = 0.02;
/**
 * The chance that the image guard misplaces a header write of a compaction's
 * file, on half the seeds with churn (a run compacts a few times: see
 * `image_guard.ts`).
 */
const compactionHeaderFaultChance = 0.1;
/** The most table entries per chunk a small geometry draws (small, so tables span chunks). */
const chunkEntriesDrawMax = 4;

/**
 * The image workload a seed runs with: on three seeds in four, small slabs
 * (chunks of 1 to 4 entries), 5% to 20% of client ops turned into churn
 * batches and 0.5% into compacting checkpoints, and on half of those seeds
 * one compaction header write in ten misplaced by the image guard; on the
 * others, the default geometry and the workload unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawImageWorkload } from "./churn.ts";
 * const a = drawImageWorkload(7);
 * assert.ok(JSON.stringify(a) === JSON.stringify(drawImageWorkload(7)));
 * ```
 */
export function drawImageWorkload(seed: number): ImageWorkload {
  const random = eventPrng(seed, stream.workload, 0);
  const small = random.chance(smallSeedsShare);
  const chunkEntriesMax = 1 + random.below(chunkEntriesDrawMax);
  const churn = 0.04 + random.unit() * 0.08;
  const groups = 8 + random.below(17);
  const padBytes = 16 + random.below(33);
  const compactionHeaderFaults = random.chance(0.5) ? compactionHeaderFaultChance : 0;
  const phaseSteps = 50 + random.below(151);
  if (!small) {
    return {
      small,
      chunkEntriesMax: defaultGeometry.chunkEntriesMax,
      churn: 0,
      compactions: 0,
      checkpoints: 0,
      groups,
      padBytes,
      compactionHeaderFaults: 0,
      phaseSteps,
    };
  }
  return {
    small,
    chunkEntriesMax,
    churn,
    compactions,
    checkpoints,
    groups,
    padBytes,
    compactionHeaderFaults,
    phaseSteps,
  };
}

/**
 * The geometry of a run: the default one, or the smallest slabs (from 4
 * KiB) whose records hold the largest record `steps` can make, with the
 * drawn chunk entries.
 */
export function imageGeometryFor(workload: ImageWorkload, steps: readonly Step[]): ImageGeometry {
  if (!workload.small) return defaultGeometry;
  const bound = recordBytesBoundOf(steps);
  const geometry = { slabBytes: slabBytesMin, chunkEntriesMax: workload.chunkEntriesMax };
  while (recordBytesMax(geometry) < bound && geometry.slabBytes < defaultGeometry.slabBytes) {
    geometry.slabBytes *= 2;
  }
  assert(geometryProblem(geometry) === undefined, "a drawn geometry is valid");
  assert(chunkBytes(geometry.chunkEntriesMax) <= recordBytesMax(geometry), "a chunk fits");
  assert(recordBytesMax(geometry) >= bound, "the slabs hold every record the workload can make");
  return geometry;
}

/**
 * The most bytes a node record of a trie of the keys `steps` name can take:
 * no prefix is longer than the longest key, no inline leaf longer than 64
 * bytes or the longest key, and no node has more children than the widest
 * branching of a trie of all those keys (a trie of some of them branches
 * no wider where it branches). Reads' keys count too: a bound may be loose,
 * never short.
 */
export function recordBytesBoundOf(steps: readonly Step[]): number {
  const keys = new Map<string, Uint8Array>();
  for (const step of steps) {
    if (step.kind !== "op") continue;
    // The fields ops name keys in (a write op whose keys sit elsewhere would
    // leave the bound short: the engine then refuses its record, a violation).
    const op = step.op as {
      key?: unknown;
      keys?: unknown;
      checks?: { key?: unknown }[];
      ops?: { key?: unknown }[];
    };
    collectKeys(op.key, keys);
    collectKeys(op.keys, keys);
    for (const check of op.checks ?? []) collectKeys(check.key, keys);
    for (const mutation of op.ops ?? []) collectKeys(mutation.key, keys);
  }
  const sorted = [...keys.values()].sort(compareBytes);
  const longest = Math.max(0, ...sorted.map((key) => key.length));
  return nodeRecordBytesBound(
    Math.min(longest, prefixBytesMax),
    Math.min(widestBranching(sorted), childrenMax),
    Math.min(longest, inlinePrefixBytesMax),
  );
}

const encoder = new TextEncoder();

/** Adds a key field's keys (a string, bytes, or an array of them) as bytes, by a name. */
function collectKeys(value: unknown, keys: Map<string, Uint8Array>): void {
  if (value === undefined) return;
  const values = Array.isArray(value) ? value : [value];
  for (const key of values) {
    if (typeof key === "string") {
      const name = `s${key}`;
      if (!keys.has(name)) keys.set(name, encoder.encode(key));
    } else if (key instanceof Uint8Array) keys.set(`b${key.join(",")}`, key);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    if (a[index] !== b[index]) return a[index] - b[index];
  }
  return a.length - b.length;
}

/**
 * The most children a node of the trie of `sorted` (distinct keys in byte
 * order) has: each node is an interval of keys sharing its path, and its
 * children are separated by the neighbours whose common prefix ends at its
 * depth (the intervals of the common-prefix array).
 */
function widestBranching(sorted: readonly Uint8Array[]): number {
  let widest = sorted.length > 0 ? 1 : 0;
  const stack: { depth: number; separators: number }[] = [{ depth: 0, separators: 0 }];
  for (let index = 1; index <= sorted.length; index++) {
    // Past the last key, a common prefix of -1 closes every interval.
    const depth = index < sorted.length ? commonPrefix(sorted[index - 1], sorted[index]) : -1;
    while (stack.length > 0 && stack[stack.length - 1].depth > depth) {
      widest = Math.max(widest, stack.pop()!.separators + 1);
    }
    const top = stack[stack.length - 1];
    if (top !== undefined && top.depth === depth) top.separators++;
    else if (depth >= 0) stack.push({ depth, separators: 1 });
  }
  assert(stack.length === 0, "every interval is closed");
  return widest;
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) return index;
  return length;
}

/**
 * Turns a share of `steps`' client ops into churn: atomic batches that
 * rewrite a group of keys, delete one, or scatter sets, adds and deletes
 * over the churn key space; and some into checkpoints, a few compacting. Each
 * step's fate comes from `eventPrng(seed, stream, step id)`, so it is the
 * same whichever steps a shrink keeps. Unchanged when the workload's
 * shares are 0.
 */
export function addChurn(steps: Step[], seed: number, workload: ImageWorkload): Step[] {
  const { compactions, checkpoints, churn } = workload;
  if (churn === 0 && compactions === 0 && checkpoints === 0) return steps;
  return steps.map((step) => {
    if (step.kind !== "op") return step;
    const random = eventPrng(seed, stream.churn, step.id);
    const roll = random.unit();
    if (roll < compactions + checkpoints) {
      return { id: step.id, kind: "checkpoint", compact: roll < compactions, drive: step.drive };
    }
    if (roll >= compactions + checkpoints + churn) return step;
    const ops = churnBatch(random, step.id, workload);
    return { ...step, op: { type: "atomic", checks: [], ops } };
  });
}

/** The key of `item` in `group` of the churn key space. */
export function churnKey(group: number, item: number, workload: ImageWorkload): string {
  assert(item >= 0 && item < churnItems && group >= 0 && group < workload.groups, "in the space");
  return `q${group.toString().padStart(2, "0")}/${item.toString(16)}${
    ".".repeat(workload.padBytes)
  }`;
}

/**
 * One churn batch: a group rewritten, a group deleted, or scattered
 * mutations. The store grows and shrinks in turns ({@link ImageWorkload.phaseSteps}
 * steps each): while it shrinks, most batches delete, so whole slabs at the
 * image's end come to hold only records of the older image, and the free
 * tail the commit after drops must pass them by.
 */
function churnBatch(random: Prng, id: number, workload: ImageWorkload): SimMutation[] {
  const ops: SimMutation[] = [];
  const shrinking = Math.floor(id / workload.phaseSteps) % 2 === 1;
  const rewrites = shrinking ? 0.1 : 0.55;
  const roll = random.unit();
  const group = random.below(workload.groups);
  if (roll < rewrites) {
    for (let item = 0; item < churnItems; item++) {
      const key = churnKey(group, item, workload);
      ops.push({ type: "set", key, value: random.below(2 ** 31) * 4096 + item });
    }
  } else if (roll < 0.7) {
    for (let item = 0; item < churnItems; item++) {
      ops.push({ type: "delete", key: churnKey(group, item, workload) });
    }
  } else {
    const count = 1 + random.below(scatterOpsMax);
    for (let index = 0; index < count; index++) {
      const key = churnKey(random.below(workload.groups), random.below(churnItems), workload);
      const kind = random.below(shrinking ? 4 : 3); // shrinking: half of them delete
      if (kind === 0) ops.push({ type: "add", key, delta: distinctDelta(id) + index });
      else if (kind === 1) ops.push({ type: "set", key, value: random.below(2 ** 31) });
      else ops.push({ type: "delete", key });
    }
  }
  assert(ops.length > 0 && ops.length <= Math.max(churnItems, scatterOpsMax), "a bounded batch");
  return ops;
}
