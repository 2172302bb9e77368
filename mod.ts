/**
 * tallytrie: a durable, crash-safe counting dictionary for Deno. An ordered
 * map from byte keys to non-negative integer counters, held in an adaptive
 * radix trie, written through a write-ahead log with group commit and
 * checkpointed incrementally into an image file that opens lazily.
 *
 * @example Count words durably
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir);
 * await Promise.all(["the", "cat", "the"].map((word) => store.add(word, 1)));
 * assert.ok((await store.get("the")) === 2);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  type Durability,
  type Entry,
  type ListOptions,
  type LoadMode,
  type OpenOptions,
  openStore,
  Store,
  type StoreOptions,
  type StoreStats,
  type VerifyReport,
} from "./lib/store/store.ts";
export type { CheckpointResult } from "./lib/engine/checkpointer.ts";
export type { CheckpointOptions, CheckpointPreset, EpochStats } from "./lib/engine/epochs.ts";
export type { ImageSpace } from "./lib/image/image_file.ts";
export type { HeaderSlotReport, HeaderSlotState } from "./lib/image/header.ts";
export type {
  QuarantinedFile,
  QuarantinedFileFound,
  RecoveryStats,
  RemovedFile,
  TornTail,
} from "./lib/engine/recovery.ts";
export type { WalStats } from "./lib/wal/wal.ts";
export type { TrieMemory } from "./lib/art/art.ts";
export type { MemoryStats, WarmUpState, WarmUpStats } from "./lib/engine/engine.ts";
export type { ImageVerifyReport } from "./lib/image/verify.ts";
export {
  type AtomicCheck,
  type AtomicCommitter,
  type AtomicMutation,
  AtomicOperation,
  type CommitResult,
} from "./lib/store/atomic.ts";
export type { KeyLike, ListSelector } from "./lib/store/keys.ts";
export {
  CorruptionError,
  MemoryLimitError,
  StorageIoError,
  StoreClosedError,
  StoreLockedError,
} from "./lib/errors.ts";
export {
  type BlockFile,
  type BlockStorage,
  type Clock,
  type OpenFileOptions,
  systemClock,
} from "./lib/storage/block_storage.ts";
export { FileBlockStorage } from "./lib/storage/file.ts";
export { MemoryBlockStorage } from "./lib/storage/memory.ts";
export { atomicOpsMax, getManyKeysMax, keyBytesMax } from "./lib/limits.ts";
export {
  checkOptions,
  type OptionsPlace,
  type OptionTest,
  type OptionType,
  type OptionTypes,
} from "./lib/options.ts";
