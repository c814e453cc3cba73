/**
 * Splits a byte stream into text lines, ending at LF, CR or CRLF even when a line (or a CRLF pair, or a
 * multi-byte character) is split across chunks. A final line without a terminator is yielded too.
 */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  for await (const lines of readLineBatches(body)) yield* lines;
}

/**
 * The same lines, one batch per chunk read: a consumer that handles a whole batch at once pays for one
 * async step per chunk instead of one per line.
 */
export async function* readLineBatches(body: ReadableStream<Uint8Array>): AsyncGenerator<string[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        buffer += decoder.decode();
        const { lines } = takeLines(buffer, true);
        if (lines.length) yield lines;
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      const taken = takeLines(buffer, false);
      buffer = taken.rest;
      if (taken.lines.length) yield taken.lines;
    }
  } finally {
    // Stopping early (consumer broke out, or an error upstream of us) must close the connection. The body is
    // ours alone, so the lock is never released: that costs time and nobody reads the body after us.
    if (!finished) await reader.cancel().catch(() => {});
  }
}

function takeLines(buffer: string, atEnd: boolean): { lines: string[]; rest: string } {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < buffer.length; i++) {
    const c = buffer.charCodeAt(i);
    if (c !== 10 && c !== 13) continue;
    // A CR as the last character may be the first half of a CRLF that the next chunk completes.
    if (c === 13 && i === buffer.length - 1 && !atEnd) break;
    lines.push(buffer.slice(start, i));
    if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
    start = i + 1;
  }
  const rest = buffer.slice(start);
  if (atEnd && rest !== "") lines.push(rest);
  return { lines, rest: atEnd ? "" : rest };
}
