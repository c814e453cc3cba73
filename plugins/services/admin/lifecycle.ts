/**
 * The control plane: start, stop, delete and restart sandboxes through the operator, keeping the durable record
 * (SQLite), the hot record (store) and the instance in step. A start that fails leaves neither an instance nor a live
 * record behind.
 */
import { stateOf, type InstanceState, type InstanceStatus, type SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Operator, OperatorHandle } from "../../../core/kinds/operator.ts";
import type { Logger } from "../../../core/log.ts";
import { badRequest, internalFailure } from "./envelope.ts";
import type { LiveSandbox, LiveSandboxes } from "./live-sandboxes.ts";
import { formatMemory, parseMemory } from "./resources.ts";
import type { RockletClient } from "./rocklet-client.ts";
import type { SandboxRecord, SandboxRecords } from "./sandbox-records.ts";
import type { StartRequest } from "../../protocol/rock-admin/schemas.ts";

export interface LifecycleLimits {
  maxCpus: number;
  maxMemoryBytes: number;
  defaultCpus: number;
  defaultMemoryBytes: number;
  pidsLimit: number;
  defaultAutoClearMinutes: number;
  startTimeoutMs: number;
}


export interface StartHeaders {
  user_id: string;
  experiment_id: string;
  namespace: string;
}

const sandboxIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class SandboxLifecycle {
  /** Sandboxes between submit and their first answer: the reconciler leaves them alone. */
  readonly starting = new Set<string>();

  constructor(
    private readonly operator: Operator,
    private readonly records: SandboxRecords,
    private readonly live: LiveSandboxes,
    private readonly rocklet: RockletClient,
    private readonly limits: LifecycleLimits,
    private readonly log: Logger,
  ) {}

  /** Validates, records and submits; resolves once the operator placed the sandbox (state pending). */
  async submit(request: StartRequest, headers: StartHeaders): Promise<SandboxRecord> {
    const spec = this.specFor(request, headers);
    const id = spec.sandbox_id;
    const now = new Date().toISOString();
    const info: LiveSandbox = { sandbox_id: id, state: "pending", image: spec.image, ...headers, rockletUrl: "", rockletToken: "", host_ip: "", host_name: "", create_time: now };
    if (!(await this.live.claim(info))) throw badRequest(`Sandbox ${id} already exists`);
    this.starting.add(id);
    try {
      const autoClearMinutes = request.auto_clear_time_minutes ?? this.limits.defaultAutoClearMinutes;
      this.records.create(spec, { ...headers, image: spec.image, cpus: spec.cpus, memory: formatMemory(spec.memoryBytes), disk: request.disk ?? "50G", auto_clear_time: autoClearMinutes });
      await this.live.touch(id, autoClearMinutes);
      const handle = await this.operator.submit(spec);
      await this.placed(spec, handle);
      return this.records.get(id)!;
    } catch (error) {
      await this.abandon(id, error);
      throw internalFailure(`failed to start sandbox ${id}: ${error instanceof Error ? error.message : error}`);
    } finally {
      this.starting.delete(id);
    }
  }

  /** Waits (bounded) until the rocklet answers, then marks the sandbox running; on timeout the start is undone. */
  async waitUntilRunning(sandbox_id: string): Promise<SandboxRecord> {
    this.starting.add(sandbox_id);
    try {
      const deadline = Date.now() + this.limits.startTimeoutMs;
      let nextInstanceCheck = Date.now() + INSTANCE_CHECK_MS;
      // A rocklet is usually up within tens of ms: poll quickly at first, then back off to 100 ms.
      for (let pause = 5; Date.now() < deadline; pause = Math.min(100, pause * 1.5)) {
        const info = await this.live.get(sandbox_id);
        if (!info) throw badRequest(`Sandbox ${sandbox_id} was stopped while starting`);
        if (await this.rocklet.isAlive(info)) return await this.markRunning(sandbox_id);
        if (Date.now() >= nextInstanceCheck) {
          nextInstanceCheck = Date.now() + INSTANCE_CHECK_MS;
          // An instance that died while starting ends the wait at once, with why. Only a runtime that says why (or
          // that the instance is gone) counts: a remote rocklet that does not answer yet is "stopped" as well.
          const status = await this.operator.get_status(sandbox_id);
          if (stateOf(status) !== "running" && (typeof status !== "string" || status === "missing")) {
            const reason = instanceFailure(status);
            await this.fail(sandbox_id, reason);
            throw internalFailure(`sandbox ${sandbox_id} failed while starting: ${reason}`);
          }
        }
        await Bun.sleep(pause);
      }
      const timeout = `sandbox ${sandbox_id} did not become alive within ${this.limits.startTimeoutMs / 1000} s`;
      await this.abandon(sandbox_id, timeout);
      throw internalFailure(timeout);
    } finally {
      this.starting.delete(sandbox_id);
    }
  }

  /** pending → running, when the rocklet answered. */
  async markRunning(sandbox_id: string): Promise<SandboxRecord> {
    const record = this.records.transition(sandbox_id, "alive") ?? this.records.get(sandbox_id)!;
    await this.live.update(sandbox_id, { state: record.state });
    return record;
  }

  /** Stops the instance and records it; a stopped sandbox stays stopped, an unknown id is an error. */
  async stop(sandbox_id: string, reason = "stop"): Promise<void> {
    const record = this.records.get(sandbox_id);
    if (!record) {
      // ROCK stops a dangling instance all the same.
      await this.operator.stop(sandbox_id).catch(() => undefined);
      throw badRequest(`Sandbox ${sandbox_id} not found`);
    }
    await this.operator.stop(sandbox_id);
    await this.live.forget(sandbox_id);
    if (this.records.transition(sandbox_id, "stop")) this.log.info("sandbox stopped", { sandbox_id, reason });
  }

  /**
   * Records that a sandbox's instance died by itself (state `stopped`, event `fail`, with the reason) and removes
   * what is left of it, so that no dead container waits for someone to call stop.
   */
  async fail(sandbox_id: string, reason: string): Promise<SandboxRecord | null> {
    await this.operator.stop(sandbox_id).catch((e) => this.log.error("removing a failed sandbox's instance failed", { sandbox_id, error: String(e) }));
    await this.live.forget(sandbox_id);
    const record = this.records.transition(sandbox_id, "fail", reason);
    if (record) this.log.warn("sandbox failed", { sandbox_id, reason });
    return record;
  }

  /**
   * After its rocklet did not answer: asks the operator about the instance and, when it is no longer running, records
   * the failure. Returns the failed record, or null while the instance runs (the rocklet may only be busy).
   */
  async failIfDead(sandbox_id: string): Promise<SandboxRecord | null> {
    const status = await this.operator.get_status(sandbox_id);
    if (stateOf(status) === "running") return null;
    return this.fail(sandbox_id, instanceFailure(status));
  }

  /**
   * The live entry of a sandbox, rebuilt from its record when the store lost it (Redis restarted without its data)
   * while the sandbox runs. A running record whose instance is gone is recorded as failed, with why.
   */
  async liveOrRebuilt(sandbox_id: string): Promise<LiveSandbox | null> {
    const info = await this.live.get(sandbox_id);
    if (info) return info;
    const record = this.records.get(sandbox_id);
    if (record?.state !== "running" || this.starting.has(sandbox_id)) return null;
    const status = await this.operator.get_status(sandbox_id);
    if (stateOf(status) === "running") return this.rebuild(record);
    // Re-read: a stop that ran meanwhile removed the instance on purpose.
    if (this.records.get(sandbox_id)?.state === "running") await this.fail(sandbox_id, instanceFailure(status));
    return null;
  }

  /**
   * Writes the hot state of a running sandbox from its durable record: where its rocklet answers, its token, and a
   * fresh idle timeout (the time of its last use went with the store). Returns the live entry, or null when the record
   * cannot say (not running, or written before records kept the rocklet's address). The instance must be running.
   */
  async rebuild(record: SandboxRecord): Promise<LiveSandbox | null> {
    if (record.state !== "running" || !record.rocklet_url || !record.rocklet_token) return null;
    const meta = record.meta as Record<string, unknown>;
    const text = (field: string) => (typeof meta[field] === "string" ? (meta[field] as string) : "default");
    const info: LiveSandbox = {
      sandbox_id: record.sandbox_id,
      state: "running",
      image: record.spec.image,
      user_id: text("user_id"),
      experiment_id: text("experiment_id"),
      namespace: text("namespace"),
      rockletUrl: record.rocklet_url,
      rockletToken: record.rocklet_token,
      host_ip: record.host_ip ?? "",
      host_name: record.host_name ?? "",
      create_time: record.create_time,
    };
    if (await this.live.claim(info)) {
      await this.live.touch(record.sandbox_id, typeof meta.auto_clear_time === "number" ? meta.auto_clear_time : this.limits.defaultAutoClearMinutes);
      this.log.info("sandbox hot state rebuilt from its record", { sandbox_id: record.sandbox_id });
      return info;
    }
    return this.live.get(record.sandbox_id);
  }

  /** Marks a sandbox stopped whose instance is gone (no operator call). */
  async markStopped(sandbox_id: string, reason: string): Promise<void> {
    await this.live.forget(sandbox_id);
    if (this.records.transition(sandbox_id, "stop")) this.log.info("sandbox stopped", { sandbox_id, reason });
  }

  /** Deletes a stopped sandbox; an unknown id succeeds (as in ROCK), a running one must be stopped first. */
  async delete(sandbox_id: string): Promise<void> {
    const record = this.records.get(sandbox_id);
    if (!record || record.state === "deleted") return;
    if (record.state !== "stopped") throw badRequest(`Sandbox ${sandbox_id} is ${record.state}; stop it before deleting it`);
    await this.operator.delete(sandbox_id);
    this.records.transition(sandbox_id, "delete");
  }

  /** stopped → pending → running, on a fresh instance with a fresh rocklet token. */
  async restart(sandbox_id: string): Promise<SandboxRecord> {
    const record = this.records.get(sandbox_id);
    if (!record) throw badRequest(`Sandbox ${sandbox_id} not found`);
    if (record.state !== "stopped") throw badRequest(`Sandbox ${sandbox_id} is ${record.state}; only a stopped sandbox can be restarted`);
    const spec = { ...record.spec, rockletToken: newToken() };
    const meta = record.meta as unknown as StartHeaders;
    const info: LiveSandbox = { sandbox_id, state: "pending", image: spec.image, user_id: meta.user_id, experiment_id: meta.experiment_id, namespace: meta.namespace, rockletUrl: "", rockletToken: "", host_ip: "", host_name: "", create_time: record.create_time };
    if (!(await this.live.claim(info))) throw badRequest(`Sandbox ${sandbox_id} already exists`);
    this.starting.add(sandbox_id);
    try {
      this.records.transition(sandbox_id, "restart");
      await this.live.touch(sandbox_id, this.limits.defaultAutoClearMinutes);
      await this.placed(spec, await this.operator.restart(spec));
    } catch (error) {
      await this.abandon(sandbox_id, error);
      throw internalFailure(`failed to restart sandbox ${sandbox_id}: ${error instanceof Error ? error.message : error}`);
    } finally {
      this.starting.delete(sandbox_id);
    }
    return this.waitUntilRunning(sandbox_id);
  }

  private async placed(spec: SandboxSpec, handle: OperatorHandle) {
    const { host_ip, host_name, port_mapping, isolation } = handle;
    this.records.placed(spec.sandbox_id, { host_ip, host_name, port_mapping, rocklet_url: handle.rockletUrl, rocklet_token: handle.rockletToken, spec, isolation });
    await this.live.update(spec.sandbox_id, { rockletUrl: handle.rockletUrl, rockletToken: handle.rockletToken, host_ip: handle.host_ip, host_name: handle.host_name });
  }

  /** Undoes a failed start: no instance, no live record, the durable record stopped. */
  private async abandon(sandbox_id: string, cause: unknown) {
    this.log.warn("sandbox start failed", { sandbox_id, error: cause instanceof Error ? cause.message : String(cause) });
    await this.operator.stop(sandbox_id).catch((e) => this.log.error("cleanup after a failed start failed", { sandbox_id, error: String(e) }));
    await this.markStopped(sandbox_id, "start failed");
  }

  private specFor(request: StartRequest, headers: StartHeaders): SandboxSpec {
    const image = request.image.trim();
    if (!image) throw badRequest("image must not be blank");
    const sandbox_id = request.sandbox_id == null ? crypto.randomUUID().replaceAll("-", "") : request.sandbox_id.trim();
    if (!sandboxIdPattern.test(sandbox_id)) throw badRequest(`sandbox_id '${sandbox_id}' is invalid: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`);
    const cpus = request.cpus ?? this.limits.defaultCpus;
    if (!(cpus > 0)) throw badRequest(`cpus must be positive (got ${cpus})`);
    if (cpus > this.limits.maxCpus) throw badRequest(`cpus ${cpus} exceeds the maximum of ${this.limits.maxCpus}`);
    const memoryText = request.memory ?? formatMemory(this.limits.defaultMemoryBytes);
    const memoryBytes = request.memory == null ? this.limits.defaultMemoryBytes : parseMemory(memoryText);
    if (memoryBytes === null) throw badRequest(`memory '${memoryText}' is not a size such as 512m or 8g`);
    if (memoryBytes > this.limits.maxMemoryBytes) throw badRequest(`memory ${memoryText} exceeds the maximum of ${formatMemory(this.limits.maxMemoryBytes)}`);
    return {
      sandbox_id,
      image,
      cpus,
      memoryBytes,
      pidsLimit: this.limits.pidsLimit,
      env: {},
      rockletToken: newToken(),
      pull: request.pull,
      labels: { ...headers },
    };
  }
}

/** While a start waits for the rocklet, how often it asks whether the instance still runs. */
const INSTANCE_CHECK_MS = 1000;

/** Why an instance that should run does not, in words for the record. */
export function instanceFailure(status: InstanceState | InstanceStatus): string {
  if (typeof status !== "string" && status.reason) return status.reason;
  return stateOf(status) === "missing" ? "its instance disappeared (removed outside the admin)" : "its instance stopped";
}

function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}
