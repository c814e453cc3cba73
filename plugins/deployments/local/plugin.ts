import { Type } from "@sinclair/typebox";
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ScopedFs } from "../../../core/permissions/fs.ts";
import type { ScopedRun } from "../../../core/permissions/run.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot, ROCKLET_BINARY_DEFAULT, ROCKLET_SOURCE } from "../../shared/deployment/rocklet-files.ts";
import { bwrapCommand, bwrapFeatures, pathKind, realPath, targetsInside, type BwrapFeatures, type RunAs, type SandboxView } from "./isolation.ts";
import { LocalDeployment } from "./local-deployment.ts";
import { BUN_FLAGS } from "./rocklet-launch.ts";
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
    sandbox_uid: Type.Integer({
      default: 65534,
      minimum: 0,
      description: "When the server runs as root, isolated sandboxes run as this uid and gid (65534: nobody); 0 keeps root, without capabilities",
    }),
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
    const hide = [ctx.paths.root, ctx.paths.data, ctx.paths.pluginData, homedir(), "/run", "/var/run", ...ctx.config.hide].flatMap((p) => realPath(p) ?? []);
    const expose = targetsInside(["/etc/resolv.conf", "/etc/hosts", "/etc/localtime"], hide, realPath);
    const supervisor = join(ctx.paths.pluginDir, "supervisor.ts");
    // A root server hands its sandboxes to an unprivileged uid: root without capabilities still owns root's files.
    const wantedUid = process.getuid?.() === 0 && ctx.config.sandbox_uid !== 0 ? ctx.config.sandbox_uid : null;
    const probeView = { workDir: ctx.paths.pluginData, hide, expose: [...expose, process.execPath], tmpBytes: 1024 ** 2 };
    const { bubblewrap, runAs, reason } =
      ctx.config.isolation === "none"
        ? { bubblewrap: null, runAs: null, reason: "isolation: none in the config" }
        : await chooseIsolation(ctx.config.bwrap, { run: ctx.run, fs: ctx.fs, supervisor, log: join(records.dir, "bubblewrap-probe.log"), view: probeView }, wantedUid);
    if (!bubblewrap) {
      if (ctx.config.isolation === "bubblewrap") throw new Error(`plugins.local.isolation is bubblewrap, but ${reason}`);
      ctx.log.warn(
        `LOCAL SANDBOXES ARE NOT ISOLATED (${reason}): their commands run as the server's user and can read its files, ` +
          "environment and sockets; install bubblewrap (apt-get install bubblewrap) or use the docker deployment",
      );
    } else if (wantedUid !== null && runAs === null) {
      ctx.log.warn(
        `local sandboxes run as root (without capabilities, in their own namespaces): ${reason}; let uid ${wantedUid} cross ` +
          "the data dir's parents, or set plugins.local.sandbox_uid: 0 to say root is intended",
      );
    }
    const deployment = new LocalDeployment(
      {
        name: ctx.name,
        sandboxesDir: ctx.paths.pluginData,
        runner: ctx.config.runner,
        rockletBinary: fromRoot(ctx.paths.root, ctx.config.rocklet_binary),
        rockletSource: fromRoot(ctx.paths.root, ROCKLET_SOURCE),
        supervisor,
        graceMs: ctx.config.stop_grace_ms,
        bubblewrap,
        runAs,
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

interface IsolationChoice {
  bubblewrap: Bubblewrap | null;
  /** The uid the sandboxes run as; null: the server's, in a user namespace. */
  runAs: RunAs | null;
  /** Why there is no bubblewrap, or why the sandboxes keep the server's uid although another was asked for. */
  reason?: string;
}

/**
 * Bubblewrap's path and options when it can build this plugin's sandboxes here, or why not: it may be missing, or
 * installed yet unable to create namespaces (e.g. in a container without user namespaces). The probe is the real
 * thing: the supervisor running bubblewrap with the sandboxes' view (hidden paths, Bun shown again) and identity,
 * Bun listing the work dirs' parent. Should the uid drop fail (no setpriv, a data dir the uid cannot reach), the
 * server's uid is tried.
 */
async function chooseIsolation(
  program: string,
  probe: { run: ScopedRun; fs: ScopedFs; supervisor: string; log: string; view: SandboxView },
  uid: number | null,
): Promise<IsolationChoice> {
  const path = Bun.which(program);
  if (!path) return { bubblewrap: null, runAs: null, reason: `bubblewrap ('${program}') is not installed` };
  let features: BwrapFeatures;
  try {
    features = bwrapFeatures((await probe.run.exec([program, "--help"], { timeoutMs: 5000 })).stdout);
  } catch (error) {
    return { bubblewrap: null, runAs: null, reason: `bubblewrap cannot run: ${error instanceof Error ? error.message : String(error)}` };
  }
  const failures: string[] = [];
  const candidates: (RunAs | null)[] = [null];
  if (uid !== null) {
    const setpriv = Bun.which("setpriv");
    if (!features.perms) failures.push("this bubblewrap has no --perms (0.5 or later needed)");
    else if (!setpriv) failures.push("setpriv (util-linux) is not installed");
    else candidates.unshift({ uid, setpriv });
  }
  for (const runAs of candidates) {
    await probe.fs.remove(probe.log);
    // By its absolute path, as the rocklet will: the sandbox's uid must be able to cross every directory above it.
    const list = `require("node:fs").readdirSync(${JSON.stringify(probe.view.workDir)})`;
    const reach = [process.execPath, ...BUN_FLAGS, "--eval", `try { ${list} } catch (e) { console.error(e.message); process.exit(1) }`];
    const command = bwrapCommand(program, features, probe.view, pathKind, reach, runAs);
    const result = await probe.run.exec([process.execPath, ...BUN_FLAGS, probe.supervisor, "--log", probe.log, "--grace-ms", "0", "--isolated", "--", ...command], {
      timeoutMs: 15_000,
    });
    const said = (await probe.fs.readText(probe.log).catch(() => "")).split("\n").filter((line) => line && !line.startsWith("[supervisor]"));
    await probe.fs.remove(probe.log);
    if (result.exitCode === 0) {
      const reason = uid !== null && runAs === null ? `running them as uid ${uid} failed: ${failures[0]}` : undefined;
      return { bubblewrap: { path, features }, runAs, reason };
    }
    failures.push(said.join(" ").trim() || `exit ${result.exitCode}`);
  }
  return { bubblewrap: null, runAs: null, reason: `bubblewrap cannot create a sandbox here: ${failures.at(-1)}` };
}
