/**
 * Model-based test of the store: random concurrent rounds of adds, sets,
 * deletes, atomics with checks, reads, lists and reopens, in both durability
 * modes, against a plain Map.
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { type Durability, MemoryBlockStorage, openStore, type Store } from "../mod.ts";

type Op =
  | { type: "add"; key: string; delta: number }
  | { type: "set"; key: string; value: number }
  | { type: "delete"; key: string }
  | { type: "atomic"; check?: { key: string; value: number | undefined }; ops: Op[] };

const key = fc.stringMatching(/^[ab]{1,3}$/);
const single: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("add" as const),
      key,
      delta: fc.integer({ min: -3, max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("set" as const), key, value: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("delete" as const), key }) },
);
const atomic: fc.Arbitrary<Op> = fc.record({
  type: fc.constant("atomic" as const),
  check: fc.option(fc.record({ key, value: fc.option(fc.nat(9), { nil: undefined }) }), {
    nil: undefined,
  }),
  ops: fc.array(single, { minLength: 0, maxLength: 4 }),
});
/** A round: ops submitted in one tick (one group), then maybe a reopen. */
const round = fc.record({
  ops: fc.array(fc.oneof(single, atomic), { minLength: 1, maxLength: 6 }),
  reopen: fc.boolean(),
});

type Model = Map<string, number>;

type Verdict = "ok" | "range" | "check";

/** Applies `op` to `model` as the store must, or leaves the model alone and says why the op is refused. */
function applyModel(model: Model, op: Op): Verdict {
  if (op.type === "atomic") {
    if (op.check && model.get(op.check.key) !== op.check.value) return "check";
    const copy = new Map(model);
    for (const inner of op.ops) if (applyModel(copy, inner) !== "ok") return "range";
    model.clear();
    for (const [k, v] of copy) model.set(k, v);
    return "ok";
  }
  if (op.type === "add") {
    const next = (model.get(op.key) ?? 0) + op.delta;
    if (next < 0) return "range";
    model.set(op.key, next);
  } else if (op.type === "set") model.set(op.key, op.value);
  else model.delete(op.key);
  return "ok";
}

function submit(store: Store, op: Op): Promise<unknown> {
  if (op.type === "add") return store.add(op.key, op.delta);
  if (op.type === "set") return store.set(op.key, op.value);
  if (op.type === "delete") return store.delete(op.key);
  const builder = store.atomic();
  if (op.check) builder.check(op.check.key, op.check.value);
  for (const inner of op.ops) {
    if (inner.type === "add") builder.add(inner.key, inner.delta);
    else if (inner.type === "set") builder.set(inner.key, inner.value);
    else if (inner.type === "delete") builder.delete(inner.key);
  }
  return builder.commit();
}

/** Checks that the store's promise settles as the model's verdict says. */
async function expectOutcome(
  promise: Promise<unknown>,
  op: Op,
  verdict: Verdict,
  value: number | undefined,
): Promise<void> {
  if (verdict === "range") return void (await assert.rejects(promise, RangeError));
  const result = await promise;
  if (op.type === "atomic") assert.equal((result as { ok: boolean }).ok, verdict === "ok");
  else if (op.type === "add") assert.equal(result, value);
}

async function compare(store: Store, model: Model): Promise<void> {
  const listed: [string, number][] = [];
  const decoder = new TextDecoder();
  for await (const entry of store.list({ prefix: "" })) {
    listed.push([decoder.decode(entry.key), entry.value]);
  }
  const expected = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual(listed, expected);
  const keys = ["a", "b", "aa", "bb", "aba"];
  assert.deepEqual(await store.getMany(keys), keys.map((k) => model.get(k)));
}

async function runRounds(
  durability: Durability,
  rounds: { ops: Op[]; reopen: boolean }[],
): Promise<void> {
  const storage = new MemoryBlockStorage();
  let store = await openStore({ storage, durability });
  const model: Model = new Map();
  try {
    for (const { ops, reopen } of rounds) {
      const outcomes: Promise<void>[] = [];
      for (const op of ops) {
        const verdict = applyModel(model, op);
        const value = op.type === "add" ? model.get(op.key) : undefined;
        outcomes.push(expectOutcome(submit(store, op), op, verdict, value));
      }
      await Promise.all(outcomes);
      if (durability === "relaxed") await store.sync();
      await compare(store, model);
      if (reopen) {
        await store.close();
        store = await openStore({ storage, durability });
        await compare(store, model);
      }
    }
  } finally {
    await store.close();
  }
}

for (const durability of ["strict", "relaxed"] as const) {
  Deno.test(`model: random concurrent rounds with reopens match a Map (${durability})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(round, { minLength: 1, maxLength: 12 }),
        (rounds) => runRounds(durability, rounds),
      ),
      { numRuns: 150 },
    );
  });
}
