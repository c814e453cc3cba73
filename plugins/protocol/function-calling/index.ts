/**
 * Function calling for models that lack it: tools rendered into the prompt as the original modelscope-agent
 * did, and the model's ReAct-style `Action:` / `Action Input:` text parsed back into OpenAI tool calls,
 * for whole replies and for streams.
 */
export { newToolCallId } from "./call-id.ts";
export { type ContentPart, type RequestMessage, type RequestToolCall } from "./history.ts";
export {
  type FunctionTool,
  type JsonSchema,
  normaliseParameters,
  normaliseTools,
  ToolDefinitionError,
  toToolSpec,
  validateTool,
} from "./parameters.ts";
export { type FinishReason, type ParsedReply, type ParseOptions, parseReply } from "./parse.ts";
export { type RenderedPrompt, type RenderRequest, renderPrompt } from "./render.ts";
export { type ReplyEvent, ReplyStreamParser } from "./stream-parse.ts";
export { type Lang, STOP_WORDS } from "./templates.ts";
export { type ToolChoice } from "./tool-choice.ts";
