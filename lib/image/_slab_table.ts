/**
 * The allocation table as the image holds it in memory, and the placement
 * of new records in it. Per slab the table counts the bytes filled from its
 * start (appends continue there), the bytes of records the committed image
 * uses (`live`) and the bytes of records only the image before it uses
 * (`held`). It exists apart from the file so the first promise of the
 * commit protocol (see `image_file.ts`) is kept in one place: a record is
 * placed only past a slab's filled mark or in a free slab (nothing live or
 * held in it), never over a record either header slot's image uses, and
 * the records a commit drops stay held for one more commit before their
 * slabs can be reused. Nothing here touches the file: the image writes what
 * this places, and the table records this encodes.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  type AllocationChunk,
  chunkBytes,
  encodeChunk,
  type ImageGeometry,
  recordBytesMax,
} from "./allocation.ts";
import { headerRegionBytes } from "./header.ts";
import { inlineLeafRef, refLength, refOffset } from "./node_record.ts";

/** Slabs an image holds at most (2^32 slabs: far past any disk, and past a ref's offsets). */
const slabsMax = 2 ** 32 - 1;

/** Space use of the image, from the allocation table. */
export interface ImageSpace {
  /** Slabs in the table. */
  slabs: number;
  /** Slabs with no live or held record (reusable). */
  freeSlabs: number;
  /** Bytes of records the image uses (committed, plus appended by a running checkpoint). */
  liveBytes: number;
  /** Bytes of records only the image before the committed one uses (free after the next commit). */
  heldBytes: number;
  /** Bytes of non-free slabs that no live or held record uses: space lost to fragmentation. */
  deadBytes: number;
  /**
   * Bytes of the image file, as long as it is: a commit cuts it to the end of
   * its last slab's records, so after a crash it may hold bytes past them
   * (an uncommitted checkpoint's) until the next commit.
   */
  fileBytes: number;
}

/**
 * Where records may start in `slab`, from its start: past the header region
 * in the slabs it covers (only slab 0, but with slabs smaller than 8 KiB all
 * of the first ones, which then hold no record).
 */
export function slabBase(slab: number, slabBytes: number): number {
  const start = slab * slabBytes;
  return start >= headerRegionBytes ? 0 : Math.min(slabBytes, headerRegionBytes - start);
}

/**
 * The slabs each chunk of a table of `slabs` slabs describes, as
 * `[first, end)` ranges of `perChunk` slabs (the last one shorter), in
 * order: as many chunks as the slabs need, never an empty one (a table
 * always has slab 0). A chain longer than that would fail the bound that
 * `readTable` (in `_open.ts`) puts on it.
 */
export function tableChunkRanges(slabs: number, perChunk: number): [first: number, end: number][] {
  assert(slabs >= 1 && perChunk >= 1, "a table has slab 0, a chunk at least one entry");
  const ranges: [first: number, end: number][] = [];
  for (let first = 0; first < slabs; first += perChunk) {
    ranges.push([first, Math.min(slabs, first + perChunk)]);
  }
  assert(ranges.length === Math.ceil(slabs / perChunk), "one chunk per perChunk slabs");
  return ranges;
}

/** The allocation table of an open image, and where its next records go. */
export class SlabTable {
  /** Bytes per slab: the file's geometry (see `allocation.ts`), fixed at its creation. */
  readonly slabBytes: number;
  /** Table entries per chunk record, at most (the file's geometry). */
  readonly chunkEntriesMax: number;
  /** The largest record a slab of this file holds. */
  readonly recordBytesMax: number;
  /** Slabs the header region touches: the table always keeps them. */
  readonly #headerSlabs: number;
  /** Per slab: bytes used from its start (appends continue there). */
  readonly #filled: number[] = [];
  /** Per slab: bytes of records the committed image (plus a running checkpoint) uses. */
  readonly #live: number[] = [];
  /** Per slab: bytes of records only the image before the committed one uses. */
  #held: number[] = [];
  /** No slab below this index is free (a hint for placement). */
  #freeFrom = 0;
  /** The slab appends go to first, or -1. */
  #cursor = -1;
  /** Where the committed allocation table's chunks are, as [address, bytes] pairs. */
  #chunks: number[];

  /**
   * The table read from the file (`table`, in slab order) of an image with
   * `geometry`, whose chunks lie at `chunks` ([address, bytes] pairs).
   */
  constructor(geometry: ImageGeometry, table: readonly AllocationChunk[], chunks: number[]) {
    this.slabBytes = geometry.slabBytes;
    this.chunkEntriesMax = geometry.chunkEntriesMax;
    this.recordBytesMax = recordBytesMax(geometry);
    this.#headerSlabs = Math.ceil(headerRegionBytes / this.slabBytes);
    this.#chunks = chunks;
    for (const chunk of table) {
      assert(
        chunk.firstSlab === this.#filled.length || chunk.filled.length === 0,
        "table chunks are in slab order",
      );
      this.#filled.push(...chunk.filled);
      this.#live.push(...chunk.live);
      this.#held.push(...chunk.held);
    }
    const last = this.#filled.length - 1;
    if (last >= 0 && this.#live[last] > 0 && this.#filled[last] < this.slabBytes) {
      this.#cursor = last;
    }
  }

