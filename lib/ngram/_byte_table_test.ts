import assert from "node:assert/strict";
import { ByteTable, hashBytes } from "./_byte_table.ts";

const encoder = new TextEncoder();

function find(table: ByteTable, text: string): number {
  const bytes = encoder.encode(`<${text}>`);
  return table.find(bytes, 1, bytes.length - 1, hashBytes(bytes, 1, bytes.length - 1));
}

function add(table: ByteTable, text: string): number {
  const bytes = encoder.encode(`<${text}>`);
  return table.add(bytes, 1, bytes.length - 1, hashBytes(bytes, 1, bytes.length - 1));
}

Deno.test("byte table: finds what it holds by a slice of other bytes, through growth", () => {
  const table = new ByteTable();
  const words = Array.from({ length: 5_000 }, (_, i) => i % 7 === 0 ? "" : `w${i}é`);
  const unique = [...new Set(words)];
  for (const [index, word] of unique.entries()) {
    assert.equal(find(table, word), -1);
    assert.equal(add(table, word), index);
  }
  assert.equal(table.size, unique.length);
  for (const [index, word] of unique.entries()) {
    assert.equal(find(table, word), index);
    assert.deepEqual(table.view(index), encoder.encode(word));
  }
  assert.equal(find(table, "w1"), -1, "a prefix of a word is not the word");
  assert.equal(find(table, "w1éx"), -1, "a longer word is not the word");
});

Deno.test("byte table: truncate forgets the newest entries and only them", () => {
  const table = new ByteTable();
  for (let i = 0; i < 100; i++) add(table, `k${i}`);
  table.truncate(40);
  assert.equal(table.size, 40);
  for (let i = 0; i < 100; i++) assert.equal(find(table, `k${i}`), i < 40 ? i : -1);
  assert.equal(add(table, "k77"), 40);
  assert.equal(find(table, "k77"), 40);
  assert.deepEqual(table.view(39), encoder.encode("k39"));
  table.truncate(0);
  assert.equal(find(table, "k0"), -1);
});

Deno.test("byte table: clear keeps the bytes of views handed out before it", () => {
  const table = new ByteTable();
  add(table, "kept");
  const view = table.view(0);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(find(table, "kept"), -1);
  add(table, "over");
  assert.deepEqual(view, encoder.encode("kept"));
  assert.deepEqual(table.view(0), encoder.encode("over"));
});
