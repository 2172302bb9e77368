/**
 * The simulator's fault-injecting disk: a {@link BlockStorage} whose every
 * operation completes through a {@link Scheduler}, whose files have a live
 * image (what reads see) and a durable image (what survives a crash), and
 * whose {@link SimBlockStorage.crash} builds the disk a power cut leaves.
 *
 * Model, per file (an inode, shared by its name and every open handle):
 * - a write changes the live image when it completes, and joins the file's
 *   list of completed, unsynced operations (writes and truncates, in
 *   completion order); `sync` moves the operations that had completed when it
 *   was called into the durable image (or, if it fails, marks them lost for
 *   good: fsyncgate);
 * - a crash starts from the durable image and replays the unsynced
 *   operations, each drawn kept, lost or (writes) torn sector by sector, then
 *   the writes still in flight, each drawn torn or lost. Replaying onto what
 *   the crash has built so far gives every torn sector its old contents.
 *
 * Per directory: create, rename and remove change the live namespace when
 * they complete and the durable one at the next `syncDir`; a crash keeps or
 * drops each pending change, never keeping one after an earlier change to the
 * same name was dropped. A file without a durable name vanishes at the crash.
 *
 * Every fault decision comes from {@link eventPrng} keyed by the event's
 * identity: stream `hash32(operation code, hashString(name), epoch)` (the
 * name a handle was opened with, or a rename's source; the epoch counts
 * crashes) and index = that stream's own counter. Crash decisions for an
 * operation use stream `hash32(its stream, crashTag)` and its index.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { AssertionError, StorageIoError } from "../lib/errors.ts";
import type { BlockFile, BlockStorage, OpenFileOptions } from "../lib/storage/block_storage.ts";
import {
  ByteImage,
  checkName,
  checkOpenFileOptions,
  checkRange,
  ioBytesMax,
} from "../lib/storage/shared.ts";
import { checkOptions, type OptionTypes } from "../lib/options.ts";
import type { SimClock } from "./clock.ts";
import { type FaultKind, FaultLog, type FaultProfile, type FaultRecord, none } from "./faults.ts";
import { validateFaultProfile } from "./faults.ts";
import {
  type CrashFile,
  headerLossFault,
  headerWriteLostFault,
  staleTailFault,
} from "./crash_faults.ts";
import { type Damage, DamageMap } from "./damage.ts";
import { eventPrng, hash32, hashBytes, hashString, type Prng } from "./prng.ts";
import { Scheduler } from "./scheduler.ts";

/** The largest simulated file; a larger write fails like a full disk. */
const fileBytesMax = 1 << 30;
/** The most names the directory holds. */
const filesMax = 1 << 16;
/** Unsynced operations kept per file; past it the oldest is written back (as a kernel would). */
const unsyncedOpsMax = 1 << 12;
/** Directory changes kept pending; past it the oldest becomes durable (a journal commit). */
const dirChangesMax = 1 << 16;
/** Distinct event streams (operation kind × file name) per epoch. */
const eventStreamsMax = 1 << 20;
/** The most sectors one torn write spans (a 1 GiB write of 512-byte sectors, unaligned). */
const tearSectorsMax = ioBytesMax / 512 + 1;
/** The share of misdirected writes that vanish rather than land elsewhere. */
const misdirectDropShare = 0.25;
/** The share of a torn write's sectors that reach the disk. */
const tearKeepShare = 0.5;
/** Mixed into an operation's stream to key its crash decisions. */
const crashTag = 0xc7a5;
/** Keys the decisions of the faults a crash itself injects (see `crash_faults.ts`). */
const crashFaultTag = 0xc7f4;
/** Header blocks whose previous durable contents a file keeps (an image's two slots). */
const headerBlockBytes = 4096;
const headerRegionBlocks = 2;

/** The operations that draw event identities, with their stream codes. */
const opCodes = {
  open: 1,
  read: 2,
  write: 3,
  sync: 4,
  size: 5,
  truncate: 6,
  rename: 7,
  remove: 8,
  syncDir: 9,
  list: 10,
} as const;
type OpKind = keyof typeof opCodes;

/** Which event an operation is, for its fault and crash decisions. */
interface EventId {
  readonly stream: number;
  readonly index: number;
}

/** Receives each write that reaches the page cache: file name, offset, bytes (not to be kept changed). */
export type WriteObserver = (file: string, offset: number, data: Uint8Array) => void;

/** A completed (or, while in flight, submitted) write. */
interface WriteOp {
  readonly kind: "write";
  /** The file's operation sequence number, set at completion. */
  seq: number;
  readonly file: string;
  readonly offset: number;
  readonly data: Uint8Array;
  /** Where the bytes reach the disk: `offset`, another offset (misdirected) or nowhere. */
  diskOffset: number | null;
  /** Covered by a failed sync: never durable. */
  poisoned: boolean;
  readonly event: EventId;
}

/** A completed truncate. */
interface TruncateOp {
  readonly kind: "truncate";
  seq: number;
  readonly file: string;
  readonly length: number;
  poisoned: boolean;
  readonly event: EventId;
}

type FileOp = WriteOp | TruncateOp;

/** One file's contents, shared by its directory entry and every open handle. */
class SimInode {
  readonly id: number;
  readonly live: ByteImage = new ByteImage(fileBytesMax);
  readonly durable: ByteImage = new ByteImage(fileBytesMax);
  /** Where the live bytes (what reads see) are not what the engine wrote: see `damage.ts`. */
  liveDamage: DamageMap = new DamageMap();
  /** Where the durable bytes are not what the engine wrote and the disk reported durable. */
  durableDamage: DamageMap = new DamageMap();
  /**
   * The durable contents each 4 KiB block of the header region held before
   * the last write that replaced it whole (a header slot's previous commit),
   * for {@link headerLossFault}'s reverted sector.
   */
  readonly blocksBefore = new Map<number, Uint8Array>();
  /**
   * The header blocks written whole since this machine started (it lost no
   * power since), for {@link headerWriteLostFault}: a write made before the
   * last power loss was read back from the media by the open after it.
   */
  readonly blocksWritten = new Set<number>();
  /** Completed operations not yet synced, in completion order. */
  readonly unsynced: FileOp[] = [];
  /** The sequence number of the last completed operation. */
  opSeq = 0;

  constructor(id: number) {
    this.id = id;
  }
}

/** A directory change not yet made durable by `syncDir`. */
interface DirChange {
  readonly kind: "create" | "rename" | "remove";
  seq: number;
  /** The created or removed name, or the rename's source. */
  readonly name: string;
  /** The rename's target (the name itself otherwise). */
  readonly to: string;
  readonly inode: SimInode;
  readonly event: EventId;
}

