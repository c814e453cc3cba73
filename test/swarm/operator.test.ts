/**
 * The swarm operator on a real two-node swarm (test/env/swarm): the manager is the checkout's engine (zone=a), the
 * worker a second engine in its own network namespace (zone=b). Sandboxes are pinned to each node and reached at the
 * node's address; failures leave no service and no container on any node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import type { Operator } from "../../core/kinds/operator.ts";
import { SANDBOX_CAPABILITIES } from "../../plugins/shared/deployment/capabilities.ts";
import { ensureRockletBinary, execute, sandboxSpec, waitAlive } from "../deployments/support.ts";
import { sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { testSwarm } from "../support/swarm.ts";
import { ScopedDocker } from "../../core/permissions/docker.ts";
import { createLogger } from "../../core/log.ts";
import { SwarmOperator } from "../../plugins/operators/swarm/swarm-operator.ts";

const swarm = await testSwarm();
const ID_PREFIX = "swop";

describe.skipIf(!swarm)("swarm operator (real two-node swarm)", () => {
  let manager: Docker;
  let worker: Docker;
  let kernel: Kernel;
  let project: TempProject;
  let operator: Operator;

  const spec = (overrides: Parameters<typeof sandboxSpec>[1] = {}) =>
    sandboxSpec(ID_PREFIX, { image: sandboxImage(), cpus: 0.25, memoryBytes: 128 * 1024 ** 2, pidsLimit: 64, ...overrides });
  const servicesOf = (sandboxId: string) => manager.listServices({ filters: { label: [`rock.sandbox_id=${sandboxId}`] } });
  const containersOn = (engine: Docker, sandboxId: string) => engine.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${sandboxId}`] } });
  /**
   * Nothing of the sandbox anywhere: no service, no container on either node. The manager forgets a task once its node
   * reports it shut down, and the node removes the container right after: that last step is awaited (bounded).
   */
  const nothingLeft = async (sandboxId: string) => {
    expect(await servicesOf(sandboxId)).toEqual([]);
    for (const until = Date.now() + 5000; Date.now() < until; await Bun.sleep(50)) {
      if ((await containersOn(manager, sandboxId)).length + (await containersOn(worker, sandboxId)).length === 0) break;
    }
    expect(await containersOn(manager, sandboxId)).toEqual([]);
    expect(await containersOn(worker, sandboxId)).toEqual([]);
  };

  beforeAll(async () => {
    manager = new Docker({ socketPath: swarm!.managerSocket });
    worker = new Docker({ socketPath: swarm!.workerSocket });
    const binary = await ensureRockletBinary();
    project = tempProject("rock-swarm-");
    const yaml =
      `docker:\n  socket: ${swarm!.managerSocket}\nplugins:\n  swarm:\n    rocklet_binary: ${binary}\n    stop_timeout_seconds: 1\n` +
      `    placement_timeout_seconds: 3\n    start_timeout_seconds: 60\n`;
    kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    operator = kernel.instance<{ operator: Operator }>("swarm")!.operator;
  }, 60_000);

  afterAll(async () => {
    await kernel?.stop();
    project?.remove();
    // Whatever a failed test left behind.
    for (const s of await manager.listServices({ filters: { label: ["rock.plugin=swarm"] } })) {
      if (s.Spec?.Labels?.["rock.sandbox_id"]?.startsWith(`${ID_PREFIX}-${process.pid}-`)) await manager.getService(s.ID).remove();
    }
  });

  test("pinned by its zone label to each node: host_ip is that node's address, the rocklet answers there, hardened and limited", async () => {
    for (const [zone, addr, engine] of [["b", swarm!.workerAddr, worker], ["a", swarm!.managerAddr, manager]] as const) {
      const s = spec({ labels: { zone }, env: { GREETING: `hello-${zone}` } });
      const handle = await operator.submit(s);
      try {
        expect(handle).toMatchObject({ sandbox_id: s.sandbox_id, host_ip: addr, rockletToken: s.rockletToken });
        expect(handle.rockletUrl).toBe(`http://${addr}:${handle.port_mapping["22555"]}`);
        await waitAlive(handle.rockletUrl, s.rockletToken);
        const result = await execute(handle.rockletUrl, s.rockletToken, "echo $GREETING; grep CapEff /proc/self/status; cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; printenv ROCKLET_TOKEN || echo no-token");
        const [greeting, capLine, pidsMax, memoryMax, token] = result.stdout.trim().split("\n");
        expect(greeting).toBe(`hello-${zone}`);
        const capEff = BigInt(`0x${capLine.split(/\s+/)[1]}`);
        expect(capEff.toString(2).replace(/0/g, "").length).toBe(SANDBOX_CAPABILITIES.length);
        expect([pidsMax, memoryMax]).toEqual(["64", String(128 * 1024 ** 2)]);
        expect(token).toBe("no-token");
        // The container runs on the node the zone names, labelled; the other node has none of it.
        const [container] = await containersOn(engine, s.sandbox_id);
        expect(container).toMatchObject({ State: "running", Labels: { "rock.managed": "true", "rock.plugin": "swarm", "rock.label.zone": zone } });
        expect(await containersOn(engine === worker ? manager : worker, s.sandbox_id)).toEqual([]);
        // The service holds the token's digest, never the token; the rocklet refuses the digest.
        const [service] = await servicesOf(s.sandbox_id);
        const inspected = JSON.stringify(await manager.getService(service.ID).inspect());
        expect(inspected).not.toContain(s.rockletToken);
        expect(inspected).toContain(new Bun.CryptoHasher("sha256").update(s.rockletToken).digest("hex"));
        expect(service.Spec).toMatchObject({
          TaskTemplate: { RestartPolicy: { Condition: "none" }, Resources: { Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 128 * 1024 ** 2 } } },
          Mode: { Replicated: { Replicas: 1 } },
        });
        expect(await operator.get_status(s.sandbox_id)).toBe("running");
        expect(await operator.list()).toContainEqual({ sandbox_id: s.sandbox_id, state: "running" });
        expect(await operator.locate!(s.sandbox_id)).toMatchObject({ host_ip: addr, rockletUrl: handle.rockletUrl });
      } finally {
        await operator.stop(s.sandbox_id);
      }
      // stop waits until the container is gone from its node.
      await nothingLeft(s.sandbox_id);
      expect(await operator.get_status(s.sandbox_id)).toBe("missing");
      await operator.stop(s.sandbox_id); // already gone: done
      await operator.delete(s.sandbox_id);
    }
  }, 120_000);

  test("sandboxes without placement labels are spread over the nodes; all of them leave nothing when stopped", async () => {
    const specs = Array.from({ length: 4 }, () => spec({ cpus: 0.1, memoryBytes: 64 * 1024 ** 2 }));
    try {
      const handles = await Promise.all(specs.map((s) => operator.submit(s)));
      const perNode: Record<string, number> = {};
      for (const h of handles) perNode[h.host_ip] = (perNode[h.host_ip] ?? 0) + 1;
      expect(perNode).toEqual({ [swarm!.managerAddr]: 2, [swarm!.workerAddr]: 2 });
    } finally {
      await Promise.all(specs.map((s) => operator.stop(s.sandbox_id)));
    }
    for (const s of specs) await nothingLeft(s.sandbox_id);
  }, 120_000);

  test("restart puts the sandbox back on the node it ran on, with its new token", async () => {
    const s = spec({ labels: { zone: "b" } });
    const first = await operator.submit(s);
    expect(first.host_ip).toBe(swarm!.workerAddr);
    // No zone label this time: only where it ran decides (the scheduler would otherwise pick the emptier node).
    const again = { ...s, labels: {}, rockletToken: `token-${crypto.randomUUID()}` };
    try {
      const handle = await operator.restart(again, undefined, { host_ip: first.host_ip });
      expect(handle.host_ip).toBe(swarm!.workerAddr);
      await waitAlive(handle.rockletUrl, again.rockletToken);
      expect((await containersOn(worker, s.sandbox_id)).length).toBe(1);
      const [service] = await servicesOf(s.sandbox_id);
      expect(service.Spec?.TaskTemplate && (service.Spec.TaskTemplate as Docker.ContainerTaskSpec).Placement?.Constraints).toContain(
        `node.id==${(await worker.info()).Swarm.NodeID}`,
      );
    } finally {
      await operator.stop(s.sandbox_id);
    }
    await nothingLeft(s.sandbox_id);
    // A host that is not a node of the swarm: refused before anything is created.
    await expect(operator.restart(again, undefined, { host_ip: "192.0.2.250" })).rejects.toThrow("ran on 192.0.2.250, which is no longer a node of the swarm");
    await nothingLeft(s.sandbox_id);
  }, 120_000);

  test("a zone no node has, or more CPU than any node holds: the start fails within the placement wait, naming why; nothing is left", async () => {
    for (const [overrides, why] of [
      [{ labels: { zone: "nowhere" } }, /scheduling constraints not satisfied/],
      [{ cpus: 512 }, /insufficient resources/],
    ] as const) {
      const s = spec(overrides);
      const began = performance.now();
      const error = await operator.submit(s).then(() => null, (e: Error) => e);
      expect(error?.message).toContain(`starting sandbox '${s.sandbox_id}' on the swarm failed: no node could take it within 3s`);
      expect(error?.message).toMatch(why);
      expect(performance.now() - began).toBeLessThan(15_000);
      await nothingLeft(s.sandbox_id);
    }
  }, 60_000);

  test("an image the chosen node lacks: the start fails naming the image, and nothing is left on either node", async () => {
    const image = `rock-swarm-manager-only:${process.pid}`;
    await manager.getImage(sandboxImage()).tag({ repo: image.split(":")[0], tag: String(process.pid) });
    try {
      const s = spec({ image, labels: { zone: "b" } });
      const error = await operator.submit(s).then(() => null, (e: Error) => e);
      expect(error?.message).toContain(`starting sandbox '${s.sandbox_id}' on the swarm failed: its task rejected`);
      expect(error?.message).toContain(image.split(":")[0]);
      await nothingLeft(s.sandbox_id);
    } finally {
      await manager.getImage(image).remove();
    }
  }, 60_000);

  test("warmup: every node reports whether it holds the image; the job's service is gone afterwards", async () => {
    const warmups = async () => (await manager.listServices({ filters: { label: ["rock.warmup=true"] } })).filter((s) => s.Spec?.Labels?.["rock.plugin"] === "swarm");
    const warmup = async (image: string) => Object.fromEntries((await (await operator.warmup!(image)).results).map((r) => [r.host_ip, r]));
    const everywhere = await warmup(sandboxImage());
    expect(everywhere).toEqual({
      [swarm!.managerAddr]: { host_ip: swarm!.managerAddr, host_name: expect.any(String), ok: true },
      [swarm!.workerAddr]: { host_ip: swarm!.workerAddr, host_name: expect.any(String), ok: true },
    });
    expect(await warmups()).toEqual([]);

    // Only the manager has this one, and no registry is reachable: the worker says why it cannot get it.
    const image = `rock-swarm-warmup-only-a:${process.pid}`;
    await manager.getImage(sandboxImage()).tag({ repo: image.split(":")[0], tag: String(process.pid) });
    try {
      const began = performance.now();
      const results = await warmup(image);
      console.log(`[swarm] warmup with a failing node took ${Math.round(performance.now() - began)} ms`);
      expect(results[swarm!.managerAddr]).toMatchObject({ ok: true });
      expect(results[swarm!.workerAddr]).toMatchObject({ ok: false, reason: expect.stringContaining(image.split(":")[0]) });
      expect(await warmups()).toEqual([]);
      const jobContainers = async () => [
        ...(await manager.listContainers({ all: true, filters: { label: ["rock.plugin=swarm"] } })),
        ...(await worker.listContainers({ all: true, filters: { label: ["rock.plugin=swarm"] } })),
      ].filter((c) => c.Labels["com.docker.swarm.service.name"]?.startsWith("rock-warmup-"));
      for (const until = Date.now() + 5000; Date.now() < until && (await jobContainers()).length > 0; ) await Bun.sleep(50);
      expect(await jobContainers()).toEqual([]);
    } finally {
      await manager.getImage(image).remove();
    }
  }, 120_000);

  test("while a start waits for its task it reads the task every 50 ms at most and its node once a second: it returns soon after the task runs", async () => {
    // The real engine behind a wrapper that notes when each read began and ended (nothing is faked).
    const docker = new ScopedDocker("swarm", { socket: swarm!.managerSocket });
    const reads: { what: string; began: number; ended: number }[] = [];
    const noted = new Proxy(docker, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        if (key !== "tasks" && key !== "listNodes") return value.bind(target);
        return async (...args: unknown[]) => {
          const began = performance.now();
          try {
            return await value.apply(target, args);
          } finally {
            reads.push({ what: key, began, ended: performance.now() });
          }
        };
      },
    });
    const counting = new SwarmOperator(
      noted,
      {
        name: "swarm",
        rockletBinary: await ensureRockletBinary(),
        rockletPort: 22555,
        capAdd: [],
        init: true,
        user: "",
        maxSessions: 64,
        stopTimeoutSeconds: 1,
        constraints: [],
        placementLabels: ["zone"],
        placementTimeoutMs: 3000,
        startTimeoutMs: 60_000,
        assertRockletBinary: async () => undefined,
      },
      createLogger({ test: "swarm-poll" }),
    );
    for (const zone of ["a", "b"]) {
      const s = spec({ labels: { zone } });
      reads.length = 0;
      const began = performance.now();
      await counting.submit(s);
      const took = performance.now() - began;
      const during = [...reads];
      await counting.stop(s.sandbox_id);
      // The pause before each read of the task: from the end of the read before it.
      const pauses = during.slice(1).flatMap((read, i) => (read.what === "tasks" ? [read.began - during[i].ended] : []));
      expect(took).toBeGreaterThan(200); // long enough that a 200 ms cap would have shown
      expect(Math.max(...pauses)).toBeLessThan(130);
      // Once a second while it waits, and once for the address of the node that runs it.
      expect(during.filter((r) => r.what === "listNodes").length).toBeLessThanOrEqual(2 + Math.floor(took / 1000));
      await nothingLeft(s.sandbox_id);
    }
  }, 60_000);

  test("a placement label that is not a plain value: a 400 naming the label, nothing created", async () => {
    const s = spec({ labels: { zone: "b,node.role==manager" } });
    const error = (await operator.submit(s).then(() => null, (e: unknown) => e)) as { status?: number; message?: string; field?: string } | null;
    expect(error).toMatchObject({ status: 400, field: "zone" });
    expect(error?.message).toContain("placement label 'zone'");
    await nothingLeft(s.sandbox_id);
  });
});
