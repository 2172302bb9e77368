/**
 * The walk the image writer drives: post-order (children before their
 * parent, ascending by branching byte) over the nodes without an address,
 * passing by every subtree whose root has one. By the address invariant
 * (see `_node.ts`) those are exactly the nodes changed since the last
 * checkpoint, plus their ancestors. An explicit stack, never recursion.
 *
 * A compaction (`all`) visits every node, and meets stubs: the records of
 * a stub's subtree are still only in the old image. The walk does not load
 * them; it yields a {@link SubtreeCopy} naming the stub's record, and its
 * driver copies that subtree from the old file into the new one (reading
 * and writing one record at a time, asynchronously) and sends back the
 * address of the copy's root, which the stub then takes as a
 * {@link freshAddress}. A node the walk gave an address takes a fresh one
 * too, so until the commit settles them (`Art.settleAddresses`) the sign
 * of an address says which file holds its record. A stub a reader loaded
 * while its copy ran is walked from memory instead (the copy is
 * abandoned).
 *
 * Evictions go on beside the walk (`_evict.ts`): a compaction's walk
 * shows where it stands ({@link WalkPosition}), and an incremental one
 * marks each node it gives an address (`markUncommitted`) until the
 * snapshot is released ({@link clearUncommittedMarks}).
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { ViewBytes } from "../_view_bytes.ts";
import type { Arena } from "./_arena.ts";
import { keyBytesMax } from "../limits.ts";
import { findChild, nextChild, nextChildFound } from "./_children.ts";
import {
  addressOf,
  byteValues,
  clearUncommitted,
  copyPrefix,
  freshAddress,
  inlineAddress,
  isFreshAddress,
  isStub,
  kindLeaf,
  kindOf,
  markUncommitted,
  noAddress,
  noValue,
  prefixLengthOf,
  setAddress,
  uncommitted,
  valueOf,
} from "./_node.ts";

/** One node as the image writer sees it; valid only during the visit. */
export interface NodeView {
  /** The compressed path bytes below the parent's branching byte (a view the next visit reuses). */
  prefix: Uint8Array;
  /** The count of the key ending at this node, if one does. */
  value: number | undefined;
  /** The branching bytes of the children, ascending (a view the next visit reuses). */
  childBytes: Uint8Array;
  /**
   * The addresses already given to the children, in the order of
   * `childBytes` (all > 0); {@link inlineAddress} for a leaf stored in
   * this node's record.
   */
  childAddresses: number[];
  /** The leaves stored in this node's record, one per {@link inlineAddress}, in order. */
  inlineLeaves?: { prefix: Uint8Array; value: number }[];
}

/**
 * What a compaction's walk yields at a stub: copy the old image's subtree
 * under `address` into the new file, then send the copy root's ref to the
 * walk's `next` (undefined: the copy was abandoned, see
 * {@link SubtreeCopy.present}). Reused from one stub to the next.
 */
export interface SubtreeCopy {
  /** The stub's address: its record's ref in the old image. */
  address: number;
  /**
   * Whether the stub is still in place: false once a reader loaded it (the
   * walk then rewrites the loaded node from memory, and the copy is waste).
   */
  present(): boolean;
}

/** A walk's step: a pause (undefined) or a stub whose subtree to copy. */
export type WalkYield = SubtreeCopy | undefined;

/**
 * Where a walk stands, while it runs: what an eviction beside a
 * compaction must leave (`_evict.ts`). The walk keeps it up to date.
 */
export interface WalkPosition {
  /** The nodes on the walk's stack, root first: entered, not visited yet. */
  nodes: number[];
  /**
   * For each node on the stack, the branching byte of the child the walk
   * is in or last left (-1: none yet): with {@link WalkPosition.nodes}, the
   * walk's place in the key space (`walkMark` in `_walk_mark.ts`).
   */
  marks: number[];
  /** The nodes the walk visited since it began. */
  visited: number;
  /** While a {@link SubtreeCopy} is out: the parent of its stub (else 0)... */
  copyParent: number;
  /** ... and the branching byte into the stub. */
  copyByte: number;
}

/** A position for a walk that has not begun. */
export function newWalkPosition(): WalkPosition {
  return { nodes: [], marks: [], visited: 0, copyParent: 0, copyByte: -1 };
}

