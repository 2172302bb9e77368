/**
 * Unit tests of the node record format: round trips, the documented byte
 * layout, the limits of a record, and every flipped bit or cut caught.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { AssertionError } from "../_assert.ts";
import { crc32c } from "../_crc32c.ts";
import {
  childrenMax,
  decodeNodeRecord,
  encodeNodeRecord,
  encodeNodeRecordInto,
  type InlineLeaf,
  inlineLeafRef,
  inlinePrefixBytesMax,
  type NodeImage,
  nodeRecordBytes,
  nodeRecordBytesMax,
  prefixBytesMax,
  recordRef,
  refLength,
  refOffset,
  refOffsetMax,
  storedInline,
  varintBytes,
} from "./node_record.ts";

/** The smallest record a ref may name: crc, length, flags, an empty prefix and a value. */
const recordBytesMin = 8;

const inlineLeaf: fc.Arbitrary<InlineLeaf> = fc.record({
  prefix: fc.uint8Array({ maxLength: inlinePrefixBytesMax }),
  value: fc.maxSafeNat(),
}).map(({ prefix, value }) => ({ prefix, value })); // a plain object, as decoded

/** A record ref: small offsets and lengths most of the time, the extremes sometimes. */
const ref: fc.Arbitrary<number> = fc
  .tuple(
    fc.integer({ min: 1, max: refOffsetMax }),
    fc.integer({ min: recordBytesMin, max: nodeRecordBytesMax }),
  )
  .map(([offset, length]) => recordRef(offset, length));

/** A child: its own record (a ref), or a leaf stored inline. */
const child: fc.Arbitrary<number | InlineLeaf> = fc.oneof(ref, inlineLeaf);

/** A node from its parts; `inlineLeaves` is present only when a child is inline (as decoded). */
function nodeOf(
  prefix: Uint8Array,
  value: number | undefined,
  bytes: number[],
  children: (number | InlineLeaf)[],
): NodeImage {
  assert.equal(bytes.length, children.length);
  const node: NodeImage = {
    prefix,
    value,
    childBytes: Uint8Array.from(bytes),
    childAddresses: children.map((entry) => typeof entry === "number" ? entry : inlineLeafRef),
  };
  const inlineLeaves = children.filter((entry) => typeof entry !== "number");
  if (inlineLeaves.length > 0) node.inlineLeaves = inlineLeaves;
  return node;
}

/** Leaves, inner nodes (with a mix of record refs and inline leaves) and 256-child nodes. */
const nodeImage: fc.Arbitrary<NodeImage> = fc.oneof(
  { weight: 1, arbitrary: fc.constant("leaf" as const) },
  { weight: 3, arbitrary: fc.constant("inner" as const) },
  { weight: 1, arbitrary: fc.constant("full" as const) },
).chain((shape) => {
  const prefix = fc.uint8Array({ maxLength: shape === "leaf" ? 300 : 200 });
  const value = fc.option(fc.maxSafeNat(), { nil: undefined });
  if (shape === "leaf") {
    return fc.tuple(prefix, fc.maxSafeNat()).map(([p, v]) => nodeOf(p, v, [], []));
  }
  const bytes = shape === "full"
    ? fc.constant(Array.from({ length: childrenMax }, (_, byte) => byte))
    : fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 })
      .map((list) => list.sort((a, b) => a - b));
  return fc.tuple(prefix, value, bytes).chain(([p, v, b]) =>
    fc.array(child, { minLength: b.length, maxLength: b.length }).map((children) =>
      nodeOf(p, v, b, children)
    )
  );
});

/** Seals hand-made record bytes: the CRC over [4, length) into bytes [0, 4). */
function seal(bytes: number[] | Uint8Array): Uint8Array {
  const record = Uint8Array.from(bytes);
  new DataView(record.buffer).setUint32(0, crc32c(record, 0, 4, record.length), true);
  return record;
}

