/**
 * The simulator's image checks on their own: the image guard reports a
 * write or a truncate over a record either header slot uses (or the newer
 * one a damaged slot would revive under a torn header write) and a renamed
 * compaction whose slots are not as written, and stays quiet otherwise; the
 * record bound of a workload is never short; a run whose slabs are too
 * small for its keys fails, never passes silently.
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { MemoryBlockStorage, openStore } from "../mod.ts";
import type { ImageGeometry } from "../lib/image/allocation.ts";
import { headerSlotOffsets } from "../lib/image/header.ts";
import { compactingFileName, ImageFile, imageFileName } from "../lib/image/image_file.ts";
import { decodeNodeRecord, refLength, refOffset } from "../lib/image/node_record.ts";
import { imageGeometryKey, type InternalStoreOptions } from "../lib/store/store.ts";
import { recordBytesBoundOf } from "../sim/churn.ts";
import { ImageGuard } from "../sim/image_guard.ts";
import { drawProfile, runSimulation, SimBlockStorage, type Step } from "../sim/mod.ts";

const small: ImageGeometry = { slabBytes: 4096, chunkEntriesMax: 2 };
const bytes = (text: string) => new TextEncoder().encode(text);

/** A guarded simulated disk that completes I/O on its own, and the violations reported. */
function guarded(): {
  disk: SimBlockStorage;
  storage: ReturnType<ImageGuard["wrap"]>;
  seen: string[];
} {
  const seen: string[] = [];
  const guard = new ImageGuard({
    report: (property, message) => seen.push(`${property}: ${message}`),
    seed: 1,
  });
  const disk = new SimBlockStorage({ seed: 1, autoRun: true });
  return { disk, storage: guard.wrap(disk), seen };
}

/** Commits two images of a small tree; returns the refs of the newest root and the older root. */
async function twoCommits(image: ImageFile): Promise<{ root: number; older: number }> {
  const leaf = (prefix: string, value: number) => ({
    prefix: bytes(prefix),
    value,
    childBytes: new Uint8Array(0),
    childAddresses: [],
  });
  const tree = (value: number) => {
    const long = image.append(leaf("x".repeat(100), value));
    return image.append({
      prefix: new Uint8Array(0),
      value: undefined,
      childBytes: bytes("ab"),
      childAddresses: [1, long],
      inlineLeaves: [{ prefix: bytes("pple"), value }],
    }, true);
  };
  const older = tree(1);
  await image.commit({ coverageLsn: 1, rootAddress: older, keyCount: 2 }, []);
  const root = tree(2);
  // The second image drops both records of the first: they are held for the older slot.
  const oldRecords = [older, ...(await image.read(older)).childAddresses.filter((ref) => ref > 1)];
  await image.commit({ coverageLsn: 2, rootAddress: root, keyCount: 2 }, oldRecords);
  return { root, older };
}

Deno.test("image guard: writes into free space pass; a write or truncate over a record either slot uses is reported", async () => {
  const { storage, seen } = guarded();
  const image = await ImageFile.open(storage, small);
  const { root, older } = await twoCommits(image);
  await image.close();
  assert.deepEqual(seen, [], "the engine's own writes land on no record in use");
  const file = await storage.open(imageFileName);
  const size = await file.size();
  await file.write(size, new Uint8Array(100)); // past the end: free
  assert.deepEqual(seen, []);
  // The older slot's root: held, not live, but the older slot still uses it.
  await file.write(refOffset(older) + 2, new Uint8Array(3));
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^image-overwrite: image\.tt: a write of bytes \d+\.\.\d+ lands on bytes/);
  await file.write(refOffset(root), new Uint8Array(refLength(root)));
  assert.equal(seen.length, 2);
  await file.truncate(refOffset(root) + 1);
  assert.match(seen[2], /^image-overwrite: image\.tt: a truncate to \d+ bytes cuts/);
  await file.write(100, new Uint8Array(10)); // inside slot A, not a whole slot
  assert.match(seen[3], /reaches into the header region without being a whole header slot/);
  await file.write(headerSlotOffsets[1], new Uint8Array(4096)); // a whole slot: never judged
  assert.equal(seen.length, 4);
  await file.close();
});

