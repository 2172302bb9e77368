/**
 * A plain in-memory {@link BlockStorage}: no faults, everything durable at
 * once. For tests, examples and throwaway stores.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { StorageIoError } from "../errors.ts";
import type { BlockFile, BlockStorage, OpenFileOptions } from "./block_storage.ts";
import { ByteImage, checkName, checkOpenFileOptions, checkRange, settle } from "./shared.ts";

/** The largest file this storage holds; a larger write fails like a full disk. */
const fileBytesMax = 4 * 1024 * 1024 * 1024;

/** An open handle of a {@link MemoryBlockStorage} file. */
class MemoryBlockFile implements BlockFile {
  readonly name: string;
  /** The file's bytes (its inode), shared with its directory entry and every other handle. */
  #inode: ByteImage;
  #closed = false;

  constructor(name: string, inode: ByteImage) {
    this.name = name;
    this.#inode = inode;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return settle(() => {
      this.#checkOpen("read");
      checkRange(offset, length);
      const result = this.#inode.slice(offset, offset + length); // A copy: the caller may keep it.
      assert(result.length <= length, "read must not return more than asked");
      return result;
    });
  }

  readSync(offset: number, into: Uint8Array): number {
    this.#checkOpen("read");
    checkRange(offset, into.length);
    return this.#inode.copyInto(offset, into);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return settle(() => {
      this.#checkOpen("write");
      checkRange(offset, data.length);
      const end = offset + data.length;
      if (end > fileBytesMax) {
        throw new StorageIoError(
          `Cannot write "${this.name}" in memory: the file would exceed ${fileBytesMax} bytes; ` +
            `use a FileBlockStorage for larger stores`,
        );
      }
      // A copy: the caller may reuse `data`. Like pwrite, an empty write never grows the file.
      this.#inode.write(offset, data);
    });
  }

  sync(): Promise<void> {
    return settle(() => this.#checkOpen("sync"));
  }

  size(): Promise<number> {
    return settle(() => {
      this.#checkOpen("get the size of");
      return this.#inode.length;
    });
  }

  truncate(length: number): Promise<void> {
    return settle(() => {
      this.#checkOpen("truncate");
      assert(Number.isSafeInteger(length) && length >= 0, "length must be a non-negative integer");
      if (length > fileBytesMax) {
        throw new StorageIoError(
          `Cannot truncate "${this.name}" in memory to ${length} bytes: ` +
            `the limit is ${fileBytesMax} bytes; use a FileBlockStorage for larger stores`,
        );
      }
      this.#inode.resize(length);
      assert(this.#inode.length === length, "truncate must set the length");
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(operation: string): void {
    if (this.#closed) {
      throw new StorageIoError(
        `Cannot ${operation} "${this.name}" in memory: the file is closed; open it again`,
      );
    }
  }
}

/**
 * A {@link BlockStorage} that keeps its files in memory. Every write is
 * immediately durable; nothing ever fails except on misuse. Open handles
 * follow POSIX: a removed or replaced file stays readable and writable
 * through handles opened before, while its name is gone.
 *
 * @example Writing, reading and snapshotting
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBlockStorage } from "./memory.ts";
 * const storage = new MemoryBlockStorage();
 * const file = await storage.open("data.bin", { create: true });
 * await file.write(0, new Uint8Array([1, 2, 3]));
 * const snapshot = storage.clone();
 * await file.write(0, new Uint8Array([9]));
 * const copy = await snapshot.open("data.bin");
 * assert.ok((await copy.read(0, 3))[0] === 1);
 * assert.ok((await file.read(0, 3))[0] === 9);
 * ```
 */
export class MemoryBlockStorage implements BlockStorage {
  /** Always `memory`. */
  readonly description: string = "memory";
  #files = new Map<string, ByteImage>();
  #locked = false;

  /**
   * Opens the named file.
   *
   * @param name A flat file name.
   * @param options Whether to create the file, and whether it must be new.
   * @returns A handle to the file.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist and `create` is not set.
   * @throws {Deno.errors.AlreadyExists} If `exclusive` is set and the file exists.
   */
  open(name: string, options: OpenFileOptions = {}): Promise<BlockFile> {
    return settle(() => this.#open(name, options));
  }

  #open(name: string, options: OpenFileOptions): BlockFile {
    checkName(name);
    checkOpenFileOptions(options);
    const create = options.create === true || options.exclusive === true;
    let inode = this.#files.get(name);
    if (inode !== undefined && options.exclusive === true) {
      throw new Deno.errors.AlreadyExists(`Cannot create "${name}" in memory: it already exists`);
    }
    if (inode === undefined) {
      if (!create) {
        throw new Deno.errors.NotFound(
          `Cannot open "${name}" in memory: no such file; pass { create: true } to create it`,
        );
      }
      inode = new ByteImage(fileBytesMax);
      this.#files.set(name, inode);
    }
    return new MemoryBlockFile(name, inode);
  }

  /**
   * Lists the files.
   *
   * @returns The file names, sorted.
   */
  list(): Promise<string[]> {
    return Promise.resolve([...this.#files.keys()].sort());
  }

  /**
   * Renames `from` to `to`, replacing `to`; handles open on the replaced file
   * keep its old bytes.
   *
   * @param from The existing file's name.
   * @param to The new name.
   * @throws {TypeError} If either name is not a flat file name.
   * @throws {Deno.errors.NotFound} If `from` does not exist.
   */
  rename(from: string, to: string): Promise<void> {
    return settle(() => {
      checkName(from);
      checkName(to);
      const inode = this.#files.get(from);
      if (inode === undefined) {
        throw new Deno.errors.NotFound(`Cannot rename "${from}" in memory: no such file`);
      }
      this.#files.delete(from);
      this.#files.set(to, inode);
      assert(this.#files.get(to) === inode, "rename must leave the file under its new name");
    });
  }

  /**
   * Removes the named file; handles open on it keep working.
   *
   * @param name The file's name.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist.
   */
  remove(name: string): Promise<void> {
    return settle(() => {
      checkName(name);
      if (!this.#files.delete(name)) {
        throw new Deno.errors.NotFound(`Cannot remove "${name}" in memory: no such file`);
      }
    });
  }

  /** Does nothing: memory directory changes are durable at once. */
  syncDir(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Takes this instance's lock.
   *
   * @returns True if taken, false if already held.
   */
  tryLock(): Promise<boolean> {
    if (this.#locked) return Promise.resolve(false);
    this.#locked = true;
    return Promise.resolve(true);
  }

  /** Releases the lock; does nothing if it is not held. */
  unlock(): Promise<void> {
    this.#locked = false;
    return Promise.resolve();
  }

  /**
   * Copies every file into a new, unlocked storage that shares nothing with
   * this one (a snapshot of the disk). Removed files still open are not copied.
   *
   * @returns The copy.
   */
  clone(): MemoryBlockStorage {
    const result = new MemoryBlockStorage();
    for (const [name, inode] of this.#files) result.#files.set(name, inode.copy());
    assert(result.#files.size === this.#files.size, "clone must copy every file");
    return result;
  }
}
