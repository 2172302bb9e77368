/**
 * Unit tests of `verifyImage`: images the trie and `ImageFile` write pass
 * with exact counts; each kind of damage (checksums, order, shapes, refs,
 * counts, reads that fail) is reported where it is, and a walk's report is
 * the same at any read concurrency.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { Art } from "../art/art.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import { MemoryBlockStorage } from "../storage/memory.ts";
import { headerRegionBytes } from "./header.ts";
import { ImageFile, imageFileName } from "./image_file.ts";
import {
  type InlineLeaf,
  inlineLeafRef,
  inlinePrefixBytesMax,
  type NodeImage,
  nodeRecordBytes,
  recordRef,
  refLength,
  refOffset,
  storedInline,
} from "./node_record.ts";
import { type ImageVerifyOptions, type ImageVerifyReport, verifyImage } from "./verify.ts";

const encoder = new TextEncoder();

/** A child: the ref of its own record, or a leaf its parent's record holds. */
type Child = number | InlineLeaf;

/** A leaf stored inline. */
function inline(prefix: string | Uint8Array, value: number): InlineLeaf {
  return { prefix: typeof prefix === "string" ? encoder.encode(prefix) : prefix, value };
}

/** A node record: `children` as [branching character, child] pairs, in the order given. */
function node(
  prefix: string | Uint8Array,
  value: number | undefined,
  children: [string, Child][] = [],
): NodeImage {
  const record: NodeImage = {
    prefix: typeof prefix === "string" ? encoder.encode(prefix) : prefix,
    value,
    childBytes: Uint8Array.from(children, ([byte]) => byte.charCodeAt(0)),
    childAddresses: children.map(([, child]) => typeof child === "number" ? child : inlineLeafRef),
  };
  const leaves = children.flatMap(([, child]) => typeof child === "number" ? [] : [child]);
  if (leaves.length > 0) record.inlineLeaves = leaves;
  return record;
}

/** A copy of `record` that outlives the views a trie walk reuses. */
function copy(record: NodeImage): NodeImage {
  const copied: NodeImage = {
    prefix: record.prefix.slice(),
    value: record.value,
    childBytes: record.childBytes.slice(),
    childAddresses: record.childAddresses.slice(),
  };
  if (record.inlineLeaves !== undefined) {
    copied.inlineLeaves = record.inlineLeaves.map((leaf) =>
      inline(leaf.prefix.slice(), leaf.value)
    );
  }
  return copied;
}

/** The offset of the record `ref` names, as problem lines show it. */
const at = refOffset;

/** An image held in a Map by ref; a ref without a record reads as damage, like a bad checksum. */
class FakeImage {
  readonly records = new Map<number, NodeImage>();
  next = headerRegionBytes;
  reads = 0;

  /**
   * Stores `record` as a record of its own, `length` bytes (by default its
   * encoded size) at `offset` (by default after the last record placed so);
   * returns its ref.
   */
  put(record: NodeImage, offset?: number, length = nodeRecordBytes(record)): number {
    if (offset === undefined) {
      offset = this.next;
      this.next += length;
    }
    const ref = recordRef(offset, length);
    this.records.set(ref, record);
    return ref;
  }

  /** As `ImageFile.append`: a short leaf other than the root is stored inline, with no record. */
  append = (record: NodeImage, root = false): number =>
    !root && storedInline(record) ? inlineLeafRef : this.put(copy(record));

  read = (ref: number): Promise<NodeImage> => {
    this.reads++;
    const record = this.records.get(ref);
    if (record !== undefined) return Promise.resolve(record);
    return Promise.reject(
      new CorruptionError(imageFileName, refOffset(ref), "node record: record checksum mismatch"),
    );
  };
}

function verify(
  image: FakeImage,
  rootAddress: number,
  keyCount: number,
  options: Partial<ImageVerifyOptions> = {},
): Promise<ImageVerifyReport> {
  return verifyImage({ read: image.read, rootAddress, keyCount, slabBytes: 1 << 20, ...options });
}

/** Asserts that exactly the problems matching `patterns` were found, in that order. */
function assertProblems(report: ImageVerifyReport, patterns: RegExp[]): void {
  assert.equal(report.ok, false);
  assert.equal(report.problems.length, patterns.length, report.problems.join("\n"));
  patterns.forEach((pattern, index) => assert.match(report.problems[index], pattern));
}

