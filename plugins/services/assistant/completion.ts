/**
 * One chat completion, whichever way the backend does tools: natively (tools sent upstream) or through the
 * prompt (tools rendered into the system message, the `Action:` text parsed back). Both yield the same events.
 */
import { HttpError } from "../../../core/errors.ts";
import { chatBatches, type ChatEvent, type ChatMessage, type ChatOptions, type ModelClient, type ToolCall, type Usage } from "../../../core/kinds/model.ts";
import { messageText, textBeforeCalls, userContent } from "../../protocol/function-calling/history.ts";
import {
  newToolCallId,
  normaliseTools,
  renderPrompt,
  ReplyStreamParser,
  ToolDefinitionError,
  toToolSpec,
  type RequestMessage,
} from "../../protocol/function-calling/index.ts";
import { base64Payload } from "../../protocol/model-http/content.ts";
import type { ChatCompletionRequest } from "../../protocol/openai-chat/request.ts";

export type CompletionEvent = Extract<ChatEvent, { type: "text" | "tool_call" }>;

export interface Finish {
  reason: string;
  usage?: Usage;
}

/** What one network read brought. The last batch carries the finish, so that it can be sent with what came with it. */
export interface CompletionBatch {
  events: CompletionEvent[];
  /** Set on the last batch only. */
  finish?: Finish;
}

export interface PreparedCompletion {
  /** Content and tool-call deltas in groups, as they arrived; the last group carries the finish (and may hold no events). */
  events(signal: AbortSignal): AsyncGenerator<CompletionBatch, void>;
}

/** Backends end with a finish event; one that just stops is taken as having stopped. */
const IMPLICIT_FINISH: Finish = { reason: "stop" };

/**
 * A backend's event groups (`open` starts the call, on the first step) as completion batches: `take` turns each content
 * or tool-call event into ours (appending to `out`), and `last` makes the final batch from the events that came with
 * the finish. The final batch is yielded as soon as the finish arrives; resuming past it lets the for-await release
 * the upstream.
 */
async function* completionBatches(
  open: () => AsyncIterable<ChatEvent[]>,
  take: (event: Exclude<ChatEvent, { type: "finish" }>, out: CompletionEvent[]) => void,
  last: (events: CompletionEvent[], finish: Finish) => CompletionBatch,
): AsyncGenerator<CompletionBatch, void> {
  for await (const batch of open()) {
    const out: CompletionEvent[] = [];
    let finish: Finish | undefined;
    for (const event of batch) {
      if (event.type === "finish") finish = { reason: event.reason, usage: event.usage };
      else take(event, out);
    }
    if (finish) {
      yield last(out, finish);
      return;
    }
    if (out.length) yield { events: out };
  }
  yield last([], IMPLICIT_FINISH);
}

function asHttpError(error: unknown): never {
  if (error instanceof ToolDefinitionError) throw new HttpError(400, error.message, error.field);
  throw error;
}

function baseOptions(body: ChatCompletionRequest): ChatOptions {
  const stop = body.stop == null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  return {
    model: body.model,
    temperature: body.temperature ?? undefined,
    top_p: body.top_p ?? undefined,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    seed: body.seed ?? undefined,
    stop,
  };
}

