/**
 * `verify()`: the committed image read back from disk and checked whole,
 * both header slots, the files an open moved aside, and the in-memory
 * trie's invariants, in one report. Reads the whole image: meant for tests,
 * the simulator and on-request checks; the caller runs it with no
 * checkpoint in progress.
 *
 * What it promises: every problem found is a line in `problems` naming
 * where it is; what loses nothing now but leaves less margin is a
 * `warning`; nothing is changed on disk.
 *
 * @module
 */

import type { Art } from "../art/art.ts";
import type { HeaderSlotReport } from "../image/header.ts";
import type { ImageFile } from "../image/image_file.ts";
import { type ImageVerifyReport, verifyImage } from "../image/verify.ts";
import type { BlockStorage } from "../storage/block_storage.ts";
import type { Wal } from "../wal/wal.ts";
import { findQuarantined, type QuarantinedFileFound, quarantineProblem } from "./recovery.ts";

/** What `Store.verify` reports. */
export interface VerifyReport {
  /** True when nothing is wrong. */
  ok: boolean;
  /** The image walk: keys, nodes, bytes, depth. */
  image: ImageVerifyReport;
  /**
   * What is wrong, each naming where; empty when `ok`: damage in the image,
   * a current header slot that does not read back, a file moved aside (one
   * line each), a broken invariant of the in-memory trie.
   */
  problems: string[];
  /**
   * What loses nothing now but leaves less margin: the header slot not in
   * use cannot serve as a fallback (damaged, blank after a commit, stale).
   * The next checkpoint rewrites it.
   */
  warnings: string[];
  /** Both image header slots as read from disk now (A, then B). */
  headerSlots: HeaderSlotReport[];
  /** Files an open moved aside that are still in the directory. */
  quarantined: QuarantinedFileFound[];
}

/** What {@link verifyStore} reads. */
export interface VerifyParts {
  image: ImageFile;
  wal: Wal;
  storage: BlockStorage;
  trie: Art;
  /**
   * Brings the trie up to date before its invariants are checked (applies a
   * durable group still waiting); throws if the trie failed applying writes.
   */
  applyPending: () => void;
}

/** Checks the committed image, the header slots, the quarantine and the trie; see the module notes. */
export async function verifyStore(parts: VerifyParts): Promise<VerifyReport> {
  const { image: file, wal, trie } = parts;
  const header = file.header;
  const image = await verifyImage({
    read: (address) => file.read(address),
    rootAddress: header?.rootAddress ?? 0,
    keyCount: header?.keyCount ?? 0,
    valueCeiling: header?.valueCeiling,
    slabBytes: file.geometry.slabBytes,
  });
  const problems = [...image.problems, ...await file.checkLive(image.liveBytesBySlab)];
  const slots = await file.checkSlots(wal.segments[0]?.firstLsn ?? wal.nextLsn);
  problems.push(...slots.problems);
  const quarantined = await findQuarantined(parts.storage);
  problems.push(...quarantined.map(quarantineProblem));
  parts.applyPending(); // a trie that failed applying writes throws that failure, no problem of its own
  try {
    trie.verify();
  } catch (error) {
    problems.push(`in-memory trie: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    ok: problems.length === 0,
    image,
    problems,
    warnings: slots.warnings,
    headerSlots: slots.slots,
    quarantined,
  };
}
