/** Which model plugin serves a request: a per-model route from config, else the default backend. */
import { HttpError } from "../../../core/errors.ts";
import type { ModelClient } from "../../../core/kinds/model.ts";

/** The original's MODEL_SERVER names that differ from our plugin names. */
export const backendAliases: Record<string, string> = { "vllm-server": "vllm", azure_openai: "openai" };

export const backendName = (name: string) => backendAliases[name] ?? name;

/** `qwen*` matches any model starting with `qwen`; anything else matches exactly. */
function matches(pattern: string, model: string): boolean {
  return pattern.endsWith("*") ? model.startsWith(pattern.slice(0, -1)) : pattern === model;
}

export class BackendRouter {
  constructor(
    private readonly clients: Map<string, ModelClient>,
    private readonly routes: Record<string, string>,
    private readonly fallback: string,
    private readonly anyModel: boolean,
  ) {}

  /** The backend for `model`, or a 404 naming the model when it is not served. */
  async resolve(model: string): Promise<{ name: string; client: ModelClient }> {
    const routed = Object.entries(this.routes).find(([pattern]) => matches(pattern, model));
    const name = backendName(routed?.[1] ?? this.fallback);
    const client = this.clients.get(name)!;
    if (!routed && !this.anyModel && !(await client.models()).includes(model)) {
      throw new HttpError(404, `model '${model}' is not served here (see GET /v1/models)`, "model");
    }
    return { name, client };
  }

  /** The backend a client names (the original's `llm_config.model_server`), when this service has it. */
  server(server: string): { name: string; client: ModelClient } | undefined {
    const name = backendName(server);
    const client = this.clients.get(name);
    return client ? { name, client } : undefined;
  }

  get backends(): string[] {
    return [...this.clients.keys()];
  }

  /** Every model name served, with the backend that serves it. */
  async list(): Promise<{ id: string; owned_by: string }[]> {
    const out = new Map<string, string>();
    for (const [pattern, backend] of Object.entries(this.routes)) if (!pattern.endsWith("*")) out.set(pattern, backendName(backend));
    for (const [name, client] of this.clients) {
      for (const id of await client.models().catch(() => [] as string[])) if (!out.has(id)) out.set(id, name);
    }
    return [...out].map(([id, owned_by]) => ({ id, owned_by }));
  }
}
