/**
 * Pins: keys whose paths must stay loaded while an operation waits for them
 * or is about to use them. Eviction (the memory budget, `_budget.ts`) passes
 * over every subtree that holds a pinned key, and over the keys of the
 * groups not yet applied to the trie (`Groups.pendingIds`).
 *
 * Who pins: a write from when it is queued for its paths' loads until it is
 * appended (its keys are in a group's overlay from then on); a `get` or a
 * `getMany` while it waits for loads and reads. Without pins an eviction
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
  /** Pins of keys too long for an id: while any holds, nothing is evicted. */
  #long = 0;

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
}

/** Whether `sorted` (ids in code unit order) holds one that starts with the bytes of `path`. */
export function holdsUnder(sorted: readonly string[], path: Uint8Array): boolean {
  const prefix = bytesToString(path, 0, path.length);
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < prefix) low = middle + 1;
    else high = middle;
  }
  return low < sorted.length && sorted[low].startsWith(prefix);
}
