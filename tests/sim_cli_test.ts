/**
 * The simulator's command line (`deno task sim`): `--help` lists every
 * option with its default, and every run prints trace hashes that two runs
 * of the same seeds repeat, so they can be compared by eye.
 */

import assert from "node:assert/strict";

const cli = new URL("../sim/cli.ts", import.meta.url).pathname;

async function sim(...args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", cli, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, out: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

Deno.test("sim cli: --help lists every option with its default and exits 0", async () => {
  const { code, out } = await sim("--help");
  assert.equal(code, 0, out);
  const expected: [string, string][] = [
    ["--seed N", "1"],
    ["--seeds A..B", "1..1"],
    ["--ops N", "500"],
    ["--clients N", "4"],
    ["--profile NAME", "mixed"],
    ["--durability MODE", "mixed"],
    ["--sector BYTES", "512"],
    ["--memory-pressure P", "0"],
    ["--slab-cache-min SLABS", "drawn"],
    ["--trace FILE", "none"],
    ["--replay FILE", "none"],
    ["--shrink", "off"],
    ["--seconds N", "none"],
  ];
  for (const [flag, fallback] of expected) {
    const line = out.split("\n").find((text) => text.trimStart().startsWith(`${flag} `));
    assert.ok(line !== undefined, `--help lists ${flag}:\n${out}`);
    assert.match(line, new RegExp(`^\\s+${flag.replace(".", "\\.")}\\s+${fallback}\\s`));
  }
  assert.ok(out.includes("--help"), "--help lists itself");
  assert.ok(!out.includes("seeds, "), "--help runs no seed");
});

Deno.test("sim cli: n-gram runs take --memory-budget of at least 4096 a part of four shards", async () => {
  const small = await sim("--workload", "ngram", "--memory-budget", "8192");
  assert.equal(small.code, 2);
  assert.match(small.out, /--memory-budget must be at least 20480 with --workload ngram/);
  const run = await sim("--workload", "ngram", "--seed", "3", "--memory-budget", "20480");
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /^seed 3: passed, trace hash 0x[0-9a-f]{8}$/m);
});

Deno.test("sim cli: --slab-cache-min needs --memory-budget, and a run with both passes", async () => {
  const alone = await sim("--slab-cache-min", "1");
  assert.equal(alone.code, 2);
  assert.match(alone.out, /--slab-cache-min .*give --memory-budget too/);
  const zero = await sim("--slab-cache-min", "0", "--memory-budget", "4096");
  assert.equal(zero.code, 2);
  assert.match(zero.out, /--slab-cache-min must be an integer from 1/);
  const run = await sim(
    "--seed",
    "3",
    "--ops",
    "100",
    "--memory-budget",
    "4096",
    "--slab-cache-min",
    "1",
  );
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /^seed 3: passed, trace hash 0x[0-9a-f]{8}$/m);
  assert.match(run.out, /\(1 seeds with a slab cache of one slab\)/);
});

Deno.test("sim cli: an unknown argument exits 2 and points at --help", async () => {
  const { code, out } = await sim("--sead", "3");
  assert.equal(code, 2);
  assert.match(out, /Unknown argument "--sead".*--help/);
});

Deno.test("sim cli: the same seed prints the same trace hash twice; a range prints a combined one", async () => {
  const first = await sim("--seed", "5", "--ops", "60", "--profile", "hostile");
  const again = await sim("--seed", "5", "--ops", "60", "--profile", "hostile");
  assert.equal(first.code, 0, first.out);
  const hash = /^seed 5: passed.*, trace hash (0x[0-9a-f]{8})$/m.exec(first.out);
  assert.ok(hash !== null, `one seed prints its trace hash:\n${first.out}`);
  assert.equal(/trace hash (0x[0-9a-f]{8})$/m.exec(again.out)?.[1], hash[1]);
  const other = await sim("--seed", "6", "--ops", "60", "--profile", "hostile");
  assert.notEqual(/trace hash (0x[0-9a-f]{8})$/m.exec(other.out)?.[1], hash[1]);
  const range = await sim("--seeds", "5..6", "--ops", "60", "--profile", "hostile");
  const combined = /^trace hash of seeds 5\.\.6: (0x[0-9a-f]{8})$/m.exec(range.out);
  assert.ok(combined !== null, `a range prints one hash of all its seeds:\n${range.out}`);
  const rangeAgain = await sim("--seeds", "5..6", "--ops", "60", "--profile", "hostile");
  assert.equal(
    /^trace hash of seeds 5\.\.6: (0x[0-9a-f]{8})$/m.exec(rangeAgain.out)?.[1],
    combined[1],
  );
});
