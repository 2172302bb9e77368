// deno-lint-ignore-file no-console
/**
 * `deno task lazy-count-bench`: counting throughput into a store whose trie
 * has nodes on disk (issue 17: "the fast counting path stays fast once
 * stubs exist"), beside the same store loaded whole. A store of `--keys`
 * word-bigram keys is built once (relaxed, checkpointed, closed); then, on
 * a fresh copy of it each, strict batches of `atomic().add()` (four in
 * flight; a fifth of their keys new, the rest drawn at random from the
 * first tenth of the keys, the hot set) after three opens:
 *
 * - `loaded`: the default open (the image fits the slab cache: loaded whole);
 * - `lazy`: `load: "lazy"`, only the root in memory at first;
 * - `budget`: loaded whole, with `memoryBudget` a tenth of the loaded trie's
 *   live bytes, so every checkpoint evicts and the batches meet stubs.
 *
 * Before the timed batches, a `getMany` of the hot set loads its paths (a
 * lazy store's first batches wait for reads whatever path they take; this
 * measures counting once they are in, with the rest of the trie on disk).
 * Each phase reports adds per second, the milliseconds spent inside
 * `commit()` calls (judging and logging, not the fsync or the apply) per
 * batch, the share of batches that took the short path (`asciiBatches`) and
 * the records loaded while timed, and checks a sample of counts against a
 * model. `--baseline DIR` runs the same phases with another checkout's
 * `mod.ts` (say, main before a change) in the same run, interleaved round
 * by round (`--rounds`); the medians are printed side by side.
 *
 * ```sh
 * deno task lazy-count-bench [--keys N] [--batches N] [--rounds N] [--baseline DIR]
 * git archive main | tar -x -C /tmp/base && deno task lazy-count-bench --baseline /tmp/base
 * ```
 *
 * @module
 */

import { checkoutRoots, workerTurn } from "./_checkouts.ts";

/** Adds per atomic batch. */
const batchAdds = 1_000;
/** Commits in flight at once (a counting import overlaps its commits' fsyncs). */
const commitsInFlight = 4;
/** Keys built by each of the build's batches. */
const buildBatchKeys = 10_000;
/** Counts read back after each phase, each checked against the model. */
const sampleKeys = 20_000;
/** The share of a batch's keys that are new. */
const newKeyShare = 0.2;
/** The share of the built keys the batches add to (the first ones). */
const hotShare = 0.1;
/** Keys per `getMany` of the warm-up. */
const warmUpChunk = 10_000;
/** The most keys a run may build (memory: the model keeps what each phase added). */
const keysMax = 5_000_000;

/** The phases, in the order each worker runs them. */
const phases = ["loaded", "lazy", "budget"] as const;
type Phase = typeof phases[number];

interface PhaseResult {
  addsPerSecond: number;
  /** Milliseconds inside `commit()` calls, per batch. */
  commitMs: number;
  /** Batches the short path took, of all batches. */
  shortShare: number;
  /** Image records loaded during the phase (lazy loads and faults). */
  nodesLoaded: number;
  /** Subtrees evicted during the phase (`budget` only). */
  evictions: number;
}

interface WorkerResult {
  buildSeconds: number;
  phases: Record<Phase, PhaseResult>;
}

interface Args {
  keys: number;
  batches: number;
  rounds: number;
  baseline?: string;
  /** Set in a worker: the checkout whose `mod.ts` it measures. */
  worker?: string;
}

const usage =
  "usage: deno task lazy-count-bench [--keys N] [--batches N] [--rounds N] [--baseline DIR]";

function parseArgs(argv: string[]): Args {
  const args: Args = { keys: 500_000, batches: 300, rounds: 3 };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new TypeError(`Missing a value after "${flag}"; ${usage}`);
    const count = Number(value);
    if (flag === "--baseline") args.baseline = value;
    else if (flag === "--worker") args.worker = value;
    else if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`Bad value "${value}" for "${flag}": a positive integer; ${usage}`);
    } else if (flag === "--keys") args.keys = Math.min(keysMax, Math.max(buildBatchKeys, count));
    else if (flag === "--batches") args.batches = count;
    else if (flag === "--rounds") args.rounds = count;
    else throw new TypeError(`Unknown argument "${flag}"; ${usage}`);
  }
  return args;
}

