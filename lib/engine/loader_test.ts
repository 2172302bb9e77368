/**
 * The loader against a real trie with the image stubbed: which file a
 * stub's record is read from around a streaming compaction, and a list's
 * build of a subtree at once from cached slabs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Art, freshAddress, type NodeView } from "../art/art.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import type { ImageFile } from "../image/image_file.ts";
import {
  decodeNodeRecord,
  decodeRecordFields,
  encodeNodeRecord,
  type NodeImage,
  type RecordFields,
  recordRef,
} from "../image/node_record.ts";
import { Loader } from "./_loader.ts";

const none = new Uint8Array(0);
/** The ref of a record of 20 bytes at `offset`. */
const ref = (offset: number) => offset * 2 ** 17 + 20;

/** A trie opened from an image whose root has two stubs, under bytes 1 and 2. */
function twoStubs(): Art {
  const root: NodeView = {
    prefix: none,
    value: undefined,
    childBytes: Uint8Array.of(1, 2),
    childAddresses: [ref(100), ref(200)],
  };
  return Art.fromImage(root, ref(300), 4);
}

/** A record with a count and one child, a stub at `child`. */
function withChild(child: number): NodeView {
  return { prefix: none, value: 1, childBytes: Uint8Array.of(7), childAddresses: [child] };
}

/** An image whose every record is `record`, read once `ready` resolves. */
function imageOf(record: () => NodeView, ready: Promise<void> = Promise.resolve()): ImageFile {
  const read = async () => {
    await ready;
    return record();
  };
  return { load: read, loadRecord: read, readAppended: read } as unknown as ImageFile;
}

Deno.test("Loader: a read of an image a compaction replaced meanwhile installs nothing", async () => {
  const art = twoStubs();
  let release!: () => void;
  const held = new Promise<void>((resume) => release = resume);
  // The old file's record under byte 1, and the new file's at the same ref, with another child.
  const oldImage = imageOf(() => withChild(ref(555)), held);
  const newImage = imageOf(() => withChild(ref(777)));
  let image = oldImage;
  const loader = new Loader(art, () => image);
  const reading = loader.load({ path: Uint8Array.of(1), address: ref(100) });
  image = newImage; // the compaction's rename, its addresses settled: ref(100) is the new file's
  release();
  assert.deepEqual(await reading, [], "the old file's record is not installed");
  const below = await loader.load({ path: Uint8Array.of(1), address: ref(100) });
  assert.deepEqual(below.map((stub) => stub.address), [ref(777)], "the new file's is");
});

Deno.test("Loader: a fresh address is read from the compaction's file, and refused once it failed", async () => {
  const art = twoStubs();
  const image = imageOf(() => withChild(ref(555)));
  const loader = new Loader(art, () => image);
  // The walk copied the subtree under byte 2: its stub names the new file's record 900.
  const fresh = imageOf(() => withChild(ref(901)));
  const stub = art.stubs(10).find((found) => found.path[0] === 2)!;
  const snapshot = art.capture({ rewriteAll: true });
  const steps = snapshot.writeChangedSteps(() => freshAddress(ref(300)), 1);
  // The two stubs are copied (to 900, and to 800, a record the test never reads).
  const copiedTo = (address: number) => address === stub.address ? ref(900) : ref(800);
  let step = steps.next();
  while (step.done !== true) step = steps.next(step.value && copiedTo(step.value.address));
  snapshot.release();
  loader.fresh = fresh;
  const [below] = await loader.load({ path: Uint8Array.of(2), address: freshAddress(ref(900)) });
  assert.equal(below.address, freshAddress(ref(901)), "its children name the new file too");
  loader.fresh = undefined; // the compaction failed
  await assert.rejects(
    loader.load({ path: Uint8Array.of(2, 7), address: below.address }),
    StorageIoError,
  );
});

Deno.test("Loader: a read in flight keeps its stub's subtree only while the stub is there", async () => {
  // Found by the simulator's memory bound (seed 77 at 4 KiB): reads of stubs that a warm-up's
  // build or a load from cached slabs had replaced kept their whole subtrees from eviction.
  const art = twoStubs();
  let release!: () => void;
  const held = new Promise<void>((resume) => release = resume);
  const loader = new Loader(art, () => imageOf(() => withChild(ref(555)), held));
  const reading = loader.load({ path: Uint8Array.of(1), address: ref(100) });
  const ids: string[] = [];
  loader.readingPaths(ids);
  assert.deepEqual(ids, ["\u0001"], "a stub being read: its subtree stays");
  art.install(Uint8Array.of(1), ref(100), withChild(ref(555))); // another load took its place
  ids.length = 0;
  loader.readingPaths(ids);
  assert.deepEqual(ids, [], "the read will install nothing: nothing to keep");
  release();
  assert.deepEqual(await reading, []);
});

