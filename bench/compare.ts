// deno-lint-ignore-file no-console
/**
 * Side-by-side comparison of tallytrie (strict) with SQLite (`node:sqlite`,
 * WAL, `synchronous=FULL`), Deno KV (`atomic().sum()`) and a plain `Map` on
 * the workload tallytrie exists for: durable counting of word 1-, 2- and
 * 3-grams. One child process per engine, run one after another on the same
 * deterministic workload; prints a markdown table of absolute numbers and of
 * ratios to tallytrie, then the JSON.
 *
 * Usage:
 * ```sh
 * deno run -A --unstable-kv bench/compare.ts [--increments N] [--corpus FILE]
 *   [--engines tallytrie,sqlite,denokv,map] [--baseline DIR] [--rounds N] [--json FILE]
 * deno run -A --unstable-kv bench/compare.ts --increments 100000   # quick run
 * git worktree add /tmp/prev <rev> &&
 *   deno task compare --engines tallytrie,sqlite --baseline /tmp/prev --rounds 3
 * ```
 *
 * `--baseline DIR` also runs the tallytrie worker of another checkout (an
 * earlier commit) in the same run, as the column "baseline", so a change is
 * judged against the code before it on the same machine at the same time.
 * `--rounds N` runs every engine N times, interleaved (round 1 of each, then
 * round 2...), and reports each metric's median, with tallytrie's ratio to the
 * baseline per round: on a noisy machine one run proves little.
 *
 * Phases, each timed, in this order on a fresh directory:
 * (a) strict single-key adds, one at a time ({@linkcode singleAddsSample}) and with
 *     {@linkcode concurrentCallers} concurrent callers ({@linkcode concurrentAddsSample};
 *     SQLite is synchronous, so its "concurrent" figure is one at a time again);
 * (b) the rest of the increments as atomic batches of {@linkcode batchAdds};
 * (f) checkpoint (tallytrie: a compacting one, the smallest image) and
 *     close, then bytes on disk per key;
 * (e) reopen time; (c) {@linkcode pointReadsSample} point reads of random loaded keys
 *     right after it (tallytrie's `"auto"` open returns before its trie is loaded, and
 *     these reads race the warm-up that loads it), then, once what the open left to the
 *     background is done (`Engine.settle`), as many reads of other random keys;
 * (d) {@linkcode prefixScans} prefix scans of "word " prefixes (keys per second);
 * (g) peak RSS, sampled throughout.
 * Before the workers, the parent measures the disk's fdatasync rate in a
 * temporary directory (where the workers' stores go) and prints it above the
 * table (`fsync` in the JSON): it bounds every engine's strict adds.
 * Every read and scan result is checked against a `Map` of the same workload;
 * a mismatch makes the worker, and so the run, fail.
 *
 * @module
 */

import {
  buildWorkload,
  createEngine,
  type Engine,
  type EngineName,
  engineNames,
  type ScanEntry,
  workloadSeed,
} from "./_compare_engines.ts";
import { type FsyncRate, measureFsyncRate } from "./_fsync_rate.ts";
import { makeRandom } from "./random.ts";
import { dirname } from "node:path";

/** Default number of increments (1-, 2- and 3-gram adds of 1). */
const incrementsDefault = 1_000_000;
/** Strict adds made one at a time, each waiting for its fsync. */
const singleAddsSample = 2_000;
/** Strict adds made by the concurrent callers. */
const concurrentAddsSample = 20_000;
/** Callers adding at once in the concurrent phase. */
const concurrentCallers = 1_000;
/** Adds per atomic batch in the main load. */
const batchAdds = 1_000;
/** The smallest run that leaves the batched phase real work. */
const incrementsMin = singleAddsSample + concurrentAddsSample + 10 * batchAdds;
/** Bound on `--increments`, to keep memory bounded. */
const incrementsMax = 50_000_000;
/** Point reads after reopen. */
const pointReadsSample = 100_000;
/** Prefix scans after reopen. */
const prefixScans = 1_000;
/** How often the RSS sampler runs while the event loop is free. */
const rssSampleIntervalMs = 20;
/** Operations between RSS samples inside synchronous loops. */
const rssSampleEveryOps = 1_000;

