/**
 * The deterministic random numbers of the benches and tools: a generated
 * workload (`bench/compare.ts`, `bench/hot_paths.ts`, the part benches'
 * n-gram keys, `tools/checkpoint_measure.ts`) must be the same in every run,
 * so that two runs time the same work.
 *
 * @module
 */

/**
 * A small deterministic PRNG (mulberry32): floats in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeRandom } from "./random.ts";
 * const a = makeRandom(7);
 * const b = makeRandom(7);
 * assert.ok(a() === b() && a() < 1);
 * ```
 */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
