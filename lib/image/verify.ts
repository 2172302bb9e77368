/**
 * The whole-image structural check, in the spirit of bbolt's `Verify`: walks
 * every record reachable from the root, depth first in ascending key order,
 * and lists every broken invariant instead of stopping at the first. O(records);
 * run by tests and the simulator after each checkpoint, on request in production.
 *
 * What it checks, each failure a problem line naming the record's address:
 * - every reachable record reads and passes its checksum (the `read` callback's job;
 *   a `CorruptionError` is a problem and the walk passes by that subtree);
 * - no record is reached twice (a shared or cyclic child would count keys twice)
 *   and every address is a safe integer past the header region;
 * - child bytes strictly ascend, and so do the complete keys in walk order;
 * - a node without children, or with one child, holds a value (path compression);
 *   at most 256 children; a key is at most 65,535 bytes;
 * - a record never crosses a slab boundary;
 * - no count is above the header's value ceiling (when it records one);
 * - the keys found equal the header's key count.
 *
 * Reads run ahead of the walk up to `concurrency` at a time, but the walk
 * itself visits records in one fixed order, so the report never depends on
 * which read finishes first.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError } from "../errors.ts";
import { keyBytesMax } from "../limits.ts";
import { headerRegionBytes } from "./header.ts";
import {
  childrenMax,
  type InlineLeaf,
  inlineLeafRef,
  inlinePrefixBytesMax,
  type NodeImage,
  prefixBytesMax,
  refLength,
  refOffset,
} from "./node_record.ts";

export type { NodeImage } from "./node_record.ts";

/** Options of {@link verifyImage}. */
export interface ImageVerifyOptions {
  /** Reads the node record a ref names (e.g. `(ref) => image.read(ref)`); throws CorruptionError on damage. */
  read: (address: number) => Promise<NodeImage>;
  /** The root's ref (0 = empty image). */
  rootAddress: number;
  /** The key count the header claims. */
  keyCount: number;
  /** The bound on every count the header records, if it records one. */
  valueCeiling?: number;
  /** Bytes per allocation slab: the report sums live record bytes per slab index (Math.floor(offset / slabBytes)). */
  slabBytes: number;
  /** Reads in flight at once (default 32, at most 1,024). */
  concurrency?: number;
}

/** What {@link verifyImage} found. */
export interface ImageVerifyReport {
  /** Whether no problem was found (`problems.length === 0`). */
  ok: boolean;
  /** Keys found (records and inline leaves holding a value). */
  keys: number;
  /** Records read (inline leaves are not records). */
  nodes: number;
  /** The sum of the lengths of every record read (the lengths their refs name). */
  bytes: number;
  /** The deepest node, inline leaves included (the root is at depth 1). */
  depthMax: number;
  /** The longest key, in bytes. */
  keyBytesMax: number;
  /** One-child nodes without a value (a merge that waited for a child not loaded). */
  unmergedNodes: number;
  /** Live record bytes by slab index (`Math.floor(offset / slabBytes)`), ascending by index. */
  liveBytesBySlab: Map<number, number>;
  /** Human-readable problems in walk order, each naming an address; the first 100, then "... and N more". */
  problems: string[];
}

/** Reads in flight at once unless the caller says otherwise. */
const concurrencyDefault = 32;
/** The most reads in flight a caller may ask for. */
const concurrencyMax = 1_024;
/** Records read ahead of the walk and not yet visited, at most: bounds the memory they hold. */
const recordsAheadMax = 4_096;
/** Problems listed in full; the rest are counted in a final line. */
const problemsMax = 100;
/** Key bytes shown in a problem line before it is cut. */
const keyBytesShownMax = 32;
/** Shards of the visited-address set: V8 holds at most 2^24 entries in one Set. */
const visitedShards = 16;
/** The most records one verify walks: what the visited shards hold. */
const recordsMax = visitedShards * (2 ** 24 - 1);

