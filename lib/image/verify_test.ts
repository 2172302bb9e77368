import assert from "node:assert/strict";
import fc from "fast-check";
import { Art } from "../art/art.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import { MemoryBlockStorage } from "../storage/memory.ts";
import { headerRegionBytes } from "./header.ts";
import { ImageFile, imageFileName } from "./image_file.ts";
import { type NodeImage, nodeRecordBytes } from "./node_record.ts";
import { type ImageVerifyOptions, type ImageVerifyReport, verifyImage } from "./verify.ts";

const encoder = new TextEncoder();

/** A node record: `children` as [branching character, address] pairs, in the order given. */
function node(
  prefix: string | Uint8Array,
  value: number | undefined,
  children: [string, number][] = [],
): NodeImage {
  return {
    prefix: typeof prefix === "string" ? encoder.encode(prefix) : prefix,
    value,
    childBytes: Uint8Array.from(children, ([byte]) => byte.charCodeAt(0)),
    childAddresses: children.map(([, address]) => address),
  };
}

/** An image held in a Map; an address without a record reads as damage, like a bad checksum. */
class FakeImage {
  readonly records = new Map<number, NodeImage>();
  next = headerRegionBytes;

  /** Stores `record` at `address`, by default after the last record stored without one. */
  put(record: NodeImage, address?: number): number {
    if (address === undefined) {
      address = this.next;
      this.next += nodeRecordBytes(record);
    }
    this.records.set(address, record);
    return address;
  }

  read = (address: number): Promise<NodeImage> => {
    const record = this.records.get(address);
    if (record !== undefined) return Promise.resolve(record);
    return Promise.reject(
      new CorruptionError(imageFileName, address, "node record: record checksum mismatch"),
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

/** The keys "car" 3, "cart" 4, "cat" 1, "dog" 7, children before parents. */
function appendCars(append: (record: NodeImage) => number): number[] {
  const cart = append(node("", 4));
  const car = append(node("", 3, [["t", cart]]));
  const cat = append(node("", 1));
  const ca = append(node("a", undefined, [["r", car], ["t", cat]]));
  const dog = append(node("og", 7));
  const root = append(node("", undefined, [["c", ca], ["d", dog]]));
  return [cart, car, cat, ca, dog, root];
}

Deno.test("verifyImage: a valid image written by ImageFile passes with exact counts", async () => {
  const image = await ImageFile.open(new MemoryBlockStorage());
  const records: NodeImage[] = [];
  const addresses = appendCars((record) => {
    records.push(record);
    return image.append(record);
  });
  await image.flush();
  const root = addresses.at(-1)!;
  const bytes = records.reduce((sum, record) => sum + nodeRecordBytes(record), 0);
  for (const concurrency of [1, 2, 32]) {
    const report = await verifyImage({
      read: (address) => image.read(address),
      rootAddress: root,
      keyCount: 4,
      slabBytes: 4096,
      concurrency,
    });
    assert.deepEqual(report, {
      ok: true,
      keys: 4,
      nodes: 6,
      bytes,
      depthMax: 4, // root, "ca", "car", "cart"
      keyBytesMax: 4,
      unmergedNodes: 0,
      liveBytesBySlab: new Map([[headerRegionBytes / 4096, bytes]]),
      problems: [],
    });
  }
  await image.close();
});

Deno.test("verifyImage: live bytes are summed per slab, in slab order", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1), 12 * 1024 + 10);
  const b = image.put(node("", 2), 11 * 1024);
  const c = image.put(node("x", 3), 11 * 1024 + 100);
  const root = image.put(node("", undefined, [["a", a], ["b", b], ["c", c]]), 8 * 1024);
  const report = await verify(image, root, 3, { slabBytes: 1024 });
  assert.deepEqual(report.problems, []);
  const size = (address: number) => nodeRecordBytes(image.records.get(address)!);
  assert.deepEqual(
    [...report.liveBytesBySlab], // walked as slabs 8, 12, 11
    [[8, size(root)], [11, size(b) + size(c)], [12, size(a)]],
  );
  assert.equal(report.bytes, size(a) + size(b) + size(c) + size(root));
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
});

Deno.test("verifyImage: a record reached twice is walked once (shared child, cycle)", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const root = image.put(node("", undefined, [["a", leaf], ["b", leaf]]));
  const shared = await verify(image, root, 2);
  assert.equal(shared.keys, 1);
  assertProblems(shared, [
    new RegExp(`^record at ${root}: the address ${leaf} of child 0x62 is reached twice$`),
    /^root at .*: the header claims 2 keys but the image holds 1$/,
  ]);
  const loop = new FakeImage();
  const top = loop.put(node("", 1, [["a", 10_000]]), 9_000);
  loop.put(node("", 2, [["b", top]]), 10_000);
  const cycle = await verify(loop, top, 2);
  assertProblems(cycle, [/^record at 10000: the address 9000 of child 0x62 is reached twice$/]);
  assert.equal(cycle.nodes, 2);
});

