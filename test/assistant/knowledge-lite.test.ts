/**
 * Upload → index → retrieval → the knowledge block in the model's prompt: files posted to `/v1/files`, then
 * `/v1/assistants/lite` with `use_knowledge`, the assistant's `openai` model plugin pointed at a loopback
 * OpenAI-compatible server that records what it receives. Also: `files` as the filter, an index without a match
 * (no block), and no index at all (the original's 400), also after the last file is deleted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const received: { messages: { role: string; content: string }[] }[] = [];
const upstream = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    if (request.method === "GET") return Response.json({ object: "list", data: [] });
    const body = await request.json();
    received.push(body);
    const frame = (delta: object, finish: string | null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    return new Response(frame({ content: "From the notes." }, null) + frame({}, "stop") + "data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } });
  },
});

const fixtures = join(import.meta.dir, "fixtures", "knowledge");
const project = tempProject("rock-kb-lite-");
let kernel: Kernel;
let base: string;

beforeAll(async () => {
  const config = project.config(`data_dir: ${join(project.root, "data")}
plugins:
  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0
  assistant:
    port: 0
    model_server: openai
`);
  kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
  await kernel.start();
  base = kernel.server("assistant")!.url;
});

afterAll(async () => {
  await kernel?.stop();
  upstream.stop(true);
  project.remove();
});

async function ask(question: string, extra: Record<string, unknown> = {}) {
  const before = received.length;
  const res = await fetch(`${base}/v1/assistants/lite`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: question }],
      llm_config: { model: "plain", model_server: "openai", api_key: "unused" },
      agent_config: { instruction: "Be brief.", tools: [] },
      use_knowledge: true,
      uuid_str: "nina",
      ...extra,
    }),
  });
  return { status: res.status, body: (await res.json()) as any, system: received.slice(before)[0]?.messages[0].content };
}

describe("/v1/files feeding /v1/assistants/lite", () => {
  test("before any upload: the original's 400 'No valid knowledge contents.'", async () => {
    const { status, body } = await ask("How often does the fog signal sound?");
    expect(status).toBe(400);
    expect(body.message).toBe("No valid knowledge contents.");
  });

  test("after an upload, the matching chunk is in the knowledge block the model receives", async () => {
    const form = new FormData();
    form.append("uuid_str", "nina");
    for (const name of ["lighthouse.pdf", "orchard.docx"]) form.append("files", new File([readFileSync(join(fixtures, name))], name));
    expect((await fetch(`${base}/v1/files`, { method: "POST", body: form })).status).toBe(200);

    const { status, body, system } = await ask("How often does the fog signal sound?");
    expect(status).toBe(200);
    expect(body.output.response).toBe("From the notes.");
    expect(system).toStartWith("\n\n# Knowledge Base\n\n");
    expect(system).toContain("Its fog signal sounds every thirty seconds during heavy weather.");
    expect(system).not.toContain("quince");

    const zh = await ask("榅桲树什么时候开花？");
    expect(zh.system).toContain("果园的榅桲树在四月开花。");
  });

  test("knowledge_limit cuts the block; files filters it; no match leaves the block out", async () => {
    const cut = await ask("How often does the fog signal sound?", { knowledge_limit: 20 });
    expect(cut.system).toStartWith("\n\n# Knowledge Base\n\n");
    expect(cut.system.split("\n\n# Knowledge Base\n\n")[1].split("\n\n")[0].length).toBeLessThanOrEqual(20);

    const filtered = await ask("How often does the fog signal sound?", { files: ["orchard.docx"] });
    expect(filtered.status).toBe(200);
    expect(filtered.system).not.toContain("# Knowledge Base");

    const unrelated = await ask("Who wrote the symphony?");
    expect(unrelated.status).toBe(200);
    expect(unrelated.system).not.toContain("# Knowledge Base");
  });

  test("once the last file is deleted there is no index: the 400 again", async () => {
    for (const name of ["lighthouse.pdf", "orchard.docx"]) {
      expect((await fetch(`${base}/v1/files/${name}?uuid_str=nina`, { method: "DELETE" })).status).toBe(200);
    }
    const { status, body } = await ask("How often does the fog signal sound?");
    expect(status).toBe(400);
    expect(body.message).toBe("No valid knowledge contents.");
  });
});
