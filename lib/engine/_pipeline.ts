/**
 * The write pipeline's synchronous step: judge a write against the newest
 * values (the groups not yet applied, then the trie), append its record to
 * the WAL, and stage its outcome in the gathering group's overlay (strict
 * mode) or apply it to the trie (relaxed mode). The caller (`Engine`)
 * checks that writes are allowed, orders them behind loads, counts them in
 * the epochs and waits for durability.
 *
 * What it promises:
 * - a write is judged and given its LSN in one synchronous step, so the LSN
 *   order is the order in which writes were judged;
 * - a write that throws (out of range, too large, a failed append) leaves
 *   nothing behind: not in the log, not in an overlay, not in the bounds;
 * - additions that {@link Groups.ceiling} keeps in range are staged without
 *   a lookup; a batch of them to ASCII string keys takes a shorter path
 *   ({@link WritePipeline.commitAsciiAdds}) that builds nothing per key;
 * - a write is staged only once every node on its key's path is loaded (the
 *   caller loads them first; the short path loads them from cached slabs or
 *   declines), so applying its group never meets a stub: from then on the
 *   key is in a group's overlay, and evictions pass over it
 *   (`Groups.pendingIds`).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Art } from "../art/art.ts";
import { batchOpsMax } from "../limits.ts";
import {
  addBatchPayloadBytes,
  type AsciiAdd,
  type MutationKind,
  RecordKind,
} from "../wal/record.ts";
import type { BatchOp, Wal } from "../wal/wal.ts";
import { applyMutation, type Groups } from "./_groups.ts";
import { keyId, Overlay, overlayIdBytesMax, type RawEntry, relativeDeltaMax } from "./_overlay.ts";
import type { Durability } from "./config.ts";

/** One mutation of an atomic commit, with its key's overlay id (see {@link stagedOp}). */
export interface StagedOp extends BatchOp {
  id: string | undefined;
}

/**
 * A mutation of an atomic commit as the caller gave it (`AtomicMutation`):
 * what {@link WritePipeline.commitAsciiAdds} looks at before anything is
 * checked or converted.
 */
export interface MutationLike {
  readonly type: string;
  readonly key: string | Uint8Array;
  readonly value: number;
}

/** A check of an atomic commit, its key in bytes: the newest value must equal `value`. */
export interface CheckedKey {
  key: Uint8Array;
  value: number | undefined;
}

/** The mutation types of an atomic commit (as `AtomicMutation.type`). */
export type MutationType = "add" | "set" | "delete";

/**
 * A checked mutation of an atomic commit with its key's overlay id;
 * `source` is the key as the caller gave it (an ASCII string is its own
 * id), or undefined for no id: relaxed mode applies each op to the trie and
 * needs none (an op without an id is judged by its key bytes, the path of
 * keys too long for one).
 */
export function stagedOp(
  type: MutationType,
  key: Uint8Array,
  value: number,
  source: string | Uint8Array | undefined,
): StagedOp {
  const kind = type === "add"
    ? RecordKind.add
    : type === "set"
    ? RecordKind.set
    : RecordKind.delete;
  return { kind, key, value, id: source === undefined ? undefined : keyId(key, source) };
}

/** Judges, appends and stages the writes of one store; see the module notes. */
export class WritePipeline {
  readonly #trie: Art;
  readonly #wal: Wal;
  readonly #groups: Groups;
  readonly #durability: Durability;
  /** An atomic commit's view of its own earlier mutations (scratch, cleared per commit). */
  readonly #batchLocal = new Overlay();
  /** {@link WritePipeline.#stageStrict}'s undo log: each op's overlay entry before it (reused). */
  readonly #undoValues: (RawEntry | undefined)[] = [];
  /** Loads a key's path as far as it loads at once (`Loader.loadPathNow`); true if it is all loaded. */
  readonly #loadPathNow: (key: Uint8Array) => boolean;
  /** Where {@link WritePipeline.#pathsLoaded} writes each key's bytes (reused). */
  readonly #keyScratch = new Uint8Array(overlayIdBytesMax);
  /** Commits {@link WritePipeline.commitAsciiAdds} took (for tests, through `writeCounters`). */
  #asciiBatches = 0;

