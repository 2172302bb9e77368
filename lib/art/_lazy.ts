/**
 * Lazy loading: a trie opened from an image holds stubs (see `newStub`) for
 * the nodes not read yet. A read that reaches one throws `NodeNotLoaded`
 * with the stub's path and address; the caller reads the record and
 * installs it here, in place of the stub, with stubs for its children.
 *
 * Installing changes no content, only representation, so it may replace a
 * stub inside a node a live snapshot shares; the loaded node takes the
 * stub's generation, so it is shared (copied on write) exactly when the
 * stub was.
 *
 * While a compaction's snapshot is live, a stub the live trie reaches
 * through a parent of its own (a copy an edit made) sits in the
 * snapshot's parent too; a load installs into both (`installTwin`), so
 * every node of the live trie with an old image's address is one the
 * compaction's walk will pass and give a new one.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import {
  fillChildren,
  findChild,
  nextChildByte,
  prevChildByte,
  replaceChild,
} from "./_children.ts";
import type { NodeView } from "./_image_walk.ts";
import {
  addressOf,
  admitEpochs,
  byteValues,
  copyPrefix,
  countOf,
  freeNode,
  genOf,
  inlineAddress,
  isFreshAddress,
  isStub,
  kind16,
  kind256,
  kind4,
  kind48,
  kindLeaf,
  kindOf,
  markPassed,
  markUncommitted,
  matchPrefix,
  newNode,
  newStub,
  noAddress,
  node16ChildrenMax,
  node48ChildrenMax,
  node4ChildrenMax,
  noValue,
  passedEpochsAgo,
  prefixLengthOf,
  setAddress,
  setGen,
} from "./_node.ts";
import type { ArtTree } from "./_tree.ts";

/** A stub to load: its path (key bytes down to and including the byte into it) and address. */
export interface StubRef {
  /** The key bytes from the root to and including the branching byte into the stub. */
  path: Uint8Array;
  /** The stub's image address. */
  address: number;
}

/** Frames a walk holds at most: each sits at least one key byte deeper. */
const framesMax = keyBytesMax + 2;
/** The path buffer of {@link installBuilt} (reused: one build at a time). */
const trackedPath = new Uint8Array(keyBytesMax + 2);

/**
 * The largest count {@link nodeFromImage} loaded since the caller (`Art`)
 * last zeroed it: a trie's value ceiling must cover every value it loads.
 */
export const installedValues = { max: 0 };

/** A node built from an image record, holding stubs for its children. */
export function nodeFromImage(a: Arena, view: NodeView, address: number, gen: number): number {
  const count = view.childBytes.length;
  assert(count === view.childAddresses.length, "every child has an address");
  const children: number[] = [];
  let node: number;
  try {
    let inline = 0;
    for (let index = 0; index < count; index++) {
      const childAddress = view.childAddresses[index];
      children.push(
        childAddress === inlineAddress
          ? inlineLeaf(a, view, inline++, gen)
          : newStub(a, childAddress, gen),
      );
    }
    assert(inline === (view.inlineLeaves?.length ?? 0), "every inline leaf has its child byte");
    const value = view.value ?? noValue;
    assert(count > 0 || value !== noValue, "a leaf holds a value");
    if (value !== noValue && value > installedValues.max) installedValues.max = value;
    node = newNode(a, kindOfCount(count), view.prefix, 0, view.prefix.length, value);
  } catch (error) {
    // The arena could not grow: the children made so far are no one's, so they go back.
    for (const child of children) freeNode(a, child);
    throw error;
  }
  if (count > 0) fillChildren(a, node, view.childBytes, 0, children, 0, count);
  setAddress(a, node, address);
  setGen(a, node, gen);
  return node;
}

/** The leaf stored in `view`'s record as its `index`-th inline leaf. */
function inlineLeaf(a: Arena, view: NodeView, index: number, gen: number): number {
  const leaf = view.inlineLeaves![index];
  assert(leaf !== undefined, "an inline child has its leaf in the record");
  if (leaf.value > installedValues.max) installedValues.max = leaf.value;
  const child = newNode(a, kindLeaf, leaf.prefix, 0, leaf.prefix.length, leaf.value);
  setAddress(a, child, inlineAddress);
  setGen(a, child, gen);
  return child;
}

