/**
 * An admin on the swarm operator that loses its Redis while a sandbox starts (real two-node swarm, a private Redis): the
 * sandbox's record is in Redis, so the start cannot go on without it. It ends Failed with the reason, its service is
 * removed at once, nothing is left on any node, and once Redis is back (without its data) the record says why
 * (written from the admin's copy) and no hot state is left.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { api } from "../admin/support.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { privateRedis, redisServerProgram, type PrivateRedis } from "../faults/support.ts";
import { newSandboxId } from "../sdk/support.ts";
import { inCI, sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { testSwarm } from "../support/swarm.ts";

const swarm = await testSwarm();
const program = redisServerProgram();
if (!program && inCI) throw new Error("redis-server is required under CI (test/env/up installs it)");

describe.skipIf(!swarm || !program)("admin on the swarm operator: Redis lost while a sandbox starts (real swarm)", () => {
  let manager: Docker;
  let worker: Docker;
  let redis: PrivateRedis;
  let kernel: Kernel;
  let project: TempProject;
  let base: string;

  beforeAll(async () => {
    manager = new Docker({ socketPath: swarm!.managerSocket });
    worker = new Docker({ socketPath: swarm!.workerSocket });
    redis = await privateRedis(program!);
    project = tempProject("rock-swarm-redis-");
    const yaml =
      `store:\n  type: redis\n  url: ${redis.url}\n  timeout_ms: 500\ndocker:\n  socket: ${swarm!.managerSocket}\n` +
      `plugins:\n  swarm:\n    rocklet_binary: ${await ensureRockletBinary()}\n    stop_timeout_seconds: 1\n    constraints: [node.labels.zone==b]\n` +
      `  admin:\n    port: 0\n    operator: swarm\n    reconcile_interval_ms: 600000\n    rocklet_hosts: [${swarm!.managerAddr}, ${swarm!.workerAddr}]\n`;
    kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    base = kernel.server("admin")!.url + api;
  }, 60_000);

  afterAll(async () => {
    await kernel?.stop().catch(() => undefined);
    project?.remove();
    await redis?.close();
  });

  test("the start ends Failed with why; nothing is left on any node; back, Redis has the failed record and no hot state", async () => {
    const id = newSandboxId("swredis");
    const post = async (path: string, body: unknown) =>
      (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) })).json() as Promise<any>;
    const answer = post("/start", { image: sandboxImage(), sandbox_id: id, cpus: 0.1, memory: "64m" });
    // The swarm takes ~0.6 s to run the task: Redis goes while it does.
    await Bun.sleep(150);
    await redis.kill();
    const failed = await answer;
    expect(failed.status).toBe("Failed");
    expect(failed.message).toContain("store unavailable");
    expect(await manager.listServices({ filters: { label: [`rock.sandbox_id=${id}`] } })).toEqual([]);
    const left = async () => [
      ...(await manager.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } })),
      ...(await worker.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } })),
    ];
    for (const until = Date.now() + 5000; Date.now() < until && (await left()).length > 0; ) await Bun.sleep(50);
    expect(await left()).toEqual([]);

    await redis.start();
    // The admin's connection comes back on its own within a few retries; its copy of the record goes back in.
    const client = redis.client();
    let record: any = null;
    for (const until = Date.now() + 20_000; Date.now() < until && record?.state !== "stopped"; await Bun.sleep(200)) {
      record = JSON.parse((await client.get(`sandbox:record:${id}`)) ?? "null");
    }
    expect(record).toMatchObject({ state: "stopped", failure_reason: expect.stringContaining("store unavailable") });
    expect((await client.keys("*")).filter((key) => /:(alive|timeout):/.test(key))).toEqual([]);
    const status = await (await fetch(`${base}/get_status?sandbox_id=${id}&include_all_states=true`)).json();
    expect(status.result).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed" } } });
    expect(await left()).toEqual([]);
  }, 120_000);
});
