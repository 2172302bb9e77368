import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeNodeRecord,
  encodeNodeRecord,
  type NodeImage,
  nodeRecordBytes,
} from "./node_record.ts";

const nodeImage: fc.Arbitrary<NodeImage> = fc
  .record({
    prefix: fc.uint8Array({ maxLength: 300 }),
    value: fc.option(fc.maxSafeNat(), { nil: undefined }),
    children: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 256 }),
    address: fc.integer({ min: 1, max: 2 ** 40 }),
  })
  .map(({ prefix, value, children, address }) => {
    const childBytes = Uint8Array.from(children.sort((a, b) => a - b));
    return {
      prefix,
      value,
      childBytes,
      childAddresses: children.map((_, index) => address + index * 64),
    };
  });

Deno.test("node record: round trip for leaves, inner nodes and 256-child nodes", () => {
  fc.assert(
    fc.property(nodeImage, (node) => {
      const bytes = encodeNodeRecord(node);
      assert.equal(bytes.length, nodeRecordBytes(node));
      const decoded = decodeNodeRecord(bytes);
      assert.ok(typeof decoded === "object", String(decoded));
      assert.deepEqual(decoded.prefix, node.prefix);
      assert.equal(decoded.value, node.value);
      assert.deepEqual(decoded.childBytes, node.childBytes);
      assert.deepEqual(decoded.childAddresses, node.childAddresses);
    }),
  );
});

Deno.test("node record: a longest prefix fits; a record followed by other bytes decodes alone", () => {
  const node = {
    prefix: new Uint8Array(65_535).fill(7),
    value: 3,
    childBytes: new Uint8Array([1]),
    childAddresses: [8192],
  };
  const bytes = encodeNodeRecord(node);
  const padded = new Uint8Array(bytes.length + 50);
  padded.set(bytes);
  padded.fill(0xee, bytes.length);
  const decoded = decodeNodeRecord(padded);
  assert.ok(typeof decoded === "object");
  assert.equal(decoded.prefix.length, 65_535);
});

Deno.test("node record: every flipped bit and every cut is caught, never a wrong count", () => {
  fc.assert(
    fc.property(nodeImage, fc.nat(), fc.nat(7), (node, at, bit) => {
      const bytes = encodeNodeRecord(node);
      const flipped = bytes.slice();
      flipped[at % bytes.length] ^= 1 << bit;
      assert.equal(typeof decodeNodeRecord(flipped), "string");
      assert.equal(typeof decodeNodeRecord(bytes.subarray(0, at % bytes.length)), "string");
    }),
  );
});
