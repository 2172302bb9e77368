/**
 * Atomic operations: checks and mutations committed as one WAL record.
 *
 * @module
 */

import { tooManyArguments } from "../_options.ts";
import type { KeyLike } from "./keys.ts";

/** The result of {@link AtomicOperation.commit}. */
export type CommitResult = { ok: true; lsn: number } | { ok: false };

/** What a store does with a built atomic operation. */
export interface AtomicCommitter {
  /** Validates and commits checks and mutations in one record. */
  commitAtomic(checks: AtomicCheck[], mutations: AtomicMutation[]): Promise<CommitResult>;
}

/** A check: the key's value must equal `value` (undefined: the key must be absent). */
export interface AtomicCheck {
  /** The key checked. */
  key: KeyLike;
  /** The expected value, or undefined for "absent". */
  value: number | undefined;
}

/** A mutation queued in an atomic operation. */
export interface AtomicMutation {
  /** What to do. */
  type: "add" | "set" | "delete";
  /** The key. */
  key: KeyLike;
  /** The delta (add) or value (set); 0 for delete. */
  value: number;
}

/**
 * A set of checks and mutations that commit together, as one WAL record, or
 * not at all. Built by `store.atomic()`; like Deno KV's `AtomicOperation`,
 * with `add` in place of `sum` (it may subtract) and value checks in place of
 * versionstamp checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore, MemoryBlockStorage } from "../../mod.ts";
 * const store = await openStore({ storage: new MemoryBlockStorage() });
 * await store.set("stock", 3);
 * const result = await store.atomic().check("stock", 3).add("stock", -1).add("sold", 1).commit();
 * assert.ok(result.ok && (await store.get("stock")) === 2);
 * await store.close();
 * ```
 */
export class AtomicOperation {
  readonly #store: AtomicCommitter;
  readonly #checks: AtomicCheck[] = [];
  readonly #mutations: AtomicMutation[] = [];
  #committed = false;

  /**
   * Starts an empty operation; use `store.atomic()` rather than this.
   *
   * @param store The store that commits this operation.
   */
  constructor(store: AtomicCommitter) {
    if (arguments.length > 1) {
      throw tooManyArguments("start an atomic operation", "store", arguments.length);
    }
    this.#store = store;
  }

  /**
   * Requires `key` to hold `value` at commit (undefined: to be absent);
   * otherwise the commit writes nothing and resolves to `{ ok: false }`.
   */
  check(key: KeyLike, value: number | undefined): this {
    if (arguments.length > 2) throw tooManyArguments("check", "key, value", arguments.length);
    this.#checks.push({ key, value });
    return this;
  }

  /** Adds `delta` (which may be negative) to the key's value; an absent key counts as 0. */
  add(key: KeyLike, delta: number): this {
    if (arguments.length > 2) throw tooManyArguments("add", "key, delta", arguments.length);
    this.#mutations.push({ type: "add", key, value: delta });
    return this;
  }

  /** Sets the key's value. */
  set(key: KeyLike, value: number): this {
    if (arguments.length > 2) throw tooManyArguments("set", "key, value", arguments.length);
    this.#mutations.push({ type: "set", key, value });
    return this;
  }

  /** Removes the key. */
  delete(key: KeyLike): this {
    if (arguments.length > 1) throw tooManyArguments("delete", "key", arguments.length);
    this.#mutations.push({ type: "delete", key, value: 0 });
    return this;
  }

  /**
   * Checks and writes everything at once. Resolves to `{ ok: true, lsn }` once
   * durable (strict mode) or buffered (relaxed mode), or `{ ok: false }` if a
   * check failed (nothing written).
   *
   * @throws {RangeError} if a mutation would leave a value outside [0, MAX_SAFE_INTEGER]; nothing is written.
   */
  commit(): Promise<CommitResult> {
    if (arguments.length > 0) {
      return Promise.reject(tooManyArguments("commit", "", arguments.length));
    }
    if (this.#committed) {
      return Promise.reject(
        new TypeError("Cannot commit: this atomic operation was already committed"),
      );
    }
    this.#committed = true;
    return this.#store.commitAtomic(this.#checks, this.#mutations);
  }
}
