/**
 * The oracle: a model of what the store must hold, and the checks of the
 * durability contract (SPEC §3) against what the engine actually does.
 *
 * The model keeps the state recovered last (`base`, at `baseLsn`) and every
 * write accepted since, in LSN order. A recovered store must equal the base
 * plus a prefix of those writes that holds every acknowledged one (D1, D2),
 * each applied once (D3), batches whole (D4), nothing else (D5); reads must
 * show a state that no later recovery takes back (D11).
 *
 * @module
 */

import { assert } from "../lib/_assert.ts";
import type { SimMutation, SimOp } from "./workload.ts";

/** A broken property, with the steps involved. */
export interface Violation {
  /** D1..D11, or `validation`, `hang`, `error` for engine misbehaviour outside the table. */
  property: string;
  /** One readable sentence. */
  message: string;
  /** Step ids involved, most relevant first. */
  steps: number[];
}

/** A map from key to count. */
export type State = Map<string, number>;

/** How the engine must answer a write. */
export type Verdict = "ok" | "range" | "check";

interface Write {
  lsn: number;
  step: number;
  op: SimOp;
  status: "pending" | "acked" | "failed";
  /** For add: the count it must resolve to. */
  expected: number | undefined;
}

interface ReadObligation {
  step: number;
  what: string;
  /** The smallest LSN whose state explains what the read saw: a recovery must keep it. */
  minLsn: number;
}

/** The most writes kept between two recoveries (bounds memory; a run rebases at each recovery). */
export const writesMax = 1_000_000;

/** The count `mutation` leaves a key at: undefined if absent, null if an add leaves [0, 2^53-1]. */
function mutated(before: number | undefined, mutation: SimMutation): number | undefined | null {
  if (mutation.type === "add") {
    const next = (before ?? 0) + mutation.delta;
    return next < 0 || next > Number.MAX_SAFE_INTEGER ? null : next;
  }
  return mutation.type === "set" ? mutation.value : undefined;
}

/**
 * The verdict for `op` on `state`, and when it is "ok" the counts it changes
 * (undefined: removed). Only the keys `op` names are looked at: a copy of
 * the whole state per write made the oracle a churn run's main cost.
 */
function judge(
  state: State,
  op: SimOp,
): { verdict: Verdict; changed?: Map<string, number | undefined> } {
  const changed = new Map<string, number | undefined>();
  if (op.type === "atomic") {
    for (const check of op.checks) {
      if (state.get(check.key) !== check.value) return { verdict: "check" };
    }
    for (const mutation of op.ops) {
      const before = changed.has(mutation.key)
        ? changed.get(mutation.key)
        : state.get(mutation.key);
      const after = mutated(before, mutation);
      if (after === null) return { verdict: "range" };
      changed.set(mutation.key, after);
    }
    return { verdict: "ok", changed };
  }
  assert(op.type === "add" || op.type === "set" || op.type === "delete", "only writes apply");
  const after = mutated(state.get(op.key), op);
  if (after === null) return { verdict: "range" };
  return { verdict: "ok", changed: changed.set(op.key, after) };
}

/** The verdict for `op` on `state`, applying it when it is "ok". */
export function applyOp(state: State, op: SimOp): Verdict {
  const { verdict, changed } = judge(state, op);
  for (const [key, value] of changed ?? []) {
    if (value === undefined) state.delete(key);
    else state.set(key, value);
  }
  return verdict;
}

