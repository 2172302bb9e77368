/**
 * Where a write waits between its append and the trie (strict mode), group
 * by group: the group gathering in the WAL's buffer, the group whose fsync
 * is in flight, and the durable group kept for the apply. Each has an
 * overlay (the newest value of each key it wrote) and bounds (what values
 * it may leave); the WAL's hooks move them along (`seal`, `holdGroup`,
 * `applyQuietly`), and this module applies a durable group to the trie.
 *
 * What it promises:
 * - the trie holds exactly the durable groups applied so far, and
 *   `appliedLsn` is the LSN of the last write in it (a checkpoint's
 *   coverage);
 * - every reader of the trie calls {@link Groups.applyPending} first, so it
 *   never sees the trie without a group already acknowledged (D11);
 * - {@link Groups.latest} reads the newest value of a key through every
 *   group not yet applied, without applying any: a write is judged against
 *   every earlier one, durable or not;
 * - {@link Groups.ceiling} bounds every key's newest value, so additions
 *   within it need no lookup;
 * - a failed apply (the trie could not grow) is recorded once: from then on
 *   {@link Groups.trieFailure} is thrown by every read, write and
 *   checkpoint, and the WAL hooks never throw.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Art } from "../art/art.ts";
import { MemoryLimitError } from "../errors.ts";
import { decodeGroup, type MutationKind, type MutationSink, RecordKind } from "../wal/record.ts";
import type { Wal } from "../wal/wal.ts";
import { entrySettles, Overlay, type RawEntry, valueOver } from "./_overlay.ts";
import type { Durability } from "./config.ts";

/** Bytes of the buffer a durable group waits in to be applied, at first (it grows to the largest). */
const unappliedBytesInitial = 64 * 1024;

/**
 * Upper bounds on what a group not yet applied leaves (strict mode): the
 * largest value its writes were judged to leave, and the sum of the deltas
 * it added without knowing the values below them (relative entries).
 */
export interface GroupBounds {
  exactMax: number;
  byBound: number;
}

/** Zeroes `bounds` (its group was applied, or it starts a new one); returns it. */
function resetBounds(bounds: GroupBounds): GroupBounds {
  bounds.exactMax = 0;
  bounds.byBound = 0;
  return bounds;
}

/** Applies one mutation to a trie; the caller has validated it. */
export function applyMutation(trie: Art, kind: MutationKind, key: Uint8Array, value: number): void {
  if (kind === RecordKind.add) trie.add(key, value);
  else if (kind === RecordKind.set) trie.set(key, value);
  else trie.delete(key);
}

/**
 * A sink that applies records this store judged when it appended them (a
 * durable group, strict mode): no range checks beyond the trie's own
 * assertions, one descent per mutation.
 */
function applyingSink(trie: Art): MutationSink {
  return {
    mutation(kind, key, value) {
      applyMutation(trie, kind, key, value);
      return undefined;
    },
  };
}

/** The groups of one store not yet in its trie; see the module notes. */
export class Groups {
  readonly #trie: Art;
  readonly #wal: Wal;
  readonly #durability: Durability;
  #overlayGathering = new Overlay();
  #overlayInFlight = new Overlay();
  /** The overlay of the durable group not yet applied ({@link Groups.#unapplied}), until it is. */
  #overlayUnapplied = new Overlay();
  /** Bounds on the values the gathering and the in-flight group leave (strict mode). */
  #boundsGathering: GroupBounds = { exactMax: 0, byBound: 0 };
  #boundsInFlight: GroupBounds = { exactMax: 0, byBound: 0 };
  /**
   * A durable group not yet applied to the trie (strict mode): a copy of its
   * records, applied while the next group's fsync runs, or before anything
   * reads the trie, whichever comes first. At most one waits.
   */
  #unapplied: { bytes: number; lastLsn: number } | undefined;
  /** Where {@link Groups.#unapplied}'s records are copied (reused: at most one group waits). */
  #unappliedRecords = new Uint8Array(unappliedBytesInitial);
  #unappliedView = new DataView(this.#unappliedRecords.buffer);
  #boundsUnapplied: GroupBounds = { exactMax: 0, byBound: 0 };
  /** Applies the records of a durable group (strict mode): they were judged when appended. */
  readonly #applySink: MutationSink;
  /** The LSN of the last write applied to the trie (a checkpoint's coverage). */
  appliedLsn = 0;
  /**
   * Set when applying logged writes to the trie failed (it could not grow):
   * the trie may hold part of a batch, so nothing reads, judges against or
   * checkpoints it again; the writes are in the log for the next open.
   */
  #trieFailure: Error | undefined;