/**
 * Walks the image from `rootAddress` and checks every record and the trie
 * invariants (see the module documentation). Damage is reported, not thrown.
 *
 * @param options The record reader, the header's root address and key count,
 *   the slab size and how many reads may be in flight.
 * @returns The counts found and every problem, in walk order.
 * @throws {TypeError} If `read` is not a function.
 * @throws {RangeError} If `slabBytes` is not a positive safe integer or
 *   `concurrency` is not an integer from 1 to 1,024.
 * @throws {Error} Whatever `read` throws other than a `CorruptionError`
 *   (such as a `StorageIoError`), once the reads in flight have settled.
 *
 * @example Checking a two-key image
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyImage } from "./verify.ts";
 * import { ImageFile } from "./image_file.ts";
 * import { MemoryBlockStorage } from "../storage/memory.ts";
 *
 * const image = await ImageFile.open(new MemoryBlockStorage());
 * const none = new Uint8Array();
 * // The keys "a" (count 1) and "ab" (count 2): children first, then the root.
 * // A short leaf is stored inline: its parent's record holds it.
 * const leaf = { prefix: none, value: 2, childBytes: none, childAddresses: [] };
 * const rootAddress = image.append({
 *   prefix: Uint8Array.of(0x61),
 *   value: 1,
 *   childBytes: Uint8Array.of(0x62),
 *   childAddresses: [image.append(leaf)],
 *   inlineLeaves: [leaf],
 * }, true);
 * await image.flush();
 * const report = await verifyImage({
 *   read: (address) => image.read(address),
 *   rootAddress,
 *   keyCount: 2, // what the header would claim
 *   slabBytes: 128 * 1024,
 * });
 * assert.deepEqual(report.problems, []);
 * assert.equal(report.keys, 2);
 * assert.equal(report.keyBytesMax, 2);
 * await image.close();
 * ```
 */
export async function verifyImage(options: ImageVerifyOptions): Promise<ImageVerifyReport> {
  const concurrency = checkOptions(options);
  const walk = new Walk(options.slabBytes, options.valueCeiling ?? Number.POSITIVE_INFINITY);
  const reads = new ReadAhead(options.read, concurrency, (address) => walk.isNew(address));
  if (options.rootAddress !== 0) walk.admitRoot(options.rootAddress);
  try {
    for (let steps = 0; walk.stack.length > 0; steps++) {
      // Every frame is pushed once, for an address never admitted before.
      assert(steps < walk.admitted, "the walk visits each admitted record once");
      reads.prefetch(walk.stack);
      const frame = walk.stack.pop()!;
      if (frame.leaf !== undefined) {
        walk.visit(frame, leafNode(frame.leaf));
        continue;
      }
      const outcome = await reads.take(frame.address);
      if (outcome.ok) {
        walk.visit(frame, outcome.node);
      } else if (outcome.error instanceof CorruptionError) {
        walk.problem(`${where(frame.address)}: ${outcome.error.message}`);
      } else {
        throw outcome.error;
      }
    }
  } finally {
    await reads.close(); // No read the walk started runs on after it returns.
  }
  return walk.report(options.rootAddress, options.keyCount);
}

function checkOptions(options: ImageVerifyOptions): number {
  if (typeof options.read !== "function") {
    throw new TypeError("Cannot verify the image: read must be a function that reads one record");
  }
  const { slabBytes, concurrency = concurrencyDefault } = options;
  if (!Number.isSafeInteger(slabBytes) || slabBytes <= 0) {
    throw new RangeError(
      `Cannot verify the image: slabBytes must be a positive safe integer, got "${slabBytes}"`,
    );
  }
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > concurrencyMax) {
    throw new RangeError(
      `Cannot verify the image: concurrency must be an integer from 1 to ${concurrencyMax}, ` +
        `got "${concurrency}"`,
    );
  }
  return concurrency;
}

/** A read's result: a `read` that throws never rejects a promise the walk leaves behind. */
type Outcome = { ok: true; node: NodeImage } | { ok: false; error: unknown };

/** A record the walk has admitted and not yet visited. */
interface Frame {
  address: number;
  /** The branching byte the parent holds for it, -1 for the root. */
  byte: number;
  /** The parent's key length: where this record's key bytes start. */
  keyStart: number;
  /** The root is at depth 1. */
  depth: number;
  /** The leaf, if it is stored inline in its parent's record (nothing to read). */
  leaf?: InlineLeaf;
  /** For an inline leaf: the ref of the record holding it (problem lines name that record). */
  parent?: number;
}

