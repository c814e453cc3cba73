/**
 * The control plane: start, stop, delete and restart sandboxes through the operator, keeping the record (in the store,
 * shared by every admin, see sandbox-records.ts), the instance and the hot state in step. Every step is written so
 * that it can be interrupted (the admin killed, the store or the engine away) and resumed: the record is written
 * first, then the instance is made or removed, then the hot state follows; each step may run again. Operations on one
 * sandbox take turns, and the reconciler takes the same turn, so that nothing acts on what another operation is
 * changing. Across admins, each change of a record is a compare-and-set on it, and a start is left to the admin that
 * runs it while that admin is alive.
 */
import { HttpError, Unavailable, errorMessage } from "../../../core/errors.ts";
import { stateOf, type InstanceState, type InstanceStatus, type SandboxHandle, type SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Operator, OperatorHandle } from "../../../core/kinds/operator.ts";
import type { Logger } from "../../../core/log.ts";
import { badRequest, internalFailure, RockFailure } from "./envelope.ts";
import type { LiveSandbox, LiveSandboxes } from "./live-sandboxes.ts";
import { formatMemory, parseMemory } from "./resources.ts";
import type { RockletClient, RockletTarget } from "./rocklet-client.ts";
import type { AdminPresence } from "./admins.ts";
import { IDEMPOTENCY_KEY_MS, isPaused, type SandboxRecord, type SandboxRecords } from "./sandbox-records.ts";
import { PLACEMENT_TEXT, type StartRequest } from "../../protocol/rock-admin/schemas.ts";
import { isActive } from "../../protocol/rock-admin/states.ts";

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

/** What a start answers: `placed` once the instance exists (start_async), `running` once its rocklet answered (start). */
export interface StartTicket {
  placed: Promise<SandboxRecord>;
  running: Promise<SandboxRecord>;
}

/** A start (or restart) in flight in this process. */
interface Launch extends StartTicket {
  abort: AbortController;
}

/** What one reconcile step did to a sandbox. */
export type Reconciled = "removed" | "stopped" | "failed" | "rebuilt" | "adopted";

const sandboxIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Printable ASCII without spaces at the ends, as Stripe and E2B accept. */
const idempotencyKeyPattern = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;
/** How long an Idempotency-Key names its sandbox (Stripe keeps keys 24 hours). */
export const IDEMPOTENCY_WINDOW_MS = IDEMPOTENCY_KEY_MS;