/** Key `i`: a word bigram and its index (word n-gram shaped, as `budget_bench.ts`). */
function key(i: number): string {
  return `w${(i * 7919) % 50_021} w${i % 977} ${i}`;
}

/** What key `i` counts after the build. */
function built(i: number): number {
  return 1 + (i % 5);
}

/** A deterministic generator of uniform numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

// deno-lint-ignore no-explicit-any
type Module = any; // the store module of the checkout measured (`mod.ts`)

/** Builds the store into `dir`; returns the seconds it took. */
async function build(mod: Module, dir: string, keys: number): Promise<number> {
  const started = performance.now();
  const store = await mod.openStore(dir, { durability: "relaxed" });
  for (let from = 0; from < keys; from += buildBatchKeys) {
    const op = store.atomic();
    for (let i = from; i < Math.min(keys, from + buildBatchKeys); i++) op.add(key(i), built(i));
    await op.commit();
  }
  await store.close();
  return (performance.now() - started) / 1000;
}

/** Copies the store in `from` to a new directory. */
async function copyStore(from: string): Promise<string> {
  const to = await Deno.makeTempDir({ prefix: "lazy-count-bench-" });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else {
      await Deno.mkdir(`${to}/${entry.name}`);
      for await (const inner of Deno.readDir(`${from}/${entry.name}`)) {
        await Deno.copyFile(
          `${from}/${entry.name}/${inner.name}`,
          `${to}/${entry.name}/${inner.name}`,
        );
      }
    }
  }
  return to;
}

/** Loads the paths of the hot set with `getMany`s (their counts are checked later). */
async function warmUp(store: Module, keys: number): Promise<void> {
  const hot = Math.floor(keys * hotShare);
  for (let from = 0; from < hot; from += warmUpChunk) {
    const chunk: string[] = [];
    for (let i = from; i < Math.min(hot, from + warmUpChunk); i++) chunk.push(key(i));
    await store.getMany(chunk);
  }
}

