/**
 * The hybrid path through a real model plugin: the openai plugin pointed at a loopback server that speaks OpenAI's
 * `/v1/embeddings` wire format (vectors from a bag of words that folds a few synonyms together). Upload sends the
 * chunks, a search sends the query, and a query that shares no word with its document finds it through the vectors.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { KnowledgeBase } from "../../plugins/services/assistant/knowledge/contract.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const synonyms: Record<string, string> = { automobile: "car", vehicle: "car", physician: "doctor" };
function vectorOf(text: string): number[] {
  const vector = new Array(64).fill(0);
  for (const raw of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    const word = synonyms[raw] ?? raw;
    let h = 2166136261;
    for (const c of word) h = Math.imul(h ^ c.codePointAt(0)!, 16777619) >>> 0;
    vector[h % 64] += 1;
  }
  return vector;
}

describe("knowledge with the openai plugin's embeddings (loopback /v1/embeddings)", () => {
  const received: { model: string; input: string[] }[] = [];
  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/embeddings") return new Response("not found", { status: 404 });
      const body = (await req.json()) as { model: string; input: string[] };
      received.push({ model: body.model, input: body.input });
      return Response.json({
        object: "list",
        data: body.input.map((text, index) => ({ object: "embedding", index, embedding: vectorOf(text) })),
        model: body.model,
        usage: { prompt_tokens: 1, total_tokens: 1 },
      });
    },
  });
  const project = tempProject("rock-kb-openai-");
  let kernel: Kernel;
  let base: string;
  let kb: KnowledgeBase;

  beforeAll(async () => {
    const config = project.config(`data_dir: ${join(project.root, "data")}
plugins:
  echo: {}
  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: chat-unused
    max_retries: 0
  assistant:
    port: 0
    knowledge:
      embeddings: {model_plugin: openai, model: emb-test}
`);
    kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
    await kernel.start();
    base = kernel.server("assistant")!.url;
    kb = kernel.instance<{ knowledge: KnowledgeBase }>("assistant")!.knowledge;
  });

  afterAll(async () => {
    await kernel?.stop();
    upstream.stop(true);
    project.remove();
  });

  test("upload embeds the chunks; a search embeds the query and finds a synonym through the vectors", async () => {
    const form = new FormData();
    form.append("uuid_str", "olga");
    form.append("files", new File(["The car needs new brake pads before winter."], "garage.txt"));
    form.append("files", new File(["Sourdough bread rises overnight."], "bakery.txt"));
    const res = await fetch(`${base}/v1/files`, { method: "POST", body: form });
    expect(res.status).toBe(200);
    expect(received).toEqual([{ model: "emb-test", input: ["The car needs new brake pads before winter.", "Sourdough bread rises overnight."] }]);

    const hits = await kb.search("olga", "automobile", { limit: 1 });
    expect(received.at(-1)).toEqual({ model: "emb-test", input: ["automobile"] });
    expect(hits.map((h) => h.file)).toEqual(["garage.txt"]);
  });

  test("an embeddings server that fails at upload: 502 naming the model, nothing stored", async () => {
    upstream.reload({ fetch: () => new Response(JSON.stringify({ error: { message: "overloaded" } }), { status: 500 }) });
    const form = new FormData();
    form.append("uuid_str", "pete");
    form.append("files", new File(["words"], "a.txt"));
    const res = await fetch(`${base}/v1/files`, { method: "POST", body: form });
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.message).toContain("embeddings model 'openai/emb-test' failed");
    expect(await kb.hasIndex("pete")).toBe(false);
  });
});
