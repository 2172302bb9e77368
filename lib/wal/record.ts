/**
 * WAL record encoding and decoding. The byte layout is documented in
 * `docs/FORMAT.md`; every number is little-endian.
 *
 * ```text
 * record  = length u32 | crc32c u32 | lsn u64 | type u8 | payload
 * crc32c  covers bytes [0, 4) and [8, length): everything but itself
 * type    = kind (low 7 bits) | 0x80 if the record starts a group-commit write
 * ```
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { readU64, writeU64 } from "../_binary.ts";
import { crc32c } from "../_crc32c.ts";
import { ViewBytes } from "../_view_bytes.ts";
import { batchOpsMax, keyBytesMax, lsnMax, walRecordBytesMax } from "../limits.ts";

/** Bytes before the payload: length, crc, lsn, type. */
export const recordHeaderBytes = 17;

/** Keys up to this long are copied into a record byte by byte (see `RecordBuffer.key`). */
const keyLoopBytesMax = 64;

/** Flag in the type byte: this record is the first of a group-commit write. */
export const groupStartFlag = 0x80;

/** Record kinds (the low 7 bits of the type byte). */
export const RecordKind = {
  /** `keyLen u16 | key | delta i64`: value += delta. */
  add: 1,
  /** `keyLen u16 | key | value i64`: value = value (0 ≤ value < 2^53). */
  set: 2,
  /** `keyLen u16 | key`: the key is removed. */
  delete: 3,
  /** `count u32 | count × (kind u8 | keyLen u16 | key | [i64 for add and set])`. */
  batch: 4,
  /** `coverage u64`: an image covers every LSN at or below coverage (reserved). */
  checkpoint: 5,
} as const;

/** A record kind number. */
export type RecordKind = typeof RecordKind[keyof typeof RecordKind];

/** The mutation kinds that can stand alone or inside a batch. */
export type MutationKind = typeof RecordKind.add | typeof RecordKind.set | typeof RecordKind.delete;

const twoTo32 = 0x1_0000_0000;

/** Writes a safe integer as a two's-complement i64 at `offset`. */
export function writeI64(view: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value), "i64 value is a safe integer");
  const high = Math.floor(value / twoTo32);
  view.setUint32(offset, value - high * twoTo32, true);
  view.setInt32(offset + 4, high, true);
}

/** Reads a two's-complement i64 at `offset`; returns NaN when it is not a safe integer. */
export function readI64(view: DataView, offset: number): number {
  const low = view.getUint32(offset, true);
  const high = view.getInt32(offset + 4, true);
  const value = high * twoTo32 + low;
  return Number.isSafeInteger(value) ? value : NaN;
}

/**
 * A growable buffer that WAL records are encoded into, one group-commit write
 * at a time. Encoding never allocates unless the buffer must grow.
 */
export class RecordBuffer {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;
  #recordStart = -1;
  /** LSN of the first record in the buffer, or 0 when it is empty. */
  firstLsn = 0;
  /** LSN of the last record in the buffer, or 0 when it is empty. */
  lastLsn = 0;

