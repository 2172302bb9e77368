/**
 * The image file layer: append, commit, read back, and the commit protocol
 * cut at every write boundary and torn at every offset of the header write.
 */

import assert from "node:assert/strict";
import { CorruptionError, MemoryBlockStorage } from "../mod.ts";
import { AssertionError } from "../lib/_assert.ts";
import { chunkBytes } from "../lib/image/allocation.ts";
import { type CommitFields, ImageFile, imageFileName } from "../lib/image/image_file.ts";
import {
  inlineLeafRef,
  inlinePrefixBytesMax,
  type NodeImage,
  nodeRecordBytes,
  recordRef,
  refLength,
  refOffset,
} from "../lib/image/node_record.ts";
import { headerRegionBytes, type ImageHeader } from "../lib/image/header.ts";
import { verifyImage } from "../lib/image/verify.ts";
import { RecordingStorage, tornAt } from "./_storage_wrappers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const leaf = (prefix: string, value: number): NodeImage & { value: number } => ({
  prefix: bytes(prefix),
  value,
  childBytes: new Uint8Array(0),
  childAddresses: [],
});
/** A leaf as its parent's record holds it. */
const inlined = ({ prefix, value }: NodeImage & { value: number }) => ({ prefix, value });
/** A leaf prefix one byte too long to be stored inline: "banana…" gets a record of its own. */
const longSuffix = "anana".repeat(13);
assert.equal(longSuffix.length, inlinePrefixBytesMax + 1);

/** What {@link writeTree} wrote: the header fields to commit and the refs of its records. */
interface Tree {
  fields: CommitFields;
  records: number[];
  /** The long leaf's record. */
  long: number;
}

/**
 * Writes the keys "apple" (`base` + 1), "b" + 65 bytes (+ 2), "cherry" (+ 3)
 * and "cherryade" (+ 4): "apple" and "de" are leaves stored inline, the long
 * leaf, "herry" and the root are records.
 */
async function writeTree(image: ImageFile, base: number): Promise<Tree> {
  const records: number[] = [];
  const append = (node: NodeImage, root = false): number => {
    const ref = image.append(node, root);
    if (ref !== inlineLeafRef) records.push(ref);
    return ref;
  };
  const apple = leaf("pple", base + 1);
  const de = leaf("de", base + 4);
  const cherry = append({
    prefix: bytes("herry"),
    value: base + 3,
    childBytes: bytes("a"),
    childAddresses: [append(de)],
    inlineLeaves: [inlined(de)],
  });
  const long = append(leaf(longSuffix, base + 2));
  const root = append({
    prefix: new Uint8Array(0),
    value: undefined,
    childBytes: bytes("abc"),
    childAddresses: [append(apple), long, cherry],
    inlineLeaves: [inlined(apple)],
  }, true);
  assert.equal(records.length, 3, "the long leaf, cherry and the root");
  await image.flush();
  return { fields: { coverageLsn: base, rootAddress: root, keyCount: 4 }, records, long };
}

/** Reads the tree a header points to: every value, in key order. */
async function readTree(image: ImageFile, header: ImageHeader): Promise<number[]> {
  const values: number[] = [];
  const walk = async (ref: number): Promise<void> => {
    const node = await image.read(ref);
    if (node.value !== undefined) values.push(node.value);
    let inline = 0;
    for (const child of node.childAddresses) {
      if (child === inlineLeafRef) values.push(node.inlineLeaves![inline++].value);
      else await walk(child);
    }
    assert.equal(inline, node.inlineLeaves?.length ?? 0);
  };
  await walk(header.rootAddress);
  return values;
}

/** The bytes the records `refs` name. */
const recordBytes = (refs: number[]) => refs.reduce((sum, ref) => sum + refLength(ref), 0);

/** Verifies the image a header describes and checks the table against it. */
async function assertVerifies(image: ImageFile, header: ImageHeader): Promise<void> {
  const report = await verifyImage({
    read: (ref) => image.read(ref),
    rootAddress: header.rootAddress,
    keyCount: header.keyCount,
    slabBytes: 128 * 1024,
  });
  assert.deepEqual(report.problems, []);
  assert.equal(report.nodes, 3);
  assert.deepEqual(await image.checkLive(report.liveBytesBySlab), []);
}

