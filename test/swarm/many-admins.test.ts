/**
 * Two admins on one Redis, both on the swarm operator (real two-node swarm): a sandbox started on A and pinned to the
 * worker node is seen, used, stopped and restarted through B; only one of them reconciles, and neither takes the
 * other's sandbox for a stray; a stop leaves nothing on any node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import Redis from "ioredis";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Lease } from "../../plugins/services/admin/lease.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { api } from "../admin/support.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { newSandboxId } from "../sdk/support.ts";
import { available, redisUrl, sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { testSwarm } from "../support/swarm.ts";

const swarm = await testSwarm();
const url = redisUrl();

describe.skipIf(!swarm || !available("redis", url))("two admins on one Redis, on the swarm operator (real two-node swarm)", () => {
  const prefix = `rock-swarm-many-${process.pid}:`;
  const running: { kernel: Kernel; project: TempProject }[] = [];
  let manager: Docker;
  let worker: Docker;
  let redis: Redis;

  const boot = async () => {
    const project = tempProject("rock-swarm-many-");
    const yaml =
      `store:\n  type: redis\n  url: ${url}\n  key_prefix: "${prefix}"\ndocker:\n  socket: ${swarm!.managerSocket}\n` +
      `plugins:\n  swarm:\n    rocklet_binary: ${await ensureRockletBinary()}\n    stop_timeout_seconds: 1\n    constraints: [node.labels.zone==b]\n` +
      `  admin:\n    port: 0\n    operator: swarm\n    reconcile_interval_ms: 200\n    maintenance_lease_ms: 900\n    rocklet_hosts: [${swarm!.managerAddr}, ${swarm!.workerAddr}]\n`;
    const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    running.push({ kernel, project });
    const base = kernel.server("admin")!.url + api;
    return {
      kernel,
      post: async (path: string, body: unknown) =>
        (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(90_000) })).json() as Promise<any>,
      get: async (path: string) => (await fetch(base + path, { signal: AbortSignal.timeout(30_000) })).json() as Promise<any>,
    };
  };
  const containersOf = async (id: string) => [
    ...(await manager.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } })),
    ...(await worker.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } })),
  ];
  const nothingLeft = async (id: string) => {
    expect(await manager.listServices({ filters: { label: [`rock.sandbox_id=${id}`] } })).toEqual([]);
    for (const until = Date.now() + 5000; Date.now() < until && (await containersOf(id)).length > 0; ) await Bun.sleep(50);
    expect(await containersOf(id)).toEqual([]);
  };

  beforeAll(() => {
    manager = new Docker({ socketPath: swarm!.managerSocket });
    worker = new Docker({ socketPath: swarm!.workerSocket });
    redis = new Redis(url!);
  });

  afterAll(async () => {
    for (const { kernel, project } of running.splice(0)) {
      await kernel.stop().catch(() => undefined);
      project.remove();
    }
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test("started on A on the worker node; status, execute, stop, restart through B; one reconciles; nothing left", async () => {
    const [a, b] = [await boot(), await boot()];
    const passes = [a, b].map((admin) => {
      const maintenance = admin.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
      const pass = maintenance.reconcile.bind(maintenance);
      const counter = { passes: 0 };
      maintenance.reconcile = () => {
        counter.passes++;
        return pass();
      };
      return counter;
    });
    const id = newSandboxId("swmany");
    expect((await a.post("/start", { image: sandboxImage(), sandbox_id: id, cpus: 0.1, memory: "64m" })).result).toMatchObject({ sandbox_id: id, host_ip: swarm!.workerAddr });
    expect((await b.get(`/get_status?sandbox_id=${id}`)).result).toMatchObject({ state: "running", is_alive: true, host_ip: swarm!.workerAddr });
    expect((await b.post("/execute", { sandbox_id: id, command: "echo via-b", shell: true })).result).toMatchObject({ stdout: "via-b\n" });

    // A few passes of the holder: the sandbox stays, and only one admin ran them.
    await Bun.sleep(1500);
    const held = [a, b].map((admin) => admin.kernel.instance<{ lease: Lease }>("admin")!.lease.held);
    expect(held.filter(Boolean)).toHaveLength(1);
    const holder = held.indexOf(true);
    expect(passes[holder].passes).toBeGreaterThan(3);
    expect(passes[1 - holder].passes).toBe(0);
    expect((await a.post("/execute", { sandbox_id: id, command: "echo still", shell: true })).result).toMatchObject({ stdout: "still\n" });

    expect((await b.post("/stop", { sandbox_id: id })).status).toBe("Success");
    await nothingLeft(id);
    expect((await b.post("/restart", { sandbox_id: id })).result).toMatchObject({ sandbox_id: id, host_ip: swarm!.workerAddr });
    expect((await a.post("/execute", { sandbox_id: id, command: "echo back", shell: true })).result).toMatchObject({ stdout: "back\n" });
    expect((await a.post("/stop", { sandbox_id: id })).status).toBe("Success");
    await nothingLeft(id);
    expect((await b.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("stopped");
  }, 180_000);
});
