/**
 * What the memory budget (`_budget.ts`) counts: its evictions, for
 * `stats().memory`, and its work, for the simulator's bound on it.
 *
 * @module
 */

/** What the budget did, for `stats().memory`. */
export interface BudgetStats {
  /** Subtrees evicted since open. */
  evictions: number;
  /** Bytes of nodes they freed. */
  evictedBytes: number;
}

/**
 * The budget's work, for the simulator's bound on it (`WriteCounters`;
 * the clock hand's walks are `Art.evictWalks`).
 */
export interface BudgetWork {
  /**
   * Events that may ask for a round: loads ({@link Budget.afterLoad}: a
   * record installed, a read settled, a list's pin released, a strict
   * group made durable), steps of a
   * compaction's walk ({@link Budget.afterWalkStep}), and direct calls of
   * {@link Budget.enforce} (a checkpoint ended, a list met a stub, the
   * start). Steps of an incremental checkpoint's walk are not among them.
   */
  asked: number;
  /** Rounds that looked for nodes to evict (the live nodes were past the trie's part). */
  rounds: number;
  /** Paths the rounds took from the cooling queue to look at. */
  queueLooks: number;
  /** Steps of checkpoints' node walks ({@link Budget.afterWalkStep}), incremental ones' too. */
  walkSteps: number;
  /**
   * Rounds whose clock hand walked the whole trie and found nothing to
   * take: every node left was dirty, pinned, read into or held by a live
   * snapshot. The hand then stays idle (see {@link Budget}'s `#idle`).
   */
  fruitless: number;
  /** Rounds whose hand stayed idle: nothing it could find changed since a fruitless walk. */
  handIdle: number;
  /**
   * Events after which the hand may find what its last walk could not: a
   * checkpoint's end, the start, and rounds that found loads the cooling
   * queue does not hold (or entries it dropped), or pins that held more
   * than the idle hand keeps. A step of a compaction's walk is none: an
   * idle hand looks only at what the step passed (`passedVisits`).
   */
  handEvents: number;
  /** Nodes compactions' walks passed (visited: gave fresh addresses, and left). */
  passed: number;
  /**
   * Nodes an idle hand's walks over what a compaction's walk passed since
   * it went idle visited (of `Art.evictWalks.visits`): the nodes passed,
   * those above them on the paths to where the walks start and stop, and
   * nodes loaded or written there meanwhile, each looked at a few times.
   */
  passedVisits: number;
}
