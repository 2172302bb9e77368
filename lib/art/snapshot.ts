/**
 * A frozen view of an {@link Art} for a checkpoint: `Art.capture()` takes it
 * in O(1) and writers go on at once (copy-on-write keeps every node it can
 * reach unchanged), then the image writer lists it or writes the nodes
 * changed since the last checkpoint, and releases it.
 *
 * @example An incremental checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * for (let byte = 0; byte < 100; byte++) art.add(Uint8Array.of(byte, 1), byte);
 * let next = 10; // a stand-in for the image file's free space
 * const first = art.capture();
 * first.writeChanged(() => next++);
 * first.release();
 * art.add(Uint8Array.of(5, 1), 1); // one key changes
 * const second = art.capture();
 * art.add(Uint8Array.of(5, 1), 1); // writers do not wait for the checkpoint
 * assert.equal(second.get(Uint8Array.of(5, 1)), 6);
 * assert.equal(second.changedNodeCount(), 2); // the key's node and the root
 * second.writeChanged(() => next++);
 * second.release();
 * ```
 *
 * @module
 */

import type { TreeStats as ArtStats } from "./_verify.ts";
import type { NodeView, SubtreeCopy, WalkYield } from "./_image_walk.ts";

export type { SubtreeCopy, WalkYield };

export type { NodeView } from "./_image_walk.ts";

/** Options for {@link ArtSnapshot.entries}: a key range in unsigned byte order. */
export interface ArtSnapshotRange {
  /** The first key to include (inclusive); default: the smallest key. */
  start?: Uint8Array;
  /** The key to stop before (exclusive); default: past the largest key. */
  end?: Uint8Array;
  /** Walk from the end of the range down to its start (default false). */
  reverse?: boolean;
}

/**
 * The state of an {@link Art} at one instant, readable while the trie goes on
 * changing, until {@link ArtSnapshot.release}. One per trie at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * art.set(Uint8Array.of(1), 10);
 * const snapshot = art.capture();
 * art.set(Uint8Array.of(1), 20);
 * art.delete(Uint8Array.of(1));
 * assert.equal(snapshot.get(Uint8Array.of(1)), 10);
 * assert.equal(snapshot.size, 1);
 * snapshot.release();
 * ```
 */
export interface ArtSnapshot {
  /** The number of keys at capture time. */
  readonly size: number;

  /**
   * An upper bound on every value at capture time (`Art.valueCeiling`
   * then): what an image header written from the snapshot records.
   * Infinity when the trie knew none.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 10);
   * const snapshot = art.capture();
   * art.set(Uint8Array.of(1), 20);
   * assert.equal(snapshot.valueCeiling, 10);
   * snapshot.release();
   * ```
   */
  readonly valueCeiling: number;

  /** Whether {@link ArtSnapshot.release} has not been called yet. */
  readonly live: boolean;

  /**
   * Looks a key up as of capture time.
   *
   * @param key The key bytes; not kept.
   * @returns The key's value then, or `undefined` if it was absent.
   * @throws {Error} If the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const snapshot = art.capture();
   * art.set(Uint8Array.of(1), 1);
   * assert.equal(snapshot.get(Uint8Array.of(1)), undefined);
   * snapshot.release();
   * ```
   */
  get(key: Uint8Array): number | undefined;

  /**
   * Lists the entries as of capture time, as `Art.entries` does. May run
   * while the trie changes; a release ends it.
   *
   * @param range The optional bounds and direction.
   * @returns A generator of `[key, value]`; keys as from `Art.entries`.
   * @throws {Error} From `next()`, if the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 1);
   * const snapshot = art.capture();
   * const walk = snapshot.entries();
   * art.set(Uint8Array.of(0), 5);
   * assert.deepEqual([...walk].map(([key, value]) => [[...key], value]), [[[1], 1]]);
   * snapshot.release();
   * ```
   */
  entries(range?: ArtSnapshotRange): Generator<[key: Uint8Array, value: number]>;

