/**
 * Helpers shared by the block storages (memory, file and the simulator's
 * disk, `sim/storage.ts`): name and range checks, promise settling and a
 * growable byte image. A public module so that the simulator's disk, which
 * implements the same `BlockStorage` contract from outside `lib/`, checks its
 * arguments exactly as the real ones do; `mod.ts` does not export it, so it
 * is not part of tallytrie's API.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { checkOptions, type OptionsPlace, type OptionTypes } from "../_options.ts";
import type { OpenFileOptions } from "./block_storage.ts";

/** The largest single `read` or `write` the engine may ask for (1 GiB). */
export const ioBytesMax = 1 << 30;
/** The longest file name in UTF-8 bytes (Linux `NAME_MAX`). */
export const nameBytesMax = 255;
/** The smallest buffer a growing image gets, so small appends do not reallocate. */
export const capacityBytesMin = 4096;

/** Throws a `TypeError` unless `name` is a flat file name. */
export function checkName(name: string): void {
  if (
    typeof name !== "string" || name === "" || name === "." || name === ".." ||
    /[/\\\0]/.test(name)
  ) {
    throw new TypeError(
      `Cannot use file name "${name}": names must be non-empty and contain no "/", "\\" or NUL ` +
        `and not be "." or ".."`,
    );
  }
  if (name.length > nameBytesMax / 4 && new TextEncoder().encode(name).length > nameBytesMax) {
    throw new TypeError(
      `Cannot use file name "${name.slice(0, 32)}...": it is longer than ${nameBytesMax} bytes`,
    );
  }
}

/** The keys of {@link OpenFileOptions}, each with its type. */
const openFileOptionTypes: OptionTypes = { create: "boolean", exclusive: "boolean" };
const openFileOptionsPlace: OptionsPlace = {
  operation: "open a file",
  object: "options",
  key: "option",
  keyPrefix: "",
};

/** Throws a `TypeError` unless `options` is an {@link OpenFileOptions} object. */
export function checkOpenFileOptions(options: OpenFileOptions): void {
  checkOptions(options, openFileOptionTypes, openFileOptionsPlace);
}

/** Asserts that `offset` and `length` describe a valid `read` or `write` range. */
export function checkRange(offset: number, length: number): void {
  assert(Number.isSafeInteger(offset) && offset >= 0, "offset must be a non-negative integer");
  assert(
    Number.isSafeInteger(length) && length >= 0 && length <= ioBytesMax,
    "length must be a non-negative integer of at most 1 GiB",
  );
}

/** Runs `body` and returns its result as a promise, turning a throw into a rejection. */
export function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A growable byte image: one file's bytes. Invariant: `bytes[length..]` is
 * all zeros, so growing needs no fill.
 */
export class ByteImage {
  /** The buffer; only `bytes[0..length)` is the image, the rest is zeros. */
  bytes: Uint8Array = new Uint8Array(0);
  /** The image's visible length in bytes. */
  length = 0;
  /** The largest capacity the buffer may reach. */
  readonly bytesMax: number;

  /**
   * Builds an empty image.
   *
   * @param bytesMax The largest capacity the buffer may reach.
   */
  constructor(bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, "the image limit must be a count");
    this.bytesMax = bytesMax;
  }

  /** Makes room for `needed` bytes, at least doubling the buffer (up to `bytesMax`). */
  reserve(needed: number): void {
    assert(
      Number.isSafeInteger(needed) && needed >= 0 && needed <= this.bytesMax,
      "reserve needs a bounded count",
    );
    if (needed <= this.bytes.length) return;
    const capacity = Math.min(
      Math.max(needed, this.bytes.length * 2, capacityBytesMin),
      this.bytesMax,
    );
    const bytes = new Uint8Array(capacity);
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
    assert(this.bytes.length >= needed, "reserve must provide the requested capacity");
  }

  /** Sets the visible length, zeroing what a shrink leaves behind. */
  resize(length: number): void {
    if (length > this.length) this.reserve(length);
    else this.bytes.fill(0, length, this.length);
    this.length = length;
    assert(this.length === length, "resize must set the length");
  }

  /** Copies `data` in at `offset`, growing (zero-filled) as needed; an empty write does nothing. */
  write(offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const end = offset + data.length;
    if (end > this.length) this.resize(end);
    this.bytes.set(data, offset);
    assert(this.length >= end, "a write must leave the image at least as long as its end");
  }

  /** A copy of `[start, end)`, clamped to the length. */
  slice(start: number, end: number): Uint8Array {
    const result = this.bytes.slice(Math.min(start, this.length), Math.min(end, this.length));
    assert(result.length <= Math.max(end - start, 0), "a slice must not exceed its range");
    return result;
  }

  /** Copies `[start, start + into.length)`, clamped to the length, into `into`; returns the bytes copied. */
  copyInto(start: number, into: Uint8Array): number {
    const from = Math.min(start, this.length);
    const bytes = this.bytes.subarray(from, Math.min(start + into.length, this.length));
    into.set(bytes);
    return bytes.length;
  }

  /** A copy of the whole image. */
  contents(): Uint8Array {
    const result = this.bytes.slice(0, this.length);
    assert(result.length === this.length, "contents must copy the whole image");
    return result;
  }

  /** An independent copy of the image, sharing no buffer. */
  copy(): ByteImage {
    const result = new ByteImage(this.bytesMax);
    result.bytes = this.contents();
    result.length = this.length;
    assert(result.bytes !== this.bytes, "a copy must not share the buffer");
    return result;
  }
}