/** The kind a record with `count` children loads as (the image stores no kind). */
function kindOfCount(count: number): number {
  assert(count >= 0 && count <= byteValues, "a child count");
  if (count === 0) return kindLeaf;
  if (count <= node4ChildrenMax) return kind4;
  if (count <= node16ChildrenMax) return kind16;
  return count <= node48ChildrenMax ? kind48 : kind256;
}

/**
 * A record decoded in place (the shape of the image's `RecordFields`): its
 * fields as offsets into the bytes it was decoded from.
 */
export interface RecordFieldsView {
  prefixAt: number;
  prefixLength: number;
  /** The count of the key ending at the node, or -1 if none does. */
  value: number;
  count: number;
  childBytesAt: number;
  /** Per child: its record's address, or {@link inlineAddress}. */
  refs: number[];
  leaves: number;
  leafAt: number[];
  leafLength: number[];
  leafValue: number[];
}

/** Where {@link buildSubtree} reads records from. */
export interface RecordSource {
  /** The fields every fetch decodes into. */
  readonly fields: RecordFieldsView;
  /**
   * Decodes the record at `address` into {@link RecordSource.fields};
   * returns the bytes its offsets point into, or undefined when the record
   * is not at hand (it stays a stub).
   */
  fetch(address: number): Uint8Array | undefined;
}

/**
 * One record of {@link buildSubtree} whose children are being built. Frames
 * are reused (one per stack level) and their refs and children sit in
 * shared stacks, so a bulk load makes no garbage per record.
 */
interface BuildFrame {
  node: number;
  /** The bytes the record was decoded from, and where its child bytes are in them. */
  bytes: Uint8Array;
  childBytesAt: number;
  /** Where this frame's refs and children start in the shared stacks, and how many. */
  base: number;
  count: number;
  /** The next child to build. */
  next: number;
  /** Key bytes from the root to the end of this node's prefix. */
  depth: number;
}

/** The state of a bulk load: frames by level, and the refs and children they hold. */
interface BuildStacks {
  frames: BuildFrame[];
  /** Per child of a frame: the address of its record, or {@link inlineAddress}. */
  refs: number[];
  children: number[];
  /** What the caller follows of the build ({@link buildSubtree}'s `track`). */
  track: BuildTracking | undefined;
}

/** What a caller of {@link buildSubtree} may follow of the build. */
export interface BuildTracking {
  /** Every node the build made: the caller frees them all if it cannot use the result. */
  made: number[];
  /** The stubs the build left (records not at hand), with their paths; undefined: not noted. */
  stubs: StubRef[] | undefined;
  /**
   * Key bytes from the root down to the node being built: starts with the
   * subtree's own path (as a {@link StubRef}'s); at least `keyBytesMax + 2` long.
   */
  path: Uint8Array;
}

/** What the last {@link buildSubtree} made: nodes from records, stubs left, the largest value. */
export const buildSubtreeCounts = { nodes: 0, stubs: 0, valueMax: 0 };

/** The node of the record `source` just decoded from `bytes`, without its children. */
function builtNode(
  a: Arena,
  fields: RecordFieldsView,
  bytes: Uint8Array,
  address: number,
  gen: number,
): number {
  const count = fields.count;
  const value = fields.value < 0 ? noValue : fields.value;
  assert(count > 0 || value !== noValue, "a leaf holds a value");
  const node = newNode(a, kindOfCount(count), bytes, fields.prefixAt, fields.prefixLength, value);
  setAddress(a, node, address);
  setGen(a, node, gen);
  return node;
}

/**
 * Pushes a frame for the record `source` just decoded from `bytes` at
 * `level`: its node, its refs, and its inline leaves built.
 */
