/** Configuration of the client for vLLM's OpenAI-compatible server. */
import { Type, type Static } from "@sinclair/typebox";
import { HttpSettings } from "../../protocol/model-http/settings.ts";

export const VLLM_DEFAULTS = {
  api_base: "http://localhost:8000/v1",
  /** What vLLM expects when it runs without --api-key (any value is accepted then). */
  api_key: "EMPTY",
  /** vLLM rejects tools unless started with --enable-auto-tool-choice and a --tool-call-parser. */
  supports_tools: false,
  /** vLLM sets no limit of its own; this keeps one request's work bounded. */
  embedding_batch_size: 256,
} as const;

export const VllmConfig = Type.Object(
  {
    api_base: Type.Optional(Type.String({ minLength: 1, default: VLLM_DEFAULTS.api_base, description: "Base URL up to /v1" })),
    api_key: Type.Optional(Type.String({ description: `The server's --api-key; "${VLLM_DEFAULTS.api_key}" when absent` })),
    model: Type.String({ minLength: 1, description: "Served model name used when a request names none" }),
    models: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: "Models to list; when absent they are fetched from GET {api_base}/models" }),
    ),
    supports_tools: Type.Optional(
      Type.Boolean({ default: VLLM_DEFAULTS.supports_tools, description: "True only if the server runs with --enable-auto-tool-choice" }),
    ),
    embedding_model: Type.Optional(
      Type.String({ minLength: 1, description: "Served embedding model of embed() calls that name none (POST {api_base}/embeddings); default: model" }),
    ),
    embedding_batch_size: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2048, default: VLLM_DEFAULTS.embedding_batch_size, description: "Most texts per embeddings request" }),
    ),
    supports_images: Type.Optional(
      Type.Boolean({ default: true, description: "Pass image_url content parts on (false: requests with images are refused with a 400)" }),
    ),
    ...HttpSettings,
  },
  { additionalProperties: false },
);

export type VllmConfig = Static<typeof VllmConfig>;