function sameState(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

function matchesView(
  state: State,
  view: Map<string, number | undefined>,
  prefix: string | undefined,
): boolean {
  for (const [key, value] of view) if (state.get(key) !== value) return false;
  if (prefix === undefined) return true;
  for (const key of state.keys()) if (key.startsWith(prefix) && !view.has(key)) return false;
  return true;
}

function show(state: State): string {
  return JSON.stringify([...state].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The model and its checks. */
export class Oracle {
  #base: State = new Map();
  #baseLsn = 0;
  #writes: Write[] = [];
  #latest: State = new Map();
  #reads: ReadObligation[] = [];
  /** Every violation found so far. */
  readonly violations: Violation[] = [];
  /** Recoveries that lost acknowledged writes a lost or misdirected disk write explains. */
  excusedLosses = 0;
  /**
   * Recoveries not judged: a misdirected write landed on earlier log bytes,
   * destroying records recovered before (below the base, where the model
   * keeps no history), and the engine could not tell it from a torn tail.
   */
  clobberedRecoveries = 0;

  /** The LSN the next accepted write must get. */
  get nextLsn(): number {
    return this.#baseLsn + this.#writes.length + 1;
  }

  /** The highest acknowledged LSN (or the base). */
  get ackedLsn(): number {
    for (let index = this.#writes.length - 1; index >= 0; index--) {
      if (this.#writes[index].status === "acked") return this.#writes[index].lsn;
    }
    return this.#baseLsn;
  }

  /** Records a violation. */
  violate(property: string, message: string, steps: number[]): void {
    this.violations.push({ property, message, steps });
  }

  /** The verdict the engine must give `op` now (judged with every accepted write). */
  verdict(op: SimOp): Verdict {
    return judge(this.#latest, op).verdict;
  }

  /** The engine accepted `op` as `lsn`: it must be the next LSN and the verdict must have been ok. */
  accepted(step: number, op: SimOp, lsn: number): void {
    assert(this.#writes.length < writesMax, "writes between recoveries stay bounded");
    if (lsn !== this.nextLsn) {
      this.violate("D2", `step ${step} got lsn ${lsn} but lsn ${this.nextLsn} comes next`, [step]);
    }
    const verdict = applyOp(this.#latest, op);
    if (verdict !== "ok") {
      this.violate("validation", `step ${step} was accepted but must be refused (${verdict})`, [
        step,
      ]);
    }
    const expected = op.type === "add" ? this.#latest.get(op.key) : undefined;
    this.#writes.push({ lsn: this.nextLsn, step, op, status: "pending", expected });
  }

  #write(lsn: number): Write {
    const write = this.#writes[lsn - this.#baseLsn - 1];
    assert(write !== undefined && write.lsn === lsn, `lsn ${lsn} is a known write`);
    return write;
  }

  /**
   * The write at `lsn` resolved successfully with `value` (add: the new
   * count). `durable`: the resolution promises durability (strict mode); in
   * relaxed mode it does not, and {@link Oracle.syncedThrough} does.
   */
  acked(lsn: number, value: unknown, durable = true): void {
    const write = this.#write(lsn);
    if (durable) write.status = "acked";
    if (write.op.type === "add" && value !== write.expected) {
      this.violate(
        "validation",
        `step ${write.step} resolved to ${value}, the model says ${write.expected}`,
        [write.step],
      );
    }
  }

  /** A `sync()` called when `lsn` was the newest LSN resolved: every write up to it is durable. */
  syncedThrough(lsn: number): void {
    for (const write of this.#writes) {
      if (write.lsn <= lsn && write.status === "pending") write.status = "acked";
    }
  }

  /** The write at `lsn` was rejected by a storage failure: it may or may not survive. */
  failed(lsn: number): void {
    this.#write(lsn).status = "failed";
  }

  /** The state after the first `lsn` LSNs. */
  stateAt(lsn: number): State {
    assert(lsn >= this.#baseLsn && lsn < this.nextLsn, "a state the model knows");
    const state = new Map(this.#base);
    for (let index = 0; index < lsn - this.#baseLsn; index++) {
      applyOp(state, this.#writes[index].op);
    }
    return state;
  }

  /**
   * Checks a read made when `low` was the acknowledged frontier: `view` (key →
   * value, undefined for absent) must match one state from `low` to the newest
   * write. With `prefix`, the view must also hold every key of that state under
   * the prefix. Records what a later recovery must keep (D11) unless the
   * read is not `durableRead` (relaxed mode shows writes a crash may take back).
   */
  checkRead(
    step: number,
    what: string,
    view: Map<string, number | undefined>,
    low: number,
    prefix?: string,
    durableRead = true,
  ): void {
    assert(low >= this.#baseLsn && low < this.nextLsn, "a read starts at a known lsn");
    const state = this.stateAt(low);
    for (let lsn = low; lsn < this.nextLsn; lsn++) {
      if (lsn > low) applyOp(state, this.#writes[lsn - this.#baseLsn - 1].op);
      if (matchesView(state, view, prefix)) {
        if (durableRead) this.#reads.push({ step, what, minLsn: lsn });
        return;
      }
    }
    this.violate(
      "D11",
      `step ${step} ${what} saw ${
        JSON.stringify([...view])
      }, which no state from the acknowledged lsn ${low} on explains (model at ${low}: ${
        show(this.stateAt(low))
      })`,
      [step],
    );
  }

  /**
   * The store reopened holding `recovered` with `lastLsn` as its last LSN.
   * Checks D1–D5 and the read obligations (D11), then makes it the new base.
   * `clean`: the store was closed cleanly (nothing accepted may be missing).
   * `lostWriteExcused`: the disk silently dropped or misplaced a write since
   * the last recovery, so missing acknowledged writes are excused.
   * `powerLoss`: the machine crashed (otherwise the store was only closed
   * and reopened, which makes nothing more durable).
   */
  recovered(
    step: number,
    recovered: State,
    lastLsn: number,
    clean: boolean,
    lostWriteExcused = false,
    powerLoss = true,
    logClobbered = false,
  ): void {
    let low = clean && !this.#writes.some((w) => w.status === "failed")
      ? this.nextLsn - 1
      : this.ackedLsn;
    if (lostWriteExcused) {
      // The disk acknowledged a write and dropped or misplaced it: a log kept
      // in one copy cannot tell a lost last write from one never made, so
      // acknowledged writes may be missing. What survives must still be a prefix.
      const prefix = this.#matchingPrefix(recovered, this.#baseLsn, lastLsn);
      if (prefix !== undefined && prefix < low) this.excusedLosses++;
      low = this.#baseLsn;
    }
    const prefix = this.#matchingPrefix(recovered, low, lastLsn);
    if (prefix === undefined && logClobbered) {
      this.clobberedRecoveries++; // rebased below, not judged
    } else if (prefix === undefined) {
      this.#explainMismatch(step, recovered, low);
    } else {
      if (prefix !== lastLsn) {
        this.violate(
          "D2",
          `after step ${step} the store holds the state of lsn ${prefix} but its last lsn is ${lastLsn}`,
          [step],
        );
      }
      for (const read of lostWriteExcused ? [] : this.#reads) {
        if (read.minLsn > prefix) {
          this.violate(
            "D11",
            `step ${read.step} ${read.what} saw the state of lsn ${read.minLsn}, but recovery at step ${step} kept only lsn ${prefix}`,
            [read.step, step],
          );
        }
      }
    }
    if (!powerLoss && prefix !== undefined && prefix === lastLsn) {
      // A restart without power loss, clean or not, makes nothing more
      // durable: keep the history (a later power loss may still take back
      // what a dropped or misplaced disk write held), cut only the writes
      // the restart did not keep.
      this.#writes.length = prefix - this.#baseLsn;
      this.#latest = this.stateAt(prefix);
      this.#reads = this.#reads.filter((read) => read.minLsn <= prefix);
      return;
    }
    this.#base = new Map(recovered);
    this.#baseLsn = lastLsn;
    this.#writes = [];
    this.#latest = new Map(recovered);
    this.#reads = [];
  }

  /** The prefix length whose state equals `recovered`, preferring `lastLsn`; undefined if none. */
  #matchingPrefix(recovered: State, low: number, lastLsn: number): number | undefined {
    let found: number | undefined;
    const state = this.stateAt(low);
    for (let lsn = low; lsn < this.nextLsn; lsn++) {
      if (lsn > low) applyOp(state, this.#writes[lsn - this.#baseLsn - 1].op);
      if (sameState(state, recovered)) {
        if (lsn === lastLsn) return lsn;
        found ??= lsn;
      }
    }
    return found;
  }

  #explainMismatch(step: number, recovered: State, low: number): void {
    const state = new Map(this.#base);
    for (let lsn = this.#baseLsn; lsn < low; lsn++) {
      if (lsn > this.#baseLsn) applyOp(state, this.#writes[lsn - this.#baseLsn - 1].op);
      if (sameState(state, recovered)) {
        const lost = this.#writes.filter((w) => w.lsn > lsn && w.status === "acked").map((w) =>
          w.step
        );
        this.violate(
          "D1",
          `recovery at step ${step} lost acknowledged writes (it holds lsn ${lsn}, lsn ${low} was acknowledged)`,
          [step, ...lost],
        );
        return;
      }
    }
    const property = this.#looksDoubled(recovered) ? "D3" : "D5";
    this.violate(
      property,
      `recovery at step ${step} holds ${
        show(recovered)
      }, which no prefix from lsn ${low} explains (model at ${low}: ${show(this.stateAt(low))})`,
      [step],
    );
  }

  /** True if some key's recovered count equals a model count plus one add's delta applied again. */
  #looksDoubled(recovered: State): boolean {
    const latest = this.#latest;
    return this.#writes.some((w) =>
      w.op.type === "add" && recovered.get(w.op.key) === (latest.get(w.op.key) ?? 0) + w.op.delta
    );
  }
}
