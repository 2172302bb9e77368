/**
 * The memory budget (`memoryBudget`): while the trie's nodes take more than
 * their share of the budget, clean subtrees turn back into stubs
 * (`Art.evict`) and later reads load them again from the image.
 *
 * What the budget covers: the trie's arena (its live nodes and the freed
 * ones kept for reuse) and the image's slab cache, which gets a share of
 * the budget ({@link cacheShare}, at least {@link cacheSlabsMin} slabs) and
 * keeps no more.
 *
 * When: after each checkpoint (what it wrote became clean), and after
 * record reads (reads grow the trie too): a load that takes the live nodes
 * past the trie's share asks for a round, which runs in a microtask (see
 * {@link Budget.enforce}); so does each step of a compaction's walk (an
 * incremental checkpoint's frees nothing as it moves on), and each record
 * a compaction's copy reads (its slab reads fill the cache,
 * which shrinks the trie's share), when the live nodes are past it; so do
 * releases of pins and a strict group made durable (its keys pinned their
 * paths until it applies, which such a round does first). A
 * clock hand that walked the whole trie and found nothing to take stays
 * idle until something only it could find may have turned evictable
 * (`Budget.#idle`): rounds meanwhile take what the cooling queue holds,
 * and what a compaction's walk passed since (a step makes evictable only
 * the nodes it passed: `_walk_mark.ts`), walking those alone.
 *
 * A subtree can go only when the image holds it unchanged (a checkpoint
 * wrote every changed path), no key of a write not yet applied lies under
 * it (`Groups.pendingIds`), no operation pinned a key under it or a subtree
 * overlapping it (`_pins.ts`: whatever an operation loaded and will use
 * after an await is pinned), no record read in flight installs into it
 * (`Loader.readingPaths`), and the checkpoint running, if one is, does
 * not hold it: an incremental one's walk gave it no address yet, a
 * compaction's walk does not stand on it (`_evict.ts`: beside a snapshot,
 * a subtree goes from both the snapshot and the live trie at once). Once a
 * checkpoint failed past its capture (the store is poisoned), a subtree
 * goes only if the committed image holds all of it: the nodes the failed
 * one left naming records it wrote, and every node above them, stay
 * (`Art.checkpointFailed`), and reads go on within the budget. Which nodes go: first the oldest loaded, from
 * the cooling queue (`_path_queue.ts`: the paths of the nodes reads
 * installed, oldest first); when it holds too few, a clock hand walks the
 * key space and takes the lowest clean nodes after where it stopped, so
 * every part of the trie goes in turn. Both spare a node a read passed
 * since they last looked at it (reads mark the nodes they pass, see
 * `Art.markReads`; looking clears the mark): a second chance, as a CLOCK's,
 * for the keys read most. A read loads a stub only if a read met it in the
 * same admission epoch (an epoch per budget's worth evicted: `Art.admitEpoch`);
 * else it reads the key through the records (`_read_through.ts`). The order: the queue sparing read nodes; the
 * queue again taking read nodes too, but only the lowest (none of whose
 * children has children loaded, as the hand takes); the hand; and only what
 * all those leave, the queue's oldest, whole.
 *
 * Once nodes went, an arena whose freed words exceed its live ones, or
 * that holds more than {@link arenaSlack} trie parts and a fifth of it
 * free, is relocated into a smaller one (`Art.relocate`): the memory goes
 * back. Writes that take the live nodes past the trie's part, or log half
 * of it since the last checkpoint, start a checkpoint early
 * ({@link Budget.checkpointDue}), so that what they wrote can go; once the
 * arena passes the part by a fifth of the budget, writes wait for that
 * checkpoint ({@link Budget.overloaded}): the arena, the slab cache and the
 * ring then stay within 1.2 budgets, plus what one write call adds before
 * its wait. A round that leaves the live nodes past the part tells the
 * engine (`BudgetParts.stuck`), which starts a checkpoint if writes were
 * logged since the last one began. No checkpoint to wait for (automatic checkpoints off, one asked
 * for by hand queued instead, or a failed one: the store is then poisoned
 * and refuses writes), no wait: the arena grows past the budget.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type Art,
  evictDescend,
  evictKept,
  evictSkip,
  evictTake,
  markAfter,
  markNone,
  passedBy,
  sameMark,
  type StubRef,
  type WalkMark,
} from "../art/art.ts";
import { MemoryLimitError } from "../errors.ts";
import type { ImageFile } from "../image/image_file.ts";
import type { Groups } from "./_groups.ts";
import type { Loader } from "./_loader.ts";
import { PathQueue, pathQueueBytesMin, queuedPathBytesMax } from "./_path_queue.ts";
import { holdsUnder, insideSubtree, type Pins } from "./_pins.ts";
import type { BudgetStats, BudgetWork } from "./_budget_work.ts";

/**
 * Live nodes past this many trie parts start a checkpoint early (when
 * automatic checkpoints are on): nodes written since the last one cannot be
 * evicted until a checkpoint writes them, and no round runs after a write.
 */
