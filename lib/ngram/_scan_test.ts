/** The byte-level checks against what the platform says: TextDecoder, `\s`, a tag regex. */

import assert from "node:assert/strict";
import {
  checkNgram,
  digitsValue,
  isTaggedToken,
  isUtf8,
  ngramMalformed,
  ngramPlain,
  ngramTagged,
  utf8ErrorAt,
  whitespaceBytes,
} from "./_scan.ts";
import { makeRandom, tagNames } from "./fixtures.ts";

const encoder = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Whether TextDecoder accepts `bytes` as UTF-8. */
function decodes(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

Deno.test("isUtf8 agrees with a fatal TextDecoder on random bytes near UTF-8", () => {
  const random = makeRandom(5);
  const interesting = [
    0x00,
    0x41,
    0x7f,
    0x80,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xdf,
    0xe0,
    0xa0,
    0x9f,
    0xed,
    0xef,
    0xf0,
    0x90,
    0x8f,
    0xf4,
    0xf5,
    0xff,
  ];
  let valid = 0;
  for (let round = 0; round < 60_000; round++) {
    const length = 1 + Math.floor(random() * 6);
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      bytes[i] = random() < 0.5
        ? interesting[Math.floor(random() * interesting.length)]
        : Math.floor(random() * 256);
    }
    const expected = decodes(bytes);
    if (expected) valid++;
    assert.equal(isUtf8(bytes, 0, length), expected, `bytes ${[...bytes]}`);
    assert.equal(utf8ErrorAt(bytes, 0, length) < 0, expected);
  }
  assert.ok(valid > 3_000, `${valid} valid strings among them`);
  for (const text of ["", "abc", "café", "中文", "😀👍🏽", "\u{10ffff}", "\ud7ff\ue000"]) {
    const bytes = encoder.encode(text);
    assert.ok(isUtf8(bytes, 0, bytes.length), text);
  }
});

Deno.test("whitespaceBytes is JavaScript's \\s, code point by code point", () => {
  // Every code point of the BMP, one in 61 above it.
  for (let code = 0; code <= 0x10ffff; code += code < 0x10000 ? 1 : 61) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const char = String.fromCodePoint(code);
    const bytes = encoder.encode(`${char}x`);
    const expected = /\s/u.test(char) ? bytes.length - 1 : 0;
    assert.equal(whitespaceBytes(bytes, 0, bytes.length), expected, `U+${code.toString(16)}`);
    // Cut short, it is never whitespace unless whole.
    if (bytes.length > 2) assert.equal(whitespaceBytes(bytes, 0, bytes.length - 2), 0);
  }
});

Deno.test("isTaggedToken matches a plain regular expression on tokens built around the tags", () => {
  const names = tagNames.map((tag) => tag.replace(".", "\\."));
  const pattern = new RegExp(`^(?:.+_(?:${names.join("|")})|_(?:${names.join("|")})_)$`, "su");
  const parts = [
    "",
    "_",
    "__",
    "a",
    "é",
    ",",
    ".",
    "X",
    "NOUN",
    "NOU",
    "NOUNS",
    "START",
    "_END_",
    ...tagNames,
  ];
  let tagged = 0;
  for (const a of parts) {
    for (const b of parts) {
      for (const c of parts) {
        const token = `${a}${b}${c}`;
        if (token === "" || token.includes(" ")) continue;
        const bytes = encoder.encode(token);
        const expected = pattern.test(token);
        if (expected) tagged++;
        assert.equal(isTaggedToken(bytes, 0, bytes.length), expected, JSON.stringify(token));
      }
    }
  }
  assert.ok(tagged > 1000);
});

Deno.test("checkNgram: single spaces between tokens, no NUL, at most 64 tokens, UTF-8; tags when asked", () => {
  const check = (text: string | Uint8Array, findTags = true) => {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    return checkNgram(bytes, 0, bytes.length, findTags);
  };
  assert.equal(check("a b c"), ngramPlain);
  assert.equal(check("a b_NOUN"), ngramTagged);
  assert.equal(check("a b_NOUN", false), ngramPlain);
  assert.equal(check("_START_ x _END_"), ngramPlain);
  for (const bad of ["", " ", "a ", " a", "a  b", "a\0b", new Uint8Array([0x61, 0xff])]) {
    assert.equal(check(bad), ngramMalformed, JSON.stringify(bad));
  }
  assert.equal(check(Array(64).fill("w").join(" ")), ngramPlain);
  assert.equal(check(Array(65).fill("w").join(" ")), ngramMalformed);
});

Deno.test("digitsValue: digits up to a bound, nothing else, at most the largest safe integer", () => {
  const value = (text: string, digitsMax = 16) => {
    const bytes = encoder.encode(text);
    return digitsValue(bytes, 0, bytes.length, digitsMax);
  };
  assert.equal(value("0"), 0);
  assert.equal(value("007"), 7);
  assert.equal(value("9007199254740991"), Number.MAX_SAFE_INTEGER);
  assert.equal(value("9007199254740992"), -1);
  assert.equal(value("12345", 4), -1);
  for (const bad of ["", "-1", "1.0", " 1", "1e3", "x"]) assert.equal(value(bad), -1, bad);
});
