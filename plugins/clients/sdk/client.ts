/**
 * `RockClient`: every admin route, addressed by sandbox id. Command failures (code 6000) of `execute` and
 * `runInSession` come back as results with their exit code, as in ROCK's SDK; every other failure raises a typed error.
 */
import type { BatchStatuses, FileContent, IsAlive, SessionCreated, Written } from "../../protocol/rock-admin/results.ts";
import type { BashAction, BatchStatus, CloseSession, Command, CreateSession, IdOnly, ReadFile, WriteFile } from "../../protocol/rock-admin/schemas.ts";
import { BadRequestRockError, CommandRockError } from "./errors.ts";
import { AdminTransport, type TransportOptions } from "./transport.ts";
import { toUploadFile, type UploadSource } from "./upload-source.ts";
import type {
  CommandResult,
  CreateSessionOptions,
  ExecuteOptions,
  ListQuery,
  Observation,
  RunInSessionOptions,
  SandboxList,
  SandboxStatus,
  StartIdentity,
  StartRequest,
  StartResult,
  UploadOptions,
  UploadResult,
} from "./types.ts";

/** Margin on top of a command's own timeout before the client gives up on the call. */
const COMMAND_DEADLINE_MARGIN_MS = 30_000;

const commandDeadline = (timeoutSeconds: number | undefined) => (timeoutSeconds === undefined ? null : timeoutSeconds * 1000 + COMMAND_DEADLINE_MARGIN_MS);

function identityHeaders(identity: StartIdentity): Record<string, string> {
  const headers: Record<string, string> = {};
  if (identity.userId) headers["x-user-id"] = identity.userId;
  if (identity.experimentId) headers["x-experiment-id"] = identity.experimentId;
  if (identity.namespace) headers["x-namespace"] = identity.namespace;
  return headers;
}

function requireId(sandboxId: string) {
  if (typeof sandboxId !== "string" || !sandboxId.trim()) throw new BadRequestRockError(`sandbox_id must be a non-blank string (got ${JSON.stringify(sandboxId)})`);
}

export class RockClient {
  readonly transport: AdminTransport;

  constructor(options: TransportOptions = {}) {
    this.transport = new AdminTransport(options);
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /** Submits a start and returns at once (state pending); see `Sandbox.start` for the wait. */
  startAsync(request: StartRequest, identity: StartIdentity = {}): Promise<StartResult> {
    return this.transport.post("/start_async", request, { headers: identityHeaders(identity) });
  }

  /** Starts and waits on the server side until the sandbox answers (bounded by the admin's start timeout). */
  start(request: StartRequest, identity: StartIdentity = {}): Promise<StartResult> {
    return this.transport.post("/start", request, { headers: identityHeaders(identity), timeoutMs: null });
  }

  getStatus(sandboxId: string, includeAllStates = false): Promise<SandboxStatus> {
    requireId(sandboxId);
    return this.transport.get("/get_status", { sandbox_id: sandboxId, include_all_states: includeAllStates || undefined });
  }

  isAlive(sandboxId: string): Promise<IsAlive> {
    requireId(sandboxId);
    return this.transport.get("/is_alive", { sandbox_id: sandboxId });
  }

  /** Active (pending or running) sandboxes, optionally filtered by exact field values. */
  list(query: ListQuery = {}): Promise<SandboxList> {
    return this.transport.get("/sandboxes", { page: query.page, page_size: query.page_size, ...query.filters });
  }

  async batchStatus(sandboxIds: string[]): Promise<SandboxStatus[]> {
    return (await this.transport.post<BatchStatuses>("/sandboxes/batch", { sandbox_ids: sandboxIds } satisfies BatchStatus)).statuses;
  }

  async stop(sandboxId: string): Promise<void> {
    requireId(sandboxId);
    await this.transport.post("/stop", { sandbox_id: sandboxId } satisfies IdOnly);
  }

  async delete(sandboxId: string): Promise<void> {
    requireId(sandboxId);
    await this.transport.post("/delete", { sandbox_id: sandboxId } satisfies IdOnly);
  }

  restart(sandboxId: string): Promise<StartResult> {
    requireId(sandboxId);
    return this.transport.post("/restart", { sandbox_id: sandboxId } satisfies IdOnly, { timeoutMs: null });
  }

  /** One command in a fresh process; a string runs through the shell unless `shell: false`. */
  async execute(sandboxId: string, command: string | string[], options: ExecuteOptions = {}): Promise<CommandResult> {
    requireId(sandboxId);
    const body: Command = { sandbox_id: sandboxId, command, shell: options.shell ?? typeof command === "string", timeout: options.timeout, cwd: options.cwd, env: options.env };
    try {
      return await this.transport.post<CommandResult>("/execute", body, { timeoutMs: commandDeadline(options.timeout) });
    } catch (error) {
      if (!(error instanceof CommandRockError)) throw error;
      const result = error.result ?? {};
      return { stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? ""), exit_code: typeof result.exit_code === "number" ? result.exit_code : -1, failure_reason: error.message };
    }
  }

