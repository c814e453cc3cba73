/**
 * A hostile sandbox on the docker deployment, through the admin: a fork bomb, memory hogs and a session flood leave its
 * rocklet answering; a rocklet that dies anyway (killed, out of memory) is reported failed with the reason and leaves
 * no container. Bounded for a shared machine: pids 128, half a CPU, 128-256 MiB, short timeouts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { readdirSync, readFileSync } from "node:fs";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { bootAdminKernel, newSandboxId, ourContainers, removeOurContainers, type RunningAdmin } from "../sdk/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { api } from "./support.ts";

const socket = dockerSocket();
const MAX_SESSIONS = 4;

/** Hogs of 12 MiB each (`tail` keeps a line without end in memory), each smaller than the rocklet. */
const hogs = (count: number) =>
  `for i in $(seq 1 ${count}); do ( { head -c 12m /dev/zero; sleep 600; } | tail >/dev/null & ); sleep 0.2; done; sleep 1; echo started`;

/** An admin on the docker deployment whose sandboxes may have at most `pidsLimit` processes. */
async function bootDockerAdmin(pidsLimit: number, dockerExtra = ""): Promise<RunningAdmin> {
  const binary = await ensureRockletBinary();
  return bootAdminKernel(
    `docker:\n  socket: ${socket}\nplugins:\n  docker:\n    rocklet_binary: ${binary}\n    pull: never\n${dockerExtra}` +
      `  local-operator:\n    deployment: docker\n  admin:\n    port: 0\n    reconcile_interval_ms: 600000\n    pids_limit: ${pidsLimit}\n`,
  );
}

/** Until the container holds at least `count` pids (the bomb took them; on a loaded machine that takes a while), bounded. */
async function untilPidsHeld(engine: Docker, containerId: string, count: number): Promise<number> {
  let pids = 0;
  for (const until = Date.now() + 60_000; Date.now() < until && pids < count; await Bun.sleep(100)) {
    pids = ((await engine.getContainer(containerId).stats({ stream: false })) as any).pids_stats?.current ?? 0;
  }
  return pids;
}

