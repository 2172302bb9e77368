/**
 * The real-disk {@link BlockStorage}: one directory of ordinary files.
 *
 * Reads and writes use `node:fs` positional calls on file descriptors
 * (`pread`/`pwrite`), which are synchronous: with the page cache they take a
 * few microseconds, far less than the promise round trip of the async forms.
 * Only `sync` and directory operations that may wait on the disk are async.
 *
 * @module
 */

import fs from "node:fs";
import { dirname, join, resolve } from "node:path";
import { assert } from "../_assert.ts";
import { StorageIoError } from "../errors.ts";
import { tooManyArguments } from "../_options.ts";
import type { BlockFile, BlockStorage, OpenFileOptions } from "./block_storage.ts";
import { checkName as checkFlatName, checkOpenFileOptions, checkRange, settle } from "./shared.ts";

/** More directory levels than a path can have (Linux `PATH_MAX` is 4096 bytes). */
const pathDepthMax = 4096;
/** The file in the directory that carries the lock; not a storage file. */
const lockFileName = "LOCK";
/** Permissions of new files, before the umask. */
const fileMode = 0o666;

/** What each common OS error code means, and what to do about it. */
const osErrorHints: Readonly<Record<string, readonly [meaning: string, advice?: string]>> = {
  EIO: ["input/output error", "check the disk and the system log"],
  ENOSPC: ["no space left on device", "the disk is full; free some space and retry"],
  EDQUOT: ["disk quota exceeded", "free some space or raise the quota and retry"],
  EACCES: ["permission denied", "check the permissions of the directory and its files"],
  EPERM: ["operation not permitted", "check the permissions of the directory and its files"],
  EROFS: ["read-only file system", "remount it read-write or use another directory"],
  EMFILE: ["too many open files", "raise the open-file limit (ulimit -n)"],
  ENFILE: ["too many open files in the system", "close other programs' files and retry"],
  EISDIR: ["is a directory", "remove or rename the directory"],
  ENOTDIR: ["not a directory", "check the storage path"],
  ENOENT: ["no such file or directory"],
  EEXIST: ["file already exists"],
  EBADF: ["bad file descriptor"],
  EFBIG: ["file too large"],
  EINVAL: ["invalid argument"],
  EINTR: ["interrupted system call", "retry"],
  EAGAIN: ["resource temporarily unavailable", "retry"],
};

/** The OS error code (`EIO`, `ENOENT`...) of a failed call, if it has one. */
function osCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** The OS's own short description, from a `node:fs` or a `Deno` error message. */
function osMeaning(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^E[A-Z0-9]+: ([^,]+)/.exec(message) ?? /^(.+?) \(os error \d+\)/.exec(message);
  return (match?.[1] ?? message).toLowerCase();
}

/**
 * Maps a failed OS call to the error tallytrie raises: `ENOENT` and `EEXIST`
 * (when `missing` / `exists` name them) become `Deno.errors.NotFound` and
 * `Deno.errors.AlreadyExists`; every other OS failure a {@link StorageIoError}.
 * Errors without an OS code (bad arguments: a tallytrie bug) pass unchanged.
 *
 * @param action What failed, naming the path: `fsync "/x/wal-1.wal"`.
 */
function osError(
  action: string,
  error: unknown,
  hints: { missing?: string; exists?: string } = {},
): Error {
  const code = osCode(error);
  if (code === undefined) {
    if (error instanceof TypeError || error instanceof RangeError) return error;
    return new StorageIoError(`Cannot ${action}: ${osMeaning(error)}`, error);
  }
  const [meaning, advice] = osErrorHints[code] ?? [osMeaning(error)];
  const message = `Cannot ${action}: ${code} (${meaning})`;
  if (code === "ENOENT" && hints.missing !== undefined) {
    return new Deno.errors.NotFound(`${message}; ${hints.missing}`, { cause: error });
  }
  if (code === "EEXIST" && hints.exists !== undefined) {
    return new Deno.errors.AlreadyExists(`${message}; ${hints.exists}`, { cause: error });
  }
  return new StorageIoError(advice === undefined ? message : `${message}; ${advice}`, error);
}