/** An inline leaf as the node it stands for. */
function leafNode(leaf: InlineLeaf): NodeImage {
  return {
    prefix: leaf.prefix,
    value: leaf.value,
    childBytes: new Uint8Array(0),
    childAddresses: [],
  };
}

/** Names a record in a problem line by its offset. */
function where(ref: number): string {
  return Number.isSafeInteger(ref) && ref > inlineLeafRef
    ? `record at ${refOffset(ref)}`
    : `record ${ref}`;
}

/**
 * Reads records ahead of the walk, at most `limit` in flight and
 * {@link recordsAheadMax} read and not yet taken: first the frames on top of
 * the walk's stack (visited next), then, as each read lands, the children of
 * the record it brought (visited right after it). The walk takes every
 * outcome in its own order, so the timing of reads never shows in a report.
 */
class ReadAhead {
  readonly #read: (address: number) => Promise<NodeImage>;
  readonly #limit: number;
  /** Whether an address may be read ahead: valid, and not admitted by the walk yet. */
  readonly #isNew: (address: number) => boolean;
  /** Reads started and not taken, by address. */
  readonly #ahead = new Map<number, Promise<Outcome>>();
  #inFlight = 0;
  /** The walk, waiting for a slot for the read it needs now. */
  #waiter: (() => void) | undefined;
  /** A slot freed for the waiting walk: reads ahead must not take it. */
  #reserved = false;
  #closed = false;
  /** Records read whose children may still be read ahead, and the next child to look at. */
  readonly #expand: { node: NodeImage; next: number }[] = [];

  constructor(
    read: (address: number) => Promise<NodeImage>,
    limit: number,
    isNew: (address: number) => boolean,
  ) {
    assert(limit >= 1 && limit <= concurrencyMax, "the read limit is checked");
    this.#read = read;
    this.#limit = limit;
    this.#isNew = isNew;
  }

