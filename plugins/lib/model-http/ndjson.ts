/** Newline-delimited JSON over a byte stream: one value per non-blank line. */
import { parseJsonFrame } from "./json-frame.ts";
import { readLines } from "./lines.ts";

export async function* parseNDJSON(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  for await (const line of readLines(body)) {
    if (line.trim() === "") continue;
    yield parseJsonFrame(line);
  }
}
