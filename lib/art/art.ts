/**
 * The in-memory adaptive radix trie (ART) that holds tallytrie's counters:
 * byte keys in unsigned byte order mapped to non-negative integer values.
 *
 * Node4/Node16/Node48/Node256 inner nodes grow and shrink with their child
 * count; single-child paths are compressed into a node's prefix (the full
 * bytes, so a 65,535-byte key costs no extra levels); a key that is a prefix of
 * another key lives on the inner node where it ends. No operation recurses
 * over key depth.
 *
 * For checkpoints, {@link Art.capture} freezes the trie in O(1) as an
 * {@link ArtSnapshot} that writers do not wait for (copy-on-write by path
 * copying), and every node remembers its image address until an edit on its
 * path clears it, so a checkpoint writes only what changed since the last.
 *
 * @example Counting and listing
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * const key = (text: string) => new TextEncoder().encode(text);
 * art.add(key("to be"), 2);
 * art.add(key("to"), 1);
 * const keys = [...art.entries()].map(([k, v]) => `${new TextDecoder().decode(k)}=${v}`);
 * assert.deepEqual(keys, ["to=1", "to be=2"]); // a prefix sorts first
 * ```
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  evictableNodes,
  type EvictChoice,
  type Evicted,
  evictKept,
  evictNodeIf,
  type EvictWalkWork,
  keepUncommitted,
  type WalkSpan,
} from "./_evict.ts";
import { type WalkMark, walkMark } from "./_walk_mark.ts";
export {
  type EvictChoice,
  evictDescend,
  evictKept,
  evictSkip,
  evictTake,
  type EvictWalkWork,
  type WalkSpan,
} from "./_evict.ts";
export {
  beyond,
  markAfter,
  markAll,
  markNone,
  passedBy,
  sameMark,
  type WalkMark,
} from "./_walk_mark.ts";
import type { NodeView } from "./_image_walk.ts";
import {
  buildSubtree,
  buildSubtreeCounts,
  findStubs,
  hasStubAt,
  installBuilt,
  installedValues,
  installNode,
  installPath,
  installPathPassed,
  installPathStopped,
  installPathStubs,
  installSubtree,
  nodeFromImage,
  type RecordSource,
  stubOnPath,
  type StubRef,
} from "./_lazy.ts";
import { Arena } from "./_arena.ts";
import { readThrough, throughNotGiven } from "./_read_through.ts";
import { footprintBytes } from "./_footprint.ts";
import { inlineAddress, noValue, tickGeneration, valueOf } from "./_node.ts";
import { ArtCore, lookupAbsent, lookupNotLoaded } from "./_art_core.ts";
import { settleFreshAddresses } from "./_settle.ts";

export type {
  ArtSnapshot,
  ArtSnapshotRange,
  NodeView,
  SubtreeCopy,
  WalkYield,
} from "./snapshot.ts";
export type { RecordFieldsView, RecordSource, StubRef } from "./_lazy.ts";
export type { CollectedEntry, EntryVisitor } from "./_cursor.ts";
export type { DropHandler } from "./_tree.ts";
export { freshAddress, inlineAddress, isFreshAddress, NodeNotLoaded } from "./_node.ts";
export { TrieChangedDuringVisit } from "./_cursor.ts";

export {
  type ArtRange,
  type ArtStats,
  lookupAbsent,
  lookupNotLoaded,
  type TrieMemory,
  type TrieRelocations,
} from "./_art_core.ts";

/**
 * Arena words to reserve per key when a whole image loads: the compare's
 * word n-grams take 14.5 (58 bytes: nodes, prefixes and values); the rest is
 * address space, which takes no RAM until used.
 */
const arenaWordsPerKey = 20;
/** The most words reserved that way (1 GiB); a larger trie grows its arena as it loads. */
const arenaReserveWordsMax = 256 * 1024 * 1024;

/**
 * An adaptive radix trie from byte keys (0..65,535 bytes) to non-negative
 * safe-integer counters. Not thread-safe; iterators fail fast on mutation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Art } from "./art.ts";
 * const art = new Art();
 * art.set(new Uint8Array([1, 2]), 5);
 * assert.equal(art.get(new Uint8Array([1, 2])), 5);
 * assert.equal(art.size, 1);
 * ```
 */
