/**
 * Turns an OpenAI chat-completions SSE stream into ChatEvents. The finish reason arrives before the
 * usage-only chunk (include_usage), so `finish` is emitted at `[DONE]`. A stream that ends without
 * `[DONE]` and without a finish reason was cut.
 */
import type { ChatEvent, Usage } from "../../../core/kinds/model.ts";
import { LayeredDecoder } from "../model-http/decoder.ts";
import { streamCutError, upstreamError, type ErrorContext } from "../model-http/errors.ts";
import { parseJsonFrame } from "../model-http/json-frame.ts";
import { asArray, asNumber, asObject, asString, type JsonObject, withoutUndefined } from "../model-http/shape.ts";
import { SSEDecoder, type SSEEvent } from "../model-http/sse.ts";

export class ChatCompletionDecoder extends LayeredDecoder<SSEEvent, ChatEvent> {
  private reason: string | undefined;
  private usage: Usage | undefined;

  constructor(private readonly ctx: ErrorContext) {
    super(new SSEDecoder());
  }

  /** No `[DONE]`, but a finish reason came: the answer is whole. */
  protected override endedEarly(out: ChatEvent[]): void {
    if (this.reason === undefined) throw streamCutError(this.ctx, "the stream ended without [DONE]");
    out.push(this.finish());
  }

  protected item({ data }: SSEEvent, out: ChatEvent[]): void {
    if (data.trim() === "[DONE]") {
      this.finished = true;
      out.push(this.finish());
      return;
    }
    const chunk = asObject(parseJsonFrame(data)) ?? {};
    throwIfError(chunk, this.ctx);
    this.usage = usageOf(chunk.usage) ?? this.usage;
    const choice = asArray(chunk.choices)
      .map(asObject)
      .find((c) => c !== undefined && (c.index ?? 0) === 0);
    if (!choice) return;
    deltaEvents(asObject(choice.delta) ?? {}, out);
    this.reason = asString(choice.finish_reason) ?? this.reason;
  }

  private finish(): ChatEvent {
    return { type: "finish", reason: this.reason ?? "stop", ...(this.usage ? { usage: this.usage } : {}) };
  }
}

function deltaEvents(delta: JsonObject, out: ChatEvent[]): void {
  const text = asString(delta.content);
  if (text) out.push({ type: "text", text });
  const calls = asArray(delta.tool_calls);
  for (const [position, raw] of calls.entries()) {
    const call = asObject(raw);
    if (!call) continue;
    const fn = asObject(call.function);
    out.push(
      withoutUndefined({
        type: "tool_call",
        index: asNumber(call.index) ?? position,
        id: asString(call.id),
        name: asString(fn?.name),
        arguments: asString(fn?.arguments),
      }),
    );
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
