/**
 * Bugs the simulator found, in the engine or in the simulator's own oracle,
 * pinned as seed replays. Each seed failed before its fix when it was pinned
 * (checked by running it against the code without the fix) and must pass
 * after. A later change to the workload or to the simulator's decisions can
 * move what a seed exercises, so each engine bug also has a deterministic
 * unit test beside the code it fixed. The seeds were found when every open
 * loaded the image lazily, so they replay with `load: "lazy"`; and before
 * small slabs and churn (`sim/churn.ts`), so they replay with the default
 * image geometry and no churn (their runs are then the ones that found them).
 */

import assert from "node:assert/strict";
import { defaultGeometry } from "../lib/image/allocation.ts";
import {
  drawDurability,
  drawProfile,
  type DurabilityChoice,
  type ProfileName,
  runSimulation,
} from "../sim/mod.ts";

interface Pinned {
  seed: number;
  profile: ProfileName;
  durability: DurabilityChoice;
  ops: number;
  sectorBytes: 512 | 4096;
  bug: string;
  seeAlso: string;
  /** Open modes drawn per open (as found), instead of lazy ones. */
  drawnLoads?: boolean;
  /** `RunOptions.memoryPressure` of the run that found it. */
  memoryPressure?: number;
  /** Small slabs and churn as drawn for the seed (as found), instead of the classic image. */
  drawnImage?: boolean;
}