  constructor(
    trie: Art,
    wal: Wal,
    groups: Groups,
    options: { durability: Durability; loadPathNow: (key: Uint8Array) => boolean },
  ) {
    this.#trie = trie;
    this.#wal = wal;
    this.#groups = groups;
    this.#durability = options.durability;
    this.#loadPathNow = options.loadPathNow;
  }

  /** Commits {@link WritePipeline.commitAsciiAdds} took. */
  get asciiBatches(): number {
    return this.#asciiBatches;
  }

  /**
   * Judges, appends and stages an addition of `delta` to `bytes` (`source`
   * is the key as the caller gave it); returns the new count.
   *
   * @throws {RangeError} if the count would leave the range; nothing is written.
   */
  add(bytes: Uint8Array, source: string | Uint8Array, delta: number): number {
    const id = keyId(bytes, source);
    const result = addChecked(this.#groups.latest(bytes, id) ?? 0, delta, bytes, "add");
    this.#appendStaged(RecordKind.add, bytes, id, delta, result);
    return result;
  }

  /** Appends and stages a set or a delete (neither can leave the range). */
  write(kind: MutationKind, bytes: Uint8Array, value: number): void {
    const result = kind === RecordKind.set ? value : undefined;
    this.#appendStaged(kind, bytes, keyId(bytes), value, result);
  }

  /** Whether every check of an atomic commit holds against the newest values. */
  checksHold(checked: readonly CheckedKey[]): boolean {
    for (const check of checked) {
      const latest = this.#groups.latest(check.key, keyId(check.key));
      if (latest !== check.value) return false;
    }
    return true;
  }

  /**
   * Judges, appends and stages the mutations of an atomic commit as one
   * batch record; returns its LSN.
   *
   * @throws {RangeError} if a value would leave the range or the record
   * would be too large; nothing of the batch remains.
   */
  commit(ops: StagedOp[]): number {
    assert(ops.length > 0, "a commit with mutations");
    if (this.#durability === "strict") return this.#stageStrict(ops);
    // Relaxed: the trie holds every value, so the ceiling is the trie's own.
    const results = this.#fitsCeiling(ops) ? undefined : this.#batchResults(ops);
    const lsn = this.#wal.appendBatch(ops);
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index];
      this.#stage(op.kind, op.key, op.id, op.value, results?.[index]);
    }
    return lsn;
  }

