/**
 * Engine bugs the simulator found, pinned as seed replays. Each seed failed
 * before its fix (checked by running it against the engine without the fix)
 * and must pass after. A change to the simulator's decisions can move what a
 * seed exercises, so each bug also has a deterministic unit test beside the
 * code it fixed; these replays guard the bug end to end.
 */

import assert from "node:assert/strict";
import { drawProfile, type ProfileName, runSimulation } from "../sim/mod.ts";

interface Pinned {
  seed: number;
  profile: ProfileName;
  ops: number;
  sectorBytes: 512 | 4096;
  bug: string;
  unitTest: string;
}

const pinned: Pinned[] = [
  {
    seed: 3561,
    profile: "hostile",
    ops: 500,
    sectorBytes: 512,
    bug:
      "open raised a false CorruptionError when consecutive re-reads of a segment were flipped at different records (re-reads were counted per segment, not per problem)",
    unitTest: "tests/wal_test.ts: regression (sim seed 1072, hostile)",
  },
];

for (const pin of pinned) {
  Deno.test(`regression: sim seed ${pin.seed} (${pin.profile}): ${pin.bug}`, async () => {
    const result = await runSimulation({
      seed: pin.seed,
      ops: pin.ops,
      clients: 4,
      profile: drawProfile(pin.profile, pin.seed),
      sectorBytes: pin.sectorBytes,
    });
    const first = result.violations[0];
    assert.equal(
      first,
      undefined,
      first && `${first.property}: ${first.message} (see ${pin.unitTest})`,
    );
  });
}
