import type Docker from "dockerode";
import { hostname } from "node:os";
import type { Deployment, InstanceState, InstanceStatus, SandboxHandle, SandboxSpec } from "../../../core/kinds/deployment.ts";
import { Unavailable } from "../../../core/errors.ts";
import type { Logger } from "../../../core/log.ts";
import type { ScopedContainer, ScopedDocker } from "../../../core/permissions/docker.ts";
import { assertSandboxId } from "../../shared/deployment/sandbox-id.ts";
import { containerName, rockletStdin, sandboxContainer, SANDBOX_ID_LABEL, type ContainerSettings } from "./container-options.ts";
import { logTail } from "../../shared/containers/container-logs.ts";
import { engineMessage, hasStatus } from "../../shared/containers/docker-errors.ts";
import { exitReason } from "../../shared/containers/exit-reason.ts";
import { ContainerExited, ContainerRuntime, publishedPort, StartFailed } from "../../shared/containers/runtime.ts";

export interface DockerDeploymentOptions extends ContainerSettings {
  name: string;
  defaultPull: SandboxSpec["pull"];
  /** Seconds between SIGTERM and SIGKILL when a sandbox is stopped. */
  stopTimeoutSeconds: number;
  /**
   * How the server reaches the rocklet: at the loopback port published on the engine's host, or at the container's
   * own address (no docker-proxy between, which copies every request and answer; the server must be on that host).
   */
  rockletAddress: "published" | "container";
  /** Checks that the rocklet binary exists before anything is created. */
  assertRockletBinary(): Promise<void>;
}

function stateOf(running: boolean | undefined): InstanceState {
  return running ? "running" : "stopped";
}

/** Sandboxes as Docker containers named `rock-<sandbox_id>`, each running the rocklet on a loopback-published port. */
export class DockerDeployment implements Deployment {
  readonly name: string;
  private readonly containers: ContainerRuntime;

