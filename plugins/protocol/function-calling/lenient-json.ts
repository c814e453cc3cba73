/**
 * Turns the JSON a model wrote after `Action Input:` into compact, strictly valid JSON, one character at a
 * time, so that tool-call arguments can be streamed while the model is still writing them.
 *
 * Valid JSON comes out with the whitespace between tokens removed and every token unchanged (big integers
 * keep their digits, escapes stay as written). Sloppy JSON is repaired rather than rejected, because the
 * OpenAI contract is that `arguments` parses: single-quoted strings, unquoted keys and words, Python's
 * True/False/None, trailing or missing commas, missing colons, raw control characters in strings, bad
 * escapes and mismatched brackets are fixed, and `end()` closes whatever is still open when the text stops.
 * Whatever the input, the output (after `end()`) is one JSON value.
 */

type Container = "object" | "array";
/** What the current container expects next; "separator" means after a complete member. */
type Expectation = "value" | "key" | "colon" | "separator";

type Token =
  | { kind: "string"; quote: '"' | "'"; isKey: boolean; escape: string | null }
  | { kind: "bare"; isKey: boolean; text: string };

const STRICT_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const LOOSE_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BARE_LITERALS: Record<string, string> = {
  true: "true",
  false: "false",
  null: "null",
  True: "true",
  False: "false",
  None: "null",
  NaN: "null",
  Infinity: "null",
  "-Infinity": "null",
  undefined: "null",
};
const SIMPLE_ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const CONTROL_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

export class LenientJsonWriter {
  private readonly stack: Container[] = [];
  private expect: Expectation = "value";
  /** A comma that was read but is written only when another member follows (drops trailing commas). */
  private pendingComma = false;
  private token: Token | null = null;
  private complete = false;

  /** True once the top-level value has closed; further input is ignored. */
  get done(): boolean {
    return this.complete;
  }

  /** Reads one UTF-16 code unit and returns the output it makes final. */
  push(ch: string): string {
    if (this.complete) return "";
    const token = this.token;
    if (token?.kind === "string") return this.stringChar(token, ch);
    if (token?.kind === "bare") {
      if (!endsBareWord(ch)) {
        token.text += ch;
        return "";
      }
      const word = this.finishBare(token);
      return this.complete ? word : word + this.structural(ch);
    }
    return this.structural(ch);
  }

  /** Closes everything still open (the text ended); returns the closing output. */
  end(): string {
    if (this.complete) return "";
    let out = "";
    const token = this.token;
    if (token?.kind === "string") {
      if (token.escape !== null) out += `\\\\${token.escape}`;
      out += '"';
      this.token = null;
      if (token.isKey) this.expect = "colon";
      else this.valueEnded();
    } else if (token?.kind === "bare") {
      out += this.finishBare(token);
    }
    while (this.stack.length > 0) out += this.closeTop();
    this.complete = true;
    return out;
  }

  private structural(ch: string): string {
    if (/\s/.test(ch)) return "";
    switch (ch) {
      case "{":
      case "[":
        return this.openContainer(ch);
      case "}":
        return this.closeContainer("object");
      case "]":
        return this.closeContainer("array");
      case ",":
        return this.comma();
      case ":":
        return this.colon();
      case '"':
      case "'": {
        const { prefix, isKey } = this.beforeToken();
        this.token = { kind: "string", quote: ch, isKey, escape: null };
        return `${prefix}"`;
      }
      default: {
        const { prefix, isKey } = this.beforeToken();
        this.token = { kind: "bare", isKey, text: ch };
        return prefix;
      }
    }
  }

  /** Output due before a new key or value starts, and whether it is a key. */
  private beforeToken(): { prefix: string; isKey: boolean } {
    const inObject = this.top() === "object";
    switch (this.expect) {
      case "value":
        return { prefix: this.takeComma(), isKey: false };
      case "key":
        return { prefix: this.takeComma(), isKey: true };
      case "colon":
        return { prefix: ":", isKey: false };
      case "separator":
        return { prefix: ",", isKey: inObject };
    }
  }