/** A record of `body` (everything after the length) with a one-byte length, sealed. */
function record(body: number[]): Uint8Array {
  const length = 4 + 1 + body.length;
  assert.ok(length < 0x80, "a one-byte length");
  return seal([0, 0, 0, 0, length, ...body]);
}

/** Asserts that `bytes` do not decode, with a description matching `pattern`. */
function assertRejected(bytes: Uint8Array, pattern: RegExp): void {
  const decoded = decodeNodeRecord(bytes);
  assert.equal(typeof decoded, "string", `decoded ${JSON.stringify(decoded)}`);
  assert.match(decoded as string, pattern);
}

Deno.test("node record: round trip for leaves, inner nodes and 256-child nodes, refs and inline leaves", () => {
  let [full, mixed] = [0, 0];
  fc.assert(
    fc.property(nodeImage, (node) => {
      const bytes = encodeNodeRecord(node);
      assert.equal(bytes.length, nodeRecordBytes(node));
      assert.ok(bytes.length >= recordBytesMin && bytes.length <= nodeRecordBytesMax);
      assert.deepEqual(decodeNodeRecord(bytes), node);
      if (node.childBytes.length === childrenMax) full++;
      const inline = node.childAddresses.filter((address) => address === inlineLeafRef).length;
      if (inline > 0 && inline < node.childAddresses.length) mixed++;
    }),
    { numRuns: 300 },
  );
  assert.ok(full > 0 && mixed > 0, `${full} full nodes, ${mixed} with both kinds of children`);
});

Deno.test("node record: the bytes are the documented layout", () => {
  const child = recordRef(8192, 20);
  const node = nodeOf(Uint8Array.of(0x61, 0x62), 300, [1, 2], [child, {
    prefix: Uint8Array.of(0x7a),
    value: 5,
  }]);
  const body = [
    [3], // flags: hasValue | hasChildren
    [2, 0x61, 0x62], // prefix length, prefix
    [0xac, 0x02], // value 300
    [1, 1, 2], // childCount - 1, child bytes
    [0x80, 0x40, 20], // offset 8192, length 20
    [0, 1, 0x7a, 5], // an inline leaf: 0, prefix length, prefix, value
  ].flat();
  const expected = record(body);
  assert.deepEqual(encodeNodeRecord(node), expected);
  assert.equal(nodeRecordBytes(node), 21);
  // A leaf without children has no child part at all; a node without a value, no value.
  assert.deepEqual(encodeNodeRecord(nodeOf(new Uint8Array(0), 0, [], [])), record([1, 0, 0]));
  assert.deepEqual(
    encodeNodeRecord(nodeOf(new Uint8Array(0), undefined, [7], [child])),
    record([2, 0, 0, 7, 0x80, 0x40, 20]),
  );
});

Deno.test("node record: encodeNodeRecordInto writes one record in place and nothing else", () => {
  fc.assert(
    fc.property(nodeImage, fc.nat(100), (node, at) => {
      const length = nodeRecordBytes(node);
      const out = new Uint8Array(at + length + 10).fill(0xee);
      assert.equal(encodeNodeRecordInto(node, out, at), length);
      assert.deepEqual(out.subarray(at, at + length), encodeNodeRecord(node));
      assert.ok(out.subarray(0, at).every((byte) => byte === 0xee));
      assert.ok(out.subarray(at + length).every((byte) => byte === 0xee));
    }),
    { numRuns: 50 },
  );
});

