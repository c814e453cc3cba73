/**
 * Entry of the tool-node binary (the build generates a module that calls `runToolNode` with every tool it bundles):
 *   tool-node --port 31513 [--host 0.0.0.0] --secrets-stdin   with TOOL_NAME in the environment and the first line of
 *                                                 stdin `{"token": …, "config": {…}}` (how the tool manager starts it)
 *   tool-node --port 31513                        with TOOL_NAME, TOOL_NODE_TOKEN and TOOL_CFG (JSON) in the environment
 *   tool-node --list                              prints the bundled tools' info as JSON
 * A bad tool name or config ends the process with a message, so the container exits and the manager records why.
 */
import type { Tool } from "../../../core/kinds/tool.ts";
import { makeUndumpable, readStdinLine } from "../process-secrets.ts";
import { PreparedTool } from "../../protocol/tool-call/prepared-tool.ts";
import { startToolNode } from "./server.ts";

function fail(message: string): never {
  process.stderr.write(`[tool-node] ${message}\n`);
  process.exit(2);
}

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function parseConfig(text: string | undefined, toolName: string): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    fail(`TOOL_CFG of '${toolName}' is not valid JSON`);
  }
}

/** How long `--secrets-stdin` waits for the manager to write the secrets line. */
const SECRETS_TIMEOUT_MS = 60_000;

/** The node token and the tool's config: from stdin with `--secrets-stdin`, else from TOOL_NODE_TOKEN and TOOL_CFG. */
async function readSecrets(args: string[], toolName: string): Promise<{ token: string; config: unknown }> {
  if (!args.includes("--secrets-stdin")) {
    return { token: process.env.TOOL_NODE_TOKEN ?? "", config: parseConfig(process.env.TOOL_CFG, toolName) };
  }
  let line: string;
  try {
    line = await readStdinLine("secrets line", SECRETS_TIMEOUT_MS, 1024 ** 2);
  } catch (error) {
    fail((error as Error).message);
  }
  let secrets: { token?: unknown; config?: unknown };
  try {
    secrets = JSON.parse(line);
  } catch {
    fail("the secrets line on stdin is not JSON (expected {\"token\": …, \"config\": {…}})");
  }
  return { token: typeof secrets?.token === "string" ? secrets.token : "", config: secrets?.config ?? {} };
}

export async function runToolNode(tools: Tool[], args = process.argv.slice(2)): Promise<void> {
  const prepared = new Map(tools.map((tool) => [tool.name, new PreparedTool(tool)]));
  if (args.includes("--list")) {
    console.log(JSON.stringify([...prepared.values()].map((t) => t.info())));
    return;
  }
  const name = process.env.TOOL_NAME ?? "";
  const tool = prepared.get(name);
  if (!tool) fail(`tool '${name}' is not in this node (it has: ${[...prepared.keys()].sort().join(", ")})`);
  // Before the secrets are read: nothing else running as this user may read them from our memory.
  const dumpable = makeUndumpable();
  if (dumpable) process.stderr.write(`[tool-node] WARNING: the node's memory stays readable by processes of its user: ${dumpable}\n`);
  const { token, config: rawConfig } = await readSecrets(args, name);
  // Nothing the tool runs or prints should see the token or the (possibly secret) config again.
  delete process.env.TOOL_NODE_TOKEN;
  delete process.env.TOOL_CFG;
  if (!token) fail("no node token (TOOL_NODE_TOKEN or --secrets-stdin): refusing to serve without a token");
  const port = Number(flag(args, "--port") ?? 31513);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be a port number (got ${flag(args, "--port")})`);
  let config: Record<string, unknown>;
  try {
    config = tool.config(rawConfig);
  } catch (error) {
    fail((error as Error).message);
  }
  const node = startToolNode({ tool, config, token, hostname: flag(args, "--host") ?? "0.0.0.0", port });
  process.stderr.write(`[tool-node] serving '${name}' on port ${port}\n`);
  const stop = () => void node.stop().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
