/**
 * The oracle: a model of what the store must hold, and the checks of the
 * durability contract (SPEC §3; its properties D1–D11 are defined in
 * docs/DURABILITY.md) against what the engine actually does.
 *
 * The model keeps the state recovered last (`base`, at `baseLsn`) and every
 * write accepted since, in LSN order. A recovered store must equal the base
 * plus a prefix of those writes that holds every acknowledged one (D1, D2),
 * each applied once (D3), batches whole (D4), nothing else (D5); reads must
 * show a state that no later recovery takes back (D11).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import { showKey } from "./keys.ts";
import {
  batchMatches,
  inRange,
  type KeyRange,
  listBatches,
  type ListEntry,
  listShapeProblem,
} from "./list.ts";
import {
  passEnds,
  passReach,
  RangeKeys,
  scanClosed,
  scanMismatch,
  type ScanShape,
  scanShapeProblem,
  visitCount,
} from "./scan.ts";
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

/** A map from key (a byte string: one char per byte, see `keys.ts`) to count. */
export type State = Map<string, number>;

/**
 * Why losing the acknowledged records `lost` (recovery kept the prefix up to
 * `prefix`) is the disk's doing, or undefined if it is not (see `excuses.ts`).
 */
export type LossExcuse = (prefix: number, lost: readonly number[]) => string | undefined;

/** What the faults of a power loss excuse in the recovery after it (see `excuses.ts`). */
export interface RecoveryExcuse {
  /** Why losing acknowledged records is the disk's doing. */
  loss: LossExcuse;
  /**
   * Why the recovered state cannot be judged at all (the image open read
   * lies on destroyed bytes, which may hold an older valid record), or undefined.
   */
  unjudgeable: () => string | undefined;
}

/**
 * A recovery that lost acknowledged writes, excused because a fault
 * destroyed their bytes; or one not judged at all, because the image open
 * read lay on destroyed bytes (no LSNs then).
 */
export interface ExcusedLoss {
  /** The step whose recovery it was. */
  step: number;
  /** The acknowledged LSNs lost (empty when the image open read lay on destroyed bytes). */
  lsns: number[];
  /** Which destroyed bytes excuse it. */
  why: string;
  /**
   * The recovered state was not judged, only rebased on: records recovered
   * before were lost too (below the model's base, where it keeps no
   * history), or the image open read lay on destroyed bytes.
   */
  clobbered: boolean;
}

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

/**
 * The verdict for `op` on `state`, applying it when it is "ok" and `apply`
 * is set. An atomic operation is judged on the keys it touches alone, so
 * neither a verdict nor an apply copies the state.
 */
export function applyOp(state: State, op: SimOp, apply = true): Verdict {
  if (op.type === "atomic") {
    for (const check of op.checks) if (state.get(check.key) !== check.value) return "check";
    const touched = new Map<string, number | undefined>();
    for (const mutation of op.ops) {
      const before = touched.has(mutation.key)
        ? touched.get(mutation.key)
        : state.get(mutation.key);
      const after = mutated(before, mutation);
      if (after === "range") return "range";
      touched.set(mutation.key, after);
    }
    if (!apply) return "ok";
    for (const [key, value] of touched) {
      if (value === undefined) state.delete(key);
      else state.set(key, value);
    }
    return "ok";
  }
  assert(op.type === "add" || op.type === "set" || op.type === "delete", "only writes apply");
  const after = mutated(state.get(op.key), op);
  if (after === "range") return "range";
  if (!apply) return "ok";
  if (after === undefined) state.delete(op.key);
  else state.set(op.key, after);
  return "ok";
}

