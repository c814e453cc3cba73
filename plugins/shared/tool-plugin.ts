/** The kernel plugin of a tool: a manifest around the tool, whose instance is `{ tool }` for the tool manager. */
import type { Tool } from "../../core/kinds/tool.ts";
import { definePlugin, type PluginDefinition } from "../../core/plugin.ts";

export function toolPlugin(name: string, version: string, tool: Tool): PluginDefinition<"tool"> {
  return definePlugin({
    name,
    kind: "tool",
    version,
    description: `tool '${tool.name}': ${tool.description}`,
    setup: () => ({ tool }),
  });
}
