/**
 * The model of `Store.list`: which keys a selector covers, and how a list's
 * result is checked. Written apart from the engine's `selectorRange`, so a
 * bug there is not copied here.
 *
 * A list reads in batches of {@link listBatchSize} entries, each one state of
 * the store, seeking on from the last key of the batch before; writes may
 * land between batches. So a result is checked batch by batch: it must be in
 * strict byte order (reversed for `reverse`), hold no key twice, stay in the
 * selector's range and within the limit, and each batch must equal the
 * model's keys, in a state no older than the previous batch's, over exactly
 * the part of the range that batch covers (from just past the previous
 * batch's last key to its own last key, or to the range's end for the last
 * batch unless the limit cut it).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { listBatchSize } from "../lib/store/internals.ts";
import { showKey } from "./keys.ts";
import type { SimSelector } from "./workload.ts";

/** A half-open range of byte-string keys: `start <= key < end` (`end` undefined: no end). */
export interface KeyRange {
  start: string;
  end: string | undefined;
}

/** One list entry in the model's form: a byte-string key and its count. */
export type ListEntry = readonly [key: string, value: number];

/** The first key after every key starting with `prefix` (undefined: none, `prefix` is all 0xff). */
function prefixEnd(prefix: string): string | undefined {
  let last = prefix.length - 1;
  while (last >= 0 && prefix.charCodeAt(last) === 0xff) last--;
  if (last < 0) return undefined;
  return prefix.slice(0, last) + String.fromCharCode(prefix.charCodeAt(last) + 1);
}

/**
 * The keys a selector covers, as Deno KV's shapes read (a prefix covers the
 * prefix itself as a key too; with `start` or `end` it is narrowed).
 */
export function selectorKeyRange(selector: SimSelector): KeyRange {
  if (!("prefix" in selector)) return { start: selector.start, end: selector.end };
  let { start, end } = { start: selector.prefix, end: prefixEnd(selector.prefix) };
  if ("start" in selector && selector.start > start) start = selector.start;
  if ("end" in selector && (end === undefined || selector.end < end)) end = selector.end;
  return { start, end };
}

/** Whether `key` lies in `range`. */
export function inRange(key: string, range: KeyRange): boolean {
  return key >= range.start && (range.end === undefined || key < range.end);
}

/**
 * What is wrong with the shape of a list result (order, duplicates, range,
 * limit), or undefined if nothing is.
 */
export function listShapeProblem(
  entries: readonly ListEntry[],
  range: KeyRange,
  reverse: boolean,
  limit: number,
): string | undefined {
  if (entries.length > limit) return `${entries.length} entries, past the limit ${limit}`;
  for (let index = 0; index < entries.length; index++) {
    const key = entries[index][0];
    if (!inRange(key, range)) return `entry ${index} (${showKey(key)}) is outside the selector`;
    if (index === 0) continue;
    const before = entries[index - 1][0];
    if (key === before) return `entry ${index} (${showKey(key)}) repeats the entry before it`;
    if ((key > before) === reverse) {
      return `entry ${index} (${showKey(key)}) is out of ${reverse ? "reverse " : ""}byte order`;
    }
  }
  return undefined;
}

/** One batch of a list: its entries and the part of the range it covers. */
export interface ListBatch {
  entries: readonly ListEntry[];
  /** Keys strictly after this one (forward) or from it (reverse); undefined: the range's start. */
  low: { key: string; inclusive: boolean } | undefined;
  /** Keys up to this one; undefined: the range's end. */
  high: { key: string; inclusive: boolean } | undefined;
}

/**
 * Splits a result (already checked by {@link listShapeProblem}) into the
 * batches the store read: every batch but the last holds exactly
 * {@link listBatchSize} entries; a result that fills its last batch without
 * reaching the limit had one more, empty, read.
 */
export function listBatches(
  entries: readonly ListEntry[],
  reverse: boolean,
  limit: number,
): ListBatch[] {
  assert(listBatchSize >= 1, "batches hold entries");
  const batches: ListBatch[] = [];
  const count = entries.length;
  const extraEmpty = count > 0 && count < limit && count % listBatchSize === 0;
  const batchCount = count === 0 ? 1 : Math.ceil(count / listBatchSize) + (extraEmpty ? 1 : 0);
  let previous: string | undefined;
  for (let index = 0; index < batchCount; index++) {
    const slice = entries.slice(index * listBatchSize, (index + 1) * listBatchSize);
    // The last batch reaches the range's end unless the limit stopped it.
    const open = index === batchCount - 1 && count < limit;
    assert(open || slice.length > 0, "only the last batch may come back empty");
    const after = previous === undefined ? undefined : { key: previous, inclusive: false };
    const upTo = open ? undefined : { key: slice[slice.length - 1][0], inclusive: true };
    batches.push(
      reverse
        ? { entries: slice, low: upTo, high: after }
        : { entries: slice, low: after, high: upTo },
    );
    if (slice.length > 0) previous = slice[slice.length - 1][0];
  }
  assert(batches.length >= 1, "a list reads at least one batch");
  return batches;
}

/** Whether `state`, over the part of `range` that `batch` covers, holds exactly its entries. */
export function batchMatches(
  state: ReadonlyMap<string, number>,
  range: KeyRange,
  batch: ListBatch,
): boolean {
  for (const [key, value] of batch.entries) if (state.get(key) !== value) return false;
  let inside = 0;
  for (const key of state.keys()) if (inRange(key, range) && batchCovers(batch, key)) inside++;
  return inside === batch.entries.length;
}

function batchCovers(batch: ListBatch, key: string): boolean {
  const { low, high } = batch;
  if (low !== undefined && (low.inclusive ? key < low.key : key <= low.key)) return false;
  if (high !== undefined && (high.inclusive ? key > high.key : key >= high.key)) return false;
  return true;
}
