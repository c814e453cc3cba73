/**
 * Kind contracts at run time: the kernel checks each instance's shape once, after its setup, and `use(name, kind)`
 * checks the dependency's kind. Both errors name the plugins and what is wrong.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PluginError } from "../../core/errors.ts";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

let project: TempProject;
afterEach(() => project?.remove());

const imports = `import { appendFileSync } from "node:fs";`;
/** A filter that notes its stop in the journal: what was set up before a failure must be stopped again. */
const filter = (name: string) => `{
  name: ${JSON.stringify(name)}, kind: "filter", version: "1.0.0",
  setup: () => ({ args: Type.Object({}), create: () => ({}), stop: () => appendFileSync(process.env.JOURNAL, ${JSON.stringify(name)} + ":stop\\n") }),
}`;

async function startError(plugins: Record<string, [folder: string, definition: string]>, yaml: string): Promise<any> {
  project = tempProject();
  process.env.JOURNAL = join(project.root, "journal.txt");
  for (const [name, [folder, definition]] of Object.entries(plugins)) project.plugin(`plugins/${folder}`, name, definition, imports);
  project.config(yaml);
  const kernel = await Kernel.load({ root: project.root });
  const error = await kernel.start().catch((e) => e);
  await kernel.stop();
  return error;
}

const journal = () => (existsSync(process.env.JOURNAL!) ? readFileSync(process.env.JOURNAL!, "utf8").trim().split("\n") : []);

describe("the kernel checks each instance's shape at setup", () => {
  test("a deployment without deployment.list fails naming the plugin and the member; what was set up is stopped", async () => {
    const broken = `{ name: "broken", kind: "deployment", version: "1.0.0", dependencies: ["first"],
      setup: () => ({ deployment: { name: "broken", start() {}, state() {}, stop() {} } }) }`;
    const error = await startError({ first: ["filters", filter("first")], broken: ["deployments", broken] }, "plugins:\n  first: {}\n  broken: {}\n");
    expect(error).toBeInstanceOf(PluginError);
    expect(error.message).toBe("plugin 'broken': a deployment plugin provides deployment.list (a function), but setup returned undefined for it");
    expect(journal()).toEqual(["first:stop"]);
  });

  for (const [kind, folder, instance, message] of [
    ["operator", "operators", `{ deployment: {} }`, "an operator plugin provides operator (an object), but setup returned undefined for it"],
    ["model", "models", `{ client: { name: "m", chat: "yes", models() {} } }`, "a model plugin provides client.chat (a function), but setup returned a string for it"],
    ["tool", "tools", `{ tool: { name: 7, description: "", parameters: [], call() {} } }`, "a tool plugin provides tool.name (a string), but setup returned a number for it"],
    ["filter", "filters", `undefined`, "a filter plugin provides args (an object), but setup returned undefined for it"],
    ["service", "services", `{ http: { mount: null } }`, "a service plugin provides http.mount (a function), but setup returned null for it"],
  ] as const) {
    test(`${kind}: ${message}`, async () => {
      const definition = `{ name: "odd", kind: "${kind}", version: "1.0.0", defaultPort: 0, setup: () => (${instance}) }`;
      const error = await startError({ odd: [folder, definition] }, "plugins:\n  odd: {}\n");
      expect(error).toBeInstanceOf(PluginError);
      expect(error.message).toBe(`plugin 'odd': ${message}`);
    });
  }

  test("a hook that is not a function is refused at setup, not at shutdown", async () => {
    const definition = `{ name: "odd", kind: "filter", version: "1.0.0", setup: () => ({ args: Type.Object({}), create() {}, stop: "later" }) }`;
    const error = await startError({ odd: ["filters", definition] }, "plugins:\n  odd: {}\n");
    expect(error.message).toBe("plugin 'odd': setup returned stop as a string; it must be a function or absent");
  });
});

describe("use(name, kind) checks the dependency's kind", () => {
  test("a plugin using a filter as an operator fails naming both plugins", async () => {
    const user = `{ name: "user", kind: "filter", version: "1.0.0", dependencies: ["first"],
      setup(ctx) { ctx.use("first", "operator"); return { args: Type.Object({}), create() {} }; } }`;
    const error = await startError({ first: ["filters", filter("first")], user: ["filters", user] }, "plugins:\n  first: {}\n  user: {}\n");
    expect(error).toBeInstanceOf(PluginError);
    expect(error.message).toBe("plugin 'user': uses 'first' as an operator plugin, but 'first' is a filter plugin");
    expect(journal()).toEqual(["first:stop"]);
  });

  test("the admin configured with a deployment as its operator names both; no port is opened", async () => {
    project = tempProject("rock-kinds-");
    const yaml = "plugins:\n  remote:\n    url: http://127.0.0.1:9\n  admin:\n    port: 0\n    operator: remote\n";
    const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    const error = await kernel.start().catch((e) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error.message).toBe("plugin 'admin': uses 'remote' as an operator plugin, but 'remote' is a deployment plugin");
    expect(kernel.servers).toEqual([]);
  });

  test("the kernel's own use (worker layouts) refuses a plugin of another kind", async () => {
    project = tempProject("rock-kinds-");
    const kernel = await Kernel.load({ root: repoRoot, configFile: project.config("plugins:\n  echo: {}\n  regex: {}\n"), env: { ROCK_DATA_DIR: join(project.root, "data") } });
    await kernel.start();
    try {
      expect(typeof kernel.use("echo", "model").client.chat).toBe("function");
      expect(() => kernel.use("echo", "filter")).toThrow("plugin 'echo': is a model plugin, not a filter plugin");
      expect(() => kernel.use("openai", "model")).toThrow("plugin 'openai': is not set up");
    } finally {
      await kernel.stop();
    }
  });
});
