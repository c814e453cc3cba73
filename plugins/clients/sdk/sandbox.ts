/**
 * `Sandbox`: one sandbox, ROCK-SDK style. `start()` submits with start_async and waits (bounded) until the sandbox
 * answers; a start that fails or runs out of time is stopped, so that a failed start leaves nothing behind.
 */
import type { SessionCreated, Written } from "../../protocol/rock-admin/results.ts";
import { RockClient } from "./client.ts";
import { BadRequestRockError, SandboxStartError } from "./errors.ts";
import { arunNohup, type ArunOptions } from "./nohup.ts";
import type { TransportOptions } from "./transport.ts";
import type {
  CommandResult,
  CreateSessionOptions,
  ExecuteOptions,
  Observation,
  RunInSessionOptions,
  SandboxStatus,
  StartIdentity,
  StartRequest,
  StartResult,
  UploadOptions,
  UploadResult,
} from "./types.ts";
import type { UploadSource } from "./upload-source.ts";
import { DEFAULT_STARTUP_TIMEOUT_MS, waitUntilAlive, type WaitOptions } from "./wait.ts";

export interface SandboxOptions extends TransportOptions, StartIdentity {
  image: string;
  /** Ask for this id (default: the admin picks one). */
  sandboxId?: string;
  cpus?: number;
  /** Docker-style size such as "512m" or "2g". */
  memory?: string;
  disk?: string;
  pull?: "never" | "missing" | "always";
  /** Idle minutes after which the admin stops the sandbox; every call slides it. */
  autoClearTimeMinutes?: number;
  /** Node labels the sandbox must run on, e.g. `{ zone: "b" }` (an admin on the swarm operator; not in ROCK). */
  placement?: Record<string, string>;
  /** Bound of `start()`'s wait (default 180 s). */
  startupTimeoutMs?: number;
  /** Share one client (and its connections) between sandboxes. */
  client?: RockClient;
}

export type StartOptions = Omit<WaitOptions, "timeoutMs">;

export class Sandbox {
  readonly client: RockClient;
  private readonly options: SandboxOptions;
  private id: string | null;
  private started: StartResult | null = null;
  private attached = false;

  constructor(options: SandboxOptions) {
    if (typeof options?.image !== "string" || !options.image.trim()) throw new BadRequestRockError(`image must be a non-blank image name such as python:3.11 (got ${JSON.stringify(options?.image)})`);
    this.options = options;
    this.client = options.client ?? new RockClient(options);
    this.id = options.sandboxId ?? null;
  }

  /** A handle on a sandbox that already exists (started elsewhere, e.g. by the CLI). */
  static attach(sandboxId: string, options: TransportOptions & { client?: RockClient } = {}): Sandbox {
    const sandbox = new Sandbox({ ...options, image: "(attached)", sandboxId });
    sandbox.attached = true;
    return sandbox;
  }

  get sandboxId(): string {
    if (!this.id) throw new BadRequestRockError("the sandbox has no id yet: call start() first");
    return this.id;
  }

  /** The admin's answer to the start (host, cpus, memory); null before `start()` or for an attached sandbox. */
  get startResult(): StartResult | null {
    return this.started;
  }

  private startRequest(): StartRequest {
    const o = this.options;
    return { image: o.image, sandbox_id: o.sandboxId, cpus: o.cpus, memory: o.memory, disk: o.disk, pull: o.pull, auto_clear_time_minutes: o.autoClearTimeMinutes, placement: o.placement };
  }

  async start(options: StartOptions = {}): Promise<SandboxStatus> {
    if (this.started || this.attached) throw new BadRequestRockError(`sandbox ${this.id} is already started`);
    const o = this.options;
    const since = performance.now();
    this.started = await this.client.startAsync(this.startRequest(), { userId: o.userId, experimentId: o.experimentId, namespace: o.namespace });
    this.id = this.started.sandbox_id;
    try {
      return await this.waitUntilAlive({ since, ...options, timeoutMs: o.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS });
    } catch (error) {
      // Whatever is left of a start we gave up on is stopped; already-stopped sandboxes make this a no-op.
      await this.client.stop(this.id).catch(() => undefined);
      if (error instanceof SandboxStartError && error.lastState !== "stopped") {
        throw new SandboxStartError(`${error.message}; it has been stopped`, error.sandboxId, error.lastState);
      }
      throw error;
    }
  }

  waitUntilAlive(options: WaitOptions = {}): Promise<SandboxStatus> {
    return waitUntilAlive(this.client, this.sandboxId, options);
  }

  status(includeAllStates = false): Promise<SandboxStatus> {
    return this.client.getStatus(this.sandboxId, includeAllStates);
  }

  async isAlive(): Promise<boolean> {
    return (await this.client.isAlive(this.sandboxId)).is_alive;
  }

  execute(command: string | string[], options: ExecuteOptions = {}): Promise<CommandResult> {
    return this.client.execute(this.sandboxId, command, options);
  }

  createSession(session = "default", options: CreateSessionOptions = {}): Promise<SessionCreated> {
    return this.client.createSession(this.sandboxId, session, options);
  }

  runInSession(command: string, options: RunInSessionOptions = {}): Promise<Observation> {
    return this.client.runInSession(this.sandboxId, command, options);
  }

  /** ROCK's `arun`: in a session (normal mode), or in the background of one and waited for (nohup mode, see nohup.ts). */
  arun(command: string, options: ArunOptions = {}): Promise<Observation> {
    if (options.mode === "nohup") return arunNohup(this.client, this.sandboxId, command, options);
    return this.runInSession(command, options);
  }

  closeSession(session = "default"): Promise<void> {
    return this.client.closeSession(this.sandboxId, session);
  }

  readFile(path: string, options: { encoding?: string; errors?: string } = {}): Promise<string> {
    return this.client.readFile(this.sandboxId, path, options);
  }

  writeFile(path: string, content: string): Promise<Written> {
    return this.client.writeFile(this.sandboxId, path, content);
  }

  upload(source: UploadSource, targetPath: string, options: UploadOptions = {}): Promise<UploadResult> {
    return this.client.upload(this.sandboxId, source, targetPath, options);
  }

  stop(): Promise<void> {
    return this.client.stop(this.sandboxId);
  }

  delete(): Promise<void> {
    return this.client.delete(this.sandboxId);
  }

  async restart(options: StartOptions = {}): Promise<SandboxStatus> {
    this.started = await this.client.restart(this.sandboxId);
    return this.waitUntilAlive({ ...options, timeoutMs: this.options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS });
  }
}
