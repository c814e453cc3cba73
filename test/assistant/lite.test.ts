/**
 * `POST /v1/assistants/lite` end to end: the assistant with the real `openai` model plugin pointed at a loopback
 * OpenAI-compatible server that writes ReAct text, and the tool plugins in process. Asserts the three answer forms,
 * what the model received on each call, the 10-call cap, the original's failure observations and the 400s.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { KnowledgeBase, KnowledgeHit } from "../../plugins/services/assistant/knowledge/contract.ts";
import { AssistantLite } from "../../plugins/services/assistant/agent/lite.ts";
import { inProcessTool } from "../../plugins/services/assistant/agent/tools.ts";
import renewInstance from "../../plugins/tools/renew-instance/tool.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const received: any[] = [];
/** Requests of the `stall` model whose connection we closed. */
let stallsReleased = 0;

/** What the scripted model writes, by model name and by whether the conversation already holds an observation. */
function script(model: string, user: string): string {
  const observed = user.includes("Observation: <result>");
  switch (model) {
    case "renew":
      return observed ? "已为您续费三个月。" : '好的。\nAction: RenewInstance\nAction Input: {"instance_id": "i-123", "period": "3"}\n';
    case "forever":
      return 'Action: calculator\nAction Input: {"expression": "1+1"}\n';
    case "unknown":
      return observed ? "No such tool." : "Action: launch_rocket\nAction Input: {}\n";
    case "faulty":
      return observed ? "It failed." : 'Action: faulty_tool\nAction Input: {"mode": "throw"}\n';
    case "hang":
      return observed ? "Too slow." : 'Action: faulty_tool\nAction Input: {"mode": "hang"}\n';
    case "bad-args":
      return observed ? "Missing." : 'Action: RenewInstance\nAction Input: {"period": "3"}\n';
    case "runaway":
      // A backend that ignores the stop words and invents the observation itself.
      return observed ? "Two." : 'Action: calculator\nAction Input: {"expression": "1+1"}\nObservation: <result>3</result>\nAnswer: Three.';
    default:
      return `plain answer to ${user.slice(-20)}`;
  }
}

const upstream = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    if (request.method === "GET") return Response.json({ object: "list", data: [] });
    const body = await request.json();
    received.push(body);
    if (body.model === "stall") {
      // One token, then silence until the caller goes away.
      const token = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "tok" } }] })}\n\n`;
      return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(token)), cancel: () => void stallsReleased++ }), {
        headers: { "content-type": "text/event-stream" },
      });
    }
    if (body.model === "broken") return Response.json({ error: { message: "model melted" } }, { status: 400 });
    const text = script(body.model, body.messages.at(-1).content);
    const frames = (text.match(/[\s\S]{1,7}/g) ?? []).map((piece) => ({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }));
    const sse = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("");
    if (text.includes("Observation:")) {
      // The runaway backend also never ends its stream: the agent must stop reading at the marker.
      return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(sse)) }), { headers: { "content-type": "text/event-stream" } });
    }
    const end = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`;
    return new Response(sse + end, { headers: { "content-type": "text/event-stream" } });
  },
});

const project = tempProject();
let kernel: Kernel;
let base: string;

beforeAll(async () => {
  const config = project.config(`plugin_dirs: [${join(repoRoot, "test", "tools", "fixtures")}]
plugins:
  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0
  renew-instance: {}
  calculator: {}
  faulty-tool: {}
  assistant:
    port: 0
    model_server: openai
    tools: [renew-instance, calculator, faulty-tool]
    tool_timeout_ms: 300
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

const RENEW_SYSTEM =
  "\n# 工具\n\n## 你拥有如下工具：\n\n" +
  'RenewInstance: RenewInstance API。续费一台包年包月ECS实例 输入参数: {"type": "object", "properties": {"instance_id": {"type": "string", "description": "ECS实例ID"}, ' +
  '"period": {"type": "string", "description": "续费时长以月为单位"}}, "required": ["instance_id", "period"]} Format the arguments as a JSON object.' +
  "\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\n" +
  "Action: 工具的名称，必须是[RenewInstance]之一\nAction Input: 工具的输入\nObservation: <result>工具返回的结果</result>\n" +
  "Answer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n" +
  "\n# 指令\n\n你是一个云助手\n\n请注意：你具有图像和视频的展示能力，也具有运行代码的能力，不要在回复中说你做不到。\n";
const RENEW_TURN1 = '好的。\nAction: RenewInstance\nAction Input: {"instance_id": "i-123", "period": "3"}\n';
const RENEW_OBSERVATION = "\nObservation: <result>{'result': '已完成ECS实例ID为i-123的续费，续费时长3月'}</result>\nAnswer:";
const RENEW_RESPONSE = RENEW_TURN1 + RENEW_OBSERVATION + "已为您续费三个月。";

function agentRequest(model: string, extra: Record<string, unknown> = {}, tools: unknown[] = ["RenewInstance"]) {
  return {
    messages: [{ role: "user", content: "请帮我续费实例i-123三个月" }],
    llm_config: { model, model_server: "openai", api_key: "sk-ignored", generate_config: {} },
    agent_config: { name: "cloud", description: "cloud helper", instruction: "你是一个云助手", tools },
    ...extra,
  };
}

async function lite(body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${base}/v1/assistants/lite`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal });
}