Deno.test("node record: the length field grows at 2^7 and 2^14 bytes and nodeRecordBytes follows", () => {
  const sizes = new Set<number>();
  for (const around of [0x80, 0x4000]) {
    for (let prefixBytes = around - 12; prefixBytes <= around + 4; prefixBytes++) {
      const node = nodeOf(new Uint8Array(prefixBytes).fill(9), 1, [], []);
      const bytes = encodeNodeRecord(node);
      assert.equal(bytes.length, nodeRecordBytes(node));
      // crc, the length's own minimal varint, flags, prefix length, prefix, value
      const body = 1 + varintBytes(prefixBytes) + prefixBytes + 1;
      assert.equal(bytes.length, 4 + varintBytes(bytes.length) + body, `prefix ${prefixBytes}`);
      assert.deepEqual(decodeNodeRecord(bytes), node);
      sizes.add(bytes.length);
    }
  }
  // A record of 2^7 (or 2^14) bytes would need a longer length field, which makes it longer:
  // the sizes on either side occur, that one never does.
  for (const boundary of [0x80, 0x4000]) {
    assert.ok(sizes.has(boundary - 1) && sizes.has(boundary + 1), `sizes around ${boundary}`);
    assert.ok(!sizes.has(boundary), `no record of ${boundary} bytes`);
  }
});

Deno.test("node record: varintBytes is the minimal LEB128 length", () => {
  const cases: [number, number][] = [
    [0, 1],
    [0x7f, 1],
    [0x80, 2],
    [0x3fff, 2],
    [0x4000, 3],
    [0x1f_ffff, 3],
    [0x20_0000, 4],
    [0x7fff_ffff, 5],
    [0x8000_0000, 5],
    [2 ** 35 - 1, 5],
    [2 ** 35, 6],
    [2 ** 49 - 1, 7],
    [2 ** 49, 8],
    [Number.MAX_SAFE_INTEGER, 8],
  ];
  for (const [value, bytes] of cases) {
    assert.equal(varintBytes(value), bytes, `${value}`);
    // Written and read back through a record, on both sides of the int32 fast path.
    const leaf = nodeOf(new Uint8Array(0), value, [], []);
    assert.deepEqual(decodeNodeRecord(encodeNodeRecord(leaf)), leaf, `${value}`);
  }
  fc.assert(
    fc.property(fc.maxSafeNat(), (value) => {
      assert.equal(varintBytes(value), Math.max(1, Math.ceil(value.toString(2).length / 7)));
    }),
  );
});

Deno.test("node record: the longest prefix and the largest record fit; longer is refused", () => {
  const longest = nodeOf(new Uint8Array(prefixBytesMax).fill(7), 3, [1], [recordRef(8192, 100)]);
  const bytes = encodeNodeRecord(longest);
  assert.deepEqual(decodeNodeRecord(bytes), longest);
  // The largest record: the longest prefix, the largest value, 256 inline leaves as long as they get.
  const largest = nodeOf(
    new Uint8Array(prefixBytesMax).fill(1),
    Number.MAX_SAFE_INTEGER,
    Array.from({ length: childrenMax }, (_, byte) => byte),
    Array.from({ length: childrenMax }, () => ({
      prefix: new Uint8Array(inlinePrefixBytesMax).fill(2),
      value: Number.MAX_SAFE_INTEGER,
    })),
  );
  const largestBytes = encodeNodeRecord(largest);
  assert.ok(largestBytes.length <= nodeRecordBytesMax, `${largestBytes.length} bytes`);
  assert.deepEqual(decodeNodeRecord(largestBytes), largest);
  const tooLong = nodeOf(new Uint8Array(prefixBytesMax + 1), 3, [], []);
  assert.throws(() => nodeRecordBytes(tooLong), AssertionError);
  assert.throws(() => encodeNodeRecord(tooLong), AssertionError);
  const longLeaf = { prefix: new Uint8Array(inlinePrefixBytesMax + 1), value: 1 };
  assert.throws(() => encodeNodeRecord(nodeOf(new Uint8Array(0), 1, [1], [longLeaf])));
});

