/** The tools an agent run may call: tool plugins run in this process, or tool-manager instances (`use_tool_api`). */
import { HttpError } from "../../../../core/errors.ts";
import type { Tool } from "../../../../core/kinds/tool.ts";
import type { ToolServiceProxy } from "../../../clients/tool-client/index.ts";
import { ToolServiceError } from "../../../clients/tool-client/index.ts";
import { PreparedTool } from "../../../protocol/tool-call/prepared-tool.ts";
import type { AgentTool } from "./loop.ts";

/** A trusted tool plugin, called in this process: arguments checked against its parameters, its config defaults applied. */
export function inProcessTool(tool: Tool): AgentTool {
  const prepared = new PreparedTool(tool);
  return {
    name: tool.name,
    description: tool.description,
    schema: prepared.schema,
    call: async (args, kwargs, signal) => tool.call(prepared.arguments(args), { config: prepared.config({}), kwargs, signal }),
  };
}

/** A tool instance behind the tool manager; `field` names the request's tool entry when it cannot be opened. */
export async function managedTool(open: Promise<ToolServiceProxy>, name: string, field: string): Promise<AgentTool> {
  let proxy: ToolServiceProxy;
  try {
    proxy = await open;
  } catch (error) {
    const status = error instanceof ToolServiceError ? error.status : undefined;
    const message = `tool '${name}' through the tool manager: ${(error as Error).message}`;
    // The manager's 400/404 are about the tool named; anything else is between us and the manager.
    if (status === 400 || status === 404) throw new HttpError(400, `${field}: ${message}`, field);
    throw new HttpError(502, message);
  }
  let schema;
  try {
    schema = proxy.schema;
  } catch (error) {
    throw new HttpError(502, `tool '${name}' through the tool manager: its parameters are unusable: ${(error as Error).message}`);
  }
  return {
    name,
    description: proxy.description,
    schema,
    call: (args, kwargs) => proxy.call(args, { ...kwargs, use_tool_api: true }),
  };
}
