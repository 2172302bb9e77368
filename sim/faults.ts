/**
 * The simulated disk's fault model: how often each fault happens
 * ({@link FaultProfile} and the named profiles {@link none},
 * {@link realistic} and {@link hostile}) and the log of every fault injected
 * and every crash outcome ({@link FaultLog}), which the oracle reads to tell
 * damaged bytes from engine bugs.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/**
 * How often each fault happens. Every probability is per event (one write,
 * one read, one sync, one pending directory change at a crash) and decided
 * by that event's own generator, so decisions stay stable when unrelated
 * events come or go.
 */
export interface FaultProfile {
  /** A name for summaries. */
  readonly name: string;
  /** At a crash: an unsynced write is torn, each sector kept or not (otherwise kept or lost whole). */
  readonly tornWrite: number;
  /** At a crash: an unsynced write (or truncate) is lost whole. `tornWrite + lostWrite ≤ 1`. */
  readonly lostWrite: number;
  /**
   * A `sync` (or `syncDir`) rejects with `StorageIoError`. The data it covered
   * stays readable until the crash and is then lost, even if a later sync
   * succeeds (fsyncgate). A failed `syncDir` leaves its changes pending.
   */
  readonly fsyncFail: number;
  /** At a crash: a directory change (create, rename, remove) not yet synced is lost. */
  readonly dirEntryLost: number;
  /**
   * A write reports success but reaches the disk at another sector-aligned
   * offset of the same file, or not at all. Reads before the crash still see
   * the intended bytes (they come from the page cache).
   */
  readonly misdirectedWrite: number;
  /** A read returns one bit flipped; the disk is unchanged. */
  readonly bitFlip: number;
  /** A read rejects with `StorageIoError` (a latent sector error). `bitFlip + readError ≤ 1`. */
  readonly readError: number;
  /** A write stores a sector-aligned prefix and rejects with `StorageIoError`. */
  readonly shortWrite: number;
  /**
   * A write or file creation rejects with `StorageIoError` ("the disk is
   * full") and changes nothing. `noSpace + shortWrite + misdirectedWrite ≤ 1`.
   */
  readonly noSpace: number;
  /**
   * At a crash: the newest committed header slot of the image is lost
   * (reverted to its previous contents, zeroed or scrambled), when the other
   * slot holds a valid header to fall back on. Per crash.
   */
  readonly headerLost: number;
  /**
   * At a crash: a header write of the image, made and synced since the last
   * power loss, proves gone astray (the disk acknowledged it and never stored
   * it: the older slot's last write lost, or the newest slot's landed on the
   * older slot), leaving beside the current header one older than the
   * previous commit's. Per crash, and only where that header names records
   * the next commit may write over (see `headerWriteLostFault`).
   */
  readonly headerWriteLost: number;
  /**
   * At a crash: stale bytes come back past the tail of the last WAL segment
   * (copies of earlier records, valid but with old LSNs). Per crash.
   */
  readonly staleTail: number;
  /** Whether I/O completions happen out of submission order. */
  readonly reorder: boolean;
}

/**
 * No faults: FIFO completions, and a crash keeps every completed write and
 * directory change (as if the machine flushed everything before dying).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { none } from "./faults.ts";
 * assert.ok(none.tornWrite === 0 && !none.reorder);
 * ```
 */
export const none: FaultProfile = Object.freeze({
  name: "none",
  tornWrite: 0,
  lostWrite: 0,
  fsyncFail: 0,
  dirEntryLost: 0,
  misdirectedWrite: 0,
  bitFlip: 0,
  readError: 0,
  shortWrite: 0,
  noSpace: 0,
  headerLost: 0,
  headerWriteLost: 0,
  staleTail: 0,
  reorder: false,
});

/**
 * A disk that behaves like a real one: a crash loses or tears much of what
 * was not synced; hardware faults are rare but happen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realistic } from "./faults.ts";
 * assert.ok(realistic.lostWrite > realistic.fsyncFail);
 * ```
 */
