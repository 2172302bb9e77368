/**
 * What an engine reports of itself: `stats()` (the store's `StoreStats`,
 * its memory under a budget) and the counters the simulator and tests read
 * (`writeCounters`). Types only, apart from the engine so that its file
 * holds what it does.
 *
 * @module
 */

import type { EvictWalkWork, TrieMemory, TrieRelocations } from "../art/art.ts";
import type { ImageSpace } from "../image/image_file.ts";
import type { WalStats } from "../wal/wal.ts";
import type { BudgetWork } from "./_budget_work.ts";
import type { WarmUpStats } from "./_warm.ts";
import type { Durability } from "./config.ts";
import type { EpochStats } from "./epochs.ts";
import type { RecoveryStats } from "./recovery.ts";

/** The trie's memory and the budget's work, as `stats().memory` reports them. */
export interface MemoryStats extends TrieMemory {
  /** The `memoryBudget` option, or null for none. */
  budget: number | null;
  /** Subtrees the budget evicted since open (each loads again when read). */
  evictions: number;
  /** Bytes of nodes those evictions freed. */
  evictedBytes: number;
  /**
   * Bytes of image slabs cached for loads. The budget counts them: it lets
   * the cache keep an eighth of it (at least 8 slabs), the trie the rest.
   */
  cacheBytes: number;
  /**
   * Records loaded from the image since open because an operation needed
   * them (reads, writes, lists, scans): faults, each a stub made a node.
   * The open's own loads are not counted, nor the warm-up's
   * (`warmUp.nodesLoaded`, which counts too what it built for a read that
   * met a stub while it ran); `image.nodesLoaded` counts all three.
   */
  faults: number;
  /**
   * Records read since open to answer a read without loading them: under a
   * budget, a `get` or `getMany` that meets a stub no read met in the
   * budget's current admission epoch (an epoch per budget's worth evicted)
   * reads the records below it and installs none; a read that meets it
   * again in that epoch loads it.
   */
  readThrough: number;
  /** Bytes of the budget's cooling queue (a sixteenth of it, 1,032 to 256 MiB); 0 without one. */
  queueBytes: number;
}

/** What `Store.stats` reports. */
export interface StoreStats {
  /** Keys in the store (strict mode: durable keys). */
  keys: number;
  /** The LSN of the last accepted write. */
  lastLsn: number;
  /**
   * Writes waiting for their key's path to load from the image (and writes
   * made after them, which wait their turn): they get an LSN once it has.
   */
  queuedWrites: number;
  /** Every write at or below this LSN is durable. */
  durableLsn: number;
  /** The durability mode. */
  durability: Durability;
  /** Group-commit writes, fsyncs, bytes and segments created and removed since open. */
  wal: WalStats;
  /**
   * What open found and did: the image's coverage, records replayed, the
   * torn tail cut (bytes and where), files removed (each provably held
   * nothing acknowledged) and files moved aside (bytes it could not explain:
   * empty normally), time taken.
   */
  recovery: RecoveryStats;
  /** Epochs and checkpoints since open (see {@link EpochStats}). */
  epochs: EpochStats;
  /** The image file: its committed generation and coverage, its space, nodes loaded lazily. */
  image: ImageSpace & {
    generation: number;
    coverageLsn: number;
    nodesLoaded: number;
    /** Nodes of the trie still on disk (stubs): 0 once it is loaded whole. */
    unloadedNodes: number;
  };
  /** The trie's memory (see {@link MemoryStats}). */
  memory: MemoryStats;
  /**
   * The background load of an `"auto"` open (see {@link WarmUpStats}):
   * `image.unloadedNodes` says what is still on disk.
   */
  warmUp: WarmUpStats;
}

/** What `writeCounters` (in `lib/store/store.ts`) reads. */
export interface WriteCounters {
  /** The LSN of the last write accepted (as `stats().lastLsn`). */
  lastLsn: number;
  /** Writes waiting for a load (as `stats().queuedWrites`). */
  queuedWrites: number;
  /** Atomic commits taken by the path for additions to ASCII string keys. */
  asciiBatches: number;
  /** Image nodes loaded so far (as `stats().image.nodesLoaded`): the simulator sees a scan's loads. */
  nodesLoaded: number;
  /**
   * The trie's memory as it is (as `stats().memory`, without applying a
   * durable group first): the simulator samples it between I/O completions.
   */
  memory: MemoryStats;
  /** The trie's relocations (`Art.relocations`): a memory budget's, and compactions'. */
  relocations: TrieRelocations;
  /**
   * Automatic checkpoints started for writes that ended (committed or not):
   * a write that takes the arena past the budget's bound waits for one.
   */
  automaticCheckpointsEnded: number;
  /** Whether a checkpoint (or a verify) is queued or running, or an automatic one about to start. */
  checkpointing: boolean;
  /**
   * Subtrees a list or a scan pins now (what it loaded, until it read it):
   * no eviction takes them, so the simulator's memory bound is not judged
   * meanwhile.
   */
  subtreesPinned: number;
  /**
   * Compactions since open whose new file loads read fresh addresses from
   * (each counted at its capture), and whether one's file is read now:
   * while none is, no eviction makes a stub that a load refuses (the
   * simulator's `readable` judge).
   */
  compactions: { started: number; fileRead: boolean };
  /**
   * Whether logged writes wait in the overlays, not applied yet: a round
   * keeps their keys' paths (a failed log keeps them until a reopen).
   */
  writesPending: boolean;
  /** Whether the budget's round after a load is queued and has not run yet. */
  evictionRoundQueued: boolean;
  /** Subtrees the budget evicted while a checkpoint's snapshot was live. */
  evictionsBeside: number;
  /** The memory budget's work: its rounds, and the walks of its clock hand (`Art.evictWalks`). */
  budgetWork: BudgetWork & EvictWalkWork;
}
