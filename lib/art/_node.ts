/**
 * The node layout of the adaptive radix trie, packed in an {@link Arena}
 * (edits of children live in `_children.ts`, kind changes in `_reshape.ts`).
 *
 * A node stands for the key path that ends after its prefix. The branching
 * byte that leads from a parent to a child is held by the parent, not
 * repeated in the child's prefix. Any node may hold a value: the key that
 * ends exactly there (so "ab" can live on the inner node above "abc").
 *
 * A node is a run of 32-bit words at an even index (its ref; 0 is null):
 *
 * ```text
 * word 0      kind (bits 0-2) | child count (bits 3-11) | prefix length (bits 12-27)
 *             | referenced (bit 28: a read passed it, see {@link markReferenced})
 *             | uncommitted (bit 29: its address is one the live checkpoint gave, see
 *               {@link markUncommitted})
 *             | a stub's admission stamp (bits 30-31: see {@link markPassed})
 * word 1      gen: the generation clock when the node was made
 * words 2-3   value (float64; `noValue` when no key ends here)
 * words 4-5   address in the image (float64; `noAddress` until written)
 * words 6..   the prefix bytes, padded to a word, then the body:
 *   leaf, stub  nothing
 *   Node4       1 word: 4 key bytes, ascending; 4 words: child refs by position
 *   Node16      4 words: 16 key bytes, ascending; 16 words: child refs by position
 *   Node48/256  256 words: a child ref per byte value (0: none)
 * ```
 *
 * The prefix sits before the body so that a descent reads the header, the
 * prefix, the key bytes and the child ref of a small node from one or two
 * cache lines. A node whose prefix changes length is made again (the body
 * moves), which only splits and merges do.
 *
 * Invariants (checked by `verifyTree`):
 * - Leaf: no children and a value.
 * - Node4 holds 1..4 children, Node16 4..16, Node48 13..48, Node256 38..256
 *   (a node grows when full and shrinks at the `node*ShrinkCount` marks, so an
 *   insert/delete pair never flips it between two kinds).
 * - An inner node with a single child holds a value; otherwise it is merged
 *   into its child's prefix (path compression).
 * - Node4/Node16 keys are strictly ascending; unused key bytes and child
 *   slots are 0.
 * - A node with an address (written to the image) has only children with
 *   addresses: any change clears the address of every node on its path.
 *
 * Snapshots (copy-on-write): every node carries `gen`, the value of a
 * process-wide generation clock when it was made. Capturing a trie records
 * the clock as its frozen generation and bumps the clock, so the nodes a
 * snapshot can reach are exactly those with `gen <= frozen`; while it is
 * live, an edit clones such a node (see {@link cloneNode}) instead of
 * changing it, and a node it replaces is freed only when the snapshot is
 * released.
 *
 * @module
 */

import { assert, unreachable } from "../_assert.ts";
import { keyBytesMax } from "../limits.ts";
import { type Arena, kindFree } from "./_arena.ts";

/** A node without children: the end of one key. */
export const kindLeaf = 0;
/** Up to 4 children, key bytes by position. */
export const kind4 = 1;
/** Up to 16 children, key bytes by position. */
export const kind16 = 2;
/** Up to 48 children, a slot per byte value. */
export const kind48 = 3;
/** Up to 256 children, a slot per byte value. */
export const kind256 = 4;
/** A node not loaded from the image yet: its address only (see {@link newStub}). */
export const kindStub = 5;

/** Children a Node4 holds at most. */
export const node4ChildrenMax = 4;
/** Children a Node16 holds at most. */
export const node16ChildrenMax = 16;
/** Children a Node48 holds at most. */
export const node48ChildrenMax = 48;
/** Children a Node256 holds at most. */
export const node256ChildrenMax = 256;
/** A Node16 that drops to this many children becomes a Node4. */
export const node16ShrinkCount = 3;
/** A Node48 that drops to this many children becomes a Node16. */
export const node48ShrinkCount = 12;
/** A Node256 that drops to this many children becomes a Node48. */
export const node256ShrinkCount = 37;
/** The number of distinct byte values. */
export const byteValues = 256;
/** A node's value when no key ends there (values are never negative). */
export const noValue = -1;
/** A node's address until the image writer gives it one. */
export const noAddress = 0;
/**
 * The address of a leaf the image stores inside its parent's record: it
 * has no record of its own (so none is dropped when it changes), and it is
 * loaded with its parent, never a stub.
 */
export const inlineAddress = 1;

/**
 * A streaming compaction's address for the record at `ref` in the file it
 * is writing: the ref negated, until the commit settles it (see
 * `Art.settleAddresses`). Until the new file replaces the image, a node or
 * stub the compaction has passed names a record of the new file while
 * every other one names a record of the old; the sign tells which, for any
 * ref up to the format's largest, and a negative ref is no record of any
 * image (a read of it is refused).
 */
