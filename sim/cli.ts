// deno-lint-ignore-file no-console
/**
 * `deno task sim`: runs seeds of the deterministic simulator and reports.
 *
 * ```sh
 * deno task sim [--seed N | --seeds A..B] [--ops N] [--clients N]
 *               [--profile none|realistic|hostile|mixed] [--durability strict|relaxed|mixed]
 *               [--sector 512|4096] [--memory-pressure P] [--memory-budget BYTES]
 *               [--trace FILE] [--replay FILE]
 *               [--shrink] [--seconds N] [--help]
 * ```
 *
 * Every run prints trace hashes, so two runs can be compared by eye: one
 * seed prints its own; a range prints each failing seed's and one hash of
 * all the seeds run (each seed's hash folded in seed order). On a violation
 * it prints the seed, the property, the steps involved and a one-line replay
 * command; `--trace` writes the run as JSON and `--replay` re-runs such a
 * file; `--shrink` reduces the failure first. `--seconds` (the soak task)
 * keeps drawing seeds until the time is up. `--help` lists every option with
 * its default.
 *
 * @module
 */

import { slabBytes } from "../lib/image/allocation.ts";
import { faultProfiles, none } from "./faults.ts";
import { hash32 } from "./prng.ts";
import {
  drawDurability,
  drawProfile,
  type DurabilityChoice,
  type ProfileName,
} from "./profiles.ts";
import { type RunOptions, type RunResult, runSimulation, type StopKind } from "./runner.ts";
import { runNgramSeeds } from "./ngram_cli.ts";
import { ngramShardsMax } from "./ngram.ts";
import { memoryBudgetMin } from "../lib/ngram/mod.ts";
import { shrink } from "./shrink.ts";
import type { Step } from "./workload.ts";

interface CliOptions {
  seeds: [number, number];
  ops: number;
  clients: number;
  profile: ProfileName;
  durability: DurabilityChoice;
  sector: 512 | 4096;
  memoryPressure: number;
  memoryBudget?: number;
  walkPauses?: boolean;
  slabCacheSlabsMin?: number;
  syncReads?: boolean;
  scheduledCloses?: boolean;
  trace?: string;
  replay?: string;
  shrink: boolean;
  seconds?: number;
  workload: "store" | "ngram";
  help: boolean;
}

/** Every option: its argument, its default and what it does (`--help` prints these). */
const optionHelp: readonly (readonly [string, string, string])[] = [
  ["--seed N", "1", "run one seed (0 to 4294967295)"],
  ["--seeds A..B", "1..1", "run the seeds from A to B"],
  ["--ops N", "500", "client operations per seed"],
  ["--clients N", "4", "concurrent clients"],
  [
    "--profile NAME",
    "mixed",
    "fault profile: none, realistic, hostile, or mixed (drawn per seed)",
  ],
  [
    "--durability MODE",
    "mixed",
    "strict, relaxed, or mixed (relaxed on one seed in four)",
  ],
  ["--sector BYTES", "512", "sector size torn writes are cut into: 512 or 4096"],
  [
    "--memory-pressure P",
    "0",
    "chance per step of running out of memory until the next restart",
  ],
  [
    "--memory-budget BYTES",
    "none",
    "the store's memoryBudget (a few KiB: evictions at every checkpoint); n-gram runs: " +
    `the whole store's, at least ${memoryBudgetMin(ngramShardsMax)}`,
  ],
  [
    "--walk-pauses on|off",
    "drawn",
    "a checkpoint's node walk pauses between steps while writes run (drawn: half the seeds)",
  ],
  [
    "--slab-cache-min SLABS",
    "drawn",
    "with --memory-budget, the fewest slabs the image's slab cache keeps (the engine's: 8; " +
    "drawn: 1 on half the seeds)",
  ],
  [
    "--sync-reads on|off",
    "drawn",
    "the disk's files also read at once (readSync), as files through the page cache do, so " +
    "reads load a key's path without an await (drawn: half the seeds)",
  ],
  [
    "--scheduled-closes on|off",
    "off",
    "a file's close completes when the scheduler steps it, as other calls do, so other I/O " +
    "completes while the engine awaits a close",
  ],
  ["--trace FILE", "none", "write the run (shrunk, with --shrink) as a JSON trace"],
  ["--replay FILE", "none", "re-run a trace written by --trace"],
  ["--shrink", "off", "on a failure, shrink the run before reporting it"],
  ["--seconds N", "none", "keep drawing seeds from the first one until N seconds pass"],
  [
    "--workload NAME",
    "store",
    "store (the engine's clients) or ngram (n-gram imports; see sim/ngram.ts)",
  ],
  ["--help", "", "print this help and exit (also -h)"],
];