/** The refs `appendCars` got: numbers for records, the leaf for one stored inline. */
interface Cars {
  cart: Child;
  car: Child;
  cat: Child;
  ca: Child;
  dog: Child;
  root: number;
}

/**
 * The keys "car" 3, "cart" 4, "cat" 1, "dog" 7, children before parents, the
 * root last. Written by `ImageFile.append`, the leaves "cart", "cat" and "dog"
 * are stored inline: "car", "ca" and the root are the records.
 */
function appendCars(append: (record: NodeImage, root?: boolean) => number): Cars {
  const child = (record: NodeImage): Child => {
    const ref = append(record);
    return ref === inlineLeafRef ? inline(record.prefix, record.value!) : ref;
  };
  const cart = child(node("", 4));
  const car = child(node("", 3, [["t", cart]]));
  const cat = child(node("", 1));
  const ca = child(node("a", undefined, [["r", car], ["t", cat]]));
  const dog = child(node("og", 7));
  const root = append(node("", undefined, [["c", ca], ["d", dog]]), true);
  return { cart, car, cat, ca, dog, root };
}

/** `child` as the ref of a record (it must not be stored inline). */
function ref(child: Child): number {
  assert.equal(typeof child, "number", "a record, not an inline leaf");
  return child as number;
}

Deno.test("verifyImage: a valid image written by ImageFile passes with exact counts", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  let bytes = 0;
  const cars = appendCars((record, root) => {
    const made = image.append(record, root);
    bytes += image.lastAppendBytes;
    assert.equal(image.lastAppendBytes, made === inlineLeafRef ? 0 : refLength(made));
    return made;
  });
  assert.deepEqual(
    [cars.cart, cars.cat, cars.dog].map((leaf) => typeof leaf),
    ["object", "object", "object"],
    "the leaves are stored inline",
  );
  await image.flush();
  assert.equal(
    bytes,
    [cars.car, cars.ca, cars.root].reduce<number>((sum, r) => sum + refLength(ref(r)), 0),
  );
  for (const concurrency of [1, 2, 32]) {
    let reads = 0;
    const report = await verifyImage({
      read: (address) => (reads++, image.read(address)),
      rootAddress: cars.root,
      keyCount: 4,
      slabBytes: 4096,
      concurrency,
    });
    assert.deepEqual(report, {
      ok: true,
      keys: 4,
      nodes: 3, // the root, "ca", "car": the inline leaves are not records
      bytes,
      depthMax: 4, // root, "ca", "car", "cart"
      keyBytesMax: 4,
      unmergedNodes: 0,
      liveBytesBySlab: new Map([[headerRegionBytes / 4096, bytes]]),
      problems: [],
    });
    assert.equal(reads, 3, "an inline leaf is never read");
  }
  await image.close();
});

Deno.test("verifyImage: an image with inline leaves verifies with the right key and node counts", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  let records = 0;
  const append = (record: NodeImage, root = false): Child => {
    const made = image.append(record, root);
    if (made === inlineLeafRef) return inline(record.prefix, record.value!);
    records++;
    return made;
  };
  // A node with 256 inline leaves (one with the longest prefix stored inline), a
  // leaf one byte too long to be stored inline, an inner node holding both kinds.
  const wide = Array.from(
    { length: 256 },
    (_, byte) => append(node(new Uint8Array(byte === 255 ? inlinePrefixBytesMax : 1), byte)),
  );
  assert.ok(wide.every((leaf) => typeof leaf === "object"));
  const all = append({
    prefix: encoder.encode("w"),
    value: undefined,
    childBytes: Uint8Array.from(wide, (_, byte) => byte),
    childAddresses: wide.map(() => inlineLeafRef),
    inlineLeaves: wide as InlineLeaf[],
  });
  const long = append(node(new Uint8Array(inlinePrefixBytesMax + 1).fill(0x6c), 1_000));
  const mixed = append(node("m", 5, [["a", long], ["b", append(node("", 6))]]));
  const root = append(node("", undefined, [["a", all], ["b", mixed]]), true) as number;
  assert.equal(records, 4, "the root, the wide node, the long leaf and the mixed node");
  const keyCount = 256 + 3;
  const header = await image.commit({ coverageLsn: 1, rootAddress: root, keyCount }, []);
  await image.close();
  const reopened = await ImageFile.open(storage);
  assert.deepEqual(reopened.header, header);
  let reads = 0;
  const report = await verifyImage({
    read: (address) => (reads++, reopened.read(address)),
    rootAddress: header.rootAddress,
    keyCount,
    slabBytes: 128 * 1024,
  });
  assert.deepEqual(report.problems, []);
  assert.equal(report.keys, keyCount);
  assert.equal(report.nodes, 4);
  assert.equal(reads, 4);
  // "a" "w" byte, then 64 bytes: the longest key is in the wide node; "bma" + 65 beats it.
  assert.equal(report.keyBytesMax, 3 + inlinePrefixBytesMax + 1);
  assert.equal(report.unmergedNodes, 0);
  const bytes = [root, all, long, mixed].reduce<number>((sum, r) => sum + refLength(ref(r)), 0);
  assert.equal(report.bytes, bytes);
  assert.deepEqual([...report.liveBytesBySlab], [[0, bytes]]);
  // The allocation table counts exactly the record bytes verify found.
  assert.deepEqual(await reopened.checkLive(report.liveBytesBySlab), []);
  // One key more or less is noticed.
  const off = await verifyImage({
    read: (address) => reopened.read(address),
    rootAddress: header.rootAddress,
    keyCount: keyCount + 1,
    slabBytes: 128 * 1024,
  });
  assertProblems(off, [/the header claims 260 keys but the image holds 259$/]);
  await reopened.close();
});

