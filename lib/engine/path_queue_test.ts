import assert from "node:assert/strict";
import { PathQueue, pathQueueBytesMin, queuedPathBytesMax } from "./_path_queue.ts";

/** A path of `length` bytes drawn from `seed`. */
function path(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

Deno.test("PathQueue: first in, first out, across wraps, against an array", () => {
  let state = 7;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const queue = new PathQueue(pathQueueBytesMin);
  const model: Uint8Array[] = [];
  let wraps = 0;
  for (let step = 0; step < 20_000; step++) {
    if (random() < 0.55) {
      // Mostly short paths, now and then one as long as a key and its byte.
      const length = random() < 0.05 ? queuedPathBytesMax : Math.floor(random() * 40);
      const added = path(length, step);
      const before = queue.dropped;
      assert.ok(queue.push(added));
      model.push(added);
      // A full ring drops the oldest entries: the model drops as many.
      model.splice(0, queue.dropped - before);
      wraps += queue.dropped - before;
    } else if (random() < 0.5) {
      assert.deepEqual(queue.shift(), model.shift());
    } else {
      const scratch = new Uint8Array(queuedPathBytesMax);
      const expected = model.shift();
      const view = queue.shift(scratch);
      assert.deepEqual(view === undefined ? undefined : view.slice(), expected);
      assert.ok(view === undefined || view.buffer === scratch.buffer, "a view of the scratch");
    }
    assert.equal(queue.length, model.length);
  }
  assert.ok(wraps > 0, "the test filled the ring");
  for (const expected of model.splice(0)) assert.deepEqual(queue.shift(), expected);
  assert.equal(queue.shift(), undefined);
});

Deno.test("PathQueue: a ring too small for the longest paths is refused", () => {
  assert.throws(() => new PathQueue(pathQueueBytesMin - 1));
});

Deno.test("PathQueue: a path longer than the bound is not queued", () => {
  const queue = new PathQueue(pathQueueBytesMin);
  assert.equal(queue.push(new Uint8Array(queuedPathBytesMax + 1)), false);
  assert.equal(queue.length, 0);
});

Deno.test("PathQueue: an empty path is an entry too", () => {
  const queue = new PathQueue(pathQueueBytesMin);
  queue.push(new Uint8Array(0));
  queue.push(Uint8Array.of(1, 2));
  assert.deepEqual(queue.shift(), new Uint8Array(0));
  assert.deepEqual(queue.shift(), Uint8Array.of(1, 2));
  assert.equal(queue.length, 0);
});
