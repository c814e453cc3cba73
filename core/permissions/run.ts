import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { PermissionDenied } from "../errors.ts";

export interface RunOptions {
  cwd?: string;
  /** Extra variables; the child otherwise sees only PATH, HOME, LANG, TZ and the plugin's declared env vars. */
  env?: Record<string, string | undefined>;
  stdin?: "pipe" | "ignore" | "inherit" | Uint8Array | string;
  stdout?: "pipe" | "ignore" | "inherit";
  stderr?: "pipe" | "ignore" | "inherit";
  /** Start the child as the leader of a new process group (kill the whole group with `-pid`). */
  detached?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ScopedRun {
  /** Start a declared program; returns the running process. */
  spawn(cmd: string[], options?: RunOptions): Bun.Subprocess<any, any, any>;
  /** Run a declared program to completion and collect its output. */
  exec(cmd: string[], options?: RunOptions): Promise<RunResult>;
}

function locate(program: string, root: string): string | null {
  const found = program.includes("/") ? (isAbsolute(program) ? program : resolve(root, program)) : Bun.which(program);
  if (!found || !existsSync(found)) return null;
  return realpathSync(found);
}

const baseEnvNames = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

export function scopedRun(plugin: string, root: string, declared: readonly string[], declaredEnv: Record<string, string>): ScopedRun {
  // Resolved lazily: a program may be installed after start-up (e.g. docker.io by the test scripts).
  const resolveAllowed = () => new Set(declared.map((p) => locate(p, root)).filter((p): p is string => !!p));

  const resolveProgram = (cmd: string[]) => {
    if (!cmd.length) throw new Error(`plugin '${plugin}': empty command`);
    const path = locate(cmd[0], root);
    if (!path || !resolveAllowed().has(path)) {
      throw new PermissionDenied(plugin, `run:${cmd[0]}`, `declare "${cmd[0]}" in permissions.run`);
    }
    return path;
  };

  const childEnv = (extra?: Record<string, string | undefined>) => {
    const env: Record<string, string> = {};
    for (const name of baseEnvNames) if (process.env[name] !== undefined) env[name] = process.env[name]!;
    Object.assign(env, declaredEnv);
    for (const [k, v] of Object.entries(extra ?? {})) if (v !== undefined) env[k] = v;
    return env;
  };

  const spawn: ScopedRun["spawn"] = (cmd, options = {}) => {
    const program = resolveProgram(cmd);
    return Bun.spawn([program, ...cmd.slice(1)], {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdin: typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : (options.stdin ?? "ignore"),
      stdout: options.stdout ?? "pipe",
      stderr: options.stderr ?? "pipe",
      detached: options.detached,
      timeout: options.timeoutMs,
      signal: options.signal,
      argv0: cmd[0],
    } as any);
  };

  return {
    spawn,
    async exec(cmd, options = {}) {
      const child = spawn(cmd, { ...options, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([
        new Response(child.stdout as ReadableStream).text(),
        new Response(child.stderr as ReadableStream).text(),
      ]);
      await child.exited;
      return { exitCode: child.exitCode, signal: child.signalCode ? String(child.signalCode) : null, stdout, stderr };
    },
  };
}
