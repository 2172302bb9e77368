/**
 * The checks of `readNgrams`'s options, so a misspelt or out-of-range option
 * is a `TypeError` or `RangeError` before a byte is read, never a silently
 * different import. An unknown key names the nearest valid one through the
 * store's own check (`checkOptions`, exported by mod.ts), so the messages
 * are the store's.
 *
 * @module
 */

import { checkOptions, type OptionTest } from "../../mod.ts";
import type { InputFilters, InputFormat } from "./input.ts";
import type { ParserFilters } from "./_parser.ts";
import { ngramTokensMax } from "./_scan.ts";

/** The formats `format` may name. */
export const formatNames: readonly (InputFormat | "auto")[] = ["auto", "v2", "v3", "tsv", "text"];
const optionKeys = ["format", "filters", "sink", "resumeFrom", "onProgress"];
const filterKeys = ["years", "minCount", "tags", "order"];
/** Any value: the key check leaves the values to the checks that follow it. */
const anything: OptionTest = { expected: "anything", test: () => true };
/** Years are written with at most 4 digits. */
const yearMax = 9999;

/** Builds the misuse errors of one call. */
class Misuse {
  constructor(readonly path: string) {}

  type(detail: string): TypeError {
    return new TypeError(`Cannot read ${JSON.stringify(this.path)}: ${detail}`);
  }

  range(detail: string): RangeError {
    return new RangeError(`Cannot read ${JSON.stringify(this.path)}: ${detail}`);
  }

  /**
   * Throws for the first own key of `object` not in `keys`, naming the
   * nearest valid one (tallytrie's one options check, `checkOptions`; the
   * values are checked after, with messages of their own).
   */
  keys(object: object, keys: readonly string[], what: string, prefix = ""): void {
    const types: Record<string, OptionTest> = {};
    for (const key of keys) types[key] = anything;
    checkOptions(object, types, {
      operation: `read ${JSON.stringify(this.path)}`,
      object: what,
      key: what,
      keyPrefix: prefix,
    });
  }
}

/** The checked options of `readNgrams`, filters in the parsers' form. */
export interface CheckedOptions {
  format: InputFormat | "auto";
  filters: ParserFilters;
  /** Whether `filters.years` was given (an error for tsv and text). */
  yearsGiven: boolean;
  resumeFrom: number;
}

/** Checks the options of `readNgrams(path, options)`; throws TypeError or RangeError. */
export function checkReadOptions(path: unknown, options: unknown): CheckedOptions {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Cannot read: the path must be a non-empty string, got ${describe(path)}`);
  }
  const misuse = new Misuse(path);
  if (typeof options !== "object" || options === null) {
    throw misuse.type(`options must be an object, got ${describe(options)}`);
  }
  misuse.keys(options, optionKeys, "option");
  const o = options as Record<string, unknown>;
  if (!formatNames.includes(o.format as InputFormat)) {
    throw misuse.type(
      `format must be one of ${formatNames.map((f) => `"${f}"`).join(", ")}, got ` +
        describe(o.format),
    );
  }
  const sink = o.sink as Record<string, unknown> | undefined;
  if (
    typeof sink !== "object" || sink === null || typeof sink.ngram !== "function" ||
    typeof sink.boundary !== "function"
  ) {
    throw misuse.type("sink must be an object with ngram and boundary methods");
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw misuse.type(`onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  const resumeFrom = o.resumeFrom ?? 0;
  if (!Number.isSafeInteger(resumeFrom) || (resumeFrom as number) < 0) {
    throw misuse.range(
      `resumeFrom must be a non-negative safe integer, got ${describe(resumeFrom)}`,
    );
  }
  const { filters, yearsGiven } = checkFilters(misuse, o.filters);
  return {
    format: o.format as InputFormat | "auto",
    filters,
    yearsGiven,
    resumeFrom: resumeFrom as number,
  };
}

/** Checks `filters` and puts them in the parsers' form. */
function checkFilters(
  misuse: Misuse,
  value: unknown,
): { filters: ParserFilters; yearsGiven: boolean } {
  if (typeof value !== "object" || value === null) {
    throw misuse.type(`filters must be an object, got ${describe(value)}`);
  }
  misuse.keys(value, filterKeys, "filter");
  const filters = value as Partial<InputFilters>;
  const { minCount, tags, order, years } = filters;
  if (typeof minCount !== "number" || !Number.isSafeInteger(minCount) || minCount < 0) {
    throw misuse.range(
      `filters.minCount must be a non-negative safe integer, got ${describe(minCount)}`,
    );
  }
  if (tags !== "drop" && tags !== "keep") {
    throw misuse.type(`filters.tags must be "drop" or "keep", got ${describe(tags)}`);
  }
  if (
    typeof order !== "number" || !Number.isInteger(order) || order < 1 || order > ngramTokensMax
  ) {
    throw misuse.range(
      `filters.order must be an integer from 1 to ${ngramTokensMax}, got ${describe(order)}`,
    );
  }
  let yearFrom = 0;
  let yearTo = yearMax;
  if (years !== undefined) {
    if (typeof years !== "object" || years === null) {
      throw misuse.type(`filters.years must be { from, to }, got ${describe(years)}`);
    }
    misuse.keys(years, ["from", "to"], "filters.years key", "filters.years.");
    const { from, to } = years;
    for (const [name, year] of [["from", from], ["to", to]] as const) {
      if (typeof year !== "number" || !Number.isInteger(year) || year < 0 || year > yearMax) {
        throw misuse.range(
          `filters.years.${name} must be a year from 0 to ${yearMax}, got ${describe(year)}`,
        );
      }
    }
    if (from > to) {
      throw misuse.range(
        `filters.years.from (${from}) is after filters.years.to (${to}): swap them`,
      );
    }
    yearFrom = from;
    yearTo = to;
  }
  return {
    filters: { yearFrom, yearTo, minCount, dropTags: tags === "drop", order },
    yearsGiven: years !== undefined,
  };
}

/**
 * Throws a `TypeError` if the filters make no sense for `format`: a
 * min-count for text (the reader hands each occurrence with count 1; only
 * the store knows the final counts), years for TSV or text (no years in them).
 */
export function checkFiltersFit(
  path: string,
  format: InputFormat,
  checked: CheckedOptions,
): void {
  const misuse = new Misuse(path);
  if (format === "text" && checked.filters.minCount > 1) {
    throw misuse.type(
      "filters.minCount does not apply to text: its n-grams are counted one occurrence at a " +
        "time and only the store knows their totals; leave it at 0 or 1",
    );
  }
  if ((format === "text" || format === "tsv") && checked.yearsGiven) {
    throw misuse.type(`filters.years does not apply to ${format}: it has no years; leave it out`);
  }
}

/** A value as misuse messages show it. */
function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}
