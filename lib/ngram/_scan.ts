/**
 * Byte-level checks shared by the readers, so the hot loops never build a
 * string: an n-gram's syntax (tokens separated by single spaces, no NUL, at
 * most {@link ngramTokensMax} tokens, valid UTF-8), part-of-speech tags,
 * Unicode whitespace for plain text, and counts parsed from ASCII digits.
 *
 * Every function here takes a byte range `[start, end)` of a buffer and
 * allocates nothing.
 *
 * @module
 */

/** Byte values the readers look for. */
export const tab = 0x09;
export const lineFeed = 0x0a;
export const carriageReturn = 0x0d;
export const space = 0x20;
export const comma = 0x2c;
export const underscore = 0x5f;
export const digitZero = 0x30;

/**
 * The most tokens in one n-gram: Google's n-grams have at most 5, a user's
 * own job rarely more than 10; a line with more is not an n-gram.
 */
export const ngramTokensMax = 64;
/** Digits of the largest safe integer (2^53 - 1 has 16). */
export const countDigitsMax = 16;
/** Digits of the largest year (9999). */
export const yearDigitsMax = 4;

/** What {@link checkNgram} returns for a well-formed n-gram without a tag. */
export const ngramPlain = 0;
/** What {@link checkNgram} returns for a well-formed n-gram with a part-of-speech token. */
export const ngramTagged = 1;
/** What {@link checkNgram} returns for a malformed n-gram (the slow path says why). */
export const ngramMalformed = -1;

/**
 * Checks the n-gram `b[start, end)`: at least one byte, tokens separated by
 * single spaces (no empty token: no leading, trailing or double space), no
 * NUL, at most {@link ngramTokensMax} tokens, valid UTF-8.
 *
 * @returns {@link ngramMalformed} if it breaks a rule; otherwise
 * {@link ngramTagged} if `findTags` and a token carries a part-of-speech tag
 * ({@link isTaggedToken}), else {@link ngramPlain}.
 */
export function checkNgram(b: Uint8Array, start: number, end: number, findTags: boolean): number {
  let tokenStart = start;
  let tokens = 1;
  let high = 0;
  let underscores = 0;
  let tagged = false;
  for (let i = start; i < end; i++) {
    const byte = b[i];
    high |= byte;
    if (byte === space) {
      if (i === tokenStart) return ngramMalformed;
      if (underscores > 0 && findTags && isTaggedToken(b, tokenStart, i)) tagged = true;
      underscores = 0;
      tokenStart = i + 1;
      tokens++;
    } else if (byte === underscore) {
      underscores++;
    } else if (byte === 0) {
      return ngramMalformed;
    }
  }
  if (end === tokenStart || tokens > ngramTokensMax) return ngramMalformed;
  if (underscores > 0 && findTags && isTaggedToken(b, tokenStart, end)) tagged = true;
  if (high >= 0x80 && !isUtf8(b, start, end)) return ngramMalformed;
  return tagged ? ngramTagged : ngramPlain;
}

/**
 * Whether the token `b[start, end)` carries one of the 12 part-of-speech
 * tags NOUN VERB ADJ ADV PRON DET ADP NUM CONJ PRT . X: as a suffix after a
 * non-empty word (`book_NOUN`, `,_.`, `a_b_X`) or as a bare token (`_NOUN_`,
 * `_._`). `_START_`, `_END_`, `_NOUN` and `book_NOUN_` are not tagged.
 */
export function isTaggedToken(b: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length >= 3 && b[start] === underscore && b[end - 1] === underscore) {
    if (isTagName(b, start + 1, end - 1)) return true;
  }
  for (let i = end - 2; i > start; i--) {
    if (b[i] === underscore) return isTagName(b, i + 1, end);
  }
  return false;
}