/** Frames on the walk's stack at most: each frame sits at least one key byte deeper. */
const framesMax = keyBytesMax + 2;
/** Bytes of the prefix buffer at first; it doubles up to the longest prefix. */
const prefixBufferBytesInitial = 64;
/** Bytes of an inline leaf's prefix buffer at first (the image inlines leaves of up to 64). */
const leafPrefixBytesInitial = 64;

/**
 * Calls `onNode` for every node under `root` without an address, children
 * first. A trie of `keys` keys has fewer than `2 * keys` nodes (a node without
 * a value has at least two children), which bounds the loop.
 */
export function walkUnwritten(
  a: Arena,
  root: number,
  keys: number,
  onNode: (node: number) => void,
): void {
  const steps = walkUnwrittenSteps(a, root, keys, onNode, Number.POSITIVE_INFINITY, false);
  for (let result = steps.next(); result.done !== true; result = steps.next()) {
    assert(false, "an unbounded walk never pauses");
  }
}

/**
 * {@link walkUnwritten} that pauses (yields) after every `nodesPerStep`
 * nodes, so a caller can let other work run between steps. The trie may
 * change while paused only by copy-on-write (a live snapshot holds `root`)
 * and by loads and evictions that leave its `position` alone.
 * With `all`, every node is visited, written or not (a compaction).
 */
export function* walkUnwrittenSteps(
  a: Arena,
  root: number,
  keys: number,
  onNode: (node: number) => void,
  nodesPerStep: number,
  all: boolean,
  inlineLeafPrefixMax = -1,
  position: WalkPosition = newWalkPosition(),
): Generator<WalkYield, void, number | undefined> {
  assert(nodesPerStep > 0, "a step visits at least one node");
  if (root === 0 || (!all && addressOf(a, root) !== noAddress)) return;
  const nodes = position.nodes;
  assert(nodes.length === 0, "one walk of a position at a time");
  nodes.push(root);
  position.marks.push(-1);
  position.visited = 0;
  try {
    yield* walkFrom(a, keys, onNode, nodesPerStep, all, inlineLeafPrefixMax, position);
  } finally {
    nodes.length = 0;
    position.marks.length = 0;
    position.copyParent = 0;
  }
}

/** {@link walkUnwrittenSteps} from the root on `position`'s stack. */
function* walkFrom(
  a: Arena,
  keys: number,
  onNode: (node: number) => void,
  nodesPerStep: number,
  all: boolean,
  inlineLeafPrefixMax: number,
  position: WalkPosition,
): Generator<WalkYield, void, number | undefined> {
  let visited = 0;
  const nodes = position.nodes;
  const marks = position.marks;
  const copy = new StubCopy(a);
  // One push and one pop per node; a stub is copied (once, or abandoned once and loaded).
  const stepsMax = 6 * keys + 2;
  for (let steps = 0; nodes.length > 0; steps++) {
    assert(steps <= stepsMax, `image walk of ${keys} keys did not end`);
    const top = nodes.length - 1;
    const node = nodes[top];
    const byte = nextChildToVisit(a, node, marks[top], all, inlineLeafPrefixMax);
    if (byte >= 0) {
      const child = findChild(a, node, byte);
      if (all && isStub(a, child)) {
        copy.aim(node, byte, child);
        position.copyParent = node; // an eviction leaves what is at the stub's place
        position.copyByte = byte;
        const copied = yield copy;
        position.copyParent = 0;
        if (copied !== undefined) {
          // The driver checked, in this turn, that the stub is in place: it names the copy.
          assert(copy.present(), "a copy is handed back only for a stub in place");
          setAddress(a, child, freshAddress(copied));
          marks[top] = byte;
        } // else a reader loaded it meanwhile: the next step walks what it loaded
        continue;
      }
      assert(nodes.length < framesMax, "image walk stack overflow");
      marks[top] = byte;
      nodes.push(child);
      marks.push(-1);
      continue;
    }
    nodes.pop();
    marks.pop();
    onNode(node);
    position.visited++;
    if (++visited % nodesPerStep === 0) yield;
  }
}

/** The {@link SubtreeCopy} a walk yields: the stub at `byte` of `parent`. */
class StubCopy implements SubtreeCopy {
  readonly #a: Arena;
  address = 0;
  #parent = 0;
  #byte = 0;
  #stub = 0;

  constructor(a: Arena) {
    this.#a = a;
  }

