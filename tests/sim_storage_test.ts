import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { blockStorageConformance } from "./storage_conformance.ts";
import { StorageIoError } from "../lib/errors.ts";
import type { BlockFile } from "../lib/storage/block_storage.ts";
import { SimClock } from "../sim/clock.ts";
import { type FaultKind, type FaultProfile, hostile, none, realistic } from "../sim/faults.ts";
import { validateFaultProfile } from "../sim/faults.ts";
import { eventPrng, hash32, hashString, Prng } from "../sim/prng.ts";
import { Scheduler } from "../sim/scheduler.ts";
import { SimBlockStorage } from "../sim/storage.ts";

/** Seeds a search for a fault pattern may try (each pattern has odds of 1/16 or better). */
const seedSearchMax = 300;

blockStorageConformance("SimBlockStorage", () =>
  Promise.resolve({
    storage: new SimBlockStorage({ seed: 1, autoRun: true }),
    cleanup: () => Promise.resolve(),
  }));

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const filled = (value: number, length: number): Uint8Array => new Uint8Array(length).fill(value);

/** A profile with no faults except `overrides`. */
function profile(overrides: Partial<FaultProfile>): FaultProfile {
  return { ...none, name: "test", ...overrides };
}

/** A storage whose operations complete by themselves, in order. */
function autoStorage(
  seed: number,
  overrides: Partial<FaultProfile>,
  sectorBytes: 512 | 4096 = 512,
): SimBlockStorage {
  return new SimBlockStorage({ seed, profile: profile(overrides), autoRun: true, sectorBytes });
}

/** Runs the scheduler until idle, then hands back `promise`'s outcome. */
async function drive<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  const settled = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await scheduler.runUntilIdle(10_000);
  const result = await settled;
  if (!result.ok) throw result.error;
  return result.value;
}

/** Whether `promise` resolves (true) or rejects with a `StorageIoError` (false). */
async function succeeds(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return true;
  } catch (error) {
    assert.ok(error instanceof StorageIoError, `expected a StorageIoError, got ${error}`);
    return false;
  }
}

function faultsOf(storage: SimBlockStorage, kind: FaultKind, file?: string) {
  return storage.faults.filter((fault) =>
    fault.kind === kind && (file === undefined || fault.file === file)
  );
}

/** Creates `name` holding `data`, synced and with its directory entry synced. */
async function writeDurable(
  storage: SimBlockStorage,
  name: string,
  data: Uint8Array,
): Promise<BlockFile> {
  const file = await storage.open(name, { create: true });
  await file.write(0, data);
  await file.sync();
  await storage.syncDir();
  return file;
}

/** Asserts that every sector-sized piece of `[offset, offset + length)` is all `old` or all `now`. */
function assertSectorTorn(
  image: Uint8Array,
  range: { offset: number; length: number; sector: number },
  old: number,
  now: number,
): { kept: number; lost: number } {
  const { offset, length, sector } = range;
  let kept = 0;
  let lost = 0;
  for (let start = offset; start < offset + length;) {
    const stop = Math.min(offset + length, (Math.floor(start / sector) + 1) * sector);
    const piece = image.subarray(start, stop);
    if (piece.every((value) => value === now)) kept++;
    else if (piece.every((value) => value === old)) lost++;
    else assert.fail(`sector piece [${start}, ${stop}) is mixed: a tear must keep whole sectors`);
    start = stop;
  }
  return { kept, lost };
}

// --- prng -------------------------------------------------------------------

Deno.test("prng: one seed replays its stream; other seeds differ", () => {
  const first = new Prng(5);
  const again = new Prng(5);
  const other = new Prng(6);
  const a = Array.from({ length: 1000 }, () => first.u32());
  const b = Array.from({ length: 1000 }, () => again.u32());
  const c = Array.from({ length: 1000 }, () => other.u32());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.every((value) => Number.isInteger(value) && value >= 0 && value < 2 ** 32));
});

