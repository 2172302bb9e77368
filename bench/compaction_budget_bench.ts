// deno-lint-ignore-file no-console
/**
 * `deno task compaction-budget-bench`: a streaming compaction beside a
 * trie past its part of a memory budget (issue 17). A store of word-bigram
 * keys (`budget_bench.ts`'s, built without a budget) is reopened under a
 * small budget with automatic checkpoints off; new keys written in one
 * batch take the live nodes past the trie's part, all dirty (no checkpoint
 * wrote them). Then a compaction (`checkpoint({ compact: true })`) runs,
 * and gets of random built keys (each checked) run one at a time beside it
 * until it ends. Each step of the compaction's walk passes nodes (gives
 * them fresh addresses, leaves the ancestors it stood on), which may then
 * go, and asks for a round. Reported per run: the compaction's time, the
 * gets beside it and their mean and 99th-percentile time, the walk's steps
 * and the nodes it passed, the clock hand's walks and visits
 * (`writeCounters(store).budgetWork`) during the compaction, visits per step, evictions, and the most live
 * bytes seen after a get ÷ the budget.
 *
 * `--baseline DIR` runs another checkout's `mod.ts` (say, the code before
 * a change) in the same run, a worker process per run, interleaved round
 * by round (`--rounds`), on copies of the same built store.
 *
 * ```sh
 * deno task compaction-budget-bench [--keys N] [--writes N] [--budget BYTES] [--rounds N] [--baseline DIR]
 * git archive <commit> | tar -x -C /tmp/base && deno task compaction-budget-bench --baseline /tmp/base
 * ```
 *
 * @module
 */

import { build, countOf, key } from "./budget_bench.ts";
import { checkoutRoots, workerTurn } from "./_checkouts.ts";

/** Gets a worker makes at most beside the compaction (it is then awaited alone). */
const getsMax = 200_000;

interface Args {
  keys: number;
  writes: number;
  budget: number;
  rounds: number;
  baseline?: string;
  /** Set in a worker: the checkout whose `mod.ts` it runs... */
  worker?: string;
  /** ... on a copy of the store built here. */
  dir?: string;
}

const usage = "usage: deno task compaction-budget-bench [--keys N] [--writes N] " +
  "[--budget BYTES] [--rounds N] [--baseline DIR]";

function parseArgs(argv: string[]): Args {
  const args: Args = { keys: 20_000, writes: 10_000, budget: 300_000, rounds: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const number = Number(value);
    const count = Number.isSafeInteger(number) && number > 0;
    if (flag === "--keys" && count) args.keys = number;
    else if (flag === "--writes" && count) args.writes = number;
    else if (flag === "--budget" && count) args.budget = number;
    else if (flag === "--rounds" && count) args.rounds = number;
    else if (flag === "--baseline" && value !== undefined) args.baseline = value;
    else if (flag === "--worker" && value !== undefined) args.worker = value;
    else if (flag === "--dir" && value !== undefined) args.dir = value;
    else throw new TypeError(`Unknown argument ${JSON.stringify(flag)}; ${usage}`);
  }
  return args;
}

/** New key `i`: below built key `i * keys / writes`, so the new keys spread over the key space. */
function newKey(i: number, args: Args): string {
  return `${key(Math.floor(i * args.keys / args.writes))} new`;
}

/** What one run measured. */
interface RunResult {
  compactionMs: number;
  gets: number;
  usPerGet: number;
  /** The 99th percentile of the gets' times, in µs. */
  p99Us: number;
  /** Steps of the compaction's walk (`budgetWork.walkSteps`, records its copy read too). */
  walkSteps: number;
  rounds: number;
  /** Nodes the compaction's walk passed (`budgetWork.passed`; 0 from code that does not count them). */
  passed: number;
  walks: number;
  visits: number;
  visitsPerStep: number;
  fruitless: number;
  evictions: number;
  /** The most live bytes seen after a get, ÷ the budget. */
  peakLiveShare: number;
}

/** The budget's work counters a checkout's `writeCounters` gives (older ones lack some). */
type Work = Record<string, number>;