interface Args {
  increments: number;
  corpus?: string;
  engines: EngineName[];
  json?: string;
  worker?: EngineName;
  /** Another checkout whose tallytrie worker runs beside this one's. */
  baseline?: string;
  /** Interleaved repetitions of every engine; medians are reported. */
  rounds: number;
}

/** Bound on `--rounds`. */
const roundsMax = 20;
/** The column label of `--baseline`'s tallytrie. */
const baselineLabel = "baseline";

const usage =
  "Usage: deno run -A --unstable-kv bench/compare.ts [--increments N] [--corpus FILE] " +
  `[--engines ${engineNames.join(",")}] [--baseline DIR] [--rounds N] [--json FILE]`;

function parseEngine(name: string): EngineName {
  if (!(engineNames as readonly string[]).includes(name)) {
    throw new TypeError(`Unknown engine "${name}": use one of ${engineNames.join(", ")}`);
  }
  return name as EngineName;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { increments: incrementsDefault, engines: [...engineNames], rounds: 1 };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index];
    if (flag === "--help" || flag === "-h") {
      console.log(usage);
      Deno.exit(0);
    }
    const value = argv[index + 1];
    if (value === undefined || value.startsWith("--")) {
      throw new TypeError(`Missing value after "${flag}": ${usage}`);
    }
    index++;
    if (flag === "--increments") {
      const increments = Number(value.replaceAll("_", "").replaceAll(",", ""));
      if (
        !Number.isInteger(increments) || increments < incrementsMin || increments > incrementsMax
      ) {
        throw new RangeError(
          `Invalid --increments "${value}": use an integer from ${incrementsMin} to ${incrementsMax}`,
        );
      }
      args.increments = increments;
    } else if (flag === "--corpus") args.corpus = value;
    else if (flag === "--json") args.json = value;
    else if (flag === "--worker") args.worker = parseEngine(value);
    else if (flag === "--baseline") args.baseline = value;
    else if (flag === "--rounds") {
      const rounds = Number(value);
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > roundsMax) {
        throw new RangeError(`Invalid --rounds "${value}": use an integer from 1 to ${roundsMax}`);
      }
      args.rounds = rounds;
    } else if (flag === "--engines") {
      args.engines = value.split(",").filter((name) => name.length > 0).map(parseEngine);
      if (args.engines.length === 0) throw new TypeError(`Invalid --engines "${value}": name one`);
    } else throw new TypeError(`Unknown argument "${flag}": ${usage}`);
  }
  return args;
}

/** What one worker reports. Rates are operations (or keys) per second. */
interface Result {
  /** The engine, or {@link baselineLabel} for `--baseline`'s tallytrie (set by the parent). */
  engine: EngineName | typeof baselineLabel;
  durable: boolean;
  increments: number;
  keys: number;
  singleAdds: number;
  singleAddsPerSecond: number;
  concurrentAdds: number;
  concurrentCallers: number;
  concurrentAddsPerSecond: number;
  batchedAdds: number;
  batchedAddsPerSecond: number;
  reopenMs: number;
  pointReads: number;
  /** Point reads right after the reopen (absent from workers before this field). */
  firstReadsPerSecond?: number;
  /** Point reads once the reopen's background work is done. */
  pointReadsPerSecond: number;
  prefixScans: number;
  scannedKeys: number;
  scanKeysPerSecond: number;
  diskBytes: number;
  bytesPerKey: number;
  baselineRssBytes: number;
  peakRssBytes: number;
  note: string;
}

// ---------------------------------------------------------------- worker

let peakRss = 0;
function sampleRss(): void {
  const rss = Deno.memoryUsage().rss;
  if (rss > peakRss) peakRss = rss;
}

async function directoryBytes(root: string): Promise<number> {
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) pending.push(path);
      else if (entry.isFile) total += (await Deno.stat(path)).size;
    }
  }
  return total;
}

function rate(count: number, ms: number): number {
  return ms > 0 ? count / (ms / 1000) : Infinity;
}

async function singleAdds(engine: Engine, keys: string[]): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < keys.length; index++) {
    await engine.add(keys[index], 1);
    if (index % rssSampleEveryOps === 0) sampleRss();
  }
  return performance.now() - started;
}

async function concurrentAdds(engine: Engine, keys: string[]): Promise<number> {
  if (!engine.concurrent) return await singleAdds(engine, keys);
  let next = 0;
  const caller = async (): Promise<void> => {
    while (next < keys.length) await engine.add(keys[next++], 1);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrentCallers }, caller));
  return performance.now() - started;
}

