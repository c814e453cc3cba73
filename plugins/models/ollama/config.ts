/** Configuration of the client for an Ollama server's /api/chat. */
import { Type, type Static } from "@sinclair/typebox";
import { HttpSettings } from "../../protocol/model-http/settings.ts";

export const OLLAMA_DEFAULTS = {
  host: "http://localhost:11434",
  supports_tools: true,
  embedding_model: "nomic-embed-text",
  /** Ollama sets no limit of its own; this keeps one request's work bounded. */
  embedding_batch_size: 256,
} as const;

export const OllamaConfig = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, default: OLLAMA_DEFAULTS.host, description: "Server origin" })),
    api_key: Type.Optional(Type.String({ description: "Bearer token for an Ollama behind an authenticating proxy" })),
    model: Type.String({ minLength: 1, description: "Model used when a request names none; must already be pulled" }),
    models: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: "Models to list; when absent they are fetched from GET {host}/api/tags" }),
    ),
    supports_tools: Type.Optional(
      Type.Boolean({ default: OLLAMA_DEFAULTS.supports_tools, description: "Send tools natively (needs a tool-capable model)" }),
    ),
    supports_images: Type.Optional(
      Type.Boolean({ default: true, description: "Pass images on, inline (data: URLs only; false: requests with images are refused with a 400)" }),
    ),
    keep_alive: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: "How long Ollama keeps the model loaded" })),
    embedding_model: Type.Optional(
      Type.String({ minLength: 1, default: OLLAMA_DEFAULTS.embedding_model, description: "Model of embed() calls that name none (POST {host}/api/embed); must already be pulled" }),
    ),
    embedding_batch_size: Type.Optional(
      Type.Integer({ minimum: 1, default: OLLAMA_DEFAULTS.embedding_batch_size, description: "Most texts per /api/embed request" }),
    ),
    ...HttpSettings,
  },
  { additionalProperties: false },
);

export type OllamaConfig = Static<typeof OllamaConfig>;
