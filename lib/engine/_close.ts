/**
 * What a clean close does to the directory once the last checkpoint ran:
 * leaves it as small as the image allows (see docs/ARCHITECTURE.md, "The
 * flow of a checkpoint"), and the error a close reports when the log had
 * failed.
 *
 * What it promises: best effort that loses nothing. A failure leaves
 * segments the next open reads past; a failed restate or compaction poisons
 * the checkpointer, so nothing is removed after it; a store that must be
 * reopened (a poisoned log or checkpointer) changes nothing more on disk.
 *
 * @module
 */

import { StorageIoError } from "../errors.ts";
import type { CheckpointDeps, Checkpointer } from "./checkpointer.ts";

/**
 * Leaves the directory as small as the image allows (close, once the last
 * checkpoint ran; nothing if `trieFailure` is set: the trie failed applying
 * logged writes, and a store that must be reopened changes nothing more):
 * commits the image again into the other header slot so both slots cover
 * the same LSN (`Checkpointer.restate`); compacts an image whose file
 * outgrew its records (automatic checkpoints only, see
 * `closeCompactionDue`); then, when the image covers the whole log, starts
 * an empty segment, and removes every segment both slots cover but the
 * newest `retainSegments` (also with nothing new to seal: covered segments
 * a power loss brought back, their removal not yet durable, would otherwise
 * stay until a checkpoint).
 */
export async function settleForClose(
  deps: CheckpointDeps,
  checkpointer: Checkpointer,
  trieFailure: Error | undefined,
): Promise<void> {
  const { wal, epochs } = deps;
  // A store that must be reopened changes nothing more on disk.
  if (trieFailure !== undefined || checkpointer.poison !== undefined) return;
  if (wal.poisoned) return;
  await checkpointer.restate().catch(() => {});
  if (epochs.config.auto && checkpointer.closeCompactionDue()) {
    await checkpointer.run(true).catch(() => {});
  }
  await checkpointer.exclusive(async () => {
    if (checkpointer.poison !== undefined || wal.poisoned) return;
    const image = deps.image; // a compaction above replaced it
    const coverage = image.header?.coverageLsn ?? 0;
    if (coverage === 0) return;
    if (coverage === wal.nextLsn - 1) await wal.startEmptySegment();
    const reclaimable = image.reclaimableLsn;
    await wal.reclaim(reclaimable, epochs.config.retainSegments).catch(() => {});
  });
}

/**
 * The error a close throws when the log was poisoned: `lost` writes were
 * accepted but never became durable (0: a directory fsync failed, and every
 * accepted write is durable).
 */
export function poisonedCloseError(lost: number): StorageIoError {
  if (lost > 0) {
    return new StorageIoError(
      "Cannot close cleanly: an earlier WAL write or fsync failed, so writes not yet " +
        "durable were lost (strict mode: their callers were told; relaxed mode: writes " +
        "since the last successful sync()); the files are released, open the store again",
    );
  }
  // A directory fsync failed (a reclaim's, say): the store stopped taking
  // writes, but every one it accepted is durable.
  return new StorageIoError(
    "Cannot close cleanly: a directory fsync failed, so the store took no more writes; " +
      "every write it accepted is durable; the files are released, open the store again",
  );
}
