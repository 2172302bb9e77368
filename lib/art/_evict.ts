/**
 * Eviction: a loaded subtree whose records the image holds turns back into
 * a stub, and its nodes' memory goes back to the arena. The inverse of an
 * install (`_lazy.ts`): the stub keeps the node's address and generation,
 * so a later read loads the same records again and nothing about the keys
 * changes.
 *
 * Only a clean subtree can go: a node has an image address exactly when it
 * and everything below it are as the last checkpoint that wrote them left
 * them (an edit drops the address of every node on its path, see
 * `ArtTree`), so a node with an address is evicted with its whole subtree.
 * The root always stays.
 *
 * Beside a live snapshot (a checkpoint running), a clean subtree the image
 * holds is as good a stub in the snapshot as in the live trie: the walk
 * writes nothing for it (an incremental checkpoint), or copies it from the
 * old file record by record (a compaction, `_stream_copy.ts`). So an
 * eviction makes it one stub in both trees at once (the same stub node,
 * in the snapshot's parent too when an edit copied the live one) and
 * frees its nodes, which no other node holds: below a node with an
 * address, the two trees share everything. What the snapshot holds stays
 * ({@link snapshotHolds}):
 * - an incremental checkpoint: the nodes its walk gave addresses (marked
 *   `uncommitted`): the checkpoint may still fail, and then those name
 *   records no committed image holds. What had an address at the capture
 *   is the committed image's, and so is everything below it;
 * - a compaction: the nodes on its walk's stack (entered, not visited;
 *   freeing them would pull the walk's ground away) and the node in the
 *   place of the stub being copied (a reader loaded it; evicted again, the
 *   copy would start over, as often as that happened). A node the walk
 *   passed has a fresh address, and so has everything below it: its stub
 *   reads from the new file until the commit settles it (`_settle.ts`).
 *   A node ahead of the walk has the old file's address, as has
 *   everything below it; its stub is the snapshot's too, so the walk
 *   meets it, copies the old file's records under it, and gives it (in
 *   both trees) the fresh address the settling turns into the new file's.
 *
 * After a checkpoint failed past its capture (the store is poisoned: no
 * capture, commit or write follows until a reopen), evictions go on, but
 * take only what the committed image holds ({@link keepUncommitted}, run
 * before the snapshot's release and before any await). A stub with a
 * fresh address is refused from then on (`Loader`), and the records the
 * failed incremental walk wrote were never committed (their bytes may be
 * torn), so the nodes naming either stay loaded: a failed incremental
 * walk's marks are kept (the release clears them only after a commit),
 * each loaded node with a fresh address is marked, and so is every node
 * with a marked node or a fresh stub below it. Why an unmarked node with
 * an address reads back from the committed image, with its whole subtree:
 * - its address was not given by the failed walk (that node would be
 *   marked) nor is fresh, so a committed checkpoint (or the image the
 *   trie was loaded from) gave it, and the committed image holds its
 *   record: a record leaves an image only at a commit that frees it, once
 *   the live trie dropped it, and no commit follows. A failed incremental
 *   checkpoint wrote only into space free in both header slots' images,
 *   and a failed compaction only into its own file, so the bytes at that
 *   address are still the record;
 * - nothing below it is marked or fresh (it would be marked too), and below
 *   a node with an address every node has one (an edit drops the address
 *   of its whole path), so its descendants' addresses came with it: each
 *   is in its parent's committed record, or was loaded from it;
 * - its stubs name records of the committed image for the same reason (a
 *   stub keeps the address its node had), and so does the stub it turns
 *   into: a read loads it from the committed image, records checked, as
 *   any other.
 * A read of the failed compaction's file begun before the failure may
 * install a node after it: the install marks it (`installNode`), and its
 * parent is marked already (it held a stub of a fresh address).
 * By the invariants, the marks are the failed incremental walk's (it
 * descends into no node that had an address at the capture, so what had
 * one then has none of its marks below it), a failed compaction's fresh
 * addresses (its walk passed them, and everything below them too) and
 * the nodes its walk stood on (entered with old addresses, fresh ones
 * below); the marking does not rely on that, it looks at every loaded
 * node once.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Arena } from "./_arena.ts";
import { childSlots, findChild, replaceChild } from "./_children.ts";
import {
  addressOf,
  countOf,
  freeNode,
  genOf,
  inlineAddress,
  isFreshAddress,
  isStub,
  markUncommitted,
  newStub,
  noAddress,
  referenced,
  takeReferenced,
  uncommitted,
  wordsOf,
} from "./_node.ts";
import { noSnapshot } from "./_tree.ts";
import { nodeAtPath, pushLoadedChildren } from "./_lazy.ts";
import type { ArtTree } from "./_tree.ts";
import { keyBytesMax } from "../limits.ts";
import { beyond, passedBy, type WalkMark } from "./_walk_mark.ts";

/** What one eviction freed. */
export interface Evicted {
  /** Words given back to the arena (its nodes' words, less the stub's). */
  words: number;
  /** Nodes turned into the one stub. */
  nodes: number;
  /** Stubs the subtree held (they went with it). */
  stubs: number;
}