Deno.test("node record: the encoder refuses nodes the format cannot hold", () => {
  const empty = new Uint8Array(0);
  assert.throws(() => encodeNodeRecord(nodeOf(empty, undefined, [], [])), AssertionError);
  assert.throws(() => encodeNodeRecord(nodeOf(empty, -1, [], [])), AssertionError);
  assert.throws(() => encodeNodeRecord(nodeOf(empty, 2 ** 53, [], [])), AssertionError);
  const [a, b] = [recordRef(8192, 20), recordRef(9000, 20)];
  assert.throws(() => encodeNodeRecord(nodeOf(empty, 1, [2, 1], [a, b])), AssertionError);
  assert.throws(() => encodeNodeRecord(nodeOf(empty, 1, [1, 1], [a, b])), AssertionError);
  const uneven = { ...nodeOf(empty, 1, [1], [a]), childAddresses: [a, b] };
  assert.throws(() => encodeNodeRecord(uneven), AssertionError);
  // An inline ref without its leaf, and a leaf without its inline ref.
  const missing = { ...nodeOf(empty, 1, [1], [a]), childAddresses: [inlineLeafRef] };
  assert.throws(() => encodeNodeRecord(missing));
  const extra = { ...nodeOf(empty, 1, [1], [a]), inlineLeaves: [{ prefix: empty, value: 1 }] };
  assert.throws(() => encodeNodeRecord(extra), AssertionError);
});

Deno.test("node record: every flipped bit and every cut is caught, never a wrong count", () => {
  fc.assert(
    fc.property(nodeImage, fc.nat(), fc.nat(7), (node, at, bit) => {
      const bytes = encodeNodeRecord(node);
      const flipped = bytes.slice();
      flipped[at % bytes.length] ^= 1 << bit;
      assertRejected(flipped, /./);
      assertRejected(bytes.subarray(0, at % bytes.length), /./);
    }),
    { numRuns: 300 },
  );
  // Exhaustively for small records of each shape.
  const small = [
    nodeOf(Uint8Array.of(1, 2, 3), 1_000_000, [], []),
    nodeOf(new Uint8Array(0), undefined, [4, 9], [recordRef(8192, 30), {
      prefix: Uint8Array.of(5),
      value: 77,
    }]),
    nodeOf(Uint8Array.of(8), 0, [0, 255], [
      { prefix: new Uint8Array(0), value: 3 },
      recordRef(refOffsetMax, nodeRecordBytesMax),
    ]),
  ];
  for (const node of small) {
    const bytes = encodeNodeRecord(node);
    for (let at = 0; at < bytes.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = bytes.slice();
        flipped[at] ^= 1 << bit;
        assertRejected(flipped, /checksum mismatch/);
      }
      assertRejected(bytes.subarray(0, at), /truncated|checksum mismatch/);
    }
  }
});

Deno.test("node record: a record with bytes after it is rejected, even with a matching CRC", () => {
  const node = nodeOf(Uint8Array.of(1, 2), 5, [3], [{ prefix: Uint8Array.of(4), value: 6 }]);
  const bytes = encodeNodeRecord(node);
  for (const extra of [1, 7, 200]) {
    const padded = new Uint8Array(bytes.length + extra);
    padded.set(bytes);
    assertRejected(padded, /checksum mismatch/);
    // Checksummed over the padding too: the length field still names fewer bytes.
    assertRejected(
      seal(padded),
      new RegExp(`^record length ${bytes.length} differs from the ${padded.length} bytes`),
    );
  }
  // The length field and the CRC cover the extra byte: the body ends early.
  assertRejected(
    seal([...bytes.subarray(0, 4), bytes.length + 1, ...bytes.subarray(5), 0]),
    /^record body is shorter than its length$/,
  );
  // A ref naming a record longer than a ref can hold.
  assertRejected(new Uint8Array(nodeRecordBytesMax + 1), /too long/);
});

