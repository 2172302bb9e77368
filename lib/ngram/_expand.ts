/**
 * The files an import reads, from the paths a user names: a file is itself;
 * a directory is its data files, sorted by name, because users name the
 * directories Spark, Hadoop and Google's downloads leave:
 *
 * - a job's output: `part-00000`, `part-00001`, ... (any extension) with an
 *   empty `_SUCCESS` beside them once the job finished; without `_SUCCESS`
 *   the job did not finish (or is still writing) and its counts are partial,
 *   so that is an error, not a silent partial import;
 * - any other directory of data files (v2's `googlebooks-*.gz`, v3's
 *   `2-00017-of-00589.gz`): every file.
 *
 * Hidden files (`.part-00000.crc`) and `_`-prefixed ones (`_SUCCESS`,
 * `_committed_*`, `_temporary/`) are never data. A subdirectory is an error
 * (no silent recursion into partitions): name it itself. A directory with no
 * data file is an error too: nothing to import is likely a wrong path.
 *
 * @module
 */

import { fileError, InputPathError } from "./_input_errors.ts";

/** Entries of one directory read at most (a bound on a directory listing held in memory). */
const directoryEntriesMax = 1_000_000;

/** The files of `paths`, each directory expanded; throws for a missing path. */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      throw fileError(path, error);
    }
    if (info.isDirectory) files.push(...await directoryFiles(path));
    else files.push(path);
  }
  return files;
}

/** The data files of the directory `dir`, sorted by name. */
async function directoryFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  let success = false;
  let entries = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (++entries > directoryEntriesMax) {
        throw new RangeError(
          `Cannot read directory ${JSON.stringify(dir)}: it holds more than ` +
            `${directoryEntriesMax} entries; import it in parts`,
        );
      }
      if (entry.name === "_SUCCESS") success = true;
      if (entry.name.startsWith(".") || entry.name.startsWith("_")) continue;
      const path = join(dir, entry.name);
      const isDirectory = entry.isSymlink ? await isDirectoryAt(path) : entry.isDirectory;
      if (isDirectory) {
        throw new InputPathError(
          dir,
          `Cannot read directory ${JSON.stringify(dir)}: it holds the directory ` +
            `${JSON.stringify(entry.name)}, and directories are not read recursively; name ` +
            `${JSON.stringify(path)} itself`,
        );
      }
      names.push(entry.name);
    }
  } catch (error) {
    throw fileError(dir, error);
  }
  const parts = names.filter((name) => name.startsWith("part-"));
  if (parts.length > 0 && !success) {
    throw new InputPathError(
      dir,
      `Cannot read directory ${JSON.stringify(dir)}: it has part files but no _SUCCESS: the job ` +
        `that wrote it did not finish; run it again, or create _SUCCESS if you know its output ` +
        `is whole`,
    );
  }
  const chosen = parts.length > 0 ? parts : names;
  if (chosen.length === 0) {
    throw new InputPathError(
      dir,
      `Cannot read directory ${JSON.stringify(dir)}: it holds no data files (hidden and ` +
        `"_" files are not data)`,
    );
  }
  return chosen.sort(byCodePoints).map((name) => join(dir, name));
}

/** Whether `path` (a symbolic link) leads to a directory. */
async function isDirectoryAt(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    throw fileError(path, error);
  }
}

/** `dir` and `name` joined with one slash. */
function join(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** Compares strings by code points, as byte order of their UTF-8 would. */
function byCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}
