/**
 * The tool manager takes null for every optional field, as the original's pydantic models did (the caller's tenant
 * for `tenant_id: null`, no config, the default image, no kwargs); a required field sent as null is refused naming it.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { available, dockerSocket } from "../support/env.ts";
import { bootManager, ensureTestNodeBinary, portRange, waitSettled, tenants, type BootedManager } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("tool manager: optional fields sent as null (real engine)", () => {
  let manager: BootedManager;

  beforeAll(async () => {
    await ensureTestNodeBinary();
    manager = await bootManager({ ports: portRange() });
  }, 60_000);

  afterAll(async () => {
    await manager?.call("/remove_tool", { body: { tool_name: "RenewInstance", tenant_id: null } });
    await manager?.close();
    const engine = new Docker({ socketPath: socket });
    for (const c of await engine.listContainers({ all: true, filters: { label: ["rock.plugin=tool-manager"] } })) {
      if (c.Names.some((n) => n.endsWith("RenewInstance_alpha"))) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  });

  test("create, status, execute and info with nulls, in the caller's tenant", async () => {
    const created = await manager.call("/create_tool_service", { body: { tool_name: "RenewInstance", tenant_id: null, tool_cfg: null, tool_image: null, tool_url: null } });
    expect(created.status).toBe(200);
    expect(created.body.output.tool_node_name).toBe("RenewInstance_alpha");
    expect((await waitSettled(manager, "RenewInstance", "alpha", tenants.alpha)).body.output.status).toBe("running");
    const executed = await manager.call("/execute_tool", { body: { tool_name: "RenewInstance", tenant_id: null, params: '{"instance_id": 1, "period": "mon"}', kwargs: null } });
    expect(executed.status).toBe(200);
    expect(String(executed.body.output)).toContain("1");
    const info = await manager.call("/tool_info", { body: { tool_name: "RenewInstance", tenant_id: null } });
    expect(info.status).toBe(200);
    expect(info.body.output.name).toBe("RenewInstance");
  }, 60_000);

  test("required fields stay required: tool_name and params sent as null are refused naming them", async () => {
    const noName = await manager.call("/create_tool_service", { body: { tool_name: null } });
    expect(noName.status).toBe(400);
    expect(noName.body.message).toContain("tool_name");
    const noParams = await manager.call("/execute_tool", { body: { tool_name: "RenewInstance", params: null } });
    expect(noParams.status).toBe(400);
    expect(noParams.body.message).toContain("params");
  });
});