function pushFrame(
  a: Arena,
  stacks: BuildStacks,
  level: number,
  source: RecordSource,
  bytes: Uint8Array,
  address: number,
  gen: number,
  depth: number,
): void {
  const fields = source.fields;
  const below = level === 0 ? undefined : stacks.frames[level - 1];
  const base = below === undefined ? 0 : below.base + below.count;
  const count = fields.count;
  const counts = buildSubtreeCounts;
  if (fields.value > counts.valueMax) counts.valueMax = fields.value;
  let leaf = 0;
  for (let index = 0; index < count; index++) {
    const ref = fields.refs[index];
    stacks.refs[base + index] = ref;
    if (ref !== inlineAddress) continue;
    const at = fields.leafAt[leaf];
    if (fields.leafValue[leaf] > counts.valueMax) counts.valueMax = fields.leafValue[leaf];
    const child = newNode(a, kindLeaf, bytes, at, fields.leafLength[leaf], fields.leafValue[leaf]);
    stacks.track?.made.push(child);
    leaf++;
    setAddress(a, child, inlineAddress);
    setGen(a, child, gen);
    stacks.children[base + index] = child;
  }
  assert(leaf === fields.leaves, "every inline leaf has its child byte");
  const node = builtNode(a, fields, bytes, address, gen);
  const end = depth + fields.prefixLength;
  const track = stacks.track;
  if (track !== undefined) {
    track.made.push(node);
    const prefixAt = fields.prefixAt;
    if (end <= track.path.length) {
      track.path.set(bytes.subarray(prefixAt, prefixAt + fields.prefixLength), depth);
    }
  }
  const frame = stacks.frames[level] ??= {
    node,
    bytes,
    childBytesAt: 0,
    base,
    count,
    next: 0,
    depth,
  };
  frame.node = node;
  frame.bytes = bytes;
  frame.childBytesAt = fields.childBytesAt;
  frame.base = base;
  frame.count = count;
  frame.next = 0;
  frame.depth = end;
}

/** A stub for a record not at hand, `depth` key bytes down (its branching byte in `track.path`). */
function leftStub(
  a: Arena,
  track: BuildTracking | undefined,
  depth: number,
  address: number,
  gen: number,
): number {
  const stub = newStub(a, address, gen);
  if (track === undefined) return stub;
  track.made.push(stub);
  assert(depth < track.path.length, "a stub's path fits the path buffer");
  track.stubs?.push({ path: track.path.slice(0, depth + 1), address });
  return stub;
}

/**
 * The whole subtree under the record at `address` (`depth` key bytes below
 * the root), built at once from `source`, children before parents, with a
 * stub only where a record is not at hand: no stub made and replaced per
 * node, no walk from the root per node, no garbage per record. The bulk
 * load of an image at open. An explicit stack; at most `nodesMax` records
 * (a trie of `k` keys has fewer than `2k` nodes) and the key length limit
 * deep, else a description of the problem (records that cannot be the
 * engine's, such as a cycle of refs); undefined if the record at `address`
 * itself is not at hand. Sets {@link buildSubtreeCounts}. With `track`,
 * every node it makes and every stub it leaves are noted there (so that a
 * caller can free them all if it cannot use the result: a problem, or an
 * arena that could not grow; or load the stubs next).
 */
export function buildSubtree(
  a: Arena,
  source: RecordSource,
  address: number,
  depth: number,
  gen: number,
  nodesMax: number,
  track?: BuildTracking,
): number | string | undefined {
  const counts = buildSubtreeCounts;
  counts.nodes = 0;
  counts.stubs = 0;
  counts.valueMax = 0;
  const rootBytes = source.fetch(address);
  if (rootBytes === undefined) return undefined;
  const stacks: BuildStacks = { frames: [], refs: [], children: [], track };
  pushFrame(a, stacks, 0, source, rootBytes, address, gen, depth);
  counts.nodes = 1;
  let level = 0;
  if (stacks.frames[0].depth > keyBytesMax) return `record ${address} lies too deep`;
  for (let steps = 0; steps <= (byteValues + 1) * nodesMax; steps++) {
    const frame = stacks.frames[level];
    if (frame.next < frame.count) {
      const at = frame.base + frame.next++;
      const childAddress = stacks.refs[at];
      if (childAddress === inlineAddress) continue; // built with the frame
      // The branching byte into the child, for a tracked path.
      if (track !== undefined && frame.depth < track.path.length) {
        track.path[frame.depth] = frame.bytes[frame.childBytesAt + at - frame.base];
      }
      const bytes = source.fetch(childAddress);
      if (bytes === undefined) {
        stacks.children[at] = leftStub(a, track, frame.depth, childAddress, gen);
        counts.stubs++;
        continue;
      }
      if (++counts.nodes > nodesMax) return `more than ${nodesMax} records under ${address}`;
      level++;
      assert(level < framesMax, "a frame per key byte at most");
      pushFrame(a, stacks, level, source, bytes, childAddress, gen, frame.depth + 1);
      const deep = stacks.frames[level].depth;
      if (deep > keyBytesMax) return `record ${childAddress} lies ${deep} key bytes deep`;
      continue;
    }
    const node = frame.node;
    if (frame.count > 0) {
      const children = stacks.children;
      fillChildren(
        a,
        node,
        frame.bytes,
        frame.childBytesAt,
        children,
        frame.base,
        frame.count,
      );
    }
    frame.bytes = rootBytes; // keep no other slab alive through a reused frame
    if (level === 0) return node;
    level--;
    const parent = stacks.frames[level];
    stacks.children[parent.base + parent.next - 1] = node;
  }
  return unreachable("a bounded subtree build ends within its steps");
}

