/**
 * The node classes of the adaptive radix trie (edits live in `_children.ts`
 * and `_reshape.ts`).
 *
 * A node stands for the key path that ends after its `prefix`. The branching
 * byte that leads from a parent to a child is held by the parent, not repeated
 * in the child's prefix. Any node may hold a value: the key that ends exactly
 * there (so "ab" can live on the inner node above "abc").
 *
 * Layout, chosen by measurement (a lookup in a large trie is bound by
 * dependent cache misses, about 200 ns each on the development VM): a JS
 * array is two heap objects (the array and its backing store), so a child
 * reached through `node.children[i]` costs three misses per level, a child in
 * a field of the node one. Node4 and Node16 therefore hold their children in
 * fields `c0..c15` (with `childAt`/`setChildAt`), Node4 packs its four key
 * bytes into one integer, and only the wide kinds (48/256) use an array.
 * Leaves are a small class of their own holding their key suffix. That made
 * random lookups about 1.4x faster and the trie about 30% smaller than one
 * tagged class with arrays for every kind. Four classes keep property access
 * polymorphic rather than megamorphic; Node48 and Node256 share `NodeWide`.
 *
 * Invariants (checked by `verifyTree`):
 * - Leaf: no children and a value; `prefix` is the rest of its key.
 * - Node4 holds 1..4 children, Node16 4..16, Node48 13..48, Node256 38..256
 *   (a node grows when full and shrinks at the `*_SHRINK_COUNT` marks, so an
 *   insert/delete pair never flips it between two kinds).
 * - An inner node with a single child holds a value; otherwise it is merged
 *   into its child's prefix (path compression).
 * - Node4/Node16 keys are strictly ascending; Node48 and Node256 hold a
 *   child per byte value in a 256-slot array.
 * - A node with an `address` (written to the image) has only children with
 *   addresses: any change clears the address of every node on its path.
 *
 * Snapshots (copy-on-write): every node carries `gen`, the value of a
 * process-wide generation clock when it was made. Capturing a trie records
 * the clock as its frozen generation and bumps the clock, so the nodes a
 * snapshot can reach are exactly those with `gen <= frozen`; while it is
 * live, an edit clones such a node (see {@link cloneNode}) instead of
 * changing it. One clock for all tries means constructors need no trie
 * context; another trie's capture only makes the numbers grow faster.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { bytesToString } from "./_bytes.ts";

/** A node without children: the end of one key. */
export const KIND_LEAF = 0;
/** Up to 4 children in fields, keys packed in one integer. */
export const KIND_4 = 1;
/** Up to 16 children in fields, keys packed three to an integer field. */
export const KIND_16 = 2;
/** Up to 48 children in a 256-slot array (see {@link NodeWide}). */
export const KIND_48 = 3;
/** An array with one slot per byte value. */
export const KIND_256 = 4;

/** Children a Node4 holds at most. */
export const NODE4_CHILDREN_MAX = 4;
/** Children a Node16 holds at most. */
export const NODE16_CHILDREN_MAX = 16;
/** Children a Node48 holds at most. */
export const NODE48_CHILDREN_MAX = 48;
/** Children a Node256 holds at most. */
export const NODE256_CHILDREN_MAX = 256;
/** A Node16 that drops to this many children becomes a Node4. */
export const NODE16_SHRINK_COUNT = 3;
/** A Node48 that drops to this many children becomes a Node16. */
export const NODE48_SHRINK_COUNT = 12;
/** A Node256 that drops to this many children becomes a Node48. */
export const NODE256_SHRINK_COUNT = 37;
/** The number of distinct byte values. */
export const BYTE_VALUES = 256;
/** A node's `value` when no key ends there (values are never negative). */
export const NO_VALUE = -1;
/** Bits per key byte in a Node4's packed `keys`. */
const BYTE_BITS = 8;
/** A node's `address` until the image writer gives it one. */
export const NO_ADDRESS = 0;
/**
 * The `address` of a leaf the image stores inside its parent's record: it
 * has no record of its own (so none is dropped when it changes), and it is
 * loaded with its parent, never a stub.
 */
export const INLINE_ADDRESS = 1;

/**
 * The generation clock: new nodes are stamped with it, {@link tickGeneration}
 * advances it. Starts at 1 so that 0 can never be a frozen generation.
 */
let generationClock = 1;

/**
 * Freezes the current generation for a snapshot and advances the clock.
 * Every node made before the call has `gen <=` the returned value, every
 * node made after it `gen >` it.
 */
export function tickGeneration(): number {
  assert(generationClock < Number.MAX_SAFE_INTEGER, "generation clock exhausted");
  const frozen = generationClock;
  generationClock++;
  return frozen;
}

