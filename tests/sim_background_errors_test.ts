/**
 * The simulator's watch on errors no operation awaits (`sim/background_errors.ts`),
 * which both runners install: each is reported, and none ends the process.
 *
 * @module
 */

import assert from "node:assert/strict";
import { watchBackgroundErrors } from "../sim/background_errors.ts";

Deno.test("background errors: a throw in a queued task and an unawaited rejection are reported", async () => {
  const reported: string[] = [];
  const unwatch = watchBackgroundErrors((message) => reported.push(message));
  try {
    queueMicrotask(() => {
      throw new RangeError("a round's assertion");
    });
    void Promise.reject(new TypeError("a task's rejection"));
    await new Promise((resume) => setTimeout(resume, 10));
  } finally {
    unwatch();
  }
  assert.deepEqual(reported.sort(), [
    "a promise no one awaited rejected: TypeError: a task's rejection",
    "an error in a background task: RangeError: a round's assertion",
  ]);
});
