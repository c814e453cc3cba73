/**
 * The admin server process (`bun core/cli.ts`, Redis store, local deployment) while its Redis fails, under execute
 * traffic: Redis killed for 15 s, then hung, then restarted without its data. Each request answers within the store's
 * bound with 503 "store unavailable" in ROCK's envelope (the Agent in its own shape), `/health` says degraded, service
 * resumes without a restart when Redis returns, and a Redis that lost its data gets the hot state of the running
 * sandboxes back from their records: they keep running and answering. The Redis is the test's own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureRockletBinary } from "../deployments/support.ts";
import { freePort } from "../support/project.ts";
import { privateRedis, redisServerProgram, scratchDir, startServer, type PrivateRedis, type ServerProcess } from "./support.ts";

const program = redisServerProgram();
const api = "/apis/envs/sandbox/v1";
/** store.timeout_ms (the default), and what a loaded machine may add to it. */
const boundMs = 1500;
const slackMs = 1000;

interface Sample {
  startedAt: number;
  ms: number;
  status: number;
  body: any;
}

describe.skipIf(!program)("admin server while its Redis fails", () => {
  let redis: PrivateRedis;
  let server: ServerProcess;
  let dir: ReturnType<typeof scratchDir>;
  let admin: string;
  let agent: string;
  const sandboxes: string[] = [];

  /** One request; one that gets no answer within 10 s is a sample with status 0 (a hang). */
  const request = async (url: string, body?: unknown): Promise<Sample> => {
    const startedAt = performance.now();
    try {
      const response = await fetch(url, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { startedAt, ms: performance.now() - startedAt, status: response.status, body: parsed };
    } catch (error) {
      return { startedAt, ms: performance.now() - startedAt, status: 0, body: String(error) };
    }
  };
  const call = (path: string, body?: unknown) => request(admin + api + path, body);
  const execute = (sandbox_id: string) => call("/execute", { sandbox_id, command: "echo hi", shell: true });
  const health = () => request(`${admin}/health`);
  const status = async (id: string) => (await call(`/get_status?sandbox_id=${id}`)).body.result;
  // The admin's maintenance lease is not sandbox state (and goes when the admin stops).
  const sandboxKeys = async () => (await redis.client().keys("rock:sandbox:*")).filter((key) => /^rock:sandbox:(alive|timeout):/.test(key)).sort();
  const localInstances = () => readdirSync(join(dir.path, "data", "plugins", "local", ".sandboxes")).filter((name) => name.endsWith(".json"));

  /** Runs `loops` execute loops on `sandbox_id` and a /health poller until `stop` resolves. */
  async function traffic(sandbox_id: string, loops: number, stop: Promise<unknown>) {
    const executes: Sample[] = [];
    const healths: Sample[] = [];
    let running = true;
    stop.then(() => (running = false));
    const loop = async (collect: Sample[], next: () => Promise<Sample>, pauseMs: number) => {
      while (running) {
        collect.push(await next());
        await Bun.sleep(pauseMs);
      }
    };
    await Promise.all([...Array.from({ length: loops }, () => loop(executes, () => execute(sandbox_id), 20)), loop(healths, health, 200)]);
    return { executes, healths };
  }

  beforeAll(async () => {
    await ensureRockletBinary();
    redis = await privateRedis(program!, { persist: true });
    dir = scratchDir("admin-redis-");
    const adminPort = freePort();
    const agentPort = freePort();
    admin = `http://127.0.0.1:${adminPort}`;
    agent = `http://127.0.0.1:${agentPort}`;
    server = await startServer(
      dir.path,
      {
        data_dir: join(dir.path, "data"),
        store: { type: "redis", url: redis.url, key_prefix: "rock:" },
        plugins: {
          local: { stop_grace_ms: 200 },
          "local-operator": {},
          admin: { port: adminPort, reconcile_interval_ms: 1000, idle_scan_interval_ms: 500 },
          agent: { port: agentPort },
        },
      },
      [`${admin}/health`, `${agent}/health`],
    );
    for (let i = 0; i < 2; i++) {
      const started = await call("/start", { image: "local", memory: "1g" });
      expect(started.body).toMatchObject({ status: "Success" });
      sandboxes.push(started.body.result.sandbox_id);
    }
  }, 60_000);

  afterAll(async () => {
    try {
      if (redis && server?.proc.exitCode === null) {
        for (const id of sandboxes) await call("/stop", { sandbox_id: id }).catch(() => undefined);
      }
      await server?.stop();
    } finally {
      await redis?.close();
      dir?.remove();
    }
  }, 60_000);

  test("Redis killed for 15 s under execute traffic: 503 'store unavailable' within the bound, /health degraded; back, it serves again", async () => {
    const [busy, idle] = sandboxes;
    expect((await execute(busy)).body).toMatchObject({ status: "Success", result: { stdout: "hi\n", exit_code: 0 } });
    const keysBefore = await sandboxKeys();
    expect(keysBefore).toEqual([...sandboxes.map((id) => `rock:sandbox:alive:${id}`), ...sandboxes.map((id) => `rock:sandbox:timeout:${id}`)].sort());

    let killedAt = 0;
    let backAt = 0;
    let agentDuringOutage: Sample | undefined;
    const outage = (async () => {
      await Bun.sleep(1000);
      await redis.kill();
      killedAt = performance.now();
      await Bun.sleep(1000);
      const form = new URLSearchParams({ name: "w", endpoint: "http://127.0.0.1:1/chat" });
      const startedAt = performance.now();
      const response = await fetch(`${agent}/v1.0/worker/register`, { method: "POST", body: form, signal: AbortSignal.timeout(10_000) }).catch(() => null);
      agentDuringOutage = { startedAt, ms: performance.now() - startedAt, status: response?.status ?? 0, body: await response?.json().catch(() => null) };
      await Bun.sleep(14_000);
      await redis.start();
      backAt = performance.now();
      await Bun.sleep(4000);
    })();
    const { executes, healths } = await traffic(busy, 4, outage);

    // Never a hang, never a 500: every answer within the bound, success or 503.
    expect([...executes, ...healths].filter((s) => ![200, 503].includes(s.status) || s.ms > boundMs + slackMs)).toEqual([]);
    const during = (samples: Sample[]) => samples.filter((s) => s.startedAt > killedAt + 100 && s.startedAt + s.ms < backAt);
    expect(during(executes).length).toBeGreaterThan(100);
    for (const sample of during(executes)) {
      expect(sample.status).toBe(503);
      expect(sample.body).toMatchObject({ status: "Failed", result: { code: 5000 } });
      expect(sample.body.message).toStartWith(`store unavailable: Redis at redis://127.0.0.1:${redis.port} is not reachable`);
    }
    expect(during(healths).length).toBeGreaterThan(30);
    for (const sample of during(healths)) {
      expect(sample.status).toBe(503);
      expect(sample.body).toEqual({ status: "degraded", service: "admin", reason: expect.stringMatching(/^store unavailable: Redis at /) });
    }
    // The Agent answers in its own error shape.
    expect(agentDuringOutage).toMatchObject({ status: 503, body: { error: { message: expect.stringMatching(/^store unavailable: /), type: "server_error" } } });
    expect(agentDuringOutage!.ms).toBeLessThan(boundMs + slackMs);

    // Back within about a second (the reconnect interval; the rest is room for a loaded machine), then everything
    // succeeds, with no restart.
    const firstSuccess = executes.filter((s) => s.startedAt > backAt && s.status === 200).map((s) => s.startedAt)[0];
    expect(firstSuccess - backAt).toBeLessThan(2500);
    for (const sample of executes.filter((s) => s.startedAt > backAt + 2500)) {
      expect(sample.body).toMatchObject({ status: "Success", result: { stdout: "hi\n" } });
    }
    expect(healths.at(-1)).toMatchObject({ status: 200, body: { status: "ok", service: "admin" } });
    expect(server.proc.exitCode).toBeNull();
    // Redis kept its data: the same keys, both sandboxes still running.
    expect(await sandboxKeys()).toEqual(keysBefore);
    expect(await status(idle)).toMatchObject({ state: "running", is_alive: true });
  }, 60_000);

  test("Redis hung (SIGSTOP): requests fail after store.timeout_ms, never later, and succeed once it resumes", async () => {
    const [busy] = sandboxes;
    let pausedAt = 0;
    let resumedAt = 0;
    const hang = (async () => {
      await Bun.sleep(500);
      redis.pause();
      pausedAt = performance.now();
      await Bun.sleep(5000);
      redis.resume();
      resumedAt = performance.now();
      await Bun.sleep(2000);
    })();
    const { executes, healths } = await traffic(busy, 2, hang);
    expect([...executes, ...healths].filter((s) => ![200, 503].includes(s.status) || s.ms > boundMs + slackMs)).toEqual([]);
    const during = executes.filter((s) => s.startedAt > pausedAt && s.startedAt + s.ms < resumedAt);
    expect(during.length).toBeGreaterThan(3);
    for (const sample of during) {
      expect(sample.status).toBe(503);
      expect(sample.body.message).toBe(`store unavailable: Redis at redis://127.0.0.1:${redis.port} did not answer within ${boundMs} ms (store.timeout_ms)`);
      expect(sample.ms).toBeGreaterThanOrEqual(boundMs - 10);
    }
    expect(healths.filter((s) => s.startedAt > pausedAt && s.startedAt + s.ms < resumedAt).every((s) => s.status === 503)).toBe(true);
    expect(executes.filter((s) => s.startedAt > resumedAt + 1000).every((s) => s.status === 200 && s.body.status === "Success")).toBe(true);
  }, 60_000);

  test("Redis restarted without its data: the running sandboxes keep running and answering; their keys are rebuilt", async () => {
    const [busy, idle] = sandboxes;
    const client = redis.client();
    const before = Object.fromEntries(await Promise.all((await sandboxKeys()).map(async (key) => [key, JSON.parse((await client.get(key))!)])));
    await client.set("test:sentinel", "1");
    await redis.kill();
    redis.wipe();
    await redis.start();
    expect(await redis.client().get("test:sentinel")).toBeNull();
    const restartedAt = performance.now();

    // The first requests may come before the admin reconnected (503); then execute succeeds at once.
    let answered: Sample;
    do answered = await execute(busy);
    while (answered.status === 503 && performance.now() - restartedAt < 3000);
    expect(answered.body).toMatchObject({ status: "Success", result: { stdout: "hi\n" } });

    // The reconciler ran every second meanwhile; before, it stopped both sandboxes within 7 s.
    while (performance.now() - restartedAt < 8000) {
      expect((await execute(busy)).body).toMatchObject({ status: "Success", result: { stdout: "hi\n" } });
      await Bun.sleep(250);
    }
    for (const id of sandboxes) expect(await status(id)).toMatchObject({ state: "running", is_alive: true });
    expect(localInstances().sort()).toEqual(sandboxes.map((id) => `${id}.json`).sort());

    // The same keys again; where each rocklet answers and its idle timeout come back from the records.
    const after = await sandboxKeys();
    expect(after).toEqual(Object.keys(before).sort());
    for (const id of [busy, idle]) {
      const alive = JSON.parse((await client.get(`rock:sandbox:alive:${id}`))!);
      // create_time comes from the record now (the first entry took its own clock reading, a millisecond apart).
      expect(alive).toEqual({ ...before[`rock:sandbox:alive:${id}`], create_time: expect.any(String) });
      const timeout = JSON.parse((await client.get(`rock:sandbox:timeout:${id}`))!);
      expect(timeout.auto_clear_time).toBe(before[`rock:sandbox:timeout:${id}`].auto_clear_time);
      expect(timeout.expire_time).toBeGreaterThan(Date.now() / 1000);
    }
    expect(server.log()).toContain(`sandbox hot state rebuilt from its record sandbox_id=${idle}`);
    expect(server.log()).not.toContain("sandbox stopped");
  }, 60_000);

  test("afterwards: stopping leaves no instance, no store key, records stopped; the server exits 0", async () => {
    for (const id of sandboxes) expect((await call("/stop", { sandbox_id: id })).body).toMatchObject({ status: "Success" });
    expect(await sandboxKeys()).toEqual([]);
    expect(localInstances()).toEqual([]);
    for (const id of sandboxes) expect((await call(`/get_status?sandbox_id=${id}&include_all_states=true`)).body.result.state).toBe("stopped");
    expect(await server.stop()).toBe(0);
  }, 30_000);
});
