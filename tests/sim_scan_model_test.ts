/**
 * The simulator's check of `Store.scan` (`sim/scan.ts`, `Oracle.checkScan`):
 * a scan's visits must be what some sequence of passes over the model's
 * states gives, each no older than the one before; its shape (order,
 * repeats, range, limit, the visitor's stop, the count it returns) is
 * checked first.
 */

import assert from "node:assert/strict";
import type { ListEntry } from "../sim/list.ts";
import { applyOp, Oracle, type State } from "../sim/model.ts";
import { passEnds, passReach, RangeKeys, type ScanShape } from "../sim/scan.ts";
import type { SimOp } from "../sim/workload.ts";

const key = (index: number) => `k${index}`;
const whole = { start: "", end: undefined };
const forward: ScanShape = {
  range: whole,
  reverse: false,
  limit: Infinity,
  stopAfter: undefined,
};

/**
 * An oracle holding k0..k9 = 0..9 (LSNs 1..10, acknowledged), then `pending`
 * accepted as LSNs 11.. and not yet acknowledged: the scan's window.
 */
function oracleWith(pending: SimOp[]): Oracle {
  const oracle = new Oracle();
  const state: State = new Map();
  for (let index = 0; index < 10; index++) {
    const op: SimOp = { type: "set", key: key(index), value: index };
    oracle.accepted(index + 1, op, index + 1);
    applyOp(state, op);
    oracle.acked(index + 1, undefined);
  }
  pending.forEach((op, index) => oracle.accepted(11 + index, op, 11 + index));
  return oracle;
}

/** The entries of k0..k9 as acknowledged, with `changes` (undefined: deleted). */
function visits(changes: Record<string, number | undefined> = {}): ListEntry[] {
  const entries: ListEntry[] = [];
  for (let index = 0; index < 10; index++) {
    const value = key(index) in changes ? changes[key(index)] : index;
    if (value !== undefined) entries.push([key(index), value]);
  }
  return entries;
}

/** The properties a scan of `entries` breaks (returned: the visits, unless given). */
function judge(
  oracle: Oracle,
  entries: ListEntry[],
  shape: Partial<ScanShape> = {},
  returned = entries.length,
): string[] {
  oracle.checkScan(1, entries, returned, { ...forward, ...shape }, 10);
  return oracle.violations.map((violation) => `${violation.property}: ${violation.message}`);
}

const setK7: SimOp = { type: "set", key: "k7", value: 70 };
const deleteK2: SimOp = { type: "delete", key: "k2" };

Deno.test("sim scans: with no write in the window, the visits are the state, exactly", () => {
  assert.deepEqual(judge(oracleWith([]), visits()), []);
  assert.match(judge(oracleWith([]), visits({ k7: 70 }))[0], /^D11: .*visit 7 \(k7=70\)/);
  assert.match(judge(oracleWith([]), visits({ k4: undefined }))[0], /^D11: .*visit 4 \(k5=5\)/);
  const short = visits().slice(0, 6);
  assert.match(judge(oracleWith([]), short)[0], /^D11: .*ended after 6 visits/);
  const reversed = [...visits()].reverse();
  assert.deepEqual(judge(oracleWith([]), reversed, { reverse: true }), []);
  assert.match(judge(oracleWith([]), reversed.slice(0, 9), { reverse: true })[0], /ended after 9/);
});

Deno.test("sim scans: passes may see newer states, one after the other, split anywhere", () => {
  // Before both writes, after both, and split between them: k0..k6 before, k7 after set.
  assert.deepEqual(judge(oracleWith([setK7, deleteK2]), visits()), []);
  assert.deepEqual(judge(oracleWith([setK7, deleteK2]), visits({ k7: 70, k2: undefined })), []);
  assert.deepEqual(judge(oracleWith([setK7, deleteK2]), visits({ k7: 70 })), []);
  // k2 gone (after lsn 12) but k7 old (before lsn 11): a later pass saw an older state.
  const backwards = judge(oracleWith([setK7, deleteK2]), visits({ k2: undefined }));
  assert.match(backwards[0], /^D11: .*visit 6 \(k7=7\)/);
  // Reversed, k7 comes first: its old value, then k2 gone, is older then newer.
  const reversed = [...visits({ k2: undefined })].reverse();
  assert.deepEqual(judge(oracleWith([setK7, deleteK2]), reversed, { reverse: true }), []);
  // k7 new (lsn 12) before k2 still there (before lsn 11): backwards.
  const mixed = [...visits({ k7: 70 })].reverse();
  assert.match(judge(oracleWith([deleteK2, setK7]), mixed, { reverse: true })[0], /^D11/);
});

Deno.test("sim scans: a repeat, disorder, a visit past the stop or the limit, a wrong count", () => {
  const all = visits();
  assert.match(judge(oracleWith([]), [...all.slice(0, 4), all[3], ...all.slice(4)])[0], /repeats/);
  assert.match(judge(oracleWith([]), [all[1], all[0]])[0], /^scan: .*order/);
  assert.match(judge(oracleWith([]), all.slice(0, 4), { stopAfter: 3 })[0], /returned false/);
  assert.deepEqual(judge(oracleWith([]), all.slice(0, 3), { stopAfter: 3 }), []);
  assert.match(judge(oracleWith([]), all.slice(0, 2), { stopAfter: 3 })[0], /ended after 2/);
  assert.deepEqual(judge(oracleWith([]), all.slice(0, 5), { limit: 5 }), []);
  assert.match(judge(oracleWith([]), all.slice(0, 6), { limit: 5 })[0], /limit/);
  assert.match(judge(oracleWith([]), all, {}, 9)[0], /returned 9 for 10 visits/);
  const range = { start: "k3", end: "k6" };
  assert.deepEqual(judge(oracleWith([]), all.slice(3, 6), { range }), []);
  assert.match(judge(oracleWith([]), all.slice(2, 6), { range })[0], /outside/);
});

Deno.test("sim scans: one pass matches as far as its state goes, from wherever it resumes", () => {
  const state: State = new Map(visits());
  const keys = new RangeKeys(state, whole);
  const entries = visits({ k7: 70 });
  assert.equal(passReach(keys.sorted, state, entries, 0, false), 7);
  assert.equal(passReach(keys.sorted, state, entries, 4, false), 7);
  state.set("k7", 70);
  keys.update(setK7, state);
  assert.equal(passReach(keys.sorted, state, entries, 7, false), 10);
  assert.ok(passEnds(keys.sorted, entries, false));
  state.set("k95", 1); // a key after the last visit: the scan ended too soon for this state
  keys.update({ type: "add", key: "k95", delta: 1 }, state);
  assert.ok(!passEnds(keys.sorted, entries, false));
  assert.deepEqual(keys.sorted, [...state.keys()].sort());
});
