import type { ChatOptions } from "../../../core/kinds/model.ts";
import { setIfDefined } from "./shape.ts";

/** The sampling options every vendor takes; only the name of the token limit differs (Ollama: num_predict). */
export function samplingFields(options: ChatOptions, maxTokensName = "max_tokens"): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  setIfDefined(fields, "temperature", options.temperature);
  setIfDefined(fields, "top_p", options.top_p);
  setIfDefined(fields, maxTokensName, options.max_tokens);
  if (options.stop?.length) fields.stop = options.stop;
  setIfDefined(fields, "seed", options.seed);
  return fields;
}
