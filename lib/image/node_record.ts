/**
 * Node records of the image file: one trie node, checksummed on its own, so
 * any node can be read (faulted in) by its reference alone and damage to it
 * is a `CorruptionError`, never a wrong count.
 *
 * ```text
 * record = crc32c u32 | length varint | flags u8 | prefixLen varint | prefix |
 *          [value varint if flags & hasValue] |
 *          [childCount-1 u8 | childCount × childByte u8 (ascending) |
 *           childCount × entry                      if flags & hasChildren]
 * entry  = offset varint (> 0) | length varint       a child with a record of its own
 *        | 0 u8 | prefixLen varint | prefix | value varint   a leaf stored inline
 * crc32c covers bytes [4, length)
 * varint = unsigned LEB128: 7 bits a byte, low bits first, at most 8 bytes
 * ```
 *
 * A leaf (a node without children) whose prefix is at most
 * {@link inlinePrefixBytesMax} bytes has no record of its own: its parent's
 * record holds it. Most keys of a trie end in such leaves, so a key costs a
 * few bytes plus its suffix rather than a whole checksummed record; and a
 * leaf's record would be rewritten with its parent's anyway, since a change
 * to any node rewrites its path to the root.
 *
 * A **reference** (ref) to a record is one safe integer: `offset × 2^17 +
 * length`. Parents hold their children's refs, so a record is read with one
 * read of exactly its bytes, and the space a dropped record frees is known
 * without reading it. The in-memory trie keeps a node's ref as its
 * `address`; {@link inlineLeafRef} marks a leaf stored in its parent.
 *
 * The in-memory node kind (Node4/16/48/256, leaf) is not stored: the loader
 * picks it from the child count.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { crc32c } from "../_crc32c.ts";
import { keyBytesMax } from "../limits.ts";

/** A leaf stored inside its parent's record: no record of its own. */
export interface InlineLeaf {
  /** The leaf's compressed path bytes (at most {@link inlinePrefixBytesMax}). */
  prefix: Uint8Array;
  /** The leaf's count. */
  value: number;
}

/** A node as the image stores it. */
export interface NodeImage {
  /** The compressed path bytes below the parent's branching byte. */
  prefix: Uint8Array;
  /** The count of the key ending at this node, if one does. */
  value: number | undefined;
  /** Branching bytes of the children, strictly ascending. */
  childBytes: Uint8Array;
  /** Each child's record ref, or {@link inlineLeafRef}, in the order of `childBytes`. */
  childAddresses: number[];
  /** The leaves stored inline, one per {@link inlineLeafRef} in `childAddresses`, in order. */
  inlineLeaves?: InlineLeaf[];
}

/** The ref of a leaf stored in its parent's record (no record has it: offsets start past the header). */
export const inlineLeafRef = 1;
/** The longest prefix of a leaf stored inline; longer leaves get a record of their own. */
export const inlinePrefixBytesMax = 64;
/** The longest prefix a record holds: a whole key. */
export const prefixBytesMax = keyBytesMax;
/** The most children a node has. */
export const childrenMax = 256;
/** Bits of a ref that hold the record's length. */
const refLengthBits = 17;
const refLengthScale = 2 ** refLengthBits;
/** The largest record a ref can describe. */
export const nodeRecordBytesMax = refLengthScale - 1;
/** The largest record offset a ref can describe (64 GiB: the image's size limit). */
export const refOffsetMax = 2 ** (53 - refLengthBits) - 1;
/** The smallest record: crc, length, flags, an empty prefix and a value. */
const recordBytesMin = 4 + 1 + 1 + 1 + 1;
/** Bytes of the checksum at a record's start. */
const crcBytes = 4;
/** Bytes of a varint holding a safe integer at most. */
const varintBytesMax = 8;
const flagHasValue = 1;
const flagHasChildren = 2;

/**
 * The most bytes a record can take for a node whose prefix is at most
 * `prefixBytes` long, with at most `children` children, each an inline leaf
 * of at most `inlineBytes` prefix bytes or a ref (whichever is longer), and
 * values up to 2^53: what an image's slabs must hold (see `allocation.ts`).
 */
export function nodeRecordBytesBound(
  prefixBytes: number,
  children: number,
  inlineBytes = inlinePrefixBytesMax,
): number {
  assert(prefixBytes >= 0 && prefixBytes <= prefixBytesMax, "a prefix bound within the format's");
  assert(children >= 0 && children <= childrenMax, "a child count bound within the format's");
  assert(inlineBytes >= 0 && inlineBytes <= inlinePrefixBytesMax, "an inline prefix bound");
  // A ref entry is two varints: an offset below 2^36 and a length below 2^17.
  const refEntryBytes = 6 + 3;
  const inlineEntryBytes = 1 + varintBytes(inlineBytes) + inlineBytes + varintBytesMax;
  // crc, length (a record is below 2^17 bytes), flags, prefix, value, child count.
  const fixedBytes = crcBytes + 3 + 1 + varintBytes(prefixBytes) + prefixBytes + varintBytesMax +
    1;
  return fixedBytes + children * (1 + Math.max(refEntryBytes, inlineEntryBytes));
}