Deno.test("prng: below is in range and uniform; chance, pick and unit behave", () => {
  const prng = new Prng(11);
  const counts = new Array(6).fill(0);
  const draws = 60_000;
  for (let i = 0; i < draws; i++) counts[prng.below(6)]++;
  for (const count of counts) {
    assert.ok(Math.abs(count - draws / 6) < draws / 6 * 0.05, `${counts}`);
  }
  assert.equal(prng.below(1), 0);
  assert.ok(prng.below(2 ** 32) < 2 ** 32);
  for (let i = 0; i < 100; i++) {
    assert.equal(prng.chance(0), false);
    assert.equal(prng.chance(1), true);
    const unit = prng.unit();
    assert.ok(unit >= 0 && unit < 1);
  }
  const heads = Array.from({ length: 10_000 }, () => prng.chance(0.25)).filter(Boolean).length;
  assert.ok(Math.abs(heads - 2500) < 250, `${heads}`);
  assert.ok(["a", "b", "c"].includes(prng.pick(["a", "b", "c"])));
  assert.throws(() => prng.pick([]));
  assert.throws(() => prng.below(0));
});

Deno.test("prng: fork gives unrelated children and leaves the parent's stream alone", () => {
  const parent = new Prng(3);
  const twin = new Prng(3);
  const childA = parent.fork(1);
  const childB = parent.fork(2);
  assert.equal(parent.u32(), twin.u32(), "forking must not advance the parent");
  const a = Array.from({ length: 100 }, () => childA.u32());
  const b = Array.from({ length: 100 }, () => childB.u32());
  assert.notDeepEqual(a, b);
  assert.equal(new Prng(3).fork(1).u32(), a[0], "a fork is deterministic");
});

Deno.test("hash32: one flipped input bit flips about half the output bits", () => {
  let flipped = 0;
  let trials = 0;
  for (let value = 0; value < 200; value++) {
    for (let bit = 0; bit < 32; bit++) {
      const diff = hash32(7, value) ^ hash32(7, (value ^ (1 << bit)) >>> 0);
      flipped += diff.toString(2).split("").filter((c) => c === "1").length;
      trials++;
    }
  }
  const mean = flipped / trials;
  assert.ok(mean > 15 && mean < 17, `mean flipped bits ${mean}`);
  assert.notEqual(hash32(1, 2), hash32(2, 1));
  assert.notEqual(hash32(0), hash32(0, 0));
  assert.notEqual(hashString("ab"), hashString("ba"));
});

Deno.test("eventPrng: an event's generator depends on the seed and its identity only", () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 1_000_000 }),
      fc.nat({ max: 50 }),
      (seed, stream, index, noise) => {
        const before = eventPrng(seed, stream, index).u32();
        for (let i = 0; i < noise; i++) eventPrng(seed, stream + 1, i).u32(); // Unrelated events.
        assert.equal(eventPrng(seed, stream, index).u32(), before);
        assert.notEqual(eventPrng(seed, stream, index + 1).u32(), before);
      },
    ),
    { numRuns: 200 },
  );
});

// --- clock and scheduler ----------------------------------------------------

Deno.test("scheduler: FIFO without reorder, a drawn order with it; the clock advances", () => {
  const order = (reorder: boolean, seed: number): string[] => {
    const clock = new SimClock();
    const scheduler = new Scheduler({ seed, reorder, clock, latencyMsMax: 2 });
    for (let i = 0; i < 20; i++) scheduler.submit(`op${i}`, () => {});
    const labels: string[] = [];
    for (let label = scheduler.step(); label !== undefined; label = scheduler.step()) {
      labels.push(label);
    }
    assert.equal(scheduler.steps, 20);
    assert.ok(clock.now() > 0 && clock.now() <= 40);
    return labels;
  };
  const fifo = Array.from({ length: 20 }, (_, i) => `op${i}`);
  assert.deepEqual(order(false, 1), fifo);
  assert.notDeepEqual(order(true, 1), fifo);
  assert.deepEqual(order(true, 1), order(true, 1));
  assert.notDeepEqual(order(true, 1), order(true, 2));
  assert.deepEqual([...order(true, 3)].sort(), [...fifo].sort());
});