/**
 * Whether the live snapshot holds `node` loaded (see the module notes):
 * false when none is live.
 */
export function snapshotHolds(tree: ArtTree, node: number): boolean {
  // A trie cleared beside its snapshot shares no node with it.
  if (tree.frozenGen === noSnapshot || tree.frozenArena !== tree.a) return false;
  const a = tree.a;
  if (!tree.rewriting) return uncommitted(a, node);
  const walk = tree.walk;
  if (walk.copyParent !== 0 && findChild(a, walk.copyParent, walk.copyByte) === node) return true;
  return walk.nodes.includes(node); // a stack of at most one node per key byte, mostly a few
}

/**
 * Whether no eviction may take `node` for what the image holds: a live
 * snapshot holds it ({@link snapshotHolds}), or a checkpoint failed past its
 * capture and the node names, itself or below it, a record the committed
 * image lacks (marked by {@link keepUncommitted}; see the module notes).
 */
export function evictionHolds(tree: ArtTree, node: number): boolean {
  if (tree.imageFailed && uncommitted(tree.a, node)) return true;
  return snapshotHolds(tree, node);
}

/**
 * After a checkpoint failed past its capture, before its snapshot is
 * released and before any await: marks (`markUncommitted`) every loaded
 * node of the live trie that names a record the committed image lacks, or
 * has such a node or stub below it, and from then on evictions leave the
 * marked nodes loaded ({@link evictionHolds}). Such a record is one the
 * failed incremental walk gave (its node is marked already, and the marks
 * are not cleared at the release) or a failed compaction's fresh address.
 * Every other loaded node with an address is the committed image's, with
 * everything below it (see the module notes). Returns the nodes marked.
 */
export function keepUncommitted(tree: ArtTree): number {
  tree.imageFailed = true;
  const { a, root } = tree;
  if (root === 0 || isStub(a, root)) return 0;
  // Pre-order: a node before its children, so read backwards, children come before their parent.
  const order: number[] = [];
  const pending = [root];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // read before any change
  while (pending.length > 0) {
    assert(order.length <= nodesMax, "each loaded node is looked at once");
    assert(pending.length <= (keyBytesMax + 1) * 256, "the marking stack is bounded");
    const node = pending.pop()!;
    order.push(node);
    slots.length = 0;
    childSlots(a, node, slots);
    for (const slot of slots) if (!isStub(a, a.i32[slot])) pending.push(a.i32[slot]);
  }
  let marked = 0;
  for (let at = order.length - 1; at >= 0; at--) {
    const node = order[at];
    if (uncommitted(a, node)) {
      marked++;
      continue;
    }
    if (!isFreshAddress(addressOf(a, node)) && !holdsUncommitted(a, node, slots)) continue;
    markUncommitted(a, node);
    marked++;
  }
  return marked;
}

/** Whether a child of `node` is a marked node or a stub of a fresh address (`slots` is scratch). */
function holdsUncommitted(a: Arena, node: number, slots: number[]): boolean {
  slots.length = 0;
  childSlots(a, node, slots);
  for (const slot of slots) {
    const child = a.i32[slot];
    if (isStub(a, child) ? isFreshAddress(addressOf(a, child)) : uncommitted(a, child)) return true;
  }
  return false;
}

/**
 * Evicts the loaded node at `path` (the key bytes from the root to and
 * including the branching byte into it) and its subtree, if it is clean.
 * Returns null, changing nothing, when no loaded node ends there, the node
 * has no address of its own (dirty, or a leaf stored in its parent's
 * record), or a live snapshot holds it ({@link snapshotHolds}).
 */
export function evictNode(tree: ArtTree, path: Uint8Array): Evicted | null {
  const result = evictNodeIf(tree, path, false);
  return result === evictKept ? null : result;
}

/** What {@link evictNodeIf} returns for a node a read passed since the last look: it stays. */
export const evictKept = "kept";

