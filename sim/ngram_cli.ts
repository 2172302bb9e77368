// deno-lint-ignore-file no-console
/**
 * `deno task sim --workload ngram`: runs the n-gram import simulator
 * (`ngram.ts`) over a range of seeds and prints what the engine's runs print:
 * a line per failure (`FAILED seed N` and its properties), trace hashes, and
 * a summary (`N seeds, P passed, F failed`), so `deno task mutants` reads
 * both alike.
 *
 * @module
 */

import {
  addNgramStats,
  type NgramRunResult,
  type NgramRunStats,
  ngramStatsZero,
  runNgramSimulation,
} from "./ngram.ts";
import { hash32 } from "./prng.ts";

/** A trace hash as people compare them: 8 hex digits. */
function hex(hash: number): string {
  return `0x${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

/** Milliseconds between two progress lines. */
const progressEveryMs = 2000;

/**
 * Runs seeds `from..to` (or from `from` for `seconds`), each with the store's
 * `memoryBudget` if given; the exit code: 1 if one failed.
 */
export async function runNgramSeeds(
  [from, to]: [number, number],
  seconds: number | undefined,
  memoryBudget?: number,
): Promise<number> {
  const started = performance.now();
  const sums = ngramStatsZero();
  let seeds = 0;
  let traceHash = 0;
  let last = from;
  let lastProgress = started;
  for (let seed = from;; seed++) {
    if (seconds === undefined && seed > to) break;
    if (seconds !== undefined && performance.now() - started > seconds * 1000) break;
    const result = await runNgramSimulation({ seed, memoryBudget });
    seeds++;
    last = seed;
    traceHash = hash32(traceHash, result.traceHash);
    addNgramStats(sums, result.stats);
    if (from === to) {
      console.log(`seed ${seed}: ${outcome(result)}, trace hash ${hex(result.traceHash)}`);
    }
    if (result.violations.length > 0) {
      console.log(`\nFAILED seed ${seed} (workload ngram)`);
      for (const violation of result.violations) {
        console.log(`  ${violation.property}: ${violation.message}`);
      }
      const budget = memoryBudget === undefined ? "" : ` --memory-budget ${memoryBudget}`;
      console.log(`replay: deno task sim --workload ngram --seed ${seed}${budget}`);
      summary(seeds, 1, sums, traceHash, from, last, started);
      return 1;
    }
    if (performance.now() - lastProgress > progressEveryMs) {
      lastProgress = performance.now();
      console.log(`  … seed ${seed}: ${seeds} run, 0 failed`);
    }
  }
  summary(seeds, 0, sums, traceHash, from, last, started);
  return 0;
}

function outcome(result: NgramRunResult): string {
  return result.violations.length > 0 ? "FAILED" : "passed";
}

function summary(
  seeds: number,
  failed: number,
  sums: NgramRunStats,
  traceHash: number,
  from: number,
  to: number,
  started: number,
): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\n${seeds} seeds, ${seeds - failed} passed, ${failed} failed in ${seconds} s`);
  console.log(
    `imports ${sums.imports} (resumed ${sums.resumes}, already imported ${sums.already}), ` +
      `crashes ${sums.crashes}, imports stopped by a disk fault ${sums.failures}, ` +
      `by a bad input ${sums.readerErrors}; resumes with other options refused ${sums.optionProbes}`,
  );
  if (sums.evictions > 0) console.log(`subtrees the memory budget evicted: ${sums.evictions}`);
  if (sums.workJudged > 0 || sums.memoryChecks > 0) {
    console.log(
      `memory bounds: ${sums.memoryChecks} parts judged by bound-memory after a quiet ` +
        `checkpoint; budget work judged (bound-work): ${sums.budgetRounds} rounds in ` +
        `${sums.workJudged} intervals of a part; budget relocations judged (bound-relocate): ` +
        `${sums.relocationsJudged}`,
    );
  }
  console.log(`trace hash of seeds ${from}..${to}: ${hex(traceHash)}`);
}
