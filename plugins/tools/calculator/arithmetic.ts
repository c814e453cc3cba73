/**
 * Evaluates an arithmetic expression without `eval`: numbers, + - * / % ** (or ^), parentheses, unary signs,
 * the constants pi and e, and a few Math functions. Anything else is an error naming the position.
 */
const functions: Record<string, (...args: number[]) => number> = {
  abs: Math.abs, sqrt: Math.sqrt, cbrt: Math.cbrt, exp: Math.exp, ln: Math.log, log10: Math.log10, log2: Math.log2,
  sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  floor: Math.floor, ceil: Math.ceil, round: Math.round, min: Math.min, max: Math.max, pow: Math.pow,
};
const constants: Record<string, number> = { pi: Math.PI, e: Math.E };
const TOKEN = /\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(\*\*|[-+*/%^(),])|([A-Za-z_]\w*))/y;

type Token = { kind: "number"; value: number; at: number } | { kind: "op" | "name"; text: string; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    if (/^\s*$/.test(text.slice(at))) break;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected character ${JSON.stringify(text.slice(at).trim()[0])} at ${at}`);
    if (m[1] !== undefined) tokens.push({ kind: "number", value: Number(m[1]), at });
    else if (m[2] !== undefined) tokens.push({ kind: "op", text: m[2] === "^" ? "**" : m[2], at });
    else tokens.push({ kind: "name", text: m[3], at });
  }
  return tokens;
}

export function evaluate(expression: string): number {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = () => tokens[i];
  const isOp = (text: string) => peek()?.kind === "op" && (peek() as { text: string }).text === text;
  const expect = (text: string) => {
    if (!isOp(text)) throw new Error(`expected '${text}' at ${peek()?.at ?? expression.length}`);
    i++;
  };

  const sum = (): number => {
    let value = product();
    while (isOp("+") || isOp("-")) value = (tokens[i++] as { text: string }).text === "+" ? value + product() : value - product();
    return value;
  };
  const product = (): number => {
    let value = unary();
    while (isOp("*") || isOp("/") || isOp("%")) {
      const op = (tokens[i++] as { text: string }).text;
      const right = unary();
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  };
  const unary = (): number => {
    if (isOp("-")) return i++, -unary();
    if (isOp("+")) return i++, unary();
    return power();
  };
  // Right-associative, binding tighter than unary minus on its left: -2**2 is -4, as in Python.
  const power = (): number => {
    const base = atom();
    if (isOp("**")) return i++, base ** unary();
    return base;
  };
  const atom = (): number => {
    const token = tokens[i++];
    if (!token) throw new Error("the expression ends too early");
    if (token.kind === "number") return token.value;
    if (token.kind === "op" && token.text === "(") {
      const value = sum();
      expect(")");
      return value;
    }
    if (token.kind === "name") {
      // Own properties only: `constructor` or `toString` must not reach Object.prototype.
      if (Object.hasOwn(constants, token.text) && !isOp("(")) return constants[token.text];
      const fn = Object.hasOwn(functions, token.text) ? functions[token.text] : undefined;
      if (!fn) throw new Error(`unknown name '${token.text}' at ${token.at}`);
      expect("(");
      const args = [sum()];
      while (isOp(",")) i++, args.push(sum());
      expect(")");
      return fn(...args);
    }
    throw new Error(`unexpected '${token.text}' at ${token.at}`);
  };

  const value = sum();
  if (i < tokens.length) throw new Error(`unexpected '${"text" in tokens[i] ? (tokens[i] as { text: string }).text : (tokens[i] as { value: number }).value}' at ${tokens[i].at}`);
  if (!Number.isFinite(value)) throw new Error(`the result is not a finite number (${value})`);
  return value;
}
