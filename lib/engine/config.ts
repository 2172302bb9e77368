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
 * How `openStore` loads the image's trie. `"auto"` (the default): open
 * reads the root (and replays the WAL tail) and returns, in milliseconds at
 * any size; the rest loads in the background (`stats().warmUp`), in slices
 * that yield to reads and writes, which meanwhile load what they need
 * themselves: the whole trie without a `memoryBudget` (once loaded, as fast
 * as an eager open), under one up to three quarters of the trie's part of
 * it. `"eager"` loads the whole trie before open resolves (reads and scans
 * then never wait for the disk; open takes time and memory in proportion
 * to the store). `"lazy"` reads only the root, and every other node on
 * first use (nothing in the background).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBlockStorage, openStore } from "../../mod.ts";
 * const storage = new MemoryBlockStorage();
 * const store = await openStore({ storage });
 * const batch = store.atomic();
 * for (let i = 0; i < 500; i++) batch.add(`word ${i}`, i);
 * await batch.commit();
 * await store.close(); // its last checkpoint puts every count in the image
 *
 * const reopened = await openStore({ storage }); // "auto": the root now, the rest in the background
 * assert.ok((await reopened.get("word 7")) === 7); // a read loads what it needs meanwhile
 * while (reopened.stats().warmUp.state === "running") {
 *   await new Promise((resolve) => setTimeout(resolve, 0));
 * }
 * assert.ok(reopened.stats().image.unloadedNodes === 0); // loaded whole
 * await reopened.close();
 *
 * const eager = await openStore({ storage, load: "eager" }); // whole before open resolves
 * assert.ok(eager.stats().image.unloadedNodes === 0);
 * await eager.close();
 * ```
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