/** A write in flight, which a crash may tear. */
interface InflightWrite {
  readonly inode: SimInode;
  readonly op: WriteOp;
}

/**
 * Applies a synced (or written back) operation to a file's durable image and
 * its destroyed ranges: a misdirected write the disk now calls durable
 * destroys its intended range (its bytes never arrived) and the range it
 * landed on; any other write heals the range it covers.
 */
function applyOp(inode: SimInode, op: FileOp): void {
  const image = inode.durable;
  if (op.kind === "truncate") {
    image.resize(op.length);
    inode.durableDamage.clip(op.length);
    return;
  }
  const end = op.offset + op.data.length;
  if (op.diskOffset === op.offset) {
    rememberBlock(inode, op.offset, op.data.length);
    image.write(op.offset, op.data);
    inode.durableDamage.heal(op.offset, end);
    return;
  }
  inode.durableDamage.add(op.offset, end, op.data);
  if (op.diskOffset !== null) land(image, inode.durableDamage, op.diskOffset, op.data);
}

/** Writes `data` at `offset` where it does not belong: the bytes it replaces are destroyed. */
function land(image: ByteImage, damage: DamageMap, offset: number, data: Uint8Array): void {
  const before = new Uint8Array(data.length);
  before.set(image.slice(offset, offset + data.length));
  image.write(offset, data);
  damage.add(offset, offset + data.length, before);
}

/** Keeps the durable block a whole-block write of the header region is about to replace. */
function rememberBlock(inode: SimInode, offset: number, length: number): void {
  if (length !== headerBlockBytes || offset % headerBlockBytes !== 0) return;
  if (offset >= headerRegionBlocks * headerBlockBytes) return;
  const before = new Uint8Array(headerBlockBytes);
  before.set(inode.durable.slice(offset, offset + headerBlockBytes));
  inode.blocksBefore.set(offset, before);
  inode.blocksWritten.add(offset);
}

/** Applies a directory change to a namespace that holds every earlier change to its names. */
function applyDirChange(namespace: Map<string, SimInode>, change: DirChange): void {
  if (change.kind === "create") {
    assert(!namespace.has(change.name), "a durable create needs the name to be free");
    namespace.set(change.name, change.inode);
    return;
  }
  assert(namespace.get(change.name) === change.inode, "a durable change needs its file in place");
  namespace.delete(change.name);
  if (change.kind === "rename") namespace.set(change.to, change.inode);
}

