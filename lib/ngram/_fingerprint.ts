/**
 * The identity of an input file for exactly-once imports: a digest of its
 * bytes as stored, whatever its name or path, so the same file imported
 * twice (or copied and imported again) is recognised and different files
 * never share progress.
 *
 * The digest: SHA-256 of each {@link fingerprintPieceBytes} piece of the
 * file (the last one shorter), then SHA-256 of those digests one after the
 * other followed by the file's size as 8 bytes little-endian; in lowercase
 * hex. The pieces keep memory bounded (one piece, plus 32 bytes per piece
 * for the list of digests: 400 KB for a 100 GB file) while using the
 * runtime's one-shot `crypto.subtle.digest`, which has no streaming form.
 * Changing the piece size or the layout changes every fingerprint: it is
 * part of the store's format (docs/NGRAM.md).
 *
 * @module
 */

import { fileError } from "./_input_errors.ts";

/** Bytes of the file hashed per piece. */
export const fingerprintPieceBytes = 8 * 1024 * 1024;

/** The fingerprint of the file at `path` (64 hex digits). */
export async function fileFingerprint(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const piece = new Uint8Array(fingerprintPieceBytes);
    const digests: Uint8Array[] = [];
    let size = 0;
    while (true) {
      let filled = 0;
      while (filled < piece.length) {
        const read = await file.read(piece.subarray(filled));
        if (read === null) break;
        filled += read;
      }
      if (filled === 0) break;
      size += filled;
      digests.push(
        new Uint8Array(await crypto.subtle.digest("SHA-256", piece.subarray(0, filled))),
      );
      if (filled < piece.length) break;
    }
    const summary = new Uint8Array(digests.length * 32 + 8);
    digests.forEach((digest, index) => summary.set(digest, index * 32));
    new DataView(summary.buffer).setBigUint64(digests.length * 32, BigInt(size), true);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", summary));
    return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  } catch (error) {
    throw fileError(path, error);
  } finally {
    file.close();
  }
}
