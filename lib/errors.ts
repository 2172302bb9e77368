/**
 * The error classes tallytrie raises for storage trouble. Misuse of the API
 * raises the built-in `TypeError` and `RangeError` instead. A broken
 * invariant raises {@link AssertionError}: a tallytrie bug, never bad input
 * or a bad disk. `mod.ts` does not export it; it is here, in a public module,
 * so the simulator can tell an engine fault from disk trouble by its class.
 *
 * @module
 */

/**
 * An engine invariant does not hold: always a tallytrie bug. Raised by the
 * checks of `lib/_assert.ts` (and the simulator's own, `sim/_assert.ts`).
 *
 * @example Telling a bug from disk trouble
 * ```ts
 * import assert from "node:assert/strict";
 * import { AssertionError, StorageIoError } from "./errors.ts";
 * const error = new StorageIoError("checkpoint failed", new AssertionError("a ref is past the end"));
 * assert.ok(error.cause instanceof AssertionError);
 * assert.ok((error.cause as Error).message === "tallytrie invariant violated: a ref is past the end");
 * ```
 */
export class AssertionError extends Error {
  /**
   * Builds the error with the invariant's description.
   *
   * @param message The invariant that failed, sentence case.
   */
  constructor(message: string) {
    super(`tallytrie invariant violated: ${message}`);
    this.name = "AssertionError";
  }
}

/**
 * Stored bytes failed a check (checksum, magic, length or order) inside the
 * part of a file that was durable. tallytrie never answers from such bytes.
 *
 * @example Recognising corruption
 * ```ts
 * import assert from "node:assert/strict";
 * import { CorruptionError } from "./errors.ts";
 * const error = new CorruptionError("wal-00000000000000000001.wal", 4096, "record checksum mismatch");
 * assert.ok(error.file === "wal-00000000000000000001.wal" && error.offset === 4096);
 * ```
 */
export class CorruptionError extends Error {
  /** The file, relative to the store's directory. */
  readonly file: string;
  /** The byte offset in `file` where the damage starts. */
  readonly offset: number;
  /**
   * Builds the error for damage in `file` at `offset`.
   *
   * @param file The damaged file, relative to the store's directory.
   * @param offset The byte offset where the damage starts.
   * @param detail What check failed.
   */
  constructor(file: string, offset: number, detail: string) {
    super(
      `Corrupted data in "${file}" at byte ${offset}: ${detail}; ` +
        `restore the store from a backup or move the damaged file aside`,
    );
    this.name = "CorruptionError";
    this.file = file;
    this.offset = offset;
  }
}

/**
 * A read, write, fsync or directory operation failed. After a failed write or
 * fsync the store is poisoned: every later write throws this until the store
 * is closed and reopened (data the failed fsync covered may or may not survive).
 *
 * @example Telling a disk failure from other errors
 * ```ts
 * import assert from "node:assert/strict";
 * import { StorageIoError } from "./errors.ts";
 * const error = new StorageIoError("fsync of \"wal-1.wal\" failed", new Error("EIO"));
 * assert.ok(error instanceof StorageIoError && error.cause instanceof Error);
 * ```
 */
export class StorageIoError extends Error {
  /**
   * Builds the error from what failed and the underlying error.
   *
   * @param message What failed, sentence case.
   * @param cause The underlying error, if any.
   */
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "StorageIoError";
  }
}

/**
 * The in-memory trie that holds the store's keys could not grow: the process
 * is out of memory, or the trie reached its limit of 8 GiB (int32 node
 * refs, about 150 million short keys). A read that was loading nodes from
 * the image fails alone (`applyFailed` is false). If it was raised while
 * applying writes already in the log (a strict group after its fsync, or a
 * relaxed commit), `applyFailed` is true: those writes stay in the log for
 * the next open, but the trie may hold part of a batch, so the store
 * refuses every read, write and checkpoint with this error until it is
 * closed and opened again (in a process with more memory).
 *
 * @example Telling a store that must be reopened from a call that failed alone
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryLimitError } from "./errors.ts";
 * const load = new MemoryLimitError("Cannot grow the trie's memory to 8 GiB", new RangeError("Array buffer allocation failed"));
 * assert.ok(load.name === "MemoryLimitError" && load.cause instanceof RangeError);
 * assert.ok(!load.applyFailed);
 * const apply = new MemoryLimitError("The store's in-memory trie failed while applying logged writes", load, { applyFailed: true });
 * assert.ok(apply.applyFailed && apply.cause === load);
 * ```
 */
export class MemoryLimitError extends Error {
  /**
   * Whether the trie failed while applying writes already in the log: the
   * store then refuses every read, write and checkpoint until it is closed
   * and opened again. False when the call failed alone.
   */
  readonly applyFailed: boolean;

  /**
   * Builds the error from what could not grow and the underlying error.
   *
   * @param message What failed, sentence case, with what to do.
   * @param cause The underlying error, if any.
   * @param options `applyFailed: true` when applying logged writes failed
   * (default false).
   */
  constructor(message: string, cause?: unknown, options: { applyFailed?: boolean } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "MemoryLimitError";
    this.applyFailed = options.applyFailed === true;
  }
}

/**
 * The store was used after `close()` (or after a close that is in progress).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreClosedError } from "./errors.ts";
 * assert.ok(new StoreClosedError("add").message.includes("closed"));
 * ```
 */
export class StoreClosedError extends Error {
  /**
   * Builds the error for a refused call.
   *
   * @param operation The call that was refused.
   * @param closing Whether `close()` was called but has not finished.
   */
  constructor(operation: string, closing = false) {
    super(
      closing
        ? `Cannot ${operation}: the store is closing (close() was called), so nothing was ` +
          `written; open it again with openStore() once close() resolves`
        : `Cannot ${operation}: the store is closed; open it again with openStore()`,
    );
    this.name = "StoreClosedError";
  }
}

/**
 * The store's directory is already held by another open store, in this
 * process or another one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreLockedError } from "./errors.ts";
 * assert.ok(new StoreLockedError("./counts").message.includes("./counts"));
 * ```
 */
export class StoreLockedError extends Error {
  /**
   * Builds the error for a directory that is already open.
   *
   * @param where The directory or storage that is locked.
   */
  constructor(where: string) {
    super(
      `Cannot open store at "${where}": it is already open in this or another process; ` +
        `close the other store first`,
    );
    this.name = "StoreLockedError";
  }
}
