import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { HardenedContainer } from "../../shared/containers/hardened.ts";
import { capabilitySet } from "../../shared/deployment/capabilities.ts";
import { ROCKLET_RUNTIME_ENV } from "../../protocol/rocklet-runtime.ts";

/** Where the rocklet binary appears inside every sandbox (bind-mounted read-only). */
export const ROCKLET_MOUNT_PATH = "/rock/rocklet";
export const SANDBOX_ID_LABEL = "rock.sandbox_id";
/** The spec's free-form labels are recorded under this prefix so that they cannot shadow the kernel's own. */
export const USER_LABEL_PREFIX = "rock.label.";

export interface ContainerSettings {
  rockletBinary: string;
  rockletPort: number;
  networkMode: string;
  capAdd: readonly string[];
  init: boolean;
  user: string;
  /** Bash sessions a sandbox may have open at once (the rocklet's --max-sessions). */
  maxSessions: number;
}

export function containerName(sandboxId: string): string {
  return `rock-${sandboxId}`;
}

/** The spec's environment; never a ROCKLET_TOKEN, which the rocklet would prefer to nothing. */
function environment(spec: SandboxSpec): Record<string, string> {
  return { ...ROCKLET_RUNTIME_ENV, ...Object.fromEntries(Object.entries(spec.env).filter(([name]) => name !== "ROCKLET_TOKEN")) };
}

/** What the deployment writes to a started sandbox's stdin: the rocklet's token, which is nowhere else. */
export function rockletStdin(spec: SandboxSpec): string {
  return `${spec.rockletToken}\n`;
}

function labels(spec: SandboxSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.labels)) out[USER_LABEL_PREFIX + key] = value;
  out[SANDBOX_ID_LABEL] = spec.sandbox_id;
  return out;
}

/**
 * The container of one sandbox: the image's filesystem with the rocklet as its only process (under docker-init, which
 * reaps orphans and forwards SIGTERM), reachable on a random loopback port of the host, keeping the few capabilities
 * a root shell needs. The rocklet's token is not in the container's config: it reads it from stdin (`rockletStdin`).
 */
export function sandboxContainer(spec: SandboxSpec, settings: ContainerSettings): HardenedContainer {
  return {
    name: containerName(spec.sandbox_id),
    image: spec.image,
    entrypoint: ROCKLET_MOUNT_PATH,
    // 0.0.0.0 inside the container's own network namespace: Docker's port forwarding arrives on its bridge address.
    args: ["--host", "0.0.0.0", "--port", String(settings.rockletPort), "--token-stdin", "--max-sessions", String(settings.maxSessions)],
    env: environment(spec),
    secretsOnStdin: true,
    labels: labels(spec),
    user: settings.user,
    mounts: [{ source: settings.rockletBinary, target: ROCKLET_MOUNT_PATH }],
    port: settings.rockletPort,
    network: settings.networkMode,
    cpus: spec.cpus,
    memoryBytes: spec.memoryBytes,
    pidsLimit: spec.pidsLimit,
    capabilities: capabilitySet(settings.capAdd),
    init: settings.init,
  };
}
