/**
 * JSON text as Python's `json.dumps(value, ensure_ascii=False)` writes it (separators ", " and ": "),
 * which is how the original put tool parameters into the prompt. Known gaps, all unrecoverable once the
 * request body went through JSON.parse: floats written like `1.0` print as `1`, and integer-like object
 * keys come first (JavaScript property order).
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  if (typeof value === "object") {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => `${JSON.stringify(key)}: ${pythonJsonDumps(member)}`);
    return `{${members.join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
