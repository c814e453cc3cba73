/** A plugin's Docker handle on the real test engine: it reaches its own containers and nothing else. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { PermissionDenied } from "../../core/errors.ts";
import { ScopedContainer, ScopedDocker } from "../../core/permissions/docker.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";

const socket = dockerSocket();

/** Every object reachable from `root` through properties (own and inherited getters, any key), arrays and maps. */
function reachable(root: unknown): object[] {
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number) => {
    if ((typeof value !== "object" && typeof value !== "function") || value === null || seen.has(value) || depth > 8) return;
    if (value instanceof Buffer || value === Object.prototype || value === Function.prototype) return;
    seen.add(value);
    for (let o: object | null = value; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
      for (const key of Reflect.ownKeys(o)) {
        const descriptor = Object.getOwnPropertyDescriptor(o, key)!;
        let child: unknown = descriptor.value;
        if (descriptor.get) {
          try {
            child = descriptor.get.call(value);
          } catch {
            continue;
          }
        }
        visit(child, depth + 1);
      }
    }
  };
  visit(root, 0);
  return [...seen];
}

/** The raw engine, or a dockerode object whose `modem` dials the whole engine. */
function isRawEngine(value: object): boolean {
  return value instanceof Docker || "modem" in value || ["Docker", "Container", "Image", "Exec", "Modem"].includes((value as any).constructor?.name);
}

describe.skipIf(!available("docker", socket))("ScopedDocker on the real engine", () => {
  const engine = new Docker({ socketPath: socket });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const pluginA = `scope-a-${tag}`;
  const pluginB = `scope-b-${tag}`;
  let a: ScopedDocker;
  let b: ScopedDocker;
  let mine: ScopedContainer;
  let theirs: ScopedContainer;
  let unlabeled: Docker.Container;
  const sleeper = (name: string): Docker.ContainerCreateOptions => ({
    name,
    Image: sandboxImage(),
    Cmd: ["sleep", "300"],
    HostConfig: { NetworkMode: "none", Memory: 64 * 1024 ** 2 },
  });

  beforeAll(async () => {
    a = new ScopedDocker(pluginA, { socket: socket! });
    b = new ScopedDocker(pluginB, { socket: socket! });
    mine = await a.createContainer(sleeper(`scope-mine-${tag}`));
    theirs = await b.createContainer(sleeper(`scope-theirs-${tag}`));
    unlabeled = await engine.createContainer(sleeper(`scope-unlabeled-${tag}`));
    for (const c of [mine, theirs, unlabeled]) await c.start();
  });

  afterAll(async () => {
    for (const name of ["mine", "theirs", "unlabeled"]) await engine.getContainer(`scope-${name}-${tag}`).remove({ force: true }).catch(() => undefined);
  });

  const running = async (name: string) => (await engine.getContainer(name).inspect()).State.Running;

  test("lists only its own containers; extra label filters cannot widen the list", async () => {
    const ids = (list: Docker.ContainerInfo[]) => list.map((c) => c.Id);
    expect(ids(await a.listContainers())).toEqual([mine.id]);
    expect(ids(await a.listContainers({ "rock.plugin": pluginB }))).toEqual([mine.id]);
    expect(ids(await a.listContainers({ "rock.managed": "false" }))).toEqual([mine.id]);
    expect(ids(await b.listContainers())).toEqual([theirs.id]);
  });

  test("opening another plugin's container or an unlabeled one is PermissionDenied naming the plugin; they keep running", async () => {
    for (const target of [theirs.id, `scope-theirs-${tag}`, unlabeled.id, `scope-unlabeled-${tag}`]) {
      const error = await a.getContainer(target).catch((e) => e);
      expect(error).toBeInstanceOf(PermissionDenied);
      expect(error.plugin).toBe(pluginA);
      expect(error.message).toContain(`plugin '${pluginA}'`);
      expect(error.message).toContain(`docker:container:${target}`);
    }
    // Without a handle there is nothing to inspect, stop, remove or exec: the others are untouched.
    expect(await running(`scope-theirs-${tag}`)).toBe(true);
    expect(await running(`scope-unlabeled-${tag}`)).toBe(true);
    const own = await a.getContainer(`scope-mine-${tag}`);
    expect(own?.container).toBeInstanceOf(ScopedContainer);
    expect(own?.container.id).toBe(mine.id);
    expect(own?.info.State.Running).toBe(true);
    expect(await a.getContainer(`scope-none-${tag}`)).toBeNull();
  });

  test("no property of the handle, and nothing its methods return, is the raw engine", async () => {
    expect((a as any).engine).toBeUndefined();
    const results: unknown[] = [
      await a.ping(),
      await a.listContainers(),
      await a.getContainer(mine.id),
      await a.inspectImage(sandboxImage()),
      await a.inspectImage(`rock-no-such-image-${tag}`),
      await mine.inspect(),
      await mine.logs({ tail: 1 }),
    ];
    const raw = [a, mine, ...results].flatMap(reachable).filter(isRawEngine);
    expect(raw.map((o) => (o as any).constructor?.name)).toEqual([]);
  });

  test("a container that would reach the engine or the host is refused before anything is created", async () => {
    const base = sleeper(`scope-escape-${tag}`);
    const dir = socket!.slice(0, socket!.lastIndexOf("/"));
    const attempts: [string, Docker.HostConfig][] = [
      ["docker:privileged", { Privileged: true }],
      ["docker:PidMode=host", { PidMode: "host" }],
      ["docker:UsernsMode=host", { UsernsMode: "host" }],
      [`docker:mount:${socket}`, { Binds: [`${socket}:/var/run/docker.sock`] }],
      [`docker:mount:${dir}`, { Binds: [`${dir}:/engine:ro`] }],
      ["docker:mount:/", { Binds: ["/:/host:ro"] }],
      [`docker:mount:${socket}`, { Mounts: [{ Type: "bind", Source: socket!, Target: "/s" }] }],
    ];
    for (const [permission, hostConfig] of attempts) {
      const error = await a.createContainer({ ...base, HostConfig: { ...base.HostConfig, ...hostConfig } }).catch((e) => e);
      expect([permission, error]).toEqual([permission, expect.any(PermissionDenied)]);
      expect(error.message).toContain(permission);
    }
    expect(await engine.listContainers({ all: true, filters: { name: [`scope-escape-${tag}`] } })).toEqual([]);
    // An ordinary read-only bind (how the rocklet is mounted) is fine.
    const ok = await a.createContainer({ ...base, HostConfig: { ...base.HostConfig, Binds: ["/etc/hostname:/x:ro"] } });
    await ok.remove({ force: true });
  });

  test("its own container: stop and remove work through the handle", async () => {
    const found = (await a.getContainer(mine.id))!;
    await found.container.stop({ t: 0 });
    expect(await running(`scope-mine-${tag}`)).toBe(false);
    await found.container.remove({ force: true });
    expect(await a.getContainer(mine.id)).toBeNull();
  });
});
