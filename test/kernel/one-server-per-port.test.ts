/**
 * One server per port (issue 12, item 3): a second `rock` (services and Agent) or worker started on ports in use
 * fails at start, naming the service and the port, exits non-zero and leaves the first one untouched: still
 * answering, its sandboxes still running (a second kernel that got as far as its plugins' hooks would reconcile or
 * stop them, since both share the data dir).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { PortInUse } from "../../core/errors.ts";
import { createLogger } from "../../core/log.ts";
import { startServer } from "../../core/http/server.ts";
import { freePort, repoRoot } from "../support/project.ts";
import { bun, startWorker, stop, tempDir, type WorkerProc } from "../workers/support.ts";

interface Rock {
  child: ReturnType<typeof Bun.spawn>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

const running: Rock[] = [];
const workers: WorkerProc[] = [];
afterAll(async () => {
  for (const rock of running) if (rock.child.exitCode === null) rock.child.kill("SIGTERM");
  await Promise.all(running.map((r) => r.exited));
  for (const worker of workers) await stop(worker);
});

/** `bun core/cli.ts --config <file>`, as `bun run rock` runs it. */
function rock(config: string): Rock {
  const child = Bun.spawn([bun, "core/cli.ts", "--config", config], {
    cwd: repoRoot,
    env: { ...process.env, ROCK_API_TOKEN: undefined, ROCK_REDIS_URL: undefined, ROCK_STORE: undefined, ROCK_LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const read = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const chunk of stream) add(new TextDecoder().decode(chunk));
  };
  const done = Promise.all([read(child.stdout as ReadableStream<Uint8Array>, (t) => (out += t)), read(child.stderr as ReadableStream<Uint8Array>, (t) => (err += t))]);
  const proc = { child, stdout: () => out, stderr: () => err, exited: done.then(() => child.exited) };
  running.push(proc);
  return proc;
}

async function until(check: () => boolean, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await Bun.sleep(50);
  }
}

/** Exit status, or "still running" after `ms`. */
const exitWithin = (proc: { exited: Promise<number> }, ms: number) => Promise.race([proc.exited, Bun.sleep(ms).then(() => "still running" as const)]);

function config(ports: Record<string, number>): string {
  const dir = tempDir("ports-");
  const file = join(dir, "rock.yml");
  const plugins = {
    local: { stop_grace_ms: 200 },
    "local-operator": {},
    admin: { port: ports.admin, reconcile_interval_ms: 600_000 },
    agent: { port: ports.agent },
    envhub: { port: ports.envhub },
  };
  writeFileSync(file, JSON.stringify({ data_dir: join(dir, "data"), store: { type: "memory" }, plugins }));
  return file;
}

describe("rock", () => {
  test("a second instance on the same ports exits non-zero naming the service and the port; the first keeps serving and its sandbox keeps running", async () => {
    const ports = { admin: freePort(), agent: freePort(), envhub: freePort() };
    const file = config(ports);
    const first = rock(file);
    await until(() => /^envhub /m.test(first.stdout()), 30_000, `the first instance did not start:\n${first.stderr()}`);
    const admin = `http://127.0.0.1:${ports.admin}/apis/envs/sandbox/v1`;
    const post = async (path: string, body: unknown) =>
      (await fetch(admin + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json();
    const started = await post("/start", { image: "python:3.11", sandbox_id: `ports-${process.pid}` });
    expect(started.status).toBe("Success");

    const second = rock(file);
    const code = await exitWithin(second, 30_000);
    expect(code).not.toBe("still running");
    expect(code).not.toBe(0);
    expect(second.stderr()).toContain(`rock: admin: port ${ports.admin} on 127.0.0.1 is already in use`);
    expect(second.stdout()).toBe("");

    for (const port of Object.values(ports)) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const executed = await post("/execute", { sandbox_id: started.result.sandbox_id, command: ["echo", "still here"] });
    expect(executed.result?.stdout).toBe("still here\n");
    expect((await post("/stop", { sandbox_id: started.result.sandbox_id })).status).toBe("Success");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  }, 90_000);

  test("one port of several taken: nothing opens, the message names that service and port", async () => {
    const ports = { admin: freePort(), agent: freePort(), envhub: freePort() };
    // Held the way an Elysia server of an older build held it, with SO_REUSEPORT: we must not share it.
    const holder = Bun.serve({ hostname: "127.0.0.1", port: ports.envhub, reusePort: true, fetch: () => new Response("holder") });
    try {
      const proc = rock(config(ports));
      const code = await exitWithin(proc, 30_000);
      expect(code).not.toBe("still running");
      expect(code).not.toBe(0);
      expect(proc.stderr()).toContain(`rock: envhub: port ${ports.envhub} on 127.0.0.1 is already in use`);
      // The free ports were never opened, or were closed again.
      for (const port of [ports.admin, ports.agent]) Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      expect(await (await fetch(`http://127.0.0.1:${ports.envhub}/health`)).text()).toBe("holder");
    } finally {
      holder.stop(true);
    }
  }, 60_000);

  test("the HTTP host itself refuses a port held with SO_REUSEPORT (a race past the start-up check)", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: true, fetch: () => new Response("holder") });
    try {
      const starting = startServer({
        name: "demo",
        version: "1",
        host: "127.0.0.1",
        port: holder.port!,
        registry: new Registry(),
        log: createLogger({ plugin: "demo" }),
        service: { mount: (app) => app.get("/x", () => "x") },
      });
      await expect(starting).rejects.toThrow(new PortInUse("demo", "127.0.0.1", holder.port!));
      await starting.catch(() => undefined);
      for (let i = 0; i < 5; i++) expect(await (await fetch(`http://127.0.0.1:${holder.port}/x`)).text()).toBe("holder");
    } finally {
      holder.stop(true);
    }
  });
});

describe("worker", () => {
  test("a second worker on the same port exits non-zero naming the worker and the port; the first keeps serving", async () => {
    const port = freePort();
    // No Agent: IGNORE_AGENT keeps the workers serving after a failed registration.
    const env = { PORT: String(port), IGNORE_AGENT: "true", RETRY_COUNT: "0", AGENT_ENDPOINT: `http://127.0.0.1:${freePort()}/v1.0/` };
    const first = await startWorker("workers/example", env);
    workers.push(first);
    const second = Bun.spawn([bun, "workers/runtime/main.ts", "workers/example"], { cwd: repoRoot, env: { ...process.env, PUBLIC_ADDRESS: "127.0.0.1", ...env }, stdout: "pipe", stderr: "pipe" });
    const code = await Promise.race([second.exited, Bun.sleep(30_000).then(() => "still running" as const)]);
    if (code === "still running") second.kill("SIGKILL");
    expect(code).not.toBe("still running");
    expect(code).not.toBe(0);
    const stderr = await new Response(second.stderr as ReadableStream).text();
    expect(stderr).toContain(`worker: example: port ${port} on 127.0.0.1 is already in use`);
    expect(await new Response(second.stdout as ReadableStream).text()).not.toContain("listening");
    expect((await fetch(`${first.url}/health`)).status).toBe(204);
  }, 60_000);
});
