/**
 * The memory budget's bounds, judged from the store's memory counters
 * (`stats().memory`, read through `writeCounters` so that reading them
 * changes nothing) at points where the design says what they must be.
 * The answers and the durability of a budgeted run are judged like any
 * other's; these judge the memory the budget promises to keep to, so that
 * a budget that stops evicting, lets writers run past it, or copies the
 * arena for nothing fails a seed instead of only a benchmark (see
 * docs/SIMULATION.md, Bounds, and docs/ARCHITECTURE.md, The memory budget):
 *
 * - `bound-memory`: after a round of evictions (a checkpoint ended, a
 *   record was installed), the live nodes take at most the trie's part of
 *   the budget, or what must stay (the engine's `memoryFloor`: the root,
 *   the paths of the keys pinned at the round, the nodes not yet written,
 *   a stub for each child below those), whichever is larger;
 * - `bound-cache`: the slab cache holds at most its share of the budget
 *   (an eighth, at least its floor of slabs);
 * - `bound-writers`: a write that left the live nodes past the trie's
 *   part (so an early checkpoint is due) and the arena past it by a fifth
 *   of the budget resolves only after the automatic checkpoint it waits
 *   for ended;
 * - `bound-relocate`: a relocation the budget makes gives back at least
 *   a fifth of the arena (the copy is paid for by what was freed);
 * - `bound-work`: between two I/O completions, every round of
 *   evictions answers an event that can make room (a load, a pin or read
 *   released, a step of a compaction's walk, a checkpoint's end), never a
 *   step of an incremental checkpoint's walk, and its work (the trie nodes
 *   the clock hand visits, the cooling queue's paths looked at) stays
 *   within a few passes over the trie and the queue; a clock hand that
 *   walked the whole trie and found nothing to take walks it again only
 *   after an event that can give it something (a checkpoint's end, a load
 *   the cooling queue does not hold); a compaction's walk step is none: the
 *   idle hand's rounds walk only the nodes the steps passed.
 *
 * @module
 */

import type { WriteCounters } from "../lib/store/store.ts";
import type { WorkEvents } from "./work_events.ts";

/**
 * The share of the budget the slab cache may keep (docs/ARCHITECTURE.md:
 * "an eighth of it, at least 8 slabs").
 */
export const cacheShare = 1 / 8;
/** The slabs the slab cache keeps whatever the budget, unless the run gives its own floor. */
export const cacheSlabsFloor = 8;
/**
 * Writes wait for the automatic checkpoint running once the arena passes
 * the trie's part (the engine's: less the cooling ring too) by this share of
 * the budget.
 */
export const writerWaitSlack = 0.2;
/** The cooling ring's share of the budget and its least size (`lib/engine/_path_queue.ts`). */
export const ringShare = 1 / 16;
export const ringBytesMin = 1032;
/** The least share of the arena a relocation for size gives back. */
export const relocationFreeShareMin = 1 / 5;

/**
 * The trie's part of the budget: the budget less what the slab cache holds
 * now, never less than half of it (docs/ARCHITECTURE.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { triePart } from "./memory_bound.ts";
 * assert.equal(triePart(8192, 1024), 7168);
 * assert.equal(triePart(8192, 32768), 4096);
 * ```
 */
export function triePart(budget: number, cacheBytes: number): number {
  return Math.max(budget - cacheBytes, budget / 2);
}

/**
 * `bound-memory`: the problem with `liveBytes` after a round, if any: past
 * both the trie's part (`part`) and what must stay (`floor`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryBoundProblem } from "./memory_bound.ts";
 * assert.equal(memoryBoundProblem(3000, 4096, 1000, ""), undefined);
 * assert.equal(memoryBoundProblem(3000, 2048, 3000, ""), undefined);
 * assert.match(memoryBoundProblem(5000, 2048, 3000, "")!, /5000 bytes/);
 * ```
 */
export function memoryBoundProblem(
  liveBytes: number,
  part: number,
  floor: number,
  what: string,
): string | undefined {
  if (liveBytes <= Math.max(part, floor)) return undefined;
  return `the trie's live nodes take ${liveBytes} bytes${what}, past both the trie's part ` +
    `of the budget (${part}) and what must stay (${floor})`;
}

