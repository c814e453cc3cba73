import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { HardenedContainer } from "../../shared/containers/hardened.ts";
import { capabilitySet } from "../../shared/deployment/capabilities.ts";
import { ROCKLET_MOUNT_PATH, sandboxEnvironment, sandboxLabels } from "../../shared/deployment/sandbox-labels.ts";

export { ROCKLET_MOUNT_PATH, SANDBOX_ID_LABEL, USER_LABEL_PREFIX } from "../../shared/deployment/sandbox-labels.ts";

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

/** What the deployment writes to a started sandbox's stdin: the rocklet's token, which is nowhere else. */
export function rockletStdin(spec: SandboxSpec): string {
  return `${spec.rockletToken}\n`;
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
    env: sandboxEnvironment(spec),
    secretsOnStdin: true,
    labels: sandboxLabels(spec),
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
