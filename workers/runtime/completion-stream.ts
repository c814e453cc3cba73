/**
 * One completion as an HTTP body: pulls text from the layout process, counts what it sends, and ends the stream
 * with the original's error text if the process throws. Abort (route or client gone) ends it quietly.
 */
import type { ChatRecord } from "../../core/kinds/filter.ts";
import type { Logger } from "../../core/log.ts";
import type { LayoutProcess } from "./contract.ts";
import type { WorkerMetrics } from "./metrics.ts";

export const generationErrorText = "Error occurred. Please consult support.";

const encoder = new TextEncoder();

export function completionStream(options: {
  process: LayoutProcess;
  history: ChatRecord[];
  abort: AbortController;
  metrics: WorkerMetrics;
  log: Logger;
  /** Called once, however the stream ends. */
  done(): void;
}): ReadableStream<Uint8Array> {
  const { abort, metrics, log } = options;
  const started = performance.now();
  let characters = 0;
  let finished = false;
  const iterator = options.process.process(options.history, abort.signal)[Symbol.asyncIterator]();
  const finish = (succeeded: boolean) => {
    if (finished) return;
    finished = true;
    if (succeeded) metrics.observeSuccess((performance.now() - started) / 1000, characters);
    options.done();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done || abort.signal.aborted) {
            finish(!abort.signal.aborted);
            controller.close();
            return;
          }
          for (const _ of next.value) characters++; // code points, as the original's len()
          controller.enqueue(encoder.encode(next.value));
        } catch (error) {
          if (!abort.signal.aborted) {
            metrics.layoutFailed.inc();
            log.error("layout failed", { error: (error as Error).message ?? String(error) });
            controller.enqueue(encoder.encode(generationErrorText));
          }
          finish(false);
          controller.close();
        }
      },
      async cancel() {
        abort.abort(new Error("client went away"));
        finish(false);
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
