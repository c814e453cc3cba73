import { afterEach, describe, expect, test } from "bun:test";
import { ConfigError } from "../../core/errors.ts";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

let project: TempProject;
afterEach(() => project?.remove());

const withSchema = `{
  name: "needy",
  kind: "service",
  version: "1.0.0",
  defaultPort: 0,
  config: Type.Object({ api_base: Type.String({ pattern: "^https?://" }), retries: Type.Integer({ default: 2, minimum: 0 }) }),
  setup() { return {}; },
}`;

async function loadError(yaml: string, env: Record<string, string> = {}): Promise<ConfigError> {
  project = tempProject();
  project.plugin("plugins/services", "needy", withSchema);
  project.config(yaml);
  const error = await Kernel.load({ root: project.root, env }).catch((e) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error;
}

describe("bad config fails at load with the file, the field and what was expected", () => {
  test("wrong type in a kernel section", async () => {
    const error = await loadError("server:\n  shutdown_timeout_ms: soon\n");
    expect(error.message).toBe('conf/rock.yml: server.shutdown_timeout_ms: expected integer (got "soon")');
  });

  test("wrong type in a plugin section", async () => {
    const error = await loadError("plugins:\n  needy:\n    api_base: http://x\n    retries: many\n");
    expect(error.file).toBe("conf/rock.yml");
    expect(error.field).toBe("plugins.needy.retries");
    expect(error.message).toContain("expected integer");
  });

  test("missing required field", async () => {
    const error = await loadError("plugins:\n  needy: {}\n");
    expect(error.field).toBe("plugins.needy.api_base");
    expect(error.message).toContain("conf/rock.yml: plugins.needy.api_base: expected required property");
  });

  test("value not matching its pattern", async () => {
    const error = await loadError("plugins:\n  needy:\n    api_base: ftp://nope\n");
    expect(error.field).toBe("plugins.needy.api_base");
    expect(error.message).toContain("ftp://nope");
  });

  test("unknown plugin", async () => {
    const error = await loadError("plugins:\n  nosuch:\n    x: 1\n");
    expect(error.field).toBe("plugins.nosuch");
    expect(error.message).toContain("unknown plugin 'nosuch' (discovered: needy)");
  });

  test("unknown field in a plugin section (a typo)", async () => {
    const error = await loadError("plugins:\n  needy:\n    api_base: http://x\n    retires: 3\n");
    expect(error.field).toBe("plugins.needy.retires");
    expect(error.message).toContain("unknown field");
  });

  test("unknown top-level section", async () => {
    const error = await loadError("storage:\n  type: memory\n");
    expect(error.field).toBe("storage");
    expect(error.message).toContain("unknown field");
  });

  test("malformed YAML", async () => {
    const error = await loadError("server: [unclosed\n");
    expect(error.message).toStartWith("conf/rock.yml: not valid YAML");
  });

  test("redis store without a URL", async () => {
    const error = await loadError("store:\n  type: redis\n");
    expect(error.field).toBe("store.url");
  });

  test("a bad value from an environment variable names the variable", async () => {
    const error = await loadError("plugins:\n  needy:\n    api_base: http://x\n", { ROCK_NEEDY_PORT: "eighty" });
    expect(error.file).toBe("environment variable ROCK_NEEDY_PORT");
    expect(error.field).toBe("plugins.needy.port");
  });

  test("ROCK_CONFIG naming a missing file", async () => {
    project = tempProject();
    const error = await Kernel.load({ root: project.root, env: { ROCK_CONFIG: "conf/missing.yml" } }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe("conf/missing.yml: file not found");
  });

  test("two services on one port", async () => {
    project = tempProject();
    project.plugin("plugins/services", "one", `{ name: "one", kind: "service", version: "1.0.0", defaultPort: 5555, setup() { return {}; } }`);
    project.plugin("plugins/services", "two", `{ name: "two", kind: "service", version: "1.0.0", defaultPort: 5555, setup() { return {}; } }`);
    project.config("plugins:\n  one: {}\n  two: {}\n");
    const error = await Kernel.load({ root: project.root }).catch((e) => e);
    expect(error.message).toContain("port 5555 is already used by 'one'");
  });
});

describe("config sources", () => {
  test("env overrides: addresses, ports, tokens, redis URL switches the store", async () => {
    project = tempProject();
    project.plugin("plugins/services", "needy", withSchema);
    project.config("plugins:\n  needy:\n    api_base: http://x\n");
    const kernel = await Kernel.load({
      root: project.root,
      env: { ROCK_HOST: "0.0.0.0", ROCK_NEEDY_PORT: "7001", ROCK_API_TOKEN: "tok-abc", ROCK_REDIS_URL: "redis://127.0.0.1:1", ROCK_DOCKER_SOCKET: "/tmp/d.sock" },
    });
    const plan = kernel.plugins.find((p) => p.definition.name === "needy")!;
    expect(plan.listen).toEqual({ host: "0.0.0.0", port: 7001, token: "tok-abc" });
    expect(plan.config).toEqual({ api_base: "http://x", retries: 2 });
    expect(kernel.config.kernel.store).toEqual({ type: "redis", url: "redis://127.0.0.1:1", key_prefix: "", timeout_ms: 1500 });
    expect(kernel.config.kernel.docker.socket).toBe("/tmp/d.sock");
  });

  test("ROCK_<PLUGIN>_ENABLED=false disables a plugin from the file", async () => {
    project = tempProject();
    project.plugin("plugins/services", "needy", withSchema);
    project.config("plugins:\n  needy:\n    api_base: http://x\n");
    const kernel = await Kernel.load({ root: project.root, env: { ROCK_NEEDY_ENABLED: "false" } });
    expect(kernel.enabledPlugins()).toEqual([]);
  });

  test("the repository's conf/rock.yml is valid and enables only plugins that exist", async () => {
    const kernel = await Kernel.load({ root: repoRoot, env: {} });
    expect(kernel.config.file).toBe("conf/rock.yml");
    expect(kernel.enabledPlugins().length).toBeGreaterThan(0);
  });

  test("no config file at all: embedded defaults", async () => {
    project = tempProject();
    const kernel = await Kernel.load({ root: project.root, env: {} });
    expect(kernel.config.file).toBe("(embedded defaults)");
    expect(kernel.config.kernel.store.type).toBe("memory");
    expect(kernel.config.kernel.server.host).toBe("127.0.0.1");
  });
});
