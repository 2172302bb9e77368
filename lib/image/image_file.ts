/**
 * The image file: node records written by checkpoints behind the two header
 * slots. This layer appends records, commits a header and reads records back
 * by address; deciding what to write (the changed nodes of a captured trie)
 * and when space can be reused belongs to the checkpoint above it.
 *
 * Commit protocol (what each crash point leaves):
 * 1. records are written past everything the committed header uses — a crash
 *    leaves them as garbage no header points to;
 * 2. the file is fsynced — same;
 * 3. the other header slot is written with the next generation — a crash
 *    may tear it; open then takes the intact older slot;
 * 4. the file is fsynced — the commit point: the new header is current.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import { CorruptionError } from "../errors.ts";
import type { BlockFile, BlockStorage } from "../storage/block_storage.ts";
import {
  type CurrentHeader,
  currentHeader,
  encodeHeaderSlot,
  headerRegionBytes,
  headerSlotBytes,
  headerSlotOffsets,
  type ImageHeader,
  nextSlot,
} from "./header.ts";
import {
  decodeNodeRecord,
  encodeNodeRecord,
  type NodeImage,
  nodeRecordBytesMax,
} from "./node_record.ts";

/** The image file's name in the store's directory. */
export const imageFileName = "image.tt";
/** Reads of one record before a failed check counts (transient read faults). */
const recordReadsMax = 3;
/** The first read of a record; longer records take a second read. */
const recordReadGuessBytes = 512;

/** An open image file. */
export class ImageFile {
  readonly #file: BlockFile;
  #current: CurrentHeader;
  /** Where the next record goes: past every byte the committed image or this checkpoint uses. */
  #end: number;
  #chunk: Uint8Array[] = [];
  #chunkBytes = 0;
  #chunkStart: number;

  private constructor(file: BlockFile, current: CurrentHeader, end: number) {
    assert(end >= headerRegionBytes, "records start after the header region");
    this.#file = file;
    this.#current = current;
    this.#end = end;
    this.#chunkStart = end;
  }

  /**
   * Opens (creating if absent) the image file and reads its current header.
   * A new file is durable with its directory entry before this returns.
   *
   * @throws {CorruptionError} if both header slots are damaged.
   */
  static async open(storage: BlockStorage): Promise<ImageFile> {
    const existed = (await storage.list()).includes(imageFileName);
    const file = await storage.open(imageFileName, { create: true });
    try {
      if (!existed) {
        await file.sync();
        await storage.syncDir();
      }
      const slots = await Promise.all(
        headerSlotOffsets.map((offset) => file.read(offset, headerSlotBytes)),
      );
      const current = currentHeader(imageFileName, slots[0], slots[1]);
      const size = await file.size();
      return new ImageFile(file, current, Math.max(headerRegionBytes, size));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** The committed header, or undefined for an image never committed. */
  get header(): ImageHeader | undefined {
    return this.#current.header;
  }

  /**
   * Buffers a node record and returns its address at once, so a synchronous
   * walk can give parents their children's addresses. Call
   * {@link ImageFile.flush} whenever {@link ImageFile.buffered} grows large;
   * durable only after {@link ImageFile.commit}.
   */
  append(node: NodeImage): number {
    const record = encodeNodeRecord(node);
    const address = this.#end;
    this.#chunk.push(record);
    this.#chunkBytes += record.length;
    this.#end += record.length;
    assert(address >= headerRegionBytes, "records never overlap the header");
    return address;
  }

  /** Bytes appended but not yet written. */
  get buffered(): number {
    return this.#chunkBytes;
  }

  /** Writes the buffered records (not durable until the commit). */
  async flush(): Promise<void> {
    await this.#flushChunk();
  }

  async #flushChunk(): Promise<void> {
    if (this.#chunkBytes === 0) return;
    const bytes = new Uint8Array(this.#chunkBytes);
    let offset = 0;
    for (const record of this.#chunk) {
      bytes.set(record, offset);
      offset += record.length;
    }
    assert(this.#chunkStart + bytes.length === this.#end, "chunks are contiguous");
    await this.#file.write(this.#chunkStart, bytes);
    this.#chunk = [];
    this.#chunkBytes = 0;
    this.#chunkStart = this.#end;
  }

  /**
   * Makes everything appended durable, then commits `header` (with the next
   * generation) into the other slot and fsyncs it: the commit point.
   * Returns the committed header.
   */
  async commit(header: Omit<ImageHeader, "generation">): Promise<ImageHeader> {
    await this.#flushChunk();
    await this.#file.sync();
    const committed: ImageHeader = {
      ...header,
      generation: (this.#current.header?.generation ?? 0) + 1,
    };
    const slot = nextSlot(this.#current);
    await this.#file.write(headerSlotOffsets[slot], encodeHeaderSlot(committed));
    await this.#file.sync();
    this.#current = { header: committed, slot };
    assert(this.#current.header!.generation === committed.generation, "the commit is current");
    return committed;
  }

  /**
   * Reads the node record at `address`. A failed check is confirmed by
   * reading again (a transient read fault is not damage).
   *
   * @throws {CorruptionError} naming the file and address if the record is damaged.
   */
  async read(address: number): Promise<NodeImage> {
    assert(
      Number.isSafeInteger(address) && address >= headerRegionBytes,
      "an address points past the header",
    );
    let problem = "record was not read";
    for (let reads = 0; reads < recordReadsMax; reads++) {
      let bytes = await this.#file.read(address, recordReadGuessBytes);
      const length = bytes.length >= 4
        ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)
        : 0;
      if (length > bytes.length && length <= nodeRecordBytesMax) {
        bytes = await this.#file.read(address, length);
      }
      const decoded = decodeNodeRecord(bytes);
      if (typeof decoded === "object") return decoded;
      problem = decoded;
    }
    throw new CorruptionError(imageFileName, address, `node record: ${problem}`);
  }

  /** Releases the file handle. Appended records not committed are abandoned. */
  async close(): Promise<void> {
    this.#chunk = [];
    this.#chunkBytes = 0;
    await this.#file.close();
  }
}
