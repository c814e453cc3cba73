/**
 * The containers of one plugin, through the kernel's ScopedDocker: hardened create, start with the program's secrets
 * on stdin and "is it running, else why did it exit", the health wait, the published port, stop and remove, and the
 * list by label that records are reconciled with. The words of errors stay with the callers (a sandbox's rocklet, a
 * tool node): failures come as StartFailed and ContainerExited.
 */
import type Docker from "dockerode";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { ScopedContainer, ScopedDocker } from "../../../core/permissions/docker.ts";
import { asEngineUnavailable, engineMessage, hasStatus } from "./docker-errors.ts";
import { createOptions, type HardenedContainer } from "./hardened.ts";
import { ensureImage } from "./image-policy.ts";

/** The engine refused to start the container (`step` "start"), or its secrets could not be written ("stdin"). */
export class StartFailed extends Error {
  constructor(
    readonly step: "start" | "stdin",
    cause: unknown,
  ) {
    super(engineMessage(cause), { cause });
    this.name = "StartFailed";
  }
}

/** The container stopped running; `info` is the engine's record of how. */
export class ContainerExited extends Error {
  constructor(
    readonly container: ScopedContainer,
    readonly info: Docker.ContainerInspectInfo,
  ) {
    super(`the container exited with code ${info.State.ExitCode}`);
    this.name = "ContainerExited";
  }
}

export interface ContainerSummary {
  id: string;
  /** Without the engine's leading slash. */
  name: string;
  running: boolean;
  labels: Record<string, string>;
}

/** The loopback port the engine published for `port`/tcp of the container. */
export function publishedPort(info: Docker.ContainerInspectInfo, port: number): number {
  const bindings = info.NetworkSettings.Ports?.[`${port}/tcp`] ?? [];
  const loopback = bindings.find((b) => b.HostIp === "127.0.0.1");
  if (!loopback) throw new Error(`the engine published no loopback port for ${port}/tcp`);
  return Number(loopback.HostPort);
}

/** Runs one engine call; an engine that cannot be reached at all fails it with EngineUnavailable. */
async function engine<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asEngineUnavailable(error);
  }
}

/** Every call fails with EngineUnavailable (a 503) while the engine does not answer, whatever the step. */
export class ContainerRuntime {
  constructor(private readonly docker: ScopedDocker) {}

  /** Resolves while the engine answers; EngineUnavailable otherwise. */
  ping(): Promise<void> {
    return engine(() => this.docker.ping());
  }

  /** Makes the image available as the pull policy says, or fails naming the image. */
  ensureImage(image: string, policy: SandboxSpec["pull"]): Promise<void> {
    return engine(() => ensureImage(this.docker, image, policy));
  }

  /** Creates the container (not started); the engine's error as it is (409: the name is taken). */
  create(spec: HardenedContainer): Promise<ScopedContainer> {
    return engine(() => this.docker.createContainer(createOptions(spec)));
  }

  /**
   * Starts a created container, writes `stdin` to it (which closes its stdin for good) and resolves with its record
   * once it is known to run. An exit takes precedence over a failed write: the exit says why the write failed.
   */
  async start(container: ScopedContainer, stdin?: string): Promise<Docker.ContainerInspectInfo> {
    try {
      await container.start();
    } catch (error) {
      const unavailable = asEngineUnavailable(error);
      throw unavailable === error ? new StartFailed("start", error) : unavailable;
    }
    const delivery = stdin === undefined ? null : await container.sendStdin(stdin).then(() => null, (error: unknown) => ({ error }));
    const info = await engine(() => container.inspect());
    if (!info.State.Running) throw new ContainerExited(container, info);
    if (delivery) throw new StartFailed("stdin", delivery.error);
    return info;
  }

  /**
   * Polls `healthy` until it answers true (then true) or `timeoutMs` pass (then false); looks at the container every
   * 200 ms and throws ContainerExited as soon as it stopped, and the signal's reason when it is aborted.
   */
  async waitHealthy(container: ScopedContainer, healthy: () => Promise<boolean>, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let nextInspect = 0;
    while (performance.now() < deadline) {
      signal?.throwIfAborted();
      if (await healthy()) return true;
      if (performance.now() >= nextInspect) {
        const info = await engine(() => container.inspect());
        if (!info.State.Running) throw new ContainerExited(container, info);
        nextInspect = performance.now() + 200;
      }
      await Bun.sleep(20);
    }
    return false;
  }

  /** A container of this plugin by name or id, with the engine's record; null when there is none. */
  find(idOrName: string): Promise<{ container: ScopedContainer; info: Docker.ContainerInspectInfo } | null> {
    return engine(() => this.docker.getContainer(idOrName));
  }

  /** Removes the container and its anonymous volumes, running or not; one already gone or being removed is fine. */
  async remove(target: ScopedContainer | string): Promise<void> {
    const container = typeof target === "string" ? (await this.find(target))?.container : target;
    await container?.remove({ force: true, v: true }).catch((error) => {
      if (!hasStatus(error, 404, 409)) throw asEngineUnavailable(error);
    });
  }

  /** SIGTERM, SIGKILL after `graceSeconds`, then removal; nothing to do when the container is gone. */
  async stopAndRemove(idOrName: string, graceSeconds: number): Promise<void> {
    const found = await this.find(idOrName);
    if (!found) return;
    // 304: already stopped; 404: removed meanwhile (a concurrent stop). Both are what we want.
    await found.container.stop({ t: graceSeconds }).catch((error) => {
      if (!hasStatus(error, 304, 404)) throw asEngineUnavailable(error);
    });
    await this.remove(found.container);
  }

  /** This plugin's containers, in every state. */
  async list(): Promise<ContainerSummary[]> {
    return (await engine(() => this.docker.listContainers())).map((c) => ({
      id: c.Id,
      name: c.Names?.[0]?.replace(/^\//, "") ?? c.Id,
      running: c.State === "running",
      labels: c.Labels ?? {},
    }));
  }

  /** For reconciling with records: this plugin's containers whose `label` names nothing `claimed` keeps, or none. */
  async unclaimed(label: string, claimed: (value: string) => boolean): Promise<ContainerSummary[]> {
    return (await this.list()).filter((c) => !(c.labels[label] && claimed(c.labels[label])));
  }
}