/**
 * {@link evictNode}; with `spareReferenced`, a node a read passed since the
 * last look (see `markReferenced`) stays, its mark cleared, and
 * {@link evictKept} is returned: a second chance. With `seen`, a node
 * already in it is not looked at again (null), and the node looked at is
 * added: two looks in one round would take the second chance back. With
 * `lowest`, a node with a child that has children loaded stays too
 * ({@link evictKept}): it goes once they went, and takes no more than a
 * node and its last level.
 */
export function evictNodeIf(
  tree: ArtTree,
  path: Uint8Array,
  spareReferenced: boolean,
  seen?: Set<number>,
  lowest = false,
): Evicted | null | typeof evictKept {
  const found = nodeAtPath(tree.a, tree.root, path);
  if (found === null || isStub(tree.a, found.node)) return null;
  const { parent, node } = found;
  if (seen !== undefined) {
    if (seen.has(node)) return null;
    seen.add(node);
  }
  if (spareReferenced && takeReferenced(tree.a, node)) return evictKept;
  if (lowest && holdsLoadedInner(tree.a, node, lowestScratch)) return evictKept;
  const address = addressOf(tree.a, node);
  if (address === noAddress || address === inlineAddress) return null;
  if (evictionHolds(tree, node)) return null;
  assert(!tree.imageFailed || !isFreshAddress(address), "a failed compaction's nodes stay loaded");
  const twin = snapshotParent(tree, path, node);
  // The stub first: if the arena cannot grow, nothing has changed.
  const stub = newStub(tree.a, address, genOf(tree.a, node));
  const byte = path[path.length - 1];
  replaceChild(tree.a, parent, byte, stub);
  // The snapshot's parent, if an edit copied the live one: the stub is the same node in both.
  if (twin !== 0 && twin !== parent) replaceChild(tree.a, twin, byte, stub);
  const evicted = freeSubtree(tree.a, node);
  evicted.words -= wordsOf(tree.a, stub);
  return evicted;
}

/**
 * The live snapshot's parent of `node`, if the snapshot holds `node` at
 * `path` too; else 0 (no snapshot, or the node is the live trie's alone:
 * loaded through a parent an edit copied, beside an incremental one).
 */
function snapshotParent(tree: ArtTree, path: Uint8Array, node: number): number {
  if (tree.frozenGen === noSnapshot || tree.frozenRoot === 0 || tree.frozenArena !== tree.a) {
    return 0;
  }
  const twin = nodeAtPath(tree.a, tree.frozenRoot, path);
  return twin !== null && twin.node === node ? twin.parent : 0;
}

/** Frees `top` and every node below it; counts them. */
function freeSubtree(a: Arena, top: number): Evicted {
  const evicted: Evicted = { words: 0, nodes: 0, stubs: 0 };
  const pending = [top];
  const slots: number[] = [];
  const nodesMax = a.liveWords; // read before the frees lower it
  for (let steps = 0; pending.length > 0; steps++) {
    assert(steps <= nodesMax, "each node of the subtree is freed once");
    assert(pending.length <= (keyBytesMax + 1) * 256, "eviction stack is bounded");
    const node = pending.pop()!;
    assert(addressOf(a, node) !== noAddress, "below an address, every node has one");
    if (isStub(a, node)) evicted.stubs++;
    slots.length = 0;
    childSlots(a, node, slots);
    for (const slot of slots) pending.push(a.i32[slot]);
    evicted.words += wordsOf(a, node);
    evicted.nodes++;
    freeNode(a, node);
  }
  return evicted;
}

/**
 * The nodes a compaction's walk passed after `after` and up to `through`
 * (`_walk_mark.ts`): where {@link evictableNodes} looks for what a step of
 * that walk may have made evictable.
 */
export interface WalkSpan {
  after: WalkMark;
  through: WalkMark;
}

/** The work of {@link evictableNodes} walks: walks made and nodes they visited. */
export interface EvictWalkWork {
  walks: number;
  visits: number;
}

/** What {@link evictableNodes} does with a node that could go: offer it. */
export const evictTake = 0;
/** ... look below it instead (something below it must stay). */
export const evictDescend = 1;
/** ... pass over it and everything below it. */
export const evictSkip = 2;
/** A caller's choice for one node that could go, by its path. */
export type EvictChoice = (path: Uint8Array) => number;

