/**
 * The tool manager's routes, as the original declared them (each with and without the trailing slash, which the
 * original answered with a redirect), in its envelope. Inputs come from the JSON body or the query string.
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import { t } from "elysia";
import { HttpError } from "../../../core/errors.ts";
import type { ServiceApp } from "../../../core/kinds/service.ts";
import { registerSecret } from "../../../core/log.ts";
import { parameterFormats, parametersIn, type ParameterFormat } from "../../protocol/tool-call/list-form.ts";
import { ToolConfigError, type PreparedTool } from "../../protocol/tool-call/prepared-tool.ts";
import * as M from "../../protocol/tool-manager/schemas.ts";
import { success } from "./envelope.ts";
import type { ToolInstance } from "./instance-records.ts";
import { nodeName, type ToolInstances } from "./instances.ts";
import { NodeTimeout, NodeUnreachable, type NodeClient, type NodeReply } from "./node-client.ts";
import { mountOpenAPIRoutes, openapiRoutePaths, type OpenAPIParts } from "./openapi-routes.ts";
import { mergeInput, objectField, optionalString, tenantId, toolName, type Context, type Method } from "./request-input.ts";
import type { TenantAuth } from "./tenant-auth.ts";

export interface ManagerParts {
  instances: ToolInstances;
  /** Tools this manager offers, by tool name. */
  catalog: Map<string, PreparedTool>;
  auth: TenantAuth;
  client: NodeClient;
  executeTimeoutMs: number;
  openapi: OpenAPIParts;
}

/**
 * The fields a route reads, documented from its schema: the routes check them themselves (in the original's envelope
 * and words), from the JSON body or, for GET, the query string.
 */
function documented(method: Method, schema: TObject): { detail: object } {
  if (method === "post") return { detail: { requestBody: { required: true, content: { "application/json": { schema } } } } };
  const required = new Set(schema.required ?? []);
  return { detail: { parameters: Object.entries(schema.properties).map(([name, s]) => ({ name, in: "query", required: required.has(name), schema: s })) } };
}

export const routePaths = ["/create_tool_service", "/check_tool_service_status", "/update_tool_service", "/remove_tool", "/tools", "/tool_info", "/execute_tool", ...openapiRoutePaths];

const requestIdOf = (ctx: Context) => String(ctx.set.headers["x-request-id"] ?? crypto.randomUUID());
const nodeOutput = (record: ToolInstance) => ({ tool_node_name: record.name, status: record.status });

/** The node's own error message, or its raw text when it sent no envelope. */
function nodeMessage(reply: NodeReply): string {
  try {
    const message = JSON.parse(reply.text)?.message;
    if (typeof message === "string" && message) return message;
  } catch {
    // not JSON
  }
  return `HTTP ${reply.status}: ${reply.text.slice(0, 300)}`;
}

