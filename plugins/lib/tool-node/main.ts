/**
 * Entry of the tool-node binary (the build generates a module that calls `runToolNode` with every tool it bundles):
 *   tool-node --port 31513 [--host 0.0.0.0]      with TOOL_NAME, TOOL_NODE_TOKEN and TOOL_CFG (JSON) in the environment
 *   tool-node --list                              prints the bundled tools' info as JSON
 * A bad tool name or config ends the process with a message, so the container exits and the manager records why.
 */
import type { Tool } from "../../../core/kinds/tool.ts";
import { PreparedTool } from "./prepared-tool.ts";
import { startToolNode } from "./server.ts";

function fail(message: string): never {
  process.stderr.write(`[tool-node] ${message}\n`);
  process.exit(2);
}

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function readConfig(text: string | undefined, toolName: string): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    fail(`TOOL_CFG of '${toolName}' is not valid JSON`);
  }
}

export function runToolNode(tools: Tool[], args = process.argv.slice(2)): void {
  const prepared = new Map(tools.map((tool) => [tool.name, new PreparedTool(tool)]));
  if (args.includes("--list")) {
    console.log(JSON.stringify([...prepared.values()].map((t) => t.info())));
    return;
  }
  const name = process.env.TOOL_NAME ?? "";
  const token = process.env.TOOL_NODE_TOKEN ?? "";
  const configText = process.env.TOOL_CFG;
  // Nothing the tool runs or prints should see the token or the (possibly secret) config again.
  delete process.env.TOOL_NODE_TOKEN;
  delete process.env.TOOL_CFG;
  const tool = prepared.get(name);
  if (!tool) fail(`tool '${name}' is not in this node (it has: ${[...prepared.keys()].sort().join(", ")})`);
  if (!token) fail("TOOL_NODE_TOKEN is not set: refusing to serve without a token");
  const port = Number(flag(args, "--port") ?? 31513);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be a port number (got ${flag(args, "--port")})`);
  let config: Record<string, unknown>;
  try {
    config = tool.config(readConfig(configText, name));
  } catch (error) {
    fail((error as Error).message);
  }
  const node = startToolNode({ tool, config, token, hostname: flag(args, "--host") ?? "0.0.0.0", port });
  process.stderr.write(`[tool-node] serving '${name}' on port ${port}\n`);
  const stop = () => void node.stop().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
