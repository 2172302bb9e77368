/**
 * Choosing a fault profile for a seed: a named one, or `mixed`, where each
 * seed draws its own mix between "none" and "hostile" (so one range of seeds
 * covers quiet disks, single fault kinds and storms).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { type FaultProfile, faultProfiles, hostile, validateFaultProfile } from "./faults.ts";
import { eventPrng } from "./prng.ts";
import type { CheckpointOptions, Durability } from "../lib/store/store.ts";

/** A profile name on the command line. */
export type ProfileName = keyof typeof faultProfiles | "mixed";

const mixStream = 0x9f1e;

/**
 * The profile a seed runs with. `mixed`: each fault is on with probability ½,
 * at a rate drawn up to the hostile one (a header write gone astray, which
 * applies only where it matters, at the hostile one); crashes tear or drop writes at drawn
 * rates; completions are reordered on three seeds in four.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawProfile } from "./profiles.ts";
 * const a = drawProfile("mixed", 7);
 * assert.ok(JSON.stringify(a) === JSON.stringify(drawProfile("mixed", 7)));
 * assert.ok(drawProfile("hostile", 7).name === "hostile");
 * ```
 */
export function drawProfile(name: ProfileName, seed: number): FaultProfile {
  if (name !== "mixed") return faultProfiles[name];
  const random = eventPrng(seed, mixStream, 0);
  const rate = (max: number) => (random.chance(0.5) ? random.unit() * max : 0);
  const torn = random.unit() * 0.5;
  const lost = random.unit() * (1 - torn) * 0.8;
  const io = [rate(hostile.misdirectedWrite), rate(hostile.shortWrite), rate(hostile.noSpace)];
  const reads = [rate(hostile.bitFlip), rate(hostile.readError)];
  const profile: FaultProfile = {
    name: `mixed#${seed}`,
    tornWrite: torn,
    lostWrite: lost,
    fsyncFail: rate(hostile.fsyncFail),
    dirEntryLost: random.unit(),
    misdirectedWrite: io[0],
    shortWrite: io[1],
    noSpace: io[2],
    bitFlip: reads[0],
    readError: reads[1],
    reorder: random.chance(0.75),
    // Drawn last, so the draws above (and every seed's older mix) stay as they were.
    headerLost: rate(hostile.headerLost),
    staleTail: rate(hostile.staleTail),
    // On or off, not a drawn rate: it applies only where it can matter, so it is rare already.
    headerWriteLost: random.chance(0.5) ? hostile.headerWriteLost : 0,
  };
  validateFaultProfile(profile);
  assert(profile.tornWrite + profile.lostWrite <= 1, "crash fates are a distribution");
  return profile;
}

/** A durability choice on the command line. */
export type DurabilityChoice = Durability | "mixed";

/**
 * The durability mode a seed runs with: the named one, or for `mixed`
 * relaxed on one seed in four (drawn from the seed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawDurability } from "./profiles.ts";
 * assert.ok(drawDurability("strict", 3) === "strict");
 * assert.ok(drawDurability("mixed", 3) === drawDurability("mixed", 3));
 * ```
 */
export function drawDurability(choice: DurabilityChoice, seed: number): Durability {
  if (choice !== "mixed") return choice;
  return eventPrng(seed, durabilityStream, 0).chance(0.25) ? "relaxed" : "strict";
}

const durabilityStream = 0xd0ab;

const checkpointStream = 0xc8e9;

/**
 * The automatic checkpoint settings a seed runs with: epochs short enough
 * (100 to 400 operations, 10 ms to 1 s of simulated time) that a run of a
 * few hundred operations crosses several, retaining 0 to 2 covered WAL
 * segments; one seed in five checkpoints only when asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawCheckpointOptions } from "./profiles.ts";
 * const options = drawCheckpointOptions(7);
 * assert.ok(JSON.stringify(options) === JSON.stringify(drawCheckpointOptions(7)));
 * ```
 */
export function drawCheckpointOptions(seed: number): CheckpointOptions {
  const random = eventPrng(seed, checkpointStream, 0);
  return {
    epochOps: 100 + random.below(301),
    epochMs: 10 + random.below(991),
    retainSegments: random.below(3),
    auto: !random.chance(0.2),
  };
}
