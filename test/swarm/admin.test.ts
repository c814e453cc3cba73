/**
 * The admin service on the swarm operator (real two-node swarm, test/env/swarm): a sandbox placed on the worker node
 * is reached there through the admin's data plane, a restart brings it back to the node it ran on, a stop leaves
 * nothing on any node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import type { Operator } from "../../core/kinds/operator.ts";
import { sandboxSpec } from "../deployments/support.ts";
import { api } from "../admin/support.ts";
import { bootAdminKernel, newSandboxId, sandboxIdPrefix, type RunningAdmin } from "../sdk/support.ts";
import { sandboxImage } from "../support/env.ts";
import { testSwarm } from "../support/swarm.ts";
import { Sandbox } from "../../plugins/clients/sdk/index.ts";

const swarm = await testSwarm();

describe.skipIf(!swarm)("admin on the swarm operator (real two-node swarm)", () => {
  let manager: Docker;
  let worker: Docker;
  let admin: RunningAdmin;
  let base: string;

  const post = async (path: string, body: unknown) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(90_000) })).json() as Promise<any>;
  const get = async (path: string) => (await fetch(base + path, { signal: AbortSignal.timeout(10_000) })).json() as Promise<any>;
  const containersOf = async (engine: Docker, id: string) => engine.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } });
  const nothingLeft = async (id: string) => {
    expect(await manager.listServices({ filters: { label: [`rock.sandbox_id=${id}`] } })).toEqual([]);
    for (const until = Date.now() + 5000; Date.now() < until; await Bun.sleep(50)) {
      if ((await containersOf(manager, id)).length + (await containersOf(worker, id)).length === 0) break;
    }
    expect([...(await containersOf(manager, id)), ...(await containersOf(worker, id))]).toEqual([]);
  };

  beforeAll(async () => {
    manager = new Docker({ socketPath: swarm!.managerSocket });
    worker = new Docker({ socketPath: swarm!.workerSocket });
    const { ensureRockletBinary } = await import("../deployments/support.ts");
    const binary = await ensureRockletBinary();
    admin = await bootAdminKernel(
      `docker:\n  socket: ${swarm!.managerSocket}\nplugins:\n  swarm:\n    rocklet_binary: ${binary}\n    stop_timeout_seconds: 1\n    placement_timeout_seconds: 5\n` +
        // The admin reaches rocklets on the nodes' addresses only when its config names them.
        `  admin:\n    port: 0\n    operator: swarm\n    reconcile_interval_ms: 600000\n    rocklet_hosts: [${swarm!.managerAddr}, ${swarm!.workerAddr}]\n`,
    );
    base = admin.baseUrl + api;
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    for (const s of await manager.listServices({ filters: { label: ["rock.plugin=swarm"] } })) {
      if (s.Spec?.Labels?.["rock.sandbox_id"]?.startsWith(sandboxIdPrefix) || s.Spec?.Labels?.["rock.sandbox_id"]?.startsWith(`swfill-${process.pid}-`)) {
        await manager.getService(s.ID).remove();
      }
    }
  });

  test("start → execute through the admin on whichever node holds it; restart puts it back on that node; stop leaves nothing", async () => {
    const operator = admin.kernel.instance<{ operator: Operator }>("swarm")!.operator;
    const id = newSandboxId("swarm");
    const started = await post("/start", { image: sandboxImage(), sandbox_id: id, cpus: 0.25, memory: "128m" });
    expect(started).toMatchObject({ status: "Success" });
    const hostIp = started.result.host_ip as string;
    expect([swarm!.managerAddr, swarm!.workerAddr]).toContain(hostIp);
    const [here, there] = hostIp === swarm!.workerAddr ? [worker, manager] : [manager, worker];
    expect((await containersOf(here, id)).length).toBe(1);
    expect(await containersOf(there, id)).toEqual([]);

    const executed = await post("/execute", { sandbox_id: id, command: "echo hi-from-$(cat /proc/1/cgroup >/dev/null && echo swarm)", timeout: 30 });
    expect(executed).toMatchObject({ status: "Success", result: { stdout: "hi-from-swarm\n", exit_code: 0 } });
    expect((await get(`/get_status?sandbox_id=${id}`)).result).toMatchObject({ host_ip: hostIp, is_alive: true });

    // A filler on the same node: left to itself the scheduler would now pick the other, emptier node.
    const filler = sandboxSpec("swfill", { image: sandboxImage(), cpus: 0.1, memoryBytes: 64 * 1024 ** 2, labels: { zone: hostIp === swarm!.workerAddr ? "b" : "a" } });
    const placed = await operator.submit(filler);
    expect(placed.host_ip).toBe(hostIp);
    try {
      expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
      await nothingLeft(id);
      const restarted = await post("/restart", { sandbox_id: id });
      expect(restarted.status).toBe("Success");
      for (const until = Date.now() + 30_000; Date.now() < until; await Bun.sleep(200)) {
        if ((await get(`/get_status?sandbox_id=${id}`)).result?.is_alive) break;
      }
      expect((await get(`/get_status?sandbox_id=${id}`)).result).toMatchObject({ host_ip: hostIp, is_alive: true });
      expect((await containersOf(here, id)).filter((c) => c.State === "running").length).toBe(1);
      expect((await post("/execute", { sandbox_id: id, command: "echo again", timeout: 30 })).result).toMatchObject({ stdout: "again\n" });
    } finally {
      await operator.stop(filler.sandbox_id);
    }
    expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    await nothingLeft(id);
    await nothingLeft(filler.sandbox_id);
  }, 180_000);

  test("a start's placement pins it: zone a on the manager, zone b on the worker, each reached at its node's address; status and a restart keep it", async () => {
    const ids = { a: newSandboxId("zonea"), b: newSandboxId("zoneb") };
    const nodes = { a: { addr: swarm!.managerAddr, engine: manager }, b: { addr: swarm!.workerAddr, engine: worker } };
    const starts = await Promise.all((["a", "b"] as const).map((zone) => post("/start", { image: sandboxImage(), sandbox_id: ids[zone], cpus: 0.1, memory: "64m", placement: { zone } })));
    try {
      for (const [i, zone] of (["a", "b"] as const).entries()) {
        expect(starts[i]).toMatchObject({ status: "Success", result: { host_ip: nodes[zone].addr } });
        expect((await containersOf(nodes[zone].engine, ids[zone])).length).toBe(1);
        const status = (await get(`/get_status?sandbox_id=${ids[zone]}`)).result;
        expect(status).toMatchObject({ host_ip: nodes[zone].addr, is_alive: true, placement: { zone } });
        expect((await post("/execute", { sandbox_id: ids[zone], command: "echo placed", timeout: 30 })).result).toMatchObject({ stdout: "placed\n", exit_code: 0 });
      }
      // The same start again is the same sandbox; another zone under the same id is refused naming the difference.
      expect((await post("/start", { image: sandboxImage(), sandbox_id: ids.b, cpus: 0.1, memory: "64m", placement: { zone: "b" } })).result.host_ip).toBe(swarm!.workerAddr);
      expect((await post("/start", { image: sandboxImage(), sandbox_id: ids.b, cpus: 0.1, memory: "64m", placement: { zone: "a" } })).error).toBe(
        `Sandbox ${ids.b} already exists (started with placement {"zone":"b"}, this request has {"zone":"a"})`,
      );
      expect((await post("/stop", { sandbox_id: ids.b })).status).toBe("Success");
      expect((await post("/restart", { sandbox_id: ids.b })).result).toMatchObject({ host_ip: swarm!.workerAddr });
      const service = (await manager.listServices({ filters: { label: [`rock.sandbox_id=${ids.b}`] } }))[0];
      expect(service.Spec?.TaskTemplate?.Placement?.Constraints).toContain("node.labels.zone==b");
      expect((await get(`/get_status?sandbox_id=${ids.b}`)).result).toMatchObject({ host_ip: swarm!.workerAddr, placement: { zone: "b" } });
    } finally {
      for (const id of Object.values(ids)) expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    }
    for (const id of Object.values(ids)) await nothingLeft(id);

    // The SDK sends it as the start's placement.
    const sdk = new Sandbox({ baseUrl: admin.baseUrl, image: sandboxImage(), sandboxId: newSandboxId("sdkzone"), cpus: 0.1, memory: "64m", placement: { zone: "b" } });
    try {
      expect((await sdk.start()).host_ip).toBe(swarm!.workerAddr);
    } finally {
      await sdk.stop();
    }
    await nothingLeft(sdk.sandboxId);
  }, 180_000);

  test("a placement no node satisfies is Failed with Swarm's reason within the placement wait, and nothing is left; a label the operator does not place by is refused", async () => {
    const id = newSandboxId("zonez");
    const began = performance.now();
    const started = await post("/start", { image: sandboxImage(), sandbox_id: id, cpus: 0.1, memory: "64m", placement: { zone: "z" } });
    expect(started).toMatchObject({ status: "Failed", result: { code: 5000 } });
    expect(started.error).toContain(`starting sandbox '${id}' on the swarm failed: no node could take it within 5s (`);
    expect(started.error).toContain("constraint");
    expect(performance.now() - began).toBeLessThan(30_000);
    const status = (await get(`/get_status?sandbox_id=${id}`)).result;
    expect(status).toMatchObject({ state: "stopped", is_alive: false, placement: { zone: "z" }, status: { docker_run: { status: "failed" } } });
    expect(status.status.docker_run.message).toContain("no node could take it");
    await nothingLeft(id);

    const rack = await post("/start", { image: sandboxImage(), sandbox_id: newSandboxId("rack"), placement: { rack: "r1" } });
    expect(rack).toMatchObject({ status: "Failed", error: "placement.rack: operator 'swarm' places by zone, pool only (plugins.swarm.placement_labels)", result: { code: 4000 } });
    const header = await fetch(base + "/start", {
      method: "POST",
      headers: { "content-type": "application/json", "x-namespace": "team" },
      body: JSON.stringify({ image: sandboxImage(), placement: { namespace: "other" } }),
    });
    expect(await header.json()).toMatchObject({ status: "Failed", error: "placement.namespace: namespace is set by the start's headers, not by placement", result: { code: 4000 } });
  }, 60_000);

  test("an admin whose rocklet_hosts leaves out the node: the start fails at once naming the setting, and nothing is left", async () => {
    const { ensureRockletBinary } = await import("../deployments/support.ts");
    const narrow = await bootAdminKernel(
      `docker:\n  socket: ${swarm!.managerSocket}\nplugins:\n  swarm:\n    rocklet_binary: ${await ensureRockletBinary()}\n    stop_timeout_seconds: 1\n    constraints: [node.labels.zone==b]\n` +
        `  admin:\n    port: 0\n    operator: swarm\n    reconcile_interval_ms: 600000\n`,
    );
    try {
      const id = newSandboxId("narrow");
      const began = performance.now();
      const started = await (
        await fetch(narrow.baseUrl + api + "/start", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ image: sandboxImage(), sandbox_id: id, cpus: 0.1, memory: "64m" }) })
      ).json();
      expect(started).toMatchObject({
        status: "Failed",
        error: `the sandbox's rocklet is on ${swarm!.workerAddr}, which the admin may not call: add it to plugins.admin.rocklet_hosts`,
      });
      expect(performance.now() - began).toBeLessThan(30_000);
      await nothingLeft(id);
    } finally {
      await narrow.close();
    }
  }, 60_000);

  test("warmup/tasks answers at once in ROCK's words; a job runs on every node and is removed when done", async () => {
    const warmupServices = async () =>
      (await manager.listServices({ filters: { label: ["rock.warmup=true", "rock.plugin=swarm"] } })).map((s) => s.ID);
    const before = new Set(await warmupServices());
    expect(await post("/warmup/tasks", { image: sandboxImage() })).toEqual({ status: "Success", message: "warmup task started", error: null, result: null });
    const seen = (await warmupServices()).filter((id) => !before.has(id));
    expect(seen.length).toBe(1);
    for (const until = Date.now() + 60_000; Date.now() < until && (await warmupServices()).includes(seen[0]); ) await Bun.sleep(100);
    expect(await warmupServices()).not.toContain(seen[0]);
    const ofJob = async (engine: Docker) => (await engine.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${seen[0]}`] } })).length;
    for (const until = Date.now() + 5000; Date.now() < until && (await ofJob(manager)) + (await ofJob(worker)) > 0; ) await Bun.sleep(50);
    expect((await ofJob(manager)) + (await ofJob(worker))).toBe(0);

    const blank = await post("/warmup/tasks", { image: "  " });
    expect(blank).toMatchObject({ status: "Failed", message: "invalid parameter", error: expect.stringContaining("image") });
  }, 120_000);
});
