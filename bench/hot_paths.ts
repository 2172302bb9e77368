// deno-lint-ignore-file no-console
/**
 * The two hot paths of issue 5, measured in one process without the other
 * engines: atomic batches of 1,000 adds on real files (strict), with
 * automatic checkpoints off (the write path alone) and on (as in
 * `deno task compare`), then prefix scans of the fully loaded store built by
 * the same process (iteration cost without any node loading). Same workload
 * and prefixes as `bench/compare.ts`. Compare numbers from one run only.
 *
 * ```sh
 * deno run -A bench/hot_paths.ts [increments]   # default 300,000
 * ```
 *
 * @module
 */

import { openStore, type Store } from "../mod.ts";
import { buildWorkload, workloadSeed } from "./_compare_engines.ts";
import { makeRandom } from "./random.ts";

const batchAdds = 1_000;
const prefixScans = 1_000;
const scanRounds = 5;

const increments = Number(Deno.args[0] ?? 300_000);
const workload = buildWorkload(increments);

async function batched(auto: boolean): Promise<{ rate: number; store: Store; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tallytrie-hot-" });
  const store = await openStore({ path: dir, checkpoint: { auto } });
  const started = performance.now();
  for (let start = 0; start < workload.increments.length; start += batchAdds) {
    const atomic = store.atomic();
    const end = Math.min(start + batchAdds, workload.increments.length);
    for (let index = start; index < end; index++) atomic.add(workload.increments[index], 1);
    if (!(await atomic.commit()).ok) throw new Error("commit failed");
  }
  const rate = workload.increments.length / ((performance.now() - started) / 1000);
  return { rate, store, dir };
}

function prefixes(): string[] {
  const words = workload.wordsByRank;
  const random = makeRandom(workloadSeed ^ 0x5ca9);
  return Array.from({ length: prefixScans }, () => {
    const rank = Math.floor(Math.exp(random() * Math.log(words.length))) - 1;
    return `${words[Math.max(0, Math.min(words.length - 1, rank))]} `;
  });
}

async function scans(store: Store): Promise<number> {
  let best = Infinity;
  let keys = 0;
  for (let round = 0; round < scanRounds; round++) {
    keys = 0;
    const started = performance.now();
    for (const prefix of prefixes()) {
      for await (const _entry of store.list({ prefix })) keys++;
    }
    best = Math.min(best, performance.now() - started);
  }
  return keys / (best / 1000);
}

for (const auto of [false, true]) {
  const { rate, store, dir } = await batched(auto);
  const line = `batches of ${batchAdds} adds, checkpoints ${auto ? "on " : "off"}: ${
    Math.round(rate).toLocaleString("en-US")
  } adds/s`;
  if (auto) console.log(line);
  else {
    const scanRate = await scans(store);
    console.log(line);
    console.log(
      `prefix scans, fully loaded (best of ${scanRounds}): ${
        Math.round(scanRate).toLocaleString("en-US")
      } keys/s`,
    );
  }
  await store.close();
  await Deno.remove(dir, { recursive: true });
}
