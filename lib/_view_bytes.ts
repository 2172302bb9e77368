/**
 * A byte buffer handing out views of its first `n` bytes, made once per
 * length: a fresh `Uint8Array` view (an object with its own backing
 * pointer) per key or record cost more than the bytes copied into the
 * buffer, and became garbage at once. A view is valid until the buffer's
 * bytes are next written.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/** A reusable buffer and its views by length (see the module notes). */
export class ViewBytes {
  /** The bytes; write into it, then take a view. */
  bytes: Uint8Array;
  /** Views are kept for lengths up to this; longer ones are made per call. */
  readonly #viewsMax: number;
  #views: Uint8Array[] = [];

  /**
   * @param bytes The buffer's size at first.
   * @param viewsMax The longest view kept (default: any).
   */
  constructor(bytes: number, viewsMax = Number.POSITIVE_INFINITY) {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, "a buffer size");
    this.bytes = new Uint8Array(bytes);
    this.#viewsMax = viewsMax;
  }

  /** Room for `length` bytes: a larger buffer (dropping the old one's views) if needed. */
  reserve(length: number): Uint8Array {
    if (this.bytes.length < length) {
      this.bytes = new Uint8Array(Math.max(length, this.bytes.length * 2));
      this.#views = [];
    }
    return this.bytes;
  }

  /** A view of the first `length` bytes. */
  view(length: number): Uint8Array {
    assert(length >= 0 && length <= this.bytes.length, "a view within the buffer");
    if (length > this.#viewsMax) return this.bytes.subarray(0, length);
    return this.#views[length] ??= this.bytes.subarray(0, length);
  }
}
