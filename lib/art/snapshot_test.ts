/**
 * Unit tests of trie snapshots: the captured state kept while the trie
 * changes, one live at a time, and incremental checkpoints writing only the
 * changed paths.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AssertionError } from "../_assert.ts";
import { Art, inlineAddress, type NodeView } from "./art.ts";

function k(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function list(entries: Iterable<[Uint8Array, number]>): string[] {
  return [...entries].map(([key, value]) => `${String.fromCharCode(...key)}=${value}`);
}

/** A seeded xorshift generator: the same keys on every run. */
function randomKeys(count: number, seed: number): Uint8Array[] {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const keys = new Map<string, Uint8Array>();
  while (keys.size < count) {
    const key = Uint8Array.from({ length: 3 + (next() % 6) }, () => next() & 0xff);
    keys.set(String.fromCharCode(...key), key);
  }
  return [...keys.values()];
}

/** Writes the changed nodes with ascending fake addresses, recording each visit. */
class Writer {
  next = 10;
  readonly visits: { address: number; childAddresses: number[] }[] = [];
  readonly visit = (view: NodeView): number => {
    for (const child of view.childAddresses) assert.ok(child > 0 && child < this.next);
    const address = this.next++;
    this.visits.push({ address, childAddresses: [...view.childAddresses] });
    return address;
  };
}

Deno.test("ArtSnapshot: keeps the captured state while the trie changes", () => {
  const art = new Art();
  for (const key of ["a", "ab", "abc", "b"]) art.set(k(key), key.length);
  const snapshot = art.capture();
  art.set(k("a"), 10);
  art.add(k("abd"), 4);
  art.delete(k("ab"));
  art.delete(k("b"));
  art.set(k(""), 1);
  art.verify();
  assert.deepEqual(list(snapshot.entries()), ["a=1", "ab=2", "abc=3", "b=1"]);
  assert.deepEqual(list(snapshot.entries({ start: k("ab"), reverse: true })), [
    "b=1",
    "abc=3",
    "ab=2",
  ]);
  assert.deepEqual(list(art.entries()), ["=1", "a=10", "abc=3", "abd=4"]);
  assert.equal(snapshot.size, 4);
  assert.equal(snapshot.get(k("ab")), 2);
  assert.equal(snapshot.get(k("")), undefined);
  snapshot.verify();
  snapshot.release();
  art.set(k("a"), 11); // in place again
  assert.deepEqual(list(art.entries()), ["=1", "a=11", "abc=3", "abd=4"]);
});

Deno.test("ArtSnapshot: clear while captured, and an empty capture", () => {
  const art = new Art();
  const empty = art.capture();
  art.set(k("x"), 1);
  assert.deepEqual(list(empty.entries()), []);
  assert.equal(empty.writeChanged(() => assert.fail("nothing to write")), 0);
  assert.equal(empty.rootAddress(), 0);
  empty.release();
  const snapshot = art.capture();
  art.clear();
  art.set(k("y"), 2);
  assert.deepEqual(list(snapshot.entries()), ["x=1"]);
  assert.deepEqual(list(art.entries()), ["y=2"]);
  snapshot.release();
});

Deno.test("ArtSnapshot: one live at a time; a released one cannot be read", () => {
  const art = new Art();
  art.set(k("a"), 1);
  const snapshot = art.capture();
  assert.throws(() => art.capture(), AssertionError);
  const walk = snapshot.entries();
  assert.equal(walk.next().done, false);
  snapshot.release();
  snapshot.release(); // idempotent
  assert.equal(snapshot.live, false);
  assert.throws(() => walk.next(), /released/);
  assert.throws(() => snapshot.get(k("a")), /released/);
  assert.throws(() => snapshot.writeChanged(() => 1), /released/);
  art.capture().release();
});

Deno.test("ArtSnapshot: a failed or empty edit copies and dirties nothing", () => {
  const art = new Art();
  for (const key of randomKeys(500, 7)) art.set(key, 1);
  const first = art.capture();
  first.writeChanged(new Writer().visit);
  first.release();
  const second = art.capture();
  assert.equal(art.delete(k("absent")), false);
  assert.throws(() => art.add(k("absent"), -1), AssertionError);
  assert.equal(second.changedNodeCount(), 0);
  second.release();
  const third = art.capture();
  assert.equal(third.changedNodeCount(), 0);
  assert.equal(third.writeChanged(() => assert.fail("nothing changed")), third.rootAddress());
  third.release();
});

