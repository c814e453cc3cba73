/**
 * Turns Ollama's /api/chat NDJSON stream into ChatEvents. Each line is
 *   {"message":{"role":"assistant","content":"…","tool_calls":[{"function":{"name","arguments":{…}}}]},"done":false}
 * and the last one has `done: true`, `done_reason` and the token counts. Tool calls arrive whole, one
 * line each, so each becomes one complete tool_call event; `{"error": "…"}` lines are failures.
 */
import type { ChatEvent, Usage } from "../../../core/kinds/model.ts";
import { streamCutError, upstreamError, type ErrorContext } from "../../protocol/model-http/errors.ts";
import { LayeredDecoder } from "../../protocol/model-http/decoder.ts";
import { NDJSONDecoder } from "../../protocol/model-http/ndjson.ts";
import { asArray, asNumber, asObject, asString, withoutUndefined, type JsonObject } from "../../protocol/model-http/shape.ts";

export class OllamaChatDecoder extends LayeredDecoder<unknown, ChatEvent> {
  private toolCalls = 0;

  constructor(private readonly ctx: ErrorContext) {
    super(new NDJSONDecoder());
  }

  protected override endedEarly(): void {
    throw streamCutError(this.ctx, 'the stream ended before a line with "done": true');
  }

  protected item(raw: unknown, out: ChatEvent[]): void {
    const line = asObject(raw) ?? {};
    const error = asString(line.error);
    if (error !== undefined) throw upstreamError(this.ctx, error);
    const message = asObject(line.message) ?? {};
    const text = asString(message.content);
    if (text) out.push({ type: "text", text });
    for (const call of asArray(message.tool_calls)) out.push(toolCallEvent(asObject(call) ?? {}, this.toolCalls++));
    if (line.done === true) {
      // Ollama says "stop" after tool calls; callers expect OpenAI's "tool_calls" there.
      const reason = this.toolCalls > 0 ? "tool_calls" : (asString(line.done_reason) ?? "stop");
      const usage = usageOf(line);
      out.push({ type: "finish", reason, ...(usage ? { usage } : {}) });
      this.finished = true;
    }
  }
}

function toolCallEvent(call: JsonObject, index: number): ChatEvent {
  const fn = asObject(call.function) ?? {};
  const args = fn.arguments;
  return withoutUndefined({
    type: "tool_call" as const,
    index,
    id: asString(call.id),
    name: asString(fn.name),
    arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
  });
}

/** prompt_eval_count is absent when the whole prompt came from Ollama's cache. */
function usageOf(line: JsonObject): Usage | undefined {
  const prompt = asNumber(line.prompt_eval_count);
  const completion = asNumber(line.eval_count);
  if (prompt === undefined && completion === undefined) return undefined;
  return { prompt_tokens: prompt ?? 0, completion_tokens: completion ?? 0, total_tokens: (prompt ?? 0) + (completion ?? 0) };
}
