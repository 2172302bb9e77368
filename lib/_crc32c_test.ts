/**
 * Unit and property tests of CRC-32C: the RFC 3720 vectors, ranges and
 * views, chaining, and the tables against a bit-at-a-time reference.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { crc32c } from "./_crc32c.ts";
import { AssertionError } from "./_assert.ts";

/** Bit-at-a-time CRC-32C: slow, obviously right, the oracle for the tables. */
function crc32cReference(bytes: Uint8Array, seed = 0): number {
  let crc = ~seed >>> 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const result = new Uint8Array(a.length + b.length);
  result.set(a);
  result.set(b, a.length);
  return result;
}

const encoder = new TextEncoder();

Deno.test('crc32c() matches the standard check value of "123456789"', () => {
  assert.equal(crc32c(encoder.encode("123456789")), 0xE3069283);
  assert.equal(crc32cReference(encoder.encode("123456789")), 0xE3069283);
});

Deno.test("crc32c() of empty input is 0 and keeps a seed unchanged", () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(0), 0xE3069283), 0xE3069283);
});

Deno.test("crc32c() matches the RFC 3720 vectors", () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8A9136AA);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62A8AB43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46DD794E);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113FDB5C);
});

Deno.test("crc32c() returns an unsigned 32-bit integer", () => {
  const value = crc32c(encoder.encode("123456789"));
  assert.ok(Number.isInteger(value) && value >= 0 && value <= 0xFFFFFFFF);
});

Deno.test("crc32c() range form equals the checksum of the subarray", () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff);
  for (let start = 0; start <= 20; start++) {
    for (let end = start; end <= 100; end += 7) {
      assert.equal(crc32c(bytes, 0, start, end), crc32cReference(bytes.subarray(start, end)));
    }
  }
});

Deno.test("crc32c() respects the byteOffset of a subarray view", () => {
  const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
  const view = bytes.subarray(3, 50);
  assert.equal(crc32c(view), crc32cReference(bytes.slice(3, 50)));
});

Deno.test("crc32c() rejects a range outside the array with an AssertionError", () => {
  const bytes = new Uint8Array(8);
  assert.throws(() => crc32c(bytes, 0, 4, 9), AssertionError);
  assert.throws(() => crc32c(bytes, 0, 5, 4), AssertionError);
  assert.throws(() => crc32c(bytes, 0, -1), AssertionError);
});

Deno.test("crc32c() equals the bitwise reference on any input (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 0xFFFFFFFF }), (bytes, seed) => {
      assert.equal(crc32c(bytes, seed), crc32cReference(bytes, seed));
    }),
    { numRuns: 500 },
  );
});

Deno.test("crc32c() chains: crc32c(b, crc32c(a)) is the checksum of a then b (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
      const whole = concat(a, b);
      assert.equal(crc32c(b, crc32c(a)), crc32c(whole));
      assert.equal(crc32c(whole), crc32cReference(whole));
      assert.equal(crc32c(whole, crc32c(whole, 0, 0, a.length), a.length), crc32c(whole));
    }),
    { numRuns: 500 },
  );
});