Deno.test("verifyImage: a root that is a leaf is a record of its own", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  const root = image.append(node("only", 9), true);
  assert.notEqual(root, inlineLeafRef);
  assert.equal(image.lastAppendBytes, refLength(root));
  await image.flush();
  const report = await verifyImage({
    read: (address) => image.read(address),
    rootAddress: root,
    keyCount: 1,
    slabBytes: 128 * 1024,
  });
  assert.deepEqual(report.problems, []);
  assert.deepEqual([report.keys, report.nodes, report.bytes, report.keyBytesMax], [
    1,
    1,
    refLength(root),
    4,
  ]);
  await image.close();
});

Deno.test("verifyImage: live bytes are each ref's length, summed per slab of its offset", async () => {
  const image = new FakeImage();
  // Lengths other than the encoded sizes: the report counts what the refs name.
  const a = image.put(node("", 1), 12 * 1024 + 10, 40);
  const b = image.put(node("", 2), 11 * 1024, 30);
  const c = image.put(node("x", 3), 11 * 1024 + 100, 20);
  const root = image.put(
    node("", undefined, [["a", a], ["b", b], ["c", c], ["d", inline("long leaf", 4)]]),
    8 * 1024,
    50,
  );
  const report = await verify(image, root, 4, { slabBytes: 1024 });
  assert.deepEqual(report.problems, []);
  assert.deepEqual(
    [...report.liveBytesBySlab], // walked as slabs 8, 12, 11; the inline leaf adds nothing
    [[8, 50], [11, 30 + 20], [12, 40]],
  );
  assert.equal(report.bytes, 40 + 30 + 20 + 50);
  assert.equal(report.nodes, 4);
  assert.equal(report.keys, 4);
});

Deno.test("verifyImage: an empty image is ok, and must claim no keys", async () => {
  const image = new FakeImage();
  assert.deepEqual(await verify(image, 0, 0), {
    ok: true,
    keys: 0,
    nodes: 0,
    bytes: 0,
    depthMax: 0,
    keyBytesMax: 0,
    unmergedNodes: 0,
    liveBytesBySlab: new Map(),
    problems: [],
  });
  assertProblems(await verify(image, 0, 3), [/^root at 0: the header claims 3 keys .* holds 0$/]);
  assert.equal(image.reads, 0);
});

Deno.test("verifyImage: a record reached twice is walked once (shared child, cycle)", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const root = image.put(node("", undefined, [["a", leaf], ["b", leaf]]));
  const shared = await verify(image, root, 2);
  assert.equal(shared.keys, 1);
  assert.equal(shared.nodes, 2);
  assertProblems(shared, [
    new RegExp(`^record at ${at(root)}: the reference ${leaf} of child 0x62 is reached twice$`),
    /^root at .*: the header claims 2 keys but the image holds 1$/,
  ]);
  // Two records naming each other.
  const loop = new FakeImage();
  const [top, bottom] = [recordRef(9_000, 30), recordRef(10_000, 30)];
  loop.put(node("", 1, [["a", bottom]]), 9_000, 30);
  loop.put(node("", 2, [["b", top]]), 10_000, 30);
  const cycle = await verify(loop, top, 2);
  assertProblems(cycle, [
    new RegExp(`^record at 10000: the reference ${top} of child 0x62 is reached twice$`),
  ]);
  assert.equal(cycle.nodes, 2);
  assert.equal(cycle.keys, 2);
  // A record naming itself.
  const self = new FakeImage();
  const own = recordRef(9_000, 30);
  self.put(node("", 1, [["a", own]]), 9_000, 30);
  assertProblems(await verify(self, own, 1), [
    new RegExp(`^record at 9000: the reference ${own} of child 0x61 is reached twice$`),
  ]);
});

