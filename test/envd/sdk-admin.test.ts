/**
 * The official e2b SDK against the admin on the local deployment, with only `apiUrl` and `sandboxUrl` changed (and
 * the server token as the API key): create → commands → files → setTimeout → list → kill, the same sandbox also seen
 * through ROCK's routes, and E2B's errors for what is not ours.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AuthenticationError, CommandExitError, InvalidArgumentError, NotFoundError, Sandbox, SandboxError } from "e2b";
import { expectTerminalAnswers } from "./harness.ts";
import { api, bootAdmin, type AdminHarness } from "../admin/support.ts";

setDefaultTimeout(60_000);

const token = "e2b-admin-token-5d1c";
let admin: AdminHarness;
let root: string;
let opts: { apiUrl: string; sandboxUrl: string; apiKey: string };
const rock = (path: string, body: unknown) =>
  fetch(`${root}${api}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());

const activeIds = async () => {
  const listed = await (await fetch(`${root}${api}/sandboxes`, { headers: { authorization: `Bearer ${token}` } })).json();
  return (listed.result.items as { sandbox_id: string }[]).map((item) => item.sandbox_id);
};

beforeAll(async () => {
  admin = await bootAdmin(`    token: ${token}\n    e2b_templates: { base: "python:3.11" }\n    e2b_domain: sandbox.test\n`);
  root = admin.kernel.server("admin")!.url;
  opts = { apiUrl: root, sandboxUrl: `${root}/envd`, apiKey: token };
});
afterAll(() => admin?.close());

describe("a sandbox through the official SDK", () => {
  test("create, run, files, setTimeout, list, kill; ROCK's routes see the same sandbox", async () => {
    const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 120_000, metadata: { suite: "e2b-admin" }, envs: { FROM_CREATE: "yes" } });
    try {
      const run = await sandbox.commands.run('echo "$FROM_CREATE $FROM_RUN"; echo oops >&2', { envs: { FROM_RUN: "too" } });
      expect(run).toMatchObject({ exitCode: 0, stdout: "yes too\n", stderr: "oops\n" });
      // The SDK's user (Authorization: Basic) reaches the rocklet through the admin.
      const user = await sandbox.commands.run("id -un", { user: "no-such-user-e2b" }).catch((e) => e);
      expect(user).toBeInstanceOf(InvalidArgumentError);
      expect(user.message).toContain("user 'no-such-user-e2b'");
      const failed = await sandbox.commands.run("exit 7").catch((e) => e);
      expect(failed).toBeInstanceOf(CommandExitError);
      expect(failed.exitCode).toBe(7);

      const binary = crypto.getRandomValues(new Uint8Array(1024 * 1024));
      await sandbox.files.write("e2b/blob.bin", binary.buffer as ArrayBuffer);
      expect(Buffer.compare(Buffer.from(await sandbox.files.read("e2b/blob.bin", { format: "bytes" })), Buffer.from(binary))).toBe(0);
      await sandbox.files.write("e2b/note.txt", "written by e2b");
      expect((await sandbox.files.list("e2b")).map((e) => e.name)).toEqual(["blob.bin", "note.txt"]);

      // The same sandbox through ROCK's routes: the file is there, and a command there sees E2B's env.
      const read = await rock("/read_file", { sandbox_id: sandbox.sandboxId, path: (await sandbox.files.getInfo("e2b/note.txt")).path });
      expect(read.result.content).toBe("written by e2b");
      const executed = await rock("/execute", { sandbox_id: sandbox.sandboxId, command: "echo $FROM_CREATE" });
      expect(executed.result.stdout).toBe("yes\n");

      const info = await sandbox.getInfo();
      expect(info).toMatchObject({ sandboxId: sandbox.sandboxId, templateId: "base", metadata: { suite: "e2b-admin" }, state: "running" });
      const [metric] = await sandbox.getMetrics();
      expect(metric.cpuCount).toBeGreaterThan(0);
      expect(metric.memTotal).toBeGreaterThan(metric.memUsed);
      expect(metric.memUsed).toBeGreaterThan(0);
      expect(metric.diskTotal).toBeGreaterThan(metric.diskUsed);
      expect(Math.abs(metric.timestamp.getTime() - Date.now())).toBeLessThan(60_000);
      await sandbox.setTimeout(600_000);
      const extended = await sandbox.getInfo();
      expect(extended.endAt.getTime() - Date.now()).toBeGreaterThan(500_000);

      const listed = await Sandbox.list({ ...opts, query: { metadata: { suite: "e2b-admin" } } }).nextItems();
      expect(listed.map((s) => s.sandboxId)).toEqual([sandbox.sandboxId]);
      expect(await Sandbox.list({ ...opts, query: { metadata: { suite: "other" } } }).nextItems()).toEqual([]);

      // A watch streams through the admin as a command's output does.
      const seen: string[] = [];
      const watch = await sandbox.files.watchDir("e2b", (event) => void seen.push(`${event.type} ${event.name}`));
      await sandbox.files.write("e2b/watched.txt", "x");
      for (let i = 0; i < 100 && !seen.includes("create watched.txt"); i++) await Bun.sleep(20);
      expect(seen).toContain("create watched.txt");
      await watch.stop();

      // A terminal inside the local sandbox (bubblewrap's own /dev/pts).
      await expectTerminalAnswers(sandbox);

      // The local deployment cannot pause: refused naming why (the docker test pauses).
      const pause = await sandbox.pause().catch((e) => e);
      expect(String(pause)).toContain("cannot be paused");
      expect((await sandbox.getInfo()).state).toBe("running");

      const again = await Sandbox.connect(sandbox.sandboxId, opts);
      expect((await again.commands.run("echo again")).stdout).toBe("again\n");
    } finally {
      expect(await sandbox.kill()).toBe(true);
    }
    // Stopped for ROCK too: its list of active sandboxes no longer has it.
    expect(await activeIds()).not.toContain(sandbox.sandboxId);
    expect(await Sandbox.kill(sandbox.sandboxId, opts)).toBe(false);
    expect(await sandbox.commands.run("echo after").catch((e) => e)).toBeInstanceOf(NotFoundError);
  });
});

describe("other ports of the sandbox", () => {
  test("E2b-Sandbox-Port other than envd's reaches that port inside the sandbox, with the sandbox's access token", async () => {
    // A service in the sandbox: local sandboxes share the host's loopback, so one started here stands in for it.
    const seen: string[] = [];
    const service = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        seen.push(`${request.method} ${new URL(request.url).pathname}${new URL(request.url).search} ${await request.text()}`);
        return Response.json({ served: true }, { headers: { "x-service": "yes" } });
      },
    });
    const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 120_000 });
    try {
      const accessToken = (sandbox as unknown as { envdAccessToken: string }).envdAccessToken;
      const call = (headers: Record<string, string>, port = String(service.port)) =>
        fetch(`${root}/envd/api/items?x=1`, { method: "POST", headers: { "e2b-sandbox-id": sandbox.sandboxId, "e2b-sandbox-port": port, ...headers }, body: "payload" });
      const answer = await call({ "x-access-token": accessToken });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-service")).toBe("yes");
      expect(await answer.json()).toEqual({ served: true });
      expect(seen).toEqual(["POST /api/items?x=1 payload"]);
      expect((await call({})).status).toBe(401);
      expect(seen).toHaveLength(1);
      const closed = await call({ "x-access-token": accessToken }, "1");
      expect(closed.status).toBe(404);
      expect((await closed.json()).message).toContain("nothing answers on port 1");
    } finally {
      await sandbox.kill();
      service.stop(true);
    }
  });
});

describe("sandbox hosts", () => {
  test("{port}-{id}.{e2b_domain} reaches the sandbox's envd, with its access token, before the admin's routes", async () => {
    const sandbox = await Sandbox.create("base", { ...opts, timeoutMs: 120_000 });
    try {
      const accessToken = (sandbox as unknown as { envdAccessToken: string }).envdAccessToken;
      await sandbox.files.write("/tmp/by-host.txt", "via the host");
      const host = `49983-${sandbox.sandboxId}.sandbox.test`;
      const read = await fetch(`${root}/files?path=/tmp/by-host.txt`, { headers: { host, "x-access-token": accessToken } });
      expect([read.status, await read.text()]).toEqual([200, "via the host"]);
      const stat = await fetch(`${root}/filesystem.Filesystem/Stat`, {
        method: "POST",
        headers: { host: `${host}:443`, "x-access-token": accessToken, "content-type": "application/json" },
        body: JSON.stringify({ path: "/tmp/by-host.txt" }),
      });
      expect((await stat.json()).entry.size).toBe("12");
      // Without the access token: refused; another host: the admin's own routes.
      expect((await fetch(`${root}/files?path=/tmp/by-host.txt`, { headers: { host } })).status).toBe(401);
      expect((await fetch(`${root}/files?path=/tmp/by-host.txt`, { headers: { host: "other.example", "x-access-token": accessToken } })).status).toBe(401);
      const unknown = await fetch(`${root}/files?path=/tmp/by-host.txt`, { headers: { host: `49983-nosuchsandbox.sandbox.test`, "x-access-token": accessToken } });
      expect(unknown.status).toBe(401);
    } finally {
      await sandbox.kill();
    }
  });
});

describe("access tokens", () => {
  test("a create repeated with its Idempotency-Key gets the same sandbox and token", async () => {
    const create = async () =>
      (await fetch(`${root}/v2/sandboxes`, {
        method: "POST",
        headers: { "x-api-key": token, "content-type": "application/json", "idempotency-key": `e2b-${process.pid}-repeat` },
        body: JSON.stringify({ templateID: "base", timeout: 60 }),
      })).json();
    const first = await create();
    const again = await create();
    expect(again.sandboxID).toBe(first.sandboxID);
    expect(again.envdAccessToken).toBe(first.envdAccessToken);
    expect(await Sandbox.kill(first.sandboxID, opts)).toBe(true);
  });

  test("a token belongs to one sandbox: a later sandbox of the same id (ROCK ids are reusable) does not take it", async () => {
    const id = `e2b-reuse-${process.pid}`;
    const stat = (accessToken: string) =>
      fetch(`${root}/envd/filesystem.Filesystem/Stat`, {
        method: "POST",
        headers: { "content-type": "application/json", "e2b-sandbox-id": id, "x-access-token": accessToken },
        body: JSON.stringify({ path: "/" }),
      });
    expect((await rock("/start", { image: "python:3.11", sandbox_id: id })).status).toBe("Success");
    const first = (await Sandbox.connect(id, opts)) as unknown as { envdAccessToken: string };
    expect((await stat(first.envdAccessToken)).status).toBe(200);
    expect((await rock("/stop", { sandbox_id: id })).status).toBe("Success");
    expect((await rock("/start", { image: "python:3.11", sandbox_id: id })).status).toBe("Success");
    expect((await stat(first.envdAccessToken)).status).toBe(401);
    const second = (await Sandbox.connect(id, opts)) as unknown as { envdAccessToken: string };
    expect(second.envdAccessToken).not.toBe(first.envdAccessToken);
    expect((await stat(second.envdAccessToken)).status).toBe(200);
    expect((await rock("/stop", { sandbox_id: id })).status).toBe("Success");
  });
});

describe("the Python SDK's paths", () => {
  test("POST /sandboxes and POST /sandboxes/{id}/connect answer as their /v2 forms", async () => {
    const call = (method: string, path: string, body?: unknown) =>
      fetch(root + path, { method, headers: { "x-api-key": token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    // An optional field sent as null is absent, as a pydantic client may send it.
    const created = await call("POST", "/sandboxes", { templateID: "base", timeout: null, metadata: { sdk: "python" }, envVars: null, secure: null });
    expect(created.status).toBe(201);
    const sandbox = await created.json();
    expect(sandbox.templateID).toBe("base");
    expect(typeof sandbox.envdAccessToken).toBe("string");
    const connected = await call("POST", `/sandboxes/${sandbox.sandboxID}/connect`, { timeout: 120 });
    expect(connected.status).toBe(200);
    expect((await connected.json()).envdAccessToken).toBe(sandbox.envdAccessToken);
    expect((await call("DELETE", `/sandboxes/${sandbox.sandboxID}`)).status).toBe(204);
    expect((await call("POST", `/sandboxes/${sandbox.sandboxID}/connect`, { timeout: 120 })).status).toBe(404);
    expect(await activeIds()).toEqual([]);
  });
});

describe("bad input", () => {
  test("a wrong API key, an unknown template or sandbox, another sandbox's token: E2B's codes, nothing started", async () => {
    expect(await Sandbox.create("base", { ...opts, apiKey: "wrong" }).catch((e) => e)).toBeInstanceOf(AuthenticationError);
    const unknown = await fetch(`${root}/v2/sandboxes`, { method: "POST", headers: { "x-api-key": token, "content-type": "application/json" }, body: JSON.stringify({ templateID: "nope" }) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 404, message: "template 'nope' not found (templates: base)" });
    const invalid = await fetch(`${root}/v2/sandboxes`, { method: "POST", headers: { "x-api-key": token, "content-type": "application/json" }, body: JSON.stringify({ templateID: "base", timeout: -1 }) });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).message).toContain("timeout");
    expect(await Sandbox.getInfo("no-such-sandbox", opts).catch((e) => e)).toBeInstanceOf(NotFoundError);
    // The local deployment cannot pause: pausing at the timeout is refused, naming the field, rather than a sandbox
    // killed where the client expects it kept.
    const autoPause = await Sandbox.create("base", { ...opts, lifecycle: { onTimeout: "pause" } }).catch((e) => e);
    expect(autoPause).toBeInstanceOf(SandboxError);
    expect(autoPause.message).toStartWith("400: autoPause: this deployment cannot pause sandboxes");
    expect(await activeIds()).toEqual([]);

    const one = await Sandbox.create("base", { ...opts, timeoutMs: 120_000 });
    const two = await Sandbox.create("base", { ...opts, timeoutMs: 120_000 });
    try {
      const envd = (sandboxId: string, accessToken: string, port = "49983") =>
        fetch(`${root}/envd/filesystem.Filesystem/Stat`, {
          method: "POST",
          headers: { "content-type": "application/json", "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": port, "x-access-token": accessToken },
          body: JSON.stringify({ path: "/" }),
        });
      const two_token = (two as unknown as { envdAccessToken: string }).envdAccessToken;
      const one_token = (one as unknown as { envdAccessToken: string }).envdAccessToken;
      expect((await envd(two.sandboxId, two_token)).status).toBe(200);
      // One sandbox's token does not open another, nor does the server's; a port other than envd's is refused.
      expect((await envd(one.sandboxId, two_token)).status).toBe(401);
      expect((await envd(one.sandboxId, token)).status).toBe(401);
      const port = await envd(one.sandboxId, one_token, "99999");
      expect(port.status).toBe(400);
      expect(await port.json()).toEqual({ code: "invalid_argument", message: "E2b-Sandbox-Port: '99999' is not a port (1-65535)" });
      expect((await fetch(`${root}/envd/filesystem.Filesystem/Stat`, { method: "POST", body: "{}" })).status).toBe(401);
      // The access token opens envd's routes, not the rocklet's ROCK routes beside them.
      const rockRoute = await fetch(`${root}/envd/execute`, {
        method: "POST",
        headers: { "content-type": "application/json", "e2b-sandbox-id": one.sandboxId, "x-access-token": one_token },
        body: JSON.stringify({ command: "echo ran" }),
      });
      expect(rockRoute.status).toBe(404);
      expect((await rockRoute.json()).message).toContain("no envd route /execute");
    } finally {
      await one.kill();
      await two.kill();
    }
    expect(await activeIds()).toEqual([]);
  });
});