Deno.test("ArtSnapshot: an incremental checkpoint writes only the changed paths", () => {
  const art = new Art();
  const keys = randomKeys(20_000, 12345);
  for (const key of keys) art.add(key, 1);
  const first = art.capture();
  const full = new Writer();
  const firstRoot = first.writeChanged(full.visit);
  const stats = art.verify();
  const nodes = stats.leaves + stats.nodes4 + stats.nodes16 + stats.nodes48 + stats.nodes256;
  assert.equal(full.visits.length, nodes);
  assert.equal(firstRoot, full.next - 1); // post-order: the root comes last
  assert.equal(first.rootAddress(), firstRoot);
  first.release();

  const changed = [keys[3], keys[500], keys[9_999], keys[15_000], k("new key")];
  for (const key of changed) art.add(key, 5);
  art.delete(keys[42]);
  const second = art.capture();
  for (const key of keys.slice(0, 100)) art.add(key, 1); // writers go on meanwhile
  const depth = stats.depthMax + 1; // nodes on a path: at most one per key byte, plus the root
  const count = second.changedNodeCount();
  assert.ok(count <= (changed.length + 1) * depth, `${count} nodes changed`);
  const incremental = new Writer();
  incremental.next = full.next;
  const secondRoot = second.writeChanged(incremental.visit);
  assert.equal(incremental.visits.length, count);
  assert.equal(incremental.visits.at(-1)!.address, secondRoot);
  assert.notEqual(secondRoot, firstRoot);
  // Unchanged subtrees are passed by their first-checkpoint addresses.
  const reused = incremental.visits.flatMap((visit) => visit.childAddresses)
    .filter((address) => address < full.next);
  assert.ok(reused.length > 0);
  assert.equal(second.rootAddress(), secondRoot);
  second.release();
  art.verify();
});

Deno.test("ArtSnapshot: writeChangedSteps passes short leaves to their parent's view unvisited", () => {
  const art = new Art();
  for (const key of ["ab", "ac", "adxyz", "b"]) art.set(k(key), key.length);
  const snapshot = art.capture();
  const views: { childBytes: number[]; childAddresses: number[]; leaves: string[] }[] = [];
  let next = 10;
  const steps = snapshot.writeChangedSteps(
    (view) => {
      views.push({
        childBytes: [...view.childBytes],
        childAddresses: [...view.childAddresses],
        leaves: (view.inlineLeaves ?? []).map((leaf) => `${[...leaf.prefix]}=${leaf.value}`),
      });
      return next++;
    },
    100,
    2,
  );
  let result = steps.next();
  for (let pauses = 0; result.done !== true && pauses < 10; pauses++) result = steps.next();
  // Visited: the leaf "adxyz" (its prefix "xyz" is 3 bytes), the node "a", the root.
  assert.equal(views.length, 3);
  assert.deepEqual(views[0], { childBytes: [], childAddresses: [], leaves: [] });
  assert.deepEqual(views[1], {
    childBytes: [98, 99, 100],
    childAddresses: [inlineAddress, inlineAddress, 10],
    leaves: ["=2", "=2"],
  });
  assert.deepEqual(views[2].childAddresses, [11, inlineAddress]);
  assert.equal(result.value, 12);
  snapshot.release();
});

Deno.test("Art.relocate: refused while a snapshot lives; after it, the checkpoint state is kept", () => {
  const art = new Art();
  for (let i = 0; i < 300; i++) art.set(Uint8Array.of(7, i & 255, i >> 8), i);
  const first = art.capture();
  const writer = new Writer();
  first.writeChanged(writer.visit);
  assert.equal(art.relocate(), false);
  first.release();
  assert.equal(art.relocate(), true);
  art.verify();
  // Generations and addresses moved with the nodes: nothing changed, nothing to write.
  const written = writer.visits.length;
  const second = art.capture();
  second.writeChanged(writer.visit);
  assert.equal(writer.visits.length, written);
  second.release();
  art.add(Uint8Array.of(7, 5, 0), 1);
  const third = art.capture();
  third.writeChanged(writer.visit);
  assert.ok(writer.visits.length > written);
  assert.equal(third.get(Uint8Array.of(7, 5, 0)), 6);
  third.release();
  assert.equal(art.size, 300);
});
