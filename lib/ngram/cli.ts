// deno-lint-ignore-file no-console
/**
 * The n-gram store's command line, `deno task ngram <command>`:
 *
 * ```text
 * import STORE PATH... [--format auto|v2|v3|tsv|text] [--order N] [--years A..B]
 *                      [--min-count N] [--tags drop|keep] [--shards N] [--chunk-ngrams N]
 * count  STORE [NGRAM...]          (no NGRAM: one per line from stdin)
 * next   STORE HISTORY [--top K]
 * stats  STORE [--json]
 * export STORE                     (every n-gram: NGRAM TAB COUNT)
 * compact STORE                    (rewrites every shard's image without dead space)
 * ```
 *
 * Every command takes `--memory-budget SIZE`: the store's `memoryBudget`,
 * in bytes or with a binary unit (`512MiB`, `1GiB`; see {@link parseByteSize}).
 *
 * Exit codes: 0 done, 1 a failure (the message says what and where; files
 * imported before it stay imported), 2 a usage error.
 *
 * @module
 */

import { type NgramStore, openNgramStore } from "./store.ts";
import { expandInputs } from "./read.ts";
import type { InputFormat, TagPolicy } from "./input.ts";
import { ImportProgress } from "./_progress.ts";

/** A usage error: exit code 2. */
class UsageError extends Error {}

const usage = `usage: deno task ngram <command> ... [--memory-budget SIZE]
  import STORE PATH... [--format auto|v2|v3|tsv|text] [--order N] [--years A..B]
                       [--min-count N] [--tags drop|keep] [--shards N] [--chunk-ngrams N]
  count  STORE [NGRAM...]     one line per n-gram: NGRAM TAB COUNT (stdin if no NGRAM)
  next   STORE HISTORY [--top K]
  stats  STORE [--json]
  export STORE                every n-gram: NGRAM TAB COUNT
  compact STORE               rewrites every shard's image without dead space
every command takes:
  --memory-budget SIZE        the bytes the store's tries may take (default: no limit):
                              bytes, or with KiB, MiB, GiB or TiB (such as 512MiB, 1GiB);
                              a sixteenth to the vocabulary, the rest in equal shares to
                              the shards, at least 4096 bytes each`;

