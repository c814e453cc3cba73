/**
 * `POST /v1/assistants/lite`: the request checked (a 4xx naming the field before anything runs), the knowledge looked
 * up, the prompt built, and the agent loop's events sent in one of three forms: the original's `{request_id, message,
 * output: {response}}`, its raw text stream (no framing, no content-type), or typed server-sent events when the client
 * asks for `text/event-stream`.
 */
import { HttpError } from "../../../../core/errors.ts";
import type { ChatOptions, ModelClient } from "../../../../core/kinds/model.ts";
import type { Logger } from "../../../../core/log.ts";
import { agentLanguage, agentMessages } from "../../../protocol/assistant/prompt.ts";
import type { AgentRequest } from "../../../protocol/assistant/schemas.ts";
import type { Lang } from "../../../protocol/function-calling/templates.ts";
import { upstreamFailure } from "../errors.ts";
import type { KnowledgeBase } from "../knowledge/contract.ts";
import { runAgent, type AgentEvent, type AgentTool } from "./loop.ts";

export interface LiteOptions {
  /** The model plugin for an `llm_config.model_server`, or undefined when this service has none by that name. */
  backend(server: string): { name: string; client: ModelClient } | undefined;
  /** Names of the model plugins, for the error message. */
  backends: readonly string[];
  /** Trusted tool plugins, by tool name. */
  localTools: ReadonlyMap<string, AgentTool>;
  /** Opens a tool through the tool manager (`use_tool_api`); absent when no tool manager is configured. */
  managedTool?: (name: string, field: string) => Promise<AgentTool>;
  knowledge?: KnowledgeBase;
  maxTurns: number;
  toolTimeoutMs: number;
  log: Logger;
}

const KNOWN_KEYS = new Set(["messages", "llm_config", "agent_config", "stream", "use_knowledge", "files", "uuid_str", "tools", "tool_choice", "use_tool_api"]);
const HISTORY_ROLES = new Set(["system", "user", "assistant"]);
const DEFAULT_KNOWLEDGE_LIMIT = 4000;
/** How long a stream waits for the agent's first event before answering 200: a fast failure is still an HTTP error. */
const FIRST_EVENT_WAIT_MS = 1000;

const bad = (field: string, problem: string) => new HttpError(400, `${field} ${problem}`, field);

/** The original's extra keys (its `**kwargs`): everything not in the AgentRequest model. */
function extrasOf(body: AgentRequest): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!KNOWN_KEYS.has(key)) extras[key] = value;
  return extras;
}

function samplingOptions(extras: Record<string, unknown>): ChatOptions {
  const options: ChatOptions = {};
  for (const key of ["temperature", "top_p", "seed", "max_tokens"] as const) {
    const value = extras[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) throw bad(key, "must be a number");
    if (key === "seed" || key === "max_tokens") {
      if (!Number.isInteger(value)) throw bad(key, "must be an integer");
    }
    options[key] = value;
  }
  return options;
}

function knowledgeLimit(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_KNOWLEDGE_LIMIT;
  // The original crashed on a string (from its env var); a numeric one is taken.
  const limit = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0) throw bad("knowledge_limit", "must be a non-negative integer (characters)");
  return limit;
}

/** The first `limit` characters (code points, as Python counts them). */
function cutChars(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return Array.from(text).slice(0, limit).join("");
}

interface PreparedRun {
  backend: string;
  client: ModelClient;
  events: AsyncGenerator<AgentEvent, number>;
}

export class AssistantLite {
  constructor(private readonly options: LiteOptions) {}

  /** Everything that can be refused is checked here, before a byte of the answer is sent. */
  async prepare(body: AgentRequest, signal: AbortSignal): Promise<PreparedRun> {
    const { options } = this;
    const extras = extrasOf(body);
    const server = body.llm_config.model_server;
    const backend = options.backend(server);
    if (!backend) {
      throw bad("llm_config.model_server", `'${server}' is not a model plugin of this service (configured: ${options.backends.join(", ")})`);
    }
    const sampling = samplingOptions(extras);
    const limit = knowledgeLimit(extras.knowledge_limit);
    let lang: Lang | undefined;
    if (extras.lang !== undefined && extras.lang !== null) {
      if (extras.lang !== "zh" && extras.lang !== "en") throw bad("lang", "must be 'zh' or 'en'");
      lang = extras.lang;
    }
    const uuid = body.uuid_str ?? "test";
    if (uuid === "" || uuid === "." || uuid === ".." || /[/\\\0]/.test(uuid)) throw bad("uuid_str", "must be a name without path characters");

    const history = body.messages.slice(0, -1);
    history.forEach((message, index) => {
      if (!HISTORY_ROLES.has(message.role)) throw bad(`messages[${index}].role`, "must be system, user or assistant");
    });
    const query = body.messages[body.messages.length - 1].content;

    const tools = await this.tools(body);

    let refDoc: string | undefined;
    if (body.use_knowledge) {
      const knowledge = options.knowledge;
      if (!knowledge || !(await knowledge.hasIndex(uuid))) throw new HttpError(400, "No valid knowledge contents.", "use_knowledge");
      const files = body.files ?? [];
      const hits = await knowledge.search(uuid, query, { files: files.length ? files : undefined, signal });
      if (hits.length) refDoc = cutChars(hits.map((hit) => hit.text).join("\n\n"), limit);
    }

    lang ??= agentLanguage(query, history, refDoc, extras);
    const messages = agentMessages({ instruction: body.agent_config.instruction, tools: [...tools.values()], history, query, refDoc, lang });
    const events = runAgent({
      client: backend.client,
      messages,
      tools,
      options: { model: body.llm_config.model, ...sampling },
      kwargs: { ...extras, lang, ...(body.use_tool_api ? { use_tool_api: true } : {}) },
      maxTurns: options.maxTurns,
      toolTimeoutMs: options.toolTimeoutMs,
      signal,
    });
    return { backend: backend.name, client: backend.client, events };
  }

