/**
 * Property tests of snapshots against a model: a capture keeps the state it
 * saw while the trie changes under it.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only: not in deno.json, so the demo needs no registry
import fc from "npm:fast-check@4";
import { Art, type ArtSnapshot, type NodeView } from "./art.ts";

/** Keys as byte strings: JS string order on them is unsigned byte order. */
function encode(key: Uint8Array): string {
  return String.fromCharCode(...key);
}

function sorted(map: Map<string, number>): [string, number][] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function listed(entries: Iterable<[Uint8Array, number]>): [string, number][] {
  return [...entries].map(([key, value]) => [encode(key), value]);
}

/** One written node record of the fake image. */
interface DiskNode {
  prefix: number[];
  value: number | undefined;
  childBytes: number[];
  childAddresses: number[];
}

/** A fake image file: records by address, appended by the checkpoints of one run. */
class Disk {
  readonly records = new Map<number, DiskNode>();

  /** A `writeChanged` visitor: checks the view and stores a copy of it. */
  write = (view: NodeView): number => {
    assert.equal(view.childBytes.length, view.childAddresses.length);
    for (let i = 1; i < view.childBytes.length; i++) {
      assert.ok(view.childBytes[i - 1] < view.childBytes[i], "child bytes not ascending");
    }
    // Children before parents: every child was written already (now or by an earlier checkpoint).
    for (const address of view.childAddresses) assert.ok(this.records.has(address));
    const address = this.records.size + 2; // 1 is inlineAddress
    this.records.set(address, {
      prefix: [...view.prefix],
      value: view.value,
      childBytes: [...view.childBytes],
      childAddresses: [...view.childAddresses],
    });
    return address;
  };

  /** Every key and value of the image rooted at `root` (0: empty), read back. */
  read(root: number): Map<string, number> {
    const map = new Map<string, number>();
    if (root === 0) return map;
    const stack: [number, string][] = [[root, ""]];
    while (stack.length > 0) {
      const [address, path] = stack.pop()!;
      const node = this.records.get(address);
      assert.ok(node !== undefined, `dangling address ${address}`);
      const key = path + String.fromCharCode(...node.prefix);
      if (node.value !== undefined) map.set(key, node.value);
      node.childBytes.forEach((byte, i) => {
        stack.push([node.childAddresses[i], key + String.fromCharCode(byte)]);
      });
    }
    return map;
  }
}

type Op =
  | { op: "set"; key: Uint8Array; value: number }
  | { op: "add"; key: Uint8Array; delta: number }
  | { op: "sub"; key: Uint8Array; delta: number }
  | { op: "delete"; key: Uint8Array }
  | { op: "clear" }
  | { op: "capture" }
  | { op: "release" }
  | { op: "write" }
  | { op: "step"; count: number }
  | { op: "peek"; key: Uint8Array; start?: Uint8Array; end?: Uint8Array; reverse: boolean };

function opArbitrary(key: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Op> {
  const bound = fc.option(key, { nil: undefined, freq: 3 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant("set" as const), key, value: fc.nat() }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("add" as const), key, delta: fc.nat(9) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("sub" as const), key, delta: fc.nat(5) }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
    { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
    { weight: 2, arbitrary: fc.constant({ op: "capture" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "release" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "write" as const }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("step" as const), count: fc.nat(8) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("peek" as const),
        key,
        start: bound,
        end: bound,
        reverse: fc.boolean(),
      }),
    },
  );
}

/** A live snapshot, the model as it was at capture and an iterator begun at capture. */
interface Captured {
  snapshot: ArtSnapshot;
  frozen: Map<string, number>;
  walk: Generator<[Uint8Array, number]>;
  walked: [string, number][];
}

/** The trie under test, the model, the capture in progress and the fake image. */
class Run {
  readonly art = new Art();
  readonly model = new Map<string, number>();
  readonly disk = new Disk();
  captured: Captured | null = null;

  apply(op: Op): void {
    if (op.op === "set" || op.op === "add" || op.op === "sub" || op.op === "delete") {
      this.#write(op);
    } else if (op.op === "clear") {
      this.art.clear();
      this.model.clear();
    } else if (op.op === "capture") {
      this.#capture();
    } else if (op.op === "release") {
      this.#release();
    } else if (op.op === "write") {
      this.#checkpoint();
    } else if (op.op === "step") {
      this.#step(op.count);
    } else {
      this.#peek(op);
    }
    assert.equal(this.art.size, this.model.size);
    this.art.verify();
  }

