import { Type } from "@sinclair/typebox";
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ScopedRun } from "../../../core/permissions/run.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot, ROCKLET_BINARY_DEFAULT, ROCKLET_SOURCE } from "../../lib/deployment/rocklet-files.ts";
import { bwrapCommand, bwrapFeatures, pathKind, realPath, targetsInside, type BwrapFeatures, type SandboxView } from "./isolation.ts";
import { LocalDeployment } from "./local-deployment.ts";
import type { ProcReader } from "./process-table.ts";
import { SandboxRecords } from "./sandbox-records.ts";

export default definePlugin({
  name: "local",
  kind: "deployment",
  version: "0.1.0",
  description:
    "sandboxes as local process groups (no Docker needed): the rocklet runs under a supervisor in its own work dir on a free " +
    "loopback port, isolated with bubblewrap (own mount, PID and user namespaces; the host read-only, the server's files " +
    "hidden; the host's network); `image` is recorded but not used (commands see the host's programs), and the cpus, " +
    "memory and pids limits are not enforced (no cgroups)",
  config: Type.Object({
    runner: Type.Union([Type.Literal("auto"), Type.Literal("binary"), Type.Literal("source")], {
      default: "auto",
      description: "How the rocklet runs: the compiled binary, its TypeScript source with this Bun, or auto (the binary when it exists)",
    }),
    rocklet_binary: Type.String({ default: ROCKLET_BINARY_DEFAULT, description: "Compiled rocklet (relative to the project root)" }),
    stop_grace_ms: Type.Integer({ default: 2000, minimum: 0, description: "Between SIGTERM and SIGKILL when a sandbox stops" }),
    keep_on_shutdown: Type.Boolean({ default: false, description: "Leave sandboxes running when the kernel stops (a later start finds them in list())" }),
    isolation: Type.Union([Type.Literal("auto"), Type.Literal("bubblewrap"), Type.Literal("none")], {
      default: "auto",
      description:
        "auto: bubblewrap when it works here, else none with a warning; bubblewrap: refuse to start without it; none: no isolation",
    }),
    bwrap: Type.String({ default: "bwrap", minLength: 1, description: "The bubblewrap program (a name looked up in PATH, or a path)" }),
    hide: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: "More host paths sandboxes must not see, besides the project, the data dir, the server's home, /run and /tmp (e.g. a config file kept elsewhere)",
    }),
  }),
  configEnv: { ROCK_LOCAL_ISOLATION: "isolation", ROCK_LOCAL_BWRAP: "bwrap" },
  // The supervisor and, without a binary, the rocklet source both run on the Bun that runs the kernel; the supervisor
  // starts bubblewrap.
  permissions: (config, paths) => ({
    run: [process.execPath, ...(config.isolation === "none" ? [] : [config.bwrap])],
    read: ["/proc", fromRoot(paths.root, config.rocklet_binary)],
  }),
  async setup(ctx) {
    const proc: ProcReader = {
      text: (path) => readFileSync(ctx.fs.check(path, "read"), "utf8"),
      names: (dir) => readdirSync(ctx.fs.check(dir, "read")),
    };
    const records = new SandboxRecords(ctx.fs, join(ctx.paths.pluginData, ".sandboxes"));
    await records.load();
    const hide = [ctx.paths.root, ctx.paths.data, ctx.paths.pluginData, homedir(), "/run", ...ctx.config.hide].flatMap((p) => realPath(p) ?? []);
    const expose = targetsInside(["/etc/resolv.conf", "/etc/hosts", "/etc/localtime"], hide, realPath);
    const found =
      ctx.config.isolation === "none"
        ? { reason: "isolation: none in the config" }
        : await findBubblewrap(ctx.config.bwrap, ctx.run, { workDir: ctx.paths.pluginData, hide, expose: [...expose, process.execPath], tmpBytes: 1024 ** 2 });
    const bubblewrap = "path" in found ? found : null;
    if (!bubblewrap) {
      const { reason } = found as { reason: string };
      if (ctx.config.isolation === "bubblewrap") throw new Error(`plugins.local.isolation is bubblewrap, but ${reason}`);
      ctx.log.warn(
        `LOCAL SANDBOXES ARE NOT ISOLATED (${reason}): their commands run as the server's user and can read its files, ` +
          "environment and sockets; install bubblewrap (apt-get install bubblewrap) or use the docker deployment",
      );
    }
    const deployment = new LocalDeployment(
      {
        name: ctx.name,
        sandboxesDir: ctx.paths.pluginData,
        runner: ctx.config.runner,
        rockletBinary: fromRoot(ctx.paths.root, ctx.config.rocklet_binary),
        rockletSource: fromRoot(ctx.paths.root, ROCKLET_SOURCE),
        supervisor: join(ctx.paths.pluginDir, "supervisor.ts"),
        graceMs: ctx.config.stop_grace_ms,
        bubblewrap,
        hide,
        expose,
      },
      { fs: ctx.fs, run: ctx.run, proc, records, log: ctx.log, pathKind },
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

type Bubblewrap = { path: string; features: BwrapFeatures };

/**
 * Bubblewrap's path and options when it can build this plugin's sandboxes here, or why not: it may be missing, or
 * installed yet unable to create namespaces (e.g. in a container without user namespaces). The probe is a sandbox
 * with the real view (hidden paths, Bun shown again) running `bun --version`.
 */
async function findBubblewrap(program: string, run: ScopedRun, view: SandboxView): Promise<Bubblewrap | { reason: string }> {
  const path = Bun.which(program);
  if (!path) return { reason: `bubblewrap ('${program}') is not installed` };
  try {
    const features = bwrapFeatures((await run.exec([program, "--help"], { timeoutMs: 5000 })).stdout);
    const probe = await run.exec(bwrapCommand(program, features, view, pathKind, [process.execPath, "--version"]), { timeoutMs: 10_000 });
    if (probe.exitCode === 0) return { path, features };
    return { reason: `bubblewrap cannot create a sandbox here: ${(probe.stderr || probe.stdout).trim() || `exit ${probe.exitCode}`}` };
  } catch (error) {
    return { reason: `bubblewrap cannot run: ${error instanceof Error ? error.message : String(error)}` };
  }
}