/** The fields every kind shares, declared first so they sit at the same offsets. */
abstract class NodeBase {
  /** One of the `KIND_*` constants. */
  readonly kind: number;
  /** The compressed path bytes below the parent's branching byte. */
  prefix: string;
  /** The value of the key ending after `prefix`, or {@link NO_VALUE}. */
  value: number;
  /**
   * The generation clock when the node was made: shared with a snapshot if
   * `<=` its frozen one. A node loaded in place of a {@link Stub} takes the
   * stub's, so it is shared exactly when the stub was.
   */
  gen: number;
  /** Where the image holds this node (and so its subtree), or {@link NO_ADDRESS}. */
  address: number;

  constructor(kind: number, prefix: string, value: number) {
    this.kind = kind;
    this.prefix = prefix;
    this.value = value;
    this.gen = generationClock;
    this.address = NO_ADDRESS;
  }
}

/** The end of a key that no other key extends. */
export class Leaf extends NodeBase {
  declare readonly kind: typeof KIND_LEAF;
  constructor(prefix: string, value: number) {
    super(KIND_LEAF, prefix, value);
  }
}

/** Up to 4 children; key byte `i` is bits `8i..8i+7` of `keys`. */
export class Node4 extends NodeBase {
  declare readonly kind: typeof KIND_4;
  count = 0;
  keys = 0;
  c0: ArtNode | null = null;
  c1: ArtNode | null = null;
  c2: ArtNode | null = null;
  c3: ArtNode | null = null;
  constructor(prefix: string, value: number) {
    super(KIND_4, prefix, value);
  }
}

/**
 * Up to 16 children; their bytes, ascending, are packed three to a field in
 * `k0..k5` (byte `i` is bits `8(i%3)..` of field `⌊i/3⌋`; 24 bits stay a
 * small integer, stored in the object). A keys string, as before, was one
 * object more to reach on every lookup through the node and a new string
 * for every child added or removed. Read and write them with
 * {@link keyAt16} and {@link setKeyAt16}.
 */
export class Node16 extends NodeBase {
  declare readonly kind: typeof KIND_16;
  count = 0;
  k0 = 0;
  k1 = 0;
  k2 = 0;
  k3 = 0;
  k4 = 0;
  k5 = 0;
  c0: ArtNode | null = null;
  c1: ArtNode | null = null;
  c2: ArtNode | null = null;
  c3: ArtNode | null = null;
  c4: ArtNode | null = null;
  c5: ArtNode | null = null;
  c6: ArtNode | null = null;
  c7: ArtNode | null = null;
  c8: ArtNode | null = null;
  c9: ArtNode | null = null;
  c10: ArtNode | null = null;
  c11: ArtNode | null = null;
  c12: ArtNode | null = null;
  c13: ArtNode | null = null;
  c14: ArtNode | null = null;
  c15: ArtNode | null = null;
  constructor(prefix: string, value: number) {
    super(KIND_16, prefix, value);
  }
}

/**
 * Node48 or Node256: one slot per byte value, `children[byte]`. The kinds
 * differ only in how many children they hold (13..48, 38..256), which is
 * all the grow and shrink rules need. (Node48 kept a 256-char index string
 * and 48 slots, as in the ART paper, until measured: an immutable string
 * index is rebuilt whole for every child added or removed, a third of a
 * microsecond each, and a lookup reads one object more; the by-byte array
 * costs about 1 KiB a node, and there are few of them: 2,870 among 650,000
 * nodes for the compare's 548,000 n-grams.)
 */
export class NodeWide extends NodeBase {
  declare readonly kind: typeof KIND_48 | typeof KIND_256;
  count = 0;
  children: (ArtNode | null)[];
  /** An empty node, or with `from`'s children (a clone; `from` must be this kind). */
  constructor(
    kind: typeof KIND_48 | typeof KIND_256,
    prefix: string,
    value: number,
    from?: NodeWide,
  ) {
    super(kind, prefix, value);
    if (from === undefined) {
      this.children = new Array<ArtNode | null>(BYTE_VALUES).fill(null);
    } else {
      assert(from.kind === kind, "clone of a wide node of another kind");
      this.count = from.count;
      this.children = from.children.slice();
    }
  }
}

/** A stub's prefix: a code unit no key byte equals, so no descent passes it. */
export const STUB_PREFIX = "\u0100";

/**
 * A node not loaded yet (a stub): the image record at `address` holds it
 * and its subtree. It is a {@link Leaf} without a value and with
 * {@link STUB_PREFIX} as its prefix (no new class: a fifth node shape would
 * make the hot property accesses megamorphic). A lookup that reaches it
 * never matches; edits must load it first (see `Art.install`).
 */