/**
 * Replaces the stub with `address` at `path` by the whole subtree below its
 * record that `source` has at hand, built at once ({@link buildSubtree}:
 * stubs stay where `source` gives no record), with the stub's generation
 * (installing changes no content). Returns the new node; null if no such
 * stub is there any more; undefined if `source` lacks the stub's own
 * record; or a description of why the records cannot be this trie's (a
 * count above `valueCeiling`, a cycle, too deep). Unless it returns a node,
 * nothing changed: the nodes it built are freed, also when the arena could
 * not grow. Appends the stubs it left (records `source` did not give) to
 * `stubs`, if given. Sets {@link buildSubtreeCounts}.
 */
export function installBuilt(
  tree: ArtTree,
  path: Uint8Array,
  address: number,
  source: RecordSource,
  limits: { nodesMax: number; valueCeiling: number },
  stubs: StubRef[] | undefined,
): number | null | undefined | string {
  const { nodesMax, valueCeiling } = limits;
  const a = tree.a;
  const found = findStubParent(a, tree.root, path, address);
  if (found === null) return null;
  const track: BuildTracking = { made: [], stubs, path: trackedPath };
  track.path.set(path);
  let built: number | string | undefined;
  try {
    built = buildSubtree(a, source, address, path.length, genOf(a, found.stub), nodesMax, track);
  } catch (error) {
    for (const node of track.made) freeNode(a, node);
    if (stubs !== undefined) stubs.length = 0;
    throw error;
  }
  const valueMax = buildSubtreeCounts.valueMax;
  if (typeof built === "number" && valueMax > valueCeiling) {
    built =
      `the count ${valueMax} is above ${valueCeiling}, the bound on every count the image holds`;
  }
  if (typeof built !== "number") {
    for (const node of track.made) freeNode(a, node);
    if (stubs !== undefined) stubs.length = 0;
    return built;
  }
  replaceChild(a, found.parent, path[path.length - 1], built);
  installTwin(tree, path, found.stub, built); // beside a compaction's snapshot, its parent too
  discardStub(tree, found.stub, path);
  return built;
}

/**
 * Replaces the stub with `address` at `path` by the node `view` describes.
 * Returns the new node's child stubs, or null if no such stub is there any
 * more (another load installed it, or an edit replaced the path).
 */
export function installNode(
  tree: ArtTree,
  path: Uint8Array,
  address: number,
  view: NodeView,
): StubRef[] | null {
  const a = tree.a;
  const found = findStubParent(a, tree.root, path, address);
  if (found === null) return null;
  const { parent, stub } = found;
  const node = nodeFromImage(a, view, address, genOf(a, stub));
  // A read of the failed compaction's file begun before the failure: its node stays loaded
  // (`keepUncommitted` marked the parent, which held the stub).
  if (tree.imageFailed && isFreshAddress(address)) markUncommitted(a, node);
  const byte = path[path.length - 1];
  replaceChild(a, parent, byte, node);
  installTwin(tree, path, stub, node);
  discardStub(tree, stub, path);
  assert(findChild(a, parent, byte) === node, "the loaded node took the stub's place");
  return childStubs(a, node, path);
}

