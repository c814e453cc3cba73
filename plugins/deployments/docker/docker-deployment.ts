import type Docker from "dockerode";
import { hostname } from "node:os";
import type { Deployment, InstanceState, InstanceStatus, SandboxHandle, SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Logger } from "../../../core/log.ts";
import type { ScopedContainer, ScopedDocker } from "../../../core/permissions/docker.ts";
import { assertSandboxId } from "../../shared/deployment/sandbox-id.ts";
import { containerName, containerOptions, rockletStdin, SANDBOX_ID_LABEL, type ContainerSettings } from "./container-options.ts";
import { logTail } from "../../shared/containers/container-logs.ts";
import { engineMessage, hasStatus } from "../../shared/containers/docker-errors.ts";
import { exitReason } from "../../shared/containers/exit-reason.ts";
import { ensureImage } from "../../shared/containers/image-policy.ts";

export interface DockerDeploymentOptions extends ContainerSettings {
  name: string;
  defaultPull: SandboxSpec["pull"];
  /** Seconds between SIGTERM and SIGKILL when a sandbox is stopped. */
  stopTimeoutSeconds: number;
  /** Checks that the rocklet binary exists before anything is created. */
  assertRockletBinary(): Promise<void>;
}

function stateOf(running: boolean | undefined): InstanceState {
  return running ? "running" : "stopped";
}

/** Sandboxes as Docker containers named `rock-<sandbox_id>`, each running the rocklet on a loopback-published port. */
export class DockerDeployment implements Deployment {
  readonly name: string;

  constructor(
    private readonly docker: ScopedDocker,
    private readonly options: DockerDeploymentOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle> {
    assertSandboxId(spec.sandbox_id);
    await this.options.assertRockletBinary();
    await ensureImage(this.docker, spec.image, spec.pull ?? this.options.defaultPull);
    signal?.throwIfAborted();

    let container: ScopedContainer;
    try {
      container = await this.docker.createContainer(containerOptions(spec, this.options));
    } catch (error) {
      if (hasStatus(error, 409)) throw new Error(`sandbox '${spec.sandbox_id}' already has a container (${containerName(spec.sandbox_id)})`, { cause: error });
      throw new Error(`creating the container of sandbox '${spec.sandbox_id}' failed: ${engineMessage(error)}`, { cause: error });
    }
    // From here on nothing may be left half-created: any failure removes the container.
    try {
      signal?.throwIfAborted();
      await container.start();
      const delivery = await container.sendStdin(rockletStdin(spec)).then(() => null, (error: unknown) => error);
      const info = await container.inspect();
      if (!info.State.Running) throw new Error(await this.exitDescription(container, info));
      if (delivery) throw new Error(`handing the rocklet its token failed: ${engineMessage(delivery)}`, { cause: delivery });
      const hostPort = this.publishedPort(info);
      return {
        sandbox_id: spec.sandbox_id,
        rockletUrl: `http://127.0.0.1:${hostPort}`,
        host_ip: "127.0.0.1",
        host_name: hostname(),
        port_mapping: { [String(this.options.rockletPort)]: hostPort },
        instance_id: info.Id,
      };
    } catch (error) {
      await container.remove({ force: true, v: true }).catch((cleanup) => {
        if (!hasStatus(cleanup, 404)) this.log.error("removing a failed sandbox container failed", { sandbox_id: spec.sandbox_id, error: engineMessage(cleanup) });
      });
      if (signal?.aborted) throw error;
      throw new Error(`starting the container of sandbox '${spec.sandbox_id}' failed: ${engineMessage(error)}`, { cause: error });
    }
  }

  private async exitDescription(container: ScopedContainer, info: Docker.ContainerInspectInfo): Promise<string> {
    const output = await logTail(container);
    const reason = info.State.Error || `exit code ${info.State.ExitCode}`;
    return `the rocklet exited at once (${reason})${output ? `: ${output}` : ""}`;
  }

  private publishedPort(info: Docker.ContainerInspectInfo): number {
    const bindings = info.NetworkSettings.Ports?.[`${this.options.rockletPort}/tcp`] ?? [];
    const loopback = bindings.find((b) => b.HostIp === "127.0.0.1");
    if (!loopback) throw new Error(`the engine published no loopback port for ${this.options.rockletPort}/tcp`);
    return Number(loopback.HostPort);
  }

  async state(sandboxId: string): Promise<InstanceState | InstanceStatus> {
    const found = await this.docker.getContainer(containerName(sandboxId));
    if (!found) return "missing";
    if (found.info.State.Running) return "running";
    return { state: "stopped", reason: exitReason(found.info) };
  }

  async stop(sandboxId: string): Promise<void> {
    const found = await this.docker.getContainer(containerName(sandboxId));
    if (!found) return;
    const { container } = found;
    // 304: already stopped; 404: removed meanwhile (a concurrent stop). Both are what we want.
    await container.stop({ t: this.options.stopTimeoutSeconds }).catch((error) => {
      if (!hasStatus(error, 304, 404)) throw error;
    });
    // 409: a removal is already in progress.
    await container.remove({ force: true, v: true }).catch((error) => {
      if (!hasStatus(error, 404, 409)) throw error;
    });
  }

  async list(): Promise<{ sandbox_id: string; state: InstanceState }[]> {
    const containers = await this.docker.listContainers();
    return containers
      .filter((c) => c.Labels?.[SANDBOX_ID_LABEL])
      .map((c) => ({ sandbox_id: c.Labels[SANDBOX_ID_LABEL], state: stateOf(c.State === "running") }));
  }
}
