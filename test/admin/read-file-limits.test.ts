/**
 * read_file through the admin never reports an empty success for a file it did not read: too large, endless, a pipe
 * or a directory is Failed with the rocklet's reason. Local deployment, the rocklet run from its source (so that the
 * test always runs the code of this checkout, never an older compiled binary).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { DEFAULT_OPTIONS } from "../../plugins/programs/rocklet/server.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { api } from "./support.ts";

const LIMIT = DEFAULT_OPTIONS.maxReadBytes;
let project: TempProject;
let kernel: Kernel;
let base: string;
let id: string;
let dir: string;

const post = async (path: string, body: unknown) => {
  const res = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
};

beforeAll(async () => {
  project = tempProject("rock-admin-read-");
  const yaml = "plugins:\n  local:\n    runner: source\n    stop_grace_ms: 200\n  local-operator: {}\n  admin:\n    port: 0\n";
  kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  base = kernel.server("admin")!.url + api;
  const started = await post("/start", { image: "unused", memory: "1g", cpus: 1 });
  expect(started.status).toBe("Success");
  id = started.result.sandbox_id;
  const made = await post("/execute", {
    sandbox_id: id,
    shell: true,
    command: `truncate -s 2G big && mkfifo pipe && mkdir folder && head -c ${LIMIT - 1} /dev/zero | tr '\\0' a > under && pwd`,
  });
  expect(made.result.exit_code).toBe(0);
  dir = made.result.stdout.trim();
}, 60_000);

afterAll(async () => {
  if (id) await post("/stop", { sandbox_id: id });
  await kernel?.stop();
  project?.remove();
});

describe("admin read_file: Failed with the reason, never an empty success", () => {
  test("a sparse 2 GiB file is Failed naming the file, its size and the limit", async () => {
    const path = join(dir, "big");
    const res = await post("/read_file", { sandbox_id: id, path });
    expect(res).toMatchObject({ status: "Failed", message: "read file failed", result: { exit_code: -1 } });
    expect(res.error).toContain(`'${path}' is 2147483648 bytes; read_file returns at most ${LIMIT} bytes (16 MiB`);
    expect(res.error).toContain("head -c");
  });

  test("a file just under the limit comes back whole", async () => {
    const res = await post("/read_file", { sandbox_id: id, path: join(dir, "under") });
    expect(res.status).toBe("Success");
    expect(res.result.content.length).toBe(LIMIT - 1);
    expect(/^a+$/.test(res.result.content)).toBe(true);
  });

  test("/dev/zero, a FIFO and a directory are Failed quickly; /proc/self/status reads", async () => {
    const started = performance.now();
    expect((await post("/read_file", { sandbox_id: id, path: "/dev/zero" })).error).toContain(`'/dev/zero' is more than ${LIMIT} bytes`);
    const pipe = join(dir, "pipe");
    expect((await post("/read_file", { sandbox_id: id, path: pipe })).error).toContain(`'${pipe}' is a FIFO (named pipe)`);
    const folder = join(dir, "folder");
    expect(await post("/read_file", { sandbox_id: id, path: folder })).toMatchObject({ status: "Failed", error: `[Errno 21] Is a directory: '${folder}'` });
    expect(performance.now() - started).toBeLessThan(10_000);

    const status = await post("/read_file", { sandbox_id: id, path: "/proc/self/status" });
    expect(status.status).toBe("Success");
    expect(status.result.content).toStartWith("Name:");
    expect(status.result.content).toContain("VmRSS:");
  });
});