/** Throws a `TypeError` unless `name` is a flat file name that is not the lock file. */
function checkName(name: string): void {
  checkFlatName(name);
  if (name === lockFileName) {
    throw new TypeError(`Cannot use file name "${name}": it is reserved for the directory lock`);
  }
}

/** Reads up to `length` bytes at `offset`, looping over short reads until EOF. */
function readAt(fd: number, path: string, offset: number, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  const done = readInto(fd, path, offset, buffer);
  // A short read is rare (the end of the file): copy so no unused tail is kept.
  return done === length ? buffer : buffer.slice(0, done);
}

/** Reads up to `buffer.length` bytes at `offset` into `buffer`, looping over short reads until EOF. */
function readInto(fd: number, path: string, offset: number, buffer: Uint8Array): number {
  const length = buffer.length;
  let done = 0;
  while (done < length) {
    let count: number;
    try {
      count = fs.readSync(fd, buffer, done, length - done, offset + done);
    } catch (error) {
      throw osError(`read "${path}"`, error);
    }
    assert(count >= 0 && count <= length - done, "pread must return at most the bytes asked");
    if (count === 0) break; // End of file.
    done += count;
  }
  return done;
}

/** Writes all of `data` at `offset`, looping over short writes. */
function writeAt(fd: number, path: string, offset: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    let count: number;
    try {
      count = fs.writeSync(fd, data, done, data.length - done, offset + done);
    } catch (error) {
      throw osError(`write "${path}"`, error);
    }
    assert(count <= data.length - done, "pwrite must write at most the bytes given");
    if (count <= 0) {
      throw new StorageIoError(`Cannot write "${path}": the OS wrote no bytes; check the disk`);
    }
    done += count;
  }
}

/** An open file of a {@link FileBlockStorage}. */
class FileBlockFile implements BlockFile {
  readonly name: string;
  readonly #path: string;
  #fd: number | undefined;

  constructor(name: string, path: string, fd: number) {
    this.name = name;
    this.#path = path;
    this.#fd = fd;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return settle(() => {
      checkRange(offset, length);
      return readAt(this.#open("read"), this.#path, offset, length);
    });
  }

  readSync(offset: number, into: Uint8Array): number {
    checkRange(offset, into.length);
    return readInto(this.#open("read"), this.#path, offset, into);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return settle(() => {
      checkRange(offset, data.length);
      writeAt(this.#open("write"), this.#path, offset, data);
    });
  }

  async sync(): Promise<void> {
    const fd = this.#open("fsync");
    try {
      await new Promise<void>((resolve, reject) => {
        fs.fdatasync(fd, (error) => error ? reject(error) : resolve());
      });
    } catch (error) {
      throw osError(`fsync "${this.#path}"`, error);
    }
  }

  size(): Promise<number> {
    return settle(() => {
      const fd = this.#open("get the size of");
      let size: number;
      try {
        size = fs.fstatSync(fd).size;
      } catch (error) {
        throw osError(`get the size of "${this.#path}"`, error);
      }
      assert(Number.isSafeInteger(size) && size >= 0, "a file size must be a count");
      return size;
    });
  }

  truncate(length: number): Promise<void> {
    return settle(() => {
      assert(Number.isSafeInteger(length) && length >= 0, "length must be a non-negative integer");
      const fd = this.#open("truncate");
      try {
        fs.ftruncateSync(fd, length);
      } catch (error) {
        throw osError(`truncate "${this.#path}"`, error);
      }
    });
  }

  close(): Promise<void> {
    return settle(() => {
      const fd = this.#fd;
      if (fd === undefined) return;
      this.#fd = undefined; // Even a failed close releases the descriptor on Linux.
      try {
        fs.closeSync(fd);
      } catch (error) {
        throw osError(`close "${this.#path}"`, error);
      }
    });
  }

  /** The descriptor, or a {@link StorageIoError} if the file is closed. */
  #open(operation: string): number {
    if (this.#fd === undefined) {
      throw new StorageIoError(
        `Cannot ${operation} "${this.#path}": the file is closed; open it again`,
      );
    }
    return this.#fd;
  }
}

