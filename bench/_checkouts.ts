// deno-lint-ignore-file no-console
/**
 * What the benches that compare this checkout with another (`--baseline
 * DIR`, a `git archive` of an earlier commit) share: the checkouts by label,
 * and a worker process's turn (`--worker ROOT`: one run with that
 * checkout, its result printed as one JSON line).
 *
 * @module
 */

/**
 * The checkouts a bench runs, by label: this one (`"this"`) and, if given,
 * `baseline` (`"baseline"`), each as a directory without a trailing slash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkoutRoots } from "./_checkouts.ts";
 * assert.deepEqual([...checkoutRoots("/tmp/base/").keys()], ["this", "baseline"]);
 * assert.equal(checkoutRoots("/tmp/base/").get("baseline"), "/tmp/base");
 * ```
 */
export function checkoutRoots(baseline: string | undefined): Map<string, string> {
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const roots = new Map([["this", here]]);
  if (baseline !== undefined) roots.set("baseline", baseline.replace(/\/$/, ""));
  return roots;
}

/**
 * In a worker process (`worker` set): runs `run` and prints its result as
 * one JSON line; true if it did (the caller then returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerTurn } from "./_checkouts.ts";
 * assert.equal(await workerTurn(undefined, () => Promise.resolve(1)), false);
 * ```
 */
export async function workerTurn<T>(
  worker: string | undefined,
  run: () => Promise<T>,
): Promise<boolean> {
  if (worker === undefined) return false;
  console.log(JSON.stringify(await run()));
  return true;
}
