/** Configuration of the OpenAI chat-completions client (also any OpenAI-compatible server). */
import { Type, type Static } from "@sinclair/typebox";
import { HttpSettings } from "../model-http/settings.ts";

export const OPENAI_DEFAULTS = {
  api_base: "https://api.openai.com/v1",
  supports_tools: true,
  include_usage: true,
  embedding_model: "text-embedding-3-small",
  /** The most inputs OpenAI's /embeddings takes in one request. */
  embedding_batch_size: 2048,
} as const;

export const OpenAIConfig = Type.Object(
  {
    api_base: Type.Optional(Type.String({ minLength: 1, default: OPENAI_DEFAULTS.api_base, description: "Base URL up to /v1" })),
    api_key: Type.Optional(Type.String({ description: "Sent as Authorization: Bearer; no header when absent" })),
    model: Type.String({ minLength: 1, description: "Model used when a request names none" }),
    models: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: "Models to list; when absent they are fetched from GET {api_base}/models" }),
    ),
    supports_tools: Type.Optional(Type.Boolean({ default: OPENAI_DEFAULTS.supports_tools, description: "Send tools natively" })),
    supports_images: Type.Optional(
      Type.Boolean({ default: true, description: "Pass image_url content parts on (false: requests with images are refused with a 400)" }),
    ),
    include_usage: Type.Optional(
      Type.Boolean({ default: OPENAI_DEFAULTS.include_usage, description: "Send stream_options.include_usage (off for servers that reject it)" }),
    ),
    embedding_model: Type.Optional(
      Type.String({ minLength: 1, default: OPENAI_DEFAULTS.embedding_model, description: "Model of embed() calls that name none (POST {api_base}/embeddings)" }),
    ),
    embedding_batch_size: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2048, default: OPENAI_DEFAULTS.embedding_batch_size, description: "Most texts per embeddings request" }),
    ),
    ...HttpSettings,
  },
  { additionalProperties: false },
);

export type OpenAIConfig = Static<typeof OpenAIConfig>;