  constructor(trie: Art, wal: Wal, durability: Durability) {
    this.#trie = trie;
    this.#wal = wal;
    this.#durability = durability;
    this.#applySink = applyingSink(trie);
  }

  /** The overlay of the group gathering in the WAL's buffer (swapped when it is sealed). */
  get gathering(): Overlay {
    return this.#overlayGathering;
  }

  /** The bounds of the group gathering (swapped with it). */
  get boundsGathering(): GroupBounds {
    return this.#boundsGathering;
  }

  /**
   * Whether logged writes wait in the overlays, not applied to the trie
   * yet: a memory budget's round keeps their keys' paths ({@link Groups.pendingIds}),
   * and a log that failed keeps its group in flight there until a reopen.
   */
  get writesPending(): boolean {
    return !this.#overlayGathering.empty || !this.#overlayInFlight.empty;
  }

  /** The error every read, write and checkpoint throws once an apply failed, else undefined. */
  get trieFailure(): Error | undefined {
    return this.#trieFailure;
  }

  /** The newest value of `key` (whose overlay id is `id`), counting writes still in flight. */
  latest(key: Uint8Array, id: string | undefined): number | undefined {
    // The gathering group is newer than the one in flight; both are newer than the trie.
    const gathering = this.#overlayGathering.empty
      ? undefined
      : this.#overlayGathering.entry(key, id);
    return this.newestFrom(gathering, key, id);
  }

  /** The newest value of `key` given its raw entry in the gathering group. */
  newestFrom(
    gathering: RawEntry | undefined,
    key: Uint8Array,
    id: string | undefined,
  ): number | undefined {
    return valueOver(
      gathering,
      entrySettles(gathering) ? undefined : this.#latestBelowGathering(key, id),
    );
  }

  /** The newest value of `key` below the gathering group: the group in flight, then the durable state. */
  #latestBelowGathering(key: Uint8Array, id: string | undefined): number | undefined {
    const inFlight = this.#overlayInFlight.empty ? undefined : this.#overlayInFlight.entry(key, id);
    if (entrySettles(inFlight)) return valueOver(inFlight, undefined);
    return valueOver(inFlight, this.#latestDurable(key, id));
  }