/** Validates tools and tool_choice (400 naming the field) and decides the path, before any byte is sent. */
export function prepareCompletion(body: ChatCompletionRequest, client: ModelClient, useNativeTools: boolean): PreparedCompletion {
  const messages = body.messages as unknown as RequestMessage[];
  checkContentParts(messages, client, body.model);
  let tools;
  try {
    tools = normaliseTools(body.tools);
  } catch (error) {
    asHttpError(error);
  }
  const options = baseOptions(body);
  const parallel = body.parallel_tool_calls ?? true;

  if (tools.length > 0 && client.supportsTools && useNativeTools) {
    const native: ChatMessage[] = messages.map((m) => ({
      role: m.role === "developer" ? "system" : (m.role as ChatMessage["role"]),
      content: nativeContent(m),
      ...(m.name ? { name: m.name } : {}),
      ...(m.tool_calls ? { tool_calls: m.tool_calls as ToolCall[] } : {}),
      ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
    }));
    const choice = body.tool_choice ?? undefined;
    return {
      events(signal) {
        let sawCall = false;
        return completionBatches(
          () => chatBatches(client, native, { ...options, tools: tools.map(toToolSpec), tool_choice: choice as ChatOptions["tool_choice"], signal }),
          (event, out) => {
            if (event.type !== "tool_call") out.push(event);
            else if (parallel || event.index <= 0) {
              sawCall = true;
              out.push(event.id === undefined && event.name !== undefined ? { ...event, id: newToolCallId() } : event);
            }
          },
          (events, finish) => ({ events, finish: sawCall && finish.reason === "stop" ? { ...finish, reason: "tool_calls" } : finish }),
        );
      },
    };
  }

  let prompt;
  try {
    prompt = renderPrompt({ messages, tools, tool_choice: body.tool_choice, parallel_tool_calls: body.parallel_tool_calls });
  } catch (error) {
    asHttpError(error);
  }
  const stop = [...prompt.stop, ...(options.stop ?? [])];
  return {
    events(signal) {
      const parser = prompt.toolNames.length ? new ReplyStreamParser(prompt) : undefined;
      return completionBatches(
        () => chatBatches(client, prompt.messages, { ...options, stop, signal }),
        (event, out) => {
          if (event.type !== "text") return;
          if (parser) out.push(...parser.feed(event.text));
          else out.push(event);
        },
        (events, finish) => {
          if (!parser) return { events, finish };
          const end = parser.finish();
          const reason = end.finishReason === "tool_calls" ? "tool_calls" : finish.reason === "length" ? "length" : "stop";
          return { events: events.concat(end.events), finish: { ...finish, reason } };
        },
      );
    },
  };
}

function nativeContent(message: RequestMessage): ChatMessage["content"] {
  if (message.content === null || message.content === undefined) return null;
  if (message.role === "user") return userContent(message.content);
  const text = messageText(message.content);
  if (message.role !== "assistant" || !message.tool_calls?.length) return text;
  return textBeforeCalls(text, message.tool_calls) || null;
}

/**
 * Content parts go to the model or the request is refused, never dropped. Image parts: 400 naming the part when the
 * backend takes no images (or only inline ones and this is a link), when the part is not `{image_url: {url}}`, or
 * when it is not in a user message (OpenAI takes images from users only). Other kinds (audio, files) are refused;
 * an assistant's `refusal` part is its text.
 */
function checkContentParts(messages: readonly RequestMessage[], client: ModelClient, model: string): void {
  messages.forEach((message, i) => {
    if (!Array.isArray(message.content)) return;
    message.content.forEach((part, j) => {
      const at = `messages[${i}].content[${j}]`;
      const field = `messages.${i}.content.${j}`;
      if (part?.type === "text" || (part?.type === "refusal" && message.role === "assistant")) return;
      if (part?.type !== "image_url") throw new HttpError(400, `${at}: '${part?.type}' parts are not supported (text and image_url are)`, `${field}.type`);
      const url = part.image_url?.url;
      if (typeof url !== "string" || url === "") throw new HttpError(400, `${at}.image_url.url: expected the image's URL (http(s) or data:)`, `${field}.image_url.url`);
      if (message.role !== "user") throw new HttpError(400, `${at}: image_url parts are accepted in user messages only, not in '${message.role}'`, field);
      if (!client.imageUrls) throw new HttpError(400, `${at}: image_url parts are not supported by model '${model}' (backend '${client.name}')`, field);
      if (client.imageUrls === "data-only" && base64Payload(url) === undefined) {
        throw new HttpError(400, `${at}.image_url.url: backend '${client.name}' takes images inline only: a data:<mime>;base64,… URL, not a link`, `${field}.image_url.url`);
      }
    });
  });
}

/** Folds streamed tool-call pieces into complete calls, by index. */
export class ToolCallCollector {
  private readonly calls: ToolCall[] = [];

  add(event: Extract<CompletionEvent, { type: "tool_call" }>) {
    const call = (this.calls[event.index] ??= { id: event.id ?? newToolCallId(), type: "function", function: { name: "", arguments: "" } });
    if (event.id) call.id = event.id;
    if (event.name) call.function.name += event.name;
    if (event.arguments) call.function.arguments += event.arguments;
  }

  result(): ToolCall[] {
    return this.calls.filter(Boolean);
  }
}
