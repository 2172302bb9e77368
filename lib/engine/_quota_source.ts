/**
 * Records for a bulk build of a subtree (`Art.loadSubtreeAtOnce`) from the
 * image's cached slabs, at most a quota of them: the warm-up's steps and a
 * list's loads build this way, one pass with no promise, path descent or
 * allocation per record, where a load record by record cost two to three
 * times as much.
 *
 * @module
 */

import type { RecordFieldsView, RecordSource } from "../art/art.ts";
import { isFreshAddress } from "../art/art.ts";
import type { ImageFile } from "../image/image_file.ts";
import { newRecordFields } from "../image/node_record.ts";

/** Records from cached slabs, at most `left` of them (a step's quota). */
export class QuotaSource implements RecordSource {
  readonly fields: RecordFieldsView = newRecordFields();
  /** Records it may still give. */
  left = 0;
  /** Records it gave since set up. */
  given = 0;
  /** The image whose cached slabs it reads; unset between builds (a compaction replaces it). */
  image: ImageFile | undefined;

  readonly fetch = (address: number): Uint8Array | undefined => {
    if (this.left <= 0 || this.image === undefined) return undefined;
    // A fresh address names a record of a compaction's new file, not of the image.
    if (isFreshAddress(address)) return undefined;
    const bytes = this.image.cachedFields(address, this.fields);
    if (bytes === undefined) return undefined;
    this.left--;
    this.given++;
    return bytes;
  };
}