  /** Slabs in the table. */
  get slabs(): number {
    return this.#filled.length;
  }

  /** Where the committed table's chunks are, as [address, bytes] pairs. */
  get chunks(): readonly number[] {
    return this.#chunks;
  }

  /** Bytes used from the start of `slab` (0 past the table). */
  filledBytes(slab: number): number {
    return this.#filled[slab] ?? 0;
  }

  /** The slabs that hold live records, in order. */
  liveSlabs(): number[] {
    const slabs: number[] = [];
    for (let slab = 0; slab < this.#filled.length; slab++) {
      if (this.#live[slab] > 0) slabs.push(slab);
    }
    return slabs;
  }

  /**
   * Whether more than `count` slabs hold live records: a count that stops
   * there (a point read asks, and a large image has many more slabs).
   */
  liveSlabsMoreThan(count: number): boolean {
    let live = 0;
    for (let slab = 0; slab < this.#filled.length; slab++) {
      if (this.#live[slab] > 0 && ++live > count) return true;
    }
    return false;
  }

  /** Space use from the table, for a file of `fileBytes` bytes. */
  space(fileBytes: number): ImageSpace {
    let liveBytes = 0;
    let heldBytes = 0;
    let deadBytes = 0;
    let freeSlabs = 0;
    for (let slab = 0; slab < this.#filled.length; slab++) {
      liveBytes += this.#live[slab];
      heldBytes += this.#held[slab];
      const base = slabBase(slab, this.slabBytes);
      // A free slab is filled to its base, but one whose records were all abandoned (`abandon`).
      if (this.#isFree(slab) && this.#filled[slab] === base) {
        freeSlabs += base < this.slabBytes ? 1 : 0; // not a header's whole slab
      } else deadBytes += this.#filled[slab] - base - this.#live[slab] - this.#held[slab];
    }
    assert(deadBytes >= 0 && liveBytes >= 0, "space counts are not negative");
    return { slabs: this.#filled.length, freeSlabs, liveBytes, heldBytes, deadBytes, fileBytes };
  }

  /** Where the slabs the table describes end: the file needs no byte past it. */
  spanBytes(): number {
    const last = this.#filled.length - 1;
    return last < 0 ? headerRegionBytes : last * this.slabBytes + this.#filled[last];
  }

  /** Forgets free slabs at the end of the file, so the file can shrink (never into the header). */
  dropFreeTail(): void {
    while (this.#filled.length > this.#headerSlabs && this.#isFree(this.#filled.length - 1)) {
      this.#filled.pop();
      this.#live.pop();
      this.#held.pop();
    }
    if (this.#cursor >= this.#filled.length) this.#cursor = -1;
    assert(this.#filled.length >= 1, "slab 0 (the header's) is always in the table");
  }

  /**
   * Reserves room for the table's chunks (before any free: freed slabs are
   * still in use) and makes them the table's chunks; returns them as
   * [address, bytes] pairs, for {@link SlabTable.encodeTable}.
   */
  placeTable(): number[] {
    // Placing chunks may add slabs; reserve for a few more entries than now
    // (and, in a new table, for the header region's whole slabs too).
    const perChunk = this.chunkEntriesMax;
    const slabs = this.#filled.length;
    const headerSlabsToAdd = Math.max(0, this.#headerSlabs - Math.max(slabs, 1));
    const entries = slabs + Math.ceil(slabs / perChunk) + 2 + headerSlabsToAdd;
    const addresses: number[] = [];
    for (let first = 0; first < entries; first += perChunk) {
      const reserved = chunkBytes(Math.min(perChunk, entries - first));
      addresses.push(this.place(reserved), reserved);
    }
    assert(this.#filled.length <= entries, "the reserved table covers every slab");
    this.#chunks = addresses;
    return addresses;
  }

  /**
   * Encodes the table into the reserved chunks, as many as its slabs need
   * (the reservation was made before the free tail went), handing each
   * record to `write` at its address; returns the first chunk's address.
   */
  encodeTable(
    placed: number[],
    write: (address: number, record: Uint8Array) => void,
  ): number {
    const ranges = tableChunkRanges(this.#filled.length, this.chunkEntriesMax);
    assert(ranges.length <= placed.length / 2, "the reservation has a chunk for every range");
    for (let index = 0; index < placed.length; index += 2) {
      const [first, end] = ranges[index / 2] ?? [0, 0];
      // The reservation allowed for more slabs than there are: give back the rest
      // (a chunk no range needs, whole).
      const reserved = placed[index + 1];
      const actual = index / 2 < ranges.length ? chunkBytes(end - first) : 0;
      assert(actual <= reserved, "a chunk fits its reservation");
      this.#live[Math.floor(placed[index] / this.slabBytes)] -= reserved - actual;
      this.#chunks[index + 1] = actual;
    }
    this.#chunks.length = 2 * ranges.length;
    for (const [index, [first, end]] of ranges.entries()) {
      const record = encodeChunk({
        firstSlab: first,
        filled: this.#filled.slice(first, end),
        live: this.#live.slice(first, end),
        held: this.#held.slice(first, end),
        next: index + 1 < ranges.length ? placed[2 * index + 2] : 0,
      });
      assert(record.length === this.#chunks[2 * index + 1], "a chunk has the size accounted");
      write(placed[2 * index], record);
    }
    return placed[0];
  }

  /**
   * The records the new image no longer uses leave `live` for `held`; what
   * was held for the image before the committed one is released. A slab
   * with nothing live or held becomes free (its space is reused from the
   * start).
   */
  retire(refs: readonly number[], chunks: readonly number[]): void {
    assert(chunks.length % 2 === 0, "chunks come in address and size pairs");
    const held = new Array<number>(this.#live.length).fill(0);
    const release = (offset: number, bytes: number): void => {
      const slab = Math.floor(offset / this.slabBytes);
      assert(slab < this.#live.length, `a freed record at ${offset} lies in a known slab`);
      this.#live[slab] -= bytes;
      held[slab] += bytes;
      assert(this.#live[slab] >= 0, `slab ${slab} freed more than it held`);
    };
    for (const ref of refs) {
      assert(ref !== inlineLeafRef, "an inline leaf has no record to free");
      release(refOffset(ref), refLength(ref));
    }
    for (let index = 0; index < chunks.length; index += 2) {
      release(chunks[index], chunks[index + 1]);
    }
    this.#held = held;
    for (let slab = 0; slab < this.#live.length; slab++) {
      if (this.#isFree(slab)) this.#filled[slab] = slabBase(slab, this.slabBytes);
    }
    this.#freeFrom = 0;
  }

  /**
   * Records placed at `[start, end)` are given up: their bytes leave
   * `live` and count as dead. The caller placed nothing else there (a file
   * written from empty: placement only moves forward).
   */
  abandon(start: number, end: number): void {
    assert(start <= end && start >= headerRegionBytes, "a range of placed records");
    const slabBytes = this.slabBytes;
    for (let slab = Math.floor(start / slabBytes); slab * slabBytes < end; slab++) {
      const slabStart = slab * slabBytes;
      const from = Math.max(start, slabStart + slabBase(slab, slabBytes));
      const to = Math.min(end, slabStart + this.#filled[slab]);
      if (to <= from) continue;
      this.#live[slab] -= to - from;
      assert(this.#live[slab] >= 0, `slab ${slab} gave up more than it held`);
    }
  }

  #isFree(slab: number): boolean {
    return this.#live[slab] === 0 && this.#held[slab] === 0;
  }

  /**
   * Finds room for `bytes` in the cursor slab, a free slab or a new one, and
   * claims it; returns its address. A free or new slab may still lack the
   * room: the header region's (slab 0's rest, or none), so the search goes
   * on past it.
   */
  place(bytes: number): number {
    const slabBytes = this.slabBytes;
    assert(bytes > 0 && bytes <= this.recordBytesMax, "a record fits a slab past the header");
    let slab = this.#cursor;
    for (let tries = 0; slab < 0 || this.#filled[slab] + bytes > slabBytes; tries++) {
      // Each try takes a free slab past the last, or a new one: a header slab at most once.
      assert(tries <= this.#filled.length + this.#headerSlabs, "a slab with room is found");
      slab = this.#nextFreeSlab();
      if (slab < 0) {
        assert(this.#filled.length < slabsMax, "the image has room for another slab");
        slab = this.#filled.length;
        this.#filled.push(slabBase(slab, slabBytes));
        this.#live.push(0);
        this.#held.push(0);
      }
      this.#cursor = slab;
    }
    const address = slab * slabBytes + this.#filled[slab];
    this.#filled[slab] += bytes;
    this.#live[slab] += bytes;
    assert(this.#filled[slab] <= slabBytes, "a record never crosses a slab");
    return address;
  }

  /** The lowest free slab other than the cursor's, or -1. */
  #nextFreeSlab(): number {
    for (let slab = this.#freeFrom; slab < this.#live.length; slab++) {
      if (this.#isFree(slab) && slab !== this.#cursor) {
        this.#freeFrom = slab + 1;
        return slab;
      }
    }
    this.#freeFrom = this.#live.length;
    return -1;
  }
}
