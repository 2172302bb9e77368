import assert from "node:assert/strict";
import { defaultGeometry, slabBytes } from "./allocation.ts";
import { SlabTable } from "./_slab_table.ts";

Deno.test("SlabTable.liveSlabsMoreThan: counts the slabs with live records, as liveSlabs does", () => {
  const live = [0, 100, 0, 5, 7, 0, 1];
  const table = new SlabTable(defaultGeometry, [{
    firstSlab: 0,
    filled: live.map((bytes) => bytes === 0 ? 0 : Math.min(slabBytes, 4096 + bytes)),
    live,
    held: live.map(() => 0),
    next: 0,
  }], []);
  const count = table.liveSlabs().length;
  assert.equal(count, 4);
  for (let bound = 0; bound <= 6; bound++) {
    assert.equal(table.liveSlabsMoreThan(bound), count > bound, `more than ${bound}`);
  }
});
