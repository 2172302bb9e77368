/**
 * Writes waiting for their keys' paths to load from the image. A write is
 * judged against the trie, so every node on its key's path must be in
 * memory first; a path in cached slabs loads at once, one that needs a
 * read makes the write wait here.
 *
 * What it promises: loads start at once, but writes are judged and logged
 * in the order they were made: while any write waits, every later one
 * queues behind it (even one whose path is loaded). The queue moves on once
 * a write is appended, not once it is durable.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import type { Loader } from "./_loader.ts";
import type { Pins } from "./_pins.ts";

/** The writes of one store that wait for loads, in order. */
export class WriteQueue {
  readonly #loader: Pick<Loader, "loadPathNow" | "loadPath">;
  /** A queued write pins its keys until appended: no eviction takes a path it loaded. */
  readonly #pins: Pins;
  /** Writes waiting for their key's path to load; while any wait, later writes queue behind them. */
  #queued = 0;
  #tail: Promise<void> = Promise.resolve();

  constructor(loader: Pick<Loader, "loadPathNow" | "loadPath">, pins: Pins) {
    this.#loader = loader;
    this.#pins = pins;
  }

  /** Writes queued and not yet appended. */
  get queued(): number {
    return this.#queued;
  }

  /** Settles once every write queued so far has been appended (or failed). */
  get tail(): Promise<void> {
    return this.#tail;
  }

  /**
   * Whether a write of `key` must wait: its path is not loaded yet (one
   * that loads at once, from cached slabs or a file that reads at once,
   * loads here), or earlier writes wait.
   *
   * @throws {StorageIoError} If a read at once failed (after its retries).
   */
  mustWaitFor(key: Uint8Array): boolean {
    return this.#queued > 0 || !this.#loader.loadPathNow(key);
  }

  /** {@link WriteQueue.mustWaitFor} for a write of several keys. */
  mustWait(keys: readonly Uint8Array[]): boolean {
    if (this.#queued > 0) return true;
    // Paths that load at once (see `mustWaitFor`) load here.
    for (const key of keys) if (!this.#loader.loadPathNow(key)) return true;
    return false;
  }

  /**
   * Runs `write` once its keys' paths are loaded, after every write queued
   * before it. The keys must stay as they are until then (copies, not
   * views of a reused buffer).
   */
  enqueue<T>(keys: readonly Uint8Array[], write: () => Promise<T>): Promise<T> {
    this.#queued++;
    const unpin = this.#pins.pin(keys);
    const loads = Promise.all(keys.map((key) => this.#loader.loadPath(key)));
    const started = this.#tail.then(() => loads).then(async () => {
      for (const key of keys) await this.#loader.loadPath(key);
      // Wrapped so the queue moves on once the write is appended, not durable.
      return { done: write() };
    });
    // Appended (its keys now in a group's overlay, which pins them too) or failed.
    started.then(unpin, unpin);
    this.#tail = started.then(
      () => void this.#queued--,
      () => void this.#queued--,
    );
    assert(this.#queued > 0, "a write was queued");
    return started.then(({ done }) => done);
  }
}
