// deno-lint-ignore-file no-console
/**
 * `deno task write-budget-bench`: a plain store's writes under a small
 * memory budget (issue 17: "the trie's arena stays within it"). Distinct
 * word-bigram keys (`budget_bench.ts`'s, spread over the key space) are
 * added in relaxed atomic batches, each awaited, into a fresh store opened
 * with `memoryBudget` a tenth of the arena the same keys take without a
 * budget; no checkpoint is asked for (the budget starts its own). After
 * each batch the memory the budget covers is sampled: the trie's arena
 * (live and freed nodes), the slab cache and the cooling queue's ring
 * (a sixteenth of the budget, at least 1 KiB: not in `stats().memory`).
 * Reported: the largest sample ÷ the budget, adds per second (and per CPU
 * second, less swayed by other work on the machine), the close's time.
 * The slab cache's floor is one slab (`slabCacheSlabsMinKey`), so that it
 * keeps to its eighth of these budgets (8 slabs, 1 MiB, otherwise). A build
 * that has not ended after `--seconds` (default 300) is stopped and
 * reported as stalled, with what it did by then (its last progress line,
 * every 10,000 keys).
 *
 * `--baseline DIR` runs another checkout's `mod.ts` (say, main before a
 * change) in the same run, a worker process per build, interleaved round
 * by round (`--rounds`), with the same budget; medians side by side.
 *
 * ```sh
 * deno task write-budget-bench [--keys N] [--rounds N] [--baseline DIR]
 * git archive main | tar -x -C /tmp/base && deno task write-budget-bench --baseline /tmp/base
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { countOf, key } from "./budget_bench.ts";
import { checkoutRoots, workerTurn } from "./_checkouts.ts";

/** Keys per atomic batch. */
const batchKeys = 1_000;
/** The cooling ring's share of the budget and its least size (`lib/engine/_budget.ts`). */
const ringShare = 1 / 16;
const ringBytesMin = 4 * (256 + 2);
/** Keys whose counts are read back after a build, each checked. */
const sampleKeys = 10_000;

interface Args {
  keys: number;
  rounds: number;
  baseline?: string;
  /** Set in a worker: the checkout whose `mod.ts` it runs. */
  worker?: string;
  /** Set in a worker: the budget (absent: an unbudgeted build, which reports its arena). */
  budget?: number;
  /** Seconds a build may take before it is stopped and reported as stalled. */
  seconds: number;
}

const usage =
  "usage: deno task write-budget-bench [--keys N] [--rounds N] [--seconds N] [--baseline DIR]";

function parseArgs(argv: string[]): Args {
  const args: Args = { keys: 1_000_000, rounds: 3, seconds: 300 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const number = Number(value);
    if (flag === "--keys" && Number.isSafeInteger(number) && number > 0) args.keys = number;
    else if (flag === "--rounds" && Number.isSafeInteger(number) && number > 0) {
      args.rounds = number;
    } else if (flag === "--seconds" && Number.isFinite(number) && number > 0) {
      args.seconds = number;
    } else if (flag === "--baseline" && value !== undefined) args.baseline = value;
    else if (flag === "--worker" && value !== undefined) args.worker = value;
    else if (flag === "--budget" && Number.isSafeInteger(number)) args.budget = number;
    else throw new TypeError(`Unknown argument ${JSON.stringify(flag)}; ${usage}`);
  }
  return args;
}

/** What one build measured. */
interface BuildResult {
  /** Keys added (all of them, unless stalled). */
  keys: number;
  /** Whether the build was stopped after `--seconds`. */
  stalled: boolean;
  addsPerSecond: number;
  addsPerCpuSecond: number;
  /** The most of arena + slab cache + ring seen after a batch, in bytes. */
  peakBytes: number;
  /** The most arena (live and freed nodes) seen after a batch. */
  peakArenaBytes: number;
  /** The arena at the end of the adds (before the close). */
  arenaBytes: number;
  closeMs: number;
  evictions: number;
  checkpoints: number;
}

