/**
 * The deterministic random numbers of the benches and tools: a generated
 * workload (`bench/compare.ts`, `bench/hot_paths.ts`, the part benches'
 * n-gram keys, `tools/checkpoint_measure.ts`) must be the same in every run,
 * so that two runs time the same work. The generator (mulberry32) is the
 * n-gram fixtures' own (`lib/ngram/fixtures.ts`), which `lib/` may not take
 * from `bench/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeRandom } from "./random.ts";
 * const a = makeRandom(7);
 * const b = makeRandom(7);
 * assert.ok(a() === b() && a() < 1);
 * ```
 *
 * @module
 */

export { makeRandom } from "../lib/ngram/fixtures.ts";
