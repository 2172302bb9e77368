/**
 * Every planted bug of `sim/mutants/` still applies to the code: a patch
 * whose context moved would make `deno task mutants` report it uncaught
 * ("patch does not apply") only when someone runs that long task. This
 * checks each with `git apply --check` in a few seconds, so a change that
 * moves a mutant's context fails the tests until the mutant is regenerated
 * (same bug, new context).
 *
 * @module
 */

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const mutants = new URL("../sim/mutants/", import.meta.url);

Deno.test("mutants: every patch in sim/mutants applies to the code as it is", async () => {
  const patches = [...Deno.readDirSync(mutants)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".patch")).sort();
  assert.ok(patches.length >= 40, `found ${patches.length} mutants`);
  const failing: string[] = [];
  for (const patch of patches) {
    const output = await new Deno.Command("git", {
      args: ["apply", "--check", `sim/mutants/${patch}`],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      failing.push(`${patch}: ${new TextDecoder().decode(output.stderr).trim().split("\n")[0]}`);
    }
  }
  assert.deepEqual(failing, [], "regenerate these against the code (same bug, new context)");
});
