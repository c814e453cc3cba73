/**
 * The container of one tool node: any glibc image with the compiled tool node bind-mounted read-only as its only
 * program, run as nobody with no capabilities at all (it is an HTTP server and needs none), a read-only root with a
 * small /tmp, CPU/memory/pids limits and its port published on 127.0.0.1 only. Its token and config are not in the
 * container's config: the manager writes them to the node's stdin once it started (`nodeSecrets`).
 */
import type Docker from "dockerode";

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

export function nodeContainerOptions(spec: NodeSpec, settings: NodeContainerSettings): Docker.ContainerCreateOptions {
  const port = `${spec.port}/tcp`;
  return {
    name: spec.name,
    Image: spec.image,
    Entrypoint: [NODE_MOUNT_PATH],
    // 0.0.0.0 inside the container's own network namespace: Docker's port forwarding arrives on its bridge address.
    Cmd: ["--host", "0.0.0.0", "--port", String(spec.port), "--secrets-stdin"],
    Env: [`TOOL_NAME=${spec.tool_name}`],
    // The node reads its secrets from the first line of stdin; the engine closes it when the manager detaches.
    OpenStdin: true,
    StdinOnce: true,
    Labels: { [TOOL_LABEL]: spec.tool_name, [TENANT_LABEL]: spec.tenant_id, [NODE_LABEL]: spec.name },
    User: settings.user || undefined,
    WorkingDir: "/tmp",
    ExposedPorts: { [port]: {} },
    HostConfig: {
      Binds: [`${settings.nodeBinary}:${NODE_MOUNT_PATH}:ro`],
      PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: String(spec.port) }] },
      NetworkMode: settings.networkMode,
      // Tools such as code_interpreter call services on the host (the admin) by this name.
      ExtraHosts: ["host.docker.internal:host-gateway"],
      NanoCpus: Math.round(settings.cpus * 1e9),
      Memory: settings.memoryBytes,
      MemorySwap: settings.memoryBytes,
      PidsLimit: settings.pidsLimit,
      Privileged: false,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m" },
      Init: true,
      AutoRemove: false,
    },
  };
}

/** The line the manager writes to a started node's stdin. */
export function nodeSecrets(spec: NodeSpec): string {
  return `${JSON.stringify({ token: spec.node_token, config: spec.config })}\n`;
}
