/**
 * Storage wrappers for tests: one records the disk after every mutating
 * operation (to reopen the store at every write boundary and at torn offsets
 * inside a write), one fails chosen operations.
 *
 * @module
 */

import type { BlockFile, BlockStorage, OpenFileOptions } from "../lib/storage/block_storage.ts";
import { MemoryBlockStorage } from "../lib/storage/memory.ts";

/** One mutating operation and the disk just before it. */
export interface Boundary {
  /** The operation, for messages: `write wal-…wal@32+40`. */
  label: string;
  /** The disk before the operation. */
  before: MemoryBlockStorage;
  /** For writes: the file, offset and bytes written. */
  write?: { name: string; offset: number; data: Uint8Array };
}

/**
 * Wraps a {@link MemoryBlockStorage} and snapshots it before every write,
 * truncate, rename and remove. `boundaries[i].before` is the disk a crash
 * right before operation i leaves (MemoryBlockStorage makes every completed
 * operation durable, so these are exactly the write boundaries).
 */
export class RecordingStorage implements BlockStorage {
  readonly description = "recording memory";
  readonly inner: MemoryBlockStorage;
  readonly boundaries: Boundary[] = [];

  constructor(inner = new MemoryBlockStorage()) {
    this.inner = inner;
  }

  /** The disk now: the boundary after the last operation. */
  final(): MemoryBlockStorage {
    return this.inner.clone();
  }

  record(label: string, write?: Boundary["write"]): void {
    this.boundaries.push({ label, before: this.inner.clone(), write });
  }

  async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    const exists = (await this.inner.list()).includes(name);
    if (!exists && (options?.create || options?.exclusive)) this.record(`create ${name}`);
    const file = await this.inner.open(name, options);
    return new RecordingFile(file, this);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  rename(from: string, to: string): Promise<void> {
    this.record(`rename ${from} ${to}`);
    return this.inner.rename(from, to);
  }
  remove(name: string): Promise<void> {
    this.record(`remove ${name}`);
    return this.inner.remove(name);
  }
  syncDir(): Promise<void> {
    return this.inner.syncDir();
  }
  tryLock(): Promise<boolean> {
    return this.inner.tryLock();
  }
  unlock(): Promise<void> {
    return this.inner.unlock();
  }
}

class RecordingFile implements BlockFile {
  readonly #file: BlockFile;
  readonly #owner: RecordingStorage;
  constructor(file: BlockFile, owner: RecordingStorage) {
    this.#file = file;
    this.#owner = owner;
  }
  get name(): string {
    return this.#file.name;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#file.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.#owner.record(`write ${this.name}@${offset}+${data.length}`, {
      name: this.name,
      offset,
      data: data.slice(),
    });
    return this.#file.write(offset, data);
  }
  sync(): Promise<void> {
    return this.#file.sync();
  }
  size(): Promise<number> {
    return this.#file.size();
  }
  truncate(length: number): Promise<void> {
    this.#owner.record(`truncate ${this.name} ${length}`);
    return this.#file.truncate(length);
  }
  close(): Promise<void> {
    return this.#file.close();
  }
}

/** The disk `boundary` leaves if its write was torn after `cut` bytes. */
export async function tornAt(boundary: Boundary, cut: number): Promise<MemoryBlockStorage> {
  const write = boundary.write;
  if (write === undefined) throw new Error(`boundary "${boundary.label}" is not a write`);
  const disk = boundary.before.clone();
  const file = await disk.open(write.name, { create: true });
  await file.write(write.offset, write.data.subarray(0, cut));
  await file.close();
  return disk;
}

/** Operations {@link FaultyStorage} can fail. */
export type FaultyOperation = "write" | "sync" | "syncDir" | "open";

/**
 * Wraps a storage and makes the next chosen operations throw, like a disk
 * returning EIO. Set `failNext.sync = 1` to fail the next fsync.
 */
export class FaultyStorage implements BlockStorage {
  readonly description = "faulty memory";
  readonly inner: BlockStorage;
  readonly failNext: Partial<Record<FaultyOperation, number>> = {};
  readonly failures: string[] = [];

  constructor(inner: BlockStorage = new MemoryBlockStorage()) {
    this.inner = inner;
  }

  maybeFail(operation: FaultyOperation, what: string): void {
    const left = this.failNext[operation] ?? 0;
    if (left <= 0) return;
    this.failNext[operation] = left - 1;
    this.failures.push(`${operation} ${what}`);
    throw new Error(`injected ${operation} failure on ${what}: EIO`);
  }

  async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    this.maybeFail("open", name);
    return new FaultyFile(await this.inner.open(name, options), this);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
  syncDir(): Promise<void> {
    this.maybeFail("syncDir", "directory");
    return this.inner.syncDir();
  }
  tryLock(): Promise<boolean> {
    return this.inner.tryLock();
  }
  unlock(): Promise<void> {
    return this.inner.unlock();
  }
}

class FaultyFile implements BlockFile {
  readonly #file: BlockFile;
  readonly #owner: FaultyStorage;
  constructor(file: BlockFile, owner: FaultyStorage) {
    this.#file = file;
    this.#owner = owner;
  }
  get name(): string {
    return this.#file.name;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#file.read(offset, length);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#owner.maybeFail("write", this.name);
    await this.#file.write(offset, data);
  }
  async sync(): Promise<void> {
    this.#owner.maybeFail("sync", this.name);
    await this.#file.sync();
  }
  size(): Promise<number> {
    return this.#file.size();
  }
  truncate(length: number): Promise<void> {
    return this.#file.truncate(length);
  }
  close(): Promise<void> {
    return this.#file.close();
  }
}