Deno.test("scheduler: settle runs chained microtasks; runUntilIdle follows chains and stops at its bound", async () => {
  const scheduler = new Scheduler({ seed: 1 });
  const seen: number[] = [];
  const chain = (depth: number): void => {
    scheduler.submit(`depth ${depth}`, () => {
      void Promise.resolve().then(() => Promise.resolve()).then(() => {
        seen.push(depth);
        if (depth < 5) chain(depth + 1);
      });
    });
  };
  chain(0);
  assert.equal(await scheduler.runUntilIdle(100), 6);
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
  const forever = (): void => void scheduler.submit("again", () => queueMicrotask(forever));
  forever();
  await assert.rejects(scheduler.runUntilIdle(50), /after 50 steps/);
  assert.equal(scheduler.pending, 1);
  const id = scheduler.submit("cancelled", () => assert.fail("a cancelled completion ran"));
  assert.equal(scheduler.cancel(id), true);
  assert.equal(scheduler.cancel(id), false);
});

// --- crash semantics --------------------------------------------------------

Deno.test("crash: unsynced writes are kept with no faults and lost with lostWrite 1", async () => {
  for (const [lostWrite, expected] of [[0, bytes(1, 2, 3, 4, 5)], [1, bytes(1, 2)]] as const) {
    const storage = autoStorage(1, { lostWrite });
    const file = await writeDurable(storage, "a", bytes(1, 2));
    await file.write(2, bytes(3, 4));
    await file.write(4, bytes(5));
    assert.deepEqual(storage.readLive("a"), bytes(1, 2, 3, 4, 5));
    assert.deepEqual(storage.readDurable("a"), bytes(1, 2));
    const after = storage.crash();
    assert.deepEqual(after.readLive("a"), expected);
    assert.deepEqual(after.readDurable("a"), expected);
    const kind = lostWrite === 1 ? "crashDropped" : "crashKept";
    assert.equal(faultsOf(storage, kind, "a").length, 2, "every unsynced write's fate is logged");
    assert.equal(after.epoch, 1);
  }
});

Deno.test("crash: a torn write keeps or loses whole sectors", async () => {
  for (const sector of [512, 4096] as const) {
    let mixed = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const storage = autoStorage(seed, { tornWrite: 1 }, sector);
      const file = await writeDurable(storage, "a", filled(0x11, 3 * sector));
      const offset = 100;
      const length = 2 * sector + 300; // Unaligned at both ends: four pieces.
      await file.write(offset, filled(0x22, length));
      const after = storage.crash();
      const image = after.readLive("a");
      assert.equal(image.length, 3 * sector);
      const { kept, lost } = assertSectorTorn(image, { offset, length, sector }, 0x11, 0x22);
      if (kept > 0 && lost > 0) mixed++;
      const [torn] = faultsOf(storage, "crashTorn", "a");
      const keptBytes = (torn.kept ?? []).reduce((sum, [start, stop]) => sum + stop - start, 0);
      assert.equal(keptBytes, image.filter((value) => value === 0x22).length);
    }
    assert.ok(mixed >= 5, `${sector}-byte sectors: only ${mixed} of 20 tears were partial`);
  }
});

Deno.test("crash: synced data survives every crash, whatever the crash does to the rest", async () => {
  const crashy = { tornWrite: 0.4, lostWrite: 0.4, dirEntryLost: 0.5 };
  for (let seed = 1; seed <= 30; seed++) {
    let storage = autoStorage(seed, crashy);
    const synced = filled(0x5a, 1500);
    const file = await writeDurable(storage, "log", synced);
    await file.write(1500, filled(0x77, 2000)); // Unsynced: at the crash's mercy.
    await file.truncate(1700);
    const other = await storage.open("scratch", { create: true }); // Entry never synced.
    await other.write(0, bytes(1));
    for (let crash = 0; crash < 3; crash++) {
      storage = storage.crash();
      const image = storage.readLive("log");
      assert.ok(image.length >= 1500, `seed ${seed}: the synced length must survive`);
      assert.deepEqual(image.subarray(0, 1500), synced, `seed ${seed}: synced bytes changed`);
    }
  }
});

