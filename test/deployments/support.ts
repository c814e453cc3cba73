/** Helpers shared by the deployment tests: a kernel with one deployment plugin, sandbox specs, rocklet calls. */
import { renameSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Deployment, SandboxSpec } from "../../core/kinds/deployment.ts";
import { needsBuild } from "../../plugins/programs/compile.ts";
import { buildRocklet } from "../../plugins/programs/rocklet/build.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

export const rockletBinary = join(repoRoot, "dist", "rocklet");

let rockletBuilt: Promise<string> | undefined;

/** Builds dist/rocklet when it is missing or older than its sources (a stale binary would test old code). */
export function ensureRockletBinary(): Promise<string> {
  rockletBuilt ??= (async () => {
    if (needsBuild(rockletBinary)) {
      // Built beside and renamed: a concurrent test file never runs a half-written binary.
      const scratch = `${rockletBinary}-${process.pid}`;
      await buildRocklet({ outfile: scratch });
      renameSync(scratch, rockletBinary);
    }
    return rockletBinary;
  })();
  return rockletBuilt;
}

export interface BootedDeployment {
  kernel: Kernel;
  project: TempProject;
  deployment: Deployment;
  close(): Promise<void>;
}

/**
 * Starts a real kernel whose config is `yaml` and returns the deployment plugin `name`'s instance.
 * Given a `project`, the kernel uses its data dir and `close` leaves it in place (for restart tests).
 */
export async function bootDeployment(name: string, yaml: string, shared?: TempProject): Promise<BootedDeployment> {
  const project = shared ?? tempProject("rock-deploy-");
  const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  const deployment = kernel.instance<{ deployment: Deployment }>(name)!.deployment;
  return {
    kernel,
    project,
    deployment,
    close: async () => {
      await kernel.stop();
      if (!shared) project.remove();
    },
  };
}

let counter = 0;

export function sandboxSpec(prefix: string, overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    sandbox_id: `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`,
    image: "unused",
    cpus: 1,
    memoryBytes: 512 * 1024 ** 2,
    pidsLimit: 256,
    env: {},
    rockletToken: `token-${crypto.randomUUID()}`,
    pull: "never",
    labels: {},
    ...overrides,
  };
}

export function rockletCall(url: string, token: string, path: string, body?: unknown): Promise<Response> {
  return fetch(url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Runs a one-shot command through the rocklet's /execute. */
export async function execute(url: string, token: string, command: string): Promise<{ stdout: string; stderr: string; exit_code: number }> {
  const response = await rockletCall(url, token, "/execute", { command, timeout: 30 });
  if (!response.ok) throw new Error(`/execute answered ${response.status}: ${await response.text()}`);
  return response.json() as Promise<{ stdout: string; stderr: string; exit_code: number }>;
}

/** Polls /is_alive until the rocklet answers true; returns the milliseconds it took. */
export async function waitAlive(url: string, token: string, ms = 20000): Promise<number> {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < ms) {
    try {
      const response = await rockletCall(url, token, "/is_alive");
      if (response.ok && ((await response.json()) as { is_alive?: boolean }).is_alive) return performance.now() - started;
      last = `status ${response.status}`;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(10);
  }
  throw new Error(`${url}/is_alive did not answer within ${ms} ms: ${last}`);
}