Deno.test("node record: varints must be minimal and in range", () => {
  // A leaf: flags 1, prefix length 0, value 5.
  assert.deepEqual(decodeNodeRecord(record([1, 0, 5])), nodeOf(new Uint8Array(0), 5, [], []));
  assertRejected(record([1, 0, 0x85, 0x00]), /^value is not minimally encoded$/);
  assertRejected(record([1, 0, 0x85, 0x80, 0x00]), /^value is not minimally encoded$/);
  assertRejected(record([1, 0x80, 0x00, 5]), /^prefix length is not minimally encoded$/);
  // The record length itself, 2 bytes where one would do.
  assertRejected(
    seal([0, 0, 0, 0, 0x89, 0x00, 1, 0, 5]),
    /^record length is not minimally encoded$/,
  );
  // Child offsets and lengths, inline leaf prefix lengths and values.
  const child = [2, 0, 0, 7];
  assert.equal(typeof decodeNodeRecord(record([...child, 0x80, 0x40, 20])), "object");
  assertRejected(
    record([...child, 0x80, 0x40, 0x94, 0x00]),
    /^child length is not minimally encoded$/,
  );
  assertRejected(
    record([...child, 0x80, 0xc0, 0x00, 20]),
    /^child offset is not minimally encoded$/,
  );
  assert.equal(typeof decodeNodeRecord(record([...child, 0, 1, 9, 5])), "object");
  assertRejected(
    record([...child, 0, 0x81, 0x00, 9, 5]),
    /^leaf prefix length is not minimally encoded$/,
  );
  assertRejected(record([...child, 0, 1, 9, 0x85, 0x00]), /^leaf value is not minimally encoded$/);
  // 8 bytes hold any safe integer; more bits are out of range, a 9th byte too long.
  const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
  assert.equal(
    (decodeNodeRecord(record([1, 0, ...max])) as NodeImage).value,
    Number.MAX_SAFE_INTEGER,
  );
  assertRejected(record([1, 0, ...max.slice(0, 7), 0x10]), /^value is out of range$/);
  assertRejected(record([1, 0, ...max.slice(0, 7), 0xff, 0x01]), /^value is longer than 8 bytes$/);
  assertRejected(record([1, 0, 0x85]), /^value runs past the record$/);
});