const usage = "usage: deno task sim [--seed N | --seeds A..B] [--ops N] [--clients N] " +
  "[--profile none|realistic|hostile|mixed] [--durability strict|relaxed|mixed] [--sector 512|4096]" +
  " [--memory-pressure P] [--memory-budget BYTES] [--walk-pauses on|off] [--slab-cache-min SLABS] [--sync-reads on|off] [--scheduled-closes on|off] [--trace FILE] [--replay FILE] [--shrink] [--seconds N] [--workload store|ngram] [--help]";

/** The `--help` text: the usage line, then every option with its default. */
export function helpText(): string {
  const width = Math.max(...optionHelp.map(([flag]) => flag.length));
  const defaultWidth = Math.max(...optionHelp.map(([, fallback]) => fallback.length));
  const lines = optionHelp.map(([flag, fallback, what]) =>
    `  ${flag.padEnd(width)}  ${fallback.padEnd(defaultWidth)}  ${what}`
  );
  return [
    usage,
    "",
    "Runs the deterministic simulator: each seed decides the workload, every fault",
    "and the order of every I/O, and prints a trace hash equal for equal runs.",
    "",
    `options:${" ".repeat(width - 4)}default`,
    ...lines,
  ].join("\n");
}

/** The JSON a trace file holds. */
export interface TraceFile {
  /** Format version of the trace file. */
  version: 1;
  /** The run's options, steps included. */
  options: RunOptions;
  /** What the run found. */
  violations: RunResult["violations"];
}

