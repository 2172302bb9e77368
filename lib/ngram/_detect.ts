/**
 * Which format a file is in, from the first lines of its content. Each
 * sampled line is matched against the three formats with columns:
 *
 * - v2: `ngram TAB year TAB match_count TAB volume_count` (4 fields, digits);
 * - v3: `ngram` then one or more `TAB year,match_count,volume_count`;
 * - tsv: `ngram TAB count` (2 fields, digits).
 *
 * No line matches two of them (their field counts or commas differ). The
 * format is the one most sampled lines match, provided they are at least
 * half of the non-empty sampled lines; otherwise the file is text. So a
 * file of one format with a few bad lines among the first is still read as
 * that format, and the reader then names the bad lines, rather than
 * counting it silently as text; a text file that happens to hold tabs and
 * numbers on most of its first lines must be read with `format: "text"`.
 * Empty content (or only empty lines) is text: it has nothing to count in
 * any format.
 *
 * @module
 */

import type { InputFormat } from "./input.ts";

/** Bytes of content the sample holds at most. */
export const detectBytesMax = 64 * 1024;
/** Lines the sample holds at most. */
const detectLinesMax = 100;

const patterns: readonly [InputFormat, RegExp][] = [
  ["v2", /^[^\t]+\t[0-9]+\t[0-9]+\t[0-9]+\r?$/],
  ["v3", /^[^\t]+(?:\t[0-9]+,[0-9]+,[0-9]+)+\r?$/],
  ["tsv", /^[^\t]+\t[0-9]+\r?$/],
];

/**
 * The format of content whose first bytes are `sample` (`complete`: the
 * sample is the whole content). A last line cut by the sample's end is left
 * out unless it is the only one.
 */
export function detectSample(sample: Uint8Array, complete: boolean): InputFormat {
  const text = new TextDecoder().decode(sample);
  let lines = text.split("\n");
  if (!complete && lines.length > 1) lines = lines.slice(0, -1);
  const sampled = lines.slice(0, detectLinesMax).filter((line) => line.replace("\r", "") !== "");
  if (sampled.length === 0) return "text";
  let best: InputFormat = "text";
  let bestLines = 0;
  for (const [format, pattern] of patterns) {
    const matching = sampled.filter((line) => pattern.test(line)).length;
    if (matching > bestLines) {
      best = format;
      bestLines = matching;
    }
  }
  return 2 * bestLines >= sampled.length ? best : "text";
}

/** The first pieces of a content, up to {@link detectBytesMax} bytes or its end. */
export interface Head {
  /** The pieces read, in order (the caller feeds them on before the rest). */
  pieces: Uint8Array[];
  /** Their bytes. */
  bytes: number;
  /** Whether the content ended within them. */
  complete: boolean;
}

/** Reads the head of `content` for {@link detectSample}. */
export async function readHead(content: { next(): Promise<Uint8Array | null> }): Promise<Head> {
  const head: Head = { pieces: [], bytes: 0, complete: false };
  while (head.bytes < detectBytesMax) {
    const piece = await content.next();
    if (piece === null) {
      head.complete = true;
      break;
    }
    head.pieces.push(piece);
    head.bytes += piece.length;
  }
  return head;
}

/** The pieces of a head as one sample. */
export function headSample(head: Head): Uint8Array {
  if (head.pieces.length === 1) return head.pieces[0];
  const sample = new Uint8Array(head.bytes);
  let at = 0;
  for (const piece of head.pieces) {
    sample.set(piece, at);
    at += piece.length;
  }
  return sample;
}
