/**
 * The contract a `deployment` plugin provides: start a sandbox whose rocklet answers on a URL, and take it down.
 * Operators (and through them the admin service) drive deployments; they never touch Docker or processes directly.
 */
import type { ShapeOf } from "./shape.ts";

export interface SandboxSpec {
  sandbox_id: string;
  image: string;
  /** CPU cores (fractions allowed). */
  cpus: number;
  /** Memory limit in bytes. */
  memoryBytes: number;
  /** Maximum number of processes in the sandbox. */
  pidsLimit: number;
  /** Extra environment for the sandbox's processes. */
  env: Record<string, string>;
  /** Token the rocklet requires on every call (Authorization: Bearer). */
  rockletToken: string;
  /** When to pull `image`; absent = the deployment's configured default. A deployment that runs no images ignores it. */
  pull?: "never" | "missing" | "always";
  /** Free-form labels recorded with the sandbox (user, experiment, namespace, …). */
  labels: Record<string, string>;
}

export interface SandboxHandle {
  sandbox_id: string;
  /** Base URL of the sandbox's rocklet, e.g. http://127.0.0.1:49153 */
  rockletUrl: string;
  host_ip: string;
  host_name: string;
  /** Sandbox port → host port. */
  port_mapping: Record<string, number>;
  /** Container id or process id, as the deployment knows it. */
  instance_id: string;
  /**
   * Token to present to this rocklet when it is not `spec.rockletToken`: a remote rocklet was started by someone else
   * with its own token. Absent means the spec's token.
   */
  rockletToken?: string;
  /** How the sandbox is confined when the deployment can say (e.g. "bubblewrap", or "none" for a bare process). */
  isolation?: string;
}

export type InstanceState = "running" | "stopped" | "missing";

/** An instance's state with, for one that stopped by itself, why (exit code, signal, out of memory) when known. */
export interface InstanceStatus {
  state: InstanceState;
  reason?: string;
}

/** The state of what `Deployment.state` answered, whichever form it took. */
export function stateOf(status: InstanceState | InstanceStatus): InstanceState {
  return typeof status === "string" ? status : status.state;
}

export interface Deployment {
  readonly name: string;
  /** Creates and starts the sandbox; resolves once its rocklet process is started (not necessarily answering). */
  start(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle>;
  /** What the runtime says about the sandbox's instance; a deployment that knows why it stopped says so. */
  state(sandbox_id: string): Promise<InstanceState | InstanceStatus>;
  /** Stops the sandbox and releases everything it held (container, process group, work dir). Idempotent. */
  stop(sandbox_id: string): Promise<void>;
  /** Every sandbox instance this deployment holds, live or not (for the reconciler). */
  list(): Promise<{ sandbox_id: string; state: InstanceState }[]>;
  /**
   * Where the rocklet of the sandbox's running instance answers; null when none runs. Lets the admin adopt a start it
   * did not see finish (it was restarted meanwhile). Optional: without it such a start is undone.
   */
  locate?(sandbox_id: string): Promise<SandboxHandle | null>;
  /**
   * Freezes the running sandbox's processes, its memory kept, until `resume`; the instance stays running for
   * `state` and the reconciler. Optional: a deployment without it cannot pause sandboxes (E2B's pause).
   */
  pause?(sandbox_id: string): Promise<void>;
  resume?(sandbox_id: string): Promise<void>;
}

/** What a deployment plugin's `setup` returns. */
export interface DeploymentPluginInstance {
  deployment: Deployment;
}

export const deploymentShape = {
  deployment: { name: "string", start: "function", state: "function", stop: "function", list: "function" },
} satisfies ShapeOf<DeploymentPluginInstance>;