export class Art extends ArtCore {
  /**
   * The walks {@link Art.evictable} made for clean nodes, and the nodes
   * they visited: a memory budget's clock hand (the simulator bounds its
   * work, see docs/SIMULATION.md).
   */
  readonly evictWalks: EvictWalkWork = { walks: 0, visits: 0 };

  /**
   * A trie opened from an image: the root loaded from its record, every
   * other node a stub until {@link Art.install} loads it.
   *
   * @param root The root's record.
   * @param rootAddress Where the image holds it.
   * @param size The number of keys the image holds.
   * @param valueCeiling An upper bound on every count the image holds (its
   *   header's); Infinity (the default) if it records none.
   * @returns The trie.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const root = { prefix: new Uint8Array(0), value: undefined, childBytes: Uint8Array.of(1, 2), childAddresses: [100, 200] };
   * const art = Art.fromImage(root, 300, 2, 9);
   * assert.throws(() => art.get(Uint8Array.of(1)), NodeNotLoaded);
   * assert.equal(art.valueCeiling, 9); // the values on disk are unseen, but bounded
   * art.install(Uint8Array.of(1), 100, { prefix: new Uint8Array(0), value: 7, childBytes: new Uint8Array(0), childAddresses: [] });
   * assert.equal(art.get(Uint8Array.of(1)), 7);
   * ```
   */
  static fromImage(
    root: NodeView,
    rootAddress: number,
    size: number,
    valueCeiling = Number.POSITIVE_INFINITY,
  ): Art {
    assert(Number.isSafeInteger(size) && size > 0, "an image with a root holds keys");
    assert(valueCeiling >= 0, "a value ceiling is never negative");
    const art = new Art();
    installedValues.max = 0;
    art.tree.root = nodeFromImage(art.tree.a, root, rootAddress, tickGeneration());
    art.keyCount = size;
    art.lazy = true;
    art.stubCount = root.childAddresses.filter((address) => address !== inlineAddress).length;
    art.imageCeiling = valueCeiling; // the values on disk are unseen: the image bounds them
    art.#noteLoaded();
    return art;
  }

  /**
   * A trie opened from an image and loaded whole at once: every record
   * `source` has at hand becomes a node, children before parents, and only
   * the records it has not stay stubs (to load later as usual).
   *
   * @param rootAddress Where the image holds the root's record.
   * @param size The number of keys the image holds.
   * @param source Decodes records by address.
   * @param valueCeiling An upper bound on every count the image holds (its
   *   header's); Infinity (the default) if it records none.
   * @returns The trie; undefined if the root's record is not at hand; or a
   *   description of why the records cannot be a trie of `size` keys (more
   *   than `2 × size` records, deeper than a key, or a count above
   *   `valueCeiling`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * import { decodeRecordFields, encodeNodeRecord, newRecordFields } from "../image/node_record.ts";
   * const none = new Uint8Array(0);
   * const records = new Map([
   *   [100, encodeNodeRecord({ prefix: none, value: 7, childBytes: none, childAddresses: [] })],
   *   [300, encodeNodeRecord({ prefix: none, value: undefined, childBytes: Uint8Array.of(1, 2), childAddresses: [100 * 2 ** 17 + 9, 200 * 2 ** 17 + 9] })],
   * ]);
   * const fields = newRecordFields();
   * const source = {
   *   fields,
   *   fetch(address: number) {
   *     const bytes = records.get(address > 2 ** 17 ? Math.floor(address / 2 ** 17) : address);
   *     if (bytes === undefined) return undefined;
   *     assert.equal(decodeRecordFields(bytes, 0, bytes.length, fields), undefined);
   *     return bytes;
   *   },
   * };
   * const art = Art.fromImageWhole(300, 2, source);
   * assert.ok(art instanceof Art);
   * assert.equal(art.get(Uint8Array.of(1)), 7);
   * assert.equal(art.unloaded, 1); // the record at offset 200 stays a stub
   * ```
   */
  static fromImageWhole(
    rootAddress: number,
    size: number,
    source: RecordSource,
    valueCeiling = Number.POSITIVE_INFINITY,
  ): Art | string | undefined {
    assert(Number.isSafeInteger(size) && size > 0, "an image with a root holds keys");
    const art = new Art();
    // Room for the whole load at once: growing by doubling copied the nodes a
    // dozen times; pages the nodes never reach take no RAM.
    art.tree.a = new Arena(Math.min(size * arenaWordsPerKey, arenaReserveWordsMax));
    const built = buildSubtree(art.tree.a, source, rootAddress, 0, tickGeneration(), 2 * size);
    if (built === undefined || typeof built === "string") return built;
    art.tree.root = built;
    art.keyCount = size;
    art.lazy = true;
    art.stubCount = buildSubtreeCounts.stubs;
    const valueMax = buildSubtreeCounts.valueMax;
    if (valueMax > valueCeiling) {
      return `a record holds the count ${valueMax}, above the header's value ceiling ${valueCeiling}`;
    }
    art.ceiling = valueMax;
    // The records not at hand stay stubs, bounded by the image's ceiling.
    art.imageCeiling = art.stubCount === 0 ? 0 : valueCeiling;
    return art;
  }

