import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sandboxLifecycle } from "./lifecycle-scenario.ts";
import { bootAdminKernel, localAdminYaml, newSandboxId, type RunningAdmin } from "./support.ts";

let admin: RunningAdmin;
let scratch: string;

beforeAll(async () => {
  admin = await bootAdminKernel(localAdminYaml());
  scratch = mkdtempSync(join(tmpdir(), "rock-sdk-"));
});
afterAll(async () => {
  await admin?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("SDK against a real admin (local deployment)", () => {
  test("start → execute → session → files → upload (bytes, file, zip) → stop → delete", async () => {
    const id = await sandboxLifecycle({ baseUrl: admin.baseUrl, image: "python:3.11", memory: "1g", cpus: 1, sandboxId: newSandboxId("life") }, scratch);
    expect(id).toStartWith("sdk-");
  }, 60_000);
});