const budgetCheckpointFactor = 1;
/** WAL bytes since the last checkpoint past this share of the trie's part start one early. */
const budgetEpochShare = 0.5;
/**
 * An arena (live and freed nodes) past the trie's part by this share of the
 * budget makes writes wait for the early checkpoint: the arena, the slab
 * cache and the cooling ring then take at most 1.2 budgets, and the batch a
 * writer made before its wait (the wait is judged after the call) has 0.05
 * more before 1.25 (issue 17's bound).
 */
const budgetWaitSlack = 0.2;
/** Evictions stop once the live nodes take this share of the trie's part. */
const budgetLowWater = 0.75;
/** An arena (live and freed nodes) past this many trie parts is relocated after a round. */
const arenaSlack = 1.25;
/** The share of the budget the image's slab cache may keep (at least {@link cacheSlabsMin} slabs). */
export const cacheShare = 1 / 8;
/**
 * Slabs the slab cache keeps whatever the budget (1 MiB of default slabs):
 * with fewer, a subtree whose records straddle slabs reads a slab per record.
 */
export const cacheSlabsMin = 8;
/** What a loaded record takes in the trie, about, for {@link Budget.prefetchNodes}. */
const prefetchRecordBytes = 64;
/** A relocation for size alone must give back at least this share of the arena. */
const relocateShareMin = 0.2;
/** The share of the budget the cooling queue's ring takes (see `_path_queue.ts`). */
const queueShare = 1 / 16;
/**
 * The largest ring (allocated at open): a sixteenth of a budget of 2^39
 * bytes (512 GiB) or more could not be allocated, and the open failed with
 * "Array buffer allocation failed". A 1 GiB budget's ring takes 64 MiB;
 * the 100M-key store's shards held 47,000 paths of 5 bytes or so each.
 */
const queueBytesMax = 256 * 1024 * 1024;
/** Clean subtrees the hand takes per walk of the trie. */
const candidatesPerRound = 4096;
/** Walks of the trie one enforcement makes at most. */
const roundsMax = 1024;
/**
 * The bytes of paths (two more each) a fruitless walk of the hand may keep
 * of the clean nodes only pins or reads in flight held, as a share of the
 * cooling queue's ring: more, and it leaves the hand awake (the next round
 * walks again). An idle round looks at each once, so with the queue's three
 * passes a round looks at no more paths than about 1.2 times the ring's
 * bytes (an entry takes at least 3).
 */
const heldShare = 1 / 2;
/** Bytes a kept path takes besides its own, as a ring entry's length. */
const heldPathOverhead = 2;

/**
 * What a fruitless walk of the clock hand left (see {@link Budget}'s
 * `#idle`): the loader's and the cooling queue's counters then.
 */
interface IdleMark {
  /** `Loader.stats.nodesLoaded`. */
  loaded: number;
  /** Loads the cooling queue took ({@link Budget.noteLoaded}). */
  queued: number;
  /** Entries the cooling queue dropped, full. */
  dropped: number;
  /**
   * What a compaction's walk passed since (`_walk_mark.ts`): the nodes
   * after `start` and up to `end`, which idle rounds walk in turn (from
   * `hand`, a clock hand of their own) until a walk over all of them takes
   * nothing; `start` then moves to `end`.
   */
  span: { start: WalkMark; hand: WalkMark; end: WalkMark };
}

/** What a {@link Budget} watches. */
export interface BudgetParts {
  trie: Art;
  groups: Groups;
  pins: Pins;
  loader: Loader;
  /** The image now (a compaction replaces it). */
  image: () => ImageFile;
  /**
   * Called after a round that left the live nodes past the trie's part:
   * what is left cannot go (dirty nodes, pinned paths, a snapshot's).
   */
  stuck?: () => void;
}