function integer(name: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name} must be an integer from ${min} to ${max}, got "${text}"; ${usage}`,
    );
  }
  return value;
}

function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = {
    seeds: [1, 1],
    ops: 500,
    clients: 4,
    profile: "mixed",
    durability: "mixed",
    sector: 512,
    memoryPressure: 0,
    shrink: false,
    workload: "store",
    help: false,
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const value = () => argv[++index];
    if (arg === "--help" || arg === "-h") options.help = true;
    else if (arg === "--seed") {
      const seed = integer("--seed", value(), 0, 0xffff_ffff);
      options.seeds = [seed, seed];
    } else if (arg === "--seeds") {
      const match = /^(\d+)\.\.(\d+)$/.exec(value() ?? "");
      if (match === null || Number(match[1]) > Number(match[2])) {
        throw new RangeError(`--seeds takes A..B with A ≤ B; ${usage}`);
      }
      options.seeds = [Number(match[1]), Number(match[2])];
    } else if (arg === "--ops") options.ops = integer("--ops", value(), 1, 1_000_000);
    else if (arg === "--clients") options.clients = integer("--clients", value(), 1, 1000);
    else if (arg === "--seconds") options.seconds = integer("--seconds", value(), 1, 7 * 24 * 3600);
    else if (arg === "--sector") {
      options.sector = integer("--sector", value(), 512, 4096) === 4096 ? 4096 : 512;
    } else if (arg === "--profile") {
      const name = value();
      if (name !== "mixed" && !(name !== undefined && name in faultProfiles)) {
        throw new RangeError(`--profile must be none, realistic, hostile or mixed, got "${name}"`);
      }
      options.profile = name as ProfileName;
    } else if (arg === "--durability") {
      const name = value();
      if (name !== "strict" && name !== "relaxed" && name !== "mixed") {
        throw new RangeError(`--durability must be strict, relaxed or mixed, got "${name}"`);
      }
      options.durability = name;
    } else if (arg === "--memory-pressure") {
      const text = value();
      const chance = Number(text);
      if (text === undefined || !(chance >= 0 && chance <= 1)) {
        throw new RangeError(
          `--memory-pressure takes a chance per step from 0 to 1, got "${text}"`,
        );
      }
      options.memoryPressure = chance;
    } else if (arg === "--memory-budget") {
      options.memoryBudget = integer("--memory-budget", value(), 4096, 2 ** 40);
    } else if (arg === "--walk-pauses") {
      const text = value();
      if (text !== "on" && text !== "off") {
        throw new RangeError(`--walk-pauses must be on or off, got "${text}"`);
      }
      options.walkPauses = text === "on";
    } else if (arg === "--sync-reads") {
      const text = value();
      if (text !== "on" && text !== "off") {
        throw new RangeError(`--sync-reads must be on or off, got "${text}"`);
      }
      options.syncReads = text === "on";
    } else if (arg === "--scheduled-closes") {
      const text = value();
      if (text !== "on" && text !== "off") {
        throw new RangeError(`--scheduled-closes must be on or off, got "${text}"`);
      }
      options.scheduledCloses = text === "on";
    } else if (arg === "--slab-cache-min") {
      options.slabCacheSlabsMin = integer("--slab-cache-min", value(), 1, 2 ** 20);
    } else if (arg === "--trace") options.trace = value();
    else if (arg === "--replay") options.replay = value();
    else if (arg === "--shrink") options.shrink = true;
    else if (arg === "--workload") {
      const name = value();
      if (name !== "store" && name !== "ngram") {
        throw new RangeError(`--workload must be store or ngram, got "${name}"`);
      }
      options.workload = name;
    } else throw new TypeError(`Unknown argument "${arg}"; ${usage} (--help lists each option)`);
  }
  checkCombination(options);
  return options;
}

/** Throws a RangeError for options that do not go together. */
function checkCombination(options: CliOptions): void {
  const ngramBudgetMin = memoryBudgetMin(ngramShardsMax);
  if (
    options.workload === "ngram" && options.memoryBudget !== undefined &&
    options.memoryBudget < ngramBudgetMin
  ) {
    throw new RangeError(
      `--memory-budget must be at least ${ngramBudgetMin} with --workload ngram ` +
        `(4096 for the vocabulary and for each of up to ${ngramShardsMax} shards), ` +
        `got ${options.memoryBudget}`,
    );
  }
  if (
    options.slabCacheSlabsMin !== undefined &&
    (options.memoryBudget === undefined || options.workload === "ngram")
  ) {
    throw new RangeError(
      "--slab-cache-min sets the slab cache's floor under a memory budget: " +
        "give --memory-budget too (the engine's workload only)",
    );
  }
}

/** A trace hash as people compare them: 8 hex digits. */
function hex(hash: number): string {
  return `0x${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

function runOptions(cli: CliOptions, seed: number): RunOptions {
  return {
    seed,
    ops: cli.ops,
    clients: cli.clients,
    profile: drawProfile(cli.profile, seed),
    durability: drawDurability(cli.durability, seed),
    sectorBytes: cli.sector,
    memoryPressure: cli.memoryPressure,
    memoryBudget: cli.memoryBudget,
    walkPauses: cli.walkPauses,
    slabCacheSlabsMin: cli.slabCacheSlabsMin,
    syncReads: cli.syncReads,
    scheduledCloses: cli.scheduledCloses,
  };
}

function replayCommand(options: RunOptions, cli: CliOptions): string {
  return `deno task sim --seed ${options.seed} --ops ${cli.ops} --clients ${cli.clients} ` +
    `--profile ${cli.profile} --durability ${cli.durability} --sector ${cli.sector}` +
    (cli.memoryPressure > 0 ? ` --memory-pressure ${cli.memoryPressure}` : "") +
    (cli.memoryBudget !== undefined ? ` --memory-budget ${cli.memoryBudget}` : "") +
    (cli.walkPauses !== undefined ? ` --walk-pauses ${cli.walkPauses ? "on" : "off"}` : "") +
    (cli.slabCacheSlabsMin !== undefined ? ` --slab-cache-min ${cli.slabCacheSlabsMin}` : "") +
    (cli.syncReads !== undefined ? ` --sync-reads ${cli.syncReads ? "on" : "off"}` : "") +
    (cli.scheduledCloses === true ? " --scheduled-closes on" : "");
}

function printFailure(result: RunResult, options: RunOptions, cli: CliOptions): void {
  console.log(
    `\nFAILED seed ${result.seed} (profile ${options.profile.name}, ${
      options.durability ?? "strict"
    }; trace hash ${hex(result.traceHash)}):`,
  );
  for (const violation of result.violations.slice(0, 5)) {
    const message = violation.message.replaceAll(
      `step ${Number.MAX_SAFE_INTEGER}`,
      "the final crash",
    );
    console.log(`  ${violation.property}: ${message}`);
    const steps = violation.steps.filter((id) => id >= 0 && id < Number.MAX_SAFE_INTEGER);
    for (const id of steps.slice(0, 4)) {
      const step = result.steps.find((candidate) => candidate.id === id);
      if (step !== undefined) console.log(`    step ${id}: ${describeStep(step)}`);
    }
  }
  const faults = result.faults.filter((fault) => fault.kind !== "crashKept");
  if (faults.length > 0) {
    console.log(`  faults (last ${Math.min(8, faults.length)} of ${faults.length}):`);
  }
  for (const fault of faults.slice(-8)) {
    console.log(
      `    epoch ${fault.epoch} ${fault.kind} ${fault.file}@${fault.offset}+${fault.length}: ${fault.detail}`,
    );
  }
  console.log(
    `reproduce with: ${
      cli.replay ? `deno task sim --replay ${cli.replay}` : replayCommand(options, cli)
    }`,
  );
}

/** One line for a step in a report. */
export function describeStep(step: Step): string {
  if (step.kind !== "op") return step.kind;
  const shorten = (_key: string, value: unknown) =>
    typeof value === "string" && value.length > 24
      ? `${value.slice(0, 8)}…(${value.length} chars)`
      : value;
  return `client ${step.client} ${JSON.stringify(step.op, shorten)}`;
}

async function writeTrace(path: string, options: RunOptions, result: RunResult): Promise<void> {
  const trace: TraceFile = {
    version: 1,
    options: { ...options, steps: result.steps },
    violations: result.violations,
  };
  await Deno.writeTextFile(path, JSON.stringify(trace, null, 1) + "\n");
  console.log(`trace written to ${path} (${result.steps.length} steps)`);
}

async function loadTrace(path: string): Promise<RunOptions> {
  const trace = JSON.parse(await Deno.readTextFile(path)) as TraceFile;
  if (trace.version !== 1 || !Array.isArray(trace.options?.steps)) {
    throw new TypeError(`"${path}" is not a tallytrie simulator trace (version 1)`);
  }
  // Traces written before a fault kind existed replay with it off.
  return { ...trace.options, profile: { ...none, ...trace.options.profile } };
}

interface Totals {
  seeds: number;
  failed: number;
  /** Every numeric counter of `RunStats` summed over the seeds (`fanOutMax`: the largest). */
  sums: Record<string, number>;
  stopped: Map<StopKind, number>;
  crashPoints: Set<string>;
  faults: Record<string, number>;
  /** Every seed's trace hash folded in, in the order run. */
  traceHash: number;
  /** Image guard counters summed (see `image_guard.ts`), and seeds run with small slabs. */
  image: Record<string, number>;
  smallSlabSeeds: number;
  /** Seeds whose slab cache kept a single slab under the budget (see `RunOptions.slabCacheSlabsMin`). */
  oneSlabCacheSeeds: number;
}

function addUp(totals: Totals, result: RunResult): void {
  totals.seeds++;
  if (result.violations.length > 0) totals.failed++;
  for (const [name, value] of Object.entries(result.stats)) {
    if (typeof value !== "number") continue;
    const sum = totals.sums[name] ?? 0;
    totals.sums[name] = name === "fanOutMax" ? Math.max(sum, value) : sum + value;
  }
  if (result.stopKind !== undefined && result.stopKind !== "violation") {
    totals.stopped.set(result.stopKind, (totals.stopped.get(result.stopKind) ?? 0) + 1);
  }
  for (const point of result.stats.crashPoints) totals.crashPoints.add(point);
  for (const [kind, count] of Object.entries(result.stats.faults)) {
    totals.faults[kind] = (totals.faults[kind] ?? 0) + count;
  }
  totals.traceHash = hash32(totals.traceHash, result.seed % 0x1_0000_0000, result.traceHash);
  const image = result.stats.image;
  for (const [name, count] of Object.entries(image)) {
    totals.image[name] = name === "slabsMax"
      ? Math.max(totals.image[name] ?? 0, count)
      : (totals.image[name] ?? 0) + count;
  }
  totals.image.seedsPastOneSlab = (totals.image.seedsPastOneSlab ?? 0) +
    (image.slabsMax > 1 ? 1 : 0);
  if (result.stats.slabBytes < slabBytes) totals.smallSlabSeeds++;
  if (result.stats.slabCacheSlabsMin === 1) totals.oneSlabCacheSeeds++;
  for (const [name, count] of Object.entries(result.stats.memory)) {
    totals.sums[`memory.${name}`] = (totals.sums[`memory.${name}`] ?? 0) + count;
  }
}

/** The summary of a run of seeds; `range` names them if they are more than one. */
function printSummary(totals: Totals, ms: number, range: string | undefined): void {
  const sum = (name: string): number => totals.sums[name] ?? 0;
  const faults = Object.entries(totals.faults).filter(([, count]) => count > 0).map((
    [kind, count],
  ) => `${kind} ${count}`);
  console.log(
    `\n${totals.seeds} seeds, ${totals.seeds - totals.failed} passed, ${totals.failed} failed in ${
      (ms / 1000).toFixed(1)
    } s ` +
      `(${Math.round((totals.seeds * 60_000) / ms)} seeds/min, ${
        Math.round((sum("ioSteps") * 1000) / ms)
      } simulated I/O ops/s)`,
  );
  if (range !== undefined) console.log(`trace hash of ${range}: ${hex(totals.traceHash)}`);
  console.log(
    `crashes: ${sum("crashes")}; distinct crash points reached: ${totals.crashPoints.size}; ` +
      `recoveries that lost acknowledged writes whose bytes a fault destroyed (excused): ` +
      `${sum("excusedLosses")} (${sum("excusedLsns")} writes); ` +
      `not judged (destroyed bytes took records recovered before, or lay under the image ` +
      `open read): ${sum("clobberedRecoveries")}`,
  );
  console.log(
    `checkpoints committed: ${sum("checkpointsCommitted")}; image nodes loaded: ${
      sum("nodesLoaded")
    } ` +
      `(${sum("eagerOpens")} recoveries loaded the whole image at open; ${sum("warmOpens")} ` +
      `opens warmed up in the background, ${sum("warmUpsCut")} of them cut by a crash or close); ` +
      `subtrees the memory budget evicted: ${sum("evictions")} (${totals.oneSlabCacheSeeds} ` +
      `seeds with a slab cache of one slab); records read through without a load: ` +
      `${sum("readThrough")}; ` +
      `writes queued for a load: ${sum("queuedWrites")}; verify() passes: ${sum("verifies")}`,
  );
  if (sum("memory.probes") + sum("memory.writersWaiting") + sum("memory.relocations") > 0) {
    console.log(
      `memory bounds: ${sum("memory.probes")} probes made ${sum("memory.checks")} ` +
        `bound-memory checks (${sum("memory.checksBeside")} beside a checkpoint; ` +
        `${sum("memory.checksPoisoned")} in ${sum("memory.probesPoisoned")} probes of a ` +
        `poisoned store); subtrees ` +
        `evicted beside a checkpoint's snapshot: ${sum("memory.evictionsBeside")}; writes that ` +
        `had to wait for a checkpoint (bound-writers): ` +
        `${sum("memory.writersWaiting")}; budget relocations judged (bound-relocate): ` +
        `${sum("memory.relocations")}; budget work judged (bound-work): ` +
        `${sum("memory.rounds")} rounds, ${sum("memory.handVisits")} nodes visited by the ` +
        `clock hand, in ${sum("memory.workJudged")} intervals (rounds whose hand found ` +
        `nothing: ${sum("memory.fruitless")}; rounds it stayed idle: ${sum("memory.handIdle")})`,
    );
  }
  console.log(
    `checkpoint walks paused: ${sum("walkPauses")} times; writes acknowledged while one was ` +
      `paused: ${sum("writesInWalks")}; seeds whose files read at once: ${sum("syncReads")}`,
  );
  console.log(
    `closes the power cut short: ${sum("closeCrashes")} (${sum("closeCrashesInside")} inside the ` +
      `close); writes called during a clean close: ${
        sum("closeWrites")
      }; lists past one 256-entry batch: ${sum("listsPastBatch")}; scans: ${sum("scans")} (` +
      `${sum("scansSplit")} split between visits by a load, ${sum("scansStopped")} stopped by ` +
      `their visitor); widest node: ` +
      `${sum("fanOutMax")} children; adds refused past 2^53: ${sum("refusedPastMaxSafe")}; ` +
      `reads refused for a failed compaction's file (readable): ${sum("compactionRefusals")} ` +
      `(sweeps as a compaction stopped reading its file: ${sum("sweeps")}; gets read again ` +
      `after a probe's failed checkpoint: ${sum("answeredRereads")}); ` +
      `bound checks: ${sum("boundChecks")}`,
  );
  const image = totals.image;
  console.log(
    `image: ${totals.smallSlabSeeds} seeds with small slabs, ${image.seedsPastOneSlab ?? 0} past ` +
      `one slab (at most ${image.slabsMax ?? 0}); slabs reused: ${image.slabsReused ?? 0}; ` +
      `slabs held only for the older slot, summed over commits: ${image.heldSlabs ?? 0}; ` +
      `header writes with a table of several chunks: ${image.multiChunkTables ?? 0} of ` +
      `${image.headerCommits ?? 0}; image writes checked: ${image.writesChecked ?? 0}; ` +
      `compactions' headers checked at the rename: ${image.renamesChecked ?? 0} ` +
      `(header writes misplaced by the guard: ${image.headerFaultsPlanted ?? 0}); ` +
      `opens with a damaged slot a torn header write could revive: ${image.revivableSlots ?? 0}`,
  );
  console.log(`faults injected: ${faults.join(", ") || "none"}`);
  if (sum("outOfMemory") > 0) {
    console.log(
      `calls refused with MemoryLimitError while out of memory: ${sum("outOfMemory")} ` +
        `(loads after which the process got its memory back and went on: ${sum("memoryBack")})`,
    );
  }
  const stopped = [...totals.stopped.values()].reduce((sum, count) => sum + count, 0);
  if (stopped > 0) {
    const kinds = [...totals.stopped].sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([kind, count]) => `${kind} ${count}`);
    console.log(`${stopped} runs ended early without a violation: ${kinds.join(", ")}`);
  }
}

