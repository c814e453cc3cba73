/**
 * OpenAI's chat-completion chunk stream over SSE, built pull-based (the consumer's pace drives the model),
 * with a keep-alive comment while the first token is awaited and a `data: [DONE]` at the end.
 */
import type { CompletionEvent, Finish } from "./completion.ts";

export interface ChunkHeader {
  id: string;
  created: number;
  model: string;
}

const encoder = new TextEncoder();
const frame = (data: unknown) => encoder.encode(`data: ${JSON.stringify(data)}\n\n`);
const KEEPALIVE = encoder.encode(": keep-alive\n\n");

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
  let pending: Promise<IteratorResult<CompletionEvent, Finish>> | undefined = options.first;
  let started = false;
  let done = false;

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      pending ??= events.next();
      let timer: Timer | undefined;
      try {
        const step = started
          ? await pending
          : await Promise.race([pending, new Promise<"keepalive">((r) => (timer = setTimeout(() => r("keepalive"), options.keepaliveMs)))]);
        if (step === "keepalive") {
          controller.enqueue(KEEPALIVE);
          return;
        }
        pending = undefined;
        started = true;
        if (!step.done) {
          controller.enqueue(frame(chunk(header, deltaOf(step.value))));
          return;
        }
        const { reason, usage } = step.value;
        if (options.includeUsage) {
          controller.enqueue(frame(chunk(header, {}, reason)));
          controller.enqueue(frame({ ...chunk(header, {}), choices: [], usage: usage ?? null }));
        } else {
          controller.enqueue(frame(chunk(header, {}, reason, usage ? { usage } : {})));
        }
      } catch (error) {
        const { message, type } = options.onError(error);
        controller.enqueue(frame({ error: { message, type, param: null, code: null }, request_id: options.requestId }));
      } finally {
        clearTimeout(timer);
      }
      done = true;
      controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      controller.close();
    },
    cancel() {
      done = true;
      options.onCancel();
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-request-id": options.requestId },
  });
}