/** Runs `body`, turning a synchronous throw into a rejection. */
function tryNow<T>(body: () => Promise<T>): Promise<T> {
  try {
    return body();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A 32-bit summary of an operation's result, for the trace hash. */
function outcomeHash(result: unknown): number {
  if (result instanceof Uint8Array) return hashBytes(result);
  if (result instanceof SimInode) return result.id;
  if (typeof result === "number") return hash32(result);
  if (Array.isArray(result)) return hashString(result.join("\0"));
  return 0;
}

/** How a {@link Disk} is configured; kept across crashes. */
interface DiskConfig {
  readonly seed: number;
  readonly profile: FaultProfile;
  readonly sectorBytes: number;
  readonly scheduler: Scheduler;
  readonly epoch: number;
  readonly log: FaultLog;
  /** Told of every write that reaches the page cache: the bytes as the engine meant them. */
  onWrite?: WriteObserver;
  /** Files offer `readSync` (see {@link SimStorageOptions.syncReads}). */
  readonly syncReads: boolean;
  /** A file's close completes when scheduled (see {@link SimStorageOptions.scheduledCloses}). */
  readonly scheduledCloses: boolean;
}

/**
 * The state and operations of one simulated machine's disk between crashes.
 * Module-private: {@link SimBlockStorage} and its files are the public face.
 */
class Disk {
  readonly config: DiskConfig;
  trace: number;
  crashed = false;
  locked = false;
  readonly live = new Map<string, SimInode>();
  readonly durable = new Map<string, SimInode>();
  /** The handles opened on this machine and not closed yet (a crash drops them with it). */
  readonly handles = new Set<{ readonly name: string }>();
  #dirChanges: DirChange[] = [];
  #dirSeq = 0;
  #counters = new Map<number, number>();
  #countersContext: number | undefined;
  #inflight = new Map<number, InflightWrite | undefined>();
  #nextInodeId = 1;

  constructor(config: DiskConfig, trace: number) {
    assert(config.sectorBytes === 512 || config.sectorBytes === 4096, "sectors are 512 B or 4 KiB");
    assert(Number.isSafeInteger(config.seed), "the seed must be a safe integer");
    this.config = config;
    this.trace = trace;
  }

  get profile(): FaultProfile {
    return this.config.profile;
  }

  /** Throws unless the machine is still running. */
  checkAlive(operation: string, name: string): void {
    if (this.crashed) {
      throw new StorageIoError(
        `Cannot ${operation} "${name}": the simulated machine crashed; ` +
          `use the storage crash() returned`,
      );
    }
  }

  /** Draws the next identity of the `kind` operations on `name`. */
  event(kind: OpKind, name: string): EventId {
    const context = this.config.scheduler.context;
    if (context !== this.#countersContext) {
      // Counters restart in each context: decisions depend on the context
      // and the operation's place within it, not on what came before.
      this.#counters.clear();
      this.#countersContext = context;
    }
    const place = context === undefined
      ? this.config.epoch
      : hash32(this.config.epoch, context % 0x1_0000_0000);
    const stream = hash32(opCodes[kind], hashString(name), place);
    const index = this.#counters.get(stream) ?? 0;
    assert(this.#counters.size < eventStreamsMax, "too many distinct event streams");
    this.#counters.set(stream, index + 1);
    return { stream, index };
  }

  #prng(event: EventId): Prng {
    return eventPrng(this.config.seed, event.stream, event.index);
  }

  #crashPrng(event: EventId): Prng {
    return eventPrng(this.config.seed, hash32(event.stream, crashTag), event.index);
  }

  /** Appends a fault record stamped with this epoch. */
  record(record: Omit<FaultRecord, "epoch">): void {
    this.config.log.add({ ...record, epoch: this.config.epoch });
  }

  /** Mixes an operation and its outcome into the trace hash. */
  #mix(label: string, outcome: number, detail: number): void {
    this.trace = hash32(this.trace, hashString(label), outcome, detail);
  }

  /**
   * Submits `body` to the scheduler; the promise settles when the scheduler
   * completes it. A crash cancels it: the promise then never settles, as the
   * process that awaited it is gone.
   */
  schedule<T>(label: string, body: () => T, write?: InflightWrite): Promise<T> {
    if (this.crashed) {
      throw new StorageIoError(
        `Cannot ${label}: the simulated machine crashed; use the storage crash() returned`,
      );
    }
    return new Promise<T>((resolve, reject) => {
      const ticket = this.config.scheduler.submit(label, () => {
        assert(this.#inflight.delete(ticket), "a completion must be in flight");
        let result: T;
        try {
          result = body();
        } catch (error) {
          if (error instanceof AssertionError) throw error; // A simulator bug: stop the run.
          this.#mix(label, 2, hashString(String(error)));
          reject(error);
          return;
        }
        this.#mix(label, 1, outcomeHash(result));
        resolve(result);
      });
      this.#inflight.set(ticket, write);
    });
  }

  open(name: string, options: OpenFileOptions): Promise<SimInode> {
    checkName(name);
    const exclusive = options.exclusive === true;
    const create = options.create === true || exclusive;
    const event = this.event("open", name);
    return this.schedule(`open ${name}`, () => this.#completeOpen(name, create, exclusive, event));
  }

  #completeOpen(name: string, create: boolean, exclusive: boolean, event: EventId): SimInode {
    const existing = this.live.get(name);
    if (existing !== undefined) {
      if (!exclusive) return existing;
      throw new Deno.errors.AlreadyExists(
        `Cannot create "${name}" on the simulated disk: it already exists`,
      );
    }
    if (!create) {
      throw new Deno.errors.NotFound(
        `Cannot open "${name}" on the simulated disk: no such file; pass { create: true } to create it`,
      );
    }
    if (this.#prng(event).chance(this.profile.noSpace)) {
      this.record({ kind: "noSpace", file: name, offset: 0, length: 0, detail: "create refused" });
      throw new StorageIoError(
        `Cannot create "${name}": no space left on the device, the disk is full`,
      );
    }
    if (this.live.size >= filesMax) {
      throw new StorageIoError(
        `Cannot create "${name}" on the simulated disk: it already holds ${filesMax} files; remove some`,
      );
    }
    const inode = new SimInode(this.#nextInodeId++);
    this.live.set(name, inode);
    this.#recordDirChange({ kind: "create", seq: 0, name, to: name, inode, event });
    assert(this.live.get(name) === inode, "create must leave the new file under its name");
    return inode;
  }

  read(inode: SimInode, name: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length);
    const event = this.event("read", name);
    return this.schedule(
      `read ${name}@${offset}+${length}`,
      () => this.#readBytes(inode, name, offset, length, event),
    );
  }

  /**
   * A read that completes before it returns (`BlockFile.readSync`): what the
   * page cache holds now, with the same faults a scheduled read draws.
   */
  readSync(inode: SimInode, name: string, offset: number, into: Uint8Array): number {
    checkRange(offset, into.length);
    this.checkAlive("read", name);
    const event = this.event("read", name);
    const label = `read now ${name}@${offset}+${into.length}`;
    let data: Uint8Array;
    try {
      data = this.#readBytes(inode, name, offset, into.length, event);
    } catch (error) {
      if (error instanceof AssertionError) throw error; // A simulator bug: stop the run.
      this.#mix(label, 2, hashString(String(error)));
      throw error;
    }
    this.#mix(label, 1, outcomeHash(data));
    into.set(data);
    return data.length;
  }

  /** The bytes a read of `[offset, offset + length)` returns, or its latent error, as drawn for `event`. */
  #readBytes(
    inode: SimInode,
    name: string,
    offset: number,
    length: number,
    event: EventId,
  ): Uint8Array {
    const data = inode.live.slice(offset, offset + length); // A copy: the caller may keep it.
    assert(data.length <= length, "read must not return more than asked");
    if (data.length === 0) return data; // Nothing on the disk to fail.
    const rng = this.#prng(event);
    const draw = rng.unit();
    if (draw < this.profile.readError) {
      this.record({ kind: "readError", file: name, offset, length, detail: "latent sector error" });
      throw new StorageIoError(
        `Cannot read "${name}" at byte ${offset}: latent sector error on the simulated disk`,
      );
    }
    if (draw < this.profile.readError + this.profile.bitFlip) {
      const bit = rng.below(data.length * 8);
      data[bit >>> 3] ^= 1 << (bit & 7);
      const detail = `bit ${bit & 7} flipped in a read of ${data.length} bytes at ${offset}`;
      this.record({ kind: "bitFlip", file: name, offset: offset + (bit >>> 3), length: 1, detail });
    }
    return data;
  }

  write(inode: SimInode, name: string, offset: number, data: Uint8Array): Promise<void> {
    checkRange(offset, data.length);
    const event = this.event("write", name);
    const op: WriteOp = {
      kind: "write",
      seq: 0,
      file: name,
      offset,
      data: data.slice(), // A copy: the caller may reuse `data`.
      diskOffset: offset,
      poisoned: false,
      event,
    };
    const label = `write ${name}@${offset}+${data.length}`;
    return this.schedule(label, () => this.#completeWrite(inode, op), { inode, op });
  }

  #completeWrite(inode: SimInode, op: WriteOp): void {
    const { file, offset, data } = op;
    if (data.length === 0) return; // Like pwrite: an empty write never grows the file.
    if (offset + data.length > fileBytesMax) {
      throw new StorageIoError(
        `Cannot write "${file}" at byte ${offset}: the file would exceed ${fileBytesMax} bytes, ` +
          `the simulated disk's limit`,
      );
    }
    const p = this.profile;
    const rng = this.#prng(op.event);
    const draw = rng.unit();
    if (draw < p.noSpace) {
      this.record({ kind: "noSpace", file, offset, length: data.length, detail: "write refused" });
      throw new StorageIoError(
        `Cannot write "${file}" at byte ${offset}: no space left on the device, the disk is full`,
      );
    }
    if (draw < p.noSpace + p.shortWrite) this.#shortWrite(inode, op, rng);
    if (draw < p.noSpace + p.shortWrite + p.misdirectedWrite) {
      op.diskOffset = this.#misdirect(inode, op, rng);
    }
    this.#applyWrite(inode, op);
  }

  /** Stores a drawn sector-aligned prefix of `op`, then throws. */
  #shortWrite(inode: SimInode, op: WriteOp, rng: Prng): never {
    const sector = this.config.sectorBytes;
    const end = op.offset + op.data.length;
    const firstBoundary = (Math.floor(op.offset / sector) + 1) * sector;
    const boundaries = firstBoundary < end ? Math.floor((end - 1 - firstBoundary) / sector) + 1 : 0;
    const choice = rng.below(boundaries + 1); // 0: nothing reaches the disk.
    const kept = choice === 0 ? 0 : firstBoundary + (choice - 1) * sector - op.offset;
    assert(kept >= 0 && kept < op.data.length, "a short write keeps a strict prefix");
    if (kept > 0) {
      this.#applyWrite(inode, { ...op, data: op.data.slice(0, kept), diskOffset: op.offset });
    }
    const detail = `only the first ${kept} bytes were written`;
    this.record({
      kind: "shortWrite",
      file: op.file,
      offset: op.offset,
      length: op.data.length,
      detail,
    });
    throw new StorageIoError(
      `Cannot write "${op.file}" at byte ${op.offset}: short write, only ${kept} of ` +
        `${op.data.length} bytes reached the disk`,
    );
  }

  /** Draws where a misdirected write lands: another sector-aligned offset, or nowhere. */
  #misdirect(inode: SimInode, op: WriteOp, rng: Prng): number | null {
    const sector = this.config.sectorBytes;
    const slots = Math.floor(Math.max(inode.live.length, op.offset) / sector) + 1;
    const own = op.offset % sector === 0 ? op.offset / sector : -1;
    const choices = slots - (own >= 0 ? 1 : 0);
    let target: number | null = null;
    if (!rng.chance(misdirectDropShare) && choices > 0) {
      let slot = rng.below(choices);
      if (own >= 0 && slot >= own) slot++; // Skip the intended slot.
      target = slot * sector;
      assert(target !== op.offset && target % sector === 0, "a misdirected write lands elsewhere");
    }
    const detail = target === null
      ? "the write never reaches the disk"
      : `the bytes reach the disk at byte ${target} instead`;
    this.record({
      kind: "misdirectedWrite",
      file: op.file,
      offset: op.offset,
      length: op.data.length,
      detail,
    });
    return target;
  }

  #applyWrite(inode: SimInode, op: WriteOp): void {
    assert(op.data.length > 0, "only non-empty writes are recorded");
    inode.live.write(op.offset, op.data);
    inode.liveDamage.heal(op.offset, op.offset + op.data.length); // The page cache holds them.
    this.#pushUnsynced(inode, op);
    this.config.onWrite?.(op.file, op.offset, op.data);
  }

  #pushUnsynced(inode: SimInode, op: FileOp): void {
    op.seq = ++inode.opSeq;
    inode.unsynced.push(op);
    if (inode.unsynced.length > unsyncedOpsMax) {
      const oldest = inode.unsynced.shift()!; // Written back by the kernel on its own.
      if (!oldest.poisoned) applyOp(inode, oldest);
    }
    assert(inode.unsynced.length <= unsyncedOpsMax, "the unsynced list must stay bounded");
  }

  sync(inode: SimInode, name: string): Promise<void> {
    const mark = inode.opSeq; // Covers what completed before the call.
    const event = this.event("sync", name);
    return this.schedule(`sync ${name}`, () => {
      if (this.#prng(event).chance(this.profile.fsyncFail)) {
        let covered = 0;
        for (const op of inode.unsynced) {
          if (op.seq <= mark && !op.poisoned) {
            op.poisoned = true;
            covered++;
          }
        }
        const detail = `${covered} unsynced operations will be lost at the crash`;
        this.record({ kind: "fsyncFail", file: name, offset: 0, length: 0, detail });
        throw new StorageIoError(
          `Cannot sync "${name}": fsync failed with an I/O error; the data it covered is lost ` +
            `at the next crash, reopen the store`,
        );
      }
      // Poisoned operations stay listed, never applied, so the crash reports them lost.
      let kept = 0;
      for (const op of inode.unsynced) {
        if (op.seq <= mark && !op.poisoned) applyOp(inode, op);
        else inode.unsynced[kept++] = op;
      }
      inode.unsynced.length = kept;
      assert(inode.unsynced.every((op) => op.seq > mark || op.poisoned), "sync flushes its part");
    });
  }

  size(inode: SimInode, name: string): Promise<number> {
    this.event("size", name);
    return this.schedule(`size ${name}`, () => inode.live.length);
  }

  truncate(inode: SimInode, name: string, length: number): Promise<void> {
    assert(Number.isSafeInteger(length) && length >= 0, "length must be a non-negative integer");
    const event = this.event("truncate", name);
    return this.schedule(`truncate ${name} to ${length}`, () => {
      if (length > fileBytesMax) {
        throw new StorageIoError(
          `Cannot truncate "${name}" to ${length} bytes: the simulated disk's limit is ` +
            `${fileBytesMax} bytes`,
        );
      }
      inode.live.resize(length);
      inode.liveDamage.clip(length);
      this.#pushUnsynced(inode, {
        kind: "truncate",
        seq: 0,
        file: name,
        length,
        poisoned: false,
        event,
      });
      assert(inode.live.length === length, "truncate must set the length");
    });
  }

  rename(from: string, to: string): Promise<void> {
    checkName(from);
    checkName(to);
    const event = this.event("rename", from);
    return this.schedule(`rename ${from} to ${to}`, () => {
      const inode = this.live.get(from);
      if (inode === undefined) {
        throw new Deno.errors.NotFound(
          `Cannot rename "${from}" on the simulated disk: no such file`,
        );
      }
      if (from === to) return; // POSIX: renaming a file onto itself does nothing.
      this.live.delete(from);
      this.live.set(to, inode);
      this.#recordDirChange({ kind: "rename", seq: 0, name: from, to, inode, event });
    });
  }

  remove(name: string): Promise<void> {
    checkName(name);
    const event = this.event("remove", name);
    return this.schedule(`remove ${name}`, () => {
      const inode = this.live.get(name);
      if (inode === undefined) {
        throw new Deno.errors.NotFound(
          `Cannot remove "${name}" on the simulated disk: no such file`,
        );
      }
      this.live.delete(name);
      this.#recordDirChange({ kind: "remove", seq: 0, name, to: name, inode, event });
    });
  }

  syncDir(): Promise<void> {
    const mark = this.#dirSeq;
    const event = this.event("syncDir", "");
    return this.schedule("syncDir", () => {
      if (this.#prng(event).chance(this.profile.fsyncFail)) {
        const pending = this.#dirChanges.filter((change) => change.seq <= mark)
          .map((change) => `${change.kind} ${change.to}`);
        const detail = `directory fsync failed; its changes stay pending: ${
          pending.join(", ") || "none"
        }`;
        this.record({ kind: "fsyncFail", file: "", offset: 0, length: 0, detail });
        throw new StorageIoError(
          "Cannot sync the directory: fsync failed with an I/O error; reopen the store",
        );
      }
      let count = 0;
      for (; count < this.#dirChanges.length && this.#dirChanges[count].seq <= mark; count++) {
        applyDirChange(this.durable, this.#dirChanges[count]);
      }
      this.#dirChanges.splice(0, count);
      assert(this.#dirChanges.every((change) => change.seq > mark), "syncDir must flush its part");
    });
  }

  list(): Promise<string[]> {
    this.event("list", "");
    return this.schedule("list", () => [...this.live.keys()].sort());
  }

  #recordDirChange(change: DirChange): void {
    change.seq = ++this.#dirSeq;
    this.#dirChanges.push(change);
    if (this.#dirChanges.length > dirChangesMax) {
      applyDirChange(this.durable, this.#dirChanges.shift()!); // The journal commits on its own.
    }
    assert(this.#dirChanges.length <= dirChangesMax, "pending directory changes stay bounded");
  }

  /** Gives a post-crash file its bytes, durable and live, and its destroyed ranges. */
  adopt(name: string, file: CrashFile): void {
    assert(!this.live.has(name), "each surviving name is adopted once");
    const inode = new SimInode(this.#nextInodeId++);
    const bytes = file.image.contents();
    inode.durable.write(0, bytes);
    inode.live.write(0, bytes);
    inode.durableDamage = file.damage.copy();
    inode.liveDamage = file.damage.copy();
    for (const [offset, block] of file.blocksBefore) inode.blocksBefore.set(offset, block);
    this.live.set(name, inode);
    this.durable.set(name, inode);
  }

  /**
   * Stops this machine and builds the disk it leaves: the namespace (durable
   * entries plus the pending changes a crash keeps), and for each surviving
   * file its durable image plus the unsynced and in-flight writes it keeps;
   * then the faults the crash itself injects (`crash_faults.ts`).
   */
  crash(): Disk {
    this.checkAlive("crash", "the simulated machine");
    this.crashed = true;
    const namespace = this.#crashNamespace();
    const inflight = this.#cancelInflight();
    const next = new Disk({ ...this.config, epoch: this.config.epoch + 1 }, 0);
    const files = new Map<SimInode, CrashFile>();
    const names = [...namespace.keys()].sort();
    const byName = new Map<string, CrashFile>();
    for (const name of names) {
      const inode = namespace.get(name)!;
      let file = files.get(inode);
      if (file === undefined) {
        file = this.#crashImage(inode, inflight.get(inode) ?? []);
        files.set(inode, file);
      }
      byName.set(name, file);
    }
    this.#crashFaults(byName);
    let trace = hash32(this.trace, crashTag, this.config.epoch);
    for (const name of names) {
      const file = byName.get(name)!;
      next.adopt(name, file);
      trace = hash32(trace, hashString(name), hashBytes(file.image.contents()));
    }
    for (const name of [...this.live.keys()].sort()) {
      if (namespace.has(name)) continue;
      const detail = "its directory entry was not durable";
      this.record({ kind: "crashFileLost", file: name, offset: 0, length: 0, detail });
    }
    const detail = `${names.length} files survive: ${names.join(", ")}`;
    this.record({ kind: "crash", file: "", offset: 0, length: 0, detail });
    next.trace = trace;
    assert(next.live.size === names.length, "every surviving name must be adopted");
    return next;
  }

  /**
   * The faults a power loss injects besides the fates of unsynced writes:
   * the newest image header slot lost, a header write of this life gone
   * astray, stale bytes past the log's tail. Each
   * is drawn once per crash, keyed by the epoch and the step being driven.
   */
  #crashFaults(files: Map<string, CrashFile>): void {
    const context = this.config.scheduler.context;
    const place = context === undefined
      ? this.config.epoch
      : hash32(this.config.epoch, context % 0x1_0000_0000);
    const rng = eventPrng(this.config.seed, hash32(crashFaultTag, place), 0);
    const lose = rng.chance(this.profile.headerLost);
    const stale = rng.chance(this.profile.staleTail);
    // A fork of its own, so the draws above (and every seed's older faults) stay as they were.
    const astray = rng.fork(3);
    const writeLost = astray.chance(this.profile.headerWriteLost);
    const records = [
      lose ? headerLossFault(files, rng.fork(1)) : undefined,
      writeLost ? headerWriteLostFault(files, astray) : undefined,
      stale ? staleTailFault(files, this.config.sectorBytes, rng.fork(2)) : undefined,
    ];
    for (const record of records) if (record !== undefined) this.record(record);
  }

  /** The durable namespace plus the pending changes the crash keeps, in order. */
  #crashNamespace(): Map<string, SimInode> {
    const namespace = new Map(this.durable);
    const blocked = new Set<string>(); // Names with a dropped change: later changes drop too.
    for (const change of this.#dirChanges) {
      const names = change.kind === "rename" ? [change.name, change.to] : [change.name];
      const drawnLost = this.#crashPrng(change.event).chance(this.profile.dirEntryLost);
      const forced = names.some((name) => blocked.has(name));
      if (!drawnLost && !forced) {
        applyDirChange(namespace, change);
        continue;
      }
      for (const name of names) blocked.add(name);
      const what = change.kind === "rename" ? `rename to "${change.to}"` : change.kind;
      const why = drawnLost ? "" : ", forced: an earlier change to the same name was lost";
      this.record({
        kind: "dirEntryLost",
        file: change.name,
        offset: 0,
        length: 0,
        detail: what + why,
      });
    }
    assert(namespace.size <= filesMax + dirChangesMax, "the crash namespace stays bounded");
    return namespace;
  }

  /** Cancels every in-flight completion; returns the writes among them, per file. */
  #cancelInflight(): Map<SimInode, WriteOp[]> {
    const byInode = new Map<SimInode, WriteOp[]>();
    for (const [ticket, write] of this.#inflight) {
      assert(this.config.scheduler.cancel(ticket), "an in-flight completion must be pending");
      if (write === undefined || write.op.data.length === 0) continue;
      const list = byInode.get(write.inode) ?? [];
      list.push(write.op);
      byInode.set(write.inode, list);
    }
    this.#inflight.clear();
    assert(this.#inflight.size === 0, "a crash leaves nothing in flight");
    return byInode;
  }

  /** The bytes `inode` holds after the crash, and where they are destroyed. */
  #crashImage(inode: SimInode, inflight: WriteOp[]): CrashFile {
    const file: CrashFile = {
      image: inode.durable.copy(),
      damage: inode.durableDamage.copy(),
      blocksBefore: new Map(inode.blocksBefore),
      blocksWritten: new Set(inode.blocksWritten),
    };
    assert(inode.unsynced.length <= unsyncedOpsMax, "the unsynced list is bounded");
    for (const op of inode.unsynced) this.#crashFileOp(file, op);
    for (const op of inflight) {
      const rng = this.#crashPrng(op.event);
      const base = { file: op.file, offset: op.offset, length: op.data.length };
      if (rng.unit() < this.profile.tornWrite) {
        const kept = this.#tear(file, op, op.offset, rng);
        this.record({ ...base, kind: "crashInflightTorn", detail: describeKept(kept), kept });
      } else {
        this.record({ ...base, kind: "crashInflightDropped", detail: "still in flight" });
      }
    }
    return file;
  }

  /**
   * Replays one completed, unsynced operation as the crash draws it. A
   * misdirected write's intended bytes missing is ordinary crash loss here
   * (it was never synced); the bytes it lands on are destroyed.
   */
  #crashFileOp(file: CrashFile, op: FileOp): void {
    const p = this.profile;
    const rng = this.#crashPrng(op.event);
    const draw = rng.unit();
    if (op.kind === "truncate") {
      const kept = !op.poisoned && draw >= p.lostWrite;
      if (kept) {
        file.image.resize(op.length);
        file.damage.clip(op.length);
      }
      const kind: FaultKind = op.poisoned ? "crashFsyncLost" : kept ? "crashKept" : "crashDropped";
      const detail = `truncate to ${op.length}`;
      this.record({ kind, file: op.file, offset: op.length, length: 0, detail });
      return;
    }
    const base = { file: op.file, offset: op.diskOffset ?? op.offset, length: op.data.length };
    if (op.poisoned) {
      this.record({ ...base, kind: "crashFsyncLost", detail: "covered by a failed sync" });
    } else if (op.diskOffset === null) {
      this.record({ ...base, kind: "crashDropped", detail: "misdirected into nowhere" });
    } else if (draw < p.tornWrite) {
      const kept = this.#tear(file, op, op.diskOffset, rng);
      this.record({ ...base, kind: "crashTorn", detail: describeKept(kept), kept });
    } else if (draw < p.tornWrite + p.lostWrite) {
      this.record({ ...base, kind: "crashDropped", detail: "unsynced" });
    } else {
      this.#keep(file, op, op.diskOffset, 0, op.data.length);
      this.record({ ...base, kind: "crashKept", detail: "unsynced" });
    }
  }

  /**
   * Puts `op.data[from, to)` at `diskOffset + from` of the crash image: the
   * engine's own bytes heal their range; a misdirected write's destroy theirs.
   */
  #keep(file: CrashFile, op: WriteOp, diskOffset: number, from: number, to: number): void {
    const data = op.data.subarray(from, to);
    const at = diskOffset + from;
    if (diskOffset !== op.offset) return land(file.image, file.damage, at, data);
    if (from === 0 && to === op.data.length && at < headerRegionBlocks * headerBlockBytes) {
      if (data.length === headerBlockBytes && at % headerBlockBytes === 0) {
        const before = new Uint8Array(headerBlockBytes);
        before.set(file.image.slice(at, at + headerBlockBytes));
        file.blocksBefore.set(at, before);
        file.blocksWritten.add(at);
      }
    }
    file.image.write(at, data);
    file.damage.heal(at, at + data.length);
  }

  /** Keeps a drawn subset of the sectors `op` spans at `diskOffset`; returns the kept byte ranges. */
  #tear(file: CrashFile, op: WriteOp, diskOffset: number, rng: Prng): [number, number][] {
    const sector = this.config.sectorBytes;
    const end = diskOffset + op.data.length;
    const first = Math.floor(diskOffset / sector);
    const sectors = Math.floor((end - 1) / sector) - first + 1;
    assert(sectors >= 1 && sectors <= tearSectorsMax, "a torn write spans a bounded sector count");
    const kept: [number, number][] = [];
    for (let index = 0; index < sectors; index++) {
      const start = Math.max(diskOffset, (first + index) * sector);
      const stop = Math.min(end, (first + index + 1) * sector);
      if (!rng.chance(tearKeepShare)) continue;
      this.#keep(file, op, diskOffset, start - diskOffset, stop - diskOffset);
      const last = kept[kept.length - 1];
      if (last !== undefined && last[1] === start) last[1] = stop;
      else kept.push([start, stop]);
    }
    assert(kept.every(([start, stop]) => start < stop && stop <= end), "kept ranges lie inside");
    return kept;
  }
}

