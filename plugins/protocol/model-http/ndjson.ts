/** Newline-delimited JSON over a byte stream: one value per non-blank line. */
import { decodeItems, LayeredDecoder } from "./decoder.ts";
import { parseJsonFrame } from "./json-frame.ts";
import { LineSplitter } from "./lines.ts";

export class NDJSONDecoder extends LayeredDecoder<string, unknown> {
  constructor() {
    super(new LineSplitter());
  }

  protected item(line: string, out: unknown[]): void {
    if (line.trim() !== "") out.push(parseJsonFrame(line));
  }
}

export function parseNDJSON(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  return decodeItems(body, new NDJSONDecoder());
}
