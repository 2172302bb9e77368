/**
 * For the trie's tests: an image as a map of address → record, written by
 * the trie's own snapshots, and operations that load the stubs they meet
 * from it.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { type Art, inlineAddress, NodeNotLoaded, type NodeView } from "./art.ts";

/** Loads one operation makes at most before the test gives up. */
const loadsMax = 10_000;

/** Every record the checkpoints wrote, by address (from 2 on: 1 is an inline leaf's). */
export class TestImage {
  readonly records = new Map<number, NodeView>();

  /**
   * Writes what changed since the last checkpoint; returns the root's
   * address. With `inline`, leaves but the root are stored in their
   * parent's record, as the image does.
   */
  checkpoint(art: Art, options: { inline?: boolean } = {}): number {
    const snapshot = art.capture();
    const root = snapshot.writeChanged((node, _previous, isRoot) => {
      if (options.inline === true && node.childBytes.length === 0 && !isRoot) return inlineAddress;
      const address = this.records.size + 2;
      this.records.set(address, {
        prefix: node.prefix.slice(),
        value: node.value,
        childBytes: node.childBytes.slice(),
        childAddresses: node.childAddresses.slice(),
        inlineLeaves: node.inlineLeaves?.map((leaf) => ({ ...leaf, prefix: leaf.prefix.slice() })),
      });
      return address;
    });
    snapshot.release();
    return root;
  }

  /** The record at `address`, or undefined. */
  readonly fetch = (address: number): NodeView | undefined => this.records.get(address);
}

/** Runs `operation`, installing whatever stub it meets from `records`, until it goes through. */
export function withLoads<T>(art: Art, records: Map<number, NodeView>, operation: () => T): T {
  for (let loads = 0; loads < loadsMax; loads++) {
    try {
      return operation();
    } catch (error) {
      if (!(error instanceof NodeNotLoaded)) throw error;
      const record = records.get(error.address);
      assert(
        record !== undefined,
        `a stub names address ${error.address}, which no checkpoint wrote`,
      );
      art.install(error.path, error.address, record);
    }
  }
  throw new Error(`an operation needed more than ${loadsMax} loads`);
}

/** A small deterministic generator for the trie's tests (xorshift32): `next(below)` is in [0, below). */
export function generator(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}