  /**
   * Makes room in memory for the whole trie at once, as
   * {@link Art.fromImageWhole} does (a background warm-up is about to load
   * it all): no copy of the nodes per doubling of the arena. Does nothing
   * if the process cannot give it (the arena grows as it loads).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const root = { prefix: new Uint8Array(0), value: undefined, childBytes: Uint8Array.of(1, 2), childAddresses: [100, 200] };
   * const art = Art.fromImage(root, 300, 10_000);
   * const before = art.memory().bufferBytes;
   * art.reserveWhole();
   * assert.ok(art.memory().bufferBytes > before);
   * assert.equal(art.unloaded, 2);
   * ```
   */
  reserveWhole(): void {
    this.tree.a.reserve(Math.min(this.keyCount * arenaWordsPerKey, arenaReserveWordsMax));
  }

  /**
   * Whether the stub with `address` is still at `path` (a read of its record
   * in flight would install there; once another load took its place, the
   * read installs nothing).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(5), 1);
   * assert.equal(art.hasStubAt(Uint8Array.of(5), 10), false); // loaded, not a stub
   * ```
   */
  hasStubAt(path: Uint8Array, address: number): boolean {
    return hasStubAt(this.tree.a, this.tree.root, path, address);
  }

  /**
   * Installs the record of a stub in its place (with stubs for its
   * children). A no-op if the stub is gone (loaded already, or replaced by
   * an edit).
   *
   * @param path The stub's path, from {@link NodeNotLoaded} or a {@link StubRef}.
   * @param address The stub's image address.
   * @param node The record read from that address.
   * @returns The new node's child stubs, or null if nothing was installed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const leaf = { prefix: new Uint8Array(0), value: 1, childBytes: new Uint8Array(0), childAddresses: [] };
   * const art = Art.fromImage({ ...leaf, value: undefined, childBytes: Uint8Array.of(5, 6), childAddresses: [10, 20] }, 30, 2);
   * assert.deepEqual(art.install(Uint8Array.of(5), 10, leaf), []);
   * assert.equal(art.install(Uint8Array.of(5), 10, leaf), null); // already loaded
   * ```
   */
  install(path: Uint8Array, address: number, node: NodeView): StubRef[] | null {
    assert(this.lazy, "install into a trie not opened from an image");
    installedValues.max = 0;
    const below = installNode(this.tree, path, address, node);
    if (below !== null) this.stubCount += below.length - 1;
    assert(this.stubCount >= 0, "more stubs installed than the trie held");
    this.#noteLoaded();
    return below;
  }

  /**
   * The number of nodes still on disk (stubs): 0 once the trie is fully
   * loaded, and always for a trie not opened from an image.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const leaf = { prefix: new Uint8Array(0), value: 1, childBytes: new Uint8Array(0), childAddresses: [] };
   * const art = Art.fromImage({ ...leaf, value: undefined, childBytes: Uint8Array.of(5, 6), childAddresses: [10, 20] }, 30, 2);
   * assert.equal(art.unloaded, 2);
   * art.install(Uint8Array.of(5), 10, leaf);
   * assert.equal(art.unloaded, 1);
   * ```
   */
  get unloaded(): number {
    return this.stubCount;
  }

