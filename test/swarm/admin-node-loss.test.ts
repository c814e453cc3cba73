/**
 * Through the admin (real two-node swarm): a sandbox whose node stops answering is recorded failed by the reconciler,
 * with the node named in get_status, within 15 s; its service is removed, and once the node is back nothing of it is
 * left there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api } from "../admin/support.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { bootAdminKernel, newSandboxId, type RunningAdmin } from "../sdk/support.ts";
import { sandboxImage } from "../support/env.ts";
import { repoRoot } from "../support/project.ts";
import { testSwarm } from "../support/swarm.ts";

const swarm = await testSwarm();

describe.skipIf(!swarm)("admin on the swarm operator: a node that stops answering (real two-node swarm)", () => {
  let manager: Docker;
  let worker: Docker;
  let admin: RunningAdmin;
  let base: string;
  const workerPid = () => Number(readFileSync(swarm!.workerPidfile, "utf8").trim());
  const signalWorker = (signal: NodeJS.Signals) => {
    try {
      process.kill(workerPid(), signal);
    } catch {
      // Not running: test/env/swarm up in afterAll starts it.
    }
  };
  const post = async (path: string, body: unknown) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(90_000) })).json() as Promise<any>;
  const status = async (id: string) => (await (await fetch(`${base}/get_status?sandbox_id=${id}`, { signal: AbortSignal.timeout(10_000) })).json()) as any;

  beforeAll(async () => {
    manager = new Docker({ socketPath: swarm!.managerSocket });
    worker = new Docker({ socketPath: swarm!.workerSocket });
    admin = await bootAdminKernel(
      `docker:\n  socket: ${swarm!.managerSocket}\nplugins:\n  swarm:\n    rocklet_binary: ${await ensureRockletBinary()}\n    stop_timeout_seconds: 1\n    constraints: [node.labels.zone==b]\n` +
        `  admin:\n    port: 0\n    operator: swarm\n    reconcile_interval_ms: 1000\n    rocklet_hosts: [${swarm!.managerAddr}, ${swarm!.workerAddr}]\n`,
    );
    base = admin.baseUrl + api;
  }, 60_000);

  afterAll(async () => {
    signalWorker("SIGCONT");
    await admin?.close();
    const up = Bun.spawn([join(repoRoot, "test", "env", "swarm"), "up"], { stdout: "ignore", stderr: "ignore" });
    await up.exited;
  });

  test("get_status says failed, naming the node, within 15 s; the service goes; the returning node keeps nothing", async () => {
    const id = newSandboxId("swadmloss");
    const started = await post("/start", { image: sandboxImage(), sandbox_id: id, cpus: 0.1, memory: "64m" });
    expect(started).toMatchObject({ status: "Success", result: { host_ip: swarm!.workerAddr } });

    signalWorker("SIGSTOP");
    const stoppedAt = performance.now();
    let answer: any;
    try {
      for (;;) {
        answer = await status(id);
        if (answer.result?.status?.docker_run?.status === "failed" || performance.now() - stoppedAt > 20_000) break;
        await Bun.sleep(250);
      }
      console.log(`[swarm] the admin reported the lost node after ${Math.round(performance.now() - stoppedAt)} ms`);
      expect(answer.result).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed", message: expect.stringContaining(`(${swarm!.workerAddr}) is down`) } } });
      expect(performance.now() - stoppedAt).toBeLessThan(15_000);
      for (const until = Date.now() + 10_000; Date.now() < until; await Bun.sleep(200)) {
        if ((await manager.listServices({ filters: { label: [`rock.sandbox_id=${id}`] } })).length === 0) break;
      }
      expect(await manager.listServices({ filters: { label: [`rock.sandbox_id=${id}`] } })).toEqual([]);
    } finally {
      signalWorker("SIGCONT");
    }
    const ofSandbox = () => worker.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } });
    for (const until = Date.now() + 60_000; Date.now() < until && (await ofSandbox()).length > 0; ) await Bun.sleep(250);
    expect(await ofSandbox()).toEqual([]);
  }, 150_000);
});
