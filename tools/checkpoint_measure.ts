// deno-lint-ignore-file no-console
/**
 * Measures the checkpoint issue's "done when" on real files:
 *
 * - (a) incremental write ratio: a store of N n-gram-like keys is
 *   checkpointed, 1,000 random keys change (+1 each), and the second
 *   checkpoint's bytes written are compared with the image's live bytes and
 *   its size on disk (target: under 2%);
 * - (b) writer throughput during a checkpoint: 1,000 concurrent strict `add`
 *   callers, each in a loop on random existing keys, measured in a baseline
 *   window, a window during `checkpoint({ compact: true })` (every node
 *   rewritten), and a second baseline window, side by side in one process
 *   (target: checkpoint window / mean of the baselines ≥ 0.70);
 * - (c) reopen time: stores of `--small` and N keys, checkpointed and
 *   closed, reopened 5 times each; the median wall-clock `openStore` time of
 *   the large one over the small one (target: under 3), and the first `get`
 *   of a cold key after each reopen.
 *
 * Correctness is checked along the way (counts after every reopen, `verify()`
 * of the small store), so a fast wrong answer fails loudly. Progress goes to
 * stderr; a table and one JSON line go to stdout.
 *
 * ```sh
 * deno run -A tools/checkpoint_measure.ts [--keys 1000000] [--small 10000]
 *   [--changes 1000] [--writers 1000] [--reopens 5] [--seed 1]
 * ```
 *
 * Note: the reopens read an image the process just wrote, so it is in the
 * OS page cache: the reopen numbers are CPU and syscall costs, not disk
 * seeks.
 *
 * @module
 */

import { makeRandom } from "../bench/random.ts";
import { openStore, type Store } from "../mod.ts";

interface Args {
  keys: number;
  small: number;
  changes: number;
  writers: number;
  reopens: number;
  seed: number;
}

const usage = "usage: deno run -A tools/checkpoint_measure.ts [--keys N] [--small N] " +
  "[--changes N] [--writers N] [--reopens N] [--seed N]";

/** Adds per atomic batch while loading. */
const loadBatch = 1000;
/** Atomic batches in flight while loading. */
const loadInFlight = 8;
/** Keys whose counts are checked after each reopen. */
const checkSample = 2000;
const imageFile = "image.tt";

