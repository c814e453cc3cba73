/**
 * The life of tool instances: one container per (tool, tenant) named `<tool>_<tenant>`. A create records `pending`
 * and returns; the container is started in the background and the record becomes `running` only when the node
 * answers its health check, or `failed` with the reason (its container removed: nothing is left half-made).
 * Operations on one instance are serialised; a remove or update first stops a launch in progress and waits for it.
 * The record is written before the container is made or removed, so that each step can be interrupted (the manager
 * killed, the engine away) and is finished by the reconciler: a container no active record claims is removed, an
 * active record whose container is gone or dead becomes `failed` with why.
 */
import type { Logger } from "../../../core/log.ts";
import type { ScopedContainer, ScopedDocker } from "../../../core/permissions/docker.ts";
import { errorMessage } from "../../../core/errors.ts";
import { engineMessage } from "../../shared/containers/docker-errors.ts";
import { ContainerExited, ContainerRuntime, StartFailed } from "../../shared/containers/runtime.ts";
import { InstanceRecords, isActive, type ToolInstance } from "./instance-records.ts";
import type { NodeClient } from "./node-client.ts";
import { nodeContainer, nodeSecrets, NODE_LABEL, type NodeContainerSettings, type NodeSpec } from "./node-container.ts";
import { exitReason } from "./node-state.ts";
import type { PortAllocator } from "./port-allocator.ts";

export interface LifecycleSettings {
  defaultImage: string;
  pull: "never" | "missing" | "always";
  startTimeoutMs: number;
  container: NodeContainerSettings;
  /** Throws (with a build hint) when the node binary is missing. */
  assertNodeBinary(): Promise<void>;
}

export interface CreateSpec {
  tool_name: string;
  tenant_id: string;
  config: Record<string, unknown>;
  image?: string;
}

export const nodeName = (tool: string, tenant: string) => `${tool}_${tenant}`;

/** Why a launch was stopped: by an operation that takes over the instance, or by the manager shutting down. */
class Superseded extends Error {}

/** A launch's failure in the words of a `failed` record. */
async function launchError(error: unknown): Promise<unknown> {
  if (error instanceof ContainerExited) return new Error(await exitReason(error.container, error.info), { cause: error });
  if (error instanceof StartFailed) {
    return new Error(`${error.step === "start" ? "starting the container" : "handing the node its token"} failed: ${error.message}`, { cause: error });
  }
  return error;
}

interface Launch {
  abort: AbortController;
  done: Promise<void>;
}

export class ToolInstances {
  private readonly launches = new Map<string, Launch>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly containers: ContainerRuntime;

  constructor(
    docker: ScopedDocker,
    readonly records: InstanceRecords,
    private readonly ports: PortAllocator,
    private readonly client: NodeClient,
    private readonly settings: LifecycleSettings,
    private readonly log: Logger,
  ) {
    this.containers = new ContainerRuntime(docker);
  }