export const realistic: FaultProfile = Object.freeze({
  name: "realistic",
  tornWrite: 0.2,
  lostWrite: 0.4,
  fsyncFail: 0.002,
  dirEntryLost: 0.5,
  misdirectedWrite: 0.0001,
  bitFlip: 0.0001,
  readError: 0.0002,
  shortWrite: 0.001,
  noSpace: 0.0005,
  headerLost: 0.001,
  headerWriteLost: 0.001,
  staleTail: 0.05,
  reorder: true,
});

/**
 * A disk that fails often, to reach rare recovery paths quickly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostile } from "./faults.ts";
 * assert.ok(hostile.fsyncFail > 0 && hostile.reorder);
 * ```
 */
export const hostile: FaultProfile = Object.freeze({
  name: "hostile",
  tornWrite: 0.45,
  lostWrite: 0.45,
  fsyncFail: 0.02,
  dirEntryLost: 0.5,
  misdirectedWrite: 0.002,
  bitFlip: 0.05,
  readError: 0.03,
  shortWrite: 0.02,
  noSpace: 0.01,
  headerLost: 0.1,
  // It applies only where it can matter (one crash in 40 in seeds 1..200): at every such crash.
  headerWriteLost: 1,
  staleTail: 0.3,
  reorder: true,
});

/** The named profiles, for command lines and summaries. */
export const faultProfiles: Readonly<Record<"none" | "realistic" | "hostile", FaultProfile>> =
  Object.freeze({ none, realistic, hostile });

/**
 * Throws a `RangeError` unless every probability of `profile` is in `[0, 1]`
 * and the probabilities drawn together sum to at most 1.
 *
 * @param profile The profile to check.
 * @throws {RangeError} If a probability is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostile, validateFaultProfile } from "./faults.ts";
 * validateFaultProfile(hostile);
 * let threw = false;
 * try {
 *   validateFaultProfile({ ...hostile, tornWrite: 0.7, lostWrite: 0.7 });
 * } catch {
 *   threw = true;
 * }
 * assert.ok(threw);
 * ```
 */
export function validateFaultProfile(profile: FaultProfile): void {
  const keys = [
    "tornWrite",
    "lostWrite",
    "fsyncFail",
    "dirEntryLost",
    "misdirectedWrite",
    "bitFlip",
    "readError",
    "shortWrite",
    "noSpace",
    "headerLost",
    "headerWriteLost",
    "staleTail",
  ] as const;
  for (const key of keys) {
    const p = profile[key];
    if (!(typeof p === "number" && p >= 0 && p <= 1)) {
      throw new RangeError(
        `Cannot use fault profile "${profile.name}": ${key} is ${p}, not in [0, 1]`,
      );
    }
  }
  const groups = [["tornWrite", "lostWrite"], ["bitFlip", "readError"], [
    "noSpace",
    "shortWrite",
    "misdirectedWrite",
  ]] as const;
  for (const group of groups) {
    const sum = group.reduce((total, key) => total + profile[key], 0);
    if (sum > 1) {
      throw new RangeError(
        `Cannot use fault profile "${profile.name}": ${group.join(" + ")} is ${sum}, more than 1`,
      );
    }
  }
  assert(typeof profile.reorder === "boolean", "reorder must be a boolean");
}

/**
 * What a {@link FaultRecord} reports. Injected faults: `noSpace`,
 * `shortWrite`, `misdirectedWrite`, `readError`, `bitFlip`, `fsyncFail`.
 * Crash outcomes of completed, unsynced writes and truncates: `crashKept`,
 * `crashDropped`, `crashTorn`, `crashFsyncLost` (covered by a failed sync);
 * of writes still in flight: `crashInflightTorn`, `crashInflightDropped`;
 * of directory changes: `dirEntryLost`; `crashFileLost` for a name that
 * was live and is gone after the crash; faults a crash itself injects:
 * `crashHeaderLost` (the image's newest header slot), `crashHeaderWriteLost` (a
 * header write lost or landed on the other slot) and `crashStaleTail`
 * (stale bytes past the log's tail); `crash` once per crash.
 */
