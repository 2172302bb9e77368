/**
 * The deterministic simulator: a fault-injecting `BlockStorage`, a seeded
 * scheduler and clock, workloads, the oracle of the durability contract, the
 * runner and the shrinker. Import it as `tallytrie/sim`.
 *
 * @example Run one seed and check it passed
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawProfile, runSimulation } from "./mod.ts";
 * const result = await runSimulation({ seed: 1, ops: 50, clients: 2, profile: drawProfile("realistic", 1) });
 * assert.ok(result.violations.length === 0);
 * ```
 *
 * @module
 */

export type { ImageGeometry } from "../lib/image/allocation.ts";
export { drawImageWorkload, type ImageWorkload } from "./churn.ts";
export type { ImageGuardStats } from "./image_guard.ts";
export { SimClock } from "./clock.ts";
export {
  type FaultKind,
  FaultLog,
  type FaultProfile,
  faultProfiles,
  type FaultRecord,
} from "./faults.ts";
export { type Damage } from "./damage.ts";
export { type ExcusedLoss, type Violation } from "./model.ts";
export { eventPrng, hash32, Prng } from "./prng.ts";
export type { CheckpointOptions } from "../lib/engine/epochs.ts";
export {
  drawCheckpointOptions,
  drawDurability,
  drawProfile,
  type DurabilityChoice,
  type ProfileName,
} from "./profiles.ts";
export {
  type RunOptions,
  type RunResult,
  runSimulation,
  type RunStats,
  type StopKind,
} from "./runner.ts";
export { Scheduler } from "./scheduler.ts";
export { shrink, type ShrinkResult } from "./shrink.ts";
export { SimBlockStorage, type WriteObserver } from "./storage.ts";
export {
  generateSteps,
  type SimMutation,
  type SimOp,
  type SimSelector,
  type Step,
  type WorkloadOptions,
} from "./workload.ts";