Deno.test("verifyImage: unsorted child bytes, and the keys out of order they cause", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1));
  const b = image.put(node("", 2));
  const root = image.put(node("k", undefined, [["b", b], ["a", a]]));
  assertProblems(await verify(image, root, 2), [
    new RegExp(`^record at ${at(root)}: its child bytes do not ascend: 0x61 after 0x62$`),
    new RegExp(
      `^record at ${at(a)}: its key "6b61" does not sort after the key before it, "6b62"$`,
    ),
  ]);
  // The same with the leaves stored inline: the keys are checked without a read.
  const leaves = new FakeImage();
  const top = leaves.put(node("k", undefined, [["b", inline("", 2)], ["a", inline("", 1)]]));
  const report = await verify(leaves, top, 2);
  assertProblems(report, [
    new RegExp(`^record at ${at(top)}: its child bytes do not ascend: 0x61 after 0x62$`),
    // An inline leaf's line names the record holding it.
    new RegExp(
      `^record at ${at(top)}: its key "6b61" does not sort after the key before it, "6b62"$`,
    ),
  ]);
  assert.equal(report.keys, 2);
  assert.equal(leaves.reads, 1);
});

Deno.test("verifyImage: equal child bytes do not ascend either", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1));
  const again = image.put(node("", 2));
  const root = image.put(node("", undefined, [["a", a], ["a", again]]));
  assertProblems(await verify(image, root, 2), [
    new RegExp(`^record at ${at(root)}: its child bytes do not ascend: 0x61 after 0x61$`),
    new RegExp(
      `^record at ${at(again)}: its key "61" does not sort after the key before it, "61"$`,
    ),
  ]);
});

Deno.test("verifyImage: a leaf needs a value; an unmerged one-child node is counted, not a problem", async () => {
  const image = new FakeImage();
  const chain = image.put(node("", undefined, [["x", inline("", 1)]]));
  const empty = image.put(node("", undefined), undefined, 8); // as short as a record gets
  const root = image.put(node("", 5, [["a", chain], ["b", empty]]));
  const report = await verify(image, root, 2);
  assertProblems(report, [new RegExp(`^record at ${at(empty)}: it is a leaf without a value$`)]);
  assert.equal(report.unmergedNodes, 1);
  assert.equal(report.keys, 2);
});

Deno.test("verifyImage: a key count other than the header's is a problem", async () => {
  const image = new FakeImage();
  const { root } = appendCars(image.append);
  assert.equal(image.records.size, 3, "the leaves are stored inline");
  const report = await verify(image, root, 4);
  assert.equal(report.ok, true);
  assert.deepEqual([report.keys, report.nodes], [4, 3]);
  for (const claimed of [3, 5]) {
    assertProblems(await verify(image, root, claimed), [
      new RegExp(`^root at ${at(root)}: the header claims ${claimed} keys but the image holds 4$`),
    ]);
  }
});

Deno.test("verifyImage: a count above the header's value ceiling is a problem", async () => {
  const image = new FakeImage();
  const { root, car } = appendCars(image.append);
  assert.equal((await verify(image, root, 4, { valueCeiling: 7 })).ok, true, "7 is the largest");
  // Above 3: "cart" (4, inline in the record of "car") and "dog" (7, inline in the root's).
  assertProblems(await verify(image, root, 4, { valueCeiling: 3 }), [
    new RegExp(`^record at ${at(ref(car))}: its count 4 is above the header's value ceiling 3$`),
    new RegExp(`^record at ${at(root)}: its count 7 is above the header's value ceiling 3$`),
  ]);
});