  /**
   * The durable value of `key`: the group waiting to be applied, then the
   * trie, which lacks only that group (so a key it did not write, or only
   * added to, reads right without applying it).
   */
  #latestDurable(key: Uint8Array, id: string | undefined): number | undefined {
    const overlay = this.#overlayUnapplied;
    assert(overlay.empty || this.#unapplied !== undefined, "an overlay only for a waiting group");
    const unapplied = overlay.empty ? undefined : overlay.entry(key, id);
    if (entrySettles(unapplied)) return valueOver(unapplied, undefined);
    return valueOver(unapplied, this.#trie.get(key));
  }

  /**
   * An upper bound on the newest value of every key: the trie's, raised by
   * what the groups not yet applied may have added. Additions that keep it
   * in range need no lookup (see `WritePipeline`).
   */
  ceiling(): number {
    const gathering = this.#boundsGathering;
    const inFlight = this.#boundsInFlight;
    const unapplied = this.#boundsUnapplied;
    const exact = Math.max(
      this.#trie.valueCeiling,
      gathering.exactMax,
      inFlight.exactMax,
      unapplied.exactMax,
    );
    return exact + gathering.byBound + inFlight.byBound + unapplied.byBound;
  }

  /** The WAL sealed the gathering group for flushing (`Wal.onSeal`): its overlay now describes the group in flight. */
  seal(): void {
    assert(
      this.#overlayInFlight.empty || this.#wal.poisoned,
      "the previous group was applied",
    );
    this.#overlayInFlight.clear();
    [this.#overlayGathering, this.#overlayInFlight] = [
      this.#overlayInFlight,
      this.#overlayGathering,
    ];
    const drained = resetBounds(this.#boundsInFlight);
    this.#boundsInFlight = this.#boundsGathering;
    this.#boundsGathering = drained;
  }

  /**
   * A group became durable (strict mode, `Wal.onDurable`): its waiters may
   * resume before its records reach the trie, so the apply can overlap the
   * next fsync. Until then its bounds count in {@link Groups.ceiling}, every
   * reader of the trie calls {@link Groups.applyPending} first, and its
   * overlay stays: judgments read it over the trie instead of applying the
   * group (the waiters' next writes would otherwise apply it before the next
   * fsync starts, with nothing to overlap).
   */
  holdGroup(records: Uint8Array, lastLsn: number): void {
    assert(this.#durability === "strict", "only strict mode applies on durability");
    if (!this.applyQuietly()) return this.#dropInFlightGroup();
    assert(lastLsn > this.appliedLsn, "groups become durable in LSN order");
    if (this.#unappliedRecords.length < records.length) {
      try {
        this.#unappliedRecords = new Uint8Array(2 * records.length);
      } catch (error) {
        // A WAL hook must not throw.
        this.failTrie(new MemoryLimitError(`Cannot keep a durable group to apply`, error));
        return this.#dropInFlightGroup();
      }
      this.#unappliedView = new DataView(this.#unappliedRecords.buffer);
    }
    this.#unappliedRecords.set(records);
    this.#unapplied = { bytes: records.length, lastLsn };
    assert(this.#overlayUnapplied.empty, "the group applied before left no overlay");
    [this.#overlayUnapplied, this.#overlayInFlight] = [
      this.#overlayInFlight,
      this.#overlayUnapplied,
    ];
    const drained = resetBounds(this.#boundsUnapplied);
    this.#boundsUnapplied = this.#boundsInFlight;
    this.#boundsInFlight = drained;
  }

  /**
   * The trie failed, so the durable group in flight will never reach it: it
   * stays in the log for the next open, and its overlay goes.
   */
  #dropInFlightGroup(): void {
    assert(this.#trieFailure !== undefined, "only a failed trie drops a durable group");
    this.#overlayInFlight.clear();
    resetBounds(this.#boundsInFlight);
  }

  /**
   * Applies the durable group {@link Groups.holdGroup} kept, if one waits.
   * Throws {@link Groups.trieFailure} if this or an earlier apply failed:
   * whoever reads the trie next calls this first.
   */
  applyPending(): void {
    if (this.#trieFailure !== undefined) throw this.#trieFailure;
    const pending = this.#unapplied;
    if (pending === undefined) return;
    this.#unapplied = undefined;
    const { bytes, lastLsn } = pending;
    const records = this.#unappliedRecords.subarray(0, bytes);
    try {
      const problem = decodeGroup(records, this.#unappliedView, this.#applySink);
      assert(problem === undefined, `own records apply cleanly: ${problem}`);
    } catch (error) {
      throw this.failTrie(error);
    }
    assert(lastLsn > this.appliedLsn, "groups apply in LSN order");
    this.appliedLsn = lastLsn;
    this.#overlayUnapplied.clear(); // the trie holds the group now
    resetBounds(this.#boundsUnapplied); // the trie's own ceiling now covers what the group left
  }

  /**
   * The ids of the keys of every group not yet applied to the trie (the one
   * gathering, the one in flight; the durable one waiting is applied first),
   * appended to `into`: their paths must stay loaded until they apply.
   * False if a group wrote a key too long for an id.
   */
  pendingIds(into: string[]): boolean {
    this.applyPending();
    const gathering = this.#overlayGathering.ids(into);
    const inFlight = this.#overlayInFlight.ids(into);
    return gathering && inFlight;
  }

  /**
   * {@link Groups.applyPending} from a WAL hook (`Wal.onSyncing`), which
   * must not throw (the log is fine): returns false if the trie failed,
   * which every later read, write and checkpoint reports.
   */
  applyQuietly(): boolean {
    try {
      this.applyPending();
      return true;
    } catch (error) {
      this.failTrie(error);
      return false;
    }
  }

  /**
   * Records that applying logged writes to the trie failed; returns the
   * error every later read, write and checkpoint throws (a
   * `MemoryLimitError` with `applyFailed` when the trie could not grow).
   */
  failTrie(error: unknown): Error {
    if (this.#trieFailure !== undefined) return this.#trieFailure;
    const detail = error instanceof Error ? error.message : String(error);
    const logged = this.#durability === "strict"
      ? "The writes acknowledged are durable in the log"
      : "The write that raised this is in the log and counts once the log is synced (it " +
        "is flushed at close): do not retry it";
    const message = `The store's in-memory trie failed while applying logged writes ` +
      `(${detail}). ${logged}, but the trie may hold part of a batch, so the store refuses ` +
      `reads, writes and checkpoints: close it and open it again, in a process with more memory`;
    this.#trieFailure = error instanceof MemoryLimitError
      ? new MemoryLimitError(message, error, { applyFailed: true })
      : new Error(message, { cause: error });
    assert(this.#trieFailure.message.length > 0, "the failure says what happened");
    return this.#trieFailure;
  }
}
