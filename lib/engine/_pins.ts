/**
 * Pins: keys whose paths must stay loaded while an operation waits for them
 * or is about to use them. Eviction (the memory budget, `_budget.ts`) passes
 * over every subtree that holds a pinned key, and over the keys of the
 * groups not yet applied to the trie (`Groups.pendingIds`).
 *
 * Who pins: a write from when it is queued for its paths' loads until it is
 * appended (its keys are in a group's overlay from then on); a `get` or a
 * `getMany` while it waits for loads and reads; a list or a scan pins the
 * whole subtree it loads (a path, {@link Pins.pinSubtree}) until it has read
 * it again. Without pins an eviction
 * that runs between a load and its use (a checkpoint ending in between)
 * would leave the use facing a stub: a read would load again, an apply of a
 * durable group could not.
 *
 * Keys are kept as overlay ids (one char per byte); a key too long for an
 * id pins everything while it is pinned.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { bytesToString } from "../_bytes.ts";
import { keyId } from "./_overlay.ts";

/** The keys pinned now, each with how many operations pin it. */
export class Pins {
  readonly #counts = new Map<string, number>();
  /** Subtrees pinned whole (by their paths' ids), each with how many pin it. */
  readonly #subtrees = new Map<string, number>();
  /** Pins of keys too long for an id: while any holds, nothing is evicted. */
  #long = 0;
  /**
   * Called after each unpin: the memory budget's turn (`Budget.afterLoad`).
   * The rounds an operation's loads queued ran while it pinned their paths,
   * and none comes until the next load unless its unpin asks: a `getMany`
   * of 4,000 keys past a 16 KiB budget left 188 KB live, an atomic whose
   * check failed over 572 cold keys 160 KB, nothing evicted.
   */
  onRelease: () => void = () => {};

  /** Pins `keys`; returns what unpins them (calling it more than once does nothing). */
  pin(keys: readonly Uint8Array[]): () => void {
    const ids = keys.map((key) => keyId(key));
    for (const id of ids) {
      if (id === undefined) this.#long++;
      else this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
    }
    let pinned = true;
    return () => {
      if (!pinned) return;
      pinned = false;
      for (const id of ids) this.#unpin(id);
      this.onRelease();
    };
  }

  /**
   * Pins every node on `path` and below it (a list's load: it reads the
   * subtree once loaded); returns what unpins it (calling it more than once
   * does nothing).
   */
  pinSubtree(path: Uint8Array): () => void {
    const id = keyId(path);
    if (id === undefined) return this.pin([path]); // too long for an id: pins everything
    this.#subtrees.set(id, (this.#subtrees.get(id) ?? 0) + 1);
    let pinned = true;
    return () => {
      if (!pinned) return;
      pinned = false;
      const count = this.#subtrees.get(id);
      assert(count !== undefined && count > 0, "a subtree unpinned as often as pinned");
      if (count === 1) this.#subtrees.delete(id);
      else this.#subtrees.set(id, count - 1);
      this.onRelease();
    };
  }

  #unpin(id: string | undefined): void {
    if (id === undefined) {
      this.#long--;
      assert(this.#long >= 0, "a long key unpinned once");
      return;
    }
    const count = this.#counts.get(id);
    assert(count !== undefined && count > 0, "a key unpinned as often as pinned");
    if (count === 1) this.#counts.delete(id);
    else this.#counts.set(id, count - 1);
  }

  /** Appends every pinned id to `into`; false while a key too long for an id is pinned. */
  ids(into: string[]): boolean {
    for (const id of this.#counts.keys()) into.push(id);
    return this.#long === 0;
  }

  /** Subtrees pinned now (a list's or a scan's holds). */
  get subtreeCount(): number {
    return this.#subtrees.size;
  }

  /** The ids of the subtrees pinned whole, sorted. */
  subtreeIds(): string[] {
    return [...this.#subtrees.keys()].sort();
  }
}

/** Whether `path` lies in one of the pinned subtrees (`sorted` ids), or is one. */
export function insideSubtree(sorted: readonly string[], path: Uint8Array): boolean {
  if (sorted.length === 0) return false;
  const id = bytesToString(path, 0, path.length);
  for (let length = 0; length <= id.length; length++) {
    if (holdsExactly(sorted, id.slice(0, length))) return true;
  }
  return false;
}

/** Whether `sorted` (ids in code unit order) holds `id`. */
function holdsExactly(sorted: readonly string[], id: string): boolean {
  const at = lowerBound(sorted, id);
  return at < sorted.length && sorted[at] === id;
}

/** The index of the first id in `sorted` at or after `id`. */
function lowerBound(sorted: readonly string[], id: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Whether `sorted` (ids in code unit order) holds one that starts with the bytes of `path`. */
export function holdsUnder(sorted: readonly string[], path: Uint8Array): boolean {
  const prefix = bytesToString(path, 0, path.length);
  const at = lowerBound(sorted, prefix);
  return at < sorted.length && sorted[at].startsWith(prefix);
}
