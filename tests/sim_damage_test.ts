/**
 * The simulated disk's destroyed ranges (`sim/damage.ts`), the faults a crash
 * itself injects (`sim/crash_faults.ts`) and the excuses the oracle takes
 * from them (`sim/excuses.ts`): a loss or a corruption report is excused
 * only where a fault destroyed the bytes concerned.
 */

import assert from "node:assert/strict";
import { CorruptionError } from "../lib/errors.ts";
import {
  currentHeader,
  encodeHeaderSlot,
  geometryDefaults,
  headerSlotBytes,
  type ImageHeader,
} from "../lib/image/header.ts";
import { imageFileName } from "../lib/image/image_file.ts";
import { decodeNodeRecord, encodeNodeRecord, recordRef } from "../lib/image/node_record.ts";
import type { BlockFile } from "../lib/storage/block_storage.ts";
import { parseRecord, RecordBuffer, RecordKind } from "../lib/wal/record.ts";
import { readWal } from "../lib/wal/recover.ts";
import { encodeSegmentHeader, segmentName } from "../lib/wal/segment.ts";
import { DamageMap } from "../sim/damage.ts";
import { Excuses } from "../sim/excuses.ts";
import { Oracle } from "../sim/model.ts";
import { type FaultProfile, none } from "../sim/faults.ts";
import { SimBlockStorage } from "../sim/storage.ts";
import { WalMap } from "../sim/wal_map.ts";

/** Seeds a search for a drawn fault may try. */
const seedSearchMax = 300;

const filled = (value: number, length: number): Uint8Array => new Uint8Array(length).fill(value);

function storageWith(seed: number, overrides: Partial<FaultProfile>): SimBlockStorage {
  return new SimBlockStorage({
    seed,
    profile: { ...none, name: "test", ...overrides },
    autoRun: true,
  });
}

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

/** Records `first..last`, one group: `add("k", lsn)` each. */
function records(first: number, last: number): Uint8Array {
  const buffer = new RecordBuffer();
  for (let lsn = first; lsn <= last; lsn++) {
    buffer.mutation(lsn, RecordKind.add, new TextEncoder().encode("k"), lsn);
  }
  return buffer.view().slice();
}

/** A segment's creation write: its header, then `records`. */
function creation(firstLsn: number, body: Uint8Array): Uint8Array {
  const header = encodeSegmentHeader(firstLsn, 0);
  const bytes = new Uint8Array(header.length + body.length);
  bytes.set(header);
  bytes.set(body, header.length);
  return bytes;
}

function slot(generation: number, coverageLsn: number, rootAddress = 0): Uint8Array {
  const header: ImageHeader = {
    generation,
    coverageLsn,
    rootAddress,
    keyCount: 0,
    pageCount: 0,
    allocationAddress: 0,
    deadBytes: 0,
    ...geometryDefaults,
  };
  return encodeHeaderSlot(header);
}

/** A root record holding the key "k" with `count` (counts of one varint width encode to one length). */
function rootRecord(count: number): Uint8Array {
  const key = new TextEncoder().encode("k");
  return encodeNodeRecord({
    prefix: key,
    value: count,
    childBytes: new Uint8Array(0),
    childAddresses: [],
  });
}

Deno.test("damage map: add keeps the first expected bytes, heal and clip cut ranges", () => {
  const damage = new DamageMap();
  damage.add(10, 20, filled(1, 10));
  damage.add(15, 30, filled(2, 15));
  assert.deepEqual(damage.ranges().map((range) => [range.start, range.end]), [[10, 20], [20, 30]]);
  assert.deepEqual(damage.ranges()[0].expected, filled(1, 10), "what the engine wrote first");
  damage.heal(12, 25);
  assert.deepEqual(damage.ranges().map((range) => [range.start, range.end]), [[10, 12], [25, 30]]);
  assert.deepEqual(damage.ranges()[1].expected, filled(2, 5));
  damage.clip(11);
  assert.ok(damage.overlaps(10, 11) && !damage.overlaps(11, 100));
});