/**
 * `bound-cache`: the problem with the slab cache's bytes, if any: past
 * `max(slabsFloor, floor(budget / 8 / slabBytes))` slabs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheBoundProblem } from "./memory_bound.ts";
 * assert.equal(cacheBoundProblem(4096 * 8, 16384, 4096, 8), undefined);
 * assert.match(cacheBoundProblem(4096 * 9, 16384, 4096, 8)!, /9 slabs|36864/);
 * ```
 */
export function cacheBoundProblem(
  cacheBytes: number,
  budget: number,
  slabBytes: number,
  slabsFloor: number,
): string | undefined {
  const slabs = Math.max(slabsFloor, Math.floor(budget * cacheShare / slabBytes));
  if (cacheBytes <= slabs * slabBytes) return undefined;
  return `the slab cache holds ${cacheBytes} bytes, past its ${slabs} slabs of ${slabBytes} ` +
    `bytes (budget ${budget})`;
}

/**
 * Whether a write whose call left the trie with `memory` must wait for the
 * automatic checkpoint running (`bound-writers`): its live nodes are past the
 * engine's trie part (the budget less the slab cache and the cooling ring,
 * at least half of it), so an early checkpoint is due, and its arena (live
 * and freed nodes) past that part by {@link writerWaitSlack} of the budget.
 * An arena past it with the live nodes within the part need not wait: the
 * excess is freed words, which no checkpoint gives back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writerMustWait } from "./memory_bound.ts";
 * // Part: 16384 - 4096 - 1032 = 11256; bound: 11256 + 3276.8.
 * assert.ok(writerMustWait({ liveBytes: 14_000, freeBytes: 600, cacheBytes: 4096 }, 16_384));
 * assert.ok(!writerMustWait({ liveBytes: 14_000, freeBytes: 0, cacheBytes: 4096 }, 16_384));
 * assert.ok(!writerMustWait({ liveBytes: 11_000, freeBytes: 9_000, cacheBytes: 4096 }, 16_384));
 * ```
 */
export function writerMustWait(
  memory: { liveBytes: number; freeBytes: number; cacheBytes: number },
  budget: number,
): boolean {
  const ring = Math.max(ringBytesMin, Math.floor(budget * ringShare));
  const part = Math.max(budget - memory.cacheBytes - ring, budget / 2);
  return memory.liveBytes > part &&
    memory.liveBytes + memory.freeBytes > part + budget * writerWaitSlack;
}

/**
 * `bound-relocate`: the problem with the last relocation, if any: it
 * gave back less than a fifth of the arena it copied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relocationProblem } from "./memory_bound.ts";
 * assert.equal(relocationProblem({ count: 1, liveBytes: 800, freeBytes: 200 }), undefined);
 * assert.match(relocationProblem({ count: 2, liveBytes: 900, freeBytes: 100 })!, /100 bytes/);
 * ```
 */
export function relocationProblem(last: WriteCounters["relocations"]): string | undefined {
  const arena = last.liveBytes + last.freeBytes;
  if (last.freeBytes >= arena * relocationFreeShareMin) return undefined;
  return `a relocation copied ${last.liveBytes} live bytes to give back ${last.freeBytes} bytes ` +
    `of an arena of ${arena} (less than a fifth)`;
}

/**
 * The smallest trie node in bytes: a node's header is 6 words (a stub, the
 * smallest node, takes 24 bytes), so an arena of `b` bytes holds at most
 * `b / 24` nodes.
 */
export const nodeBytesMin = 24;
/** Passes over the trie one round's clock hand makes at most (from its place, from the start, taking the nodes read since). */
export const handPassesMax = 3;
/**
 * Passes over the cooling queue one round makes at most (sparing the nodes
 * read since, then taking them too but only the lowest, then any).
 */
export const queuePassesMax = 3;
/**
 * The cooling queue's ring: a sixteenth of the budget, at least 1,032 bytes
 * (docs/ARCHITECTURE.md); an entry takes at least its 2-byte length.
 */
const queueShare = 1 / 16;
const queueRingBytesMin = 1032;
const queueEntryBytesMin = 2;

