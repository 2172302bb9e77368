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
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { bytesToString, KEY_BYTES_MAX } from "./_bytes.ts";
import {
  fillChildren,
  findChild,
  nextChildByte,
  prevChildByte,
  replaceChild,
} from "./_children.ts";
import type { NodeView } from "./_image_walk.ts";
import {
  type ArtNode,
  BYTE_VALUES,
  INLINE_ADDRESS,
  type InnerNode,
  isStub,
  KIND_256,
  KIND_48,
  KIND_LEAF,
  Leaf,
  newStub,
  NO_VALUE,
  Node16,
  NODE16_CHILDREN_MAX,
  Node4,
  NODE48_CHILDREN_MAX,
  NODE4_CHILDREN_MAX,
  NodeWide,
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
const FRAMES_MAX = KEY_BYTES_MAX + 2;

/** A node built from an image record, holding stubs for its children. */
export function nodeFromImage(view: NodeView, address: number, gen: number): ArtNode {
  const count = view.childBytes.length;
  assert(count === view.childAddresses.length, "every child has an address");
  const children = new Array<ArtNode>(count);
  let inline = 0;
  for (let index = 0; index < count; index++) {
    const childAddress = view.childAddresses[index];
    children[index] = childAddress === INLINE_ADDRESS
      ? inlineLeaf(view, inline++, gen)
      : newStub(childAddress, gen);
  }
  assert(inline === (view.inlineLeaves?.length ?? 0), "every inline leaf has its child byte");
  return nodeWithChildren(view, address, gen, children);
}

/** The leaf stored in `view`'s record as its `index`-th inline leaf. */
function inlineLeaf(view: NodeView, index: number, gen: number): Leaf {
  const leaf = view.inlineLeaves![index];
  assert(leaf !== undefined, "an inline child has its leaf in the record");
  const child = new Leaf(bytesToString(leaf.prefix, 0, leaf.prefix.length), leaf.value);
  child.address = INLINE_ADDRESS;
  child.gen = gen;
  return child;
}

/** An empty node of the kind a record with `count` children loads as (the image stores no kind). */
function nodeOfCount(count: number, prefix: string, value: number): ArtNode {
  assert(count >= 0 && count <= BYTE_VALUES, "a child count");
  if (count === 0) return new Leaf(prefix, value);
  if (count <= NODE4_CHILDREN_MAX) return new Node4(prefix, value);
  if (count <= NODE16_CHILDREN_MAX) return new Node16(prefix, value);
  return new NodeWide(count <= NODE48_CHILDREN_MAX ? KIND_48 : KIND_256, prefix, value);
}

/** The node `view` describes, of the kind its child count picks, with `children` in place. */
function nodeWithChildren(
  view: NodeView,
  address: number,
  gen: number,
  children: ArtNode[],
): ArtNode {
  const count = view.childBytes.length;
  assert(count === children.length, "a child per child byte");
  assert(count > 0 || view.value !== undefined, "a leaf holds a value");
  const prefix = bytesToString(view.prefix, 0, view.prefix.length);
  const node = nodeOfCount(count, prefix, view.value ?? NO_VALUE);
  if (count > 0) fillChildren(node as InnerNode, view.childBytes, 0, children, 0, count);
  node.address = address;
  node.gen = gen;
  return node;
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
  /** Per child: its record's address, or {@link INLINE_ADDRESS}. */
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
  node: ArtNode;
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
  /** Per child of a frame: the address of its record, or {@link INLINE_ADDRESS}. */
  refs: number[];
  children: ArtNode[];
}

/** What the last {@link buildSubtree} made: nodes from records, stubs left, the largest value. */
export const buildSubtreeCounts = { nodes: 0, stubs: 0, valueMax: 0 };

/** The node of the record `source` just decoded from `bytes`, without its children. */
function builtNode(fields: RecordFieldsView, bytes: Uint8Array, address: number, gen: number) {
  const count = fields.count;
  const prefix = bytesToString(bytes, fields.prefixAt, fields.prefixAt + fields.prefixLength);
  const value = fields.value < 0 ? NO_VALUE : fields.value;
  assert(count > 0 || value !== NO_VALUE, "a leaf holds a value");
  const node = nodeOfCount(count, prefix, value);
  node.address = address;
  node.gen = gen;
  return node;
}

/**
 * Pushes a frame for the record `source` just decoded from `bytes` at
 * `level`: its node, its refs, and its inline leaves built.
 */
function pushFrame(
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
    if (ref !== INLINE_ADDRESS) continue;
    const at = fields.leafAt[leaf];
    if (fields.leafValue[leaf] > counts.valueMax) counts.valueMax = fields.leafValue[leaf];
    const child = new Leaf(
      bytesToString(bytes, at, at + fields.leafLength[leaf]),
      fields.leafValue[leaf],
    );
    leaf++;
    child.address = INLINE_ADDRESS;
    child.gen = gen;
    stacks.children[base + index] = child;
  }
  assert(leaf === fields.leaves, "every inline leaf has its child byte");
  const node = builtNode(fields, bytes, address, gen);
  const end = depth + fields.prefixLength;
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

/**
 * The whole subtree under the record at `address` (`depth` key bytes below
 * the root), built at once from `source`, children before parents, with a
 * stub only where a record is not at hand: no stub made and replaced per
 * node, no walk from the root per node, no garbage per record. The bulk
 * load of an image at open. An explicit stack; at most `nodesMax` records
 * (a trie of `k` keys has fewer than `2k` nodes) and the key length limit
 * deep, else a description of the problem (records that cannot be the
 * engine's, such as a cycle of refs); undefined if the record at `address`
 * itself is not at hand. Sets {@link buildSubtreeCounts}.
 */
export function buildSubtree(
  source: RecordSource,
  address: number,
  depth: number,
  gen: number,
  nodesMax: number,
): ArtNode | string | undefined {
  const counts = buildSubtreeCounts;
  counts.nodes = 0;
  counts.stubs = 0;
  counts.valueMax = 0;
  const rootBytes = source.fetch(address);
  if (rootBytes === undefined) return undefined;
  const stacks: BuildStacks = { frames: [], refs: [], children: [] };
  pushFrame(stacks, 0, source, rootBytes, address, gen, depth);
  counts.nodes = 1;
  let level = 0;
  if (stacks.frames[0].depth > KEY_BYTES_MAX) return `record ${address} lies too deep`;
  for (let steps = 0; steps <= (BYTE_VALUES + 1) * nodesMax; steps++) {
    const frame = stacks.frames[level];
    if (frame.next < frame.count) {
      const at = frame.base + frame.next++;
      const childAddress = stacks.refs[at];
      if (childAddress === INLINE_ADDRESS) continue; // built with the frame
      const bytes = source.fetch(childAddress);
      if (bytes === undefined) {
        stacks.children[at] = newStub(childAddress, gen);
        counts.stubs++;
        continue;
      }
      if (++counts.nodes > nodesMax) return `more than ${nodesMax} records under ${address}`;
      level++;
      assert(level < FRAMES_MAX, "a frame per key byte at most");
      pushFrame(stacks, level, source, bytes, childAddress, gen, frame.depth + 1);
      const deep = stacks.frames[level].depth;
      if (deep > KEY_BYTES_MAX) return `record ${childAddress} lies ${deep} key bytes deep`;
      continue;
    }
    const node = frame.node;
    if (frame.count > 0) {
      const children = stacks.children;
      fillChildren(
        node as InnerNode,
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
  const found = findStubParent(tree.root, path, address);
  if (found === null) return null;
  const { parent, stub } = found;
  const node = nodeFromImage(view, address, stub.gen);
  replaceChild(parent, path[path.length - 1], node);
  assert(
    findChild(parent, path[path.length - 1]) === node,
    "the loaded node took the stub's place",
  );
  return childStubs(node, path);
}

/** The stub's parent, found by following `path`; null if the stub is not there. */
function findStubParent(
  root: ArtNode | null,
  path: Uint8Array,
  address: number,
): { parent: InnerNode; stub: ArtNode } | null {
  let node = root;
  let depth = 0;
  for (let level = 0; node !== null && !isStub(node); level++) {
    assert(level <= path.length, "descent deeper than the path");
    const prefix = node.prefix;
    if (depth + prefix.length >= path.length) return null;
    for (let i = 0; i < prefix.length; i++) {
      if (path[depth + i] !== prefix.charCodeAt(i)) return null;
    }
    depth += prefix.length;
    const child = findChild(node, path[depth]);
    depth++;
    if (child !== null && isStub(child)) {
      const match = depth === path.length && child.address === address;
      return match ? { parent: node as InnerNode, stub: child } : null;
    }
    node = child;
  }
  return null;
}

/** What the last {@link installPath} did: net stubs added (each install: its child stubs - 1). */
export const installPathStubs = { added: 0 };

/**
 * Walks `key`'s path once, replacing each stub met by the node `fetch` gives
 * for its address. Returns the node where `key` ends (which may hold no
 * value), null if the key is absent, or undefined at the first stub `fetch`
 * cannot give. Sets {@link installPathStubs}.
 */
export function installPath(
  tree: ArtTree,
  key: Uint8Array,
  fetch: (address: number) => NodeView | undefined,
): ArtNode | null | undefined {
  let node = tree.root;
  let parent: InnerNode | null = null;
  let depth = 0;
  installPathStubs.added = 0;
  for (let level = 0; node !== null; level++) {
    assert(level <= key.length + 1, "descent deeper than the key");
    if (isStub(node)) {
      assert(parent !== null && depth > 0, "the root is never a stub");
      const view = fetch(node.address);
      if (view === undefined) return undefined;
      const loaded = nodeFromImage(view, node.address, node.gen);
      replaceChild(parent, key[depth - 1], loaded);
      installPathStubs.added += stubsAmong(view.childAddresses) - 1;
      node = loaded;
    }
    const prefix = node.prefix;
    if (prefix.length > key.length - depth) return null;
    for (let i = 0; i < prefix.length; i++) {
      if (key[depth + i] !== prefix.charCodeAt(i)) return null;
    }
    depth += prefix.length;
    if (depth === key.length) return node;
    parent = node as InnerNode;
    node = findChild(node, key[depth]);
    depth++;
  }
  return null;
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
  installPathStubs.added = 0;
  const found = findStubParent(tree.root, path, address);
  if (found === null) return 0;
  // Pending installs: parent, branching byte and stub, flattened.
  const parents: InnerNode[] = [found.parent];
  const bytes: number[] = [path[path.length - 1]];
  const stubs: ArtNode[] = [found.stub];
  let installed = 0;
  for (let head = 0; head < stubs.length && installed < budget; head++) {
    const stub = stubs[head];
    const view = fetch(stub.address);
    if (view === undefined) break;
    const node = nodeFromImage(view, stub.address, stub.gen);
    replaceChild(parents[head], bytes[head], node);
    installed++;
    installPathStubs.added += stubsAmong(view.childAddresses) - 1;
    for (let index = 0; index < view.childBytes.length; index++) {
      if (view.childAddresses[index] === INLINE_ADDRESS) continue;
      const byte = view.childBytes[index];
      parents.push(node as InnerNode);
      bytes.push(byte);
      stubs.push(findChild(node, byte)!);
    }
  }
  return installed;
}

/** The children that load as stubs (not stored inline). */
function stubsAmong(childAddresses: readonly number[]): number {
  let stubs = 0;
  for (const address of childAddresses) if (address !== INLINE_ADDRESS) stubs++;
  return stubs;
}

/** The stubs directly under `node`, whose path is `path` (without `node`'s prefix). */
function childStubs(node: ArtNode, path: Uint8Array): StubRef[] {
  const stubs: StubRef[] = [];
  if (node.kind === KIND_LEAF) return stubs;
  const base = pathThrough(node, path);
  for (let byte = nextChildByte(node, -1); byte >= 0; byte = nextChildByte(node, byte)) {
    const child = findChild(node, byte)!;
    if (!isStub(child)) continue;
    const childPath = base.slice();
    childPath[childPath.length - 1] = byte;
    stubs.push({ path: childPath, address: child.address });
  }
  return stubs;
}

/** Up to `limit` stubs of the trie, in key order (every one if the trie has fewer). */
export function findStubs(root: ArtNode | null, limit: number): StubRef[] {
  const stubs: StubRef[] = [];
  if (root === null || isStub(root)) return stubs;
  const nodes: ArtNode[] = [root];
  const paths: Uint8Array[] = [new Uint8Array(0)];
  for (let steps = 0; nodes.length > 0 && stubs.length < limit; steps++) {
    assert(nodes.length <= FRAMES_MAX * 256, "stub walk stack is bounded");
    const node = nodes.pop()!;
    const path = paths.pop()!;
    stubs.push(...childStubs(node, path));
    if (node.kind === KIND_LEAF) continue;
    const base = pathThrough(node, path);
    // Pushed in reverse, so the walk pops (and lists stubs) in ascending order.
    for (let byte = prevChildByte(node, BYTE_VALUES); byte >= 0; byte = prevChildByte(node, byte)) {
      const child = findChild(node, byte)!;
      if (isStub(child)) continue;
      const childPath = base.slice();
      childPath[childPath.length - 1] = byte;
      nodes.push(child);
      paths.push(childPath);
    }
  }
  return stubs.slice(0, limit);
}

/** `path` + `node.prefix` + one byte of room for a child's branching byte. */
function pathThrough(node: ArtNode, path: Uint8Array): Uint8Array {
  const base = new Uint8Array(path.length + node.prefix.length + 1);
  base.set(path);
  for (let i = 0; i < node.prefix.length; i++) base[path.length + i] = node.prefix.charCodeAt(i);
  return base;
}

/**
 * The first stub on `key`'s path, which a read or an edit of `key` needs
 * loaded; null when the path is loaded (edits need nothing more: a merge
 * with a child not loaded waits, see `ArtTree`).
 */
export function stubOnPath(root: ArtNode | null, key: Uint8Array): StubRef | null {
  let node = root;
  let depth = 0;
  for (let level = 0; node !== null; level++) {
    assert(level <= key.length + 1, "descent deeper than the key");
    if (isStub(node)) return { path: key.slice(0, depth), address: node.address };
    const prefix = node.prefix;
    if (prefix.length > key.length - depth) return null;
    for (let i = 0; i < prefix.length; i++) {
      if (key[depth + i] !== prefix.charCodeAt(i)) return null;
    }
    depth += prefix.length;
    if (depth === key.length) return null;
    node = findChild(node, key[depth]);
    depth++;
  }
  return null;
}