/** `kept [0,512) [1024,1100)`, or `kept nothing`. */
function describeKept(kept: readonly (readonly [number, number])[]): string {
  if (kept.length === 0) return "torn: kept nothing";
  return `torn: kept ${kept.map(([start, stop]) => `[${start},${stop})`).join(" ")}`;
}

/** An open handle of a {@link SimBlockStorage} file. */
class SimBlockFile implements BlockFile {
  readonly name: string;
  readonly #disk: Disk;
  readonly #inode: SimInode;
  #closed = false;
  /** Present when the disk offers reads that complete at once ({@link SimStorageOptions.syncReads}). */
  readonly readSync?: (offset: number, into: Uint8Array) => number;

  constructor(disk: Disk, name: string, inode: SimInode) {
    this.#disk = disk;
    this.name = name;
    this.#inode = inode;
    disk.handles.add(this);
    if (disk.config.syncReads) {
      this.readSync = (offset, into) => {
        this.#check("read");
        return this.#disk.readSync(this.#inode, this.name, offset, into);
      };
    }
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return tryNow(() => {
      this.#check("read");
      return this.#disk.read(this.#inode, this.name, offset, length);
    });
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return tryNow(() => {
      this.#check("write");
      return this.#disk.write(this.#inode, this.name, offset, data);
    });
  }

