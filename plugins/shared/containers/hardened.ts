/**
 * What every container our plugins run has in common, written once: one program bind-mounted read-only into any
 * image, every capability dropped but the few the caller names, no-new-privileges, CPU and memory limits without
 * swap, a pids limit, its port published on 127.0.0.1 only, labels, and stdin held open for the program's secrets
 * when asked. A caller states only what differs: the program and its arguments, mounts, environment, user, network,
 * a read-only root.
 */
import type Docker from "dockerode";

export interface HardenedContainer {
  name: string;
  image: string;
  /** The program (usually one of `mounts`) and its arguments. */
  entrypoint: string;
  args: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Host paths mounted read-only at `target`. */
  mounts: { source: string; target: string }[];
  /** The image's user when empty. */
  user?: string;
  workingDir?: string;
  /** The program's TCP port in the container, published on 127.0.0.1: on `hostPort`, or on one the engine picks. */
  port: number;
  hostPort?: number;
  network: string;
  extraHosts?: string[];
  cpus: number;
  memoryBytes: number;
  pidsLimit: number;
  /** Capabilities kept after dropping all of them; each one needs a reason. */
  capabilities?: readonly string[];
  /** The root filesystem read-only, with writable tmpfs mounts (path → mount options). */
  readOnlyRoot?: { tmpfs: Record<string, string> };
  /** docker-init as PID 1: reaps orphans, forwards SIGTERM to the program. */
  init: boolean;
  /** Stdin stays open until the first write ends (`ContainerRuntime.start`): how secrets reach the program. */
  secretsOnStdin?: boolean;
}

/** The engine's create options of a hardened container. */
export function createOptions(spec: HardenedContainer): Docker.ContainerCreateOptions {
  const port = `${spec.port}/tcp`;
  return {
    name: spec.name,
    Image: spec.image,
    Entrypoint: [spec.entrypoint],
    Cmd: spec.args,
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    OpenStdin: spec.secretsOnStdin || undefined,
    StdinOnce: spec.secretsOnStdin || undefined,
    Labels: spec.labels,
    User: spec.user || undefined,
    WorkingDir: spec.workingDir,
    ExposedPorts: { [port]: {} },
    HostConfig: {
      Binds: spec.mounts.map((m) => `${m.source}:${m.target}:ro`),
      // HostPort "" lets the engine pick a free port; HostIp keeps it off every interface but loopback.
      PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: spec.hostPort ? String(spec.hostPort) : "" }] },
      NetworkMode: spec.network,
      ExtraHosts: spec.extraHosts,
      NanoCpus: Math.round(spec.cpus * 1e9),
      Memory: spec.memoryBytes,
      // Equal to Memory: no swap on top of the limit (ROCK passes --memory-swap=--memory too).
      MemorySwap: spec.memoryBytes,
      PidsLimit: spec.pidsLimit,
      Privileged: false,
      CapDrop: ["ALL"],
      CapAdd: spec.capabilities?.length ? [...spec.capabilities] : undefined,
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: spec.readOnlyRoot ? true : undefined,
      Tmpfs: spec.readOnlyRoot?.tmpfs,
      Init: spec.init,
      AutoRemove: false,
    },
  };
}