Deno.test("damage: a synced misdirected write destroys its place and where it landed; the engine's next write heals", async () => {
  let seen = 0;
  for (let seed = 1; seed <= seedSearchMax && seen < 2; seed++) {
    const storage = storageWith(seed, { misdirectedWrite: 0.5 });
    const file = await writeDurable(storage, "f", filled(0x11, 4096));
    if (storage.faults.length > 0) continue;
    await file.write(1024, filled(0x22, 512));
    const fault = storage.faults.find((record) => record.kind === "misdirectedWrite");
    if (fault === undefined) continue;
    assert.deepEqual(storage.damage("f"), [], "reads see the page cache: nothing destroyed yet");
    await file.sync();
    const after = storage.crash();
    const ranges = after.damage("f");
    const intended = ranges.find((range) => range.start === 1024);
    assert.ok(intended !== undefined && intended.end === 1536, "the intended place is destroyed");
    assert.deepEqual(intended.expected, filled(0x22, 512), "with the bytes it should hold");
    const landed = /at byte (\d+)/.exec(fault.detail);
    if (landed !== null) {
      const at = Number(landed[1]);
      assert.ok(after.damage("f").some((range) => range.start <= at && range.end > at));
    }
    const again = await after.open("f");
    await again.write(1024, filled(0x33, 512));
    assert.ok(
      !after.damage("f").some((range) => range.start < 1536 && range.end > 1024),
      "the engine's own bytes heal what they cover",
    );
    seen++;
  }
  assert.equal(seen, 2);
});

Deno.test("damage: an unsynced misdirected write is crash loss where it belonged; where it landed is destroyed", async () => {
  let dropped = 0;
  let kept = 0;
  for (let seed = 1; seed <= seedSearchMax && (dropped < 1 || kept < 1); seed++) {
    const lossy = seed % 2 === 0;
    const storage = storageWith(seed, { misdirectedWrite: 0.5, lostWrite: lossy ? 1 : 0 });
    const file = await writeDurable(storage, "f", filled(0x11, 4096));
    if (storage.faults.length > 0) continue;
    await file.write(1024, filled(0x22, 512));
    const fault = storage.faults.find((record) => record.kind === "misdirectedWrite");
    if (fault === undefined) continue;
    const landed = /at byte (\d+)/.exec(fault.detail);
    const after = storage.crash();
    const ranges = after.damage("f");
    assert.ok(!ranges.some((range) => range.start === 1024), "never synced: not destroyed");
    if (lossy || landed === null) {
      assert.deepEqual(ranges, [], "dropped whole: nothing destroyed");
      dropped++;
    } else {
      const at = Number(landed[1]);
      assert.deepEqual(ranges.map((range) => [range.start, range.end]), [[at, at + 512]]);
      assert.deepEqual(ranges[0].expected, filled(0x11, 512), "what the landing overwrote");
      kept++;
    }
  }
  assert.ok(dropped >= 1 && kept >= 1, `dropped ${dropped}, kept ${kept}`);
});

Deno.test("crashHeaderLost: the newest committed slot is lost, the older one stays, the sector is destroyed", async () => {
  const modes = new Set<string>();
  for (let seed = 1; seed <= seedSearchMax && modes.size < 3; seed++) {
    const storage = storageWith(seed, { headerLost: 1 });
    const image = new Uint8Array(2 * headerSlotBytes);
    image.set(slot(1, 5), 0);
    image.set(slot(2, 9), headerSlotBytes);
    const file = await writeDurable(storage, imageFileName, image);
    await file.write(0, slot(3, 14)); // A again: its previous contents are generation 1
    await file.sync();
    const after = storage.crash();
    const fault = after.faults.find((record) => record.kind === "crashHeaderLost");
    assert.ok(fault !== undefined, "both slots valid: the fault applies");
    assert.equal(fault.coverageLsn, 14);
    modes.add(/reverted|zeroed|scrambled/.exec(fault.detail)![0]);
    const bytes = after.readLive(imageFileName);
    const current = currentHeader(
      imageFileName,
      bytes.subarray(0, headerSlotBytes),
      bytes.subarray(headerSlotBytes),
    );
    assert.equal(current.header?.generation, 2, "open falls back on the older slot");
    const [destroyed] = after.damage(imageFileName);
    assert.deepEqual([destroyed.start, destroyed.end], [0, headerSlotBytes]);
    assert.deepEqual(destroyed.expected, slot(3, 14), "the lost header is kept for the oracle");
    const again = after.crash(); // no commit since: the slot to fall back on is the stale one
    const lost = again.faults.filter((record) => record.kind === "crashHeaderLost");
    assert.equal(lost.length, 1, "never a second loss over a slot a fault destroyed");
  }
  assert.deepEqual([...modes].sort(), ["reverted", "scrambled", "zeroed"]);
  const lone = storageWith(1, { headerLost: 1 });
  await writeDurable(lone, imageFileName, slot(1, 5));
  const after = lone.crash();
  assert.ok(
    !after.faults.some((record) => record.kind === "crashHeaderLost"),
    "no older slot: no fault",
  );
});

