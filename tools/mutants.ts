// deno-lint-ignore-file no-console
/**
 * `deno task mutants`: plants each bug of `sim/mutants/*.patch` in a
 * temporary copy of the repository, runs the simulator over a range of seeds
 * until it fails, and prints the catch matrix (mutant, caught, first failing
 * seed, seeds tried, property). Exits non-zero if any mutant survives.
 *
 * ```sh
 * deno task mutants [--seeds A..B] [--ops N] [--only NAME]
 * ```
 *
 * @module
 */

interface Row {
  mutant: string;
  caught: boolean;
  seed: string;
  tried: number;
  property: string;
  note: string;
}

const repo = new URL("..", import.meta.url).pathname;
const usage = "usage: deno task mutants [--seeds A..B] [--ops N] [--only NAME]";

function parseArgs(argv: string[]): { seeds: string; ops: string; only?: string } {
  const options: { seeds: string; ops: string; only?: string } = { seeds: "1..200", ops: "500" };
  for (let index = 0; index < argv.length; index++) {
    const value = argv[index + 1];
    if (argv[index] === "--seeds" && value !== undefined && /^\d+\.\.\d+$/.test(value)) {
      options.seeds = value;
    } else if (argv[index] === "--ops" && value !== undefined && /^\d+$/.test(value)) {
      options.ops = value;
    } else if (argv[index] === "--only" && value !== undefined) options.only = value;
    else throw new TypeError(`Bad argument "${argv[index]}"; ${usage}`);
    index++;
  }
  return options;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return { code: output.code, out: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

/** Copies the working tree (tracked and untracked, not ignored) into a new temporary directory. */
async function copyRepo(): Promise<string> {
  const listed = await run(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
    repo,
  );
  if (listed.code !== 0) throw new Error(`Cannot list the repository's files: ${listed.out}`);
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-mutant-" });
  for (const file of listed.out.split("\0").filter((name) => name !== "")) {
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${repo}/${file}`, target).catch(() => {}); // files deleted but not yet staged
  }
  return dir;
}

/**
 * The simulator's arguments for a patch: those of its description's
 * `Simulator:` line (`Simulator: --workload ngram`), else the engine's
 * workload with `--ops` and the mixed profile.
 */
function simulatorArgs(patch: string, ops: string): string[] {
  const header = patch.slice(0, Math.max(0, patch.indexOf("\n--- a/")));
  const line = /^Simulator: (.+)$/m.exec(header);
  if (line !== null) return line[1].trim().split(/\s+/);
  return ["--ops", ops, "--profile", "mixed"];
}

async function tryMutant(patch: string, seeds: string, ops: string): Promise<Row> {
  const mutant = patch.replace(/\.patch$/, "");
  const dir = await copyRepo();
  try {
    const applied = await run("git", ["apply", `${repo}/sim/mutants/${patch}`], dir);
    if (applied.code !== 0) {
      return {
        mutant,
        caught: false,
        seed: "-",
        tried: 0,
        property: "-",
        note: `patch does not apply: ${applied.out.trim()}`,
      };
    }
    const text = await Deno.readTextFile(`${repo}/sim/mutants/${patch}`);
    const sim = await run(Deno.execPath(), [
      "run",
      "-A",
      "sim/cli.ts",
      "--seeds",
      seeds,
      ...simulatorArgs(text, ops),
    ], dir);
    const failed = /FAILED seed (\d+)/.exec(sim.out);
    const tried = Number(/^(\d+) seeds,/m.exec(sim.out)?.[1] ?? 0);
    const property = /^ {2}([\w-]+): /m.exec(sim.out.slice(failed?.index ?? 0))?.[1] ?? "-";
    if (sim.code === 1 && failed !== null) {
      return { mutant, caught: true, seed: failed[1], tried, property, note: "" };
    }
    const note = sim.code === 0
      ? "survived"
      : `simulator error: ${sim.out.trim().split("\n").slice(-3).join(" ")}`;
    return { mutant, caught: false, seed: "-", tried, property: "-", note };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<number> {
  const options = parseArgs(Deno.args);
  const patches = [...Deno.readDirSync(`${repo}/sim/mutants`)]
    .map((entry) => entry.name)
    .filter((name) =>
      name.endsWith(".patch") && (options.only === undefined || name.startsWith(options.only))
    )
    .sort();
  if (patches.length === 0) throw new Error(`No mutant matches "${options.only}" in sim/mutants`);
  console.log(
    `planting ${patches.length} mutants, seeds ${options.seeds}, ${options.ops} ops each`,
  );
  const rows: Row[] = [];
  for (const patch of patches) {
    const started = performance.now();
    const row = await tryMutant(patch, options.seeds, options.ops);
    rows.push(row);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `  ${row.mutant}: ${
        row.caught ? `caught at seed ${row.seed} (${row.property})` : row.note
      } [${seconds} s]`,
    );
  }
  console.log("\n| mutant | caught | first failing seed | seeds tried | property |");
  console.log("|---|---|---|---|---|");
  for (const row of rows) {
    console.log(
      `| ${row.mutant} | ${
        row.caught ? "yes" : "NO"
      } | ${row.seed} | ${row.tried} | ${row.property} |`,
    );
  }
  return rows.every((row) => row.caught) ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`mutants: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(2);
  }
}
