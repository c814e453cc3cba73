/**
 * OpenAI's chat-completion chunk stream over SSE, with a keep-alive comment while the first token is awaited and a
 * `data: [DONE]` at the end. A Bun "direct" stream: each batch's frames are written and flushed straight to the
 * response (the flush is the back-pressure: the consumer's pace drives the model), without a JS-side queue per chunk.
 */
import type { CompletionBatch, CompletionEvent, Finish } from "./completion.ts";

export interface ChunkHeader {
  id: string;
  created: number;
  model: string;
}

const frame = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const KEEPALIVE = ": keep-alive\n\n";

/**
 * Frames of OpenAI's chunk object for one completion. What every chunk repeats is serialised once; the frames are
 * byte for byte what JSON.stringify of the whole chunk gives.
 */
function chunkFrames(header: ChunkHeader) {
  const fields = { id: header.id, object: "chat.completion.chunk", created: header.created, model: header.model, system_fingerprint: header.id };
  const head = `data: ${JSON.stringify(fields).slice(0, -1)},"choices":[{"index":0,"delta":`;
  return {
    delta: (delta: Record<string, unknown>, finishReason: string | null = null, extra?: Record<string, unknown>) =>
      `${head}${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finishReason)}}]${extra ? `,${JSON.stringify(extra).slice(1, -1)}` : ""}}\n\n`,
    /** The usage-only chunk of stream_options.include_usage: no choices. */
    usage: (usage: unknown) => frame({ ...fields, choices: [], usage }),
  };
}

/** The closing chunks: the finish reason, with usage inside it or (include_usage) in a chunk of its own. */
function finishFrames(frames: ReturnType<typeof chunkFrames>, finish: Finish, includeUsage: boolean): string {
  if (includeUsage) return frames.delta({}, finish.reason) + frames.usage(finish.usage ?? null);
  return frames.delta({}, finish.reason, finish.usage ? { usage: finish.usage } : undefined);
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
  events: AsyncGenerator<CompletionBatch, void>;
  /** The first step, already started (so that an early upstream failure could still become an HTTP error). */
  first: Promise<IteratorResult<CompletionBatch, void>>;
  /** The first step when it has settled already: it is written before anything is awaited, with the response head. */
  arrived?: IteratorResult<CompletionBatch, void>;
  keepaliveMs: number;
  includeUsage: boolean;
  onError: (error: unknown) => { message: string; type: string };
  /** Headers already set for this request (see takeHeaders). */
  headers: Record<string, string>;
}): Response {
  const { events } = options;
  const frames = chunkFrames(options.header);
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
      // Frames are gathered into one string: one write per batch, and the last batch, its finish and [DONE] in one.
      let text = "";
      try {
        for (let step = options.arrived ?? (await firstStep(controller)); !cancelled && !step.done; step = await events.next()) {
          for (const event of step.value.events) text += frames.delta(deltaOf(event));
          if (step.value.finish) {
            text += finishFrames(frames, step.value.finish, options.includeUsage);
            break;
          }
          if (!text) continue;
          controller.write(text);
          text = "";
          await controller.flush();
        }
      } catch (error) {
        // When the client left there is nobody to tell.
        if (!cancelled) {
          const { message, type } = options.onError(error);
          text += frame({ error: { message, type, param: null, code: null }, request_id: options.header.id });
        }
      }
      if (!cancelled) {
        controller.write(`${text}data: [DONE]\n\n`);
        controller.close();
      }
      // Resuming the completion past its last batch (or the step the client left at) releases the upstream's body
      // and deadline; this happens after the answer is out.
      events.return().catch(() => {});
    },
    // The upstream call ends by the request's signal, which Bun aborts when the client goes away.
    cancel() {
      cancelled = true;
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>);
  return new Response(stream, {
    headers: { ...options.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}