  sync(): Promise<void> {
    return tryNow(() => {
      this.#check("sync");
      return this.#disk.sync(this.#inode, this.name);
    });
  }

  size(): Promise<number> {
    return tryNow(() => {
      this.#check("get the size of");
      return this.#disk.size(this.#inode, this.name);
    });
  }

  truncate(length: number): Promise<void> {
    return tryNow(() => {
      this.#check("truncate");
      return this.#disk.truncate(this.#inode, this.name, length);
    });
  }

  close(): Promise<void> {
    return tryNow(() => {
      this.#disk.checkAlive("close", this.name);
      if (this.#disk.config.scheduledCloses) {
        return this.#disk.schedule(`close ${this.name}`, () => this.#markClosed());
      }
      this.#markClosed();
      return Promise.resolve();
    });
  }

  #markClosed(): void {
    this.#closed = true;
    this.#disk.handles.delete(this);
  }

  #check(operation: string): void {
    this.#disk.checkAlive(operation, this.name);
    if (this.#closed) {
      throw new StorageIoError(
        `Cannot ${operation} "${this.name}" on the simulated disk: the file is closed; open it again`,
      );
    }
  }
}

/** The keys {@link SimStorageOptions} takes, with their types (unknown keys are a TypeError). */
const simStorageOptionTypes: OptionTypes = {
  seed: "number",
  profile: "object",
  sectorBytes: "number",
  scheduler: "object",
  autoRun: "boolean",
  syncReads: "boolean",
  scheduledCloses: "boolean",
};

