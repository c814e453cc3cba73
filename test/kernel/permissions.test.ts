import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PermissionDenied } from "../../core/errors.ts";
import { Kernel } from "../../core/kernel.ts";
import { scopedEnv } from "../../core/permissions/env.ts";
import { hostAllowed, scopedFetch } from "../../core/permissions/fetch.ts";
import { scopedFs } from "../../core/permissions/fs.ts";
import { scopedRun } from "../../core/permissions/run.ts";
import { tempProject } from "../support/project.ts";

const upstream = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("pong") });
afterAll(() => upstream.stop(true));

function expectDenied(fn: () => unknown, plugin: string, permission: string) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PermissionDenied);
    expect((error as PermissionDenied).plugin).toBe(plugin);
    expect((error as PermissionDenied).permission).toBe(permission);
    expect((error as Error).message).toContain(plugin);
    return;
  }
  throw new Error("expected PermissionDenied");
}

describe("capability handles", () => {
  test("net: host, host:port, wildcard subdomains and '*'", () => {
    const u = (s: string) => new URL(s);
    expect(hostAllowed(["api.openai.com"], u("https://api.openai.com/v1"))).toBe(true);
    expect(hostAllowed(["api.openai.com"], u("https://evil.com/"))).toBe(false);
    expect(hostAllowed(["127.0.0.1:8080"], u("http://127.0.0.1:8080/x"))).toBe(true);
    expect(hostAllowed(["127.0.0.1:8080"], u("http://127.0.0.1:8081/x"))).toBe(false);
    expect(hostAllowed(["*.aliyuncs.com"], u("https://dashscope.aliyuncs.com/"))).toBe(true);
    expect(hostAllowed(["*.aliyuncs.com"], u("https://aliyuncs.com.evil.io/"))).toBe(false);
    expect(hostAllowed(["[::1]"], u("http://[::1]:9/"))).toBe(true);
    expect(hostAllowed(["*"], u("http://anything:1/"))).toBe(true);
    expect(hostAllowed([], u("http://127.0.0.1/"))).toBe(false);
    expect(hostAllowed(["172.17.0.0/16"], u("http://172.17.3.9:22555/"))).toBe(true);
    expect(hostAllowed(["172.17.0.0/16"], u("http://172.18.0.2:22555/"))).toBe(false);
    expect(hostAllowed(["10.1.2.3/32"], u("http://10.1.2.3/"))).toBe(true);
    expect(hostAllowed(["10.1.2.3/32"], u("http://10.1.2.4/"))).toBe(false);
    expect(hostAllowed(["0.0.0.0/0"], u("http://[::1]/"))).toBe(false);
    expect(hostAllowed(["10.0.0.0/8"], u("http://10.evil.com/"))).toBe(false);
  });

  test("fetch refuses an undeclared host and reaches a declared one", async () => {
    const url = `http://127.0.0.1:${upstream.port}/`;
    const denied = scopedFetch("probe", ["localhost"]);
    const error = await denied(url).catch((e) => e);
    expect(error).toBeInstanceOf(PermissionDenied);
    expect(error.message).toContain(`net:127.0.0.1:${upstream.port}`);
    const allowed = scopedFetch("probe", ["127.0.0.1"]);
    expect(await (await allowed(url)).text()).toBe("pong");
  });

  test("env: only declared variables, undeclared ones throw even when set", () => {
    const env = scopedEnv("probe", ["MY_KEY"], { MY_KEY: "v", OTHER: "secret" });
    expect(env.get("MY_KEY")).toBe("v");
    expect(env.all()).toEqual({ MY_KEY: "v" });
    expectDenied(() => env.get("OTHER"), "probe", "env:OTHER");
  });

  test("fs: declared directories only, no escape through .. or symlinks", async () => {
    const project = tempProject();
    try {
      const allowed = join(project.root, "allowed");
      const outside = join(project.root, "outside");
      mkdirSync(allowed, { recursive: true });
      mkdirSync(outside, { recursive: true });
      writeFileSync(join(outside, "secret.txt"), "s3cret");
      symlinkSync(outside, join(allowed, "link"));
      const fs = scopedFs("probe", project.root, { read: [], write: ["allowed"] });
      await fs.writeText("allowed/a/b.txt", "hello");
      expect(await fs.readText(join(allowed, "a/b.txt"))).toBe("hello");
      expectDenied(() => fs.check("allowed/../outside/secret.txt", "read"), "probe", `read:${join(outside, "secret.txt")}`);
      expectDenied(() => fs.check("allowed/link/secret.txt", "read"), "probe", `read:${join(outside, "secret.txt")}`);
      const readOnly = scopedFs("probe", project.root, { read: ["outside"], write: [] });
      expect(await readOnly.readText("outside/secret.txt")).toBe("s3cret");
      expectDenied(() => readOnly.check("outside/secret.txt", "write"), "probe", `write:${join(outside, "secret.txt")}`);
    } finally {
      project.remove();
    }
  });

  test("run: declared programs only; a same-named program elsewhere is refused; the child sees no undeclared env", async () => {
    const project = tempProject();
    try {
      const run = scopedRun("probe", project.root, ["env"], { DECLARED: "yes" });
      const result = await run.exec(["env"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("DECLARED=yes");
      expect(result.stdout).not.toContain("ROCK_SECRET_FOR_TEST");
      expectDenied(() => run.spawn(["ls"]), "probe", "run:ls");
      const fake = project.write("bin/env", "#!/bin/sh\necho fake\n");
      expectDenied(() => run.spawn([fake]), "probe", `run:${fake}`);
    } finally {
      project.remove();
    }
  });
});

/** One plugin, two manifests: without and with the permission. Both set up through the real kernel. */
describe("the same plugin through the kernel, without and with its permission", () => {
  const probe = (permissions: string) => `{
    name: "probe",
    kind: "tool",
    version: "1.0.0",
    config: Type.Object({ url: Type.String(), file: Type.String() }),
    permissions: ${permissions},
    async setup(ctx) {
      const body = await (await ctx.fetch(ctx.config.url)).text();
      const key = ctx.env.get("PROBE_KEY");
      const text = await ctx.fs.readText(ctx.config.file);
      const run = await ctx.run.exec(["echo", "ran"]);
      return { tool: { name: "probe", description: "probe", parameters: {}, call: () => null }, result: { body, key, text, ran: run.stdout.trim() } };
    },
  }`;

  async function attempt(permissions: string) {
    const project = tempProject();
    project.write("data-in/input.txt", "file-content");
    project.plugin("plugins/tools", "probe", probe(permissions));
    project.config(`plugins:\n  probe:\n    url: http://127.0.0.1:${upstream.port}/\n    file: data-in/input.txt\n`);
    process.env.PROBE_KEY = "k-123";
    const kernel = await Kernel.load({ root: project.root });
    try {
      await kernel.start();
      return kernel.instance<{ result: unknown }>("probe")!.result;
    } finally {
      await kernel.stop();
      project.remove();
    }
  }

  const full = `{ net: ["127.0.0.1"], env: ["PROBE_KEY"], read: ["data-in"], run: ["echo"] }`;

  test("declared: every capability works", async () => {
    expect(await attempt(full)).toEqual({ body: "pong", key: "k-123", text: "file-content", ran: "ran" });
  });

  for (const [missing, permissions, expected] of [
    ["host", `{ env: ["PROBE_KEY"], read: ["data-in"], run: ["echo"] }`, "net:127.0.0.1:"],
    ["env var", `{ net: ["127.0.0.1"], read: ["data-in"], run: ["echo"] }`, "env:PROBE_KEY"],
    ["path", `{ net: ["127.0.0.1"], env: ["PROBE_KEY"], run: ["echo"] }`, "read:"],
    ["program", `{ net: ["127.0.0.1"], env: ["PROBE_KEY"], read: ["data-in"] }`, "run:echo"],
  ] as const) {
    test(`undeclared ${missing}: PermissionDenied naming the plugin and the permission`, async () => {
      const error: any = await attempt(permissions).catch((e) => e);
      expect(error).toBeInstanceOf(PermissionDenied);
      expect(error.message).toContain("plugin 'probe'");
      expect(error.permission).toStartWith(expected);
    });
  }

  test("undeclared docker, store, database and dependency are refused too", async () => {
    const project = tempProject();
    project.plugin(
      "plugins/tools",
      "greedy",
      `{ name: "greedy", kind: "tool", version: "1.0.0", setup(ctx) {
          const tries = { docker: () => ctx.docker(), store: () => ctx.store.get("x"), database: () => ctx.db(), use: () => ctx.use("other", "tool") };
          const out = {};
          for (const [k, f] of Object.entries(tries)) { try { f(); out[k] = "allowed"; } catch (e) { out[k] = e.permission; } }
          return { tool: { name: "greedy", description: "greedy", parameters: {}, call: () => null }, out };
        } }`,
    );
    project.config("plugins:\n  greedy: {}\n");
    const kernel = await Kernel.load({ root: project.root });
    try {
      await kernel.start();
      expect(kernel.instance<{ out: unknown }>("greedy")!.out).toEqual({ docker: "docker", store: "store", database: "database", use: "use:other" });
    } finally {
      await kernel.stop();
      project.remove();
    }
  });
});

describe("fetch decisions are exact for every URL form", () => {
  test("userinfo, backslashes, ports and queries cannot smuggle an undeclared host past the cache", async () => {
    const guarded = scopedFetch("probe", ["127.0.0.1:1"]);
    for (const url of ["http://127.0.0.1:1@evil.test/", "http://evil.test\\@127.0.0.1:1/", "http://evil.test?127.0.0.1:1", "http://127.0.0.1:2/", "http://evil.test#@127.0.0.1:1"]) {
      const error = await guarded(url).catch((e) => e);
      expect(error).toBeInstanceOf(PermissionDenied);
    }
    // The same prefixes, asked again, are still refused (from the cache).
    expect(await guarded("http://127.0.0.1:1@evil.test/x").catch((e) => e)).toBeInstanceOf(PermissionDenied);
    const allowedError = await guarded("http://127.0.0.1:1/x").catch((e) => e);
    expect(allowedError).not.toBeInstanceOf(PermissionDenied); // allowed: fails only because nothing listens there
  });
});

describe("fetch checks the host of every redirect hop", () => {
  interface Seen {
    method: string;
    path: string;
    authorization: string | null;
    body: string;
  }
  /** A loopback server that records what reaches it; `/to?url=` redirects with `?status=` (302 by default). */
  function server() {
    const seen: Seen[] = [];
    const s = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const url = new URL(request.url);
        seen.push({ method: request.method, path: url.pathname, authorization: request.headers.get("authorization"), body: await request.text() });
        if (url.pathname === "/to") return new Response(null, { status: Number(url.searchParams.get("status") ?? 302), headers: { location: url.searchParams.get("url")! } });
        if (url.pathname === "/loop") return new Response(null, { status: 302, headers: { location: "/loop" } });
        return new Response(`${url.pathname} on ${url.port}`);
      },
    });
    return { seen, port: s.port, base: `http://127.0.0.1:${s.port}`, stop: () => s.stop(true) };
  }
  const a = server();
  const b = server();
  afterAll(() => {
    a.stop();
    b.stop();
  });
  const to = (from: { base: string }, target: string, status = 302) => `${from.base}/to?status=${status}&url=${encodeURIComponent(target)}`;
  const reset = () => {
    a.seen.length = 0;
    b.seen.length = 0;
  };

  test("a redirect to an undeclared host is refused before anything is sent there", async () => {
    reset();
    const guarded = scopedFetch("probe", [`127.0.0.1:${a.port}`]);
    const error = await guarded(to(a, `${b.base}/secret`)).catch((e) => e);
    expect(error).toBeInstanceOf(PermissionDenied);
    expect(error.message).toContain("plugin 'probe'");
    expect(error.message).toContain(`net:127.0.0.1:${b.port}`);
    expect(error.message).toContain(`redirected there by 127.0.0.1:${a.port}`);
    expect(a.seen.map((s) => s.path)).toEqual(["/to"]);
    expect(b.seen).toEqual([]);
  });

  test("a redirect to a declared host is followed; chains and relative Locations too", async () => {
    reset();
    const guarded = scopedFetch("probe", [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
    const response = await guarded(to(a, `${b.base}/final`));
    expect(await response.text()).toBe(`/final on ${b.port}`);
    expect(response.redirected).toBe(true);
    expect(b.seen.map((s) => s.path)).toEqual(["/final"]);

    reset();
    const chain = await guarded(to(a, to(b, to(a, "/relative"), 307), 301));
    expect(await chain.text()).toBe(`/relative on ${a.port}`);
    expect(a.seen.map((s) => s.path)).toEqual(["/to", "/to", "/relative"]);
    expect(b.seen.map((s) => s.path)).toEqual(["/to"]);

    // A chain that reaches an undeclared host at its third hop stops there.
    reset();
    const narrow = scopedFetch("probe", [`127.0.0.1:${a.port}`]);
    expect(await narrow(to(a, to(a, `${b.base}/x`))).catch((e) => e)).toBeInstanceOf(PermissionDenied);
    expect(a.seen.length).toBe(2);
    expect(b.seen).toEqual([]);
  });

  test("a redirect loop ends after 20 redirects", async () => {
    reset();
    const guarded = scopedFetch("probe", [`127.0.0.1:${a.port}`]);
    const error = await guarded(`${a.base}/loop`).catch((e) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("too many redirects");
    expect(a.seen.length).toBe(21);
  });

  test("methods, bodies and credentials across hops follow fetch's rules; another origin gets no credentials", async () => {
    const guarded = scopedFetch("probe", [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
    const post = { method: "POST", body: "payload", headers: { authorization: "Bearer s3cret-token", "content-type": "text/plain" } };
    for (const [status, method, body] of [[301, "GET", ""], [302, "GET", ""], [303, "GET", ""], [307, "POST", "payload"], [308, "POST", "payload"]] as const) {
      reset();
      await (await guarded(to(a, "/same", status), post)).text();
      expect(a.seen[1]).toEqual({ method, path: "/same", authorization: "Bearer s3cret-token", body });
    }
    reset();
    await (await guarded(to(a, `${b.base}/other`, 307), post)).text();
    expect(b.seen).toEqual([{ method: "POST", path: "/other", authorization: null, body: "payload" }]);
    // 303 turns a PUT into a GET; a HEAD stays a HEAD.
    reset();
    await guarded(to(a, "/head", 303), { method: "HEAD" });
    expect(a.seen[1].method).toBe("HEAD");
  });

  test("redirect: 'manual' and 'error' are the caller's choice", async () => {
    reset();
    const guarded = scopedFetch("probe", [`127.0.0.1:${a.port}`]);
    const manual = await guarded(to(a, `${b.base}/x`), { redirect: "manual" });
    expect(manual.status).toBe(302);
    expect(manual.headers.get("location")).toBe(`${b.base}/x`);
    // The caller's next call is checked like any other.
    expect(await guarded(manual.headers.get("location")!).catch((e) => e)).toBeInstanceOf(PermissionDenied);
    expect(await guarded(to(a, "/x"), { redirect: "error" }).catch((e) => e)).toBeInstanceOf(Error);
    expect(b.seen).toEqual([]);
  });
});
