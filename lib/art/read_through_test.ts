/**
 * Reads through stubs (`_read_through.ts`): a budget's read of a stub it
 * has not met lately answers from the records below it and loads nothing;
 * a read that meets it again in the same admission epoch loads it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Art,
  lookupAbsent,
  type NodeView,
  type RecordFieldsView,
  type RecordSource,
} from "./art.ts";
import { generator, TestImage } from "./_test_image.ts";
import { newRecordFields } from "../image/node_record.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A trie of `keys` (values 1, 2, ...) opened lazily from an image with inline leaves. */
function lazyCopy(keys: readonly string[]): { art: Art; records: Map<number, NodeView> } {
  const source = new Art();
  for (const [index, key] of keys.entries()) source.set(bytes(key), index + 1);
  const image = new TestImage();
  const root = image.checkpoint(source, { inline: true });
  const art = Art.fromImage(image.records.get(root)!, root, keys.length);
  return { art, records: image.records };
}

/** Keys sharing prefixes, some ending on inner nodes, most leaves stored inline. */
const keys = [
  "a",
  "ab",
  "abc",
  "abd",
  "abdefgh",
  "b",
  "ba",
  "bb",
  "the",
  "the cat",
  "the dog",
  "then",
  "x",
  "xyz",
  "xyzzy",
];

/** `key` one byte off: one more, one less, the last changed. */
function nearMisses(key: string): string[] {
  const misses = [key + "q", key + "\u0000"];
  if (key.length > 1) misses.push(key.slice(0, -1));
  misses.push(key.slice(0, -1) + String.fromCharCode(key.charCodeAt(key.length - 1) + 1));
  return misses;
}

/** What a read of `key` answers: the value, or undefined. */
function answer(found: number): number | undefined {
  return found === lookupAbsent ? undefined : found;
}

/**
 * The records of `records` as a {@link RecordSource} (what reads through
 * stubs and bulk builds read): each fetch lays the record's prefix, child
 * bytes and inline leaves' prefixes out in one buffer and points the
 * fields into it. Undefined for an address it does not hold.
 */
function viewSource(records: Map<number, NodeView>): RecordSource {
  const fields: RecordFieldsView = newRecordFields();
  const fetch = (address: number): Uint8Array | undefined => {
    const view = records.get(address);
    if (view === undefined) return undefined;
    const leaves = view.inlineLeaves ?? [];
    const parts = [view.prefix, view.childBytes, ...leaves.map((leaf) => leaf.prefix)];
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    fields.prefixAt = 0;
    fields.prefixLength = view.prefix.length;
    fields.value = view.value ?? -1;
    fields.count = view.childBytes.length;
    fields.childBytesAt = view.prefix.length;
    fields.refs = view.childAddresses.slice();
    fields.leaves = leaves.length;
    let leafAt = fields.childBytesAt + fields.count;
    for (const [index, leaf] of leaves.entries()) {
      fields.leafAt[index] = leafAt;
      fields.leafLength[index] = leaf.prefix.length;
      fields.leafValue[index] = leaf.value;
      leafAt += leaf.prefix.length;
    }
    return bytes;
  };
  return { fields, fetch };
}

Deno.test("read through: a first read answers from the records and loads nothing", () => {
  const { art, records } = lazyCopy(keys);
  const stubs = art.verify().stubs;
  let loads = 0;
  const load = (address: number) => {
    loads++;
    return records.get(address);
  };
  const through = viewSource(records);
  assert.equal(answer(art.lookupLoading(bytes("the cat"), load, through)), 10);
  assert.equal(loads, 0);
  assert.equal(art.verify().stubs, stubs, "nothing installed");
  // Met again in the same epoch: the stub loads, and the read goes on below it.
  assert.equal(answer(art.lookupLoading(bytes("the dog"), load, through)), 11);
  assert.ok(loads >= 1);
  assert.equal(art.stubOnPath(bytes("the")), null, "the stub was replaced by its node");
});

Deno.test("read through: every key and every near miss answers as the loaded trie", () => {
  const whole = lazyCopy(keys);
  for (const key of keys.flatMap((key) => [key, ...nearMisses(key)])) {
    const want = answer(
      whole.art.lookupLoading(bytes(key), (address) => whole.records.get(address)),
    );
    // A trie no read met yet: the read passes every stub on its way.
    const { art, records } = lazyCopy(keys);
    const stubs = art.verify().stubs;
    const got = answer(
      art.lookupLoading(
        bytes(key),
        () => assert.fail("no load"),
        viewSource(records),
      ),
    );
    assert.equal(got, want, JSON.stringify(key));
    assert.equal(art.verify().stubs, stubs);
  }
  assert.equal(whole.art.verify().keys, keys.length);
});

Deno.test("read through: a stub met in an old epoch is passed again, then loads", () => {
  const { art, records } = lazyCopy(keys);
  const stubs = art.verify().stubs;
  const fetch = (address: number) => records.get(address);
  const through = viewSource(records);
  assert.equal(answer(art.lookupLoading(bytes("xyz"), fetch, through)), 14);
  art.admitEpoch = 1; // past the epoch a mark counts for
  assert.equal(answer(art.lookupLoading(bytes("xyz"), fetch, through)), 14);
  assert.equal(art.verify().stubs, stubs, "passed again: the mark was old");
  art.admitEpoch = 4; // three epochs on: the stamp (modulo 3) reads as this epoch's, and it loads
  assert.equal(answer(art.lookupLoading(bytes("xyz"), fetch, through)), 14);
  assert.equal(art.stubOnPath(bytes("x")), null, "loaded");
  const { art: again } = lazyCopy(keys);
  assert.equal(answer(again.lookupLoading(bytes("xyz"), fetch, through)), 14);
  again.admitEpoch = 2;
  assert.equal(answer(again.lookupLoading(bytes("xyz"), fetch, through)), 14);
  // Met again in the epoch of its last pass: it loads.
  assert.equal(answer(again.lookupLoading(bytes("xyzzy"), fetch, through)), 15);
  assert.equal(again.stubOnPath(bytes("x")), null, "loaded");
  assert.equal(again.get(bytes("x")), 13);
});

Deno.test("read through: random keys, reads mixed with loads, answer as a plain trie", () => {
  const random = generator(17);
  const source: string[] = [];
  for (let i = 0; i < 400; i++) {
    let key = "";
    const length = 1 + random(6);
    while (key.length < length) key += "abcd"[random(4)];
    if (!source.includes(key)) source.push(key);
  }
  const { art, records } = lazyCopy(source);
  const fetch = (address: number) => records.get(address);
  const through = viewSource(records);
  for (let read = 0; read < 3000; read++) {
    if (read % 97 === 0) art.admitEpoch += 1 + random(2);
    const key = random(3) === 0
      ? nearMisses(source[random(source.length)])[random(3)]
      : source[random(source.length)];
    const index = source.indexOf(key);
    const got = answer(art.lookupLoading(bytes(key), fetch, through));
    assert.equal(got, index < 0 ? undefined : index + 1, JSON.stringify(key));
  }
  art.verify();
});
