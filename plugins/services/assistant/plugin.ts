/**
 * The assistant service (port 31512): OpenAI-compatible `/v1/chat/completions` with function calling for models
 * that lack it, and `/v1/models`. The backend is a model plugin chosen by config (`model_server`, env
 * `MODEL_SERVER`; per-model routes), never by the client's bearer token as in the original.
 */
import { Type } from "@sinclair/typebox";
import { HttpError } from "../../../core/errors.ts";
import type { ModelClient } from "../../../core/kinds/model.ts";
import { takeHeaders } from "../../../core/http/take-headers.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { BackendRouter, backendName } from "./backends.ts";
import { prepareCompletion, ToolCallCollector, type CompletionBatch, type Finish } from "./completion.ts";
import { openAIErrorBody, upstreamFailure } from "./errors.ts";
import { chatAnswers, modelAnswers, type ModelList } from "../../protocol/openai-chat/completion.ts";
import { ChatCompletionRequest } from "../../protocol/openai-chat/request.ts";
import { sseResponse } from "./sse.ts";
import { ToolExecutor, ToolManagerSettings } from "./tool-execution.ts";
import { AgentRequest, agentAnswers } from "../../protocol/assistant/schemas.ts";
import { AssistantLite } from "./agent/lite.ts";
import type { AgentTool } from "./agent/loop.ts";
import { inProcessTool, managedTool } from "./agent/tools.ts";
import { KnowledgeSettings } from "./knowledge/config.ts";
import { KnowledgeFiles, mountFiles } from "./knowledge/files.ts";
import { openKnowledge } from "./knowledge/setup.ts";

const Config = Type.Object({
  model_server: Type.String({ default: "echo", minLength: 1, description: "Default backend: a model plugin name (env MODEL_SERVER)" }),
  models: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
    default: {},
    description: "Model name (or prefix*) → model plugin",
  }),
  any_model: Type.Boolean({ default: true, description: "Send unrouted model names to the default backend; false = 404 unless it lists them" }),
  native_tools: Type.Boolean({ default: true, description: "Use a backend's own function calling when it has it" }),
  keepalive_ms: Type.Integer({ default: 5000, minimum: 10, description: "Keep-alive comment interval while awaiting the first token" }),
  tool_manager: Type.Optional(ToolManagerSettings),
  execute_tools: Type.Boolean({ default: false, description: "Run returned tool calls through tool_manager and ask the model once more (non-stream only)" }),
  tools: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Tool plugins /v1/assistants/lite runs in this process (trusted tools)" }),
  max_turns: Type.Integer({ default: 10, minimum: 1, maximum: 100, description: "Model calls per /v1/assistants/lite request (the original's 10)" }),
  tool_timeout_ms: Type.Integer({ default: 60_000, minimum: 10, description: "Deadline of one tool call in the agent loop" }),
  knowledge: KnowledgeSettings,
});

