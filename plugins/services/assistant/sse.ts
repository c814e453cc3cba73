/**
 * OpenAI's chat-completion chunk stream over SSE, with a keep-alive comment while the first token is awaited and a
 * `data: [DONE]` at the end. A Bun "direct" stream: each frame is written and flushed straight to the response
 * (the flush is the back-pressure: the consumer's pace drives the model), without a JS-side queue per chunk.
 */
import type { CompletionEvent, Finish } from "./completion.ts";

export interface ChunkHeader {
  id: string;
  created: number;
  model: string;
}

const frame = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const KEEPALIVE = ": keep-alive\n\n";

function chunk(header: ChunkHeader, delta: Record<string, unknown>, finish_reason: string | null = null, extra: Record<string, unknown> = {}) {
  return {
    id: header.id,
    object: "chat.completion.chunk",
    created: header.created,
    model: header.model,
    system_fingerprint: header.id,
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    ...extra,
  };
}

function deltaOf(event: CompletionEvent): Record<string, unknown> {
  if (event.type === "text") return { role: "assistant", content: event.text };
  const fn: Record<string, string> = {};
  if (event.name !== undefined) fn.name = event.name;
  if (event.arguments !== undefined) fn.arguments = event.arguments;
  const call: Record<string, unknown> = { index: event.index, function: fn };
  if (event.id !== undefined) Object.assign(call, { id: event.id, type: "function" });
  return { role: "assistant", content: null, tool_calls: [call] };
}

export function sseResponse(options: {
  header: ChunkHeader;
  events: AsyncGenerator<CompletionEvent, Finish>;
  /** The first step, already started (so that an early upstream failure could still become an HTTP error). */
  first: Promise<IteratorResult<CompletionEvent, Finish>>;
  keepaliveMs: number;
  includeUsage: boolean;
  onCancel: () => void;
  onError: (error: unknown) => { message: string; type: string };
  requestId: string;
}): Response {
  const { header, events } = options;
  let cancelled = false;

  /** The first step, with a keep-alive comment every `keepaliveMs` until it comes. */
  async function firstStep(controller: ReadableStreamDirectController) {
    let timer: Timer | undefined;
    try {
      for (;;) {
        const step = await Promise.race([options.first, new Promise<"keepalive">((r) => (timer = setTimeout(() => r("keepalive"), options.keepaliveMs)))]);
        if (step !== "keepalive") return step;
        controller.write(KEEPALIVE);
        await controller.flush();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  const stream = new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller) {
      try {
        for (let step = await firstStep(controller); !cancelled; step = await events.next()) {
          if (!step.done) {
            controller.write(frame(chunk(header, deltaOf(step.value))));
            await controller.flush();
            continue;
          }
          const { reason, usage } = step.value;
          if (options.includeUsage) {
            controller.write(frame(chunk(header, {}, reason)));
            controller.write(frame({ ...chunk(header, {}), choices: [], usage: usage ?? null }));
          } else {
            controller.write(frame(chunk(header, {}, reason, usage ? { usage } : {})));
          }
          break;
        }
      } catch (error) {
        if (cancelled) return; // the client left: nobody to tell
        const { message, type } = options.onError(error);
        controller.write(frame({ error: { message, type, param: null, code: null }, request_id: options.requestId }));
      }
      if (cancelled) return;
      controller.write("data: [DONE]\n\n");
      controller.close();
    },
    cancel() {
      cancelled = true;
      options.onCancel();
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>);
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-request-id": options.requestId },
  });
}