Deno.test("verifyImage: unsorted child bytes, and the keys out of order they cause", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1));
  const b = image.put(node("", 2));
  const root = image.put(node("k", undefined, [["b", b], ["a", a]]));
  assertProblems(await verify(image, root, 2), [
    new RegExp(`^record at ${root}: its child bytes do not ascend: 0x61 after 0x62$`),
    new RegExp(`^record at ${a}: its key "6b61" does not sort after the key before it, "6b62"$`),
  ]);
});

Deno.test("verifyImage: equal child bytes do not ascend either", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1));
  const again = image.put(node("", 2));
  const root = image.put(node("", undefined, [["a", a], ["a", again]]));
  assertProblems(await verify(image, root, 2), [
    new RegExp(`^record at ${root}: its child bytes do not ascend: 0x61 after 0x61$`),
    new RegExp(`^record at ${again}: its key "61" does not sort after the key before it, "61"$`),
  ]);
});

Deno.test("verifyImage: a leaf needs a value; an unmerged one-child node is counted, not a problem", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const chain = image.put(node("", undefined, [["x", leaf]]));
  const empty = image.put(node("", undefined));
  const root = image.put(node("", 5, [["a", chain], ["b", empty]]));
  const report = await verify(image, root, 2);
  assertProblems(report, [new RegExp(`^record at ${empty}: it is a leaf without a value$`)]);
  assert.equal(report.unmergedNodes, 1);
});

Deno.test("verifyImage: a key count other than the header's is a problem", async () => {
  const image = new FakeImage();
  const root = appendCars((record) => image.put(record)).at(-1)!;
  assert.equal((await verify(image, root, 4)).ok, true);
  assertProblems(await verify(image, root, 5), [
    new RegExp(`^root at ${root}: the header claims 5 keys but the image holds 4$`),
  ]);
});

Deno.test("verifyImage: a record crossing a slab boundary is a problem", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("long prefix", 1), 10 * 1024 - 5);
  const root = image.put(node("", 2, [["a", leaf]]), 11 * 1024);
  const report = await verify(image, root, 2, { slabBytes: 1024 });
  const bytes = nodeRecordBytes(image.records.get(leaf)!);
  assertProblems(report, [
    new RegExp(`^record at ${leaf}: its ${bytes} bytes cross from slab 9 into slab 10$`),
  ]);
  assert.equal(report.liveBytesBySlab.get(9), bytes); // counted where it starts
});

Deno.test("verifyImage: a bit flip on disk is reported and its subtree passed by", async () => {
  const storage = new MemoryBlockStorage();
  const image = await ImageFile.open(storage);
  const [, car, , , , root] = appendCars((record) => image.append(record));
  await image.flush();
  const file = await storage.open(imageFileName);
  const [byte] = await file.read(car + 12, 1);
  await file.write(car + 12, Uint8Array.of(byte ^ 0x10));
  await file.close();
  const report = await verifyImage({
    read: (address) => image.read(address),
    rootAddress: root,
    keyCount: 4,
    slabBytes: 128 * 1024,
  });
  assertProblems(report, [
    new RegExp(`^record at ${car}: Corrupted data in "image.tt" at byte ${car}: .*checksum`),
    /the header claims 4 keys but the image holds 2$/, // "car" and "cart" are lost
  ]);
  assert.equal(report.nodes, 4);
  await image.close();
});

Deno.test("verifyImage: addresses inside the header region or not safe integers", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const root = image.put(node("", undefined, [["a", 100], ["b", leaf], ["c", 2 ** 53]]));
  assertProblems(await verify(image, root, 1), [
    new RegExp(`^record at ${root}: the address 100 of child 0x61 is inside the header region`),
    new RegExp(`^record at ${root}: the address ${2 ** 53} of child 0x63 is not a safe integer$`),
  ]);
  assertProblems(await verify(image, 4096, 0), [
    /^header: the root address 4096 is inside the header region \(below 8192\)$/,
  ]);
});

Deno.test("verifyImage: a key of 65,535 bytes passes, one of 65,536 does not", async () => {
  const image = new FakeImage();
  const a = image.put(node("", 1));
  const b = image.put(node("", 2));
  const longest = image.put(node(new Uint8Array(65_534), undefined, [["a", a], ["b", b]]));
  const report = await verify(image, longest, 2);
  assert.deepEqual(report.problems, []);
  assert.equal(report.keyBytesMax, 65_535);
  const tooLong = new FakeImage();
  const deep = tooLong.put(node("", 1));
  const top = tooLong.put(node(new Uint8Array(65_535), 2, [["x", deep]]));
  assertProblems(await verify(tooLong, top, 2), [
    new RegExp(`^record at ${deep}: its key path is 65536 bytes, more than 65535$`),
  ]);
});

