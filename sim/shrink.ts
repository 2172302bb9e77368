/**
 * Shrinking: reduces a failing run to a small one that still fails the same
 * property, by dropping chunks of steps (halves, then quarters, down to single
 * steps), folding the clients onto fewer, then turning faults off one at a
 * time, then dropping steps again.
 *
 * Step contents come from the seed and the step id, not from a running
 * stream, so dropping a step leaves every other step as it was.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { FaultProfile } from "./faults.ts";
import { type RunOptions, type RunResult, runSimulation } from "./runner.ts";
import type { Step } from "./workload.ts";

/** Runs the shrinker may spend (each is one simulation). */
export const shrinkRunsMax = 2_000;

/** What the shrinker found. */
export interface ShrinkResult {
  /** The smallest failing run found. */
  result: RunResult;
  /** Its options (steps and profile), ready for a trace. */
  options: RunOptions;
  /** Simulations run while shrinking. */
  runs: number;
}

const numericFaults = [
  "misdirectedWrite",
  "shortWrite",
  "noSpace",
  "bitFlip",
  "readError",
  "fsyncFail",
  "dirEntryLost",
  "tornWrite",
  "lostWrite",
  "headerLost",
  "headerWriteLost",
  "staleTail",
] as const;

/** Shrinks a failing run; `property` is the violation to keep (default: the first one's). */
export async function shrink(
  options: RunOptions,
  failing: RunResult,
  property?: string,
): Promise<ShrinkResult> {
  assert(failing.violations.length > 0, "only a failing run shrinks");
  const target = property ?? failing.violations[0].property;
  let best = { options: { ...options, steps: failing.steps }, result: failing };
  let runs = 0;
  const attempt = async (candidate: RunOptions): Promise<boolean> => {
    if (runs >= shrinkRunsMax) return false;
    runs++;
    const result = await runSimulation({ ...candidate, stopAtFirst: true });
    if (!result.violations.some((violation) => violation.property === target)) return false;
    best = { options: { ...candidate, steps: result.steps }, result };
    return true;
  };
  await dropSteps(best.options, attempt, () => best.options);
  await mergeClients(() => best.options, attempt);
  await simplifyProfile(() => best.options, attempt);
  await dropSteps(best.options, attempt, () => best.options);
  return { result: best.result, options: best.options, runs };
}

/** Drops chunks of steps while the run still fails, from large chunks to single steps. */
async function dropSteps(
  start: RunOptions,
  attempt: (candidate: RunOptions) => Promise<boolean>,
  current: () => RunOptions,
): Promise<void> {
  let chunk = Math.max(1, Math.floor((start.steps?.length ?? 0) / 2));
  for (let round = 0; chunk >= 1 && round < 64; round++) {
    let index = 0;
    while (index < (current().steps?.length ?? 0)) {
      const steps = current().steps!;
      const candidate: Step[] = [...steps.slice(0, index), ...steps.slice(index + chunk)];
      if (!(await attempt({ ...current(), steps: candidate }))) index += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.max(1, Math.floor(chunk / 2));
  }
}

/** Folds the clients onto fewer (client mod k, smallest k first) while the run still fails. */
async function mergeClients(
  current: () => RunOptions,
  attempt: (candidate: RunOptions) => Promise<boolean>,
): Promise<void> {
  const steps = current().steps ?? [];
  const clients = 1 + Math.max(0, ...steps.map((step) => (step.kind === "op" ? step.client : 0)));
  for (let fewer = 1; fewer < clients; fewer++) {
    const merged = steps.map((
      step,
    ) => (step.kind === "op" ? { ...step, client: step.client % fewer } : step));
    if (await attempt({ ...current(), clients: fewer, steps: merged })) return;
  }
}

/** Turns faults off one at a time while the run still fails. */
async function simplifyProfile(
  current: () => RunOptions,
  attempt: (candidate: RunOptions) => Promise<boolean>,
): Promise<void> {
  for (const fault of numericFaults) {
    const profile = current().profile;
    if (profile[fault] === 0) continue;
    const simpler: FaultProfile = { ...profile, name: `${profile.name}-${fault}`, [fault]: 0 };
    await attempt({ ...current(), profile: simpler });
  }
  const profile = current().profile;
  if (profile.reorder) await attempt({ ...current(), profile: { ...profile, reorder: false } });
}