/** The budget's work between two samples (differences of `WriteCounters.budgetWork`). */
export interface BudgetWorkDelta {
  /** Events that may ask for a round. */
  asked: number;
  /** Rounds run. */
  rounds: number;
  /** Walks of the clock hand. */
  walks: number;
  /** Trie nodes those walks visited. */
  visits: number;
  /** Cooling queue paths looked at. */
  queueLooks: number;
  /** Rounds whose clock hand walked the whole trie and found nothing (more) to take. */
  fruitless: number;
  /** Rounds whose hand stayed idle. */
  handIdle: number;
  /** Events after which the hand may find what its last walk could not. */
  handEvents: number;
  /** Nodes compactions' walks passed. */
  passed: number;
  /** Of `visits`, those of an idle hand's walks over what a compaction's walk passed. */
  passedVisits: number;
}

/**
 * The differences of two samples of `WriteCounters.budgetWork`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { budgetWorkDelta } from "./memory_bound.ts";
 * const before = {
 *   asked: 1, rounds: 1, queueLooks: 2, walkSteps: 0, walks: 1, visits: 5,
 *   fruitless: 1, handIdle: 0, handEvents: 1, passed: 0, passedVisits: 0,
 * };
 * const after = { ...before, asked: 3, rounds: 2, visits: 9, handIdle: 1 };
 * assert.deepEqual(budgetWorkDelta(before, after), {
 *   asked: 2, rounds: 1, walks: 0, visits: 4, queueLooks: 0, fruitless: 0, handIdle: 1,
 *   handEvents: 0, passed: 0, passedVisits: 0,
 * });
 * ```
 */
export function budgetWorkDelta(
  before: WriteCounters["budgetWork"],
  after: WriteCounters["budgetWork"],
): BudgetWorkDelta {
  return {
    asked: after.asked - before.asked,
    rounds: after.rounds - before.rounds,
    walks: after.walks - before.walks,
    visits: after.visits - before.visits,
    queueLooks: after.queueLooks - before.queueLooks,
    fruitless: after.fruitless - before.fruitless,
    handIdle: after.handIdle - before.handIdle,
    handEvents: after.handEvents - before.handEvents,
    passed: after.passed - before.passed,
    passedVisits: after.passedVisits - before.passedVisits,
  };
}

/** What a sampler keeps of a store's counters between two samples (`bound-work`). */
export interface WorkSample {
  work: WriteCounters["budgetWork"];
  /** Live and freed bytes of the arena then. */
  arena: number;
  relocations: number;
}

/**
 * The budget's work since `seen` and the largest arena the interval held
 * (`arena` now, at the last sample, or the one the interval's relocation
 * found; infinite after two relocations, whose arena between is unknown),
 * or undefined if it did no work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workSince } from "./memory_bound.ts";
 * const zero = {
 *   asked: 0, rounds: 0, walks: 0, visits: 0, queueLooks: 0, walkSteps: 0, fruitless: 0,
 *   handIdle: 0, handEvents: 0, passed: 0, passedVisits: 0,
 * };
 * const relocations = { count: 0, liveBytes: 0, freeBytes: 0 };
 * const seen = { work: zero, arena: 100, relocations: 0 };
 * assert.equal(workSince(seen, { budgetWork: zero, relocations }, 120), undefined);
 * const busy = { budgetWork: { ...zero, rounds: 1 }, relocations };
 * assert.equal(workSince(seen, busy, 120)!.peak, 120);
 * ```
 */
export function workSince(
  seen: WorkSample,
  counters: Pick<WriteCounters, "budgetWork" | "relocations">,
  arena: number,
): { work: BudgetWorkDelta; peak: number } | undefined {
  const work = budgetWorkDelta(seen.work, counters.budgetWork);
  if (work.rounds === 0 && work.walks === 0 && work.queueLooks === 0) return undefined;
  const relocated = counters.relocations.count - seen.relocations;
  const last = counters.relocations.liveBytes + counters.relocations.freeBytes;
  const peak = relocated > 1 ? Infinity : Math.max(seen.arena, arena, relocated ? last : 0);
  return { work, peak };
}

/** Nodes a checkpoint's walk takes per step (`lib/engine/checkpointer.ts`, `nodesPerStep`). */
export const walkStepNodes = 128;