Deno.test("crash: data a failed fsync covered is lost, even after a later successful sync", async () => {
  let laterSyncCases = 0;
  let noLaterSyncCases = 0;
  for (
    let seed = 1;
    seed <= seedSearchMax && (laterSyncCases < 2 || noLaterSyncCases < 2);
    seed++
  ) {
    const storage = autoStorage(seed, { fsyncFail: 0.5 });
    const file = await storage.open("f", { create: true });
    await file.write(0, filled(0x11, 1024));
    if (!await succeeds(file.sync()) || !await succeeds(storage.syncDir())) continue;
    await file.write(0, filled(0x22, 512));
    if (await succeeds(file.sync())) continue;
    assert.deepEqual(storage.readLive("f").subarray(0, 512), filled(0x22, 512), "still readable");
    assert.equal(faultsOf(storage, "fsyncFail", "f").length, 1);
    await file.write(1024, filled(0x33, 512));
    const laterSync = await succeeds(file.sync());
    const after = storage.crash(); // lostWrite and tornWrite are 0: only the failed sync loses data.
    const image = after.readLive("f");
    assert.deepEqual(image.subarray(0, 1024), filled(0x11, 1024), `seed ${seed}: fsyncgate`);
    // The crash reports each write a failed sync covered as lost.
    assert.equal(faultsOf(storage, "crashFsyncLost", "f").length, laterSync ? 1 : 2);
    if (laterSync) {
      assert.deepEqual(image.subarray(1024), filled(0x33, 512), "the later synced write survives");
      laterSyncCases++;
    } else {
      noLaterSyncCases++;
    }
  }
  assert.ok(laterSyncCases >= 2 && noLaterSyncCases >= 2, `${laterSyncCases} ${noLaterSyncCases}`);
});

Deno.test("crash: directory changes need syncDir", async () => {
  const storage = autoStorage(1, { dirEntryLost: 1 });
  await writeDurable(storage, "kept", bytes(1));
  await writeDurable(storage, "moved", bytes(2));
  await writeDurable(storage, "removed", bytes(3));
  const fresh = await storage.open("fresh", { create: true });
  await fresh.write(0, bytes(4));
  await fresh.sync(); // The data is durable; the name is not.
  await storage.rename("moved", "moved-to");
  await storage.remove("removed");
  assert.deepEqual(storage.fileNames(), ["fresh", "kept", "moved-to"]);
  assert.deepEqual(storage.durableFileNames(), ["kept", "moved", "removed"]);
  const after = storage.crash();
  assert.deepEqual(after.fileNames(), ["kept", "moved", "removed"]);
  assert.deepEqual(after.readLive("moved"), bytes(2));
  assert.equal(faultsOf(storage, "dirEntryLost").length, 3);
  assert.equal(faultsOf(storage, "crashFileLost", "fresh").length, 1);

  const synced = autoStorage(1, { dirEntryLost: 1 });
  await writeDurable(synced, "moved", bytes(2));
  await synced.rename("moved", "moved-to");
  const created = await synced.open("fresh", { create: true });
  await created.write(0, bytes(4));
  await created.sync();
  await synced.syncDir();
  assert.deepEqual(synced.crash().fileNames(), ["fresh", "moved-to"]);
});

Deno.test("crash: a directory change is never kept after an earlier change to its name was lost", async () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 60; seed++) {
    const storage = autoStorage(seed, { dirEntryLost: 0.5 });
    await writeDurable(storage, "x", bytes(1));
    await storage.rename("x", "y"); // Pending 1.
    const again = await storage.open("x", { create: true }); // Pending 2: needs 1.
    await again.write(0, bytes(2));
    await again.sync();
    const after = storage.crash();
    const state = after.fileNames().map((name) => `${name}=${after.readLive(name)}`).join(" ");
    assert.ok(["x=1", "y=1", "x=2 y=1"].includes(state), `seed ${seed}: impossible state ${state}`);
    seen.add(state);
  }
  assert.equal(seen.size, 3, `states seen: ${[...seen]}`);
});

Deno.test("crash: the crashed instance refuses every call; the new one is unlocked", async () => {
  const storage = autoStorage(1, {});
  assert.equal(await storage.tryLock(), true);
  const file = await storage.open("a", { create: true });
  await file.write(0, bytes(1));
  const after = storage.crash();
  assert.equal(storage.crashed, true);
  const calls: (() => Promise<unknown>)[] = [
    () => storage.open("a"),
    () => storage.open("b", { create: true }),
    () => storage.list(),
    () => storage.rename("a", "b"),
    () => storage.remove("a"),
    () => storage.syncDir(),
    () => storage.tryLock(),
    () => storage.unlock(),
    () => file.read(0, 1),
    () => file.write(0, bytes(2)),
    () => file.sync(),
    () => file.size(),
    () => file.truncate(0),
    () => file.close(),
  ];
  for (const call of calls) {
    await assert.rejects(
      call(),
      (error: Error) => error instanceof StorageIoError && /crashed/.test(error.message),
    );
  }
  assert.throws(() => storage.crash(), StorageIoError);
  assert.equal(await after.tryLock(), true, "the lock dies with the machine");
  assert.deepEqual(await after.list(), ["a"]);
  assert.deepEqual(await (await after.open("a")).read(0, 10), bytes(1));
});

