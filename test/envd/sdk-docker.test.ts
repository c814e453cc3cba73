/**
 * The official e2b SDK against the admin on the real Docker engine: the rocklet binary (compiled, envd inside) in the
 * test image's container; create → streamed command → background command killed → files (1 MiB binary) → the same
 * sandbox through ROCK's routes → kill, and no container left.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import Docker from "dockerode";
import { join } from "node:path";
import { CommandExitError, Sandbox } from "e2b";
import { expectTerminalAnswers } from "./harness.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { bootAdminKernel, type RunningAdmin } from "../sdk/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { api } from "../admin/support.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";

setDefaultTimeout(120_000);
const socket = dockerSocket();
const token = "e2b-docker-token-81fe";

describe.skipIf(!available("docker", socket))("the E2B SDK on the docker deployment", () => {
  let engine: Docker;
  let admin: RunningAdmin;
  let opts: { apiUrl: string; sandboxUrl: string; apiKey: string };
  const containersOf = async (id: string) =>
    engine.listContainers({ all: true, filters: { label: ["rock.managed=true", `rock.sandbox_id=${id}`] } });

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    const binary = await ensureRockletBinary();
    admin = await bootAdminKernel(
      `server:\n  token: ${token}\ndocker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n` +
        `  local-operator:\n    deployment: docker\n  admin:\n    port: 0\n    reconcile_interval_ms: 600000\n    e2b_templates: { base: "${sandboxImage()}" }\n`,
    );
    opts = { apiUrl: admin.baseUrl, sandboxUrl: `${admin.baseUrl}/envd`, apiKey: token };
  }, 120_000);
  afterAll(async () => {
    await admin?.close();
  });

  test("create, stream, kill a background command, files, ROCK's routes on the same sandbox, kill", async () => {
    const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 300_000, envs: { GREETING: "hello" } });
    const id = sandbox.sandboxId;
    try {
      expect(await containersOf(id)).toHaveLength(1);
      const chunks: { at: number; text: string }[] = [];
      const started = Date.now();
      const run = await sandbox.commands.run('echo "$GREETING"; sleep 1; echo done', { onStdout: (text) => void chunks.push({ at: Date.now() - started, text }) });
      expect(run.stdout).toBe("hello\ndone\n");
      expect(chunks[0]).toMatchObject({ text: "hello\n" });
      expect(chunks[0].at).toBeLessThan(chunks.at(-1)!.at - 500);

      expect((await sandbox.commands.run("id -un", { user: "root" })).stdout).toBe("root\n");
      const background = await sandbox.commands.run("sleep 300", { background: true });
      expect((await sandbox.commands.list()).map((p) => p.pid)).toContain(background.pid);
      expect(await background.kill()).toBe(true);
      expect(await background.wait().catch((e) => e)).toBeInstanceOf(CommandExitError);

      // A terminal in the container (the image's /dev/pts).
      await expectTerminalAnswers(sandbox);

      const binary = crypto.getRandomValues(new Uint8Array(1024 * 1024));
      await sandbox.files.write("/tmp/e2b/blob.bin", binary.buffer as ArrayBuffer);
      const back = await sandbox.files.read("/tmp/e2b/blob.bin", { format: "bytes" });
      expect(Buffer.compare(Buffer.from(back), Buffer.from(binary))).toBe(0);

      // Pause freezes the container (docker pause), connect thaws it; meanwhile calls are refused, not left hanging.
      const marker = await sandbox.commands.run("sleep 300 & echo $!", { envs: {} });
      // E2B's filesystem-only snapshot (keepMemory: false) is accepted and served as a pause that keeps the memory
      // (below: the process lives through it); betaPause is pause.
      expect(await sandbox.pause({ keepMemory: false })).toBe(true);
      expect(await sandbox.betaPause()).toBe(false);
      expect((await engine.getContainer((await containersOf(id))[0].Id).inspect()).State.Paused).toBe(true);
      expect((await sandbox.getInfo()).state).toBe("paused");
      expect((await Sandbox.list({ ...opts, query: { state: ["paused"] } }).nextItems()).map((s) => s.sandboxId)).toContain(id);
      const refused = await sandbox.commands.run("echo frozen", { requestTimeoutMs: 10_000 }).catch((e) => e);
      expect(String(refused)).toContain("paused");
      const pausedRock = await (
        await fetch(`${admin.baseUrl}${api}/execute`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ sandbox_id: id, command: "echo frozen" }),
        })
      ).json();
      expect(pausedRock.result.failure_reason).toContain("is paused");
      const resumed = await Sandbox.connect(id, opts);
      expect((await engine.getContainer((await containersOf(id))[0].Id).inspect()).State.Paused).toBe(false);
      expect((await resumed.getInfo()).state).toBe("running");
      // The processes lived through the pause.
      expect((await resumed.commands.run(`kill -0 ${marker.stdout.trim()} && echo alive`)).stdout).toBe("alive\n");

      // Another port: a second rocklet (the mounted binary, without a token) listening inside the container only.
      await sandbox.commands.run("/rock/rocklet --insecure --host 127.0.0.1 --port 9000 >/dev/null 2>&1 &");
      const accessToken = (sandbox as unknown as { envdAccessToken: string }).envdAccessToken;
      const inner = async () =>
        fetch(`${admin.baseUrl}/envd/is_alive`, { headers: { "e2b-sandbox-id": id, "e2b-sandbox-port": "9000", "x-access-token": accessToken } });
      let answer = await inner();
      for (let i = 0; i < 50 && answer.status !== 200; i++) {
        await Bun.sleep(100);
        answer = await inner();
      }
      expect(await answer.json()).toEqual({ is_alive: true, message: "" });

      const rock = await (
        await fetch(`${admin.baseUrl}${api}/execute`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ sandbox_id: id, command: "sha256sum /tmp/e2b/blob.bin | cut -c1-64" }),
        })
      ).json();
      expect(rock.result.stdout.trim()).toBe(new Bun.CryptoHasher("sha256").update(binary).digest("hex"));
    } finally {
      expect(await sandbox.kill()).toBe(true);
    }
    for (let i = 0; i < 50 && (await containersOf(id)).some((c) => c.State === "running"); i++) await Bun.sleep(100);
    expect((await containersOf(id)).filter((c) => c.State === "running")).toEqual([]);
  });

  test("a paused sandbox survives a reconcile pass and is killed (no container left)", async () => {
    const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 300_000 });
    const id = sandbox.sandboxId;
    expect(await sandbox.pause()).toBe(true);
    const maintenance = admin.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    await maintenance.reconcile();
    expect((await Sandbox.getInfo(id, opts)).state).toBe("paused");
    // Asked about, through either protocol, a paused sandbox answers at once: its frozen rocklet is not waited for
    // (its probe's timeout is 2 s).
    const timed = async (path: string) => {
      const started = performance.now();
      const response = await fetch(`${admin.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, "x-api-key": token } });
      return { ms: performance.now() - started, body: await response.json() };
    };
    const info = await timed(`/sandboxes/${id}`);
    const status = await timed(`${api}/get_status?sandbox_id=${id}`);
    const alive = await timed(`${api}/is_alive?sandbox_id=${id}`);
    expect([info.body.state, status.body.result.is_alive, alive.body.result]).toEqual(["paused", false, { is_alive: false, message: expect.stringContaining("is paused") }]);
    expect(Math.max(info.ms, status.ms, alive.ms)).toBeLessThan(1_000);
    // Its idle timeout passes: a paused sandbox is kept (a running one beside it is stopped), and resuming restarts
    // the timeout.
    const running = await Sandbox.create("base", { ...opts, timeoutMs: 1_000 });
    await Sandbox.setTimeout(id, 1_000, opts);
    await Bun.sleep(1_500);
    const expired = await maintenance.stopExpired();
    expect(expired).toContain(running.sandboxId);
    expect(expired).not.toContain(id);
    const resumed = await Sandbox.connect(id, { ...opts, timeoutMs: 300_000 });
    expect((await resumed.commands.run("echo back")).stdout).toBe("back\n");
    expect(await sandbox.kill()).toBe(true);
    for (let i = 0; i < 50 && (await containersOf(id)).length > 0; i++) await Bun.sleep(100);
    expect(await containersOf(id)).toEqual([]);
  });

  test("lifecycle onTimeout 'pause': the timeout pauses the sandbox instead of killing it; autoResume resumes it on use", async () => {
    const maintenance = admin.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    const resuming = await Sandbox.create("base", { ...opts, timeoutMs: 1_000, lifecycle: { onTimeout: "pause", autoResume: true } });
    const kept = await Sandbox.create("base", { ...opts, timeoutMs: 1_000, lifecycle: { onTimeout: "pause" } });
    try {
      expect((await kept.getInfo()).lifecycle).toEqual({ onTimeout: "pause", autoResume: false });
      expect((await resuming.getInfo()).lifecycle).toEqual({ onTimeout: "pause", autoResume: true });
      const marker = await resuming.commands.run("sleep 300 & echo $!");
      await Bun.sleep(1_500);
      const expired = await maintenance.stopExpired();
      expect(expired).not.toContain(resuming.sandboxId);
      expect(expired).not.toContain(kept.sandboxId);
      for (const sandbox of [resuming, kept]) {
        expect((await sandbox.getInfo()).state).toBe("paused");
        expect((await engine.getContainer((await containersOf(sandbox.sandboxId))[0].Id).inspect()).State.Paused).toBe(true);
      }
      // autoResume: the next call resumes it, and its processes lived through the pause.
      expect((await resuming.commands.run(`kill -0 ${marker.stdout.trim()} && echo alive`)).stdout).toBe("alive\n");
      expect((await resuming.getInfo()).state).toBe("running");
      // Without it, a call is refused until a connect resumes the sandbox.
      expect(String(await kept.commands.run("echo frozen", { requestTimeoutMs: 10_000 }).catch((e) => e))).toContain("paused");
      expect((await (await Sandbox.connect(kept.sandboxId, opts)).commands.run("echo back")).stdout).toBe("back\n");
    } finally {
      expect(await resuming.kill()).toBe(true);
      expect(await kept.kill()).toBe(true);
    }
  });
});

describe.skipIf(!available("docker", socket))("the E2B SDK with the docker deployment's rocklet_address 'container'", () => {
  let engine: Docker;
  let admin: RunningAdmin;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    const binary = await ensureRockletBinary();
    // The admin calls rocklets only on the hosts it is given: the containers' addresses are in the bridge's subnet.
    const subnet = (await engine.getNetwork("bridge").inspect()).IPAM!.Config![0].Subnet;
    admin = await bootAdminKernel(
      `server:\n  token: ${token}\ndocker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n    rocklet_address: container\n` +
        `  local-operator:\n    deployment: docker\n  admin:\n    port: 0\n    reconcile_interval_ms: 600000\n    rocklet_hosts: ["${subnet}"]\n    e2b_templates: { base: "${sandboxImage()}" }\n`,
    );
  }, 120_000);
  afterAll(async () => {
    await admin?.close();
  });

  test("the admin records the container's address and serves the SDK and ROCK's routes through it", async () => {
    const sandbox = await Sandbox.create("base", { apiUrl: admin.baseUrl, sandboxUrl: `${admin.baseUrl}/envd`, apiKey: token, timeoutMs: 300_000 });
    const id = sandbox.sandboxId;
    try {
      const [container] = await engine.listContainers({ filters: { label: ["rock.managed=true", `rock.sandbox_id=${id}`] } });
      const address = (await engine.getContainer(container.Id).inspect()).NetworkSettings.Networks.bridge.IPAddress;
      const db = new Database(join(admin.project.root, "data", "admin.sqlite"), { readonly: true });
      try {
        expect(db.query(`SELECT rocklet_url, host_ip FROM sandboxes WHERE sandbox_id = ?`).get(id)).toEqual({ rocklet_url: `http://${address}:22555`, host_ip: "127.0.0.1" });
      } finally {
        db.close();
      }
      const chunks: string[] = [];
      expect((await sandbox.commands.run("echo one; sleep 0.3; echo two", { onStdout: (text) => void chunks.push(text) })).stdout).toBe("one\ntwo\n");
      expect(chunks).toEqual(["one\n", "two\n"]);
      const rock = await fetch(`${admin.baseUrl}${api}/execute`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ sandbox_id: id, command: "echo rock" }),
      });
      expect(((await rock.json()) as any).result.stdout).toBe("rock\n");
    } finally {
      await sandbox.kill();
    }
    expect(await engine.listContainers({ all: true, filters: { label: [`rock.sandbox_id=${id}`] } })).toEqual([]);
  });
});