  /**
   * The common case of a counting load, committed without a key array or an
   * op object per mutation: strict mode, every mutation an addition of a
   * non-negative delta to an ASCII string key of at most
   * {@link overlayIdBytesMax} chars (its own overlay id), the log not
   * congested, the value ceiling keeping every sum in range (as
   * {@link WritePipeline.#stageStrict} judges such a batch), and every
   * key's path loaded (from cached slabs here, if need be). The caller has
   * checked that no write waits for a load. Returns the LSN, or 0 when the
   * batch is not such a case: the general path then judges it, loads what
   * it needs, and reports whatever is wrong with it.
   */
  commitAsciiAdds(mutations: readonly MutationLike[]): number {
    const count = mutations.length;
    if (this.#durability !== "strict" || count === 0 || count > batchOpsMax) return 0;
    if (this.#wal.congested) return 0;
    let total = 0;
    let keyBytes = 0;
    for (let index = 0; index < count; index++) {
      const { type, key, value } = mutations[index];
      if (type !== "add" || typeof key !== "string") return 0;
      if (!Number.isSafeInteger(value) || value < 0) return 0;
      const length = key.length;
      if (length === 0 || length > overlayIdBytesMax) return 0;
      for (let i = 0; i < length; i++) if (key.charCodeAt(i) > 0x7f) return 0;
      total += value;
      keyBytes += length;
    }
    const payloadBytes = addBatchPayloadBytes(count, keyBytes);
    if (payloadBytes < 0) return 0;
    // Applying the group must meet no stub: each key's path is loaded before the append.
    if (this.#trie.unloaded > 0 && !this.#pathsLoaded(mutations as readonly AsciiAdd[])) return 0;
    const groups = this.#groups;
    if (groups.ceiling() + total > relativeDeltaMax) return 0;
    const adds = mutations as readonly AsciiAdd[]; // checked above: string keys
    const lsn = this.#wal.appendAsciiAdds(adds, payloadBytes);
    groups.gathering.deferAscii(adds);
    groups.boundsGathering.byBound += total;
    this.#asciiBatches++;
    assert(lsn > 0, "LSNs start at 1");
    return lsn;
  }

  /**
   * Whether every key's path is loaded, after loading what loads at once
   * (cached slabs, a file that reads at once; a load changes no value);
   * false at the first key whose path needs an awaited read (the paths
   * loaded before it stay loaded).
   */
  #pathsLoaded(adds: readonly AsciiAdd[]): boolean {
    const scratch = this.#keyScratch;
    for (let index = 0; index < adds.length; index++) {
      const key = adds[index].key;
      const length = key.length;
      assert(length <= scratch.length, "a key the overlay keeps by id");
      for (let i = 0; i < length; i++) scratch[i] = key.charCodeAt(i);
      // The trie copies what it keeps of a key, so the reused bytes may change after.
      if (!this.#loadPathNow(scratch.subarray(0, length))) return false;
    }
    return true;
  }

  /**
   * Whether the additions of `ops` can be judged by {@link Groups.ceiling}
   * alone: none subtracts, and the ceiling plus every delta and every value
   * set stays in range (so does any key, however the ops fall on it).
   */
  #fitsCeiling(ops: readonly StagedOp[]): boolean {
    let total = 0;
    for (const op of ops) {
      if (op.kind === RecordKind.delete) continue;
      if (op.value < 0) return false;
      total += op.value;
    }
    return this.#groups.ceiling() + total <= relativeDeltaMax;
  }

  /**
   * Appends one write and stages its outcome (see {@link WritePipeline.#stage}).
   * In strict mode the overlay entry is made first and put back if the
   * append throws: making it may throw too (a key over `overlayIdBytesMax`
   * lives in a trie of the overlay's own, which allocates), and a write must
   * not be logged once its caller is told it failed.
   */
  #appendStaged(
    kind: MutationKind,
    key: Uint8Array,
    id: string | undefined,
    value: number,
    result: number | undefined,
  ): void {
    if (this.#durability === "relaxed") {
      this.#wal.appendMutation(kind, key, value);
      this.#stage(kind, key, id, value, result); // a failed apply poisons: the write stays logged
      return;
    }
    const overlay = this.#groups.gathering;
    const bounds = this.#groups.boundsGathering;
    const before = overlay.entry(key, id);
    const exactMax = bounds.exactMax;
    this.#stage(kind, key, id, value, result);
    try {
      this.#wal.appendMutation(kind, key, value);
    } catch (error) {
      bounds.exactMax = exactMax;
      try {
        overlay.restoreEntry(key, id, before);
      } catch (restoring) {
        throw this.#groups.failTrie(restoring); // the overlay is wrong now: refuse everything
      }
      throw error;
    }
  }

  /** Records a write's outcome for validation (strict) or applies it (relaxed). */
  #stage(
    kind: MutationKind,
    key: Uint8Array,
    id: string | undefined,
    value: number,
    result: number | undefined,
  ): void {
    if (this.#durability === "relaxed") {
      try {
        applyMutation(this.#trie, kind, key, value);
      } catch (error) {
        throw this.#groups.failTrie(error);
      }
      this.#groups.appliedLsn = this.#wal.nextLsn - 1;
      return;
    }
    this.#groups.gathering.record(key, id, result);
    const bounds = this.#groups.boundsGathering;
    if (result !== undefined && result > bounds.exactMax) bounds.exactMax = result;
  }

  /**
   * Strict mode: judges each op against the gathering overlay, which holds
   * the batch's earlier ops too (so no scratch table is needed), records
   * its result there, then appends the batch; if an op leaves the range or
   * the append fails, the overlay and its bounds are put back as they were
   * (an undo log), so nothing of the batch remains. Returns its LSN. The
   * group cannot be sealed in between: that happens only in the flush loop,
   * never inside this synchronous step.
   *
   * When the batch fits {@link Groups.ceiling}, its additions are judged by
   * the bound alone: no lookup below the gathering group, and the overlay
   * records "the value below, plus the delta" (a relative entry) where it
   * knows no value. Applying the group after its fsync finds the real ones.
   */
  #stageStrict(ops: StagedOp[]): number {
    const groups = this.#groups;
    const overlay = groups.gathering;
    const bounds = groups.boundsGathering;
    const additions = additionsById(ops);
    if (additions >= 0 && groups.ceiling() + additions <= relativeDeltaMax) {
      // Nothing to judge or to undo: the append throws before anything is staged.
      const lsn = this.#wal.appendBatch(ops);
      overlay.defer(ops);
      bounds.byBound += additions;
      return lsn;
    }
    const { exactMax, byBound } = bounds;
    const before = this.#undoValues;
    before.length = 0;
    const judgedByBound = this.#fitsCeiling(ops);
    try {
      for (const op of ops) {
        const entry = overlay.entry(op.key, op.id);
        before.push(entry);
        if (judgedByBound && op.kind === RecordKind.add && op.id !== undefined) {
          // The bound rises by every delta judged by it: a looser bound, never a wrong one.
          overlay.addEntry(op.id, op.value);
          bounds.byBound += op.value;
          continue;
        }
        const current = groups.newestFrom(entry, op.key, op.id);
        let result: number | undefined;
        if (op.kind === RecordKind.add) {
          result = addChecked(current ?? 0, op.value, op.key, "commit");
        } else if (op.kind === RecordKind.set) result = op.value;
        overlay.record(op.key, op.id, result);
        if (result !== undefined && result > bounds.exactMax) bounds.exactMax = result;
      }
      assert(before.length === ops.length, "every op was staged");
      return this.#wal.appendBatch(ops);
    } catch (error) {
      for (let index = before.length - 1; index >= 0; index--) {
        overlay.restoreEntry(ops[index].key, ops[index].id, before[index]);
      }
      bounds.exactMax = exactMax;
      bounds.byBound = byBound;
      throw error;
    } finally {
      before.length = 0;
    }
  }

