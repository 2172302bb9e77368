/**
 * The pluggable storage interface. The engine touches the disk only through
 * {@link BlockStorage}: real files ({@link FileBlockStorage}), a plain memory
 * image ({@link MemoryBlockStorage}) or the simulator's fault-injecting disk.
 *
 * Durability model (the contract every implementation keeps and the simulator
 * checks): `write` makes bytes visible to later reads of the same file but not
 * durable; `sync` makes every completed write of that file durable; creating,
 * renaming or removing a file is durable only after `syncDir`.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** One open file of a {@link BlockStorage}. */
export interface BlockFile {
  /** The file's name inside its storage. */
  readonly name: string;
  /**
   * Reads up to `length` bytes at `offset`. Returns fewer bytes only when the
   * file ends first (an empty array at or past the end).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Reads up to `into.length` bytes at `offset` into `into` before it
   * returns, and returns how many (fewer only when the file ends first).
   * Optional: a storage whose reads do not wait offers it (a file, through
   * the page cache); the engine then loads a key's path for a read without
   * an await.
   */
  readSync?(offset: number, into: Uint8Array): number;
  /** Writes all of `data` at `offset`, growing the file if needed. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every completed write of this file durable (fdatasync). */
  sync(): Promise<void>;
  /** The file's current (visible) size in bytes. */
  size(): Promise<number>;
  /** Cuts or extends the file to `length` bytes. Durable after `sync`. */
  truncate(length: number): Promise<void>;
  /** Releases the handle. Pending durability is unaffected. */
  close(): Promise<void>;
}

/** Options of {@link BlockStorage.open}. */
export interface OpenFileOptions {
  /** Create the file if it does not exist (default false). */
  create?: boolean;
  /** Fail if the file exists (default false); implies `create`. */
  exclusive?: boolean;
}

/** A directory of named files. Names are flat: no `/`, no `..`. */
export interface BlockStorage {
  /** A human-readable description (a path, or `memory`) for error messages. */
  readonly description: string;
  /**
   * Opens the named file. Throws `Deno.errors.NotFound` if it does not exist
   * and `create` is not set, `Deno.errors.AlreadyExists` if `exclusive` is set
   * and it does.
   */
  open(name: string, options?: OpenFileOptions): Promise<BlockFile>;
  /** The names of the files in the directory, sorted. */
  list(): Promise<string[]>;
  /** Atomically renames `from` to `to`, replacing `to`. Durable after `syncDir`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes the named file. Durable after `syncDir`. */
  remove(name: string): Promise<void>;
  /** Makes file creations, renames and removals durable (fsync of the directory). */
  syncDir(): Promise<void>;
  /**
   * Takes the directory's exclusive lock, held until `unlock`. Returns false,
   * without waiting, if another holder (in this process or another) has it.
   */
  tryLock(): Promise<boolean>;
  /** Releases the lock taken by `tryLock`. */
  unlock(): Promise<void>;
}

/** A source of time for the engine, injected so the simulator can drive it. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /**
   * Lets other tasks run (I/O completions, timers) before resolving; long
   * work such as a checkpoint's node walk calls it between steps. Absent:
   * the work yields a microtask only, so nothing waiting on I/O runs in its
   * middle (the simulator's plain clock; its `WalkClock` pauses through the
   * scheduler).
   */
  pause?(): Promise<void>;
  /**
   * Resolves after about `ms` milliseconds, letting other tasks run: a
   * background checkpoint sleeps so that writers keep most of the CPU.
   * Absent: it never sleeps.
   */
  sleep?(ms: number): Promise<void>;
}

/**
 * The real monotonic clock. `pause` yields to the event loop with
 * `setImmediate` (about 3 µs here; a zero-delay `setTimeout` is clamped to
 * about 2 ms once nested); `sleep` is a `setTimeout`.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  pause: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
