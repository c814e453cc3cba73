/**
 * The one container runtime (plugins/shared/containers) on the real engine, as the docker deployment and the tool
 * manager use it: what every hardened container gets whatever its caller states, the secret on stdin, an exit told
 * apart from a refused start, the health wait, and the containers no record claims.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { ScopedDocker } from "../../core/permissions/docker.ts";
import { logTail } from "../../plugins/shared/containers/container-logs.ts";
import type { HardenedContainer } from "../../plugins/shared/containers/hardened.ts";
import { ContainerExited, ContainerRuntime, publishedPort, StartFailed } from "../../plugins/shared/containers/runtime.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("container runtime (real engine)", () => {
  const engine = new Docker({ socketPath: socket });
  const plugin = `containers-${process.pid}-${Date.now().toString(36)}`;
  let runtime: ContainerRuntime;
  let count = 0;
  /** A small bash program in the test image; every test states only what it needs. */
  const shell = (script: string, more: Partial<HardenedContainer> = {}): HardenedContainer => ({
    name: `${plugin}-${++count}`,
    image: sandboxImage(),
    entrypoint: "/bin/bash",
    args: ["-c", script],
    env: {},
    labels: {},
    mounts: [],
    port: 8080,
    network: "bridge",
    cpus: 0.2,
    memoryBytes: 32 * 1024 ** 2,
    pidsLimit: 16,
    init: true,
    ...more,
  });
  const ours = () => engine.listContainers({ all: true, filters: { label: [`rock.plugin=${plugin}`] } });
  /** Until the container's output contains `text` (bounded). */
  const output = async (container: Parameters<typeof logTail>[0], text: string) => {
    const deadline = Date.now() + 10_000;
    let seen = "";
    while (Date.now() < deadline && !(seen = await logTail(container, 50)).includes(text)) await Bun.sleep(50);
    return seen;
  };

  beforeAll(() => {
    runtime = new ContainerRuntime(new ScopedDocker(plugin, { socket: socket! }));
  });

  afterAll(async () => {
    for (const c of await ours()) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  });

  test("hardened whatever the caller states: no capabilities but the named, no-new-privileges, limits, loopback, read-only root", async () => {
    const secret = `secret-${crypto.randomUUID()}`;
    const spec = shell(
      `read -r s; echo "got:$s"; grep -E '^(NoNewPrivs|CapBnd)' /proc/self/status; touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw; echo ready; sleep 60`,
      { capabilities: ["KILL"], readOnlyRoot: { tmpfs: { "/tmp": "rw,size=1m" } }, secretsOnStdin: true, user: "65534:65534", labels: { "test.kind": "hardened" } },
    );
    const container = await runtime.create(spec);
    const info = await runtime.start(container, `${secret}\n`);
    const seen = await output(container, "ready");
    expect(seen).toContain(`got:${secret}`);
    expect(seen).toMatch(/NoNewPrivs:\s+1/);
    // CAP_KILL (bit 5) is all that is left to gain.
    expect(seen).toMatch(/CapBnd:\s+0+20\n/);
    expect(seen).toContain("root-ro\ntmp-rw");

    expect(info.HostConfig).toMatchObject({
      Privileged: false,
      CapDrop: ["ALL"],
      CapAdd: ["KILL"],
      SecurityOpt: ["no-new-privileges"],
      NanoCpus: 0.2e9,
      Memory: 32 * 1024 ** 2,
      MemorySwap: 32 * 1024 ** 2,
      PidsLimit: 16,
      ReadonlyRootfs: true,
    });
    expect(info.Config.User).toBe("65534:65534");
    expect(info.Config.Labels).toMatchObject({ "rock.managed": "true", "rock.plugin": plugin, "test.kind": "hardened" });
    // The secret went to stdin only, and stdin is closed for good.
    expect(JSON.stringify(info)).not.toContain(secret);
    expect(info.Config).toMatchObject({ OpenStdin: true, StdinOnce: true });
    const port = publishedPort(info, 8080);
    expect(port).toBeGreaterThan(0);
    for (const binding of Object.values(info.NetworkSettings.Ports).flat()) expect(binding!.HostIp).toBe("127.0.0.1");

    await runtime.stopAndRemove(spec.name, 0);
    expect(await runtime.find(spec.name)).toBeNull();
    await runtime.stopAndRemove(spec.name, 0); // gone already: nothing to do
  }, 30_000);

  test("a start the engine refuses is StartFailed('start'); an exit is ContainerExited with the engine's record", async () => {
    const missing = await runtime.create(shell("true", { entrypoint: "/nonexistent/program", init: false }));
    const refused = await runtime.start(missing).catch((e) => e);
    expect(refused).toBeInstanceOf(StartFailed);
    expect(refused.step).toBe("start");
    expect(refused.message).toContain("/nonexistent/program");
    await runtime.remove(missing);

    const exiting = await runtime.create(shell("echo bye; sleep 0.5; exit 7"));
    await runtime.start(exiting);
    const exited = await runtime.waitHealthy(exiting, async () => false, 10_000).catch((e) => e);
    expect(exited).toBeInstanceOf(ContainerExited);
    expect(exited.info.State.ExitCode).toBe(7);
    expect(await logTail(exited.container)).toBe("bye");
    await runtime.remove(exiting);
    await runtime.remove(exiting); // removing twice is fine
    expect(await ours()).toEqual([]);
  }, 30_000);

  test("the health wait: true once healthy, false at its deadline while running, the abort's reason when aborted", async () => {
    const container = await runtime.create(shell("sleep 1; echo up; sleep 60"));
    await runtime.start(container);
    expect(await runtime.waitHealthy(container, async () => (await logTail(container)).includes("up"), 10_000)).toBe(true);
    const began = performance.now();
    expect(await runtime.waitHealthy(container, async () => false, 300)).toBe(false);
    expect(performance.now() - began).toBeGreaterThanOrEqual(300);
    const abort = new AbortController();
    abort.abort(new Error("taken over"));
    expect(await runtime.waitHealthy(container, async () => true, 10_000, abort.signal).catch((e) => e.message)).toBe("taken over");
    await runtime.remove(container);
  }, 30_000);

  test("unclaimed: the plugin's containers whose label no record claims, and those without the label", async () => {
    const label = "test.node";
    const names = ["a", "b", "none"].map((n) => `${plugin}-claim-${n}`);
    await runtime.create(shell("true", { name: names[0], labels: { [label]: "a" } }));
    await runtime.create(shell("true", { name: names[1], labels: { [label]: "b" } }));
    await runtime.create(shell("true", { name: names[2] }));
    // Another plugin's container with the same label is not ours to judge.
    const other = new ContainerRuntime(new ScopedDocker(`${plugin}-other`, { socket: socket! }));
    const foreign = await other.create(shell("true", { name: `${plugin}-foreign`, labels: { [label]: "c" } }));
    try {
      const unclaimed = await runtime.unclaimed(label, (value) => value === "a");
      expect(unclaimed.map((c) => c.name).sort()).toEqual([names[1], names[2]].sort());
      expect(unclaimed.every((c) => !c.running)).toBe(true);
      for (const c of unclaimed) await runtime.remove(c.id);
      expect((await runtime.list()).map((c) => c.name)).toEqual([names[0]]);
    } finally {
      await other.remove(foreign);
      await runtime.remove(names[0]);
    }
    expect(await ours()).toEqual([]);
  }, 30_000);
});