/** Opens `dir` and fsyncs it, making its entries (creations, renames, removals) durable. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch (error) {
    throw osError(`fsync the directory "${dir}"`, error);
  } finally {
    handle?.close();
  }
}

/** What is at `path`: a directory, a file, something else, or nothing (undefined). */
async function statKind(path: string): Promise<"directory" | "file" | "other" | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isDirectory ? "directory" : info.isFile ? "file" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw osError(`inspect "${path}"`, error);
  }
}

/**
 * Makes sure `dir` is a directory, creating it and any missing parents; then
 * fsyncs the parent of every directory it created, so the new entries last.
 */
async function ensureDirectory(dir: string): Promise<void> {
  const kind = await statKind(dir);
  if (kind === "directory") return;
  if (kind !== undefined) {
    // Not a TypeError: the path is a well-formed one, but what the disk holds there is not a store.
    throw new StorageIoError(
      `Cannot open store at "${dir}": it is ${
        kind === "file" ? "a file, not a directory" : "not a directory"
      }; give a directory path`,
    );
  }
  const created: string[] = [];
  for (let current = dir; (await statKind(current)) === undefined; current = dirname(current)) {
    assert(created.length < pathDepthMax, "a path cannot have more levels than PATH_MAX");
    created.push(current);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw osError(`create the directory "${dir}"`, error);
  }
  for (const path of created) await syncDirectory(dirname(path));
}