/** Keeps one trie within a memory budget (see the module notes). */
export class Budget {
  readonly #bytes: number | undefined;
  readonly #parts: BudgetParts;
  /** The fewest slabs the slab cache keeps ({@link cacheSlabsMin}, or the simulator's). */
  readonly #cacheSlabsMin: number;
  /** Whether the open's replay is done ({@link Budget.start}): no eviction before. */
  #started = false;
  /** Whether a round after loads is queued. */
  #queued = false;
  /** Where the clock hand stopped: the next walk passes over the keys before it. */
  #hand: Uint8Array | undefined;
  /** The paths of the nodes loaded, oldest first: a round's first candidates. */
  readonly #queue: PathQueue | undefined;
  /** Where a round reads each queued path (see `PathQueue.shift`). */
  readonly #pathScratch = new Uint8Array(queuedPathBytesMax);
  readonly stats: BudgetStats = { evictions: 0, evictedBytes: 0 };
  readonly work: BudgetWork = {
    asked: 0,
    rounds: 0,
    queueLooks: 0,
    walkSteps: 0,
    fruitless: 0,
    handIdle: 0,
    handEvents: 0,
    passed: 0,
    passedVisits: 0,
  };
  /**
   * Set when the hand walked the whole trie and found nothing to take:
   * rounds then leave it idle (the cooling queue still gives them what
   * loads brought) until something it alone could find may have become
   * evictable. A node becomes evictable when it turns clean (a checkpoint
   * ends, a compaction's walk passes it), a live snapshot lets it go (a
   * checkpoint ends, a compaction's walk moves on: what it passed, which
   * idle rounds walk alone, `IdleMark.span`), a load brings it (the
   * cooling queue holds it, unless its path is too long or the full ring
   * dropped it: the mark's counters tell), or a pin or read in flight lets
   * it go (the walk kept those, `#held`, and idle rounds look at them, see
   * {@link heldShare}). Writes only make nodes dirty. Without it, every
   * load past the part walked the whole trie for nothing while dirty
   * nodes filled it (`bench/budget_stall_bench.ts`).
   */
  #idle: IdleMark | undefined;
  /** Loads the cooling queue took ({@link IdleMark.queued}). */
  #queuedLoads = 0;
  /** `Art.walkVisited` at the last step of a compaction's walk. */
  #walkVisited = 0;
  /**
   * The clean nodes the hand's walk found held by pins or reads in flight:
   * their paths (while it walks, then while it is idle), and their bytes.
   */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** Of {@link BudgetStats.evictions}, those made while a checkpoint's snapshot was live. */
  evictionsBeside = 0;

  constructor(bytes: number | undefined, parts: BudgetParts, cacheSlabsFloor = cacheSlabsMin) {
    assert(Number.isSafeInteger(cacheSlabsFloor) && cacheSlabsFloor >= 1, "a cache keeps a slab");
    this.#bytes = bytes;
    this.#parts = parts;
    this.#cacheSlabsMin = cacheSlabsFloor;
    if (bytes !== undefined) {
      const ring = Math.min(queueBytesMax, Math.floor(bytes * queueShare));
      this.#queue = new PathQueue(Math.max(pathQueueBytesMin, ring));
      parts.trie.markReads = true; // reads mark their paths: a second chance (`Art.evictCold`)
    }
  }

  /** Bytes of the cooling queue's ring (0 without a budget). */
  get queueBytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  /** The budget in bytes, or undefined for none. */
  get bytes(): number | undefined {
    return this.#bytes;
  }

  /**
   * Whether to start a checkpoint early: the live nodes are past the
   * trie's part, or the WAL bytes logged since the last checkpoint began
   * (`epochWalBytes`) pass {@link budgetEpochShare} of it. Those writes are
   * not all in the live nodes yet (a strict group is applied when the next
   * one syncs, or a read comes), and none can go before a checkpoint.
   */
  checkpointDue(epochWalBytes: number): boolean {
    const part = this.#triePart();
    if (part === undefined) return false;
    return this.#parts.trie.memory().liveBytes > part * budgetCheckpointFactor ||
      epochWalBytes > part * budgetEpochShare;
  }