Deno.test("verifyImage: a record crossing a slab boundary is a problem", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("long prefix", 1), 10 * 1024 - 5);
  const bytes = refLength(leaf);
  assert.ok(bytes > 5);
  // Ends exactly at the boundary: no problem.
  const fits = image.put(node("", 3), 12 * 1024 - 20, 20);
  // One byte over the boundary.
  const over = image.put(node("", 4), 13 * 1024 - 19, 20);
  const root = image.put(
    node("", 2, [["a", leaf], ["b", fits], ["c", over], ["d", inline("", 5)]]),
    20 * 1024,
  );
  const report = await verify(image, root, 5, { slabBytes: 1024 });
  assertProblems(report, [
    new RegExp(`^record at ${10 * 1024 - 5}: its ${bytes} bytes cross from slab 9 into slab 10$`),
    new RegExp(`^record at ${13 * 1024 - 19}: its 20 bytes cross from slab 12 into slab 13$`),
  ]);
  assert.equal(report.liveBytesBySlab.get(9), bytes); // counted where it starts
  assert.equal(report.liveBytesBySlab.get(11), 20);
  assert.equal(report.liveBytesBySlab.get(12), 20);
  assert.equal(report.liveBytesBySlab.has(13), false);
});

Deno.test("verifyImage: a bit flip on disk is reported and its subtree passed by", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const cars = appendCars((record, root) => image.append(record, root));
  await image.flush();
  const car = ref(cars.car);
  const file = await storage.open(imageFileName);
  // Every byte of "car"'s record, its inline leaf "cart" included.
  for (let byte = 0; byte < refLength(car); byte++) {
    const [was] = await file.read(at(car) + byte, 1);
    await file.write(at(car) + byte, Uint8Array.of(was ^ 0x10));
    const report = await verifyImage({
      read: (address) => image.read(address),
      rootAddress: cars.root,
      keyCount: 4,
      slabBytes: 128 * 1024,
    });
    assertProblems(report, [
      new RegExp(
        `^record at ${at(car)}: Corrupted data in "image.tt" at byte ${at(car)}: .*checksum`,
      ),
      /the header claims 4 keys but the image holds 2$/, // "car" and "cart" are lost
    ]);
    assert.equal(report.nodes, 2, `byte ${byte}: the root and "ca"`);
    await file.write(at(car) + byte, Uint8Array.of(was));
  }
  // A damaged root: nothing is found.
  const [first] = await file.read(at(cars.root) + 5, 1);
  await file.write(at(cars.root) + 5, Uint8Array.of(first ^ 1));
  const lost = await verifyImage({
    read: (address) => image.read(address),
    rootAddress: cars.root,
    keyCount: 4,
    slabBytes: 128 * 1024,
  });
  assertProblems(lost, [
    new RegExp(
      `^record at ${at(cars.root)}: Corrupted data in "image.tt" at byte ${at(cars.root)}`,
    ),
    /the header claims 4 keys but the image holds 0$/,
  ]);
  assert.equal(lost.nodes, 0);
  await file.close();
  await image.close();
});

Deno.test("verifyImage: refs inside the header region, not safe integers, or inline without a leaf", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const low = recordRef(100, 20);
  const root = image.put(
    node("", undefined, [["a", low], ["b", leaf], ["c", 2 ** 53], ["d", inline("", 2)]]),
  );
  const report = await verify(image, root, 2);
  assertProblems(report, [
    new RegExp(
      `^record at ${at(root)}: the reference ${low} of child 0x61 is inside the header region ` +
        `\\(below 8192\\)$`,
    ),
    new RegExp(
      `^record at ${at(root)}: the reference ${2 ** 53} of child 0x63 is not a safe integer$`,
    ),
  ]);
  assert.equal(report.keys, 2);
  // An inline ref with no leaf in the record, and a leaf no inline ref names.
  const missing = image.put(
    { ...node("", 3, [["x", leaf]]), childAddresses: [inlineLeafRef] },
    undefined,
    30,
  );
  assertProblems(await verify(image, missing, 1), [
    new RegExp(`^record at ${at(missing)}: the reference 1 of child 0x78 names an inline leaf`),
    new RegExp(`^record at ${at(missing)}: 0 inline leaves, 1 named$`),
  ]);
  const extra = image.put({ ...node("", 3, [["x", leaf]]), inlineLeaves: [inline("", 4)] });
  assertProblems(await verify(image, extra, 2), [
    new RegExp(`^record at ${at(extra)}: 1 inline leaves, 0 named$`),
  ]);
  // The root's ref itself.
  assertProblems(await verify(image, recordRef(4096, 20), 0), [
    new RegExp(
      `^header: the root reference ${
        recordRef(4096, 20)
      } is inside the header region \\(below 8192\\)$`,
    ),
  ]);
  assertProblems(await verify(image, inlineLeafRef, 0), [
    /^header: the root reference names an inline leaf$/,
  ]);
  assertProblems(await verify(image, 2 ** 53, 0), [
    new RegExp(`^header: the root reference ${2 ** 53} is not a safe integer$`),
  ]);
  // Only records named by valid refs are read: the roots and "leaf" (twice).
  assert.equal(image.reads, 5);
});