Deno.test("node record: checksummed records of a wrong shape are rejected, not misread", () => {
  const child = [2, 0, 0, 7]; // flags hasChildren, empty prefix, one child at byte 7
  const cases: [number[], RegExp][] = [
    [[4, 0, 5], /^record flags 4 are not a node's$/],
    [[0x81, 0, 5], /^record flags 129 are not a node's$/],
    [[1, 3, 9, 9], /^prefix runs past the record$/],
    [[3, 0, 5, 1, 7, 7, 0, 0, 1, 0, 0, 2], /^record child bytes do not ascend$/],
    [[3, 0, 5, 1, 8, 7, 0, 0, 1, 0, 0, 2], /^record child bytes do not ascend$/],
    [[2, 0, 1, 7], /^child bytes runs past the record$/],
    [[...child, 0x80, 0x40], /^child length runs past the record$/],
    [[...child, 0x80, 0x40, 7], /^child 0 has an invalid reference \(offset 8192, length 7\)$/],
    [[...child, 0x80, 0x40, 0x80, 0x80, 0x08], /^child 0 has an invalid reference/],
    [
      [...child, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 20],
      /^child 0 has an invalid reference/,
    ],
    [[...child, 0, 65, ...new Array(65).fill(1), 3], /^an inline leaf's prefix is too long$/],
    [[...child, 0, 2, 9], /^leaf prefix runs past the record$/],
    [[...child, 0, 0], /^leaf value runs past the record$/],
    // Two child bytes, one entry.
    [[2, 0, 1, 7, 8, 0, 0, 5], /^child offset runs past the record$/],
  ];
  for (const [body, pattern] of cases) assertRejected(record(body), pattern);
  // The largest offset a ref holds is read; one more is not.
  const offsetMax = [0xff, 0xff, 0xff, 0xff, 0xff, 0x01]; // 2^36 - 1
  const decoded = decodeNodeRecord(record([...child, ...offsetMax, 20])) as NodeImage;
  assert.deepEqual(decoded.childAddresses, [recordRef(refOffsetMax, 20)]);
  assertRejected(
    record([...child, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 20]),
    /^child 0 has an invalid reference \(offset 68719476736, length 20\)$/,
  );
});

Deno.test("node record: refs round-trip offset and length and refuse what they cannot hold", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: refOffsetMax }),
      fc.integer({ min: recordBytesMin, max: nodeRecordBytesMax }),
      (offset, length) => {
        const made = recordRef(offset, length);
        assert.ok(Number.isSafeInteger(made) && made > inlineLeafRef);
        assert.equal(refOffset(made), offset);
        assert.equal(refLength(made), length);
      },
    ),
  );
  assert.equal(recordRef(refOffsetMax, nodeRecordBytesMax), Number.MAX_SAFE_INTEGER);
  assert.equal(recordRef(1, recordBytesMin), 2 ** 17 + recordBytesMin);
  // Refs of records further on are larger, whatever their lengths.
  assert.ok(recordRef(8193, recordBytesMin) > recordRef(8192, nodeRecordBytesMax));
  for (const offset of [0, -1, 1.5, Number.NaN, refOffsetMax + 1, 2 ** 53]) {
    assert.throws(() => recordRef(offset, 20), AssertionError, `offset ${offset}`);
  }
  for (const length of [0, recordBytesMin - 1, nodeRecordBytesMax + 1]) {
    assert.throws(() => recordRef(8192, length), AssertionError, `length ${length}`);
  }
  for (const none of [0, inlineLeafRef]) {
    assert.throws(() => refOffset(none), AssertionError);
    assert.throws(() => refLength(none), AssertionError);
  }
});

Deno.test("node record: a leaf is stored inline when its prefix is at most 64 bytes", () => {
  const leaf = (bytes: number) => nodeOf(new Uint8Array(bytes), 1, [], []);
  assert.equal(storedInline(leaf(0)), true);
  assert.equal(storedInline(leaf(inlinePrefixBytesMax)), true);
  assert.equal(storedInline(leaf(inlinePrefixBytesMax + 1)), false);
  assert.equal(storedInline(nodeOf(new Uint8Array(0), 1, [1], [recordRef(8192, 20)])), false);
  const inline = { prefix: new Uint8Array(0), value: 1 };
  assert.equal(storedInline(nodeOf(new Uint8Array(0), undefined, [1], [inline])), false);
});

Deno.test("node record: an edited, re-checksummed record is rejected or decodes to the node it encodes", () => {
  let decoded = 0;
  const small = nodeImage.filter((node) => nodeRecordBytes(node) <= 400);
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(small, fc.array(edit, { minLength: 1, maxLength: 3 }), (node, edits) => {
      const bytes = encodeNodeRecord(node);
      for (const [at, byte] of edits) bytes[4 + at % (bytes.length - 4)] = byte;
      const result = decodeNodeRecord(seal(bytes));
      if (typeof result === "string") return;
      // The decoder refuses a record with neither a value nor children, as the encoder does.
      assert.ok(result.value !== undefined || result.childBytes.length > 0, "a node decoded");
      decoded++;
      assert.deepEqual(encodeNodeRecord(result), seal(bytes));
    }),
    { numRuns: 2_000 },
  );
  assert.ok(decoded > 50, `${decoded} edited records decoded`);
});

Deno.test("node record: a record with neither a count nor children is no node", () => {
  const bytes = Uint8Array.of(0, 0, 0, 0, 8, 0, 1, 0x61);
  new DataView(bytes.buffer).setUint32(0, crc32c(bytes, 0, 4, 8), true);
  assert.equal(decodeNodeRecord(bytes), "record flags 0 are not a node's");
});