/** Whether `b[start, end)` is one of the 12 tag names. */
function isTagName(b: Uint8Array, start: number, end: number): boolean {
  const c0 = b[start];
  switch (end - start) {
    case 1:
      return c0 === 0x2e || c0 === 0x58; // "." "X"
    case 3: {
      const c1 = b[start + 1];
      const c2 = b[start + 2];
      if (c0 === 0x41 && c1 === 0x44) return c2 === 0x4a || c2 === 0x56 || c2 === 0x50; // ADJ ADV ADP
      if (c0 === 0x44) return c1 === 0x45 && c2 === 0x54; // DET
      if (c0 === 0x4e) return c1 === 0x55 && c2 === 0x4d; // NUM
      return c0 === 0x50 && c1 === 0x52 && c2 === 0x54; // PRT
    }
    case 4: {
      const c1 = b[start + 1];
      const c2 = b[start + 2];
      const c3 = b[start + 3];
      if (c0 === 0x4e) return c1 === 0x4f && c2 === 0x55 && c3 === 0x4e; // NOUN
      if (c0 === 0x56) return c1 === 0x45 && c2 === 0x52 && c3 === 0x42; // VERB
      if (c0 === 0x50) return c1 === 0x52 && c2 === 0x4f && c3 === 0x4e; // PRON
      return c0 === 0x43 && c1 === 0x4f && c2 === 0x4e && c3 === 0x4a; // CONJ
    }
    default:
      return false;
  }
}

/**
 * Whether `b[start, end)` is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no cut sequence).
 */
export function isUtf8(b: Uint8Array, start: number, end: number): boolean {
  return utf8ErrorAt(b, start, end) < 0;
}

/**
 * Where the first sequence of `b[start, end)` that is not valid UTF-8 starts,
 * or -1 if there is none (see {@link isUtf8}).
 */
export function utf8ErrorAt(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c < 0xc2 || c > 0xf4) return i;
    if (c < 0xe0) {
      if (i + 1 >= end || (b[i + 1] & 0xc0) !== 0x80) return i;
      i += 2;
      continue;
    }
    const c1 = b[i + 1];
    if (c < 0xf0) {
      const low = c === 0xe0 ? 0xa0 : 0x80;
      const high = c === 0xed ? 0x9f : 0xbf;
      if (i + 2 >= end || c1 < low || c1 > high || (b[i + 2] & 0xc0) !== 0x80) return i;
      i += 3;
      continue;
    }
    const low = c === 0xf0 ? 0x90 : 0x80;
    const high = c === 0xf4 ? 0x8f : 0xbf;
    if (i + 3 >= end || c1 < low || c1 > high) return i;
    if ((b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) return i;
    i += 4;
  }
  return -1;
}

/**
 * The byte length of the whitespace character at `b[i]` (before `end`), or 0
 * if it is not one. Whitespace is what JavaScript's `\s` matches: TAB, LF,
 * VT, FF, CR, SPACE, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000 and U+FEFF.
 */
export function whitespaceBytes(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c < 0x80) return c === space || (c >= tab && c <= carriageReturn) ? 1 : 0;
  if (c === 0xc2) return i + 1 < end && b[i + 1] === 0xa0 ? 2 : 0;
  if (c < 0xe1 || c > 0xef || i + 2 >= end) return 0;
  const c1 = b[i + 1];
  const c2 = b[i + 2];
  switch (c) {
    case 0xe1:
      return c1 === 0x9a && c2 === 0x80 ? 3 : 0;
    case 0xe2:
      if (c1 === 0x80) {
        return (c2 >= 0x80 && c2 <= 0x8a) || c2 === 0xa8 || c2 === 0xa9 || c2 === 0xaf ? 3 : 0;
      }
      return c1 === 0x81 && c2 === 0x9f ? 3 : 0;
    case 0xe3:
      return c1 === 0x80 && c2 === 0x80 ? 3 : 0;
    case 0xef:
      return c1 === 0xbb && c2 === 0xbf ? 3 : 0;
    default:
      return 0;
  }
}

/**
 * The non-negative integer written in ASCII digits in `b[start, end)`, or -1
 * if the range is empty, holds a byte that is not a digit, has more than
 * `digitsMax` digits, or is above `Number.MAX_SAFE_INTEGER`.
 */
export function digitsValue(b: Uint8Array, start: number, end: number, digitsMax: number): number {
  if (end <= start || end - start > digitsMax) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = b[i] - digitZero;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : -1;
}

/** Whether `a[aStart, aStart + length)` and `b[0, length)` hold the same bytes. */
export function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (a[aStart + i] !== b[i]) return false;
  }
  return true;
}