  constructor(
    docker: ScopedDocker,
    private readonly options: DockerDeploymentOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
    this.containers = new ContainerRuntime(docker);
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle> {
    assertSandboxId(spec.sandbox_id);
    await this.options.assertRockletBinary();
    await this.containers.ensureImage(spec.image, spec.pull ?? this.options.defaultPull);
    signal?.throwIfAborted();

    let container: ScopedContainer;
    try {
      container = await this.containers.create(sandboxContainer(spec, this.options));
    } catch (error) {
      if (error instanceof Unavailable) throw error;
      if (hasStatus(error, 409)) throw new Error(`sandbox '${spec.sandbox_id}' already has a container (${containerName(spec.sandbox_id)})`, { cause: error });
      throw new Error(`creating the container of sandbox '${spec.sandbox_id}' failed: ${engineMessage(error)}`, { cause: error });
    }
    // From here on nothing may be left half-created: any failure removes the container.
    try {
      signal?.throwIfAborted();
      return this.handle(spec.sandbox_id, await this.containers.start(container, rockletStdin(spec)));
    } catch (error) {
      const why = signal?.aborted ? "" : await this.startFailure(error);
      await this.containers.remove(container).catch((cleanup) => {
        this.log.error("removing a failed sandbox container failed", { sandbox_id: spec.sandbox_id, error: engineMessage(cleanup) });
      });
      if (signal?.aborted || error instanceof Unavailable) throw error;
      throw new Error(`starting the container of sandbox '${spec.sandbox_id}' failed: ${why}`, { cause: error });
    }
  }

  /** Read before the container is removed: an immediate exit is told with the rocklet's last output. */
  private async startFailure(error: unknown): Promise<string> {
    if (error instanceof ContainerExited) {
      const output = await logTail(error.container);
      const { State: state } = error.info;
      return `the rocklet exited at once (${state.Error || `exit code ${state.ExitCode}`})${output ? `: ${output}` : ""}`;
    }
    if (error instanceof StartFailed && error.step === "stdin") return `handing the rocklet its token failed: ${error.message}`;
    return engineMessage(error);
  }

  async state(sandboxId: string): Promise<InstanceState | InstanceStatus> {
    let found = await this.containers.find(containerName(sandboxId));
    if (!found) return "missing";
    if (found.info.State.Running) return "running";
    if (found.info.State.Status === "created") return { state: "stopped", reason: "its container was created but never started" };
    // The engine learns of an OOM kill by an event of its own that can arrive after the exit (seen on a loaded
    // machine): a SIGKILL that just happened is looked at again for a moment before it is called a plain kill.
    for (let look = 0; look < 5 && killedJustNow(found.info); look++) {
      await Bun.sleep(200);
      found = (await this.containers.find(containerName(sandboxId))) ?? found;
    }
    return { state: "stopped", reason: exitReason(found.info, "the rocklet", "the sandbox") };
  }

  async locate(sandboxId: string): Promise<SandboxHandle | null> {
    const found = await this.containers.find(containerName(sandboxId));
    if (!found?.info.State.Running) return null;
    return this.handle(sandboxId, found.info);
  }

  private handle(sandboxId: string, info: Docker.ContainerInspectInfo): SandboxHandle {
    const hostPort = publishedPort(info, this.options.rockletPort);
    return {
      sandbox_id: sandboxId,
      rockletUrl: this.options.rockletAddress === "container" ? `http://${this.containerAddress(info)}:${this.options.rockletPort}` : `http://127.0.0.1:${hostPort}`,
      host_ip: "127.0.0.1",
      host_name: hostname(),
      port_mapping: { [String(this.options.rockletPort)]: hostPort },
      instance_id: info.Id,
    };
  }

  private containerAddress(info: Docker.ContainerInspectInfo): string {
    const networks = info.NetworkSettings.Networks ?? {};
    const address = networks[this.options.networkMode]?.IPAddress || Object.values(networks).find((n) => n.IPAddress)?.IPAddress;
    if (!address) throw new Error(`container ${info.Name} has no address on network '${this.options.networkMode}' (rocklet_address: container)`);
    return address.includes(":") ? `[${address}]` : address;
  }

  stop(sandboxId: string): Promise<void> {
    return this.containers.stopAndRemove(containerName(sandboxId), this.options.stopTimeoutSeconds);
  }

  /** `docker pause`: the container's processes are frozen, its memory kept; Docker still reports it running. */
  async pause(sandboxId: string): Promise<void> {
    const found = await this.containers.find(containerName(sandboxId));
    if (!found?.info.State.Running) throw new Error(`sandbox '${sandboxId}' has no running container to pause`);
    // Docker answers 409 when another caller (another admin) paused it meanwhile: paused is what was asked.
    if (!found.info.State.Paused) await found.container.pause().catch(unlessConflict);
  }

  async resume(sandboxId: string): Promise<void> {
    const found = await this.containers.find(containerName(sandboxId));
    if (!found?.info.State.Running) throw new Error(`sandbox '${sandboxId}' has no running container to resume`);
    if (found.info.State.Paused) await found.container.unpause().catch(unlessConflict);
  }

  async list(): Promise<{ sandbox_id: string; state: InstanceState }[]> {
    return (await this.containers.list())
      .filter((c) => c.labels[SANDBOX_ID_LABEL])
      .map((c) => ({ sandbox_id: c.labels[SANDBOX_ID_LABEL], state: stateOf(c.running) }));
  }
}

function killedJustNow(info: Docker.ContainerInspectInfo): boolean {
  const { ExitCode, OOMKilled, FinishedAt } = info.State;
  return ExitCode === 137 && !OOMKilled && Date.now() - Date.parse(FinishedAt) < 2000;
}

/** Rethrows an engine error unless it is a 409 (the container is already in the state asked for). */
function unlessConflict(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode !== 409) throw error;
}
