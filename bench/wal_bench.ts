/**
 * Benchmarks of the write-ahead log's parts (`deno bench bench/wal_bench.ts`):
 * record encoding and decoding (`lib/wal/record.ts`; the CRC-32C records
 * carry has benches of its own, `lib/_crc32c_bench.ts`), group commit through
 * the store with 1 and 1,000 concurrent callers, and recovery (open replaying
 * 100,000 add records with no image; open of an image plus a 1,000-record
 * tail). The store benches
 * run on a `MemoryBlockStorage`, whose fsync costs nothing, so they time the
 * engine's own work per write, not the disk (`deno task compare` prints the
 * disk's fsync rate). Data is built once before the benches; each bench
 * checks its result, so a wrong engine fails the run. Compare numbers from
 * one run only: this machine is shared and noisy.
 *
 * @module
 */

import {
  decodeMutations,
  type MutationKind,
  type MutationSink,
  parseRecord,
  RecordBuffer,
  recordHeaderBytes,
  RecordKind,
} from "../lib/wal/record.ts";
import { MemoryBlockStorage, openStore, type Store } from "../mod.ts";
import { distinctNgrams, ngramStream } from "./_ngram_keys.ts";

/** Records (or batch ops) each encode and decode bench handles per iteration. */
const recordsPerIteration = 1_000;
/** Keys the group-commit benches add to, round robin. */
const commitKeys = 5_000;
/** Callers adding at once in the concurrent group-commit bench. */
const concurrentCallers = 1_000;
/** Add records in the WAL that the no-image recovery replays. */
const replayAdds = 100_000;
/** Keys in the image of the other recovery bench. */
const imageKeys = 100_000;
/** Add records in the WAL tail above that image. */
const tailAdds = 1_000;

const encoder = new TextEncoder();
const count = (value: number): string => value.toLocaleString("en-US");

// ------------------------------------------------------------ records

const recordKeys = distinctNgrams(recordsPerIteration).map((text) => encoder.encode(text));
const addRecordBytes = recordKeys.reduce(
  (sum, key) => sum + recordHeaderBytes + 2 + key.length + 8,
  0,
);
const batchRecordBytes = recordKeys.reduce(
  (sum, key) => sum + 1 + 2 + key.length + 8,
  recordHeaderBytes + 4,
);

function encodeAdds(buffer: RecordBuffer): void {
  buffer.reset();
  for (let index = 0; index < recordKeys.length; index++) {
    buffer.mutation(index + 1, RecordKind.add, recordKeys[index], index + 1);
  }
}

function encodeBatch(buffer: RecordBuffer): void {
  buffer.reset();
  buffer.begin(1, RecordKind.batch);
  buffer.u32(recordKeys.length);
  for (let index = 0; index < recordKeys.length; index++) {
    buffer.u8(RecordKind.add);
    buffer.key(recordKeys[index]);
    buffer.i64(index + 1);
  }
  buffer.end();
}

/** The encoded bytes of the 1,000 add records and of the batch, copied out of their buffers. */
const addsBuffer = new RecordBuffer();
encodeAdds(addsBuffer);
const addsBytes = addsBuffer.view().slice();
const batchBuffer = new RecordBuffer();
encodeBatch(batchBuffer);
const batchBytes = batchBuffer.view().slice();
/** The deltas written: 1 + 2 + … + 1,000. */
const deltaSum = recordsPerIteration * (recordsPerIteration + 1) / 2;

/** A sink that sums the deltas and key bytes it is given. */
class SumSink implements MutationSink {
  deltas = 0;
  keyBytes = 0;
  mutations = 0;
  mutation(kind: MutationKind, key: Uint8Array, value: number): string | undefined {
    if (kind !== RecordKind.add) return `unexpected kind ${kind}`;
    this.deltas += value;
    this.keyBytes += key.length;
    this.mutations++;
    return undefined;
  }
}

/** Parses and decodes every record in `bytes`; returns the sink, or throws on a bad record. */
function decodeAll(bytes: Uint8Array): SumSink {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sink = new SumSink();
  let offset = 0;
  let lsn = 1;
  while (offset < bytes.length) {
    const frame = parseRecord(bytes, view, offset, lsn++);
    if (typeof frame === "string") throw new Error(`record at ${offset}: ${frame}`);
    const problem = decodeMutations(bytes, view, frame, sink);
    if (problem !== undefined) throw new Error(`record at ${offset}: ${problem}`);
    offset = frame.end;
  }
  return sink;
}

function checkDecoded(sink: SumSink): void {
  if (sink.mutations !== recordsPerIteration || sink.deltas !== deltaSum) {
    throw new Error(`decoded ${sink.mutations} mutations summing to ${sink.deltas}`);
  }
}

Deno.bench({
  name: `encode ${count(recordsPerIteration)} add records`,
  group: "record",
  baseline: true,
  fn() {
    encodeAdds(addsBuffer);
    if (addsBuffer.length !== addRecordBytes || addsBuffer.lastLsn !== recordsPerIteration) {
      throw new Error(`encoded ${addsBuffer.length} bytes up to LSN ${addsBuffer.lastLsn}`);
    }
  },
});