/**
 * A {@link BlockStorage} on real files in one directory, for stores on disk.
 * File operations that fail raise a {@link StorageIoError} naming the
 * operation, the path and the OS error code; the directory lock is an
 * exclusive `flock` of `<dir>/LOCK`, which {@link FileBlockStorage.list} hides.
 *
 * @example Storing bytes durably
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileBlockStorage } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = await FileBlockStorage.open(`${dir}/counts`);
 * assert.ok(await storage.tryLock());
 * const file = await storage.open("data.bin", { create: true, exclusive: true });
 * await file.write(0, new TextEncoder().encode("hello"));
 * await file.sync();
 * await file.close();
 * await storage.syncDir();
 * assert.ok((await storage.list()).join() === "data.bin");
 * await storage.unlock();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileBlockStorage implements BlockStorage {
  /** The directory's absolute path. */
  readonly description: string;
  readonly #dir: string;
  #lock: Deno.FsFile | undefined;

  private constructor(dir: string) {
    this.#dir = dir;
    this.description = dir;
  }

  /**
   * Opens the storage in directory `path`, creating the directory (and its
   * missing parents) if absent and making that creation durable.
   *
   * @param path The directory, absolute or relative to the working directory.
   * @returns The storage, not yet locked.
   * @throws {TypeError} If `path` is empty.
   * @throws {StorageIoError} If `path` is something other than a directory
   * (a file), or the directory cannot be inspected or created.
   */
  static async open(path: string): Promise<FileBlockStorage> {
    if (arguments.length > 1) throw tooManyArguments("open storage", "path", arguments.length);
    if (typeof path !== "string" || path === "" || path.includes("\0")) {
      throw new TypeError(`Cannot open storage at "${path}": give a directory path`);
    }
    const dir = resolve(path);
    await ensureDirectory(dir);
    return new FileBlockStorage(dir);
  }

  /**
   * Opens the named file for reading and writing.
   *
   * @param name A flat file name (not `LOCK`).
   * @param options Whether to create the file, and whether it must be new.
   * @returns A handle to the file.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist and `create` is not set.
   * @throws {Deno.errors.AlreadyExists} If `exclusive` is set and the file exists.
   * @throws {StorageIoError} If the OS refuses otherwise.
   */
  open(name: string, options: OpenFileOptions = {}): Promise<BlockFile> {
    return settle(() => {
      checkName(name);
      checkOpenFileOptions(options);
      const path = join(this.#dir, name);
      const { O_RDWR, O_CREAT, O_EXCL } = fs.constants;
      const exclusive = options.exclusive === true;
      const create = exclusive || options.create === true;
      const flags = O_RDWR | (create ? O_CREAT : 0) | (exclusive ? O_EXCL : 0);
      let fd: number;
      try {
        fd = fs.openSync(path, flags, fileMode);
      } catch (error) {
        throw osError(`open "${path}"`, error, {
          missing: "pass { create: true } to create it",
          exists: "open it without { exclusive: true } or remove it first",
        });
      }
      return new FileBlockFile(name, path, fd);
    });
  }

  /**
   * Lists the regular files of the directory, except the lock file.
   *
   * @returns The file names, sorted.
   * @throws {StorageIoError} If the directory cannot be read.
   */
  async list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (entry.isFile && entry.name !== lockFileName) names.push(entry.name);
      }
    } catch (error) {
      throw osError(`list the directory "${this.#dir}"`, error);
    }
    return names.sort();
  }

  /**
   * Atomically renames `from` to `to`, replacing `to`. Durable after {@link syncDir}.
   *
   * @param from The existing file's name.
   * @param to The new name.
   * @throws {TypeError} If either name is not a flat file name.
   * @throws {Deno.errors.NotFound} If `from` does not exist.
   * @throws {StorageIoError} If the OS refuses otherwise.
   */
  rename(from: string, to: string): Promise<void> {
    return settle(() => {
      checkName(from);
      checkName(to);
      const fromPath = join(this.#dir, from);
      try {
        fs.renameSync(fromPath, join(this.#dir, to));
      } catch (error) {
        throw osError(`rename "${fromPath}" to "${to}"`, error, {
          missing: "the file does not exist",
        });
      }
    });
  }

  /**
   * Removes the named file; handles open on it keep working. Durable after
   * {@link syncDir}.
   *
   * @param name The file's name.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist.
   * @throws {StorageIoError} If the OS refuses otherwise.
   */
  remove(name: string): Promise<void> {
    return settle(() => {
      checkName(name);
      const path = join(this.#dir, name);
      try {
        fs.unlinkSync(path);
      } catch (error) {
        throw osError(`remove "${path}"`, error, { missing: "the file does not exist" });
      }
    });
  }

  /**
   * Fsyncs the directory, making file creations, renames and removals durable.
   *
   * @throws {StorageIoError} If the fsync fails.
   */
  syncDir(): Promise<void> {
    return syncDirectory(this.#dir);
  }

  /**
   * Takes the directory's exclusive lock (`flock` of `<dir>/LOCK`), which
   * conflicts with every other holder, in this process or another.
   *
   * @returns True if taken, false at once if another holder has it.
   * @throws {StorageIoError} If the lock file cannot be opened or locked.
   */
  async tryLock(): Promise<boolean> {
    if (this.#lock !== undefined) return false;
    const path = join(this.#dir, lockFileName);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw osError(`open the lock file "${path}"`, error);
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw osError(`lock "${path}"`, error);
    }
    if (!locked || this.#lock !== undefined) {
      file.close(); // Closing drops our flock too, if a concurrent call won the race.
      return false;
    }
    this.#lock = file;
    return true;
  }

  /**
   * Releases the lock taken by {@link tryLock}; does nothing if it is not held.
   *
   * @throws {StorageIoError} If the lock cannot be released.
   */
  async unlock(): Promise<void> {
    const file = this.#lock;
    if (file === undefined) return;
    this.#lock = undefined;
    try {
      await file.unlock();
    } catch (error) {
      throw osError(`unlock "${join(this.#dir, lockFileName)}"`, error);
    } finally {
      file.close(); // Closing releases the flock even if unlock failed.
    }
  }
}
