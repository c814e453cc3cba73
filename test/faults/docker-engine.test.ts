/**
 * The checkout's private Docker engine restarted under a server process running the admin (docker deployment) and the
 * tool manager: during the outage nothing answers 500 (the tool manager's status route did), what needs the engine
 * is a 503 "Docker engine unavailable" in each service's shape; afterwards the reconcilers record the dead sandboxes
 * and tool nodes as failed with why and remove what is left, a stop asked during the outage is finished, and a tool
 * is created again. The engine is brought back in a finally block whatever happens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { join } from "node:path";
import { ensureRockletBinary } from "../deployments/support.ts";
import { newSandboxId, ourContainers, removeOurContainers } from "../sdk/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { freePort } from "../support/project.ts";
import { ensureTestNodeBinary, portRange } from "../tool-manager/support.ts";
import { privateEngine, privateRedis, redisServerProgram, scratchDir, startServer, type PrivateEngine, type PrivateRedis, type ServerProcess } from "./support.ts";

const api = "/apis/envs/sandbox/v1";
const socket = dockerSocket();
const program = redisServerProgram();
const token = "alpha-token-0123456789";

interface Answer {
  service: string;
  path: string;
  status: number;
  body: any;
}

describe.skipIf(!available("docker", socket) || !program)("the Docker engine restarted under the admin and the tool manager", () => {
  let docker: Docker;
  let engine: PrivateEngine;
  let redis: PrivateRedis;
  let server: ServerProcess;
  let dir: ReturnType<typeof scratchDir>;
  let admin: string;
  let tools: string;

  const request = async (service: "admin" | "tools", method: "GET" | "POST", path: string, body?: unknown): Promise<Answer> => {
    const base = service === "admin" ? admin + api : tools;
    const response = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { service, path, status: response.status, body: parsed };
  };
  const startBody = (sandbox_id: string) => ({ image: sandboxImage(), sandbox_id, memory: "64m", cpus: 0.1, pull: "never" });
  const calculator = { tool_name: "calculator", tenant_id: "alpha" };
  const toolContainers = async () => docker.listContainers({ all: true, filters: { label: ["rock.plugin=tool-manager", "rock.tool_node=calculator_alpha"] } });
  const toolStatus = async () => (await request("tools", "GET", "/tools")).body.output.tools.calculator_alpha;
  const until = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}; the server's log:\n${server.log().slice(-6000)}`);
      await Bun.sleep(100);
    }
  };

  beforeAll(async () => {
    docker = new Docker({ socketPath: socket });
    engine = privateEngine(socket!);
    const [rocklet, node] = await Promise.all([ensureRockletBinary(), ensureTestNodeBinary()]);
    redis = await privateRedis(program!);
    dir = scratchDir("docker-engine-");
    const [adminPort, toolsPort] = [freePort(), freePort()];
    admin = `http://127.0.0.1:${adminPort}`;
    tools = `http://127.0.0.1:${toolsPort}`;
    server = await startServer(
      dir.path,
      {
        data_dir: join(dir.path, "data"),
        store: { type: "redis", url: redis.url, key_prefix: "rock:" },
        docker: { socket },
        plugins: {
          docker: { rocklet_binary: rocklet, pull: "never" },
          "local-operator": { deployment: "docker" },
          admin: { port: adminPort, reconcile_interval_ms: 500, idle_scan_interval_ms: 500 },
          calculator: {},
          "tool-manager": {
            port: toolsPort,
            tools: ["calculator"],
            node_binary: node,
            image: sandboxImage(),
            pull: "never",
            ...portRange(),
            start_timeout_ms: 20_000,
            tenants: { alpha: token },
            reconcile_interval_ms: 500,
          },
        },
      },
      [`${admin}/health`, `${tools}/health`],
    );
  }, 120_000);

  afterAll(async () => {
    try {
      await engine?.ensureUp();
      await server?.stop();
    } finally {
      if (docker) {
        await removeOurContainers(docker);
        for (const c of await toolContainers()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      await redis?.close();
      dir?.remove();
    }
  }, 120_000);

  test("no 500 during the outage, 503 'Docker engine unavailable' where the engine is needed; afterwards dead sandboxes and nodes failed with why, nothing left over", async () => {
    const [kept, stoppedDuring] = [newSandboxId("engine-kept"), newSandboxId("engine-stopped")];
    for (const id of [kept, stoppedDuring]) expect((await request("admin", "POST", "/start", startBody(id))).body.status).toBe("Success");
    expect((await request("tools", "POST", "/create_tool_service", calculator)).status).toBe(200);
    await until("the tool node runs", async () => (await toolStatus()) === "running");
    expect((await request("tools", "POST", "/execute_tool", { ...calculator, params: '{"expression":"2+3"}' })).status).toBe(200);
    expect((await ourContainers(docker)).filter((c) => [kept, stoppedDuring].includes(c.Labels["rock.sandbox_id"])).length).toBe(2);
    expect((await toolContainers()).length).toBe(1);
    // Besides the admin's maintenance lease, which is not sandbox state.
    const sandboxKeys = async () => (await redis.client().keys("rock:sandbox:*")).filter((key) => /^rock:sandbox:(alive|timeout):/.test(key));
    expect((await sandboxKeys()).length).toBe(4);

    let during: Answer[] = [];
    try {
      await engine.stop();
      during = await Promise.all([
        request("admin", "GET", `/get_status?sandbox_id=${kept}`),
        request("admin", "POST", "/start_async", startBody(newSandboxId("engine-down"))),
        request("admin", "POST", "/execute", { sandbox_id: kept, command: "true" }),
        request("admin", "GET", "/sandboxes"),
        request("admin", "POST", "/stop", { sandbox_id: stoppedDuring }),
        request("tools", "GET", "/check_tool_service_status?tool_name=calculator&tenant_id=alpha"),
        request("tools", "POST", "/execute_tool", { ...calculator, params: '{"expression":"2+3"}' }),
        request("tools", "POST", "/update_tool_service", calculator),
        request("tools", "GET", "/tools"),
      ]);
      await engine.start();
    } finally {
      await engine.ensureUp();
    }

    // Never a 500: what needs the engine is a 503 naming it, in each service's shape. (A node or sandbox the
    // reconcilers saw die while the engine was stopping its containers is reported as failed instead: 200, or 409 for a
    // call to the failed node.)
    expect(during.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    const unavailable = (a: Answer) => (a.service === "admin" ? a.body.error : a.body.message);
    for (const answer of during.filter((a) => a.status === 503)) {
      expect(unavailable(answer)).toStartWith("Docker engine unavailable: ");
      if (answer.service === "admin") expect(answer.body).toMatchObject({ status: "Failed", result: { code: 5000 } });
      else expect(Object.keys(answer.body).sort()).toEqual(["message", "request_id"]);
    }
    for (const answer of during.filter((a) => a.status !== 503 && a.status !== 200)) {
      expect(answer).toMatchObject({ service: "tools", path: "/execute_tool", status: 409, body: { message: expect.stringContaining("calculator_alpha is failed: the tool node ") } });
    }
    const [, started, , listed, stopped, , , updated, listedTools] = during;
    for (const answer of [started, stopped, updated]) expect(answer.status).toBe(503);
    expect(unavailable(stopped)).toEndWith("(the sandbox is recorded as stopped; what is left of its instance is removed once the runtime answers)");
    // From the records, which need no engine.
    expect(listed).toMatchObject({ status: 200, body: { status: "Success" } });
    expect(listedTools.status).toBe(200);

    // Back: nobody calls; the reconcilers record what died, with why, and remove what is left.
    await until("the admin's containers are removed", async () => (await ourContainers(docker)).length === 0);
    await until("the tool node is recorded failed", async () => (await toolStatus()) === "failed");
    await until("the tool node's container is removed", async () => (await toolContainers()).length === 0);
    expect(await sandboxKeys()).toEqual([]);
    const keptStatus = (await request("admin", "GET", `/get_status?sandbox_id=${kept}`)).body.result;
    expect(keptStatus).toMatchObject({ state: "stopped", status: { docker_run: { status: "failed", message: expect.stringMatching(/^the rocklet /) } } });
    expect(keptStatus.state_history.at(-1).event).toBe("fail");
    expect((await request("admin", "GET", `/get_status?sandbox_id=${stoppedDuring}&include_all_states=true`)).body.result.state).toBe("stopped");
    const check = await request("tools", "GET", "/check_tool_service_status?tool_name=calculator&tenant_id=alpha");
    expect(check.body.output.status).toBe("failed");
    expect(check.body.message).toStartWith("the tool node ");

    // And they serve again: a sandbox starts, the tool is created again.
    const fresh = newSandboxId("engine-back");
    expect((await request("admin", "POST", "/start", startBody(fresh))).body.status).toBe("Success");
    expect((await request("admin", "POST", "/stop", { sandbox_id: fresh })).body.status).toBe("Success");
    expect((await request("tools", "POST", "/create_tool_service", calculator)).status).toBe(200);
    await until("the tool node runs again", async () => (await toolStatus()) === "running");
    expect((await request("tools", "POST", "/execute_tool", { ...calculator, params: '{"expression":"2+3"}' })).body.output.result).toBe(5);
    expect((await request("tools", "POST", "/remove_tool", calculator)).status).toBe(200);
    expect(await toolContainers()).toEqual([]);
    expect(await ourContainers(docker)).toEqual([]);
    expect(await server.stop()).toBe(0);
  }, 180_000);
});