Deno.test("verifyImage: a key of 65,535 bytes passes, one of 65,536 does not", async () => {
  const image = new FakeImage();
  const b = image.put(node("", 2));
  const longest = image.put(
    node(new Uint8Array(65_534), undefined, [["a", inline("", 1)], ["b", b]]),
  );
  const report = await verify(image, longest, 2);
  assert.deepEqual(report.problems, []);
  assert.equal(report.keyBytesMax, 65_535);
  const tooLong = new FakeImage();
  const deep = tooLong.put(node("", 1));
  const top = tooLong.put(node(new Uint8Array(65_535), 2, [["x", deep]]));
  assertProblems(await verify(tooLong, top, 2), [
    new RegExp(`^record at ${at(deep)}: its key path is 65536 bytes, more than 65535$`),
  ]);
  // The same key ending in an inline leaf (the record the line names is not pinned, as above).
  const inlined = new FakeImage();
  const over = inlined.put(node(new Uint8Array(65_534), 2, [["x", inline("y", 1)]]));
  assertProblems(await verify(inlined, over, 2), [
    /: its key path is 65536 bytes, more than 65535$/,
  ]);
});

Deno.test("verifyImage: malformed records from a custom reader are problems, not crashes", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const wide = image.put(
    {
      prefix: new Uint8Array(),
      value: 1,
      childBytes: new Uint8Array(257),
      childAddresses: new Array(257).fill(leaf),
    },
    20_000,
    3_000,
  );
  const long = image.put(node(new Uint8Array(65_536), 1, [["a", leaf]]), 30_000, 70_000);
  const uneven = image.put({ ...node("", 1), childAddresses: [leaf] }, undefined, 40);
  const negative = image.put(node("", -1), undefined, 50);
  const root = image.put(
    node("", undefined, [["a", wide], ["b", long], ["c", uneven], ["d", negative]]),
  );
  const report = await verify(image, root, 4);
  assert.equal(report.nodes, 5); // the leaf is never reached
  // Only the root and the negative count have a shape a record could hold: only they are counted.
  assert.equal(report.bytes, refLength(root) + 50);
  assert.equal(report.keys, 4);
  assertProblems(report, [
    new RegExp(`^record at ${at(wide)}: it has 257 children, more than 256$`),
    new RegExp(`^record at ${at(long)}: its prefix of 65536 bytes is longer than 65535$`),
    new RegExp(`^record at ${at(uneven)}: it has 0 child bytes but 1 addresses$`),
    new RegExp(`^record at ${at(negative)}: its value "-1" is not a count$`),
  ]);
});

Deno.test("verifyImage: malformed inline leaves from a custom reader are problems, not crashes", async () => {
  const image = new FakeImage();
  const tooLong = inline(new Uint8Array(inlinePrefixBytesMax + 1), 1);
  const negative = inline("", -1);
  const root = image.put(
    node("", undefined, [["a", tooLong], ["b", negative], ["c", inline("", 2)]]),
  );
  const report = await verify(image, root, 3);
  assertProblems(report, [
    /: an inline leaf's prefix is longer than 64 bytes$/,
    /: its value "-1" is not a count$/,
  ]);
  assert.deepEqual([report.keys, report.nodes, report.bytes], [3, 1, refLength(root)]);
  assert.equal(image.reads, 1);
});

Deno.test("verifyImage: problems past 100 are counted in a last line", async () => {
  const image = new FakeImage();
  const leaves = Array.from({ length: 256 }, () => image.put(node("", undefined), undefined, 8));
  const root = image.put({
    prefix: new Uint8Array(),
    value: undefined,
    childBytes: Uint8Array.from(leaves, (_, index) => index),
    childAddresses: leaves,
  });
  const report = await verify(image, root, 0);
  assert.equal(report.problems.length, 101);
  assert.match(report.problems[0], new RegExp(`^record at ${at(leaves[0])}: it is a leaf without`));
  assert.match(report.problems[99], new RegExp(`^record at ${at(leaves[99])}: `));
  assert.equal(report.problems[100], "... and 156 more");
  assert.equal(report.nodes, 257, "the walk goes on past the cap");
});

