/**
 * The model service takes a chat request as a pydantic-based client (the openai Python SDK through LiteLLM, ROCK's
 * agents) serialises it, unset optional fields as null: local mode writes it to the log as sent and answers JSON
 * (`stream: null` is not a stream), proxy mode forwards it byte for byte, as ROCK's model service does.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { appendRecord, responseLine } from "../../plugins/programs/model-service/log-records.ts";
import { startModelService, type RunningService } from "../../plugins/programs/model-service/server.ts";
import { silentLog } from "../../plugins/programs/model-service/service-log.ts";
import { resolveSettings } from "../../plugins/programs/model-service/settings.ts";
import { repoRoot } from "./support/service.ts";
import { scriptedUpstream } from "./support/scripted-upstream.ts";

const base = join(repoRoot, "test", ".tmp", "model-service");
mkdirSync(base, { recursive: true });
const dir = mkdtempSync(join(base, "nulls-"));
const completion = JSON.stringify({ id: "c1", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }] });
const upstream = scriptedUpstream(() => new Response(completion, { headers: { "content-type": "application/json" } }));
const services: RunningService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  upstream.stop();
  rmSync(dir, { recursive: true, force: true });
});

const request = JSON.stringify({
  model: "m",
  messages: [{ role: "user", content: "hi", name: null, tool_calls: null, tool_call_id: null }],
  stream: null,
  stream_options: null,
  tools: null,
  tool_choice: null,
  temperature: null,
  max_tokens: null,
  stop: null,
});
const post = (service: RunningService) => fetch(`${service.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: request });

describe("optional fields sent as null", () => {
  test("proxy mode forwards them byte for byte and returns the upstream's JSON", async () => {
    const settings = resolveSettings({ type: "proxy", host: "127.0.0.1", port: "0", "log-file": join(dir, "proxy.log"), "proxy-base-url": upstream.url }, {});
    const service = startModelService(settings, silentLog);
    services.push(service);
    const response = await post(service);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(completion);
    expect(upstream.seen.at(-1)!.body).toBe(request);
  });

  test("local mode logs the request as sent and answers the trainer's response as JSON", async () => {
    const logFile = join(dir, "local.log");
    const settings = resolveSettings({ type: "local", host: "127.0.0.1", port: "0", "log-file": logFile }, {});
    const service = startModelService(settings, silentLog);
    services.push(service);
    const answer = post(service);
    let line: RegExpExecArray | null = null;
    for (let i = 0; i < 200 && !line; i++) {
      if (await Bun.file(logFile).exists()) line = /LLM_REQUEST_START(.*)LLM_REQUEST_END(.*)$/m.exec(await Bun.file(logFile).text());
      if (!line) await Bun.sleep(10);
    }
    // ROCK's json.dumps spacing; the same value, nulls included.
    expect(JSON.parse(line![1])).toEqual(JSON.parse(request));
    appendRecord(logFile, responseLine(completion, JSON.parse(line![2]).index));
    const response = await answer;
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(await response.text()).choices[0].message.content).toBe("ok");
  });
});