/**
 * While a snapshot that rewrites every node is live (a compaction): puts
 * `node`, just loaded in place of `stub` at `path` in the live trie, in
 * place of `stub` in the snapshot's parent too, if that parent is another
 * node (the live one is a copy an edit made). Else the snapshot keeps the
 * stub, which the compaction copies, while the live trie keeps a node
 * with the old image's address and stubs under it that no walk passes:
 * after the commit they would name records of a file that is gone.
 */
function installTwin(tree: ArtTree, path: Uint8Array, stub: number, node: number): void {
  if (!tree.rewriting || tree.frozenRoot === 0) return;
  const a = tree.a;
  const twin = nodeAtPath(a, tree.frozenRoot, path);
  if (twin === null || twin.node !== stub) return;
  replaceChild(a, twin.parent, path[path.length - 1], node);
  assert(findChild(a, twin.parent, path[path.length - 1]) === node, "the twin took the node");
}

/**
 * A stub a load just replaced at `path`: kept until the release of the
 * live snapshot if that still holds it there (the live parent was a copy
 * an edit made, and no twin was installed), else freed at once. Were every
 * stub of a shared generation kept, each load beside a snapshot would keep
 * one: with evictions beside it, a long compaction's reads would load and
 * evict the same subtrees, and keep a stub per load until it ended.
 */
function discardStub(tree: ArtTree, stub: number, path: Uint8Array): void {
  const a = tree.a;
  assert(isStub(a, stub), "a load replaced a stub");
  const shared = tree.frozenArena === a && tree.frozenRoot !== 0 &&
    genOf(a, stub) <= tree.frozenGen;
  if (shared && nodeAtPath(a, tree.frozenRoot, path)?.node === stub) tree.retired.push(stub);
  else freeNode(a, stub);
}

/** Whether a stub with `address` ends `path` (a load of it would install there). */
export function hasStubAt(a: Arena, root: number, path: Uint8Array, address: number): boolean {
  return findStubParent(a, root, path, address) !== null;
}

/** The stub's parent, found by following `path`; null if the stub is not there. */
function findStubParent(
  a: Arena,
  root: number,
  path: Uint8Array,
  address: number,
): { parent: number; stub: number } | null {
  const found = nodeAtPath(a, root, path);
  if (found === null || !isStub(a, found.node) || addressOf(a, found.node) !== address) return null;
  return { parent: found.parent, stub: found.node };
}

/**
 * The node `path` ends at (the key bytes from the root to and including
 * the branching byte into it: a {@link StubRef}'s path), loaded or a stub,
 * and its parent; null if none ends there or a stub lies above it.
 */
export function nodeAtPath(
  a: Arena,
  root: number,
  path: Uint8Array,
): { parent: number; node: number } | null {
  let node = root;
  let depth = 0;
  for (let level = 0; node !== 0 && !isStub(a, node); level++) {
    assert(level <= path.length, "descent deeper than the path");
    const prefixLength = prefixLengthOf(a, node);
    if (depth + prefixLength >= path.length) return null;
    if (matchPrefix(a, node, path, depth) < prefixLength) return null;
    depth += prefixLength;
    const child = findChild(a, node, path[depth]);
    depth++;
    if (depth === path.length) return child === 0 ? null : { parent: node, node: child };
    node = child;
  }
  return null;
}

/** What the last {@link installPath} did: net stubs added (each install: its child stubs - 1). */
export const installPathStubs = { added: 0 };

/**
 * A stub passed this many admission epochs ago or fewer is loaded by the
 * next read: the same epoch only (at 3M keys, uniform gets under a tenth
 * of their arena loaded 58k records per 200k gets against 75k with the
 * epoch before too, and took 7.7 against 8.5 µs of CPU a get).
 */
const admitEpochsAgoMax = 0;
/** What {@link installPath} returns at a stub it did not admit (see `_read_through.ts`). */
export const installPathPassed = -2;
/** Where the last {@link installPath} that returned {@link installPathPassed} stopped. */
export const installPathStopped = { depth: 0, address: 0 };

/**
 * Walks `key`'s path once, replacing each stub met by the node `fetch` gives
 * for its address (and path). Returns the node where `key` ends (which may hold no
 * value), 0 if the key is absent, or -1 at the first stub `fetch` cannot
 * give. Sets {@link installPathStubs}. With `admit`, a stub no read
 * passed in the tree's admission epoch (`ArtTree.admitEpoch`) is only
 * stamped (`markPassed`), and the walk stops there: {@link installPathPassed},
 * with {@link installPathStopped} set. A stub it loads leaves its children
 * stubs unstamped: a path loads a level per read (a read of a cold key
 * under a node read lately loads no more than that node).
 */
