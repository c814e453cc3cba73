import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configureLogging } from "../../core/log.ts";
import { engineExec } from "../bench/support/raw-docker.ts";
import { available, dockerSocket } from "../support/env.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, waitSettled, type BootedManager } from "./support.ts";

const socket = dockerSocket();

/** The text of the engine's multiplexed exec stream (8-byte frame headers). */
function demultiplex(raw: Uint8Array): string {
  const bytes = Buffer.from(raw);
  let text = "";
  for (let at = 0; at + 8 <= bytes.length; at += 8 + bytes.readUInt32BE(at + 4)) text += bytes.subarray(at + 8, at + 8 + bytes.readUInt32BE(at + 4)).toString("utf8");
  return text;
}

describe.skipIf(!available("docker", socket))("tool manager bad input and failing nodes (real engine)", () => {
  let manager: BootedManager;
  let engine: Docker;
  const logLines: string[] = [];
  const ports = portRange();
  const ourContainers = async () =>
    (await engine.listContainers({ all: true, filters: { label: ["rock.plugin=tool-manager"] } })).filter((c) => c.Names.some((n) => n.endsWith("_alpha")));

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    await ensureTestNodeBinary();
    configureLogging({ write: (line) => void logLines.push(line) });
    manager = await bootManager({ ports, executeTimeoutMs: 1500 });
    await manager.call("/create_tool_service", { body: { tool_name: "faulty_tool", tenant_id: "alpha" } });
    await manager.call("/create_tool_service", { body: { tool_name: "hmac_sign", tenant_id: "alpha", tool_cfg: { key: "k3y-that-must-stay-secret" } } });
    expect((await waitSettled(manager, "faulty_tool", "alpha", tenants.alpha)).body.output.status).toBe("running");
    expect((await waitSettled(manager, "hmac_sign", "alpha", tenants.alpha)).body.output.status).toBe("running");
  }, 60_000);

  afterAll(async () => {
    for (const tool of ["faulty_tool", "hmac_sign"]) await manager?.call("/remove_tool", { body: { tool_name: tool, tenant_id: "alpha" } });
    await manager?.close();
    configureLogging({ write: (line) => void process.stderr.write(line + "\n") });
    for (const c of await ourContainers()) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  });

  const execute = (tool: string, params: unknown) => manager.call("/execute_tool", { body: { tool_name: tool, tenant_id: "alpha", params } });

  test("unknown tool, bad tool_cfg and unsupported tool_url are refused before any container exists", async () => {
    const unknown = await manager.call("/create_tool_service", { body: { tool_name: "NoSuchTool", tenant_id: "alpha" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain("tool 'NoSuchTool' is not offered");
    expect(unknown.body.output).toBeUndefined();
    expect((await execute("NoSuchTool", "{}")).status).toBe(404);
    const badCfg = await manager.call("/create_tool_service", { body: { tool_name: "hmac_sign", tenant_id: "beta", tool_cfg: { key: 5 } }, token: tenants.beta });
    expect(badCfg.status).toBe(400);
    expect(badCfg.body.message).toContain("tool_cfg of 'hmac_sign' field 'key'");
    expect((await manager.call("/create_tool_service", { body: { tool_name: "calculator", tenant_id: "alpha", tool_url: "http://x/y.zip" } })).status).toBe(400);
    expect((await manager.call("/create_tool_service", { body: { tenant_id: "alpha" } })).status).toBe(400);
    expect((await manager.call("/create_tool_service", { body: "{not json", token: tenants.alpha })).status).toBe(400);
    expect((await ourContainers()).map((c) => c.Names[0]).sort()).toEqual(["/faulty_tool_alpha", "/hmac_sign_alpha"]);
  });

  test("empty, non-JSON and schema-failing params, and a tool that throws, each get a 4xx naming the tool", async () => {
    const empty = await execute("faulty_tool", "");
    expect(empty).toEqual({ status: 400, body: { request_id: expect.any(String), message: "The params of tool faulty_tool_alpha is empty." } });
    const notJson = await execute("faulty_tool", "{mode: ");
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/^Failed to execute tool 'faulty_tool': params: are not valid JSON/);
    const wrong = await execute("faulty_tool", '{"mode": "explode"}');
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toContain("mode: must be one of");
    const missing = await execute("faulty_tool", "{}");
    expect(missing.body.message).toContain("mode: is required");
    const thrown = await execute("faulty_tool", { mode: "throw" });
    expect(thrown.status).toBe(422);
    expect(thrown.body.message).toContain("Failed to execute tool 'faulty_tool' with error: thrown on purpose");
    expect((await execute("faulty_tool", { mode: "ok" })).body.output).toBe("ok");
  });

  test("a hung node call times out with 504; the node still answers afterwards", async () => {
    const started = Date.now();
    const hung = await execute("faulty_tool", { mode: "hang" });
    expect(hung.status).toBe(504);
    expect(hung.body.message).toContain("executing tool 'faulty_tool' for faulty_tool_alpha timed out");
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await execute("faulty_tool", { mode: "ok" })).status).toBe(200);
  });

  test("the secret in tool_cfg reaches the tool and never a log line", async () => {
    const signed = await execute("hmac_sign", { message: "hello" });
    const expected = new Bun.CryptoHasher("sha256", "k3y-that-must-stay-secret").update("hello").digest("hex");
    expect(signed.body.output).toEqual({ key_id: "default", algorithm: "sha256", signature: expected });
    manager.kernel.log.info("echoing a config for the test", { cfg: { key: "k3y-that-must-stay-secret" } });
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("\n")).not.toContain("k3y-that-must-stay-secret");
  });

  test("the node's token and tool_cfg are in neither docker inspect nor anything a process in the container can read", async () => {
    const secrets = ["k3y-that-must-stay-secret", manager.instances.records.get("hmac_sign_alpha")!.node_token];
    const info = await engine.getContainer("hmac_sign_alpha").inspect();
    expect(info.Config.Cmd).toContain("--secrets-stdin");
    for (const secret of secrets) expect(JSON.stringify(info)).not.toContain(secret);
    // A process of the node's own user (nobody) in its container: every environ and command line, and the node's files.
    const look = `for p in /proc/[0-9]*; do
      case "$(tr '\\0' ' ' <$p/cmdline 2>/dev/null)" in /rock/tool-node*) node=$p;; esac
      echo "== $p"; tr '\\0' '\\n' <$p/environ 2>&1; tr '\\0' ' ' <$p/cmdline 2>&1; echo
    done
    for f in environ mem; do if (exec 3<"$node/$f") 2>/dev/null; then echo "node-$f: readable"; else echo "node-$f: denied"; fi; done
    # The key in two halves, so that this script's own command line does not hold it.
    half=k3y-that-must; echo "files:"; grep -rlsF -e "$half-stay-secret" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; echo "end of files"`;
    const { output, exitCode } = await engineExec(socket!, info.Id, ["bash", "-c", `{ ${look}\n} 2>&1`]);
    const text = demultiplex(output);
    expect(exitCode).toBe(0);
    expect(text).toContain("TOOL_NAME=hmac_sign");
    expect(text).toContain("node-environ: denied");
    expect(text).toContain("node-mem: denied");
    expect(text).toContain("files:\nend of files");
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  test("a node that crashes is reported as failed with the reason, and its container is gone", async () => {
    const crashed = await execute("faulty_tool", { mode: "crash" });
    expect(crashed.status).toBe(502);
    expect(crashed.body.message).toContain("faulty_tool_alpha failed: the tool node exited with code 3");
    expect(crashed.body.message).toContain("crashing the node on purpose");
    const status = await manager.call("/check_tool_service_status", { query: { tool_name: "faulty_tool", tenant_id: "alpha" } });
    expect(status.body).toMatchObject({ output: { tool_node_name: "faulty_tool_alpha", status: "failed" }, message: expect.stringContaining("exited with code 3") });
    expect(await engine.getContainer("faulty_tool_alpha").inspect().catch((e) => e.statusCode)).toBe(404);
    const refused = await execute("faulty_tool", { mode: "ok" });
    expect(refused.status).toBe(409);
    // A create brings it back.
    await manager.call("/create_tool_service", { body: { tool_name: "faulty_tool", tenant_id: "alpha" } });
    expect((await waitSettled(manager, "faulty_tool", "alpha", tenants.alpha)).body.output.status).toBe("running");
  }, 30_000);

  test("a create that cannot start leaves a failed record with the reason and no container", async () => {
    await manager.call("/create_tool_service", { body: { tool_name: "calculator", tenant_id: "alpha", tool_image: "rock-no-such-image:latest" } });
    const failed = await waitSettled(manager, "calculator", "alpha", tenants.alpha);
    expect(failed.body.output.status).toBe("failed");
    expect(failed.body.message).toContain("image 'rock-no-such-image:latest' is not on the Docker engine");
    const names = (await ourContainers()).map((c) => c.Names[0]);
    expect(names).not.toContain("/calculator_alpha");
    expect((await manager.call("/tools", {})).body.output.tools).toMatchObject({ calculator_alpha: "failed" });
  }, 30_000);

  test("unknown instances: status and remove answer 404", async () => {
    expect((await manager.call("/check_tool_service_status", { query: { tool_name: "calculator", tenant_id: "alpha2" }, token: tenants.alpha })).status).toBe(403);
    const missing = await manager.call("/remove_tool", { body: { tool_name: "code_interpreter", tenant_id: "alpha" } });
    expect(missing).toEqual({ status: 404, body: { request_id: expect.any(String), message: "Tool not found" } });
  });
});
