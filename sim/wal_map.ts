/**
 * Where each LSN's record was last written: the simulator decodes every WAL
 * write it sees (the bytes the engine meant, before any fault) with the
 * engine's own record parser, so the oracle can ask whether the bytes of a
 * record recovery lost were destroyed (`damage.ts`), and by which write.
 *
 * A write of a group holds whole records back to back, the first with the
 * group-start flag; a segment's creation write starts with its 32-byte
 * header. Zero padding parses as nothing. An LSN written again (after a
 * recovery cut the log below it) takes its new place.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { parseRecord } from "../lib/wal/record.ts";
import { decodeSegmentHeader, parseSegmentName, segmentHeaderBytes } from "../lib/wal/segment.ts";

/** Where one record was last written. */
export interface RecordPlace {
  /** The segment file. */
  readonly file: string;
  /** The record's first byte. */
  readonly start: number;
  /** One past its last byte. */
  readonly end: number;
  /** The offset the write that carried it started at (0: the segment's creation write). */
  readonly write: number;
  /** The LSN of that write's first record (the one with the group-start flag). */
  readonly groupFirst: number;
}

/** The most LSNs one map tracks (a run writes far fewer). */
const placesMax = 1 << 22;

/**
 * LSN → where its record was last written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalMap } from "./wal_map.ts";
 * const map = new WalMap();
 * map.observe("image.tt", 0, new Uint8Array(64)); // not a segment: ignored
 * assert.ok(map.place(1) === undefined);
 * ```
 */
export class WalMap {
  readonly #places = new Map<number, RecordPlace>();

  /** Takes one write (a `WriteObserver`): records the place of each whole record it carries. */
  readonly observe = (file: string, offset: number, data: Uint8Array): void => {
    if (parseSegmentName(file) === undefined) return;
    let at = 0;
    if (offset === 0) {
      if (typeof decodeSegmentHeader(data) === "string") return;
      at = segmentHeaderBytes;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let groupFirst: number | undefined;
    while (at < data.length) {
      const frame = parseRecord(data, view, at);
      if (typeof frame === "string") break;
      groupFirst ??= frame.lsn;
      const place = {
        file,
        start: offset + at,
        end: offset + frame.end,
        write: offset,
        groupFirst,
      };
      this.#places.set(frame.lsn, place);
      at = frame.end;
    }
    assert(this.#places.size <= placesMax, "the places tracked stay bounded");
  };

  /** Where `lsn`'s record was last written, if a write carried it. */
  place(lsn: number): RecordPlace | undefined {
    return this.#places.get(lsn);
  }
}
