/**
 * The error classes tallytrie raises for storage trouble. Misuse of the API
 * raises the built-in `TypeError` and `RangeError` instead.
 *
 * @module
 */

/**
 * Stored bytes failed a check (checksum, magic, length or order) inside the
 * part of a file that was durable. tallytrie never answers from such bytes.
 *
 * @example Recognising corruption
 * ```ts
 * import { CorruptionError } from "./errors.ts";
 * const error = new CorruptionError("wal-00000000000000000001.wal", 4096, "record checksum mismatch");
 * console.assert(error.file === "wal-00000000000000000001.wal" && error.offset === 4096);
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
 * import { StorageIoError } from "./errors.ts";
 * const error = new StorageIoError("fsync of \"wal-1.wal\" failed", new Error("EIO"));
 * console.assert(error instanceof StorageIoError && error.cause instanceof Error);
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
 * The store was used after `close()` (or after a close that is in progress).
 *
 * @example
 * ```ts
 * import { StoreClosedError } from "./errors.ts";
 * console.assert(new StoreClosedError("add").message.includes("closed"));
 * ```
 */
export class StoreClosedError extends Error {
  /**
   * Builds the error for a refused call.
   *
   * @param operation The call that was refused.
   */
  constructor(operation: string) {
    super(`Cannot ${operation}: the store is closed; open it again with openStore()`);
    this.name = "StoreClosedError";
  }
}

/**
 * The store's directory is already held by another open store, in this
 * process or another one.
 *
 * @example
 * ```ts
 * import { StoreLockedError } from "./errors.ts";
 * console.assert(new StoreLockedError("./counts").message.includes("./counts"));
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