/** Runs the batches of one phase on an open store; returns adds per second and commit time. */
async function count(
  store: Module,
  keys: number,
  batches: number,
  added: Map<string, number>,
): Promise<{ addsPerSecond: number; commitMs: number }> {
  const next = random(0x5eed);
  const hot = Math.floor(keys * hotShare);
  let fresh = keys;
  let commitMs = 0;
  const inFlight: Promise<unknown>[] = [];
  const started = performance.now();
  for (let batch = 0; batch < batches; batch++) {
    const op = store.atomic();
    for (let n = 0; n < batchAdds; n++) {
      const k = next() < newKeyShare ? key(fresh++) : key(Math.floor(next() * hot));
      op.add(k, 1);
      added.set(k, (added.get(k) ?? 0) + 1);
    }
    const before = performance.now();
    inFlight.push(op.commit());
    commitMs += performance.now() - before;
    if (inFlight.length >= commitsInFlight) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  return { addsPerSecond: (batches * batchAdds) / seconds, commitMs: commitMs / batches };
}

/** Reads back a sample of keys (built and added) and checks each count. */
async function check(store: Module, keys: number, added: Map<string, number>): Promise<void> {
  const next = random(0xc4ec);
  const sample: string[] = [...added.keys()].slice(0, sampleKeys / 2);
  const indexes = new Map<string, number>();
  for (let n = 0; n < sampleKeys / 2; n++) {
    const i = Math.floor(next() * keys);
    sample.push(key(i));
    indexes.set(key(i), i);
  }
  const counts = await store.getMany(sample);
  for (const [index, k] of sample.entries()) {
    const i = indexes.get(k) ?? Number(k.slice(k.lastIndexOf(" ") + 1));
    const want = (i < keys ? built(i) : 0) + (added.get(k) ?? 0);
    if (counts[index] !== want) {
      throw new Error(`Count of "${k}" is ${counts[index]}, want ${want}`);
    }
  }
}

/** One phase on a fresh copy of the built store. */
async function phase(
  mod: Module,
  counters: Module,
  source: string,
  which: Phase,
  args: Args,
): Promise<PhaseResult> {
  const dir = await copyStore(source);
  let options: Record<string, unknown> = {};
  if (which === "lazy") options = { load: "lazy" };
  if (which === "budget") {
    // Loaded whole: an "auto" open (the default) returns with the root alone, and a tenth of
    // that was under the budget's minimum ("got 35").
    const probe = await mod.openStore(dir, { load: "eager" });
    options = { memoryBudget: Math.floor(probe.stats().memory.liveBytes / 10) };
    await probe.close();
  }
  const store = await mod.openStore(dir, options);
  await warmUp(store, args.keys);
  const before = { ...counters.writeCounters(store), evictions: store.stats().memory.evictions };
  const added = new Map<string, number>();
  const { addsPerSecond, commitMs } = await count(store, args.keys, args.batches, added);
  const after = counters.writeCounters(store);
  const result: PhaseResult = {
    addsPerSecond,
    commitMs,
    shortShare: (after.asciiBatches - before.asciiBatches) / args.batches,
    nodesLoaded: after.nodesLoaded - before.nodesLoaded,
    evictions: store.stats().memory.evictions - before.evictions,
  };
  await check(store, args.keys, added);
  await store.close();
  await Deno.remove(dir, { recursive: true });
  return result;
}

/** A worker: builds the store with the checkout `args.worker` and runs every phase on it. */
async function worker(args: Args): Promise<WorkerResult> {
  const root = args.worker!;
  const mod = await import(`${root}/mod.ts`);
  const counters = await import(`${root}/lib/store/store.ts`);
  const source = await Deno.makeTempDir({ prefix: "lazy-count-bench-" });
  try {
    const buildSeconds = await build(mod, source, args.keys);
    const results = {} as Record<Phase, PhaseResult>;
    for (const which of phases) results[which] = await phase(mod, counters, source, which, args);
    return { buildSeconds, phases: results };
  } finally {
    await Deno.remove(source, { recursive: true });
  }
}

/** Runs a worker process for the checkout at `root`; returns what it printed. */
async function spawn(args: Args, root: string): Promise<WorkerResult> {
  const flags = ["--keys", `${args.keys}`, "--batches", `${args.batches}`, "--worker", root];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...flags],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`The worker for "${root}" failed`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Prints the medians of every phase, this checkout beside the baseline. */
function report(runs: Map<string, WorkerResult[]>, args: Args): void {
  const labels = [...runs.keys()];
  console.log(
    `\n${args.keys} keys built; ${args.batches} batches of ${batchAdds} adds per phase ` +
      `(${commitsInFlight} in flight, ${newKeyShare * 100}% new keys, the rest on the first ` +
      `${hotShare * 100}%); medians of ${args.rounds} rounds\n`,
  );
  const columns = "adds/s | ms in commit() a batch | short path | loads";
  console.log(`| phase | ${labels.map((l) => `${l}: ${columns}`).join(" | ")} |`);
  console.log(`|---|${labels.map(() => "---:|---:|---:|---:").join("|")}|`);
  for (const which of phases) {
    const cells = labels.map((label) => {
      const results = runs.get(label)!.map((run) => run.phases[which]);
      const adds = median(results.map((r) => r.addsPerSecond));
      const commitMs = median(results.map((r) => r.commitMs));
      const share = median(results.map((r) => r.shortShare));
      const loads = median(results.map((r) => r.nodesLoaded));
      const shown = [
        `${(adds / 1e3).toFixed(0)}k`,
        commitMs.toFixed(3),
        `${(share * 100).toFixed(0)}%`,
      ];
      return [...shown, `${loads}`].join(" | ");
    });
    console.log(`| ${which} | ${cells.join(" | ")} |`);
  }
  for (const label of labels) {
    const seconds = median(runs.get(label)!.map((run) => run.buildSeconds));
    console.log(`build (${label}): ${seconds.toFixed(2)} s`);
  }
  console.log(JSON.stringify(Object.fromEntries(runs)));
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  if (await workerTurn(args.worker, () => worker(args))) return;
  const roots = checkoutRoots(args.baseline);
  const runs = new Map<string, WorkerResult[]>([...roots.keys()].map((label) => [label, []]));
  for (let round = 0; round < args.rounds; round++) {
    for (const [label, root] of roots) {
      const result = await spawn(args, root);
      runs.get(label)!.push(result);
      console.error(`round ${round + 1}, ${label}: ${JSON.stringify(result)}`);
    }
  }
  report(runs, args);
}

if (import.meta.main) await main();
