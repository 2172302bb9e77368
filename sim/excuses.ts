/**
 * When a fault excuses what the engine did: a loss of acknowledged writes, a
 * `CorruptionError`, a failed `verify()`. Only destroyed bytes excuse
 * anything (`damage.ts`): a misdirected write the disk called durable, the
 * bytes it landed on, an image header slot a crash lost. Torn or dropped
 * writes that were never synced are ordinary crash loss, which never takes
 * an acknowledged write; and a gap the engine's own segment removal left is
 * never excused.
 *
 * - A loss (recovery holds a shorter prefix than acknowledged): each write
 *   of the log holding lost acknowledged records must have been broken by
 *   destroyed bytes at or before the first of them (recovery cannot read
 *   past a broken record within one write, and finds the next write by its
 *   group-start record), or be its segment's creation write under a
 *   destroyed segment header (the segment then reads as a torn creation).
 * - A `CorruptionError`: destroyed bytes of the named file where it points:
 *   the segment header for an offset inside it, the bad record itself in a
 *   sealed segment, from the offset on in the last one (the bad record, or
 *   a later one that looks like a later write), within the largest record
 *   size in the image. Or, for a log error, a destroyed image header slot
 *   that leaves the engine a lower coverage than both slots as it wrote
 *   them, when the error concerns records at or below the lower of those
 *   (the log there was reclaimed by right): records missing below the first
 *   segment are excused by nothing else, and never when the slot the engine
 *   falls back on is one it wrote (then the log was its to keep).
 * - A failed `verify()`: each problem at a record's offset lies on destroyed
 *   bytes; the others (key counts, slab counts) need destroyed image bytes.
 * - A recovered state that fails its judgment at all (D1–D5, D11): the image
 *   open read — the records its current header reaches, walked over the
 *   bytes the power loss left — lies on destroyed bytes. A misdirected write
 *   leaves what its place held before, and on reused space that can be a
 *   record an older (or uncommitted) checkpoint wrote at the same offset
 *   with the same length: its checksum is valid, the ref names it, and no
 *   check of a self-checksummed record can tell it from the one the engine
 *   wrote (a lost write; see `docs/FORMAT.md`, Known limits). Such a
 *   recovery is counted, not judged, and the model rebases on it; the
 *   destroyed ranges it read excuse nothing after (their bytes are the
 *   model's base now).
 *
 * Losses are judged against the damage seen right after each power loss
 * since the last judged recovery: recovery itself cuts torn tails, and with
 * them the evidence.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { CorruptionError } from "../lib/errors.ts";
import {
  decodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import { decodeNodeRecord, inlineLeafRef, refLength, refOffset } from "../lib/image/node_record.ts";
import { parseSegmentName, segmentHeaderBytes } from "../lib/wal/segment.ts";
import type { Damage } from "./damage.ts";
import type { SimBlockStorage } from "./storage.ts";
import type { RecordPlace, WalMap } from "./wal_map.ts";

/** The largest image record (refs keep 17 bits of length), so the most bytes a reported record spans. */
const imageRecordBytesMax = 128 * 1024;
/** Snapshots kept between two judged recoveries (power losses while recovering are bounded). */
const snapshotsMax = 64;
/** Records one walk of the image open reads visits at most (the simulator's images hold hundreds). */
const walkRecordsMax = 1 << 20;

/** The disk as a power loss left it: destroyed ranges by file, and what the image header lost. */
interface Snapshot {
  readonly damage: ReadonlyMap<string, readonly Damage[]>;
  /**
   * If an image header slot was destroyed and the engine now falls back on
   * a lower coverage than both slots as it wrote them held: that lower
   * coverage and the lower of the two it wrote (the log between may be
   * gone by right).
   */
  readonly fallback?: { readonly coverage: number; readonly written: number };
  /**
   * If records the image open reads lie on destroyed bytes (none the model
   * rebased on before): which, in words, and those destroyed ranges.
   */
  readonly imageRead?: { readonly why: string; readonly ranges: readonly Damage[] };
}

