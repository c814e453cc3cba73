/**
 * Kernels running the admin for SDK tests: on the `local` deployment, or on the `docker` deployment against the test
 * environment's private engine. Sandbox ids carry a per-process prefix so that leftovers are ours alone to find.
 */
import Docker from "dockerode";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

export interface RunningAdmin {
  kernel: Kernel;
  project: TempProject;
  /** e.g. http://127.0.0.1:40123 (no API prefix). */
  baseUrl: string;
  close(): Promise<void>;
}

export interface AdminSetup {
  /** `server.token` of the kernel. */
  token?: string;
  /** Lines added to the admin's section (4-space indent). */
  adminYaml?: string;
}

const adminSection = (extra = "") => `  admin:\n    port: 0\n    reconcile_interval_ms: 600000\n${extra}`;
const serverSection = (token?: string) => (token ? `server:\n  token: ${token}\n` : "");

export function localAdminYaml(setup: AdminSetup = {}): string {
  return `${serverSection(setup.token)}plugins:\n  local:\n    stop_grace_ms: 200\n  local-operator: {}\n${adminSection(setup.adminYaml)}`;
}

export function dockerAdminYaml(socket: string, rockletBinary: string, setup: AdminSetup = {}): string {
  return (
    `${serverSection(setup.token)}docker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${rockletBinary}\n    pull: never\n` +
    `  local-operator:\n    deployment: docker\n${adminSection(setup.adminYaml)}`
  );
}

/** A kernel whose config is `yaml`, started; its admin's URL. */
export async function bootAdminKernel(yaml: string): Promise<RunningAdmin> {
  await ensureRockletBinary();
  const project = tempProject("rock-sdk-");
  const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  return {
    kernel,
    project,
    baseUrl: kernel.server("admin")!.url,
    close: async () => {
      await kernel.stop();
      project.remove();
    },
  };
}

let counter = 0;
/** A sandbox id unique to this test process: `sdk-<pid>-<n>-<random>`. */
export const sandboxIdPrefix = `sdk-${process.pid}-`;
export const newSandboxId = (tag = "s") => `${sandboxIdPrefix}${tag}${++counter}-${Math.random().toString(36).slice(2, 7)}`;

/** Containers managed by the kernel (`rock.managed=true`) whose sandbox id is one of this process's. */
export async function ourContainers(engine: Docker): Promise<Docker.ContainerInfo[]> {
  const managed = await engine.listContainers({ all: true, filters: { label: ["rock.managed=true"] } });
  return managed.filter((c) => c.Labels["rock.sandbox_id"]?.startsWith(sandboxIdPrefix));
}

export async function removeOurContainers(engine: Docker): Promise<void> {
  for (const c of await ourContainers(engine)) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
}