  /** The tools of `agent_config.tools`, by name: in process, or through the tool manager with `use_tool_api`. */
  private async tools(body: AgentRequest): Promise<Map<string, AgentTool>> {
    const refs = body.agent_config.tools ?? [];
    const tools = new Map<string, AgentTool>();
    const opening: Promise<AgentTool>[] = [];
    if (body.use_tool_api && refs.length && !this.options.managedTool) throw bad("use_tool_api", "needs a tool_manager in this service's config");
    refs.forEach((ref, index) => {
      const name = typeof ref === "string" ? ref : ref.name;
      const field = `agent_config.tools[${index}]`;
      if (body.use_tool_api) opening.push(this.options.managedTool!(name, field));
      else {
        const tool = this.options.localTools.get(name);
        if (!tool) throw bad(field, `'${name}' is not a tool of this service (tools: ${[...this.options.localTools.keys()].join(", ") || "none"})`);
        tools.set(name, tool);
      }
    });
    for (const tool of await Promise.all(opening)) tools.set(tool.name, tool);
    return tools;
  }

  /** The original's plain answer: everything the agent streamed, in one string. */
  async answer(run: PreparedRun, requestId: string) {
    let response = "";
    try {
      for await (const event of run.events) response += rawText(event);
    } catch (error) {
      throw error instanceof HttpError ? error : upstreamFailure(run.backend, error);
    }
    return { request_id: requestId, message: "", output: { response } };
  }

  /** A streamed answer, raw text or (`sse`) typed events; an agent that fails before its first event is an HTTP error. */
  async stream(run: PreparedRun, requestId: string, sse: boolean, headers: Record<string, string>): Promise<Response> {
    const { events } = run;
    const first = events.next();
    let timer: Timer | undefined;
    const early = await Promise.race([
      first.then(() => "ok", (error) => ({ error })),
      new Promise((resolve) => (timer = setTimeout(() => resolve("wait"), FIRST_EVENT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (typeof early === "object" && early) {
      const error = (early as { error: unknown }).error;
      throw error instanceof HttpError ? error : upstreamFailure(run.backend, error);
    }
    const encoder = new TextEncoder();
    const log = this.options.log;
    let response = "";
    let cancelled = false;
    let step: Promise<IteratorResult<AgentEvent, number>> | undefined = first;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          // A pull that enqueues nothing is not called again: go on until there is something to send.
          for (;;) {
            const next = await (step ?? events.next());
            step = undefined;
            if (next.done) {
              if (sse) controller.enqueue(encoder.encode(sseFrame("done", { request_id: requestId, response, turns: next.value })));
              controller.close();
              return;
            }
            const text = rawText(next.value);
            response += text;
            const out = sse ? sseFrame(next.value.type, sseData(next.value)) : text;
            if (out) return controller.enqueue(encoder.encode(out));
          }
        } catch (error) {
          // When the client left (its signal ended the model call) there is nobody to tell.
          if (cancelled) return;
          const failure = error instanceof HttpError ? error : upstreamFailure(run.backend, error);
          log.warn("agent stream failed", { request_id: requestId, error: failure.message });
          controller.enqueue(encoder.encode(sse ? sseFrame("error", { message: failure.message }) : `\nError: ${failure.message}`));
          controller.close();
        }
      },
      cancel() {
        cancelled = true;
        events.return(0).catch(() => {});
      },
    });
    // The original's StreamingResponse had no media type, so no Content-Type header.
    return new Response(body, { headers: sse ? { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } : headers });
  }
}

/** What the original streamed for an event: the model's text, the observation template; a tool call is already in the text. */
function rawText(event: AgentEvent): string {
  return event.type === "text" ? event.text : event.type === "observation" ? event.text : "";
}

function sseData(event: AgentEvent): Record<string, unknown> {
  if (event.type === "text") return { text: event.text };
  if (event.type === "tool_call") return { name: event.name, arguments: event.arguments };
  return { name: event.name, result: event.result };
}

function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
