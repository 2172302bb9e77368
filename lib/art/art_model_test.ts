/**
 * Property tests of the trie against a `Map` model: random edits over
 * small and large alphabets, nodes growing to Node256 and shrinking back.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { Art } from "./art.ts";

/** The reference: a Map from a byte-string encoding of the key to its value. */
class Model {
  readonly map = new Map<string, number>();

  static encode(key: Uint8Array): string {
    return String.fromCharCode(...key);
  }

  static decode(text: string): Uint8Array {
    return Uint8Array.from(text, (char) => char.charCodeAt(0));
  }

  /** Entries in the range, in byte order (JS string order on byte strings is byte order). */
  entries(start?: Uint8Array, end?: Uint8Array, reverse = false): [string, number][] {
    const low = start === undefined ? undefined : Model.encode(start);
    const high = end === undefined ? undefined : Model.encode(end);
    const all = [...this.map.entries()]
      .filter(([key]) => (low === undefined || key >= low) && (high === undefined || key < high))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return reverse ? all.reverse() : all;
  }
}

type Op =
  | { op: "set"; key: Uint8Array; value: number }
  | { op: "add"; key: Uint8Array; delta: number }
  | { op: "sub"; key: Uint8Array; delta: number }
  | { op: "delete"; key: Uint8Array }
  | { op: "get"; key: Uint8Array }
  | { op: "relocate" }
  | { op: "entries"; start?: Uint8Array; end?: Uint8Array; reverse: boolean; limit: number };

function opArbitrary(key: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Op> {
  const bound = fc.option(key, { nil: undefined, freq: 3 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant("set" as const), key, value: fc.nat() }) },
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant("add" as const), key, delta: fc.nat(1000) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("sub" as const), key, delta: fc.nat(5) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("get" as const), key }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("relocate" as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("entries" as const),
        start: bound,
        end: bound,
        reverse: fc.boolean(),
        limit: fc.nat(20),
      }),
    },
  );
}

function checkEntries(art: Art, model: Model, op: Extract<Op, { op: "entries" }>): void {
  const expected = model.entries(op.start, op.end, op.reverse);
  const actual = [...art.entries({ start: op.start, end: op.end, reverse: op.reverse })];
  assert.deepEqual(actual.map(([key, value]) => [Model.encode(key), value]), expected);
  checkVisits(art, op, expected);
  // Resume the way the store does: re-seek after the `limit`-th key.
  if (op.limit === 0 || op.limit >= expected.length) return;
  const last = Model.decode(expected[op.limit - 1][0]);
  const resumed = op.reverse
    ? art.entries({ start: op.start, end: last, reverse: true })
    : art.entries({ start: Uint8Array.of(...last, 0), end: op.end });
  assert.deepEqual(
    [...resumed].map(([key, value]) => [Model.encode(key), value]),
    expected.slice(op.limit),
  );
}

/** `visitRange` visits what `entries` yields: up to a limit, and up to a visit that says stop. */
function checkVisits(
  art: Art,
  op: Extract<Op, { op: "entries" }>,
  expected: [string, number][],
): void {
  const range = { start: op.start, end: op.end, reverse: op.reverse };
  const limit = op.limit === 0 ? expected.length + 1 : op.limit;
  const visited: [string, number][] = [];
  const count = art.visitRange(range, limit, (key, value) => {
    visited.push([Model.encode(key), value]);
  });
  assert.deepEqual(visited, expected.slice(0, limit));
  assert.equal(count, visited.length);
  if (expected.length === 0) return;
  const stopAfter = op.limit % expected.length;
  const seen: [string, number][] = [];
  const stopped = art.visitRange(range, expected.length + 1, (key, value) => {
    seen.push([Model.encode(key), value]);
    return seen.length <= stopAfter;
  });
  assert.deepEqual(seen, expected.slice(0, stopAfter + 1));
  assert.equal(stopped, stopAfter + 1);
}

