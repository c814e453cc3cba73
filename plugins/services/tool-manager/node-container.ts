/**
 * The container of one tool node: any glibc image with the compiled tool node bind-mounted read-only as its only
 * program, run as nobody with no capabilities at all (it is an HTTP server and needs none), a read-only root with a
 * small /tmp, CPU/memory/pids limits and its port published on 127.0.0.1 only. Its token and config are not in the
 * container's config: the manager writes them to the node's stdin once it started (`nodeSecrets`).
 */
import type { HardenedContainer } from "../../shared/containers/hardened.ts";

export const NODE_MOUNT_PATH = "/rock/tool-node";
export const TOOL_LABEL = "rock.tool";
export const TENANT_LABEL = "rock.tenant";
export const NODE_LABEL = "rock.tool_node";

export interface NodeContainerSettings {
  nodeBinary: string;
  networkMode: string;
  cpus: number;
  memoryBytes: number;
  pidsLimit: number;
  user: string;
}

export interface NodeSpec {
  name: string;
  tool_name: string;
  tenant_id: string;
  image: string;
  port: number;
  node_token: string;
  /** The instance's validated `tool_cfg`; reaches the node on its stdin (the original never delivered it). */
  config: Record<string, unknown>;
}

export function nodeContainer(spec: NodeSpec, settings: NodeContainerSettings): HardenedContainer {
  return {
    name: spec.name,
    image: spec.image,
    entrypoint: NODE_MOUNT_PATH,
    // 0.0.0.0 inside the container's own network namespace: Docker's port forwarding arrives on its bridge address.
    args: ["--host", "0.0.0.0", "--port", String(spec.port), "--secrets-stdin"],
    env: { TOOL_NAME: spec.tool_name },
    secretsOnStdin: true,
    labels: { [TOOL_LABEL]: spec.tool_name, [TENANT_LABEL]: spec.tenant_id, [NODE_LABEL]: spec.name },
    user: settings.user,
    workingDir: "/tmp",
    mounts: [{ source: settings.nodeBinary, target: NODE_MOUNT_PATH }],
    port: spec.port,
    hostPort: spec.port,
    network: settings.networkMode,
    // Tools such as code_interpreter call services on the host (the admin) by this name.
    extraHosts: ["host.docker.internal:host-gateway"],
    cpus: settings.cpus,
    memoryBytes: settings.memoryBytes,
    pidsLimit: settings.pidsLimit,
    readOnlyRoot: { tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m" } },
    init: true,
  };
}

/** The line the manager writes to a started node's stdin. */
export function nodeSecrets(spec: NodeSpec): string {
  return `${JSON.stringify({ token: spec.node_token, config: spec.config })}\n`;
}
