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

/**
 * A decoder over another decoder's items (lines, SSE events, JSON values): each item becomes zero or more of ours,
 * and once `finished` is set the rest are ignored.
 */
export abstract class LayeredDecoder<In, Out> implements Decoder<Out> {
  finished = false;

  constructor(private readonly inner: Decoder<In>) {}

  push(text: string): Out[] {
    return this.take(this.inner.push(text));
  }

  end(): Out[] {
    const out = this.take(this.inner.end());
    if (!this.finished) this.endedEarly(out);
    return out;
  }

  /** Turns one inner item into ours, appended to `out`; sets `finished` at the body's own terminator. */
  protected abstract item(item: In, out: Out[]): void;

  /** The body ended without its terminator: append what is left, or throw when that means it was cut. */
  protected endedEarly(_out: Out[]): void {}

  private take(items: In[]): Out[] {
    const out: Out[] = [];
    for (const item of items) {
      if (this.finished) break;
      this.item(item, out);
    }
    return out;
  }
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
