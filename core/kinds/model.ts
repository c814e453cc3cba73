/**
 * The contract a `model` plugin provides: one streaming chat call.
 * Messages and options in; text deltas, native tool-call deltas, a finish reason and usage out.
 */
import type { ShapeOf } from "./shape.ts";

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A part of a message's content, in OpenAI's shape. `url` is an http(s) URL or a `data:<mime>;base64,…` URL. */
export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string; detail?: string } };

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  /** Parts only when there is more than text (images); plain text is a string. */
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface ToolSpec {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatOptions {
  /** Model name as the upstream knows it; plugins fall back to their configured default. */
  model?: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  /** Native tools, only honoured by clients with `supportsTools`. */
  tools?: ToolSpec[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
  /** Cancels the upstream request and ends the stream with an AbortError. */
  signal?: AbortSignal;
  /** Overall deadline for the call in ms (default from plugin config). */
  timeoutMs?: number;
  /** Vendor-specific fields passed through to the upstream body unchanged. */
  extra?: Record<string, unknown>;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type ChatEvent =
  | { type: "text"; text: string }
  /** A piece of a native tool call; `index` groups pieces of the same call, as in OpenAI's stream. */
  | { type: "tool_call"; index: number; id?: string; name?: string; arguments?: string }
  | { type: "finish"; reason: string; usage?: Usage };

export interface ModelClient {
  /** Plugin name, e.g. "openai". */
  readonly name: string;
  /** True when the upstream does function calling itself (tools are sent natively). */
  readonly supportsTools: boolean;
  /**
   * Which `image_url` parts the client passes upstream: "any" URL, or "data-only" (`data:` URLs with base64, for
   * upstreams that take the image bytes inline). Absent: none; callers refuse image parts rather than drop them.
   */
  readonly imageUrls?: "any" | "data-only";
  /** Streams one completion. Exactly one `finish` event ends a successful stream; failures throw ModelError. */
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<ChatEvent>;
  /**
   * Optional: the same events grouped as they arrived (one non-empty group per network read). A consumer that
   * handles a group at once (one write, one flush) saves an async step per event.
   */
  chatBatches?(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<ChatEvent[]>;
  /** Names of the models this client serves (for `GET /v1/models`). */
  models(): Promise<string[]>;
  /** Optional: one embedding vector per input text, in input order. Failures throw ModelError. */
  embed?(input: string[], options?: EmbedOptions): Promise<number[][]>;
}

export interface EmbedOptions {
  /** Embedding model name as the upstream knows it; plugins fall back to their configured default. */
  model?: string;
  /** What the texts are for, where the upstream distinguishes them (DashScope's `text_type`). */
  purpose?: "document" | "query";
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What a model plugin's `setup` returns. */
export interface ModelPluginInstance {
  client: ModelClient;
}

export const modelShape = {
  client: { name: "string", chat: "function", models: "function" },
} satisfies ShapeOf<ModelPluginInstance>;

/** A client's events in groups: its own when it has them, else one event per group. */
export function chatBatches(client: ModelClient, messages: ChatMessage[], options?: ChatOptions): AsyncIterable<ChatEvent[]> {
  return client.chatBatches ? client.chatBatches(messages, options) : oneByOne(client.chat(messages, options));
}

async function* oneByOne(events: AsyncIterable<ChatEvent>): AsyncGenerator<ChatEvent[]> {
  for await (const event of events) yield [event];
}

/** An upstream failure; `status` is the upstream HTTP status when there was one, `retryable` says if we retried. */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super(message);
    this.name = "ModelError";
  }
}
