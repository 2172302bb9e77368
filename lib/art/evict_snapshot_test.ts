/**
 * Evictions beside a live checkpoint snapshot (issue 17), against a `Map`
 * model: an incremental checkpoint's walk and a compaction's, driven step
 * by step, with edits, loads and evictions between the steps (and between
 * a compaction's copy and its hand-back). Every answer must stay the
 * model's; the image each walk wrote must hold the snapshot's keys; no
 * stub may name a record only a failed checkpoint wrote; and after a
 * compaction no node may keep an old file's address (`settleAddresses`
 * asserts it).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Art,
  type ArtSnapshot,
  freshAddress,
  inlineAddress,
  isFreshAddress,
  NodeNotLoaded,
  type NodeView,
} from "./art.ts";
import { generator } from "./_test_image.ts";

/** Loads one operation makes at most. */
const loadsMax = 10_000;

const encode = (key: Uint8Array) => String.fromCharCode(...key);

function copyView(node: NodeView): NodeView {
  return {
    prefix: node.prefix.slice(),
    value: node.value,
    childBytes: node.childBytes.slice(),
    childAddresses: node.childAddresses.slice(),
    inlineLeaves: node.inlineLeaves?.map((leaf) => ({ ...leaf, prefix: leaf.prefix.slice() })),
  };
}

/** The records of one image file, by address (from 2 on). */
class Records {
  readonly map = new Map<number, NodeView>();
  #next: number;

  constructor(first = 2) {
    this.#next = first;
  }

  add(node: NodeView): number {
    const address = this.#next++;
    this.map.set(address, copyView(node));
    return address;
  }
}

/**
 * Runs `operation`, installing each stub it meets: a fresh address's
 * record from `fresh` (its children's addresses made fresh, as the
 * loader does), any other from `image`.
 */
function withLoads<T>(
  art: Art,
  image: Records,
  fresh: Records | undefined,
  operation: () => T,
): T {
  for (let loads = 0; loads < loadsMax; loads++) {
    try {
      return operation();
    } catch (error) {
      if (!(error instanceof NodeNotLoaded)) throw error;
      art.install(error.path, error.address, recordOf(image, fresh, error.address));
    }
  }
  throw new Error(`an operation needed more than ${loadsMax} loads`);
}

function recordOf(image: Records, fresh: Records | undefined, address: number): NodeView {
  if (!isFreshAddress(address)) {
    const record = image.map.get(address);
    assert.ok(record !== undefined, `a stub names ${address}, which no committed image holds`);
    return record;
  }
  assert.ok(fresh !== undefined, `a stub names the fresh address ${address} with no compaction`);
  const record = fresh.map.get(-address);
  assert.ok(record !== undefined, `a stub names ${address}, which the compaction did not write`);
  const view = copyView(record);
  view.childAddresses = view.childAddresses.map((child) =>
    child === inlineAddress ? child : freshAddress(child)
  );
  return view;
}

/** Every entry of the trie, loading what it must. */
function entriesOf(art: Art, image: Records, fresh?: Records): [string, number][] {
  return withLoads(art, image, fresh, () => [...art.entries()])
    .map(([key, value]) => [encode(key), value]);
}