export function freshAddress(ref: number): number {
  assert(Number.isSafeInteger(ref) && ref > inlineAddress, "a fresh address is a record's");
  return -ref;
}

/** Whether `address` is a {@link freshAddress}. */
export function isFreshAddress(address: number): boolean {
  return address < 0;
}

/** Words of the header every node starts with. */
export const headerWords = 6;
/** Bits of word 0 below the child count. */
const countShift = 3;
/** Bits of word 0 below the prefix length. */
const prefixShift = 12;
/** The child count's bits in word 0 (0..256). */
const countMask = 0x1ff;
/** The prefix length's bits in word 0 (0..65,535). */
const prefixMask = 0xffff;
/** The bit of word 0 a budgeted read sets on the nodes it passes (see {@link markReferenced}). */
const referencedBit = 1 << 28;
/** The bit of word 0 on a node the live checkpoint's walk gave an address (see {@link markUncommitted}). */
const uncommittedBit = 1 << 29;
/** The kind's bits in word 0. */
const kindMask = 7;
/** The longest prefix a node holds: a whole key. */
export const prefixBytesMax = keyBytesMax;
/** Words of each kind's body, by kind. */
const bodyWordsByKind = [
  0,
  1 + node4ChildrenMax,
  4 + node16ChildrenMax,
  byteValues,
  byteValues,
  0,
];
/** Where a Node4's or Node16's child refs start in its body (after the key bytes). */
export const childrenAt4 = 1;
/** See {@link childrenAt4}. */
export const childrenAt16 = 4;
/** Nodes up to this many words are cleared by a loop (see {@link newNode}). */
const fillLoopWordsMax = 32;
/** Generations are stored in an int32 word. */
const generationMax = 2 ** 31 - 1;

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
  assert(generationClock < generationMax, "generation clock exhausted");
  const frozen = generationClock;
  generationClock++;
  return frozen;
}

/*
 * The header word (word 0) is decoded only here. A hot loop reads it once
 * (`a.i32[n]`) and takes its fields with the `header*` functions; other code
 * asks the node (`kindOf`, `countOf`, `prefixLengthOf`). Each is one or two
 * bit operations, small enough that V8 inlines it where it is hot.
 */

/** The kind (`kind*`) in header word `header`. */
export function headerKind(header: number): number {
  return header & kindMask;
}

/** The child count in header word `header`. */
export function headerCount(header: number): number {
  return (header >>> countShift) & countMask;
}

/** The prefix length in bytes in header word `header`. */
export function headerPrefixLength(header: number): number {
  return (header >>> prefixShift) & prefixMask;
}

/**
 * Notes that a read passed the node (word 0 holds `header`): the memory
 * budget spares a node read since it last looked (a second chance, as a
 * CLOCK's reference bit). Only representation: content, copies and the
 * image are unaffected.
 */
export function markReferenced(a: Arena, n: number, header: number): void {
  a.i32[n] = header | referencedBit;
}

/** The bits of a stub's word 0 above `uncommittedBit`: the admission stamp of {@link markPassed}. */
const stampShift = 30;
/**
 * Epochs a stub's stamp tells apart ({@link markPassed}): the stamp is the
 * epoch modulo this, plus one (0: no read passed it), in the two top bits
 * of word 0, free in a stub (the referenced bit is not used: a lookup
 * marks every node it passes, stubs among them).
 */
export const admitEpochs = 3;

/** Notes that a read passed the stub without loading it, in admission epoch `epoch`. */
export function markPassed(a: Arena, n: number, epoch: number): void {
  assert(isStub(a, n) && Number.isSafeInteger(epoch) && epoch >= 0, "a stub passed in an epoch");
  const stamp = (epoch % admitEpochs) + 1;
  a.i32[n] = (a.i32[n] & ~(3 << stampShift)) | (stamp << stampShift);
}

/**
 * Epochs since a read last passed the stub (modulo {@link admitEpochs}),
 * as of epoch `epoch`; -1 if none did.
 */
export function passedEpochsAgo(a: Arena, n: number, epoch: number): number {
  const stamp = (a.i32[n] >>> stampShift) & 3;
  if (stamp === 0) return -1;
  return (epoch - (stamp - 1) + admitEpochs) % admitEpochs;
}

/** Whether a read passed the node since the last {@link takeReferenced}. */
export function referenced(a: Arena, n: number): boolean {
  return (a.i32[n] & referencedBit) !== 0;
}

/** Whether a read passed the node since the last call; clears the mark. */
export function takeReferenced(a: Arena, n: number): boolean {
  const header = a.i32[n];
  if ((header & referencedBit) === 0) return false;
  a.i32[n] = header & ~referencedBit;
  return true;
}

