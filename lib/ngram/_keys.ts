/**
 * How an n-gram store lays its data out in the keys of one shard (a
 * tallytrie store), and how it routes an n-gram to its shard.
 *
 * A shard's key space has two parts, told apart by the first byte:
 *
 * - `1`..`64`: an n-gram of that order, then each token's id in the store's
 *   vocabulary as LEB128 (`the cat` → `[2, id("the"), id("cat")]`). The ids
 *   are prefix free, so the keys of a history's continuations are exactly
 *   the keys that start with `[order + 1, ...ids(history)]`.
 * - `0x00`: bookkeeping: the progress of each input file (see `_import.ts`),
 *   and per order the total of the counts and the number of n-grams.
 *
 * The vocabulary is a store of its own (`_vocabulary.ts`): `[0xfe,
 * ...utf8(word)]` → its id, ids given in the order words first reach the
 * store, from 0.
 *
 * Word ids rather than the words themselves: measured on 500,000 bigrams of
 * a 40,000-word Zipf vocabulary, 6.4 bytes a key on disk after compaction
 * against 12.6 for UTF-8 keys (`/tmp` experiment in the log of issue 16).
 *
 * @module
 */

/** The most tokens in an n-gram (an order is one key byte; Google's go to 5). */
export const orderMax = 64;
/** First byte of a vocabulary entry. */
export const wordKeyByte = 0xfe;
/** First byte of a bookkeeping key. */
export const metaKeyByte = 0x00;
/** Bytes of a LEB128 id at most (ids stay below 2^35). */
export const idBytesMax = 5;

/** The bookkeeping kinds, the byte after {@link metaKeyByte}. */
export const metaKind = {
  /** `[0, "p", ...fileId]`: content bytes of the file whose rows are counted in this shard. */
  progress: 0x70,
  /** `[0, "d", ...fileId]`: present once the whole file is counted in this shard. */
  done: 0x64,
  /** `[0, "o", ...fileId]`: a hash of the import's format and filters. */
  options: 0x6f,
  /** `[0, "t", order]`: the total of the counts of that order. */
  total: 0x74,
  /** `[0, "n", order]`: the number of distinct n-grams of that order. */
  distinct: 0x6e,
} as const;

/** A bookkeeping key about a file: `[0, kind, ...fileId]`. */
export function fileKey(kind: number, fileId: Uint8Array): Uint8Array {
  const key = new Uint8Array(2 + fileId.length);
  key[0] = metaKeyByte;
  key[1] = kind;
  key.set(fileId, 2);
  return key;
}

/** A bookkeeping key about an order: `[0, kind, order]`. */
export function orderKey(kind: number, order: number): Uint8Array {
  return Uint8Array.of(metaKeyByte, kind, order);
}

/** Writes `id` as LEB128 at `out[at]`; returns the end. */
export function writeId(out: Uint8Array, at: number, id: number): number {
  let rest = id;
  while (rest >= 0x80) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[at++] = rest;
  return at;
}

/** Where {@link readId} leaves its results. */
export const idRead = { id: 0, end: 0 };

/** Reads a LEB128 id at `bytes[at]` into {@link idRead}; false if it runs past `end`. */
export function readId(bytes: Uint8Array, at: number, end: number): boolean {
  let id = 0;
  let scale = 1;
  for (let i = 0; i < idBytesMax && at < end; i++) {
    const byte = bytes[at++];
    id += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      idRead.id = id;
      idRead.end = at;
      return true;
    }
    scale *= 128;
  }
  return false;
}

/**
 * FNV-1a (32 bits) over UTF-8 bytes is both the routing hash of a first token
 * (`hashBytes`, recorded in the manifest as {@link routingName}: changing it
 * would move every n-gram, so it never changes for a store) and the hash of
 * the vocabularies' and chunks' tables. Hot loops fold it in as they scan.
 */
/** FNV-1a's 32-bit offset basis. */
export const fnvBasis = 0x811c9dc5;
/** FNV-1a's 32-bit prime. */
export const fnvPrime = 0x01000193;

/** The routing's name in the manifest. */
export const routingName = "fnv1a32-first-token";
