/**
 * The simulator in CI: a fixed range of seeds with faults, crashes and
 * restarts must pass every durability check, and a seed must replay to the
 * same trace hash.
 */

import assert from "node:assert/strict";
import {
  drawDurability,
  drawProfile,
  type RunOptions,
  type RunResult,
  runSimulation,
} from "../sim/mod.ts";

/** The seeds `deno task test` runs; `deno task soak` goes far beyond. */
const seedsFirst = 1;
const seedsLast = 200;
const opsPerSeed = 500;
/** The chance per step that the process runs out of memory, in the memory smoke test. */
const memoryPressureSmoke = 0.01;

Deno.test(`simulator: seeds ${seedsFirst}..${seedsLast}, ${opsPerSeed} ops each, mixed faults, no violation`, async () => {
  let crashes = 0;
  let faults = 0;
  const reached = {
    closeCrashesInside: 0,
    listsPastBatch: 0,
    scansSplit: 0,
    scansStopped: 0,
    refusedPastMaxSafe: 0,
    boundChecks: 0,
    fanOutMax: 0,
    walkPauses: 0,
    writesInWalks: 0,
  };
  for (let seed = seedsFirst; seed <= seedsLast; seed++) {
    const profile = drawProfile("mixed", seed);
    const durability = drawDurability("mixed", seed);
    const result = await runSimulation({ seed, ops: opsPerSeed, clients: 4, profile, durability });
    const first = result.violations[0];
    assert.equal(
      first,
      undefined,
      first &&
        `seed ${seed}: ${first.property}: ${first.message}\nreproduce with: deno task sim --seed ${seed} --ops ${opsPerSeed} --profile mixed --durability mixed`,
    );
    assert.ok(result.stats.acked > 0, `seed ${seed} acknowledged writes`);
    crashes += result.stats.crashes;
    reached.closeCrashesInside += result.stats.closeCrashesInside;
    reached.listsPastBatch += result.stats.listsPastBatch;
    reached.scansSplit += result.stats.scansSplit;
    reached.scansStopped += result.stats.scansStopped;
    reached.refusedPastMaxSafe += result.stats.refusedPastMaxSafe;
    reached.boundChecks += result.stats.boundChecks;
    reached.fanOutMax = Math.max(reached.fanOutMax, result.stats.fanOutMax);
    reached.walkPauses += result.stats.walkPauses;
    reached.writesInWalks += result.stats.writesInWalks;
    faults += Object.entries(result.stats.faults)
      .filter(([kind]) => !kind.startsWith("crash"))
      .reduce((sum, [, count]) => sum + count, 0);
  }
  assert.ok(crashes > seedsLast, `the range crashed ${crashes} times`);
  assert.ok(faults > seedsLast, `the range injected ${faults} faults`);
  // What the workload must keep reaching, or its checks go blind (see docs/SIMULATION.md).
  assert.ok(
    reached.closeCrashesInside > seedsLast / 2,
    `crashes inside close: ${reached.closeCrashesInside}`,
  );
  assert.ok(reached.listsPastBatch > seedsLast, `lists past one batch: ${reached.listsPastBatch}`);
  // A scan's passes split only at loads: scans must meet lazily loaded stores.
  assert.ok(reached.scansSplit > seedsLast / 2, `scans split by a load: ${reached.scansSplit}`);
  assert.ok(reached.scansStopped > seedsLast / 2, `scans stopped: ${reached.scansStopped}`);
  assert.ok(reached.fanOutMax > 48, `a Node256: ${reached.fanOutMax} children`);
  assert.ok(
    reached.refusedPastMaxSafe > 0,
    `adds refused past 2^53: ${reached.refusedPastMaxSafe}`,
  );
  assert.ok(reached.boundChecks > 10 * seedsLast, `bound checks: ${reached.boundChecks}`);
  // Checkpoint walks must pause on the seeds that draw it, with writes landing in them (D8).
  assert.ok(reached.walkPauses > seedsLast / 4, `walk pauses: ${reached.walkPauses}`);
  assert.ok(reached.writesInWalks > seedsLast / 2, `writes in walks: ${reached.writesInWalks}`);
});

