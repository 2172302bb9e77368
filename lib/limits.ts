/**
 * The limits tallytrie puts on what a caller gives it and on what it holds
 * at once, in one place, each with its reason. Every layer that enforces
 * one imports it from here (the WAL's records, the image's records and its
 * verifier, the trie, the store's argument checks), so no copy can drift
 * from another. Limits that follow from a format's bits stay beside the
 * format that fixes them (a ref's offset and a node record's length in
 * `image/node_record.ts`, the arena's int32 refs in `art/_arena.ts`), as do
 * the tuning bounds one module keeps to itself; the table in
 * `docs/ARCHITECTURE.md` lists them all.
 *
 * @example The longest key
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyBytesMax } from "./limits.ts";
 * assert.equal(new Uint8Array(keyBytesMax).length, 65_535);
 * ```
 *
 * @module
 */

/**
 * The longest key in bytes. A WAL record stores a key's length as a u16,
 * so this is the most it can say; the image's records, the trie's
 * prefixes and every walk's explicit stack (one frame per key byte, since
 * no walk recurses over the trie's depth) are bounded by it too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyBytesMax } from "./limits.ts";
 * assert.equal(keyBytesMax, 2 ** 16 - 1);
 * ```
 */
export const keyBytesMax = 65_535;

/**
 * The largest WAL record, header included: one atomic batch is one record,
 * so this bounds a batch's encoding (a larger commit is refused before
 * anything is logged), and recovery takes a longer length field for
 * damage instead of reading that far.
 */
export const walRecordBytesMax = 64 * 1024 * 1024;

/**
 * The most mutations in one batch record (its count field is a u32; this
 * keeps a damaged count from sizing a huge decode).
 */
export const batchOpsMax = 1_000_000;

/**
 * The most checks and mutations one atomic operation takes: its mutations
 * become one batch record, so the batch's bound holds the two together.
 */
export const atomicOpsMax: number = batchOpsMax;

/**
 * The most keys one `getMany` call takes (Deno KV allows 10): one call is
 * answered in one synchronous step, and this bounds that step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getManyKeysMax } from "./limits.ts";
 * assert.equal(getManyKeysMax, 100_000);
 * ```
 */
export const getManyKeysMax = 100_000;

/** LSNs stay at or below 2^53 - 1, so they are exact JavaScript numbers. */
export const lsnMax = Number.MAX_SAFE_INTEGER;

/**
 * Bytes of records that may wait behind a flush in flight before new
 * writes wait for it to end: backpressure, so a writer faster than the
 * disk cannot grow the log's buffer without bound.
 */
export const pendingBytesMax = 32 * 1024 * 1024;
