/** Configuration of the client for DashScope's native text-generation API. */
import { Type, type Static } from "@sinclair/typebox";
import { HttpSettings } from "../../protocol/model-http/settings.ts";

export const DASHSCOPE_DEFAULTS = {
  api_base: "https://dashscope.aliyuncs.com",
  incremental_output: false,
} as const;

export const DASHSCOPE_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation";
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
    supports_images: Type.Optional(
      Type.Boolean({ default: true, description: "Send requests with images to the multimodal-generation API (false: requests with images are refused with a 400)" }),
    ),
    ...HttpSettings,
  },
  { additionalProperties: false },
);

export type DashScopeConfig = Static<typeof DashScopeConfig>;
