/**
 * The swarm baseline without the admin or the operator: the sandbox's own service spec (same image, constraints,
 * reservations and limits, the rocklet bind-mounted read-only with its token's digest), created with dockerode's
 * `createService`, its task polled every 20 ms until it runs, then the rocklet's `is_alive` every 5 ms on the node's
 * address and the task's published port.
 */
import type Docker from "dockerode";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import { sandboxService, serviceName, type ServiceSettings } from "../../../plugins/operators/swarm/service-spec.ts";

export interface RawService {
  serviceId: string;
  rockletUrl: string;
  token: string;
}

export function rawServiceSettings(rockletBinary: string): ServiceSettings {
  return { rockletBinary, rockletPort: 22555, capAdd: [], init: true, user: "", maxSessions: 64, stopTimeoutSeconds: 1, constraints: [], placementLabels: ["zone"] };
}

/** Creates the service pinned to `zone` and returns once its rocklet answers at `nodeAddr` (the node the zone names). */
export async function startRawService(engine: Docker, settings: ServiceSettings, sandboxId: string, image: string, zone: string, nodeAddr: string, cpus: number, memoryBytes: number): Promise<RawService> {
  const token = crypto.randomUUID();
  const spec: SandboxSpec = { sandbox_id: sandboxId, image, cpus, memoryBytes, pidsLimit: 4096, env: {}, rockletToken: token, labels: { zone, bench: "raw" } };
  const service = await engine.createService(sandboxService(spec, settings, serviceName(sandboxId)!));
  const serviceId = (service as unknown as { id: string }).id;
  const deadline = Date.now() + 60_000;
  let port: number | undefined;
  while (!port) {
    if (Date.now() > deadline) throw new Error(`raw service of ${sandboxId} did not run within 60 s`);
    const tasks = await engine.listTasks({ filters: { service: [serviceId] } });
    const running = tasks.find((t) => t.Status?.State === "running");
    port = running?.Status?.PortStatus?.Ports?.find((p: { TargetPort?: number }) => p.TargetPort === settings.rockletPort)?.PublishedPort;
    if (!port) await Bun.sleep(20);
  }
  const rockletUrl = `http://${nodeAddr}:${port}`;
  while (Date.now() < deadline) {
    const alive = await fetch(`${rockletUrl}/is_alive`, { signal: AbortSignal.timeout(1000) }).then((r) => (r.ok ? r.json() : null), () => null);
    if ((alive as { is_alive?: boolean } | null)?.is_alive) return { serviceId, rockletUrl, token };
    await Bun.sleep(5);
  }
  throw new Error(`raw service of ${sandboxId} did not answer within 60 s`);
}

/** Removes the service and waits (bounded) until no container of it is left on `engines`. */
export async function removeRawService(engine: Docker, raw: RawService, engines: Docker[]): Promise<void> {
  await engine.getService(raw.serviceId).remove();
  for (const until = Date.now() + 20_000; Date.now() < until; await Bun.sleep(50)) {
    const left = await Promise.all(engines.map((e) => e.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${raw.serviceId}`] } })));
    if (left.every((l) => l.length === 0)) return;
  }
}
