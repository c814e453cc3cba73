/**
 * Rewrites JSON text as Python's `json.dumps(json.loads(text), ensure_ascii=False)` would, so the lines we write are
 * byte-identical to ROCK's for the same request. It works on the text, not on a parsed value, because a parsed value
 * has already lost what Python keeps: `1.0` stays a float ("1.0", not "1") and keys such as "2" keep their place.
 *
 * One addition: inside strings the protocol's marker words get their first "_" written as `\u005f`. The decoded
 * value is the same, but ROCK's tools, which find records by substring (`"SESSION_END" in line`,
 * `line.split("LLM_REQUEST_END")`), can no longer be fooled by a prompt that merely mentions a marker.
 */
import { ALL_MARKERS } from "./markers.ts";

const markerPattern = new RegExp(ALL_MARKERS.join("|"), "g");
const token = /\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)|([{}[\],:]))/y;

/**
 * Throws a SyntaxError when `text` is not JSON. `escapeMarkers: false` gives exactly Python's bytes, for files that
 * ROCK's tools do not search by substring (the trajectory).
 */
export function toPythonJson(text: string, { escapeMarkers = true } = {}): string {
  JSON.parse(text);
  let out = "";
  token.lastIndex = 0;
  for (let match = token.exec(text); match; match = token.exec(text)) {
    const [, string, number, literal, punctuation] = match;
    if (string !== undefined) out += pythonString(JSON.parse(string) as string, escapeMarkers);
    else if (number !== undefined) out += pythonNumber(number);
    else if (literal !== undefined) out += literal;
    else out += punctuation === "," ? ", " : punctuation === ":" ? ": " : punctuation;
  }
  return out;
}

export function pythonString(text: string, escapeMarkers = true): string {
  // JSON.stringify escapes exactly what Python escapes with ensure_ascii=False: quote, backslash, C0 controls.
  const quoted = JSON.stringify(text);
  return escapeMarkers ? quoted.replace(markerPattern, (word) => word.replace("_", "\\u005f")) : quoted;
}

/** Integers print as written; floats as Python's repr(): shortest digits, exponent form below 1e-4 and from 1e16. */
function pythonNumber(lexeme: string): string {
  if (!/[.eE]/.test(lexeme)) return lexeme === "-0" ? "0" : lexeme;
  const value = Number(lexeme);
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  const magnitude = Math.abs(value);
  if (value === 0 || (magnitude >= 1e-4 && magnitude < 1e16)) {
    const fixed = Object.is(value, -0) ? "-0" : String(value);
    return fixed.includes(".") ? fixed : `${fixed}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split("e");
  const sign = exponent.startsWith("-") ? "-" : "+";
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, "").padStart(2, "0")}`;
}