describe.skipIf(!available("docker", socket))("admin: a hostile docker sandbox keeps its rocklet, or is reported failed (real engine)", () => {
  let engine: Docker;
  let admin: RunningAdmin;
  let base: string;

  const post = async (path: string, body: unknown, timeoutMs = 60_000) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) })).json() as Promise<any>;
  const get = async (path: string, timeoutMs = 10_000) => (await fetch(base + path, { signal: AbortSignal.timeout(timeoutMs) })).json() as Promise<any>;
  const start = async (memory: string) => {
    const started = await post("/start", { image: sandboxImage(), sandbox_id: newSandboxId("hostile"), cpus: 0.5, memory, pull: "never" });
    expect(started.status).toBe("Success");
    return started.result.sandbox_id as string;
  };
  const containersOf = async (id: string) => (await ourContainers(engine)).filter((c) => c.Labels["rock.sandbox_id"] === id);
  /** get_status until its docker_run phase failed (bounded); the answer. */
  const untilFailed = async (id: string, ms = 15_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const status = await get(`/get_status?sandbox_id=${id}`);
      if (status.result?.status?.docker_run?.status === "failed" || Date.now() > deadline) return status;
      await Bun.sleep(200);
    }
  };

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    admin = await bootDockerAdmin(128, `    max_sessions: ${MAX_SESSIONS}\n`);
    base = admin.baseUrl + api;
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    if (engine) await removeOurContainers(engine);
  });

  test("a fork bomb in a session: the rocklet answers within seconds, names the pids limit, and recovers when the session is closed", async () => {
    const id = await start("256m");
    expect((await post("/create_session", { sandbox_id: id, session: "bomb" })).status).toBe("Success");
    await post("/run_in_session", { sandbox_id: id, session: "bomb", command: ":(){ :|:& };:", timeout: 5 });
    // The test starts once the bomb (half a CPU) holds the pids.
    const [container] = await containersOf(id);
    await untilPidsHeld(engine, container!.Id, 120);

    // While the bomb holds every pid, each call answers quickly; starting a process is refused naming the limit.
    // Under the bomb an answer may, rarely, be a dropped connection ("not reachable"): quick and clear, but not the
    // refusal; a few are tolerated, the refusal naming the limit must come.
    let refusal = "";
    const dropped: string[] = [];
    const deadline = Date.now() + 15_000;
    while (!refusal && Date.now() < deadline) {
      const began = Date.now();
      const executed = await post("/execute", { sandbox_id: id, command: "echo hi", timeout: 5 }, 5000);
      expect(Date.now() - began).toBeLessThan(5000);
      if (executed.status === "Failed" && /not reachable/.test(`${executed.message} ${executed.error}`)) dropped.push(executed.error);
      else if (executed.status === "Failed") refusal = executed.error;
      if (!refusal) await Bun.sleep(200);
    }
    if (dropped.length > 2) console.error("dropped calls:", [...new Set(dropped)].join(" | "));
    expect(dropped.length).toBeLessThanOrEqual(2);
    expect(refusal).toContain("cannot start '/usr/bin/bash': the sandbox has reached its process limit (pids.max 128");
    const status = await get(`/get_status?sandbox_id=${id}`, 3000);
    expect(status.result).toMatchObject({ state: "running", is_alive: true });
    // Routes that start no process still work: the rocklet's threads exist before the bomb.
    expect((await post("/write_file", { sandbox_id: id, path: "/tmp/during.txt", content: "bomb" }, 5000)).result.success).toBe(true);
    expect((await post("/read_file", { sandbox_id: id, path: "/tmp/during.txt" }, 5000)).result.content).toBe("bomb");
    expect((await get(`/get_sandbox_statistics?sandbox_id=${id}`, 5000)).status).toBe("Success");
    const form = new FormData();
    form.append("sandbox_id", id);
    form.append("target_path", "/tmp/uploaded.txt");
    form.append("file", new File(["x".repeat(256 * 1024)], "uploaded.txt"));
    const uploaded = await (await fetch(base + "/upload", { method: "POST", body: form, signal: AbortSignal.timeout(5000) })).json();
    expect(uploaded).toMatchObject({ status: "Success", result: { success: true } });

    expect((await post("/close_session", { sandbox_id: id, session: "bomb" }, 15_000)).status).toBe("Success");
    let recovered: any = null;
    for (const until = Date.now() + 10_000; Date.now() < until && recovered?.status !== "Success"; await Bun.sleep(200)) {
      recovered = await post("/execute", { sandbox_id: id, command: "echo recovered", timeout: 5 }, 5000);
    }
    expect(recovered.result.stdout).toBe("recovered\n");

    expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    expect(await containersOf(id)).toEqual([]);
  }, 90_000);

  test("memory hogs beyond the limit are killed, the rocklet survives", async () => {
    const id = await start("128m");
    const hogged = await post("/execute", { sandbox_id: id, command: hogs(12), timeout: 30 });
    expect(hogged).toMatchObject({ status: "Success", result: { stdout: "started\n" } });
    const status = await get(`/get_status?sandbox_id=${id}`, 3000);
    expect(status.result).toMatchObject({ state: "running", is_alive: true });
    // 12 × 12 MiB do not fit in 128 MiB beside the rocklet: some hogs were killed, none of the rocklet's kind.
    const left = Number((await post("/execute", { sandbox_id: id, command: "pgrep -c -x tail", timeout: 5 })).result.stdout);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(12);
    expect((await engine.getContainer(`rock-${id}`).inspect()).State.Running).toBe(true);
    await post("/stop", { sandbox_id: id });
    expect(await containersOf(id)).toEqual([]);
  }, 90_000);

  test(`session ${MAX_SESSIONS + 1} is refused naming the limit; the others keep working`, async () => {
    const id = await start("256m");
    for (let i = 0; i < MAX_SESSIONS; i++) expect((await post("/create_session", { sandbox_id: id, session: `s${i}` })).status).toBe("Success");
    const refused = await post("/create_session", { sandbox_id: id, session: "one-too-many" });
    expect(refused).toMatchObject({ status: "Failed", result: { code: 6000 } });
    expect(refused.error).toBe(`cannot create session 'one-too-many': this sandbox already has ${MAX_SESSIONS} open sessions, its limit (rocklet --max-sessions); close one first`);
    expect((await post("/run_in_session", { sandbox_id: id, session: "s0", command: "echo fine" })).result.output).toBe("fine");
    await post("/stop", { sandbox_id: id });
    expect(await containersOf(id)).toEqual([]);
  }, 60_000);

  test("a rocklet run out of memory by its own sandbox: get_status reports failed with the reason; nothing is left", async () => {
    const id = await start("128m");
    // A hostile command takes its processes off the OOM killer's list first: then the rocklet is the biggest.
    await post("/execute", { sandbox_id: id, command: `echo 0 >/proc/self/oom_score_adj; ${hogs(12)}`, timeout: 30 });
    const status = await untilFailed(id);
    expect(status.result).toMatchObject({ state: "stopped", is_alive: false });
    expect(status.result.status.docker_run).toEqual({
      status: "failed",
      message: "the rocklet was killed by SIGKILL (exit code 137): the sandbox ran out of memory (its memory limit of 128 MiB; OOM killed)",
    });
    expect(await containersOf(id)).toEqual([]);
    const refused = await post("/execute", { sandbox_id: id, command: "true" });
    expect(refused.error).toContain(`Sandbox ${id} is stopped (it failed: the rocklet was killed by SIGKILL`);
    expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    expect(await containersOf(id)).toEqual([]);
  }, 90_000);

  test("docker kill: get_status reports failed with the exit; the reconciler does the same unasked; restart brings it back", async () => {
    const id = await start("256m");
    await engine.getContainer(`rock-${id}`).kill();
    const status = await untilFailed(id, 10_000);
    expect(status.result.status.docker_run).toEqual({ status: "failed", message: "the rocklet was killed by SIGKILL (exit code 137)" });
    expect(await containersOf(id)).toEqual([]);

    // A restart hands the new container a new token on its stdin; the admin reaches the rocklet again.
    const restarted = await post("/restart", { sandbox_id: id });
    expect(restarted.status).toBe("Success");
    expect((await post("/execute", { sandbox_id: id, command: "echo back" })).result.stdout).toBe("back\n");
    expect((await get(`/get_status?sandbox_id=${id}`)).result.status.docker_run).toEqual({ status: "success", message: "" });

    // Killed again, and nobody asks: the reconciler records it and removes the dead container.
    await engine.getContainer(`rock-${id}`).kill();
    await engine.getContainer(`rock-${id}`).wait();
    const maintenance = admin.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    expect((await maintenance.reconcile()).stoppedRecords).toContain(id);
    expect(await containersOf(id)).toEqual([]);
    const after = await get(`/get_status?sandbox_id=${id}`);
    expect(after.result).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed", message: "the rocklet was killed by SIGKILL (exit code 137)" } } });
    expect(after.result.state_history.at(-1)).toMatchObject({ from_state: "running", to_state: "stopped", event: "fail" });
    expect((await post("/delete", { sandbox_id: id })).status).toBe("Success");
    expect(await containersOf(id)).toEqual([]);
  }, 90_000);
});