  /**
   * Starts reads for the `limit` frames on top of `stack`, then for children
   * of records read, while slots are free.
   */
  prefetch(stack: readonly Frame[]): void {
    const scanMin = Math.max(0, stack.length - this.#limit);
    for (let at = stack.length - 1; at >= scanMin && this.#mayReadAhead(); at--) {
      const frame = stack[at];
      if (frame.leaf === undefined && !this.#ahead.has(frame.address)) this.#start(frame.address);
    }
    this.#expandAhead();
  }

  /** The outcome of the read of `address`, started now (once a slot is free) if it was not. */
  async take(address: number): Promise<Outcome> {
    let outcome = this.#ahead.get(address);
    if (outcome === undefined) {
      if (this.#inFlight >= this.#limit) {
        await new Promise<void>((resolve) => (this.#waiter = resolve));
        assert(this.#reserved, "the slot freed for the walk was kept for it");
        this.#reserved = false;
      }
      assert(this.#inFlight < this.#limit && this.#waiter === undefined, "a read slot is free");
      outcome = this.#start(address);
    }
    this.#ahead.delete(address);
    assert(this.#ahead.size <= recordsAheadMax, "reads ahead are bounded");
    return await outcome;
  }

  /** Stops reading ahead and waits for every read started, so none runs on. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#ahead.values());
    this.#ahead.clear();
    this.#expand.length = 0;
  }

  #mayReadAhead(): boolean {
    return !this.#closed && !this.#reserved && this.#waiter === undefined &&
      this.#inFlight < this.#limit && this.#ahead.size < recordsAheadMax;
  }

  #start(address: number): Promise<Outcome> {
    this.#inFlight++;
    assert(this.#inFlight <= this.#limit, "reads in flight are bounded");
    const read = this.#read;
    const outcome = new Promise<NodeImage>((resolve) => resolve(read(address))).then(
      (node): Outcome => ({ ok: true, node }),
      (error): Outcome => ({ ok: false, error }),
    ).then((outcome) => {
      this.#settled(outcome);
      return outcome;
    });
    this.#ahead.set(address, outcome);
    return outcome;
  }

  #settled(outcome: Outcome): void {
    this.#inFlight--;
    if (outcome.ok && this.#expand.length < recordsAheadMax) {
      this.#expand.push({ node: outcome.node, next: 0 });
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#reserved = true;
      waiter();
      return;
    }
    this.#expandAhead();
  }

  /**
   * Starts reads of the children of records read, the latest read first (so
   * the reads dive depth first, as the walk does) while slots are free.
   */
  #expandAhead(): void {
    // Each step starts a read, passes a child by or drops a record.
    const stepsMax = this.#expand.length * (childrenMax + 1);
    for (let steps = 0; this.#expand.length > 0 && this.#mayReadAhead(); steps++) {
      assert(steps < stepsMax, "reading ahead ends");
      const top = this.#expand[this.#expand.length - 1];
      const { childAddresses, childBytes } = top.node;
      // The walk checks the shape; a malformed record is only not read ahead of.
      const count = childAddresses.length === childBytes.length
        ? Math.min(childAddresses.length, childrenMax)
        : 0;
      if (top.next >= count) {
        this.#expand.pop();
        continue;
      }
      const address = childAddresses[top.next++];
      if (this.#isNew(address) && !this.#ahead.has(address)) this.#start(address);
    }
  }
}

/** Addresses seen, in shards so the walk is not capped by V8's largest Set. */
class AddressSet {
  readonly #shards: Set<number>[] = Array.from({ length: visitedShards }, () => new Set());
  size = 0;

  /** Whether `address` was added. */
  has(address: number): boolean {
    return this.#shard(address).has(address);
  }

  /** Adds `address`; false if it was already there. */
  add(address: number): boolean {
    const shard = this.#shard(address);
    if (shard.has(address)) return false;
    shard.add(address);
    this.size++;
    return true;
  }

  #shard(address: number): Set<number> {
    return this.#shards[(Math.imul(address | 0, 0x9e3779b1) >>> 0) % visitedShards];
  }
}

/** The walk's state: the stack, the counts, the current and previous key, the problems. */
class Walk {
  readonly stack: Frame[] = [];
  readonly #slabBytes: number;
  readonly #valueCeiling: number;
  readonly #visited = new AddressSet();
  readonly #key = new Uint8Array(keyBytesMax);
  readonly #previous = new Uint8Array(keyBytesMax);
  #previousLength = -1;
  #keys = 0;
  #nodes = 0;
  #bytes = 0;
  #depthMax = 0;
  #keyBytesMax = 0;
  #unmerged = 0;
  #inlineAdmitted = 0;
  readonly #slabs = new Map<number, number>();
  readonly #problems: string[] = [];
  #problemsOmitted = 0;

  constructor(slabBytes: number, valueCeiling: number) {
    this.#slabBytes = slabBytes;
    this.#valueCeiling = valueCeiling;
  }

  /** Frames ever pushed. */
  get admitted(): number {
    return this.#visited.size + this.#inlineAdmitted;
  }

  /** Whether `address` is one the walk may still admit (so worth reading ahead). */
  isNew(address: number): boolean {
    return Number.isSafeInteger(address) && address > inlineLeafRef &&
      refOffset(address) >= headerRegionBytes && !this.#visited.has(address);
  }

  /** Records a problem; past {@link problemsMax} only counts it. */
  problem(line: string): void {
    if (this.#problems.length < problemsMax) this.#problems.push(line);
    else this.#problemsOmitted++;
  }

  /** Pushes the root's frame if its address is valid. */
  admitRoot(address: number): void {
    const problem = this.#checkAddress(address);
    if (address === inlineLeafRef) this.problem(`header: the root reference names an inline leaf`);
    else if (problem !== undefined) {
      this.problem(`header: the root reference ${address} ${problem}`);
    } else this.stack.push({ address, byte: -1, keyStart: 0, depth: 1 });
  }

  /** Pushes a frame for each child of `frame` with a valid new address, the smallest byte on top. */
  #admitChildren(frame: Frame, node: NodeImage, keyEnd: number): void {
    const count = node.childAddresses.length;
    const stackBefore = this.stack.length;
    const leaves = node.inlineLeaves ?? [];
    let inline = 0;
    for (let index = 0; index < count; index++) {
      const [address, byte] = [node.childAddresses[index], node.childBytes[index]];
      if (address === inlineLeafRef) {
        const leaf = leaves[inline++];
        if (leaf !== undefined) {
          this.stack.push({
            address,
            byte,
            keyStart: keyEnd,
            depth: frame.depth + 1,
            leaf,
            parent: frame.address,
          });
          this.#inlineAdmitted++;
          continue;
        }
      }
      const problem = this.#checkAddress(address);
      if (problem === undefined) {
        this.stack.push({
          address,
          byte,
          keyStart: keyEnd,
          depth: frame.depth + 1,
        });
      } else {
        this.problem(
          `${where(frame.address)}: the reference ${address} of child ${hex(byte)} ${problem}`,
        );
      }
    }
    assert(this.stack.length - stackBefore <= count, "one frame at most per child");
    if (inline !== leaves.length) {
      this.problem(`${where(frame.address)}: ${leaves.length} inline leaves, ${inline} named`);
    }
    // Checked in ascending order (so are the problems), visited in it too: the smallest on top.
    for (let low = stackBefore, high = this.stack.length - 1; low < high; low++, high--) {
      [this.stack[low], this.stack[high]] = [this.stack[high], this.stack[low]];
    }
  }

  #checkAddress(address: number): string | undefined {
    if (!Number.isSafeInteger(address)) return "is not a safe integer";
    if (address <= inlineLeafRef) return "names an inline leaf the record does not hold";
    if (refOffset(address) < headerRegionBytes) {
      return `is inside the header region (below ${headerRegionBytes})`;
    }
    if (this.#visited.size >= recordsMax) {
      return `is not walked: a verify walks at most ${recordsMax} records`;
    }
    if (!this.#visited.add(address)) return "is reached twice";
    return undefined;
  }

  /** Checks the record `node` read for `frame`, then admits its children. */
  visit(frame: Frame, node: NodeImage): void {
    const at = refOffset(frame.parent ?? frame.address); // an inline leaf's record: its parent's
    if (frame.leaf === undefined) this.#nodes++;
    this.#depthMax = Math.max(this.#depthMax, frame.depth);
    const keyEnd = frame.keyStart + (frame.byte < 0 ? 0 : 1) + node.prefix.length;
    if (node.value !== undefined) {
      this.#keys++;
      this.#keyBytesMax = Math.max(this.#keyBytesMax, keyEnd);
    }
    if (!this.#checkShape(at, node)) return;
    if (frame.leaf === undefined) this.#account(at, refLength(frame.address));
    else if (node.prefix.length > inlinePrefixBytesMax) {
      this.problem(
        `record at ${at}: an inline leaf's prefix is longer than ${inlinePrefixBytesMax} bytes`,
      );
    }
    if (keyEnd > keyBytesMax) {
      this.problem(`record at ${at}: its key path is ${keyEnd} bytes, more than ${keyBytesMax}`);
      return; // Every key below is longer still.
    }
    // Each level below the root adds its branching byte, so depth is bounded by key length.
    assert(frame.depth <= keyEnd + 1, "a record sits at most one level per key byte deep");
    if (frame.byte >= 0) this.#key[frame.keyStart] = frame.byte;
    this.#key.set(node.prefix, keyEnd - node.prefix.length);
    if (node.value !== undefined) this.#checkOrder(at, keyEnd);
    this.#checkChildren(at, node);
    this.#admitChildren(frame, node, keyEnd);
  }

  /** Adds the record to the byte counts and checks it stays inside its slab. */
  #account(at: number, bytes: number): void {
    this.#bytes += bytes;
    const slab = Math.floor(at / this.#slabBytes);
    const last = Math.floor((at + bytes - 1) / this.#slabBytes);
    if (last !== slab) {
      this.problem(`record at ${at}: its ${bytes} bytes cross from slab ${slab} into slab ${last}`);
    }
    this.#slabs.set(slab, (this.#slabs.get(slab) ?? 0) + bytes);
  }

  /**
   * Checks what a decoded record already guarantees (a custom `read` may not):
   * false if the record could not be encoded, so has no size and no usable children.
   */
  #checkShape(at: number, node: NodeImage): boolean {
    const count = node.childBytes.length;
    if (node.prefix.length > prefixBytesMax) {
      const length = node.prefix.length;
      this.problem(
        `record at ${at}: its prefix of ${length} bytes is longer than ${prefixBytesMax}`,
      );
      return false;
    }
    if (count > childrenMax) {
      this.problem(`record at ${at}: it has ${count} children, more than ${childrenMax}`);
      return false;
    }
    if (node.childAddresses.length !== count) {
      this.problem(
        `record at ${at}: it has ${count} child bytes but ${node.childAddresses.length} addresses`,
      );
      return false;
    }
    const value = node.value;
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      this.problem(`record at ${at}: its value "${value}" is not a count`);
    } else if (value !== undefined && value > this.#valueCeiling) {
      this.problem(
        `record at ${at}: its count ${value} is above the header's value ceiling ` +
          `${this.#valueCeiling}`,
      );
    }
    return true;
  }

  /** Checks path compression and the order of the branching bytes. */
  #checkChildren(at: number, node: NodeImage): void {
    const count = node.childBytes.length;
    if (count === 0 && node.value === undefined) {
      this.problem(`record at ${at}: it is a leaf without a value`);
    }
    // A one-child node without a value is allowed: a removal does not wait
    // for a child still on disk to load before path compression would merge
    // it (see `ArtTree`). It costs a level, nothing else.
    if (count === 1 && node.value === undefined) this.#unmerged++;
    assert(count <= childrenMax, "the shape was checked");
    for (let index = 1; index < count; index++) {
      const [before, after] = [node.childBytes[index - 1], node.childBytes[index]];
      if (after <= before) {
        this.problem(
          `record at ${at}: its child bytes do not ascend: ${hex(after)} after ${hex(before)}`,
        );
        return;
      }
    }
  }

  /** Checks that the key of `length` bytes in the key buffer sorts after the previous one. */
  #checkOrder(at: number, length: number): void {
    assert(length <= keyBytesMax, "the key fits the buffer");
    const shared = Math.min(length, this.#previousLength);
    let same = 0;
    while (same < shared && this.#key[same] === this.#previous[same]) same++;
    const ascends = this.#previousLength < 0 ||
      (same < shared ? this.#key[same] > this.#previous[same] : length > this.#previousLength);
    if (!ascends) {
      this.problem(
        `record at ${at}: its key ${showKey(this.#key, length)} does not sort after ` +
          `the key before it, ${showKey(this.#previous, this.#previousLength)}`,
      );
    }
    this.#previous.set(this.#key.subarray(same, length), same);
    this.#previousLength = length;
  }

  /** The final report, after the key count check. */
  report(rootAddress: number, keyCount: number): ImageVerifyReport {
    if (this.#keys !== keyCount) {
      this.problem(
        `root at ${
          rootAddress > inlineLeafRef ? refOffset(rootAddress) : rootAddress
        }: the header claims ${keyCount} keys but the image holds ${this.#keys}`,
      );
    }
    const problems = this.#problems.slice();
    if (this.#problemsOmitted > 0) problems.push(`... and ${this.#problemsOmitted} more`);
    assert(problems.length <= problemsMax + 1, "the problem list is capped");
    return {
      ok: problems.length === 0,
      keys: this.#keys,
      nodes: this.#nodes,
      bytes: this.#bytes,
      depthMax: this.#depthMax,
      keyBytesMax: this.#keyBytesMax,
      unmergedNodes: this.#unmerged,
      liveBytesBySlab: new Map([...this.#slabs].sort((a, b) => a[0] - b[0])),
      problems,
    };
  }
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

/** A key as hex, cut after {@link keyBytesShownMax} bytes. */
function showKey(key: Uint8Array, length: number): string {
  const shown = Array.from(
    key.subarray(0, Math.min(length, keyBytesShownMax)),
    (byte) => byte.toString(16).padStart(2, "0"),
  );
  const cut = length > keyBytesShownMax ? `... (${length} bytes)` : "";
  return `"${shown.join("")}${cut}"`;
}
