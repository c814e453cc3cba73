/**
 * The tool manager's routes (ModelScope agent §6.2): what each route reads, from the JSON body or (the original's
 * code) the query string, and what it answers in the original's envelope: `{request_id, message: "", output}` with
 * HTTP 200, `{request_id, message}` with the error's status. The manager checks the inputs itself, in the original's
 * words; these schemas document them and type the tool client.
 */
import { t, type Static, type TSchema } from "elysia";
import { lenient } from "../../../core/http/lenient.ts";
import { OneOf, Reply } from "../responses.ts";

export const instanceStatuses = ["pending", "running", "exited", "failed"] as const;
export type InstanceStatus = (typeof instanceStatuses)[number];

/** 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit; the caller's own tenant when absent. */
export const TENANT_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

const Tool = { tool_name: t.String({ minLength: 1 }), tenant_id: t.Optional(t.String({ pattern: TENANT_PATTERN })) };

export const ToolTarget = lenient(t.Object(Tool));
export type ToolTarget = Static<typeof ToolTarget>;

export const TenantTarget = lenient(t.Object({ tenant_id: Tool.tenant_id }));

export const ToolInfoRequest = lenient(t.Object({
  ...Tool,
  parameters_format: t.Optional(OneOf(["list", "json_schema"], { description: "`list` (default): the original's list form, which its ToolServiceProxy reads; `json_schema`: a JSON Schema object" })),
}));
export type ToolInfoRequest = Static<typeof ToolInfoRequest>;

export const CreateTool = lenient(t.Object({
  ...Tool,
  tool_cfg: t.Optional(t.Record(t.String(), t.Any(), { description: "The tool's own config (its secrets stay in the manager and its node)" })),
  tool_image: t.Optional(t.String({ description: "Image of the node's container (default: the manager's)" })),
  tool_url: t.Optional(t.String({ description: "Not supported: tools are plugins bundled into the tool node" })),
}));
export type CreateTool = Static<typeof CreateTool>;

export const ExecuteTool = lenient(t.Object({
  ...Tool,
  params: t.Union([t.String({ description: "The arguments as JSON text, as the original sent them" }), t.Record(t.String(), t.Any())]),
  kwargs: t.Optional(t.Record(t.String(), t.Any())),
}));
export type ExecuteTool = Static<typeof ExecuteTool>;

export const InstanceStatusSchema = OneOf(instanceStatuses);

/** A node is named `<tool>_<tenant>`. */
export const NodeOutput = Reply({ tool_node_name: t.String(), status: InstanceStatusSchema });
export type NodeOutput = Static<typeof NodeOutput>;

export const ToolList = Reply({ tools: t.Record(t.String(), InstanceStatusSchema, { description: "Node name → status, for the tenant" }) });

export const ToolInfo = Reply({
  name: t.String(),
  description: t.String(),
  parameters: t.Union([t.Array(t.Unknown()), t.Record(t.String(), t.Unknown())], { description: "The original's list form, or a JSON Schema when asked with parameters_format=json_schema" }),
});
export type ToolInfo = Static<typeof ToolInfo>;

/** `message` is "" on success, or the reason of a failed instance (check_tool_service_status). */
export const Success = <T extends TSchema>(output: T) => Reply({ request_id: t.String(), message: t.String(), output });
export type Success<T> = { request_id: string; message: string; output: T };

export const ErrorBody = Reply({ request_id: t.String(), message: t.String() });
export type ErrorBody = Static<typeof ErrorBody>;

export const answers = <T extends TSchema>(output: T) => ({ 200: Success(output), "4XX": ErrorBody, "5XX": ErrorBody });

export const Hello = Reply({ message: t.String() });

/** 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit. */
export const OPENAPI_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

const OpenAPITarget = { openapi_name: t.String({ pattern: OPENAPI_NAME_PATTERN }), tenant_id: Tool.tenant_id };

/** With `schema`, registers (or replaces) the tenant's spec; without, answers the stored one. */
export const OpenAPISchemaInput = lenient(t.Object({
  ...OpenAPITarget,
  schema: t.Optional(
    t.Union([t.Record(t.String(), t.Any()), t.String()], {
      description: "An OpenAPI 3.x document (object or JSON text); its servers[0].url host must be in the manager's openapi_hosts",
    }),
  ),
  auth: t.Optional(
    t.Object(
      { apikey: t.String({ minLength: 1 }), apikey_type: t.Optional(t.String({ description: 'Word before a bearer key (default "Bearer")' })) },
      { description: "Key sent for the operations' security schemes (http bearer, or an apiKey header); never answered back" },
    ),
  ),
}));

/**
 * Either an operation of the spec with its arguments in `params`, or the original client's form: `url` and `method`
 * (an operation of the spec), `params` as the query of a GET, `data` as the JSON body of a POST, PUT or DELETE.
 */
export const ExecuteOpenAPI = lenient(t.Object({
  ...OpenAPITarget,
  operation: t.Optional(t.String({ description: "operationId (or `<path>_<method>`) of the operation to call" })),
  url: t.Optional(t.String({ description: "The original's form: the full URL of an operation of the spec" })),
  method: t.Optional(t.String({ default: "GET" })),
  params: t.Optional(t.Union([t.String(), t.Record(t.String(), t.Any())], { description: "Arguments (operation) or query (url form), object or JSON text" })),
  headers: t.Optional(t.Record(t.String(), t.Any())),
  data: t.Optional(t.Record(t.String(), t.Any())),
  cookies: t.Optional(t.Record(t.String(), t.Any())),
  credentials: t.Optional(t.Record(t.String(), t.Any(), { description: "The original client's {auth_type: 'api_key', api_key_header, api_key_value, api_key_header_prefix}" })),
}));
