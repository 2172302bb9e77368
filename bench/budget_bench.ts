// deno-lint-ignore-file no-console
/**
 * `deno task budget-bench`: the memory budget (issue 17) side by side with
 * no budget, in one process. It builds a store of word n-gram keys (relaxed,
 * batches with a checkpoint after each), then reopens it in turns: loaded
 * whole without a budget, and with a budget of a tenth of the unbudgeted
 * trie's live nodes. Each turn gets keys skewed (90% of reads on 2% of the
 * keys, clustered or scattered: see `hotKeys`) and uniform, each measured
 * after as many gets of its mix unmeasured; every answer is checked. The budgeted turns report the
 * largest memory seen (the trie's arena, live and freed nodes, and the slab
 * cache) against the budget. With `--build-budgeted`, a second store is
 * built under the budget too, and its build time reported.
 *
 * ```sh
 * deno task budget-bench [--keys N] [--rounds N] [--build-budgeted]
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { openStore, type Store } from "../mod.ts";

/** Keys a batch adds. */
const batchKeys = 50_000;
/** Gets per measured phase. */
const getsPerPhase = 200_000;
/** Gets between two samples of the memory. */
const getsPerSample = 1_000;

interface Args {
  keys: number;
  rounds: number;
  buildBudgeted: boolean;
}

function parseArgs(args: string[]): Args {
  const parsed: Args = { keys: 300_000, rounds: 2, buildBudgeted: false };
  for (let i = 0; i < args.length; i++) {
    const value = Number(args[i + 1]);
    if (args[i] === "--keys" && Number.isSafeInteger(value) && value > 0) parsed.keys = value;
    else if (args[i] === "--rounds" && Number.isSafeInteger(value) && value > 0) {
      parsed.rounds = value;
    } else if (args[i] === "--build-budgeted") {
      parsed.buildBudgeted = true;
      continue;
    } else {
      throw new TypeError(
        `Unknown argument ${
          JSON.stringify(args[i])
        }; usage: [--keys N] [--rounds N] [--build-budgeted]`,
      );
    }
    i++;
  }
  return parsed;
}

/** Key `i` of the workload: a word bigram and its index (word n-gram shaped). */
export function key(i: number): string {
  return `w${(i * wordStep) % words} w${i % 977} ${i}`;
}

/** The count key `i` gets. */
export const countOf = (i: number): number => 1 + (i % 5);

/** Builds `keys` keys into `dir` (relaxed, a checkpoint per batch); returns the seconds it took. */
export async function build(dir: string, keys: number, memoryBudget?: number): Promise<number> {
  const store = await openStore(dir, { durability: "relaxed", memoryBudget });
  const started = performance.now();
  for (let from = 0; from < keys; from += batchKeys) {
    const op = store.atomic();
    for (let i = from; i < Math.min(keys, from + batchKeys); i++) op.add(key(i), countOf(i));
    await op.commit();
    await store.checkpoint();
  }
  await store.close();
  return (performance.now() - started) / 1000;
}

/** What one phase of gets measured. */
interface Gets {
  perSecond: number;
  /** Gets per second of this process's CPU time (less swayed by other work on the machine). */
  perCpuSecond: number;
  /** The most memory seen (arena and slab cache), in bytes. */
  peakBytes: number;
  /** Image records loaded during the phase. */
  loads: number;
  /** Subtrees evicted during the phase. */
  evictions: number;
}

/** The first words of the keys: key `i` starts with word `(i * wordStep) % words`. */
const words = 50_021;
const wordStep = 7919;

/**
 * The 2% of keys the skewed mixes read most: `scattered`, keys 0 to 2% (their
 * first words spread over all words, so their paths share almost no node);
 * `clustered`, every key of the first 2% of first words (as the most
 * frequent n-grams share their frequent first words).
 */
function hotKeys(keys: number, clustered: boolean): number[] {
  const hot: number[] = [];
  if (!clustered) {
    for (let i = 0; i < keys * 0.02; i++) hot.push(i);
    return hot;
  }
  let inverse = 1; // of wordStep, modulo words (a prime)
  while ((inverse * wordStep) % words !== 1) inverse++;
  for (let word = 0; word < words * 0.02; word++) {
    for (let i = (word * inverse) % words; i < keys; i += words) hot.push(i);
  }
  return hot;
}

/**
 * Gets per second on `store`, 90% of them on `hot` (or uniform without), each
 * answer checked: measured after as many gets of the same mix unmeasured (a
 * cache is judged warm, as the unbudgeted store is loaded whole).
 */