Deno.test("crash: in-flight operations never complete; in-flight writes are lost or torn", async () => {
  for (const tornWrite of [0, 1]) {
    const scheduler = new Scheduler({ seed: 2, reorder: false });
    const storage = new SimBlockStorage({ seed: 3, profile: profile({ tornWrite }), scheduler });
    const file = await drive(scheduler, storage.open("a", { create: true }));
    await drive(scheduler, file.write(0, filled(0x11, 2048)));
    await drive(scheduler, file.sync());
    await drive(scheduler, storage.syncDir());
    let settled = false;
    const inflight = [file.write(0, filled(0x22, 2048)), file.sync(), storage.list()];
    for (const promise of inflight) promise.then(() => settled = true, () => settled = true);
    assert.equal(scheduler.pending, 3);
    const after = storage.crash();
    assert.equal(scheduler.pending, 0, "the crash cancels the old machine's completions");
    await scheduler.settle();
    assert.equal(settled, false, "a crashed machine's promises never settle");
    const image = after.readLive("a");
    const { kept } = assertSectorTorn(image, { offset: 0, length: 2048, sector: 512 }, 0x11, 0x22);
    if (tornWrite === 0) assert.equal(kept, 0);
    const kind = tornWrite === 0 ? "crashInflightDropped" : "crashInflightTorn";
    assert.equal(faultsOf(storage, kind, "a").length, 1);
  }
});

// --- injected faults ----------------------------------------------------------

Deno.test("faults: a misdirected write reads back fine, then lands elsewhere on the disk", async () => {
  let landed = 0;
  let vanished = 0;
  for (let seed = 1; seed <= seedSearchMax && (landed < 2 || vanished < 1); seed++) {
    const storage = autoStorage(seed, { misdirectedWrite: 0.5 });
    const file = await writeDurable(storage, "f", filled(0x11, 4096));
    if (faultsOf(storage, "misdirectedWrite").length > 0) continue;
    await file.write(1024, filled(0x22, 512));
    const [fault] = faultsOf(storage, "misdirectedWrite", "f");
    if (fault === undefined) continue;
    assert.deepEqual(await file.read(1024, 512), filled(0x22, 512), "reads see the page cache");
    await file.sync();
    const durable = storage.readDurable("f");
    assert.deepEqual(
      durable.subarray(1024, 1536),
      filled(0x11, 512),
      "the intended place is stale",
    );
    const target = /at byte (\d+)/.exec(fault.detail);
    if (target === null) {
      assert.deepEqual(durable, filled(0x11, 4096));
      vanished++;
      continue;
    }
    const at = Number(target[1]);
    assert.ok(at % 512 === 0 && at !== 1024 && at <= 4096, `target ${at}`);
    assert.deepEqual(durable.subarray(at, at + 512), filled(0x22, 512));
    assert.deepEqual(storage.crash().readLive("f"), durable, "the crash keeps the damage");
    landed++;
  }
  assert.ok(landed >= 2 && vanished >= 1, `landed ${landed}, vanished ${vanished}`);
});

Deno.test("faults: bit flips are transient and read errors reject; the disk is unchanged", async () => {
  const flipping = autoStorage(4, { bitFlip: 1 });
  const file = await flipping.open("f", { create: true });
  await file.write(0, filled(0, 64));
  for (let read = 0; read < 5; read++) {
    const data = await file.read(0, 64);
    const changed = data.reduce((count, value) => count + (value === 0 ? 0 : 1), 0);
    assert.equal(changed, 1);
    const byte = data.findIndex((value) => value !== 0);
    assert.equal(data[byte] & (data[byte] - 1), 0, "exactly one bit flipped");
    assert.equal(faultsOf(flipping, "bitFlip", "f")[read].offset, byte);
  }
  assert.deepEqual(flipping.readLive("f"), filled(0, 64));
  assert.deepEqual(await file.read(64, 10), bytes(), "an empty read has nothing to flip");

  const failing = autoStorage(4, { readError: 1 });
  const other = await failing.open("f", { create: true });
  await other.write(0, bytes(1, 2, 3));
  await assert.rejects(
    other.read(0, 3),
    (error: Error) => error instanceof StorageIoError && /latent/.test(error.message),
  );
  assert.equal(failing.faultCounts.readError, 1);
  assert.deepEqual(failing.readLive("f"), bytes(1, 2, 3));
});