/** A worker: one run with the checkout `args.worker` on a copy of `args.dir`. */
async function worker(args: Args): Promise<RunResult> {
  const mod = await import(`${args.worker}/mod.ts`);
  const { writeCounters } = await import(`${args.worker}/lib/store/store.ts`);
  const copy = await Deno.makeTempDir({ prefix: "compaction-budget-run-" });
  try {
    for await (const entry of Deno.readDir(args.dir!)) {
      await Deno.copyFile(`${args.dir}/${entry.name}`, `${copy}/${entry.name}`);
    }
    const store = await mod.openStore(copy, {
      durability: "relaxed",
      memoryBudget: args.budget,
      checkpoint: { auto: false },
    });
    // New keys below built ones, spread over the key space, all dirty: past the trie's part, and
    // none can go before a checkpoint wrote them (the compaction's walk passes them in turn).
    const op = store.atomic();
    for (let i = 0; i < args.writes; i++) op.add(newKey(i, args), 1);
    await op.commit();
    const before: Work = writeCounters(store).budgetWork;
    const evictionsBefore: number = store.stats().memory.evictions;
    let state = 7;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const times: number[] = [];
    let peakLive = 0;
    let ended = false;
    const started = performance.now();
    const compaction = store.checkpoint({ compact: true }).finally(() => ended = true);
    while (!ended && times.length < getsMax) {
      const i = Math.floor(random() * args.keys);
      const at = performance.now();
      const value = await store.get(key(i));
      times.push(performance.now() - at);
      if (value !== countOf(i)) throw new Error(`key ${i}: ${value}, want ${countOf(i)}`);
      peakLive = Math.max(peakLive, store.stats().memory.liveBytes);
      // A get from cached slabs resolves in microtasks: let the compaction's pauses end.
      if (times.length % 16 === 0) await new Promise((resume) => setTimeout(resume, 0));
    }
    const result = await compaction;
    const compactionMs = performance.now() - started;
    if (!result.compacted) throw new Error("the checkpoint did not compact");
    const after: Work = writeCounters(store).budgetWork;
    const work = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    const evictions = store.stats().memory.evictions - evictionsBefore;
    await store.close();
    times.sort((a, b) => a - b);
    const sum = times.reduce((total, ms) => total + ms, 0);
    return {
      compactionMs: Number(compactionMs.toFixed(0)),
      gets: times.length,
      usPerGet: Number((sum * 1000 / Math.max(1, times.length)).toFixed(1)),
      p99Us: Number(((times[Math.floor(times.length * 0.99)] ?? 0) * 1000).toFixed(0)),
      walkSteps: work("walkSteps"),
      rounds: work("rounds"),
      passed: work("passed"),
      walks: work("walks"),
      visits: work("visits"),
      visitsPerStep: Number((work("visits") / Math.max(1, work("walkSteps"))).toFixed(1)),
      fruitless: work("fruitless"),
      evictions,
      peakLiveShare: Number((peakLive / args.budget).toFixed(2)),
    };
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
}

/** Runs a worker process for the checkout at `root`; returns what it measured. */
async function spawn(args: Args, root: string, dir: string): Promise<RunResult> {
  const flags = ["--keys", `${args.keys}`, "--writes", `${args.writes}`];
  flags.push("--budget", `${args.budget}`, "--worker", root, "--dir", dir);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...flags],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!output.success) throw new Error(`The worker for "${root}" failed`);
  return JSON.parse(lines[lines.length - 1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Prints each checkout's runs and medians, side by side. */
function report(runs: Map<string, RunResult[]>): void {
  const columns: (keyof RunResult)[] = [
    "compactionMs",
    "gets",
    "usPerGet",
    "p99Us",
    "walkSteps",
    "passed",
    "walks",
    "visits",
    "visitsPerStep",
    "fruitless",
    "evictions",
    "peakLiveShare",
  ];
  console.log(`| checkout | ${columns.join(" | ")} |`);
  console.log(`|---|${columns.map(() => "---:").join("|")}|`);
  for (const [label, results] of runs) {
    const cells = columns.map((column) =>
      `${median(results.map((r) => r[column]))} (${results.map((r) => r[column]).join(", ")})`
    );
    console.log(`| ${label} | ${cells.join(" | ")} |`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  if (await workerTurn(args.worker, () => worker(args))) return;
  const roots = checkoutRoots(args.baseline);
  const dir = await Deno.makeTempDir({ prefix: "compaction-budget-bench-" });
  try {
    await build(dir, args.keys);
    console.error(
      `${args.keys} keys built; ${args.writes} written past a budget of ${args.budget}`,
    );
    const runs = new Map<string, RunResult[]>([...roots.keys()].map((label) => [label, []]));
    for (let round = 0; round < args.rounds; round++) {
      // Alternate which goes first: the machine's load drifts.
      const order = round % 2 === 0 ? [...roots] : [...roots].reverse();
      for (const [label, root] of order) {
        const result = await spawn(args, root, dir);
        runs.get(label)!.push(result);
        console.error(`round ${round + 1}, ${label}: ${JSON.stringify(result)}`);
      }
    }
    report(runs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
