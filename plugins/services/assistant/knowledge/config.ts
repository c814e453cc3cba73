import { Type, type Static } from "@sinclair/typebox";

export const EmbeddingsSettings = Type.Object({
  model_plugin: Type.String({ minLength: 1, description: "A model plugin that offers embed (openai, vllm, ollama, dashscope)" }),
  model: Type.Optional(Type.String({ minLength: 1, description: "Embedding model name; the plugin's default when absent" })),
  batch_size: Type.Integer({ default: 32, minimum: 1, maximum: 2048, description: "Texts per embed call at upload" }),
  timeout_ms: Type.Integer({ default: 30_000, minimum: 100, description: "Deadline of one embed call at upload" }),
  query_timeout_ms: Type.Integer({ default: 5_000, minimum: 10, description: "Deadline of a query's embedding; past it the search ranks by BM25 alone" }),
});

export const KnowledgeSettings = Type.Object(
  {
    max_file_bytes: Type.Integer({ default: 20 * 1024 * 1024, minimum: 1, description: "Largest file accepted by /v1/files (413 above)" }),
    max_files_per_request: Type.Integer({ default: 20, minimum: 1 }),
    max_files_per_user: Type.Integer({ default: 1000, minimum: 1 }),
    extract_timeout_ms: Type.Integer({ default: 30_000, minimum: 100, description: "Longest extraction of one file (a file past it: 400)" }),
    chunk_chars: Type.Integer({ default: 800, minimum: 50, description: "Longest chunk in characters" }),
    chunk_overlap: Type.Integer({ default: 120, minimum: 0, description: "Characters a chunk repeats of the one before (whole sentences)" }),
    embeddings: Type.Optional(EmbeddingsSettings),
  },
  { default: {} },
);
export type KnowledgeSettings = Static<typeof KnowledgeSettings>;
