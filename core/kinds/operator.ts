/**
 * The contract an `operator` plugin provides, with ROCK's verbs. An operator places sandboxes on a deployment (one
 * local runtime, a cluster, …) and reports on them; the admin service drives operators and never a deployment directly.
 */
import type { InstanceState, InstanceStatus, SandboxHandle, SandboxSpec } from "./deployment.ts";
import type { ShapeOf } from "./shape.ts";

/** Where a submitted sandbox's rocklet answers, and the token to present to it (already resolved). */
export interface OperatorHandle extends SandboxHandle {
  rockletToken: string;
}

export interface Operator {
  readonly name: string;
  /**
   * The node labels a start may pin a sandbox to (its `placement`, recorded in the spec's labels); absent or empty: the
   * operator runs every sandbox on one host and a start that asks for a placement is refused.
   */
  readonly placementLabels?: readonly string[];
  /** Places and starts the sandbox; resolves once its rocklet is started (not necessarily answering). */
  submit(spec: SandboxSpec, signal?: AbortSignal): Promise<OperatorHandle>;
  /** What the runtime says about the sandbox's instance, with why it stopped when the runtime knows. */
  get_status(sandbox_id: string): Promise<InstanceState | InstanceStatus>;
  /** Stops the instance and releases what it held. Idempotent. */
  stop(sandbox_id: string): Promise<void>;
  /** Removes whatever is left of a stopped sandbox. Idempotent. */
  delete(sandbox_id: string): Promise<void>;
  /**
   * Starts a stopped sandbox again. Takes the spec and where it ran, as ROCK's `restart(config, host_ip)` does, so
   * that an operator needs no state of its own (one that places on several hosts puts it back on `previous.host_ip`);
   * the rocklet token may be new.
   */
  restart(spec: SandboxSpec, signal?: AbortSignal, previous?: { host_ip?: string | null }): Promise<OperatorHandle>;
  /** Every instance the operator's runtime holds (for the admin's reconciler). */
  list(): Promise<{ sandbox_id: string; state: InstanceState }[]>;
  /**
   * Makes every host that may run sandboxes hold `image` (ROCK's warmup route): resolves once the work is under way
   * (or rejects when it cannot begin), with `results` resolving when each host is done. Optional: an operator on one
   * host pulls at start.
   */
  warmup?(image: string, signal?: AbortSignal): Promise<{ results: Promise<WarmupResult[]> }>;
  /** Where the running instance's rocklet answers (`Deployment.locate`); optional, null when it cannot say. */
  locate?(sandbox_id: string): Promise<SandboxHandle | null>;
  /** `Deployment.pause` / `resume`; absent when the deployment cannot pause. */
  pause?(sandbox_id: string): Promise<void>;
  resume?(sandbox_id: string): Promise<void>;
}

/** How one host fared in `Operator.warmup`. */
export interface WarmupResult {
  host_ip: string;
  host_name: string;
  ok: boolean;
  /** Why the host could not get the image. */
  reason?: string;
}

/** What an operator plugin's `setup` returns. */
export interface OperatorPluginInstance {
  operator: Operator;
}

export const operatorShape = {
  operator: { name: "string", submit: "function", get_status: "function", stop: "function", delete: "function", restart: "function", list: "function" },
} satisfies ShapeOf<OperatorPluginInstance>;