/**
 * Runs seeds 1..`seeds` (mixed profile and durability) with `extra` options,
 * each without a violation; `flag` is the command line that reproduces one.
 */
async function runSeeds(
  seeds: number,
  extra: Partial<RunOptions>,
  flag: string,
  each: (result: RunResult, durability: string) => void,
): Promise<void> {
  for (let seed = 1; seed <= seeds; seed++) {
    const durability = drawDurability("mixed", seed);
    const result = await runSimulation({
      seed,
      ops: opsPerSeed,
      clients: 4,
      profile: drawProfile("mixed", seed),
      durability,
      ...extra,
    });
    const first = result.violations[0];
    assert.equal(
      first,
      undefined,
      first &&
        `seed ${seed}: ${first.property}: ${first.message}\nreproduce with: deno task sim --seed ${seed} --ops ${opsPerSeed} --profile mixed --durability mixed ${flag}`,
    );
    each(result, durability ?? "strict");
  }
}

Deno.test("simulator: with the process running out of memory, no acknowledged write is lost or doubled", async () => {
  const seeds = 100;
  let refused = 0;
  let relaxedRefused = 0;
  const flag = `--memory-pressure ${memoryPressureSmoke}`;
  await runSeeds(seeds, { memoryPressure: memoryPressureSmoke }, flag, (result, durability) => {
    refused += result.stats.outOfMemory;
    if (durability === "relaxed") relaxedRefused += result.stats.outOfMemory;
  });
  assert.ok(refused >= seeds / 4, `the store refused ${refused} calls for lack of memory`);
  assert.ok(relaxedRefused > 0, "relaxed stores met it too");
});

/** The memory budget of the budget smoke test: a few KiB, so every checkpoint evicts. */
const memoryBudgetSmoke = 8192;

Deno.test("simulator: with a memory budget of a few KiB, evictions lose and double nothing", async () => {
  const seeds = 60;
  let evictions = 0;
  let oneSlabCaches = 0;
  const memory = { probes: 0, checks: 0, writersWaiting: 0, relocations: 0, rounds: 0 };
  const flag = `--memory-budget ${memoryBudgetSmoke}`;
  await runSeeds(seeds, { memoryBudget: memoryBudgetSmoke }, flag, (result) => {
    evictions += result.stats.evictions;
    if (result.stats.slabCacheSlabsMin === 1) oneSlabCaches++;
    for (const [name, count] of Object.entries(result.stats.memory)) {
      if (name in memory) memory[name as keyof typeof memory] += count;
    }
  });
  assert.ok(evictions >= seeds * 20, `the budget evicted ${evictions} subtrees`);
  // Walks that read slabs again after an eviction (see RunOptions.slabCacheSlabsMin).
  assert.ok(oneSlabCaches > seeds / 4, `seeds with a one-slab cache: ${oneSlabCaches}`);
  // The memory bounds judged something (see sim/memory_bound.ts): none of them went idle.
  assert.ok(memory.probes >= seeds && memory.checks >= seeds * 10, JSON.stringify(memory));
  assert.ok(memory.writersWaiting > 0 && memory.relocations > 0, JSON.stringify(memory));
  assert.ok(memory.rounds >= seeds * 10, `bound-work judged ${memory.rounds} rounds`);
});

Deno.test("simulator: one seed replays to the same trace hash; another seed differs", async () => {
  const options = { seed: 42, ops: 300, clients: 3, profile: drawProfile("hostile", 42) };
  const first = await runSimulation(options);
  const again = await runSimulation(options);
  assert.equal(first.traceHash, again.traceHash);
  assert.deepEqual(first.stats.faults, again.stats.faults);
  assert.equal(first.stats.acked, again.stats.acked);
  const other = await runSimulation({ ...options, seed: 43 });
  assert.notEqual(other.traceHash, first.traceHash);
});

Deno.test("simulator: replaying the steps of a run reproduces it", async () => {
  const options = { seed: 7, ops: 200, clients: 2, profile: drawProfile("mixed", 7) };
  const first = await runSimulation(options);
  const replayed = await runSimulation({ ...options, steps: first.steps });
  assert.equal(replayed.traceHash, first.traceHash);
});
