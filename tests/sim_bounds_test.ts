/**
 * The simulator's bounds and workload on their own, each with the bug the
 * soaks after issue 14's merges found in them: the image bound read the
 * default table geometry of a small-slab image (sim seed 11506), a list's
 * start ran past the key limit (seeds 11368 and 12148), and the WAL bound's
 * allowance for a segment sealed during a checkpoint (seed 115, hostile,
 * right after a merge: the runner now passes the names whose directory
 * entries were durable at the call; later workload changes moved the seed
 * off the race, and 2,800 seeds with the old rule did not meet it again).
 */

import assert from "node:assert/strict";
import { openStore } from "../mod.ts";
import { imageGeometryKey, type InternalStoreOptions } from "../lib/store/store.ts";
import { encodeHeaderSlot, geometryDefaults, headerRegionBytes } from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { keyBytesMax } from "../lib/limits.ts";
import { segmentName } from "../lib/wal/segment.ts";
import { type DiskView, imageBoundProblem, walBoundProblem, walBoundRules } from "../sim/bounds.ts";
import { SimBlockStorage } from "../sim/storage.ts";
import { generateSteps } from "../sim/workload.ts";

Deno.test("bound-image: a compacted small-slab image is judged by its own table geometry (sim seed 11506)", async () => {
  for (const chunkEntriesMax of [1, 2, 4]) {
    const storage = new SimBlockStorage({ autoRun: true });
    const geometry = { slabBytes: 4096, chunkEntriesMax };
    const options: InternalStoreOptions = { storage, [imageGeometryKey]: geometry };
    const store = await openStore(options);
    await store.checkpoint({ compact: true }); // an empty image: a header and a table only
    assert.equal(imageBoundProblem(storage), undefined, `chunks of ${chunkEntriesMax}`);
    for (let index = 0; index < 300; index++) await store.add(`key ${index}`, index + 1);
    await store.checkpoint({ compact: true });
    assert.equal(imageBoundProblem(storage), undefined, `chunks of ${chunkEntriesMax}, 300 keys`);
    await store.close();
  }
});

Deno.test("workload: a list or scan selector's start and end are keys the store takes (sim seeds 11368, 12148)", () => {
  for (const seed of [11368, 12148, ...Array.from({ length: 40 }, (_, index) => 20_000 + index)]) {
    for (const step of generateSteps({ seed, ops: 500, clients: 4 })) {
      if (step.kind !== "op" || (step.op.type !== "list" && step.op.type !== "scan")) continue;
      const selector = step.op.selector as { start?: string; end?: string };
      for (const bound of [selector.start, selector.end]) {
        // Model keys hold a char per byte.
        if (bound !== undefined) assert.ok(bound.length <= keyBytesMax, `seed ${seed}`);
      }
    }
  }
});

/** A disk holding an image whose two header slots cover `coverage`, and WAL segments from `lsns`. */
function disk(coverage: number, lsns: number[]): DiskView {
  const image = new Uint8Array(headerRegionBytes);
  for (const [slot, generation] of [[0, 1], [1, 2]]) {
    const header = {
      generation,
      coverageLsn: coverage,
      rootAddress: 0,
      keyCount: 0,
      pageCount: 1,
      allocationAddress: 0,
      deadBytes: 0,
      ...geometryDefaults,
    };
    image.set(encodeHeaderSlot(header), slot * 4096);
  }
  const names = [imageFileName, ...lsns.map((lsn) => segmentName(lsn))];
  return {
    fileNames: () => names,
    readLive: (name) => {
      assert.equal(name, imageFileName);
      return image;
    },
  };
}

Deno.test("bound-wal: one covered segment may stay when the one after it was not yet in the log (sim seed 115)", () => {
  // Records 1..5 in wal-1, both slots cover 5, wal-6 holds the records after.
  const after = disk(5, [1, 6]);
  const rule = walBoundRules.checkpoint;
  // wal-6 was durable when the checkpoint was called: the reclaim saw it, so wal-1 must go.
  assert.match(walBoundProblem(after, 0, rule, [segmentName(1), segmentName(6)])!, /at most 0/);
  // wal-6's creation was under way (its directory entry not yet durable): the reclaim saw
  // wal-1 as the open segment, which it never removes.
  assert.equal(walBoundProblem(after, 0, rule, [segmentName(1)]), undefined);
  // retainSegments keeps as many covered segments.
  const all = [1, 6, 10].map((lsn) => segmentName(lsn));
  assert.equal(walBoundProblem(disk(9, [1, 6, 10]), 2, rule, all), undefined);
  assert.match(walBoundProblem(disk(9, [1, 6, 10]), 1, rule, all)!, /at most 1/);
});
