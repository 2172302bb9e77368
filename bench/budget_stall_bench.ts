// deno-lint-ignore-file no-console
/**
 * `deno run -A bench/budget_stall_bench.ts`: the memory budget's rounds
 * while nothing can be evicted. A store of word n-gram keys (built without
 * a budget) is reopened under a small budget with automatic checkpoints
 * off; writes of new keys then take the live nodes past the trie's part,
 * all dirty (no checkpoint wrote them), and gets of cold keys load their
 * paths. Each load asks for a round: the cooling queue gives it the nodes
 * the load brought, and the rest of the trie is dirty, so a clock hand
 * that walks it frees nothing. Reports the rounds, the hand's walks and
 * visits (`writeCounters(store).budgetWork`) and the time per get.
 *
 * ```sh
 * deno run -A bench/budget_stall_bench.ts [--keys N] [--writes N] [--gets N] [--budget BYTES]
 * ```
 *
 * @module
 */

import { openStore } from "../mod.ts";
import { writeCounters } from "../lib/store/store.ts";
import { build, countOf, key } from "./budget_bench.ts";

interface Args {
  keys: number;
  writes: number;
  gets: number;
  budget: number;
}

function parseArgs(args: string[]): Args {
  const parsed: Args = { keys: 300_000, writes: 60_000, gets: 20_000, budget: 4 << 20 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, "") as keyof Args;
    const value = Number(args[i + 1]);
    if (!(name in parsed) || !Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(
        `Unknown argument ${JSON.stringify(args[i])}; usage: [--keys N] [--writes N] ` +
          `[--gets N] [--budget BYTES]`,
      );
    }
    parsed[name] = value;
  }
  return parsed;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const dir = Deno.env.get("STALL_BENCH_DIR") ?? await Deno.makeTempDir({ prefix: "stall-" });
  const built = Deno.env.get("STALL_BENCH_DIR") !== undefined;
  if (!built) await build(dir, args.keys);
  const copy = await Deno.makeTempDir({ prefix: "stall-run-" });
  for await (const entry of Deno.readDir(dir)) {
    await Deno.copyFile(`${dir}/${entry.name}`, `${copy}/${entry.name}`);
  }
  const store = await openStore(copy, {
    durability: "relaxed",
    memoryBudget: args.budget,
    checkpoint: { auto: false },
  });
  // New keys, all dirty: past the trie's part, nothing they made can go before a checkpoint.
  const op = store.atomic();
  for (let i = 0; i < args.writes; i++) op.add(`new ${key(i)}`, 1);
  await op.commit();
  const before = writeCounters(store);
  let state = 7;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const started = performance.now();
  for (let done = 0; done < args.gets; done++) {
    const i = Math.floor(random() * args.keys);
    const value = await store.get(key(i));
    if (value !== countOf(i)) throw new Error(`key ${i}: ${value}, want ${countOf(i)}`);
  }
  const us = (performance.now() - started) * 1000 / args.gets;
  const after = writeCounters(store);
  const work = (name: keyof typeof before.budgetWork) =>
    after.budgetWork[name] - before.budgetWork[name];
  const memory = after.memory;
  console.log(JSON.stringify({
    usPerGet: Number(us.toFixed(1)),
    rounds: work("rounds"),
    walks: work("walks"),
    visits: work("visits"),
    visitsPerGet: Number((work("visits") / args.gets).toFixed(1)),
    queueLooks: work("queueLooks"),
    evictions: memory.evictions,
    liveBytes: memory.liveBytes,
    budget: args.budget,
  }));
  await store.close();
  await Deno.remove(copy, { recursive: true });
  if (!built) await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await main();