/**
 * The rounds a compaction of a trie of at most `keys` keys may ask for
 * beyond what the runner sees: a round after each step of its walk (at most
 * (2 × keys + 1) / 128 steps of nodes and 4 × keys + 2 of stubs, the
 * checkpointer's own bound), one after its last, and one after each record
 * its copy reads from the old image (at most 2 × keys + 1, a trie's nodes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compactionAsksMax } from "./memory_bound.ts";
 * assert.equal(compactionAsksMax(0), 1 + 2 + 1 + 1);
 * assert.equal(compactionAsksMax(100), 2 + 402 + 1 + 201);
 * ```
 */
export function compactionAsksMax(keys: number): number {
  const nodes = 2 * keys + 1;
  return Math.ceil(nodes / walkStepNodes) + (4 * keys + 2) + 1 + nodes;
}

/**
 * The rounds the events the runner saw can ask for (`bound-work`): three a
 * record loaded (its install; the read settling, as `Loader.load`'s last
 * read in flight asks again; a read of the same stub that installs nothing
 * beside it), one an I/O completion (a checkpoint's end after its
 * commit's, or after the reads a compaction waits for) and two more a read
 * of the image (it settles a load that may install nothing, which asks
 * twice: `Loader.#read` and its last read in flight), one a call made or settled (a call may pin and let go
 * at once; a settled one let its pins go), five for each list or scan in
 * flight (one resumed after an await meets a stub: it asks, pins the
 * subtree and lets it go when nothing of it is cached, reads it, asks as
 * the read settles, meets it again), and one for each write queued for a
 * load (it lets its paths go once applied, before it settles).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundsSeenMax } from "./memory_bound.ts";
 * const events = {
 *   completions: 1, imageReads: 1, loads: 3, calls: 0, settled: 1, inFlight: 2, queued: 1,
 *   pinnedKeys: [], compacting: false, compactionsBegun: 0,
 * };
 * assert.equal(roundsSeenMax(events), 9 + 1 + 2 + 1 + 10 + 1);
 * ```
 */
export function roundsSeenMax(events: WorkEvents): number {
  return walkAsksPerLoad * events.loads + events.completions + 2 * events.imageReads +
    events.calls + events.settled + walkAsksPerResume * events.inFlight + events.queued;
}

/** Rounds a record loaded may ask for (see {@link roundsSeenMax}). */
const walkAsksPerLoad = 3;
/** Rounds a list or scan in flight may ask for in an interval without a load. */
const walkAsksPerResume = 5;

/**
 * The events the runner saw that can give an idle clock hand something
 * (`bound-work`): an I/O completion (a checkpoint's end follows its
 * commit's) and a record loaded (the runner cannot tell one the cooling
 * queue holds from one it does not).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handEventsSeen } from "./memory_bound.ts";
 * const events = {
 *   completions: 1, imageReads: 1, loads: 3, calls: 2, settled: 1, inFlight: 0, queued: 0,
 *   pinnedKeys: [], compacting: false, compactionsBegun: 0,
 * };
 * assert.equal(handEventsSeen(events), 4);
 * ```
 */
export function handEventsSeen(events: WorkEvents): number {
  return events.completions + events.loads;
}

/**
 * The most bytes of paths a walk of the clock hand can find held by the
 * keys `pinned` (each path and 2 bytes, as `Budget.#held` counts them) in a
 * trie of keys among `universe` (the keys the run wrote): the root, and for
 * each key the nodes whose paths are its prefixes, which lie where it
 * parts from another key (or ends, or another ends inside it), each counted
 * once. Past the ring's half ({@link heldBytesLimit}), the walk leaves the
 * hand awake: the next round walks again, fruitless or not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldBytesMax } from "./memory_bound.ts";
 * // Paths "", "a", "ab" (where "abc" and "abd" part) and "abc": 2 + 3 + 4 + 5 bytes.
 * assert.equal(heldBytesMax(["abc"], ["a", "abc", "abd"]), 14);
 * assert.equal(heldBytesMax([], ["a"]), 0);
 * ```
 */
