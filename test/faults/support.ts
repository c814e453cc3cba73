/**
 * Real processes for the fault tests: a Redis of the test's own (so that stopping, pausing or wiping it disturbs no
 * other test), the server itself (`bun core/cli.ts`) with a config written for the test, and the checkout's private
 * Docker engine, restarted.
 */
import Docker from "dockerode";
import Redis from "ioredis";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { available } from "../support/env.ts";
import { freePort, repoRoot } from "../support/project.ts";

/** The redis-server program (test/env/up installs it); under CI a missing one fails the file. */
export function redisServerProgram(): string | undefined {
  const program = Bun.which("redis-server") ?? undefined;
  return available("redis-server", program) ? program : undefined;
}

/** A scratch directory under test/.tmp that `remove` deletes. */
export function scratchDir(prefix: string): { path: string; remove(): void } {
  const base = join(repoRoot, "test", ".tmp", "faults");
  mkdirSync(base, { recursive: true });
  const path = mkdtempSync(join(base, prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts redis-server on `port` (again); with `persist`, it reloads what it wrote before it stopped. */
  start(): Promise<void>;
  /** SIGKILL, like a crash; resolves once the process is gone and the port closed. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open, nothing answers (a hung server). */
  pause(): void;
  resume(): void;
  /** Deletes what a persistent server wrote, so that its next start is empty. */
  wipe(): void;
  /** A client for the test's own checks. */
  client(): Redis;
  close(): Promise<void>;
}

/**
 * A redis-server on a free loopback port, data in a scratch dir. `persist`: append-only file synced on every write,
 * so that a killed server comes back with its data.
 */
export async function privateRedis(program: string, options: { persist?: boolean } = {}): Promise<PrivateRedis> {
  const dir = scratchDir("redis-");
  const port = freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let running = false;
  const clients: Redis[] = [];
  const persistence = options.persist ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];

  const answers = async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG";
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  };

  const redis: PrivateRedis = {
    port,
    url,
    async start() {
      if (running) throw new Error("redis-server is already running");
      const args = ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir.path, "--save", "", ...persistence, "--daemonize", "no", "--loglevel", "warning"];
      const log = openSync(join(dir.path, "redis.log"), "a");
      proc = Bun.spawn([program, ...args], { stdout: log, stderr: log });
      closeSync(log);
      running = true;
      proc.exited.then(() => (running = false));
      const deadline = Date.now() + 10_000;
      while (!(await answers())) {
        if (!running) throw new Error(`redis-server exited ${proc.exitCode ?? proc.signalCode}: ${readFileSync(join(dir.path, "redis.log"), "utf8")}`);
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`);
        await Bun.sleep(20);
      }
    },
    async kill() {
      if (!proc || !running) return;
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
      await proc.exited;
    },
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
    wipe() {
      rmSync(join(dir.path, "appendonlydir"), { recursive: true, force: true });
    },
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: 1 });
      client.on("error", () => undefined);
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients.splice(0)) client.disconnect();
      await redis.kill();
      dir.remove();
    },
  };
  await redis.start();
  return redis;
}

export interface ServerProcess {
  proc: ReturnType<typeof Bun.spawn>;
  /** What the server logged so far (stdout and stderr). */
  log(): string;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/** `bun core/cli.ts` with `config` (as JSON, which is YAML) in `dir`; resolves once every one of `healthUrls` answers 200. */
export async function startServer(dir: string, config: Record<string, unknown>, healthUrls: string[]): Promise<ServerProcess> {
  const file = join(dir, "rock.yml");
  writeFileSync(file, JSON.stringify(config, null, 2));
  const logFile = join(dir, "server.log");
  const logFd = openSync(logFile, "a");
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("ROCK_")) delete env[name];
  const proc = Bun.spawn([process.execPath, "core/cli.ts", "--config", file], { cwd: repoRoot, env, stdout: logFd, stderr: logFd });
  closeSync(logFd);
  const log = () => readFileSync(logFile, "utf8");
  const server: ServerProcess = {
    proc,
    log,
    async stop(ms = 15_000) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + 30_000;
  for (const url of healthUrls) {
    while ((await fetch(url).then((r) => r.status, () => 0)) !== 200) {
      if (proc.exitCode !== null) throw new Error(`the server exited ${proc.exitCode}:\n${log()}`);
      if (Date.now() > deadline) {
        await server.stop(1000);
        throw new Error(`${url} did not answer 200 within 30 s:\n${log()}`);
      }
      await Bun.sleep(50);
    }
  }
  return server;
}

export interface PrivateEngine {
  /** SIGTERM to dockerd, as a restart of the engine begins; resolves once the process is gone. */
  stop(): Promise<void>;
  /** dockerd again, with the command line and environment it had; resolves once it answers. */
  start(): Promise<void>;
  /** In a finally block: the engine answers afterwards, started again (or by test/env/up) when it does not. */
  ensureUp(): Promise<void>;
}

/**
 * The checkout's private Docker engine (started by test/env/up; its pidfile beside its socket), restarted by a fault
 * test. Tests run one file at a time, so no other test needs it meanwhile; `ensureUp` must run in a finally block.
 */
export function privateEngine(socket: string): PrivateEngine {
  const pidfile = join(dirname(socket), "dockerd.pid");
  const logFile = join(repoRoot, "test", ".tmp", "docker", "dockerd.log");
  const readNul = (file: string) => readFileSync(file, "utf8").split("\0").filter(Boolean);
  const pid = Number(readFileSync(pidfile, "utf8").trim());
  const command = readNul(`/proc/${pid}/cmdline`);
  const env = Object.fromEntries(readNul(`/proc/${pid}/environ`).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
  let current = pid;
  const alive = (p: number) => {
    try {
      return !readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].startsWith("Z");
    } catch {
      return false;
    }
  };
  const answers = () => new Docker({ socketPath: socket }).ping().then(() => true, () => false);
  const engine: PrivateEngine = {
    async stop() {
      process.kill(current, "SIGTERM");
      const deadline = Date.now() + 60_000;
      while (alive(current)) {
        if (Date.now() > deadline) throw new Error(`dockerd (pid ${current}) did not stop within 60 s`);
        await Bun.sleep(50);
      }
    },
    async start() {
      const log = openSync(logFile, "a");
      const proc = Bun.spawn(command, { env, stdin: "ignore", stdout: log, stderr: log, detached: true });
      closeSync(log);
      proc.unref();
      current = proc.pid;
      const deadline = Date.now() + 60_000;
      while (!(await answers())) {
        if (Date.now() > deadline) throw new Error(`dockerd did not answer on ${socket} within 60 s (log: ${logFile})`);
        await Bun.sleep(100);
      }
    },
    async ensureUp() {
      if (await answers()) return;
      if (!alive(current)) await engine.start().catch(() => undefined);
      if (await answers()) return;
      const up = Bun.spawnSync(["bash", join(repoRoot, "test", "env", "up")], { stdout: "inherit", stderr: "inherit" });
      if (up.exitCode !== 0 || !(await answers())) throw new Error("the test engine could not be brought back (test/env/up failed)");
    },
  };
  return engine;
}
