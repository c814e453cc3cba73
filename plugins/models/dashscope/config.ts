/** Configuration of the client for DashScope's native text-generation API. */
import { Type, type Static } from "@sinclair/typebox";
import { HttpSettings } from "../../protocol/model-http/settings.ts";

export const DASHSCOPE_DEFAULTS = {
  api_base: "https://dashscope.aliyuncs.com",
  incremental_output: false,
  embedding_model: "text-embedding-v3",
  /** The most texts text-embedding-v3 and v4 take in one request (v1 and v2: 25). */
  embedding_batch_size: 10,
} as const;

export const DASHSCOPE_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation";
export const DASHSCOPE_EMBEDDING_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding";
/** Qwen-VL and other models that see images: content is a list of `{text}` / `{image}` items. */
export const DASHSCOPE_MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation";

export const DashScopeConfig = Type.Object(
  {
    api_base: Type.Optional(
      Type.String({
        minLength: 1,
        default: DASHSCOPE_DEFAULTS.api_base,
        description: "Origin only, e.g. https://dashscope-intl.aliyuncs.com; the generation path is appended",
      }),
    ),
    api_key: Type.String({ minLength: 1, description: "DashScope API key (Authorization: Bearer)" }),
    model: Type.String({ minLength: 1, description: "Model used when a request names none, e.g. qwen-max" }),
    models: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "Models to list (the native API has no listing)" })),
    incremental_output: Type.Optional(
      Type.Boolean({
        default: DASHSCOPE_DEFAULTS.incremental_output,
        description: "Ask for delta frames; when false the cumulative frames are diffed here",
      }),
    ),
    embedding_model: Type.Optional(
      Type.String({ minLength: 1, default: DASHSCOPE_DEFAULTS.embedding_model, description: "Model of embed() calls that name none (native text-embedding API)" }),
    ),
    embedding_batch_size: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 25, default: DASHSCOPE_DEFAULTS.embedding_batch_size, description: "Most texts per request: 10 for v3/v4, 25 for v1/v2" }),
    ),
    supports_images: Type.Optional(
      Type.Boolean({ default: true, description: "Send requests with images to the multimodal-generation API (false: requests with images are refused with a 400)" }),
    ),
    ...HttpSettings,
  },
  { additionalProperties: false },
);

export type DashScopeConfig = Static<typeof DashScopeConfig>;