export function heldBytesMax(pinned: readonly string[], universe: Iterable<string>): number {
  if (pinned.length === 0) return 0;
  const paths = new Set<string>([""]);
  const keys = [...universe];
  for (const key of pinned) {
    paths.add(key);
    for (const other of keys) paths.add(key.slice(0, commonPrefix(key, other)));
  }
  let bytes = 0;
  for (const path of paths) bytes += path.length + heldPathOverheadBytes;
  return bytes;
}

/** Bytes a held path takes besides its own (`Budget.#held`: a ring entry's length). */
const heldPathOverheadBytes = 2;

/**
 * The bytes of held paths past which a fruitless walk leaves the clock
 * hand awake: half the cooling queue's ring (`Budget`'s `heldShare`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldBytesLimit } from "./memory_bound.ts";
 * assert.equal(heldBytesLimit(4096), 516);
 * assert.equal(heldBytesLimit(65_536), 2048);
 * ```
 */
export function heldBytesLimit(budget: number): number {
  return Math.max(queueRingBytesMin, Math.floor(budget * queueShare)) / 2;
}

/** The length of the longest common prefix of `a` and `b`. */
function commonPrefix(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let common = 0;
  while (common < length && a.charCodeAt(common) === b.charCodeAt(common)) common++;
  return common;
}

/** What `bound-work` judges an interval's work against (see {@link budgetWorkProblem}). */
export interface WorkSeen {
  /** What the runner saw in the interval. */
  events: WorkEvents;
  /** What a compaction running may still ask for past the events seen; lowered as spent. */
  credit: { left: number };
  /** The largest arena (live and freed bytes) the interval can have held. */
  peakArenaBytes: number;
  /** The memory budget. */
  budget: number;
  /** {@link heldBytesMax} of the interval's pinned keys (called only when needed). */
  heldBytes: () => number;
}

/**
 * `bound-work`: the problem with the budget's work between two I/O
 * completions, if any (docs/SIMULATION.md, The budget's work), judged
 * against what the runner saw (`seen.events`, see `work_events.ts`), not
 * the budget's own counts of what asked for a round or woke its hand:
 *
 * - rounds ≤ {@link roundsSeenMax}: a round answers a load, a read
 *   settling, a pin released, a step of a compaction's walk (what it stood
 *   on may go), a checkpoint's end. A step of an incremental checkpoint's
 *   walk is no such event: the nodes it wrote stay (its snapshot holds
 *   them until it ends) and nothing else changed, so a round after it finds
 *   at most what the last one left;
 * - hand visits ≤ (3 × rounds + walks) × the nodes the arena held at most
 *   (`peakArenaBytes` / {@link nodeBytesMin}): a round's hand passes over
 *   the trie from its place to the end, then from the start, then once
 *   more taking the nodes read since, and each walk after one that took
 *   something starts again from its place, passing the path down to it;
 * - queue looks ≤ 3 × rounds × the entries the queue can hold (its ring
 *   of max(1,032, budget / 16) bytes, 2 bytes an entry at least);
 * - fruitless rounds ≤ {@link handEventsSeen} + 1: a round whose hand
 *   walked the whole trie and found nothing (more) to take leaves it idle,
 *   and nothing the hand alone could find turns evictable until a
 *   checkpoint ends (its nodes turn clean, its snapshot lets go), or a load
 *   the cooling queue does not hold comes; a compaction's walk step makes
 *   evictable only what it passed, which an idle round walks alone
 *   (`passedVisits`), not the whole trie. One more: the hand may not be
 *   idle when the interval starts. Not judged while a list or scan runs, or
 *   when the keys pinned may hold more than a fruitless walk keeps
 *   ({@link heldBytesMax} past {@link heldBytesLimit}): the hand then stays
 *   awake.
 *
 * While a compaction runs (`events.compacting`), rounds past the first
 * bound are taken from `seen.credit` (its steps and copied records, see
 * {@link compactionAsksMax}); a problem once it is spent. Fruitless walks
 * are not: a step wakes no idle hand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { budgetWorkProblem } from "./memory_bound.ts";
 * const work = {
 *   asked: 2, rounds: 2, walks: 2, visits: 100, queueLooks: 10, fruitless: 2, handIdle: 0,
 *   handEvents: 1, passed: 0, passedVisits: 0,
 * };
 * const events = {
 *   completions: 0, imageReads: 0, loads: 1, calls: 0, settled: 0, inFlight: 0, queued: 0,
 *   pinnedKeys: [], compacting: false, compactionsBegun: 0,
 * };
 * const seen = { events, credit: { left: 0 }, peakArenaBytes: 2400, budget: 4096, heldBytes: () => 0 };
 * assert.equal(budgetWorkProblem(work, seen), undefined);
 * assert.match(budgetWorkProblem({ ...work, rounds: 4 }, seen)!, /4 rounds .*\(1 record loaded/);
 * assert.match(budgetWorkProblem(work, { ...seen, peakArenaBytes: 240 })!, /100 nodes/);
 * assert.match(budgetWorkProblem({ ...work, fruitless: 3 }, seen)!, /3 rounds/);
 * // Pins that hold more than a fruitless walk keeps leave the hand awake.
 * assert.equal(budgetWorkProblem({ ...work, fruitless: 3 }, { ...seen, heldBytes: () => 600 }), undefined);
 * // A compaction running pays for what passes.
 * const paid = { ...seen, events: { ...events, compacting: true }, credit: { left: 5 } };
 * assert.equal(budgetWorkProblem({ ...work, rounds: 5 }, paid), undefined);
 * assert.equal(paid.credit.left, 3);
 * ```
 */