  /**
   * Up to `limit` stubs still to load, in key order.
   *
   * @param limit The most to return.
   * @returns Their paths and addresses; empty when the trie is fully loaded.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * assert.deepEqual(new Art().stubs(10), []);
   * ```
   */
  stubs(limit: number): StubRef[] {
    assert(limit > 0, "a positive stub limit");
    return this.stubCount > 0 ? findStubs(this.tree.a, this.tree.root, limit) : [];
  }

  /**
   * The first stub on `key`'s path: what a read or an edit of `key` needs
   * loaded first. Null when the path is loaded.
   *
   * @param key The key.
   * @returns The stub to load first, or null.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * assert.equal(new Art().stubOnPath(Uint8Array.of(1)), null);
   * ```
   */
  stubOnPath(key: Uint8Array): StubRef | null {
    return this.stubCount > 0 ? stubOnPath(this.tree.a, this.tree.root, key) : null;
  }

  /**
   * The bytes of the nodes no eviction may free while `keys` are pinned:
   * the root, the loaded nodes on their paths, the nodes without an image
   * address of their own and those above them, and a stub in place of each
   * child below them that could go (`_footprint.ts`; the simulator's
   * memory bound).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 2), 1);
   * art.set(Uint8Array.of(3, 4), 2);
   * // Nothing was written to an image: every node stays.
   * assert.equal(art.footprint([]), art.memory().liveBytes);
   * ```
   */
  footprint(keys: readonly Uint8Array[]): number {
    return footprintBytes(this.tree, keys);
  }

  /**
   * Loads the stubs on `key`'s path that `fetch` can give at once (for
   * example from cached image slabs), in one descent.
   *
   * @param key The key whose path to load.
   * @param fetch The record at an address, or undefined if it needs a read;
   *   its second argument is the stub's path (a view valid during the call).
   * @returns Whether the path is loaded: a read of `key` will not throw
   *   {@link NodeNotLoaded}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const leaf = { prefix: new Uint8Array(0), value: 1, childBytes: new Uint8Array(0), childAddresses: [] };
   * const art = Art.fromImage({ ...leaf, value: undefined, childBytes: Uint8Array.of(5, 6), childAddresses: [10, 20] }, 30, 2);
   * assert.equal(art.loadPath(Uint8Array.of(6), () => undefined), false);
   * assert.equal(art.loadPath(Uint8Array.of(6), (address) => address === 20 ? leaf : undefined), true);
   * assert.equal(art.get(Uint8Array.of(6)), 1);
   * assert.equal(art.unloaded, 1);
   * ```
   */
  loadPath(
    key: Uint8Array,
    fetch: (address: number, path: Uint8Array) => NodeView | undefined,
  ): boolean {
    return this.stubCount === 0 || this.lookupLoading(key, fetch) !== lookupNotLoaded;
  }

  /**
   * Loads the stub at `path` and up to `budget - 1` stubs below it, breadth
   * first, from the records `fetch` can give at once (no walk from the root
   * per node).
   *
   * @returns The nodes installed; 0 if the stub is gone or `fetch` cannot give it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, type NodeView } from "./art.ts";
   * const none = new Uint8Array(0);
   * const leaf: NodeView = { prefix: none, value: 4, childBytes: none, childAddresses: [] };
   * const inner: NodeView = { prefix: none, value: undefined, childBytes: Uint8Array.of(1, 2), childAddresses: [40, 50] };
   * const art = Art.fromImage({ ...inner, childAddresses: [10, 20] }, 30, 4);
   * const records = new Map([[10, inner], [40, leaf], [50, leaf]]);
   * assert.equal(art.loadSubtree(Uint8Array.of(1), 10, (address) => records.get(address), 10), 3);
   * assert.equal(art.get(Uint8Array.of(1, 2)), 4);
   * assert.equal(art.unloaded, 1); // the stub at 20
   * ```
   */
  loadSubtree(
    path: Uint8Array,
    address: number,
    fetch: (address: number) => NodeView | undefined,
    budget: number,
  ): number {
    installedValues.max = 0;
    try {
      return installSubtree(this.tree, path, address, fetch, budget);
    } finally {
      this.#countInstalled(); // also when the arena could not grow: the nodes made before stay
    }
  }