const pinned: Pinned[] = [
  {
    seed: 3561,
    profile: "hostile",
    durability: "strict",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: open raised a false CorruptionError when consecutive re-reads of a segment " +
      "were flipped at different records (re-reads were counted per segment, not per problem)",
    seeAlso: "tests/wal_test.ts: regression (sim seed 1072, hostile)",
  },
  {
    seed: 32583,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a torn tail whose truncation a failed fsync never made durable reappeared " +
      "inside a sealed segment after a power loss: a false CorruptionError",
    seeAlso: "tests/wal_test.ts: regression (sim seed 32583, hostile)",
  },
  {
    seed: 82621,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 4096,
    bug: "engine: a poisoned store answered { ok: false } to an atomic, judging its check " +
      "against state that had lost the failed group, instead of refusing the write",
    seeAlso: "tests/wal_test.ts: regression (sim seed 82621, mixed)",
  },
  {
    seed: 70478,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: the same poisoned-store atomic on a relaxed store",
    seeAlso: "tests/wal_test.ts: regression (sim seed 82621, mixed)",
  },
  {
    seed: 400353,
    profile: "hostile",
    durability: "strict",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: three consecutive reads flipped inside one large record used up the " +
      "re-reads of a segment: a false CorruptionError (re-reads raised from 2 to 4)",
    seeAlso: "tests/wal_test.ts: regression (sim seed 400353, hostile)",
  },
  {
    seed: 30984,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a restart rebased the model on a state holding a write the disk had dropped, " +
      "so the excused loss at the next power failure was reported as D5",
    seeAlso: "sim/model.ts: Oracle.recovered keeps the history across restarts",
  },
  {
    seed: 31,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a power loss undid the removal of one WAL segment a checkpoint covered, " +
      "and recovery took the gap it left for damage: a false CorruptionError",
    seeAlso: "tests/checkpoint_test.ts: a covered segment whose removal a crash undid",
  },
  {
    seed: 214,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a failed directory fsync after removing covered WAL segments left a " +
      "segment created meanwhile in doubt, yet its group was acknowledged",
    seeAlso: "tests/checkpoint_test.ts: a failed directory fsync in a reclaim poisons the log",
  },
  {
    seed: 2410,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a list that met a node not loaded yet returned the entries before it, " +
      "loaded, and read on after a write had landed: one batch mixed two states (D11)",
    seeAlso: "tests/checkpoint_test.ts: lazy open: a list batch is one state",
  },
  {
    seed: 69,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a checkpoint right after an open sealed the empty segment close had " +
      "started, and the next group tried to create a segment of the same name: a write " +
      "failed with no fault (found once the oracle flagged storage errors without faults)",
    seeAlso: "tests/checkpoint_test.ts: right after an open whose log is an empty segment",
  },
  {
    seed: 552,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a close after a failed header fsync left the header in the page cache; the " +
      "reopen trusted it and dropped WAL segments that the power loss then showed it needed",
    seeAlso: "tests/checkpoint_test.ts: a header whose fsync failed is blanked at close",
  },
  {
    seed: 597,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: four reads in a row of one 40-byte allocation chunk were flipped, and open " +
      "reported a false CorruptionError (image reads raised from 4 to 8)",
    seeAlso: "tests/guards_test.ts: an allocation chunk read flipped seven times in a row",
  },
  {
    seed: 539,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a reopen after a close that reported a failed write rebased the model, so " +
      "a misplaced write's excused loss at the next power failure was reported as D5",
    seeAlso: "sim/model.ts: Oracle.recovered keeps the history across every restart",
  },
  {
    seed: 5078,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a misdirected WAL write overwrote a record recovered before (below the " +
      "model's base) and the segment header; the loss was reported as D5 instead of unjudged",
    seeAlso: "sim/model.ts: ExcusedLoss.clobbered",
  },
  {
    seed: 2470,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a misdirected write to image.tt.compacting, renamed over image.tt by a " +
      "compaction, did not explain the image's damage (D6 reported)",
    seeAlso: "sim/runner.ts: imageName",
  },
  {
    seed: 6333,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: as 2470, a misdirected header write in the compacting file (both slots " +
      "invalid at open)",
    seeAlso: "lib/image/image_file.ts: commitWhole reads the slots back before the rename",
  },
  {
    seed: 7565,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a getMany finished after a write queued for a load was applied (relaxed) " +
      "but before the oracle learned its LSN, and was reported as D11",
    seeAlso: "sim/runner.ts: read() judges after a queued write settles",
  },
  {
    seed: 33536,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a header whose fsync failed could not be blanked at close (disk full); the " +
      "reopen trusted it and dropped a WAL segment the older slot needed, then a power loss " +
      "took the header back (retention counted segments, not the older slot's coverage)",
    seeAlso: "lib/image/image_file.ts: reclaimableLsn",
  },
  {
    seed: 43023,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a new image's initialisation fsync failed, the retried open trusted the page " +
      "cache, the first commit was torn: open reported both header slots invalid instead of " +
      "a fresh image (blank B, damaged A) with the whole WAL",
    seeAlso: "lib/image/header.ts: currentHeader",
  },
  {
    seed: 1713,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a misdirected write lost a segment's header, so the segment before it had no " +
      "recorded seal, and recovery reported that segment's zero padding as damage",
    seeAlso: "tests/wal_test.ts: regression (sim seeds 1713, mixed, and 490, hostile)",
  },
  {
    seed: 490,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: the same, a segment header overwritten by a misdirected record write",
    seeAlso: "tests/wal_test.ts: regression (sim seeds 1713, mixed, and 490, hostile)",
  },
  {
    seed: 5056,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 4096,
    bug: "engine: the same, with a stale torn tail instead of zeros past the records of the " +
      "segment before the damaged header: damage was reported there, not at the header",
    seeAlso: "tests/wal_test.ts: regression (sim seeds 1713, mixed, and 490, hostile)",
  },
  {
    seed: 3442,
    profile: "mixed",
    durability: "strict",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a compaction's load that found no memory (the store unharmed) was taken for " +
      "a failed apply, so the next accepted write was reported as accepted after a failure",
    seeAlso: "sim/runner.ts: Run.#outOfMemory",
    drawnLoads: true,
    memoryPressure: 0.02,
  },
  {
    seed: 8,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: verify() on a store whose apply had failed for lack of memory reported the " +
      "failure as a problem of the in-memory trie instead of throwing it",
    seeAlso: "lib/engine/verify.ts: verifyStore",
    drawnLoads: true,
    memoryPressure: 0.01,
  },
  {
    seed: 705,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: stats() threw when the durable group it applied first failed for lack of " +
      "memory (the simulator's run ended with the error)",
    seeAlso: "lib/engine/engine.ts: Engine.stats",
    drawnLoads: true,
    memoryPressure: 0.01,
  },
  {
    seed: 1227,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "simulator: a crash lost the newest image header slot while the older one still held " +
      "the stale header an earlier loss left, with its log reclaimed: a double fault no engine " +
      "survives, and no excuse named it",
    seeAlso: "tests/sim_damage_test.ts: crashHeaderLost; sim/excuses.ts: #headerFallback",
    drawnLoads: true,
  },
  {
    seed: 1,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: records replayed at open belonged to no epoch, so a close right after it " +
      "skipped its checkpoint and every later open replayed them again (bound-replay)",
    seeAlso: "tests/close_bounds_test.ts; mutant close-skips-replayed",
    drawnLoads: true,
  },
  {
    seed: 4,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a strict write still in flight at close was logged after close's checkpoint " +
      "captured, so the next open replayed it (bound-replay)",
    seeAlso: "tests/close_bounds_test.ts",
    drawnLoads: true,
  },
  {
    seed: 12,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: covered WAL segments a power loss brought back stayed after a clean close " +
      "that had nothing new to seal (bound-wal)",
    seeAlso: "tests/close_bounds_test.ts",
    drawnLoads: true,
  },
  {
    seed: 1,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a strict write to a key over 4 KiB was logged, then refused with " +
      "MemoryLimitError when its overlay entry could not be made (a retry counts twice)",
    seeAlso: "tests/overlay_memory_test.ts",
    drawnLoads: true,
    memoryPressure: 0.01,
  },
  {
    seed: 1,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: with small slabs, a commit chained every table chunk it had reserved; the " +
      "unneeded ones, empty, outgrew the reader's bound on the chain (a false CorruptionError)",
    seeAlso: "tests/image_geometry_test.ts: regression: a table's chain has only the chunks",
    drawnLoads: true,
    drawnImage: true,
  },
  {
    seed: 2,
    profile: "mixed",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a compaction's slot A write landed on slot B; the read-back saw a current " +
      "header of the right generation and renamed a file with one valid slot (image-rename)",
    seeAlso: "tests/compaction_readback_test.ts",
    drawnLoads: true,
    drawnImage: true,
  },
  {
    seed: 7291,
    profile: "none",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: relaxed writes accepted during close were creating the next segment " +
      "while close's reclaim ran, so the segment close's checkpoint had sealed was still " +
      "the last one and stayed, though both header slots covered it (bound-wal)",
    seeAlso: "tests/wal_test.ts: regression (sim seed 216, hostile)",
    drawnLoads: true,
  },
  {
    seed: 216,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a checkpoint's reclaim ran while a strict group was creating the next " +
      "segment, so the covered segment it sealed stayed (bound-wal)",
    seeAlso: "tests/wal_test.ts: regression (sim seed 216, hostile)",
    drawnLoads: true,
  },
  {
    seed: 9087,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 4096,
    bug: "engine: a misdirected write destroyed the log's last record, which the image " +
      "covered; open cut it as a torn tail and appended the next lsn right after the record " +
      "before it, a gap the next open read as damage (an acknowledged write could be cut)",
    seeAlso: "tests/wal_test.ts: regression (sim seed 9087, hostile, 4 KiB sectors)",
    drawnLoads: true,
  },
  {
    seed: 11763,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: an acknowledged delete of an absent key lost its record to a misdirected " +
      "write; the state before it equals the state after, so the model took the recovery " +
      "for a state ahead of its last lsn (D2) and never asked the excuses",
    seeAlso: "tests/sim_model_test.ts",
    drawnLoads: true,
    drawnImage: true,
  },
  {
    seed: 510017,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "oracle: a misdirected image write left, where the next commit's records belonged, " +
      "those of an earlier checkpoint whose header a crash had lost, with the same lengths and " +
      "valid checksums; open read them (a lost write no self-checksummed record can show) " +
      "and the state was reported as D5 instead of unjudged",
    seeAlso: "tests/sim_damage_test.ts: a state read from an older record a lost image write left",
    drawnLoads: true,
    drawnImage: true,
  },
  {
    seed: 810347,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: a commit's header write failed and close blanked its slot; a misdirected " +
      "table write had damaged the other slot: open took the pair for a new image's and " +
      "reported records missing from the (whole) log instead of the damaged header slot",
    seeAlso: "tests/checkpoint_test.ts: a slot blanked at close beside a damaged one",
    drawnLoads: true,
    drawnImage: true,
  },
  {
    seed: 910110,
    profile: "hostile",
    durability: "mixed",
    ops: 500,
    sectorBytes: 512,
    bug: "engine: five reads in a row of a segment were each flipped somewhere inside one " +
      "48 KB record; open took the five failing reads, no two alike, for damage and reported " +
      "the intact record as corrupt",
    seeAlso: "tests/wal_reread_test.ts: regression (sim seed 910110, hostile)",
    drawnLoads: true,
    drawnImage: true,
  },
];

for (const pin of pinned) {
  Deno.test(
    `regression: sim seed ${pin.seed} (${pin.profile}${
      pin.memoryPressure === undefined ? "" : `, memory ${pin.memoryPressure}`
    }): ${pin.bug}`,
    async () => {
      const result = await runSimulation({
        seed: pin.seed,
        ops: pin.ops,
        clients: 4,
        profile: drawProfile(pin.profile, pin.seed),
        durability: drawDurability(pin.durability, pin.seed),
        sectorBytes: pin.sectorBytes,
        // The seeds before drawn open modes were found when open loaded lazily: replay them so.
        load: pin.drawnLoads === true ? undefined : "lazy",
        memoryPressure: pin.memoryPressure,
        // The seeds before small slabs and churn replay with neither.
        imageGeometry: pin.drawnImage === true ? undefined : defaultGeometry,
        churn: pin.drawnImage === true ? undefined : false,
      });
      const first = result.violations[0];
      assert.equal(
        first,
        undefined,
        first && `${first.property}: ${first.message} (see ${pin.seeAlso})`,
      );
    },
  );
}
