/**
 * The manifest of an n-gram store: the number of shards and the routing,
 * fixed when the store is created and checked at every open, since a
 * different routing would look for n-grams in the wrong shard.
 *
 * It is written once, atomically: to a temporary file, synced, renamed into
 * place, and the directory synced. A crash before the rename leaves no
 * manifest (the store was not created: the next open creates it); after it,
 * the whole manifest.
 *
 * @module
 */

import type { BlockStorage } from "../../mod.ts";
import { routingName } from "./_keys.ts";

/** The manifest's file name. */
export const manifestName = "ngram.json";
/** The temporary name it is written under before the rename. */
const manifestTempName = "ngram.json.tmp";
/** The manifest's format tag. */
const manifestFormat = "tallytrie-ngram";
/** The manifest's version. */
const manifestVersion = 2;
/** The largest manifest read (it is about 150 bytes). */
const manifestBytesMax = 64 * 1024;

/** What the manifest records. */
export interface Manifest {
  /** The number of shards. */
  shards: number;
  /** The routing of n-grams to shards (see `_keys.ts`). */
  routing: string;
}

/** Reads the manifest; undefined if the store has none (it was never created). */
export async function readManifest(root: BlockStorage): Promise<Manifest | undefined> {
  const names = await root.list();
  if (!names.includes(manifestName)) return undefined;
  const file = await root.open(manifestName);
  let text: string;
  try {
    const size = await file.size();
    if (size > manifestBytesMax) {
      throw new Error(
        `Cannot open the n-gram store: its manifest "${manifestName}" is ${size} bytes, too long to be one`,
      );
    }
    text = new TextDecoder().decode(await file.read(0, size));
  } finally {
    await file.close();
  }
  return parseManifest(text);
}

/** Checks and parses a manifest's text. */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `Cannot open the n-gram store: its manifest "${manifestName}" is not JSON: ${
        (error as Error).message
      }`,
    );
  }
  const fields = value as Record<string, unknown>;
  if (fields === null || typeof fields !== "object" || fields.format !== manifestFormat) {
    throw new Error(
      `Cannot open the n-gram store: "${manifestName}" is not an n-gram store's manifest`,
    );
  }
  if (fields.version === 1) {
    throw new Error(
      `Cannot open the n-gram store: manifest version 1 (a vocabulary in each shard, before ` +
        `2026-12-07) is not ${manifestVersion}; import its files into a new store`,
    );
  }
  if (fields.version !== manifestVersion) {
    throw new Error(
      `Cannot open the n-gram store: manifest version ${fields.version} is not ${manifestVersion}: use the tallytrie version that wrote it`,
    );
  }
  const shards = fields.shards;
  if (typeof shards !== "number" || !Number.isInteger(shards) || shards < 1 || shards > shardsMax) {
    throw new Error(
      `Cannot open the n-gram store: its manifest gives ${shards} shards, not 1 to ${shardsMax}`,
    );
  }
  if (fields.routing !== routingName) {
    throw new Error(
      `Cannot open the n-gram store: its routing "${fields.routing}" is not "${routingName}"`,
    );
  }
  return { shards, routing: routingName };
}

/** The most shards a store may have. */
export const shardsMax = 1024;

/** Writes the manifest atomically (see the module notes). */
export async function writeManifest(root: BlockStorage, manifest: Manifest): Promise<void> {
  const text = JSON.stringify({
    format: manifestFormat,
    version: manifestVersion,
    shards: manifest.shards,
    routing: manifest.routing,
  }) + "\n";
  const file = await root.open(manifestTempName, { create: true });
  try {
    await file.truncate(0);
    await file.write(0, new TextEncoder().encode(text));
    await file.sync();
  } finally {
    await file.close();
  }
  await root.rename(manifestTempName, manifestName);
  await root.syncDir();
}

/** The name of shard `index`'s folder. */
export function shardName(index: number): string {
  return `shard-${String(index).padStart(4, "0")}`;
}
