import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PluginError } from "../../core/errors.ts";
import { Kernel } from "../../core/kernel.ts";
import { freePort, repoRoot, tempProject, waitForHttp, type TempProject } from "../support/project.ts";

let project: TempProject;
afterEach(() => project?.remove());

const bun = process.execPath;

/** A filter plugin (the kind with the fewest members) that appends its hook calls to a shared journal file. */
const journaling = (name: string, deps: string[] = []) => `{
  name: ${JSON.stringify(name)},
  kind: "filter",
  version: "1.0.0",
  dependencies: ${JSON.stringify(deps)},
  setup(ctx) {
    const note = (what) => appendFileSync(process.env.JOURNAL, ${JSON.stringify(name)} + ":" + what + "\\n");
    note("setup");
    for (const dep of ${JSON.stringify(deps)}) if (!ctx.use(dep, "filter").ready) throw new Error("dependency not set up");
    return { args: Type.Object({}), create: () => ({}), ready: true, start: () => note("start"), stop: () => note("stop") };
  },
}`;

describe("plugin lifecycle", () => {
  test("setup and start follow dependencies; stop runs in reverse order", async () => {
    project = tempProject();
    const journal = join(project.root, "journal.txt");
    process.env.JOURNAL = journal;
    const imports = `import { appendFileSync } from "node:fs";`;
    project.plugin("plugins/filters", "c", journaling("c", ["b"]), imports);
    project.plugin("plugins/filters", "a", journaling("a"), imports);
    project.plugin("plugins/filters", "b", journaling("b", ["a"]), imports);
    project.config("plugins:\n  a: {}\n  b: {}\n  c: {}\n");
    const kernel = await Kernel.load({ root: project.root });
    await kernel.start();
    await kernel.stop();
    expect(readFileSync(journal, "utf8").trim().split("\n")).toEqual([
      "a:setup", "b:setup", "c:setup", "a:start", "b:start", "c:start", "c:stop", "b:stop", "a:stop",
    ]);
  });

  test("a dependency that is not enabled is a config error naming both", async () => {
    project = tempProject();
    const imports = `import { appendFileSync } from "node:fs";`;
    project.plugin("plugins/filters", "a", journaling("a"), imports);
    project.plugin("plugins/filters", "b", journaling("b", ["a"]), imports);
    project.config("plugins:\n  b: {}\n");
    const error = await Kernel.load({ root: project.root }).catch((e) => e);
    expect(error.message).toContain("plugins.b: depends on plugin 'a', which is not enabled");
  });

  test("a dependency cycle is refused", async () => {
    project = tempProject();
    const imports = `import { appendFileSync } from "node:fs";`;
    project.plugin("plugins/filters", "a", journaling("a", ["b"]), imports);
    project.plugin("plugins/filters", "b", journaling("b", ["a"]), imports);
    project.config("plugins:\n  a: {}\n  b: {}\n");
    const error = await Kernel.load({ root: project.root }).catch((e) => e);
    expect(error.message).toContain("dependency cycle");
  });

  test("a failing setup stops what was already set up and names the plugin", async () => {
    project = tempProject();
    const journal = join(project.root, "journal.txt");
    process.env.JOURNAL = journal;
    const imports = `import { appendFileSync } from "node:fs";`;
    project.plugin("plugins/filters", "a", journaling("a"), imports);
    project.plugin("plugins/filters", "boom", `{ name: "boom", kind: "filter", version: "1.0.0", dependencies: ["a"], setup() { throw new Error("no disk"); } }`);
    project.config("plugins:\n  a: {}\n  boom: {}\n");
    const kernel = await Kernel.load({ root: project.root });
    const error = await kernel.start().catch((e) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error.message).toBe("plugin 'boom': setup failed: no disk");
    expect(readFileSync(journal, "utf8").trim().split("\n")).toEqual(["a:setup", "a:stop"]);
  });

  test("a bad manifest is refused with the folder and the field", async () => {
    project = tempProject();
    project.plugin("plugins/tools", "bad", `{ name: "Bad Name", kind: "tool", version: "1.0.0", setup() {} }`);
    const error = await Kernel.load({ root: project.root }).catch((e) => e);
    expect(error.message).toContain("plugins/tools/bad: manifest field 'name'");
  });

  test("a plugin in the wrong kind folder is refused", async () => {
    project = tempProject();
    project.plugin("plugins/models", "x", `{ name: "x", kind: "tool", version: "1.0.0", setup() {} }`);
    const error = await Kernel.load({ root: project.root }).catch((e) => e);
    expect(error.message).toContain("declares kind 'tool' but sits in 'models/'");
  });
});