const missingRecords = /records (\d+)\.\.(\d+) are missing from the log/;
const segmentGap = /segment starts at lsn (\d+) but lsn (\d+) comes next/;
const invalidRecord = /record (\d+) is invalid/;
const recordAt = /record at (\d+)/;

/** Whether a range of `ranges` overlaps `[start, end)`. */
function overlaps(ranges: readonly Damage[] | undefined, start: number, end: number): boolean {
  return (ranges ?? []).some((range) => range.start < end && start < range.end);
}

/** The judge of excuses for one run. */
export class Excuses {
  readonly #places: WalMap;
  #snapshots: Snapshot[] = [];
  /**
   * Destroyed image ranges whose bytes a recovery not judged made the
   * model's base: they excuse nothing after (ranges are immutable objects
   * that a crash carries over, so identity is the range).
   */
  readonly #rebasedOn = new Set<Damage>();

  constructor(places: WalMap) {
    this.#places = places;
  }

  /** Records the damage a power loss left, before recovery changes anything. */
  noteCrash(storage: SimBlockStorage): void {
    const damage = new Map<string, readonly Damage[]>();
    for (const name of storage.fileNames()) {
      const ranges = storage.damage(name);
      if (ranges.length > 0) damage.set(name, ranges);
    }
    if (this.#snapshots.length >= snapshotsMax) this.#snapshots.shift();
    const image = damage.get(imageFileName);
    // A range healed or cut since never comes back: forget it (bounds the set).
    for (const range of this.#rebasedOn) if (!image?.includes(range)) this.#rebasedOn.delete(range);
    this.#snapshots.push({
      damage,
      fallback: headerFallback(storage, image),
      imageRead: imageReadDestroyed(
        storage,
        image?.filter((range) => !this.#rebasedOn.has(range)),
      ),
    });
  }

  /**
   * Why the state the next recovery holds cannot be judged, or undefined:
   * after a power loss since the last judged recovery, a record the image
   * open reads lay on destroyed bytes (see the module comment). Asked only
   * when the oracle takes the answer: it rebases on that state, so those
   * ranges excuse nothing after.
   */
  unjudgeable = (): string | undefined => {
    const read = this.#snapshots.flatMap(({ imageRead }) =>
      imageRead === undefined ? [] : [imageRead]
    );
    for (const { ranges } of read) for (const range of ranges) this.#rebasedOn.add(range);
    return read[0]?.why;
  };

  /** A recovery was judged: the damage before it no longer explains what comes. */
  judged(): void {
    this.#snapshots = [];
  }

