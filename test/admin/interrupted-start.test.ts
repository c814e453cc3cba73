/**
 * Starts the admin did not see finish, on the docker deployment: the admin is stopped, its records are put back into
 * the states a crash leaves during a start (pending, placed or not, with a live, a dead or no container), and a new
 * admin on the same data dir resolves every one in its first reconcile pass: adopted when the rocklet answers, else
 * the record failed with why and nothing left. And a stop during a start ends the start at once: no container stays.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { dockerAdminYaml, newSandboxId, ourContainers, removeOurContainers } from "../sdk/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { api } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("admin: a start interrupted by a restart of the admin is resolved by the next one (docker)", () => {
  let engine: Docker;
  let project: TempProject;
  let kernel: Kernel | undefined;
  let base = "";

  const boot = async () => {
    kernel = await Kernel.load({ root: repoRoot, configFile: project.config(dockerAdminYaml(socket!, await ensureRockletBinary())), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    base = kernel.server("admin")!.url + api;
  };
  const post = async (path: string, body: unknown) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) })).json() as Promise<any>;
  const get = async (path: string) => (await fetch(base + path)).json() as Promise<any>;
  const start = (sandbox_id: string) => post("/start", { image: sandboxImage(), sandbox_id, memory: "64m", cpus: 0.1, pull: "never" });
  const containersOf = async (ids: string[]) => (await ourContainers(engine)).filter((c) => ids.includes(c.Labels["rock.sandbox_id"]));

  beforeAll(() => {
    engine = new Docker({ socketPath: socket });
    project = tempProject("rock-interrupted-");
  });
  afterAll(async () => {
    await kernel?.stop();
    await removeOurContainers(engine);
    project?.remove();
  });

  test("pending records after a crash: a live rocklet is adopted (placed or not), no or a dead container is undone with why; nothing is left over", async () => {
    await boot();
    const [placed, unplaced, never, dead] = ["placed", "unplaced", "never", "dead"].map((tag) => newSandboxId(tag));
    for (const id of [placed, unplaced, dead]) expect((await start(id)).status).toBe("Success");
    await kernel!.stop();
    kernel = undefined;

    // What a SIGKILL during these starts leaves: the records pending (one never placed, one whose container was not
    // created yet), and one container that died meanwhile. The docker deployment keeps its containers at a stop.
    const db = new Database(join(project.root, "data", "admin.sqlite"));
    db.run(`UPDATE sandboxes SET state = 'pending', start_time = NULL, state_history = '[]' WHERE sandbox_id IN (?, ?, ?)`, [placed, unplaced, dead]);
    db.run(`UPDATE sandboxes SET rocklet_url = NULL, rocklet_token = NULL, host_ip = NULL, host_name = NULL WHERE sandbox_id = ?`, [unplaced]);
    db.run(`INSERT INTO sandboxes (sandbox_id, state, spec, meta, create_time) SELECT ?, 'pending', spec, meta, ? FROM sandboxes WHERE sandbox_id = ?`, [never, new Date().toISOString(), placed]);
    db.close();
    await engine.getContainer(`rock-${dead}`).kill();
    await engine.getContainer(`rock-${dead}`).wait();

    await boot();
    // Resolved by the pass at start-up, before the first request.
    for (const id of [placed, unplaced]) {
      const status = (await get(`/get_status?sandbox_id=${id}`)).result;
      expect(status).toMatchObject({ state: "running", is_alive: true, status: { docker_run: { status: "success" } } });
      expect(status.state_history.map((h: any) => h.event)).toEqual(["alive"]);
      expect((await post("/execute", { sandbox_id: id, command: "echo adopted", shell: true })).result).toMatchObject({ stdout: "adopted\n", exit_code: 0 });
    }
    const interrupted = "the admin was restarted while the sandbox was starting";
    expect((await get(`/get_status?sandbox_id=${never}`)).result).toMatchObject({
      state: "stopped",
      status: { docker_run: { status: "failed", message: `${interrupted}, and no instance of it exists` } },
    });
    expect((await get(`/get_status?sandbox_id=${dead}`)).result).toMatchObject({
      state: "stopped",
      status: { docker_run: { status: "failed", message: `${interrupted}, and its instance is not running (the rocklet was killed by SIGKILL (exit code 137))` } },
    });
    expect((await containersOf([placed, unplaced, never, dead])).map((c) => [c.Labels["rock.sandbox_id"], c.State]).sort()).toEqual([placed, unplaced].sort().map((id) => [id, "running"]));
    expect((await get("/sandboxes")).result.items.map((i: any) => i.sandbox_id).sort()).toEqual([placed, unplaced].sort());

    for (const id of [placed, unplaced]) expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    expect(await containersOf([placed, unplaced, never, dead])).toEqual([]);
  }, 120_000);

  test("a stop while the start creates the container ends the start: no container is left, not even for a moment after", async () => {
    kernel ?? (await boot());
    for (const delayMs of [0, 2, 10, 30, 80]) {
      const id = newSandboxId("stopped-early");
      const started = post("/start_async", { image: sandboxImage(), sandbox_id: id, memory: "64m", cpus: 0.1, pull: "never" });
      await Bun.sleep(delayMs);
      const stopped = await post("/stop", { sandbox_id: id });
      const answer = await started;
      if (stopped.status === "Failed") {
        // The stop came before the start's record.
        expect(stopped.error).toBe(`Sandbox ${id} not found`);
        expect(answer.status).toBe("Success");
        expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
      } else {
        expect(answer.status === "Success" || answer.error === `Sandbox ${id} was stopped while starting`).toBe(true);
      }
      // The reconciler is off: whatever the start created is gone by the time both answered.
      expect((await get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("stopped");
      expect(await containersOf([id])).toEqual([]);
      await Bun.sleep(300);
      expect(await containersOf([id])).toEqual([]);
    }
  }, 120_000);
});
