import Docker from "dockerode";
import { PermissionDenied } from "../errors.ts";

/** Label on every container the kernel's plugins create; `rock.plugin` names the owner. */
export const MANAGED_LABEL = "rock.managed";
export const PLUGIN_LABEL = "rock.plugin";

export interface DockerSettings {
  /** Unix socket path of the engine. */
  socket: string;
}

/**
 * A Docker client limited to the plugin's own containers: what it creates carries its labels,
 * what it lists or opens must carry them. Images are shared and may be read, imported and pulled.
 */
export class ScopedDocker {
  readonly engine: Docker;
  readonly labels: Record<string, string>;

  constructor(
    readonly plugin: string,
    settings: DockerSettings,
  ) {
    this.engine = new Docker({ socketPath: settings.socket });
    this.labels = { [MANAGED_LABEL]: "true", [PLUGIN_LABEL]: plugin };
  }

  ping(): Promise<unknown> {
    return this.engine.ping();
  }

  createContainer(options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    return this.engine.createContainer({ ...options, Labels: { ...options.Labels, ...this.labels } });
  }

  /** Containers of this plugin (all states), optionally narrowed by more label filters. */
  listContainers(extraLabels: Record<string, string> = {}): Promise<Docker.ContainerInfo[]> {
    const label = Object.entries({ ...this.labels, ...extraLabels }).map(([k, v]) => `${k}=${v}`);
    return this.engine.listContainers({ all: true, filters: { label } });
  }

  /** Opens a container of this plugin; refuses anyone else's. Returns null when it does not exist. */
  async getContainer(id: string): Promise<{ container: Docker.Container; info: Docker.ContainerInspectInfo } | null> {
    const container = this.engine.getContainer(id);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (error: any) {
      if (error?.statusCode === 404) return null;
      throw error;
    }
    if (info.Config.Labels?.[PLUGIN_LABEL] !== this.plugin) {
      throw new PermissionDenied(this.plugin, `docker:container:${id}`, "the container is not one of this plugin's");
    }
    return { container, info };
  }

  /**
   * Writes `input` to the stdin of a running container of this plugin (created with `OpenStdin` and `StdinOnce`), then
   * detaches, which closes that stdin for good: a way to hand the container's process a secret that is neither in
   * the container's config nor on disk.
   */
  async sendStdin(id: string, input: string): Promise<void> {
    const found = await this.getContainer(id);
    if (!found) throw new Error(`no such container: ${id}`);
    const stream = (await found.container.attach({ stream: true, stdin: true, hijack: true })) as NodeJS.ReadWriteStream & { destroy(): void };
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once("error", reject);
        stream.end(input, () => resolve());
      });
    } finally {
      stream.destroy();
    }
  }

  getImage(name: string): Docker.Image {
    return this.engine.getImage(name);
  }

  /** Pulls an image and waits for the pull to finish. */
  async pull(image: string): Promise<void> {
    const stream = await this.engine.pull(image);
    await new Promise<void>((resolve, reject) =>
      this.engine.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}