  /**
   * Loads the stub at `path` with `address` and every record below it that
   * `source` has at hand, at once (as {@link Art.fromImageWhole} loads a
   * whole image): the background warm-up's step. `source` may stop giving
   * records at any point (a step's quota): stubs stay there.
   *
   * @param path The stub's path, as a {@link StubRef}'s.
   * @param address The stub's image address.
   * @param source Decodes records by address; undefined for one not at hand.
   * @param noteStubs Whether to return the stubs left (else: an empty array).
   * @returns The stubs left below the loaded node (in key order); null if no
   *   such stub is there any more (loaded already, evicted above, or
   *   replaced by an edit); undefined if `source` lacks the stub's own
   *   record; or why the records cannot be this trie's (a count above
   *   {@link Art.valueCeiling}, more records than its keys allow, a key too
   *   deep). Nothing changed unless it returns stubs.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * import { decodeRecordFields, encodeNodeRecord, newRecordFields } from "../image/node_record.ts";
   * const none = new Uint8Array(0);
   * const leaf = encodeNodeRecord({ prefix: none, value: 7, childBytes: none, childAddresses: [] });
   * const fields = newRecordFields();
   * const source = {
   *   fields,
   *   fetch(address: number) {
   *     if (address !== 100) return undefined;
   *     assert.equal(decodeRecordFields(leaf, 0, leaf.length, fields), undefined);
   *     return leaf;
   *   },
   * };
   * const root = { prefix: none, value: undefined, childBytes: Uint8Array.of(1, 2), childAddresses: [100, 200] };
   * const art = Art.fromImage(root, 300, 2, 9);
   * assert.deepEqual(art.loadSubtreeAtOnce(Uint8Array.of(1), 100, source), []);
   * assert.equal(art.get(Uint8Array.of(1)), 7);
   * assert.equal(art.loadSubtreeAtOnce(Uint8Array.of(2), 200, source), undefined); // not at hand
   * assert.equal(art.unloaded, 1);
   * ```
   */
  loadSubtreeAtOnce(
    path: Uint8Array,
    address: number,
    source: RecordSource,
    noteStubs = true,
  ): StubRef[] | null | undefined | string {
    assert(this.lazy, "load into a trie not opened from an image");
    // A trie of k keys has fewer than 2k nodes.
    const limits = { nodesMax: 2 * this.keyCount + 1, valueCeiling: this.valueCeiling };
    const left: StubRef[] = [];
    const built = installBuilt(
      this.tree,
      path,
      address,
      source,
      limits,
      noteStubs ? left : undefined,
    );
    if (built === null || built === undefined || typeof built === "string") return built;
    const { stubs, valueMax } = buildSubtreeCounts;
    assert(left.length === (noteStubs ? stubs : 0), "every stub left is returned");
    this.stubCount += stubs - 1;
    assert(this.stubCount >= 0, "more stubs installed than the trie held");
    installedValues.max = valueMax;
    this.#noteLoaded();
    return left;
  }

  /**
   * {@link Art.lookup} that loads the stubs on the way which `fetch` can
   * give at once, in the same descent: the key's value,
   * {@link lookupAbsent}, or {@link lookupNotLoaded} at the first stub
   * `fetch` cannot give.
   *
   * With `through` (a memory budget's reads), a stub no read met in the
   * current admission epoch ({@link Art.admitEpoch}) is not loaded: it is
   * stamped, and the value is read from the records `through` gives below
   * it, which are not installed (`_read_through.ts`). A read that meets the
   * stub again in that epoch loads it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, lookupNotLoaded } from "./art.ts";
   * const leaf = { prefix: new Uint8Array(0), value: 4, childBytes: new Uint8Array(0), childAddresses: [] };
   * const art = Art.fromImage({ ...leaf, value: undefined, childBytes: Uint8Array.of(5, 6), childAddresses: [10, 20] }, 30, 2);
   * assert.equal(art.lookupLoading(Uint8Array.of(5), () => undefined), lookupNotLoaded);
   * // The leaf's record decoded in place: no prefix, no children, the count 4.
   * const fields = { prefixAt: 0, prefixLength: 0, value: 4, count: 0, childBytesAt: 0, refs: [], leaves: 0, leafAt: [], leafLength: [], leafValue: [] };
   * const through = { fields, fetch: () => new Uint8Array(0) };
   * assert.equal(art.lookupLoading(Uint8Array.of(6), () => leaf, through), 4); // read through
   * assert.equal(art.verify().stubs, 2); // nothing loaded, the stub marked
   * assert.equal(art.lookupLoading(Uint8Array.of(6), () => leaf, through), 4); // loads it now
   * assert.equal(art.verify().stubs, 1);
   * assert.equal(art.lookupLoading(Uint8Array.of(5), () => leaf), 4);
   * ```
   */
  lookupLoading(
    key: Uint8Array,
    fetch: (address: number, path: Uint8Array) => NodeView | undefined,
    through?: RecordSource,
  ): number {
    if (this.stubCount === 0) return this.lookup(key);
    let node: number;
    installedValues.max = 0;
    try {
      node = installPath(this.tree, key, fetch, through !== undefined);
    } finally {
      this.#countInstalled(); // also when the arena could not grow: the nodes made before stay
    }
    if (node === installPathPassed) {
      const { depth, address } = installPathStopped;
      const value = readThrough(key, depth, address, through!);
      if (value === throughNotGiven) return lookupNotLoaded;
      return value === noValue ? lookupAbsent : value;
    }
    if (node < 0) return lookupNotLoaded;
    const value = node === 0 ? noValue : valueOf(this.tree.a, node);
    return value === noValue ? lookupAbsent : value;
  }

