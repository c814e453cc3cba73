import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { formatMemory, hostLimits } from "../../plugins/services/admin/resources.ts";
import { repoRoot, tempProject } from "../support/project.ts";
import { bootAdmin, type AdminHarness } from "./support.ts";

const GIB = 1024 ** 3;

describe("admin: sandbox limits below the whole host", () => {
  test("derived from the host: a start that names nothing gets 2 CPUs and 8g at most half the cores and a quarter of the memory", () => {
    expect(hostLimits(2, 24 * GIB)).toEqual({ defaultCpus: 1, defaultMemoryBytes: 6 * GIB, maxCpus: 2, maxMemoryBytes: 12 * GIB });
    expect(hostLimits(16, 128 * GIB)).toEqual({ defaultCpus: 2, defaultMemoryBytes: 8 * GIB, maxCpus: 16, maxMemoryBytes: 64 * GIB });
    expect(hostLimits(1, 2 * GIB)).toEqual({ defaultCpus: 0.5, defaultMemoryBytes: 0.5 * GIB, maxCpus: 1, maxMemoryBytes: GIB });
  });

  describe("an admin without limits in its config", () => {
    let admin: AdminHarness;
    const host = hostLimits(availableParallelism(), totalmem());
    beforeAll(async () => {
      admin = await bootAdmin();
    });
    afterAll(async () => {
      await admin?.close();
    });

    test("a start without cpus and memory gets the host's defaults; above the host's maxima it is refused naming the maximum", async () => {
      const started = await admin.post("/start", { image: "x" });
      expect(started.result).toMatchObject({ cpus: host.defaultCpus, memory: formatMemory(host.defaultMemoryBytes) });
      await admin.post("/stop", { sandbox_id: started.result.sandbox_id });
      const tooManyCpus = await admin.post("/start", { image: "x", cpus: host.maxCpus + 1, memory: "64m" });
      expect(tooManyCpus).toMatchObject({ status: "Failed", error: `cpus ${host.maxCpus + 1} exceeds the maximum of ${host.maxCpus}`, result: { code: 4000 } });
      const tooMuchMemory = await admin.post("/start", { image: "x", memory: `${Math.ceil((host.maxMemoryBytes + GIB) / GIB)}g` });
      expect(tooMuchMemory).toMatchObject({ status: "Failed", result: { code: 4000 } });
      expect(tooMuchMemory.error).toContain(`exceeds the maximum of ${formatMemory(host.maxMemoryBytes)}`);
    });
  });

  test("a configured default above the configured maximum stops the admin at start, naming both", async () => {
    const project = tempProject("rock-admin-limits-");
    try {
      const yaml = "plugins:\n  local: {}\n  local-operator: {}\n  admin:\n    port: 0\n    max_cpus: 2\n    default_cpus: 4\n";
      const kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
      const error = await kernel.start().catch((e) => e);
      await kernel.stop();
      expect(String(error)).toContain("default_cpus 4 exceeds max_cpus 2");
    } finally {
      project.remove();
    }
  });
});