  #write(op: Extract<Op, { key: Uint8Array }>): void {
    const key = encode(op.key);
    const old = this.model.get(key);
    if (op.op === "set") {
      this.art.set(op.key, op.value);
      this.model.set(key, op.value);
    } else if (op.op === "add") {
      assert.equal(this.art.add(op.key, op.delta), (old ?? 0) + op.delta);
      this.model.set(key, (old ?? 0) + op.delta);
    } else if (op.op === "sub") {
      if (old === undefined) return;
      const delta = Math.min(old, op.delta);
      assert.equal(this.art.add(op.key, -delta), old - delta);
      this.model.set(key, old - delta);
    } else {
      assert.equal(this.art.delete(op.key), this.model.delete(key));
    }
    assert.equal(this.art.get(op.key), this.model.get(key));
  }

  #capture(): void {
    if (this.captured !== null) {
      assert.throws(() => this.art.capture(), /snapshot is live/);
      return;
    }
    const snapshot = this.art.capture();
    this.captured = {
      snapshot,
      frozen: new Map(this.model),
      walk: snapshot.entries(),
      walked: [],
    };
    assert.equal(snapshot.size, this.model.size);
  }

  #step(count: number): void {
    const captured = this.captured;
    if (captured === null) return;
    for (let i = 0; i < count; i++) {
      const next = captured.walk.next();
      if (next.done === true) return;
      captured.walked.push([encode(next.value[0]), next.value[1]]);
    }
  }

  #peek(op: Extract<Op, { op: "peek" }>): void {
    const captured = this.captured;
    if (captured === null) return;
    assert.equal(captured.snapshot.get(op.key), captured.frozen.get(encode(op.key)));
    const low = op.start === undefined ? undefined : encode(op.start);
    const high = op.end === undefined ? undefined : encode(op.end);
    const expected = sorted(captured.frozen).filter(([key]) =>
      (low === undefined || key >= low) && (high === undefined || key < high)
    );
    if (op.reverse) expected.reverse();
    const range = { start: op.start, end: op.end, reverse: op.reverse };
    assert.deepEqual(listed(captured.snapshot.entries(range)), expected);
  }

  /** Writes the changed nodes, then reads the whole image back: it must be the frozen state. */
  #checkpoint(): void {
    const captured = this.captured;
    if (captured === null) return;
    const changed = captured.snapshot.changedNodeCount();
    const before = this.disk.records.size;
    const root = captured.snapshot.writeChanged(this.disk.write);
    assert.equal(this.disk.records.size - before, changed);
    assert.equal(captured.snapshot.rootAddress(), root);
    assert.equal(captured.snapshot.changedNodeCount(), 0);
    assert.deepEqual(sorted(this.disk.read(root)), sorted(captured.frozen));
  }

  #release(): void {
    const captured = this.captured;
    if (captured === null) return;
    this.#step(Number.MAX_SAFE_INTEGER);
    assert.deepEqual(captured.walked, sorted(captured.frozen));
    assert.deepEqual(listed(captured.snapshot.entries()), sorted(captured.frozen));
    assert.equal(captured.snapshot.verify().keys, captured.frozen.size);
    captured.snapshot.release();
    this.captured = null;
  }

  finish(): void {
    this.#checkpoint();
    this.#release();
    assert.deepEqual(listed(this.art.entries()), sorted(this.model));
    // One more checkpoint of the final state must read back as the live trie.
    this.#capture();
    this.#checkpoint();
    this.#release();
  }
}

function run(ops: Op[]): void {
  const state = new Run();
  for (const op of ops) state.apply(op);
  state.finish();
}

/** Keys over a tiny alphabet so that many keys are prefixes of others. */
const smallKey = fc
  .array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { maxLength: 8, size: "max" })
  .map((bytes) => Uint8Array.from(bytes));

/** Short random keys: wide fan-out, so Node48 and Node256 grow and shrink while shared. */
const wideKey = fc.uint8Array({ minLength: 0, maxLength: 3 });

Deno.test("ArtSnapshot matches the model at capture: keys that are prefixes of others", () => {
  fc.assert(fc.property(fc.array(opArbitrary(smallKey), { maxLength: 200, size: "max" }), run), {
    numRuns: 1500,
  });
});

Deno.test("ArtSnapshot matches the model at capture: large fan-out", () => {
  const ops = fc.array(opArbitrary(wideKey), { minLength: 200, maxLength: 700, size: "max" });
  fc.assert(fc.property(ops, run), { numRuns: 80 });
});

Deno.test("ArtSnapshot matches the model at capture: Node256 shrinks back while shared", () => {
  const bulk = fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 50, maxLength: 256 });
  const captureAt = fc.nat({ max: 255 });
  fc.assert(
    fc.property(
      bulk,
      captureAt,
      fc.array(opArbitrary(wideKey), { maxLength: 60 }),
      (bytes, at, ops) => {
        const inserts: Op[] = bytes.flatMap((byte) => [
          { op: "set" as const, key: Uint8Array.of(7, byte), value: byte },
          { op: "set" as const, key: Uint8Array.of(7, byte, byte), value: byte },
        ]);
        const deletes: Op[] = bytes.flatMap((byte, i) => [
          ...(i === at % bytes.length
            ? [{ op: "capture" as const }, { op: "step" as const, count: 3 }]
            : []),
          { op: "delete" as const, key: Uint8Array.of(7, byte) },
          { op: "delete" as const, key: Uint8Array.of(7, byte, byte) },
        ]);
        run([{ op: "capture" }, ...inserts, { op: "write" }, { op: "release" }, ...ops, {
          op: "release",
        }, ...deletes]);
      },
    ),
    { numRuns: 60 },
  );
});
