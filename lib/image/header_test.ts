/**
 * Unit tests of the image header slots: round trips up to 2^53-1, flipped
 * bits caught, and which slot is current (fresh, torn, both damaged).
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { CorruptionError } from "../errors.ts";
import {
  currentHeader,
  decodeHeaderSlot,
  encodeHeaderSlot,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
  nextSlot,
} from "./header.ts";

const header = (generation: number, overrides: Partial<ImageHeader> = {}): ImageHeader => ({
  generation,
  coverageLsn: 40 + generation,
  rootAddress: 8192,
  keyCount: 3,
  pageCount: 2,
  allocationAddress: 12288,
  deadBytes: 0,
  slabBytes: 128 * 1024,
  chunkEntriesMax: 8192,
  ...overrides,
});
const blank = new Uint8Array(headerSlotBytes);

Deno.test("header slot: round trip, including values above 2^32 and up to 2^53-1", () => {
  fc.assert(
    fc.property(
      fc.record({
        generation: fc.maxSafeNat(),
        coverageLsn: fc.maxSafeNat(),
        rootAddress: fc.maxSafeNat(),
        keyCount: fc.maxSafeNat(),
        pageCount: fc.maxSafeNat(),
        allocationAddress: fc.maxSafeNat(),
        deadBytes: fc.maxSafeNat(),
        slabBytes: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        chunkEntriesMax: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        valueCeiling: fc.maxSafeNat(),
      }, {
        requiredKeys: [
          "generation",
          "coverageLsn",
          "rootAddress",
          "keyCount",
          "pageCount",
          "allocationAddress",
          "deadBytes",
          "slabBytes",
          "chunkEntriesMax",
        ],
      }),
      (value) => assert.deepEqual(decodeHeaderSlot(encodeHeaderSlot(value)), { ...value }),
    ),
  );
});

Deno.test("header slot: the value ceiling is flagged; an older slot without it reads as unbounded", () => {
  const bounded = encodeHeaderSlot(header(4, { valueCeiling: 0 }));
  const view = new DataView(bounded.buffer);
  assert.equal(view.getUint32(80, true), 1, "flag bit 0: recorded");
  assert.deepEqual(decodeHeaderSlot(bounded), header(4, { valueCeiling: 0 }), "0 is a bound too");
  // Written before the field existed: bytes 80..95 are zeros, and the header has no bound.
  const older = encodeHeaderSlot(header(4));
  assert.deepEqual([...older.subarray(80, 96)], new Array(16).fill(0));
  const decoded = decodeHeaderSlot(older);
  assert.ok(typeof decoded === "object" && !("valueCeiling" in decoded));
  assert.equal(view.getUint32(8, true), 2, "still format version 2: older code reads the slot");
});

Deno.test("header slot: any flipped bit is caught", () => {
  const bytes = encodeHeaderSlot(header(5));
  for (let offset = 0; offset < headerSlotBytes; offset += 7) {
    const damaged = bytes.slice();
    damaged[offset] ^= 1 << (offset % 8);
    assert.equal(typeof decodeHeaderSlot(damaged), "string", `flip at byte ${offset}`);
  }
  assert.match(String(decodeHeaderSlot(bytes.subarray(0, 100))), /not 4096/);
});

Deno.test("current header: fresh, one slot, the higher generation, a torn slot", () => {
  assert.deepEqual(currentHeader("image.tt", blank, new Uint8Array(0)), {
    header: undefined,
    slot: 1,
  });
  const fresh = currentHeader("image.tt", blank, blank);
  assert.equal(nextSlot(fresh), 0, "the first commit writes slot A");
  const a1 = encodeHeaderSlot(header(1));
  const b2 = encodeHeaderSlot(header(2));
  assert.deepEqual(currentHeader("image.tt", a1, blank), { header: header(1), slot: 0 });
  assert.deepEqual(currentHeader("image.tt", a1, b2), { header: header(2), slot: 1 });
  const a3 = encodeHeaderSlot(header(3));
  assert.deepEqual(currentHeader("image.tt", a3, b2), { header: header(3), slot: 0 });
  const torn = a3.slice();
  torn.fill(0, 2048);
  assert.deepEqual(
    currentHeader("image.tt", torn, b2),
    { header: header(2), slot: 1 },
    "a torn commit falls back",
  );
  assert.equal(
    nextSlot(currentHeader("image.tt", torn, b2)),
    0,
    "and the next commit rewrites the torn slot",
  );
});

Deno.test("current header: both slots damaged is a CorruptionError naming the file", () => {
  const a = encodeHeaderSlot(header(1));
  a[100] ^= 1;
  const b = encodeHeaderSlot(header(2));
  b[30] ^= 1;
  assert.throws(
    () => currentHeader("image.tt", a, b),
    (error: unknown) =>
      error instanceof CorruptionError && error.file === "image.tt" && error.offset === 0 &&
      /both image header slots are invalid/.test(error.message),
  );
  // A blank A with a torn B is a torn initialisation of a new image: fresh.
  assert.deepEqual(currentHeader("image.tt", blank, b), { header: undefined, slot: 1 });
  // A blank B (an initialisation that never reached the disk) with a damaged
  // A (the first commit, torn): nothing was committed, fresh too. A real
  // image lost this way is caught by the WAL, which then misses records.
  assert.deepEqual(currentHeader("image.tt", a, blank), { header: undefined, slot: 1 });
  assert.equal(headerSlotOffsets[1], 4096);
});