export default definePlugin({
  name: "assistant",
  kind: "service",
  version: "0.1.0",
  description: "OpenAI-compatible chat completions with function calling (ModelScope assistant server)",
  defaultPort: 31512,
  config: Config,
  configEnv: { MODEL_SERVER: "model_server" },
  dependencies: (c) => [
    ...new Set([backendName(c.model_server), ...Object.values(c.models).map(backendName), ...c.tools, ...(c.knowledge.embeddings ? [c.knowledge.embeddings.model_plugin] : [])]),
  ],
  metricsPrefix: "rock_assistant_",
  permissions: (c) => ({ net: c.tool_manager ? [new URL(c.tool_manager.url).host] : [], database: true }),
  setup(ctx) {
    const clients = new Map<string, ModelClient>();
    for (const name of [backendName(ctx.config.model_server), ...Object.values(ctx.config.models).map(backendName)]) {
      clients.set(name, ctx.use(name, "model").client);
    }
    const router = new BackendRouter(clients, ctx.config.models, ctx.config.model_server, ctx.config.any_model);
    if (ctx.config.execute_tools && !ctx.config.tool_manager) throw new Error("execute_tools needs a tool_manager {url, tenant, token}");
    const toolExecutor = ctx.config.execute_tools ? new ToolExecutor(ctx.config.tool_manager!, ctx.fetch, ctx.log) : undefined;
    const localTools = new Map<string, AgentTool>();
    for (const plugin of ctx.config.tools) {
      const tool = inProcessTool(ctx.use(plugin, "tool").tool);
      localTools.set(tool.name, tool);
    }
    const managerTools = ctx.config.tool_manager ? (toolExecutor ?? new ToolExecutor(ctx.config.tool_manager, ctx.fetch, ctx.log)) : undefined;
    const knowledge = openKnowledge(ctx);
    const files = new KnowledgeFiles(ctx.paths.pluginData, knowledge, ctx.config.knowledge, ctx.log);
    const lite = new AssistantLite({
      backend: (server) => router.server(server),
      backends: router.backends,
      localTools,
      managedTool: managerTools && ((name, field) => managedTool(managerTools.proxy(name), name, field)),
      knowledge,
      maxTurns: ctx.config.max_turns,
      toolTimeoutMs: ctx.config.tool_timeout_ms,
      log: ctx.log,
    });
    const completions = ctx.metrics.counter({ name: "chat_completions_total", help: "Chat completions by backend and outcome", labelNames: ["backend", "stream", "outcome"] });

    return {
      knowledge,
      stop: () => files.stop(),
      http: {
        title: "Assistant (OpenAI-compatible chat completions)",
        errorBody: openAIErrorBody,
        mount: (app) =>
          mountFiles(app, files)
            .get("/v1/models", async (): Promise<ModelList> => ({
              object: "list",
              data: (await router.list()).map((m) => ({ id: m.id, object: "model", created: 0, owned_by: m.owned_by })),
            }), { response: modelAnswers })
            .post(
              "/v1/chat/completions",
              async ({ body, request, set }) => {
                const requestId = String(set.headers["x-request-id"] ?? crypto.randomUUID());
                const { name, client } = await router.resolve(body.model);
                const prepared = prepareCompletion(body, client, ctx.config.native_tools);
                // As in the original, request_id is this id (in the answer, and in a stream's error frame);
                // requestId (x-request-id) names the HTTP exchange in logs and error envelopes.
                const id = `chatcmpl_${crypto.randomUUID()}`;
                const created = Math.floor(Date.now() / 1000);

                if (body.stream) {
                  // Bun aborts the request's signal when the client goes away, also in the middle of a stream.
                  const events = prepared.events(request.signal);
                  const first = events.next();
                  // An upstream that fails fast (refused, 4xx) still gets a proper HTTP error instead of a stream.
                  // The wait's timer is cleared at once: a Bun.sleep here would leave one pending timer per request.
                  let timer: Timer | undefined;
                  let arrived: IteratorResult<CompletionBatch, void> | undefined;
                  const early = await Promise.race([
                    first.then((step) => ((arrived = step), "ok"), (e) => e),
                    new Promise((r) => (timer = setTimeout(() => r("wait"), Math.min(ctx.config.keepalive_ms, 1000)))),
                  ]);
                  clearTimeout(timer);
                  if (early !== "ok" && early !== "wait") {
                    completions.inc({ backend: name, stream: "true", outcome: "error" });
                    throw upstreamFailure(name, early);
                  }
                  completions.inc({ backend: name, stream: "true", outcome: "ok" });
                  return sseResponse({
                    header: { id, created, model: body.model },
                    events,
                    first,
                    arrived,
                    keepaliveMs: ctx.config.keepalive_ms,
                    includeUsage: body.stream_options?.include_usage === true,
                    headers: takeHeaders(set),
                    onError: (error) => {
                      const failure = error instanceof HttpError ? error : upstreamFailure(name, error);
                      ctx.log.warn("stream failed", { request_id: requestId, id, error: failure.message });
                      return { message: failure.message, type: "server_error" };
                    },
                  });
                }

                // A plain answer ends only when the client goes away: the request's own signal says so.
                let round = prepared.events(request.signal);
                let content = "";
                let calls = new ToolCallCollector();
                let finish: Finish = { reason: "stop" };
                // With execute_tools, a reply of tool calls is followed by one more round with their results.
                for (let rounds = toolExecutor ? 2 : 1; rounds > 0; rounds--) {
                  try {
                    for await (const batch of round) {
                      for (const event of batch.events) {
                        if (event.type === "text") content += event.text;
                        else calls.add(event);
                      }
                      if (batch.finish) finish = batch.finish;
                    }
                  } catch (error) {
                    completions.inc({ backend: name, stream: "false", outcome: "error" });
                    throw error instanceof HttpError ? error : upstreamFailure(name, error);
                  }
                  if (rounds === 1 || !toolExecutor || !calls.result().length) break;
                  const followUp = await toolExecutor.followUp(body, content, calls.result());
                  round = prepareCompletion(followUp, client, ctx.config.native_tools).events(request.signal);
                  content = "";
                  calls = new ToolCallCollector();
                }
                completions.inc({ backend: name, stream: "false", outcome: "ok" });
                const toolCalls = calls.result();
                const usage = finish.usage ?? { prompt_tokens: -1, completion_tokens: -1, total_tokens: -1 };
                return {
                  request_id: id,
                  message: "",
                  output: null,
                  id,
                  object: "chat.completion",
                  created,
                  model: body.model,
                  system_fingerprint: id,
                  choices: [
                    {
                      index: 0,
                      message: { role: "assistant", content: toolCalls.length && !content ? null : content, tool_calls: toolCalls.length ? toolCalls : null },
                      logprobs: null,
                      finish_reason: finish.reason,
                    },
                  ],
                  usage,
                };
              },
              { body: ChatCompletionRequest, response: chatAnswers },
            )
            .post(
              "/v1/assistants/lite",
              async ({ body, request, set }) => {
                const requestId = String(set.headers["x-request-id"] ?? crypto.randomUUID());
                const run = await lite.prepare(body, request.signal);
                if (!body.stream) return lite.answer(run, requestId);
                const sse = (request.headers.get("accept") ?? "").includes("text/event-stream");
                return lite.stream(run, requestId, sse, takeHeaders(set));
              },
              { body: AgentRequest, response: agentAnswers },
            ),
      },
    };
  },
});