  /**
   * Whether the arena (live and freed nodes) passed the trie's part by
   * {@link budgetWaitSlack} of the budget: writes then wait for the
   * checkpoint that makes room (writers faster than a checkpoint would take
   * the trie past any bound). With the slab cache and the cooling ring under
   * their shares, the memory the budget covers is then at most 1.2 budgets.
   * An arena past it whose live nodes are within the part is relocated
   * first, if that gives a fifth of it back (no checkpoint would: the
   * excess is freed words).
   */
  overloaded(): boolean {
    const budget = this.#bytes;
    if (budget === undefined) return false;
    const part = this.#triePart()!;
    const bound = part + budget * budgetWaitSlack;
    const memory = this.#parts.trie.memory();
    if (memory.liveBytes + memory.freeBytes <= bound) return false;
    if (!this.#giveFreedBack(part)) return true;
    const after = this.#parts.trie.memory();
    return after.liveBytes + after.freeBytes > bound;
  }

  /**
   * Relocates an arena past the writers' bound ({@link budgetWaitSlack})
   * whose live nodes are within the trie's part, if a fifth of it is free:
   * the excess is freed words (node growth, evictions since the last
   * relocation), which no checkpoint gives back. Else the arena is within
   * 1.25 times its live nodes: with the cache and the ring, 1.25 budgets.
   * Returns whether it relocated (never while a snapshot is live).
   */
  #giveFreedBack(part: number): boolean {
    const budget = this.#bytes;
    if (budget === undefined || !this.#started) return false;
    const memory = this.#parts.trie.memory();
    const arena = memory.liveBytes + memory.freeBytes;
    if (arena <= part + budget * budgetWaitSlack || memory.liveBytes > part) return false;
    return memory.freeBytes >= arena * relocateShareMin && this.#parts.trie.relocate();
  }

  /**
   * Bytes the background warm-up (`_warm.ts`) may still load: up to the
   * low-water mark of the trie's part, so that it never sets off a round of
   * its own; infinite without a budget.
   */
  warmRoom(): number {
    const part = this.#triePart();
    if (part === undefined) return Number.POSITIVE_INFINITY;
    return part * budgetLowWater - this.#parts.trie.memory().liveBytes;
  }

  /** The trie's part of the budget: what the slab cache may not take. */
  #triePart(): number | undefined {
    const budget = this.#bytes;
    if (budget === undefined) return undefined;
    // The slab cache's bytes now (up to its share): point reads of a large image leave it empty.
    const others = this.#parts.image().cacheBytes + (this.#queue?.bytes ?? 0);
    return Math.max(budget - others, budget / 2);
  }

  /**
   * How many records a list may load ahead below a stub it met: `wanted`,
   * or under a budget as many as a quarter of the trie's part holds (at
   * {@link prefetchRecordBytes} each), at least one.
   */
  prefetchNodes(wanted: number): number {
    const part = this.#triePart();
    if (part === undefined) return wanted;
    return Math.max(1, Math.min(wanted, Math.floor(part / 4 / prefetchRecordBytes)));
  }

  /**
   * Starts the budget once the open's replay is done (its loads and applies
   * must not meet evictions): bounds the slab cache and evicts at once.
   */
  start(): void {
    const budget = this.#bytes;
    if (budget === undefined) return;
    const image = this.#parts.image();
    const slabs = Math.floor(budget * cacheShare / image.geometry.slabBytes);
    image.cacheSlabsMax = Math.max(this.#cacheSlabsMin, slabs);
    this.#started = true;
    this.work.handEvents++;
    this.#wakeHand();
    this.enforce();
  }

  /**
   * After a checkpoint committed and released its snapshot (or failed): what
   * it wrote is clean, what its snapshot held is free, so the hand looks
   * again; a round runs at once.
   */
  afterCheckpoint(): void {
    this.work.handEvents++;
    this.#wakeHand();
    this.enforce();
  }

  /**
   * Lets the clock hand walk again: something only it finds may have become
   * evictable (callers count the event, {@link BudgetWork.handEvents}).
   */
  #wakeHand(): void {
    this.#idle = undefined;
    this.#forgetHeld(); // its next walk finds them
  }

  /** Whether a round of evictions is queued (after a load) and has not run yet. */
  get roundQueued(): boolean {
    return this.#queued;
  }