  /** @param capacity Initial capacity in bytes. */
  constructor(capacity = 64 * 1024) {
    assert(capacity > 0, "record buffer capacity is positive");
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Bytes encoded so far. */
  get length(): number {
    return this.#length;
  }

  /** A view of the encoded bytes, valid until the buffer is next written. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** Forgets every record; keeps the capacity. */
  reset(): void {
    assert(this.#recordStart === -1, "no record is open while resetting");
    this.#length = 0;
    this.firstLsn = 0;
    this.lastLsn = 0;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#bytes.length) return;
    assert(needed <= walRecordBytesMax * 4, "record buffer stays bounded");
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** Opens a record: writes its header with a placeholder length and crc. */
  begin(lsn: number, kind: RecordKind): void {
    assert(this.#recordStart === -1, "records do not nest");
    assert(lsn > 0 && lsn <= lsnMax, "lsn is in range");
    assert(this.lastLsn === 0 || lsn === this.lastLsn + 1, "lsns in a buffer are contiguous");
    this.#reserve(recordHeaderBytes);
    const start = this.#length;
    writeU64(this.#view, start + 8, lsn);
    this.#bytes[start + 16] = this.#length === 0 ? kind | groupStartFlag : kind;
    this.#recordStart = start;
    this.#length += recordHeaderBytes;
    if (this.firstLsn === 0) this.firstLsn = lsn;
    this.lastLsn = lsn;
  }

  /** Appends `keyLen u16 | key`. */
  key(key: Uint8Array): void {
    const length = key.length;
    assert(length >= 1 && length <= keyBytesMax, "key length is in range");
    this.#reserve(2 + length);
    const bytes = this.#bytes;
    const at = this.#length + 2;
    bytes[at - 2] = length & 0xff;
    bytes[at - 1] = length >>> 8;
    // A loop copies a short key faster than `set`, whose call costs more than the bytes.
    if (length <= keyLoopBytesMax) { for (let i = 0; i < length; i++) bytes[at + i] = key[i]; }
    else bytes.set(key, at);
    this.#length = at + length;
  }

  /** Appends an i64. */
  i64(value: number): void {
    this.#reserve(8);
    writeI64(this.#view, this.#length, value);
    this.#length += 8;
  }

  /** Appends a u32. */
  u32(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value < twoTo32, "u32 is in range");
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
  }

  /** Appends a u8. */
  u8(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value < 256, "u8 is in range");
    this.#reserve(1);
    this.#bytes[this.#length] = value;
    this.#length += 1;
  }

  /** Bytes in the open record so far, header included. */
  openRecordBytes(): number {
    assert(this.#recordStart >= 0, "a record is open");
    return this.#length - this.#recordStart;
  }

  /** Drops the open record (used when a batch turns out too large). */
  abandon(): void {
    assert(this.#recordStart >= 0, "a record is open");
    this.#length = this.#recordStart;
    this.#recordStart = -1;
    this.lastLsn = this.lastLsn === this.firstLsn ? 0 : this.lastLsn - 1;
    if (this.lastLsn === 0) this.firstLsn = 0;
  }

  /** Closes the open record: fills in its length and checksum. */
  end(): void {
    const start = this.#recordStart;
    assert(start >= 0, "a record is open");
    const length = this.#length - start;
    assert(length >= recordHeaderBytes && length <= walRecordBytesMax, "record length is in range");
    this.#view.setUint32(start, length, true);
    const crc = crc32c(
      this.#bytes.subarray(start + 8, this.#length),
      crc32c(this.#bytes.subarray(start, start + 4)),
    );
    this.#view.setUint32(start + 4, crc, true);
    this.#recordStart = -1;
  }

  /**
   * Encodes a whole batch record of additions whose keys are ASCII strings
   * (so each char is its UTF-8 byte), straight from the strings: no key
   * bytes in between. The caller has checked every key (1..65,535 ASCII
   * chars) and delta (a safe integer), and that the payload takes
   * `payloadBytes` bytes (`count u32` and per op `kind u8 | keyLen u16 | key
   * | delta i64`).
   */
  asciiAdds(lsn: number, adds: readonly AsciiAdd[], payloadBytes: number): void {
    assert(adds.length >= 1 && adds.length <= batchOpsMax, "a batch of additions");
    assert(payloadBytes + recordHeaderBytes <= walRecordBytesMax, "the batch fits a record");
    this.begin(lsn, RecordKind.batch);
    this.#reserve(payloadBytes);
    const bytes = this.#bytes;
    let at = this.#length;
    const end = at + payloadBytes;
    this.#view.setUint32(at, adds.length, true);
    at += 4;
    for (let index = 0; index < adds.length; index++) {
      const { key, value } = adds[index];
      const length = key.length;
      bytes[at] = RecordKind.add;
      bytes[at + 1] = length & 0xff;
      bytes[at + 2] = length >>> 8;
      at += 3;
      for (let i = 0; i < length; i++) bytes[at + i] = key.charCodeAt(i);
      at += length;
      writeI64(this.#view, at, value);
      at += 8;
    }
    assert(at === end, "the additions took the bytes the caller counted");
    this.#length = at;
    this.end();
  }

  /** Encodes a whole single-key record. */
  mutation(lsn: number, kind: MutationKind, key: Uint8Array, value: number): void {
    this.begin(lsn, kind);
    this.key(key);
    if (kind !== RecordKind.delete) this.i64(value);
    this.end();
  }
}

/** An addition to a key given as an ASCII string: see {@link RecordBuffer.asciiAdds}. */
export interface AsciiAdd {
  /** The key: 1..65,535 chars, each below 0x80. */
  readonly key: string;
  /** The delta: a safe integer. */
  readonly value: number;
}

/** Bytes of one addition in a batch payload, besides its key: kind, key length, delta. */
const batchAddBytes = 1 + 2 + 8;
/** Bytes of a batch payload before its ops: the count. */
const batchCountBytes = 4;

/**
 * The payload bytes of a batch record of `count` additions whose keys take
 * `keyBytes` bytes in all (`count u32`, then per op `kind u8 | keyLen u16 |
 * key | delta i64`): what {@link RecordBuffer.asciiAdds} takes. -1 if the
 * record, header included, would pass {@link recordBytesMax}.
 */
export function addBatchPayloadBytes(count: number, keyBytes: number): number {
  assert(count >= 1 && keyBytes >= count, "every addition has a key of at least a byte");
  const payloadBytes = batchCountBytes + count * batchAddBytes + keyBytes;
  return payloadBytes + recordHeaderBytes > walRecordBytesMax ? -1 : payloadBytes;
}

/** A decoded record header; the payload is `bytes[payloadStart, end)`. */
export interface RecordFrame {
  lsn: number;
  kind: RecordKind;
  groupStart: boolean;
  payloadStart: number;
  end: number;
}

/** Why {@link parseRecord} rejected the bytes at an offset. */
export type RecordProblem = "short" | "length" | "checksum" | "kind" | "lsn";

/**
 * Parses the record at `offset` without trusting it: checks the length, the
 * checksum, the kind and (if `expectedLsn` is given) the LSN. Returns the
 * frame, or the first check that failed.
 */
export function parseRecord(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  expectedLsn?: number,
): RecordFrame | RecordProblem {
  if (bytes.length - offset < recordHeaderBytes) return "short";
  const length = view.getUint32(offset, true);
  if (length < recordHeaderBytes || length > walRecordBytesMax) return "length";
  if (length > bytes.length - offset) return "short";
  const lsn = readU64(view, offset + 8);
  if (expectedLsn !== undefined && lsn !== expectedLsn) {
    // Checked before the checksum so a forward scan rejects most offsets cheaply.
    return "lsn";
  }
  const stored = view.getUint32(offset + 4, true);
  const computed = crc32c(
    bytes.subarray(offset + 8, offset + length),
    crc32c(bytes.subarray(offset, offset + 4)),
  );
  if (stored !== computed) return "checksum";
  const type = bytes[offset + 16];
  const kind = type & ~groupStartFlag;
  if (kind < RecordKind.add || kind > RecordKind.checkpoint) return "kind";
  if (lsn < 1 || lsn > lsnMax) return "lsn";
  return {
    lsn,
    kind: kind as RecordKind,
    groupStart: (type & groupStartFlag) !== 0,
    payloadStart: offset + recordHeaderBytes,
    end: offset + length,
  };
}

/** Receives the mutations of a decoded record, in order. */
export interface MutationSink {
  /**
   * One mutation; `key` is a view valid only during the call (the next
   * mutation reuses it: copy it to keep it). Returns a
   * description if the mutation cannot apply (the log is damaged), else undefined.
   */
  mutation(kind: MutationKind, key: Uint8Array, value: number): string | undefined;
}

/** Receives decoded records: each record's LSN, then its mutations, in order. */
export interface RecordSink extends MutationSink {
  /** A record of LSN `lsn` begins; its mutations follow (none for a checkpoint record). */
  record(lsn: number): void;
}

/**
 * Decodes the payload of a mutation or batch record into `sink`. Returns an
 * error description if the payload is malformed (a checksummed record with a
 * bad payload means a bug or a hostile file), or undefined on success.
 */
export function decodeMutations(
  bytes: Uint8Array,
  view: DataView,
  frame: RecordFrame,
  sink: MutationSink,
): string | undefined {
  try {
    return decodeFrame(bytes, view, frame, sink);
  } catch (error) {
    if (error instanceof MutationRejected) return error.message;
    throw error;
  }
}

/** Carries a sink's refusal out of the decoding loop. */
class MutationRejected extends Error {}

function decodeFrame(
  bytes: Uint8Array,
  view: DataView,
  frame: RecordFrame,
  sink: MutationSink,
): string | undefined {
  if (frame.kind === RecordKind.checkpoint) return undefined;
  if (frame.kind !== RecordKind.batch) {
    const end = decodeOne(bytes, view, frame.payloadStart, frame.end, frame.kind, sink);
    return end === frame.end ? undefined : "mutation payload length mismatch";
  }
  if (frame.end - frame.payloadStart < 4) return "batch payload too short";
  const count = view.getUint32(frame.payloadStart, true);
  if (count < 1 || count > batchOpsMax) return `batch op count ${count} out of range`;
  let offset = frame.payloadStart + 4;
  for (let index = 0; index < count; index++) {
    if (offset >= frame.end) return "batch payload too short";
    const kind = bytes[offset];
    if (kind !== RecordKind.add && kind !== RecordKind.set && kind !== RecordKind.delete) {
      return `batch op kind ${kind} unknown`;
    }
    offset = decodeOne(bytes, view, offset + 1, frame.end, kind, sink);
    if (offset < 0) return "batch op truncated";
  }
  return offset === frame.end ? undefined : "batch payload length mismatch";
}

/** Decodes `keyLen | key | [value]`; returns the end offset, or -1 if it overruns `limit`. */
function decodeOne(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  limit: number,
  kind: RecordKind,
  sink: MutationSink,
): number {
  if (offset + 2 > limit) return -1;
  const keyLength = view.getUint16(offset, true);
  const keyEnd = offset + 2 + keyLength;
  if (keyLength === 0) return -1;
  const valueBytes = kind === RecordKind.delete ? 0 : 8;
  if (keyEnd + valueBytes > limit) return -1;
  const value = valueBytes === 0 ? 0 : readI64(view, keyEnd);
  if (Number.isNaN(value)) return -1;
  if (kind !== RecordKind.add && kind !== RecordKind.set && kind !== RecordKind.delete) {
    unreachable(`mutation kind ${kind}`);
  }
  const problem = sink.mutation(kind, keyView(bytes, offset + 2, keyLength), value);
  if (problem !== undefined) throw new MutationRejected(problem);
  return keyEnd + valueBytes;
}

/** Keys up to this long are handed to a sink in a reused view (longer ones in a view of the record). */
const keyViewBytesMax = 256;
/** Where short keys are copied for {@link keyView}. */
const keyScratch = new ViewBytes(keyViewBytesMax);

/**
 * `bytes[start, start + length)` as a view valid until the next call: a
 * short key is copied into a buffer whose views are made once per length.
 */
function keyView(bytes: Uint8Array, start: number, length: number): Uint8Array {
  if (length > keyViewBytesMax) return bytes.subarray(start, start + length);
  const scratch = keyScratch.bytes;
  for (let i = 0; i < length; i++) scratch[i] = bytes[start + i];
  return keyScratch.view(length);
}

/**
 * Decodes every record of a group this process encoded and made durable (the
 * bytes `Wal.onDurable` hands over, or a copy) into `sink`, without checking
 * their checksums again. `view` is a `DataView` of `records`' buffer from
 * the same byte offset. Returns a description of a malformed payload (a bug:
 * the engine wrote it), else undefined.
 */
export function decodeGroup(
  records: Uint8Array,
  view: DataView,
  sink: MutationSink,
): string | undefined {
  assert(
    view.buffer === records.buffer && view.byteOffset === records.byteOffset,
    "the view starts where the records do",
  );
  let offset = 0;
  while (offset < records.length) {
    const length = view.getUint32(offset, true);
    assert(
      length >= recordHeaderBytes && offset + length <= records.length,
      "own records are whole",
    );
    const type = records[offset + 16];
    const frame: RecordFrame = {
      lsn: readU64(view, offset + 8),
      kind: (type & ~groupStartFlag) as RecordKind,
      groupStart: (type & groupStartFlag) !== 0,
      payloadStart: offset + recordHeaderBytes,
      end: offset + length,
    };
    const problem = decodeMutations(records, view, frame, sink);
    if (problem !== undefined) return problem;
    offset += length;
  }
  return undefined;
}
