/**
 * A streaming compaction's copy of a subtree the trie holds only as a stub:
 * the old image's records under the stub's address, read one at a time
 * (checked: checksum, then what `checkedNode` checks) and appended to the
 * new file children first, each parent with its children's new refs. The
 * trie is not loaded for it, so a compaction works under any memory
 * budget: the copy holds one decoded record per level of the subtree (an
 * explicit stack, at most {@link copyFramesMax} deep), and the records of
 * a subtree land together in the new file, in post-order.
 *
 * Every record keeps a record of its own in the copy (a leaf the image
 * would store inline is one only as a root's former child: it stays one),
 * so the copy has the old subtree's shape exactly.
 *
 * A reader may load the stub while its copy runs (reads go on during a
 * compaction): the copy then stops at the next record, and what it
 * appended counts as dead in the new file (`ImageFile.abandonAppended`);
 * the walk rewrites the loaded node from memory instead.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { SubtreeCopy } from "../art/art.ts";
import { CorruptionError } from "../errors.ts";
import { type ImageFile, imageFileName } from "../image/image_file.ts";
import { inlineLeafRef, type NodeImage, refLength, refOffset } from "../image/node_record.ts";
import { keyBytesMax } from "../limits.ts";
import { checkedNode } from "./_loader.ts";

/** Records on a copy's stack at most: each sits at least one key byte below its parent. */
export const copyFramesMax = keyBytesMax + 2;

/** What a copy needs beside the files. */
export interface CopyOptions {
  /** The bound on every count of the image (the snapshot's value ceiling). */
  valueCeiling: number;
  /** Records the subtree can hold at most (a trie of `k` keys has fewer than `2k` nodes). */
  recordsMax: number;
  /**
   * Called after each record appended: may flush the new file and pause
   * for writers (awaited when it returns a promise).
   */
  between: () => Promise<void> | undefined;
  /**
   * Called after each record read from the old image, before the copy goes
   * on: the read may have put a slab in the slab cache, and a memory
   * budget counts the cache (its round then runs, in a microtask).
   */
  afterRead?: () => void;
}

/** A record on the copy's stack: its node (children's refs replaced as they are copied). */
interface CopyFrame {
  node: NodeImage;
  /** The next child to copy. */
  next: number;
}

/** What the copies did, for the checkpoint's counts; where the last one placed its records. */
export interface CopyCounts {
  records: number;
  bytes: number;
  /** The last copy's records lie at `[start, end)` of the new file (`start` -1: none yet). */
  start: number;
  end: number;
}

/**
 * Copies the old image's subtree under `copy.address` from `from` into
 * `to`; returns the ref of the copy's root, or undefined if the stub was
 * loaded meanwhile (what was appended is abandoned). A caller that awaits
 * the ref must check {@link SubtreeCopy.present} again, in the turn it
 * hands the ref to the walk, and else {@link abandonCopy}.
 *
 * @throws {CorruptionError} if a record is damaged, holds what the engine
 *   cannot have written, or the refs do not make a tree of at most
 *   `recordsMax` records and {@link copyFramesMax} levels.
 * @throws {StorageIoError} if reads or writes fail.
 */
export async function copySubtree(
  from: ImageFile,
  to: ImageFile,
  copy: SubtreeCopy,
  options: CopyOptions,
  counts: CopyCounts,
): Promise<number | undefined> {
  const frames: CopyFrame[] = [];
  const placed = counts;
  placed.start = -1;
  placed.end = -1;
  let records = 0;
  const push = async (address: number): Promise<void> => {
    if (++records > options.recordsMax || frames.length >= copyFramesMax) {
      throw new CorruptionError(
        imageFileName,
        refOffset(address),
        `the records under ${copy.address} are no tree of at most ${options.recordsMax} records`,
      );
    }
    const read = await from.load(address);
    options.afterRead?.();
    const node = owned(checkedNode(read, address, options.valueCeiling));
    frames.push({ node, next: 0 });
  };
  await push(copy.address);
  // One push and one pop per record, each at most once.
  for (let steps = 0; steps <= 2 * options.recordsMax; steps++) {
    if (!copy.present()) return abandonCopy(to, placed);
    const frame = frames[frames.length - 1];
    const children = frame.node.childAddresses;
    while (frame.next < children.length && children[frame.next] === inlineLeafRef) frame.next++;
    if (frame.next < children.length) {
      await push(children[frame.next]);
      continue;
    }
    frames.pop();
    // A record of its own for every record copied: the copy keeps the subtree's shape.
    const ref = to.append(frame.node, true);
    assert(ref !== inlineLeafRef, "a copied record has a record of its own");
    counts.records++;
    counts.bytes += to.lastAppendBytes;
    if (placed.start < 0) placed.start = refOffset(ref);
    placed.end = refOffset(ref) + refLength(ref);
    const parent = frames[frames.length - 1];
    if (parent !== undefined) parent.node.childAddresses[parent.next++] = ref;
    const pause = options.between();
    if (pause !== undefined) await pause;
    if (parent !== undefined) continue;
    return copy.present() ? ref : abandonCopy(to, placed);
  }
  throw new CorruptionError(imageFileName, refOffset(copy.address), "a copy did not end");
}

/** Gives up what the last copy appended (see the module notes); returns undefined, its result. */
export function abandonCopy(to: ImageFile, placed: CopyCounts): undefined {
  if (placed.start >= 0) to.abandonAppended(placed.start, placed.end);
  placed.start = -1;
  placed.end = -1;
  return undefined;
}

/**
 * `node` with its bytes copied out of the slab it was decoded from: a
 * frame keeps only its own record's bytes alive, not a slab per level.
 */
function owned(node: NodeImage): NodeImage {
  node.prefix = node.prefix.slice();
  node.childBytes = node.childBytes.slice();
  for (const leaf of node.inlineLeaves ?? []) leaf.prefix = leaf.prefix.slice();
  return node;
}
