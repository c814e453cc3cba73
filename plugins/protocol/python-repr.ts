/**
 * Python's `repr()` of a str. ROCK's error messages embed commands and outputs with `!r`; clients and tests match
 * those messages, so they are reproduced here.
 */
export function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === "\\") out += "\\\\";
    else if (char === quote) out += `\\${quote}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${hex(code, 2)}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += `\\u${hex(code, 4)}`;
    else out += char;
  }
  return out + quote;
}

/** Python's `str(float)` for whole numbers keeps a `.0`; messages such as "timeout after 2.0 seconds" rely on it. */
export function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
