import type { InstanceState, InstanceStatus, SandboxHandle, SandboxSpec } from "../../../core/kinds/deployment.ts";
import { randomBytes } from "node:crypto";
import type { Operator, OperatorHandle, WarmupResult } from "../../../core/kinds/operator.ts";
import { HttpError, Unavailable } from "../../../core/errors.ts";
import type { Logger } from "../../../core/log.ts";
import type { ScopedDocker, SwarmNode, SwarmTask } from "../../../core/permissions/docker.ts";
import { asEngineUnavailable, engineMessage, hasStatus } from "../../shared/containers/docker-errors.ts";
import { assertSandboxId } from "../../shared/deployment/sandbox-id.ts";
import { SANDBOX_ID_LABEL } from "../../shared/deployment/sandbox-labels.ts";
import { sandboxService, serviceName, warmupService, type ServiceSettings } from "./service-spec.ts";

export interface SwarmOperatorOptions extends ServiceSettings {
  name: string;
  /** How long a task may wait for a node that can hold it before the start fails. */
  placementTimeoutMs: number;
  /** How long a placed task may take to run (the node pulls the image, creates the container). */
  startTimeoutMs: number;
  assertRockletBinary(): Promise<void>;
}

/** Task states after which the task never runs again (Swarm does not restart ours). */
const ENDED = new Set(["complete", "shutdown", "failed", "rejected", "orphaned", "remove"]);
/** While a start waits for its task: how often the task is read, at most, and how often its node. */
const TASK_POLL_MS = 50;
const NODE_CHECK_MS = 1000;
/** Task states in which no node holds it yet. */
const UNPLACED = new Set(["new", "pending"]);

/** Runs one engine call; an engine that cannot be reached fails it with EngineUnavailable (a 503). */
async function engine<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asEngineUnavailable(error);
  }
}

/** The newest task (a service of ours has one, or none yet). */
function latest(tasks: SwarmTask[]): SwarmTask | undefined {
  return tasks.reduce<SwarmTask | undefined>((a, b) => (!a || b.CreatedAt > a.CreatedAt ? b : a), undefined);
}

/** The node's address as the other nodes reach it; a manager may report 0.0.0.0 there and its listen address elsewhere. */
function nodeAddress(node: SwarmNode): string {
  const addr = node.Status.Addr;
  if (addr && addr !== "0.0.0.0") return addr;
  return node.ManagerStatus?.Addr?.replace(/:\d+$/, "") ?? "";
}

/** Why a task whose node the manager no longer hears from is lost. */
function nodeLoss(node: SwarmNode): string {
  const why = node.Status.Message ? `: ${node.Status.Message}` : "";
  return `its node ${node.Description?.Hostname ?? node.ID} (${nodeAddress(node) || node.ID}) is ${node.Status.State}${why}`;
}

/** The state of a sandbox from its newest task and the nodes: a task on a node that is down is lost. */
function taskStatus(task: SwarmTask | undefined, nodes: Map<string, SwarmNode>): InstanceStatus {
  if (!task) return { state: "running" }; // created, its task not yet
  if (ENDED.has(task.Status.State)) return { state: "stopped", reason: taskFailure(task) };
  const node = task.NodeID ? nodes.get(task.NodeID) : undefined;
  if (node && node.Status.State !== "ready") return { state: "stopped", reason: nodeLoss(node) };
  return { state: "running" };
}

function taskFailure(task: SwarmTask): string {
  const { State: state, Err: err, Message: message, ContainerStatus: container } = task.Status;
  if (err) return `its task ${state}: ${err}`;
  if (state === "complete" || state === "failed") return `the rocklet exited with code ${container?.ExitCode ?? "?"} (task ${state})`;
  return `its task is ${state}${message ? ` (${message})` : ""}`;
}

/**
 * Sandboxes as Swarm services on the cluster whose manager is the kernel's Docker engine: one service per sandbox,
 * placed by Swarm on a node that has the reserved CPU and memory and satisfies the constraints, reached at that node's
 * address and the task's host-mode published port.
 */
export class SwarmOperator implements Operator {
  readonly name: string;
  readonly placementLabels: readonly string[];

  constructor(
    private readonly docker: ScopedDocker,
    private readonly options: SwarmOperatorOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
    this.placementLabels = options.placementLabels;
  }

  submit(spec: SandboxSpec, signal?: AbortSignal): Promise<OperatorHandle> {
    return this.place(spec, signal);
  }

