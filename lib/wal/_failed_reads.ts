/**
 * Telling damage from a transient read fault at WAL recovery: a check that
 * fails counts only once the same bytes failed it on two reads.
 *
 * A bit flipped in transfer (or any fault of one read) lands somewhere new on
 * each read; damage on the disk reads back the same every time. A bounded
 * number of re-reads alone cannot tell them apart: a run of reads each
 * flipped somewhere inside one large record used them all up, and open
 * reported an intact record as corrupt (simulator seed 910110). So the reads
 * go on, up to a bound, until two failing ones agree; reads that never do
 * are the disk failing (a `StorageIoError`), not proof of damage.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { crc32c } from "../_crc32c.ts";

/**
 * Re-reads a failed check always gets before it counts, even when its reads
 * agree sooner (a flip in a small read can repeat by chance: 1 in 256 for
 * two reads of a 32-byte header).
 */
export const failedCheckRereadsMin = 4;

/**
 * The reads of one failing check: each failing read's bytes (those the check
 * looked at) as a digest, until two agree.
 *
 * Reads are compared by CRC-32C and length, not kept: a segment can be
 * hundreds of MiB. CRC-32C tells apart any two byte strings that differ in
 * one or two bits (what two single flips leave) up to 256 MiB; other
 * differences collide with odds of 2^-32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FailedReads } from "./_failed_reads.ts";
 * const reads = new FailedReads();
 * for (const flipped of [1, 2, 3, 4, 5]) reads.add(new Uint8Array([flipped]));
 * assert.ok(!reads.confirmed); // five reads, all different: transient
 * reads.add(new Uint8Array([5]));
 * assert.ok(reads.confirmed); // the same bytes failed twice: damage
 * ```
 */
export class FailedReads {
  readonly #seen = new Set<string>();
  #reads = 0;
  #agreed = false;

  /** Adds the bytes a failing read returned (only those the check looked at). */
  add(bytes: Uint8Array): void {
    const digest = `${bytes.length}:${crc32c(bytes)}`;
    if (this.#seen.has(digest)) this.#agreed = true;
    else this.#seen.add(digest);
    this.#reads++;
    assert(this.#seen.size <= this.#reads, "one digest per failing read at most");
  }

  /** True once the check failed on the first read and every re-read due, two of them alike. */
  get confirmed(): boolean {
    return this.#reads > failedCheckRereadsMin && this.#agreed;
  }
}
