import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SANDBOX_CAPABILITIES } from "../../plugins/shared/deployment/capabilities.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { bootDeployment, ensureRockletBinary, execute, sandboxSpec, waitAlive, type BootedDeployment } from "./support.ts";

const socket = dockerSocket();
const ID_PREFIX = "dtest";

describe.skipIf(!available("docker", socket))("docker deployment (real engine)", () => {
  let engine: Docker;
  let booted: BootedDeployment;
  let binary: string;

  const configYaml = (plugin: string) => `docker:\n  socket: ${socket}\nplugins:\n  docker:\n${plugin}`;
  const spec = (overrides: Parameters<typeof sandboxSpec>[1] = {}) =>
    sandboxSpec(ID_PREFIX, { image: sandboxImage(), cpus: 0.5, memoryBytes: 256 * 1024 ** 2, pidsLimit: 128, ...overrides });
  const containersOf = async (sandboxId: string) =>
    engine.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${sandboxId}`] } });

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    binary = await ensureRockletBinary();
    booted = await bootDeployment("docker", configYaml(`    rocklet_binary: ${binary}\n`));
  });

  afterAll(async () => {
    await booted?.close();
    // Whatever a failed test left behind.
    for (const c of await engine.listContainers({ all: true, filters: { label: ["rock.plugin=docker"] } })) {
      if (c.Labels["rock.sandbox_id"]?.startsWith(`${ID_PREFIX}-${process.pid}-`)) await engine.getContainer(c.Id).remove({ force: true });
    }
  });

  test("start → is_alive → execute, unprivileged, limited, on loopback only, labelled; stop removes it", async () => {
    const { deployment } = booted;
    const s = spec({ labels: { user: "alice" }, env: { GREETING: "hello" } });
    const handle = await deployment.start(s);
    try {
      expect(handle).toMatchObject({ sandbox_id: s.sandbox_id, host_ip: "127.0.0.1" });
      expect(handle.rockletUrl).toBe(`http://127.0.0.1:${handle.port_mapping["22555"]}`);
      await waitAlive(handle.rockletUrl, s.rockletToken);

      const result = await execute(handle.rockletUrl, s.rockletToken, "echo $GREETING; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status; printenv ROCKLET_TOKEN || echo no-token");
      expect(result.exit_code).toBe(0);
      const [greeting, ...rest] = result.stdout.trim().split("\n");
      expect(greeting).toBe("hello");
      expect(rest.find((l) => l.startsWith("NoNewPrivs"))).toMatch(/NoNewPrivs:\s+1/);
      expect(rest.at(-1)).toBe("no-token");
      // Only the listed capabilities (CapEff is a bit mask; the sandbox set has 9 bits, Docker's default 14).
      const capEff = BigInt(`0x${rest.find((l) => l.startsWith("CapEff"))!.split(/\s+/)[1]}`);
      expect(capEff.toString(2).replace(/0/g, "").length).toBe(SANDBOX_CAPABILITIES.length);

      const unauthorized = await fetch(handle.rockletUrl + "/execute", { method: "POST", body: JSON.stringify({ command: "true" }), headers: { "content-type": "application/json" } });
      expect(unauthorized.status).toBe(401);

      const info = await engine.getContainer(handle.instance_id).inspect();
      expect(info.Name).toBe(`/rock-${s.sandbox_id}`);
      expect(info.HostConfig).toMatchObject({
        Privileged: false,
        NanoCpus: 0.5e9,
        Memory: 256 * 1024 ** 2,
        MemorySwap: 256 * 1024 ** 2,
        PidsLimit: 128,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        NetworkMode: "bridge",
      });
      expect([...(info.HostConfig.CapAdd ?? [])].sort()).toEqual([...SANDBOX_CAPABILITIES].sort());
      const bindings = Object.values(info.NetworkSettings.Ports).flat();
      expect(bindings.length).toBeGreaterThan(0);
      for (const b of bindings) expect(b!.HostIp).toBe("127.0.0.1");
      expect(info.Mounts.find((m) => m.Destination === "/rock/rocklet")).toMatchObject({ Source: binary, RW: false });
      expect(info.Config.Labels).toMatchObject({ "rock.managed": "true", "rock.plugin": "docker", "rock.sandbox_id": s.sandbox_id, "rock.label.user": "alice" });
      // The token reached the rocklet on its stdin: it is nowhere in the container's config.
      expect(info.Config.Cmd).toContain("--token-stdin");
      expect(JSON.stringify(info)).not.toContain(s.rockletToken);

      expect(await deployment.state(s.sandbox_id)).toBe("running");
      expect(await deployment.list()).toContainEqual({ sandbox_id: s.sandbox_id, state: "running" });
    } finally {
      await deployment.stop(s.sandbox_id);
    }
    expect(await containersOf(s.sandbox_id)).toEqual([]);
    expect(await deployment.state(s.sandbox_id)).toBe("missing");
    expect((await deployment.list()).map((x) => x.sandbox_id)).not.toContain(s.sandbox_id);
    await deployment.stop(s.sandbox_id); // idempotent
  });

  test("rocklet_address 'container': the rocklet is reached at the container's address, not through the published port", async () => {
    const direct = await bootDeployment("docker", configYaml(`    rocklet_binary: ${binary}\n    rocklet_address: container\n`));
    const s = spec();
    try {
      const handle = await direct.deployment.start(s);
      const info = await engine.getContainer(handle.instance_id).inspect();
      const address = info.NetworkSettings.Networks.bridge.IPAddress;
      expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(handle).toMatchObject({ host_ip: "127.0.0.1", rockletUrl: `http://${address}:22555` });
      // The loopback port is still published (ROCK's port_mapping), only the server's way in changes.
      expect(handle.port_mapping["22555"]).toBe(Number(info.NetworkSettings.Ports["22555/tcp"]![0].HostPort));
      await waitAlive(handle.rockletUrl, s.rockletToken);
      expect((await execute(handle.rockletUrl, s.rockletToken, "echo direct")).stdout).toBe("direct\n");
      const unauthorized = await fetch(`${handle.rockletUrl}/execute`, { method: "POST", body: JSON.stringify({ command: "true" }), headers: { "content-type": "application/json" } });
      expect(unauthorized.status).toBe(401);
      expect((await direct.deployment.locate!(s.sandbox_id))?.rockletUrl).toBe(handle.rockletUrl);
    } finally {
      await direct.deployment.stop(s.sandbox_id);
      await direct.close();
    }
    expect(await containersOf(s.sandbox_id)).toEqual([]);
  });

  test("state is 'stopped', with why, when the container exists but does not run", async () => {
    const s = spec();
    const handle = await booted.deployment.start(s);
    try {
      await engine.getContainer(handle.instance_id).kill();
      await engine.getContainer(handle.instance_id).wait();
      expect(await booted.deployment.state(s.sandbox_id)).toEqual({ state: "stopped", reason: "the rocklet was killed by SIGKILL (exit code 137)" });
      expect(await booted.deployment.list()).toContainEqual({ sandbox_id: s.sandbox_id, state: "stopped" });
    } finally {
      await booted.deployment.stop(s.sandbox_id);
    }
    expect(await containersOf(s.sandbox_id)).toEqual([]);
  });

  test("pull policy 'never' with a missing image: a clear error naming the image, no container", async () => {
    const s = spec({ image: "rock-no-such-image:404", pull: "never" });
    await expect(booted.deployment.start(s)).rejects.toThrow("image 'rock-no-such-image:404' is not on the Docker engine and the pull policy is 'never'");
    expect(await containersOf(s.sandbox_id)).toEqual([]);
  });

  test("pull policy 'missing' with an unpullable image: the pull error names the image, no container", async () => {
    const s = spec({ image: "127.0.0.1:1/rock-no-such-image:404", pull: "missing" });
    await expect(booted.deployment.start(s)).rejects.toThrow("failed to pull image '127.0.0.1:1/rock-no-such-image:404'");
    expect(await containersOf(s.sandbox_id)).toEqual([]);
  });

  test("a second start of the same sandbox id is refused and leaves the first one alone", async () => {
    const s = spec();
    await booted.deployment.start(s);
    try {
      await expect(booted.deployment.start(s)).rejects.toThrow("already has a container");
      expect(await booted.deployment.state(s.sandbox_id)).toBe("running");
    } finally {
      await booted.deployment.stop(s.sandbox_id);
    }
  });

  test("a failure after create (the rocklet cannot be executed) removes the container", async () => {
    const notExecutable = join(booted.project.root, "not-a-rocklet");
    writeFileSync(notExecutable, "not a program\n");
    chmodSync(notExecutable, 0o644);
    const broken = await bootDeployment("docker", configYaml(`    rocklet_binary: ${notExecutable}\n    init: false\n`));
    try {
      const s = spec();
      await expect(broken.deployment.start(s)).rejects.toThrow(`starting the container of sandbox '${s.sandbox_id}' failed`);
      expect(await containersOf(s.sandbox_id)).toEqual([]);
      // With docker-init as PID 1 the exec fails after the start call returned: reported as an immediate exit.
      const withInit = await bootDeployment("docker", configYaml(`    rocklet_binary: ${notExecutable}\n`));
      try {
        const s2 = spec();
        await withInit.deployment.start(s2).then(
          () => withInit.deployment.stop(s2.sandbox_id),
          (error) => expect(String(error)).toContain("the rocklet exited at once"),
        );
        expect(await containersOf(s2.sandbox_id)).toEqual([]);
      } finally {
        await withInit.close();
      }
    } finally {
      await broken.close();
    }
  });

  test("a missing rocklet binary fails before anything is created, saying how to build it", async () => {
    const missing = await bootDeployment("docker", configYaml("    rocklet_binary: /nonexistent/rocklet\n"));
    try {
      const s = spec();
      await expect(missing.deployment.start(s)).rejects.toThrow("rocklet binary not found at /nonexistent/rocklet: build it with: npx bun plugins/programs/rocklet/build.ts");
      expect(await containersOf(s.sandbox_id)).toEqual([]);
    } finally {
      await missing.close();
    }
  });

  test("timing: start-to-alive through the plugin vs raw dockerode create+start (printed, loosely checked)", async () => {
    const rounds = 3;
    const plugin: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const s = spec();
      const t0 = performance.now();
      const handle = await booted.deployment.start(s);
      await waitAlive(handle.rockletUrl, s.rockletToken);
      plugin.push(performance.now() - t0);
      await booted.deployment.stop(s.sandbox_id);

      const token = `raw-${crypto.randomUUID()}`;
      const t1 = performance.now();
      const container = await engine.createContainer({
        Image: sandboxImage(),
        Entrypoint: ["/rock/rocklet"],
        Cmd: ["--host", "0.0.0.0", "--port", "22555"],
        Env: [`ROCKLET_TOKEN=${token}`],
        Labels: { "rock.sandbox_id": `${ID_PREFIX}-${process.pid}-raw-${i}`, "rock.plugin": "docker" },
        ExposedPorts: { "22555/tcp": {} },
        HostConfig: { Binds: [`${binary}:/rock/rocklet:ro`], PortBindings: { "22555/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
      });
      try {
        await container.start();
        const info = await container.inspect();
        const port = info.NetworkSettings.Ports["22555/tcp"]![0].HostPort;
        await waitAlive(`http://127.0.0.1:${port}`, token);
        raw.push(performance.now() - t1);
      } finally {
        await container.remove({ force: true });
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `[timing] docker start-to-alive: plugin median ${median(plugin).toFixed(0)} ms (${plugin.map((x) => x.toFixed(0)).join(", ")}), ` +
        `raw dockerode median ${median(raw).toFixed(0)} ms (${raw.map((x) => x.toFixed(0)).join(", ")}), ratio ${(median(plugin) / median(raw)).toFixed(2)}`,
    );
    expect(median(plugin)).toBeLessThan(median(raw) * 3 + 1000);
  }, 120000);
});
