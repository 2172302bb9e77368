/**
 * The layers of docs/ARCHITECTURE.md, enforced on the module graph:
 *
 * - imports point only down the layer table below ({@link mayImport}); the
 *   same table is in docs/ARCHITECTURE.md ("Layers"): change both together;
 * - a file whose name starts with `_` is private to its folder and the
 *   folders under it: no file elsewhere imports it;
 * - nothing under `lib/` (its tests included) imports `sim/`, `tests/`,
 *   `tools/` or `bench/`.
 *
 * Tests (`tests/`, `*_test.ts`) are white-box: they may import
 * any module, private ones included, but for the last rule.
 *
 * The graph comes from `deno info --json` on a generated root that imports
 * every `.ts` file of `mod.ts`, `lib/`, `sim/`, `tools/` and `bench/`, rather
 * than from a scan of import statements: it holds exactly what Deno loads
 * (type-only imports, re-exports, imports spread over lines, dynamic imports
 * of a literal), never an import in a comment or a doc example, and it also
 * covers files no entry point reaches. One run takes about 0.1 s and reads
 * nothing from the network (`--no-remote`, `--no-npm`).
 *
 * @module
 */

import assert from "node:assert/strict";

/** The layers, from the bottom; `tests` only as something imported. */
type Layer =
  | "shared"
  | "storage"
  | "art"
  | "wal"
  | "image"
  | "engine"
  | "store"
  | "mod"
  | "ngram"
  | "sim"
  | "tools"
  | "bench"
  | "tests";

/** The folders of `lib/` and their layers; a folder not listed fails the test. */
const libFolders: Readonly<Record<string, Layer>> = {
  storage: "storage",
  art: "art",
  wal: "wal",
  image: "image",
  engine: "engine",
  store: "store",
  ngram: "ngram",
};

/** Every layer of the engine, bottom up: what mod.ts, the simulator and the tools may use. */
const engineLayers: readonly Layer[] = [
  "shared",
  "storage",
  "art",
  "wal",
  "image",
  "engine",
  "store",
];

/**
 * What each layer may import besides its own files. `shared` is `lib/errors.ts`
 * and the helpers at `lib/`'s root (`_assert.ts`, `_binary.ts`, `_crc32c.ts`,
 * `_options.ts`, `_view_bytes.ts`, `_bytes.ts`, `options.ts`).
 *
 * art, wal and image import none of each other: the image stores trie nodes
 * as records (`lib/image/node_record.ts`) and the trie hands nodes out and
 * installs them in shapes of its own (`NodeView`, `RecordFieldsView`: the
 * image's `NodeImage` and `RecordFields`, structurally), so the one bridge
 * between them lies above both (the checkpoint and the loader); the WAL and
 * the image share nothing but LSNs, plain numbers. An import among the three
 * that the design comes to need is added here with its reason.
 *
 * store → engine → art/wal/image → storage: the store checks arguments and
 * hands each call to the engine (`lib/engine/engine.ts`), importing only the
 * engine's public modules (its `_` files are its own, by the private-file
 * rule); it may also use what lies further down for its checks. The n-gram
 * store uses the engine only as a user does: through `mod.ts`.
 */
const mayImport: Readonly<Record<Exclude<Layer, "tests">, readonly Layer[]>> = {
  shared: [],
  storage: ["shared"],
  art: ["shared"],
  wal: ["shared", "storage"],
  image: ["shared", "storage"],
  engine: ["shared", "storage", "art", "wal", "image"],
  store: ["shared", "storage", "art", "wal", "image", "engine"],
  mod: engineLayers,
  ngram: ["mod"],
  sim: [...engineLayers, "mod", "ngram"],
  tools: [...engineLayers, "mod", "ngram", "sim", "bench"],
  bench: [...engineLayers, "mod", "ngram", "sim"],
};

/** Where each layer lives, for messages. */
const layerPlaces: Readonly<Record<Layer, string>> = {
  shared: "lib/*.ts",
  storage: "lib/storage/",
  art: "lib/art/",
  wal: "lib/wal/",
  image: "lib/image/",
  engine: "lib/engine/",
  store: "lib/store/",
  mod: "mod.ts",
  ngram: "lib/ngram/",
  sim: "sim/",
  tools: "tools/",
  bench: "bench/",
  tests: "tests/",
};

/** One import: `from` (line `line`) loads `to`; both relative to the repository root. */
interface Import {
  from: string;
  line: number;
  to: string;
}