/**
 * Up to `limit` loaded nodes with image addresses of their own (so each can
 * be evicted with its subtree), in key order: the highest such node on each
 * path (not the root), not the ones below it, unless `choose` says to look
 * below it ({@link evictDescend}) or pass it ({@link evictSkip}); with
 * `lowest`, the lowest such nodes instead (none of their children has
 * children loaded: the nodes near the root, which most keys share, stay). With
 * `from`, subtrees wholly below it are passed over (a clock hand: the walk
 * goes on where the last one stopped); a {@link WalkSpan} instead confines
 * the walk to the nodes a compaction's walk passed between two marks
 * (and the few above them, on the paths to the marks), except below a node
 * it holds back for its lower nodes (`lowest`): it looks at those wherever
 * they lie. The compaction's walk passed those before the span's start
 * (post-order: they precede the node), so no later span holds them; a walk
 * that skipped them offered the node never, and once the span was looked
 * at, nothing looked at the node again when they went (the cooling queue's
 * last pass takes them whole: simulator seed 189 at 4 KiB, 72 bytes past
 * what must stay). Below a clean node every node is clean, so that walk
 * finds what it can take there, lowest first, as the clock hand would.
 * With `spareReferenced`, a node a
 * read passed since the last look (see `markReferenced`) is not offered:
 * the walk looks below it, and leaves the mark (the cooling queue's looks
 * clear it). A node a live snapshot holds ({@link snapshotHolds}) is not
 * offered either: the walk looks below it.
 */
export function evictableNodes(
  tree: ArtTree,
  limit: number,
  from?: Uint8Array | WalkSpan,
  choose?: EvictChoice,
  lowest = false,
  spareReferenced = false,
  work?: EvictWalkWork,
): { path: Uint8Array; address: number }[] {
  const found: { path: Uint8Array; address: number }[] = [];
  const { a, root } = tree;
  if (root === 0 || isStub(a, root)) return found;
  const nodes: number[] = [];
  const paths: Uint8Array[] = [];
  const slots: number[] = [];
  const skip = from === undefined
    ? undefined
    : from instanceof Uint8Array
    ? (path: Uint8Array) => whollyBelow(path, from)
    : (path: Uint8Array) => passedBy(path, from.after) || beyond(path, from.through);
  // Whether `skip` applies to each node on the stack: not below a node a span's walk holds back
  // for its lower ones (see above).
  const bounded: boolean[] = [];
  const pushBelow = (node: number, path: Uint8Array, within: boolean) => {
    const at = nodes.length;
    // Leaves without a record of their own are passed over: nothing below them, none can go.
    pushLoadedChildren(a, node, path, nodes, paths, within ? skip : undefined, true);
    bounded.length = nodes.length;
    bounded.fill(within, at);
  };
  const spanned = from !== undefined && !(from instanceof Uint8Array);
  pushBelow(root, new Uint8Array(0), true);
  let steps = 0;
  for (; nodes.length > 0 && found.length < limit; steps++) {
    assert(steps <= a.liveWords, "each node is visited once");
    assert(bounded.length === nodes.length, "a bound for each node on the stack");
    const node = nodes.pop()!;
    const path = paths.pop()!;
    const within = bounded.pop()!;
    const address = addressOf(a, node);
    let choice = address === noAddress || address === inlineAddress || evictionHolds(tree, node)
      ? evictDescend
      : choose?.(path) ?? evictTake;
    // Read since the last look: a second chance, and the walk looks below it.
    if (choice === evictTake && spareReferenced && referenced(a, node)) choice = evictDescend;
    if (choice === evictTake && lowest && holdsLoadedInner(a, node, slots)) {
      pushBelow(node, path, within && !spanned); // the lowest ones go first, wherever they lie
    } else if (choice === evictTake) found.push({ path, address });
    else if (choice === evictDescend) pushBelow(node, path, within);
  }
  if (work !== undefined) {
    work.walks++;
    work.visits += steps;
  }
  return found;
}

/** The child slots {@link evictNodeIf} looks at (`lowest`). */
const lowestScratch: number[] = [];

/** Whether a child of `node` is a loaded node with children of its own (`slots` is scratch). */
function holdsLoadedInner(a: Arena, node: number, slots: number[]): boolean {
  slots.length = 0;
  childSlots(a, node, slots);
  for (const slot of slots) {
    const child = a.i32[slot];
    if (!isStub(a, child) && countOf(a, child) > 0) return true;
  }
  return false;
}

/** Whether every key that starts with `path` sorts before `from`. */
function whollyBelow(path: Uint8Array, from: Uint8Array): boolean {
  const length = Math.min(path.length, from.length);
  for (let i = 0; i < length; i++) if (path[i] !== from[i]) return path[i] < from[i];
  return false; // one is a prefix of the other: some key under `path` is at or past `from`
}