  /** The value each op leaves, in order; throws RangeError if one leaves the range. */
  #batchResults(ops: StagedOp[]): (number | undefined)[] {
    const local = this.#batchLocal;
    local.clear(); // a commit that threw left its entries
    const results = new Array<number | undefined>(ops.length);
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index];
      const id = op.id ?? keyId(op.key); // relaxed ops come without ids (see stagedOp)
      const earlier = local.get(op.key, id); // null: deleted by an earlier op
      const current = earlier === undefined
        ? this.#groups.latest(op.key, id)
        : earlier ?? undefined;
      let result: number | undefined;
      if (op.kind === RecordKind.add) result = addChecked(current ?? 0, op.value, op.key, "commit");
      else if (op.kind === RecordKind.set) result = op.value;
      local.record(op.key, id, result);
      results[index] = result;
    }
    local.clear();
    assert(results.length === ops.length, "every op has a result");
    return results;
  }
}

/**
 * The sum of the deltas of `ops` when every op adds (≥ 0) to a key with an
 * overlay id, so the batch can be deferred whole (see `Overlay.defer`); else -1.
 */
function additionsById(ops: readonly StagedOp[]): number {
  let total = 0;
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index];
    if (op.kind !== RecordKind.add || op.id === undefined || op.value < 0) return -1;
    total += op.value;
  }
  return total;
}

/** `current + delta`, or a RangeError naming the key if that leaves [0, MAX_SAFE_INTEGER]. */
export function addChecked(
  current: number,
  delta: number,
  key: Uint8Array,
  operation: string,
): number {
  assert(Number.isSafeInteger(current) && current >= 0, "stored values are in range");
  const result = current + delta;
  if (result < 0 || result > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(
      `Cannot ${operation}: adding ${delta} to ${current} at key ${
        printKey(key)
      } leaves the range ` +
        `0 to ${Number.MAX_SAFE_INTEGER}; nothing was written`,
    );
  }
  return result;
}

/** A key for an error message: its string form if printable UTF-8, else hex; shortened. */
export function printKey(key: Uint8Array): string {
  const limit = 64;
  const shown = key.subarray(0, limit);
  let text: string;
  try {
    text = JSON.stringify(new TextDecoder("utf-8", { fatal: true }).decode(shown));
  } catch {
    text = `0x${Array.from(shown, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
  }
  return key.length > limit ? `${text}… (${key.length} bytes)` : text;
}
