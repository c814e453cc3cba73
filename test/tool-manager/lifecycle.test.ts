import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { available, dockerSocket } from "../support/env.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, waitSettled, type BootedManager } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("tool manager lifecycle (real engine)", () => {
  let manager: BootedManager;
  let engine: Docker;
  const ports = portRange();

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    await ensureTestNodeBinary();
    manager = await bootManager({ ports });
  }, 60_000);

  afterAll(async () => {
    await manager?.close();
    for (const c of await engine.listContainers({ all: true, filters: { label: ["rock.plugin=tool-manager"] } })) {
      if ((c.Ports ?? []).some((p) => p.PublicPort >= ports.port_start && p.PublicPort <= ports.port_end) || c.State !== "running") {
        await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
  });

  test("create → running → info → execute → remove, in the envelope, unprivileged and limited", async () => {
    const created = await manager.call("/create_tool_service", { body: { tool_name: "RenewInstance", tenant_id: "alpha", tool_cfg: { test: "xxx" } } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ message: "", output: { tool_node_name: "RenewInstance_alpha", status: "pending" } });
    expect(typeof created.body.request_id).toBe("string");

    const settled = await waitSettled(manager, "RenewInstance", "alpha", tenants.alpha);
    expect(settled.body.output).toEqual({ tool_node_name: "RenewInstance_alpha", status: "running" });

    const info = await manager.call("/tool_info/", { body: { tool_name: "RenewInstance", tenant_id: "alpha" } });
    expect(info.status).toBe(200);
    expect(info.body.output).toMatchObject({ name: "RenewInstance", description: "续费一台包年包月ECS实例" });
    expect(info.body.output.parameters[0]).toMatchObject({ name: "instance_id", required: true, type: "string" });

    const executed = await manager.call("/execute_tool/", { body: { tool_name: "RenewInstance", tenant_id: "alpha", params: '{"instance_id": 123, "period": "mon"}', kwargs: {} } });
    expect(executed.status).toBe(200);
    expect(executed.body).toMatchObject({ message: "", output: "{'result': '已完成ECS实例ID为123的续费，续费时长mon月'}" });

    const container = await engine.getContainer("RenewInstance_alpha").inspect();
    expect(container.HostConfig).toMatchObject({ Privileged: false, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], ReadonlyRootfs: true, PidsLimit: 128, Memory: 256 * 1024 ** 2 });
    expect(container.Config.User).toBe("65534:65534");
    const bindings = Object.values(container.NetworkSettings.Ports).flat();
    expect(bindings.every((b) => b!.HostIp === "127.0.0.1")).toBe(true);
    expect(Number(bindings[0]!.HostPort)).toBe(ports.port_start);

    const listed = await manager.call("/tools/", { query: { tenant_id: "alpha" } });
    expect(listed.body.output).toEqual({ tools: { RenewInstance_alpha: "running" } });

    const removed = await manager.call("/remove_tool/", { method: "POST", query: { tool_name: "RenewInstance", tenant_id: "alpha" } });
    expect(removed.body.output).toEqual({ tool_node_name: "RenewInstance_alpha", status: "exited" });
    expect(await engine.getContainer("RenewInstance_alpha").inspect().catch((e) => e.statusCode)).toBe(404);
  }, 60_000);

  test("update_tool_service restarts the node with the new tool_cfg on the same port", async () => {
    const sign = async () => (await manager.call("/execute_tool", { body: { tool_name: "hmac_sign", tenant_id: "alpha", params: { message: "m" } } })).body.output;
    const hmac = (key: string) => new Bun.CryptoHasher("sha256", key).update("m").digest("hex");
    await manager.call("/create_tool_service", { body: { tool_name: "hmac_sign", tenant_id: "alpha", tool_cfg: { key: "first-key-123" } } });
    expect((await waitSettled(manager, "hmac_sign", "alpha", tenants.alpha)).body.output.status).toBe("running");
    const port = manager.instances.records.get("hmac_sign_alpha")!.port;
    expect((await sign()).signature).toBe(hmac("first-key-123"));

    // A second create of a running instance changes nothing, as in the original.
    const again = await manager.call("/create_tool_service", { body: { tool_name: "hmac_sign", tenant_id: "alpha", tool_cfg: { key: "ignored-key-123" } } });
    expect(again.body.output.status).toBe("running");

    const updated = await manager.call("/update_tool_service/", { body: { tool_name: "hmac_sign", tenant_id: "alpha", tool_cfg: { key: "second-key-123", key_id: "k2" } } });
    expect(updated.body.output).toEqual({ tool_node_name: "hmac_sign_alpha", status: "pending" });
    expect((await waitSettled(manager, "hmac_sign", "alpha", tenants.alpha)).body.output.status).toBe("running");
    expect(manager.instances.records.get("hmac_sign_alpha")!.port).toBe(port);
    expect(await sign()).toEqual({ key_id: "k2", algorithm: "sha256", signature: hmac("second-key-123") });
    await manager.call("/remove_tool", { body: { tool_name: "hmac_sign", tenant_id: "alpha" } });
  }, 60_000);
});
