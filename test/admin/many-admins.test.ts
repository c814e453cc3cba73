/**
 * Several admins on one Redis, each with its own data dir, on one Docker engine (the docker deployment): any admin
 * answers about any sandbox; a sandbox id or an Idempotency-Key sent to two admins at once makes one sandbox; only the
 * lease holder reconciles and it leaves a start that a live admin runs alone, resolving it once that admin was killed;
 * an admin that loses Redis mid-start fails the start and leaves nothing; records come back after a restart on the
 * embedded store and after Redis lost its data under two admins. Containers, records and store keys are checked.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import Redis from "ioredis";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Lease } from "../../plugins/services/admin/lease.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { privateRedis, redisServerProgram, scratchDir, startServer, type ServerProcess } from "../faults/support.ts";
import { newSandboxId, ourContainers, removeOurContainers } from "../sdk/support.ts";
import { available, dockerSocket, redisUrl, sandboxImage } from "../support/env.ts";
import { freePort, repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { api } from "./support.ts";

const url = redisUrl();
const socket = dockerSocket();
const program = redisServerProgram();
const LEASE_MS = 900;

interface Admin {
  base: string;
  kernel?: Kernel;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<any>;
  get(path: string): Promise<any>;
}

function client(base: string): Omit<Admin, "kernel"> {
  const answer = async (res: Response) => {
    const body = (await res.json()) as any;
    return res.status === 200 ? body : { ...body, http_status: res.status };
  };
  return {
    base,
    post: async (path, body, headers = {}) =>
      answer(await fetch(base + api + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(90_000) })),
    get: async (path) => answer(await fetch(base + api + path, { signal: AbortSignal.timeout(30_000) })),
  };
}

describe.skipIf(!available("redis", url) || !available("docker", socket) || !program)("admin: several admins on one Redis (docker deployment)", () => {
  const prefix = `rock-many-${process.pid}:`;
  const kernels: { kernel: Kernel; project: TempProject }[] = [];
  let engine: Docker;
  let redis: Redis;
  let binary: string;

  const storeSection = (redisUrl: string, keyPrefix: string) => `store:\n  type: redis\n  url: ${redisUrl}\n  key_prefix: "${keyPrefix}"\n  timeout_ms: 500\n`;
  const adminYaml = (store: string, extra = "") =>
    `${store}docker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n  local-operator:\n    deployment: docker\n` +
    `  admin:\n    port: 0\n    reconcile_interval_ms: 100\n    maintenance_lease_ms: ${LEASE_MS}\n    start_timeout_seconds: 120\n${extra}`;
  const boot = async (yaml: string, project = tempProject("rock-many-")): Promise<Admin & { kernel: Kernel; project: TempProject }> => {
    const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    kernels.push({ kernel, project });
    return { ...client(kernel.server("admin")!.url), kernel, project };
  };
  const bootShared = () => boot(adminYaml(storeSection(url!, prefix)));
  const stopAll = async () => {
    for (const { kernel, project } of kernels.splice(0)) {
      await kernel.stop().catch(() => undefined);
      project.remove();
    }
  };
  const startBody = (sandbox_id?: string, cpus = 0.1) => ({ image: sandboxImage(), ...(sandbox_id ? { sandbox_id } : {}), memory: "64m", cpus, pull: "never" });
  const containersOf = async (id: string) => (await ourContainers(engine)).filter((c) => c.Labels["rock.sandbox_id"] === id);
  /** Every sandbox container on the engine (ids the admin chose lack this process's prefix). */
  const managedIds = async () => (await engine.listContainers({ all: true, filters: { label: ["rock.managed=true"] } })).map((c) => c.Labels["rock.sandbox_id"]);
  /** SIGSTOP to every process of the container (host pids, we are root): its rocklet never answers, Docker says running. */
  const freeze = async (containerId: string) => {
    for (let round = 0; round < 3; round++) {
      const top = await engine.getContainer(containerId).top({ ps_args: "-o pid" });
      for (const [pid] of top.Processes ?? []) process.kill(Number(pid), "SIGSTOP");
      await Bun.sleep(100);
    }
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 15_000) => {
    for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50)) if (await check()) return;
    throw new Error(`not within ${ms} ms: ${what}`);
  };
  const record = async (id: string, keyPrefix = prefix, from: Redis = redis) => JSON.parse((await from.get(`${keyPrefix}sandbox:record:${id}`)) ?? "null");
  const hotKeys = async (id: string, from: Redis = redis, keyPrefix = prefix) =>
    (await from.keys(`${keyPrefix}sandbox:*`)).filter((k) => k.endsWith(`:alive:${id}`) || k.endsWith(`:timeout:${id}`));
  const leaseOf = (admin: { kernel: Kernel }) => admin.kernel.instance<{ lease: Lease }>("admin")!.lease;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    binary = await ensureRockletBinary();
    redis = new Redis(url!);
  });

  afterEach(() => stopAll(), 60_000);
  afterAll(async () => {
    await removeOurContainers(engine);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }, 60_000);

  test("a sandbox started on A: status, execute, stop, restart and delete on B; each lists it once", async () => {
    const [a, b] = [await bootShared(), await bootShared()];
    const id = newSandboxId("many");
    const started = await a.post("/start", startBody(id));
    expect(started).toMatchObject({ status: "Success", result: { sandbox_id: id } });

    expect((await b.get(`/get_status?sandbox_id=${id}`)).result).toMatchObject({ state: "running", is_alive: true, host_ip: started.result.host_ip });
    expect((await b.post("/execute", { sandbox_id: id, command: "echo from-b", shell: true })).result).toMatchObject({ stdout: "from-b\n" });
    for (const admin of [a, b]) expect((await admin.get("/sandboxes")).result.items.filter((i: any) => i.sandbox_id === id)).toHaveLength(1);

    expect((await b.post("/stop", { sandbox_id: id })).status).toBe("Success");
    await until("no container of id", async () => (await containersOf(id)).length === 0);
    expect(await hotKeys(id)).toEqual([]);
    // The ended record stays (for record_retention_days), out of the list of active ones.
    expect(await redis.ttl(`${prefix}sandbox:record:${id}`)).toBeGreaterThan(6 * 24 * 3600);
    expect(await redis.exists(`${prefix}sandbox:active:${id}`)).toBe(0);
    expect((await a.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("stopped");

    // Restarted on both at once: one restart runs, the other is refused; one container.
    const restarts = await Promise.all([b.post("/restart", { sandbox_id: id }), a.post("/restart", { sandbox_id: id })]);
    expect(restarts.map((r) => r.status).sort()).toEqual(["Failed", "Success"]);
    expect(restarts.find((r) => r.status === "Failed").result.code).toBe(4000);
    expect((await a.post("/execute", { sandbox_id: id, command: "echo again", shell: true })).result).toMatchObject({ stdout: "again\n" });
    expect(await redis.ttl(`${prefix}sandbox:record:${id}`)).toBe(-1);
    expect(await redis.exists(`${prefix}sandbox:active:${id}`)).toBe(1);
    expect((await containersOf(id)).filter((c) => c.State === "running")).toHaveLength(1);
    expect((await a.post("/stop", { sandbox_id: id })).status).toBe("Success");
    expect((await b.post("/delete", { sandbox_id: id })).status).toBe("Success");
    expect((await a.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("deleted");
    await until("no container of id", async () => (await containersOf(id)).length === 0);
    await stopAll();
  }, 120_000);

  test("E2B: a sandbox created on A is connected to, used through envd, and killed on B, with one access token", async () => {
    const e2b = `    e2b_templates: { base: "${sandboxImage()}" }\n`;
    const [a, b] = [await boot(adminYaml(storeSection(url!, prefix), e2b)), await boot(adminYaml(storeSection(url!, prefix), e2b))];
    const call = (admin: Admin, method: string, path: string, body?: unknown) =>
      fetch(admin.base + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
    const created = await call(a, "POST", "/sandboxes", { templateID: "base", timeout: 300 });
    expect(created.status).toBe(201);
    const { sandboxID, envdAccessToken } = (await created.json()) as any;
    const connected = (await (await call(b, "POST", `/sandboxes/${sandboxID}/connect`, { timeout: 300 })).json()) as any;
    expect(connected.envdAccessToken).toBe(envdAccessToken);
    // A sandbox started through ROCK's routes gets its token at the first connect: two at once, on A and B, get one.
    const rockId = newSandboxId("e2b-rock");
    expect((await a.post("/start", startBody(rockId))).status).toBe("Success");
    const tokens = await Promise.all([a, b, a, b].map(async (admin) => ((await (await call(admin, "POST", `/sandboxes/${rockId}/connect`, { timeout: 300 })).json()) as any).envdAccessToken));
    expect(new Set(tokens).size).toBe(1);
    expect((await b.post("/stop", { sandbox_id: rockId })).status).toBe("Success");
    const stat = (admin: Admin, token: string) =>
      fetch(`${admin.base}/envd/filesystem.Filesystem/Stat`, {
        method: "POST",
        headers: { "content-type": "application/json", "e2b-sandbox-id": sandboxID, "x-access-token": token },
        body: JSON.stringify({ path: "/" }),
      });
    expect((await stat(b, envdAccessToken)).status).toBe(200);
    expect((await stat(b, "not-the-token")).status).toBe(401);
    // Paused on both at once: one pauses it, the other answers it is paused already; a connect on the other resumes it.
    const pauses = await Promise.all([a, b].map(async (admin) => (await call(admin, "POST", `/sandboxes/${sandboxID}/pause`, {})).status));
    expect(pauses.sort()).toEqual([204, 409]);
    expect((await stat(a, envdAccessToken)).status).toBe(409);
    expect((await call(b, "POST", `/sandboxes/${sandboxID}/connect`, { timeout: 300 })).status).toBe(200);
    expect((await stat(a, envdAccessToken)).status).toBe(200);
    expect((await call(b, "DELETE", `/sandboxes/${sandboxID}`)).status).toBe(204);
    expect((await stat(a, envdAccessToken)).status).toBe(404);
    await until("no container left", async () => !(await managedIds()).includes(sandboxID));
  }, 120_000);

  test("one sandbox id, and one Idempotency-Key, sent to A and B at once: one sandbox, one record, one container", async () => {
    const [a, b] = [await bootShared(), await bootShared()];
    const id = newSandboxId("same");
    const both = await Promise.all([a.post("/start", startBody(id)), b.post("/start", startBody(id))]);
    for (const answer of both) expect(answer).toMatchObject({ status: "Success", result: { sandbox_id: id } });
    expect((await containersOf(id)).map((c) => c.State)).toEqual(["running"]);
    expect((await record(id)).state).toBe("running");

    const before = new Set(await managedIds());
    const key = { "idempotency-key": `many-${process.pid}-${Date.now()}` };
    const keyed = await Promise.all([a.post("/start", startBody(), key), b.post("/start", startBody(), key), a.post("/start", startBody(), key)]);
    for (const answer of keyed) expect(answer.status).toBe("Success");
    const keyedId = keyed[0].result.sandbox_id;
    expect(keyed.map((answer) => answer.result.sandbox_id)).toEqual([keyedId, keyedId, keyedId]);
    expect((await managedIds()).filter((made) => !before.has(made))).toEqual([keyedId]);
    expect((await redis.keys(`${prefix}sandbox:record:*`)).filter((k) => k.endsWith(id) || k.endsWith(keyedId)).sort()).toEqual(
      [`${prefix}sandbox:record:${id}`, `${prefix}sandbox:record:${keyedId}`].sort(),
    );
    for (const sandbox of [id, keyedId]) expect((await b.post("/stop", { sandbox_id: sandbox })).status).toBe("Success");
    await until("no container of id", async () => (await containersOf(id)).length === 0);
    await until("no container of keyedId", async () => (await containersOf(keyedId)).length === 0);
    await stopAll();
  }, 120_000);

  test("only the lease holder reconciles, and it leaves A's slow start alone while A lives; A killed, it fails the start and leaves nothing", async () => {
    const b = await bootShared();
    let passes = 0;
    const maintenance = b.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    const pass = maintenance.reconcile.bind(maintenance);
    maintenance.reconcile = () => {
      passes++;
      return pass();
    };
    await until("B holds the lease", async () => leaseOf(b).held);

    // A in a process of its own, to be SIGKILLed mid-start.
    const dir = scratchDir("many-admins-");
    const port = freePort();
    let a: ServerProcess | undefined;
    try {
      a = await startServer(
        dir.path,
        {
          data_dir: join(dir.path, "data"),
          store: { type: "redis", url, key_prefix: prefix, timeout_ms: 500 },
          docker: { socket },
          plugins: {
            docker: { rocklet_binary: binary, pull: "never" },
            "local-operator": { deployment: "docker" },
            admin: { port, admin_id: "admin-a", reconcile_interval_ms: 100, maintenance_lease_ms: LEASE_MS, start_timeout_seconds: 120 },
          },
        },
        [`http://127.0.0.1:${port}/health`],
      );
      const admin = client(`http://127.0.0.1:${port}`);
      const id = newSandboxId("slow");
      // A rocklet that answers late: a tiny CPU share, and its processes stopped once placed.
      expect((await admin.post("/start_async", startBody(id, 0.01))).status).toBe("Success");
      const [container] = await containersOf(id);
      await freeze(container.Id);
      expect((await record(id)).state).toBe("pending");

      // B's passes (every 100 ms) while A runs the start, for longer than B would wait for the rocklet of a start nobody
      // runs (5 s): it stays A's.
      const passesBefore = passes;
      await Bun.sleep(7000);
      expect(passes - passesBefore).toBeGreaterThan(5);
      expect(await record(id)).toMatchObject({ state: "pending", admin_id: "admin-a" });
      expect(await containersOf(id)).toHaveLength(1);
      expect(leaseOf(b).held).toBe(true);

      // A dies: once its liveness key lapsed, B resolves the start: the rocklet does not answer, so it fails it.
      a.proc.kill("SIGKILL");
      await a.proc.exited;
      await until("B failed the start", async () => (await record(id)).state === "stopped", 20_000);
      expect((await record(id)).failure_reason).toContain("the admin starting it (admin-a) is gone");
      await until("no container left", async () => (await containersOf(id)).length === 0);
      expect(await hotKeys(id)).toEqual([]);
      const status = (await client(b.base).get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result;
      expect(status).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed" } } });
    } finally {
      if (a && a.proc.exitCode === null) a.proc.kill("SIGKILL");
      dir.remove();
      await stopAll();
    }
  }, 120_000);

  test("an admin that loses Redis mid-start: the start is Failed with why, nothing is left, and the record says so once Redis is back", async () => {
    const own = await privateRedis(program!, { persist: true });
    const client2 = own.client();
    try {
      const admin = await boot(adminYaml(storeSection(own.url, "rock:")));
      const id = newSandboxId("lost");
      const answer = admin.post("/start", startBody(id, 0.01));
      // Placed (its container runs and its hot state is written), waiting for the rocklet: Redis goes.
      await until("placed", async () => (await record(id, "rock:", client2))?.host_ip != null);
      await own.kill();
      const failed = await answer;
      expect(failed.status).toBe("Failed");
      expect(failed.message).toContain("store unavailable");
      await until("no container left", async () => (await containersOf(id)).length === 0);

      await own.start();
      const back = own.client();
      await until("the failure written to Redis", async () => (await record(id, "rock:", back).catch(() => null))?.state === "stopped", 20_000);
      expect((await record(id, "rock:", back)).failure_reason).toContain("store unavailable");
      await until("no hot state left", async () => (await hotKeys(id, back, "rock:")).length === 0);
      expect((await admin.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed" } } });
      await until("no container of id", async () => (await containersOf(id)).length === 0);
    } finally {
      await stopAll();
      await own.close();
    }
  }, 120_000);

  test("one admin on the embedded store, restarted: its records are back (running and stopped)", async () => {
    const project = tempProject("rock-many-");
    const yaml = adminYaml("");
    let admin = await boot(yaml, project);
    const [runs, ended] = [newSandboxId("kept"), newSandboxId("ended")];
    for (const id of [runs, ended]) expect((await admin.post("/start", startBody(id))).status).toBe("Success");
    expect((await admin.post("/stop", { sandbox_id: ended })).status).toBe("Success");
    // The docker deployment keeps containers when the admin stops.
    await kernels.pop()!.kernel.stop();

    admin = await boot(yaml, project);
    expect((await admin.get("/sandboxes")).result.items.map((i: any) => i.sandbox_id)).toEqual([runs]);
    expect((await admin.get(`/get_status?sandbox_id=${runs}`)).result).toMatchObject({ state: "running", is_alive: true });
    expect((await admin.post("/execute", { sandbox_id: runs, command: "echo kept", shell: true })).result).toMatchObject({ stdout: "kept\n" });
    expect((await admin.get(`/get_status?sandbox_id=${ended}&include_all_states=true`)).result.state).toBe("stopped");
    expect((await admin.post("/stop", { sandbox_id: runs })).status).toBe("Success");
    await until("no container of runs", async () => (await containersOf(runs)).length === 0);
    await stopAll();
  }, 120_000);

  test("Redis loses its data under two admins: the records come back from their copies, the newer copy of each winning", async () => {
    const [a, b] = [await bootShared(), await bootShared()];
    const [onA, onB] = [newSandboxId("copy-a"), newSandboxId("copy-b")];
    expect((await a.post("/start", startBody(onA))).status).toBe("Success");
    expect((await b.post("/start", startBody(onB))).status).toBe("Success");
    // A's copy of onA says running; B stopped it, so B's copy is newer.
    expect((await b.post("/stop", { sandbox_id: onA })).status).toBe("Success");

    const seeded = async () => (await redis.keys(`${prefix}sandbox:seeded:*`)).length;
    await redis.del(...(await redis.keys(`${prefix}*`)));
    await until("both admins put their copies back", async () => (await seeded()) === 2);
    expect((await record(onA)).state).toBe("stopped");
    expect((await record(onB)).state).toBe("running");
    for (const admin of [a, b]) {
      expect((await admin.get("/sandboxes")).result.items.filter((i: any) => [onA, onB].includes(i.sandbox_id)).map((i: any) => i.sandbox_id)).toEqual([onB]);
      expect((await admin.get(`/get_status?sandbox_id=${onA}&include_all_states=true`)).result.state).toBe("stopped");
    }
    expect((await a.post("/execute", { sandbox_id: onB, command: "echo back", shell: true })).result).toMatchObject({ stdout: "back\n" });

    // Whatever the order: A, down while Redis loses its data again, puts its older copy of onA back after B: B's stays.
    kernels.splice(kernels.findIndex((k) => k.kernel === a.kernel), 1);
    await a.kernel.stop();
    await redis.del(...(await redis.keys(`${prefix}*`)));
    await until("B put its copies back", async () => (await seeded()) === 1);
    const again = await boot(adminYaml(storeSection(url!, prefix)), a.project);
    expect(await seeded()).toBe(2);
    expect((await record(onA)).state).toBe("stopped");
    expect((await again.get(`/get_status?sandbox_id=${onA}&include_all_states=true`)).result.state).toBe("stopped");
    expect((await again.post("/stop", { sandbox_id: onB })).status).toBe("Success");
    await until("no container of onA", async () => (await containersOf(onA)).length === 0);
    await until("no container of onB", async () => (await containersOf(onB)).length === 0);
    await stopAll();
  }, 120_000);
});