/** Bytes per unit a size may end with (binary units only: a "GB" could mean either). */
const sizeUnits: Readonly<Record<string, number>> = {
  "": 1,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A size such as `--memory-budget` takes: a whole number of bytes, or a
 * number with a binary unit (KiB, MiB, GiB, TiB; any case, a space allowed
 * before it) that makes a whole number of bytes; undefined if `text` is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseByteSize } from "./cli.ts";
 * assert.equal(parseByteSize("512MiB"), 512 * 2 ** 20);
 * assert.equal(parseByteSize("1.5GiB"), 1.5 * 2 ** 30);
 * assert.equal(parseByteSize("65536"), 65536);
 * assert.equal(parseByteSize("1GB"), undefined);
 * ```
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?) ?([kmgt]ib)?$/i.exec(text);
  if (match === null) return undefined;
  const bytes = Number(match[1]) * sizeUnits[(match[2] ?? "").toLowerCase()];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The flag every command takes. */
const budgetFlag = "--memory-budget";

/** `--memory-budget SIZE`, in bytes. */
function memoryBudget(flags: Map<string, string | true>): number | undefined {
  const text = flags.get(budgetFlag);
  if (text === undefined) return undefined;
  const bytes = typeof text === "string" ? parseByteSize(text) : undefined;
  if (bytes === undefined) {
    throw new UsageError(
      `${budgetFlag} takes bytes or a size with KiB, MiB, GiB or TiB (such as 512MiB), got "${text}"`,
    );
  }
  return bytes;
}

/** Flags and positional arguments of one command. */
interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Splits `args`; `valued` flags take the next argument. */
function parse(args: string[], commandValued: readonly string[], bare: readonly string[]): Parsed {
  const valued = [...commandValued, budgetFlag];
  const parsed: Parsed = { positional: [], flags: new Map() };
  for (let at = 0; at < args.length; at++) {
    const arg = args[at];
    if (!arg.startsWith("--")) {
      parsed.positional.push(arg);
    } else if (valued.includes(arg)) {
      const value = args[++at];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      parsed.flags.set(arg, value);
    } else if (bare.includes(arg)) {
      parsed.flags.set(arg, true);
    } else {
      const known = [...valued, ...bare].join(", ");
      throw new UsageError(`unknown option "${arg}" (this command takes ${known || "none"})`);
    }
  }
  return parsed;
}

/** A positive integer flag's value. */
function integer(flags: Map<string, string | true>, flag: string): number | undefined {
  const text = flags.get(flag);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (
    typeof text !== "string" || !/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1
  ) {
    throw new UsageError(`${flag} takes a positive integer, got "${text}"`);
  }
  return value;
}

/** `--years A..B`. */
function years(text: string | true | undefined): { from: number; to: number } | undefined {
  if (text === undefined) return undefined;
  const match = typeof text === "string" ? /^(\d{1,4})\.\.(\d{1,4})$/.exec(text) : null;
  if (match === null || Number(match[1]) > Number(match[2])) {
    throw new UsageError(`--years takes A..B with A ≤ B (such as 1900..1999), got "${text}"`);
  }
  return { from: Number(match[1]), to: Number(match[2]) };
}

/** The one value of a flag among `choices`. */
function choice<T extends string>(
  flags: Map<string, string | true>,
  flag: string,
  choices: readonly T[],
): T | undefined {
  const text = flags.get(flag);
  if (text === undefined) return undefined;
  if (!choices.includes(text as T)) {
    throw new UsageError(`${flag} must be ${choices.join(", ")}; got "${text}"`);
  }
  return text as T;
}

async function importCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(
    args,
    ["--format", "--order", "--years", "--min-count", "--tags", "--shards", "--chunk-ngrams"],
    [],
  );
  if (positional.length < 2) throw new UsageError("import takes STORE and at least one PATH");
  const [path, ...inputs] = positional;
  const reading = {
    format: choice<InputFormat | "auto">(flags, "--format", ["auto", "v2", "v3", "tsv", "text"]),
    order: integer(flags, "--order"),
    years: years(flags.get("--years")),
    minCount: integer(flags, "--min-count"),
    tags: choice<TagPolicy>(flags, "--tags", ["drop", "keep"]),
  };
  const files = await expandInputs(inputs);
  const store = await openNgramStore(path, {
    shards: integer(flags, "--shards"),
    memoryBudget: memoryBudget(flags),
  });
  const progress = await ImportProgress.start(files);
  try {
    for (const file of files) {
      progress.beginFile(file);
      const outcome = await store.importFile(file, {
        ...reading,
        chunkNgrams: integer(flags, "--chunk-ngrams"),
        onProgress: (p) => progress.update(p),
      });
      progress.endFile(outcome);
    }
  } finally {
    progress.stop();
    await store.close();
  }
  progress.summary();
  return 0;
}

/** Opens the store at `path`, which must exist, with the command's `--memory-budget`. */
async function openExisting(path: string, flags: Map<string, string | true>): Promise<NgramStore> {
  return await openNgramStore(path, { create: false, memoryBudget: memoryBudget(flags) });
}

async function countCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(args, [], []);
  if (positional.length < 1) throw new UsageError("count takes STORE");
  const [path, ...ngrams] = positional;
  const store = await openExisting(path, flags);
  try {
    if (ngrams.length > 0) {
      const counts = await store.countMany(ngrams);
      console.log(ngrams.map((ngram, at) => `${ngram}\t${counts[at]}`).join("\n"));
    } else {
      await countLines(store);
    }
  } finally {
    await store.close();
  }
  return 0;
}

/** N-grams counted per batch when reading stdin. */
const stdinBatch = 10_000;

/** Counts the n-grams on stdin, one per line, in batches. */
async function countLines(store: NgramStore): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const counts = await store.countMany(batch);
    const out = batch.map((ngram, at) => `${ngram}\t${counts[at]}\n`).join("");
    await writeOut(out);
    batch = [];
  };
  for await (const text of lines) {
    const parts = (pending + text).split("\n");
    pending = parts.pop()!;
    for (const line of parts) {
      batch.push(line.endsWith("\r") ? line.slice(0, -1) : line);
      if (batch.length >= stdinBatch) await flush();
    }
  }
  if (pending !== "") batch.push(pending);
  await flush();
}

const encoder = new TextEncoder();

/** Writes `text` to stdout whole. */
async function writeOut(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
}

async function nextCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(args, ["--top"], []);
  if (positional.length !== 2) throw new UsageError("next takes STORE and HISTORY");
  const store = await openExisting(positional[0], flags);
  try {
    const found = await store.next(positional[1], { top: integer(flags, "--top") });
    await writeOut(found.map(({ word, count }) => `${word}\t${count}\n`).join(""));
  } finally {
    await store.close();
  }
  return 0;
}

async function statsCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(args, [], ["--json"]);
  if (positional.length !== 1) throw new UsageError("stats takes STORE");
  const store = await openExisting(positional[0], flags);
  try {
    const stats = await store.stats();
    if (flags.has("--json")) {
      console.log(JSON.stringify(stats, null, 2));
      return 0;
    }
    console.log(`shards: ${stats.shards}`);
    console.log(`words: ${stats.words} (vocabulary ${stats.vocabulary})`);
    console.log("order\ttotal\tdistinct");
    for (const { order, total, distinct } of stats.orders) {
      console.log(`${order}\t${total}\t${distinct}`);
    }
    const { memory } = stats;
    const budget = memory.budget === null ? "no budget" : `budget ${memory.budget}`;
    console.log(
      `memory: ${memory.liveBytes} bytes of trie nodes (${budget}); ` +
        `${memory.evictions} subtrees evicted (${memory.evictedBytes} bytes)`,
    );
    console.log("shard\tstate\tkeys\tlive bytes");
    for (const shard of stats.perShard) {
      console.log(`${shard.index}\t${shard.state}\t${shard.keys}\t${shard.memory.liveBytes}`);
    }
  } finally {
    await store.close();
  }
  return 0;
}

/** Lines written to stdout at once by `export`. */
const exportBatch = 10_000;

async function exportCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(args, [], []);
  if (positional.length !== 1) throw new UsageError("export takes STORE");
  const store = await openExisting(positional[0], flags);
  try {
    let lines: string[] = [];
    for await (const { ngram, count } of store.entries()) {
      lines.push(`${ngram}\t${count}\n`);
      if (lines.length >= exportBatch) {
        await writeOut(lines.join(""));
        lines = [];
      }
    }
    await writeOut(lines.join(""));
  } finally {
    await store.close();
  }
  return 0;
}

async function compactCommand(args: string[]): Promise<number> {
  const { positional, flags } = parse(args, [], []);
  if (positional.length !== 1) throw new UsageError("compact takes STORE");
  const store = await openExisting(positional[0], flags);
  try {
    await store.compact();
  } finally {
    await store.close();
  }
  return 0;
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  import: importCommand,
  count: countCommand,
  next: nextCommand,
  stats: statsCommand,
  export: exportCommand,
  compact: compactCommand,
};

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`ngram: ${error.message}\n${usage}`);
      return 2;
    }
    console.error(`ngram ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