  aim(parent: number, byte: number, stub: number): void {
    this.#parent = parent;
    this.#byte = byte;
    this.#stub = stub;
    this.address = addressOf(this.#a, stub);
    assert(this.address > inlineAddress, "a stub the walk copies names an old record");
  }

  present(): boolean {
    // A snapshot's nodes (and a stub a load replaced in one) stay in the arena until it is released.
    const a = this.#a;
    const child = findChild(a, this.#parent, this.#byte);
    return child === this.#stub && isStub(a, child) && addressOf(a, child) === this.address;
  }
}

/**
 * The smallest child byte above `after` whose child the walk visits (one
 * without an address; with `all`, any not given a {@link freshAddress}
 * yet), or -1. A leaf whose prefix is at
 * most `inlineLeafPrefixMax` bytes and which has no record of its own is
 * not visited: it gets {@link inlineAddress} here, and its parent's view
 * carries it (no push, pop and visit for most of the nodes of a trie).
 */
function nextChildToVisit(
  a: Arena,
  node: number,
  after: number,
  all: boolean,
  inlineLeafPrefixMax: number,
): number {
  let byte = after;
  for (let child = nextChild(a, node, after); child !== 0; child = nextChild(a, node, byte)) {
    byte = nextChildFound.byte;
    const address = addressOf(a, child);
    if (!all && address !== noAddress) continue;
    if (all && isFreshAddress(address)) continue; // in the new file already
    if (
      (address === noAddress || address === inlineAddress) && kindOf(a, child) === kindLeaf &&
      prefixLengthOf(a, child) <= inlineLeafPrefixMax
    ) {
      if (address === noAddress) setAddress(a, child, inlineAddress);
      continue;
    }
    return byte;
  }
  return -1;
}

/**
 * Writes one node and returns its address; `previous` is the address it had
 * (0 if none); `root` says it is the trie's root (which the image cannot
 * store inline: it has no parent).
 */
export type NodeVisit = (node: NodeView, previous: number, root: boolean) => number;

/**
 * Gives every node under `root` without an address the one `visit` returns,
 * children first, and returns the root's address ({@link noAddress} for an
 * empty trie). A node that has an address is neither visited nor descended.
 */
export function writeUnwritten(
  a: Arena,
  root: number,
  keys: number,
  visit: NodeVisit,
): number {
  const steps = writeUnwrittenSteps(a, root, keys, visit, Number.POSITIVE_INFINITY, false);
  for (let result = steps.next();; result = steps.next()) {
    if (result.done === true) return result.value;
    assert(false, "an unbounded walk never pauses");
  }
}

/**
 * {@link writeUnwritten} pausing after every `nodesPerStep` nodes; returns
 * the root's address. With `all`, every node is written again, and `visit`
 * learns the address it had (`previous`, 0 if none) so its record can be freed.
 * A leaf other than the root whose prefix is at most `inlineLeafPrefixMax`
 * bytes is not visited: it gets {@link inlineAddress} at once, and its
 * parent's view carries it (the image's rule for leaves it stores inline).
 * Without `all`, each node given a record's address is marked
 * (`markUncommitted`) until {@link clearUncommittedMarks}.
 */
export function* writeUnwrittenSteps(
  a: Arena,
  root: number,
  keys: number,
  visit: NodeVisit,
  nodesPerStep: number,
  all: boolean,
  inlineLeafPrefixMax = -1,
  position?: WalkPosition,
): Generator<WalkYield, number, number | undefined> {
  if (root === 0) return noAddress;
  const views = new ViewBuilder();
  yield* walkUnwrittenSteps(
    a,
    root,
    keys,
    (node) => {
      const kind = kindOf(a, node);
      if (
        kind === kindLeaf && prefixLengthOf(a, node) <= inlineLeafPrefixMax && node !== root
      ) {
        setAddress(a, node, inlineAddress);
        return;
      }
      const address = visit(views.of(a, node), addressOf(a, node), node === root);
      assert(
        Number.isSafeInteger(address) && (address > 0 || (all && isFreshAddress(address))),
        `visit gave address ${address}`,
      );
      assert(address !== inlineAddress || kind === kindLeaf, "only a leaf is stored inline");
      setAddress(a, node, address);
      // A compaction's fresh addresses say so themselves; an incremental one's need the mark.
      if (!all && address !== inlineAddress) markUncommitted(a, node);
    },
    nodesPerStep,
    all,
    inlineLeafPrefixMax,
    position,
  );
  const address = addressOf(a, root);
  assert(
    address !== noAddress && address !== inlineAddress,
    "image walk left the root without a record",
  );
  return address;
}

/**
 * Clears the marks an incremental walk left (`markUncommitted`) on the
 * snapshot under `root`: once its checkpoint committed (or failed), they
 * mean nothing. The marked nodes are the ones the walk gave addresses, so
 * they and the nodes it did not reach (no address yet) are all it looks
 * at, with their children: what the walk looked at, at most.
 */
export function clearUncommittedMarks(a: Arena, root: number, keys: number): void {
  if (root === 0 || isStub(a, root)) return;
  const pending = [root];
  // A trie of `keys` keys has fewer than 2 * keys + 1 nodes, each pushed once.
  for (let steps = 0; pending.length > 0; steps++) {
    assert(steps <= 2 * keys + 1, "each node of the walk is cleared once");
    assert(pending.length <= framesMax * byteValues, "the clearing stack is bounded");
    const node = pending.pop()!;
    clearUncommitted(a, node);
    let byte = -1;
    for (let child = nextChild(a, node, -1); child !== 0; child = nextChild(a, node, byte)) {
      byte = nextChildFound.byte;
      if (isStub(a, child)) continue;
      if (uncommitted(a, child) || addressOf(a, child) === noAddress) pending.push(child);
    }
  }
}

/** An inline leaf of a {@link NodeView}, reused from one view to the next. */
interface LeafView {
  prefix: Uint8Array;
  value: number;
  /** Where `prefix` lives. */
  readonly bytes: ViewBytes;
}

/**
 * Builds {@link NodeView}s in objects and buffers reused from one visit to
 * the next (a view is valid only during its visit): one view, its prefix
 * and child bytes, child addresses, and a pool of inline leaves with a
 * buffer each.
 */
class ViewBuilder {
  readonly #prefix = new ViewBytes(prefixBufferBytesInitial);
  readonly #childBytes = new ViewBytes(byteValues);
  readonly #childAddresses: number[] = [];
  readonly #inlineLeaves: LeafView[] = [];
  readonly #leafPool: LeafView[] = [];
  readonly #view: NodeView = {
    prefix: new Uint8Array(0),
    value: undefined,
    childBytes: new Uint8Array(0),
    childAddresses: this.#childAddresses,
    inlineLeaves: undefined,
  };

  of(a: Arena, node: number): NodeView {
    const prefixLength = prefixLengthOf(a, node);
    copyPrefix(a, node, this.#prefix.reserve(prefixLength), 0);
    const childAddresses = this.#childAddresses;
    childAddresses.length = 0;
    const leaves = this.#inlineLeaves;
    leaves.length = 0;
    const childBytes = this.#childBytes.bytes;
    let byte = -1;
    for (let child = nextChild(a, node, -1); child !== 0; child = nextChild(a, node, byte)) {
      byte = nextChildFound.byte;
      const address = addressOf(a, child);
      assert(address !== noAddress, "a child was not written before its parent");
      childBytes[childAddresses.length] = byte;
      childAddresses.push(address);
      if (address !== inlineAddress) continue;
      assert(kindOf(a, child) === kindLeaf, "only a leaf is stored inline");
      leaves.push(this.#leaf(a, child, leaves.length));
    }
    const value = valueOf(a, node);
    const view = this.#view;
    view.prefix = this.#prefix.view(prefixLength);
    view.value = value === noValue ? undefined : value;
    view.childBytes = this.#childBytes.view(childAddresses.length);
    view.inlineLeaves = leaves.length === 0 ? undefined : leaves;
    return view;
  }

  /** Pooled leaf `index` of this view, holding the leaf's prefix and value. */
  #leaf(a: Arena, leaf: number, index: number): LeafView {
    assert(index <= this.#leafPool.length && index < byteValues, "one pooled leaf per child");
    const pooled = this.#leafPool[index] ??= {
      prefix: new Uint8Array(0),
      value: 0,
      bytes: new ViewBytes(leafPrefixBytesInitial),
    };
    const length = prefixLengthOf(a, leaf);
    copyPrefix(a, leaf, pooled.bytes.reserve(length), 0);
    pooled.prefix = pooled.bytes.view(length);
    pooled.value = valueOf(a, leaf);
    return pooled;
  }
}
