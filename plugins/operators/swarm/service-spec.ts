/**
 * The Swarm service of one sandbox: the hardened container of the docker deployment expressed as a service spec. One
 * replica that is never restarted by Swarm (the admin decides), CPU and memory as reservations (the scheduler places by
 * them) and equal limits, a pids limit, every capability dropped but a shell's few, docker-init, the rocklet
 * bind-mounted read-only from the same path on every node, its port published in host mode on the node that runs it.
 * The rocklet gets only the SHA-256 digest of its token (`--token-sha256`): the spec holds nothing that opens it.
 */
import type Docker from "dockerode";
import { createHash } from "node:crypto";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import { badRequest } from "../../../core/errors.ts";
import { capabilitySet } from "../../shared/deployment/capabilities.ts";
import { ROCKLET_MOUNT_PATH, sandboxEnvironment, sandboxLabels } from "../../shared/deployment/sandbox-labels.ts";

export interface ServiceSettings {
  rockletBinary: string;
  rockletPort: number;
  capAdd: readonly string[];
  init: boolean;
  user: string;
  maxSessions: number;
  stopTimeoutSeconds: number;
  /** Swarm placement constraints every sandbox gets, e.g. `node.labels.pool==sandbox`. */
  constraints: readonly string[];
  /** Keys of the spec's labels that become `node.labels.<key>==<value>` constraints (e.g. zone, pool). */
  placementLabels: readonly string[];
}

/** Swarm's rule for service names (a DNS label of at most 63 characters); ids outside it get no service. */
const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const NAME_PREFIX = "rock-";
/** A label value that a constraint can carry as it is. */
const CONSTRAINT_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The service name of a sandbox, or null when the id cannot be one (the admin's ids always can). */
export function serviceName(sandboxId: string): string | null {
  const name = NAME_PREFIX + sandboxId;
  return name.length <= 63 && SERVICE_NAME.test(name) ? name : null;
}

export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The configured constraints, the spec's placement labels, and `node.id==<nodeId>` when pinned to a node. */
export function placementConstraints(spec: SandboxSpec, settings: ServiceSettings, nodeId?: string): string[] {
  const constraints = [...settings.constraints];
  for (const key of settings.placementLabels) {
    const value = spec.labels[key];
    if (value === undefined) continue;
    if (!CONSTRAINT_VALUE.test(value)) {
      throw badRequest(`placement label '${key}' is ${JSON.stringify(value)}: use 1-63 letters, digits, '.', '_' or '-'`, key);
    }
    constraints.push(`node.labels.${key}==${value}`);
  }
  if (nodeId) constraints.push(`node.id==${nodeId}`);
  return constraints;
}

/**
 * A global service that runs the rocklet's `--version` from `image` once (restart policy none) on every node that may
 * hold sandboxes: each node gets the image (Swarm pulls it there) or reports why not. Small limits, nothing reserved,
 * the same hardening. Not a global job: the tasks of a removed job service stay in the swarm with their containers
 * (engine 20.10), those of a removed service go.
 */
export function warmupService(image: string, settings: ServiceSettings, name: string): Docker.ServiceSpec {
  return {
    Name: name,
    Labels: { "rock.warmup": "true" },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Command: [ROCKLET_MOUNT_PATH],
        Args: ["--version"],
        Mounts: [{ Type: "bind", Source: settings.rockletBinary, Target: ROCKLET_MOUNT_PATH, ReadOnly: true }],
        Init: settings.init,
        CapabilityDrop: ["ALL"],
        Privileges: { NoNewPrivileges: true } as Docker.ContainerSpec["Privileges"],
      },
      Resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 256 * 1024 ** 2, Pids: 64 } as Docker.ResourceRequirements["Limits"] },
      RestartPolicy: { Condition: "none", MaxAttempts: 0 },
      Placement: { Constraints: [...settings.constraints] },
    },
    Mode: { Global: {} },
  };
}

export function sandboxService(spec: SandboxSpec, settings: ServiceSettings, name: string, nodeId?: string): Docker.ServiceSpec {
  const labels = sandboxLabels(spec);
  const nanoCpus = Math.round(spec.cpus * 1e9);
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Command: [ROCKLET_MOUNT_PATH],
        // 0.0.0.0 inside the task's own network namespace: the node's published port arrives on its bridge address.
        Args: ["--host", "0.0.0.0", "--port", String(settings.rockletPort), "--token-sha256", tokenDigest(spec.rockletToken), "--max-sessions", String(settings.maxSessions)],
        Env: Object.entries(sandboxEnvironment(spec)).map(([key, value]) => `${key}=${value}`),
        Labels: labels,
        User: settings.user || undefined,
        Mounts: [{ Type: "bind", Source: settings.rockletBinary, Target: ROCKLET_MOUNT_PATH, ReadOnly: true }],
        Init: settings.init,
        CapabilityDrop: ["ALL"],
        CapabilityAdd: capabilitySet(settings.capAdd),
        // Engines from API 1.46 apply it; older ones ignore the field (see the README's swarm section).
        Privileges: { NoNewPrivileges: true } as Docker.ContainerSpec["Privileges"],
        StopGracePeriod: settings.stopTimeoutSeconds * 1e9,
      },
      Resources: {
        Limits: { NanoCPUs: nanoCpus, MemoryBytes: spec.memoryBytes, Pids: spec.pidsLimit } as Docker.ResourceRequirements["Limits"],
        Reservations: { NanoCPUs: nanoCpus, MemoryBytes: spec.memoryBytes },
      },
      RestartPolicy: { Condition: "none", MaxAttempts: 0 },
      Placement: { Constraints: placementConstraints(spec, settings, nodeId) },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: "dnsrr", Ports: [{ Protocol: "tcp", TargetPort: settings.rockletPort, PublishMode: "host" }] },
  };
}