  private exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(name, settled);
    void settled.then(() => this.locks.get(name) === settled && this.locks.delete(name));
    return next;
  }

  /** Starts an instance unless one is pending or running already (then it is returned as it is, like the original). */
  create(spec: CreateSpec): Promise<ToolInstance> {
    const name = nodeName(spec.tool_name, spec.tenant_id);
    return this.exclusive(name, async () => {
      const existing = this.records.get(name);
      if (existing && isActive(existing.status)) return existing;
      await this.removeContainer(name);
      return this.begin(spec, existing?.port);
    });
  }

  /** Replaces an instance's container with one of the new config or image, on the same port when it is free. */
  update(spec: CreateSpec): Promise<ToolInstance> {
    const name = nodeName(spec.tool_name, spec.tenant_id);
    return this.exclusive(name, async () => {
      const existing = this.records.get(name);
      await this.stopLaunch(name);
      if (existing && isActive(existing.status)) this.records.update(name, { status: "exited", container_id: null });
      try {
        await this.removeContainer(name);
        return this.begin(spec, existing?.port);
      } catch (error) {
        // The old node is going and no new one came (the engine away): say so, rather than a quiet "exited".
        if (this.records.get(name)) this.records.update(name, { status: "failed", error: `the tool node could not be replaced: ${errorMessage(error)}`, container_id: null });
        throw error;
      }
    });
  }

  /** Removes the instance's container; the record stays as `exited`. Undefined when there is no such instance. */
  remove(name: string): Promise<ToolInstance | undefined> {
    return this.exclusive(name, async () => {
      if (!this.records.get(name)) return undefined;
      await this.stopLaunch(name);
      const record = this.records.update(name, { status: "exited", container_id: null, error: null });
      await this.removeContainer(name);
      return record;
    });
  }

  /** The record, after checking that a `running` node's container still runs (a crashed node becomes `failed`). */
  async refresh(name: string): Promise<ToolInstance | undefined> {
    return (await this.check(name)).record;
  }

  /** `crashed`: this check found the running node's container dead and recorded it (not someone else before it). */
  private async check(name: string): Promise<{ record: ToolInstance | undefined; crashed: boolean }> {
    const record = this.records.get(name);
    if (!record || record.status !== "running") return { record, crashed: false };
    return this.exclusive(name, async () => {
      const current = this.records.get(name);
      if (!current || current.status !== "running") return { record: current, crashed: false };
      const found = await this.containers.find(name);
      if (found?.info.State.Running) return { record: current, crashed: false };
      const reason = found ? await exitReason(found.container, found.info) : "the tool node's container disappeared";
      await this.removeContainer(name);
      this.log.warn("tool node is down", { node: name, reason });
      return { record: this.records.update(name, { status: "failed", error: reason, container_id: null }), crashed: true };
    });
  }

  /**
   * After a call could not reach a running node: Docker may take a moment to see that the process died, so the
   * container is looked at until it stops or `settleMs` pass. `crashed` tells a node that died under the call from one
   * another call (an update, a remove) took away meanwhile.
   */
  async afterUnreachable(name: string, settleMs = 1000): Promise<{ record: ToolInstance | undefined; crashed: boolean }> {
    const deadline = performance.now() + settleMs;
    for (;;) {
      const checked = await this.check(name);
      if (checked.crashed || checked.record?.status !== "running" || performance.now() >= deadline) {
        // Nothing found dead: an engine that went away (it kills its containers as it stops) is the likelier cause.
        if (!checked.crashed) await this.containers.ping();
        return checked;
      }
      await Bun.sleep(50);
    }
  }

  private begin(spec: CreateSpec, preferredPort?: number): ToolInstance {
    const name = nodeName(spec.tool_name, spec.tenant_id);
    const port = this.ports.allocate(preferredPort);
    let record: ToolInstance;
    try {
      record = this.records.put({
        name,
        tool_name: spec.tool_name,
        tenant_id: spec.tenant_id,
        status: "pending",
        image: spec.image || this.settings.defaultImage,
        container_id: null,
        port,
        node_token: crypto.randomUUID().replaceAll("-", ""),
        error: null,
      });
    } finally {
      this.ports.settle(port);
    }
    const abort = new AbortController();
    const nodeSpec: NodeSpec = { ...record, config: spec.config };
    const done = this.launch(nodeSpec, abort.signal).finally(() => {
      if (this.launches.get(name)?.abort === abort) this.launches.delete(name);
    });
    this.launches.set(name, { abort, done });
    return record;
  }

  private async launch(spec: NodeSpec, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let container: ScopedContainer | undefined;
    try {
      await this.settings.assertNodeBinary();
      await this.containers.ensureImage(spec.image, this.settings.pull);
      signal.throwIfAborted();
      try {
        container = await this.containers.create(nodeContainer(spec, this.settings.container));
      } catch (error) {
        throw new Error(`creating the container failed: ${engineMessage(error)}`, { cause: error });
      }
      this.records.update(spec.name, { container_id: container.id });
      signal.throwIfAborted();
      try {
        await this.containers.start(container, nodeSecrets(spec));
      } catch (error) {
        throw await launchError(error);
      }
      await this.waitReady(spec, container, signal);
      this.records.update(spec.name, { status: "running", error: null });
      this.log.info("tool node running", { node: spec.name, port: spec.port, ms: Math.round(performance.now() - started) });
    } catch (error) {
      if (container) await this.containers.remove(container).catch(() => undefined);
      if (signal.aborted && signal.reason instanceof Superseded) return;
      const reason = signal.aborted ? String((signal.reason as Error)?.message ?? signal.reason) : (error as Error).message;
      this.log.warn("tool node failed to start", { node: spec.name, reason });
      if (this.records.get(spec.name)?.status === "pending") this.records.update(spec.name, { status: "failed", error: `Failed to start container for ${spec.name}: ${reason}`, container_id: null });
    }
  }

  /** Until the node answers /health; fails early when its container exits, and at the start deadline. */
  private async waitReady(spec: NodeSpec, container: ScopedContainer, signal: AbortSignal): Promise<void> {
    let healthy: boolean;
    try {
      healthy = await this.containers.waitHealthy(container, () => this.client.healthy(spec.port, 500), this.settings.startTimeoutMs, signal);
    } catch (error) {
      throw await launchError(error);
    }
    if (!healthy) throw new Error(`the tool node did not answer its health check within ${this.settings.startTimeoutMs} ms`);
  }

  private async stopLaunch(name: string): Promise<void> {
    const launch = this.launches.get(name);
    if (!launch) return;
    launch.abort.abort(new Superseded("superseded"));
    await launch.done;
  }

  private async removeContainer(name: string): Promise<void> {
    const found = await this.containers.find(name);
    if (!found) return;
    await this.containers.remove(found.container).catch((error) => {
      throw new Error(`removing the container of ${name} failed: ${engineMessage(error)}`, { cause: error });
    });
  }

  /**
   * Records and containers agree again: at start-up, every `reconcile_interval_ms`, and after the engine was away. A
   * pending or running record whose container runs is confirmed (or its launch continued, after a restart of the
   * manager) through the health check; one whose container is gone or exited becomes `failed` with why. Containers of
   * ours that no active record claims are removed. Each instance is looked at in its turn, never while it launches.
   */
  async reconcile(): Promise<void> {
    for (const { name } of this.records.all().filter((r) => isActive(r.status))) {
      if (this.launches.has(name)) continue;
      await this.exclusive(name, () => this.reconcileOne(name));
    }
    const claimed = (node: string) => {
      const record = this.records.get(node);
      return record !== undefined && isActive(record.status);
    };
    for (const orphan of await this.containers.unclaimed(NODE_LABEL, claimed)) {
      // A record made after the list (a create meanwhile) claims it now.
      if (claimed(orphan.labels[NODE_LABEL] ?? "")) continue;
      this.log.warn("removing an orphaned tool node container", { container: orphan.name });
      await this.containers.remove(orphan.id).catch(() => undefined);
    }
  }

  private async reconcileOne(name: string): Promise<void> {
    const record = this.records.get(name);
    if (!record || !isActive(record.status) || this.launches.has(name)) return;
    const found = await this.containers.find(record.name);
    if (!found) {
      this.log.warn("tool node is down", { node: name, reason: "its container disappeared" });
      this.records.update(record.name, { status: "failed", error: "the tool node's container disappeared", container_id: null });
    } else if (!found.info.State.Running) {
      const reason = await exitReason(found.container, found.info);
      this.log.warn("tool node is down", { node: name, reason });
      this.records.update(record.name, { status: "failed", error: reason, container_id: null });
      await this.removeContainer(record.name);
    } else if (record.status === "running" || (await this.client.healthy(record.port))) {
      if (record.status !== "running" || record.container_id !== found.info.Id) this.records.update(record.name, { status: "running", container_id: found.info.Id });
    } else {
      this.adopt(record, found.container);
    }
  }

  /** A pending node found running at start-up: its launch continues from the health check. */
  private adopt(record: ToolInstance, container: ScopedContainer) {
    const abort = new AbortController();
    const spec: NodeSpec = { ...record, config: {} };
    const done = this.waitReady(spec, container, abort.signal)
      .then(() => void this.records.update(record.name, { status: "running", error: null }))
      .catch(async (error) => {
        await this.containers.remove(container).catch(() => undefined);
        if (!(abort.signal.reason instanceof Superseded)) this.records.update(record.name, { status: "failed", error: (error as Error).message, container_id: null });
      })
      .finally(() => this.launches.delete(record.name));
    this.launches.set(record.name, { abort, done });
  }

  /** At shutdown: launches in progress end as `failed` (their containers removed); running nodes keep running. */
  async stop(): Promise<void> {
    const launches = [...this.launches.values()];
    for (const launch of launches) launch.abort.abort(new Error("the tool manager stopped while the node was starting"));
    await Promise.all(launches.map((l) => l.done));
  }
}
