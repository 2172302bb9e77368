/**
 * The image file layer: append, commit, read back, and the commit protocol
 * cut at every write boundary and torn at every offset of the header write.
 */

import assert from "node:assert/strict";
import { CorruptionError, MemoryBlockStorage } from "../mod.ts";
import { type CommitFields, ImageFile, imageFileName } from "../lib/image/image_file.ts";
import type { NodeImage } from "../lib/image/node_record.ts";
import type { ImageHeader } from "../lib/image/header.ts";
import { RecordingStorage, tornAt } from "./_storage_wrappers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const leaf = (prefix: string, value: number): NodeImage => ({
  prefix: bytes(prefix),
  value,
  childBytes: new Uint8Array(0),
  childAddresses: [],
});

/** Writes a two-leaf tree under a root; returns the header fields to commit. */
async function writeTree(image: ImageFile, base: number): Promise<CommitFields> {
  const a = image.append(leaf("pple", base + 1));
  const b = image.append(leaf("anana", base + 2));
  const root = image.append({
    prefix: new Uint8Array(0),
    value: undefined,
    childBytes: bytes("ab"),
    childAddresses: [a, b],
  });
  await image.flush();
  return {
    coverageLsn: base,
    rootAddress: root,
    keyCount: 2,
  };
}

/** Reads the tree a header points to: the two leaf values. */
async function readTree(image: ImageFile, header: ImageHeader): Promise<number[]> {
  const root = await image.read(header.rootAddress);
  const values = [];
  for (const address of root.childAddresses) values.push((await image.read(address)).value!);
  return values;
}

Deno.test("image file: a fresh image, a commit, a reopen, a second commit in the other slot", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  assert.equal(image.header?.generation, 0, "a new image starts with an empty generation-0 header");
  const first = await image.commit(await writeTree(image, 10), []);
  assert.equal(first.generation, 1);
  assert.deepEqual(await readTree(image, first), [11, 12]);
  await image.close();
  const again = await ImageFile.open(storage);
  assert.deepEqual(again.header, first);
  const second = await again.commit(await writeTree(again, 20), []);
  assert.equal(second.generation, 2);
  await again.close();
  const third = await ImageFile.open(storage);
  assert.deepEqual(third.header, second);
  assert.deepEqual(await readTree(third, second), [21, 22]);
  assert.deepEqual(await readTree(third, first), [11, 12], "the old image's records are untouched");
  await third.close();
});

Deno.test("image file: a crash at every step of a commit leaves the old or the new image, whole", async () => {
  const recording = new RecordingStorage();
  const image = await ImageFile.open(recording);
  const first = await image.commit(await writeTree(image, 10), []);
  const from = recording.boundaries.length;
  const second = await image.commit(await writeTree(image, 20), []);
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
  for (const { label, disk } of disks) {
    const reopened = await ImageFile.open(disk);
    const header = reopened.header!;
    assert.ok(header.generation === 1 || header.generation === 2, label);
    const expected = header.generation === 1 ? first : second;
    assert.deepEqual(header, expected, label);
    assert.deepEqual(
      await readTree(reopened, header),
      header.generation === 1 ? [11, 12] : [21, 22],
      label,
    );
    await reopened.close();
  }
  assert.ok(disks.length >= 8, `${disks.length} crash states`);
});

Deno.test("image file: a damaged record is a CorruptionError naming the file and address", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const header = await image.commit(await writeTree(image, 10), []);
  await image.close();
  const file = await storage.open(imageFileName);
  const [target] = [header.rootAddress];
  const original = await file.read(target + 12, 1);
  await file.write(target + 12, new Uint8Array([original[0] ^ 0x40]));
  await file.close();
  const reopened = await ImageFile.open(storage);
  await assert.rejects(
    reopened.read(target),
    (error: unknown) =>
      error instanceof CorruptionError && error.file === imageFileName && error.offset === target,
  );
  await reopened.close();
});