/** `3..5, 9`: LSNs as runs. */
function showLsns(lsns: readonly number[]): string {
  const runs: string[] = [];
  for (let index = 0; index < lsns.length;) {
    let last = index;
    while (last + 1 < lsns.length && lsns[last + 1] === lsns[last] + 1) last++;
    runs.push(last === index ? `${lsns[index]}` : `${lsns[index]}..${lsns[last]}`);
    index = last + 1;
  }
  return runs.join(", ");
}

/** `seed 7: passed, trace hash 0x1234abcd` (and why it stopped early, if it did). */
function describeRun(result: RunResult): string {
  const outcome = result.violations.length > 0 ? "FAILED" : "passed";
  const stopped = result.stopKind !== undefined && result.stopKind !== "violation"
    ? ` (ended early: ${result.stopKind})`
    : "";
  return `seed ${result.seed}: ${outcome}${stopped}, trace hash ${hex(result.traceHash)}`;
}

async function main(): Promise<number> {
  const cli = parseArgs(Deno.args);
  if (cli.help) {
    console.log(helpText());
    return 0;
  }
  if (cli.workload === "ngram") {
    return await runNgramSeeds(cli.seeds, cli.seconds, cli.memoryBudget);
  }
  const started = performance.now();
  const totals: Totals = {
    seeds: 0,
    failed: 0,
    sums: {},
    stopped: new Map(),
    crashPoints: new Set(),
    faults: {},
    traceHash: 0,
    image: {},
    smallSlabSeeds: 0,
    oneSlabCacheSeeds: 0,
  };
  const replayed = cli.replay === undefined ? undefined : await loadTrace(cli.replay);
  const single = replayed !== undefined ||
    (cli.seconds === undefined && cli.seeds[0] === cli.seeds[1]);
  let range = single ? undefined : `seeds ${cli.seeds[0]}..${cli.seeds[1]}`;
  let lastProgress = started;
  for (let seed = cli.seeds[0];; seed++) {
    if (cli.seconds === undefined && seed > cli.seeds[1]) break;
    if (cli.seconds !== undefined && performance.now() - started > cli.seconds * 1000) break;
    const options = replayed ?? runOptions(cli, seed);
    let result = await runSimulation(options);
    addUp(totals, result);
    if (cli.seconds !== undefined) range = `seeds ${cli.seeds[0]}..${seed}`;
    if (single) {
      console.log(describeRun(result));
      for (const loss of result.excused) {
        const what = loss.clobbered ? "not judged" : "excused";
        const lost = loss.lsns.length === 0 ? "" : ` lost lsns ${showLsns(loss.lsns)}`;
        const when = loss.step === Number.MAX_SAFE_INTEGER
          ? "the final crash"
          : `step ${loss.step}`;
        console.log(`  ${what}: ${when}${lost}: ${loss.why}`);
      }
    }
    if (result.violations.length > 0) {
      printFailure(result, options, cli);
      let traced = options;
      if (cli.shrink) {
        const shrunk = await shrink(options, result);
        console.log(`\nshrunk to ${shrunk.result.steps.length} steps in ${shrunk.runs} runs:`);
        for (const step of shrunk.result.steps) console.log(`  ${step.id}: ${describeStep(step)}`);
        printFailure(shrunk.result, shrunk.options, { ...cli, replay: cli.trace });
        result = shrunk.result;
        traced = shrunk.options;
      }
      if (cli.trace !== undefined) await writeTrace(cli.trace, traced, result);
      printSummary(totals, performance.now() - started, range);
      return 1;
    }
    if (cli.trace !== undefined && replayed === undefined && cli.seeds[0] === cli.seeds[1]) {
      await writeTrace(cli.trace, options, result);
    }
    if (replayed !== undefined) break;
    if (performance.now() - lastProgress > 2000) {
      lastProgress = performance.now();
      console.log(
        `  … seed ${seed}: ${totals.seeds} run, ${totals.failed} failed, ${
          ((lastProgress - started) / 1000).toFixed(0)
        } s`,
      );
    }
  }
  printSummary(totals, performance.now() - started, range);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`sim: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(2);
  }
}