function since(count: number) {
  return received.slice(count);
}

describe("/v1/assistants/lite: the RenewInstance loop", () => {
  test("plain answer: the original's envelope, and the observation fed back to the model's second call", async () => {
    const before = received.length;
    const response = await lite(agentRequest("renew"));
    const body = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(["message", "output", "request_id"]);
    expect(body).toEqual({ request_id: expect.stringMatching(/^[0-9a-f-]{36}$/), message: "", output: { response: RENEW_RESPONSE } });

    const calls = since(before);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ model: "renew", stream: true, stop: ["Observation:", "Observation:\n"] });
    expect(calls[0].messages).toEqual([
      { role: "system", content: RENEW_SYSTEM },
      { role: "user", content: "(。你可以使用工具：[RenewInstance])请帮我续费实例i-123三个月" },
    ]);
    expect(calls[1].messages[0].content).toBe(RENEW_SYSTEM);
    expect(calls[1].messages.at(-1)).toEqual({ role: "user", content: "(。你可以使用工具：[RenewInstance])请帮我续费实例i-123三个月" + RENEW_TURN1 + RENEW_OBSERVATION });
    // llm_config.api_key never reaches the upstream.
    expect(JSON.stringify(calls)).not.toContain("sk-ignored");
  });

  test("stream: the raw concatenated text, no framing and no content-type, as the original", async () => {
    const response = await lite(agentRequest("renew", { stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBeNull();
    expect(await response.text()).toBe(RENEW_RESPONSE);
  });

  test("stream with Accept: text/event-stream: typed events, ending with done", async () => {
    const response = await lite(agentRequest("renew", { stream: true }), { accept: "text/event-stream" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = (await response.text())
      .split("\n\n")
      .filter(Boolean)
      .map((frame) => {
        const [, type, data] = /^event: (\w+)\ndata: (.*)$/.exec(frame)!;
        return { type, data: JSON.parse(data) };
      });
    const kinds = events.map((e) => e.type).filter((t, i, all) => t !== "text" || all[i - 1] !== "text");
    expect(kinds).toEqual(["text", "tool_call", "observation", "text", "done"]);
    const text = (from: number, to: number) => events.slice(from, to).filter((e) => e.type === "text").map((e) => e.data.text).join("");
    const callAt = events.findIndex((e) => e.type === "tool_call");
    expect(text(0, callAt)).toBe(RENEW_TURN1);
    expect(events[callAt].data).toEqual({ name: "RenewInstance", arguments: '{"instance_id":"i-123","period":"3"}' });
    expect(events[callAt + 1].data).toEqual({ name: "RenewInstance", result: "{'result': '已完成ECS实例ID为i-123的续费，续费时长3月'}" });
    expect(text(callAt + 2, events.length)).toBe("已为您续费三个月。");
    expect(events.at(-1)!.data).toEqual({ request_id: expect.any(String), response: RENEW_RESPONSE, turns: 2 });
  });

  test("history: every message but the last, a leading system message dropped (as the original)", async () => {
    const before = received.length;
    const messages = [
      { role: "system", content: "ignored" },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "renew it" },
    ];
    const response = await lite({ ...agentRequest("plain", { lang: "en" }), messages });
    expect(response.status).toBe(200);
    expect(since(before)[0].messages.slice(1)).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "(. you can use tools: [RenewInstance])renew it" },
    ]);
    expect(since(before)[0].messages[0].content).toStartWith("\n# Tools\n\n## You have the following tools:\n\nRenewInstance: RenewInstance API。");
  });

  test("a client that leaves mid-stream ends the model call", async () => {
    const controller = new AbortController();
    const response = await lite(agentRequest("stall", { stream: true }), {}, controller.signal);
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("tok");
    controller.abort();
    const deadline = Date.now() + 3000;
    while (stallsReleased === 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(stallsReleased).toBe(1);
  });

  test("at most 10 model calls: a model that always acts is stopped after its tenth call's observation", async () => {
    const before = received.length;
    const response = await lite(agentRequest("forever", {}, ["calculator"]));
    const body = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(since(before)).toHaveLength(10);
    expect(body.output.response.split("\nObservation: <result>").length - 1).toBe(10);
    expect(body.output.response.endsWith('</result>\nAnswer:')).toBe(true);
    expect(since(before)[9].messages.at(-1).content.split("Observation: <result>").length - 1).toBe(9);
  });
});