  /** Whether a snapshot since the last judged recovery shows destroyed bytes of `file` in `[start, end)`. */
  #destroyedAtCrash(file: string, start: number, end: number): boolean {
    return this.#snapshots.some((snapshot) => overlaps(snapshot.damage.get(file), start, end));
  }

  /** Whether a crash since the last judged recovery left destroyed bytes anywhere in `file`. */
  destroyedIn(file: string): boolean {
    return this.#destroyedAtCrash(file, 0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Why losing the acknowledged records `lost` (recovery kept the prefix up
   * to `prefix`) is the disk's doing, or undefined if it is not.
   */
  loss = (prefix: number, lost: readonly number[]): string | undefined => {
    assert(lost.every((lsn) => lsn > prefix), "lost records lie past the prefix kept");
    const firstByWrite = new Map<string, RecordPlace>();
    for (const lsn of [...lost].sort((a, b) => a - b)) {
      const place = this.#places.place(lsn);
      if (place === undefined) return undefined; // never written: nothing to destroy
      const write = `${place.file}@${place.write}`;
      if (!firstByWrite.has(write)) firstByWrite.set(write, place);
    }
    const reasons: string[] = [];
    for (const first of firstByWrite.values()) {
      const group = this.#places.place(first.groupFirst);
      const from = group?.file === first.file && group.write === first.write
        ? group.start
        : first.start;
      if (this.#destroyedAtCrash(first.file, from, first.end)) {
        reasons.push(`bytes ${from}..${first.end} of "${first.file}" were destroyed`);
      } else if (first.write === 0 && this.#destroyedAtCrash(first.file, 0, segmentHeaderBytes)) {
        reasons.push(`the header of "${first.file}" was destroyed`);
      } else {
        return undefined;
      }
    }
    return reasons.join("; ");
  };

  /** Why `error` is the disk's doing (destroyed bytes where it points), or undefined. */
  corruption(error: CorruptionError, storage: SimBlockStorage): string | undefined {
    const fallback = this.#headerFallback(error, storage);
    if (fallback !== undefined) return fallback;
    if (missingRecords.test(error.message)) return undefined; // the log's own removal
    const gap = segmentGap.exec(error.message);
    if (gap !== null) {
      const lost: number[] = [];
      for (let lsn = Number(gap[2]); lsn < Number(gap[1]) && lost.length < 1 << 16; lsn++) {
        lost.push(lsn);
      }
      return this.loss(Number(gap[2]) - 1, lost);
    }
    const [start, end] = this.#reportedRange(error);
    const files = error.file === imageFileName ? [imageFileName, compactingFileName] : [error.file];
    for (const file of files) {
      const live = overlaps(storage.damage(file), start, end);
      if (live || this.#destroyedAtCrash(file, start, end)) {
        return `destroyed bytes of "${file}" in ${start}..${end}`;
      }
    }
    return undefined;
  }

  /**
   * The bytes a corruption report at `error.offset` of `error.file` points
   * at: in a segment, the header for an offset inside it; the record itself
   * where a sealed segment holds a bad one (the runner saw where it was
   * written); otherwise from the offset on (the bad record, or a later one
   * that looks like a later write, which makes a torn tail damage). In the
   * image: the header region, or the largest record from the offset.
   */
  #reportedRange(error: CorruptionError): [number, number] {
    const offset = error.offset;
    if (parseSegmentName(error.file) === undefined) {
      return offset < headerRegionBytes
        ? [0, headerRegionBytes]
        : [offset, offset + imageRecordBytesMax];
    }
    if (offset < segmentHeaderBytes) return [0, segmentHeaderBytes];
    const invalid = invalidRecord.exec(error.message);
    const place = invalid === null ? undefined : this.#places.place(Number(invalid[1]));
    const sealed = /in a sealed segment/.test(error.message);
    if (sealed && place?.file === error.file && place.start === offset) return [offset, place.end];
    return [offset, Number.MAX_SAFE_INTEGER];
  }

  /**
   * A log error that a lost image header explains: the engine fell back on
   * a lower coverage than both header slots as it wrote them held, and the
   * error concerns records at or below what they held (a segment it removed
   * by right, one it skipped before and reads now, their seals).
   */
  #headerFallback(error: CorruptionError, storage: SimBlockStorage): string | undefined {
    const first = parseSegmentName(error.file);
    if (first === undefined) return undefined;
    const missing = missingRecords.exec(error.message);
    const gap = segmentGap.exec(error.message);
    const invalid = invalidRecord.exec(error.message);
    const following = storage.fileNames().map(parseSegmentName)
      .filter((lsn): lsn is number => lsn !== undefined && lsn > first);
    const concerned = missing !== null
      ? Number(missing[2])
      : gap !== null
      ? Number(gap[1]) - 1
      : invalid !== null
      ? Number(invalid[1])
      : /segment ends before/.test(error.message) && following.length > 0
      ? Math.min(...following) - 1
      : first;
    for (const { fallback } of this.#snapshots) {
      if (fallback !== undefined && concerned <= fallback.written) {
        return `an image header was destroyed: open falls back on coverage ${fallback.coverage}, ` +
          `the log up to ${fallback.written} was reclaimed by right`;
      }
    }
    return undefined;
  }

  /** Whether destroyed image bytes explain every problem `verify()` reported. */
  verify(problems: readonly string[], storage: SimBlockStorage): boolean {
    const damage = storage.damage(imageFileName);
    if (damage.length === 0) return false;
    return problems.every((problem) => {
      if (problem.startsWith("in-memory trie")) return false;
      const at = recordAt.exec(problem);
      if (at === null) return true; // a count that follows from damage elsewhere
      return overlaps(damage, Number(at[1]), Number(at[1]) + imageRecordBytesMax);
    });
  }
}