  /** Counts the stubs the last install left (replaced ones out, new children in). */
  #countInstalled(): void {
    this.stubCount += installPathStubs.added;
    installPathStubs.added = 0;
    assert(this.stubCount >= 0, "more stubs installed than the trie held");
    this.#noteLoaded();
  }

  /**
   * Raises the ceiling to the counts the last install loaded; once no stub
   * is left, every value has been in memory and the image's bound goes.
   */
  #noteLoaded(): void {
    const loaded = installedValues.max;
    installedValues.max = 0;
    if (loaded > this.ceiling) this.ceiling = loaded;
    if (this.stubCount === 0) this.imageCeiling = 0;
  }

  /**
   * Ends a streaming compaction in memory, once its file is the image:
   * every fresh address (see {@link freshAddress}) becomes the ref it
   * stands for, in the live trie and in the snapshot's nodes an edit
   * replaced (`_settle.ts`). Call it before the snapshot is released.
   *
   * @returns The nodes it passed.
   * @throws {AssertionError} if a node kept an address of the old image.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, freshAddress } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1), 1);
   * const snapshot = art.capture({ rewriteAll: true });
   * const steps = snapshot.writeChangedSteps(() => freshAddress(77), 10);
   * let result = steps.next();
   * while (result.done !== true) result = steps.next();
   * assert.equal(result.value, -77); // the new file's record 77, until settled
   * assert.equal(art.settleAddresses(), 1);
   * assert.equal(snapshot.rootAddress(), 77);
   * snapshot.release();
   * ```
   */
  settleAddresses(): number {
    const tree = this.tree;
    return settleFreshAddresses(tree.a, tree.root, tree.orphans);
  }

  /**
   * After a checkpoint failed past its capture, before its snapshot is
   * released (and before the caller awaits anything: a round of evictions
   * may run in any await): from now on evictions take only what the
   * committed image holds, the nodes the failed walk gave addresses and a
   * failed compaction's fresh addresses, and everything above them, stay
   * loaded (`_evict.ts`). The trie is not captured again.
   *
   * @returns The loaded nodes that stay for it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 2), 1);
   * art.set(Uint8Array.of(1, 3), 1);
   * const snapshot = art.capture();
   * const steps = snapshot.writeChangedSteps(() => 77, 10);
   * while (steps.next().done !== true); // written, then the commit fails
   * assert.equal(art.checkpointFailed(), 3); // the root and its leaves: records never committed
   * snapshot.release();
   * assert.equal(art.evictable(10).length, 0);
   * ```
   */
  checkpointFailed(): number {
    return keepUncommitted(this.tree);
  }

  /**
   * Turns the loaded node at `path` (as a {@link StubRef}'s) and its subtree
   * back into a stub, if the image holds them unchanged (`_evict.ts`).
   *
   * @returns What it freed, or null (nothing changed): no loaded node there,
   * a node changed since the last checkpoint, or a snapshot is live.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 2), 1);
   * art.set(Uint8Array.of(3, 4), 2);
   * assert.equal(art.evict(Uint8Array.of(1)), null); // not written by a checkpoint yet
   * const snapshot = art.capture();
   * let next = 2;
   * snapshot.writeChanged(() => next++);
   * snapshot.release();
   * const [first] = art.evictable(10);
   * assert.ok(art.evict(first.path)!.nodes >= 1);
   * assert.throws(() => art.get(Uint8Array.of(1, 2)), NodeNotLoaded);
   * assert.equal(art.get(Uint8Array.of(3, 4)), 2);
   * ```
   */
  evict(path: Uint8Array): Evicted | null {
    const evicted = this.evictCold(path, false);
    return evicted === evictKept ? null : evicted;
  }

  /**
   * {@link Art.evict}, unless a read passed the node since the last look
   * (with {@link Art.markReads}): then it stays, its mark is cleared, and
   * {@link evictKept} is returned (a second chance, as a CLOCK's). With
   * `seen` (one per round of evictions), a node already looked at in it
   * gives null: its second chance holds for the round. With `lowest`, a
   * node with a child that has children loaded stays too ({@link evictKept}):
   * it goes once they went.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, evictKept } from "./art.ts";
   * const art = new Art();
   * art.set(Uint8Array.of(1, 1), 1);
   * art.set(Uint8Array.of(1, 2), 2);
   * art.set(Uint8Array.of(2, 1), 3);
   * const snapshot = art.capture();
   * let next = 2;
   * snapshot.writeChanged(() => next++);
   * snapshot.release();
   * art.markReads = true;
   * art.get(Uint8Array.of(1, 2));
   * assert.equal(art.evictCold(Uint8Array.of(1)), evictKept); // read since: a second chance
   * assert.ok(art.evictCold(Uint8Array.of(1)) !== null); // not read since the last look
   * ```
   */
  evictCold(
    path: Uint8Array,
    spareReferenced = true,
    seen?: Set<number>,
    lowest = false,
  ): Evicted | null | typeof evictKept {
    const evicted = evictNodeIf(this.tree, path, spareReferenced, seen, lowest);
    if (evicted === null || evicted === evictKept) return evicted;
    this.stubCount += 1 - evicted.stubs;
    this.lazy = true;
    this.version++;
    return evicted;
  }

  /**
   * Where the live snapshot's node walk stands (a compaction's: see
   * `_walk_mark.ts`): the nodes it passed lie before the mark.
   * {@link markNone} when no walk runs and none ran since the capture.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Art, markAll, markNone, passedBy, sameMark } from "./art.ts";
   * const art = new Art();
   * for (const byte of [1, 2, 3]) art.set(Uint8Array.of(byte, 0, byte), byte);
   * const snapshot = art.capture({ rewriteAll: true });
   * assert.ok(sameMark(art.walkMark(), markNone));
   * let next = 2;
   * const steps = snapshot.writeChangedSteps(() => next++, 1);
   * steps.next(); // the walk visited the node at [1]
   * assert.ok(passedBy(Uint8Array.of(1), art.walkMark()));
   * assert.ok(!passedBy(Uint8Array.of(2), art.walkMark()));
   * while (steps.next().done !== true);
   * assert.ok(sameMark(art.walkMark(), markAll));
   * snapshot.release();
   * ```
   */
  walkMark(): WalkMark {
    const tree = this.tree;
    return walkMark(tree.frozenArena ?? tree.a, tree.walk);
  }

  /** The nodes the live snapshot's node walk visited since it began (see {@link Art.walkMark}). */
  get walkVisited(): number {
    return this.tree.walk.visited;
  }

  /**
   * Up to `limit` nodes {@link Art.evict} can take, highest first on each
   * path, in key order; with `from`, none whose keys all sort before it
   * (with a {@link WalkSpan}, only nodes a compaction's walk passed between
   * its two marks: see {@link Art.walkMark});
   * with `choose`, the caller may send the walk below a node or past it;
   * with `lowest`, the lowest such nodes (the ones near the root stay);
   * with `spareReferenced`, not the nodes a read passed since the last look
   * (see {@link Art.evictCold}). Counts its walk in {@link Art.evictWalks}.
   */
  evictable(
    limit: number,
    from?: Uint8Array | WalkSpan,
    choose?: EvictChoice,
    lowest = false,
    spareReferenced = false,
  ): StubRef[] {
    const work = this.evictWalks;
    return evictableNodes(this.tree, limit, from, choose, lowest, spareReferenced, work);
  }
}
