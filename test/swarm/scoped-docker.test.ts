/**
 * The Swarm calls of a plugin's Docker handle on the real test swarm: services carry the plugin's labels (on the
 * service and its containers), another plugin's services and tasks are out of reach, and a service cannot mount the
 * engine's socket.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { dirname } from "node:path";
import { PermissionDenied } from "../../core/errors.ts";
import { ScopedDocker } from "../../core/permissions/docker.ts";
import { sandboxImage } from "../support/env.ts";
import { testSwarm } from "../support/swarm.ts";

const swarm = await testSwarm();

describe.skipIf(!swarm)("ScopedDocker: Swarm services (real swarm)", () => {
  let engine: Docker;
  let mine: ScopedDocker;
  let theirs: ScopedDocker;
  const created: string[] = [];
  const name = (tag: string) => `scoped-${tag}-${process.pid}`;
  const service = (tag: string, mounts: Docker.MountSettings[] = []): Docker.ServiceSpec => ({
    Name: name(tag),
    Labels: { "rock.test": "scoped" },
    TaskTemplate: { ContainerSpec: { Image: sandboxImage(), Command: ["sleep", "30"], Mounts: mounts }, RestartPolicy: { Condition: "none" } },
    Mode: { Replicated: { Replicas: 1 } },
  });

  beforeAll(() => {
    engine = new Docker({ socketPath: swarm!.managerSocket });
    mine = new ScopedDocker("plugin-a", { socket: swarm!.managerSocket });
    theirs = new ScopedDocker("plugin-b", { socket: swarm!.managerSocket });
  });

  afterAll(async () => {
    for (const id of created) await engine.getService(id).remove().catch(() => undefined);
  });

  test("a created service and its containers carry the plugin's labels; its tasks are listed by service", async () => {
    const id = await mine.createService(service("own"));
    created.push(id);
    const inspected = await mine.inspectService(name("own"));
    expect(inspected?.Spec?.Labels).toEqual({ "rock.test": "scoped", "rock.managed": "true", "rock.plugin": "plugin-a" });
    expect((inspected?.Spec?.TaskTemplate as Docker.ContainerTaskSpec).ContainerSpec?.Labels).toEqual({ "rock.managed": "true", "rock.plugin": "plugin-a" });
    expect((await mine.listServices()).map((s) => s.ID)).toContain(id);
    for (const until = Date.now() + 10_000; Date.now() < until && (await mine.tasks(id)).length === 0; ) await Bun.sleep(100);
    expect((await mine.tasks(id)).every((t) => t.ServiceID === id)).toBe(true);
    expect((await mine.tasks(id)).length).toBeGreaterThan(0);

    // Another plugin neither sees it nor may open, remove or read its tasks.
    expect((await theirs.listServices()).map((s) => s.ID)).not.toContain(id);
    await expect(theirs.inspectService(id)).rejects.toBeInstanceOf(PermissionDenied);
    await expect(theirs.removeService(id)).rejects.toBeInstanceOf(PermissionDenied);
    expect(await theirs.tasks(id)).toEqual([]);
    expect((await theirs.tasks()).filter((t) => t.ServiceID === id)).toEqual([]);

    // Removed: gone, a second removal is "already gone", and its tasks are still readable until they end.
    expect(await mine.removeService(id)).toBe(true);
    expect(await mine.removeService(id)).toBe(false);
    expect(await mine.inspectService(id)).toBeNull();
    const after = await mine.tasks(id);
    expect(after.every((t) => t.ServiceID === id)).toBe(true);
  }, 60_000);

  test("a service that mounts the engine's socket, or the directory holding it, is refused before anything exists", async () => {
    for (const source of [swarm!.managerSocket, dirname(swarm!.managerSocket)]) {
      await expect(mine.createService(service("socket", [{ Type: "bind", Source: source, Target: "/var/run/docker.sock" }]))).rejects.toBeInstanceOf(PermissionDenied);
    }
    expect(await engine.listServices({ filters: { name: [name("socket")] } })).toEqual([]);
  });
});