function apply(art: Art, model: Model, op: Op): void {
  const key = op.op === "entries" || op.op === "relocate" ? "" : Model.encode(op.key);
  const old = model.map.get(key);
  switch (op.op) {
    case "set":
      art.set(op.key, op.value);
      model.map.set(key, op.value);
      break;
    case "add":
      assert.equal(art.add(op.key, op.delta), (old ?? 0) + op.delta);
      model.map.set(key, (old ?? 0) + op.delta);
      break;
    case "sub":
      if (old === undefined) break; // a negative delta on an absent key is a caller bug
      assert.equal(art.add(op.key, -Math.min(old, op.delta)), old - Math.min(old, op.delta));
      model.map.set(key, old - Math.min(old, op.delta));
      break;
    case "delete":
      assert.equal(art.delete(op.key), model.map.delete(key));
      break;
    case "get":
      assert.equal(art.get(op.key), old);
      break;
    case "relocate": {
      const live = art.memory().liveBytes;
      assert.equal(art.relocate(), true);
      assert.equal(art.memory().liveBytes, live);
      assert.equal(art.memory().freeBytes, 0);
      break;
    }
    case "entries":
      checkEntries(art, model, op);
      break;
  }
  assert.equal(art.size, model.map.size);
}

function run(ops: Op[]): void {
  const art = new Art();
  const model = new Model();
  for (const op of ops) {
    apply(art, model, op);
    art.verify();
  }
  checkEntries(art, model, { op: "entries", reverse: false, limit: 0 });
  checkEntries(art, model, { op: "entries", reverse: true, limit: 0 });
  for (const key of [...model.map.keys()]) {
    assert.equal(art.delete(Model.decode(key)), true);
    art.verify();
  }
  assert.equal(art.size, 0);
}

/** Keys over a tiny alphabet (including 0x00 and 0xff) so prefixes collide constantly. */
const smallKey = fc
  .array(fc.constantFrom(0x00, 0x01, 0x61, 0x62, 0xff), { maxLength: 12, size: "max" })
  .map((bytes) => Uint8Array.from(bytes));

/** 0..4 bytes from 60 values: every node kind, with compressed paths below wide nodes. */
const midKey = fc
  .array(fc.integer({ min: 0x20, max: 0x5b }), { maxLength: 4, size: "max" })
  .map((bytes) => Uint8Array.from(bytes));

/** Short random keys: wide fan-out, so Node48 and Node256 appear and shrink again. */
const wideKey = fc.uint8Array({ minLength: 0, maxLength: 3 });

Deno.test("Art matches a Map model: small alphabet, keys 0..12 bytes", () => {
  fc.assert(fc.property(fc.array(opArbitrary(smallKey), { maxLength: 200, size: "max" }), run), {
    numRuns: 4000,
  });
});

Deno.test("Art matches a Map model: random bytes, large fan-out", () => {
  fc.assert(
    fc.property(
      fc.array(opArbitrary(wideKey), { minLength: 200, maxLength: 700, size: "max" }),
      run,
    ),
    {
      numRuns: 100,
    },
  );
});

Deno.test("Art matches a Map model: 60-byte alphabet, keys 0..4 bytes", () => {
  const ops = fc.array(opArbitrary(midKey), { minLength: 300, maxLength: 800, size: "max" });
  fc.assert(fc.property(ops, run), { numRuns: 40 });
});

Deno.test("Art matches a Map model: grows to Node256 and shrinks back by deletes", () => {
  const bulk = fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 50, maxLength: 256 });
  fc.assert(
    fc.property(
      bulk,
      fc.array(opArbitrary(wideKey), { maxLength: 100, size: "max" }),
      (bytes, ops) => {
        const inserts: Op[] = bytes.flatMap((byte) => [
          { op: "set" as const, key: Uint8Array.of(7, byte), value: byte },
          { op: "set" as const, key: Uint8Array.of(7, byte, byte), value: byte },
        ]);
        const deletes: Op[] = bytes.map((byte) => ({
          op: "delete" as const,
          key: Uint8Array.of(7, byte),
        }));
        run([...inserts, ...ops, ...deletes]);
      },
    ),
    { numRuns: 100 },
  );
});
