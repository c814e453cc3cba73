/**
 * Turns DashScope's SSE stream into ChatEvents. Each event looks like
 *   id:1 / event:result / :HTTP_STATUS/200 / data:{"output":{"choices":[{"message":{…},"finish_reason":"null"}]},"usage":{…},"request_id":…}
 * and a failure as `event:error` with `:HTTP_STATUS/4xx` and data `{"code","message","request_id"}`.
 * The stream has no terminator: a frame whose finish_reason is not "null" ends it, so one that closes
 * before such a frame was cut.
 */
import type { ChatEvent, Usage } from "../../../core/kinds/model.ts";
import { LayeredDecoder } from "../../protocol/model-http/decoder.ts";
import { streamCutError, upstreamError, type ErrorContext } from "../../protocol/model-http/errors.ts";
import { parseJsonFrame } from "../../protocol/model-http/json-frame.ts";
import type { Log } from "../../protocol/model-http/deps.ts";
import { asArray, asNumber, asObject, asString, type JsonObject } from "../../protocol/model-http/shape.ts";
import { SSEDecoder, type SSEEvent } from "../../protocol/model-http/sse.ts";
import { CumulativeText } from "./cumulative.ts";

export interface FrameOptions {
  incrementalOutput: boolean;
  log?: Log;
}

export class GenerationDecoder extends LayeredDecoder<SSEEvent, ChatEvent> {
  private readonly cumulative: CumulativeText;
  private usage: Usage | undefined;

  constructor(
    private readonly ctx: ErrorContext,
    private readonly options: FrameOptions,
  ) {
    super(new SSEDecoder());
    this.cumulative = new CumulativeText((revision) => options.log?.(`${ctx.client}: a cumulative frame rewrote text already streamed`, { ...revision }));
  }

  protected override endedEarly(): void {
    throw streamCutError(this.ctx, "the stream ended before a frame with a finish_reason");
  }

  protected item(event: SSEEvent, out: ChatEvent[]): void {
    const frame = asObject(parseJsonFrame(event.data)) ?? {};
    const status = statusOf(event.comments);
    if (event.event === "error" || (status !== undefined && status !== 200) || isErrorFrame(frame)) {
      throw upstreamError(this.ctx, errorText(frame), status !== undefined && status !== 200 ? status : undefined);
    }
    this.usage = usageOf(frame.usage) ?? this.usage;
    const { content, finishReason } = readOutput(asObject(frame.output) ?? {});
    const finished = finishReason !== undefined;
    const text = this.options.incrementalOutput ? content : finished ? this.cumulative.finish(content) : this.cumulative.next(content);
    if (text) out.push({ type: "text", text });
    if (finished) {
      out.push({ type: "finish", reason: finishReason, ...(this.usage ? { usage: this.usage } : {}) });
      this.finished = true;
    }
  }
}

/** `result_format: "message"` puts text in choices[0].message; older models still answer with output.text. */
function readOutput(output: JsonObject): { content: string; finishReason?: string } {
  const choice = asObject(asArray(output.choices)[0]);
  const message = asObject(choice?.message);
  const content = message ? contentText(message.content) : (asString(output.text) ?? "");
  const reason = asString(choice?.finish_reason) ?? asString(output.finish_reason);
  return { content, finishReason: reason === undefined || reason === "null" || reason === "" ? undefined : reason };
}

/** Multimodal models send content as `[{text}, …]`. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((part) => asString(asObject(part)?.text) ?? "")
    .join("");
}

function statusOf(comments: string[]): number | undefined {
  for (const comment of comments) {
    const match = /^HTTP_STATUS\/(\d{3})/.exec(comment.trim());
    if (match) return Number(match[1]);
  }
  return undefined;
}

function isErrorFrame(frame: JsonObject): boolean {
  return frame.output === undefined && (frame.code !== undefined || frame.message !== undefined);
}

function errorText(frame: JsonObject): string {
  const code = asString(frame.code);
  const message = asString(frame.message) ?? "no message";
  const requestId = asString(frame.request_id);
  return `${code ? `${code}: ` : ""}${message}${requestId ? ` (request_id ${requestId})` : ""}`;
}

function usageOf(raw: unknown): Usage | undefined {
  const usage = asObject(raw);
  const input = asNumber(usage?.input_tokens);
  const output = asNumber(usage?.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  return {
    prompt_tokens: input ?? 0,
    completion_tokens: output ?? 0,
    total_tokens: asNumber(usage?.total_tokens) ?? (input ?? 0) + (output ?? 0),
  };
}