  /**
   * Gives every node changed since the last checkpoint an image address:
   * calls `visit` for each node without one, children before their parent,
   * and stores the address it returns in the node (which the trie shares
   * while it is unchanged, so the next checkpoint passes the subtree by).
   * Nodes with an address, and their subtrees, are not visited.
   *
   * @param visit Writes one node and returns its address (a positive safe integer).
   * @returns The root's address; 0 for an empty trie.
   * @throws {Error} If the snapshot was released; whatever `visit` throws
   * (nodes written before keep their addresses).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 2), 1);
   * art.set(Uint8Array.of(1, 3), 1);
   * const snapshot = art.capture();
   * const seen: number[][] = [];
   * const root = snapshot.writeChanged((node) => seen.push([...node.childBytes]));
   * assert.deepEqual(seen, [[], [], [2, 3]]); // two leaves, then their parent
   * assert.equal(root, 3);
   * assert.equal(snapshot.rootAddress(), 3);
   * snapshot.release();
   * ```
   */
  writeChanged(visit: (node: NodeView, previous: number, root: boolean) => number): number;

  /**
   * {@link ArtSnapshot.writeChanged} in steps: the generator pauses after
   * every `nodesPerStep` nodes so the caller can flush what `visit` wrote
   * and let writers run (they do not disturb the walk: copy-on-write keeps
   * the snapshot's nodes unchanged). The generator's return value is the
   * root's address.
   *
   * A snapshot captured with `rewriteAll` (a compaction) also yields a
   * {@link SubtreeCopy} at each stub it meets: copy the old image's subtree
   * under its address, and pass the copy root's ref to `next` (see
   * `_image_walk.ts`); the nodes and stubs it passed hold fresh (negated)
   * addresses until `Art.settleAddresses`.
   *
   * @param visit As for {@link ArtSnapshot.writeChanged}. A snapshot
   * captured with `rewriteAll` visits every node, and `previous` is the
   * address the node had (0 if none), whose record the new image drops.
   * @param nodesPerStep Nodes visited between pauses (positive).
   * @param inlineLeafPrefixMax A leaf (not the root) whose prefix is at most
   *   this many bytes is not visited but given `inlineAddress`, to be
   *   stored in its parent's record (default -1: every node is visited).
   * @returns A generator; run it to the end to write every changed node.
   * @throws {Error} From `next()`, if the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * for (let byte = 0; byte < 10; byte++) art.set(Uint8Array.of(byte), byte);
   * const snapshot = art.capture();
   * let next = 10, pauses = 0;
   * const steps = snapshot.writeChangedSteps(() => next++, 4);
   * let result = steps.next();
   * for (; result.done !== true; result = steps.next()) {
   *   pauses++;
   *   art.set(Uint8Array.of(3), 100); // a writer runs between steps
   * }
   * assert.equal(result.value, 20); // ten leaves (10..19), then the root
   * assert.equal(pauses, 2);
   * assert.equal(snapshot.get(Uint8Array.of(3)), 3);
   * snapshot.release();
   * ```
   */
  writeChangedSteps(
    visit: (node: NodeView, previous: number, root: boolean) => number,
    nodesPerStep: number,
    inlineLeafPrefixMax?: number,
  ): Generator<WalkYield, number, number | undefined>;

  /**
   * The number of nodes {@link ArtSnapshot.writeChanged} would visit now.
   *
   * @returns The count of nodes without an address.
   * @throws {Error} If the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 1);
   * const snapshot = art.capture();
   * assert.equal(snapshot.changedNodeCount(), 1);
   * snapshot.writeChanged(() => 8);
   * assert.equal(snapshot.changedNodeCount(), 0);
   * snapshot.release();
   * ```
   */
  changedNodeCount(): number;

  /**
   * The root's image address: 0 if the trie is empty or its root was not
   * written yet; after a checkpoint that changed nothing, the previous one's.
   *
   * @returns The address.
   * @throws {Error} If the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const snapshot = art.capture();
   * assert.equal(snapshot.rootAddress(), 0);
   * snapshot.release();
   * ```
   */
  rootAddress(): number;

  /**
   * Checks every structural invariant of the frozen trie, as `Art.verify`.
   *
   * @returns Node counts by kind and the longest key's length.
   * @throws {AssertionError} If an invariant does not hold (a tallytrie bug).
   * @throws {Error} If the snapshot was released.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 1);
   * const snapshot = art.capture();
   * assert.equal(snapshot.verify().keys, 1);
   * snapshot.release();
   * ```
   */
  verify(): ArtStats;

  /**
   * Ends the snapshot: the trie edits its nodes in place again. Idempotent.
   * Reads of a released snapshot throw.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * const snapshot = art.capture();
   * snapshot.release();
   * assert.throws(() => snapshot.get(Uint8Array.of(1)));
   * art.capture().release(); // the next capture may begin
   * ```
   */
  release(): void;
}