/** A worker: builds `args.keys` keys with the checkout `args.worker`, under `args.budget`. */
async function worker(args: Args): Promise<BuildResult> {
  const mod = await import(`${args.worker}/mod.ts`);
  const { slabCacheSlabsMinKey } = await import(`${args.worker}/lib/store/store.ts`);
  const dir = await Deno.makeTempDir({ prefix: "write-budget-bench-" });
  try {
    const budget = args.budget;
    const store = await mod.openStore(dir, {
      durability: "relaxed",
      memoryBudget: budget,
      [slabCacheSlabsMinKey]: 1,
    });
    const ring = budget === undefined ? 0 : Math.max(ringBytesMin, Math.floor(budget * ringShare));
    const result: BuildResult = {
      keys: 0,
      stalled: true,
      addsPerSecond: 0,
      addsPerCpuSecond: 0,
      peakBytes: 0,
      peakArenaBytes: 0,
      arenaBytes: 0,
      closeMs: 0,
      evictions: 0,
      checkpoints: 0,
    };
    const cpu = cpuUsage();
    const started = performance.now();
    const note = () => {
      const seconds = (performance.now() - started) / 1000;
      const used = cpuUsage(cpu);
      const stats = store.stats();
      result.addsPerSecond = result.keys / seconds;
      result.addsPerCpuSecond = result.keys / ((used.user + used.system) / 1e6);
      result.arenaBytes = stats.memory.liveBytes + stats.memory.freeBytes;
      result.evictions = stats.memory.evictions;
      result.checkpoints = stats.epochs.checkpoints;
    };
    for (let from = 0; from < args.keys; from += batchKeys) {
      const op = store.atomic();
      for (let i = from; i < Math.min(args.keys, from + batchKeys); i++) op.add(key(i), countOf(i));
      await op.commit();
      result.keys = Math.min(args.keys, from + batchKeys);
      const memory = store.stats().memory;
      const arena = memory.liveBytes + memory.freeBytes;
      result.peakArenaBytes = Math.max(result.peakArenaBytes, arena);
      result.peakBytes = Math.max(result.peakBytes, arena + memory.cacheBytes + ring);
      if (result.keys % 10_000 === 0) {
        note();
        console.log(JSON.stringify(result)); // progress: the parent keeps the last line
      }
    }
    note();
    result.stalled = false;
    for (let n = 0; n < sampleKeys; n++) {
      const i = Math.floor((n * args.keys) / sampleKeys);
      const value = await store.get(key(i));
      if (value !== countOf(i)) throw new Error(`key ${i}: ${value}, want ${countOf(i)}`);
    }
    const closing = performance.now();
    await store.close();
    result.closeMs = performance.now() - closing;
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs a worker process for the checkout at `root`; returns what it
 * measured, or its last progress (stalled) if it ran past `args.seconds`.
 */
async function spawn(args: Args, root: string, budget?: number): Promise<BuildResult> {
  const flags = ["--keys", `${args.keys}`, "--worker", root];
  if (budget !== undefined) flags.push("--budget", `${budget}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...flags],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), args.seconds * 1000);
  const output = await child.output();
  clearTimeout(timer);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (lines[lines.length - 1] === "") throw new Error(`The worker for "${root}" printed nothing`);
  const result: BuildResult = JSON.parse(lines[lines.length - 1]);
  if (!output.success && !result.stalled) throw new Error(`The worker for "${root}" failed`);
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const rate = (perSecond: number) => `${(perSecond / 1e3).toFixed(0)}k/s`;

/** Prints the medians of each checkout's builds, side by side. */
function report(runs: Map<string, BuildResult[]>, free: BuildResult, budget: number): void {
  console.log(
    `\nunbudgeted (this checkout): ${rate(free.addsPerSecond)}, ` +
      `${rate(free.addsPerCpuSecond)} per CPU second, arena ${mb(free.arenaBytes)}; ` +
      `budget ${mb(budget)}`,
  );
  const columns = ["peak ÷ budget", "peak arena ÷ budget", "adds/s", "adds/CPU s", "close ms"];
  console.log(
    `| checkout | ${columns.join(" | ")} | evictions | checkpoints | keys (stalled) | rounds |`,
  );
  console.log(`|---|${columns.map(() => "---:").join("|")}|---:|---:|---|---|`);
  for (const [label, results] of runs) {
    const peaks = results.map((r) => (r.peakBytes / budget).toFixed(2)).join(" / ");
    const cells = [
      `${(median(results.map((r) => r.peakBytes)) / budget).toFixed(2)}× (${peaks})`,
      `${(median(results.map((r) => r.peakArenaBytes)) / budget).toFixed(2)}×`,
      rate(median(results.map((r) => r.addsPerSecond))),
      rate(median(results.map((r) => r.addsPerCpuSecond))),
      median(results.map((r) => r.closeMs)).toFixed(0),
      `${median(results.map((r) => r.evictions))}`,
      `${median(results.map((r) => r.checkpoints))}`,
      results.map((r) => `${r.keys}${r.stalled ? " (stalled)" : ""}`).join(" / "),
      `${results.length}`,
    ];
    console.log(`| ${label} | ${cells.join(" | ")} |`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  if (await workerTurn(args.worker, () => worker(args))) return;
  const roots = checkoutRoots(args.baseline);
  const here = roots.get("this")!;
  const free = await spawn(args, here);
  const budget = Math.floor(free.arenaBytes / 10);
  console.error(`unbudgeted: ${JSON.stringify(free)}; budget ${budget}`);
  const runs = new Map<string, BuildResult[]>([...roots.keys()].map((label) => [label, []]));
  for (let round = 0; round < args.rounds; round++) {
    // Alternate which goes first: the machine's load drifts.
    const order = round % 2 === 0 ? [...roots] : [...roots].reverse();
    for (const [label, root] of order) {
      const result = await spawn(args, root, budget);
      runs.get(label)!.push(result);
      console.error(`round ${round + 1}, ${label}: ${JSON.stringify(result)}`);
    }
  }
  report(runs, free, budget);
}

if (import.meta.main) await main();