/** The layer of a file relative to the repository root, if it is in one. */
function layerOf(path: string): Layer | undefined {
  if (path === "mod.ts") return "mod";
  const parts = path.split("/");
  if (parts[0] === "lib") return parts.length === 2 ? "shared" : libFolders[parts[1]];
  if (parts.length < 2) return undefined;
  const top = parts[0];
  return top === "sim" || top === "tools" || top === "bench" || top === "tests" ? top : undefined;
}

/** Whether a file is a test: white-box, outside the layer rules. */
function isTest(path: string): boolean {
  return path.startsWith("tests/") || path.endsWith("_test.ts");
}

/** The folder of a path relative to the root, with a trailing slash ("" for the root). */
function folderOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/") + 1);
}

/** Why `edge` breaks the private-file rule, if it does. */
function privateProblem(edge: Import): string | undefined {
  const owner = folderOf(edge.to);
  const name = edge.to.slice(owner.length);
  if (!name.startsWith("_") || folderOf(edge.from).startsWith(owner)) return undefined;
  return `"${name}" is private to ${owner === "" ? "the root" : owner} (its name starts ` +
    `with "_"): import a public module of ${owner} instead, or make one that exports ` +
    `what is needed on purpose`;
}

/** Why `edge` breaks the layer order, if it does. */
function layerProblem(edge: Import): string | undefined {
  const from = layerOf(edge.from);
  const to = layerOf(edge.to);
  if (from === undefined || from === "tests") {
    return `${edge.from} is in no layer: add its folder to the table in tests/layers_test.ts ` +
      `and docs/ARCHITECTURE.md`;
  }
  if (to === undefined) {
    return `${edge.to} is in no layer: add its folder to the table in tests/layers_test.ts ` +
      `and docs/ARCHITECTURE.md`;
  }
  if (to === from) return undefined;
  const allowed = mayImport[from];
  if (allowed.includes(to)) return undefined;
  const may = allowed.length === 0
    ? "nothing outside it"
    : `only ${allowed.map((layer) => `${layer} (${layerPlaces[layer]})`).join(", ")}`;
  return `the ${from} layer (${layerPlaces[from]}) may import ${may}; ${edge.to} is in the ` +
    `${to} layer (${layerPlaces[to]}): imports point only down (docs/ARCHITECTURE.md, "Layers")`;
}

/** Every rule `edges` break, one line each naming the import. */
function importProblems(edges: readonly Import[]): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const where = `${edge.from}:${edge.line} imports ${edge.to}`;
    if (edge.from.startsWith("lib/") && /^(sim|tests|tools|bench)\//.test(edge.to)) {
      problems.push(`${where}: nothing in lib/ imports sim/, tests/, tools/ or bench/`);
      continue;
    }
    if (isTest(edge.from)) continue;
    const privacy = privateProblem(edge);
    if (privacy !== undefined) problems.push(`${where}: ${privacy}`);
    const order = layerProblem(edge);
    if (order !== undefined) problems.push(`${where}: ${order}`);
  }
  return problems;
}

const rootUrl = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(rootUrl.pathname);
/** The folders whose files the rules cover (besides mod.ts). */
const sourceFolders = ["lib", "sim", "tools", "bench"];
/** Folders a walk descends at most: far above the tree's depth. */
const walkDepthMax = 16;

/** The `.ts` files under `folder` (relative to the root), depth first, sorted. */
async function tsFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  const pending: [string, number][] = [[folder, 0]];
  while (pending.length > 0) {
    const [at, depth] = pending.pop()!;
    assert.ok(depth <= walkDepthMax, `${at} lies deeper than ${walkDepthMax} folders`);
    for await (const entry of Deno.readDir(rootPath + at)) {
      if (entry.isDirectory) pending.push([`${at}/${entry.name}`, depth + 1]);
      else if (entry.isFile && entry.name.endsWith(".ts")) files.push(`${at}/${entry.name}`);
    }
  }
  return files.sort();
}

/** A module as `deno info --json` reports it (the fields read here). */
interface InfoModule {
  specifier: string;
  error?: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string; span: { start: { line: number } } };
    type?: { specifier: string; span: { start: { line: number } } };
  }[];
}

