/**
 * The contract between the readers of input files (Google Books Ngram v2 and
 * v3, TSV counts, plain text) and the import that commits what they read.
 *
 * A reader turns one file into n-grams with counts and hands them to a
 * {@link NgramSink}, each with the byte offset in the file's decompressed
 * content where its first row (or line) starts. The import commits them in
 * chunks and records, in each shard, the offset its counts reach; after a
 * crash it reads the file again and passes over every n-gram below that
 * offset. This is exactly once only if the reader keeps the promise of
 * {@link NgramSink.boundary}: when it is called with `end`, every n-gram whose
 * offset is below `end` has been handed over, and none handed over later is.
 *
 * @module
 */

/** The formats a reader knows; `auto` detects one from the content. */
export type InputFormat = "v2" | "v3" | "tsv" | "text";

/** What `--tags` does with part-of-speech tags. */
export type TagPolicy = "drop" | "keep";

/** The filters an import applies while reading. */
export interface InputFilters {
  /** Only rows of these years are summed (v2 and v3; inclusive). Absent: every year. */
  years?: { from: number; to: number };
  /** N-grams whose (year-filtered) sum within the file is below this are skipped. */
  minCount: number;
  /** `drop`: skip every n-gram with a part-of-speech token; `keep`: store them as given. */
  tags: TagPolicy;
  /** Text only: count word n-grams of orders 1 to this. */
  order: number;
}

/** Where the n-grams of a file go. */
export interface NgramSink {
  /**
   * One n-gram with its count (a positive safe integer). `bytes[start, end)`
   * is its UTF-8 text, tokens separated by single spaces; the bytes are
   * valid only during the call. `offset` is where its first row or line
   * starts in the decompressed content.
   */
  ngram(bytes: Uint8Array, start: number, end: number, count: number, offset: number): void;
  /**
   * Every n-gram whose offset is below `end` has been handed over, and none
   * handed over after this call will be. The reader waits for a returned
   * promise before it reads on.
   */
  boundary(end: number): void | Promise<void>;
}

/** What reading one file found. */
export interface InputSummary {
  /** The format read (detected or given). */
  format: InputFormat;
  /** Bytes of the file as stored (compressed, if it is). */
  fileBytes: number;
  /** Bytes of its decompressed content. */
  contentBytes: number;
  /** Lines read, those passed over for a resume (`resumeFrom`) included. */
  lines: number;
  /**
   * Rows read (v2: one per n-gram and year; v3, tsv: one per line; text:
   * n-grams counted), those passed over for a resume not included.
   */
  rows: number;
  /** N-grams handed to the sink. */
  ngrams: number;
  /** N-grams skipped by the filters (tags, years, min-count). */
  filtered: number;
}
