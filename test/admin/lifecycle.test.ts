import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bootAdmin, type AdminHarness } from "./support.ts";

let admin: AdminHarness;

beforeAll(async () => {
  admin = await bootAdmin();
});
afterAll(async () => {
  await admin?.close();
});

describe("admin: a sandbox's life through ROCK's HTTP API (local deployment)", () => {
  test("start → is_alive → execute → session → files → upload → stop → get_status shows stopped with history → delete", async () => {
    const started = await admin.post("/start", { image: "python:3.11", sandbox_id: `life-${process.pid}`, memory: "1g", cpus: 1 }, { "X-User-Id": "alice" });
    expect(started).toMatchObject({ status: "Success", error: null, result: { code: 2000, sandbox_id: `life-${process.pid}`, cpus: 1, memory: "1.00g" } });
    const id: string = started.result.sandbox_id;
    expect(JSON.stringify(started)).not.toContain("oken");

    expect((await admin.get(`/is_alive?sandbox_id=${id}`)).result.is_alive).toBe(true);
    const stats = await admin.get(`/get_sandbox_statistics?sandbox_id=${id}`);
    expect(stats.status).toBe("Success");
    expect(Object.keys(stats.result)).toEqual(expect.arrayContaining(["cpu", "mem", "disk", "net"]));
    const status = await admin.get(`/get_status?sandbox_id=${id}`);
    expect(status.result).toMatchObject({ sandbox_id: id, state: "running", is_alive: true, user_id: "alice", image: "python:3.11" });
    expect(JSON.stringify(status)).not.toContain("rocklet");

    const executed = await admin.post("/execute", { sandbox_id: id, command: "echo hello; echo oops >&2; exit 3", shell: true });
    expect(executed).toMatchObject({ status: "Success", result: { stdout: "hello\n", stderr: "oops\n", exit_code: 3 } });

    expect((await admin.post("/create_session", { sandbox_id: id, session: "s1" })).status).toBe("Success");
    await admin.post("/run_in_session", { sandbox_id: id, session: "s1", command: "export X=42" });
    const ran = await admin.post("/run_in_session", { sandbox_id: id, session: "s1", command: "echo $X" });
    expect(ran).toMatchObject({ status: "Success", result: { output: "42", exit_code: 0 } });
    expect((await admin.post("/close_session", { sandbox_id: id, session: "s1" })).result).toEqual({ session_type: "bash" });

    expect((await admin.post("/write_file", { sandbox_id: id, path: "sub/a.txt", content: "data\n" })).result).toEqual({ success: true, message: "" });
    expect((await admin.post("/read_file", { sandbox_id: id, path: "sub/a.txt" })).result).toEqual({ content: "data\n" });

    const form = new FormData();
    form.append("sandbox_id", id);
    form.append("target_path", "up/b.txt");
    form.append("file", new File(["uploaded"], "b.txt"));
    const uploaded = await (await fetch(admin.base + "/upload", { method: "POST", body: form })).json();
    expect(uploaded).toMatchObject({ status: "Success", result: { success: true, file_name: "b.txt" } });
    expect((await admin.post("/read_file", { sandbox_id: id, path: "up/b.txt" })).result.content).toBe("uploaded");

    const listed = await admin.get("/sandboxes?user_id=alice");
    expect(listed.result).toMatchObject({ total: 1, has_more: false });
    expect(listed.result.items[0].sandbox_id).toBe(id);
    expect((await admin.get("/sandboxes?user_id=bob")).result.total).toBe(0);
    expect((await admin.post("/sandboxes/batch", { sandbox_ids: [id, "nope"] })).result.statuses.map((s: any) => s.sandbox_id)).toEqual([id]);

    expect(await admin.post("/stop", { sandbox_id: id })).toMatchObject({ status: "Success", result: `${id} stopped` });
    expect(await admin.deployment.state(id)).not.toBe("running");
    expect((await admin.get(`/get_status?sandbox_id=${id}`)).status).toBe("Failed");
    const stopped = await admin.get(`/get_status?sandbox_id=${id}&include_all_states=true`);
    expect(stopped.result.state).toBe("stopped");
    expect(stopped.result.state_history.map((h: any) => [h.from_state, h.to_state, h.event])).toEqual([
      ["pending", "running", "alive"],
      ["running", "stopped", "stop"],
    ]);

    const refused = await admin.post("/execute", { sandbox_id: id, command: "echo hi" });
    expect(refused).toMatchObject({ status: "Failed", error: `Sandbox ${id} is stopped`, result: { code: 4000 } });

    expect((await admin.post("/delete", { sandbox_id: id })).result).toBe(`${id} deleted`);
    expect((await admin.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("deleted");
  }, 60_000);

  test("restart: a stopped sandbox runs again", async () => {
    const id = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    await admin.post("/stop", { sandbox_id: id });
    const restarted = await admin.post("/restart", { sandbox_id: id });
    expect(restarted).toMatchObject({ status: "Success", result: { sandbox_id: id } });
    expect((await admin.post("/execute", { sandbox_id: id, command: "echo again", shell: true })).result.stdout).toBe("again\n");
    await admin.post("/stop", { sandbox_id: id });
  }, 60_000);

  test("start_async returns pending at once; get_status later reports running", async () => {
    const started = await admin.post("/start_async", { image: "x", memory: "1g" });
    expect(started.status).toBe("Success");
    const id = started.result.sandbox_id;
    let state = "";
    for (let i = 0; i < 100 && state !== "running"; i++) {
      state = (await admin.get(`/get_status?sandbox_id=${id}`)).result.state;
      if (state !== "running") await Bun.sleep(100);
    }
    expect(state).toBe("running");
    await admin.post("/stop", { sandbox_id: id });
  }, 30_000);

  test("a call right after start_async, before the rocklet listens, is a 4000 'still starting', not an internal error", async () => {
    const started = await admin.post("/start_async", { image: "x", memory: "1g" });
    const id = started.result.sandbox_id;
    const early = await admin.post("/execute", { sandbox_id: id, command: "echo hi" });
    expect(early.status).toBe("Failed");
    expect(early.result.code).toBe(4000);
    expect(early.error).toContain(`Sandbox ${id} is still starting`);
    await admin.post("/stop", { sandbox_id: id });
  }, 30_000);

  test("rocklet failures are Failed, not empty successes: missing file, duplicate session, timed-out execute", async () => {
    const id = (await admin.post("/start", { image: "x", memory: "1g" })).result.sandbox_id;
    const missing = await admin.post("/read_file", { sandbox_id: id, path: "/nonexistent/file" });
    expect(missing).toMatchObject({ status: "Failed", message: "read file failed", result: { code: 6000 } });
    expect(missing.error).toContain("/nonexistent/file");

    await admin.post("/create_session", { sandbox_id: id, session: "dup" });
    const duplicate = await admin.post("/create_session", { sandbox_id: id, session: "dup" });
    expect(duplicate).toMatchObject({ status: "Failed", result: { code: 6000 } });

    const slow = await admin.post("/execute", { sandbox_id: id, command: "sleep 5", shell: true, timeout: 0.3 });
    expect(slow).toMatchObject({ status: "Failed", message: "execute command failed", result: { code: 6000, exit_code: -1 } });
    await admin.post("/stop", { sandbox_id: id });
  }, 30_000);
});