describe("/v1/assistants/lite: tool failures become the original's observation text", () => {
  test("an Action naming no tool", async () => {
    const body = (await (await lite(agentRequest("unknown"))).json()) as any;
    expect(body.output.response).toBe("Action: launch_rocket\nAction Input: {}\n\nObservation: <result>Tool api launch_rocket failed to call. Args: {}.Details: 'launch_rocket'</result>\nAnswer:No such tool.");
  });

  test("a tool that throws", async () => {
    const body = (await (await lite(agentRequest("faulty", {}, ["faulty_tool"]))).json()) as any;
    expect(body.output.response).toContain('<result>Tool api faulty_tool failed to call. Args: {"mode":"throw"}.Details: thrown on purpose</result>\nAnswer:It failed.');
  });

  test("a tool that does not answer within tool_timeout_ms", async () => {
    const body = (await (await lite(agentRequest("hang", {}, ["faulty_tool"]))).json()) as any;
    expect(body.output.response).toEndWith('<result>Tool api faulty_tool failed to call. Args: {"mode":"hang"}.Details: timed out after 300 ms</result>\nAnswer:Too slow.');
  });

  test("arguments the tool's parameters refuse", async () => {
    const body = (await (await lite(agentRequest("bad-args"))).json()) as any;
    expect(body.output.response).toMatch(/<result>Tool api RenewInstance failed to call\. Args: \{"period":"3"\}\.Details: [^<]*instance_id[^<]*<\/result>\nAnswer:Missing\.$/);
  });

  test("a backend that ignores the stop words is cut at Observation: (its invented result never reaches the client)", async () => {
    const before = received.length;
    const body = (await (await lite(agentRequest("runaway", {}, ["calculator"]))).json()) as any;
    expect(body.output.response).toBe('Action: calculator\nAction Input: {"expression": "1+1"}\n\nObservation: <result>{"expression": "1+1", "result": 2}</result>\nAnswer:Two.');
    expect(since(before)).toHaveLength(2);
  });
});

describe("/v1/assistants/lite: bad input is a 400 naming the field", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["missing llm_config", { llm_config: undefined }, "llm_config"],
    ["missing agent_config (the original: 500)", { agent_config: undefined }, "agent_config"],
    ["an unknown model_server", { llm_config: { model: "x", model_server: "elsewhere" } }, "llm_config.model_server"],
    ["an unknown tool", { agent_config: { instruction: "", tools: ["RenewInstance", "launch_rocket"] } }, "agent_config.tools[1]"],
    ["use_tool_api without a tool manager", { use_tool_api: true }, "use_tool_api"],
    ["a lang that is neither zh nor en", { lang: "fr" }, "lang"],
    ["a knowledge_limit that is not a count", { knowledge_limit: -1 }, "knowledge_limit"],
    ["a uuid_str with path characters", { uuid_str: "../etc" }, "uuid_str"],
    ["no messages", { messages: [] }, "messages"],
    ["a history role the model cannot take", { messages: [{ role: "tool", content: "x" }, { role: "user", content: "q" }] }, "messages[0].role"],
  ];
  for (const [name, change, field] of cases) {
    test(name, async () => {
      const before = received.length;
      const response = await lite({ ...agentRequest("renew"), ...change });
      const body = (await response.json()) as any;
      expect(response.status).toBe(400);
      expect(body.request_id).toBeString();
      expect(body.message).toContain(field);
      expect(since(before)).toHaveLength(0);
    });
  }

  test("use_knowledge without any index: the original's 400", async () => {
    const response = await lite(agentRequest("renew", { use_knowledge: true }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ request_id: expect.any(String), message: "No valid knowledge contents." });
  });

  test("a model that fails before its first token: an HTTP error, also when streaming", async () => {
    for (const stream of [false, true]) {
      const response = await lite(agentRequest("broken", { stream }));
      expect(response.status).toBe(502);
      expect(((await response.json()) as any).message).toContain("upstream model 'openai' failed");
    }
  });
});

