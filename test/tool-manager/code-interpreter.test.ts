/**
 * code_interpreter end to end with `server.token` set: the tool manager starts the tool's node in a container, the
 * node calls the token-protected admin with the token from its tool_cfg, and the admin runs the code in a sandbox.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configureLogging } from "../../core/log.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { available, dockerSocket } from "../support/env.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, waitSettled, type BootedManager } from "./support.ts";

const socket = dockerSocket();
const SERVER_TOKEN = `server-token-${crypto.randomUUID()}`;

describe.skipIf(!available("docker", socket))("code_interpreter → token-protected admin (real engine, real sandbox)", () => {
  let manager: BootedManager;
  const ports = portRange();
  const lines: string[] = [];

  beforeAll(async () => {
    await Promise.all([ensureTestNodeBinary(), ensureRockletBinary()]);
    configureLogging({ write: (line) => lines.push(line) });
    manager = await bootManager({
      ports,
      serverToken: SERVER_TOKEN,
      // The node shares the host's network, so that it reaches the admin on 127.0.0.1.
      extra: "    network_mode: host\n  local:\n    stop_grace_ms: 200\n  local-operator: {}\n  admin:\n    port: 0\n",
    });
  }, 60_000);

  afterAll(async () => {
    await manager?.close();
    configureLogging({ write: (line) => void process.stderr.write(line + "\n") });
    const engine = new Docker({ socketPath: socket });
    for (const name of ["code_interpreter_alpha", "code_interpreter_beta"]) await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
  });

  const adminUrl = () => manager.kernel.server("admin")!.url;

  async function interpreter(tenant: keyof typeof tenants, token: string) {
    const created = await manager.call("/create_tool_service", { body: { tool_name: "code_interpreter", tenant_id: tenant, tool_cfg: { admin_url: adminUrl(), token } }, token: tenants[tenant] });
    expect(created.status).toBe(200);
    expect((await waitSettled(manager, "code_interpreter", tenant, tenants[tenant])).body.output.status).toBe("running");
    return (code: string) =>
      manager.call("/execute_tool", { body: { tool_name: "code_interpreter", tenant_id: tenant, params: JSON.stringify({ code, language: "bash" }) }, token: tenants[tenant] });
  }

  test("with the server's token in its tool_cfg, the tool runs code in a sandbox through the admin", async () => {
    const run = await interpreter("alpha", SERVER_TOKEN);
    const executed = await run("echo $((6 * 7)); echo to-stderr >&2");
    expect(executed.status).toBe(200);
    const output = typeof executed.body.output === "string" ? JSON.parse(executed.body.output) : executed.body.output;
    expect(output).toMatchObject({ language: "bash", exit_code: 0, stdout: "42\n", stderr: "to-stderr\n" });
    // The sandbox it started is the admin's, visible with the token only.
    const listed = await fetch(`${adminUrl()}/apis/envs/sandbox/v1/sandboxes`, { headers: { authorization: `Bearer ${SERVER_TOKEN}` } });
    expect(await listed.text()).toContain(output.sandbox_id);
    expect((await fetch(`${adminUrl()}/apis/envs/sandbox/v1/sandboxes`)).status).toBe(401);
    await fetch(`${adminUrl()}/apis/envs/sandbox/v1/stop`, { method: "POST", headers: { authorization: `Bearer ${SERVER_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ sandbox_id: output.sandbox_id }) });
  }, 90_000);

  test("with a wrong token the admin's 401 comes back as the tool's error, and no sandbox starts", async () => {
    const total = async () => (await (await fetch(`${adminUrl()}/apis/envs/sandbox/v1/sandboxes`, { headers: { authorization: `Bearer ${SERVER_TOKEN}` } })).json()).result.total;
    const before = await total();
    const run = await interpreter("beta", "wrong-token-0123456789");
    const executed = await run("echo never");
    expect(JSON.stringify(executed.body)).toContain("missing or invalid bearer token");
    expect(JSON.stringify(executed.body)).toContain("the tool_cfg field 'token' is not the admin's token");
    expect(JSON.stringify(executed.body)).not.toContain("never\\n");
    expect(await total()).toBe(before);
  }, 90_000);

  test("neither token shows in the kernel's log", () => {
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(SERVER_TOKEN);
    expect(lines.join("\n")).not.toContain("wrong-token-0123456789");
  });
});