Deno.test("image file: a fresh image, a commit, a reopen, a second commit in the other slot", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  assert.equal(image.header?.generation, 0, "a new image starts with an empty generation-0 header");
  const tree = await writeTree(image, 10);
  const first = await image.commit(tree.fields, []);
  assert.equal(first.generation, 1);
  assert.deepEqual(await readTree(image, first), [11, 12, 13, 14]);
  // One slab, one table chunk: the records and the chunk are live.
  assert.equal(image.space().liveBytes, recordBytes(tree.records) + chunkBytes(1));
  await assertVerifies(image, first);
  await image.close();
  const again = await ImageFile.open(storage);
  assert.deepEqual(again.header, first);
  const next = await writeTree(again, 20);
  // The second image shares nothing with the first: all its records are freed.
  const second = await again.commit(next.fields, tree.records);
  assert.equal(second.generation, 2);
  const space = again.space();
  assert.equal(space.liveBytes, recordBytes(next.records) + chunkBytes(1));
  assert.equal(
    space.heldBytes,
    recordBytes(tree.records) + chunkBytes(1),
    "held until next commit",
  );
  await assertVerifies(again, second);
  await again.close();
  const third = await ImageFile.open(storage);
  assert.deepEqual(third.header, second);
  assert.deepEqual(await readTree(third, second), [21, 22, 23, 24]);
  assert.deepEqual(
    await readTree(third, first),
    [11, 12, 13, 14],
    "the old image's records are untouched",
  );
  await third.close();
});

Deno.test("image file: a crash at every step of a commit leaves the old or the new image, whole", async () => {
  const recording = new RecordingStorage();
  const image = await ImageFile.open(recording);
  const tree = await writeTree(image, 10);
  const first = await image.commit(tree.fields, []);
  const from = recording.boundaries.length;
  const second = await image.commit((await writeTree(image, 20)).fields, tree.records);
  await image.close();
  const disks = [];
  for (let index = from; index < recording.boundaries.length; index++) {
    const boundary = recording.boundaries[index];
    disks.push({ label: boundary.label, disk: boundary.before.clone() });
    if (boundary.write === undefined) continue;
    for (const cut of [1, 100, 2048, 4095]) {
      if (cut < boundary.write.data.length) {
        disks.push({
          label: `${boundary.label} torn at ${cut}`,
          disk: await tornAt(boundary, cut),
        });
      }
    }
  }
  disks.push({ label: "after the commit", disk: recording.final() });
  const generations = new Set<number>();
  for (const { label, disk } of disks) {
    const reopened = await ImageFile.open(disk);
    const header = reopened.header!;
    assert.ok(header.generation === 1 || header.generation === 2, label);
    generations.add(header.generation);
    const expected = header.generation === 1 ? first : second;
    assert.deepEqual(header, expected, label);
    assert.deepEqual(
      await readTree(reopened, header),
      header.generation === 1 ? [11, 12, 13, 14] : [21, 22, 23, 24],
      label,
    );
    await assertVerifies(reopened, header);
    await reopened.close();
  }
  assert.ok(disks.length >= 8, `${disks.length} crash states`);
  assert.deepEqual([...generations].sort(), [1, 2], "crashes leave both images");
});

Deno.test("image file: a damaged record is a CorruptionError naming the file and its offset", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const tree = await writeTree(image, 10);
  const header = await image.commit(tree.fields, []);
  await image.close();
  const root = header.rootAddress;
  const long = tree.long;
  const file = await storage.open(imageFileName);
  const rootBytes = await file.read(refOffset(root), refLength(root));
  // The inline leaf "pple" is inside the root's record: damage to it is damage to the root.
  const apple = rootBytes.findIndex((_, index) =>
    String.fromCharCode(...rootBytes.subarray(index, index + 4)) === "pple"
  );
  assert.ok(apple > 0);
  const flip = async (offset: number) => {
    const [was] = await file.read(offset, 1);
    await file.write(offset, Uint8Array.of(was ^ 0x40));
  };
  const isCorruptionAt = (offset: number) => (error: unknown) =>
    error instanceof CorruptionError && error.file === imageFileName && error.offset === offset &&
    /checksum/.test(error.message);
  for (const at of [0, 5, 12, apple + 1, refLength(root) - 1]) {
    await flip(refOffset(root) + at);
    const reopened = await ImageFile.open(storage);
    await assert.rejects(reopened.read(root), isCorruptionAt(refOffset(root)), `byte ${at}`);
    await reopened.close();
    await flip(refOffset(root) + at);
  }
  // Damage to the long leaf's record leaves the root readable.
  await flip(refOffset(long) + 20);
  const reopened = await ImageFile.open(storage);
  assert.equal((await reopened.read(root)).childAddresses[1], long);
  await assert.rejects(reopened.read(long), isCorruptionAt(refOffset(long)));
  await reopened.close();
  await file.close();
});