Deno.test("verifyImage: errors other than corruption are thrown after the reads settle", async () => {
  const image = new FakeImage();
  const { root } = appendCars(image.append);
  let inFlight = 0;
  const failing = new StorageIoError('read of "image.tt" failed', new Error("EIO"));
  const read = async (address: number) => {
    inFlight++;
    await new Promise((resolve) => setTimeout(resolve, 1));
    inFlight--;
    if (address === root) return await image.read(address);
    throw failing;
  };
  await assert.rejects(verify(image, root, 4, { read }), (error) => error === failing);
  assert.equal(inFlight, 0);
  const sync = () => {
    throw failing;
  };
  await assert.rejects(verify(image, root, 4, { read: sync }), (error) => error === failing);
});

Deno.test("verifyImage: misuse is a TypeError or RangeError", async () => {
  const image = new FakeImage();
  for (const slabBytes of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(verify(image, 0, 0, { slabBytes }), RangeError);
  }
  for (const concurrency of [0, 1.5, 1_025]) {
    await assert.rejects(verify(image, 0, 0, { concurrency }), RangeError);
  }
  const read = undefined as unknown as ImageVerifyOptions["read"];
  await assert.rejects(verify(image, 0, 0, { read }), TypeError);
});

/** Writes `art`'s changed nodes into `image` the way a checkpoint does; returns the root's ref. */
function checkpoint(art: Art, image: FakeImage | ImageFile): number {
  const snapshot = art.capture();
  const root = snapshot.writeChanged((view, _previous, isRoot) => image.append(view, isRoot));
  snapshot.release();
  return root;
}

Deno.test("verifyImage: the same report at any concurrency, reads finishing in any order", async () => {
  const art = new Art();
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
  for (let index = 0; index < 1_000; index++) {
    art.add(Uint8Array.from({ length: 1 + Math.floor(random() * 6) }, () => random() * 4), 1);
  }
  const image = new FakeImage();
  const root = checkpoint(art, image);
  let [valueless, reversed] = [0, 0];
  for (const [address, record] of image.records) {
    if (address % 7 === 0) {
      image.records.set(address, { ...record, value: undefined });
      valueless++;
    } else if (address % 5 === 0 && record.childBytes.length > 1) {
      // Child bytes out of order: problems at inline leaves as well as at records.
      image.records.set(address, { ...record, childBytes: record.childBytes.slice().reverse() });
      reversed++;
    }
  }
  assert.ok(valueless > 0 && reversed > 0, `${valueless} valueless, ${reversed} reversed`);
  const reports: ImageVerifyReport[] = [];
  for (const concurrency of [1, 3, 64]) {
    let [inFlight, inFlightMax] = [0, 0];
    const readsByAddress = new Map<number, number>();
    const read = async (address: number) => {
      readsByAddress.set(address, (readsByAddress.get(address) ?? 0) + 1);
      inFlightMax = Math.max(inFlightMax, ++inFlight);
      // Most reads finish a few microtasks later, some a timer later: in a shuffled order.
      const ticks = Math.floor(random() * 4);
      for (let tick = 0; tick < ticks; tick++) await Promise.resolve();
      if (random() < 0.05) await new Promise((resolve) => setTimeout(resolve, 0));
      inFlight--;
      return await image.read(address);
    };
    const report = await verify(image, root, art.size, { read, concurrency });
    reports.push(report);
    assert.ok(inFlightMax <= concurrency, `${inFlightMax} reads in flight`);
    assert.ok(concurrency === 1 || inFlightMax > 1, "reads overlap");
    assert.equal(inFlight, 0);
    // Reading ahead never reads a record twice, nor one the walk does not visit, nor a leaf inline.
    assert.equal(readsByAddress.size, report.nodes);
    assert.equal(report.nodes, image.records.size);
    assert.ok([...readsByAddress.values()].every((reads) => reads === 1));
    assert.ok(!readsByAddress.has(inlineLeafRef));
  }
  assert.equal(reports[0].ok, false);
  assert.ok(reports[0].problems.length > 10, reports[0].problems.join("\n"));
  assert.ok(reports[0].keys < art.size);
  assert.deepEqual(reports[1], reports[0]);
  assert.deepEqual(reports[2], reports[0]);
});