export function newStub(address: number, gen: number): Leaf {
  assert(Number.isSafeInteger(address) && address > 0, "a stub has an image address");
  const stub = new Leaf(STUB_PREFIX, NO_VALUE);
  stub.address = address;
  stub.gen = gen;
  assert(isStub(stub), "a stub is recognised");
  return stub;
}

/**
 * Thrown by a read that reached a stub: load the record at `address` and
 * install it (`Art.install`) under `path`, then try again.
 *
 * The engine throws instances made by {@link NodeNotLoaded.signal}, which
 * skips the `Error` constructor: Deno has V8 capture a detailed stack trace
 * for every `Error` constructed, whatever `Error.stackTraceLimit` says, and
 * that measured 3.5 µs per construction (93,568 of them took 0.63 s of the
 * comparison's reads and scans after a lazy reopen). The signal is always
 * caught inside the engine; one that escaped by a bug is still an `Error`
 * (name, message, `instanceof`), only without a stack.
 */
export class NodeNotLoaded extends Error {
  /** The key bytes from the root down to and including the branching byte into the stub. */
  readonly path: Uint8Array;
  /** The stub's image address. */
  readonly address: number;
  constructor(path: Uint8Array, address: number) {
    super(nodeNotLoadedMessage(address));
    this.name = "NodeNotLoaded";
    this.path = path;
    this.address = address;
  }

  /** An instance made without the `Error` constructor, so without a stack trace (see above). */
  static signal(path: Uint8Array, address: number): NodeNotLoaded {
    const signal = Object.create(NodeNotLoaded.prototype) as {
      -readonly [field in keyof NodeNotLoaded]: NodeNotLoaded[field];
    };
    signal.name = "NodeNotLoaded";
    signal.message = nodeNotLoadedMessage(address);
    signal.path = path;
    signal.address = address;
    assert(signal instanceof NodeNotLoaded, "a signal is a NodeNotLoaded");
    return signal as NodeNotLoaded;
  }
}

function nodeNotLoadedMessage(address: number): string {
  return `trie node at image address ${address} is not loaded`;
}

/** Whether `node` is a stub (see {@link newStub}). */
export function isStub(node: ArtNode): boolean {
  return node.kind === KIND_LEAF && node.value === NO_VALUE && node.prefix === STUB_PREFIX;
}

/** Any trie node; `kind` tells which. */
export type ArtNode = Leaf | Node4 | Node16 | NodeWide;
/** A node that can have children. */
export type InnerNode = Node4 | Node16 | NodeWide;

/** The children capacity of a kind. */
export function capacityOf(kind: number): number {
  switch (kind) {
    case KIND_LEAF:
      return 0;
    case KIND_4:
      return NODE4_CHILDREN_MAX;
    case KIND_16:
      return NODE16_CHILDREN_MAX;
    case KIND_48:
      return NODE48_CHILDREN_MAX;
    case KIND_256:
      return NODE256_CHILDREN_MAX;
    default:
      return unreachable(`capacity of node kind ${kind}`);
  }
}

/**
 * A copy of `node` made now (so owned by the live trie, not a snapshot), with
 * the same prefix, value and children and no address. The children are
 * shared, not copied: path copying clones only the nodes an edit changes.
 */
export function cloneNode(node: ArtNode): ArtNode {
  assert(!isStub(node), "an edit reached a node not loaded from the image");
  switch (node.kind) {
    case KIND_LEAF:
      return new Leaf(node.prefix, node.value);
    case KIND_4: {
      const copy = new Node4(node.prefix, node.value);
      copy.count = node.count;
      copy.keys = node.keys;
      copy.c0 = node.c0;
      copy.c1 = node.c1;
      copy.c2 = node.c2;
      copy.c3 = node.c3;
      return copy;
    }
    case KIND_16:
      return cloneNode16(node);
    default:
      return new NodeWide(node.kind, node.prefix, node.value, node);
  }
}

function cloneNode16(node: Node16): Node16 {
  const copy = new Node16(node.prefix, node.value);
  copy.count = node.count;
  copy.k0 = node.k0;
  copy.k1 = node.k1;
  copy.k2 = node.k2;
  copy.k3 = node.k3;
  copy.k4 = node.k4;
  copy.k5 = node.k5;
  for (let at = 0; at < node.count; at++) setChildAt16(copy, at, childAt16(node, at));
  assert(copy.count === 0 || childAt16(copy, copy.count - 1) !== null, "Node16 clone lost a child");
  return copy;
}

