/**
 * Node records of the image file: one trie node, checksummed on its own, so
 * any node can be read (faulted in) by its address alone and damage to it is
 * a `CorruptionError`, never a wrong count.
 *
 * ```text
 * record   = length u32 | crc32c u32 | flags u8 | prefixLen u16 | prefix |
 *            [value u64 if flags & hasValue] | childCount u16 |
 *            childCount × childByte u8 (ascending) | childCount × address u64
 * crc32c   covers bytes [0, 4) and [8, length)
 * address  = the byte offset of a record in the image file (never 0: the header is there)
 * ```
 *
 * The in-memory node kind (Node4/16/48/256, leaf) is not stored: the loader
 * picks it from the child count.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { readU64, writeU64 } from "../_binary.ts";
import { crc32c } from "../_crc32c.ts";

/** A node as the image stores it. */
export interface NodeImage {
  /** The compressed path bytes below the parent's branching byte. */
  prefix: Uint8Array;
  /** The count of the key ending at this node, if one does. */
  value: number | undefined;
  /** Branching bytes of the children, strictly ascending. */
  childBytes: Uint8Array;
  /** The record address of each child, in the order of `childBytes`. */
  childAddresses: number[];
}

/** Bytes before the prefix: length, crc, flags, prefix length. */
const fixedBytes = 11;
const flagHasValue = 1;
/** The longest prefix a record holds (a key is at most 65,535 bytes). */
export const prefixBytesMax = 65_535;
/** The most children a node has. */
export const childrenMax = 256;
/** The largest record: the longest prefix, a value and 256 children. */
export const nodeRecordBytesMax = fixedBytes + prefixBytesMax + 8 + 2 + childrenMax * 9;

/** The encoded size of `node`. */
export function nodeRecordBytes(node: NodeImage): number {
  return nodeRecordBytesOf(node.prefix.length, node.value !== undefined, node.childBytes.length);
}

/** The encoded size of a node of this shape. */
export function nodeRecordBytesOf(
  prefixBytes: number,
  hasValue: boolean,
  children: number,
): number {
  assert(prefixBytes <= prefixBytesMax && children <= childrenMax, "a node shape within bounds");
  return fixedBytes + prefixBytes + (hasValue ? 8 : 0) + 2 + children * 9;
}

/** Encodes `node` into a new array. */
export function encodeNodeRecord(node: NodeImage): Uint8Array {
  const count = node.childBytes.length;
  assert(node.prefix.length <= prefixBytesMax, "a prefix fits its u16 length");
  assert(
    count <= childrenMax && node.childAddresses.length === count,
    "every child has an address",
  );
  assert(
    node.value === undefined || (Number.isSafeInteger(node.value) && node.value >= 0),
    "counts are in range",
  );
  const length = nodeRecordBytes(node);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  bytes[8] = node.value === undefined ? 0 : flagHasValue;
  view.setUint16(9, node.prefix.length, true);
  bytes.set(node.prefix, fixedBytes);
  let offset = fixedBytes + node.prefix.length;
  if (node.value !== undefined) offset = writeU64(view, offset, node.value);
  view.setUint16(offset, count, true);
  bytes.set(node.childBytes, offset + 2);
  offset += 2 + count;
  for (let index = 0; index < count; index++) {
    assert(
      index === 0 || node.childBytes[index] > node.childBytes[index - 1],
      "child bytes ascend",
    );
    assert(
      Number.isSafeInteger(node.childAddresses[index]) && node.childAddresses[index] > 0,
      "addresses are positive",
    );
    offset = writeU64(view, offset, node.childAddresses[index]);
  }
  assert(offset === length, "the record is filled exactly");
  view.setUint32(4, crc32c(bytes, crc32c(bytes, 0, 0, 4), 8, length), true);
  return bytes;
}

/**
 * Decodes the record at the start of `bytes` (which may hold more after it).
 * Returns the node, or a description of the first failed check.
 */
export function decodeNodeRecord(bytes: Uint8Array): NodeImage | string {
  if (bytes.length < fixedBytes + 2) return "record is truncated";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  if (length < fixedBytes + 2 || length > nodeRecordBytesMax) {
    return `record length ${length} is out of range`;
  }
  if (length > bytes.length) return `record of ${length} bytes is cut off after ${bytes.length}`;
  if (view.getUint32(4, true) !== crc32c(bytes, crc32c(bytes, 0, 0, 4), 8, length)) {
    return "record checksum mismatch";
  }
  const flags = bytes[8];
  if ((flags & ~flagHasValue) !== 0) return `record flags ${flags} are not a node's`;
  const prefixLength = view.getUint16(9, true);
  let offset = fixedBytes + prefixLength;
  const value = (flags & flagHasValue) === 0 ? undefined : readU64(view, offset);
  if (value !== undefined) offset += 8;
  if (offset + 2 > length) return "record body is inconsistent with its length";
  const count = view.getUint16(offset, true);
  if (count > childrenMax || offset + 2 + count * 9 !== length) {
    return "record child count is inconsistent";
  }
  const childBytes = bytes.slice(offset + 2, offset + 2 + count);
  offset += 2 + count;
  const childAddresses: number[] = [];
  for (let index = 0; index < count; index++, offset += 8) {
    childAddresses.push(readU64(view, offset));
  }
  if (value !== undefined && !Number.isSafeInteger(value)) {
    return `record value ${value} is out of range`;
  }
  if (childAddresses.some((address) => !Number.isSafeInteger(address) || address === 0)) {
    return "record holds an invalid child address";
  }
  if (childBytes.some((byte, index) => index > 0 && byte <= childBytes[index - 1])) {
    return "record child bytes do not ascend";
  }
  return {
    prefix: bytes.slice(fixedBytes, fixedBytes + prefixLength),
    value,
    childBytes,
    childAddresses,
  };
}
