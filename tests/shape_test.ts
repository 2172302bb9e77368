/**
 * The code's shape rules that no linter checks: no file under `lib/` longer
 * than {@link fileLinesMax} lines (a reader must grasp one idea without
 * scrolling through others; split such a file by responsibility). Function
 * length is checked by `deno lint` (`tools/lint/function_length.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";

/** The most lines a file under `lib/` may have. */
const fileLinesMax = 900;
/** Folders a walk descends at most. */
const walkDepthMax = 16;

const libUrl = new URL("../lib/", import.meta.url);

/** The `.ts` files under `dir`, with their paths relative to `lib/`. */
function tsFiles(dir: URL, relative = "", depth = 0): string[] {
  assert.ok(depth <= walkDepthMax, `lib/ is deeper than ${walkDepthMax} folders`);
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${relative}${entry.name}`;
    if (entry.isDirectory) {
      found.push(...tsFiles(new URL(`${entry.name}/`, dir), `${path}/`, depth + 1));
    } else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

Deno.test(`shape: no file under lib/ has more than ${fileLinesMax} lines`, () => {
  const files = tsFiles(libUrl);
  assert.ok(files.length > 50, `found ${files.length} files under lib/`);
  const long = files
    .map((path) => ({
      path,
      lines: Deno.readTextFileSync(new URL(path, libUrl)).split("\n").length,
    }))
    .filter(({ lines }) => lines > fileLinesMax)
    .map(({ path, lines }) => `lib/${path}: ${lines} lines`);
  assert.deepEqual(long, [], "split these files by responsibility");
});