export function installPath(
  tree: ArtTree,
  key: Uint8Array,
  fetch: (address: number, path: Uint8Array) => NodeView | undefined,
  admit = false,
): number {
  const a = tree.a;
  let node = tree.root;
  let parent = 0;
  let depth = 0;
  installPathStubs.added = 0;
  for (let level = 0; node !== 0; level++) {
    assert(level <= key.length + 1, "descent deeper than the key");
    if (isStub(a, node)) {
      assert(parent !== 0 && depth > 0, "the root is never a stub");
      const ago = admit ? passedEpochsAgo(a, node, tree.admitEpoch % admitEpochs) : 0;
      if (ago < 0 || ago > admitEpochsAgoMax) {
        markPassed(a, node, tree.admitEpoch); // a read that meets it again soon installs it
        installPathStopped.depth = depth;
        installPathStopped.address = addressOf(a, node);
        return installPathPassed;
      }
      // The stub's path (the key down to the byte into it): a view, valid during the call.
      const view = fetch(addressOf(a, node), key.subarray(0, depth));
      if (view === undefined) return -1;
      const loaded = nodeFromImage(a, view, addressOf(a, node), genOf(a, node));
      replaceChild(a, parent, key[depth - 1], loaded);
      installTwin(tree, key.subarray(0, depth), node, loaded);
      discardStub(tree, node, key.subarray(0, depth));
      installPathStubs.added += stubsAmong(view.childAddresses) - 1;
      node = loaded;
    }
    const prefixLength = prefixLengthOf(a, node);
    if (prefixLength > key.length - depth) return 0;
    if (matchPrefix(a, node, key, depth) < prefixLength) return 0;
    depth += prefixLength;
    if (depth === key.length) return node;
    parent = node;
    node = findChild(a, node, key[depth]);
    depth++;
  }
  return 0;
}

/**
 * Replaces the stub with `address` at `path`, and up to `budget - 1` stubs
 * below it (breadth first), by the nodes `fetch` gives, installing each
 * child right under the node just made (no walk from the root). Stops at
 * the first stub `fetch` cannot give. Returns the number of nodes
 * installed (0 if the stub is gone or `fetch` cannot give it); sets
 * {@link installPathStubs}.
 */
export function installSubtree(
  tree: ArtTree,
  path: Uint8Array,
  address: number,
  fetch: (address: number) => NodeView | undefined,
  budget: number,
): number {
  assert(budget >= 1, "a subtree load installs at least its root");
  const a = tree.a;
  installPathStubs.added = 0;
  const found = findStubParent(a, tree.root, path, address);
  if (found === null) return 0;
  // Pending installs: parent, branching byte and stub, flattened.
  const parents: number[] = [found.parent];
  const bytes: number[] = [path[path.length - 1]];
  const stubs: number[] = [found.stub];
  let installed = 0;
  for (let head = 0; head < stubs.length && installed < budget; head++) {
    const stub = stubs[head];
    const view = fetch(addressOf(a, stub));
    if (view === undefined) break;
    const node = nodeFromImage(a, view, addressOf(a, stub), genOf(a, stub));
    replaceChild(a, parents[head], bytes[head], node);
    // Below the first, each parent is a node just made, which the snapshot shares.
    if (head === 0) {
      installTwin(tree, path, stub, node);
      discardStub(tree, stub, path);
    } else freeNode(a, stub); // made with its parent in this call: no other node holds it
    installed++;
    installPathStubs.added += stubsAmong(view.childAddresses) - 1;
    for (let index = 0; index < view.childBytes.length; index++) {
      if (view.childAddresses[index] === inlineAddress) continue;
      const byte = view.childBytes[index];
      parents.push(node);
      bytes.push(byte);
      stubs.push(findChild(a, node, byte));
    }
  }
  return installed;
}

/** The children that load as stubs (not stored inline). */
function stubsAmong(childAddresses: readonly number[]): number {
  let stubs = 0;
  for (const address of childAddresses) if (address !== inlineAddress) stubs++;
  return stubs;
}