/**
 * A trie whose root has one stub, under byte 1: a record with two children
 * (leaves counting 5 and 6 under bytes 3 and 4), each a record of its own;
 * and an image of those records whose slab is cached once read.
 */
function slabOfThree(): {
  art: Art;
  image: ImageFile;
  stub: { path: Uint8Array; address: number };
} {
  const records = new Map<number, Uint8Array>();
  const put = (offset: number, node: NodeImage) => {
    const bytes = encodeNodeRecord(node);
    const at = recordRef(offset, bytes.length);
    records.set(at, bytes);
    return at;
  };
  const leaf = (value: number) => ({ prefix: none, value, childBytes: none, childAddresses: [] });
  const middle = put(3000, {
    prefix: none,
    value: undefined,
    childBytes: Uint8Array.of(3, 4),
    childAddresses: [put(1000, leaf(5)), put(2000, leaf(6))],
  });
  const root = {
    prefix: none,
    value: undefined,
    childBytes: Uint8Array.of(1),
    childAddresses: [middle],
  };
  let cached = false;
  const image = {
    cachedFields: (at: number, out: RecordFields) => {
      const bytes = records.get(at);
      if (!cached || bytes === undefined) return undefined;
      return decodeRecordFields(bytes, 0, bytes.length, out) === undefined ? bytes : undefined;
    },
    load: (at: number) => {
      cached = true; // its whole slab: the three records
      return Promise.resolve(decodeNodeRecord(records.get(at)!));
    },
  } as unknown as ImageFile;
  const art = Art.fromImage(root, ref(4000), 2);
  return { art, image, stub: { path: Uint8Array.of(1), address: middle } };
}

Deno.test("Loader: a subtree builds at once from cached slabs, within its quota", async () => {
  const { art, image, stub } = slabOfThree();
  const loader = new Loader(art, () => image);
  assert.equal(loader.loadSubtreeAtOnce(stub, 10), false, "its slab is not cached: nothing");
  assert.equal(art.unloaded, 1);
  await loader.cacheSlabOf(stub);
  assert.equal(loader.loadSubtreeAtOnce(stub, 10), true);
  assert.equal(loader.stats.nodesLoaded, 3, "the stub's record and both below it, in one build");
  assert.equal(art.unloaded, 0);
  assert.equal(art.get(Uint8Array.of(1, 3)), 5);
  assert.equal(art.get(Uint8Array.of(1, 4)), 6);
  assert.equal(loader.loadSubtreeAtOnce(stub, 10), false, "loaded already: gone");

  const small = slabOfThree();
  const quoted = new Loader(small.art, () => small.image);
  await quoted.cacheSlabOf(small.stub);
  assert.equal(quoted.loadSubtreeAtOnce(small.stub, 1), true);
  assert.equal(quoted.stats.nodesLoaded, 1, "a quota of one: the stub's record alone");
  assert.equal(small.art.unloaded, 2, "its children stay stubs");
});

Deno.test("Loader: a stub gone before its read starts is not read", async () => {
  // Found in review: a list awaited its stub's slab while a compaction committed and settled the
  // stub's address; the list's load then read the old address in the new file and reported a
  // false CorruptionError ("record is truncated") that told the user to restore a backup.
  const art = twoStubs();
  const stale = { path: Uint8Array.of(1), address: ref(100) };
  art.install(Uint8Array.of(1), ref(100), withChild(ref(555))); // loaded (or settled) meanwhile
  let reads = 0;
  const read = () => {
    reads++;
    return Promise.reject(new CorruptionError("image.tt", 100, "node record: record is truncated"));
  };
  const image = { load: read, loadRecord: read } as unknown as ImageFile;
  const loader = new Loader(art, () => image);
  assert.deepEqual(await loader.load(stale), [], "nothing to install");
  await loader.cacheSlabOf(stale);
  assert.equal(reads, 0, "its address was not read");
});
