/**
 * The trie's key length limit: the walks size their stacks and buffers by it.
 * The byte helpers the trie shares with the store are in `../_bytes.ts`.
 *
 * @module
 */

/** The longest key the trie holds, so the longest byte string it builds. */
export const KEY_BYTES_MAX = 65_535;
