/**
 * Files as imports: a file's identity (the digest of its content), the hash
 * of the format and filters it is read with, and the source the
 * exactly-once import reads (`_import.ts`), from the readers of `read.ts`.
 *
 * @module
 */

import type { ImportSource } from "./_import.ts";
import { hashBytes } from "./_byte_table.ts";
import type { InputFilters, InputFormat, InputSummary, TagPolicy } from "./input.ts";
import { detectFormat, fingerprint, readNgrams } from "./read.ts";

/** How a file is read: its format and the filters. */
export interface FileReading {
  /** The format, or `auto` to detect it from the content (default). */
  format?: InputFormat | "auto";
  /** Only rows of these years are summed (v2, v3). */
  years?: { from: number; to: number };
  /** N-grams whose sum within the file is below this are skipped (default 1: none). */
  minCount?: number;
  /** Part-of-speech tags: `drop` (default) or `keep`. */
  tags?: TagPolicy;
  /** Text: count n-grams of orders 1 to this (default 3). */
  order?: number;
}

/** Progress of one file's reading. */
export interface FileProgress {
  /** Bytes of the stored (compressed) file read so far. */
  fileBytes: number;
  /** Bytes of its decompressed content read so far. */
  contentBytes: number;
  /** Lines read. */
  lines: number;
  /** Rows read. */
  rows: number;
}

/** The text order unless given. */
export const textOrderDefault = 3;

/** The filters of a reading, with defaults. */
export function filtersOf(reading: FileReading): InputFilters {
  return {
    years: reading.years,
    minCount: reading.minCount ?? 1,
    tags: reading.tags ?? "drop",
    order: reading.order ?? textOrderDefault,
  };
}

/**
 * The hash recorded with an import's progress: a resume must read the file
 * the same way (an order counts only for text, years only for v2 and v3).
 */
export function readingHash(format: InputFormat, filters: InputFilters): number {
  const canonical = JSON.stringify({
    format,
    years: (format === "v2" || format === "v3") && filters.years !== undefined
      ? [filters.years.from, filters.years.to]
      : null,
    minCount: filters.minCount,
    tags: filters.tags,
    order: format === "text" ? filters.order : null,
  });
  const bytes = new TextEncoder().encode(canonical);
  return hashBytes(bytes, 0, bytes.length);
}

/** The identity bytes of a hex digest. */
function idBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** A file to import: its source, and what reading it found. */
export interface FileSource {
  /** The source the import reads. */
  source: ImportSource;
  /** The format read (detected or given). */
  format: InputFormat;
  /** The file's identity (hex). */
  digest: string;
}

/** What says a file changed: its size and modification time. */
interface FileStamp {
  size: number;
  mtime: number | undefined;
}

async function stampOf(path: string): Promise<FileStamp> {
  const info = await Deno.stat(path);
  return { size: info.size, mtime: info.mtime?.getTime() };
}

/**
 * Throws unless the file still has the size and modification time it had
 * before its digest was taken: counts read from content the digest does not
 * name would be recorded under the wrong identity. The import calls it
 * before each round of commits.
 */
async function checkUnchanged(path: string, stamp: FileStamp): Promise<void> {
  const now = await stampOf(path);
  if (now.size !== stamp.size || now.mtime !== stamp.mtime) {
    throw new Error(
      `Cannot import "${path}": the file changed while it was imported (size ${stamp.size} → ` +
        `${now.size}); import it again once nothing writes to it`,
    );
  }
}

/** The import source of `path` read as `reading` says, reporting progress to `onProgress`. */
export async function fileSource(
  path: string,
  reading: FileReading,
  onProgress?: (progress: FileProgress) => void,
): Promise<FileSource> {
  const format = reading.format === undefined || reading.format === "auto"
    ? await detectFormat(path)
    : reading.format;
  const filters = filtersOf(reading);
  const stamp = await stampOf(path);
  const digest = await fingerprint(path);
  const source: ImportSource = {
    id: idBytes(digest),
    optionsHash: readingHash(format, filters),
    read: (sink, resumeFrom): Promise<InputSummary> =>
      readNgrams(path, { format, filters, sink, resumeFrom, onProgress }),
    check: () => checkUnchanged(path, stamp),
  };
  return { source, format, digest };
}
