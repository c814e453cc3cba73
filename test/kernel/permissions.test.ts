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
      return { result: { body, key, text, ran: run.stdout.trim() } };
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
          const tries = { docker: () => ctx.docker(), store: () => ctx.store.get("x"), database: () => ctx.db(), use: () => ctx.use("other") };
          const out = {};
          for (const [k, f] of Object.entries(tries)) { try { f(); out[k] = "allowed"; } catch (e) { out[k] = e.permission; } }
          return { out };
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