/**
 * What the image header lost at a crash: when a destroyed slot leaves the
 * engine a lower coverage than both slots as it wrote them (a slot that is
 * no valid header counts for nothing, as in the engine's reclaim).
 */
function headerFallback(
  storage: SimBlockStorage,
  damage: readonly Damage[] | undefined,
): Snapshot["fallback"] {
  if (damage === undefined || !storage.fileNames().includes(imageFileName)) return undefined;
  const bytes = storage.readLive(imageFileName);
  const actual: (ImageHeader | string)[] = [];
  const written: (ImageHeader | string)[] = [];
  for (const offset of headerSlotOffsets) {
    const end = offset + headerSlotBytes;
    const slot = bytes.subarray(offset, end);
    actual.push(decodeHeaderSlot(slot));
    const destroyed = damage.find((range) => range.start < end && offset < range.end);
    const whole = destroyed !== undefined && destroyed.start <= offset && destroyed.end >= end;
    written.push(
      destroyed === undefined
        ? actual.at(-1)!
        : whole && destroyed.expected !== undefined
        ? decodeHeaderSlot(
          destroyed.expected.subarray(offset - destroyed.start, end - destroyed.start),
        )
        : "destroyed, its contents unknown",
    );
  }
  if (!headerSlotOffsets.some((offset) => overlaps(damage, offset, offset + headerSlotBytes))) {
    return undefined;
  }
  const coverages = (slots: (ImageHeader | string)[]) =>
    slots.filter((slot): slot is ImageHeader => typeof slot === "object");
  const writtenValid = coverages(written);
  if (writtenValid.length === 0) return undefined;
  const writtenMin = Math.min(...writtenValid.map((slot) => slot.coverageLsn));
  const current = coverages(actual).sort((a, b) => b.generation - a.generation)[0];
  const coverage = current?.coverageLsn ?? 0;
  return coverage < writtenMin ? { coverage, written: writtenMin } : undefined;
}

/**
 * Where records the image open takes (the current header slot, as the
 * engine picks it: the valid one with the higher generation, A on a tie)
 * reaches, walked over the bytes the disk holds, lie on `damage`; undefined
 * if none does. The walk follows what the engine would read, stale records
 * included, so it finds every destroyed byte the open's state could come
 * from.
 */
function imageReadDestroyed(
  storage: SimBlockStorage,
  damage: readonly Damage[] | undefined,
): Snapshot["imageRead"] {
  if (damage === undefined || damage.length === 0) return undefined;
  if (!storage.fileNames().includes(imageFileName)) return undefined;
  const bytes = storage.readLive(imageFileName);
  const slots = headerSlotOffsets.map((offset) =>
    decodeHeaderSlot(bytes.subarray(offset, offset + headerSlotBytes))
  );
  const valid = slots.filter((slot): slot is ImageHeader => typeof slot === "object");
  if (valid.length === 0) return undefined;
  const current = valid.reduce((best, slot) => (slot.generation > best.generation ? slot : best));
  const seen = new Set<number>();
  const ranges = new Set<Damage>();
  let why: string | undefined;
  const pending = current.rootAddress === 0 ? [] : [current.rootAddress];
  while (pending.length > 0 && seen.size < walkRecordsMax) {
    const ref = pending.pop()!;
    if (!Number.isSafeInteger(ref) || ref <= inlineLeafRef || seen.has(ref)) continue;
    seen.add(ref);
    const start = refOffset(ref);
    const end = start + refLength(ref);
    for (const hit of damage.filter((range) => range.start < end && start < range.end)) {
      ranges.add(hit);
      why ??= `image generation ${current.generation}, which open reads, has its record at ` +
        `${start}..${end} on bytes ${hit.start}..${hit.end} a fault destroyed`;
    }
    const node = decodeNodeRecord(bytes.subarray(Math.min(start, bytes.length), end));
    if (typeof node !== "object") continue;
    for (const child of node.childAddresses) if (child !== inlineLeafRef) pending.push(child);
  }
  return why === undefined ? undefined : { why, ranges: [...ranges] };
}
