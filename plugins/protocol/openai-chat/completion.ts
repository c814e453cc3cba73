/**
 * What an OpenAI-compatible chat server answers, as the assistant sends it: the `chat.completion` object with the
 * ModelScope server's envelope fields (`request_id`, `message`, `output`) beside OpenAI's, the `chat.completion.chunk`
 * frames of a stream, the model list, and errors in OpenAI's shape (with the envelope's `request_id` and `message`).
 */
import { Type } from "@sinclair/typebox";
import { t, type Static } from "elysia";
import { Reply, Streamed } from "../responses.ts";

// TypeBox's own Integer: Elysia's `t.Integer` is a transform, which Elysia would run on every answer.
const Integer = Type.Integer;

export const ToolCall = Reply({ id: t.String(), type: t.Literal("function"), function: Reply({ name: t.String(), arguments: t.String() }) });

/** -1 each when the backend reported none (as the original). */
export const Usage = Reply({ prompt_tokens: t.Number(), completion_tokens: t.Number(), total_tokens: t.Number() });

export const ChatCompletion = Reply({
  request_id: t.String(),
  message: t.String(),
  output: t.Null(),
  id: t.String(),
  object: t.Literal("chat.completion"),
  created: Integer({ description: "Unix seconds" }),
  model: t.String(),
  system_fingerprint: t.String(),
  choices: t.Array(
    Reply({
      index: Integer(),
      message: Reply({ role: t.Literal("assistant"), content: t.Nullable(t.String()), tool_calls: t.Nullable(t.Array(ToolCall)) }),
      logprobs: t.Null(),
      finish_reason: t.String({ description: '"stop", "tool_calls", "length", …' }),
    }),
  ),
  usage: Usage,
});
export type ChatCompletion = Static<typeof ChatCompletion>;

/** A tool call's pieces in a stream: `id` and `type` come with its first piece. */
const ToolCallDelta = Reply({
  index: Integer(),
  id: t.Optional(t.String()),
  type: t.Optional(t.Literal("function")),
  function: Reply({ name: t.Optional(t.String()), arguments: t.Optional(t.String()) }),
});

export const ChatCompletionChunk = Reply({
  id: t.String(),
  object: t.Literal("chat.completion.chunk"),
  created: Integer(),
  model: t.String(),
  system_fingerprint: t.String(),
  choices: t.Array(
    Reply({
      index: Integer(),
      delta: Reply({ role: t.Optional(t.Literal("assistant")), content: t.Optional(t.Nullable(t.String())), tool_calls: t.Optional(t.Array(ToolCallDelta)) }),
      logprobs: t.Null(),
      finish_reason: t.Nullable(t.String()),
    }),
  ),
  usage: t.Optional(t.Nullable(Usage)),
});
export type ChatCompletionChunk = Static<typeof ChatCompletionChunk>;

export const ChatCompletionStream = Streamed(
  "text/event-stream",
  "With `stream: true`: `data: <chat.completion.chunk>` events (`: keep-alive` comments while the first token is awaited), an error as `data: {error, request_id}`, then `data: [DONE]`",
  ChatCompletionChunk,
);

export const ModelList = Reply({
  object: t.Literal("list"),
  data: t.Array(Reply({ id: t.String(), object: t.Literal("model"), created: Integer(), owned_by: t.String() })),
});
export type ModelList = Static<typeof ModelList>;

export const ErrorBody = Reply({
  request_id: t.String(),
  message: t.String(),
  error: Reply({ message: t.String(), type: t.String(), param: t.Nullable(t.String()), code: t.Null() }),
});

const errors = { "4XX": ErrorBody, "5XX": ErrorBody };

/** The answers of POST /v1/chat/completions: the object, or its stream with `stream: true`. */
export const chatAnswers = { 200: t.Union([ChatCompletion, ChatCompletionStream]), ...errors };

export const modelAnswers = { 200: ModelList, ...errors };
