import type { Subprocess } from "bun";
import { statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { rockletErrors } from "./errors.ts";
import { spawnAsOomVictim, spawnError } from "./limits.ts";
import { osError } from "./os-errors.ts";
import { pythonFloat, pythonRepr } from "../../protocol/python-repr.ts";
import type { ExecuteRequest } from "./requests.ts";
import { decodeUtf8 } from "./utf8-decoder.ts";

export interface CommandResponse {
  stdout: string;
  stderr: string;
  exit_code: number;
  /** Present when the command did not finish by itself (timeout); ROCK clients ignore unknown fields. */
  failure_reason?: string;
}

export interface ExecuteConfig {
  bashPath: string;
  maxOutputBytes: number;
  /** The process environment minus the rocklet's secrets; the request's `env` is merged over it. */
  baseEnv: () => Record<string, string>;
}

/** After the command exits, how long to keep reading pipes that a background grandchild still holds open. */
const PIPE_DRAIN_MS = 200;

/**
 * One-shot `subprocess.run` semantics: a string runs through `bash -c`, a list is an argv (with `shell`, its first item
 * is the script and the rest its positional parameters). The command gets its own process group so that a timeout
 * kills everything it started; the reply then carries exit_code -1, a failure_reason and the partial output.
 */
export async function executeCommand(request: ExecuteRequest, config: ExecuteConfig): Promise<CommandResponse> {
  const argv = toArgv(request, config.bashPath);
  if (request.cwd !== null) assertDirectory(request.cwd);
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = spawnAsOomVictim(() =>
      Bun.spawn(argv, {
        cwd: request.cwd ?? undefined,
        env: { ...config.baseEnv(), ...(request.env ?? {}) },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
      }),
    );
  } catch (error) {
    throw spawnError(error, argv[0]);
  }
  const stdout = collect(proc.stdout, config.maxOutputBytes);
  const stderr = collect(proc.stderr, config.maxOutputBytes);
  let timedOut = false;
  const timer =
    request.timeout === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          killGroup(proc.pid);
        }, request.timeout * 1000);
  await proc.exited;
  if (timer) clearTimeout(timer);
  await Promise.race([Promise.all([stdout.done, stderr.done]), Bun.sleep(PIPE_DRAIN_MS)]);
  const response: CommandResponse = {
    stdout: decodeUtf8(stdout.bytes()),
    stderr: decodeUtf8(stderr.bytes()),
    exit_code: timedOut ? -1 : exitCodeOf(proc),
  };
  if (timedOut) {
    response.failure_reason = `Timeout (${pythonFloat(request.timeout!)}s) exceeded while running command`;
    return response;
  }
  if (request.check && response.exit_code !== 0) {
    const message =
      `Command ${describe(request.command)} failed with exit code ${response.exit_code}. ` +
      `Stdout:\n${pythonRepr(response.stdout)}\nStderr:\n${pythonRepr(response.stderr)}`;
    throw rockletErrors.nonZeroExit(request.errorMsg ? `${request.errorMsg}: ${message}` : message);
  }
  return response;
}

function toArgv(request: ExecuteRequest, bashPath: string): string[] {
  const { command, shell } = request;
  if (typeof command === "string") return [bashPath, "-c", command];
  return shell ? [bashPath, "-c", command[0], ...command.slice(1)] : command;
}

function assertDirectory(cwd: string): void {
  try {
    if (!statSync(cwd).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  } catch (error) {
    throw osError(error, cwd);
  }
}

/** Python reports death by signal N as returncode -N. */
function exitCodeOf(proc: Subprocess<"ignore", "pipe", "pipe">): number {
  if (proc.exitCode !== null) return proc.exitCode;
  const signal = proc.signalCode as keyof typeof osConstants.signals | null;
  return signal ? -(osConstants.signals[signal] ?? 0) : -1;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function describe(command: string | string[]): string {
  return typeof command === "string" ? pythonRepr(command) : `[${command.map(pythonRepr).join(", ")}]`;
}

/**
 * Reads a pipe to its end in the background, keeping at most `limit` bytes. Reading continues after the reply was
 * sent, so a background process that inherited the pipe does not die of SIGPIPE.
 */
function collect(stream: ReadableStream<Uint8Array>, limit: number) {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let dropped = 0;
  const done = (async () => {
    try {
      for await (const chunk of stream) {
        if (size >= limit) {
          dropped += chunk.length;
          continue;
        }
        const kept = chunk.length <= limit - size ? chunk : chunk.subarray(0, limit - size);
        dropped += chunk.length - kept.length;
        chunks.push(kept);
        size += kept.length;
      }
    } catch {
      // A broken pipe ends the output.
    }
  })();
  return {
    done,
    bytes(): Uint8Array {
      const all = Buffer.concat(chunks);
      return dropped > 0 ? Buffer.concat([all, Buffer.from(`\n[rocklet: ${dropped} bytes of output omitted]\n`)]) : all;
    },
  };
}