Deno.test("verifyImage: reads run ahead into the children of records read", async () => {
  const art = new Art();
  for (let index = 0; index < 1_000; index++) art.add(encoder.encode(`key ${index * 7919}`), 1);
  const image = new FakeImage();
  const root = checkpoint(art, image);
  // Reads land only at a tick; between ticks the walk starts every read it can.
  let waiting: (() => void)[] = [];
  const read = async (address: number) => {
    await new Promise<void>((resolve) => waiting.push(resolve));
    return await image.read(address);
  };
  let done = false;
  const verified = verify(image, root, art.size, { read, concurrency: 64 })
    .finally(() => (done = true));
  let ticks = 0;
  for (; !done && ticks < 10_000; ticks++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const landing = waiting;
    waiting = [];
    landing.forEach((land) => land());
  }
  const report = await verified;
  assert.deepEqual(report.problems, []);
  assert.equal(report.keys, 1_000);
  assert.ok(report.nodes > 64, `${report.nodes} records`);
  // One read at a time takes a tick per record; 64 at a time, about nodes / 64 plus the depth.
  assert.ok(
    ticks < report.nodes / 64 + 4 * report.depthMax,
    `${ticks} ticks, ${report.nodes} nodes`,
  );
});

/** The image in `storage` verifies after a reopen: `keys` keys in `nodes` records under `rootAddress`. */
async function assertVerifiesReopened(
  storage: MemoryBlockStorage,
  rootAddress: number,
  keys: number,
  nodes: number,
): Promise<void> {
  const reopened = await ImageFile.open(storage);
  assert.equal(reopened.header?.rootAddress, rootAddress);
  const report = await verifyImage({
    read: (address) => reopened.read(address),
    rootAddress,
    keyCount: keys,
    slabBytes: 128 * 1024,
  });
  assert.deepEqual(report.problems, []);
  assert.equal(report.nodes, nodes);
  await reopened.close();
}

Deno.test("verifyImage: images the trie writes pass, incremental checkpoints included", async () => {
  // Short keys end in inline leaves; long ones in leaves with records of their own.
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 10, max: 3 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 60, maxLength: 75, max: 1 }) },
  );
  const keys = fc.uniqueArray(key, { maxLength: 120, selector: (key) => key.join() });
  await fc.assert(
    fc.asyncProperty(keys, keys, async (first, second) => {
      const storage = new MemoryBlockStorage();
      const image = await ImageFile.open(storage);
      const art = new Art();
      // Every record the image holds for the trie: appended, and not dropped since.
      const live = new Set<number>();
      const dropped: number[] = [];
      art.onDrop((address) => {
        assert.notEqual(address, inlineLeafRef, "an inline leaf has no record to drop");
        assert.ok(live.delete(address), `dropped ${address} once, after it was written`);
        dropped.push(address);
      });
      for (const key of first) art.add(key, key.length + 1);
      let rootAddress = 0;
      for (const round of [0, 1]) {
        const snapshot = art.capture();
        rootAddress = snapshot.writeChanged((view, _previous, isRoot) => {
          const made = image.append(view, isRoot);
          if (made !== inlineLeafRef) live.add(made);
          return made;
        });
        snapshot.release();
        await image.commit(
          { coverageLsn: round + 1, rootAddress, keyCount: art.size },
          dropped.splice(0),
        );
        const stats = art.verify();
        const report = await verifyImage({
          read: (address) => image.read(address),
          rootAddress,
          keyCount: art.size,
          slabBytes: 128 * 1024,
        });
        assert.deepEqual(report.problems, []);
        assert.equal(report.keys, art.size);
        assert.equal(report.keyBytesMax, stats.depthMax);
        assert.equal(report.nodes, live.size);
        const liveBytes = [...live].reduce((sum, address) => sum + refLength(address), 0);
        assert.equal(report.bytes, liveBytes);
        assert.ok(
          report.nodes <= stats.leaves + stats.nodes4 + stats.nodes16 + stats.nodes48 +
              stats.nodes256,
        );
        // The allocation table, updated by the frees, counts what verify found.
        assert.deepEqual(await image.checkLive(report.liveBytesBySlab), []);
        if (round === 0) {
          for (const key of second) art.add(key, 1);
          for (const key of first.slice(0, first.length / 2)) art.delete(key);
        }
      }
      await image.close();
      await assertVerifiesReopened(storage, rootAddress, art.size, live.size);
    }),
    { numRuns: 60 },
  );
});
