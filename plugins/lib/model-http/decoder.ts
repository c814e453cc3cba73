/**
 * A response body read as text, piece by piece, through a synchronous decoder. The read loop is the only async
 * step: everything one network read carries is decoded at once and handed on as one batch, so a reply that arrives
 * in one piece costs one await, however many events it holds.
 */

export interface Decoder<T> {
  /** The items completed by this piece of text (text held back from earlier pieces comes first). */
  push(text: string): T[];
  /** At the end of the body: the last items; throws when the body stopped short of its own end. */
  end(): T[];
  /** True once the body's own terminator was seen (e.g. `[DONE]`): nothing after it is read. */
  readonly finished?: boolean;
}

/** One non-empty batch per read. Stopping early (the consumer broke out, or a decoder threw) cancels the body. */
export async function* decodeBatches<T>(body: ReadableStream<Uint8Array>, decoder: Decoder<T>): AsyncGenerator<T[]> {
  const reader = body.getReader();
  const text = new TextDecoder();
  let drained = false;
  try {
    while (!decoder.finished) {
      const { done, value } = await reader.read();
      if (done) {
        drained = true;
        const tail = text.decode();
        const last = tail ? decoder.push(tail) : [];
        const rest = decoder.finished ? [] : decoder.end();
        if (last.length || rest.length) yield last.concat(rest);
        return;
      }
      const items = decoder.push(text.decode(value, { stream: true }));
      if (items.length) yield items;
    }
  } finally {
    // The body is ours alone, so its lock is never released: that costs time and nobody reads it after us.
    if (!drained) await reader.cancel().catch(() => {});
  }
}

/** The items of batches one at a time, for consumers that do not care about batches. */
export async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch;
}

export function decodeItems<T>(body: ReadableStream<Uint8Array>, decoder: Decoder<T>): AsyncGenerator<T> {
  return flatten(decodeBatches(body, decoder));
}
