/**
 * A `deno lint` plugin: no function under `lib/` longer than
 * {@link functionLinesMax} lines, so each reads at once (the house rule; see
 * docs/ARCHITECTURE.md). `deno task check` runs it through `deno lint`.
 *
 * @module
 */

/** The most lines a function under `lib/` may span, its signature and closing brace included. */
export const functionLinesMax = 70;

function check(context: Deno.lint.RuleContext, node: Deno.lint.Node): void {
  if (!context.filename.includes("/lib/")) return;
  const [start, end] = node.range;
  const text = context.sourceCode.text;
  const first = text.slice(0, start).split("\n").length;
  const last = text.slice(0, end).split("\n").length;
  const lines = last - first + 1;
  if (lines > functionLinesMax) {
    context.report({
      node,
      message: `A function of ${lines} lines (at most ${functionLinesMax} under lib/): split it`,
    });
  }
}

/** The plugin: rule `tallytrie/function-length`. */
const plugin: Deno.lint.Plugin = {
  name: "tallytrie",
  rules: {
    "function-length": {
      create(context) {
        return {
          FunctionDeclaration(node) {
            check(context, node);
          },
          FunctionExpression(node) {
            check(context, node);
          },
          ArrowFunctionExpression(node) {
            check(context, node);
          },
        };
      },
    },
  },
};
export default plugin;