export function mountToolManagerRoutes(app: ServiceApp, parts: ManagerParts) {
  const { instances, catalog, auth, client } = parts;

  function route(methods: Method[], path: string, schema: TObject, output: TSchema, handler: (ctx: Context) => unknown) {
    for (const method of methods) for (const p of [path, `${path}/`]) app[method](p, handler as any, { ...documented(method, schema), response: M.answers(output) } as any);
  }

  /** Caller, tool and tenant of a request that names a tool; 401/403 before anything else is looked at. */
  function target(ctx: Context) {
    const caller = auth.caller(ctx.request.headers);
    const values = mergeInput(ctx.query, ctx.body);
    const tool = toolName(values);
    const tenant = tenantId(values, caller.tenant);
    auth.allow(caller, tenant);
    return { values, tool, tenant, name: nodeName(tool, tenant) };
  }

  function offered(tool: string): PreparedTool {
    const prepared = catalog.get(tool);
    if (!prepared) throw new HttpError(404, `tool '${tool}' is not offered by this tool manager (tools: ${[...catalog.keys()].sort().join(", ") || "none"})`, "tool_name");
    return prepared;
  }

  /** The instance, ready for calls: 404 when there is none, 409 while it is not running. */
  function runningInstance(tool: string, name: string): ToolInstance {
    const record = instances.records.get(name);
    if (!record) {
      offered(tool);
      throw new HttpError(404, `Tool not found: no instance ${name} (create it with /create_tool_service)`);
    }
    if (record.status !== "running") throw new HttpError(409, `tool node ${name} is ${record.status}${record.error ? `: ${record.error}` : ""}`);
    return record;
  }

  async function nodeCall(name: string, what: string, call: () => Promise<NodeReply>): Promise<NodeReply> {
    try {
      const reply = await call();
      if (reply.status === 200) return reply;
      throw new HttpError(reply.status >= 400 && reply.status < 500 && reply.status !== 401 ? reply.status : 502, `${nodeMessage(reply)} (node ${name})`);
    } catch (error) {
      if (error instanceof NodeTimeout) throw new HttpError(504, `${what} for ${name} timed out: the node gave ${error.message}`);
      if (!(error instanceof NodeUnreachable)) throw error;
      const { record, crashed } = await instances.afterUnreachable(name);
      if (record?.status === "failed" && crashed) throw new HttpError(502, `${what} for ${name} failed: ${record.error}`);
      if (record && record.status !== "running") throw new HttpError(409, `tool node ${name} is ${record.status}${record.error ? `: ${record.error}` : ""}`);
      throw new HttpError(503, `${what} for ${name} failed: the node cannot be reached (${error.message}); try again`);
    }
  }

  function createSpec(ctx: Context) {
    const { values, tool, tenant, name } = target(ctx);
    const prepared = offered(tool);
    if (optionalString(values, "tool_url")) {
      throw new HttpError(400, "tool_url is not supported: tools are plugins bundled into the tool node binary", "tool_url");
    }
    const rawConfig = objectField(values, "tool_cfg");
    for (const secret of prepared.secretValues(rawConfig)) registerSecret(secret);
    let config: Record<string, unknown>;
    try {
      config = prepared.config(rawConfig);
    } catch (error) {
      if (error instanceof ToolConfigError) throw new HttpError(400, error.message, "tool_cfg");
      throw error;
    }
    return { name, spec: { tool_name: tool, tenant_id: tenant, config, image: optionalString(values, "tool_image") } };
  }

  app.all("/", () => ({ message: "Hello World" }), { response: M.Hello });

  route(["post"], "/create_tool_service", M.CreateTool, M.NodeOutput, async (ctx) => {
    const { spec } = createSpec(ctx);
    return success(requestIdOf(ctx), nodeOutput(await instances.create(spec)));
  });

  route(["post"], "/update_tool_service", M.CreateTool, M.NodeOutput, async (ctx) => {
    const { spec } = createSpec(ctx);
    return success(requestIdOf(ctx), nodeOutput(await instances.update(spec)));
  });

  route(["get", "post"], "/check_tool_service_status", M.ToolTarget, M.NodeOutput, async (ctx) => {
    const { name } = target(ctx);
    const record = await instances.refresh(name);
    if (!record) throw new HttpError(404, "Tool not found");
    return success(requestIdOf(ctx), nodeOutput(record), record.status === "failed" ? (record.error ?? "") : "");
  });

  route(["post", "get"], "/remove_tool", M.ToolTarget, M.NodeOutput, async (ctx) => {
    const { name } = target(ctx);
    const record = await instances.remove(name);
    if (!record) throw new HttpError(404, "Tool not found");
    return success(requestIdOf(ctx), nodeOutput(record));
  });

  route(["get", "post"], "/tools", M.TenantTarget, M.ToolList, (ctx) => {
    const caller = auth.caller(ctx.request.headers);
    const tenant = tenantId(mergeInput(ctx.query, ctx.body), caller.tenant);
    auth.allow(caller, tenant);
    const tools = Object.fromEntries(instances.records.ofTenant(tenant).map((r) => [r.name, r.status]));
    return success(requestIdOf(ctx), { tools });
  });

  // The original's list form unless the client asks for JSON Schema: its ToolServiceProxy reads only the list.
  route(["post", "get"], "/tool_info", M.ToolInfoRequest, M.ToolInfo, async (ctx) => {
    const { values, tool, name } = target(ctx);
    const format = (optionalString(values, "parameters_format") ?? "list") as ParameterFormat;
    if (!parameterFormats.includes(format)) throw new HttpError(400, `parameters_format must be one of ${parameterFormats.join(", ")}`, "parameters_format");
    const record = runningInstance(tool, name);
    const requestId = requestIdOf(ctx);
    const reply = await nodeCall(name, "tool_info", () => client.info(record.port, record.node_token, requestId, parts.executeTimeoutMs));
    const output = JSON.parse(reply.text).output;
    return success(requestId, { ...output, parameters: parametersIn(format, output.parameters) });
  });

  route(["post"], "/execute_tool", M.ExecuteTool, t.Unknown({ description: "The tool's result" }), async (ctx) => {
    const { values, tool, name } = target(ctx);
    const record = runningInstance(tool, name);
    const params = values.params;
    if (params === undefined || params === null || (typeof params === "string" && params.trim() === "")) {
      throw new HttpError(400, `The params of tool ${name} is empty.`, "params");
    }
    const requestId = requestIdOf(ctx);
    const kwargs = objectField(values, "kwargs");
    const reply = await nodeCall(name, `executing tool '${tool}'`, () =>
      client.execute(record.port, record.node_token, { params, kwargs, request_id: requestId }, parts.executeTimeoutMs),
    );
    // The node's envelope already carries this request's id: pass it through without parsing it.
    return new Response(reply.text, { headers: { "content-type": "application/json", "x-request-id": requestId } });
  });

  mountOpenAPIRoutes(route, { ...parts.openapi, auth, executeTimeoutMs: parts.executeTimeoutMs, requestIdOf });
  return app;
}
