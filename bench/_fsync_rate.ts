/**
 * The disk's fdatasync rate, for `bench/compare.ts`: strict writes wait for
 * one fdatasync each (or one per group), so this rate bounds the one-at-a-time
 * adds of every durable engine, and printing it next to their numbers tells a
 * slow engine from a slow disk.
 *
 * @module
 */

/** Bytes written before each fdatasync: one page. */
export const fsyncProbeBytes = 4096;
/** The most rounds one measurement makes. */
export const fsyncRoundsMax = 2_000;
/** The longest one measurement runs, in ms (it stops after the round that passes it). */
export const fsyncDurationMaxMs = 1_000;

/** What {@link measureFsyncRate} found. */
export interface FsyncRate {
  /** The directory measured in. */
  dir: string;
  /** Rounds timed (each: a 4 KiB write at offset 0, then fdatasync). */
  rounds: number;
  /** Rounds per second over the whole timed run. */
  perSecond: number;
  /** Median latency of a round, in µs. */
  medianUs: number;
  /** 99th-percentile latency of a round, in µs. */
  p99Us: number;
}

/** The `fraction` quantile of sorted `values` (nearest rank). */
function quantile(sorted: Float64Array, fraction: number): number {
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

async function writeAllAt(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/**
 * Measures fdatasync in `dir`: writes {@linkcode fsyncProbeBytes} at offset 0
 * of a new file and calls `syncData()`, for up to {@linkcode fsyncRoundsMax}
 * rounds or {@linkcode fsyncDurationMaxMs} ms, whichever comes first. One
 * untimed round first allocates the block, so every timed round overwrites
 * it in place. The file is removed afterwards, also on failure.
 *
 * @param dir An existing directory on the filesystem to measure.
 * @returns The rate and the latency quantiles.
 */
export async function measureFsyncRate(dir: string): Promise<FsyncRate> {
  const path = await Deno.makeTempFile({ dir, prefix: "fsync-probe-" });
  const data = new Uint8Array(fsyncProbeBytes).fill(0xa5);
  const latencies = new Float64Array(fsyncRoundsMax);
  let rounds = 0;
  let elapsedMs = 0;
  try {
    using file = await Deno.open(path, { read: true, write: true });
    await writeAllAt(file, data);
    await file.syncData();
    const started = performance.now();
    while (rounds < fsyncRoundsMax && elapsedMs < fsyncDurationMaxMs) {
      const roundStarted = performance.now();
      data[rounds % data.length] ^= 0xff; // new bytes each round, so every write dirties the page
      await writeAllAt(file, data);
      await file.syncData();
      const now = performance.now();
      latencies[rounds++] = now - roundStarted;
      elapsedMs = now - started;
    }
  } finally {
    await Deno.remove(path);
  }
  const sorted = latencies.subarray(0, rounds).sort();
  return {
    dir,
    rounds,
    perSecond: elapsedMs > 0 ? rounds / (elapsedMs / 1000) : Infinity,
    medianUs: quantile(sorted, 0.5) * 1000,
    p99Us: quantile(sorted, 0.99) * 1000,
  };
}
