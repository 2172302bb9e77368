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

import { assert } from "../_assert.ts";
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
  assert(count > 0 || view.value !== undefined, "a leaf holds a value");
  const prefix = bytesToString(view.prefix, 0, view.prefix.length);
  const value = view.value ?? NO_VALUE;
  let node: ArtNode;
  if (count === 0) node = new Leaf(prefix, value);
  else if (count <= NODE4_CHILDREN_MAX) node = new Node4(prefix, value);
  else if (count <= NODE16_CHILDREN_MAX) node = new Node16(prefix, value);
  else node = new NodeWide(count <= NODE48_CHILDREN_MAX ? KIND_48 : KIND_256, prefix, value);
  let inline = 0;
  const children = new Array<ArtNode>(count);
  for (let index = 0; index < count; index++) {
    const childAddress = view.childAddresses[index];
    let child: ArtNode;
    if (childAddress === INLINE_ADDRESS) {
      const leaf = view.inlineLeaves![inline++];
      child = new Leaf(bytesToString(leaf.prefix, 0, leaf.prefix.length), leaf.value);
      child.address = INLINE_ADDRESS;
      child.gen = gen;
    } else {
      child = newStub(childAddress, gen);
    }
    children[index] = child;
  }
  if (count > 0) fillChildren(node as InnerNode, view.childBytes, children);
  assert(inline === (view.inlineLeaves?.length ?? 0), "every inline leaf has its child byte");
  node.address = address;
  node.gen = gen;
  return node;
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
