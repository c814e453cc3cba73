import Docker from "dockerode";
import { realpathSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { PermissionDenied } from "../errors.ts";

/** Label on every container the kernel's plugins create; `rock.plugin` names the owner. */
export const MANAGED_LABEL = "rock.managed";
export const PLUGIN_LABEL = "rock.plugin";

export interface DockerSettings {
  /** Unix socket path of the engine. */
  socket: string;
}

/** A Swarm task as the engine reports it (the fields plugins read). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
  Status: {
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: { Protocol?: string; TargetPort?: number; PublishedPort?: number; PublishMode?: string }[] };
  };
}

/** A Swarm node as the engine reports it (the fields plugins read). */
export interface SwarmNode {
  ID: string;
  Spec: { Labels?: Record<string, string>; Role: string; Availability: string };
  Description?: { Hostname?: string; Resources?: { NanoCPUs?: number; MemoryBytes?: number } };
  Status: { State: string; Addr?: string; Message?: string };
  ManagerStatus?: { Addr?: string };
}

/**
 * One container of the plugin, opened through its ScopedDocker. Only the calls plugins need, addressed by the
 * container's id (not its name, which another container could take meanwhile); the engine stays out of reach.
 */
export class ScopedContainer {
  readonly #container: Docker.Container;

  constructor(
    container: Docker.Container,
    readonly id: string,
  ) {
    this.#container = container;
  }

  start(): Promise<void> {
    return this.#container.start();
  }

  inspect(): Promise<Docker.ContainerInspectInfo> {
    return this.#container.inspect();
  }

  /** `t`: seconds between SIGTERM and SIGKILL. */
  stop(options: { t?: number } = {}): Promise<void> {
    return this.#container.stop(options);
  }

  remove(options: { force?: boolean; v?: boolean } = {}): Promise<void> {
    return this.#container.remove(options);
  }

  /** Freezes every process of the container (cgroup freezer); `unpause` thaws them. */
  pause(): Promise<void> {
    return this.#container.pause();
  }

  unpause(): Promise<void> {
    return this.#container.unpause();
  }

  /**
   * Writes `input` to the container's stdin (created with `OpenStdin` and `StdinOnce`, and running), then detaches,
   * which closes that stdin for good: a way to hand the container's process a secret that is neither in the
   * container's config nor on disk.
   */
  async sendStdin(input: string): Promise<void> {
    const stream = (await this.#container.attach({ stream: true, stdin: true, hijack: true })) as NodeJS.ReadWriteStream & { destroy(): void };
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once("error", reject);
        stream.end(input, () => resolve());
      });
    } finally {
      stream.destroy();
    }
  }

  /** The container's output so far, in Docker's multiplexed framing (not followed). */
  async logs(options: { tail?: number; stdout?: boolean; stderr?: boolean } = {}): Promise<Buffer> {
    const raw = await this.#container.logs({ stdout: options.stdout ?? true, stderr: options.stderr ?? true, tail: options.tail, follow: false });
    return Buffer.from(raw as unknown as Uint8Array);
  }
}

/**
 * A Docker client limited to the plugin's own containers: what it creates carries its labels, what it lists or
 * opens must carry them. Images are shared and may be inspected and pulled. The engine itself is a private field:
 * no property or method hands it (or a raw dockerode object, whose `modem` reaches the whole engine) to a plugin.
 */
export class ScopedDocker {
  readonly #engine: Docker;
  readonly #socket: string;
  readonly labels: Readonly<Record<string, string>>;

  constructor(
    readonly plugin: string,
    settings: DockerSettings,
  ) {
    this.#engine = new Docker({ socketPath: settings.socket });
    this.#socket = settings.socket;
    this.labels = Object.freeze({ [MANAGED_LABEL]: "true", [PLUGIN_LABEL]: plugin });
  }

