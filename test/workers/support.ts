/** Real worker and Agent processes on loopback for the worker and Agent tests, plus promtool. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, repoRoot } from "../support/project.ts";

export const bun = process.execPath;

export interface Proc {
  child: ReturnType<typeof Bun.spawn>;
  /** Everything written to stderr so far. */
  stderr(): string;
  exited: Promise<number>;
}

function spawn(cmd: string[], env: Record<string, string | undefined>, cwd = repoRoot): Proc & { stdoutLines: AsyncGenerator<string> } {
  const child = Bun.spawn(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  let err = "";
  (async () => {
    for await (const chunk of child.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  async function* lines() {
    let buffer = "";
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      buffer += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        yield buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
      }
    }
  }
  return { child, stderr: () => err, exited: child.exited, stdoutLines: lines() };
}

export interface WorkerProc extends Proc {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The completion URL. */
  endpoint: string;
}

/**
 * The worker program (what `bun run worker <folder>` runs) with `env`; resolves once it prints its listening line.
 * Started directly rather than through `bun run`, whose extra parent process would take a SIGKILL in its place;
 * `viaScript` goes through the package.json script instead.
 */
export async function startWorker(folder: string, env: Record<string, string | undefined> = {}, viaScript = false): Promise<WorkerProc> {
  const cmd = viaScript ? [bun, "run", "worker", folder] : [bun, "workers/runtime/main.ts", folder];
  const proc = spawn(cmd, { PUBLIC_ADDRESS: "127.0.0.1", ...env });
  const timeout = setTimeout(() => proc.child.kill(), 20_000);
  const { value } = await proc.stdoutLines.next();
  clearTimeout(timeout);
  const m = /listening on (http:\/\/[^/]+)(\/\S*)/.exec(value ?? "");
  if (!m) throw new Error(`worker ${folder} did not start: ${value ?? ""}\n${proc.stderr()}`);
  return { ...proc, url: m[1], endpoint: m[1] + m[2] };
}

export interface AgentProc extends Proc {
  url: string;
  port: number;
  /** AGENT_ENDPOINT for workers. */
  v1: string;
}

/** `bun core/cli.ts` with a temp config that enables only the agent plugin; `root`: another checkout's (benchmarks). */
export async function startAgent(
  options: { port?: number; redisUrl?: string; keyPrefix?: string; agent?: Record<string, unknown>; env?: Record<string, string>; root?: string } = {},
): Promise<AgentProc> {
  const port = options.port ?? freePort();
  const dir = tempDir("agent-");
  const store = options.redisUrl ? { type: "redis", url: options.redisUrl, key_prefix: options.keyPrefix ?? "" } : { type: "memory" };
  const config = { data_dir: join(dir, "data"), store, plugins: { agent: { port, health_interval_ms: 200, ...options.agent } } };
  writeFileSync(join(dir, "rock.yml"), JSON.stringify(config));
  const proc = spawn([bun, "core/cli.ts", "--config", join(dir, "rock.yml")], { ROCK_REDIS_URL: undefined, ROCK_STORE: undefined, ...options.env }, options.root);
  const timeout = setTimeout(() => proc.child.kill(), 20_000);
  // next() rather than for-await + break, which would cancel the child's stdout.
  for (let line = await proc.stdoutLines.next(); !line.done && !line.value.startsWith("agent"); line = await proc.stdoutLines.next());
  clearTimeout(timeout);
  const url = `http://127.0.0.1:${port}`;
  if ((await fetch(`${url}/health`).catch(() => undefined))?.status !== 200) throw new Error(`agent did not start:\n${proc.stderr()}`);
  return { ...proc, url, port, v1: `${url}/v1.0/` };
}

const made: string[] = [];
process.on("exit", () => made.forEach(removeDir));

/** A temp dir under test/.tmp/workers, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const base = join(repoRoot, "test", ".tmp", "workers");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, prefix));
  made.push(dir);
  return dir;
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

export async function stop(proc: Proc | undefined, signal: NodeJS.Signals = "SIGTERM") {
  if (!proc || proc.child.exitCode !== null) return;
  proc.child.kill(signal);
  await proc.exited;
}

export function form(fields: Record<string, string>): URLSearchParams {
  return new URLSearchParams(fields);
}

export const history = (...messages: [string, boolean][]) => JSON.stringify(messages.map(([msg, isbot]) => ({ msg, isbot })));

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not hold within ${ms} ms`);
}

/** The value of one series in Prometheus text (`name{labels}` exactly as exposed, labels in any order). */
export function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export const promtool = Bun.which("promtool");

/**
 * `promtool check metrics` problems about metrics whose names start with one of `owned` (lint problems of
 * other metrics, e.g. prom-client's default `nodejs_active_*_total` gauges, belong to the kernel).
 * Parse errors are always returned.
 */
export async function promtoolProblems(text: string, owned: string[]): Promise<string[]> {
  const child = Bun.spawn([promtool!, "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const out = (await new Response(child.stdout).text()) + (await new Response(child.stderr).text());
  const code = await child.exited;
  if (code !== 0 && code !== 3) return [`promtool exit ${code}: ${out}`];
  return out
    .split("\n")
    .filter(Boolean)
    .filter((line) => owned.some((prefix) => line.startsWith(prefix)));
}
