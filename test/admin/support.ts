/** A kernel running the admin service on the `local` deployment, and envelope-speaking HTTP helpers. */
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Deployment } from "../../core/kinds/deployment.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

export const api = "/apis/envs/sandbox/v1";

export interface AdminHarness {
  kernel: Kernel;
  project: TempProject;
  base: string;
  deployment: Deployment;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<any>;
  get(path: string): Promise<any>;
  close(): Promise<void>;
}

export async function bootAdmin(adminYaml = ""): Promise<AdminHarness> {
  await ensureRockletBinary();
  const project = tempProject("rock-admin-");
  const yaml = `plugins:\n  local:\n    stop_grace_ms: 200\n  local-operator: {}\n  admin:\n    port: 0\n    reconcile_interval_ms: 600000\n${adminYaml}`;
  const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  const base = kernel.server("admin")!.url + api;
  const json = async (res: Response) => {
    // Every answer of ROCK's API, validation errors included, is HTTP 200 with the envelope.
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    return res.json();
  };
  return {
    kernel,
    project,
    base,
    deployment: kernel.instance<{ deployment: Deployment }>("local")!.deployment,
    post: async (path, body, headers = {}) =>
      json(await fetch(base + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })),
    get: async (path) => json(await fetch(base + path)),
    close: async () => {
      await kernel.stop();
      project.remove();
    },
  };
}