export function budgetWorkProblem(work: BudgetWorkDelta, seen: WorkSeen): string | undefined {
  const { events, credit, budget } = seen;
  const roundsOver = work.rounds - roundsSeenMax(events);
  let fruitlessOver = work.fruitless - (handEventsSeen(events) + 1);
  // The hand stays awake while what pins hold may pass what a fruitless walk keeps.
  if (fruitlessOver > 0 && (events.inFlight > 0 || seen.heldBytes() > heldBytesLimit(budget))) {
    fruitlessOver = 0;
  }
  // A compaction's credit pays for rounds its steps and copies ask for; not for fruitless walks:
  // a step wakes no idle hand (its rounds walk only what it passed).
  const over = Math.max(roundsOver, 0);
  const paid = events.compacting && over <= credit.left;
  if (paid) credit.left -= over;
  if (roundsOver > 0 && !paid) {
    return `the budget ran ${counted(work.rounds, "round")} of evictions past the ` +
      `${roundsSeenMax(events)} the events seen can ask for (${seenEvents(events)})`;
  }
  const nodes = Math.floor(seen.peakArenaBytes / nodeBytesMin);
  const visitsMax = (handPassesMax * work.rounds + work.walks) * nodes;
  if (work.visits > visitsMax) {
    return `the clock hand visited ${work.visits} nodes in ${work.rounds} rounds and ` +
      `${work.walks} walks, past ${visitsMax} (an arena of at most ${nodes} nodes)`;
  }
  if (fruitlessOver > 0) {
    return `the clock hand walked the whole trie for nothing in ` +
      `${counted(work.fruitless, "round")} after ${handEventsSeen(events)} events seen that ` +
      `can give it something (${seenEvents(events)}; pins held at most ${seen.heldBytes()} ` +
      `bytes of paths; a compaction's walk step is none)`;
  }
  const ring = Math.max(queueRingBytesMin, Math.floor(budget * queueShare));
  const entries = Math.floor(ring / queueEntryBytesMin);
  const looksMax = queuePassesMax * work.rounds * entries;
  if (work.queueLooks > looksMax) {
    return `the rounds looked at ${work.queueLooks} queued paths in ${work.rounds} rounds, ` +
      `past ${looksMax} (a queue of at most ${entries} paths)`;
  }
  return undefined;
}

/** The events of an interval, for a problem's message. */
function seenEvents(events: WorkEvents): string {
  const compaction = events.compacting ? ", a compaction running (its credit spent)" : "";
  return `${counted(events.loads, "record")} loaded, ` +
    `${counted(events.completions, "I/O completion")} (${events.imageReads} image reads), ` +
    `${counted(events.calls, "call")} made, ${events.settled} settled, ${events.inFlight} ` +
    `lists or scans and ${events.queued} queued writes in flight${compaction}`;
}

/** `count` and `noun`, plural unless one. */
function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
