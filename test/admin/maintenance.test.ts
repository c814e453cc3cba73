import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { LiveSandbox, LiveSandboxes } from "../../plugins/services/admin/live-sandboxes.ts";
import type { Maintenance } from "../../plugins/services/admin/maintenance.ts";
import { processTable, readProcess } from "../../plugins/deployments/local/process-table.ts";
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

/**
 * Host pids of the sandbox's processes: the supervisor, bubblewrap and the rocklet name its work dir on their command
 * lines (inside, its own PID namespace numbers them from 1).
 */
async function instancePids(id: string): Promise<number[]> {
  const listed = await admin.deployment.list();
  expect(listed.some((s) => s.sandbox_id === id)).toBe(true);
  const mine = processTable()
    .filter((p) => !gone(p.pid))
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`/${id}/`);
      } catch {
        return false;
      }
    });
  expect(mine.length).toBeGreaterThan(0);
  pids.push(...mine);
  return mine;
}

describe("admin: idle timeout and reconciler", () => {
  test("an idle sandbox is stopped after auto_clear_time_minutes; one in use is not", async () => {
    const idle = (await admin.post("/start", { image: "x", memory: "1g", auto_clear_time_minutes: 0.01 })).result.sandbox_id;
    const busy = (await admin.post("/start", { image: "x", memory: "1g", auto_clear_time_minutes: 0.01 })).result.sandbox_id;
    await instancePids(idle);
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
    await instancePids(tracked);
    await admin.deployment.stop(tracked);

    const result = await maintenance.reconcile();
    expect(result.stoppedInstances).toEqual([orphan.sandbox_id]);
    expect(result.stoppedRecords).toEqual([tracked]);
    expect(await admin.deployment.state(orphan.sandbox_id)).not.toBe("running");
    expect(await stateOf(tracked)).toBe("stopped");
    expect(await admin.post("/execute", { sandbox_id: tracked, command: "ls" })).toMatchObject({ status: "Failed", result: { code: 4000 } });
  }, 30_000);

  test("a running sandbox whose hot state the store lost keeps running: a call rebuilds it, the reconciler the others", async () => {
    const parts = admin.kernel.instance<{ maintenance: Maintenance; live: LiveSandboxes }>("admin")!;
    const used: string = (await admin.post("/start", { image: "x", memory: "1g", auto_clear_time_minutes: 7 })).result.sandbox_id;
    const idle: string = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    const entries: Record<string, LiveSandbox | null> = { [used]: await parts.live.get(used), [idle]: await parts.live.get(idle) };
    for (const id of [used, idle]) await parts.live.forget(id);

    // A data-plane call finds the sandbox through its record, before any reconcile pass.
    expect(await admin.post("/execute", { sandbox_id: used, command: "echo back", shell: true })).toMatchObject({ status: "Success", result: { stdout: "back\n" } });
    // As it was (create_time is the record's, which the first entry may miss by a millisecond).
    const asBefore = (id: string): LiveSandbox => ({ ...entries[id]!, create_time: expect.any(String) });
    expect(await parts.live.get(used)).toEqual(asBefore(used));
    expect(await parts.live.get(idle)).toBeNull();
    // The reconciler rebuilds the one nobody called, instead of stopping it.
    expect(await parts.maintenance.reconcile()).toEqual({ stoppedInstances: [], stoppedRecords: [], rebuilt: [idle], adopted: [] });
    expect(await parts.live.get(idle)).toEqual(asBefore(idle));
    for (const id of [used, idle]) expect(await admin.deployment.state(id)).toBe("running");
    // A fresh idle timeout of the sandbox's own length.
    const expiresIn = (await parts.live.expiresAt(used))! - Date.now() / 1000;
    expect(expiresIn).toBeGreaterThan(6.9 * 60);
    expect(expiresIn).toBeLessThanOrEqual(7 * 60);

    // Lost from the store and its instance gone too: the call says so, and the record keeps why.
    await parts.live.forget(idle);
    await admin.deployment.stop(idle);
    expect(await admin.post("/execute", { sandbox_id: idle, command: "true" })).toMatchObject({ status: "Failed", result: { code: 4000 } });
    const failed = (await admin.get(`/get_status?sandbox_id=${idle}&include_all_states=true`)).result;
    expect(failed).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed" } } });
    await admin.post("/stop", { sandbox_id: used });
  }, 30_000);

  test("no process outlives its sandbox", async () => {
    const id = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    const mine = await instancePids(id);
    await admin.post("/stop", { sandbox_id: id });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !pids.every(gone)) await Bun.sleep(50);
    expect(pids.filter((p) => !gone(p))).toEqual([]);
    expect(mine.filter((p) => !gone(p))).toEqual([]);
  }, 30_000);
});
