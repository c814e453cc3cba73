import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { readProcess } from "../../plugins/deployments/local/process-table.ts";
import { sandboxSpec } from "../deployments/support.ts";
import { bootAdmin, type AdminHarness } from "./support.ts";

let admin: AdminHarness;
const pids: number[] = [];
const gone = (pid: number) => {
  const entry = readProcess(pid);
  return entry === null || entry.state === "Z";
};

beforeAll(async () => {
  admin = await bootAdmin("    idle_scan_interval_ms: 100\n");
});
afterAll(async () => {
  await admin?.close();
});

async function stateOf(id: string): Promise<string> {
  return (await admin.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state;
}

async function instancePid(id: string): Promise<number> {
  // The local deployment's instance id is the supervisor's pid; read it back through a fresh handle-less path.
  const listed = await admin.deployment.list();
  expect(listed.some((s) => s.sandbox_id === id)).toBe(true);
  const pid = Number((await admin.post("/execute", { sandbox_id: id, command: "echo $PPID", shell: true })).result.stdout.trim());
  pids.push(pid);
  return pid;
}

describe("admin: idle timeout and reconciler", () => {
  test("an idle sandbox is stopped after auto_clear_time_minutes; one in use is not", async () => {
    const idle = (await admin.post("/start", { image: "x", memory: "1g", auto_clear_time_minutes: 0.01 })).result.sandbox_id;
    const busy = (await admin.post("/start", { image: "x", memory: "1g", auto_clear_time_minutes: 0.01 })).result.sandbox_id;
    await instancePid(idle);
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      await admin.post("/execute", { sandbox_id: busy, command: "true", shell: true });
      await Bun.sleep(150);
    }
    expect(await stateOf(idle)).toBe("stopped");
    expect(await stateOf(busy)).toBe("running");
    const history = (await admin.get(`/get_status?sandbox_id=${idle}&include_all_states=true`)).result.state_history;
    expect(history.at(-1)).toMatchObject({ from_state: "running", to_state: "stopped" });
    await admin.post("/stop", { sandbox_id: busy });
  }, 30_000);

  test("reconcile: an instance with no live record is stopped; a record whose instance vanished is marked stopped", async () => {
    const maintenance = admin.kernel.instance<{ maintenance: Maintenance }>("admin")!.maintenance;
    const orphan = sandboxSpec("orphan");
    await admin.deployment.start(orphan);
    const tracked = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    await instancePid(tracked);
    await admin.deployment.stop(tracked);

    const result = await maintenance.reconcile();
    expect(result.stoppedInstances).toEqual([orphan.sandbox_id]);
    expect(result.stoppedRecords).toEqual([tracked]);
    expect(await admin.deployment.state(orphan.sandbox_id)).not.toBe("running");
    expect(await stateOf(tracked)).toBe("stopped");
    expect(await admin.post("/execute", { sandbox_id: tracked, command: "ls" })).toMatchObject({ status: "Failed", result: { code: 4000 } });
  }, 30_000);

  test("no process outlives its sandbox", async () => {
    const id = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    const pid = await instancePid(id);
    await admin.post("/stop", { sandbox_id: id });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !pids.every(gone)) await Bun.sleep(50);
    expect(pids.filter((p) => !gone(p))).toEqual([]);
    expect(gone(pid)).toBe(true);
  }, 30_000);
});
