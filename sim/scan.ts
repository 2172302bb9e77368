/**
 * The model of `Store.scan`: how a scan's visits are checked. Beside
 * `list.ts`, whose selector model it shares.
 *
 * A scan visits a selector's entries in passes of one synchronous walk
 * each. A pass ends where the walk meets a node not loaded yet (the node is
 * loaded, and the next pass resumes just past the last key visited) or at
 * `scanPassEntriesMax` entries; each pass sees one state of the store, and
 * writes may land between passes. Unlike a list's 256-entry batches, where
 * the passes split depends on which nodes are loaded, which the runner
 * cannot see. So a result is checked against every split at once: it must
 * be what some sequence of passes over model states gives, each state no
 * older than the one before, from the acknowledged frontier at the call to
 * the newest write at the resolution. A pass covers the keys from just past
 * the last key visited before it to its own last key; the last pass
 * reaches the range's end, unless the limit or the visitor stopped it.
 *
 * Checking every split is one greedy walk (`Oracle.checkScan`): for each
 * state in turn, match as many of the remaining visits as one pass over it
 * would make ({@link passReach}). Matching as far as possible loses
 * nothing: if one pass over a state visits entries `i..j`, one over the same
 * state from any `k` in `i..j` visits `k..j`. So the walk ends, at the
 * oldest state it can, exactly when some sequence of passes explains the
 * result; with no write in the window (one state) it must equal that state.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { showKey } from "./keys.ts";
import { inRange, type KeyRange, type ListEntry, listShapeProblem } from "./list.ts";
import type { SimOp } from "./workload.ts";

/** What a scan was asked for, in the model's terms. */
export interface ScanShape {
  range: KeyRange;
  reverse: boolean;
  /** The limit (`Infinity`: none). */
  limit: number;
  /** The visit whose visitor returned `false`, if the visitor stops early. */
  stopAfter: number | undefined;
}

/**
 * What is wrong with a scan's visits, apart from the states they show:
 * their order, repeats, range and limit (as a list's), a visit after the
 * visitor stopped the scan, or a count returned that is not the visits
 * made. Undefined if nothing is.
 */
export function scanShapeProblem(
  entries: readonly ListEntry[],
  returned: number,
  shape: ScanShape,
): string | undefined {
  const { stopAfter } = shape;
  if (stopAfter !== undefined && entries.length > stopAfter) {
    return `${visitCount(entries.length)}, though the visitor returned false at visit ${stopAfter}`;
  }
  const problem = listShapeProblem(entries, shape.range, shape.reverse, shape.limit);
  if (problem !== undefined) return problem;
  if (returned !== entries.length) {
    return `it returned ${returned} for ${visitCount(entries.length)}`;
  }
  return undefined;
}

/** Whether a scan that made these visits had no more to make: the limit or its visitor stopped it. */
export function scanClosed(entries: readonly ListEntry[], shape: ScanShape): boolean {
  return entries.length === shape.limit || entries.length === shape.stopAfter;
}

/** The first index of sorted `keys` whose key is above `key` (`above`) or at least `key`. */
function searchKeys(keys: readonly string[], key: string, above: boolean): number {
  let [low, high] = [0, keys.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (above ? keys[middle] <= key : keys[middle] < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The keys of a model state inside a scan's range, in byte order, kept
 * sorted as writes apply (a write changes a few keys; sorting the state
 * anew for each LSN of the window would cost far more).
 */
export class RangeKeys {
  readonly #range: KeyRange;
  readonly sorted: string[];

  constructor(state: ReadonlyMap<string, number>, range: KeyRange) {
    this.#range = range;
    this.sorted = [...state.keys()].filter((key) => inRange(key, range)).sort();
  }

  /** Follows the keys `op` wrote, in `state` as it holds after the write. */
  update(op: SimOp, state: ReadonlyMap<string, number>): void {
    for (const key of writtenKeys(op)) {
      if (!inRange(key, this.#range)) continue;
      const index = searchKeys(this.sorted, key, false);
      const listed = this.sorted[index] === key;
      if (state.has(key) && !listed) this.sorted.splice(index, 0, key);
      else if (!state.has(key) && listed) this.sorted.splice(index, 1);
    }
  }
}

/** The keys a write sets, adds to or deletes. */
function writtenKeys(op: SimOp): string[] {
  if (op.type === "atomic") return op.ops.map((mutation) => mutation.key);
  assert(op.type === "add" || op.type === "set" || op.type === "delete", "only writes apply");
  return [op.key];
}

/**
 * The index in `keys` (sorted) of the first key a pass resuming after
 * `entries[from - 1]` visits (the range's first one for `from` 0), in the
 * scan's order; past the end (`keys.length`, or -1 reversed) if none.
 */
function resumeIndex(
  keys: readonly string[],
  entries: readonly ListEntry[],
  from: number,
  reverse: boolean,
): number {
  if (from === 0) return reverse ? keys.length - 1 : 0;
  const last = entries[from - 1][0];
  return reverse ? searchKeys(keys, last, false) - 1 : searchKeys(keys, last, true);
}

/**
 * How far one pass over `state` (its keys in the range: `keys`), resuming
 * after `entries[from - 1]`, makes the same visits as the scan: the index
 * past the last entry it matches, key and value (`from` if none).
 */
export function passReach(
  keys: readonly string[],
  state: ReadonlyMap<string, number>,
  entries: readonly ListEntry[],
  from: number,
  reverse: boolean,
): number {
  const step = reverse ? -1 : 1;
  let position = from;
  for (let index = resumeIndex(keys, entries, from, reverse); position < entries.length;) {
    if (index < 0 || index >= keys.length) break;
    const [key, value] = entries[position];
    if (keys[index] !== key || state.get(key) !== value) break;
    position++;
    index += step;
  }
  return position;
}

/** Whether a pass resuming after the scan's last visit finds nothing more in the range (`keys`). */
export function passEnds(
  keys: readonly string[],
  entries: readonly ListEntry[],
  reverse: boolean,
): boolean {
  const index = resumeIndex(keys, entries, entries.length, reverse);
  return index < 0 || index >= keys.length;
}

/** "1 visit", "3 visits". */
export function visitCount(count: number): string {
  return `${count} visit${count === 1 ? "" : "s"}`;
}

/** Says where a scan's visits part from every sequence of passes over the states (for a violation). */
export function scanMismatch(entries: readonly ListEntry[], position: number): string {
  if (position < entries.length) {
    const [key, value] = entries[position];
    return `visit ${position} (${showKey(key)}=${value}) is not what a pass over any of them ` +
      `makes next`;
  }
  return `it ended after ${visitCount(entries.length)}, where every one of them holds more ` +
    `keys in the range`;
}
