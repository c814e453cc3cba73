/**
 * Turns an OpenAI chat-completions SSE stream into ChatEvents. The finish reason arrives before the
 * usage-only chunk (include_usage), so `finish` is emitted at `[DONE]`. A stream that ends without
 * `[DONE]` and without a finish reason was cut.
 */
import type { ChatEvent, Usage } from "../../../core/kinds/model.ts";
import { streamCutError, upstreamError, type ErrorContext } from "../../lib/model-http/errors.ts";
import { parseJsonFrame } from "../../lib/model-http/json-frame.ts";
import { asArray, asNumber, asObject, asString, type JsonObject, withoutUndefined } from "../../lib/model-http/shape.ts";
import { parseSSEBatches } from "../../lib/model-http/sse.ts";

export async function* chatCompletionEvents(body: ReadableStream<Uint8Array>, ctx: ErrorContext): AsyncGenerator<ChatEvent> {
  let reason: string | undefined;
  let usage: Usage | undefined;
  let done = false;
  // One async step per chunk read, not per event: an answer often arrives whole in one chunk.
  read: for await (const events of parseSSEBatches(body)) {
    for (const event of events) {
      if (event.data.trim() === "[DONE]") {
        done = true;
        break read;
      }
      const chunk = asObject(parseJsonFrame(event.data)) ?? {};
      throwIfError(chunk, ctx);
      usage = usageOf(chunk.usage) ?? usage;
      const choice = asArray(chunk.choices)
        .map(asObject)
        .find((c) => c !== undefined && (c.index ?? 0) === 0);
      if (!choice) continue;
      yield* deltaEvents(asObject(choice.delta) ?? {});
      reason = asString(choice.finish_reason) ?? reason;
    }
  }
  if (!done && reason === undefined) throw streamCutError(ctx, "the stream ended without [DONE]");
  yield { type: "finish", reason: reason ?? "stop", ...(usage ? { usage } : {}) };
}

function* deltaEvents(delta: JsonObject): Generator<ChatEvent> {
  const text = asString(delta.content);
  if (text) yield { type: "text", text };
  const calls = asArray(delta.tool_calls);
  for (const [position, raw] of calls.entries()) {
    const call = asObject(raw);
    if (!call) continue;
    const fn = asObject(call.function);
    yield withoutUndefined({
      type: "tool_call",
      index: asNumber(call.index) ?? position,
      id: asString(call.id),
      name: asString(fn?.name),
      arguments: asString(fn?.arguments),
    });
  }
}

/** OpenAI sends `{error: {...}}`; vLLM's older servers send `{object: "error", message, code}`. */
function throwIfError(chunk: JsonObject, ctx: ErrorContext): void {
  const error = asObject(chunk.error) ?? (chunk.object === "error" ? chunk : undefined);
  if (!error) return;
  const code = asNumber(error.code);
  throw upstreamError(ctx, asString(error.message) ?? JSON.stringify(error), code !== undefined && code >= 400 ? code : undefined);
}

export function usageOf(raw: unknown): Usage | undefined {
  const usage = asObject(raw);
  const prompt = asNumber(usage?.prompt_tokens);
  const completion = asNumber(usage?.completion_tokens);
  if (prompt === undefined && completion === undefined) return undefined;
  return {
    prompt_tokens: prompt ?? 0,
    completion_tokens: completion ?? 0,
    total_tokens: asNumber(usage?.total_tokens) ?? (prompt ?? 0) + (completion ?? 0),
  };
}
