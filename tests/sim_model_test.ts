/**
 * The simulator's oracle (`sim/model.ts`): how it reads a recovered store
 * against the writes it was given. A recovery is judged by its state and by
 * the last LSN the store reports; where writes change nothing, the state
 * alone cannot tell a lost write from a kept one, and the last LSN decides.
 */

import assert from "node:assert/strict";
import { applyOp, Oracle, type RecoveryExcuse, type State } from "../sim/model.ts";
import type { SimOp } from "../sim/workload.ts";

/** An oracle given `ops` as LSNs 1.., each acknowledged (strict) at step = its LSN. */
function oracleWith(ops: SimOp[]): Oracle {
  const oracle = new Oracle();
  const state: State = new Map();
  ops.forEach((op, index) => {
    const lsn = index + 1;
    oracle.accepted(lsn, op, lsn);
    applyOp(state, op);
    oracle.acked(lsn, op.type === "add" ? state.get(op.key) : undefined);
  });
  return oracle;
}

const setA: SimOp = { type: "set", key: "a", value: 1 };
const deleteAbsent: SimOp = { type: "delete", key: "b" };
const kept: State = new Map([["a", 1]]);

/** Destroyed bytes explain nothing. */
const noExcuse: RecoveryExcuse = { loss: () => undefined, unjudgeable: () => undefined };

Deno.test("oracle: an acknowledged write that changed nothing, lost with its destroyed bytes, is excused", () => {
  // Regression (sim seed 11763, hostile): lsn 37, a delete of an absent key,
  // was acknowledged, then a misdirected write destroyed its record. Recovery
  // rightly kept lsn 36. The state at 36 equals the state at 37, so the
  // oracle took the store for holding lsn 37 under a last lsn of 36 (D2) and
  // never asked whether destroyed bytes excused the loss.
  const oracle = oracleWith([setA, deleteAbsent]);
  const asked: { prefix: number; lost: readonly number[] }[] = [];
  oracle.recovered(3, kept, 1, false, {
    loss: (prefix, lost) => {
      asked.push({ prefix, lost });
      return "bytes of record 2 were destroyed";
    },
    unjudgeable: () => undefined,
  });
  assert.deepEqual(oracle.violations, []);
  assert.deepEqual(asked, [{ prefix: 1, lost: [2] }]);
  assert.equal(oracle.excused.length, 1);
  assert.deepEqual(oracle.excused[0].lsns, [2]);
  assert.equal(oracle.nextLsn, 2, "the model rebases on the lsn the store kept");
});

Deno.test("oracle: an acknowledged write that changed nothing, lost with no excuse, is D1", () => {
  const oracle = oracleWith([setA, deleteAbsent]);
  oracle.recovered(3, kept, 1, false, noExcuse);
  assert.deepEqual(oracle.violations.map((violation) => violation.property), ["D1"]);
  assert.match(oracle.violations[0].message, /it holds lsn 1, lsn 2 was acknowledged/);
});

Deno.test("oracle: a clean restart that lost an acknowledged write which changed nothing is D1", () => {
  const oracle = oracleWith([setA, deleteAbsent]);
  oracle.recovered(3, kept, 1, true, undefined, false);
  assert.deepEqual(oracle.violations.map((violation) => violation.property), ["D1"]);
});

Deno.test("oracle: a store whose state is ahead of its last lsn is still D2", () => {
  // The state of lsn 2 differs from that of lsn 1: a last lsn of 1 is wrong.
  const oracle = oracleWith([setA, { type: "add", key: "a", delta: 5 }]);
  oracle.recovered(3, new Map([["a", 6]]), 1, false, {
    loss: () => "an excuse never asked for",
    unjudgeable: () => undefined,
  });
  assert.deepEqual(oracle.violations.map((violation) => violation.property), ["D2"]);
  assert.equal(oracle.excused.length, 0);
});

Deno.test("oracle: a recovery that kept every write, the last changing nothing, passes", () => {
  const oracle = oracleWith([setA, deleteAbsent]);
  oracle.recovered(3, kept, 2, false, noExcuse);
  assert.deepEqual(oracle.violations, []);
  assert.equal(oracle.nextLsn, 3);
});
