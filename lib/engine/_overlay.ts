/**
 * Overlays: the newest value of each key written by one group that is not
 * yet durable (strict mode), and the scratch table an atomic commit uses to
 * see its own earlier mutations.
 *
 * A key of up to {@link overlayIdBytesMax} bytes is looked up by its id, a
 * one-byte string whose char codes are its bytes, in a `Map`: V8 hashes such
 * a string once (with a per-process random seed, so crafted keys cannot force
 * collisions) and an ASCII string key is its own id, so the common case
 * builds nothing. V8 hashes a string longer than 16,383 chars by its length
 * alone, so longer keys go to a small trie instead, which needs no hash.
 * (Tries for every key, as before, cost a node and a prefix string per key
 * written, and a batch's own `Map` built a fresh id string char by char.)
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { Art } from "../art/art.ts";
import { bytesToString } from "../_bytes.ts";
import type { AsciiAdd } from "../wal/record.ts";

/** Keys up to this many bytes are kept by id in a `Map`; longer ones in a trie. */
export const overlayIdBytesMax = 4096;

/** The entry of a deleted key in the `Map`: values are never negative. */
const deleted = -1;

/**
 * A raw entry of {@link Overlay.entry}: a count (≥ 0), {@link deletedEntry},
 * or a relative entry (≤ -2, see {@link relativeEntry}).
 */
export type RawEntry = number;
/** The raw entry of a deleted key. */
export const deletedEntry = deleted;
/** The largest delta a relative entry holds (its encoding stays a safe integer). */
export const relativeDeltaMax = Number.MAX_SAFE_INTEGER - 2;

/**
 * The raw entry "the value below this group, plus `delta`" (`delta` ≥ 0): a
 * group's additions to a key whose value it never looked up.
 */
export function relativeEntry(delta: number): RawEntry {
  assert(Number.isSafeInteger(delta) && delta >= 0 && delta <= relativeDeltaMax, "a delta");
  return -2 - delta;
}

/** The delta of a relative entry (one that is ≤ -2). */
export function relativeDelta(entry: RawEntry): number {
  assert(entry <= -2, "a relative entry");
  return -2 - entry;
}

/** Whether a raw entry settles the key's value alone (a count, or deleted). */
export function entrySettles(entry: RawEntry | undefined): boolean {
  return entry !== undefined && entry >= deleted;
}

/**
 * The value a group's raw entry (undefined: none) leaves on top of `below`,
 * the value under the group (needed only when the entry does not settle it).
 */
export function valueOver(
  entry: RawEntry | undefined,
  below: number | undefined,
): number | undefined {
  if (entry === undefined) return below;
  if (entry >= 0) return entry;
  if (entry === deleted) return undefined;
  return (below ?? 0) + relativeDelta(entry);
}

/**
 * The overlay id of `key` (see the module notes), or undefined for a key
 * longer than {@link overlayIdBytesMax} bytes. `source` is what the caller
 * passed: a string whose UTF-8 form is as long as itself is ASCII, so it is
 * its own id.
 */
export function keyId(key: Uint8Array, source?: string | Uint8Array): string | undefined {
  if (key.length > overlayIdBytesMax) return undefined;
  if (typeof source === "string" && source.length === key.length) return source;
  return bytesToString(key, 0, key.length);
}

/** Additions {@link Overlay.defer} holds at most before it records them. */
export const deferredAddsMax = 1 << 20;

/** An addition whose key has an overlay id: what {@link Overlay.defer} takes. */
export interface DeferredAdd {
  readonly id: string | undefined;
  /** The delta, ≥ 0. */
  readonly value: number;
}

/** The raw entry an addition of `delta` (≥ 0) leaves on top of `entry`. */
function entryPlus(entry: RawEntry | undefined, delta: number): RawEntry {
  if (entry === undefined || entry <= -2) {
    return relativeEntry((entry === undefined ? 0 : relativeDelta(entry)) + delta);
  }
  const value = (entry === deleted ? 0 : entry) + delta;
  assert(value <= relativeDeltaMax, "an addition the ceiling keeps in range");
  return value;
}

/**
 * The newest values of keys written by one group: a number, or deleted.
 * Every method takes the key with its {@link keyId}.
 *
 * Additions judged by a bound alone (see `WritePipeline.#stageStrict`) need no entry
 * until something reads the overlay: {@link Overlay.defer} keeps their
 * batches as they are, and the first read or write records them in order.
 * A group of pure additions that nothing checks is applied without ever
 * hashing its keys here.
 */
export class Overlay {
  readonly #byId = new Map<string, number>();
  /** Keys longer than {@link overlayIdBytesMax}: their counts, and which are deleted. */
  #long: Art | undefined;
  #longDeleted: Art | undefined;
  /** Batches of additions not yet recorded in `#byId`, oldest first. */
  #deferred: (readonly DeferredAdd[])[] = [];
  /** The same, for batches whose keys are ASCII strings (each its own id). */
  #deferredAscii: (readonly AsciiAdd[])[] = [];
  #deferredAdds = 0;