/** The value a mutation leaves on `before` (undefined: absent), or "range" if an add leaves [0, 2^53-1]. */
function mutated(before: number | undefined, mutation: SimMutation): number | undefined | "range" {
  if (mutation.type === "set") return mutation.value;
  if (mutation.type === "delete") return undefined;
  const next = (before ?? 0) + mutation.delta;
  return next < 0 || next > Number.MAX_SAFE_INTEGER ? "range" : next;
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

/** Entries shown in a message at most. */
const shownEntriesMax = 40;

function show(state: State): string {
  const sorted = [...state].sort(([a], [b]) => (a < b ? -1 : 1));
  const shown = sorted.slice(0, shownEntriesMax).map(([key, value]) => `${showKey(key)}=${value}`);
  const more = sorted.length > shownEntriesMax ? `, … ${sorted.length - shownEntriesMax} more` : "";
  return `{${shown.join(", ")}${more}}`;
}

/** The model and its checks. */
export class Oracle {
  #base: State = new Map();
  #baseLsn = 0;
  #writes: Write[] = [];
  #latest: State = new Map();
  #reads: ReadObligation[] = [];
  /**
   * The state {@link Oracle.stateAt} built last, with the write it ends at:
   * valid while that write is still at its place after the same base.
   */
  #stateCache: { base: State; lsn: number; write: Write; state: State } | undefined;
  /** Every violation found so far. */
  readonly violations: Violation[] = [];
  /** Recoveries that lost acknowledged writes whose bytes a fault destroyed. */
  readonly excused: ExcusedLoss[] = [];

  /** The LSN the next accepted write must get. */
  get nextLsn(): number {
    return this.#baseLsn + this.#writes.length + 1;
  }

  /** The keys of the newest state (every accepted write applied), in no order. */
  latestKeys(): string[] {
    return [...this.#latest.keys()];
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
    return applyOp(this.#latest, op, false);
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
    // Start from the state asked for last, if it lies on the way: reads ask
    // for the acknowledged frontier, which only moves forward.
    const cached = this.#stateCache;
    const valid = cached !== undefined && cached.base === this.#base && cached.lsn <= lsn &&
      this.#writes[cached.lsn - this.#baseLsn - 1] === cached.write;
    const from = valid ? cached.lsn : this.#baseLsn;
    const state = new Map(valid ? cached.state : this.#base);
    for (let index = from - this.#baseLsn; index < lsn - this.#baseLsn; index++) {
      applyOp(state, this.#writes[index].op);
    }
    if (lsn > from) {
      const write = this.#writes[lsn - this.#baseLsn - 1];
      this.#stateCache = { base: this.#base, lsn, write, state: new Map(state) };
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
   * Checks a list made when `low` was the acknowledged frontier (see
   * `list.ts`): its order, duplicates, range and limit, then each batch
   * against a state from `low` to the newest write, no older than the
   * batch before it. Records what a later recovery must keep (D11) unless
   * the read is not `durableRead`.
   */
  checkList(
    step: number,
    what: string,
    entries: readonly ListEntry[],
    list: { range: KeyRange; reverse: boolean; limit: number },
    low: number,
    durableRead = true,
  ): void {
    const { range, reverse, limit } = list;
    const problem = listShapeProblem(entries, range, reverse, limit);
    if (problem !== undefined) {
      this.violate("list", `step ${step} ${what} returned ${entries.length} entries: ${problem}`, [
        step,
      ]);
      return;
    }
    assert(low >= this.#baseLsn && low < this.nextLsn, "a read starts at a known lsn");
    const batches = listBatches(entries, reverse, limit);
    const state = this.stateAt(low);
    let matched = 0;
    for (let lsn = low; lsn < this.nextLsn; lsn++) {
      if (lsn > low) applyOp(state, this.#writes[lsn - this.#baseLsn - 1].op);
      while (matched < batches.length && batchMatches(state, range, batches[matched])) matched++;
      if (matched === batches.length) {
        if (durableRead) this.#reads.push({ step, what, minLsn: lsn });
        return;
      }
    }
    this.violate(
      "D11",
      `step ${step} ${what} returned ${entries.length} entries in ${batches.length} batches; ` +
        `batch ${matched} (${
          show(new Map(batches[matched].entries))
        }) matches no state from the acknowledged lsn ${low} on, after the batch before it ` +
        `(model at ${low}: ${show(this.stateAt(low))})`,
      [step],
    );
  }

  /**
   * Checks a scan made when `low` was the acknowledged frontier (see
   * `scan.ts`): the shape of its visits (order, repeats, range, limit, the
   * visitor's stop, the count it `returned`), then that some sequence of
   * passes over states from `low` to the newest write, each no older than
   * the one before, makes exactly those visits. Records what a later
   * recovery must keep (D11) unless the read is not `durableRead`.
   */
  checkScan(
    step: number,
    entries: readonly ListEntry[],
    returned: number,
    shape: ScanShape,
    low: number,
    durableRead = true,
  ): void {
    const problem = scanShapeProblem(entries, returned, shape);
    if (problem !== undefined) {
      this.violate("scan", `step ${step} scan made ${visitCount(entries.length)}: ${problem}`, [
        step,
      ]);
      return;
    }
    assert(low >= this.#baseLsn && low < this.nextLsn, "a read starts at a known lsn");
    const state = this.stateAt(low);
    const keys = new RangeKeys(state, shape.range);
    const closed = scanClosed(entries, shape);
    let position = 0;
    for (let lsn = low; lsn < this.nextLsn; lsn++) {
      if (lsn > low) {
        const op = this.#writes[lsn - this.#baseLsn - 1].op;
        applyOp(state, op);
        keys.update(op, state);
      }
      position = passReach(keys.sorted, state, entries, position, shape.reverse);
      if (
        position === entries.length && (closed || passEnds(keys.sorted, entries, shape.reverse))
      ) {
        if (durableRead) this.#reads.push({ step, what: "scan", minLsn: lsn });
        return;
      }
    }
    const inside = [...this.stateAt(low)].filter(([key]) => inRange(key, shape.range));
    this.violate(
      "D11",
      `step ${step} scan made ${visitCount(entries.length)}, which no sequence of passes over ` +
        `the states from the acknowledged lsn ${low} to lsn ${this.nextLsn - 1} makes: ${
          scanMismatch(entries, position)
        } (model at ${low}, in the range: ${show(new Map(inside))})`,
      [step],
    );
  }

  /**
   * The store reopened holding `recovered` with `lastLsn` as its last LSN.
   * Checks D1–D5 and the read obligations (D11), then makes it the new base.
   * `clean`: the store was closed cleanly (nothing accepted may be missing).
   * `excuse`: after a power loss, says whether lost acknowledged writes had
   * their bytes destroyed by a fault (a log kept in one copy cannot tell a
   * lost write from one never made); what survives must still be a prefix.
   * And whether the image open read lay on destroyed bytes: then a state
   * that fails its judgment is not judged, only rebased on.
   * `powerLoss`: the machine crashed (otherwise the store was only closed
   * and reopened, which makes nothing more durable).
   */
  recovered(
    step: number,
    recovered: State,
    lastLsn: number,
    clean: boolean,
    excuse?: RecoveryExcuse,
    powerLoss = true,
  ): void {
    const broken: Violation[] = [];
    const excusedBefore = this.excused.length;
    let prefix = this.#judgeRecovery(step, recovered, lastLsn, clean, excuse?.loss, broken);
    const why = broken.length > 0 ? excuse?.unjudgeable() : undefined;
    if (why === undefined) {
      this.violations.push(...broken);
    } else {
      // Read from destroyed image bytes (an older record with a valid checksum
      // where the engine wrote a new one): any state may come back.
      this.excused.length = excusedBefore;
      this.excused.push({ step, lsns: [], why, clobbered: true });
      prefix = undefined;
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

  /**
   * Judges a recovered state (D1–D5, D11), adding what it breaks to
   * `broken`; returns the prefix it holds, or undefined if none (or, an
   * excused loss of records recovered before, it was not judged).
   */
  #judgeRecovery(
    step: number,
    recovered: State,
    lastLsn: number,
    clean: boolean,
    excuse: LossExcuse | undefined,
    broken: Violation[],
  ): number | undefined {
    const violate = (property: string, message: string, steps: number[]) =>
      broken.push({ property, message, steps });
    const low = clean && !this.#writes.some((w) => w.status === "failed")
      ? this.nextLsn - 1
      : this.ackedLsn;
    // Writes that change nothing (a delete of an absent key, a set to the
    // value a key holds) leave equal states at the store's last LSN and past
    // it. The last LSN then says which it kept: past the acknowledged
    // frontier, writes were lost (D1, or excused), not a state ahead of its
    // LSN (D2).
    const keptBelow = lastLsn < low && this.#holdsStateOf(recovered, lastLsn);
    let prefix = keptBelow ? undefined : this.#matchingPrefix(recovered, low, lastLsn);
    const loss = prefix === undefined && excuse !== undefined
      ? this.#excusedLoss(step, recovered, lastLsn, excuse)
      : undefined;
    if (loss !== undefined) prefix = loss.clobbered ? undefined : loss.prefix;
    if (loss?.clobbered) {
      // rebased below, not judged
    } else if (prefix === undefined) {
      this.#explainMismatch(step, recovered, low, violate, keptBelow ? lastLsn : undefined);
    } else {
      if (prefix !== lastLsn) {
        violate(
          "D2",
          `after step ${step} the store holds the state of lsn ${prefix} but its last lsn is ${lastLsn}`,
          [step],
        );
      }
      for (const read of loss !== undefined ? [] : this.#reads) {
        if (read.minLsn > prefix) {
          violate(
            "D11",
            `step ${read.step} ${read.what} saw the state of lsn ${read.minLsn}, but recovery at step ${step} kept only lsn ${prefix}`,
            [read.step, step],
          );
        }
      }
    }
    return prefix;
  }

  /**
   * A recovery that kept less than the acknowledged frontier: the prefix it
   * holds (or, `clobbered`, one below the base: records recovered before are
   * gone too), if `excuse` says the lost acknowledged records were destroyed.
   */
  #excusedLoss(
    step: number,
    recovered: State,
    lastLsn: number,
    excuse: LossExcuse,
  ): { prefix: number; clobbered: boolean } | undefined {
    const prefix = this.#matchingPrefix(recovered, this.#baseLsn, lastLsn);
    const below = prefix === undefined && lastLsn < this.#baseLsn;
    if (prefix === undefined && !below) return undefined;
    const kept = prefix ?? lastLsn;
    const lost: number[] = [];
    for (let lsn = kept + 1; lsn <= this.#baseLsn; lsn++) lost.push(lsn); // recovered before
    for (const write of this.#writes) {
      if (write.lsn > kept && write.status === "acked") lost.push(write.lsn);
    }
    const why = lost.length === 0 ? undefined : excuse(kept, lost);
    if (why === undefined) return undefined;
    this.excused.push({ step, lsns: lost, why, clobbered: below });
    return { prefix: kept, clobbered: below };
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

  /** Whether `lsn` is a state the model knows and `recovered` equals it. */
  #holdsStateOf(recovered: State, lsn: number): boolean {
    return lsn >= this.#baseLsn && lsn < this.nextLsn && sameState(this.stateAt(lsn), recovered);
  }

  /** Reports a recovery no prefix from `low` explains; `kept`: the LSN it holds, if known. */
  #explainMismatch(
    step: number,
    recovered: State,
    low: number,
    violate: (property: string, message: string, steps: number[]) => void,
    kept?: number,
  ): void {
    const state = new Map(this.#base);
    for (let lsn = this.#baseLsn; lsn < low; lsn++) {
      if (lsn > this.#baseLsn) applyOp(state, this.#writes[lsn - this.#baseLsn - 1].op);
      if (kept === undefined ? sameState(state, recovered) : lsn === kept) {
        const lost = this.#writes.filter((w) => w.lsn > lsn && w.status === "acked").map((w) =>
          w.step
        );
        violate(
          "D1",
          `recovery at step ${step} lost acknowledged writes (it holds lsn ${lsn}, lsn ${low} was acknowledged)`,
          [step, ...lost],
        );
        return;
      }
    }
    const property = this.#looksDoubled(recovered) ? "D3" : "D5";
    violate(
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
