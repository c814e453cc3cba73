import type { ModelClient } from "../../../../core/kinds/model.ts";
import type { PluginContext } from "../../../../core/plugin.ts";
import type { KnowledgeSettings } from "./config.ts";
import { KnowledgeStore, type Embedder } from "./store.ts";

/** The knowledge store in the plugin's database, with the configured embeddings model when there is one. */
export function openKnowledge(ctx: PluginContext<{ knowledge: KnowledgeSettings }>): KnowledgeStore {
  const settings = ctx.config.knowledge;
  if (settings.chunk_overlap >= settings.chunk_chars) {
    throw new Error(`knowledge.chunk_overlap (${settings.chunk_overlap}) must be smaller than knowledge.chunk_chars (${settings.chunk_chars})`);
  }
  let embedder: Embedder | undefined;
  if (settings.embeddings) {
    const { model_plugin, model, batch_size, timeout_ms, query_timeout_ms } = settings.embeddings;
    const client: ModelClient = ctx.use(model_plugin, "model").client;
    if (typeof client.embed !== "function") throw new Error(`knowledge.embeddings.model_plugin: model plugin '${model_plugin}' offers no embeddings (embed)`);
    embedder = { client: client as Embedder["client"], model, key: `${model_plugin}/${model ?? "default"}`, batchSize: batch_size, timeoutMs: timeout_ms, queryTimeoutMs: query_timeout_ms };
  }
  return new KnowledgeStore(ctx.db(), embedder, (error) =>
    ctx.log.warn("query embedding failed; ranking by BM25 only", { model: embedder?.key, error: error instanceof Error ? error.message : String(error) }),
  );
}