/** Options of a {@link SimBlockStorage}. */
export interface SimStorageOptions {
  /** The seed of every fault decision (default 0). */
  seed?: number;
  /** How often each fault happens (default {@link none}). */
  profile?: FaultProfile;
  /** The unit a crash tears writes into (default 512). */
  sectorBytes?: 512 | 4096;
  /**
   * The scheduler every operation completes through (default: a new one,
   * seeded from `seed`, reordering as `profile.reorder` says).
   */
  scheduler?: Scheduler;
  /**
   * For the default scheduler only: complete each operation by itself, so
   * plain `await`s work without a driver (default false).
   */
  autoRun?: boolean;
  /**
   * Files offer `readSync`, a read that completes before it returns (as a
   * file read through the page cache does), besides the scheduled `read`
   * (default false).
   */
  syncReads?: boolean;
  /**
   * A file's close completes when the scheduler steps it, as other calls
   * do, rather than at once (default false): other I/O completes while an
   * engine awaits a close.
   */
  scheduledCloses?: boolean;
}

/**
 * A fault-injecting, crashable {@link BlockStorage} for the deterministic
 * simulator. Every operation completes only when its {@link Scheduler} steps
 * it (or by itself, with `autoRun`); faults follow the {@link FaultProfile};
 * {@link SimBlockStorage.crash} returns the disk a power cut leaves and
 * retires this instance. The same seed, profile and calls give the same
 * results, bytes and {@link SimBlockStorage.traceHash}.
 *
 * @example Unsynced data is at the crash's mercy; synced data is not
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimBlockStorage } from "./storage.ts";
 * import { Scheduler } from "./scheduler.ts";
 * import { none } from "./faults.ts";
 * const scheduler = new Scheduler({ seed: 7 });
 * const profile = { ...none, name: "lossy", lostWrite: 1 };
 * const storage = new SimBlockStorage({ seed: 7, profile, scheduler });
 * const drive = async <T>(promise: Promise<T>): Promise<T> => {
 *   await scheduler.runUntilIdle(100);
 *   return await promise;
 * };
 * const file = await drive(storage.open("data", { create: true }));
 * await drive(file.write(0, new Uint8Array([1, 2])));
 * await drive(file.sync());
 * await drive(storage.syncDir());
 * await drive(file.write(2, new Uint8Array([3])));
 * const after = storage.crash();
 * assert.ok(after.readDurable("data").length === 2); // The unsynced byte was lost.
 * assert.ok(storage.faults.some((fault) => fault.kind === "crashDropped"));
 * ```
 */
