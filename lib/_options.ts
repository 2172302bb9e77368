/**
 * The one way the public API checks an options object and its arguments.
 *
 * A misspelt option must not pass silently: `{ durabilty: "relaxed" }` would
 * otherwise give a strict store with no word said. Every options object the
 * API takes (openStore's options and their `checkpoint` part,
 * `checkpoint(options)`, `list(selector, options)` and the selector itself)
 * goes through {@link checkOptions}: it must be an object; each key must be
 * one the object takes, or a `TypeError` names it and the nearest valid key
 * (Damerau-Levenshtein distance, ignoring case) when one is close, and lists
 * the valid keys when none is; each value given must have the option's type,
 * or a `TypeError` says which. A key whose value is `undefined` counts as
 * absent. Ranges (a `RangeError`) stay with the caller, which knows them.
 *
 * Extra positional arguments are misuse too: {@link tooManyArguments} builds
 * the `TypeError`, which callers raise after an `arguments.length` test, so
 * hot paths pay one comparison and allocate nothing.
 *
 * @module
 */

import { assert } from "./_assert.ts";

/** A test for option values no type name covers, such as "a BlockStorage". */
export interface OptionTest {
  /** What the value must be, as messages say it after "must be": `"a BlockStorage"`. */
  readonly expected: string;
  /** Whether `value` is acceptable. */
  readonly test: (value: unknown) => boolean;
}

/**
 * The type an option's value must have: a `typeof` name; `"key"` (a string
 * or a `Uint8Array`); a list of the strings it may be; or a test of its own.
 */
export type OptionType =
  | "boolean"
  | "number"
  | "string"
  | "object"
  | "key"
  | readonly string[]
  | OptionTest;

/** The options an object takes, each with its type. */
export type OptionTypes = Readonly<Record<string, OptionType>>;

/** Where an options object is checked, for the messages. */
export interface OptionsPlace {
  /** The operation, as messages say it after "Cannot": `"open store"`. */
  readonly operation: string;
  /** The object, as messages name it: `"options"`, `"checkpoint"`, `"selector"`. */
  readonly object: string;
  /** Its keys, as messages name one: `"option"`, `"checkpoint option"`. */
  readonly key: string;
  /** What messages put before a key's name: `""`, or `"checkpoint."`. */
  readonly keyPrefix: string;
}

/**
 * The most edits (insertions, deletions, substitutions, swaps of adjacent
 * letters) per letter of an unknown key at which a valid key counts as its
 * near miss: 0.4, as the TypeScript compiler's spelling suggestions use, so
 * `"durabilty"` (9 letters, 1 edit) suggests `"durability"` while `"bogus"`
 * suggests nothing.
 */
const nearMissEditsPerLetter = 0.4;
/** Keys longer than this are not compared letter by letter (the table is quadratic). */
const nearMissKeyLengthMax = 64;

/**
 * Throws a `TypeError` unless `options` is an object whose own keys are all
 * in `types` with values of their type (or `undefined`).
 *
 * @param options The object as the caller gave it.
 * @param types The keys it may have, each with its type.
 * @param place Where it is checked, for the messages.
 * @throws {TypeError} if `options` is not an object, has an unknown key, or a
 * value of the wrong type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./_options.ts";
 * const place = { operation: "list", object: "options", key: "option", keyPrefix: "" };
 * const types = { limit: "number", reverse: "boolean" } as const;
 * checkOptions({ limit: 3 }, types, place);
 * assert.throws(() => checkOptions({ revers: true }, types, place), {
 *   message: 'Cannot list: unknown option "revers", did you mean "reverse"?',
 * });
 * assert.throws(() => checkOptions({ reverse: 1 }, types, place), {
 *   message: "Cannot list: reverse must be a boolean, got 1",
 * });
 * ```
 */
export function checkOptions(
  options: unknown,
  types: OptionTypes,
  place: OptionsPlace,
): asserts options is object {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `Cannot ${place.operation}: ${place.object} must be an object, got ${describe(options)}`,
    );
  }
  // for-in allocates no key array (list() runs this per call).
  for (const key in options) {
    if (Object.hasOwn(options, key) && !Object.hasOwn(types, key)) {
      throw unknownKey(key, types, place);
    }
  }
  // Values as the caller will read them: a getter or a prototype's value counts too.
  for (const key in types) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined && !hasType(value, types[key])) {
      throw new TypeError(
        `Cannot ${place.operation}: ${place.keyPrefix}${key} must be ${
          expectedText(types[key])
        }, got ${describe(value)}`,
      );
    }
  }
}

