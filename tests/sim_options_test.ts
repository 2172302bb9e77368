/**
 * The simulator's public option objects are checked as the engine's are: an
 * unknown key is a TypeError naming it and the nearest valid one, a value of
 * the wrong type a TypeError.
 */

import assert from "node:assert/strict";
import { faultProfiles, runSimulation, Scheduler, SimBlockStorage } from "../sim/mod.ts";

Deno.test("SimBlockStorage, Scheduler and runSimulation reject unknown and mistyped options", async () => {
  assert.throws(() => new SimBlockStorage({ sed: 1 } as never), {
    name: "TypeError",
    message: 'Cannot build a SimBlockStorage: unknown option "sed", did you mean "seed"?',
  });
  assert.throws(() => new Scheduler({ reoder: false } as never), {
    name: "TypeError",
    message: 'Cannot build a Scheduler: unknown option "reoder", did you mean "reorder"?',
  });
  assert.throws(() => new Scheduler({ autoRun: 1 } as never), {
    name: "TypeError",
    message: "Cannot build a Scheduler: autoRun must be a boolean, got 1",
  });
  const options = { seed: 1, ops: 10, clients: 1, profile: faultProfiles.none };
  await assert.rejects(runSimulation({ ...options, durabilty: "relaxed" } as never), {
    name: "TypeError",
    message: 'Cannot run a simulation: unknown option "durabilty", did you mean "durability"?',
  });
  await assert.rejects(runSimulation({ ...options, load: "sometimes" } as never), {
    name: "TypeError",
  });
  const storage = new SimBlockStorage({ autoRun: true });
  await assert.rejects(storage.open("a", { creat: true } as never), {
    name: "TypeError",
    message: 'Cannot open a file: unknown option "creat", did you mean "create"?',
  });
  assert.equal((await runSimulation(options)).violations.length, 0, "valid options still run");
});
