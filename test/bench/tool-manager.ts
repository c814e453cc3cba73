/**
 * The tool manager's cost, each baseline in the same run:
 * - `execute_tool` through the manager vs. the same call straight to the node (p50/p99, concurrency 1 and 16);
 * - create-to-running (create request → status `running`, i.e. the node answered its health check) vs. the same
 *   container created and started with dockerode and polled on /health directly.
 * Three processes, as in production: this client, `bun run rock` with the tool manager, and the node's container.
 *
 *   bun test/bench/tool-manager.ts [requests-per-cell] [starts]
 */
import { Database } from "bun:sqlite";
import Docker from "dockerode";
import { join } from "node:path";
import { nodeContainer, nodeSecrets, type NodeSpec } from "../../plugins/services/tool-manager/node-container.ts";
import { createOptions } from "../../plugins/shared/containers/hardened.ts";
import { dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort, tempProject } from "../support/project.ts";
import { ensureTestNodeBinary, managerYaml, portRange, tenants } from "../tool-manager/support.ts";
import { ms, percentile, sample } from "./support/measure.ts";
import { startRockProcess } from "./support/rock-process.ts";

const count = Number(process.argv[2] ?? 2000);
const starts = Number(process.argv[3] ?? 5);
const socket = dockerSocket();
if (!socket) throw new Error("no Docker engine: run test/env/up first");
const engine = new Docker({ socketPath: socket });
const nodeBinary = await ensureTestNodeBinary();

const project = tempProject("rock-bench-tools-");
const port = freePort();
const ports = portRange();
const config = project.config(`log:\n  level: warn\n${managerYaml({ ports, managerPort: port, executeTimeoutMs: 10_000 })}`);
const dataDir = join(project.root, "data");
const manager = `http://127.0.0.1:${port}`;
const rock = await startRockProcess(config, `${manager}/health`, dataDir);

const headers = { "content-type": "application/json", authorization: `Bearer ${tenants.alpha}` };
const post = (path: string, body: unknown) => fetch(manager + path, { method: "POST", headers, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
const statusOf = async (tool: string) =>
  ((await (await fetch(`${manager}/check_tool_service_status?tool_name=${tool}&tenant_id=alpha`, { headers })).json()) as any).output.status as string;

async function createToRunning(tool: string): Promise<number> {
  const began = performance.now();
  await post("/create_tool_service", { tool_name: tool, tenant_id: "alpha" });
  for (;;) {
    const status = await statusOf(tool);
    if (status === "running") return performance.now() - began;
    if (status !== "pending") throw new Error(`${tool} ended ${status}`);
    await Bun.sleep(5);
  }
}

async function rawStart(i: number): Promise<number> {
  const hostPort = ports.port_end - i;
  const spec: NodeSpec = { name: `bench-raw-${process.pid}-${i}`, tool_name: "calculator", tenant_id: "alpha", image: sandboxImage(), port: hostPort, node_token: "bench-token-123", config: {} };
  const options = createOptions(nodeContainer(spec, { nodeBinary, networkMode: "bridge", cpus: 0.5, memoryBytes: 256 * 1024 ** 2, pidsLimit: 128, user: "65534:65534" }));
  const began = performance.now();
  const container = await engine.createContainer(options);
  try {
    await container.start();
    // The node waits for its token on stdin, as the manager hands it over.
    const stdin = (await container.attach({ stream: true, stdin: true, hijack: true })) as NodeJS.ReadWriteStream & { destroy(): void };
    await new Promise<void>((resolve, reject) => {
      stdin.once("error", reject);
      stdin.end(nodeSecrets(spec), () => resolve());
    });
    stdin.destroy();
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${hostPort}/health`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (ok) return performance.now() - began;
      await Bun.sleep(5);
    }
    throw new Error(`the raw node on port ${hostPort} did not answer /health within 20 s`);
  } finally {
    await container.remove({ force: true });
  }
}

try {
  const ours: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < starts; i++) {
    raw.push(await rawStart(i));
    ours.push(await createToRunning("calculator"));
    await post("/remove_tool", { tool_name: "calculator", tenant_id: "alpha" });
  }
  raw.sort((a, b) => a - b);
  ours.sort((a, b) => a - b);

  await createToRunning("RenewInstance");
  const db = new Database(join(dataDir, "tool-manager.sqlite"), { readonly: true });
  const node = db.query(`SELECT port, node_token FROM tool_instances WHERE name = 'RenewInstance_alpha'`).get() as { port: number; node_token: string };
  db.close();
  const params = '{"instance_id": 123, "period": "mon"}';
  const throughManager = JSON.stringify({ tool_name: "RenewInstance", tenant_id: "alpha", params, kwargs: {} });
  const toNode = JSON.stringify({ params, kwargs: {}, request_id: "bench" });
  const nodeHeaders = { "content-type": "application/json", authorization: `Bearer ${node.node_token}` };
  const once = async (url: string, h: Record<string, string>, body: string) => {
    const began = performance.now();
    const response = await fetch(url, { method: "POST", headers: h, body });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return performance.now() - began;
  };
  const viaManager = () => once(`${manager}/execute_tool`, headers, throughManager);
  const direct = () => once(`http://127.0.0.1:${node.port}/execute_tool`, nodeHeaders, toNode);

  console.log(`tool manager, ${count} execute_tool calls per cell, loopback, times in ms`);
  console.log("execute_tool  conc | direct p50    p99 |   ours p50    p99 | added p50    p99");
  for (const concurrency of [1, 16]) {
    await sample(200, concurrency, direct);
    await sample(200, concurrency, viaManager);
    const d = await sample(count, concurrency, direct);
    const o = await sample(count, concurrency, viaManager);
    const [d50, d99, o50, o99] = [percentile(d, 50), percentile(d, 99), percentile(o, 50), percentile(o, 99)];
    console.log(`              ${String(concurrency).padStart(4)} | ${ms(d50)} ${ms(d99)} | ${ms(o50)} ${ms(o99)} | ${ms(o50 - d50)} ${ms(o99 - d99)}`);
  }
  console.log(`\ncreate → running, ${starts} starts, times in ms`);
  console.log("                         p50      max");
  console.log(`raw create+start+health ${ms(percentile(raw, 50))}  ${ms(raw.at(-1)!)}`);
  console.log(`tool manager            ${ms(percentile(ours, 50))}  ${ms(ours.at(-1)!)}   ratio ${(percentile(ours, 50) / percentile(raw, 50)).toFixed(2)}`);
  await post("/remove_tool", { tool_name: "RenewInstance", tenant_id: "alpha" });
} finally {
  rock.kill("SIGTERM");
  await rock.exited;
  for (const c of await engine.listContainers({ all: true, filters: { label: ["rock.plugin=tool-manager"] } })) {
    if (c.Names.some((n) => n.endsWith("_alpha") && (n.startsWith("/calculator") || n.startsWith("/RenewInstance")))) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  project.remove();
}
