/**
 * The body of `POST /v1/chat/completions`: OpenAI's shape; unknown fields are accepted and ignored, and an optional
 * field may be null (`tool_call_id: null`, `name: null`), as the original's pydantic model took them.
 */
import { Type } from "@sinclair/typebox";
import { t, type Static } from "elysia";
import { lenient } from "../../../core/http/lenient.ts";

// TypeBox's own Integer: Elysia's `t.Integer` is a transform (it also takes numeric strings), and any transform in a
// body schema makes Elysia run TypeBox's slow Value.Decode on every request.
const Integer = Type.Integer;

// Named so that they are kept: image parts go to the model (or are refused), never dropped.
const ContentPart = t.Object(
  {
    type: t.String(),
    text: t.Optional(t.String()),
    refusal: t.Optional(t.String()),
    image_url: t.Optional(t.Object({ url: t.Optional(t.String()), detail: t.Optional(t.String()) }, { additionalProperties: true })),
  },
  { additionalProperties: true },
);

// A replayed assistant turn: the history renderer and native backends read `function.name` and `function.arguments`.
const ToolCall = t.Object(
  {
    id: t.Optional(t.Nullable(t.String())),
    type: t.Optional(t.String()),
    function: t.Object(
      { name: t.String({ minLength: 1 }), arguments: t.Union([t.String(), t.Record(t.String(), t.Any())]) },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

const Message = t.Object(
  {
    role: t.Union([t.Literal("system"), t.Literal("developer"), t.Literal("user"), t.Literal("assistant"), t.Literal("tool")]),
    content: t.Optional(t.Union([t.String(), t.Null(), t.Array(ContentPart)])),
    name: t.Optional(t.String()),
    tool_calls: t.Optional(t.Nullable(t.Array(ToolCall))),
    tool_call_id: t.Optional(t.String()),
  },
  { additionalProperties: true },
);

export const ChatCompletionRequest = lenient(t.Object(
  {
    model: t.String({ minLength: 1, description: "Model name; routes to a backend by the service config" }),
    messages: t.Array(Message, { minItems: 1 }),
    tools: t.Optional(t.Nullable(t.Array(t.Any(), { description: "OpenAI tools; parameters as JSON Schema or the list form" }))),
    tool_choice: t.Optional(t.Nullable(t.Any())),
    parallel_tool_calls: t.Optional(t.Nullable(t.Boolean())),
    stream: t.Optional(t.Nullable(t.Boolean())),
    stream_options: t.Optional(t.Nullable(t.Object({ include_usage: t.Optional(t.Boolean()) }, { additionalProperties: true }))),
    temperature: t.Optional(t.Nullable(t.Number({ minimum: 0, maximum: 2 }))),
    top_p: t.Optional(t.Nullable(t.Number({ minimum: 0, maximum: 1 }))),
    max_tokens: t.Optional(t.Nullable(Integer({ minimum: 1 }))),
    max_completion_tokens: t.Optional(t.Nullable(Integer({ minimum: 1 }))),
    stop: t.Optional(t.Nullable(t.Union([t.String(), t.Array(t.String(), { maxItems: 16 })]))),
    seed: t.Optional(t.Nullable(Integer())),
    user: t.Optional(t.String()),
  },
  { additionalProperties: true },
));
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;