Deno.test("faults: a short write stores a sector-aligned prefix and rejects", async () => {
  const prefixes = new Set<number>();
  for (let seed = 1; seed <= 20; seed++) {
    const storage = autoStorage(seed, { shortWrite: 1 });
    const file = await storage.open("f", { create: true });
    const data = Uint8Array.from({ length: 2000 }, (_, i) => i & 0xff);
    await assert.rejects(
      file.write(100, data),
      (error: Error) => error instanceof StorageIoError && /short write/.test(error.message),
    );
    const live = storage.readLive("f");
    const kept = Math.max(0, live.length - 100);
    assert.ok(kept === 0 || live.length % 512 === 0, `prefix ends at ${live.length}`);
    assert.ok(kept < data.length);
    assert.deepEqual(live.subarray(100), data.subarray(0, kept));
    assert.equal(faultsOf(storage, "shortWrite", "f").length, 1);
    prefixes.add(kept);
  }
  assert.ok(prefixes.size >= 3, `prefixes seen: ${[...prefixes]}`);
});

Deno.test("faults: a full disk refuses writes and creates and changes nothing", async () => {
  let refusedCreates = 0;
  let refusedWrites = 0;
  for (let seed = 1; seed <= seedSearchMax && (refusedCreates < 1 || refusedWrites < 1); seed++) {
    const storage = autoStorage(seed, { noSpace: 0.5 });
    let file: BlockFile;
    try {
      file = await storage.open("f", { create: true });
    } catch (error) {
      assert.ok(error instanceof StorageIoError && /disk is full/.test(error.message));
      assert.deepEqual(storage.fileNames(), []);
      refusedCreates++;
      continue;
    }
    if (await succeeds(file.write(0, bytes(1, 2, 3)))) continue;
    assert.equal(await file.size(), 0);
    assert.equal(faultsOf(storage, "noSpace", "f").length, 1);
    assert.match(faultsOf(storage, "noSpace", "f")[0].detail, /write/);
    refusedWrites++;
  }
  assert.ok(refusedCreates >= 1 && refusedWrites >= 1);
});

Deno.test("faults: completions of concurrent operations come back out of order", async () => {
  const completionOrder = async (reorder: boolean): Promise<number[]> => {
    const scheduler = new Scheduler({ seed: 9, reorder });
    const storage = new SimBlockStorage({ seed: 9, scheduler });
    const file = await drive(scheduler, storage.open("f", { create: true }));
    const done: number[] = [];
    const writes = Array.from(
      { length: 20 },
      (_, i) => file.write(i, bytes(i)).then(() => done.push(i)),
    );
    await drive(scheduler, Promise.all(writes));
    assert.deepEqual(storage.readLive("f"), Uint8Array.from({ length: 20 }, (_, i) => i));
    return done;
  };
  const inOrder = Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual(await completionOrder(false), inOrder);
  assert.notDeepEqual(await completionOrder(true), inOrder);
});

// --- determinism ------------------------------------------------------------

/** Settles to a short outcome string, never rejecting. */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => value instanceof Uint8Array ? `bytes ${hashString(String(value))}` : `ok ${value}`,
    (error: Error) => `${error.name}: ${error.message}`,
  );
}