Deno.test("image file: append stores short leaves inline and gives other nodes refs of their records", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  const short = leaf("x".repeat(inlinePrefixBytesMax), 1);
  assert.equal(image.append(short), inlineLeafRef);
  assert.equal(image.lastAppendBytes, 0);
  assert.equal(image.buffered, 0, "an inline leaf writes nothing");
  // The same leaf as the root has no parent to hold it: it gets a record.
  const rootLeaf = image.append(short, true);
  assert.notEqual(rootLeaf, inlineLeafRef);
  const long = leaf("x".repeat(inlinePrefixBytesMax + 1), 2);
  const longRef = image.append(long);
  const inner: NodeImage = {
    prefix: bytes("p"),
    value: undefined,
    childBytes: bytes("ab"),
    childAddresses: [longRef, inlineLeafRef],
    inlineLeaves: [inlined(short)],
  };
  const innerRef = image.append(inner);
  const appended = [[rootLeaf, short], [longRef, long], [innerRef, inner]] as const;
  // Each ref names the record's offset and length; the records follow one another.
  let offset = headerRegionBytes;
  for (const [ref, node] of appended) {
    assert.equal(refOffset(ref), offset);
    assert.equal(refLength(ref), nodeRecordBytes(node));
    offset += refLength(ref);
  }
  assert.equal(image.lastAppendBytes, refLength(innerRef));
  assert.equal(image.buffered, offset - headerRegionBytes);
  await image.flush();
  assert.equal(image.buffered, 0);
  for (const [ref, node] of appended) assert.deepEqual(await image.read(ref), node);
  await image.close();
});

Deno.test("image file: read takes exactly the bytes a ref names; any other ref is corruption", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  const first = image.append(leaf("x".repeat(80), 1));
  const second = image.append(leaf("y".repeat(80), 2));
  await image.flush();
  const [offset, length] = [refOffset(first), refLength(first)];
  assert.equal(refOffset(second), offset + length);
  const corrupt = (at: number) => (error: unknown) =>
    error instanceof CorruptionError && error.file === imageFileName && error.offset === at;
  // A length one short or one over, or covering the next record too.
  for (const wrong of [length - 1, length + 1, length + refLength(second)]) {
    await assert.rejects(image.read(recordRef(offset, wrong)), corrupt(offset), `length ${wrong}`);
  }
  // An offset off by one, or past the end of the file.
  await assert.rejects(image.read(recordRef(offset + 1, length)), corrupt(offset + 1));
  await assert.rejects(image.read(recordRef(1 << 20, length)), corrupt(1 << 20));
  // Refs no record has: an inline leaf, the header region, not a ref at all.
  for (const bad of [inlineLeafRef, 0, -5, 1.5, recordRef(100, length), 2 ** 53]) {
    await assert.rejects(image.read(bad), corrupt(0), `ref ${bad}`);
  }
  assert.deepEqual((await image.read(first)).value, 1);
  assert.deepEqual((await image.read(second)).value, 2);
  await image.close();
});

Deno.test("image file: commit frees records by ref, never an inline leaf", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  const tree = await writeTree(image, 10);
  const first = await image.commit(tree.fields, []);
  const next = await writeTree(image, 20);
  // Freeing the first tree's records by ref moves exactly their bytes to held.
  const second = await image.commit(next.fields, tree.records);
  assert.equal(second.generation, first.generation + 1);
  assert.equal(image.space().heldBytes, recordBytes(tree.records) + chunkBytes(1));
  // The commit after it frees the held bytes: nothing is held but the second table.
  const third = await image.commit((await writeTree(image, 30)).fields, next.records);
  assert.equal(third.generation, second.generation + 1);
  assert.equal(image.space().heldBytes, recordBytes(next.records) + chunkBytes(1));
  await image.close();
  // An inline leaf has no record to free.
  const other = await ImageFile.open(new MemoryBlockStorage());
  const fields = (await writeTree(other, 10)).fields;
  await assert.rejects(other.commit(fields, [inlineLeafRef]), AssertionError);
  await other.close();
});

Deno.test("image file: the reclaimable LSN is the lower of the two slots' coverages", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const leaf = {
    prefix: new Uint8Array(0),
    value: 1,
    childBytes: new Uint8Array(0),
    childAddresses: [],
  };
  const commit = async (coverageLsn: number) => {
    const rootAddress = image.append(leaf, true);
    return await image.commit({ coverageLsn, rootAddress, keyCount: 1 }, []);
  };
  assert.equal(image.reclaimableLsn, 0);
  await commit(10);
  assert.equal(image.reclaimableLsn, 0, "slot B still holds the empty generation 0");
  await commit(20);
  assert.equal(image.reclaimableLsn, 10, "the older slot covers only 10");
  await commit(35);
  assert.equal(image.reclaimableLsn, 20);
  await image.close();
  const reopened = await ImageFile.open(storage);
  assert.equal(reopened.reclaimableLsn, 20, "read back from both slots at open");
  await reopened.close();
});
