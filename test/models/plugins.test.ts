import { afterAll, expect, test } from "bun:test";
import type { ChatEvent, ModelClient } from "../../core/kinds/model.ts";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const seen: { auth: string | null }[] = [];
const upstream = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    seen.push({ auth: req.headers.get("authorization") });
    const frames = [
      { choices: [{ index: 0, delta: { role: "assistant", content: "hi" }, finish_reason: null }] },
      { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
      { choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
    ];
    const body = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("") + "data: [DONE]\n\n";
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  },
});
const project = tempProject();
afterAll(() => {
  upstream.stop(true);
  project.remove();
});

async function collect(client: ModelClient): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const e of client.chat([{ role: "user", content: "hello" }])) events.push(e);
  return events;
}

test("model plugins load through the kernel: key from the declared env var, host from the configured base URL", async () => {
  const config = project.config(`plugins:\n  echo: {}\n  openai:\n    api_base: http://127.0.0.1:${upstream.port}/v1\n    model: m\n`);
  const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, OPENAI_API_KEY: "sk-from-env-123" } });
  const openai = kernel.plugins.find((p) => p.definition.name === "openai")!;
  expect(openai.permissions).toEqual({ net: [`127.0.0.1:${upstream.port}`], env: ["OPENAI_API_KEY"] });
  await kernel.start();
  try {
    const events = await collect(kernel.instance<{ client: ModelClient }>("openai")!.client);
    expect(events[0]).toEqual({ type: "text", text: "hi" });
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "stop", usage: { total_tokens: 2 } });
    expect(seen.at(-1)!.auth).toBe("Bearer sk-from-env-123");
    const echo = await collect(kernel.instance<{ client: ModelClient }>("echo")!.client);
    expect(echo.filter((e) => e.type === "text").map((e: any) => e.text).join("")).toBe("hello");
  } finally {
    await kernel.stop();
  }
});

test("a dashscope plugin without a key fails at setup with a message saying where to put it", async () => {
  const config = project.config(`plugins:\n  dashscope:\n    model: qwen-max\n`);
  const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: {} });
  const error = await kernel.start().catch((e) => e);
  expect(error.message).toContain("plugin 'dashscope': setup failed: no API key");
});