  /** Back on the node whose address is `previous.host_ip` when it is still in the swarm (ROCK does the same). */
  async restart(spec: SandboxSpec, signal?: AbortSignal, previous?: { host_ip?: string | null }): Promise<OperatorHandle> {
    await this.stop(spec.sandbox_id);
    let nodeId: string | undefined;
    if (previous?.host_ip) {
      const node = (await engine(() => this.docker.listNodes())).find((n) => nodeAddress(n) === previous.host_ip);
      if (!node) throw new Error(`sandbox '${spec.sandbox_id}' ran on ${previous.host_ip}, which is no longer a node of the swarm`);
      nodeId = node.ID;
    }
    return this.place(spec, signal, nodeId);
  }

  private async place(spec: SandboxSpec, signal: AbortSignal | undefined, nodeId?: string): Promise<OperatorHandle> {
    assertSandboxId(spec.sandbox_id);
    const name = serviceName(spec.sandbox_id);
    if (!name) throw new HttpError(400, `sandbox_id '${spec.sandbox_id}' cannot name a swarm service (at most 58 letters, digits, '-' or '_', no '.')`, "sandbox_id");
    await this.options.assertRockletBinary();
    const service = sandboxService(spec, this.options, name, nodeId);
    signal?.throwIfAborted();
    let serviceId: string;
    try {
      serviceId = await engine(() => this.docker.createService(service));
    } catch (error) {
      if (error instanceof Unavailable) throw error;
      if (hasStatus(error, 409)) throw new Error(`sandbox '${spec.sandbox_id}' already has a service (${name})`, { cause: error });
      throw new Error(`creating the service of sandbox '${spec.sandbox_id}' failed: ${engineMessage(error)}`, { cause: error });
    }
    // From here on nothing may be left behind: any failure removes the service (and with it the task's container).
    try {
      const task = await this.untilRunning(serviceId, signal);
      return { ...(await this.handle(spec.sandbox_id, task)), rockletToken: spec.rockletToken };
    } catch (error) {
      await this.removeAndWait(serviceId).catch((cleanup) => {
        this.log.error("removing a failed sandbox service failed", { sandbox_id: spec.sandbox_id, error: engineMessage(cleanup) });
      });
      if (signal?.aborted || error instanceof Unavailable) throw error;
      throw new Error(`starting sandbox '${spec.sandbox_id}' on the swarm failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /**
   * Waits until the service's task runs; fails with why when it ended, found no node in time, or took too long. The
   * task is read every 50 ms at most (a task runs ~0.5 s after its service is created, and a slower poll adds its
   * interval to every start); its node only once a second (Swarm needs ~10 s to call a node down).
   */
  private async untilRunning(serviceId: string, signal?: AbortSignal): Promise<SwarmTask> {
    const started = performance.now();
    let nodeCheck = 0;
    for (let pause = 20; ; pause = Math.min(TASK_POLL_MS, pause * 1.5)) {
      signal?.throwIfAborted();
      const task = latest(await engine(() => this.docker.tasks(serviceId)));
      const elapsed = performance.now() - started;
      if (task?.Status.State === "running") return task;
      if (task && ENDED.has(task.Status.State)) throw new Error(taskFailure(task));
      // Assigned to a node that stopped answering: Swarm would wait for it indefinitely.
      if (task?.NodeID && elapsed >= nodeCheck) {
        nodeCheck = elapsed + NODE_CHECK_MS;
        const node = (await this.nodes()).get(task.NodeID);
        if (node && node.Status.State !== "ready") throw new Error(nodeLoss(node));
      }
      if ((!task || UNPLACED.has(task.Status.State)) && elapsed > this.options.placementTimeoutMs) {
        const why = task?.Status.Err ?? task?.Status.Message ?? "the task was not created";
        throw new Error(`no node could take it within ${this.options.placementTimeoutMs / 1000}s (${why})`);
      }
      if (elapsed > this.options.startTimeoutMs) {
        throw new Error(`its task did not run within ${this.options.startTimeoutMs / 1000}s (${task ? taskFailure(task) : "no task"})`);
      }
      await Bun.sleep(pause);
    }
  }

  private async handle(sandboxId: string, task: SwarmTask): Promise<SandboxHandle> {
    const node = (await engine(() => this.docker.listNodes())).find((n) => n.ID === task.NodeID);
    if (!node) throw new Error(`the node ${task.NodeID} that runs its task left the swarm`);
    const port = task.Status.PortStatus?.Ports?.find((p) => p.TargetPort === this.options.rockletPort)?.PublishedPort;
    if (!port) throw new Error(`its task runs but the node published no port for ${this.options.rockletPort}/tcp`);
    const hostIp = nodeAddress(node);
    return {
      sandbox_id: sandboxId,
      rockletUrl: `http://${hostIp}:${port}`,
      host_ip: hostIp,
      host_name: node.Description?.Hostname ?? node.ID,
      port_mapping: { [String(this.options.rockletPort)]: port },
      instance_id: task.Status.ContainerStatus?.ContainerID ?? task.ID,
    };
  }

  private async serviceOf(sandboxId: string) {
    const name = serviceName(sandboxId);
    return name ? engine(() => this.docker.inspectService(name)) : null;
  }

  /**
   * Every node that may hold sandboxes gets `image`: a global service (one task per ready, active node that meets the
   * configured constraints) runs once from it; a task that completed means the node has it, any other end says why
   * not. The service is removed afterwards, whatever happened.
   */
  async warmup(image: string, signal?: AbortSignal): Promise<{ results: Promise<WarmupResult[]> }> {
    await this.options.assertRockletBinary();
    const name = `rock-warmup-${randomBytes(6).toString("hex")}`;
    const serviceId = await engine(() => this.docker.createService(warmupService(image, this.options, name)));
    return { results: this.warmupResults(name, serviceId, signal) };
  }

  private async warmupResults(name: string, serviceId: string, signal?: AbortSignal): Promise<WarmupResult[]> {
    try {
      const deadline = performance.now() + this.options.startTimeoutMs;
      for (let pause = 50; ; pause = Math.min(500, pause * 1.5)) {
        signal?.throwIfAborted();
        const [tasks, nodes] = await Promise.all([engine(() => this.docker.tasks(serviceId)), this.nodes()]);
        const timedOut = performance.now() > deadline;
        if ((tasks.length > 0 && tasks.every((t) => ENDED.has(t.Status.State))) || timedOut) {
          return tasks.map((task) => {
            const node = task.NodeID ? nodes.get(task.NodeID) : undefined;
            const where = { host_ip: node ? nodeAddress(node) : "", host_name: node?.Description?.Hostname ?? task.NodeID ?? "" };
            if (task.Status.State === "complete") return { ...where, ok: true };
            return { ...where, ok: false, reason: ENDED.has(task.Status.State) ? taskFailure(task) : `not done within ${this.options.startTimeoutMs / 1000}s (${task.Status.State})` };
          });
        }
        await Bun.sleep(pause);
      }
    } finally {
      await this.removeAndWait(serviceId).catch((error) => this.log.error("removing a warmup job failed", { service: name, error: engineMessage(error) }));
    }
  }

  private async nodes(): Promise<Map<string, SwarmNode>> {
    return new Map((await engine(() => this.docker.listNodes())).map((n) => [n.ID, n]));
  }

  /** A sandbox whose node the manager reports down (or unknown, disconnected) is stopped, with the node named. */
  async get_status(sandboxId: string): Promise<InstanceState | InstanceStatus> {
    const service = await this.serviceOf(sandboxId);
    if (!service) return "missing";
    const [tasks, nodes] = await Promise.all([engine(() => this.docker.tasks(service.ID)), this.nodes()]);
    const status = taskStatus(latest(tasks), nodes);
    return status.state === "running" ? "running" : status;
  }

  async locate(sandboxId: string): Promise<SandboxHandle | null> {
    const service = await this.serviceOf(sandboxId);
    const task = service ? latest(await engine(() => this.docker.tasks(service.ID))) : undefined;
    return task?.Status.State === "running" ? this.handle(sandboxId, task) : null;
  }

  /** Removes the service and waits (bounded) until its container is gone from its node; "already gone" is done. */
  async stop(sandboxId: string): Promise<void> {
    const service = await this.serviceOf(sandboxId);
    if (service) await this.removeAndWait(service.ID);
  }

  delete(sandboxId: string): Promise<void> {
    return this.stop(sandboxId);
  }

  /**
   * Waits for the tasks on nodes that answer; a node that is down removes its container when it returns (its agent
   * learns that the service is gone).
   */
  private async removeAndWait(serviceId: string): Promise<void> {
    await engine(() => this.docker.removeService(serviceId));
    const deadline = performance.now() + this.options.stopTimeoutSeconds * 1000 + 15_000;
    for (let pause = 20; performance.now() < deadline; pause = Math.min(250, pause * 1.5)) {
      const [tasks, nodes] = await Promise.all([engine(() => this.docker.tasks(serviceId)), this.nodes()]);
      if (tasks.every((t) => t.NodeID && nodes.get(t.NodeID)?.Status.State !== "ready")) return;
      await Bun.sleep(pause);
    }
    this.log.warn("a removed sandbox service still has a task", { service: serviceId });
  }

  async list(): Promise<{ sandbox_id: string; state: InstanceState }[]> {
    const [services, tasks, nodes] = await Promise.all([engine(() => this.docker.listServices()), engine(() => this.docker.tasks()), this.nodes()]);
    return services
      .filter((s) => s.Spec?.Labels?.[SANDBOX_ID_LABEL])
      .map((s) => ({ sandbox_id: s.Spec!.Labels![SANDBOX_ID_LABEL], state: taskStatus(latest(tasks.filter((t) => t.ServiceID === s.ID)), nodes).state }));
  }
}