Deno.test("verifyImage: malformed records from a custom reader are problems, not crashes", async () => {
  const image = new FakeImage();
  const leaf = image.put(node("", 1));
  const wide = image.put({
    prefix: new Uint8Array(),
    value: 1,
    childBytes: new Uint8Array(257),
    childAddresses: new Array(257).fill(leaf),
  }, 20_000);
  const long = image.put(node(new Uint8Array(65_536), 1, [["a", leaf]]), 30_000);
  const uneven = image.put({ ...node("", 1), childAddresses: [leaf] });
  const negative = image.put(node("", -1));
  const root = image.put(
    node("", undefined, [["a", wide], ["b", long], ["c", uneven], ["d", negative]]),
  );
  const report = await verify(image, root, 4);
  assert.equal(report.nodes, 5); // the leaf is never reached
  // Only the root and the negative count are records that could be encoded.
  const bytes = nodeRecordBytes(image.records.get(root)!) + nodeRecordBytes(node("", 0));
  assert.equal(report.bytes, bytes);
  assert.equal(report.keys, 4);
  assertProblems(report, [
    new RegExp(`^record at ${wide}: it has 257 children, more than 256$`),
    new RegExp(`^record at ${long}: its prefix of 65536 bytes is longer than 65535$`),
    new RegExp(`^record at ${uneven}: it has 0 child bytes but 1 addresses$`),
    new RegExp(`^record at ${negative}: its value "-1" is not a count$`),
  ]);
});

Deno.test("verifyImage: problems past 100 are counted in a last line", async () => {
  const image = new FakeImage();
  const leaves = Array.from({ length: 256 }, () => image.put(node("", undefined)));
  const root = image.put({
    prefix: new Uint8Array(),
    value: undefined,
    childBytes: Uint8Array.from(leaves, (_, index) => index),
    childAddresses: leaves,
  });
  const report = await verify(image, root, 0);
  assert.equal(report.problems.length, 101);
  assert.match(report.problems[0], new RegExp(`^record at ${leaves[0]}: it is a leaf without`));
  assert.match(report.problems[99], new RegExp(`^record at ${leaves[99]}: `));
  assert.equal(report.problems[100], "... and 156 more");
});

Deno.test("verifyImage: errors other than corruption are thrown after the reads settle", async () => {
  const image = new FakeImage();
  const root = appendCars((record) => image.put(record)).at(-1)!;
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

/** Writes `art`'s changed nodes into `image` the way a checkpoint does; returns the root. */
function checkpoint(art: Art, image: FakeImage | ImageFile): number {
  const snapshot = art.capture();
  const root = snapshot.writeChanged((view) =>
    image instanceof ImageFile ? image.append(view) : image.put({
      prefix: view.prefix.slice(),
      value: view.value,
      childBytes: view.childBytes.slice(),
      childAddresses: view.childAddresses.slice(),
    })
  );
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
  for (const [address, record] of image.records) {
    if (address % 7 === 0) image.records.set(address, { ...record, value: undefined });
  }
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
    // Reading ahead never reads a record twice, nor one the walk does not visit.
    assert.equal(readsByAddress.size, report.nodes);
    assert.ok([...readsByAddress.values()].every((reads) => reads === 1));
  }
  assert.equal(reports[0].ok, false);
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
  // One read at a time takes a tick per record; 64 at a time, about nodes / 64 plus the depth.
  assert.ok(
    ticks < report.nodes / 64 + 4 * report.depthMax,
    `${ticks} ticks, ${report.nodes} nodes`,
  );
});

Deno.test("verifyImage: images the trie writes pass, incremental checkpoints included", async () => {
  const keys = fc.uniqueArray(fc.uint8Array({ maxLength: 10, max: 3 }), {
    maxLength: 120,
    selector: (key) => key.join(),
  });
  await fc.assert(
    fc.asyncProperty(keys, keys, async (first, second) => {
      const image = await ImageFile.open(new MemoryBlockStorage());
      const art = new Art();
      for (const key of first) art.add(key, key.length + 1);
      const reports = [];
      for (const round of [0, 1]) {
        const rootAddress = checkpoint(art, image);
        await image.flush();
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
        assert.equal(
          report.nodes,
          stats.leaves + stats.nodes4 + stats.nodes16 + stats.nodes48 + stats.nodes256,
        );
        reports.push(report);
        if (round === 0) {
          for (const key of second) art.add(key, 1);
          for (const key of first.slice(0, first.length / 2)) art.delete(key);
        }
      }
      await image.close();
      assert.equal(reports.length, 2);
    }),
    { numRuns: 60 },
  );
});
