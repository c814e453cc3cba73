import { describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { sandboxImage } from "../support/env.ts";
import { testSwarm } from "../support/swarm.ts";

const swarm = await testSwarm();

describe.skipIf(!swarm)("test/env/swarm: a manager and a worker in its own network namespace", () => {
  test("both nodes are ready with their zone label and address, and the worker holds the sandbox image", async () => {
    const manager = new Docker({ socketPath: swarm!.managerSocket });
    const worker = new Docker({ socketPath: swarm!.workerSocket });
    const nodes = await manager.listNodes();
    const byZone = Object.fromEntries(nodes.map((n) => [n.Spec?.Labels?.zone, n]));
    expect(Object.keys(byZone).sort()).toEqual(["a", "b"]);
    expect(byZone.a).toMatchObject({ Status: { State: "ready", Addr: swarm!.managerAddr }, Spec: { Role: "manager" } });
    expect(byZone.b).toMatchObject({ Status: { State: "ready", Addr: swarm!.workerAddr }, Spec: { Role: "worker" } });
    // The worker is a separate engine: its own node id, and the image arrived by save | load.
    expect((await worker.info()).Swarm.NodeID).toBe(byZone.b.ID);
    const [onManager, onWorker] = await Promise.all([manager.getImage(sandboxImage()).inspect(), worker.getImage(sandboxImage()).inspect()]);
    expect(onWorker.Id).toBe(onManager.Id);
  });

  test("a second request reuses the running swarm (idempotent up)", async () => {
    const proc = Bun.spawn(["bash", "test/env/swarm", "up"], { stdout: "pipe", stderr: "pipe" });
    const started = performance.now();
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stdout).text()).toContain(`ROCK_TEST_SWARM_WORKER_ADDR=${swarm!.workerAddr}`);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
