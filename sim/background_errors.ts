/**
 * Errors no operation of a run awaits: an engine error thrown in a
 * background task (a budget round queued in a microtask, a timer), or a
 * promise such a task let reject unawaited. Uncaught, either ended the
 * simulator's process, and `deno task mutants` saw a crash, not a caught bug
 * (evict-stub-not-shared: a relocation's assertion in a queued round). Both
 * runners (`runner.ts`, `ngram.ts`) report them as violations of the run.
 *
 * @module
 */

/**
 * Reports each error a background task throws, and each promise rejected
 * with no one awaiting it, to `report` (with a description) instead of
 * letting it end the process, until the returned function is called.
 */
export function watchBackgroundErrors(report: (message: string) => void): () => void {
  const uncaught = (event: ErrorEvent) => {
    event.preventDefault();
    report(`an error in a background task: ${describe(event.error)}`);
  };
  const unhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    report(`a promise no one awaited rejected: ${describe(event.reason)}`);
  };
  globalThis.addEventListener("error", uncaught);
  globalThis.addEventListener("unhandledrejection", unhandled);
  return () => {
    globalThis.removeEventListener("error", uncaught);
    globalThis.removeEventListener("unhandledrejection", unhandled);
  };
}

/** An error's name and message (or the value, if it is none). */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