/** Runs `deno info --json` on a root importing every file of `files`. */
async function moduleGraph(files: readonly string[]): Promise<InfoModule[]> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-layers-" });
  try {
    const root = `${dir}/root.ts`;
    const lines = files.map((file) => `import "${new URL(file, rootUrl).href}";`);
    await Deno.writeTextFile(root, lines.join("\n") + "\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "info",
        "--json",
        "--no-remote",
        "--no-npm",
        "--config",
        `${rootPath}deno.json`,
        root,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `deno info failed: ${stderr}`);
    return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The imports between files of the repository, from the graph of every source file. */
async function repositoryImports(): Promise<{ files: string[]; edges: Import[] }> {
  const files = ["mod.ts"];
  for (const folder of sourceFolders) files.push(...await tsFiles(folder));
  const edges: Import[] = [];
  const seen = new Set<string>();
  for (const module of await moduleGraph(files)) {
    if (!module.specifier.startsWith(rootUrl.href)) continue; // the root, node: and npm:
    assert.equal(module.error, undefined, `${module.specifier} does not load: ${module.error}`);
    const from = module.specifier.slice(rootUrl.href.length);
    seen.add(from);
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code, dependency.type]) {
        if (target === undefined || !target.specifier.startsWith("file:")) continue;
        assert.ok(
          target.specifier.startsWith(rootUrl.href),
          `${from} imports ${target.specifier}, outside the repository`,
        );
        const to = target.specifier.slice(rootUrl.href.length);
        edges.push({ from, line: target.span.start.line + 1, to });
      }
    }
  }
  for (const file of files) assert.ok(seen.has(file), `the module graph lacks ${file}`);
  return { files, edges };
}

Deno.test("layers: every import points down the layer table and no private file is imported from outside its folder", async () => {
  const { files, edges } = await repositoryImports();
  assert.ok(files.length > 80 && edges.length > 300, `a whole graph: ${edges.length} imports`);
  const problems = importProblems(edges);
  for (const entry of Deno.readDirSync(`${rootPath}lib`)) {
    if (!entry.isDirectory || entry.name in libFolders) continue;
    problems.push(
      `lib/${entry.name}/ is in no layer: add it to the table in tests/layers_test.ts and ` +
        `docs/ARCHITECTURE.md`,
    );
  }
  if (problems.length > 0) assert.fail(`imports that break the layers:\n${problems.join("\n")}`);
});

Deno.test("layers: the rules name each offending import", () => {
  const edges: Import[] = [
    { from: "lib/art/art.ts", line: 3, to: "lib/store/store.ts" }, // up
    { from: "lib/art/art.ts", line: 4, to: "lib/image/node_record.ts" }, // sideways
    { from: "lib/wal/wal.ts", line: 5, to: "lib/storage/block_storage.ts" }, // down
    { from: "lib/store/store.ts", line: 6, to: "lib/engine/engine.ts" }, // down
    { from: "lib/engine/engine.ts", line: 7, to: "lib/store/keys.ts" }, // up
    { from: "lib/ngram/shards.ts", line: 8, to: "mod.ts" },
    { from: "lib/ngram/shards.ts", line: 9, to: "lib/store/store.ts" }, // past mod.ts
    { from: "sim/runner.ts", line: 10, to: "lib/store/_list.ts" }, // private
    { from: "lib/store/store.ts", line: 11, to: "lib/store/_list.ts" }, // its own folder
    { from: "lib/art/art.ts", line: 12, to: "lib/_assert.ts" }, // lib's root, from below
    { from: "lib/art/art_test.ts", line: 13, to: "lib/engine/_overlay.ts" }, // a test
    { from: "lib/art/art_test.ts", line: 14, to: "sim/prng.ts" },
    { from: "mod.ts", line: 15, to: "lib/engine/_pipeline.ts" }, // private
    { from: "lib/store/store.ts", line: 16, to: "lib/engine/_groups.ts" }, // the engine's own
  ];
  const problems = importProblems(edges);
  const lines = problems.map((problem) => Number(/^[^:]+:(\d+) imports /.exec(problem)?.[1]));
  assert.deepEqual(lines, [3, 4, 7, 9, 10, 14, 15, 16], problems.join("\n"));
  assert.match(problems[0], /^lib\/art\/art\.ts:3 imports lib\/store\/store\.ts: the art layer/);
  assert.match(problems[4], /"_list\.ts" is private to lib\/store\//);
  assert.match(problems[5], /nothing in lib\/ imports sim\//);
  assert.match(problems[7], /"_groups\.ts" is private to lib\/engine\//);
  assert.equal(layerOf("lib/engine/_pipeline.ts"), "engine");
  assert.equal(layerOf("lib/errors.ts"), "shared");
  assert.equal(layerOf("lib/other/x.ts"), undefined);
});
