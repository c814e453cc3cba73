import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Docker from "dockerode";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InternalServerRockError, Sandbox } from "../../plugins/clients/sdk/index.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { available, dockerSocket, sandboxImage } from "../support/env.ts";
import { sandboxLifecycle } from "./lifecycle-scenario.ts";
import { bootAdminKernel, dockerAdminYaml, newSandboxId, ourContainers, removeOurContainers, type RunningAdmin } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("SDK against a real admin (docker deployment, real engine)", () => {
  let engine: Docker;
  let admin: RunningAdmin;
  let scratch: string;

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    admin = await bootAdminKernel(dockerAdminYaml(socket!, await ensureRockletBinary()));
    scratch = mkdtempSync(join(tmpdir(), "rock-sdk-"));
  });
  afterAll(async () => {
    await admin?.close();
    if (engine) await removeOurContainers(engine);
    rmSync(scratch, { recursive: true, force: true });
  });

  test("the same lifecycle in a container; afterwards none of our managed containers remains", async () => {
    const sandboxId = newSandboxId("life");
    await sandboxLifecycle({ baseUrl: admin.baseUrl, image: sandboxImage(), memory: "256m", cpus: 0.5, sandboxId }, scratch);
    expect(await ourContainers(engine)).toEqual([]);
  }, 60_000);

  test("an image the engine lacks: a typed 5000 error naming the image, nothing left behind", async () => {
    const sandbox = new Sandbox({ baseUrl: admin.baseUrl, image: "rock-no-such-image:404", pull: "never", sandboxId: newSandboxId("noimg"), memory: "64m" });
    const failure = sandbox.start();
    await expect(failure).rejects.toBeInstanceOf(InternalServerRockError);
    await expect(failure).rejects.toThrow("rock-no-such-image:404");
    expect(await ourContainers(engine)).toEqual([]);
  }, 30_000);
});