/** The stubs directly under `node`, whose path is `path` (without `node`'s prefix). */
function childStubs(a: Arena, node: number, path: Uint8Array): StubRef[] {
  const stubs: StubRef[] = [];
  if (kindOf(a, node) === kindLeaf) return stubs;
  const base = pathThrough(a, node, path);
  for (let byte = nextChildByte(a, node, -1); byte >= 0; byte = nextChildByte(a, node, byte)) {
    const child = findChild(a, node, byte);
    if (!isStub(a, child)) continue;
    const childPath = base.slice();
    childPath[childPath.length - 1] = byte;
    stubs.push({ path: childPath, address: addressOf(a, child) });
  }
  return stubs;
}

/** Up to `limit` stubs of the trie, in key order (every one if the trie has fewer). */
export function findStubs(a: Arena, root: number, limit: number): StubRef[] {
  const stubs: StubRef[] = [];
  if (root === 0 || isStub(a, root)) return stubs;
  const nodes: number[] = [root];
  const paths: Uint8Array[] = [new Uint8Array(0)];
  for (let steps = 0; nodes.length > 0 && stubs.length < limit; steps++) {
    assert(nodes.length <= framesMax * 256, "stub walk stack is bounded");
    const node = nodes.pop()!;
    const path = paths.pop()!;
    stubs.push(...childStubs(a, node, path));
    if (kindOf(a, node) === kindLeaf) continue;
    pushLoadedChildren(a, node, path, nodes, paths);
  }
  return stubs.slice(0, limit);
}

/**
 * Pushes the loaded children of `node` (whose path is `path`) with their
 * paths, the largest byte first, so a walk that pops them goes in ascending
 * order; `skip` passes over the children whose paths it names, and
 * `bareLeavesSkipped` over the leaves without an image record of their own
 * (no path is made for them: nothing lies below them to load or evict).
 */
export function pushLoadedChildren(
  a: Arena,
  node: number,
  path: Uint8Array,
  nodes: number[],
  paths: Uint8Array[],
  skip?: (childPath: Uint8Array) => boolean,
  bareLeavesSkipped = false,
): void {
  const base = pathThrough(a, node, path);
  for (
    let byte = prevChildByte(a, node, byteValues);
    byte >= 0;
    byte = prevChildByte(a, node, byte)
  ) {
    const child = findChild(a, node, byte);
    if (isStub(a, child) || (bareLeavesSkipped && isBareLeaf(a, child))) continue;
    const childPath = base.slice();
    childPath[childPath.length - 1] = byte;
    if (skip?.(childPath)) continue;
    nodes.push(child);
    paths.push(childPath);
  }
}

/** Whether `node` is a leaf the image stores inline in its parent's record, or not at all yet. */
function isBareLeaf(a: Arena, node: number): boolean {
  if (countOf(a, node) > 0) return false;
  const address = addressOf(a, node);
  return address === inlineAddress || address === noAddress;
}

/** `path` + the node's prefix + one byte of room for a child's branching byte. */
function pathThrough(a: Arena, node: number, path: Uint8Array): Uint8Array {
  const base = new Uint8Array(path.length + prefixLengthOf(a, node) + 1);
  base.set(path);
  copyPrefix(a, node, base, path.length);
  return base;
}

/**
 * The first stub on `key`'s path, which a read or an edit of `key` needs
 * loaded; null when the path is loaded (edits need nothing more: a merge
 * with a child not loaded waits, see `ArtTree`).
 */
export function stubOnPath(a: Arena, root: number, key: Uint8Array): StubRef | null {
  let node = root;
  let depth = 0;
  for (let level = 0; node !== 0; level++) {
    assert(level <= key.length + 1, "descent deeper than the key");
    if (isStub(a, node)) return { path: key.slice(0, depth), address: addressOf(a, node) };
    const prefixLength = prefixLengthOf(a, node);
    if (prefixLength > key.length - depth) return null;
    if (matchPrefix(a, node, key, depth) < prefixLength) return null;
    depth += prefixLength;
    if (depth === key.length) return null;
    node = findChild(a, node, key[depth]);
    depth++;
  }
  return null;
}