/** A new leaf holding `key[from...]` as its prefix. */
export function newLeaf(key: Uint8Array, from: number, value: number): Leaf {
  assert(from >= 0 && from <= key.length, "leaf suffix start out of bounds");
  return new Leaf(bytesToString(key, from, key.length), value);
}

/** The key byte in position `at` of a Node4's packed keys. */
export function keyAt4(keys: number, at: number): number {
  return (keys >>> (at * BYTE_BITS)) & 0xff;
}

/** Child `at` of a Node4 (positions follow the sorted keys). */
export function childAt4(node: Node4, at: number): ArtNode | null {
  switch (at) {
    case 0:
      return node.c0;
    case 1:
      return node.c1;
    case 2:
      return node.c2;
    default:
      assert(at === 3, "Node4 position out of range");
      return node.c3;
  }
}

/** Sets child `at` of a Node4. */
export function setChildAt4(node: Node4, at: number, child: ArtNode | null): void {
  switch (at) {
    case 0:
      node.c0 = child;
      break;
    case 1:
      node.c1 = child;
      break;
    case 2:
      node.c2 = child;
      break;
    default:
      assert(at === 3, "Node4 position out of range");
      node.c3 = child;
  }
}

/** Key bytes packed in each of a Node16's `k0..k5` fields. */
const KEYS16_PER_FIELD = 3;

/** The key byte in sorted position `at` (0..15) of a Node16. */
export function keyAt16(node: Node16, at: number): number {
  const field = at < 6
    ? (at < 3 ? node.k0 : node.k1)
    : at < 12
    ? (at < 9 ? node.k2 : node.k3)
    : (at < 15 ? node.k4 : node.k5);
  return (field >>> ((at % KEYS16_PER_FIELD) * BYTE_BITS)) & 0xff;
}

/** Sets the key byte in sorted position `at` (0..15) of a Node16. */
export function setKeyAt16(node: Node16, at: number, byte: number): void {
  assert(at >= 0 && at < NODE16_CHILDREN_MAX && byte >= 0 && byte <= 0xff, "a Node16 key slot");
  const shift = (at % KEYS16_PER_FIELD) * BYTE_BITS;
  const clear = ~(0xff << shift);
  const bits = byte << shift;
  switch ((at - (at % KEYS16_PER_FIELD)) / KEYS16_PER_FIELD) {
    case 0:
      node.k0 = (node.k0 & clear) | bits;
      break;
    case 1:
      node.k1 = (node.k1 & clear) | bits;
      break;
    case 2:
      node.k2 = (node.k2 & clear) | bits;
      break;
    case 3:
      node.k3 = (node.k3 & clear) | bits;
      break;
    case 4:
      node.k4 = (node.k4 & clear) | bits;
      break;
    default:
      node.k5 = (node.k5 & clear) | bits;
  }
}

/** Child `at` of a Node16 (positions follow the sorted keys). */
export function childAt16(node: Node16, at: number): ArtNode | null {
  switch (at) {
    case 0:
      return node.c0;
    case 1:
      return node.c1;
    case 2:
      return node.c2;
    case 3:
      return node.c3;
    case 4:
      return node.c4;
    case 5:
      return node.c5;
    case 6:
      return node.c6;
    case 7:
      return node.c7;
    case 8:
      return node.c8;
    case 9:
      return node.c9;
    case 10:
      return node.c10;
    case 11:
      return node.c11;
    case 12:
      return node.c12;
    case 13:
      return node.c13;
    case 14:
      return node.c14;
    default:
      assert(at === 15, "Node16 position out of range");
      return node.c15;
  }
}

/** Sets child `at` of a Node16. */
export function setChildAt16(node: Node16, at: number, child: ArtNode | null): void {
  switch (at) {
    case 0:
      node.c0 = child;
      break;
    case 1:
      node.c1 = child;
      break;
    case 2:
      node.c2 = child;
      break;
    case 3:
      node.c3 = child;
      break;
    case 4:
      node.c4 = child;
      break;
    case 5:
      node.c5 = child;
      break;
    case 6:
      node.c6 = child;
      break;
    case 7:
      node.c7 = child;
      break;
    case 8:
      node.c8 = child;
      break;
    case 9:
      node.c9 = child;
      break;
    case 10:
      node.c10 = child;
      break;
    case 11:
      node.c11 = child;
      break;
    case 12:
      node.c12 = child;
      break;
    case 13:
      node.c13 = child;
      break;
    case 14:
      node.c14 = child;
      break;
    default:
      assert(at === 15, "Node16 position out of range");
      node.c15 = child;
  }
}
