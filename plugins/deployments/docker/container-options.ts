import type Docker from "dockerode";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import { capabilitySet } from "../../shared/deployment/capabilities.ts";

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
function environment(spec: SandboxSpec): string[] {
  return Object.entries(spec.env)
    .filter(([name]) => name !== "ROCKLET_TOKEN")
    .map(([name, value]) => `${name}=${value}`);
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
 * reaps orphans and forwards SIGTERM), reachable on a random loopback port of the host, unprivileged and limited. The
 * rocklet's token is not in the container's config: it reads it from stdin (`rockletStdin`), which the engine closes
 * once the deployment wrote it.
 */
export function containerOptions(spec: SandboxSpec, settings: ContainerSettings): Docker.ContainerCreateOptions {
  const port = `${settings.rockletPort}/tcp`;
  return {
    name: containerName(spec.sandbox_id),
    Image: spec.image,
    Entrypoint: [ROCKLET_MOUNT_PATH],
    // 0.0.0.0 inside the container's own network namespace: Docker's port forwarding arrives on its bridge address.
    Cmd: ["--host", "0.0.0.0", "--port", String(settings.rockletPort), "--token-stdin", "--max-sessions", String(settings.maxSessions)],
    Env: environment(spec),
    OpenStdin: true,
    StdinOnce: true,
    Labels: labels(spec),
    User: settings.user || undefined,
    ExposedPorts: { [port]: {} },
    HostConfig: {
      Binds: [`${settings.rockletBinary}:${ROCKLET_MOUNT_PATH}:ro`],
      // HostPort "" lets the engine pick a free port; HostIp keeps it off every interface but loopback.
      PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
      NetworkMode: settings.networkMode,
      NanoCpus: Math.round(spec.cpus * 1e9),
      Memory: spec.memoryBytes,
      // Equal to Memory: no swap on top of the limit (ROCK passes --memory-swap=--memory too).
      MemorySwap: spec.memoryBytes,
      PidsLimit: spec.pidsLimit,
      Privileged: false,
      CapDrop: ["ALL"],
      CapAdd: capabilitySet(settings.capAdd),
      SecurityOpt: ["no-new-privileges"],
      Init: settings.init,
      AutoRemove: false,
    },
  };
}
