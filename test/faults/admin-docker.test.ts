/**
 * The admin server process (`bun core/cli.ts`) on the docker deployment, with a Redis of the test's own, hit from
 * outside: SIGKILL while five sandboxes are starting, then a restart (once: five containers kept running, five records
 * stuck pending and execute saying "still starting" forever); a sandbox's container killed, a rocklet crashed and one run
 * out of memory, with nobody calling. Containers, records and store keys are counted before and after.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { join } from "node:path";
import { ensureRockletBinary } from "../deployments/support.ts";
import { newSandboxId, ourContainers, removeOurContainers } from "../sdk/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort } from "../support/project.ts";
import { privateRedis, redisServerProgram, scratchDir, startServer, type PrivateRedis, type ServerProcess } from "./support.ts";

const api = "/apis/envs/sandbox/v1";
const socket = dockerSocket();
const program = redisServerProgram();
const RECONCILE_MS = 500;

describe.skipIf(!available("docker", socket) || !program)("admin server on docker: killed while starting, and sandboxes dying with nobody calling", () => {
  let redis: PrivateRedis;
  let server: ServerProcess;
  let dir: ReturnType<typeof scratchDir>;
  let engine: Docker;
  let admin: string;
  let config: Record<string, unknown>;

  const call = async (path: string, body?: unknown) => {
    const response = await fetch(admin + api + path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };
  const startBody = (sandbox_id: string) => ({ image: sandboxImage(), sandbox_id, memory: "64m", cpus: 0.1, pull: "never" });
  const containersOf = async (ids: string[]) => (await ourContainers(engine)).filter((c) => ids.includes(c.Labels["rock.sandbox_id"]));
  // Sandbox state only: the admin's maintenance lease stays while the admin runs.
  const storeKeys = async () => (await redis.client().keys("rock:sandbox:*")).filter((key) => /^rock:sandbox:(alive|timeout):/.test(key)).sort();
  const keysOf = (ids: string[]) => ids.flatMap((id) => [`rock:sandbox:alive:${id}`, `rock:sandbox:timeout:${id}`]).sort();
  /** The admin's records, read from its SQLite file as a crash leaves it. */
  const records = (ids: string[]) => {
    const db = new Database(join(dir.path, "data", "admin.sqlite"), { readonly: true });
    try {
      return db.query(`SELECT sandbox_id, state, rocklet_url FROM sandboxes WHERE sandbox_id IN (${ids.map(() => "?").join(",")})`).all(...ids) as { sandbox_id: string; state: string; rocklet_url: string | null }[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    const binary = await ensureRockletBinary();
    redis = await privateRedis(program!, { persist: true });
    dir = scratchDir("admin-docker-");
    const port = freePort();
    admin = `http://127.0.0.1:${port}`;
    config = {
      data_dir: join(dir.path, "data"),
      store: { type: "redis", url: redis.url, key_prefix: "rock:" },
      docker: { socket },
      plugins: {
        docker: { rocklet_binary: binary, pull: "never" },
        "local-operator": { deployment: "docker" },
        admin: { port, reconcile_interval_ms: RECONCILE_MS, idle_scan_interval_ms: RECONCILE_MS },
      },
    };
    server = await startServer(dir.path, config, [`${admin}/health`]);
  }, 60_000);

  afterAll(async () => {
    try {
      await server?.stop();
      if (engine) await removeOurContainers(engine);
    } finally {
      await redis?.close();
      dir?.remove();
    }
  }, 60_000);

  test("SIGKILL while 5 sandboxes start, then a restart: its first pass adopts each whose rocklet answers and fails the others with why; nothing pending, no orphan", async () => {
    const ids = Array.from({ length: 5 }, () => newSandboxId("killed"));
    const starts = ids.map((id) => fetch(admin + api + "/start_async", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(startBody(id)) }).catch(() => null));
    // Killed as soon as the first container runs: the other starts are somewhere between their record and their first
    // answer (a container created or not, started or not, its rocklet's address recorded or not).
    const deadline = Date.now() + 20_000;
    while (!(await containersOf(ids)).some((c) => c.State === "running") && Date.now() < deadline) await Bun.sleep(5);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    await Promise.all(starts);

    const left = records(ids);
    expect(left.some((r) => r.state === "pending")).toBe(true);
    const containersLeft = await containersOf(ids);
    expect(containersLeft.length).toBeGreaterThan(0);

    server = await startServer(dir.path, config, [`${admin}/health`]);
    // The pass at start-up resolved them before the first request: none is pending, each running one answers.
    const running: string[] = [];
    for (const { sandbox_id: id } of left) {
      const status = (await call(`/get_status?sandbox_id=${id}&include_all_states=true`)).result;
      expect(["running", "stopped"]).toContain(status.state);
      if (status.state === "running") {
        running.push(id);
        expect(status.is_alive).toBe(true);
        expect((await call("/execute", { sandbox_id: id, command: "echo resumed", shell: true })).result.stdout).toBe("resumed\n");
      } else {
        expect(status.status.docker_run.status).toBe("failed");
        expect(status.status.docker_run.message).toStartWith("the admin was restarted while the sandbox was starting, and ");
      }
    }
    // A start that never got its record left nothing.
    for (const id of ids.filter((id) => !left.some((r) => r.sandbox_id === id))) expect((await call(`/get_status?sandbox_id=${id}&include_all_states=true`)).error).toBe(`Sandbox ${id} not found`);
    expect(server.log()).toContain("reconciled");
    const after = await containersOf(ids);
    expect(after.map((c) => [c.Labels["rock.sandbox_id"], c.State]).sort()).toEqual(running.sort().map((id) => [id, "running"]));
    expect(await storeKeys()).toEqual(keysOf(running));

    for (const id of running) expect((await call("/stop", { sandbox_id: id })).status).toBe("Success");
    expect(await containersOf(ids)).toEqual([]);
    expect(await storeKeys()).toEqual([]);
    expect(records(ids).filter((r) => r.state !== "stopped")).toEqual([]);
  }, 120_000);

  test("a container killed from outside, a rocklet crashed and one run out of memory, nobody calling: the reconciler records why, removes them; get_status says so", async () => {
    const [killed, crashed, starved, bystander] = ["dockerkill", "crash", "oom", "bystander"].map((tag) => newSandboxId(tag));
    for (const id of [killed, crashed, bystander]) expect((await call("/start", startBody(id))).status).toBe("Success");
    expect((await call("/start", { ...startBody(starved), memory: "128m" })).status).toBe("Success");
    expect(await storeKeys()).toEqual(keysOf([killed, crashed, starved, bystander]));

    await engine.getContainer(`rock-${killed}`).kill();
    // Every process but init gets SIGSEGV: the rocklet dies as if it crashed, and init exits with its status.
    const exec = await engine.getContainer(`rock-${crashed}`).exec({ Cmd: ["kill", "-SEGV", "-1"] });
    await exec.start({});
    // Hogs that take themselves off the OOM killer's list first, so that the rocklet is the biggest (12 MiB each).
    const hogs = "echo 0 >/proc/self/oom_score_adj; for i in $(seq 1 12); do ( { head -c 12m /dev/zero; sleep 600; } | tail >/dev/null & ); sleep 0.2; done; sleep 1";
    await call("/execute", { sandbox_id: starved, command: hogs, shell: true, timeout: 30 });
    const dead = [killed, crashed, starved];
    const deadline = Date.now() + 10 * RECONCILE_MS + 5000;
    while ((await containersOf(dead)).length > 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(await containersOf(dead)).toEqual([]);
    expect(await storeKeys()).toEqual(keysOf([bystander]));

    const reasons = {
      [killed]: "the rocklet was killed by SIGKILL (exit code 137)",
      [crashed]: "the rocklet was killed by SIGSEGV (exit code 139)",
      [starved]: "the rocklet was killed by SIGKILL (exit code 137): the sandbox ran out of memory (its memory limit of 128 MiB; OOM killed)",
    };
    for (const [id, reason] of Object.entries(reasons)) {
      const status = (await call(`/get_status?sandbox_id=${id}`)).result;
      expect(status).toMatchObject({ state: "stopped", is_alive: false, status: { docker_run: { status: "failed", message: reason } } });
      expect(status.state_history.at(-1)).toMatchObject({ from_state: "running", to_state: "stopped", event: "fail" });
    }
    expect((await call(`/get_status?sandbox_id=${bystander}`)).result).toMatchObject({ state: "running", is_alive: true });
    expect((await call("/stop", { sandbox_id: bystander })).status).toBe("Success");
    expect(await containersOf([...dead, bystander])).toEqual([]);
    expect(await storeKeys()).toEqual([]);
    expect(await server.stop()).toBe(0);
  }, 60_000);
});