  private openContainer(ch: "{" | "["): string {
    let { prefix, isKey } = this.beforeToken();
    // A container where a key belongs gets an empty key, so that the object stays well-formed.
    if (isKey) prefix += '"":';
    this.stack.push(ch === "{" ? "object" : "array");
    this.expect = ch === "{" ? "key" : "value";
    this.pendingComma = false;
    return prefix + ch;
  }

  /** A closer closes the innermost container of its kind (and those inside it), else the innermost one. */
  private closeContainer(kind: Container): string {
    if (this.stack.length === 0) return "";
    const target = this.stack.lastIndexOf(kind);
    const depth = target < 0 ? this.stack.length - 1 : target;
    let out = "";
    while (this.stack.length > depth && !this.complete) out += this.closeTop();
    return out;
  }

  private closeTop(): string {
    const container = this.stack.pop() as Container;
    let out = "";
    if (container === "object") {
      if (this.expect === "colon") out += ":null";
      else if (this.expect === "value") out += "null";
    }
    this.pendingComma = false;
    out += container === "object" ? "}" : "]";
    this.valueEnded();
    return out;
  }

  private comma(): string {
    const inObject = this.top() === "object";
    switch (this.expect) {
      case "separator":
        this.pendingComma = true;
        this.expect = inObject ? "key" : "value";
        return "";
      case "colon":
        this.pendingComma = true;
        this.expect = "key";
        return ":null";
      case "value":
        if (!inObject) return "";
        this.pendingComma = true;
        this.expect = "key";
        return "null";
      case "key":
        return "";
    }
  }

  private colon(): string {
    if (this.expect !== "colon") return "";
    this.expect = "value";
    return ":";
  }

  private stringChar(token: Extract<Token, { kind: "string" }>, ch: string): string {
    if (token.escape === null) {
      if (ch === "\\") {
        token.escape = "";
        return "";
      }
      if (ch === token.quote) {
        this.token = null;
        if (token.isKey) this.expect = "colon";
        else this.valueEnded();
        return '"';
      }
      return escapeStringChar(ch);
    }
    if (token.escape === "") {
      if (SIMPLE_ESCAPES.has(ch)) {
        token.escape = null;
        return `\\${ch}`;
      }
      if (ch === "'") {
        token.escape = null;
        return "'";
      }
      if (ch === "u") {
        token.escape = "u";
        return "";
      }
      // An escape JSON does not know: keep the backslash as a character.
      token.escape = null;
      return `\\\\${this.stringChar(token, ch)}`;
    }
    if (/[0-9a-fA-F]/.test(ch)) {
      token.escape += ch;
      if (token.escape.length < 5) return "";
      const escape = token.escape;
      token.escape = null;
      return `\\${escape}`;
    }
    // `\u` without four hex digits: keep what was written as plain characters.
    const written = token.escape;
    token.escape = null;
    return `\\\\${written}${this.stringChar(token, ch)}`;
  }

  private finishBare(token: Extract<Token, { kind: "bare" }>): string {
    this.token = null;
    if (token.isKey) {
      this.expect = "colon";
      return JSON.stringify(token.text);
    }
    this.valueEnded();
    return bareValue(token.text);
  }

  private valueEnded(): void {
    if (this.stack.length === 0) this.complete = true;
    else this.expect = "separator";
  }

  private takeComma(): string {
    if (!this.pendingComma) return "";
    this.pendingComma = false;
    return ",";
  }

  private top(): Container | undefined {
    return this.stack[this.stack.length - 1];
  }
}

/** A quote ends a bare word only at its start, so that `don't` stays one word. */
function endsBareWord(ch: string): boolean {
  return /\s/.test(ch) || "{}[],:\"".includes(ch);
}

function bareValue(text: string): string {
  const literal = BARE_LITERALS[text];
  if (literal !== undefined) return literal;
  if (STRICT_NUMBER.test(text)) return text;
  if (LOOSE_NUMBER.test(text)) return String(Number(text));
  return JSON.stringify(text);
}

function escapeStringChar(ch: string): string {
  if (ch === '"') return '\\"';
  if (ch >= " ") return ch;
  return CONTROL_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}
