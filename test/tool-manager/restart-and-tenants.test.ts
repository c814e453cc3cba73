import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { available, dockerSocket } from "../support/env.ts";
import { tempProject } from "../support/project.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, waitSettled, type BootedManager } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("tool manager restart and tenants (real engine)", () => {
  const ports = portRange();
  const project = tempProject("rock-tools-restart-");
  let engine: Docker;
  let manager: BootedManager;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    await ensureTestNodeBinary();
    manager = await bootManager({ ports }, project);
  }, 60_000);

  afterAll(async () => {
    await manager?.call("/remove_tool", { body: { tool_name: "calculator", tenant_id: "alpha" } }).catch(() => undefined);
    await manager?.call("/remove_tool", { body: { tool_name: "calculator", tenant_id: "beta" }, token: tenants.beta }).catch(() => undefined);
    await manager?.close();
    for (const name of ["calculator_alpha", "calculator_beta", "orphan_alpha"]) await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
    project.remove();
  });

  test("tokens: missing or unknown → 401, another tenant's tools → 403, each tenant sees only its own", async () => {
    const body = { tool_name: "calculator", tenant_id: "alpha" };
    const none = await manager.call("/create_tool_service", { body, token: null });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ request_id: expect.any(String), message: expect.stringContaining("missing token") });
    expect((await manager.call("/create_tool_service", { body, token: "not-a-tenant-token" })).status).toBe(401);
    expect((await manager.call("/create_tool_service", { body, authorization: `Basic ${tenants.alpha}` })).status).toBe(401);
    const foreign = await manager.call("/create_tool_service", { body, token: tenants.beta });
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toContain("tenant 'beta' and may not act on tenant 'alpha'");

    // The bare token (no scheme), as the original's clients send it, is accepted.
    expect((await manager.call("/create_tool_service", { body, authorization: tenants.alpha })).status).toBe(200);
    expect((await manager.call("/create_tool_service/", { body: { tool_name: "calculator", tenant_id: "beta" }, token: tenants.beta })).status).toBe(200);
    expect((await waitSettled(manager, "calculator", "alpha", tenants.alpha)).body.output.status).toBe("running");
    expect((await waitSettled(manager, "calculator", "beta", tenants.beta)).body.output.status).toBe("running");

    expect((await manager.call("/tools", { token: tenants.alpha })).body.output).toEqual({ tools: { calculator_alpha: "running" } });
    expect((await manager.call("/tools", { token: tenants.beta })).body.output).toEqual({ tools: { calculator_beta: "running" } });
    expect((await manager.call("/tools", { token: tenants.beta, query: { tenant_id: "alpha" } })).status).toBe(403);
    const stolen = await manager.call("/execute_tool", { body: { tool_name: "calculator", tenant_id: "alpha", params: '{"expression":"1+1"}' }, token: tenants.beta });
    expect(stolen.status).toBe(403);
  }, 60_000);

  test("a restarted manager finds its instances running on the same ports, removes orphans, allocates around them", async () => {
    const before = manager.instances.records.all().map((r) => [r.name, r.port, r.status]).sort();
    // A container of ours that no record claims (a crash between create and record): removed at start-up.
    await engine.createContainer({ name: "orphan_alpha", Image: "rock-test-sandbox:latest", Cmd: ["sleep", "60"], Labels: { "rock.managed": "true", "rock.plugin": "tool-manager", "rock.tool_node": "orphan_alpha" } });
    await manager.close();
    manager = await bootManager({ ports }, project);

    expect(manager.instances.records.all().map((r) => [r.name, r.port, r.status]).sort()).toEqual(before);
    expect(await engine.getContainer("orphan_alpha").inspect().catch((e) => e.statusCode)).toBe(404);
    const executed = await manager.call("/execute_tool", { body: { tool_name: "calculator", tenant_id: "alpha", params: '{"expression":"(2+3)*sqrt(16)"}' } });
    expect(executed.body.output).toEqual({ expression: "(2+3)*sqrt(16)", result: 20 });

    const created = await manager.call("/create_tool_service", { body: { tool_name: "RenewInstance", tenant_id: "alpha" } });
    expect(created.status).toBe(200);
    const port = manager.instances.records.get("RenewInstance_alpha")!.port;
    expect(before.map(([, p]) => p)).not.toContain(port);
    expect((await waitSettled(manager, "RenewInstance", "alpha", tenants.alpha)).body.output.status).toBe("running");
    await manager.call("/remove_tool", { body: { tool_name: "RenewInstance", tenant_id: "alpha" } });
  }, 90_000);
});
