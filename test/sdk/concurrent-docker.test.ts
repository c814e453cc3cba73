import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { RockClient, Sandbox } from "../../plugins/clients/sdk/index.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { bootAdminKernel, dockerAdminYaml, newSandboxId, ourContainers, removeOurContainers, type RunningAdmin } from "./support.ts";

const socket = dockerSocket();
const COUNT = 20;

describe.skipIf(!available("docker", socket))("SDK: 20 concurrent sandboxes through the admin (docker deployment)", () => {
  let engine: Docker;
  let admin: RunningAdmin;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    admin = await bootAdminKernel(dockerAdminYaml(socket!, await ensureRockletBinary()));
  });
  afterAll(async () => {
    await admin?.close();
    if (engine) await removeOurContainers(engine);
  });

  test(`${COUNT} starts at once all reach running; after stopping none of our containers remains`, async () => {
    const client = new RockClient({ baseUrl: admin.baseUrl });
    const sandboxes = Array.from({ length: COUNT }, () => new Sandbox({ client, image: sandboxImage(), memory: "64m", cpus: 0.1, sandboxId: newSandboxId("many") }));
    try {
      const started = await Promise.allSettled(sandboxes.map((s) => s.start()));
      expect(started.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      const listed = await client.list({ filters: { image: sandboxImage() } });
      const ids = sandboxes.map((s) => s.sandboxId);
      expect(listed.items.filter((i) => ids.includes(i.sandbox_id)).length).toBe(COUNT);
      // Each one answers commands, and with its own identity.
      const hostnames = await Promise.all(sandboxes.map(async (s) => (await s.execute("echo $ROCKLET_TOKEN; hostname")).stdout));
      expect(new Set(hostnames).size).toBe(COUNT);
      expect((await ourContainers(engine)).filter((c) => c.State === "running").length).toBe(COUNT);
      const states = await Promise.all(sandboxes.map((s) => s.status()));
      expect(states.every((s) => s.state === "running" && s.is_alive)).toBe(true);
    } finally {
      await Promise.allSettled(sandboxes.map((s) => s.stop()));
    }
    expect(await ourContainers(engine)).toEqual([]);
  }, 120_000);
});
