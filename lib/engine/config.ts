/**
 * The resolved options an engine runs with: what `openStore` makes of its
 * options once each is checked (in `lib/store/`). Everything here is in
 * range; the engine asserts, it does not check again.
 *
 * @module
 */

import type { ImageGeometry } from "../image/allocation.ts";
import type { Clock } from "../storage/block_storage.ts";
import type { EpochConfig } from "./epochs.ts";

/** When a write resolves. */
export type Durability = "strict" | "relaxed";

/**
 * How `openStore` loads the image's trie: `"eager"` loads it whole
 * before resolving (reads and scans then never wait for the disk; open
 * takes time and memory in proportion to the store); `"lazy"` reads only
 * the root, and every other node on first use; `"auto"` is eager when the
 * image's records fit the slab cache (64 MiB, about four million short
 * keys), lazy otherwise.
 */
export type LoadMode = "auto" | "eager" | "lazy";

/** The resolved options an engine runs with. */
export interface EngineConfig {
  /** When writes resolve. */
  durability: Durability;
  /** WAL segment size at which a new segment starts. */
  segmentBytes: number;
  /** The clock for timings and epochs. */
  clock: Clock;
  /** Checkpoint triggers. */
  epochs: EpochConfig;
  /** How open loads the image's trie. */
  load: LoadMode;
  /** The geometry of image files the engine creates (see `allocation.ts`). */
  geometry: ImageGeometry;
  /** The bytes the trie's live nodes may take after a checkpoint (see `_budget.ts`); undefined: no limit. */
  memoryBudget?: number;
  /** The fewest slabs the slab cache keeps under the budget (the simulator's; default `cacheSlabsMin`). */
  cacheSlabsMin?: number;
}
