/**
 * The model service inside a sandbox, driven from outside through the admin API (ROCK's
 * rock/sdk/sandbox/model_service/base.py): `install` uploads the compiled service, `start` (re)starts it, the agent
 * inside talks to it over loopback, and the trainer outside calls `antiCallLlm` step by step.
 */
import { stat } from "node:fs/promises";
import type { Sandbox } from "./index.ts";

/** Where the model service's build writes it, seen from the project root. */
const DEFAULT_BINARY = "dist/model-service";

/** The part of the SDK's Sandbox this needs. */
export type SandboxCommands = Pick<Sandbox, "execute" | "upload" | "writeFile">;

export interface SandboxModelServiceConfig {
  /** Directory in the sandbox for the binary, the log file and the pid file. */
  workdir?: string;
  type?: "local" | "proxy";
  port?: number;
  /** Extra environment for every service command (e.g. REQUEST_TIMEOUT, POLLING_INTERVAL_SECONDS). */
  env?: Record<string, string>;
  /** The compiled service to upload (default dist/model-service, relative to the working directory). */
  localBinary?: string;
  /** Extra `start` flags, e.g. ["--config-file", "/work/proxy.yml"]. */
  startArgs?: string[];
  /** Seconds a command may run in the sandbox (anti-call-llm waits for the agent's next call). */
  commandTimeout?: number;
}

export class ModelServiceError extends Error {
  override name = "ModelServiceError";
}

/** ROCK's SDK switches to a payload file above this size, to stay below the shell's ARG_MAX. */
const INLINE_RESPONSE_LIMIT = 100 * 1024;

export class SandboxModelService {
  readonly workdir: string;
  readonly binary: string;
  readonly logFile: string;
  /** Local mode: the last answered call as {request, response} (every call with ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE=true). */
  readonly trajFile: string;
  private readonly env: Record<string, string>;

  constructor(
    private readonly sandbox: SandboxCommands,
    private readonly config: SandboxModelServiceConfig = {},
  ) {
    this.workdir = config.workdir ?? "/tmp/rock-model-service";
    this.binary = `${this.workdir}/model-service`;
    this.logFile = `${this.workdir}/LLMService.log`;
    this.trajFile = `${this.workdir}/LLMTraj.jsonl`;
    this.env = { LOG_FILE: this.logFile, SERVICE_PORT: String(config.port ?? 8080), ...config.env };
  }

  /** Base URL the agent inside the sandbox uses (OpenAI clients append /chat/completions). */
  get agentBaseUrl(): string {
    return `http://127.0.0.1:${this.env.SERVICE_PORT}/v1`;
  }

  async install(): Promise<void> {
    const binary = this.config.localBinary ?? DEFAULT_BINARY;
    if (!(await stat(binary).then((s) => s.isFile(), () => false))) {
      throw new ModelServiceError(`model service binary not found at ${binary}: build it with: npx bun plugins/programs/model-service/build.ts (or pass localBinary)`);
    }
    await this.run(["mkdir", "-p", this.workdir]);
    const uploaded = await this.sandbox.upload(binary, this.binary);
    if (!uploaded.success) throw new ModelServiceError(`uploading the model service failed: ${uploaded.message}`);
    await this.run(["chmod", "+x", this.binary]);
  }

  /** Stops a service left running, then starts one; returns once it answers its health check. */
  async start(): Promise<string> {
    await this.run([this.binary, "stop"]);
    return this.run([this.binary, "start", "--type", this.config.type ?? "local", ...(this.config.startArgs ?? [])]);
  }

  async stop(): Promise<void> {
    await this.run([this.binary, "stop"]);
  }

  async watchAgent(pid: number): Promise<void> {
    await this.run([this.binary, "watch-agent", "--pid", String(pid)]);
  }

  /** Answers call `index` (none for index 0) and returns the next request's JSON, or "SESSION_END". */
  async antiCallLlm(index: number, response?: string): Promise<string> {
    const args = [this.binary, "anti-call-llm", "--index", String(index)];
    if (response !== undefined && Buffer.byteLength(response) > INLINE_RESPONSE_LIMIT) {
      const payload = `/tmp/anti_call_response_${index}.json`;
      const written = await this.sandbox.writeFile(payload, response);
      if (!written.success) throw new ModelServiceError(`writing ${payload} failed: ${written.message}`);
      args.push("--response-file", payload);
    } else if (response !== undefined) {
      args.push("--response", response);
    }
    return (await this.run(args)).replace(/\n$/, "");
  }

  /** Runs argv (no shell, so a response needs no quoting) and returns stdout; a failure carries the command's stderr. */
  private async run(argv: string[]): Promise<string> {
    const result = await this.sandbox.execute(argv, { env: this.env, timeout: this.config.commandTimeout ?? 3600, shell: false });
    if (result.exit_code !== 0) {
      const why = result.failure_reason || result.stderr.trim() || result.stdout.trim() || `exit code ${result.exit_code}`;
      throw new ModelServiceError(`${argv.slice(1, 2).join(" ") || argv[0]} in the sandbox failed: ${why}`);
    }
    return result.stdout;
  }
}