function sorted(model: Map<string, number>): [string, number][] {
  return [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What `image` holds under `root`, loaded whole into a new trie. */
function imageEntries(image: Records, root: number, size: number): [string, number][] {
  if (size === 0) return [];
  const art = Art.fromImage(image.map.get(root)!, root, size);
  return entriesOf(art, image);
}

/** One random edit, read or eviction of the live trie. */
function liveStep(
  art: Art,
  model: Map<string, number>,
  next: (below: number) => number,
  image: Records,
  fresh?: Records,
): number {
  const key = Uint8Array.from({ length: 1 + next(4) }, () => next(6));
  const choice = next(10);
  if (choice < 3) {
    withLoads(art, image, fresh, () => art.loadPath(key, () => undefined) || art.get(key));
    model.set(encode(key), art.add(key, 1 + next(5)));
  } else if (choice < 4) {
    withLoads(art, image, fresh, () => art.loadPath(key, () => undefined) || art.get(key));
    assert.equal(art.delete(key), model.delete(encode(key)));
  } else if (choice < 6) {
    assert.equal(withLoads(art, image, fresh, () => art.get(key)), model.get(encode(key)));
  } else {
    const candidates = art.evictable(16);
    if (candidates.length === 0) return 0;
    const { path } = candidates[next(candidates.length)];
    const evicted = art.evict(path);
    assert.ok(evicted !== null, "what the walk offers can go");
    return 1;
  }
  return 0;
}

/** Drives `snapshot`'s walk to its end, with live steps between its steps; the root's address. */
function walk(
  snapshot: ArtSnapshot,
  visit: (node: NodeView) => number,
  copy: ((address: number) => number) | undefined,
  between: () => void,
): number {
  const steps = snapshot.writeChangedSteps((node) => visit(node), 2);
  let result = steps.next();
  for (let guard = 0; result.done !== true; guard++) {
    assert.ok(guard < 1_000_000, "the walk ends");
    between();
    const stub = result.value;
    if (stub === undefined) {
      result = steps.next();
      continue;
    }
    assert.ok(copy !== undefined, "only a compaction's walk meets stubs");
    const ref = copy(stub.address);
    between(); // a copy is asynchronous: readers and evictions run meanwhile
    result = steps.next(stub.present() ? ref : undefined);
  }
  return result.value;
}

/** A trie of a few hundred keys written to `image`, some of it evicted again. */
function startingTrie(next: (below: number) => number, image: Records) {
  const art = new Art();
  const model = new Map<string, number>();
  for (let i = 0; i < 300; i++) liveStep(art, model, next, image);
  incremental(art, model, next, image, true);
  for (let i = 0; i < 40; i++) liveStep(art, model, next, image);
  return { art, model };
}

/**
 * One incremental checkpoint with live steps between its walk's steps;
 * commits its records into `image`, or (`commit` false) drops them, as a
 * failed checkpoint leaves them. Returns the evictions made beside it.
 */
function incremental(
  art: Art,
  model: Map<string, number>,
  next: (below: number) => number,
  image: Records,
  commit: boolean,
): number {
  const pending = new Records(image.map.size + 1_000_000);
  const captured = new Map(model);
  const snapshot = art.capture();
  let evictions = 0;
  const root = walk(
    snapshot,
    (node) => pending.add(node),
    undefined,
    () => {
      // Loads read the committed image only: a stub naming a pending record fails the test.
      for (let i = next(3); i > 0; i--) evictions += liveStep(art, model, next, image);
    },
  );
  const written = new Records();
  for (const [address, record] of [...image.map, ...pending.map]) written.map.set(address, record);
  assert.deepEqual(imageEntries(written, root, snapshot.size), sorted(captured));
  if (commit) { for (const [address, record] of pending.map) image.map.set(address, record); }
  snapshot.release();
  return evictions;
}

/**
 * A compaction's visits into `fresh`: `visit` writes a node the walk
 * passes (its children's fresh addresses made plain), `copyOld` copies the
 * old `image`'s subtree under a stub, returning the copy's address.
 */
function compactionVisits(image: Records, fresh: Records) {
  const visit = (node: NodeView) => {
    const view = copyView(node);
    view.childAddresses = view.childAddresses.map((child) => (child < 0 ? -child : child));
    return freshAddress(fresh.add(view));
  };
  const copyOld = (address: number): number => {
    const view = copyView(image.map.get(address)!);
    view.childAddresses = view.childAddresses.map((child) =>
      child === inlineAddress ? child : copyOld(child)
    );
    return fresh.add(view);
  };
  return { visit, copyOld };
}

/** One compaction into a new file, with live steps between its steps and during its copies. */
function compaction(
  art: Art,
  model: Map<string, number>,
  next: (below: number) => number,
  image: Records,
): { image: Records; evictions: number } {
  const fresh = new Records();
  const captured = new Map(model);
  const snapshot = art.capture({ rewriteAll: true });
  let evictions = 0;
  const { visit, copyOld } = compactionVisits(image, fresh);
  const root = walk(snapshot, visit, copyOld, () => {
    for (let i = next(3); i > 0; i--) evictions += liveStep(art, model, next, image, fresh);
  });
  assert.ok(root < 0 || snapshot.size === 0, "a compaction's root address is a fresh one");
  // The commit: the new file is the image, in one step with the settling.
  art.settleAddresses();
  snapshot.release();
  assert.deepEqual(imageEntries(fresh, -root, captured.size), sorted(captured));
  return { image: fresh, evictions };
}

Deno.test("evict beside an incremental checkpoint: the model's answers, the snapshot's image", () => {
  let evictions = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const next = generator(seed);
    const image = new Records();
    const { art, model } = startingTrie(next, image);
    for (let round = 0; round < 4; round++) {
      evictions += incremental(art, model, next, image, true);
      art.verify();
      assert.deepEqual(entriesOf(art, image), sorted(model));
    }
  }
  assert.ok(evictions > 300, `evictions happened beside the snapshots (${evictions})`);
});

Deno.test("evict beside an incremental checkpoint that fails: no stub names a record it wrote", () => {
  // A checkpoint that fails leaves addresses no committed image holds: an eviction of a node its
  // walk gave an address would make a stub of one (the loads of `withLoads` fail the test).
  let evictions = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const next = generator(seed);
    const image = new Records();
    const { art, model } = startingTrie(next, image);
    evictions += incremental(art, model, next, image, false);
    assert.deepEqual(entriesOf(art, image), sorted(model));
  }
  assert.ok(evictions > 50, `evictions happened beside the snapshots (${evictions})`);
});