describe("drop-in plugins", () => {
  const greeter = `{
    name: "greeter",
    kind: "service",
    version: "2.1.0",
    description: "says hello",
    defaultPort: 0,
    permissions: { env: ["GREETING"] },
    setup(ctx) {
      return { http: { mount: (app) => app.get("/hello", () => ({ hello: ctx.env.get("GREETING") ?? "world" })) } };
    },
  }`;

  test("copy a folder into a plugin directory, restart, and it is loaded and listed", async () => {
    project = tempProject();
    // The plugin is written somewhere else first, as a user would download it.
    project.plugin("downloads", "greeter", greeter);
    project.config("plugin_dirs: [extra]\nplugins: {}\n");

    const before = await Kernel.load({ root: project.root });
    expect(before.plugins.map((p) => p.definition.name)).not.toContain("greeter");

    cpSync(join(project.root, "downloads", "greeter"), join(project.root, "extra", "greeter"), { recursive: true });
    project.config("plugin_dirs: [extra]\nplugins:\n  greeter: {}\n");

    const after = await Kernel.load({ root: project.root });
    const plan = after.plugins.find((p) => p.definition.name === "greeter")!;
    expect(plan.enabled).toBe(true);
    expect(plan.permissions).toEqual({ env: ["GREETING"] });
    await after.start();
    try {
      const res = await fetch(`${after.server("greeter")!.url}/hello`);
      expect(await res.json()).toEqual({ hello: "world" });
    } finally {
      await after.stop();
    }
  });

  test("`rock plugins` lists kind, version, enabled state and permissions", async () => {
    project = tempProject();
    project.plugin("plugins/services", "greeter", greeter);
    project.plugin("plugins/tools", "idle", `{ name: "idle", kind: "tool", version: "0.0.1", permissions: { net: ["example.com"] }, setup() { return {}; } }`);
    project.config("plugins:\n  greeter: {}\n");
    const { main } = await import("../../core/cli.ts");
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      process.env.ROCK_CONFIG = join(project.root, "conf/rock.yml");
      process.env.ROCK_PLUGIN_DIRS = join(project.root, "plugins", "services") + ":" + join(project.root, "plugins", "tools");
      expect(await main(["plugins", "--json"])).toBe(0);
    } finally {
      console.log = original;
      delete process.env.ROCK_CONFIG;
      delete process.env.ROCK_PLUGIN_DIRS;
    }
    const rows = JSON.parse(lines.join("\n")) as any[];
    const greeterRow = rows.find((r) => r.name === "greeter");
    expect(greeterRow).toMatchObject({ kind: "service", version: "2.1.0", enabled: true, permissions: { env: ["GREETING"] } });
    expect(rows.find((r) => r.name === "idle")).toMatchObject({ kind: "tool", enabled: false, permissions: { net: ["example.com"] } });
    expect(rows.find((r) => r.name === "envhub")).toMatchObject({ kind: "service", enabled: false, port: 8081 });
  });
});

describe("the rock process", () => {
  test("`bun run rock --help` describes the commands", () => {
    const out = Bun.spawnSync([bun, join(repoRoot, "core/cli.ts"), "--help"]);
    expect(out.exitCode).toBe(0);
    const text = out.stdout.toString();
    expect(text).toContain("plugins");
    expect(text).toContain("serve");
    expect(text).toContain("ROCK_API_TOKEN");
  });

  test("a bad config exits 2 with one clear line, no stack trace", () => {
    project = tempProject();
    project.config("server:\n  host: 12\n  shutdown_timeout_ms: -5\n");
    const out = Bun.spawnSync([bun, join(repoRoot, "core/cli.ts")], { env: { ...process.env, ROCK_CONFIG: join(project.root, "conf/rock.yml") } });
    expect(out.exitCode).toBe(2);
    const err = out.stderr.toString();
    expect(err).toContain("server.shutdown_timeout_ms: expected integer to be greater or equal to 100 (got -5)");
    expect(err).not.toContain("    at ");
  });

  test("serves /health, then SIGTERM stops every plugin within the bound and exits 0", async () => {
    project = tempProject();
    const port = freePort();
    const marker = join(project.root, "stopped.txt");
    project.plugin(
      "plugins/services",
      "slowstop",
      `{ name: "slowstop", kind: "service", version: "1.0.0", defaultPort: ${port},
         setup() { return { http: { mount: (app) => app }, stop: async () => { await Bun.sleep(200); writeFileSync(${JSON.stringify(marker)}, "ok"); } }; } }`,
      `import { writeFileSync } from "node:fs";`,
    );
    project.config("plugins:\n  slowstop: {}\n");
    const child = Bun.spawn([bun, join(repoRoot, "core/cli.ts")], {
      env: { ...process.env, ROCK_CONFIG: join(project.root, "conf/rock.yml"), ROCK_PLUGIN_DIRS: join(project.root, "plugins") },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const res = await waitForHttp(`http://127.0.0.1:${port}/health`);
      expect(await res.json()).toEqual({ status: "ok", service: "slowstop" });
      const began = performance.now();
      child.kill("SIGTERM");
      expect(await child.exited).toBe(0);
      expect(performance.now() - began).toBeLessThan(5000);
      expect(existsSync(marker)).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
