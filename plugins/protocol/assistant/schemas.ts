/**
 * `POST /v1/assistants/lite` (the ModelScope assistant server's AgentRequest, reference §2.2): the request, the plain
 * answer `{request_id, message, output: {response}}`, the raw text stream, and our opt-in SSE form's events.
 * Unknown top-level keys are the original's `kwargs`: they are kept and passed on (`knowledge_limit`, `lang`,
 * sampling options, tool kwargs).
 */
import { t, type Static } from "elysia";
import { lenient } from "../../../core/http/lenient.ts";
import { Reply, Streamed } from "../responses.ts";

const Message = t.Object(
  { role: t.String({ minLength: 1 }), content: t.String({ description: "The last message's content is the query; the rest is history" }) },
  { additionalProperties: t.Unknown() },
);

export const LlmConfig = t.Object(
  {
    model: t.String({ minLength: 1 }),
    model_server: t.String({ minLength: 1, description: "A model plugin this service is configured with (or the original's alias: vllm-server, azure_openai)" }),
    api_key: t.Optional(t.Nullable(t.String({ description: "Accepted and ignored: the model plugin's configured key is used" }))),
    generate_config: t.Optional(t.Nullable(t.Record(t.String(), t.Unknown(), { description: "Accepted; no backend read it in the original" }))),
  },
  { additionalProperties: t.Unknown() },
);

const ToolRef = t.Union([
  t.String({ minLength: 1, description: "A tool name, e.g. RenewInstance" }),
  t.Object({ name: t.String({ minLength: 1 }) }, { additionalProperties: t.Unknown(), description: "A tool named by `name` (description and parameters come from the tool itself)" }),
]);

export const AgentConfig = t.Object(
  {
    name: t.Optional(t.Nullable(t.String())),
    description: t.Optional(t.Nullable(t.String())),
    instruction: t.String({ description: "Put into the original's instruction block" }),
    tools: t.Optional(t.Nullable(t.Array(ToolRef))),
  },
  { additionalProperties: t.Unknown() },
);

export const AgentRequest = lenient(t.Object(
  {
    messages: t.Array(Message, { minItems: 1 }),
    llm_config: LlmConfig,
    agent_config: AgentConfig,
    stream: t.Optional(t.Nullable(t.Boolean())),
    use_knowledge: t.Optional(t.Nullable(t.Boolean())),
    files: t.Optional(t.Nullable(t.Array(t.String(), { description: "File names to retrieve from; empty means all" }))),
    uuid_str: t.Optional(t.Nullable(t.String({ description: "Knowledge namespace (default \"test\")" }))),
    tools: t.Optional(t.Unknown({ description: "Accepted and unused, as in the original" })),
    tool_choice: t.Optional(t.Unknown({ description: "Accepted and unused, as in the original" })),
    use_tool_api: t.Optional(t.Nullable(t.Boolean({ description: "Run the tools in tool-manager containers" }))),
  },
  { additionalProperties: t.Unknown(), description: "Other keys are the original's kwargs: knowledge_limit, lang (zh|en), temperature, top_p, seed, tool kwargs" },
));
export type AgentRequest = Static<typeof AgentRequest>;

export const AgentAnswer = Reply({
  request_id: t.String(),
  message: t.String(),
  output: Reply({ response: t.String({ description: "Everything the agent streamed: model text, observations, the final answer" }) }),
});

const ErrorEnvelope = Reply({ request_id: t.String(), message: t.Unknown({ description: "What went wrong; names the field" }) });

/** The SSE form's events (`event:` name, `data:` JSON). */
export const AgentEvent = t.Union([
  Reply({ text: t.String() }, { title: "text", description: "event: text: a piece of the model's reply" }),
  Reply({ name: t.String(), arguments: t.String() }, { title: "tool_call", description: "event: tool_call: the call the agent runs" }),
  Reply({ name: t.String(), result: t.String() }, { title: "observation", description: "event: observation: the tool's result (or failure text) fed back" }),
  Reply({ request_id: t.String(), response: t.String(), turns: t.Integer() }, { title: "done", description: "event: done: the whole answer, as output.response" }),
  Reply({ message: t.String() }, { title: "error", description: "event: error: the agent stopped" }),
]);

export const agentAnswers = {
  200: t.Union([
    AgentAnswer,
    Streamed("application/octet-stream", "stream: true: the raw text chunks, no framing and no content-type (as the original)"),
    Streamed("text/event-stream", "stream: true with Accept: text/event-stream: typed events", AgentEvent),
  ]),
  "4XX": ErrorEnvelope,
  "5XX": ErrorEnvelope,
};