Deno.test("evict beside a streaming compaction: the model's answers, the new file's image", () => {
  let evictions = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const next = generator(seed);
    let image = new Records();
    const { art, model } = startingTrie(next, image);
    for (let round = 0; round < 3; round++) {
      const compacted = compaction(art, model, next, image);
      image = compacted.image;
      evictions += compacted.evictions;
      art.verify();
      assert.deepEqual(entriesOf(art, image), sorted(model));
      for (let i = 0; i < 20; i++) liveStep(art, model, next, image);
      incremental(art, model, next, image, true);
    }
  }
  assert.ok(evictions > 300, `evictions happened beside the compactions (${evictions})`);
});

Deno.test("a load beside a snapshot frees the stub it replaced: load and evict cycles keep no memory", () => {
  // Found by the store's test of reads during a compaction: every stub a load replaced beside a
  // snapshot was kept until its release, so reads that loaded and evicted the same subtrees over
  // a long compaction kept a stub per load (1 MB against a budget of 32 KiB).
  const next = generator(7);
  const image = new Records();
  const { art, model } = startingTrie(next, image);
  incremental(art, model, next, image, true);
  const [victim] = art.evictable(1);
  const key = withLoads(art, image, undefined, () => art.entries({ start: victim.path }).next())
    .value![0];
  for (const rewriteAll of [false, true]) {
    withLoads(art, image, undefined, () => art.get(key));
    const snapshot = art.capture({ rewriteAll });
    assert.ok(art.evict(victim.path) !== null);
    const live = art.memory().liveBytes;
    for (let cycle = 0; cycle < 50; cycle++) {
      withLoads(art, image, undefined, () => art.get(key));
      assert.ok(art.evict(victim.path) !== null);
      assert.equal(art.memory().liveBytes, live, `cycle ${cycle} kept nothing`);
    }
    snapshot.release();
  }
});

/**
 * A compaction's walk that fails after `stop` of its steps, with live steps between them: the
 * new file's records so far, and the snapshot (not released yet).
 */
function failedCompaction(
  art: Art,
  model: Map<string, number>,
  next: (below: number) => number,
  image: Records,
  stop: number,
): { fresh: Records; snapshot: ArtSnapshot } {
  const fresh = new Records();
  const snapshot = art.capture({ rewriteAll: true });
  const { visit, copyOld } = compactionVisits(image, fresh);
  const steps = snapshot.writeChangedSteps((node) => visit(node), 2);
  let result = steps.next();
  for (let step = 0; step < stop && result.done !== true; step++) {
    for (let i = next(3); i > 0; i--) liveStep(art, model, next, image, fresh);
    const stub = result.value;
    result = stub === undefined
      ? steps.next()
      : steps.next(stub.present() ? copyOld(stub.address) : undefined);
  }
  return { fresh, snapshot };
}

Deno.test("evict after a failed compaction: only what the old image holds goes, and no answer is lost", () => {
  // Once it failed, a stub of a fresh address is refused (its record is in the failed file): a
  // key read after the failure must read again, however evictions went meanwhile; and a node a
  // read of the failed file installs after the failure (begun before it) stays loaded.
  let evictions = 0;
  let lateInstalls = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const next = generator(seed);
    const image = new Records();
    const { art, model } = startingTrie(next, image);
    const { fresh, snapshot } = failedCompaction(art, model, next, image, 5 + next(60));
    const late = art.stubs(1_000).find((stub) => isFreshAddress(stub.address));
    art.checkpointFailed();
    snapshot.release();
    if (late !== undefined) {
      art.install(late.path, late.address, recordOf(image, fresh, late.address));
      assert.equal(art.evict(late.path), null, "a node of the failed file stays");
      lateInstalls++;
    }
    // Reads and evictions only (the store refuses writes now); a fresh stub is refused.
    const answered = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const key = Uint8Array.from({ length: 1 + next(4) }, () => next(6));
      if (next(3) === 0) {
        for (const { path, address } of art.evictable(16)) {
          assert.ok(!isFreshAddress(address), "no node of the failed file is offered");
          if (art.evict(path) !== null) evictions++;
        }
        continue;
      }
      try {
        const value = withLoads(art, image, undefined, () => art.get(key));
        assert.equal(value, model.get(encode(key)));
        answered.add(encode(key));
      } catch (error) {
        // `recordOf` refuses a fresh address with no compaction: its file failed.
        assert.ok(!answered.has(encode(key)), `${encode(key)} answered after the failure`);
        assert.match(String(error), /fresh address/);
      }
    }
  }
  assert.ok(evictions > 300, `evictions happened after the failures (${evictions})`);
  assert.ok(lateInstalls > 10, `late installs (${lateInstalls})`);
});