/**
 * Notes that the live (incremental) checkpoint's walk just gave the node
 * its address: a record no committed image holds until that checkpoint
 * commits, so no eviction may make a stub of it meanwhile (the checkpoint
 * may still fail). Cleared when the snapshot is released
 * (`ArtTree.releaseSnapshot`); a copy does not keep it.
 */
export function markUncommitted(a: Arena, n: number): void {
  a.i32[n] |= uncommittedBit;
}

/** Whether the node's address is one the live checkpoint gave (see {@link markUncommitted}). */
export function uncommitted(a: Arena, n: number): boolean {
  return (a.i32[n] & uncommittedBit) !== 0;
}

/** Clears the mark of {@link markUncommitted}. */
export function clearUncommitted(a: Arena, n: number): void {
  a.i32[n] &= ~uncommittedBit;
}

/** The node's kind (`kind*`). */
export function kindOf(a: Arena, n: number): number {
  return headerKind(a.i32[n]);
}

/** The number of children (0 for a leaf or a stub). */
export function countOf(a: Arena, n: number): number {
  return headerCount(a.i32[n]);
}

/** Sets the number of children. */
export function setCount(a: Arena, n: number, count: number): void {
  assert(count >= 0 && count <= byteValues, "a child count");
  a.i32[n] = (a.i32[n] & ~(countMask << countShift)) | (count << countShift);
}

/** The length of the node's prefix in bytes. */
export function prefixLengthOf(a: Arena, n: number): number {
  return headerPrefixLength(a.i32[n]);
}

/** The byte offset of the node's prefix in `a.u8`. */
export function prefixStart(n: number): number {
  return (n + headerWords) << 2;
}

/** The word index where the kind's body starts, for a prefix of `prefixLength` bytes. */
export function bodyOf(n: number, prefixLength: number): number {
  return n + headerWords + ((prefixLength + 3) >> 2);
}

/** The byte offset in `a.u8` of a Node4's or Node16's key bytes, given its body's word index. */
export function keysStart(body: number): number {
  return body << 2;
}

/** The generation the node was made in (a loaded node: its stub's). */
export function genOf(a: Arena, n: number): number {
  return a.i32[n + 1];
}

/** The value of the key ending at the node, or {@link noValue}. */
export function valueOf(a: Arena, n: number): number {
  return a.f64[(n >> 1) + 1];
}

/** Sets the node's value ({@link noValue}: no key ends here). */
export function setValue(a: Arena, n: number, value: number): void {
  a.f64[(n >> 1) + 1] = value;
}

/** Where the image holds the node (and so its subtree), or {@link noAddress}. */
export function addressOf(a: Arena, n: number): number {
  return a.f64[(n >> 1) + 2];
}

/** Sets the node's image address. */
export function setAddress(a: Arena, n: number, address: number): void {
  a.f64[(n >> 1) + 2] = address;
}

/** Whether the node is a stub (see {@link newStub}). */
export function isStub(a: Arena, n: number): boolean {
  return headerKind(a.i32[n]) === kindStub;
}

/** Words of a kind's body (its key bytes and child refs, after the prefix). */
export function bodyWords(kind: number): number {
  return bodyWordsByKind[kind];
}

/** The words a node of `kind` with a prefix of `prefixLength` bytes takes (even). */
export function nodeWords(kind: number, prefixLength: number): number {
  const words = headerWords + ((prefixLength + 3) >> 2) + bodyWordsByKind[kind];
  return words + (words & 1);
}

/** The words the node at `n` takes. */
/** The words node `n` takes (before its class rounding). */
export function wordsOf(a: Arena, n: number): number {
  return nodeWords(kindOf(a, n), prefixLengthOf(a, n));
}

/** The children capacity of a kind. */
export function capacityOf(kind: number): number {
  switch (kind) {
    case kindLeaf:
    case kindStub:
      return 0;
    case kind4:
      return node4ChildrenMax;
    case kind16:
      return node16ChildrenMax;
    case kind48:
      return node48ChildrenMax;
    case kind256:
      return node256ChildrenMax;
    default:
      return unreachable(`capacity of node kind ${kind}`);
  }
}

/**
 * A new node made now: `kind`, the prefix `bytes[from, from + length)` (not
 * the arena's own bytes: they may move), `value`, no children, no address.
 */
