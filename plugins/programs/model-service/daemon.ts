/**
 * `start` and `stop`: the service runs as a detached `serve` process. `start` returns once that process answers its
 * health check (or reports why it could not start); `stop` sends SIGTERM, waits, and only then resorts to SIGKILL.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CommandError } from "./errors.ts";
import { runningPid } from "./pid-file.ts";
import { isAlive } from "./process-alive.ts";
import type { ServiceSettings } from "./settings.ts";

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/** How to run this program again: the compiled binary itself, or bun with our entry file. */
function selfCommand(): string[] {
  const compiled = import.meta.path.startsWith("/$bunfs/") || import.meta.path.startsWith("B:/~BUN/");
  return compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "main.ts")];
}

/** Where the detached service's stdout and stderr go. */
export function serviceOutputFile(settings: ServiceSettings): string {
  return join(dirname(settings.pidFile), "model-service.out");
}

export function localUrl(settings: ServiceSettings): string {
  const host = ["0.0.0.0", "::", "[::]", ""].includes(settings.host) ? "127.0.0.1" : settings.host;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${settings.port}`;
}

export async function startInBackground(settings: ServiceSettings, serveArgs: string[]): Promise<{ pid: number; url: string }> {
  const existing = runningPid(settings.pidFile);
  if (existing !== undefined) {
    throw new CommandError(`a model service is already running (pid ${existing}, pid file ${settings.pidFile}); stop it first with 'model-service stop'`);
  }
  if (settings.port === 0) throw new CommandError("start needs a fixed port (--port or SERVICE_PORT); 0 is only for serve");
  const outputFile = serviceOutputFile(settings);
  mkdirSync(dirname(outputFile), { recursive: true });
  const output = openSync(outputFile, "a");
  const [program, ...args] = selfCommand();
  const child = spawn(program, [...args, "serve", ...serveArgs], { detached: true, stdio: ["ignore", output, output], env: process.env });
  closeSync(output);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.unref();
  const url = localUrl(settings);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new CommandError(`the model service exited (code ${exited}) before it answered:\n${tail(outputFile)}`);
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json() as Promise<{ pid?: number }>)
      .catch(() => undefined);
    if (health?.pid === child.pid) return { pid: child.pid!, url };
    await Bun.sleep(25);
  }
  child.kill("SIGKILL");
  throw new CommandError(`the model service did not answer ${url}/health within ${START_TIMEOUT_MS / 1000} s:\n${tail(outputFile)}`);
}

/** Returns the pid that was stopped, or undefined when none was running. */
export async function stopService(settings: ServiceSettings): Promise<{ pid: number; forced: boolean } | undefined> {
  const pid = runningPid(settings.pidFile);
  if (pid === undefined) return undefined;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return { pid, forced: false };
    await Bun.sleep(20);
  }
  process.kill(pid, "SIGKILL");
  runningPid(settings.pidFile);
  return { pid, forced: true };
}

function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no output)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
