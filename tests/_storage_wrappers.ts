/**
 * Storage wrappers for tests: one records the disk after every mutating
 * operation (to reopen the store at every write boundary and at torn offsets
 * inside a write), one fails chosen operations.
 *
 * @module
 */

import type { BlockFile, BlockStorage, OpenFileOptions } from "../lib/storage/block_storage.ts";
import { MemoryBlockStorage } from "../lib/storage/memory.ts";
import { StorageIoError } from "../lib/errors.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { decodeHeaderSlot, headerSlotOffsets } from "../lib/image/header.ts";

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
 * Forwards every call to an inner storage; subclasses override the calls they
 * watch. `wrapFile` wraps each opened file.
 */
export class ForwardingStorage implements BlockStorage {
  readonly description: string;
  readonly inner: BlockStorage;
  constructor(inner: BlockStorage, description: string) {
    this.inner = inner;
    this.description = description;
  }
  async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    return this.wrapFile(await this.inner.open(name, options));
  }
  wrapFile(file: BlockFile): BlockFile {
    return file;
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
    return this.inner.syncDir();
  }
  tryLock(): Promise<boolean> {
    return this.inner.tryLock();
  }
  unlock(): Promise<void> {
    return this.inner.unlock();
  }
}

/** Forwards every call to an inner file; subclasses override the calls they watch. */
export class ForwardingFile implements BlockFile {
  readonly inner: BlockFile;
  constructor(inner: BlockFile) {
    this.inner = inner;
  }
  get name(): string {
    return this.inner.name;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.inner.write(offset, data);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Wraps a {@link MemoryBlockStorage} and snapshots it before every create,
 * write, truncate, rename and remove. `boundaries[i].before` is the disk a
 * crash right before operation i leaves (MemoryBlockStorage makes every
 * completed operation durable, so these are exactly the write boundaries).
 */
export class RecordingStorage extends ForwardingStorage {
  override readonly inner: MemoryBlockStorage;
  readonly boundaries: Boundary[] = [];

  constructor(inner = new MemoryBlockStorage()) {
    super(inner, "recording memory");
    this.inner = inner;
  }

  /** The disk now: the boundary after the last operation. */
  final(): MemoryBlockStorage {
    return this.inner.clone();
  }

  record(label: string, write?: Boundary["write"]): void {
    this.boundaries.push({ label, before: this.inner.clone(), write });
  }

  override async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    const exists = (await this.inner.list()).includes(name);
    if (!exists && (options?.create || options?.exclusive)) this.record(`create ${name}`);
    return await super.open(name, options);
  }
  override wrapFile(file: BlockFile): BlockFile {
    return new RecordingFile(file, this);
  }
  override rename(from: string, to: string): Promise<void> {
    this.record(`rename ${from} ${to}`);
    return super.rename(from, to);
  }
  override remove(name: string): Promise<void> {
    this.record(`remove ${name}`);
    return super.remove(name);
  }
}

class RecordingFile extends ForwardingFile {
  readonly #owner: RecordingStorage;
  constructor(file: BlockFile, owner: RecordingStorage) {
    super(file);
    this.#owner = owner;
  }
  override write(offset: number, data: Uint8Array): Promise<void> {
    this.#owner.record(`write ${this.name}@${offset}+${data.length}`, {
      name: this.name,
      offset,
      data: data.slice(),
    });
    return super.write(offset, data);
  }
  override truncate(length: number): Promise<void> {
    this.#owner.record(`truncate ${this.name} ${length}`);
    return super.truncate(length);
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

/**
 * Operations {@link FaultyStorage} can fail; `zeroWrite` is a write of zeros
 * only (the WAL's preallocation), which `write` also counts.
 */
export type FaultyOperation =
  | "write"
  | "zeroWrite"
  | "sync"
  | "syncDir"
  | "open"
  | "truncate"
  | "flipRead";

/**
 * Wraps a storage and makes the next chosen operations throw, like a disk
 * returning EIO. Set `failNext.sync = 1` to fail the next fsync.
 */
export class FaultyStorage extends ForwardingStorage {
  readonly failNext: Partial<Record<FaultyOperation, number>> = {};
  readonly failures: string[] = [];
  /**
   * Where a flipped read flips its bit: this many bytes before the end of
   * what was read; an array gives one position per flipped read, in turn.
   */
  flipBack: number | number[] = 10;

  /** The position of the next flip, counted back from the end. */
  nextFlipBack(): number {
    return Array.isArray(this.flipBack) ? this.flipBack.shift() ?? 10 : this.flipBack;
  }

  constructor(inner: BlockStorage = new MemoryBlockStorage()) {
    super(inner, "faulty memory");
  }

  maybeFail(operation: FaultyOperation, what: string): void {
    const left = this.failNext[operation] ?? 0;
    if (left <= 0) return;
    this.failNext[operation] = left - 1;
    this.failures.push(`${operation} ${what}`);
    throw new Error(`injected ${operation} failure on ${what}: EIO`);
  }

  override async open(name: string, options?: OpenFileOptions): Promise<BlockFile> {
    this.maybeFail("open", name);
    return await super.open(name, options);
  }
  override wrapFile(file: BlockFile): BlockFile {
    return new FaultyFile(file, this);
  }
  override async syncDir(): Promise<void> {
    this.maybeFail("syncDir", "directory");
    await super.syncDir();
  }
}

class FaultyFile extends ForwardingFile {
  readonly #owner: FaultyStorage;
  constructor(file: BlockFile, owner: FaultyStorage) {
    super(file);
    this.#owner = owner;
  }
  /** With `failNext.flipRead`, returns the bytes with one bit flipped `flipBack` bytes before their end. */
  override async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await super.read(offset, length);
    try {
      this.#owner.maybeFail("flipRead", this.name);
    } catch {
      const at = Math.max(0, bytes.length - this.#owner.nextFlipBack());
      bytes[at] ^= 0x04;
    }
    return bytes;
  }
  override async write(offset: number, data: Uint8Array): Promise<void> {
    this.#owner.maybeFail("write", this.name);
    if (data.every((byte) => byte === 0)) this.#owner.maybeFail("zeroWrite", this.name);
    await super.write(offset, data);
  }
  override async sync(): Promise<void> {
    this.#owner.maybeFail("sync", this.name);
    await super.sync();
  }
  override async truncate(length: number): Promise<void> {
    this.#owner.maybeFail("truncate", this.name);
    await super.truncate(length);
  }
}

/** A file whose fsyncs fail while its storage's `failing` is set. */
class FailingSyncFile extends ForwardingFile {
  readonly #storage: FailingSyncStorage;

  constructor(inner: BlockFile, storage: FailingSyncStorage) {
    super(inner);
    this.#storage = storage;
  }

  override sync(): Promise<void> {
    if (this.#storage.failing) {
      return Promise.reject(new StorageIoError(`Cannot sync "${this.name}": injected failure`));
    }
    return super.sync();
  }
}

/** A storage whose files' fsyncs fail (a `StorageIoError`) while `failing` is set. */
export class FailingSyncStorage extends ForwardingStorage {
  failing = false;

  override wrapFile(file: BlockFile): BlockFile {
    return new FailingSyncFile(file, this);
  }
}

/**
 * Memory where the power fails during the next write of a valid header of
 * `image.tt` into slot A: only `[keptFrom, keptTo)` of it reaches the disk
 * (a torn write of sectors; none by default, the header write lost), and
 * `crashed` is the disk it leaves. The write fails, as the process is gone.
 */
export class TornHeaderWrite extends ForwardingStorage {
  override readonly inner: MemoryBlockStorage;
  readonly keptFrom: number;
  readonly keptTo: number;
  crashed: MemoryBlockStorage | undefined;
  constructor(inner: MemoryBlockStorage, keptFrom = 0, keptTo = 0) {
    super(inner, "memory, the power cut in a header write");
    this.inner = inner;
    this.keptFrom = keptFrom;
    this.keptTo = keptTo;
  }
  override wrapFile(file: BlockFile): BlockFile {
    return file.name === imageFileName ? new TornHeaderFile(file, this) : file;
  }
}

class TornHeaderFile extends ForwardingFile {
  readonly #owner: TornHeaderWrite;
  constructor(file: BlockFile, owner: TornHeaderWrite) {
    super(file);
    this.#owner = owner;
  }
  override async write(offset: number, data: Uint8Array): Promise<void> {
    const owner = this.#owner;
    const header = offset === headerSlotOffsets[0] && typeof decodeHeaderSlot(data) === "object";
    if (!header || owner.crashed !== undefined) return await super.write(offset, data);
    if (owner.keptTo > owner.keptFrom) {
      await super.write(owner.keptFrom, data.subarray(owner.keptFrom, owner.keptTo));
    }
    owner.crashed = owner.inner.clone();
    throw new StorageIoError("the power failed during the header write (injected)");
  }
}