Deno.test("image guard: a compaction renamed with a slot not as written is reported", async () => {
  for (const damage of [false, true]) {
    const { disk, storage, seen } = guarded();
    const image = await ImageFile.open(storage, small);
    const { root } = await twoCommits(image);
    const fresh = await ImageFile.createCompacting(storage, small);
    const node = await image.read(root);
    const copied = fresh.append(node, true);
    await fresh.commitWhole({ coverageLsn: 2, rootAddress: copied, keyCount: 2 }, 3);
    if (damage) {
      // The disk, not the engine, changes slot B (as a misplaced write would).
      const raw = await disk.open(compactingFileName);
      await raw.write(headerSlotOffsets[1] + 20, new Uint8Array([1, 2, 3]));
      await raw.close();
    }
    await storage.rename(compactingFileName, imageFileName);
    await fresh.close();
    await image.close();
    if (!damage) assert.deepEqual(seen, []);
    else {
      assert.equal(seen.length, 1);
      assert.match(seen[0], /^image-rename: image\.tt\.compacting was renamed over image\.tt/);
      assert.match(seen[0], /slot B: slot checksum mismatch/);
    }
  }
});

Deno.test("image guard: the image a damaged slot would revive is protected until the slot is blanked (n-gram seed 960112)", async () => {
  // Slot B holds generation 2, slot A generation 1 (see twoCommits).
  const cases = [
    { name: "a byte among the middle zeros of B", at: 4096 + 3496, over: "root", reported: true },
    { name: "B's first sector", at: 4096 + 200, over: "root", reported: false },
    { name: "B's middle, then B blanked", at: 4096 + 1000, over: "root", reported: false },
    { name: "A's middle (older than B)", at: 2000, over: "older", reported: false },
  ] as const;
  for (const { name, at, over, reported } of cases) {
    const { disk, storage, seen } = guarded();
    const image = await ImageFile.open(storage, small);
    const refs = await twoCommits(image);
    await image.close();
    const raw = await disk.open(imageFileName);
    await raw.write(at, Uint8Array.of(0x5a)); // the disk, not the engine: damage at rest
    await raw.close();
    const file = await storage.open(imageFileName); // the shadow starts from the damaged disk
    if (name.endsWith("blanked")) await file.write(headerSlotOffsets[1], new Uint8Array(4096));
    await file.write(refOffset(refs[over]), new Uint8Array(3));
    await file.close();
    if (!reported) assert.deepEqual(seen, [], name);
    else {
      assert.equal(seen.length, 1, name);
      assert.match(seen[0], /^image-overwrite: .*named by a damaged header slot that a torn/);
    }
  }
});

Deno.test("churn: the record bound of a workload holds every record its keys make", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 90 }), { minLength: 1, maxLength: 120 }),
      async (keys) => {
        const steps: Step[] = keys.map((key, id) => ({
          id,
          kind: "op",
          client: 0,
          drive: 0,
          op: { type: "set", key, value: 2 ** 52 + id },
        }));
        const bound = recordBytesBoundOf(steps);
        const storage = new MemoryBlockStorage();
        const store = await openStore({ storage, checkpoint: { auto: false } });
        const atomic = store.atomic();
        for (const key of keys) atomic.set(key, 2 ** 52);
        await atomic.commit();
        await store.checkpoint();
        await store.close();
        const image = await ImageFile.open(storage);
        const pending = [image.header!.rootAddress];
        let largest = 0;
        while (pending.length > 0) {
          const ref = pending.pop()!;
          largest = Math.max(largest, refLength(ref));
          const node = decodeNodeRecord(
            await (await storage.open(imageFileName)).read(refOffset(ref), refLength(ref)),
          );
          assert.ok(typeof node === "object");
          for (const child of node.childAddresses) if (child > 1) pending.push(child);
        }
        await image.close();
        assert.ok(largest <= bound, `a record of ${largest} bytes, bound ${bound}`);
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("runner: slabs too small for the run's keys fail the run (the engine refuses the record)", async () => {
  const long = "k".repeat(5000);
  const steps: Step[] = [
    { id: 0, kind: "op", client: 0, drive: 4, op: { type: "set", key: long, value: 1 } },
    { id: 1, kind: "checkpoint", compact: false, drive: 12 },
    { id: 2, kind: "op", client: 0, drive: 4, op: { type: "get", key: long } },
  ];
  const result = await runSimulation({
    seed: 1,
    ops: 1,
    clients: 1,
    profile: drawProfile("none", 1),
    steps,
    imageGeometry: small,
    churn: false,
  });
  const found = result.violations.map((violation) => `${violation.property}: ${violation.message}`);
  assert.ok(
    found.some((line) =>
      /^error: .*RecordTooLargeError: Cannot write a node record of 50\d\d bytes/.test(line)
    ),
    found.join("\n"),
  );
  // With slabs the run itself picks, the bound holds the key: no violation.
  const drawn = await runSimulation({
    seed: 1,
    ops: 1,
    clients: 1,
    profile: drawProfile("none", 1),
    steps,
  });
  assert.deepEqual(drawn.violations, []);
  const options: InternalStoreOptions = {
    storage: new MemoryBlockStorage(),
    [imageGeometryKey]: small,
  };
  assert.deepEqual(Object.keys(options), ["storage"]);
});
