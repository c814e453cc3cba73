/**
 * One sandbox's whole life through the SDK, the same on every deployment: start (with progress) → execute →
 * session → files → upload (bytes, a local file, a zip extracted in place) → stop → delete.
 */
import { expect } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BadRequestRockError, CommandRockError, Sandbox, type SandboxOptions, type StartProgress } from "../../plugins/clients/sdk/index.ts";
import { buildZip } from "../rocklet/zip-writer.ts";

export async function sandboxLifecycle(options: SandboxOptions, scratchDir: string): Promise<string> {
  const sandbox = new Sandbox(options);
  const progress: StartProgress[] = [];
  const alive = await sandbox.start({ onProgress: (p) => progress.push(p) });
  const id = sandbox.sandboxId;
  try {
    expect(alive).toMatchObject({ sandbox_id: id, is_alive: true, image: options.image });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0].changed).toBe(true);
    expect(progress.at(-1)).toMatchObject({ sandboxId: id, isAlive: true });
    expect(sandbox.startResult).toMatchObject({ sandbox_id: id, code: 2000 });
    expect(await sandbox.isAlive()).toBe(true);
    expect(["pending", "running"]).toContain((await sandbox.status()).state);

    // Commands: a failing command is a result with its exit code, never an error (ROCK's 6000 semantics).
    expect(await sandbox.execute("echo hello; echo oops >&2; exit 3")).toEqual({ stdout: "hello\n", stderr: "oops\n", exit_code: 3 });
    expect((await sandbox.execute("pwd; echo $GREETING", { cwd: "/tmp", env: { GREETING: "hi" } })).stdout).toBe("/tmp\nhi\n");
    expect((await sandbox.execute(["printf", "%s", "a b; c"])).stdout).toBe("a b; c");
    const slow = await sandbox.execute("sleep 5", { timeout: 0.3 });
    expect(slow.exit_code).toBe(-1);
    expect(slow.failure_reason).toBeTruthy();

    // Sessions keep their state; statuses come back as exit codes.
    const dir = `/tmp/${id}`;
    await sandbox.createSession("s1");
    await sandbox.arun(`export X=42; mkdir -p ${dir} && cd ${dir}`, { session: "s1" });
    expect(await sandbox.arun("echo $X; pwd", { session: "s1" })).toMatchObject({ output: `42\n${dir}`, exit_code: 0 });
    expect((await sandbox.arun("false", { session: "s1" })).exit_code).toBe(1);
    const raised = await sandbox.arun("false", { session: "s1", check: "raise" });
    expect(raised.exit_code).toBe(-1);
    expect(raised.failure_reason).toContain("exit code 1");
    await sandbox.closeSession("s1");
    const closed = await sandbox.arun("echo gone", { session: "s1" });
    expect(closed.exit_code).toBe(-1);
    expect(closed.failure_reason).toContain("does not exist");

    // Files.
    expect(await sandbox.writeFile(`${dir}/sub/a.txt`, "data\n")).toEqual({ success: true, message: "" });
    expect(await sandbox.readFile(`${dir}/sub/a.txt`)).toBe("data\n");
    await expect(sandbox.readFile(`${dir}/nonexistent`)).rejects.toBeInstanceOf(CommandRockError);

    // Uploads: bytes, a local file, a zip extracted into a directory.
    expect(await sandbox.upload(new TextEncoder().encode("bytes!"), `${dir}/up/b.txt`, { fileName: "b.txt" })).toMatchObject({ success: true, file_name: "b.txt" });
    expect(await sandbox.readFile(`${dir}/up/b.txt`)).toBe("bytes!");
    const local = join(scratchDir, "local.txt");
    writeFileSync(local, "from disk");
    expect((await sandbox.upload(local, `${dir}/up/local.txt`)).file_name).toBe("local.txt");
    expect(await sandbox.readFile(`${dir}/up/local.txt`)).toBe("from disk");
    const zip = buildZip([{ name: "top.txt", data: "top" }, { name: "nested/", data: "" }, { name: "nested/deep.txt", data: "deep", deflate: true }]);
    // Staged in a directory of this test's own (the shared /tmp may hold anyone's files), and removed from it.
    await sandbox.execute(["mkdir", "-p", `${dir}/staging`]);
    expect(await sandbox.upload(zip, `${dir}/unzipped`, { unzip: true, fileName: "bundle.zip", stagingDir: `${dir}/staging/` })).toMatchObject({ success: true, file_name: "bundle.zip" });
    expect(await sandbox.readFile(`${dir}/unzipped/top.txt`)).toBe("top");
    expect(await sandbox.readFile(`${dir}/unzipped/nested/deep.txt`)).toBe("deep");
    // (That the zip went there: staged "under" a file, the upload fails.)
    await expect(sandbox.upload(zip, `${dir}/unzipped`, { unzip: true, stagingDir: `${dir}/up/b.txt` })).rejects.toThrow(`${dir}/up/b.txt/rock-upload-`);
    expect((await sandbox.execute(["ls", "-A", `${dir}/staging`, `${dir}/unzipped`])).stdout).toBe(`${dir}/staging:\n\n${dir}/unzipped:\nnested\ntop.txt\n`);
    await sandbox.execute(["rm", "-rf", dir]);
  } finally {
    await sandbox.stop();
  }

  // Stopped: gone from the active view, refused for commands, then deleted.
  await expect(sandbox.status()).rejects.toBeInstanceOf(BadRequestRockError);
  const stopped = await sandbox.status(true);
  expect(stopped.state).toBe("stopped");
  expect(stopped.state_history.map((h) => h.event)).toEqual(["alive", "stop"]);
  const refused = sandbox.execute("echo hi");
  await expect(refused).rejects.toBeInstanceOf(BadRequestRockError);
  await expect(refused).rejects.toThrow(`Sandbox ${id} is stopped`);
  await sandbox.delete();
  expect((await sandbox.status(true)).state).toBe("deleted");
  return id;
}
