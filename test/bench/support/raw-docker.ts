/**
 * Baselines without the admin: the same container the docker deployment creates (same image, command, limits),
 * created and started with dockerode, and `docker exec` through the Engine API over the unix socket (Bun's fetch
 * `unix` option; dockerode's hijacked exec streams can hang under Bun).
 */
import Docker from "dockerode";
import { containerName, rockletStdin, sandboxContainer, type ContainerSettings } from "../../../plugins/deployments/docker/container-options.ts";
import { createOptions } from "../../../plugins/shared/containers/hardened.ts";

export interface RawSandbox {
  id: string;
  containerId: string;
  rockletUrl: string;
  token: string;
}

export function rawSettings(rockletBinary: string): ContainerSettings {
  return { rockletBinary, rockletPort: 22555, networkMode: "bridge", capAdd: [], init: true, user: "", maxSessions: 64 };
}

/** Create + start + the rocklet's first `is_alive` (polled every 5 ms); returns when it answers. */
export async function startRaw(engine: Docker, settings: ContainerSettings, sandboxId: string, image: string, cpus: number, memoryBytes: number): Promise<RawSandbox> {
  const token = crypto.randomUUID();
  const spec = { sandbox_id: sandboxId, image, cpus, memoryBytes, pidsLimit: 4096, env: {}, rockletToken: token, pull: "never" as const, labels: { bench: "raw" } };
  const container = await engine.createContainer(createOptions(sandboxContainer(spec, settings)));
  await container.start();
  // The rocklet reads its token from stdin, as the deployment hands it over.
  const stdin = (await container.attach({ stream: true, stdin: true, hijack: true })) as NodeJS.ReadWriteStream & { destroy(): void };
  await new Promise<void>((resolve) => stdin.end(rockletStdin(spec), () => resolve()));
  stdin.destroy();
  const info = await container.inspect();
  const port = info.NetworkSettings.Ports[`${settings.rockletPort}/tcp`]?.find((b) => b.HostIp === "127.0.0.1")?.HostPort;
  if (!port) throw new Error(`no loopback port published for ${containerName(sandboxId)}`);
  const rockletUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    // Bounded like the admin's own probe: docker-proxy may accept a connection that the rocklet never answers.
    const alive = await fetch(`${rockletUrl}/is_alive`, { signal: AbortSignal.timeout(1000) }).then((r) => (r.ok ? r.json() : null), () => null);
    if ((alive as { is_alive?: boolean } | null)?.is_alive) return { id: sandboxId, containerId: info.Id, rockletUrl, token };
    await Bun.sleep(5);
  }
  throw new Error(`raw sandbox ${sandboxId} did not answer within 30 s`);
}

export async function removeRaw(engine: Docker, raw: RawSandbox): Promise<void> {
  await engine.getContainer(raw.containerId).remove({ force: true, v: true });
}

/** One `docker exec` through the Engine API: create, start (attached, output read to the end), exit code. */
export async function engineExec(socket: string, containerId: string, cmd: string[]): Promise<{ output: Uint8Array; exitCode: number }> {
  const api = (path: string, init: RequestInit = {}) => fetch(`http://docker${path}`, { ...init, unix: socket } as RequestInit);
  const json = { "content-type": "application/json" };
  const created = (await (await api(`/containers/${containerId}/exec`, { method: "POST", headers: json, body: JSON.stringify({ Cmd: cmd, AttachStdout: true, AttachStderr: true }) })).json()) as { Id: string };
  const started = await api(`/exec/${created.Id}/start`, { method: "POST", headers: json, body: JSON.stringify({ Detach: false, Tty: false }) });
  const output = new Uint8Array(await started.arrayBuffer());
  const inspected = (await (await api(`/exec/${created.Id}/json`)).json()) as { ExitCode: number };
  return { output, exitCode: inspected.ExitCode };
}

export function rockletPost(raw: RawSandbox, path: string, body: unknown): Promise<Response> {
  return fetch(raw.rockletUrl + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${raw.token}` }, body: JSON.stringify(body) });
}
