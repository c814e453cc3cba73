/** Helpers of the tool-manager tests: the test node binary (with the fixture tools), a kernel running the manager, calls. */
import { renameSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { buildToolNode } from "../../plugins/programs/tool-node/build.ts";
import type { ToolInstances } from "../../plugins/services/tool-manager/instances.ts";
import { dockerSocket, sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

export const fixtureTools = join(repoRoot, "test", "tools", "fixtures");
export const testNodeBinary = join(repoRoot, "test", ".tmp", "tool-node-test");

let built: Promise<string> | undefined;

/** Builds the node with the shipped and the fixture tools (once per process; replaced atomically for other runs). */
export function ensureTestNodeBinary(): Promise<string> {
  built ??= (async () => {
    const scratch = `${testNodeBinary}-${process.pid}`;
    await buildToolNode({ outfile: scratch, toolDirs: [join(fixtureTools, "tools")] });
    renameSync(scratch, testNodeBinary);
    return testNodeBinary;
  })();
  return built;
}

export const tenants = { alpha: "alpha-token-0123456789", beta: "beta-token-0123456789" };
export const allTools = ["renew-instance", "calculator", "code-interpreter", "hmac-signer", "faulty-tool", "nested-args"];

/** A port range of 40 that no other test file is likely to use at the same time. */
export function portRange(): { port_start: number; port_end: number } {
  const start = 21000 + Math.floor(Math.random() * 250) * 40;
  return { port_start: start, port_end: start + 39 };
}

export interface ManagerOptions {
  ports: { port_start: number; port_end: number };
  executeTimeoutMs?: number;
  /** Port of the manager (default: any free one). */
  managerPort?: number;
  /** More plugin sections (indented two spaces). */
  extra?: string;
  /** `server.token` of the kernel. */
  serverToken?: string;
  /** More fields of the tool-manager section (indented four spaces). */
  managerExtra?: string;
}

export function managerYaml(options: ManagerOptions): string {
  const toolSections = allTools.map((t) => `  ${t}: {}`).join("\n");
  return `${options.serverToken ? `server:\n  token: ${options.serverToken}\n` : ""}docker:
  socket: ${dockerSocket()}
plugin_dirs: [${fixtureTools}]
plugins:
${toolSections}
  tool-manager:
    port: ${options.managerPort ?? 0}
    tools: [${allTools.join(", ")}]
    node_binary: ${testNodeBinary}
    image: ${sandboxImage()}
    pull: never
    port_start: ${options.ports.port_start}
    port_end: ${options.ports.port_end}
    start_timeout_ms: 20000
    execute_timeout_ms: ${options.executeTimeoutMs ?? 5000}
    tenants: { alpha: ${tenants.alpha}, beta: ${tenants.beta} }
${options.managerExtra ?? ""}${options.extra ?? ""}`;
}

export interface BootedManager {
  kernel: Kernel;
  project: TempProject;
  url: string;
  instances: ToolInstances;
  call(path: string, init?: { method?: string; body?: unknown; token?: string | null; authorization?: string; query?: Record<string, string> }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Starts a kernel running the manager; given a `project`, its data dir is reused (restart tests) and kept. */
export async function bootManager(options: ManagerOptions, shared?: TempProject): Promise<BootedManager> {
  const project = shared ?? tempProject("rock-tools-");
  const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(managerYaml(options)), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  const url = kernel.server("tool-manager")!.url;
  return {
    kernel,
    project,
    url,
    instances: kernel.instance<{ instances: ToolInstances }>("tool-manager")!.instances,
    async call(path, init = {}) {
      const token = init.token === undefined ? tenants.alpha : init.token;
      const query = init.query ? `?${new URLSearchParams(init.query)}` : "";
      const response = await fetch(url + path + query, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: { ...(token ? { authorization: init.authorization ?? `Bearer ${token}` } : {}), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
        body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
      });
      const text = await response.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: response.status, body };
    },
    close: async () => {
      await kernel.stop();
      if (!shared) project.remove();
    },
  };
}

/** Polls check_tool_service_status until the status is not `pending`. */
export async function waitSettled(manager: BootedManager, tool: string, tenant: string, token: string, ms = 25000): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const reply = await manager.call("/check_tool_service_status/", { query: { tool_name: tool, tenant_id: tenant }, token });
    if (reply.body?.output?.status !== "pending" || Date.now() > deadline) return reply;
    await Bun.sleep(50);
  }
}