export class SimBlockStorage implements BlockStorage {
  #disk: Disk;

  /**
   * Builds an empty, unlocked simulated disk.
   *
   * @param options Seed, fault profile, sector size and scheduler.
   * @throws {RangeError} If the profile's probabilities are out of range.
   * @throws {TypeError} If both `scheduler` and `autoRun` are given.
   */
  constructor(options: SimStorageOptions = {}) {
    checkOptions(options, simStorageOptionTypes, {
      operation: "build a SimBlockStorage",
      object: "options",
      key: "option",
      keyPrefix: "",
    });
    const seed = options.seed ?? 0;
    const profile = options.profile ?? none;
    validateFaultProfile(profile);
    if (options.scheduler !== undefined && options.autoRun !== undefined) {
      throw new TypeError(
        "Cannot build a SimBlockStorage with both a scheduler and autoRun: " +
          "pass autoRun to the Scheduler instead",
      );
    }
    const scheduler = options.scheduler ??
      new Scheduler({
        seed: hash32(seed, 0x5c4d),
        reorder: profile.reorder,
        autoRun: options.autoRun,
      });
    const sectorBytes = options.sectorBytes ?? 512;
    const log = new FaultLog();
    const syncReads = options.syncReads ?? false;
    const scheduledCloses = options.scheduledCloses ?? false;
    const config = {
      seed,
      profile,
      sectorBytes,
      scheduler,
      epoch: 0,
      log,
      syncReads,
      scheduledCloses,
    };
    this.#disk = new Disk(config, hash32(seed));
    assert(this.#disk.live.size === 0, "a new storage is empty");
  }

  /** `simulated disk (seed 7, hostile, epoch 2)`. */
  get description(): string {
    const { seed, profile, epoch } = this.#disk.config;
    return `simulated disk (seed ${seed}, ${profile.name}, epoch ${epoch})`;
  }

  /** The seed of every fault decision. */
  get seed(): number {
    return this.#disk.config.seed;
  }

  /** The fault profile. */
  get profile(): FaultProfile {
    return this.#disk.config.profile;
  }

  /** The sector size torn writes are cut into. */
  get sectorBytes(): number {
    return this.#disk.config.sectorBytes;
  }

  /** The scheduler every operation completes through (shared across crashes). */
  get scheduler(): Scheduler {
    return this.#disk.config.scheduler;
  }

  /** The simulated clock (the scheduler's). */
  get clock(): SimClock {
    return this.#disk.config.scheduler.clock;
  }

  /** How many crashes came before this instance. */
  get epoch(): number {
    return this.#disk.config.epoch;
  }

  /** Whether {@link SimBlockStorage.crash} retired this instance. */
  get crashed(): boolean {
    return this.#disk.crashed;
  }

  /** The machine's fault log (shared across crashes). */
  get faultLog(): FaultLog {
    return this.#disk.config.log;
  }

  /** Every injected fault and crash outcome so far, oldest first (shared across crashes). */
  get faults(): readonly FaultRecord[] {
    return this.#disk.config.log.records;
  }

  /** How many faults of each kind happened (shared across crashes). */
  get faultCounts(): Readonly<Record<FaultKind, number>> {
    return this.#disk.config.log.counts;
  }

  /**
   * Opens the named file once the scheduler completes the call.
   *
   * @param name A flat file name.
   * @param options Whether to create the file, and whether it must be new.
   * @returns A handle to the file.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist and `create` is not set.
   * @throws {Deno.errors.AlreadyExists} If `exclusive` is set and the file exists.
   * @throws {StorageIoError} If the disk is full (`noSpace`) or the machine crashed.
   */
  open(name: string, options: OpenFileOptions = {}): Promise<BlockFile> {
    return tryNow(async () => {
      checkOpenFileOptions(options);
      const disk = this.#disk;
      const inode = await disk.open(name, options);
      return new SimBlockFile(disk, name, inode);
    });
  }

  /**
   * Lists the live files.
   *
   * @returns The file names, sorted.
   */
  list(): Promise<string[]> {
    return tryNow(() => this.#disk.list());
  }

  /**
   * Renames `from` to `to`, replacing `to`; durable after {@link SimBlockStorage.syncDir}.
   *
   * @param from The existing file's name.
   * @param to The new name.
   * @throws {TypeError} If either name is not a flat file name.
   * @throws {Deno.errors.NotFound} If `from` does not exist.
   */
  rename(from: string, to: string): Promise<void> {
    return tryNow(() => this.#disk.rename(from, to));
  }

  /**
   * Removes the named file; durable after {@link SimBlockStorage.syncDir}.
   *
   * @param name The file's name.
   * @throws {TypeError} If `name` is not a flat file name.
   * @throws {Deno.errors.NotFound} If the file does not exist.
   */
  remove(name: string): Promise<void> {
    return tryNow(() => this.#disk.remove(name));
  }

  /**
   * Makes the directory changes completed before the call durable.
   *
   * @throws {StorageIoError} If the directory fsync fails (`fsyncFail`): the changes stay pending.
   */
  syncDir(): Promise<void> {
    return tryNow(() => this.#disk.syncDir());
  }

  /**
   * Takes this machine's lock (resolves at once, without the scheduler).
   *
   * @returns True if taken, false if already held.
   */
  tryLock(): Promise<boolean> {
    return tryNow(() => {
      this.#disk.checkAlive("lock", this.description);
      const taken = !this.#disk.locked;
      this.#disk.locked = true;
      return Promise.resolve(taken);
    });
  }

  /** Releases the lock; does nothing if it is not held. */
  unlock(): Promise<void> {
    return tryNow(() => {
      this.#disk.checkAlive("unlock", this.description);
      this.#disk.locked = false;
      return Promise.resolve();
    });
  }

  /**
   * Cuts the power. Returns a new storage holding what the disk keeps (same
   * seed, profile, sector size, scheduler and fault log; unlocked): durable
   * images and entries, plus each unsynced write kept, lost or torn by sector,
   * each in-flight write torn or lost, each pending directory change kept or
   * lost, all as drawn. In-flight completions are cancelled (their promises
   * never settle) and every later call on this instance or its files rejects
   * with `StorageIoError`.
   *
   * @returns The storage after the crash.
   * @throws {StorageIoError} If this instance already crashed.
   */
  crash(): SimBlockStorage {
    const disk = this.#disk.crash();
    const { seed, profile, scheduler, syncReads, scheduledCloses } = disk.config;
    const next = new SimBlockStorage({ seed, profile, scheduler, syncReads, scheduledCloses });
    next.#disk = disk;
    assert(this.#disk.crashed && !disk.crashed, "a crash retires this instance only");
    return next;
  }

  /**
   * The names of the files opened on this machine and not closed yet (a
   * name once per handle), for the oracle: a store that closed holds none.
   *
   * @returns The names, sorted.
   */
  openFileNames(): string[] {
    return [...this.#disk.handles].map((handle) => handle.name).sort();
  }

  /**
   * The live file names (what `list` would return now), for tests and the oracle.
   *
   * @returns The names, sorted.
   */
  fileNames(): string[] {
    return [...this.#disk.live.keys()].sort();
  }

  /**
   * The names whose directory entries are durable.
   *
   * @returns The names, sorted.
   */
  durableFileNames(): string[] {
    return [...this.#disk.durable.keys()].sort();
  }

  /**
   * A copy of what reads of the named live file see.
   *
   * @param name A live file name.
   * @returns The bytes.
   * @throws {Deno.errors.NotFound} If no live file has that name.
   */
  readLive(name: string): Uint8Array {
    const inode = this.#disk.live.get(name);
    if (inode === undefined) {
      throw new Deno.errors.NotFound(`Cannot read "${name}": no live file has that name`);
    }
    return inode.live.contents();
  }

  /**
   * A copy of the durable image of the file under a durable name: what every
   * crash keeps (unsynced writes may add to it).
   *
   * @param name A durable file name.
   * @returns The bytes.
   * @throws {Deno.errors.NotFound} If no durable entry has that name.
   */
  readDurable(name: string): Uint8Array {
    const inode = this.#disk.durable.get(name);
    if (inode === undefined) {
      throw new Deno.errors.NotFound(`Cannot read "${name}": no durable entry has that name`);
    }
    return inode.durable.contents();
  }

  /**
   * Where the named live file's bytes, as reads see them now, are not what
   * the engine wrote: ranges a fault destroyed and no later write of the
   * engine's has replaced (see `damage.ts`). Empty for a file no fault hit,
   * and for a name with no live file.
   *
   * @param name A file name.
   * @returns The destroyed ranges, sorted by start.
   */
  damage(name: string): readonly Damage[] {
    return this.#disk.live.get(name)?.liveDamage.ranges() ?? [];
  }

  /**
   * Tells `observer` of every write that reaches the page cache from now on
   * (on this instance and the storages its crashes return), with the bytes
   * and offset the engine meant, whatever the disk later does with them.
   *
   * @param observer Called with the file name, the offset and the bytes.
   */
  observeWrites(observer: WriteObserver): void {
    this.#disk.config.onWrite = observer;
  }

  /**
   * A hash of every completed operation and its outcome since the machine
   * started (carried across crashes, with each crash's surviving bytes).
   *
   * @returns An integer in `[0, 2^32)`.
   */
  traceHash(): number {
    return this.#disk.trace;
  }
}