  createSession(sandboxId: string, session = "default", options: CreateSessionOptions = {}): Promise<SessionCreated> {
    requireId(sandboxId);
    return this.transport.post("/create_session", {
      sandbox_id: sandboxId,
      session,
      startup_source: options.startupSource,
      env_enable: options.envEnable,
      env: options.env,
      remote_user: options.remoteUser,
      startup_timeout: options.startupTimeout,
    } satisfies CreateSession);
  }

  /** ROCK's `arun` in normal mode: one command in a named bash session that keeps its state between calls. */
  async runInSession(sandboxId: string, command: string, options: RunInSessionOptions = {}): Promise<Observation> {
    requireId(sandboxId);
    const body: BashAction = { sandbox_id: sandboxId, command, session: options.session ?? "default", timeout: options.timeout, check: options.check ?? "silent", expect: options.expect };
    try {
      return await this.transport.post<Observation>("/run_in_session", body, { timeoutMs: commandDeadline(options.timeout) });
    } catch (error) {
      if (!(error instanceof CommandRockError)) throw error;
      const result = error.result ?? {};
      return { output: String(result.output ?? ""), exit_code: typeof result.exit_code === "number" ? result.exit_code : -1, failure_reason: error.message, expect_string: "", session_type: "bash" };
    }
  }

  async closeSession(sandboxId: string, session = "default"): Promise<void> {
    requireId(sandboxId);
    await this.transport.post("/close_session", { sandbox_id: sandboxId, session } satisfies CloseSession);
  }

  async readFile(sandboxId: string, path: string, options: { encoding?: string; errors?: string } = {}): Promise<string> {
    requireId(sandboxId);
    return (await this.transport.post<FileContent>("/read_file", { sandbox_id: sandboxId, path, encoding: options.encoding, errors: options.errors } satisfies ReadFile)).content;
  }

  writeFile(sandboxId: string, path: string, content: string): Promise<Written> {
    requireId(sandboxId);
    return this.transport.post("/write_file", { sandbox_id: sandboxId, path, content } satisfies WriteFile);
  }

  /**
   * Uploads a local file, bytes or a Blob to `targetPath`. With `unzip`, the zip is uploaded beside and extracted into
   * `targetPath` by `unzip` inside the sandbox: the admin always forwards uploads with unzip=false, as ROCK's does.
   */
  async upload(sandboxId: string, source: UploadSource, targetPath: string, options: UploadOptions = {}): Promise<UploadResult> {
    requireId(sandboxId);
    if (typeof targetPath !== "string" || !targetPath.trim()) throw new BadRequestRockError(`targetPath must be a non-blank path (got ${JSON.stringify(targetPath)})`);
    const file = await toUploadFile(source, options.fileName).catch((error) => {
      throw new BadRequestRockError(error instanceof Error ? error.message : String(error));
    });
    if (!options.unzip) return this.uploadFile(sandboxId, file, targetPath);
    const staging = `${(options.stagingDir ?? "/tmp").replace(/\/+$/, "")}/rock-upload-${crypto.randomUUID()}.zip`;
    await this.uploadFile(sandboxId, file, staging);
    try {
      const unzipped = await this.execute(sandboxId, ["unzip", "-o", "-q", staging, "-d", targetPath], { shell: false, timeout: 600 });
      if (unzipped.exit_code === 127 || /not found|No such file/.test(unzipped.failure_reason ?? "")) {
        throw new CommandRockError(`cannot extract ${file.name}: the sandbox has no 'unzip' program`);
      }
      if (unzipped.exit_code !== 0) throw new CommandRockError(`extracting ${file.name} into ${targetPath} failed (exit code ${unzipped.exit_code}): ${(unzipped.stderr || unzipped.failure_reason || "").trim()}`);
    } finally {
      await this.execute(sandboxId, ["rm", "-f", staging], { shell: false, timeout: 60 }).catch(() => undefined);
    }
    return { success: true, message: `extracted into ${targetPath}`, file_name: file.name };
  }

  private uploadFile(sandboxId: string, file: File, targetPath: string): Promise<UploadResult> {
    const form = new FormData();
    form.append("sandbox_id", sandboxId);
    form.append("target_path", targetPath);
    form.append("file", file, file.name);
    return this.transport.postForm("/upload", form, { timeoutMs: null });
  }
}
