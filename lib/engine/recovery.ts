/**
 * What open did with the files it found, for `stats().recovery`, and the
 * files moved aside that `verify()` reports. Open deletes only what it can
 * prove holds nothing acknowledged (a torn creation of the last WAL segment,
 * a compaction's leftover file once the image and the log it would have
 * replaced have opened); bytes it cannot explain are moved aside and
 * reported here until someone removes them.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { compactingFileName } from "../image/image_file.ts";
import type { BlockStorage } from "../storage/block_storage.ts";
import { parseQuarantineName, quarantinedNames } from "../storage/quarantine.ts";
import type { WalScan } from "../wal/recover.ts";

/** A file open removed because it provably held nothing acknowledged. */
export interface RemovedFile {
  /** Its name in the store's directory. */
  file: string;
  /** Its size in bytes. */
  bytes: number;
  /** Why nothing in it was needed. */
  reason: string;
}

/**
 * A file open could not explain and moved aside: renamed to `movedTo` (a
 * `quarantine-<n>-<name>` name no part of the engine reads) and kept. Writes
 * acknowledged before the crash may have been in it: inspect it, then delete
 * it (`verify()` reports it until then).
 */
export interface QuarantinedFile {
  /** The name it had. */
  file: string;
  /** The name it has now, in the same directory. */
  movedTo: string;
  /** Its size in bytes. */
  bytes: number;
  /** What open found wrong with it. */
  reason: string;
}

/** Where open cut a torn tail off the last WAL segment. */
export interface TornTail {
  /** The segment. */
  file: string;
  /** Its new length: the end of its last valid record. */
  offset: number;
}

/** What open found and did, as `stats().recovery` reports it. */
export interface RecoveryStats {
  /** The image's coverage LSN: records at or below it were not replayed. */
  coverageLsn: number;
  /** WAL records replayed above the coverage. */
  replayedRecords: number;
  /** Bytes cut from the end of the last segment (a torn write, or zero padding). */
  tornBytesTruncated: number;
  /** Where those bytes were cut, if any were. */
  tornTail: TornTail | undefined;
  /** Files removed: each provably held nothing acknowledged. */
  removed: RemovedFile[];
  /** Files moved aside: bytes open could not explain (empty normally). */
  quarantined: QuarantinedFile[];
  /** Milliseconds the open took. */
  openMs: number;
}

/** The recovery report of an open whose WAL recovery found `scan` (see `Wal.open`). */
export function recoveryStats(
  coverageLsn: number,
  scan: WalScan,
  movedTo: string | undefined,
): RecoveryStats {
  const recovery: RecoveryStats = {
    coverageLsn,
    replayedRecords: scan.replayed,
    tornBytesTruncated: scan.tornBytes,
    tornTail: undefined,
    removed: [],
    quarantined: [],
    openMs: 0,
  };
  const last = scan.segments.at(-1);
  if (scan.tornBytes > 0 && last !== undefined) {
    recovery.tornTail = { file: last.name, offset: last.validBytes };
  }
  const aside = scan.setAside;
  if (aside !== undefined && aside.quarantine) {
    assert(movedTo !== undefined, "a segment moved aside has a new name");
    recovery.quarantined.push({
      file: aside.name,
      movedTo,
      bytes: aside.bytes,
      reason: aside.reason,
    });
  } else if (aside !== undefined) {
    recovery.removed.push({ file: aside.name, bytes: aside.bytes, reason: aside.reason });
  }
  return recovery;
}

/** Notes the removal of a compaction's leftover file of `bytes` bytes in `recovery`. */
export function noteCompactingLeftover(recovery: RecoveryStats, bytes: number): void {
  recovery.removed.push({
    file: compactingFileName,
    bytes,
    reason: "a compaction that never reached its rename: the image and the log that opened " +
      "hold everything it held",
  });
}

/** A copy of `recovery` the caller may keep and change. */
export function copyRecovery(recovery: RecoveryStats): RecoveryStats {
  return {
    ...recovery,
    tornTail: recovery.tornTail === undefined ? undefined : { ...recovery.tornTail },
    removed: recovery.removed.map((file) => ({ ...file })),
    quarantined: recovery.quarantined.map((file) => ({ ...file })),
  };
}

/** A quarantined file `verify()` found in the store's directory. */
export interface QuarantinedFileFound {
  /** Its name now (`quarantine-<n>-<name>`). */
  file: string;
  /** The name it had. */
  original: string;
  /** Its size in bytes. */
  bytes: number;
}

/** The quarantined files in `storage`, with their sizes, in name order. */
export async function findQuarantined(storage: BlockStorage): Promise<QuarantinedFileFound[]> {
  const found: QuarantinedFileFound[] = [];
  for (const name of quarantinedNames(await storage.list())) {
    const parsed = parseQuarantineName(name);
    assert(parsed !== undefined, "a quarantined name parses");
    const file = await storage.open(name);
    try {
      found.push({ file: name, original: parsed.original, bytes: await file.size() });
    } finally {
      await file.close();
    }
  }
  return found;
}

/** The `verify()` problem line of a quarantined file. */
export function quarantineProblem(found: QuarantinedFileFound): string {
  return `"${found.file}": ${found.bytes} bytes an open could not explain, moved aside from ` +
    `"${found.original}"; writes acknowledged before a crash may be missing: inspect the ` +
    `file, then delete it`;
}