async function gets(store: Store, keys: number, hot: number[] | undefined): Promise<Gets> {
  let state = 1;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const next = () =>
    hot !== undefined && random() < 0.9
      ? hot[Math.floor(random() * hot.length)]
      : Math.floor(random() * keys);
  for (let done = 0; done < getsPerPhase; done++) {
    const i = next();
    if (await store.get(key(i)) !== countOf(i)) throw new Error(`key ${i}: wrong count`);
  }
  let peakBytes = 0;
  const before = store.stats();
  const cpu = cpuUsage();
  const started = performance.now();
  for (let done = 0; done < getsPerPhase; done++) {
    const i = next();
    const value = await store.get(key(i));
    if (value !== countOf(i)) throw new Error(`key ${i}: ${value}, want ${countOf(i)}`);
    if (done % getsPerSample === 0) {
      const memory = store.stats().memory;
      peakBytes = Math.max(peakBytes, memory.liveBytes + memory.freeBytes + memory.cacheBytes);
    }
  }
  const perSecond = getsPerPhase / ((performance.now() - started) / 1000);
  const used = cpuUsage(cpu);
  const perCpuSecond = getsPerPhase / ((used.user + used.system) / 1e6);
  const after = store.stats();
  const loads = after.image.nodesLoaded - before.image.nodesLoaded;
  const evictions = after.memory.evictions - before.memory.evictions;
  return { perSecond, perCpuSecond, peakBytes, loads, evictions };
}

/** One turn: opens `dir` (whole, or lazily under `memoryBudget`), gets both ways, closes. */
async function turn(dir: string, keys: number, memoryBudget?: number) {
  const opened = performance.now();
  const store = await openStore(
    dir,
    memoryBudget === undefined ? { load: "eager" } : { memoryBudget },
  );
  const openMs = performance.now() - opened;
  const clustered = await gets(store, keys, hotKeys(keys, true));
  const scattered = await gets(store, keys, hotKeys(keys, false));
  const uniform = await gets(store, keys, undefined);
  const memory = store.stats().memory;
  await store.close();
  return { openMs, clustered, scattered, uniform, memory };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const rate = (perSecond: number) => `${(perSecond / 1e3).toFixed(0)}k/s`;

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "budget-bench-" });
  const seconds = await build(dir, args.keys);
  const whole = await openStore(dir, { load: "eager" });
  const budget = Math.floor(whole.stats().memory.liveBytes / 10);
  await whole.close();
  console.log(
    `${args.keys} keys built in ${seconds.toFixed(1)} s; budget ${
      mb(budget)
    } (a tenth of the live nodes)`,
  );
  if (args.buildBudgeted) {
    const tightDir = await Deno.makeTempDir({ prefix: "budget-bench-" });
    const tight = await build(tightDir, args.keys, budget);
    console.log(`build: ${seconds.toFixed(1)} s unbudgeted, ${tight.toFixed(1)} s budgeted`);
    await Deno.remove(tightDir, { recursive: true });
  }
  for (let round = 1; round <= args.rounds; round++) {
    const free = await turn(dir, args.keys);
    const tight = await turn(dir, args.keys, budget);
    const phases = ["clustered", "scattered", "uniform"] as const;
    const rates = phases.map((phase) =>
      `${phase} ${rate(free[phase].perSecond)} → ${rate(tight[phase].perSecond)} (${
        (tight[phase].perSecond / free[phase].perSecond).toFixed(2)
      }×)`
    );
    const peak = Math.max(...phases.map((phase) => tight[phase].peakBytes));
    console.log(
      `round ${round}: open ${free.openMs.toFixed(0)} ms whole, ${tight.openMs.toFixed(0)} ms ` +
        `budgeted; gets ${rates.join(", ")}; peak memory ${mb(peak)} (${
          (peak / budget).toFixed(2)
        }× budget), unbudgeted live ${mb(free.memory.liveBytes)}`,
    );
    const cpu = phases.map((phase) =>
      `${phase} ${(tight[phase].perCpuSecond / free[phase].perCpuSecond).toFixed(2)}×`
    );
    console.log(`  gets per CPU second, budgeted ÷ unbudgeted: ${cpu.join(", ")}`);
    const work = phases.map((phase) =>
      `${phase} ${tight[phase].loads} loads, ${tight[phase].evictions} evictions`
    );
    console.log(`  budgeted: ${work.join("; ")}`);
    console.log(`  budgeted memory at the end: ${JSON.stringify(tight.memory)}`);
  }
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await main();
