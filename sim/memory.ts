/**
 * Memory exhaustion for the simulator: while exhausted, every explicit
 * `new ArrayBuffer` (the trie's arena, the only one the engine makes) throws
 * the `RangeError` V8 throws when the process cannot give the memory, so
 * the engine meets an arena that cannot grow at whatever point the run is
 * in: applying a durable group, a relaxed commit, a load from the image.
 * A crash or a restart (a new process) gives the memory back.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/**
 * Replaces the global `ArrayBuffer` constructor, while installed, by one
 * that fails when {@link MemoryPressure.exhausted}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryPressure } from "./memory.ts";
 * const memory = new MemoryPressure();
 * memory.install();
 * try {
 *   memory.exhaust();
 *   let failed = false;
 *   try {
 *     new ArrayBuffer(8);
 *   } catch {
 *     failed = true;
 *   }
 *   assert.ok(failed);
 *   memory.release();
 *   assert.ok(new ArrayBuffer(8).byteLength === 8);
 * } finally {
 *   memory.uninstall();
 * }
 * ```
 */
export class MemoryPressure {
  /** Whether allocations fail now. */
  exhausted = false;
  /** Times {@link MemoryPressure.exhaust} was called. */
  exhaustions = 0;
  #original: ArrayBufferConstructor | undefined;

  /** Puts the failing constructor in place (until {@link MemoryPressure.uninstall}). */
  install(): void {
    assert(this.#original === undefined, "installed once");
    const original = globalThis.ArrayBuffer;
    this.#original = original;
    globalThis.ArrayBuffer = new Proxy(original, {
      construct: (target, args, newTarget) => {
        if (this.exhausted) throw new RangeError("Array buffer allocation failed");
        return Reflect.construct(target, args, newTarget);
      },
    });
  }

  /** Puts the real constructor back. */
  uninstall(): void {
    assert(this.#original !== undefined, "installed before");
    globalThis.ArrayBuffer = this.#original;
    this.#original = undefined;
    this.exhausted = false;
  }

  /** From now on, allocations fail. */
  exhaust(): void {
    assert(this.#original !== undefined, "installed before exhausting");
    this.exhausted = true;
    this.exhaustions++;
  }

  /** Allocations succeed again (the process restarted). */
  release(): void {
    this.exhausted = false;
  }
}
