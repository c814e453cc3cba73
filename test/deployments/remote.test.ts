import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, repoRoot } from "../support/project.ts";
import { bootDeployment, execute, rockletCall, sandboxSpec, waitAlive, type BootedDeployment } from "./support.ts";

/** A rocklet started by someone else: here, the source run by this Bun as its own process. */
function startRocklet(port: number, token: string) {
  return Bun.spawn([process.execPath, join(repoRoot, "plugins/programs/rocklet/main.ts"), "--host", "127.0.0.1", "--port", String(port)], {
    env: { ...process.env, ROCKLET_TOKEN: token },
    stdout: "ignore",
    stderr: "ignore",
  });
}

describe("remote deployment", () => {
  const token = `remote-${crypto.randomUUID()}`;
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  let rocklet: ReturnType<typeof startRocklet>;
  let booted: BootedDeployment;

  beforeAll(async () => {
    rocklet = startRocklet(port, token);
    await waitAlive(url, token);
    booted = await bootDeployment("remote", `plugins:\n  remote:\n    url: ${url}/\n    token: ${token}\n`);
  });
  afterAll(async () => {
    await booted?.close();
    rocklet?.kill();
  });

  test("its only network permission is the configured rocklet's host", () => {
    const plan = booted.kernel.plugins.find((p) => p.definition.name === "remote")!;
    expect(plan.permissions).toEqual({ net: [`127.0.0.1:${port}`] });
  });

  test("start binds a sandbox to the rocklet (with its own token); one sandbox at a time; stop closes its sessions", async () => {
    const { deployment } = booted;
    const s = sandboxSpec("rtest");
    const handle = await deployment.start(s);
    expect(handle).toMatchObject({ sandbox_id: s.sandbox_id, rockletUrl: url, rockletToken: token, host_ip: "127.0.0.1", port_mapping: { [String(port)]: port } });
    expect((await execute(handle.rockletUrl, handle.rockletToken!, "echo remote")).stdout).toBe("remote\n");
    expect(await deployment.state(s.sandbox_id)).toBe("running");
    expect(await deployment.list()).toEqual([{ sandbox_id: s.sandbox_id, state: "running" }]);

    await expect(deployment.start(s)).rejects.toThrow("already exists");
    const other = sandboxSpec("rtest");
    await expect(deployment.start(other)).rejects.toThrow(`already serves sandbox '${s.sandbox_id}'`);
    expect(await deployment.state(other.sandbox_id)).toBe("missing");

    expect((await rockletCall(url, token, "/create_session", { session: "s1", sandbox_id: s.sandbox_id })).status).toBe(200);
    await deployment.stop(s.sandbox_id);
    const afterClose = await rockletCall(url, token, "/run_in_session", { session: "s1", command: "echo still", sandbox_id: s.sandbox_id });
    expect(await afterClose.text()).toContain("does not exist");
    expect(await deployment.state(s.sandbox_id)).toBe("missing");
    expect(await deployment.list()).toEqual([]);
    await deployment.stop(s.sandbox_id); // idempotent

    const next = await deployment.start(other);
    expect(next.sandbox_id).toBe(other.sandbox_id);
    await deployment.stop(other.sandbox_id);
  });

  test("state is 'stopped' while the rocklet does not answer; stop still frees it", async () => {
    const { deployment } = booted;
    const s = sandboxSpec("rtest");
    await deployment.start(s);
    rocklet.kill();
    await rocklet.exited;
    expect(await deployment.state(s.sandbox_id)).toBe("stopped");
    await deployment.stop(s.sandbox_id);
    expect(await deployment.list()).toEqual([]);
    rocklet = startRocklet(port, token);
    await waitAlive(url, token);
  });
});
