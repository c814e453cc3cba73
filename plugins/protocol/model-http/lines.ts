/**
 * Splits text into lines ending at LF, CR or CRLF, even when a line (or a CRLF pair) is split across pieces.
 * A final line without a terminator counts too.
 */
import type { Decoder } from "./decoder.ts";

export class LineSplitter implements Decoder<string> {
  private rest = "";

  push(text: string): string[] {
    const buffer = this.rest + text;
    // Most streams end lines with LF alone: the native split does those in one call.
    if (buffer.indexOf("\r") === -1) {
      const lines = buffer.split("\n");
      this.rest = lines.pop()!;
      return lines;
    }
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR as the last character may be the first half of a CRLF that the next piece completes.
      if (c === 13 && i === buffer.length - 1) break;
      lines.push(buffer.slice(start, i));
      if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.rest = buffer.slice(start);
    return lines;
  }

  end(): string[] {
    const rest = this.rest;
    this.rest = "";
    // Only a lone CR can be left over with a terminator: the line it ends is complete.
    const line = rest.endsWith("\r") ? rest.slice(0, -1) : rest;
    return rest === "" ? [] : [line];
  }
}
