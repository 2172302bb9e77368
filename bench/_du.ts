/**
 * Bytes on disk of a store's directory, for the benches that report bytes
 * per key (`ngram_bench.ts`, `scale_bench.ts`).
 *
 * @module
 */

/** Bytes of every file under `dir`, its subdirectories' included. */
export async function du(dir: string): Promise<number> {
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    bytes += entry.isDirectory ? await du(path) : (await Deno.stat(path)).size;
  }
  return bytes;
}
