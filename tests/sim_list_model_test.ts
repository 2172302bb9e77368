/**
 * The simulator's own models of keys and lists (`sim/keys.ts`,
 * `sim/list.ts`): byte strings round-trip every byte, the selector model
 * agrees with the engine's `selectorRange`, and the list checks split
 * results into the store's batches and see repeats and disorder.
 */

import assert from "node:assert/strict";
import { prefixEnd, selectorRange } from "../lib/store/keys.ts";
import { listBatchSize } from "../lib/store/_list.ts";
import { bytesOfKey, drawKeySpace, keyArgument, keyOfBytes } from "../sim/keys.ts";
import {
  batchMatches,
  listBatches,
  type ListEntry,
  listShapeProblem,
  selectorKeyRange,
} from "../sim/list.ts";
import { Prng } from "../sim/prng.ts";
import type { SimSelector } from "../sim/workload.ts";

Deno.test("sim keys: every byte round-trips, and byte strings sort in byte order", () => {
  const all = Uint8Array.from({ length: 256 }, (_, byte) => byte);
  const text = keyOfBytes(all);
  assert.equal(text.length, 256);
  for (let byte = 0; byte < 256; byte++) assert.equal(text.charCodeAt(byte), byte);
  assert.deepEqual(bytesOfKey(text), all);
  const keys = ["\xff", "\x00", "a\x00", "a", "\x80", "\x9f", "ab"].sort();
  assert.deepEqual(keys, ["\x00", "a", "a\x00", "ab", "\x80", "\x9f", "\xff"]);
  const long = "\x85".repeat(70_000); // past a String.fromCharCode call, in 0x80..0x9f
  assert.equal(keyOfBytes(bytesOfKey(long)), long);
});

Deno.test("sim keys: a key is passed as its UTF-8 string or as its bytes, never changed", () => {
  const encoder = new TextEncoder();
  for (const key of ["a", "\xc3\xa9", "\xff", "\xf0\x9f\x90\x88", "a\x00b"]) {
    for (let variant = 0; variant < 8; variant++) {
      const passed = keyArgument(key, variant);
      const bytes = typeof passed === "string" ? encoder.encode(passed) : passed;
      assert.equal(keyOfBytes(bytes), key);
    }
  }
  const space = drawKeySpace(3);
  assert.ok(space.hot.length > 0 && space.ascii.length > 0);
});

Deno.test("sim lists: the selector model agrees with the engine's selectorRange", () => {
  const random = new Prng(11);
  const alphabet = ["\x00", "\x01", "a", "b", "\x7f", "\x80", "\xfe", "\xff"];
  const key = (min: number) => {
    let text = "";
    const length = min + random.below(4);
    for (let index = 0; index < length; index++) text += random.pick(alphabet);
    return text;
  };
  for (let trial = 0; trial < 2000; trial++) {
    const shape = random.below(4);
    const selector: SimSelector = shape === 0
      ? { prefix: key(0) }
      : shape === 1
      ? { prefix: key(0), start: key(1) }
      : shape === 2
      ? { prefix: key(0), end: key(1) }
      : { start: key(1), end: key(1) };
    const model = selectorKeyRange(selector);
    const engine = selectorRange(
      Object.fromEntries(
        Object.entries(selector).map(([name, text]) => [name, bytesOfKey(text)]),
      ) as Parameters<typeof selectorRange>[0],
    );
    assert.equal(model.start, keyOfBytes(engine.start), JSON.stringify(selector));
    assert.equal(
      model.end,
      engine.end === undefined ? undefined : keyOfBytes(engine.end),
      JSON.stringify(selector),
    );
  }
  assert.equal(prefixEnd(Uint8Array.of(0xff, 0xff)), undefined);
  assert.equal(selectorKeyRange({ prefix: "\xff\xff" }).end, undefined);
});

const entries = (count: number): ListEntry[] =>
  Array.from({ length: count }, (_, index) => [`k${String(index).padStart(4, "0")}`, index]);

Deno.test("sim lists: a result splits into the store's batches, with an empty one after a full last batch", () => {
  assert.equal(listBatchSize, 256, "the checks below assume 256-entry batches");
  const whole = { start: "", end: undefined };
  assert.equal(listBatches(entries(0), false, Infinity).length, 1);
  assert.equal(listBatches(entries(255), false, Infinity).length, 1);
  const full = listBatches(entries(256), false, Infinity);
  assert.equal(full.length, 2, "a full batch is followed by a read that comes back empty");
  assert.deepEqual(full[1].low, { key: "k0255", inclusive: false });
  assert.equal(full[1].high, undefined);
  assert.equal(listBatches(entries(256), false, 256).length, 1, "the limit ends it");
  const three = listBatches(entries(600), false, Infinity);
  assert.deepEqual(three.map((batch) => batch.entries.length), [256, 256, 88]);
  const state = new Map(entries(600));
  assert.ok(three.every((batch) => batchMatches(state, whole, batch)));
  state.set("k0300", 1); // a write between batches changes the second batch's state only
  assert.ok(batchMatches(state, whole, three[0]) && !batchMatches(state, whole, three[1]));
  const reversed = listBatches([...entries(300)].reverse(), true, Infinity);
  assert.deepEqual(reversed[1].high, { key: "k0044", inclusive: false });
  assert.equal(reversed[1].low, undefined);
});

Deno.test("sim lists: repeats, disorder, range and limit are found", () => {
  const whole = { start: "", end: undefined };
  const list = entries(5);
  assert.equal(listShapeProblem(list, whole, false, 5), undefined);
  assert.match(listShapeProblem(list, whole, false, 4)!, /limit/);
  assert.match(listShapeProblem([...list, list[4]], whole, false, 9)!, /repeats/);
  assert.match(listShapeProblem(list, whole, true, 9)!, /order/);
  assert.equal(listShapeProblem([...list].reverse(), whole, true, 9), undefined);
  assert.match(listShapeProblem(list, { start: "k0001", end: undefined }, false, 9)!, /outside/);
});
