/**
 * What counts as a tool call in a model's text. The original took every `Action: (.+)\nAction Input: (.+)`
 * regex match; this grammar keeps its shape and fixes its holes:
 *
 * - A call starts at `Action:` (anywhere, as in the original) and its name is the rest of that line, trimmed
 *   (so `Action:a` works). The name must be one of the offered tools, otherwise the text is not a call.
 * - The next non-blank line must start (after spaces or tabs) with `Action Input:`; blank lines in between
 *   are allowed.
 * - The arguments start after `Action Input:`. If their first non-blank character is `{` or `[` they are
 *   read as (possibly multi-line, possibly sloppy) JSON until the value closes, a line starts with
 *   `Action:`, or the text ends; see `lenient-json.ts`. Otherwise they are the rest of the `Action Input:`
 *   line, see `rawArguments`.
 *
 * Both `parse.ts` (whole text) and `stream-parse.ts` (deltas) use these primitives, so they agree.
 */

export const ACTION_MARKER = "Action:";
export const ACTION_INPUT_MARKER = "Action Input:";

export type CallMatch =
  | { kind: "call"; name: string; argsStart: number }
  | { kind: "not-call" }
  /** The text ends before it can tell; only when `complete` is false. */
  | { kind: "undecided" };

const NOT_CALL: CallMatch = { kind: "not-call" };
const UNDECIDED: CallMatch = { kind: "undecided" };

/**
 * Whether the `Action:` at `start` opens a call. A "call" or "not-call" answer on partial text stays true
 * however the text continues, which is what lets the stream parser decide early.
 */
export function matchCall(text: string, start: number, toolNames: ReadonlySet<string>, complete: boolean): CallMatch {
  const nameStart = start + ACTION_MARKER.length;
  const nameEnd = text.indexOf("\n", nameStart);
  if (nameEnd < 0) {
    if (complete || !couldBecomeToolName(text.slice(nameStart), toolNames)) return NOT_CALL;
    return UNDECIDED;
  }
  const name = text.slice(nameStart, nameEnd).trim();
  if (!toolNames.has(name)) return NOT_CALL;

  let lineStart = nameEnd + 1;
  for (;;) {
    const lineEnd = text.indexOf("\n", lineStart);
    const line = lineEnd < 0 ? text.slice(lineStart) : text.slice(lineStart, lineEnd);
    const indent = leadingSpacesOrTabs(line);
    if (line.startsWith(ACTION_INPUT_MARKER, indent)) {
      return { kind: "call", name, argsStart: lineStart + indent + ACTION_INPUT_MARKER.length };
    }
    const blank = isBlank(line);
    if (lineEnd < 0) {
      const mayStillMatch = blank || ACTION_INPUT_MARKER.startsWith(line.slice(indent));
      return !complete && mayStillMatch ? UNDECIDED : NOT_CALL;
    }
    if (!blank) return NOT_CALL;
    lineStart = lineEnd + 1;
  }
}

/** Could an unfinished name line (text after `Action:`) still end up, trimmed, as one of the names? */
function couldBecomeToolName(partialLine: string, toolNames: ReadonlySet<string>): boolean {
  const typed = partialLine.trimStart();
  for (const name of toolNames) {
    if (name.startsWith(typed)) return true;
    if (typed.startsWith(name) && isBlank(typed.slice(name.length))) return true;
  }
  return false;
}

/**
 * Arguments that are not JSON-shaped: the rest of the `Action Input:` line, trimmed. Callers expect
 * `arguments` to be a JSON string, so: empty becomes `{}`, valid JSON (a number, a quoted string) is
 * re-serialised compactly, and anything else becomes a JSON string holding the raw text.
 */
export function rawArguments(line: string): string {
  const raw = line.trim();
  if (raw === "") return "{}";
  try {
    return JSON.stringify(JSON.parse(raw));
  } catch {
    return JSON.stringify(raw);
  }
}

export function isJsonStart(ch: string): boolean {
  return ch === "{" || ch === "[";
}

/** Same set as String.prototype.trim, so that streamed content equals `text.trimEnd()`. */
export function isWhitespace(ch: string): boolean {
  return /\s/.test(ch);
}

function isBlank(text: string): boolean {
  return !/\S/.test(text);
}

export function leadingSpacesOrTabs(text: string, from = 0): number {
  let end = from;
  while (end < text.length && (text[end] === " " || text[end] === "\t")) end++;
  return end - from;
}

/** Index where the run of whitespace ending at `end` starts (`end` itself when there is none). */
export function whitespaceRunStart(text: string, end: number): number {
  let start = end;
  while (start > 0 && isWhitespace(text[start - 1])) start--;
  return start;
}

/** Length of the longest tail of `text` that is a proper prefix of `marker` (0 when none). */
export function partialMarkerLength(text: string, marker: string): number {
  for (let length = Math.min(marker.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(marker.slice(0, length))) return length;
  }
  return 0;
}

/** A line starting with `Action:` ends unterminated JSON arguments: the model has moved on to the next call. */
export type LineStartCheck = "next-call" | "not-next-call" | "undecided";

export function checkLineStart(text: string, lineStart: number, complete: boolean): LineStartCheck {
  const at = lineStart + leadingSpacesOrTabs(text, lineStart);
  if (text.startsWith(ACTION_MARKER, at)) return "next-call";
  if (!complete && ACTION_MARKER.startsWith(text.slice(at, at + ACTION_MARKER.length))) return "undecided";
  return "not-next-call";
}