  /** Whether nothing was recorded or deferred since the last {@link Overlay.clear}. */
  get empty(): boolean {
    return this.#deferredAdds === 0 && this.#byId.size === 0 &&
      (this.#long?.size ?? 0) === 0 && (this.#longDeleted?.size ?? 0) === 0;
  }

  /**
   * Adds each op's delta (≥ 0) to its key, later: every op must have an id,
   * and the caller must have judged that no value can leave the range. The
   * array is kept, not copied, until the additions are recorded.
   */
  defer(adds: readonly DeferredAdd[]): void {
    assert(adds.length > 0, "a deferred batch holds additions");
    this.#deferred.push(adds);
    this.#deferredAdds += adds.length;
    if (this.#deferredAdds > deferredAddsMax) this.#recordDeferred();
  }

  /**
   * {@link Overlay.defer} for additions whose keys are ASCII strings of at
   * most {@link overlayIdBytesMax} chars: each key is its own id.
   */
  deferAscii(adds: readonly AsciiAdd[]): void {
    assert(adds.length > 0, "a deferred batch holds additions");
    this.#deferredAscii.push(adds);
    this.#deferredAdds += adds.length;
    if (this.#deferredAdds > deferredAddsMax) this.#recordDeferred();
  }

  /**
   * Records the deferred additions. Their order does not matter: they are
   * all additions onto the entries as they were when the first was deferred
   * (any other use of the overlay records them first).
   */
  #recordDeferred(): void {
    const byId = this.#byId;
    for (const adds of this.#deferred) {
      for (let index = 0; index < adds.length; index++) {
        const { id, value } = adds[index];
        assert(id !== undefined && value >= 0, "deferred ops are additions by id");
        byId.set(id, entryPlus(byId.get(id), value));
      }
    }
    for (const adds of this.#deferredAscii) {
      for (let index = 0; index < adds.length; index++) {
        const { key, value } = adds[index];
        assert(key.length <= overlayIdBytesMax && value >= 0, "deferred ops are additions by id");
        byId.set(key, entryPlus(byId.get(key), value));
      }
    }
    this.#deferred = [];
    this.#deferredAscii = [];
    this.#deferredAdds = 0;
  }

  /** The key's newest value: a number, `null` if deleted, undefined if not written. */
  get(key: Uint8Array, id: string | undefined): number | null | undefined {
    if (this.#deferredAdds > 0) this.#recordDeferred();
    if (id !== undefined) {
      const value = this.#byId.get(id);
      assert(value === undefined || value >= deleted, "a relative entry is read with entry()");
      return value === deleted ? null : value;
    }
    assert(key.length > overlayIdBytesMax, "a short key has an id");
    const value = this.#long?.get(key);
    if (value !== undefined) return value;
    return this.#longDeleted?.get(key) === undefined ? undefined : null;
  }

  /**
   * The key's raw entry (see {@link RawEntry}), or undefined if the group
   * did not write it. A key over {@link overlayIdBytesMax} bytes never has a
   * relative entry.
   */
  entry(key: Uint8Array, id: string | undefined): RawEntry | undefined {
    if (this.#deferredAdds > 0) this.#recordDeferred();
    if (id !== undefined) return this.#byId.get(id);
    const value = this.get(key, id);
    return value === null ? deleted : value;
  }

  /** Sets a short key's raw entry (a relative one included). */
  setEntry(id: string, entry: RawEntry): void {
    assert(entry >= 0 || entry === deleted || entry <= -2, "a raw entry");
    if (this.#deferredAdds > 0) this.#recordDeferred();
    this.#byId.set(id, entry);
  }

  /** Adds `delta` (≥ 0, judged in range by the caller) to a short key's entry now. */
  addEntry(id: string, delta: number): void {
    assert(delta >= 0, "only additions are judged by a bound");
    if (this.#deferredAdds > 0) this.#recordDeferred();
    this.#byId.set(id, entryPlus(this.#byId.get(id), delta));
  }

  /** Puts back the raw entry {@link Overlay.entry} returned (undefined: the entry goes). */
  restoreEntry(key: Uint8Array, id: string | undefined, entry: RawEntry | undefined): void {
    if (id !== undefined && entry !== undefined) return this.setEntry(id, entry);
    this.restore(key, id, entry === deleted ? null : entry);
  }

  /** Records the key's newest value (undefined: deleted). */
  record(key: Uint8Array, id: string | undefined, value: number | undefined): void {
    assert(value === undefined || value >= 0, "overlay values are counts");
    if (this.#deferredAdds > 0) this.#recordDeferred();
    if (id !== undefined) {
      assert(id.length === key.length, "an id has one char per key byte");
      this.#byId.set(id, value ?? deleted);
    } else {
      assert(key.length > overlayIdBytesMax, "a short key has an id");
      this.#long ??= new Art();
      this.#longDeleted ??= new Art();
      if (value === undefined) {
        this.#long.delete(key);
        this.#longDeleted.set(key, 0);
      } else {
        this.#longDeleted.delete(key);
        this.#long.set(key, value);
      }
    }
  }

  /**
   * Puts the key's entry back to what {@link Overlay.get} returned before a
   * change: a value, `null` (deleted), or undefined (not written: the entry
   * goes).
   */
  restore(key: Uint8Array, id: string | undefined, previous: number | null | undefined): void {
    if (previous !== undefined) return this.record(key, id, previous ?? undefined);
    if (this.#deferredAdds > 0) this.#recordDeferred();
    if (id !== undefined) {
      this.#byId.delete(id);
      return;
    }
    assert(key.length > overlayIdBytesMax, "a short key has an id");
    this.#long?.delete(key);
    this.#longDeleted?.delete(key);
  }

  /**
   * Appends the id of every key the group wrote (deferred additions
   * included) to `into`; false if it also wrote a key too long for an id
   * (those are not listed).
   */
  ids(into: string[]): boolean {
    if (this.#deferredAdds > 0) this.#recordDeferred();
    for (const id of this.#byId.keys()) into.push(id);
    return (this.#long?.size ?? 0) === 0 && (this.#longDeleted?.size ?? 0) === 0;
  }

  /** Forgets every key. */
  clear(): void {
    this.#byId.clear();
    this.#deferred = [];
    this.#deferredAscii = [];
    this.#deferredAdds = 0;
    this.#long = undefined;
    this.#longDeleted = undefined;
  }
}
