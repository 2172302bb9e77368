/**
 * Moving a file aside: bytes open found in a file it owns but cannot explain
 * (a WAL segment whose header was written yet fails its checks and that holds
 * no record of the log) are never deleted. The file is renamed to
 * `quarantine-<n>-<its name>` in the same directory, a name no layer of the
 * engine reads, and the rename is made durable before anything is written in
 * the place the file held.
 *
 * A flat name rather than a `quarantine/` directory: a {@link BlockStorage} is
 * one flat namespace (no `/` in names), and a rename inside it is atomic and
 * durable after one directory fsync on every implementation, the simulator's
 * included. A subdirectory would need a new storage operation, a rename across
 * directories and the fsync of two directories.
 *
 * Used by the layers above the storage: the WAL moves a segment aside, the
 * store lists and reports the files moved aside. `mod.ts` does not export it.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { BlockStorage } from "./block_storage.ts";

/** What every quarantined file's name starts with. */
export const quarantinePrefix = "quarantine-";
const quarantinePattern = /^quarantine-(\d{1,15})-(.+)$/;

/** The name a file moved aside gets: `quarantine-<sequence>-<name>`. */
export function quarantineName(sequence: number, name: string): string {
  assert(Number.isSafeInteger(sequence) && sequence >= 1, "a quarantine sequence is positive");
  const moved = `${quarantinePrefix}${sequence}-${name}`;
  assert(parseQuarantineName(moved)?.original === name, "a quarantine name round-trips");
  return moved;
}

/** The sequence number and original name of a quarantined file, or undefined for any other name. */
export function parseQuarantineName(
  name: string,
): { sequence: number; original: string } | undefined {
  const match = quarantinePattern.exec(name);
  if (match === null) return undefined;
  const sequence = Number(match[1]);
  return sequence >= 1 ? { sequence, original: match[2] } : undefined;
}

/** The quarantined files in `names`, in name order. */
export function quarantinedNames(names: readonly string[]): string[] {
  return names.filter((name) => parseQuarantineName(name) !== undefined).sort();
}

/**
 * Renames `name` to the next free quarantine name (one above the highest
 * sequence in the directory) and fsyncs the directory. Returns the new name.
 * A crash before the fsync may bring the old name back: the next open meets
 * the same bytes and moves them aside again.
 */
export async function moveAside(storage: BlockStorage, name: string): Promise<string> {
  const names = await storage.list();
  assert(names.includes(name), "only an existing file is moved aside");
  let highest = 0;
  for (const other of names) {
    highest = Math.max(highest, parseQuarantineName(other)?.sequence ?? 0);
  }
  const moved = quarantineName(highest + 1, name);
  assert(!names.includes(moved), "a quarantine name is new");
  await storage.rename(name, moved);
  await storage.syncDir();
  return moved;
}
