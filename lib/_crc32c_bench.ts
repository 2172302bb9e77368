/**
 * Benchmarks of CRC-32C (`deno bench lib/_crc32c_bench.ts`), the checksum of
 * every WAL record and image record: 32 B, 1 KiB and 64 KiB, each checked
 * against a bit-at-a-time reference. Beside the module it times, as its test
 * is, since `_crc32c.ts` is private to `lib/`. Compare numbers from one run
 * only: this machine is shared and noisy.
 *
 * @module
 */

import { crc32c } from "./_crc32c.ts";

const encoder = new TextEncoder();

/** A plain bit-at-a-time CRC-32C: slow, obviously right, the reference for the fast one. */
function crc32cReference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

if (crc32cReference(encoder.encode("123456789")) !== 0xe3069283) {
  throw new Error("the reference CRC-32C is wrong");
}

/** The CRC-32C bench sizes; the first is the group's baseline. */
const crcSizes = [["32 B", 32], ["1 KiB", 1024], ["64 KiB", 64 * 1024]] as const;
for (const [label, size] of crcSizes) {
  const data = new Uint8Array(size);
  for (let index = 0; index < size; index++) data[index] = (index * 131 + 7) & 0xff;
  const expected = crc32cReference(data);
  Deno.bench({
    name: `crc32c over ${label}`,
    group: "crc32c",
    baseline: size === crcSizes[0][1],
    fn() {
      if (crc32c(data) !== expected) throw new Error(`crc32c over ${label} is wrong`);
    },
  });
}
