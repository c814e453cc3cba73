import { Type } from "@sinclair/typebox";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot, ROCKLET_BINARY_DEFAULT, ROCKLET_SOURCE } from "../../lib/deployment/rocklet-files.ts";
import { LocalDeployment } from "./local-deployment.ts";
import type { ProcReader } from "./process-table.ts";
import { SandboxRecords } from "./sandbox-records.ts";

export default definePlugin({
  name: "local",
  kind: "deployment",
  version: "0.1.0",
  description:
    "sandboxes as local process groups (no Docker needed): the rocklet runs under a supervisor in its own work dir on a free " +
    "loopback port; `image` is recorded but not used (commands see the host's filesystem and programs), and the cpus, " +
    "memory and pids limits are not enforced (no cgroups)",
  config: Type.Object({
    runner: Type.Union([Type.Literal("auto"), Type.Literal("binary"), Type.Literal("source")], {
      default: "auto",
      description: "How the rocklet runs: the compiled binary, its TypeScript source with this Bun, or auto (the binary when it exists)",
    }),
    rocklet_binary: Type.String({ default: ROCKLET_BINARY_DEFAULT, description: "Compiled rocklet (relative to the project root)" }),
    stop_grace_ms: Type.Integer({ default: 2000, minimum: 0, description: "Between SIGTERM and SIGKILL when a sandbox stops" }),
    keep_on_shutdown: Type.Boolean({ default: false, description: "Leave sandboxes running when the kernel stops (a later start finds them in list())" }),
  }),
  // The supervisor and, without a binary, the rocklet source both run on the Bun that runs the kernel.
  permissions: (config, paths) => ({ run: [process.execPath], read: ["/proc", fromRoot(paths.root, config.rocklet_binary)] }),
  async setup(ctx) {
    const proc: ProcReader = {
      text: (path) => readFileSync(ctx.fs.check(path, "read"), "utf8"),
      names: (dir) => readdirSync(ctx.fs.check(dir, "read")),
    };
    const records = new SandboxRecords(ctx.fs, join(ctx.paths.pluginData, ".sandboxes"));
    await records.load();
    const deployment = new LocalDeployment(
      {
        name: ctx.name,
        sandboxesDir: ctx.paths.pluginData,
        runner: ctx.config.runner,
        rockletBinary: fromRoot(ctx.paths.root, ctx.config.rocklet_binary),
        rockletSource: fromRoot(ctx.paths.root, ROCKLET_SOURCE),
        supervisor: join(ctx.paths.pluginDir, "supervisor.ts"),
        graceMs: ctx.config.stop_grace_ms,
      },
      { fs: ctx.fs, run: ctx.run, proc, records, log: ctx.log },
    );
    const earlier = await deployment.list();
    if (earlier.length > 0) {
      const running = earlier.filter((s) => s.state === "running").length;
      ctx.log.info("sandboxes from an earlier run", { total: earlier.length, running });
    }
    return {
      deployment,
      stop: () => (ctx.config.keep_on_shutdown ? undefined : deployment.stopAll()),
    };
  },
});