  async ping(): Promise<void> {
    await this.#engine.ping();
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<ScopedContainer> {
    this.#refuseEngineAccess(options);
    const container = await this.#engine.createContainer({ ...options, Labels: { ...options.Labels, ...this.labels } });
    return new ScopedContainer(container, container.id);
  }

  /**
   * A container that is privileged, shares the host's PID/IPC/user namespaces or mounts the engine's socket (or a
   * directory holding it) would hand the plugin the whole engine, and the host, from inside: refused.
   */
  #refuseEngineAccess(options: Docker.ContainerCreateOptions): void {
    const host: Docker.HostConfig & { CgroupnsMode?: string } = options.HostConfig ?? {};
    const deny = (what: string, hint: string) => {
      throw new PermissionDenied(this.plugin, `docker:${what}`, hint);
    };
    if (host.Privileged) deny("privileged", "plugins may not create privileged containers");
    for (const mode of ["PidMode", "IpcMode", "UsernsMode", "CgroupnsMode"] as const) {
      if (host[mode] === "host") deny(`${mode}=host`, "plugins may not share the host's namespaces with a container");
    }
    const sources = [
      ...(host.Binds ?? []).map((bind) => bind.split(":")[0]),
      ...(host.Mounts ?? []).filter((m) => (m.Type ?? "bind") === "bind").map((m) => m.Source),
    ];
    for (const source of sources) {
      if (source && this.#exposesSocket(source)) deny(`mount:${source}`, `the mount would expose the engine's socket (${this.#socket})`);
    }
  }

  #exposesSocket(source: string): boolean {
    if (!source.startsWith("/")) return false; // a named volume
    const real = (path: string) => {
      try {
        return realpathSync(path);
      } catch {
        return resolve(path);
      }
    };
    const socket = real(this.#socket);
    const mounted = real(source);
    return socket === mounted || socket.startsWith(mounted.endsWith(sep) ? mounted : mounted + sep) || mounted === dirname(socket);
  }

  /** Containers of this plugin (all states), optionally narrowed by more label filters (which cannot widen it). */
  listContainers(extraLabels: Record<string, string> = {}): Promise<Docker.ContainerInfo[]> {
    const label = Object.entries({ ...extraLabels, ...this.labels }).map(([k, v]) => `${k}=${v}`);
    return this.#engine.listContainers({ all: true, filters: { label } });
  }

  /** Opens a container of this plugin by id or name; refuses anyone else's. Returns null when it does not exist. */
  async getContainer(idOrName: string): Promise<{ container: ScopedContainer; info: Docker.ContainerInspectInfo } | null> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.#engine.getContainer(idOrName).inspect();
    } catch (error: any) {
      if (error?.statusCode === 404) return null;
      throw error;
    }
    if (info.Config.Labels?.[PLUGIN_LABEL] !== this.plugin) {
      throw new PermissionDenied(this.plugin, `docker:container:${idOrName}`, "the container is not one of this plugin's");
    }
    return { container: new ScopedContainer(this.#engine.getContainer(info.Id), info.Id), info };
  }

  /**
   * Creates a Swarm service (the engine must be a manager) whose service and container labels carry the plugin's; the
   * same refusals as a container (a mount of the engine's socket). Resolves with the service's id.
   */
  async createService(spec: Docker.ServiceSpec): Promise<string> {
    const task = (spec.TaskTemplate ?? {}) as Docker.ContainerTaskSpec;
    const container = task.ContainerSpec ?? {};
    this.#refuseEngineAccess({ HostConfig: { Mounts: container.Mounts } });
    const service = await this.#engine.createService({
      ...spec,
      Labels: { ...spec.Labels, ...this.labels },
      TaskTemplate: { ...task, ContainerSpec: { ...container, Labels: { ...container.Labels, ...this.labels } } },
    });
    return service.id;
  }

  /** A service of this plugin by id or name; refuses anyone else's; null when there is none. */
  async inspectService(idOrName: string): Promise<Docker.Service | null> {
    let service: Docker.Service;
    try {
      service = await this.#engine.getService(idOrName).inspect();
    } catch (error: any) {
      if (error?.statusCode === 404) return null;
      throw error;
    }
    if (service.Spec?.Labels?.[PLUGIN_LABEL] !== this.plugin) {
      throw new PermissionDenied(this.plugin, `docker:service:${idOrName}`, "the service is not one of this plugin's");
    }
    return service;
  }

  /** Removes a service of this plugin (its tasks' containers go with it); false when it was already gone. */
  async removeService(id: string): Promise<boolean> {
    if (!(await this.inspectService(id))) return false;
    try {
      await this.#engine.getService(id).remove();
      return true;
    } catch (error: any) {
      if (error?.statusCode === 404) return false;
      throw error;
    }
  }

  /** Services of this plugin, optionally narrowed by more label filters (which cannot widen it). */
  listServices(extraLabels: Record<string, string> = {}): Promise<Docker.Service[]> {
    const label = Object.entries({ ...extraLabels, ...this.labels }).map(([k, v]) => `${k}=${v}`);
    return this.#engine.listServices({ filters: { label } });
  }

  /**
   * The tasks of this plugin's services, or of the service `serviceId` only (filtered by the engine, so that a poll
   * does not read every task of a large swarm). Those of a removed service stay listed until its containers are gone;
   * the engine refuses to filter by a service it no longer has, so then all tasks are read.
   */
  async tasks(serviceId?: string): Promise<SwarmTask[]> {
    let tasks: SwarmTask[];
    try {
      tasks = (await this.#engine.listTasks(serviceId === undefined ? {} : { filters: { service: [serviceId] } })) as SwarmTask[];
    } catch (error: any) {
      if (serviceId === undefined || error?.statusCode !== 404) throw error;
      tasks = (await this.#engine.listTasks()) as SwarmTask[];
    }
    return tasks.filter((t) => (serviceId === undefined || t.ServiceID === serviceId) && t.Spec?.ContainerSpec?.Labels?.[PLUGIN_LABEL] === this.plugin);
  }

  /** The swarm's nodes (read-only: where tasks may run and at which address). */
  async listNodes(): Promise<SwarmNode[]> {
    return (await this.#engine.listNodes()) as SwarmNode[];
  }

  /** What the engine knows of an image; null when it has no such image. */
  async inspectImage(name: string): Promise<Docker.ImageInspectInfo | null> {
    try {
      return await this.#engine.getImage(name).inspect();
    } catch (error: any) {
      if (error?.statusCode === 404) return null;
      throw error;
    }
  }

  /** Pulls an image and waits for the pull to finish. */
  async pull(image: string): Promise<void> {
    const stream = await this.#engine.pull(image);
    await new Promise<void>((resolve, reject) =>
      this.#engine.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}