export function newNode(
  a: Arena,
  kind: number,
  bytes: Uint8Array,
  from: number,
  length: number,
  value: number,
): number {
  assert(length >= 0 && length <= prefixBytesMax && from + length <= bytes.length, "a prefix");
  assert(kind !== kindStub && kind !== kindFree, "a node kind");
  const words = nodeWords(kind, length);
  const n = a.alloc(words);
  const i32 = a.i32;
  // A loop clears a small node faster than `fill`, whose call costs more than the words.
  if (words <= fillLoopWordsMax) {
    for (let w = n + headerWords; w < n + words; w++) {
      i32[w] = 0;
    }
  } else i32.fill(0, n + headerWords, n + words);
  i32[n] = kind | (length << prefixShift);
  i32[n + 1] = generationClock;
  const f64 = a.f64;
  f64[(n >> 1) + 1] = value;
  f64[(n >> 1) + 2] = noAddress;
  const u8 = a.u8;
  const at = prefixStart(n);
  for (let i = 0; i < length; i++) u8[at + i] = bytes[from + i];
  return n;
}

/**
 * A node not loaded yet (a stub): the image record at `address` holds it
 * and its subtree. A lookup that reaches it finds no value and no child;
 * edits must load it first (see `Art.install`).
 */
export function newStub(a: Arena, address: number, gen: number): number {
  assert(
    Number.isSafeInteger(address) && (address > inlineAddress || isFreshAddress(address)),
    "a stub has an image address",
  );
  const n = a.alloc(headerWords);
  a.i32[n] = kindStub;
  a.i32[n + 1] = gen;
  setValue(a, n, noValue);
  setAddress(a, n, address);
  assert(isStub(a, n), "a stub is recognised");
  return n;
}

/** Sets a node's generation (a loaded node takes its stub's). */
export function setGen(a: Arena, n: number, gen: number): void {
  assert(gen > 0 && gen <= generationClock, "a generation of the clock");
  a.i32[n + 1] = gen;
}

/**
 * A copy of `n` made now (so owned by the live trie, not a snapshot), with
 * the same prefix, value and children and no address. The children are
 * shared, not copied: path copying clones only the nodes an edit changes.
 */
export function cloneNode(a: Arena, n: number): number {
  assert(!isStub(a, n) && kindOf(a, n) !== kindFree, "an edit reached a node not loaded");
  const words = wordsOf(a, n);
  const copy = a.alloc(words);
  a.i32.copyWithin(copy, n, n + words);
  a.i32[copy + 1] = generationClock;
  a.i32[copy] &= ~uncommittedBit; // a copy has no address, from any checkpoint
  setAddress(a, copy, noAddress);
  return copy;
}

/** Gives the node's words back to the arena; `n` must not be used again. */
export function freeNode(a: Arena, n: number): void {
  assert(kindOf(a, n) !== kindFree, "a node freed twice");
  a.free(n, wordsOf(a, n));
}

/** Bytes of the buffer prefixes are assembled in at first; it grows to the longest. */
const prefixBufferBytesInitial = 256;
let prefixBufferBytes = new Uint8Array(prefixBufferBytesInitial);

/**
 * A buffer of at least `length` bytes to assemble a prefix in before
 * {@link newNode} copies it (the arena's own bytes may move): valid until
 * the next call.
 */
export function prefixBuffer(length: number): Uint8Array {
  assert(length >= 0 && length <= prefixBytesMax, "a prefix length");
  if (prefixBufferBytes.length < length) {
    prefixBufferBytes = new Uint8Array(Math.max(length, prefixBufferBytes.length * 2));
  }
  return prefixBufferBytes;
}

/**
 * A new node of `kind` with `n`'s value and its prefix less the first
 * `skip` bytes; no children, no address.
 */
export function newNodeLike(a: Arena, kind: number, n: number, skip = 0): number {
  const buffer = prefixBuffer(prefixLengthOf(a, n));
  const end = copyPrefix(a, n, buffer, 0);
  assert(skip >= 0 && skip <= end, "skip within the prefix");
  return newNode(a, kind, buffer, skip, end - skip, valueOf(a, n));
}

/** Copies the node's prefix into `target` at `at`; returns the end. */
export function copyPrefix(a: Arena, n: number, target: Uint8Array, at: number): number {
  const length = prefixLengthOf(a, n);
  assert(at + length <= target.length, "the prefix fits its target");
  const u8 = a.u8;
  const start = prefixStart(n);
  for (let i = 0; i < length; i++) target[at + i] = u8[start + i];
  return at + length;
}

/** The prefix byte at `index` of node `n`. */
export function prefixByte(a: Arena, n: number, index: number): number {
  return a.u8[prefixStart(n) + index];
}

/**
 * How many leading bytes of `n`'s prefix equal `key[from...]` (at most
 * both lengths).
 */
export function matchPrefix(a: Arena, n: number, key: Uint8Array, from: number): number {
  const limit = Math.min(prefixLengthOf(a, n), key.length - from);
  const u8 = a.u8;
  const start = prefixStart(n);
  let i = 0;
  while (i < limit && key[from + i] === u8[start + i]) i++;
  return i;
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
