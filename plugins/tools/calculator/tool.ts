/** `calculator`: exact-enough arithmetic for agents that should not do it in their heads. */
import { defineTool } from "../../../core/kinds/tool.ts";
import { evaluate } from "./arithmetic.ts";

export default defineTool<{ expression: string }>({
  name: "calculator",
  description: "Evaluates an arithmetic expression: + - * / % ** (or ^), parentheses, pi, e, sqrt, abs, ln, log10, sin, cos, tan, floor, ceil, round, min, max, pow",
  parameters: [{ name: "expression", type: "string", description: "The expression, e.g. (2 + 3) * sqrt(16)", required: true }],
  call: ({ expression }) => ({ expression, result: evaluate(expression) }),
});