/**
 * An image file on a fresh disk with `headerWriteLost: 1`: slot A holds
 * generation 1 naming `rootA`, B generation 2 naming `rootB` (0, or a root
 * record at byte 8192, past every table's slabs: space the next commit may
 * write); then A and B written again this life (generations 3 and 4), each synced.
 */
async function staleCandidate(rootA: number, rootB = 0): Promise<SimBlockStorage> {
  const record = rootRecord(7);
  const image = new Uint8Array(2 * headerSlotBytes + record.length);
  image.set(slot(1, 5, rootA), 0);
  image.set(slot(2, 9, rootB), headerSlotBytes);
  image.set(record, 2 * headerSlotBytes);
  const storage = storageWith(1, { headerWriteLost: 1 });
  const file = await writeDurable(storage, imageFileName, image); // not a whole-slot write
  await file.write(0, slot(3, 14)); // A: its previous contents are generation 1
  await file.sync();
  await file.write(headerSlotBytes, slot(4, 20)); // B, the newest
  await file.sync();
  return storage;
}

Deno.test("crashHeaderWriteLost: the older slot's last write of this life is lost, its header before it comes back", async () => {
  const rootRef = recordRef(2 * headerSlotBytes, rootRecord(7).length);
  const untouched = storageWith(1, { headerWriteLost: 1 });
  const image = new Uint8Array(2 * headerSlotBytes);
  image.set(slot(1, 5, rootRef), 0);
  image.set(slot(2, 9), headerSlotBytes);
  await writeDurable(untouched, imageFileName, image); // not a whole-slot write
  assert.ok(
    !untouched.crash().faults.some((record) => record.kind === "crashHeaderWriteLost"),
    "no slot written whole: nothing to lose",
  );
  const after = (await staleCandidate(rootRef)).crash();
  const fault = after.faults.find((record) => record.kind === "crashHeaderWriteLost");
  assert.ok(fault !== undefined, "A's write of this life may be lost");
  assert.equal(fault.offset, 0);
  assert.match(fault.detail, /slot A lost its last write \(generation 3\): .* generation 1 again/);
  const bytes = after.readLive(imageFileName);
  const current = currentHeader(
    imageFileName,
    bytes.subarray(0, headerSlotBytes),
    bytes.subarray(headerSlotBytes, 2 * headerSlotBytes),
  );
  assert.equal(current.header?.generation, 4, "open takes the newest slot, intact");
  assert.deepEqual(bytes.subarray(0, headerSlotBytes), slot(1, 5, rootRef), "A is stale");
  const [destroyed] = after.damage(imageFileName);
  assert.deepEqual([destroyed.start, destroyed.end], [0, headerSlotBytes]);
  assert.deepEqual(destroyed.expected, slot(3, 14), "the lost header is kept for the oracle");
  // Both writes were read back by the open after that power loss: from the media.
  const again = after.crash();
  const lost = again.faults.filter((record) => record.kind === "crashHeaderWriteLost");
  assert.equal(lost.length, 1, "the log is the machine's: only the first crash's fault");
  const empty = (await staleCandidate(0)).crash();
  assert.ok(
    !empty.faults.some((record) => record.kind === "crashHeaderWriteLost"),
    "a header naming no record: nothing a commit could write over, no fault",
  );
});