/** The largest record any node can take (the longest prefix, a value, 256 inline leaves). */
export const nodeRecordBytesLargest = nodeRecordBytesBound(prefixBytesMax, childrenMax);
assert(nodeRecordBytesLargest <= nodeRecordBytesMax, "the largest node record fits a ref");

/** The ref of the record of `length` bytes at `offset`. */
export function recordRef(offset: number, length: number): number {
  assert(Number.isSafeInteger(offset) && offset > 0 && offset <= refOffsetMax, "offset in range");
  assert(length >= recordBytesMin && length <= nodeRecordBytesMax, "length in range");
  return offset * refLengthScale + length;
}

/** The file offset of the record `ref` names. */
export function refOffset(ref: number): number {
  assert(ref > inlineLeafRef, "an inline leaf has no offset");
  return Math.floor(ref / refLengthScale);
}

/** The byte length of the record `ref` names. */
export function refLength(ref: number): number {
  assert(ref > inlineLeafRef, "an inline leaf has no length");
  return ref % refLengthScale;
}

/** Whether `node` is a leaf the image stores inline in its parent's record. */
export function storedInline(node: NodeImage): boolean {
  return node.childBytes.length === 0 && node.prefix.length <= inlinePrefixBytesMax;
}

/** Values below this fit an int32, so varints of them use bit operations (the common case). */
const varintSmallMax = 0x7fff_ffff;

/** Bytes of `value` as a varint. */
export function varintBytes(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  let bytes = 1;
  for (let rest = value; rest >= 0x80 && bytes < varintBytesMax + 1; bytes++) {
    rest = Math.floor(rest / 0x80);
  }
  return bytes;
}

