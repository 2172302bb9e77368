/**
 * The simulator's `WalkClock` (`sim/clock.ts`): computing without I/O takes
 * simulated time, a pause waits its turns among the scheduler's completions,
 * a power loss drops the pauses pending, and with it a write lands in the
 * middle of a checkpoint's node walk, which the plain simulated clock never
 * let happen.
 */

import assert from "node:assert/strict";
import { openStore, type Store } from "../mod.ts";
import { imageGeometryKey } from "../lib/store/store.ts";
import { slabBytesMin } from "../lib/image/allocation.ts";
import { faultProfiles, runSimulation, Scheduler, SimBlockStorage } from "../sim/mod.ts";
import { WalkClock, walkCpuMsPerCall } from "../sim/clock.ts";
import { until as untilSettled } from "./_sim_until.ts";

/** Completions one {@link until} may make before the test gives up. */
const completionsMax = 100_000;

/** {@link untilSettled} within {@link completionsMax} completions. */
function until<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  return untilSettled(scheduler, promise, completionsMax);
}

Deno.test("WalkClock: a call with no completion since the last costs time; one after a completion does not", async () => {
  const scheduler = new Scheduler({ seed: 3, latencyMsMax: 0 });
  const clock = new WalkClock(scheduler.clock, scheduler);
  const first = clock.now();
  assert.equal(clock.now(), first + walkCpuMsPerCall);
  assert.equal(clock.now(), first + 2 * walkCpuMsPerCall);
  scheduler.submit("io", () => {});
  await scheduler.runUntilIdle();
  assert.equal(clock.now(), first + 2 * walkCpuMsPerCall, "an I/O completion came between");
  assert.equal(clock.now(), first + 3 * walkCpuMsPerCall);
});

Deno.test("WalkClock: a pause resolves after its turns, each a completion of the scheduler's", async () => {
  const scheduler = new Scheduler({ seed: 5 });
  let paused = 0;
  const clock = new WalkClock(scheduler.clock, scheduler, {
    turns: () => 3,
    onPause: () => paused++,
  });
  let resumed = false;
  const pause = clock.pause().then(() => resumed = true);
  for (let turn = 0; turn < 3; turn++) {
    await scheduler.settle();
    assert.ok(!resumed && clock.waiting, `still paused before turn ${turn + 1}`);
    assert.equal(scheduler.pending, 1, "one completion at a time");
    scheduler.step();
  }
  await pause;
  assert.ok(resumed && !clock.waiting);
  assert.equal(scheduler.steps, 3);
  assert.equal(paused, 1);
  assert.equal(clock.pauses, 1);
});

Deno.test("WalkClock: abandon() drops the pending pause, and later ones never start", async () => {
  const scheduler = new Scheduler({ seed: 7 });
  const clock = new WalkClock(scheduler.clock, scheduler, { turns: () => 2 });
  let resumed = 0;
  clock.pause().then(() => resumed++);
  await scheduler.settle();
  scheduler.step(); // the first of its two turns
  await scheduler.settle();
  assert.ok(clock.waiting);
  clock.abandon();
  assert.equal(scheduler.pending, 0, "the power loss took the pause's next turn");
  clock.pause().then(() => resumed++);
  await scheduler.runUntilIdle();
  assert.equal(resumed, 0, "a crashed process's walk never goes on");
  assert.ok(!clock.waiting);
});

/**
 * Keys enough that a compaction's walk passes one step of the checkpoint's
 * (128 nodes); each ends in a leaf too long to be stored in its parent's
 * record, so each leaf is a node the walk visits.
 */
const keysPastOneStep = 300;
/** A key suffix longer than the image stores inline (`inlinePrefixBytesMax`). */
const longSuffix = "-" + "x".repeat(80);

Deno.test("WalkClock: a write lands in the middle of a compaction's node walk, and both hold", async () => {
  const scheduler = new Scheduler({ seed: 11 });
  const storage = new SimBlockStorage({ seed: 11, profile: faultProfiles.none, scheduler });
  let turns = 1;
  const clock = new WalkClock(scheduler.clock, scheduler, { turns: () => turns });
  // Small slabs: a record freed in the wrong place shows in another slab's live bytes.
  const geometry = { slabBytes: slabBytesMin, chunkEntriesMax: 4 };
  const options = { storage, clock, checkpoint: { auto: false }, [imageGeometryKey]: geometry };
  const store: Store = await until(scheduler, openStore(options));
  const key = (index: number) => `k${String(index).padStart(4, "0")}${longSuffix}`;
  for (let index = 0; index < keysPastOneStep; index++) {
    await until(scheduler, store.set(key(index), index + 1));
  }
  await until(scheduler, store.checkpoint());
  // Rewrites of some keys move their paths' records: the compaction lays the image out anew.
  for (let round = 1; round <= 3; round++) {
    for (let index = round; index < keysPastOneStep; index += 7) {
      await until(scheduler, store.set(key(index), index + 1));
    }
    await until(scheduler, store.checkpoint());
  }
  turns = 10_000; // the walk stays paused until the write below is done
  const compaction = store.checkpoint({ compact: true });
  compaction.catch(() => {});
  for (let step = 0; step < completionsMax && !clock.waiting; step++) {
    await scheduler.settle();
    if (!clock.waiting) scheduler.step();
  }
  assert.ok(clock.waiting, "the compaction's walk paused");
  // Strict writes reach the trie when the next group commits: the later ones apply the first.
  const last = keysPastOneStep - 1;
  for (const index of [last, last - 1, last - 2]) {
    assert.equal(await until(scheduler, store.add(key(index), 1000)), index + 1 + 1000);
  }
  assert.ok(clock.waiting, "the writes were acknowledged and applied while the walk was paused");
  turns = 1;
  const result = await until(scheduler, compaction);
  assert.ok(result.compacted);
  // The next checkpoint frees what the trie dropped during the compaction: records of the new file.
  await until(scheduler, store.add(key(0), 1));
  await until(scheduler, store.checkpoint());
  for (const index of [last, last - 1, last - 2]) {
    assert.equal(await until(scheduler, store.get(key(index))), index + 1 + 1000);
  }
  assert.deepEqual((await until(scheduler, store.verify())).problems, []);
  await until(scheduler, store.close());
  const again = await until(scheduler, openStore(options));
  assert.equal(await until(scheduler, again.get(key(last))), last + 1 + 1000);
  assert.equal(await until(scheduler, again.get(key(0))), 2);
  await until(scheduler, again.close());
});

Deno.test("simulator: with walk pauses, a seed replays to the same trace hash, and writes land in walks", async () => {
  const options = {
    seed: 126,
    ops: 500,
    clients: 4,
    profile: faultProfiles.none,
    walkPauses: true,
  };
  const first = await runSimulation(options);
  assert.deepEqual(first.violations, []);
  const again = await runSimulation(options);
  assert.equal(again.traceHash, first.traceHash);
  assert.ok(first.stats.walkPauses > 0, `walk pauses: ${first.stats.walkPauses}`);
  assert.ok(first.stats.writesInWalks > 0, `writes in walks: ${first.stats.writesInWalks}`);
  const without = await runSimulation({ ...options, walkPauses: false });
  assert.equal(without.stats.walkPauses, 0);
  assert.notEqual(without.traceHash, first.traceHash);
});