/** Whether `value` has the option type `type`. */
function hasType(value: unknown, type: OptionType): boolean {
  switch (type) {
    case "boolean":
      return typeof value === "boolean";
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "object":
      return typeof value === "object" && value !== null;
    case "key":
      return typeof value === "string" || value instanceof Uint8Array;
  }
  if (isStringList(type)) return typeof value === "string" && type.includes(value);
  return type.test(value);
}

function isStringList(type: OptionType): type is readonly string[] {
  return Array.isArray(type);
}

/** What a value of `type` is, as messages say it after "must be". */
function expectedText(type: OptionType): string {
  if (typeof type === "string") {
    if (type === "key") return "a string or a Uint8Array";
    return type === "object" ? "an object" : `a ${type}`;
  }
  if (isStringList(type)) {
    const quoted = type.map((name) => JSON.stringify(name));
    return quoted.length === 1
      ? quoted[0]
      : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
  }
  return type.expected;
}

/** The `TypeError` for an unknown key: its near miss if one is close, else every valid key. */
function unknownKey(key: string, types: OptionTypes, place: OptionsPlace): TypeError {
  const valid = Object.keys(types);
  assert(valid.length > 0, "an options object takes at least one key");
  const near = nearestKey(key, valid);
  const hint = near === undefined
    ? `expected one of ${valid.join(", ")}`
    : `did you mean "${near}"?`;
  return new TypeError(
    `Cannot ${place.operation}: unknown ${place.key} ${JSON.stringify(key)}, ${hint}`,
  );
}

/**
 * The valid key nearest `key`, ignoring case, if it is within
 * {@link nearMissEditsPerLetter} edits per letter of `key`; the first such
 * key of `valid` on a tie.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nearestKey } from "./_options.ts";
 * assert.equal(nearestKey("durabilty", ["path", "durability"]), "durability");
 * assert.equal(nearestKey("epochMS", ["epochMs", "epochOps"]), "epochMs");
 * assert.equal(nearestKey("comapct", ["compact"]), "compact");
 * assert.equal(nearestKey("bogus", ["compact"]), undefined);
 * ```
 */
export function nearestKey(key: string, valid: readonly string[]): string | undefined {
  if (key.length > nearMissKeyLengthMax) return undefined;
  const editsMax = Math.floor(key.length * nearMissEditsPerLetter);
  let best: string | undefined;
  let bestEdits = editsMax + 1;
  for (const candidate of valid) {
    if (Math.abs(candidate.length - key.length) >= bestEdits) continue;
    const edits = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (edits < bestEdits) {
      best = candidate;
      bestEdits = edits;
    }
  }
  assert(best === undefined || bestEdits <= editsMax, "a near miss is within the edit limit");
  return best;
}

/**
 * The optimal-string-alignment form of the Damerau-Levenshtein distance:
 * insertions, deletions, substitutions and swaps of adjacent letters.
 */
function editDistance(a: string, b: string): number {
  assert(a.length <= nearMissKeyLengthMax, "only short keys are compared");
  const width = b.length + 1;
  // Rows i-2, i-1 and i of the (a.length + 1) × (b.length + 1) table.
  let older = new Array<number>(width).fill(0);
  let previous = Array.from({ length: width }, (_, j) => j);
  let current = new Array<number>(width).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j < width; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let edits = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        edits = Math.min(edits, older[j - 2] + 1);
      }
      current[j] = edits;
    }
    [older, previous, current] = [previous, current, older];
  }
  return previous[width - 1];
}

/**
 * The `TypeError` for a call given more arguments than it takes. Raise it
 * after testing `arguments.length`, so a call with the right count allocates
 * nothing.
 *
 * @param operation The call, as messages say it after "Cannot": `"add"`.
 * @param parameters Its parameters, as a signature lists them: `"key, delta"`.
 * @param given How many arguments it got.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tooManyArguments } from "./_options.ts";
 * assert.equal(
 *   tooManyArguments("add", "key, delta", 3).message,
 *   "Cannot add: it takes 2 arguments (key, delta), got 3; remove the extra ones",
 * );
 * ```
 */
export function tooManyArguments(operation: string, parameters: string, given: number): TypeError {
  const taken = parameters === "" ? 0 : parameters.split(",").length;
  assert(given > taken, "only a call given too many arguments is refused");
  const takes = taken === 0
    ? "it takes no arguments"
    : `it takes ${taken} argument${taken === 1 ? "" : "s"} (${parameters})`;
  return new TypeError(`Cannot ${operation}: ${takes}, got ${given}; remove the extra ones`);
}

/** A value as an error message shows it: strings quoted, objects by kind. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "Object" ? `an object (${name})` : "an object";
  }
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  return String(value);
}
