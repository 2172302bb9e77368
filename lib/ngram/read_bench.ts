/**
 * Benchmarks of the n-gram readers (`deno bench --allow-read --allow-write
 * lib/ngram/read_bench.ts`): Google-shaped v2 2-gram files, gzipped, read
 * into a sink that only sums what it is handed (the reader alone, no store),
 * with few years per n-gram (more distinct n-grams per row: the harder case
 * for the store behind) and with many; the same content plain (no
 * decompression) and as v3; and text. Each bench's name says its rows and
 * content bytes: rows/s is rows over the time per iteration. Compare numbers
 * from one run only: this machine is shared and noisy.
 *
 * @module
 */

import type { InputFormat, NgramSink } from "./input.ts";
import { readNgrams } from "./read.ts";
import { gzipMembers, textFixture, v2Fixture, v3Fixture } from "./fixtures.ts";

/** Distinct 2-grams per file. */
const benchNgrams = 150_000;

/** A sink that sums what it is handed, so nothing is optimised away. */
class SummingSink implements NgramSink {
  total = 0;
  ngram(_bytes: Uint8Array, start: number, end: number, count: number, offset: number): void {
    this.total += count + end - start + (offset & 1);
  }
  boundary(): void {}
}

const dir = await Deno.makeTempDir({ prefix: "tallytrie-read-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** Writes `content` (gzipped as 4 members, or plain) and registers a bench reading it. */
async function bench(name: string, format: InputFormat, content: string, gzip: boolean) {
  const path = `${dir}/${name.replaceAll(/\W+/g, "-")}`;
  const bytes = gzip ? gzipMembers(content, 4) : new TextEncoder().encode(content);
  await Deno.writeFile(path, bytes);
  const probe = await readNgrams(path, {
    format,
    filters: { minCount: 0, tags: "keep", order: 3 },
    sink: new SummingSink(),
  });
  const mb = (probe.contentBytes / 1e6).toFixed(1);
  Deno.bench({
    name: `${name}: ${probe.rows.toLocaleString("en")} rows, ${mb} MB of content`,
    group: "read",
    baseline: name.startsWith("v2 gzip, few"),
    async fn() {
      const sink = new SummingSink();
      const summary = await readNgrams(path, {
        format,
        filters: { minCount: 0, tags: "drop", order: 3 },
        sink,
      });
      if (summary.rows !== probe.rows || sink.total === 0) throw new Error(`${name}: misread`);
    },
  });
}

const shape = { seed: 42, ngrams: benchNgrams, order: 2, orderMin: 2, words: 20_000 };
const few = v2Fixture({ ...shape, years: { min: 1, max: 6 } });
await bench("v2 gzip, few years per n-gram", "v2", few, true);
await bench(
  "v2 gzip, many years per n-gram",
  "v2",
  v2Fixture({ ...shape, years: { min: 1, max: 40 } }),
  true,
);
await bench("v2 plain, few years per n-gram", "v2", few, false);
await bench(
  "v3 gzip, few years per n-gram",
  "v3",
  v3Fixture({ ...shape, years: { min: 1, max: 6 } }),
  true,
);
await bench("text gzip, orders 1 to 3", "text", textFixture({ seed: 42, lines: 40_000 }), true);