/** Writes `value` (a non-negative safe integer) as a varint at `at`; returns the end. */
function writeVarint(bytes: Uint8Array, at: number, value: number): number {
  if (value <= varintSmallMax) {
    let small = value;
    while (small >= 0x80) {
      bytes[at++] = (small & 0x7f) | 0x80;
      small >>>= 7;
    }
    bytes[at++] = small;
    return at;
  }
  let rest = value;
  while (rest >= 0x80) {
    bytes[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  bytes[at++] = rest;
  return at;
}

/** The encoded size of `node`. */
export function nodeRecordBytes(node: NodeImage): number {
  const body = bodyBytes(node);
  let lengthBytes = 1;
  while (varintBytes(crcBytes + lengthBytes + body) > lengthBytes) lengthBytes++;
  return crcBytes + lengthBytes + body;
}

/** Bytes after the length field. */
function bodyBytes(node: NodeImage): number {
  const count = node.childBytes.length;
  assert(node.prefix.length <= prefixBytesMax && count <= childrenMax, "a node within bounds");
  let bytes = 1 + varintBytes(node.prefix.length) + node.prefix.length;
  if (node.value !== undefined) bytes += varintBytes(node.value);
  if (count === 0) return bytes;
  bytes += 1 + count;
  let inline = 0;
  for (let index = 0; index < count; index++) {
    const ref = node.childAddresses[index];
    if (ref !== inlineLeafRef) {
      bytes += varintBytes(refOffset(ref)) + varintBytes(refLength(ref));
      continue;
    }
    const leaf = node.inlineLeaves![inline++];
    bytes += 1 + varintBytes(leaf.prefix.length) + leaf.prefix.length + varintBytes(leaf.value);
  }
  return bytes;
}

/** Encodes `node` into a new array. */
export function encodeNodeRecord(node: NodeImage): Uint8Array {
  const bytes = new Uint8Array(nodeRecordBytes(node));
  encodeNodeRecordInto(node, bytes, 0);
  return bytes;
}

/**
 * Encodes `node` into `out` at `at` (which must have room for
 * {@link nodeRecordBytes}); returns the record's length.
 */
export function encodeNodeRecordInto(node: NodeImage, out: Uint8Array, at: number): number {
  const length = nodeRecordBytes(node);
  const count = node.childBytes.length;
  assert(count === node.childAddresses.length, "every child has a ref");
  assert(count > 0 || node.value !== undefined, "a leaf holds a value");
  assert(node.value === undefined || isCount(node.value), "counts are in range");
  let offset = writeVarint(out, at + crcBytes, length);
  out[offset++] = (node.value === undefined ? 0 : flagHasValue) |
    (count === 0 ? 0 : flagHasChildren);
  offset = writeVarint(out, offset, node.prefix.length);
  out.set(node.prefix, offset);
  offset += node.prefix.length;
  if (node.value !== undefined) offset = writeVarint(out, offset, node.value);
  if (count > 0) offset = encodeChildren(node, out, offset);
  assert(offset - at === length, "the record is filled exactly");
  const crc = crc32c(out, 0, at + crcBytes, at + length);
  new DataView(out.buffer, out.byteOffset).setUint32(at, crc, true);
  return length;
}

function encodeChildren(node: NodeImage, out: Uint8Array, at: number): number {
  const count = node.childBytes.length;
  out[at++] = count - 1;
  out.set(node.childBytes, at);
  at += count;
  let inline = 0;
  for (let index = 0; index < count; index++) {
    assert(index === 0 || node.childBytes[index] > node.childBytes[index - 1], "bytes ascend");
    const ref = node.childAddresses[index];
    if (ref !== inlineLeafRef) {
      at = writeVarint(out, at, refOffset(ref));
      at = writeVarint(out, at, refLength(ref));
      continue;
    }
    const leaf = node.inlineLeaves![inline++];
    assert(leaf.prefix.length <= inlinePrefixBytesMax && isCount(leaf.value), "an inline leaf");
    out[at++] = 0;
    at = writeVarint(out, at, leaf.prefix.length);
    out.set(leaf.prefix, at);
    at = writeVarint(out, at + leaf.prefix.length, leaf.value);
  }
  assert(inline === (node.inlineLeaves?.length ?? 0), "every inline leaf is written");
  return at;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * A record decoded in place: its fields as offsets into the bytes it was
 * decoded from, so a bulk load reads a record without allocating (one
 * object, reused for every record). Valid until the next decode into it.
 */
export interface RecordFields {
  /** Where the prefix starts in the decoded bytes, and its length. */
  prefixAt: number;
  prefixLength: number;
  /** The count of the key ending at the node, or -1 if none does. */
  value: number;
  /** Children, and where their branching bytes start in the decoded bytes. */
  count: number;
  childBytesAt: number;
  /** Per child (the first `count`): its record's ref, or {@link inlineLeafRef}. */
  refs: number[];
  /** Inline leaves (the first `leaves`): where each prefix starts, its length and value. */
  leaves: number;
  leafAt: number[];
  leafLength: number[];
  leafValue: number[];
}

/** A fresh {@link RecordFields} to decode into. */
export function newRecordFields(): RecordFields {
  return {
    prefixAt: 0,
    prefixLength: 0,
    value: -1,
    count: 0,
    childBytesAt: 0,
    refs: [],
    leaves: 0,
    leafAt: [],
    leafLength: [],
    leafValue: [],
  };
}

/** An empty array: what the decode cursor holds between decodes. */
const noBytes: Uint8Array = new Uint8Array(0);
/** The decode in progress: where it is, where the record ends, the first problem. */
const cursor = { bytes: noBytes, at: 0, end: 0, problem: undefined as string | undefined };

function fail(problem: string): number {
  cursor.problem ??= problem;
  cursor.at = cursor.end;
  return 0;
}

function readVarint(what: string): number {
  const bytes = cursor.bytes;
  let value = 0;
  let scale = 1;
  for (let index = 0; index < varintBytesMax; index++) {
    if (cursor.at >= cursor.end) return fail(`${what} runs past the record`);
    const byte = bytes[cursor.at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (index > 0 && byte === 0) return fail(`${what} is not minimally encoded`);
      return Number.isSafeInteger(value) ? value : fail(`${what} is out of range`);
    }
    scale *= 0x80;
  }
  return fail(`${what} is longer than ${varintBytesMax} bytes`);
}

function readByte(what: string): number {
  if (cursor.at >= cursor.end) return fail(`${what} runs past the record`);
  return cursor.bytes[cursor.at++];
}

/** Skips `length` bytes; returns where they start. */
function skip(length: number, what: string): number {
  const at = cursor.at;
  if (at + length > cursor.end) return fail(`${what} runs past the record`);
  cursor.at = at + length;
  return at;
}

/**
 * Decodes the record in `bytes[start, end)` (exactly the record's bytes, as
 * a ref gives them) into `out`, whose offsets then point into `bytes`.
 * Returns undefined, or a description of the first failed check (`out` is
 * then garbage).
 */
export function decodeRecordFields(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: RecordFields,
): string | undefined {
  const length = end - start;
  if (length < recordBytesMin) return "record is truncated";
  if (length > nodeRecordBytesMax) return `record of ${length} bytes is too long`;
  const stored = (bytes[start] | bytes[start + 1] << 8 | bytes[start + 2] << 16 |
    bytes[start + 3] << 24) >>> 0;
  if (stored !== crc32c(bytes, 0, start + crcBytes, end)) return "record checksum mismatch";
  cursor.bytes = bytes;
  cursor.at = start + crcBytes;
  cursor.end = end;
  cursor.problem = undefined;
  const problem = decodeFields(length, out);
  cursor.bytes = noBytes; // keep no slab alive
  return problem;
}

function decodeFields(length: number, out: RecordFields): string | undefined {
  const stated = readVarint("record length");
  if (cursor.problem === undefined && stated !== length) {
    return `record length ${stated} differs from the ${length} bytes its reference names`;
  }
  if (cursor.problem !== undefined) return cursor.problem;
  const flags = readByte("flags");
  // A node holds a count, children or both: a record with neither is no node.
  if ((flags & ~(flagHasValue | flagHasChildren)) !== 0 || flags === 0) {
    return `record flags ${flags} are not a node's`;
  }
  out.prefixLength = readVarint("prefix length");
  out.prefixAt = skip(out.prefixLength, "prefix");
  out.value = (flags & flagHasValue) === 0 ? -1 : readVarint("value");
  out.count = 0;
  out.leaves = 0;
  if ((flags & flagHasChildren) !== 0) decodeChildFields(out);
  if (cursor.problem !== undefined) return cursor.problem;
  if (cursor.at !== cursor.end) return "record body is shorter than its length";
  return undefined;
}

function decodeChildFields(out: RecordFields): void {
  const bytes = cursor.bytes;
  const count = readByte("child count") + 1;
  out.childBytesAt = skip(count, "child bytes");
  for (let index = 1; index < count && cursor.problem === undefined; index++) {
    if (bytes[out.childBytesAt + index] <= bytes[out.childBytesAt + index - 1]) {
      fail("record child bytes do not ascend");
    }
  }
  for (let index = 0; index < count && cursor.problem === undefined; index++) {
    const offset = readVarint("child offset");
    if (offset === 0) {
      const leafLength = readVarint("leaf prefix length");
      const leafAt = skip(leafLength, "leaf prefix");
      if (leafLength > inlinePrefixBytesMax) fail("an inline leaf's prefix is too long");
      out.leafAt[out.leaves] = leafAt;
      out.leafLength[out.leaves] = leafLength;
      out.leafValue[out.leaves] = readVarint("leaf value");
      out.leaves++;
      out.refs[index] = inlineLeafRef;
      continue;
    }
    const length = readVarint("child length");
    if (offset > refOffsetMax || length < recordBytesMin || length > nodeRecordBytesMax) {
      fail(`child ${index} has an invalid reference (offset ${offset}, length ${length})`);
      continue;
    }
    out.refs[index] = recordRef(offset, length);
  }
  out.count = count;
}

/** The fields {@link decodeNodeRecord} decodes into (reused). */
const scratchFields = newRecordFields();

/**
 * Decodes the record at the start of `bytes`, which must be exactly the
 * record's bytes (a ref gives the length). Returns the node, or a
 * description of the first failed check.
 */
export function decodeNodeRecord(bytes: Uint8Array): NodeImage | string {
  const fields = scratchFields;
  const problem = decodeRecordFields(bytes, 0, bytes.length, fields);
  if (problem !== undefined) return problem;
  return nodeImageOf(bytes, fields);
}

/** The node `fields` (decoded from `bytes`, checks passed) describe, its views into `bytes`. */
export function nodeImageOf(bytes: Uint8Array, fields: RecordFields): NodeImage {
  const count = fields.count;
  const node: NodeImage = {
    prefix: bytes.subarray(fields.prefixAt, fields.prefixAt + fields.prefixLength),
    value: fields.value < 0 ? undefined : fields.value,
    childBytes: count === 0
      ? new Uint8Array(0)
      : bytes.subarray(fields.childBytesAt, fields.childBytesAt + count),
    childAddresses: fields.refs.slice(0, count),
  };
  if (fields.leaves > 0) {
    const leaves: InlineLeaf[] = [];
    for (let index = 0; index < fields.leaves; index++) {
      const at = fields.leafAt[index];
      leaves.push({
        prefix: bytes.subarray(at, at + fields.leafLength[index]),
        value: fields.leafValue[index],
      });
    }
    node.inlineLeaves = leaves;
  }
  assert(node.childAddresses.length === node.childBytes.length, "a ref per child byte");
  return node;
}