export type FaultKind =
  | "noSpace"
  | "shortWrite"
  | "misdirectedWrite"
  | "readError"
  | "bitFlip"
  | "fsyncFail"
  | "crashKept"
  | "crashDropped"
  | "crashTorn"
  | "crashFsyncLost"
  | "crashInflightTorn"
  | "crashInflightDropped"
  | "dirEntryLost"
  | "crashFileLost"
  | "crashHeaderLost"
  | "crashHeaderWriteLost"
  | "crashStaleTail"
  | "crash";

/** Every {@link FaultKind}, in a fixed order (for summaries). */
export const faultKinds: readonly FaultKind[] = Object.freeze(
  [
    "noSpace",
    "shortWrite",
    "misdirectedWrite",
    "readError",
    "bitFlip",
    "fsyncFail",
    "crashKept",
    "crashDropped",
    "crashTorn",
    "crashFsyncLost",
    "crashInflightTorn",
    "crashInflightDropped",
    "dirEntryLost",
    "crashFileLost",
    "crashHeaderLost",
    "crashHeaderWriteLost",
    "crashStaleTail",
    "crash",
  ] as const,
);

/** One injected fault or crash outcome. */
export interface FaultRecord {
  /** What happened. */
  readonly kind: FaultKind;
  /** The file name the operation used (the handle's name for file operations). */
  readonly file: string;
  /**
   * The byte offset concerned: for writes the intended offset, for a torn or
   * applied misdirected write the offset the bytes landed at, for a bit flip
   * the flipped byte, for a truncate its new length.
   */
  readonly offset: number;
  /** The number of bytes concerned (0 for truncates, syncs and directory changes). */
  readonly length: number;
  /** Details for people: where a misdirected write landed, which sectors a tear kept... */
  readonly detail: string;
  /** The machine's crash count when it happened (0 before the first crash). */
  readonly epoch: number;
  /** For torn writes: the byte ranges `[start, end)` the tear kept. */
  readonly kept?: readonly (readonly [number, number])[];
  /**
   * For `crashHeaderLost` and `crashHeaderWriteLost`: the coverage LSN of the
   * header the crash destroyed.
   */
  readonly coverageLsn?: number;
}

/** The most records a {@link FaultLog} keeps; counts go on past it. */
const faultRecordsMax = 1 << 20;

/**
 * The fault log of one simulated machine, shared by the storages a crash
 * chain produces. Records stop at 2^20 (`truncated` turns true); counts never
 * stop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FaultLog } from "./faults.ts";
 * const log = new FaultLog();
 * log.add({ kind: "bitFlip", file: "a", offset: 3, length: 1, detail: "bit 2", epoch: 0 });
 * assert.ok(log.counts.bitFlip === 1 && log.records.length === 1);
 * ```
 */
export class FaultLog {
  /** The records, oldest first. */
  readonly records: FaultRecord[] = [];
  /** How many faults of each kind happened. */
  readonly counts: Record<FaultKind, number>;
  /** Whether records were dropped because the log was full. */
  truncated = false;

  /** Builds an empty log. */
  constructor() {
    const counts = {} as Record<FaultKind, number>;
    for (const kind of faultKinds) counts[kind] = 0;
    this.counts = counts;
  }

  /**
   * Appends a record and counts it.
   *
   * @param record The fault or crash outcome.
   */
  add(record: FaultRecord): void {
    assert(record.kind in this.counts, "a fault record needs a known kind");
    assert(record.offset >= 0 && record.length >= 0, "a fault record needs a byte range");
    this.counts[record.kind]++;
    if (this.records.length < faultRecordsMax) this.records.push(record);
    else this.truncated = true;
  }

  /**
   * The non-zero counts, for a one-line summary.
   *
   * @returns E.g. `crashTorn=3 fsyncFail=1`, or `no faults`.
   */
  summary(): string {
    const parts = faultKinds.filter((kind) => this.counts[kind] > 0)
      .map((kind) => `${kind}=${this.counts[kind]}`);
    return parts.length === 0 ? "no faults" : parts.join(" ");
  }
}
