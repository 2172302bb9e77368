/**
 * The steps of recovery that `Engine.open` runs in order: the newest valid
 * image header gives the trie ({@link openTrie}: whole, when its records
 * fit the slab cache; else its root, with stubs that load on use) and the
 * coverage LSN; the WAL records above the coverage are read back and
 * checked ({@link replayCollector}), then replayed into the trie
 * ({@link applyReplay}), each key's path loaded first, each batch whole.
 * Kept apart from `engine.ts` so that the engine's class reads as what a
 * running store does, and recovery as one path through these functions.
 *
 * What it promises (D3, D5, D9): every write that was durable before the
 * crash is in the trie once the replay is done, exactly once; a replayed
 * record that would leave the value range is corruption, not a value; a
 * negative set in the log is corruption too (the engine never logs one).
 *
 * @module
 */

import { Art } from "../art/art.ts";
import { CorruptionError, StorageIoError } from "../errors.ts";
import { type ImageFile, imageFileName } from "../image/image_file.ts";
import { newRecordFields } from "../image/node_record.ts";
import { type MutationKind, RecordKind, type RecordSink } from "../wal/record.ts";
import { applyMutation } from "./_groups.ts";
import { checkedNode, type Loader } from "./_loader.ts";
import type { LoadMode } from "./config.ts";

/** One WAL record above the image's coverage, collected at open to apply once paths load. */
export interface ReplayRecord {
  lsn: number;
  ops: { kind: MutationKind; key: Uint8Array; value: number }[];
}

/**
 * An eager open of an image too big for the slab cache: loads the rest
 * the slow way, a read per record. A record that cannot be read stays on
 * disk, as in a lazy open: the reads through it report the problem.
 */
export async function loadRest(loader: Loader): Promise<void> {
  try {
    await loader.loadAll();
  } catch (error) {
    if (!(error instanceof CorruptionError || error instanceof StorageIoError)) throw error;
  }
}

/**
 * Applies the records recovery collected, loading each key's path first
 * (the caller then sets the applied LSN: nothing reads it meanwhile).
 */
export async function applyReplay(
  records: ReplayRecord[],
  loader: Loader,
  trie: Art,
): Promise<void> {
  for (const record of records) {
    for (const op of record.ops) {
      await loader.loadPath(op.key);
      if (op.kind === RecordKind.add) {
        const result = (trie.get(op.key) ?? 0) + op.value;
        if (result < 0 || result > Number.MAX_SAFE_INTEGER) {
          throw new CorruptionError(
            "wal",
            record.lsn,
            `record ${record.lsn} adds ${op.value}, leaving the value range (the offset is the LSN)`,
          );
        }
      }
      applyMutation(trie, op.kind, op.key, op.value);
    }
  }
}

/**
 * A sink that collects the WAL records above the coverage into `into` (a
 * record without mutations, such as a checkpoint record, is left out);
 * refuses a negative set, which the engine never logs.
 */
export function replayCollector(into: ReplayRecord[]): RecordSink {
  let record: ReplayRecord = { lsn: 0, ops: [] };
  return {
    record(lsn) {
      record = { lsn, ops: [] };
    },
    mutation(kind, key, value) {
      if (kind === RecordKind.set && value < 0) return `set of ${value} is negative`;
      if (record.ops.length === 0) into.push(record);
      record.ops.push({ kind, key: key.slice(), value });
      return undefined;
    },
  };
}

/** What {@link openTrie} opened. */
export interface OpenedTrie {
  trie: Art;
  /** Records loaded into it. */
  loaded: number;
  /** Whether every record was read (some may have failed: they stay stubs). */
  whole: boolean;
}

/**
 * The trie of a freshly opened image: the whole image when `load` allows
 * and its slabs fit the slab cache (read slab by slab, then built in one
 * pass; a record that fails its checks or a slab that fails to read stays
 * a stub), else the root with a stub for everything else.
 */
export async function openTrie(image: ImageFile, load: LoadMode): Promise<OpenedTrie> {
  const header = image.header;
  if (header === undefined || header.rootAddress === 0) {
    return { trie: new Art(), loaded: 0, whole: true };
  }
  if (header.keyCount === 0) {
    throw new CorruptionError(imageFileName, 0, "the image header has a root but no keys");
  }
  const rootAddress = header.rootAddress;
  // An image written before headers recorded a value ceiling bounds nothing.
  const ceiling = header.valueCeiling ?? Number.POSITIVE_INFINITY;
  const whole = load !== "lazy" && await image.cacheAll();
  const built = whole ? buildWhole(image, rootAddress, header.keyCount, ceiling) : undefined;
  if (built !== undefined) return { ...built, whole };
  // Lazy, too big for the slab cache, or the root's slab read badly: the root alone.
  const root = checkedNode(await image.read(rootAddress), rootAddress, ceiling);
  return { trie: Art.fromImage(root, rootAddress, header.keyCount, ceiling), loaded: 0, whole };
}

/**
 * The whole trie from an image whose slabs are all cached, and the records
 * it loaded; undefined if the root's slab is not there (its read failed).
 */
function buildWhole(
  image: ImageFile,
  rootAddress: number,
  keys: number,
  valueCeiling: number,
): { trie: Art; loaded: number } | undefined {
  let loaded = 0;
  const fields = newRecordFields();
  const source = {
    fields,
    fetch: (address: number): Uint8Array | undefined => {
      const bytes = image.cachedFields(address, fields);
      if (bytes !== undefined) loaded++;
      return bytes;
    },
  };
  const trie = Art.fromImageWhole(rootAddress, keys, source, valueCeiling);
  if (trie === undefined) return undefined;
  if (typeof trie === "string") throw new CorruptionError(imageFileName, rootAddress, trie);
  // Every record is in the trie (or, read badly, still a stub that loads on use).
  if (trie.unloaded === 0) image.dropCache();
  return { trie, loaded };
}