describe.skipIf(!available("docker", socket))("admin: file routes while a sandbox holds every pid (real engine)", () => {
  let engine: Docker;
  let admin: RunningAdmin;
  let base: string;
  const post = async (path: string, body: unknown) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) })).json() as Promise<any>;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    admin = await bootDockerAdmin(32);
    base = admin.baseUrl + api;
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    if (engine) await removeOurContainers(engine);
  });

  // A thread the runtime starts on demand (file-system workers, JIT compilers, GC helpers) cannot start while a bomb
  // holds every pid, and that aborted the rocklet (Bun: "panic: abort() called"), first seen at a write_file. Its
  // threads are all started with it: traffic before the bomb starts no new kind of thread.
  test("the rocklet's threads all exist before the bomb; write_file, read_file and upload work while it holds the pids", async () => {
    const started = await post("/start", { image: sandboxImage(), sandbox_id: newSandboxId("pids"), cpus: 0.5, memory: "256m", pull: "never" });
    expect(started.status).toBe("Success");
    const id = started.result.sandbox_id as string;
    // The container's init (docker-init) has the rocklet as its child.
    const initPid = (await engine.getContainer(`rock-${id}`).inspect()).State.Pid;
    const rockletPid = readFileSync(`/proc/${initPid}/task/${initPid}/children`, "utf8").trim().split(" ")[0];
    const threads = () => readdirSync(`/proc/${rockletPid}/task`).map((task) => readFileSync(`/proc/${rockletPid}/task/${task}/comm`, "utf8").trim());
    for (let i = 0; i < 150; i++) {
      await post("/write_file", { sandbox_id: id, path: `/tmp/warm-${i % 5}.txt`, content: "x".repeat(20_000) });
      await post("/execute", { sandbox_id: id, command: "true" });
    }
    const named = threads();
    expect(named).toContain("Bun Pool 0");
    expect(named.filter((name) => /JIT|HeapHelper|Collector|WarmUp/.test(name))).toEqual([]);
    expect((await post("/create_session", { sandbox_id: id, session: "bomb" })).status).toBe("Success");
    await post("/run_in_session", { sandbox_id: id, session: "bomb", command: ":(){ :|:& };:", timeout: 5 });
    const [container] = (await ourContainers(engine)).filter((c) => c.Labels["rock.sandbox_id"] === id);
    expect(await untilPidsHeld(engine, container!.Id, 31)).toBeGreaterThanOrEqual(31);

    for (let i = 0; i < 5; i++) {
      expect((await post("/write_file", { sandbox_id: id, path: `/tmp/held-${i}.txt`, content: `held ${i}` })).result).toMatchObject({ success: true });
      expect((await post("/read_file", { sandbox_id: id, path: `/tmp/held-${i}.txt` })).result.content).toBe(`held ${i}`);
    }
    const form = new FormData();
    form.append("sandbox_id", id);
    form.append("target_path", "/tmp/held-upload.bin");
    form.append("file", new File([new Uint8Array(512 * 1024)], "held-upload.bin"));
    expect(await (await fetch(base + "/upload", { method: "POST", body: form, signal: AbortSignal.timeout(10_000) })).json()).toMatchObject({ status: "Success" });
    const alive = await (await fetch(`${base}/get_status?sandbox_id=${id}`, { signal: AbortSignal.timeout(5000) })).json();
    expect(alive.result).toMatchObject({ state: "running", is_alive: true });

    expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
  }, 120_000);
});