/** A promise whose rejection is handled even when nobody awaits it. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

export class SandboxLifecycle {
  private readonly launches = new Map<string, Launch>();
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    private readonly operator: Operator,
    private readonly records: SandboxRecords,
    private readonly live: LiveSandboxes,
    private readonly rocklet: RockletClient,
    private readonly limits: LifecycleLimits,
    private readonly log: Logger,
    private readonly admins: AdminPresence,
  ) {}

  /** Sandboxes this process is starting (between their record and their first answer or failure). */
  get starting(): { has(sandbox_id: string): boolean } {
    return this.launches;
  }

  /** Runs `work` once the operations on the sandbox queued before it ended. */
  private exclusive<T>(sandbox_id: string, work: () => T | Promise<T>): Promise<T> {
    const previous = this.turns.get(sandbox_id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(sandbox_id, settled);
    void settled.then(() => this.turns.get(sandbox_id) === settled && this.turns.delete(sandbox_id));
    return next;
  }

  /**
   * Starts a sandbox, or answers a start it repeats: the same sandbox id or the same `Idempotency-Key` (within 24 hours)
   * with the same request gives the same sandbox, and a different request is refused naming the difference. `env` is
   * the environment of every process in the sandbox (E2B's `envVars`).
   */
  async start(request: StartRequest, headers: StartHeaders, idempotencyKey?: string, env: Record<string, string> = {}): Promise<StartTicket> {
    if (idempotencyKey !== undefined && !idempotencyKeyPattern.test(idempotencyKey)) {
      throw badRequest("Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces at either end");
    }
    const spec = this.specFor(request, headers, env);
    const autoClearMinutes = request.auto_clear_time_minutes ?? this.limits.defaultAutoClearMinutes;
    // Recorded (and compared with a repeated start) only when it names a label: `{}` is no placement.
    const placement = request.placement && Object.keys(request.placement).length > 0 ? { placement: request.placement } : {};
    const wanted = {
      image: spec.image,
      sandbox_id: request.sandbox_id == null ? null : spec.sandbox_id,
      cpus: spec.cpus,
      memory: spec.memoryBytes,
      disk: request.disk ?? null,
      auto_clear_time_minutes: autoClearMinutes,
      pull: request.pull ?? null,
      ...headers,
      ...placement,
      // Only E2B's creates set it; ROCK's starts compare as before.
      ...(Object.keys(env).length > 0 ? { env } : {}),
    };
    return this.exclusive(spec.sandbox_id, async () => {
      // The key is claimed before the record is written: of two starts with one key (on any admins), one creates.
      const earlier = idempotencyKey === undefined ? null : await this.records.claimKey(idempotencyKey, spec.sandbox_id, IDEMPOTENCY_WINDOW_MS);
      if (earlier) return this.repeated(earlier, wanted, `Idempotency-Key '${idempotencyKey}'`);
      const meta = { ...headers, image: spec.image, cpus: spec.cpus, memory: formatMemory(spec.memoryBytes), disk: request.disk ?? "50G", auto_clear_time: autoClearMinutes, ...placement };
      const record = await this.records.create(spec, meta, { idempotencyKey, request: JSON.stringify(wanted) });
      if (!record) {
        if (idempotencyKey !== undefined) await this.records.releaseKey(idempotencyKey, spec.sandbox_id);
        return this.repeated((await this.records.get(spec.sandbox_id))!, wanted, `Sandbox ${spec.sandbox_id}`);
      }
      return this.launch(spec, autoClearMinutes, (signal) => this.operator.submit(spec, signal));
    });
  }

  /** The answer to a start that repeats the one that made `record`, or the refusal of one that differs from it. */
  private repeated(record: SandboxRecord, wanted: Record<string, unknown>, named: string): StartTicket {
    const first = record.start_request ? (JSON.parse(record.start_request) as Record<string, unknown>) : null;
    const field = first ? Object.keys(wanted).find((key) => JSON.stringify(first[key]) !== JSON.stringify(wanted[key])) : "request";
    if (field !== undefined) {
      if (named.startsWith("Sandbox")) throw badRequest(`Sandbox ${record.sandbox_id} already exists${first ? ` (started with ${field} ${JSON.stringify(first[field])}, this request has ${JSON.stringify(wanted[field])})` : ""}`);
      throw new IdempotencyConflict(`${named} was used for a different request (${field} ${JSON.stringify(first![field])}, this request has ${JSON.stringify(wanted[field])}); use a new key for a new sandbox`);
    }
    const launch = this.launches.get(record.sandbox_id);
    if (launch) return launch;
    const placed = Promise.resolve(record);
    if (record.state === "running" || record.start_time) return { placed, running: placed };
    if (record.state === "pending") return { placed, running: quiet(this.startEnded(record.sandbox_id).then(() => this.ran(record.sandbox_id))) };
    return { placed, running: quiet(this.ran(record.sandbox_id)) };
  }

  /**
   * Waits while another live admin runs the sandbox's start; a start that no live admin runs (this admin was restarted
   * during it, or the admin running it is gone) is resolved now, as the reconciler would.
   */
  private async startEnded(sandbox_id: string): Promise<void> {
    for (const deadline = Date.now() + this.limits.startTimeoutMs + ADOPT_GRACE_MS; Date.now() < deadline; await Bun.sleep(100)) {
      const record = await this.records.get(sandbox_id);
      if (record?.state !== "pending") return;
      const launch = this.launches.get(sandbox_id);
      if (launch) return void (await launch.running.catch(() => undefined));
      if (!(await this.startRunsElsewhere(record))) return void (await this.reconcile(sandbox_id, Date.now() + ADOPT_GRACE_MS));
    }
  }

  /** Whether another admin runs the start of this pending record and is alive. */
  private async startRunsElsewhere(record: SandboxRecord): Promise<boolean> {
    return record.admin_id !== null && record.admin_id !== this.admins.adminId && (await this.admins.isAlive(record.admin_id));
  }

  /** The record of a sandbox whose start ended: running (or it ran), or the start's failure. */
  private async ran(sandbox_id: string): Promise<SandboxRecord> {
    const record = (await this.records.get(sandbox_id))!;
    if (record.state === "running" || record.start_time) return record;
    throw internalFailure(`failed to start sandbox ${sandbox_id}: ${record.failure_reason ?? `it is ${record.state}`}`);
  }

  /**
   * Runs a start whose record is written: the instance (through `submit`), then where its rocklet answers in the record
   * and the hot state, then the wait for the rocklet. A stop aborts it; a failure is recorded with why and leaves no
   * instance. Registered before this returns, so that the caller's turn covers the record and the launch together.
   */
  private launch(spec: SandboxSpec, autoClearMinutes: number, submit: (signal: AbortSignal) => Promise<OperatorHandle>): Launch {
    const id = spec.sandbox_id;
    const abort = new AbortController();
    const placed = Promise.withResolvers<SandboxRecord>();
    const startedAt = Date.now();
    const running = (async () => {
      try {
        const handle = await submit(abort.signal);
        const record = await this.exclusive(id, async () => {
          abort.signal.throwIfAborted();
          const { host_ip, host_name, port_mapping, isolation } = handle;
          const record = await this.records.placed(id, { host_ip, host_name, port_mapping, rocklet_url: handle.rockletUrl, rocklet_token: handle.rockletToken, spec, isolation });
          if (!record) throw stoppedWhileStarting(id);
          await this.writeHot(record, autoClearMinutes);
          return record;
        });
        placed.resolve(record);
        await this.untilAnswering(record, startedAt + this.limits.startTimeoutMs, abort.signal);
        return await this.exclusive(id, async () => {
          abort.signal.throwIfAborted();
          return this.markRunningLocked(id);
        });
      } catch (error) {
        // A stop took the sandbox over: it removes the instance and records the stop.
        const failure = abort.signal.aborted ? abort.signal.reason : await this.startFailed(id, error);
        placed.reject(failure);
        throw failure;
      } finally {
        if (this.launches.get(id)?.abort === abort) this.launches.delete(id);
      }
    })();
    const launch: Launch = { abort, placed: quiet(placed.promise), running: quiet(running) };
    this.launches.set(id, launch);
    return launch;
  }

  /** Polls the rocklet until it answers; ends early, with why, when the instance died, and at the deadline. */
  private async untilAnswering(record: SandboxRecord, deadline: number, signal: AbortSignal): Promise<void> {
    const target = { rockletUrl: record.rocklet_url!, rockletToken: record.rocklet_token! };
    let nextInstanceCheck = Date.now() + INSTANCE_CHECK_MS;
    // A rocklet is usually up within tens of ms of its instance (a few hundred on a busy node): poll every 5-25 ms for
    // the first two seconds, where a 100 ms pause would add up to 100 ms to every start, then back off to 100 ms.
    const quickUntil = Date.now() + QUICK_POLL_MS;
    for (let pause = 5; Date.now() < deadline; pause = Math.min(Date.now() < quickUntil ? 25 : 100, pause * 1.5)) {
      signal.throwIfAborted();
      if (await this.rocklet.isAlive(target)) return;
      if (Date.now() >= nextInstanceCheck) {
        nextInstanceCheck = Date.now() + INSTANCE_CHECK_MS;
        // Only a runtime that says why (or that the instance is gone) counts: a remote rocklet that does not answer yet
        // is "stopped" as well.
        const status = await this.operator.get_status(record.sandbox_id);
        if (stateOf(status) !== "running" && (typeof status !== "string" || status === "missing")) throw new Error(instanceFailure(status));
        // Another admin may have stopped it.
        const state = (await this.records.get(record.sandbox_id))?.state;
        if (state !== "pending" && state !== "running") throw stoppedWhileStarting(record.sandbox_id);
      }
      await Bun.sleep(pause);
    }
    signal.throwIfAborted();
    throw new Error(`it did not become alive within ${this.limits.startTimeoutMs / 1000} s`);
  }

  /** Records a start that failed (with why), removes its instance and hot state; the error to answer with. */
  private async startFailed(sandbox_id: string, error: unknown): Promise<unknown> {
    const reason = errorMessage(error);
    this.log.warn("sandbox start failed", { sandbox_id, error: reason });
    // Also when the store is away: the failure is recorded in this admin's copy and written to the store once it answers.
    await this.exclusive(sandbox_id, () => this.failLocked(sandbox_id, reason, true)).catch((e) => this.log.error("recording a failed start failed", { sandbox_id, error: errorMessage(e) }));
    if (error instanceof Unavailable || error instanceof RockFailure) return error;
    return internalFailure(`failed to start sandbox ${sandbox_id}: ${reason}`);
  }

  /** pending → running, when the rocklet answered; for a sandbox this process is not starting (see `starting`). */
  /**
   * E2B's pause: freezes a running sandbox's processes through its deployment (memory kept; the record stays running
   * for the reconciler). False when it was paused already.
   */
  pause(sandbox_id: string): Promise<boolean> {
    return this.exclusive(sandbox_id, async () => {
      if (isPaused(await this.pausable(sandbox_id))) return false;
      await this.operator.pause!(sandbox_id);
      // Paused on two admins at once: one of them says so.
      return this.records.setPaused(sandbox_id, true);
    });
  }

  /** Thaws a paused sandbox and restarts its idle timeout (E2B's resume). False when it was not paused. */
  unpause(sandbox_id: string): Promise<boolean> {
    return this.exclusive(sandbox_id, async () => {
      if (!isPaused(await this.pausable(sandbox_id))) return false;
      await this.operator.resume!(sandbox_id);
      if (!(await this.records.setPaused(sandbox_id, false))) return false;
      await this.live.touch(sandbox_id);
      return true;
    });
  }

  /** Whether the deployment can pause sandboxes (E2B's pause; the docker deployment can). */
  canPause(): boolean {
    return Boolean(this.operator.pause && this.operator.resume);
  }

  /** The record of a running sandbox whose deployment can pause it; a 400 saying why not otherwise. */
  private async pausable(sandbox_id: string): Promise<SandboxRecord> {
    const record = await this.records.get(sandbox_id);
    if (!record || record.state !== "running") throw badRequest(`Sandbox ${sandbox_id} is not running${record ? ` (it is ${record.state})` : ""}`);
    if (!this.operator.pause || !this.operator.resume) {
      throw badRequest(`Sandbox ${sandbox_id} cannot be paused: the deployment of operator '${this.operator.name}' has no pause (the docker deployment has)`);
    }
    return record;
  }

  markRunning(sandbox_id: string): Promise<SandboxRecord> {
    return this.exclusive(sandbox_id, async () => (this.launches.has(sandbox_id) ? (await this.records.get(sandbox_id))! : this.markRunningLocked(sandbox_id)));
  }

  private async markRunningLocked(sandbox_id: string): Promise<SandboxRecord> {
    const record = await this.records.transition(sandbox_id, "alive");
    if (!record) {
      const current = await this.records.get(sandbox_id);
      if (current?.state === "running") return current;
      throw stoppedWhileStarting(sandbox_id);
    }
    await this.writeHot(record);
    return record;
  }

  /**
   * Stops the sandbox: a start in flight is ended first; then the record, the instance and the hot state, in that
   * order (a stop interrupted after its record is finished by the reconciler, which removes instances no active record
   * claims). Stopping a stopped sandbox succeeds; an unknown id is an error.
   */
  async stop(sandbox_id: string, reason = "stop"): Promise<void> {
    for (;;) {
      const launch = this.launches.get(sandbox_id);
      if (launch) {
        launch.abort.abort(stoppedWhileStarting(sandbox_id));
        await launch.running.catch(() => undefined);
      }
      const done = await this.exclusive(sandbox_id, async () => {
        // A start (a restart) began meanwhile: end it first.
        if (this.launches.has(sandbox_id)) return false;
        if (!await this.records.get(sandbox_id)) {
          // ROCK stops a dangling instance all the same.
          await this.operator.stop(sandbox_id).catch(() => undefined);
          throw badRequest(`Sandbox ${sandbox_id} not found`);
        }
        const stopped = await this.records.transition(sandbox_id, "stop");
        if (stopped) this.log.info("sandbox stopped", { sandbox_id, reason });
        try {
          await this.operator.stop(sandbox_id);
        } catch (error) {
          if (!(error instanceof Unavailable)) throw error;
          throw new Unavailable(`${error.message} (the sandbox is recorded as stopped; what is left of its instance is removed once the runtime answers)`, { cause: error });
        } finally {
          await this.forgetHot(sandbox_id);
        }
        return true;
      });
      if (done) return;
    }
  }

  /** Records that the sandbox failed (state `stopped`, event `fail`, with why), then removes its instance and hot state. */
  private async failLocked(sandbox_id: string, reason: string, offline = false): Promise<SandboxRecord | null> {
    const record = await this.records.transition(sandbox_id, "fail", reason, offline);
    if (record) this.log.warn("sandbox failed", { sandbox_id, reason });
    await this.operator.stop(sandbox_id).catch((e) => this.log.error("removing a failed sandbox's instance failed", { sandbox_id, error: errorMessage(e) }));
    await this.forgetHot(sandbox_id);
    return record;
  }

  /**
   * After its rocklet did not answer: asks the operator about the instance and, when it is no longer running, records
   * the failure. Returns the failed record, or null while the instance runs (the rocklet may only be busy).
   */
  failIfDead(sandbox_id: string): Promise<SandboxRecord | null> {
    return this.exclusive(sandbox_id, async () => {
      if ((await this.records.get(sandbox_id))?.state !== "running") return null;
      const status = await this.operator.get_status(sandbox_id);
      if (stateOf(status) === "running") return null;
      return this.failLocked(sandbox_id, instanceFailure(status));
    });
  }

  /**
   * The live entry of an active sandbox; for a running one whose entry the store lost (Redis restarted without its
   * data), rebuilt from its record, or, when its instance is gone too, the record failed with why. Null for a sandbox
   * that is not active (a hot entry a stop could not remove is ignored) or not placed yet.
   */
  async liveOrRebuilt(sandbox_id: string, known?: SandboxRecord | null): Promise<Located> {
    // One round trip: the record (unless the caller read it) and the hot entry together.
    const [record, info] = await Promise.all([known !== undefined ? known : this.records.get(sandbox_id), this.live.get(sandbox_id)]);
    if (!record || !isActive(record.state)) return { record, info: null };
    if (info || record.state !== "running") return { record, info };
    return this.exclusive(sandbox_id, async () => {
      const current = await this.records.get(sandbox_id);
      if (current?.state !== "running") return { record: current, info: null };
      const again = await this.live.get(sandbox_id);
      if (again) return { record: current, info: again };
      const status = await this.operator.get_status(sandbox_id);
      if (stateOf(status) === "running") return { record: current, info: await this.rebuild(current) };
      return { record: (await this.failLocked(sandbox_id, instanceFailure(status))) ?? current, info: null };
    });
  }

  /**
   * Writes the hot state of a running sandbox from its durable record: where its rocklet answers, its token, and a
   * fresh idle timeout (the time of its last use went with the store). Returns the live entry, or null when the record
   * cannot say (written before records kept the rocklet's address). The instance must be running.
   */
  private async rebuild(record: SandboxRecord): Promise<LiveSandbox | null> {
    if (!record.rocklet_url || !record.rocklet_token) return null;
    const info = await this.writeHot(record, undefined, true);
    if (info) this.log.info("sandbox hot state rebuilt from its record", { sandbox_id: record.sandbox_id });
    return info;
  }

  /**
   * The hot copy of an active record (its live entry, and its idle timeout unless it has one). Hot state follows the
   * record and is rebuilt from it, so a store that cannot take it now fails nothing: null then, unless `strict`.
   */
  private async writeHot(record: SandboxRecord, autoClearMinutes?: number, strict = false): Promise<LiveSandbox | null> {
    const meta = record.meta as Record<string, unknown>;
    const text = (field: string) => (typeof meta[field] === "string" ? (meta[field] as string) : "default");
    const info: LiveSandbox = {
      sandbox_id: record.sandbox_id,
      state: record.state,
      image: record.spec.image,
      user_id: text("user_id"),
      experiment_id: text("experiment_id"),
      namespace: text("namespace"),
      rockletUrl: record.rocklet_url ?? "",
      rockletToken: record.rocklet_token ?? "",
      host_ip: record.host_ip ?? "",
      host_name: record.host_name ?? "",
      create_time: record.create_time,
    };
    const minutes = autoClearMinutes ?? (typeof meta.auto_clear_time === "number" ? meta.auto_clear_time : this.limits.defaultAutoClearMinutes);
    try {
      await this.live.put(info);
      if (autoClearMinutes !== undefined || (await this.live.expiresAt(record.sandbox_id)) === null) await this.live.touch(record.sandbox_id, minutes);
      return info;
    } catch (error) {
      if (strict) throw error;
      this.log.warn("the hot state of a sandbox was not written; it is rebuilt from its record later", { sandbox_id: record.sandbox_id, error: errorMessage(error) });
      return null;
    }
  }

  /** Removes the hot copy; one the store cannot remove now is ignored by readers and removed by the reconciler. */
  private async forgetHot(sandbox_id: string): Promise<void> {
    await this.live.forget(sandbox_id).catch((error) => this.log.warn("the hot state of a stopped sandbox was not removed", { sandbox_id, error: errorMessage(error) }));
  }

  /**
   * One reconcile step: brings the sandbox's record, instance and hot state in step, in its turn, from what they are
   * now. An instance or hot entry that no active record claims is removed; a running record whose instance died is
   * failed with why; one whose hot state the store lost gets it back; a pending record that no start of this process
   * owns (the admin was restarted during its start) is adopted when its rocklet answers by `adoptBy`, else undone
   * with why. Returns what was done, or null.
   */
  reconcile(sandbox_id: string, adoptBy: number, keepUnrecorded = false): Promise<Reconciled | null> {
    return this.exclusive(sandbox_id, async () => {
      if (this.launches.has(sandbox_id)) return null;
      const record = await this.records.get(sandbox_id);
      const status = await this.operator.get_status(sandbox_id);
      const state = stateOf(status);
      if (!record || !isActive(record.state)) {
        // Its record may be one another admin has yet to put back into a store that lost its data.
        if (!record && keepUnrecorded) return null;
        if (state !== "missing") await this.operator.stop(sandbox_id);
        await this.live.forget(sandbox_id);
        return state === "missing" ? null : "removed";
      }
      if (record.state === "pending") {
        // Another admin runs this start: it is left to that admin while it lives.
        if (await this.startRunsElsewhere(record)) return null;
        return this.resume(record, status, adoptBy);
      }
      if (state !== "running") {
        await this.failLocked(sandbox_id, instanceFailure(status));
        return "failed";
      }
      if (await this.live.get(sandbox_id)) return null;
      if (await this.rebuild(record)) return "rebuilt";
      // A record from before records kept the rocklet's address cannot be rebuilt: its sandbox is stopped.
      await this.records.transition(sandbox_id, "stop");
      this.log.info("sandbox stopped", { sandbox_id, reason: "reconciled" });
      await this.operator.stop(sandbox_id);
      await this.live.forget(sandbox_id);
      return "stopped";
    });
  }

  /** A start that no process finishes (the admin was restarted meanwhile): adopted when its rocklet answers, else undone. */
  private async resume(record: SandboxRecord, status: InstanceState | InstanceStatus, adoptBy: number): Promise<Reconciled> {
    const id = record.sandbox_id;
    const interrupted =
      record.admin_id && record.admin_id !== this.admins.adminId
        ? `the admin starting it (${record.admin_id}) is gone`
        : "the admin was restarted while the sandbox was starting";
    if (stateOf(status) !== "running") {
      const instance = stateOf(status) === "missing" ? "no instance of it exists" : `its instance is not running (${instanceFailure(status)})`;
      await this.failLocked(id, `${interrupted}, and ${instance}`);
      return "failed";
    }
    // Placed before the restart, the record says where its rocklet answers; else the runtime may.
    const handle: SandboxHandle | null = record.rocklet_url ? null : ((await this.operator.locate?.(id)) ?? null);
    const target: RockletTarget = {
      rockletUrl: record.rocklet_url ?? handle?.rockletUrl ?? "",
      rockletToken: record.rocklet_token ?? handle?.rockletToken ?? record.spec.rockletToken,
    };
    const deadline = Math.min(adoptBy, Date.parse(record.create_time) + this.limits.startTimeoutMs);
    if (target.rockletUrl && (await this.answersBy(target, deadline))) {
      if (handle) {
        const { host_ip, host_name, port_mapping, isolation } = handle;
        await this.records.placed(id, { host_ip, host_name, port_mapping, rocklet_url: target.rockletUrl, rocklet_token: target.rockletToken, isolation });
      }
      await this.markRunningLocked(id);
      this.log.info("sandbox adopted: its start was interrupted, its rocklet answers", { sandbox_id: id });
      return "adopted";
    }
    const rocklet = target.rockletUrl ? "its rocklet did not answer" : "the runtime could not say where its rocklet answers";
    await this.failLocked(id, `${interrupted}, and ${rocklet}`);
    return "failed";
  }

  /** Asks the rocklet until it answers (true) or `deadline` passed (false); asks at least once. */
  private async answersBy(target: RockletTarget, deadline: number): Promise<boolean> {
    for (;;) {
      if (await this.rocklet.isAlive(target, Math.max(200, Math.min(2000, deadline - Date.now())))) return true;
      if (Date.now() + 100 >= deadline) return false;
      await Bun.sleep(100);
    }
  }

  /**
   * Deletes a stopped sandbox's record (the record first, then what is left of its instance); an unknown id succeeds
   * (as in ROCK), an active one must be stopped first.
   */
  delete(sandbox_id: string): Promise<void> {
    return this.exclusive(sandbox_id, async () => {
      const record = await this.records.get(sandbox_id);
      if (!record || record.state === "deleted") return;
      if (record.state !== "stopped") {
        throw badRequest(`Sandbox ${sandbox_id} is ${this.launches.has(sandbox_id) ? "still starting" : record.state}; stop it before deleting it`);
      }
      await this.records.transition(sandbox_id, "delete");
      await this.operator.delete(sandbox_id);
    });
  }

  /**
   * stopped → pending → running, on a fresh instance with a fresh rocklet token (recorded before the instance exists).
   * A running sandbox whose instance is gone is recorded as failed first, and then restarted.
   */
  async restart(sandbox_id: string): Promise<SandboxRecord> {
    const launch = await this.exclusive(sandbox_id, async () => {
      let record = await this.records.get(sandbox_id);
      if (!record) throw badRequest(`Sandbox ${sandbox_id} not found`);
      if (record.state === "running") {
        const status = await this.operator.get_status(sandbox_id);
        if (stateOf(status) !== "running") record = (await this.failLocked(sandbox_id, instanceFailure(status))) ?? record;
      }
      if (record.state !== "stopped") {
        throw badRequest(`Sandbox ${sandbox_id} is ${this.launches.has(sandbox_id) ? "still starting" : record.state}; only a stopped sandbox can be restarted`);
      }
      const spec = { ...record.spec, rockletToken: newToken() };
      // Another admin may restart it at the same moment: one of the two moves the record.
      if (!(await this.records.transition(sandbox_id, "restart"))) throw badRequest(`Sandbox ${sandbox_id} is still starting; only a stopped sandbox can be restarted`);
      await this.records.respec(spec);
      const minutes = (record.meta as Record<string, unknown>).auto_clear_time;
      return this.launch(spec, typeof minutes === "number" ? minutes : this.limits.defaultAutoClearMinutes, (signal) => this.operator.restart(spec, signal, { host_ip: record.host_ip }));
    });
    return launch.running;
  }

  /**
   * Writes the records the store could not take when their starts failed (see `startFailed`), and removes what hot state
   * of those sandboxes the store kept; the ids written.
   */
  async resync(): Promise<string[]> {
    const written = await this.records.sync();
    for (const id of written) {
      const record = await this.records.get(id);
      if (!record || !isActive(record.state)) await this.live.forget(id);
    }
    return written;
  }

  /**
   * At shutdown: starts in flight are left for the next start of the admin, or (when it stopped for good) for the lease
   * holder among the others, to resolve (adopt or undo).
   */
  async shutdown(): Promise<void> {
    const launches = [...this.launches.values()];
    for (const launch of launches) launch.abort.abort(new Error("the admin stopped while the sandbox was starting"));
    await Promise.all(launches.map((l) => l.running.catch(() => undefined)));
  }

  private specFor(request: StartRequest, headers: StartHeaders, env: Record<string, string> = {}): SandboxSpec {
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
    this.assertPlacement(request.placement ?? {}, headers);
    return {
      sandbox_id,
      image,
      cpus,
      memoryBytes,
      pidsLimit: this.limits.pidsLimit,
      env,
      rockletToken: newToken(),
      pull: request.pull,
      labels: { ...request.placement, ...headers },
    };
  }

  /** A placement names only labels the operator places by, and none of the labels the start's headers set. */
  private assertPlacement(placement: Record<string, string>, headers: StartHeaders): void {
    const keys = Object.keys(placement);
    if (keys.length === 0) return;
    for (const [key, value] of Object.entries(placement)) {
      if (!PLACEMENT_TEXT.test(key)) throw badRequest(`placement: label name ${JSON.stringify(key)} is invalid: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
      if (!PLACEMENT_TEXT.test(value)) throw badRequest(`placement.${key}: ${JSON.stringify(value)} is invalid: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
    const offered = this.operator.placementLabels ?? [];
    const name = this.operator.name;
    if (offered.length === 0) throw badRequest(`placement: operator '${name}' runs every sandbox on one host and takes no placement`);
    for (const key of keys) {
      if (key in headers) throw badRequest(`placement.${key}: ${key} is set by the start's headers, not by placement`);
      if (!offered.includes(key)) throw badRequest(`placement.${key}: operator '${name}' places by ${offered.join(", ")} only (plugins.${name}.placement_labels)`);
    }
  }
}

/** What `liveOrRebuilt` found: the sandbox's record, and its live entry when it is active and placed. */
export interface Located {
  record: SandboxRecord | null;
  info: LiveSandbox | null;
}

function stoppedWhileStarting(sandbox_id: string): RockFailure {
  return badRequest(`Sandbox ${sandbox_id} was stopped while starting`);
}

/** An Idempotency-Key sent again with a different request: HTTP 422 (as Stripe answers), in ROCK's Failed envelope. */
export class IdempotencyConflict extends HttpError {
  constructor(message: string) {
    super(422, message);
    this.name = "IdempotencyConflict";
  }
}

/** How long a start polls its rocklet at short intervals before backing off. */
const QUICK_POLL_MS = 2000;
/** While a start waits for the rocklet, how often it asks whether the instance still runs. */
const INSTANCE_CHECK_MS = 1000;
/** How long the reconciler waits for the rocklet of a start the admin did not see finish, before it undoes it. */
export const ADOPT_GRACE_MS = 5000;

/** Why an instance that should run does not, in words for the record. */
export function instanceFailure(status: InstanceState | InstanceStatus): string {
  if (typeof status !== "string" && status.reason) return status.reason;
  return stateOf(status) === "missing" ? "its instance disappeared (removed outside the admin)" : "its instance stopped";
}

function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}
