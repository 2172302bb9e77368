// deno-lint-ignore-file no-console
/**
 * The import command's progress line on stderr: files, rows, rows per
 * second, bytes of the stored files read and an ETA from them (their sizes
 * are known up front). On a terminal the line is rewritten in place; to a
 * file or pipe a line is written every {@link logEveryMs}.
 *
 * @module
 */

import type { FileImportOutcome, FileProgress } from "./store.ts";

/** Milliseconds between two rewrites of the line on a terminal. */
const redrawEveryMs = 250;
/** Milliseconds between two progress lines when stderr is not a terminal. */
const logEveryMs = 10_000;

/** `1234567` → `1.2M`. */
function short(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return `${Math.round(value)}`;
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** See the module notes. */
export class ImportProgress {
  readonly #files: string[];
  readonly #sizes: number[];
  readonly #totalBytes: number;
  readonly #terminal = Deno.stderr.isTerminal();
  readonly #started = performance.now();
  #index = -1;
  #doneBytes = 0;
  #doneRows = 0;
  #current: FileProgress = { fileBytes: 0, contentBytes: 0, lines: 0, rows: 0 };
  #lastDraw = 0;
  #imported = 0;
  #resumed = 0;
  #already = 0;

  private constructor(files: string[], sizes: number[]) {
    this.#files = files;
    this.#sizes = sizes;
    this.#totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  }

  /** Starts the progress of importing `files` (their sizes are read now). */
  static async start(files: string[]): Promise<ImportProgress> {
    const sizes = await Promise.all(files.map(async (file) => (await Deno.stat(file)).size));
    return new ImportProgress(files, sizes);
  }

  /** The next file begins. */
  beginFile(file: string): void {
    this.#index++;
    this.#current = { fileBytes: 0, contentBytes: 0, lines: 0, rows: 0 };
    if (!this.#terminal) console.error(`[${this.#index + 1}/${this.#files.length}] ${file}`);
  }

  /** The current file's reading moved on. */
  update(progress: FileProgress): void {
    this.#current = progress;
    const now = performance.now();
    if (now - this.#lastDraw < (this.#terminal ? redrawEveryMs : logEveryMs)) return;
    this.#lastDraw = now;
    this.#draw(now);
  }

  /** The current file is in. */
  endFile(outcome: FileImportOutcome): void {
    this.#doneBytes += this.#sizes[this.#index];
    this.#doneRows += outcome.summary?.rows ?? 0;
    this.#current = { fileBytes: 0, contentBytes: 0, lines: 0, rows: 0 };
    if (outcome.status === "imported") this.#imported++;
    if (outcome.status === "resumed") this.#resumed++;
    if (outcome.status === "already-imported") this.#already++;
    const what = outcome.status === "already-imported"
      ? "already imported, passed by"
      : `${outcome.status} (${outcome.format}), ${short(outcome.summary?.rows ?? 0)} rows, ` +
        `${short(outcome.ngrams)} n-grams written`;
    this.#clear();
    console.error(`[${this.#index + 1}/${this.#files.length}] ${outcome.path}: ${what}`);
  }

  /** Clears the line (before a final message or an error). */
  stop(): void {
    this.#clear();
  }

  /** The last line: what was imported, in how long. */
  summary(): void {
    const seconds = (performance.now() - this.#started) / 1000;
    console.error(
      `done: ${this.#files.length} files (${this.#imported} imported, ${this.#resumed} resumed, ` +
        `${this.#already} already imported), ${short(this.#doneRows)} rows in ${
          duration(seconds)
        } ` +
        `(${short(this.#doneRows / Math.max(seconds, 1e-3))} rows/s)`,
    );
  }

  #draw(now: number): void {
    const seconds = (now - this.#started) / 1000;
    const rows = this.#doneRows + this.#current.rows;
    const bytes = this.#doneBytes + this.#current.fileBytes;
    const rate = rows / Math.max(seconds, 1e-3);
    const eta = bytes > 0 ? seconds * (this.#totalBytes - bytes) / bytes : Infinity;
    const line = `[${this.#index + 1}/${this.#files.length}] ${short(rows)} rows, ` +
      `${short(rate)} rows/s, ${short(bytes)}B of ${short(this.#totalBytes)}B` +
      (Number.isFinite(eta) ? `, ETA ${duration(eta)}` : "");
    if (this.#terminal) Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
    else console.error(line);
  }

  #clear(): void {
    if (this.#terminal) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  }
}
