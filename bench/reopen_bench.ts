// deno-lint-ignore-file no-console
/**
 * `deno task reopen-bench`: the reopen of a store of word n-gram counts
 * (the compare's workload: `buildWorkload`, 1,000,000 increments, about
 * 548,000 keys) in each load mode, side by side in one process, rounds
 * interleaved. Per mode: the open itself; the first `get` after it; the
 * time until the trie is loaded whole (`stats().warmUp`: `"auto"` warms up
 * in the background; `"eager"` is whole at open; `"lazy"` never is); then
 * {@link pointReads} random gets of loaded keys, each awaited, right after
 * another open (during the warm-up, for `"auto"`), and once more after it,
 * and one atomic batch of {@link batchAdds} additions once warm. Every
 * answer is checked against the workload's counts.
 *
 * ```sh
 * deno task reopen-bench [--increments N] [--rounds N] [--budget BYTES]
 * ```
 *
 * With `--budget`, a fourth mode: `"auto"` under that `memoryBudget`.
 *
 * @module
 */

import { type OpenOptions, openStore, type Store } from "../mod.ts";
import { buildWorkload } from "./_compare_engines.ts";
import { makeRandom } from "./random.ts";

/** Gets per measured read phase (as the compare's (c)). */
const pointReads = 100_000;
/** Additions in the batch made once warm. */
const batchAdds = 1_000;
/** Increments per atomic batch while building. */
const buildBatch = 1_000;
/** The longest wait for a warm-up, in ms. */
const warmWaitMsMax = 60_000;

interface Args {
  increments: number;
  rounds: number;
  budget?: number;
}

function parseArgs(args: string[]): Args {
  const parsed: Args = { increments: 1_000_000, rounds: 3 };
  for (let i = 0; i < args.length; i += 2) {
    const value = Number(args[i + 1]);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(`Bad value after ${JSON.stringify(args[i])}: a positive integer`);
    }
    if (args[i] === "--increments") parsed.increments = value;
    else if (args[i] === "--rounds") parsed.rounds = value;
    else if (args[i] === "--budget") parsed.budget = value;
    else {
      throw new TypeError(
        `Unknown argument ${JSON.stringify(args[i])}: use --increments, --rounds or --budget`,
      );
    }
  }
  return parsed;
}

interface Mode {
  label: string;
  options: OpenOptions;
}

interface Turn {
  openMs: number;
  firstGetMs: number;
  /** From the open's start until loaded whole (NaN: never, a lazy open). */
  warmMs: number;
  /** Gets a second right after an open. */
  readsAfterOpen: number;
  /** Gets a second once warm (or after the first phase, for a lazy open). */
  readsWarm: number;
  /** Milliseconds of one atomic batch of additions, once warm. */
  batchMs: number;
}

async function build(dir: string, increments: string[]): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  const store = await openStore(dir, { durability: "relaxed" });
  for (let at = 0; at < increments.length; at += buildBatch) {
    const atomic = store.atomic();
    for (const key of increments.slice(at, at + buildBatch)) {
      atomic.add(key, 1);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    await atomic.commit();
  }
  await store.checkpoint({ compact: true });
  await store.close();
  return expected;
}

/** Resolves once the store holds no stub (or the warm-up ended); the ms from `began`. */
async function untilWarm(store: Store, began: number): Promise<number> {
  for (;;) {
    const stats = store.stats();
    if (stats.image.unloadedNodes === 0) return performance.now() - began;
    if (stats.warmUp.state !== "running") return Number.NaN;
    if (performance.now() - began > warmWaitMsMax) throw new Error("The warm-up did not end");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

async function reads(store: Store, keys: string[], expected: Map<string, number>): Promise<number> {
  const started = performance.now();
  for (const key of keys) {
    const value = await store.get(key);
    if (value !== expected.get(key)) throw new Error(`get("${key}") is ${value}`);
  }
  return keys.length / ((performance.now() - started) / 1000);
}

async function turn(
  dir: string,
  mode: Mode,
  keys: string[],
  expected: Map<string, number>,
): Promise<Turn> {
  const began = performance.now();
  const store = await openStore(dir, mode.options);
  const openMs = performance.now() - began;
  const first = await store.get(keys[0]);
  if (first !== expected.get(keys[0])) throw new Error(`first get is ${first}`);
  const firstGetMs = performance.now() - began - openMs;
  const warmMs = await untilWarm(store, began);
  const readsWarm = await reads(store, keys, expected);
  const batch = store.atomic();
  for (const key of keys.slice(0, batchAdds)) batch.add(key, 0);
  const batchStarted = performance.now();
  await batch.commit();
  const batchMs = performance.now() - batchStarted;
  await store.close();
  // Reads right after an open: during the warm-up, for "auto".
  const again = await openStore(dir, mode.options);
  const readsAfterOpen = await reads(again, keys, expected);
  await again.close();
  return { openMs, firstGetMs, warmMs, readsAfterOpen, readsWarm, batchMs };
}

function median(values: number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
}

function row(label: string, turns: Turn[]): string {
  const cell = (field: keyof Turn, digits: number) => {
    const value = median(turns.map((turn) => turn[field]));
    return Number.isNaN(value) ? "—" : value.toFixed(digits);
  };
  const rate = (field: keyof Turn) =>
    Math.round(median(turns.map((t) => t[field]))).toLocaleString("en-US");
  return `| ${label} | ${cell("openMs", 1)} | ${cell("firstGetMs", 2)} | ${cell("warmMs", 0)} | ` +
    `${rate("readsAfterOpen")} | ${rate("readsWarm")} | ${cell("batchMs", 2)} |`;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const { increments } = buildWorkload(args.increments);
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-reopen-" });
  try {
    const expected = await build(dir, increments);
    const loaded = [...expected.keys()];
    const random = makeRandom(0x4ead);
    const keys = Array.from(
      { length: pointReads },
      () => loaded[Math.floor(random() * loaded.length)],
    );
    const modes: Mode[] = [
      { label: "eager", options: { load: "eager" } },
      { label: "auto", options: { load: "auto" } },
      { label: "lazy", options: { load: "lazy" } },
    ];
    if (args.budget !== undefined) {
      modes.push({ label: `auto, budget ${args.budget}`, options: { memoryBudget: args.budget } });
    }
    const turns = new Map<string, Turn[]>(modes.map((mode) => [mode.label, []]));
    for (let round = 0; round < args.rounds; round++) {
      for (const mode of modes) turns.get(mode.label)!.push(await turn(dir, mode, keys, expected));
    }
    console.log(
      `${expected.size} keys (${args.increments} increments), ${args.rounds} rounds, medians`,
    );
    console.log(
      "| load | open (ms) | first get (ms) | whole (ms from open) | gets/s right after open | gets/s once whole | batch of 1,000 adds once whole (ms) |",
    );
    console.log("|---|---|---|---|---|---|---|");
    for (const mode of modes) console.log(row(mode.label, turns.get(mode.label)!));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

await main();