/** A knowledge base over a fixed list: our own contract, searched by words shared with the query. */
class ListKnowledge implements KnowledgeBase {
  searches: { uuid: string; query: string; files?: string[] }[] = [];
  constructor(private readonly chunks: Record<string, KnowledgeHit[]>) {}
  async hasIndex(uuid: string) {
    return Object.hasOwn(this.chunks, uuid);
  }
  async search(uuid: string, query: string, options: { files?: string[] } = {}) {
    this.searches.push({ uuid, query, files: options.files });
    const words = query.toLowerCase().split(/\W+/).filter((w) => w.length > 3);
    return (this.chunks[uuid] ?? []).filter((hit) => (!options.files || options.files.includes(hit.file)) && words.some((w) => hit.text.toLowerCase().includes(w)));
  }
}

describe("/v1/assistants/lite: knowledge (the loop with a KnowledgeBase)", () => {
  const knowledge = new ListKnowledge({
    alice: [
      { file: "ecs.md", text: "Renewal of an instance costs 10 credits per month.", score: 2 },
      { file: "faq.txt", text: "Instance renewal can be undone within a day.", score: 1 },
    ],
    empty: [],
  });
  const agent = () =>
    new AssistantLite({
      backend: (server) => (server === "openai" ? { name: "openai", client: kernel.use("openai", "model").client } : undefined),
      backends: ["openai"],
      localTools: new Map([["RenewInstance", inProcessTool(renewInstance)]]),
      knowledge,
      maxTurns: 10,
      toolTimeoutMs: 1000,
      log: kernel.log,
    });
  const ask = (extra: Record<string, unknown>) => ({
    messages: [{ role: "user", content: "What does instance renewal cost?" }],
    llm_config: { model: "plain", model_server: "openai" },
    agent_config: { instruction: "Be brief.", tools: [] },
    use_knowledge: true,
    ...extra,
  });

  test("hits joined into the original's knowledge block, cut to knowledge_limit, files passed as the filter", async () => {
    const before = received.length;
    const run = await agent().prepare(ask({ uuid_str: "alice", files: ["ecs.md"], knowledge_limit: 30 }) as any, new AbortController().signal);
    const answer = await agent().answer(run, "r1");
    expect(answer.output.response).toStartWith("plain answer to");
    expect(knowledge.searches.at(-1)).toEqual({ uuid: "alice", query: "What does instance renewal cost?", files: ["ecs.md"] });
    const [call] = since(before);
    expect(call.messages).toEqual([
      {
        role: "system",
        content:
          "\n\n# Knowledge Base\n\nRenewal of an instance costs 1\n\n" +
          "\n#Instructions\n\nBe brief.\n\nNote: you have the ability to display images and videos, as well as the ability to run code. Don't say you can't do it.\n",
      },
      { role: "user", content: "(. Please read the knowledge base at the beginning)What does instance renewal cost?" },
    ]);
  });

  test("all files and the default limit: every hit, joined by a blank line", async () => {
    const before = received.length;
    const run = await agent().prepare(ask({ uuid_str: "alice" }) as any, new AbortController().signal);
    await agent().answer(run, "r2");
    expect(since(before)[0].messages[0].content).toStartWith(
      "\n\n# Knowledge Base\n\nRenewal of an instance costs 10 credits per month.\n\nInstance renewal can be undone within a day.\n\n\n#Instructions",
    );
  });

  test("an index without a match: the agent runs without a knowledge block", async () => {
    const before = received.length;
    const run = await agent().prepare(ask({ uuid_str: "empty" }) as any, new AbortController().signal);
    await agent().answer(run, "r3");
    expect(since(before)[0].messages).toEqual([
      { role: "system", content: "\n#Instructions\n\nBe brief.\n\nNote: you have the ability to display images and videos, as well as the ability to run code. Don't say you can't do it.\n" },
      { role: "user", content: "What does instance renewal cost?" },
    ]);
  });

  test("no index at all: the original's 400", async () => {
    const error = await agent()
      .prepare(ask({ uuid_str: "nobody" }) as any, new AbortController().signal)
      .catch((e) => e);
    expect(error).toMatchObject({ status: 400, message: "No valid knowledge contents." });
  });
});
