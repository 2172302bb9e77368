/**
 * The loader against a real trie with the image stubbed: which file a
 * stub's record is read from around a streaming compaction.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Art, freshAddress, type NodeView } from "../art/art.ts";
import { StorageIoError } from "../errors.ts";
import type { ImageFile } from "../image/image_file.ts";
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