async function batchedAdds(engine: Engine, keys: string[]): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < keys.length; start += batchAdds) {
    await engine.addBatch(keys.slice(start, start + batchAdds));
    if ((start / batchAdds) % 10 === 0) sampleRss();
  }
  return performance.now() - started;
}

function fail(engine: EngineName, message: string): never {
  throw new Error(`Wrong answer from ${engine}: ${message}`);
}

const decoder = new TextDecoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    if (a[index] !== b[index]) return a[index] - b[index];
  }
  return a.length - b.length;
}

function checkScan(
  engine: EngineName,
  prefix: string,
  entries: ScanEntry[],
  expected: Map<string, number>,
  expectedKeys: number,
): void {
  if (entries.length !== expectedKeys) {
    fail(engine, `scan of "${prefix}" returned ${entries.length} keys, expected ${expectedKeys}`);
  }
  for (let index = 0; index < entries.length; index++) {
    const [raw, value] = entries[index];
    const key = typeof raw === "string" ? raw : decoder.decode(raw);
    if (!key.startsWith(prefix)) fail(engine, `scan of "${prefix}" returned "${key}"`);
    if (expected.get(key) !== value) {
      fail(engine, `scan of "${prefix}": "${key}" is ${value}, expected ${expected.get(key)}`);
    }
    const previous = index > 0 ? entries[index - 1][0] : undefined;
    if (
      previous instanceof Uint8Array && raw instanceof Uint8Array &&
      compareBytes(previous, raw) >= 0
    ) fail(engine, `scan of "${prefix}" is out of byte order at "${key}"`);
  }
}

/** Scan prefixes: "word " for words drawn log-uniformly by frequency rank. */
function scanPrefixes(wordsByRank: string[]): string[] {
  const random = makeRandom(workloadSeed ^ 0x5ca9);
  const prefixes: string[] = [];
  for (let index = 0; index < prefixScans; index++) {
    const rank = Math.min(
      wordsByRank.length - 1,
      Math.floor(Math.exp(random() * Math.log(wordsByRank.length))) - 1,
    );
    prefixes.push(`${wordsByRank[Math.max(0, rank)]} `);
  }
  return prefixes;
}

/** Reads `keys` one at a time, each awaited; checks every answer; returns the milliseconds. */
async function pointReads(
  name: EngineName,
  engine: Engine,
  keys: readonly string[],
  expected: ReadonlyMap<string, number>,
): Promise<number> {
  const values: (number | undefined)[] = new Array(keys.length);
  const started = performance.now();
  for (let index = 0; index < keys.length; index++) {
    values[index] = await engine.get(keys[index]);
    if (index % rssSampleEveryOps === 0) sampleRss();
  }
  const ms = performance.now() - started;
  for (let index = 0; index < keys.length; index++) {
    const want = expected.get(keys[index]);
    if (values[index] !== want) {
      fail(name, `get("${keys[index]}") is ${values[index]}, expected ${want}`);
    }
  }
  return ms;
}

