/**
 * Optional (`execute_tools: true` with a `tool_manager`): the tool calls a model returns are run through the tool
 * manager, and the model is asked once more with their results, so that a non-stream completion comes back with the
 * answer instead of the calls. One proxy per tool, opened (created and awaited) on first use. A tool that fails
 * gives its error as the result: the model sees what went wrong rather than the client getting a 5xx.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { ToolCall } from "../../../core/kinds/model.ts";
import { registerSecret, type Logger } from "../../../core/log.ts";
import { ToolServiceProxy } from "../../clients/tool-client/index.ts";
import type { ChatCompletionRequest } from "../../protocol/openai-chat/request.ts";

export const ToolManagerSettings = Type.Object({
  url: Type.String({ default: "http://127.0.0.1:31511", description: "The tool manager" }),
  tenant: Type.String({ default: "default", minLength: 1 }),
  token: Type.String({ minLength: 1, secret: true, description: "The tenant's token" }),
  tool_cfg: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), { default: {}, description: "tool name → tool_cfg of its instance" }),
  start_timeout_ms: Type.Integer({ default: 60_000, minimum: 100 }),
});
export type ToolManagerSettings = Static<typeof ToolManagerSettings>;

export class ToolExecutor {
  private readonly proxies = new Map<string, Promise<ToolServiceProxy>>();

  constructor(
    private readonly settings: ToolManagerSettings,
    private readonly fetchFn: typeof fetch,
    private readonly log: Logger,
  ) {
    registerSecret(settings.token);
  }

  proxy(tool: string): Promise<ToolServiceProxy> {
    let proxy = this.proxies.get(tool);
    if (!proxy) {
      const { url, tenant, token, tool_cfg, start_timeout_ms } = this.settings;
      proxy = ToolServiceProxy.open({ toolName: tool, tenantId: tenant, managerUrl: url, token, toolCfg: tool_cfg[tool] ?? {}, fetch: this.fetchFn, startTimeoutMs: start_timeout_ms });
      // A failed open is not cached: the next request tries again.
      proxy.catch(() => this.proxies.delete(tool));
      this.proxies.set(tool, proxy);
    }
    return proxy;
  }

  private async result(call: ToolCall): Promise<string> {
    try {
      const output = await (await this.proxy(call.function.name)).call(call.function.arguments || "{}");
      return typeof output === "string" ? output : JSON.stringify(output);
    } catch (error) {
      this.log.warn("tool call failed", { tool: call.function.name, error: (error as Error).message });
      return `error: ${(error as Error).message}`;
    }
  }

  /** The request again, with the assistant's calls and one `tool` message per result appended. */
  async followUp(body: ChatCompletionRequest, content: string, calls: ToolCall[]): Promise<ChatCompletionRequest> {
    const results = await Promise.all(calls.map((call) => this.result(call)));
    const messages = [
      ...body.messages,
      { role: "assistant" as const, content: content || null, tool_calls: calls },
      ...calls.map((call, i) => ({ role: "tool" as const, tool_call_id: call.id, name: call.function.name, content: results[i] })),
    ];
    return { ...body, messages };
  }
}
