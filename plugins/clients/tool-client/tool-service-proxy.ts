/**
 * A tool that runs behind the tool manager, used like a local one (the original's `ToolServiceProxy`): create its
 * instance, wait until the node answers, read its name, description and parameters, then `call` it. Defaults
 * follow the original: `TOOL_MANAGER_SERVICE_URL` (else http://localhost:31511) and `TOOL_MANAGER_AUTH`.
 */
import { normaliseParameters, type JsonSchema } from "../../protocol/function-calling/parameters.ts";
import type { CreateTool, ErrorBody, ExecuteTool, InstanceStatus, NodeOutput, Success, ToolInfo, ToolTarget } from "../../protocol/tool-manager/schemas.ts";
import { ToolServiceError } from "./errors.ts";

export interface ToolServiceProxyOptions {
  toolName: string;
  toolCfg?: Record<string, unknown>;
  tenantId?: string;
  managerUrl?: string;
  /** The tenant's token (sent as `Authorization: Bearer`). */
  token?: string;
  /** Forwarded as `X-Modelscope-Agent-Token`. */
  userToken?: string;
  /** Image of the node's container; the manager's default when absent. */
  toolImage?: string;
  fetch?: typeof fetch;
  /** Deadline of one HTTP call to the manager (execute calls have the manager's own deadline too). */
  requestTimeoutMs?: number;
}

export type { InstanceStatus };

/** The manager's answer: its envelope with `output`, or an error without. */
type Envelope<T> = Success<T> | (ErrorBody & { output?: undefined });

export class ToolServiceProxy {
  readonly toolName: string;
  readonly tenantId: string;
  readonly managerUrl: string;
  description = "";
  /** JSON Schema (asked for with `parameters_format=json_schema`; a manager that ignores it answers the list form). */
  parameters: unknown = [];
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: ToolServiceProxyOptions) {
    this.toolName = options.toolName;
    this.tenantId = options.tenantId ?? "default";
    this.managerUrl = (options.managerUrl ?? process.env.TOOL_MANAGER_SERVICE_URL ?? "http://localhost:31511").replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? fetch;
    const token = options.token ?? process.env.TOOL_MANAGER_AUTH ?? "";
    this.headers = {
      "content-type": "application/json",
      ...(token ? { authorization: /\s/.test(token) ? token : `Bearer ${token}` } : {}),
      ...(options.userToken ? { "x-modelscope-agent-token": options.userToken } : {}),
    };
  }

  /** Creates the instance, waits until it runs and reads its description: ready to `call`. */
  static async open(options: ToolServiceProxyOptions & { startTimeoutMs?: number }): Promise<ToolServiceProxy> {
    const proxy = new ToolServiceProxy(options);
    await proxy.create();
    await proxy.waitUntilRunning({ timeoutMs: options.startTimeoutMs });
    await proxy.info();
    return proxy;
  }

  /** The arguments' JSON Schema (the list form converted). */
  get schema(): JsonSchema {
    return normaliseParameters(this.parameters);
  }

  private async request<T>(path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    const url = `${this.managerUrl}${path}${query ? `?${new URLSearchParams(query)}` : ""}`;
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        method: body === undefined ? "GET" : "POST",
        headers: this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 120_000),
      });
    } catch (error) {
      throw new ToolServiceError(`the tool manager at ${this.managerUrl} cannot be reached: ${(error as Error).message}`);
    }
    const text = await response.text();
    let envelope: Envelope<T>;
    try {
      envelope = JSON.parse(text);
    } catch {
      throw new ToolServiceError(`the tool manager answered ${response.status} without JSON: ${text.slice(0, 200)}`, response.status);
    }
    if (!response.ok) throw new ToolServiceError(`tool '${this.toolName}' (tenant ${this.tenantId}): ${envelope.message}`, response.status);
    return envelope.output as T;
  }

  private get target(): ToolTarget & { tenant_id: string } {
    return { tool_name: this.toolName, tenant_id: this.tenantId };
  }

  async create(): Promise<InstanceStatus> {
    const body: CreateTool = { ...this.target, tool_cfg: this.options.toolCfg ?? {}, ...(this.options.toolImage ? { tool_image: this.options.toolImage } : {}) };
    const output = await this.request<NodeOutput>("/create_tool_service", body);
    if (output.status !== "pending" && output.status !== "running") throw new ToolServiceError(`creating tool '${this.toolName}' answered status ${output.status}`);
    return output.status;
  }

  async status(): Promise<InstanceStatus> {
    return (await this.request<NodeOutput>("/check_tool_service_status", undefined, this.target)).status;
  }

  /** Polls until the instance runs; a `failed` instance throws its reason at once. */
  async waitUntilRunning(options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const reply = await this.request<NodeOutput>("/check_tool_service_status", undefined, this.target).catch((error) => error as Error);
      if (!(reply instanceof Error) && reply.status === "running") return;
      if (reply instanceof Error || reply.status === "failed" || reply.status === "exited") {
        const reason = reply instanceof Error ? reply.message : await this.failureReason();
        throw new ToolServiceError(`tool node ${this.toolName}_${this.tenantId} did not start: ${reason}`);
      }
      if (Date.now() >= deadline) throw new ToolServiceError(`tool node ${this.toolName}_${this.tenantId} was not running within ${options.timeoutMs ?? 60_000} ms`);
      await Bun.sleep(options.intervalMs ?? 100);
    }
  }

  private async failureReason(): Promise<string> {
    const response = await this.fetchFn(`${this.managerUrl}/check_tool_service_status?${new URLSearchParams(this.target)}`, { headers: this.headers });
    const envelope = (await response.json().catch(() => ({}))) as Partial<Envelope<NodeOutput>>;
    return envelope.message || `status ${envelope.output?.status ?? "unknown"}`;
  }

  async info(): Promise<ToolInfo> {
    const output = await this.request<ToolInfo>("/tool_info", this.target, { parameters_format: "json_schema" });
    this.description = output.description;
    this.parameters = output.parameters;
    return output;
  }

  /** Runs the tool; `params` as the original took them (a JSON string) or as an object. Returns the tool's output. */
  call(params: string | Record<string, unknown>, kwargs: Record<string, unknown> = {}): Promise<unknown> {
    const body: ExecuteTool = { ...this.target, params, kwargs };
    return this.request("/execute_tool", body);
  }

  async remove(): Promise<void> {
    await this.request("/remove_tool", this.target);
  }
}
