/**
 * The architecture as a test: every import under core/, plugins/ and workers/ follows the map of README "Design >
 * Where the code runs", and no file imports itself back through others.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { importCycles, importsUnder, mapProblems, type Import } from "./imports.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

describe("this tree", () => {
  const imports = importsUnder(repoRoot, ["core", "plugins", "workers"]);

  test("the walk sees the code base (a walk that finds nothing would pass everything)", () => {
    expect(imports.length).toBeGreaterThan(500);
    expect(imports).toContainEqual({ from: "core/kernel.ts", specifier: "./context.ts", to: "core/context.ts" });
  });

  test("has no import cycle", () => {
    expect(importCycles(imports)).toEqual([]);
  });

  test("imports follow the map", () => {
    expect(mapProblems(imports)).toEqual([]);
  });
});

describe("the checks catch what they are for", () => {
  let project: TempProject;
  afterEach(() => project?.remove());

  test("each rule and a cycle, named by file and import; comments and packages do not count", () => {
    project = tempProject("rock-arch-");
    const files: Record<string, string> = {
      "core/kernel.ts": `import "../plugins/models/echo/client.ts";\n// import "../workers/runtime/main.ts";\nimport { Elysia } from "elysia";`,
      "core/x.ts": `export { y } from "./y.ts"; export const x = 1;`,
      "core/y.ts": `import type { x } from "./x.ts"; export const y = 2;`,
      "plugins/services/admin/plugin.ts": `import { engineMessage } from "../../deployments/docker/errors.ts";`,
      "plugins/services/admin/more.ts": `import "../../programs/rocklet/server.ts";`,
      "plugins/services/admin/fine.ts": [
        `import "./plugin.ts";`,
        `import "../../../core/kernel.ts";`,
        `import "../../shared/helper.ts";`,
        `import "../../protocol/wire.ts";`,
        `import "../../clients/sdk/index.ts";`,
      ].join("\n"),
      "plugins/programs/tool-node/main.ts": `import "../../tools/calculator/tool.ts";\nimport "../../models/echo/client.ts";`,
      "plugins/clients/sdk/index.ts": `import "../../programs/model-service/build.ts";`,
      "plugins/protocol/wire.ts": `export const load = () => import("../services/admin/plugin.ts");`,
      "plugins/models/echo/client.ts": "",
      "plugins/deployments/docker/errors.ts": "",
      "plugins/programs/rocklet/server.ts": "",
      "plugins/programs/model-service/build.ts": "",
      "plugins/tools/calculator/tool.ts": "",
      "plugins/shared/helper.ts": "",
      "workers/runtime/main.ts": "",
    };
    for (const [path, text] of Object.entries(files)) project.write(path, text);
    const imports = importsUnder(project.root, ["core", "plugins", "workers"]);

    expect(mapProblems(imports).sort()).toEqual([
      'core/kernel.ts: import "../plugins/models/echo/client.ts" (plugins/models/echo/client.ts): core/ imports only core/: the kernel knows no plugin and no worker',
      'plugins/clients/sdk/index.ts: import "../../programs/model-service/build.ts" (plugins/programs/model-service/build.ts): clients/ and protocol/ import neither plugin folders nor programs/',
      'plugins/programs/tool-node/main.ts: import "../../models/echo/client.ts" (plugins/models/echo/client.ts): programs import no plugin folder but plugins/tools (the tool node bundles the tools)',
      'plugins/protocol/wire.ts: import "../services/admin/plugin.ts" (plugins/services/admin/plugin.ts): clients/ and protocol/ import neither plugin folders nor programs/',
      'plugins/services/admin/more.ts: import "../../programs/rocklet/server.ts" (plugins/programs/rocklet/server.ts): a plugin imports only core/, its own folder, plugins/protocol, plugins/shared and plugins/clients',
      "plugins/services/admin/plugin.ts: import \"../../deployments/docker/errors.ts\" (plugins/deployments/docker/errors.ts): a plugin never imports another plugin's folder: shared code goes to plugins/shared, instances are reached through ctx.use",
    ]);
    expect(importCycles(imports)).toEqual(['core/x.ts imports "./y.ts" -> core/y.ts imports "./x.ts" -> core/x.ts']);
  });

  test("a longer cycle is shown as the chain that closes it", () => {
    const edge = (from: string, to: string): Import => ({ from, specifier: `./${to.split("/").pop()}`, to });
    const imports = [edge("core/a.ts", "core/b.ts"), edge("core/b.ts", "core/c.ts"), edge("core/c.ts", "core/a.ts"), edge("core/c.ts", "core/d.ts")];
    expect(importCycles(imports)).toEqual(['core/a.ts imports "./b.ts" -> core/b.ts imports "./c.ts" -> core/c.ts imports "./a.ts" -> core/a.ts']);
  });
});
