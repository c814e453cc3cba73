import { chownSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { Deployment, InstanceState, SandboxHandle, SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Logger } from "../../../core/log.ts";
import type { ScopedFs } from "../../../core/permissions/fs.ts";
import type { ScopedRun } from "../../../core/permissions/run.ts";
import { ROCKLET_PACKAGES } from "../../shared/deployment/rocklet-files.ts";
import { assertSandboxId } from "../../shared/deployment/sandbox-id.ts";
import { freeLoopbackPort } from "./free-port.ts";
import { bwrapCommand, type BwrapFeatures, type Isolation, type PathKind, type RunAs, type SandboxView } from "./isolation.ts";
import { descendantsOf, processTable, readProcess, sendSignal, stillRunning, type ProcReader } from "./process-table.ts";
import { BUN_FLAGS, rockletLaunch, type RockletLaunch, type Runner } from "./rocklet-launch.ts";
import type { SandboxRecord, SandboxRecords } from "./sandbox-records.ts";

export interface LocalDeploymentOptions {
  name: string;
  /** Parent of the sandboxes' work dirs. */
  sandboxesDir: string;
  runner: Runner;
  rockletBinary: string;
  rockletSource: string;
  supervisor: string;
  /** How long processes get between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Bubblewrap and what it supports, or null: the sandboxes run unconfined. */
  bubblewrap: { path: string; features: BwrapFeatures } | null;
  /** The uid and gid sandboxes run as (their work dir is theirs); null: the server's. */
  runAs: RunAs | null;
  /** Host paths a sandbox must not see (the server's files, other sandboxes, sockets). */
  hide: string[];
  /** Host paths inside hidden ones that every sandbox needs read-only (e.g. /etc/resolv.conf's target). */
  expose: string[];
}

export interface LocalDeploymentCapabilities {
  fs: ScopedFs;
  run: ScopedRun;
  proc: ProcReader;
  records: SandboxRecords;
  log: Logger;
  pathKind: PathKind;
}

/** Sandboxes as local process groups: a supervisor (child subreaper) running the rocklet in the sandbox's work dir. */
export class LocalDeployment implements Deployment {
  readonly name: string;

  constructor(
    private readonly options: LocalDeploymentOptions,
    private readonly caps: LocalDeploymentCapabilities,
  ) {
    this.name = options.name;
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle> {
    assertSandboxId(spec.sandbox_id);
    const { fs, run, records } = this.caps;
    const existing = records.get(spec.sandbox_id);
    if (existing) {
      const state = this.isRunning(existing) ? "running" : "stopped";
      throw new Error(`sandbox '${spec.sandbox_id}' already exists (${state}); stop it before starting it again`);
    }
    signal?.throwIfAborted();

    const workDir = join(this.options.sandboxesDir, spec.sandbox_id);
    const port = freeLoopbackPort();
    const launch = rockletLaunch(
      this.options.runner,
      { binary: this.options.rockletBinary, binaryExists: await this.binaryExists(), source: this.options.rockletSource },
      port,
    );
    await fs.mkdir(workDir);
    const { bubblewrap, runAs } = this.options;
    // A file, not the environment: the rocklet deletes it once read, so its commands never see the token.
    const tokenFile = join(workDir, ".rocklet-token");
    writeFileSync(fs.check(tokenFile, "write"), spec.rockletToken, { mode: 0o600 });
    if (bubblewrap && runAs) for (const path of [workDir, tokenFile]) chownSync(fs.check(path, "write"), runAs.uid, runAs.uid);
    const rocklet = [...launch.command, "--token-file", tokenFile];
    const isolation: Isolation = bubblewrap ? "bubblewrap" : "none";
    const command = bubblewrap
      ? bwrapCommand(bubblewrap.path, bubblewrap.features, this.view(workDir, launch, spec), this.caps.pathKind, rocklet, runAs)
      : rocklet;
    if (!bubblewrap) this.caps.log.warn("local sandbox runs WITHOUT isolation: it sees the host's files and processes as the server's user", { sandbox_id: spec.sandbox_id });
    let pid: number | undefined;
    try {
      const supervisor = run.spawn(
        [process.execPath, ...BUN_FLAGS, this.options.supervisor, "--log", records.logFile(spec.sandbox_id), "--grace-ms", String(this.options.graceMs), ...(bubblewrap ? ["--isolated"] : []), "--", ...command],
        {
          cwd: workDir,
          // HOME is the work dir so that tools writing ~/.cache or ~/.config stay inside the sandbox.
          env: { TMPDIR: "/tmp", ...spec.env, HOME: workDir },
          detached: true,
          stdin: "ignore",
          stdout: "ignore",
          stderr: "ignore",
        },
      );
      supervisor.unref();
      pid = supervisor.pid;
      const entry = readProcess(pid, this.caps.proc);
      if (!entry) throw new Error(`the sandbox's supervisor (pid ${pid}) exited at once; see ${records.logFile(spec.sandbox_id)}`);
      await records.put({
        sandbox_id: spec.sandbox_id,
        pid,
        startTicks: entry.startTicks,
        port,
        workDir,
        image: spec.image,
        runner: launch.runner,
        isolation,
        labels: spec.labels,
        created_at: new Date().toISOString(),
      });
    } catch (error) {
      if (pid !== undefined) sendSignal(-pid, "SIGKILL");
      await records.remove(spec.sandbox_id).catch(() => undefined);
      await fs.remove(workDir).catch(() => undefined);
      throw new Error(`starting local sandbox '${spec.sandbox_id}' failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return this.handle(spec.sandbox_id, port, pid, isolation);
  }

  private handle(sandbox_id: string, port: number, pid: number, isolation?: Isolation): SandboxHandle {
    return {
      sandbox_id,
      rockletUrl: `http://127.0.0.1:${port}`,
      host_ip: "127.0.0.1",
      host_name: hostname(),
      // No translation: the rocklet listens on the host port itself.
      port_mapping: { [String(port)]: port },
      instance_id: String(pid),
      isolation,
    };
  }

  async state(sandboxId: string): Promise<InstanceState> {
    const record = this.caps.records.get(sandboxId);
    if (!record) return "missing";
    return this.isRunning(record) ? "running" : "stopped";
  }

  async locate(sandboxId: string): Promise<SandboxHandle | null> {
    const record = this.caps.records.get(sandboxId);
    if (!record || !this.isRunning(record)) return null;
    return this.handle(record.sandbox_id, record.port, record.pid, record.isolation);
  }

  async stop(sandboxId: string): Promise<void> {
    const record = this.caps.records.get(sandboxId);
    if (!record) return;
    if (this.isRunning(record)) await this.terminate(record);
    await this.caps.fs.remove(record.workDir);
    await this.caps.fs.remove(this.caps.records.logFile(sandboxId));
    await this.caps.records.remove(sandboxId);
  }

  async list(): Promise<{ sandbox_id: string; state: InstanceState }[]> {
    return this.caps.records.all().map((r) => ({ sandbox_id: r.sandbox_id, state: this.isRunning(r) ? "running" : "stopped" }));
  }

  /** Stops every sandbox this deployment knows (kernel shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all(this.caps.records.all().map((r) => this.stop(r.sandbox_id)));
  }

  private isRunning(record: SandboxRecord): boolean {
    return stillRunning(record.pid, record.startTicks, this.caps.proc);
  }

  /**
   * SIGTERM to the group: the supervisor then ends everything below it within the grace period. Should it hang,
   * its tree is killed from here, taken as a snapshot before the supervisor dies and its orphans scatter to init.
   */
  private async terminate(record: SandboxRecord): Promise<void> {
    sendSignal(-record.pid, "SIGTERM");
    const deadline = Date.now() + this.options.graceMs + 2000;
    while (Date.now() < deadline) {
      if (!this.isRunning(record)) return;
      await Bun.sleep(20);
    }
    this.caps.log.warn("sandbox supervisor did not end in time; killing its processes", { sandbox_id: record.sandbox_id, pid: record.pid });
    const tree = descendantsOf(record.pid, processTable(this.caps.proc));
    sendSignal(-record.pid, "SIGKILL");
    for (const p of tree) sendSignal(p.pid, "SIGKILL");
  }

  /** What the sandbox sees: the host read-only, minus the hidden paths, plus the rocklet and its own work dir. */
  private view(workDir: string, launch: RockletLaunch, spec: SandboxSpec): SandboxView {
    // From source, the rocklet imports beyond its folder (plugins/programs, plugins/protocol): plugins/ is all code,
    // and the npm packages it uses.
    const plugins = dirname(dirname(dirname(this.options.rockletSource)));
    const packages = ROCKLET_PACKAGES.map((name) => join(dirname(plugins), "node_modules", name));
    const rocklet = launch.runner === "binary" ? [this.options.rockletBinary] : [process.execPath, plugins, ...packages];
    return { workDir, hide: this.options.hide, expose: [...this.options.expose, ...rocklet], tmpBytes: spec.memoryBytes };
  }

  private async binaryExists(): Promise<boolean> {
    try {
      return (await this.caps.fs.stat(this.options.rockletBinary)).isFile();
    } catch {
      return false;
    }
  }
}
