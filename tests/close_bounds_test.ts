/**
 * What a clean close leaves behind. With automatic checkpoints, the
 * image covers every accepted write, so the open replays nothing (the
 * simulator's `bound-replay`). Found by the simulator's bounds: a recovery
 * replayed records, the store closed without new writes, and every later
 * open replayed the same records again; and writes still in flight at close
 * were logged after close's checkpoint, so the next open replayed them.
 */

import assert from "node:assert/strict";
import { MemoryBlockStorage, openStore } from "../mod.ts";

Deno.test("close: records replayed at open are checkpointed at close, not replayed again", async () => {
  const storage = new MemoryBlockStorage();
  const manual = await openStore({ storage, checkpoint: { auto: false } });
  for (let index = 0; index < 5; index++) await manual.add(`k${index}`, index + 1);
  await manual.close(); // no checkpoint: the log holds all five
  const first = await openStore({ storage });
  assert.equal(first.stats().recovery.replayedRecords, 5);
  await first.close(); // nothing written since open
  const second = await openStore({ storage });
  assert.equal(
    second.stats().recovery.replayedRecords,
    0,
    "close checkpointed the replayed records",
  );
  assert.equal(second.stats().recovery.coverageLsn, 5);
  assert.equal(await second.get("k4"), 5);
  await second.close();
});

for (const durability of ["strict", "relaxed"] as const) {
  Deno.test(`close (${durability}): writes in flight at close are in its checkpoint`, async () => {
    const storage = new MemoryBlockStorage();
    const store = await openStore({ storage, durability });
    await store.add("a", 1);
    const writes = [store.add("a", 2), store.set("b", 7), store.delete("c"), store.add("d", 4)];
    const closing = store.close();
    await Promise.all(writes);
    await closing;
    const again = await openStore({ storage, durability });
    assert.equal(again.stats().recovery.replayedRecords, 0, "nothing above the image's coverage");
    assert.equal(again.stats().recovery.coverageLsn, 5);
    assert.equal(await again.get("a"), 3);
    assert.equal(await again.get("b"), 7);
    await again.close();
  });
}

Deno.test("close: without automatic checkpoints, the log is left as it is", async () => {
  const storage = new MemoryBlockStorage();
  const store = await openStore({ storage, checkpoint: { auto: false } });
  await store.add("a", 1);
  await store.close();
  const again = await openStore({ storage, checkpoint: { auto: false } });
  assert.equal(again.stats().recovery.replayedRecords, 1);
  await again.close();
});

Deno.test("close: a covered segment a crash brought back is removed, with no new writes", async () => {
  const storage = new MemoryBlockStorage();
  const options = { storage, walSegmentBytes: 4096 };
  const store = await openStore(options);
  await store.add("a", 1);
  await store.checkpoint();
  await store.add("b", 2); // a new segment: the first holds only lsn 1
  const first = (await storage.list()).filter((name) => name.endsWith(".wal"))[0];
  const bytes = await readFile(storage, first);
  await store.checkpoint(); // both slots cover lsn 1: the first segment goes
  assert.ok(!(await storage.list()).includes(first));
  await store.close();
  await writeFile(storage, first, bytes); // as a power loss undoing the removal would
  const again = await openStore(options);
  assert.equal(again.stats().recovery.replayedRecords, 0);
  await again.close();
  assert.ok(!(await storage.list()).includes(first), "close removed the covered segment");
  const third = await openStore(options);
  assert.equal(await third.get("a"), 1);
  assert.equal(await third.get("b"), 2);
  await third.close();
});

async function readFile(storage: MemoryBlockStorage, name: string): Promise<Uint8Array> {
  const file = await storage.open(name);
  const bytes = await file.read(0, await file.size());
  await file.close();
  return bytes;
}

async function writeFile(storage: MemoryBlockStorage, name: string, bytes: Uint8Array) {
  const file = await storage.open(name, { create: true });
  await file.write(0, bytes);
  await file.sync();
  await file.close();
  await storage.syncDir();
}
