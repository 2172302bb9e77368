/**
 * Options checking for code outside `lib/`: the simulator's options objects
 * (`runSimulation`, `SimBlockStorage`, `Scheduler`) refuse an unknown key, naming
 * the nearest valid one, with the same messages as the store's. The checks
 * live in `_options.ts`, private to `lib/`; this module exports the part
 * other folders may rely on. `mod.ts` does not export it: it is not part of
 * tallytrie's API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions, type OptionTypes } from "./options.ts";
 * const types: OptionTypes = { seed: "number" };
 * const place = { operation: "run a simulation", object: "options", key: "option", keyPrefix: "" };
 * assert.throws(() => checkOptions({ sed: 1 }, types, place), {
 *   message: 'Cannot run a simulation: unknown option "sed", did you mean "seed"?',
 * });
 * ```
 *
 * @module
 */

export {
  checkOptions,
  type OptionsPlace,
  type OptionTest,
  type OptionType,
  type OptionTypes,
} from "./_options.ts";
