/**
 * Relays a worker's text stream to the client chunk by chunk. Whatever way the stream ends (done, error,
 * client gone), `done` runs once so that the worker's slot is released.
 *
 * A Bun "direct" stream: chunks are written straight to the response without a JS-side queue, which keeps the
 * Agent's added latency low under concurrency.
 */
export function relayStream(upstream: ReadableStream<Uint8Array>, abort: AbortController, done: () => void): ReadableStream<Uint8Array> {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  const reader = upstream.getReader();
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller) {
      let complete = false;
      try {
        for (;;) {
          const { done: ended, value } = await reader.read();
          if (ended) break;
          controller.write(value);
          await controller.flush();
        }
        complete = true;
      } catch {
        // The worker went away mid-stream, the stream was aborted, or the client left: end what was sent so far.
      } finally {
        if (!complete) {
          abort.abort(new Error("relay ended early"));
          void reader.cancel().catch(() => {});
        }
        finish();
        controller.close();
      }
    },
    cancel() {
      abort.abort(new Error("client went away"));
      finish();
      void reader.cancel().catch(() => {});
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>);
}