/** A run of concurrent operations over three crashes, the last one with I/O in flight. */
async function hostileRun(seed: number) {
  const scheduler = new Scheduler({ seed, reorder: true });
  let storage = new SimBlockStorage({ seed, profile: hostile, scheduler });
  const outcomes: string[] = [];
  for (let round = 0; round < 3; round++) {
    const current = storage;
    const handles: Record<string, BlockFile> = {};
    const open = async (name: string) => {
      handles[name] = await current.open(name, { create: true });
    };
    outcomes.push(
      ...await drive(scheduler, Promise.all(["a", "b", "c"].map((name) => outcome(open(name))))),
    );
    const work: Promise<string>[] = [];
    for (const [name, file] of Object.entries(handles)) {
      for (let i = 0; i < 6; i++) {
        work.push(outcome(file.write(i * 700, filled(round * 16 + i, 900))));
      }
      work.push(
        outcome(file.sync()),
        outcome(file.read(0, 5000)),
        outcome(file.truncate(3000 + round)),
      );
      work.push(outcome(current.rename(name, `${name}.${round}`)));
    }
    work.push(outcome(current.syncDir()), outcome(current.list()));
    if (round < 2) outcomes.push(...await drive(scheduler, Promise.all(work)));
    else for (let i = 0; i < 10; i++) scheduler.step(); // Crash with I/O in flight.
    storage = storage.crash();
  }
  const files = storage.fileNames().map((name) => `${name}:${storage.readLive(name).join(",")}`);
  return { trace: storage.traceHash(), files, outcomes, faults: JSON.stringify(storage.faults) };
}

Deno.test("determinism: one seed replays the trace, the faults and the bytes; another differs", async () => {
  const first = await hostileRun(21);
  const second = await hostileRun(21);
  const other = await hostileRun(22);
  assert.equal(first.trace, second.trace);
  assert.deepEqual(first.files, second.files);
  assert.deepEqual(first.outcomes, second.outcomes);
  assert.equal(first.faults, second.faults);
  assert.notEqual(first.trace, other.trace);
  assert.notDeepEqual(first.files, other.files);
});

Deno.test("eventPrng stability: another file's operations do not change this file's fates", async () => {
  const run = async (seed: number, withNoise: boolean) => {
    const storage = autoStorage(seed, { ...hostile, reorder: false });
    const target = await outcome(storage.open("b", { create: true }));
    const b = target.startsWith("ok") ? await storage.open("b") : undefined;
    const dir = await outcome(storage.syncDir()); // So that "b" may outlive the crash.
    const noise = await storage.open("a", { create: true }).catch(() => undefined);
    const outcomes: string[] = [target, dir];
    for (let i = 0; i < 40 && b !== undefined; i++) {
      if (withNoise && noise !== undefined) {
        await outcome(noise.write(i * 10, filled(i, 700)));
        await outcome(noise.read(0, 100));
        if (i % 3 === 0) await outcome(noise.sync());
      }
      outcomes.push(await outcome(b.write(i * 600, filled(i + 1, 600))));
      outcomes.push(await outcome(b.read(i * 600, 600)));
      if (i % 12 === 5) outcomes.push(await outcome(b.sync())); // The last ten stay unsynced.
    }
    const after = storage.crash();
    const fates = storage.faults.filter((fault) => fault.file === "b").map((fault) =>
      JSON.stringify(fault)
    );
    const image = after.fileNames().includes("b") ? after.readLive("b").join(",") : "gone";
    return { outcomes, fates, image };
  };
  for (let seed = 1; seed <= 5; seed++) {
    const quiet = await run(seed, false);
    const noisy = await run(seed, true);
    assert.ok(quiet.fates.length > 5, `seed ${seed}: the run must exercise faults`);
    assert.deepEqual(noisy.outcomes, quiet.outcomes, `seed ${seed}: outcomes on "b" changed`);
    assert.deepEqual(noisy.fates, quiet.fates, `seed ${seed}: faults on "b" changed`);
    assert.equal(noisy.image, quiet.image);
  }
});

Deno.test("faults: the named profiles are valid and ordered by hostility", () => {
  for (const named of [none, realistic, hostile]) validateFaultProfile(named);
  assert.throws(() => validateFaultProfile({ ...none, bitFlip: 2 }), RangeError);
  assert.throws(() => new SimBlockStorage({ profile: { ...none, lostWrite: -1 } }), RangeError);
  assert.ok(hostile.fsyncFail > realistic.fsyncFail && realistic.fsyncFail > none.fsyncFail);
  const storage = new SimBlockStorage({ seed: 3, profile: realistic });
  assert.match(storage.description, /seed 3, realistic, epoch 0/);
  assert.equal(storage.clock.now(), 0);
  assert.equal(storage.faultLog.summary(), "no faults");
});