  /** Notes a node a read installed (under a budget): it joins the cooling queue's tail. */
  noteLoaded(path: Uint8Array): void {
    if (this.#queue?.push(path)) this.#queuedLoads++;
  }

  /**
   * After a record was installed (the loader calls it; a load from cached
   * slabs calls it just before it installs): queues a round of evictions in
   * a microtask, which runs if the live nodes passed the trie's part then.
   * It runs after the synchronous reader that loaded from cached slabs, and
   * before awaited readers go on: those pinned what they will read.
   */
  afterLoad(): void {
    this.work.asked++;
    // Not judged now: the record of a load from cached slabs is not installed yet (judged
    // here, a load that took the live nodes past the part asked for no round).
    this.#queueRound();
  }

  /**
   * After a checkpoint's node walk moved on: what a compaction's walk stood
   * on (its stack, the place of the stub it copied) may go now, so a round
   * is queued as after a load. Without it, a round beside the walk left
   * those nodes and none came until the next load (simulator seed 25 at 4
   * KiB: 2,120 live bytes against a part of 2,048 and a floor of 728);
   * also once the walk ended (its last step pops what it stood on, the
   * root last: seed 25 at 8 KiB, mixed, 500 ops, kept 5,072 live bytes
   * against a part of 4,096 and a floor of 928 through the commit).
   * Also after each record a compaction's copy reads from the old image:
   * the read may put a slab in the slab cache, which the budget counts, so
   * the trie's part shrinks with no load to ask for a round. Without it,
   * the live nodes stayed past the part until the copy of that subtree
   * ended (simulator seed 5 at 8 KiB, mixed: the part fell from 7,160 to
   * 4,096 bytes under 6,640 live ones, with a floor of 6,584). Such a
   * read (`moved` false) makes nothing evictable the hand alone finds: an
   * idle hand stays idle (seed 13 at 4 KiB: 245 rounds walked a trie of
   * a root and its stubs for nothing between two I/O completions, one per
   * record copied). A step that moved makes evictable only what it passed
   * (the nodes it gave fresh addresses, and left): an idle hand stays idle,
   * and its rounds walk those nodes alone (`IdleMark.span`). Waking it
   * walked the whole trie once a step while the nodes the walk had not
   * reached kept the live ones past the part: a compaction of 20,000 keys
   * beside 10,000 written took 20 to 29 s (`bench/compaction_budget_bench.ts`).
   */
  afterWalkStep(moved = true): void {
    this.work.walkSteps++;
    const trie = this.#parts.trie;
    if (trie.compacting) this.work.asked++; // what it stood on may go now
    // A record the copy read (`moved` false) passed nothing.
    if (trie.compacting && moved) this.#stepPassed();
    // An incremental walk frees nothing as it moves on: the nodes it wrote stay until its commit
    // (a round per step walked the trie for nothing: a budgeted import ran 5 times slower).
    if (!trie.compacting) return;
    if (trie.memory().liveBytes <= (this.#triePart() ?? Infinity)) return;
    this.#queueRound();
  }

  /**
   * After a step of a compaction's walk: counts what it passed, and moves
   * the end of what an idle hand's rounds walk to where the walk stands.
   */
  #stepPassed(): void {
    const trie = this.#parts.trie;
    const visited = trie.walkVisited;
    // A walk that began since the last step counts from 0.
    this.work.passed += visited >= this.#walkVisited ? visited - this.#walkVisited : visited;
    this.#walkVisited = visited;
    // A span outlives its walk only past a failed checkpoint, whose end (`afterCheckpoint`, on
    // failure too) wakes the hand: an idle mark is made beside the walk, or before it began.
    if (this.#idle !== undefined) this.#idle.span.end = trie.walkMark();
  }

  /** Queues a round of evictions in a microtask (see {@link Budget.afterLoad}). */
  #queueRound(): void {
    if (this.#bytes === undefined || this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.#round();
    });
  }

  /**
   * Evicts clean subtrees until the live nodes are back under the trie's
   * part (or none is left to take); called when a checkpoint ended and
   * after loads (also while a checkpoint runs).
   */
  enforce(): void {
    this.work.asked++;
    this.#round();
  }

  /** A round of {@link Budget.enforce}. */
  #round(): void {
    const part = this.#triePart();
    if (part === undefined) return;
    if (this.#parts.trie.memory().liveBytes <= part) {
      this.#giveFreedBack(part); // the round after a checkpoint: what writers grew may go back
      return;
    }
    if (!this.#started) return;
    const pinned: string[] = [];
    const { trie, groups, pins } = this.#parts;
    // A trie whose apply failed is read by no one again; long keys pinned: take nothing.
    if (groups.trieFailure !== undefined || !this.#pendingIds(pinned)) return;
    if (!pins.ids(pinned)) return;
    pinned.sort();
    // A read in flight installs by path and address: its subtree stays (`Loader.readingPaths`).
    const subtrees = pins.subtreeIds();
    this.#parts.loader.readingPaths(subtrees);
    subtrees.sort();
    this.work.rounds++;
    this.#evictDownTo(part * budgetLowWater, pinned, subtrees);
    const memory = trie.memory();
    if (memory.liveBytes > part) this.#parts.stuck?.();
    const arena = memory.liveBytes + memory.freeBytes;
    // Only a copy that gives a fifth of the arena back is worth making; without memory for
    // the new arena, it keeps the old one (still exact).
    const worth = memory.freeBytes > memory.liveBytes ||
      (arena > part * arenaSlack && memory.freeBytes > arena * relocateShareMin);
    if (worth) trie.relocate();
  }

  /**
   * `Groups.pendingIds`: false if a key too long for an id is pending, or if
   * applying a durable group failed just now (the store then refuses
   * everything and reports it; a round after loads runs in a microtask,
   * where a throw would end the process).
   */
  #pendingIds(into: string[]): boolean {
    const groups = this.#parts.groups;
    try {
      return groups.pendingIds(into);
    } catch (error) {
      if (groups.trieFailure !== undefined) return false;
      throw error;
    }
  }

  /**
   * Evicts until the live nodes take `target` bytes or fewer: from the
   * cooling queue first, then by the clock hand's walk. A node read since
   * the last look stays (`Art.evictCold`); so does one with a pinned key or
   * subtree below it.
   */
  #evictDownTo(target: number, pinned: readonly string[], subtrees: readonly string[]): void {
    const choose = (path: Uint8Array): number => {
      if (insideSubtree(subtrees, path)) return evictSkip;
      return holdsUnder(pinned, path) || holdsUnder(subtrees, path) ? evictDescend : evictTake;
    };
    // A pass sparing the nodes read since the last look, then one taking them too (oldest first)
    // but only the lowest; then the hand, the lowest in key order; what is left, the oldest whole.
    if (this.#evictQueued(target, choose, true) <= target) return;
    if (this.#evictQueued(target, choose, false, true) <= target) return;
    this.#evictByHandOrHeld(target, choose);
    if (this.#parts.trie.memory().liveBytes > target) this.#evictQueued(target, choose, false);
  }

  /**
   * The hand's part of a round (see {@link Budget.#evictDownTo}): an idle
   * hand looks only at what it held; else it walks, and goes idle if a
   * walk of the whole trie found nothing to take.
   */
  #evictByHandOrHeld(target: number, choose: (path: Uint8Array) => number): void {
    if (this.#handIdle()) {
      this.work.handIdle++;
      this.#evictHeld(target, choose);
      const visits = this.#parts.trie.evictWalks.visits;
      this.#evictPassed(target, choose);
      this.work.passedVisits += this.#parts.trie.evictWalks.visits - visits;
      return;
    }
    const heldMax = this.#queue!.bytes * heldShare;
    const chooseByHand = (path: Uint8Array): number => {
      const choice = choose(path);
      if (choice === evictTake || this.#heldBytes > heldMax) return choice;
      this.#held.push(path.slice());
      this.#heldBytes += path.length + heldPathOverhead;
      return choice;
    };
    const exhausted = this.#evictByHand(target, chooseByHand);
    if (exhausted) this.work.fruitless++;
    if (exhausted && this.#heldBytes <= heldMax) return this.#markIdle();
    // Pins held more than it keeps: it walks again next round, to find them once let go.
    if (exhausted) this.work.handEvents++;
    this.#forgetHeld();
  }

  /**
   * An idle round's look at what pins and reads in flight held at the
   * hand's last walk: evicts what they let go since (until the live nodes
   * take `target` bytes or fewer), forgets what went or turned dirty.
   */
  #evictHeld(target: number, choose: (path: Uint8Array) => number): void {
    const trie = this.#parts.trie;
    let live = trie.memory().liveBytes;
    const held = this.#held;
    let kept = 0;
    for (let index = 0; index < held.length; index++) {
      const path = held[index];
      if (live <= target) {
        held[kept++] = path;
        continue;
      }
      this.work.queueLooks++;
      if (choose(path) !== evictTake) {
        held[kept++] = path; // still pinned, or read into
        continue;
      }
      let evicted;
      try {
        evicted = trie.evict(path);
      } catch (error) {
        if (!(error instanceof MemoryLimitError)) throw error;
        held[kept++] = path; // no memory even for the stub: nothing changed
        continue;
      }
      // Gone, or dirty (the hand finds it once a checkpoint wrote it, which wakes it).
      if (evicted === null) continue;
      this.#counted(evicted.words);
      live -= evicted.words * 4;
    }
    assert(kept <= held.length, "an idle round only forgets what it held");
    held.length = kept;
    this.#heldBytes = held.reduce((bytes, path) => bytes + path.length + heldPathOverhead, 0);
  }

  /** Empties {@link Budget.#held}. */
  #forgetHeld(): void {
    this.#held.length = 0;
    this.#heldBytes = 0;
  }

  /**
   * Whether the hand's last walk found nothing to take and nothing it could
   * find changed since (every load since is in the cooling queue); clears
   * a mark loads outdated.
   */
  #handIdle(): boolean {
    const idle = this.#idle;
    if (idle === undefined) return false;
    const queue = this.#queue!;
    const loaded = this.#parts.loader.stats.nodesLoaded - idle.loaded;
    // The loader counts a record before it hands the budget its path: queued ones are all counted.
    assert(loaded >= this.#queuedLoads - idle.queued, "every queued load is a load");
    if (loaded === this.#queuedLoads - idle.queued && queue.dropped === idle.dropped) return true;
    this.work.handEvents++;
    this.#wakeHand(); // a load the queue does not hold: the hand finds it
    return false;
  }

  /**
   * After a walk of the hand over the whole trie that took nothing: leaves
   * it idle, keeping what only pins and reads in flight held (`#held`:
   * idle rounds take those once let go).
   */
  #markIdle(): void {
    assert(this.#queue !== undefined && this.#started, "only a started budget's hand walks");
    const trie = this.#parts.trie;
    // Beside a compaction, what its walk passes from now on; else all its next walk passes.
    const mark = trie.compacting ? trie.walkMark() : markNone;
    this.#idle = {
      loaded: this.#parts.loader.stats.nodesLoaded,
      queued: this.#queuedLoads,
      dropped: this.#queue!.dropped,
      span: { start: mark, hand: mark, end: mark },
    };
  }

  /**
   * An idle round's walk over what a compaction's walk passed since the
   * hand went idle (`IdleMark.span`): evicts there until the live nodes
   * take `target` bytes or fewer, as the hand would (from where it stopped,
   * sparing the nodes read since, then from the span's start, then taking
   * those too). Once a walk over the whole span took nothing, the span is
   * looked at: its start moves to its end, and what only pins and reads in
   * flight held there joins `#held` (more than it keeps: the hand wakes).
   */
  #evictPassed(target: number, choose: (path: Uint8Array) => number): void {
    const span = this.#idle!.span;
    const trie = this.#parts.trie;
    if (sameMark(span.start, span.end) || trie.memory().liveBytes <= target) return;
    let found: Uint8Array[] = [];
    let foundBytes = 0;
    const heldMax = this.#queue!.bytes * heldShare;
    const chooseInSpan = (path: Uint8Array): number => {
      const choice = choose(path);
      if (choice === evictTake || foundBytes > heldMax) return choice;
      found.push(path.slice());
      foundBytes += path.length + heldPathOverhead;
      return choice;
    };
    let spareReferenced = true;
    for (let walk = 0; walk < roundsMax; walk++) {
      found = []; // what this walk finds pinned
      foundBytes = 0;
      const within = { after: span.hand, through: span.end };
      const candidates = trie.evictable(
        candidatesPerRound,
        within,
        chooseInSpan,
        true,
        spareReferenced,
      );
      if (candidates.length > 0) {
        // The lower nodes of one it holds back may lie before the span (`evictableNodes`): the
        // hand never moves back to them, the next walk meets them below that node again.
        const passing = (path: Uint8Array) => {
          if (!passedBy(path, span.hand)) span.hand = markAfter(path);
        };
        if (!this.#evictCandidates(candidates, target, passing)) return; // no memory for a stub
        if (trie.memory().liveBytes <= target) return;
      } else if (!sameMark(span.hand, span.start)) span.hand = span.start;
      else if (spareReferenced) spareReferenced = false;
      else return this.#spanLooked(span, found);
    }
  }

  /** After a walk over a whole span took nothing: see {@link Budget.#evictPassed}. */
  #spanLooked(span: IdleMark["span"], held: readonly Uint8Array[]): void {
    span.start = span.hand = span.end;
    for (const path of held) {
      this.#held.push(path);
      this.#heldBytes += path.length + heldPathOverhead;
    }
    if (this.#heldBytes <= this.#queue!.bytes * heldShare) return;
    this.work.handEvents++; // pins held more than it keeps: it walks again next round
    this.#wakeHand();
  }

  /**
   * The cooling queue's part of a round: takes paths from its head, evicts
   * the clean nodes they lead to, and puts back at the tail the ones that
   * must stay for now (`choose` does not take them, or a read passed them
   * since the last look). With `lowest`, only the lowest nodes go (none of
   * their children has children loaded): each load was read, so the first
   * round after loads finds every node marked, and the oldest are the
   * nodes near the root, each holding what loaded after it. Each path is
   * looked at once. Returns the live bytes after.
   */
  #evictQueued(
    target: number,
    choose: (path: Uint8Array) => number,
    spareReferenced: boolean,
    lowest = false,
  ): number {
    const { trie } = this.#parts;
    const queue = this.#queue;
    let live = trie.memory().liveBytes;
    if (queue === undefined) return live;
    const seen = new Set<number>(); // a path queued twice (loaded, evicted, loaded) is looked at once
    const scratch = this.#pathScratch;
    for (let left = queue.length; left > 0 && live > target; left--) {
      this.work.queueLooks++;
      const path = queue.shift(scratch)!; // put back, it is copied into the ring
      if (choose(path) !== evictTake) {
        queue.push(path);
        continue;
      }
      let evicted;
      try {
        evicted = trie.evictCold(path, spareReferenced, seen, lowest);
      } catch (error) {
        if (!(error instanceof MemoryLimitError)) throw error;
        queue.push(path); // no memory even for the stub: nothing changed
        break;
      }
      if (evicted === evictKept) queue.push(path);
      // Gone (a stub now), dirty or the running checkpoint's (the hand finds it once a
      // checkpoint wrote it), or seen.
      if (evicted === null || evicted === evictKept) continue;
      this.#counted(evicted.words);
      live -= evicted.words * 4;
    }
    return live;
  }

  /**
   * The clock hand's walk: evicts until the live nodes take `target` bytes
   * or fewer. True if it stopped short of that because a walk over the
   * whole trie (from the first key, sparing no node read since) found
   * nothing to take; `#held` then holds what that walk found pinned.
   */
  #evictByHand(target: number, choose: (path: Uint8Array) => number): boolean {
    const trie = this.#parts.trie;
    // On its first pass the hand spares the nodes read since the queue last looked at them.
    let spareReferenced = true;
    let live = trie.memory().liveBytes;
    for (let round = 0; round < roundsMax && live > target; round++) {
      const hand = this.#hand;
      this.#forgetHeld(); // what this walk finds pinned
      const candidates = trie.evictable(candidatesPerRound, hand, choose, true, spareReferenced);
      if (candidates.length === 0) {
        if (this.#hand !== undefined) this.#hand = undefined; // past the last key: to the first
        else if (spareReferenced) spareReferenced = false; // a pass sparing them was not enough
        else return true;
        continue;
      }
      // A walk whose candidates all stay (no memory for a stub) ends the round: the next will.
      if (!this.#evictCandidates(candidates, target)) return false;
      live = trie.memory().liveBytes;
    }
    return false;
  }

  /**
   * Evicts `candidates` in turn until the live nodes take `target` bytes or
   * fewer, then tells `passing` of the last it looked at (by default, the
   * clock hand moves past it); false if none went (no memory for a stub).
   */
  #evictCandidates(
    candidates: readonly StubRef[],
    target: number,
    passing = (path: Uint8Array): void => void (this.#hand = afterSubtree(path)),
  ): boolean {
    const trie = this.#parts.trie;
    let live = trie.memory().liveBytes;
    let any = false;
    // `passing` is told of the last candidate looked at, once (a copy of the hand per candidate
    // was a tenth of a budgeted list's time).
    let passed: Uint8Array | undefined;
    try {
      for (const { path } of candidates) {
        let evicted;
        try {
          evicted = trie.evict(path);
        } catch (error) {
          // No memory even for the stub: nothing changed, and the next round tries it again.
          if (error instanceof MemoryLimitError) return false;
          throw error;
        }
        passed = path;
        if (evicted === null) continue; // gone meanwhile (the walk offers only what can go)
        any = true;
        this.#counted(evicted.words);
        live -= evicted.words * 4;
        if (live <= target) return true;
      }
      return any;
    } finally {
      if (passed !== undefined) passing(passed);
    }
  }

  /** Counts one eviction that freed `words`. */
  #counted(words: number): void {
    this.stats.evictions++;
    this.stats.evictedBytes += words * 4;
    this.#parts.trie.admitEpoch = Math.floor(this.stats.evictedBytes / this.#bytes!); // a budget's worth
    if (this.#parts.trie.captured) this.evictionsBeside++;
  }
}

/** The smallest key after every key that starts with `path`; undefined if none is. */
function afterSubtree(path: Uint8Array): Uint8Array | undefined {
  let end = path.length;
  while (end > 0 && path[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const next = path.slice(0, end);
  next[end - 1]++;
  return next;
}
