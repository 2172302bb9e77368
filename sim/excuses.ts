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
 * - A `CorruptionError`: destroyed bytes of the named file at the reported
 *   offset: within the header for an offset inside it, from the offset on
 *   in a segment (the bad record, or a later one that lies about following
 *   it), within the record's largest size in the image. Records missing
 *   before the first segment are excused only when an image header slot
 *   covering them was destroyed and both slots as the engine wrote them
 *   covered them (so the engine was right to remove that log).
 * - A failed `verify()`: each problem at a record's offset lies on destroyed
 *   bytes; the others (key counts, slab counts) need destroyed image bytes.
 *
 * Losses are judged against the damage seen right after each power loss
 * since the last judged recovery: recovery itself cuts torn tails, and with
 * them the evidence.
 *
 * @module
 */

import { assert } from "../lib/_assert.ts";
import type { CorruptionError } from "../lib/errors.ts";
import {
  decodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
} from "../lib/image/header.ts";
import { compactingFileName, imageFileName } from "../lib/image/image_file.ts";
import { parseSegmentName, segmentHeaderBytes } from "../lib/wal/segment.ts";
import type { Damage } from "./damage.ts";
import type { SimBlockStorage } from "./storage.ts";
import type { RecordPlace, WalMap } from "./wal_map.ts";

/** The largest image record (refs keep 17 bits of length), so the most bytes a reported record spans. */
const imageRecordBytesMax = 128 * 1024;
/** Snapshots kept between two judged recoveries (power losses while recovering are bounded). */
const snapshotsMax = 64;

/** The disk as a power loss left it: destroyed ranges by file, and the image's header slots. */
interface Snapshot {
  readonly damage: ReadonlyMap<string, readonly Damage[]>;
  /** Each image header slot as the engine last wrote it (a destroyed slot: what it held). */
  readonly intendedSlots: readonly (ImageHeader | string)[];
  /** Whether each slot was destroyed. */
  readonly slotDestroyed: readonly boolean[];
}

const missingRecords = /records (\d+)\.\.(\d+) are missing from the log/;
const segmentGap = /segment starts at lsn (\d+) but lsn (\d+) comes next/;
const recordAt = /record at (\d+)/;

/** Whether a range of `ranges` overlaps `[start, end)`. */
function overlaps(ranges: readonly Damage[] | undefined, start: number, end: number): boolean {
  return (ranges ?? []).some((range) => range.start < end && start < range.end);
}

/** The judge of excuses for one run. */
export class Excuses {
  readonly #places: WalMap;
  #snapshots: Snapshot[] = [];

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
    const imageBytes = storage.fileNames().includes(imageFileName)
      ? storage.readLive(imageFileName)
      : new Uint8Array(0);
    const intendedSlots: (ImageHeader | string)[] = [];
    const slotDestroyed: boolean[] = [];
    for (const offset of headerSlotOffsets) {
      const destroyed = (damage.get(imageFileName) ?? []).find((range) =>
        range.start <= offset && range.end >= offset + headerSlotBytes &&
        range.expected !== undefined
      );
      const bytes = destroyed === undefined
        ? imageBytes.subarray(offset, offset + headerSlotBytes)
        : destroyed.expected!.subarray(
          offset - destroyed.start,
          offset - destroyed.start + headerSlotBytes,
        );
      intendedSlots.push(decodeHeaderSlot(bytes));
      slotDestroyed.push(overlaps(damage.get(imageFileName), offset, offset + headerSlotBytes));
    }
    if (this.#snapshots.length >= snapshotsMax) this.#snapshots.shift();
    this.#snapshots.push({ damage, intendedSlots, slotDestroyed });
  }

  /** A recovery was judged: the damage before it no longer explains what comes. */
  judged(): void {
    this.#snapshots = [];
  }

  /** Whether a snapshot since the last judged recovery shows destroyed bytes of `file` in `[start, end)`. */
  #destroyedAtCrash(file: string, start: number, end: number): boolean {
    return this.#snapshots.some((snapshot) => overlaps(snapshot.damage.get(file), start, end));
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
    const missing = missingRecords.exec(error.message);
    if (missing !== null) return this.#headerGap(Number(missing[1]), Number(missing[2]));
    const gap = segmentGap.exec(error.message);
    if (gap !== null) {
      const lost: number[] = [];
      for (let lsn = Number(gap[2]); lsn < Number(gap[1]) && lost.length < 1 << 16; lsn++) {
        lost.push(lsn);
      }
      return this.loss(Number(gap[2]) - 1, lost);
    }
    const [start, end] = reportedRange(error);
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
   * Records `first..last` missing below the first segment: excused when an
   * image header slot covering them was destroyed and both slots, as the
   * engine wrote them, covered them (an invalid slot counts for nothing, as
   * in the engine's reclaim).
   */
  #headerGap(first: number, last: number): string | undefined {
    for (const snapshot of this.#snapshots) {
      const { intendedSlots, slotDestroyed } = snapshot;
      const destroyed = intendedSlots.some((slot, index) =>
        slotDestroyed[index] && typeof slot === "object" && slot.coverageLsn >= last
      );
      const covered = intendedSlots.every((slot) =>
        typeof slot === "string" || slot.coverageLsn >= last
      );
      if (destroyed && covered) {
        return `an image header covering records ${first}..${last} was destroyed`;
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

/** The bytes a corruption report at `error.offset` of `error.file` points at. */
function reportedRange(error: CorruptionError): [number, number] {
  const offset = error.offset;
  if (parseSegmentName(error.file) !== undefined) {
    // A bad record, or one after it that looks like a later write.
    return offset < segmentHeaderBytes
      ? [0, segmentHeaderBytes]
      : [offset, Number.MAX_SAFE_INTEGER];
  }
  if (offset < headerRegionBytes) return [0, headerRegionBytes];
  return [offset, offset + imageRecordBytesMax];
}