Deno.bench({
  name: `encode one batch record of ${count(recordsPerIteration)} adds`,
  group: "record",
  fn() {
    encodeBatch(batchBuffer);
    if (batchBuffer.length !== batchRecordBytes) {
      throw new Error(`encoded ${batchBuffer.length} bytes, expected ${batchRecordBytes}`);
    }
  },
});

Deno.bench({
  name: `decode ${count(recordsPerIteration)} add records (parse, checksum, mutations)`,
  group: "record",
  fn() {
    checkDecoded(decodeAll(addsBytes));
  },
});

Deno.bench({
  name: `decode one batch record of ${count(recordsPerIteration)} adds`,
  group: "record",
  fn() {
    checkDecoded(decodeAll(batchBytes));
  },
});

// ------------------------------------------------------------ group commit

const addKeys = distinctNgrams(commitKeys).map((text) => encoder.encode(text));
// No automatic checkpoints: on a MemoryBlockStorage every add resolves in
// microtasks, so a checkpoint (which pauses for the event loop between steps)
// would start and then wait out the whole bench with its snapshot live,
// making every add copy its path; the numbers would depend on when it began.
const commitStore = await openStore({
  storage: new MemoryBlockStorage(),
  checkpoint: { auto: false },
});
/** Adds made by the two benches below, in order: add number `n` is key `n % commitKeys`'s `⌊n / commitKeys⌋ + 1`th. */
let adds = 0;

function addNext(): Promise<number> {
  const index = adds++;
  const expected = Math.floor(index / commitKeys) + 1;
  return commitStore.add(addKeys[index % commitKeys], 1).then((value) => {
    if (value !== expected) throw new Error(`add ${index} resolved to ${value}, not ${expected}`);
    return value;
  });
}

Deno.bench({
  name: "add, strict, 1 caller, memory storage (per add)",
  group: "group commit",
  baseline: true,
  async fn() {
    await addNext();
  },
});

Deno.bench({
  name: `add, strict, ${count(concurrentCallers)} concurrent callers, memory storage ` +
    `(per ${count(concurrentCallers)} adds)`,
  group: "group commit",
  async fn() {
    const pending = new Array<Promise<number>>(concurrentCallers);
    for (let index = 0; index < concurrentCallers; index++) pending[index] = addNext();
    await Promise.all(pending);
  },
});

// ------------------------------------------------------------ recovery

/** A store on `storage` that checkpoints only when asked, and whose close does not checkpoint. */
function openManual(storage: MemoryBlockStorage, durability: "strict" | "relaxed"): Promise<Store> {
  return openStore({ storage, durability, checkpoint: { auto: false } });
}

/** 100,000 n-gram adds, one record each, and no image. */
const replayStorage = new MemoryBlockStorage();
const replayText = ngramStream(replayAdds).map((text) => encoder.encode(text));
const replayCounts = new Map<string, number>();
for (const key of replayText) {
  const text = key.join();
  replayCounts.set(text, (replayCounts.get(text) ?? 0) + 1);
}
{
  const store = await openManual(replayStorage, "relaxed");
  await Promise.all(replayText.map((key) => store.add(key, 1)));
  await store.close();
}
/** The first key of the text, its count after replay. */
const replayProbe = replayText[0];
const replayProbeCount = replayCounts.get(replayProbe.join())!;

/** 100,000 keys checkpointed into the image, then 1,000 adds in the WAL above it. */
const imageStorage = new MemoryBlockStorage();
const imageKeyBytes = distinctNgrams(imageKeys).map((text) => encoder.encode(text));
{
  const store = await openManual(imageStorage, "relaxed");
  for (let start = 0; start < imageKeyBytes.length; start += 1_000) {
    const atomic = store.atomic();
    for (const key of imageKeyBytes.slice(start, start + 1_000)) atomic.add(key, 1);
    await atomic.commit();
  }
  await store.checkpoint();
  await Promise.all(imageKeyBytes.slice(0, tailAdds).map((key) => store.add(key, 1)));
  await store.close();
}

/** Times an open of `storage`; checks what it replayed and one key's count (untimed), then closes. */
async function timeOpen(
  b: Deno.BenchContext,
  storage: MemoryBlockStorage,
  records: number,
  keys: number,
  probe: Uint8Array,
  probeCount: number,
): Promise<void> {
  b.start();
  const store = await openManual(storage, "strict");
  b.end();
  const stats = store.stats();
  const value = await store.get(probe);
  await store.close();
  if (stats.recovery.replayedRecords !== records || stats.keys !== keys) {
    throw new Error(`replayed ${stats.recovery.replayedRecords} records into ${stats.keys} keys`);
  }
  if (value !== probeCount) throw new Error(`the probe key is ${value}, expected ${probeCount}`);
}

Deno.bench({
  name: `open replaying ${count(replayAdds)} add records, no image (${
    count(replayCounts.size)
  } keys)`,
  group: "recovery",
  baseline: true,
  n: 10,
  warmup: 2,
  async fn(b) {
    await timeOpen(b, replayStorage, replayAdds, replayCounts.size, replayProbe, replayProbeCount);
  },
});

Deno.bench({
  name: `open an image of ${count(imageKeys)} keys + a WAL tail of ${count(tailAdds)} adds`,
  group: "recovery",
  n: 20,
  warmup: 2,
  async fn(b) {
    await timeOpen(b, imageStorage, tailAdds, imageKeys, imageKeyBytes[0], 2);
  },
});
