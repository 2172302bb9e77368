/**
 * What the simulator must know of the store's private modules to model the
 * store exactly, exported here on purpose. Not part of the module's API:
 * `mod.ts` exports none of it, and it changes with the engine. Each is a
 * value the simulator cannot observe or compute on its own:
 *
 * - {@link listBatchSize}: `list()` reads this many entries per batch, each
 *   batch one state of the store; the simulator's list oracle splits a result
 *   the same way (`sim/list.ts`).
 * - {@link overlayIdBytesMax}: the overlays keep keys up to this long by id,
 *   longer ones in a trie; the simulator's keys straddle it (`sim/keys.ts`),
 *   so both paths run.
 * - {@link quarantineProblem}: the line `verify()` reports for a file an open
 *   moved aside; the simulator sets those lines apart, since it judged the
 *   open that moved the file.
 * - {@link refusedForFailedCompaction}: whether a read was refused because
 *   its path reached a record in the file of a compaction that failed (not
 *   disk trouble): the simulator judges when that may happen (`readable`).
 *
 * The simulator imports nothing else of the store but its public modules
 * (see the layers in docs/ARCHITECTURE.md). The last three come from the
 * engine layer's public modules (`lib/engine/engine.ts`, `recovery.ts`),
 * which lib/store may import; its private files stay its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listBatchSize, overlayIdBytesMax, quarantineProblem } from "./internals.ts";
 * assert.ok(listBatchSize >= 1 && overlayIdBytesMax >= 1);
 * const found = { file: "quarantine-1-wal-1.wal", original: "wal-1.wal", bytes: 32 };
 * assert.match(quarantineProblem(found), /^"quarantine-1-wal-1.wal": 32 bytes /);
 * ```
 *
 * @module
 */

export { listBatchSize } from "./_list.ts";
export { overlayIdBytesMax, refusedForFailedCompaction } from "../engine/engine.ts";
export { quarantineProblem } from "../engine/recovery.ts";