Deno.test("crashHeaderWriteLost: the newest slot's last write of this life lands on the older slot", async () => {
  const rootRef = recordRef(2 * headerSlotBytes, rootRecord(7).length);
  const after = (await staleCandidate(0, rootRef)).crash();
  const fault = after.faults.find((record) => record.kind === "crashHeaderWriteLost");
  assert.ok(fault !== undefined, "B's write of this life may have landed on A");
  assert.match(fault.detail, /slot B's last write \(generation 4\) landed on slot A/);
  assert.deepEqual([fault.offset, fault.length], [0, 2 * headerSlotBytes], "both slots");
  const bytes = after.readLive(imageFileName);
  assert.deepEqual(bytes.subarray(0, headerSlotBytes), slot(4, 20), "A: the newest header");
  assert.deepEqual(
    bytes.subarray(headerSlotBytes, 2 * headerSlotBytes),
    slot(2, 9, rootRef),
    "B: its header before the lost write",
  );
  const destroyed = after.damage(imageFileName).map((range) => [range.start, range.end]);
  assert.deepEqual(destroyed, [[0, headerSlotBytes], [headerSlotBytes, 2 * headerSlotBytes]]);
});

Deno.test("crashStaleTail: old records come back past the tail; recovery replays exactly the log", async () => {
  let atTail = 0;
  let applied = 0;
  for (let seed = 1; seed <= seedSearchMax && atTail < 2; seed++) {
    const storage = storageWith(seed, { staleTail: 1 });
    await writeDurable(storage, segmentName(1), creation(1, records(1, 4)));
    const second = creation(5, records(5, 8));
    const file = await writeDurable(storage, segmentName(5), second);
    await file.write(second.length, records(9, 10));
    await file.sync();
    const tail = second.length + records(9, 10).length;
    const after = storage.crash();
    const fault = after.faults.find((record) => record.kind === "crashStaleTail");
    if (fault === undefined) continue;
    applied++;
    assert.equal(fault.offset, tail, "stale bytes start at or past the tail");
    const bytes = after.readLive(segmentName(5));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const stale = parseRecord(bytes, view, tail);
    if (typeof stale !== "string") {
      assert.ok(stale.lsn < 11, `a record at the tail is an old one (lsn ${stale.lsn})`);
      atTail++;
    }
    const lsns: number[] = [];
    const scan = await readWal(after, 0, (_bytes, _view, frame) => {
      lsns.push(frame.lsn);
      return undefined;
    });
    assert.deepEqual(lsns, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "the stale records are not replayed");
    assert.equal(scan.lastLsn, 10);
    assert.equal(scan.tornBytes, bytes.length - tail, "they are the tail to cut");
  }
  assert.ok(atTail >= 2, `a valid old record right at the tail (${atTail} of ${applied})`);
});

Deno.test("excuses: a loss is excused only where the lost records' bytes were destroyed", async () => {
  let excused = 0;
  for (let seed = 1; seed <= seedSearchMax && excused < 1; seed++) {
    const storage = storageWith(seed, { misdirectedWrite: 0.5 });
    const places = new WalMap();
    storage.observeWrites(places.observe);
    const first = creation(1, records(1, 3));
    const file = await writeDurable(storage, segmentName(1), first);
    if (storage.faults.length > 0) continue;
    await file.write(first.length, records(4, 6));
    if (!storage.faults.some((record) => record.kind === "misdirectedWrite")) continue;
    await file.sync();
    const excuses = new Excuses(places);
    const after = storage.crash();
    excuses.noteCrash(after);
    assert.match(excuses.loss(3, [4, 5, 6]) ?? "", /were destroyed/, "their bytes never arrived");
    assert.equal(excuses.loss(2, [3, 4]), undefined, "record 3 was written where it belongs");
    excused++;
  }
  assert.equal(excused, 1);
});

Deno.test("excuses: records missing after the engine removed their segment are never excused", async () => {
  const storage = storageWith(1, {});
  const places = new WalMap();
  storage.observeWrites(places.observe);
  await writeDurable(storage, segmentName(1), creation(1, records(1, 3)));
  await writeDurable(storage, segmentName(4), creation(4, records(4, 6)));
  await storage.remove(segmentName(1));
  await storage.syncDir();
  const excuses = new Excuses(places);
  const after = storage.crash();
  excuses.noteCrash(after);
  assert.equal(excuses.loss(0, [1, 2, 3]), undefined);
  const gap = new CorruptionError(segmentName(4), 16, "records 1..3 are missing from the log");
  assert.equal(excuses.corruption(gap, after), undefined);
  const record = new CorruptionError(segmentName(4), 40, "record 5 is invalid (checksum)");
  assert.equal(excuses.corruption(record, after), undefined, "nothing destroyed there");
});

Deno.test("excuses: records missing below the log are excused only when lost header slots covered them", async () => {
  let found = 0;
  for (let seed = 1; seed <= seedSearchMax && found < 1; seed++) {
    const storage = storageWith(seed, { misdirectedWrite: 0.5 });
    const image = new Uint8Array(2 * headerSlotBytes);
    image.set(slot(1, 10), 0);
    image.set(slot(2, 20), headerSlotBytes);
    const file = await writeDurable(storage, imageFileName, image);
    if (storage.faults.length > 0) continue;
    await file.write(0, slot(3, 30));
    await file.write(headerSlotBytes, slot(4, 40));
    if (storage.faults.filter((record) => record.kind === "misdirectedWrite").length < 2) continue;
    await file.sync();
    const excuses = new Excuses(new WalMap());
    const after = storage.crash();
    excuses.noteCrash(after);
    // Both commits were lost: open falls back on generation 2 (coverage 20), and
    // the engine had removed the log up to 30, the lower of the two it wrote.
    const gap = (last: number) =>
      new CorruptionError(
        segmentName(last + 1),
        16,
        `records 21..${last} are missing from the log`,
      );
    assert.match(excuses.corruption(gap(30), after) ?? "", /image header was destroyed/);
    assert.equal(excuses.corruption(gap(35), after), undefined, "records 31..35 were its to keep");
    found++;
  }
  assert.equal(found, 1);
  const intact = storageWith(1, { headerLost: 1 });
  const image = new Uint8Array(2 * headerSlotBytes);
  image.set(slot(3, 30), 0);
  image.set(slot(4, 40), headerSlotBytes);
  await writeDurable(intact, imageFileName, image);
  const excuses = new Excuses(new WalMap());
  const after = intact.crash();
  assert.ok(after.faults.some((record) => record.kind === "crashHeaderLost"));
  excuses.noteCrash(after);
  const gap = new CorruptionError(segmentName(41), 16, "records 31..40 are missing from the log");
  assert.equal(excuses.corruption(gap, after), undefined, "the older slot was intact: its log too");
});

/**
 * An image whose slot A (generation 1) is empty and whose bytes at
 * `recordAt` hold an older record no header uses (a checkpoint that never
 * committed, or whose header was lost); then, as the next checkpoint does,
 * `newer` written over it and slot B (generation 2) committed naming it.
 * Returns the storage and the faults of those two writes, or undefined if
 * the setup itself met a fault.
 */
async function imageOverReusedSpace(
  seed: number,
  recordAt: number,
  older: Uint8Array,
  newer: Uint8Array,
): Promise<SimBlockStorage | undefined> {
  assert.equal(older.length, newer.length, "one length: the ref names either");
  const storage = storageWith(seed, { misdirectedWrite: 0.5 });
  const image = new Uint8Array(recordAt + older.length);
  image.set(slot(1, 10), 0);
  image.set(older, recordAt);
  const file = await writeDurable(storage, imageFileName, image);
  if (storage.faults.length > 0) return undefined;
  await file.write(recordAt, newer);
  await file.write(headerSlotBytes, slot(2, 20, recordRef(recordAt, newer.length)));
  await file.sync();
  return storage;
}

Deno.test("excuses: a state read from an older record a lost image write left is not judged", async () => {
  const at = 2 * headerSlotBytes;
  const [older, newer] = [rootRecord(1000), rootRecord(2000)];
  let found = 0;
  for (let seed = 1; seed <= seedSearchMax && found < 1; seed++) {
    const storage = await imageOverReusedSpace(seed, at, older, newer);
    const misdirected = storage?.faults.filter((record) => record.kind === "misdirectedWrite");
    // Only the record's write went astray: the header commits as written.
    if (storage === undefined || misdirected?.length !== 1 || misdirected[0].offset !== at) {
      continue;
    }
    const after = storage.crash();
    const bytes = after.readLive(imageFileName);
    const disk = decodeNodeRecord(bytes.subarray(at, at + older.length));
    assert.equal(typeof disk === "object" && disk.value, 1000, "the older record, checksum valid");
    const excuses = new Excuses(new WalMap());
    excuses.noteCrash(after);
    assert.match(
      excuses.unjudgeable() ?? "",
      new RegExp(
        `generation 2, which open reads, has its record at ${at}\\.\\.${at + older.length}`,
      ),
    );
    excuses.judged();
    assert.equal(excuses.unjudgeable(), undefined, "judged: the next recovery is judged again");
    excuses.noteCrash(after.crash());
    assert.equal(excuses.unjudgeable(), undefined, "the model rebased on those bytes");
    found++;
  }
  assert.equal(found, 1);
});

Deno.test("excuses: a misdirected image write beside the records open reads excuses nothing", async () => {
  const at = 2 * headerSlotBytes;
  const [older, newer] = [rootRecord(1000), rootRecord(2000)];
  let found = 0;
  for (let seed = 1; seed <= seedSearchMax && found < 1; seed++) {
    const storage = await imageOverReusedSpace(seed, at, older, newer);
    if (storage === undefined || storage.faults.length > 0) continue;
    // A write of a checkpoint that never commits, misdirected: it destroys
    // its own place and where it lands, neither of them a record in use.
    const file = await storage.open(imageFileName);
    await file.write(at + 1024, rootRecord(3000));
    await file.sync();
    if (!storage.faults.some((record) => record.kind === "misdirectedWrite")) continue;
    const after = storage.crash();
    const damage = after.damage(imageFileName);
    if (damage.some((range) => range.start < at + older.length && at < range.end)) continue;
    if (damage.some((range) => range.start < headerSlotBytes * 2)) continue;
    assert.ok(damage.length > 0, "bytes were destroyed");
    const excuses = new Excuses(new WalMap());
    excuses.noteCrash(after);
    assert.equal(excuses.unjudgeable(), undefined);
    found++;
  }
  assert.equal(found, 1);
});

Deno.test("oracle: a recovery no prefix explains is not judged only when the image open read lay on destroyed bytes", () => {
  for (const why of [undefined, "an image record lay on destroyed bytes"]) {
    const oracle = new Oracle();
    oracle.accepted(1, { type: "set", key: "k", value: 1 }, 1);
    oracle.acked(1, undefined);
    const excuse = { loss: () => undefined, unjudgeable: () => why };
    oracle.recovered(2, new Map([["k", 7]]), 1, false, excuse); // no prefix holds k = 7
    if (why === undefined) {
      assert.deepEqual(oracle.violations.map((violation) => violation.property), ["D5"]);
      continue;
    }
    assert.deepEqual(oracle.violations, []);
    assert.deepEqual(oracle.excused, [{ step: 2, lsns: [], why, clobbered: true }]);
    // Rebased on what it recovered: the next recovery is judged from there.
    oracle.accepted(3, { type: "add", key: "k", delta: 1 }, 2);
    oracle.acked(2, 8);
    oracle.recovered(4, new Map([["k", 8]]), 2, false, excuse);
    assert.deepEqual(oracle.violations, []);
    assert.equal(oracle.excused.length, 1, "a state that is explained is judged as usual");
  }
});