function parseArgs(argv: string[]): Args {
  const args: Args = {
    keys: 1_000_000,
    small: 10_000,
    changes: 1000,
    writers: 1000,
    reopens: 5,
    seed: 1,
  };
  const limits: Record<keyof Args, [number, number]> = {
    keys: [1000, 20_000_000],
    small: [100, 20_000_000],
    changes: [1, 1_000_000],
    writers: [1, 100_000],
    reopens: [1, 100],
    seed: [0, 2 ** 32 - 1],
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === "--help" || arg === "-h") {
      console.log(usage);
      Deno.exit(0);
    }
    const name = arg.replace(/^--/, "") as keyof Args;
    if (!arg.startsWith("--") || !(name in limits)) {
      throw new TypeError(`Unknown argument "${arg}"; ${usage}`);
    }
    const value = Number(argv[++index]?.replaceAll("_", ""));
    const [min, max] = limits[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${arg} must be an integer from ${min} to ${max}; ${usage}`);
    }
    args[name] = value;
  }
  if (args.changes > args.keys) throw new RangeError("--changes must not exceed --keys");
  if (args.small > args.keys) throw new RangeError("--small must not exceed --keys");
  return args;
}

// ---------------------------------------------------------------------------
// Deterministic keys

const syllables = [
  "ka",
  "to",
  "ri",
  "en",
  "mo",
  "sa",
  "lu",
  "de",
  "an",
  "ve",
  "ko",
  "ni",
  "ta",
  "re",
  "po",
  "mi",
  "su",
  "la",
  "do",
  "in",
];

/**
 * `count` distinct word bigrams and trigrams of 8 to 30 bytes over a
 * 4,000-word vocabulary, in a fixed order: the first `k` keys of a call are
 * the keys of a call with `count = k` (the small store is a prefix).
 */
function generateKeys(count: number, seed: number): string[] {
  const random = makeRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const vocabulary: string[] = [];
  const words = new Set<string>();
  while (vocabulary.length < 4000) {
    let word = "";
    for (let length = 1 + Math.floor(random() * 4); length > 0; length--) word += pick(syllables);
    if (!words.has(word)) {
      words.add(word);
      vocabulary.push(word);
    }
  }
  const seen = new Set<string>();
  const keys: string[] = [];
  while (keys.length < count) {
    let key = pick(vocabulary);
    for (let order = random() < 0.5 ? 2 : 3; order > 1; order--) key += " " + pick(vocabulary);
    if (key.length < 8 || key.length > 30 || seen.has(key)) continue;
    seen.add(key);
    keys.push(key);
  }
  return keys;
}

/** The count each key is loaded with (so counts differ between keys). */
const initialCount = (index: number): number => 1 + (index % 5);

/** `count` distinct indices below `below`. */
function distinctIndices(count: number, below: number, random: () => number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(random() * below));
  return [...chosen];
}

// ---------------------------------------------------------------------------
// Helpers

const progress = (message: string): void =>
  console.error(`[${seconds(performance.now())}] ${message}`);
const seconds = (ms: number): string => (ms / 1000).toFixed(1).padStart(6) + "s";
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const quantile = (values: Float64Array, q: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

class CheckFailed extends Error {}
function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailed(`CHECK FAILED: ${message}`);
}

/** Loads `keys[0..count)` with their initial counts in atomic batches. */
async function load(store: Store, keys: string[], count: number): Promise<void> {
  const inFlight: Promise<unknown>[] = [];
  let nextReport = count / 10;
  for (let start = 0; start < count; start += loadBatch) {
    const atomic = store.atomic();
    const end = Math.min(count, start + loadBatch);
    for (let index = start; index < end; index++) atomic.add(keys[index], initialCount(index));
    inFlight.push(
      atomic.commit().then((result) => check(result.ok, "an atomic batch without checks fails")),
    );
    if (inFlight.length >= loadInFlight) await inFlight.shift();
    if (end >= nextReport) {
      progress(`  loaded ${end} keys`);
      nextReport += count / 10;
    }
  }
  await Promise.all(inFlight);
  await store.sync();
}

/** Checks the counts of `sample` keys (indices) against `expected`. */
async function checkCounts(
  store: Store,
  keys: string[],
  expected: Float64Array,
  sample: Iterable<number>,
  where: string,
): Promise<number> {
  let checked = 0;
  for (const index of sample) {
    const value = await store.get(keys[index]);
    check(
      value === expected[index],
      `${where}: "${keys[index]}" is ${value}, expected ${expected[index]}`,
    );
    checked++;
  }
  return checked;
}

async function imageSize(dir: string): Promise<number> {
  return (await Deno.stat(`${dir}/${imageFile}`)).size;
}

// ---------------------------------------------------------------------------
// (a) incremental write ratio

interface IncrementalResult {
  loadMs: number;
  loadAddsPerSec: number;
  fullCheckpointMs: number;
  fullNodesWritten: number;
  fullBytesWritten: number;
  changedKeys: number;
  incrementalMs: number;
  incrementalNodesWritten: number;
  incrementalBytesWritten: number;
  imageLiveBytes: number;
  imageDeadBytes: number;
  imageFileBytes: number;
  percentOfLive: number;
  percentOfFile: number;
}

async function measureIncremental(
  dir: string,
  args: Args,
  keys: string[],
  expected: Float64Array,
  random: () => number,
): Promise<IncrementalResult> {
  progress(`(a) building a ${args.keys}-key store (relaxed, atomic batches of ${loadBatch})`);
  const store = await openStore({ path: dir, durability: "relaxed", checkpoint: { auto: false } });
  try {
    const loadStart = performance.now();
    await load(store, keys, args.keys);
    const loadMs = performance.now() - loadStart;
    check(store.stats().keys === args.keys, `the store holds ${store.stats().keys} keys`);
    progress(`  loaded in ${(loadMs / 1000).toFixed(1)} s; first checkpoint (full)`);
    const full = await store.checkpoint();
    check(full.keys === args.keys && !full.compacted, "the first checkpoint holds every key");
    progress(
      `  full checkpoint: ${full.nodesWritten} nodes, ${full.bytesWritten} bytes in ${
        full.ms.toFixed(0)
      } ms`,
    );

    const changed = distinctIndices(args.changes, args.keys, random);
    await Promise.all(changed.map((index) => store.add(keys[index], 1)));
    await store.sync();
    for (const index of changed) expected[index]++;
    const incremental = await store.checkpoint();
    check(!incremental.compacted, "the second checkpoint is incremental");
    check(incremental.keys === args.keys, "the second checkpoint holds every key");
    const space = store.stats().image;
    const fileBytes = await imageSize(dir);
    await checkCounts(store, keys, expected, changed, "(a) after the incremental checkpoint");
    progress(
      `  incremental checkpoint after ${changed.length} changes: ${incremental.nodesWritten} nodes, ` +
        `${incremental.bytesWritten} bytes in ${incremental.ms.toFixed(1)} ms`,
    );
    return {
      loadMs,
      loadAddsPerSec: args.keys / (loadMs / 1000),
      fullCheckpointMs: full.ms,
      fullNodesWritten: full.nodesWritten,
      fullBytesWritten: full.bytesWritten,
      changedKeys: changed.length,
      incrementalMs: incremental.ms,
      incrementalNodesWritten: incremental.nodesWritten,
      incrementalBytesWritten: incremental.bytesWritten,
      imageLiveBytes: space.liveBytes,
      imageDeadBytes: space.deadBytes,
      imageFileBytes: fileBytes,
      percentOfLive: (100 * incremental.bytesWritten) / space.liveBytes,
      percentOfFile: (100 * incremental.bytesWritten) / fileBytes,
    };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------
// (b) writer throughput during a compact checkpoint

interface WindowResult {
  ms: number;
  adds: number;
  addsPerSec: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  maxLatencyMs: number;
  /** The longest gap between zero-delay timer ticks: the longest the event loop was blocked. */
  maxStallMs: number;
  /** When that stall ended, in ms from the window's start. */
  maxStallAtMs: number;
}

interface ThroughputResult {
  writers: number;
  /** The first compact after the lazy reopen: loading every node, then rewriting them (no writers). */
  loadAllAndCompactMs: number;
  /** That compact's time from capture on (no writers). */
  idleCompactMs: number;
  /** A compact with the writers running, unmeasured, whose length sets baseline window 1. */
  rehearsalMs: number;
  checkpointMs: number;
  checkpointNodesWritten: number;
  checkpointBytesWritten: number;
  /** Whether the unforced checkpoint after the writers compacted anyway. */
  finalCompacted: boolean;
  finalMs: number;
  baseline1: WindowResult;
  during: WindowResult;
  baseline2: WindowResult;
  ratio: number;
}

async function measureThroughput(
  dir: string,
  args: Args,
  keys: string[],
  expected: Float64Array,
  random: () => number,
): Promise<ThroughputResult> {
  progress(`(b) reopening strict; a first compact checkpoint loads the whole trie`);
  const store = await openStore({ path: dir, durability: "strict", checkpoint: { auto: false } });
  try {
    const warmStart = performance.now();
    const warm = await store.checkpoint({ compact: true });
    const loadAllAndCompactMs = performance.now() - warmStart;
    check(warm.compacted && warm.keys === args.keys, "the warm-up checkpoint compacts every key");
    check(store.stats().image.nodesLoaded > 0, "the warm-up compact loaded the trie");
    progress(
      `  warm-up compact (no writers): ${loadAllAndCompactMs.toFixed(0)} ms with loading, ` +
        `${warm.ms.toFixed(0)} ms from capture; ${args.writers} strict writers start`,
    );

    // Writers: each awaits one strict add at a time on a random key.
    // Completions are counted in the window they land in.
    let phase = -1; // -1 warm-up, 0 baseline 1, 1 checkpoint, 2 baseline 2, 3 stopping
    const counts = [0, 0, 0];
    const latencies = [[], [], []] as number[][];
    const stalls = [0, 0, 0];
    const stallEnds = [0, 0, 0];
    let failure: unknown;
    const writer = async () => {
      while (phase < 3 && failure === undefined) {
        const index = Math.floor(random() * args.keys);
        const started = performance.now();
        try {
          await store.add(keys[index], 1);
        } catch (error) {
          failure ??= error;
          return;
        }
        expected[index]++;
        if (phase >= 0 && phase < 3) {
          counts[phase]++;
          latencies[phase].push(performance.now() - started);
        }
      }
    };
    const writers = Array.from({ length: args.writers }, writer);
    // A ticker: the gap between its ticks shows how long the loop was blocked.
    let lastTick = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      if (phase >= 0 && phase < 3 && now - lastTick > stalls[phase]) {
        stalls[phase] = now - lastTick;
        stallEnds[phase] = now;
      }
      lastTick = now;
    }, 0);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      await sleep(2000); // warm up the writers (JIT, group sizes)
      progress(`  rehearsal compact with the writers running (sets the window length)`);
      const rehearsalStart = performance.now();
      const rehearsal = await store.checkpoint({ compact: true });
      const rehearsalMs = performance.now() - rehearsalStart;
      check(rehearsal.compacted, "the rehearsal compacts");
      await sleep(1000);

      const bounds: number[] = [];
      phase = 0;
      bounds.push(performance.now());
      progress(`  baseline window 1 (${rehearsalMs.toFixed(0)} ms)`);
      await sleep(rehearsalMs);
      phase = 1;
      bounds.push(performance.now());
      progress(`  checkpoint window (compact)`);
      const compact = await store.checkpoint({ compact: true });
      phase = 2;
      bounds.push(performance.now());
      const checkpointWindow = bounds[2] - bounds[1];
      progress(
        `  checkpoint: ${compact.nodesWritten} nodes in ${compact.ms.toFixed(0)} ms; ` +
          `baseline window 2 (${checkpointWindow.toFixed(0)} ms)`,
      );
      await sleep(checkpointWindow);
      phase = 3;
      bounds.push(performance.now());
      await Promise.all(writers);
      if (failure !== undefined) throw failure;
      check(compact.compacted && compact.keys === args.keys, "the measured checkpoint compacts");

      const windows = [0, 1, 2].map((window): WindowResult => {
        const ms = bounds[window + 1] - bounds[window];
        const sorted = Float64Array.from(latencies[window]);
        return {
          ms: round(ms, 1),
          adds: counts[window],
          addsPerSec: Math.round(counts[window] / (ms / 1000)),
          p50LatencyMs: round(quantile(sorted, 0.5)),
          p99LatencyMs: round(quantile(sorted, 0.99)),
          maxLatencyMs: round(quantile(sorted, 1)),
          maxStallMs: round(stalls[window], 1),
          maxStallAtMs: round(stallEnds[window] - bounds[window], 0),
        };
      });
      const baselineMean = (windows[0].addsPerSec + windows[2].addsPerSec) / 2;
      progress(`  checking counts of ${checkSample} keys`);
      const sample = distinctIndices(Math.min(checkSample, args.keys), args.keys, random);
      await checkCounts(store, keys, expected, sample, "(b) after the writers");
      progress(`  checkpointing what the writers added`);
      // What the writers added goes into the image, so (c) reopens without replay.
      const final = await store.checkpoint();
      check(final.keys === args.keys, "the last checkpoint holds every key");
      return {
        writers: args.writers,
        loadAllAndCompactMs,
        idleCompactMs: warm.ms,
        rehearsalMs,
        checkpointMs: compact.ms,
        checkpointNodesWritten: compact.nodesWritten,
        checkpointBytesWritten: compact.bytesWritten,
        finalCompacted: final.compacted,
        finalMs: final.ms,
        baseline1: windows[0],
        during: windows[1],
        baseline2: windows[2],
        ratio: windows[1].addsPerSec / baselineMean,
      };
    } finally {
      phase = 3;
      clearInterval(ticker);
      await Promise.allSettled(writers);
    }
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------
// (c) reopen time

interface ReopenResult {
  keys: number;
  imageFileBytes: number;
  /** The image's space as the store reports it (slabs of 128 KiB, live and dead bytes). */
  imageSpace: { slabs: number; freeSlabs: number; liveBytes: number; deadBytes: number };
  /** WAL segments on disk, and their total size, when the store is reopened. */
  walSegments: number;
  walFileBytes: number;
  /** The newest segment's size: open reads and checksums it whole. */
  walLastSegmentBytes: number;
  openWallMs: number[];
  openStatsMs: number[];
  firstGetMs: number[];
  medianOpenWallMs: number;
  medianOpenStatsMs: number;
  medianFirstGetMs: number;
  nodesLoadedByFirstGet: number;
  replayedRecords: number;
}

async function measureReopen(
  dir: string,
  count: number,
  args: Args,
  keys: string[],
  expected: Float64Array,
  random: () => number,
): Promise<ReopenResult> {
  progress(`(c) reopening the ${count}-key store ${args.reopens} times`);
  const result: ReopenResult = {
    keys: count,
    imageFileBytes: await imageSize(dir),
    imageSpace: { slabs: 0, freeSlabs: 0, liveBytes: 0, deadBytes: 0 },
    ...await walFiles(dir),
    openWallMs: [],
    openStatsMs: [],
    firstGetMs: [],
    medianOpenWallMs: 0,
    medianOpenStatsMs: 0,
    medianFirstGetMs: 0,
    nodesLoadedByFirstGet: 0,
    replayedRecords: 0,
  };
  for (let reopen = 0; reopen < args.reopens; reopen++) {
    const started = performance.now();
    const store = await openStore({ path: dir, durability: "strict", checkpoint: { auto: false } });
    const wall = performance.now() - started;
    try {
      const stats = store.stats();
      check(stats.keys === count, `the reopened store holds ${stats.keys} keys, not ${count}`);
      const index = Math.floor(random() * count);
      const getStarted = performance.now();
      const value = await store.get(keys[index]);
      const getMs = performance.now() - getStarted;
      check(value === expected[index], `first get: ${value}, expected ${expected[index]}`);
      result.openWallMs.push(round(wall, 3));
      result.openStatsMs.push(round(stats.recovery.openMs, 3));
      result.firstGetMs.push(round(getMs, 3));
      result.nodesLoadedByFirstGet = Math.max(
        result.nodesLoadedByFirstGet,
        store.stats().image.nodesLoaded,
      );
      result.replayedRecords = Math.max(result.replayedRecords, stats.recovery.replayedRecords);
      const { slabs, freeSlabs, liveBytes, deadBytes } = stats.image;
      result.imageSpace = { slabs, freeSlabs, liveBytes, deadBytes };
      if (reopen === args.reopens - 1) {
        const sample = distinctIndices(Math.min(200, count), count, random);
        await checkCounts(store, keys, expected, sample, `(c) reopen of ${count} keys`);
      }
    } finally {
      await store.close();
    }
  }
  result.medianOpenWallMs = round(median(result.openWallMs), 3);
  result.medianOpenStatsMs = round(median(result.openStatsMs), 3);
  result.medianFirstGetMs = round(median(result.firstGetMs), 3);
  progress(
    `  median open ${result.medianOpenWallMs} ms (stats ${result.medianOpenStatsMs} ms), ` +
      `first get ${result.medianFirstGetMs} ms`,
  );
  return result;
}

/** The WAL segments in `dir`: how many, and their total size. */
async function walFiles(
  dir: string,
): Promise<{ walSegments: number; walFileBytes: number; walLastSegmentBytes: number }> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".wal")) names.push(entry.name);
  }
  names.sort();
  let walFileBytes = 0;
  let walLastSegmentBytes = 0;
  for (const name of names) {
    walLastSegmentBytes = (await Deno.stat(`${dir}/${name}`)).size;
    walFileBytes += walLastSegmentBytes;
  }
  return { walSegments: names.length, walFileBytes, walLastSegmentBytes };
}

/**
 * Two more epochs of a single add each, checkpointed: the store's last WAL
 * segment then holds one record. (A diagnostic: open reads the whole last
 * segment even when the image covers it, and after a reopen the first
 * epoch's records still go to the segment the last session ended with, so
 * it takes a second epoch in one session to start a fresh segment.)
 */
async function tinyEpoch(
  dir: string,
  keys: string[],
  expected: Float64Array,
  verify: boolean,
): Promise<{ verifyMs: number | undefined; compacted: number }> {
  const store = await openStore({ path: dir, durability: "strict", checkpoint: { auto: false } });
  try {
    let compacted = 0;
    for (let epoch = 0; epoch < 2; epoch++) {
      await store.add(keys[0], 1);
      expected[0]++;
      const result = await store.checkpoint();
      check(result.coverageLsn === store.stats().lastLsn, "the tiny epoch's checkpoint covers it");
      if (result.compacted) compacted++;
    }
    if (!verify) return { verifyMs: undefined, compacted };
    progress(`  verify() of the ${store.stats().keys}-key store`);
    const started = performance.now();
    const report = await store.verify();
    const ms = performance.now() - started;
    check(report.ok, `verify(): ${report.problems.slice(0, 5).join("; ")}`);
    check(report.image.keys === store.stats().keys, `verify() counts ${report.image.keys} keys`);
    return { verifyMs: ms, compacted };
  } finally {
    await store.close();
  }
}

async function buildSmall(
  dir: string,
  args: Args,
  keys: string[],
  expected: Float64Array,
): Promise<void> {
  progress(`(c) building the ${args.small}-key store`);
  const store = await openStore({ path: dir, durability: "relaxed", checkpoint: { auto: false } });
  try {
    await load(store, keys, args.small);
    const result = await store.checkpoint();
    check(result.keys === args.small, "the small store's checkpoint holds every key");
    const report = await store.verify();
    check(report.ok, `verify() of the small store: ${report.problems.join("; ")}`);
    check(report.image.keys === args.small, `verify() counts ${report.image.keys} keys`);
    await checkCounts(
      store,
      keys,
      expected,
      distinctIndices(200, args.small, makeRandom(args.seed)),
      "small",
    );
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------

function table(rows: [string, string, string][]): string {
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => column === 1 ? cell.padStart(widths[1]) : cell.padEnd(widths[column]))
      .join("  ")
  ).join("\n");
}

const bytes = (value: number): string => `${(value / (1024 * 1024)).toFixed(2)} MiB`;
const ms = (value: number): string => `${value.toFixed(value < 10 ? 3 : 1)} ms`;
const rate = (value: number): string => `${Math.round(value).toLocaleString("en-US")}/s`;

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const started = performance.now();
  progress(`generating ${args.keys} keys (seed ${args.seed})`);
  const keys = generateKeys(args.keys, args.seed);
  const expected = Float64Array.from({ length: args.keys }, (_, index) => initialCount(index));
  const expectedSmall = expected.slice(0, args.small);
  const random = makeRandom(args.seed ^ 0x9e3779b9);
  const large = await Deno.makeTempDir({ prefix: "tallytrie-measure-large-" });
  const small = await Deno.makeTempDir({ prefix: "tallytrie-measure-small-" });
  try {
    const a = await measureIncremental(large, args, keys, expected, random);
    const b = await measureThroughput(large, args, keys, expected, random);
    const cLarge = await measureReopen(large, args.keys, args, keys, expected, random);
    await buildSmall(small, args, keys, expectedSmall);
    const cSmall = await measureReopen(small, args.small, args, keys, expectedSmall, random);
    const reopenRatio = cLarge.medianOpenWallMs / cSmall.medianOpenWallMs;
    const reopenStatsRatio = cLarge.medianOpenStatsMs / cSmall.medianOpenStatsMs;
    // Diagnostic: the same stores after two more epochs of a single add, so the
    // last WAL segment (which open reads whole) is tiny.
    progress(`(c') two more epochs of 1 add in each store, checkpointed`);
    const tinyLarge = await tinyEpoch(large, keys, expected, true);
    const verifyLargeMs = tinyLarge.verifyMs;
    const tinySmall = await tinyEpoch(small, keys, expectedSmall, false);
    const dLarge = await measureReopen(large, args.keys, args, keys, expected, random);
    const dSmall = await measureReopen(small, args.small, args, keys, expectedSmall, random);
    const tinyRatio = dLarge.medianOpenWallMs / dSmall.medianOpenWallMs;
    const totalMs = performance.now() - started;

    const pass = (ok: boolean) => (ok ? "PASS" : "FAIL");
    const window = (w: WindowResult) =>
      `${w.adds} adds in ${ms(w.ms)}; add latency p50 ${w.p50LatencyMs} p99 ${w.p99LatencyMs} ` +
      `max ${w.maxLatencyMs} ms; longest loop stall ${w.maxStallMs} ms (ending ${w.maxStallAtMs} ms in)`;
    const reopenRow = (label: string, c: ReopenResult): [string, string, string] => [
      `${label} open, ${c.keys} keys`,
      ms(c.medianOpenWallMs),
      `median of [${c.openWallMs.join(", ")}]; stats.openMs ${ms(c.medianOpenStatsMs)}; ` +
      `image ${
        bytes(c.imageFileBytes)
      } (${c.imageSpace.slabs} slabs, ${c.imageSpace.freeSlabs} free, ` +
      `live ${bytes(c.imageSpace.liveBytes)}, dead ${bytes(c.imageSpace.deadBytes)}); ` +
      `WAL ${c.walSegments} segments, ${bytes(c.walFileBytes)}, last ${
        bytes(c.walLastSegmentBytes)
      }; ` +
      `replayed ${c.replayedRecords}`,
    ];
    const getRow = (label: string, c: ReopenResult): [string, string, string] => [
      `${label} first get, ${c.keys} keys`,
      ms(c.medianFirstGetMs),
      `median of [${c.firstGetMs.join(", ")}]; ${c.nodesLoadedByFirstGet} nodes loaded`,
    ];
    const rows: [string, string, string][] = [
      ["measurement", "value", "note"],
      [
        "(a) keys",
        String(args.keys),
        `loaded in ${ms(a.loadMs)} (${rate(a.loadAddsPerSec)}; relaxed, atomic batches of ` +
        `${loadBatch}, ${loadInFlight} in flight)`,
      ],
      [
        "(a) full checkpoint",
        bytes(a.fullBytesWritten),
        `${a.fullNodesWritten} nodes in ${ms(a.fullCheckpointMs)}`,
      ],
      [
        "(a) incremental checkpoint",
        `${a.incrementalBytesWritten} B`,
        `${a.incrementalNodesWritten} nodes after ${a.changedKeys} changed keys (+1 each), in ${
          ms(a.incrementalMs)
        }`,
      ],
      ["(a) image live bytes", bytes(a.imageLiveBytes), `dead ${a.imageDeadBytes} B`],
      ["(a) image file size", bytes(a.imageFileBytes), ""],
      [
        "(a) incremental / live",
        `${a.percentOfLive.toFixed(3)}%`,
        `target < 2%: ${pass(a.percentOfLive < 2)}`,
      ],
      [
        "(a) incremental / file",
        `${a.percentOfFile.toFixed(3)}%`,
        `target < 2%: ${pass(a.percentOfFile < 2)}`,
      ],
      [
        "(b) compact, no writers",
        ms(b.idleCompactMs),
        `from capture; ${
          ms(b.loadAllAndCompactMs)
        } including loading every node after the lazy open`,
      ],
      ["(b) compact rehearsal", ms(b.rehearsalMs), "writers running; sets baseline window 1"],
      [
        "(b) measured compact",
        ms(b.checkpointMs),
        `${b.checkpointNodesWritten} nodes, ${bytes(b.checkpointBytesWritten)}; ` +
        `${b.writers} concurrent strict add callers running`,
      ],
      ["(b) baseline 1", rate(b.baseline1.addsPerSec), window(b.baseline1)],
      ["(b) during checkpoint", rate(b.during.addsPerSec), window(b.during)],
      ["(b) baseline 2", rate(b.baseline2.addsPerSec), window(b.baseline2)],
      [
        "(b) during / mean(baselines)",
        b.ratio.toFixed(3),
        `target >= 0.70: ${pass(b.ratio >= 0.7)}`,
      ],
      reopenRow("(c)", cSmall),
      reopenRow("(c)", cLarge),
      [
        "(c) open ratio large / small",
        reopenRatio.toFixed(2),
        `target < 3: ${pass(reopenRatio < 3)} (stats.openMs ratio ${reopenStatsRatio.toFixed(2)})`,
      ],
      getRow("(c)", cSmall),
      getRow("(c)", cLarge),
      reopenRow("(c')", dSmall),
      reopenRow("(c')", dLarge),
      [
        "(c') open ratio large / small",
        tinyRatio.toFixed(2),
        "diagnostic: after two more 1-add epochs, checkpointed (tiny last WAL segment)",
      ],
      getRow("(c')", dLarge),
      [
        "unforced checkpoints that compacted",
        `${Number(b.finalCompacted) + tinyLarge.compacted} of 3`,
        `${args.keys} keys: after the writers ${b.finalCompacted} (${
          ms(b.finalMs)
        }), 1-add epochs ` +
        `${tinyLarge.compacted} of 2; ${args.small} keys: 1-add epochs ${tinySmall.compacted} of 2`,
      ],
      [`verify(), ${args.keys} keys`, ms(verifyLargeMs ?? 0), "ok (whole image read back)"],
      ["total runtime", ms(totalMs), ""],
    ];
    console.log(table(rows));
    console.log(JSON.stringify({
      args,
      incremental: {
        ...a,
        percentOfLive: round(a.percentOfLive, 4),
        percentOfFile: round(a.percentOfFile, 4),
      },
      throughput: { ...b, ratio: round(b.ratio, 4) },
      reopen: {
        small: cSmall,
        large: cLarge,
        ratio: round(reopenRatio, 3),
        statsRatio: round(reopenStatsRatio, 3),
        afterTinyEpoch: { small: dSmall, large: dLarge, ratio: round(tinyRatio, 3) },
      },
      verifyLargeMs: round(verifyLargeMs ?? 0, 0),
      unforcedCompactions: {
        afterWriters: b.finalCompacted,
        tinyEpochsLarge: tinyLarge.compacted,
        tinyEpochsSmall: tinySmall.compacted,
      },
      pass: {
        incremental: a.percentOfLive < 2 && a.percentOfFile < 2,
        throughput: b.ratio >= 0.7,
        reopen: reopenRatio < 3,
      },
      totalMs: round(totalMs, 0),
    }));
  } finally {
    await Deno.remove(large, { recursive: true }).catch(() => {});
    await Deno.remove(small, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof CheckFailed ? error.message : error);
    Deno.exit(1);
  }
}