async function runWorker(args: Args, name: EngineName): Promise<Result> {
  const corpusText = args.corpus === undefined ? undefined : await Deno.readTextFile(args.corpus);
  const { increments, wordsByRank } = buildWorkload(args.increments, corpusText);
  const expected = new Map<string, number>();
  for (const key of increments) expected.set(key, (expected.get(key) ?? 0) + 1);
  const loadedKeys = [...expected.keys()];
  const random = makeRandom(workloadSeed ^ 0x4ead);
  const readKeys = Array.from(
    { length: pointReadsSample },
    () => loadedKeys[Math.floor(random() * loadedKeys.length)],
  );
  const firstKeys = Array.from(
    { length: pointReadsSample },
    () => loadedKeys[Math.floor(random() * loadedKeys.length)],
  );
  const prefixes = scanPrefixes(wordsByRank);
  const prefixKeys = new Map<string, number>(prefixes.map((prefix) => [prefix, 0]));
  for (const key of loadedKeys) {
    const space = key.indexOf(" ");
    const prefix = space < 0 ? undefined : key.slice(0, space + 1);
    if (prefix !== undefined && prefixKeys.has(prefix)) {
      prefixKeys.set(prefix, prefixKeys.get(prefix)! + 1);
    }
  }
  sampleRss();
  const baselineRssBytes = peakRss;
  const sampler = setInterval(sampleRss, rssSampleIntervalMs);

  const dir = await Deno.makeTempDir({ prefix: `tallytrie-compare-${name}-` });
  try {
    const engine = createEngine(name);
    await engine.open(dir);
    const singleEnd = singleAddsSample;
    const concurrentEnd = singleEnd + concurrentAddsSample;
    const singleMs = await singleAdds(engine, increments.slice(0, singleEnd));
    const concurrentMs = await concurrentAdds(engine, increments.slice(singleEnd, concurrentEnd));
    const batched = increments.slice(concurrentEnd);
    const batchedMs = await batchedAdds(engine, batched);
    await engine.compact?.();
    await engine.close();
    sampleRss();
    const diskBytes = await directoryBytes(dir);

    const reopenStarted = performance.now();
    await engine.open(dir);
    const reopenMs = performance.now() - reopenStarted;

    const firstMs = await pointReads(name, engine, firstKeys, expected);
    await engine.settle?.();
    const readsMs = await pointReads(name, engine, readKeys, expected);

    let scanMs = 0;
    let scannedKeys = 0;
    for (const prefix of prefixes) {
      const started = performance.now();
      const entries = await engine.scan(prefix);
      scanMs += performance.now() - started;
      sampleRss();
      checkScan(name, prefix, entries, expected, prefixKeys.get(prefix)!);
      scannedKeys += entries.length;
    }
    await engine.close();
    sampleRss();

    return {
      engine: name,
      durable: engine.durable,
      increments: increments.length,
      keys: expected.size,
      singleAdds: singleAddsSample,
      singleAddsPerSecond: rate(singleAddsSample, singleMs),
      concurrentAdds: concurrentAddsSample,
      concurrentCallers: engine.concurrent ? concurrentCallers : 1,
      concurrentAddsPerSecond: rate(concurrentAddsSample, concurrentMs),
      batchedAdds: batched.length,
      batchedAddsPerSecond: rate(batched.length, batchedMs),
      reopenMs,
      pointReads: readKeys.length,
      firstReadsPerSecond: rate(firstKeys.length, firstMs),
      pointReadsPerSecond: rate(readKeys.length, readsMs),
      prefixScans: prefixes.length,
      scannedKeys,
      scanKeysPerSecond: rate(scannedKeys, scanMs),
      diskBytes,
      bytesPerKey: diskBytes / expected.size,
      baselineRssBytes,
      peakRssBytes: peakRss,
      note: name === "sqlite"
        ? "synchronous API: the concurrent phase runs one at a time"
        : name === "map"
        ? "no durability; reopen = sorting the keys for scans; no files"
        : "",
    };
  } finally {
    clearInterval(sampler);
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------- parent

/**
 * Runs one engine's worker in a child process: this checkout's, or for
 * {@link baselineLabel} the tallytrie worker of `args.baseline` (run in that
 * directory, so its own `deno.json` applies).
 */
async function spawnWorker(args: Args, name: EngineName | typeof baselineLabel): Promise<Result> {
  const baseline = name === baselineLabel;
  const script = baseline ? `${args.baseline}/bench/compare.ts` : import.meta.filename!;
  const engine = baseline ? "tallytrie" : name;
  const workerArgs = ["run", "-A", "--unstable-kv", script, "--worker", engine];
  workerArgs.push("--increments", String(args.increments));
  if (args.corpus !== undefined) workerArgs.push("--corpus", args.corpus);
  const output = await new Deno.Command(Deno.execPath(), {
    args: workerArgs,
    cwd: baseline ? args.baseline : undefined,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`Worker for ${name} failed with exit code ${output.code}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const result = JSON.parse(lines[lines.length - 1]) as Result;
  if (result.engine !== engine) throw new Error(`Worker for ${name} reported "${result.engine}"`);
  result.engine = name;
  return result;
}

/** The median of `values` (the mean of the middle two for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One result per engine: each numeric field the median of its rounds. */
function medians(rounds: Result[][]): Result[] {
  const engines = rounds[0].map((result) => result.engine);
  return engines.map((engine) => {
    const runs = rounds.map((round) => round.find((result) => result.engine === engine)!);
    const merged = { ...runs[0] };
    for (const key of Object.keys(merged) as (keyof Result)[]) {
      if (typeof merged[key] !== "number") continue;
      (merged as unknown as Record<string, number>)[key] = median(
        runs.map((run) => run[key] as number),
      );
    }
    return merged;
  });
}

/** Per metric, tallytrie ÷ baseline in each round (rates; times and sizes baseline ÷ tallytrie). */
function renderBaselineRounds(rounds: Result[][]): string {
  const lines = [
    "tallytrie's advantage over the baseline, round by round (>1: this checkout better):",
  ];
  for (const metric of metrics) {
    const ratios = rounds.map((round) => {
      const tt = round.find((result) => result.engine === "tallytrie");
      const base = round.find((result) => result.engine === baselineLabel);
      if (tt === undefined || base === undefined) return "n/a";
      return advantage(metric, tt[metric.field] as number, base[metric.field] as number);
    });
    lines.push(`- ${metric.label}: ${ratios.join(", ")}`);
  }
  return lines.join("\n");
}

interface Metric {
  label: string;
  field: keyof Result;
  /** Whether bigger is better (ratios then read "tallytrie is N× faster"). */
  higherBetter: boolean;
  format: (value: number) => string;
}

const count = (value: number | undefined): string =>
  value === undefined
    ? "—"
    : Number.isFinite(value)
    ? Math.round(value).toLocaleString("en-US")
    : "∞";
const mebibytes = (value: number): string => `${(value / 1024 / 1024).toFixed(1)} MiB`;

const metrics: Metric[] = [
  {
    label: "(a) strict adds, 1 at a time (/s)",
    field: "singleAddsPerSecond",
    higherBetter: true,
    format: count,
  },
  {
    label: `(a) strict adds, ${concurrentCallers} callers (/s)`,
    field: "concurrentAddsPerSecond",
    higherBetter: true,
    format: count,
  },
  {
    label: `(b) batches of ${batchAdds} adds (adds/s)`,
    field: "batchedAddsPerSecond",
    higherBetter: true,
    format: count,
  },
  {
    label: "(c) point reads right after reopen (/s)",
    field: "firstReadsPerSecond",
    higherBetter: true,
    format: count,
  },
  {
    label: "(c) point reads once warm (/s)",
    field: "pointReadsPerSecond",
    higherBetter: true,
    format: count,
  },
  {
    label: "(d) prefix scans (keys/s)",
    field: "scanKeysPerSecond",
    higherBetter: true,
    format: count,
  },
  { label: "(e) reopen (ms)", field: "reopenMs", higherBetter: false, format: (v) => v.toFixed(1) },
  {
    label: "(f) bytes on disk per key (tallytrie: compacted)",
    field: "bytesPerKey",
    higherBetter: false,
    format: (v) => v.toFixed(1),
  },
  { label: "(g) peak RSS", field: "peakRssBytes", higherBetter: false, format: mebibytes },
];

/** Ratio tallytrie ÷ engine for rates (>1: tallytrie faster), engine ÷ tallytrie otherwise (>1: tallytrie smaller). */
function advantage(metric: Metric, tallytrie: number, other: number): string {
  const ratio = metric.higherBetter ? tallytrie / other : other / tallytrie;
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "n/a";
}

function renderTable(results: Result[]): string {
  const tallytrie = results.find((result) => result.engine === "tallytrie");
  const header = `| metric | ${results.map((result) => result.engine).join(" | ")} |`;
  const rule = `|---|${results.map(() => "---:").join("|")}|`;
  const rows = metrics.map((metric) => {
    const cells = results.map((result) => {
      const value = result[metric.field] as number;
      const absolute = metric.field === "bytesPerKey" && result.engine === "map"
        ? "—"
        : metric.format(value);
      if (tallytrie === undefined || result.engine === "tallytrie" || absolute === "—") {
        return absolute;
      }
      return `${absolute} (tt ${advantage(metric, tallytrie[metric.field] as number, value)})`;
    });
    return `| ${metric.label} | ${cells.join(" | ")} |`;
  });
  const first = results[0];
  return [
    `Workload: ${count(first.increments)} increments, ${count(first.keys)} distinct keys; ` +
    `(tt N×) is tallytrie's advantage: rates tallytrie ÷ engine, sizes and times engine ÷ tallytrie.`,
    "",
    header,
    rule,
    ...rows,
    "",
    ...results.filter((result) => result.note !== "").map((result) =>
      `- ${result.engine}: ${result.note}`
    ),
  ].join("\n");
}

/** The "done when" lines of issue 5, judged from this run. */
function renderTargets(results: Result[]): string {
  const tt = results.find((result) => result.engine === "tallytrie");
  const sqlite = results.find((result) => result.engine === "sqlite");
  const map = results.find((result) => result.engine === "map");
  const lines: string[] = [];
  const target = (label: string, ratio: number, needed: number, lowerBetter = false): void => {
    const met = lowerBetter ? ratio <= needed : ratio >= needed;
    lines.push(
      `- ${met ? "met" : "NOT met"}: ${label}: ${ratio.toFixed(2)} (needs ${
        lowerBetter ? "≤" : "≥"
      } ${needed})`,
    );
  };
  if (tt !== undefined && sqlite !== undefined) {
    target("batched adds ÷ SQLite", tt.batchedAddsPerSecond / sqlite.batchedAddsPerSecond, 4);
    target(
      "1,000-caller adds ÷ SQLite one-at-a-time",
      tt.concurrentAddsPerSecond / sqlite.singleAddsPerSecond,
      20,
    );
    target(
      "point reads once warm ÷ SQLite",
      tt.pointReadsPerSecond / sqlite.pointReadsPerSecond,
      4,
    );
    if (tt.firstReadsPerSecond !== undefined && sqlite.firstReadsPerSecond !== undefined) {
      const ratio = tt.firstReadsPerSecond / sqlite.firstReadsPerSecond;
      lines.push(`- reported: point reads right after reopen ÷ SQLite: ${ratio.toFixed(2)}`);
    }
    target("scan keys/s ÷ SQLite", tt.scanKeysPerSecond / sqlite.scanKeysPerSecond, 2);
    target("bytes per key ÷ SQLite", tt.bytesPerKey / sqlite.bytesPerKey, 1, true);
  }
  if (tt !== undefined && map !== undefined) {
    target("batched adds ÷ Map", tt.batchedAddsPerSecond / map.batchedAddsPerSecond, 0.25);
  }
  return lines.length === 0 ? "" : ["Issue 5 targets:", ...lines].join("\n");
}

/** The fdatasync rate of the filesystem `Deno.makeTempDir()` uses, as the workers do. */
async function measureDisk(): Promise<FsyncRate> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-compare-fsync-" });
  try {
    return { ...await measureFsyncRate(dir), dir: dirname(dir) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  if (args.worker !== undefined) {
    const result = await runWorker(args, args.worker);
    console.log(JSON.stringify(result));
    return 0;
  }
  const fsync = await measureDisk();
  console.log(
    `Disk: ${count(fsync.perSecond)} fdatasync/s (median ${count(fsync.medianUs)} µs, ` +
      `p99 ${count(fsync.p99Us)} µs) in ${fsync.dir}\n`,
  );
  const names: (EngineName | typeof baselineLabel)[] = [...args.engines];
  if (args.baseline !== undefined) names.splice(1, 0, baselineLabel);
  const rounds: Result[][] = [];
  let failed = false;
  for (let round = 1; round <= args.rounds && !failed; round++) {
    const results: Result[] = [];
    for (const name of names) {
      console.error(
        `round ${round}/${args.rounds}: running ${name} ` +
          `(${args.increments.toLocaleString("en-US")} increments)...`,
      );
      try {
        results.push(await spawnWorker(args, name));
      } catch (error) {
        failed = true;
        console.error(error instanceof Error ? error.message : String(error));
      }
    }
    if (!failed) rounds.push(results);
  }
  const results = rounds.length > 0 ? medians(rounds) : [];
  if (results.length > 0) {
    if (args.rounds > 1) console.log(`Medians of ${rounds.length} interleaved rounds.\n`);
    console.log(renderTable(results));
    console.log("");
    if (args.baseline !== undefined) console.log(`${renderBaselineRounds(rounds)}\n`);
    const targets = renderTargets(results);
    if (targets !== "") console.log(`${targets}\n`);
    const json = JSON.stringify(
      { date: new Date().toISOString(), fsync, results, rounds },
      null,
      2,
    );
    console.log("```json\n" + json + "\n```");
    if (args.json !== undefined) await Deno.writeTextFile(args.json, json + "\n");
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
