/** Newline-delimited JSON over a byte stream: one value per non-blank line. */
import { decodeItems, type Decoder } from "./decoder.ts";
import { parseJsonFrame } from "./json-frame.ts";
import { LineSplitter } from "./lines.ts";

export class NDJSONDecoder implements Decoder<unknown> {
  private readonly lines = new LineSplitter();

  push(text: string): unknown[] {
    return values(this.lines.push(text));
  }

  end(): unknown[] {
    return values(this.lines.end());
  }
}

function values(lines: string[]): unknown[] {
  const out: unknown[] = [];
  for (const line of lines) if (line.trim() !== "") out.push(parseJsonFrame(line));
  return out;
}

export function parseNDJSON(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  return decodeItems(body, new NDJSONDecoder());
}
